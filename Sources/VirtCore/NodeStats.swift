/// One value of `virNodeGetCPUStats` or `virNodeGetMemoryStats` (`virNodeCPUStats`, `virNodeMemoryStats`): a field
/// name ("user", "kernel", "idle", "iowait"; "total", "free", "buffers", "cached") and its value (nanoseconds of
/// CPU time, or KiB).
public struct NodeStat: Sendable, Hashable {
    public var field: String
    public var value: UInt64

    public init(_ field: String, _ value: UInt64) {
        self.field = field
        self.value = value
    }
}

/// What `virNodeGetCPUStats`/`virNodeGetMemoryStats` give back: the values asked for and the number of values the
/// driver has. Asked with `nparams` 0, `stats` is empty and `nparams` tells how many there are (libvirt's two-call
/// protocol; the count is known without reading the host's files).
public struct NodeStatsResult: Sendable, Hashable {
    public var stats: [NodeStat]
    public var nparams: Int32

    public init(stats: [NodeStat], nparams: Int32) {
        self.stats = stats
        self.nparams = nparams
    }
}

/// `virNodeGetCPUMap`: the number of CPUs present (the highest CPU id + 1), which of them are online, and how many.
public struct NodeCPUMap: Sendable, Hashable {
    /// CPUs present (`virNodeGetCPUMap`'s return value).
    public var cpus: Int32
    /// Online CPUs, as libvirt's bitmap bytes (bit N of byte N/8 for CPU N); empty when not asked for.
    public var map: [UInt8]
    /// Number of online CPUs.
    public var online: UInt32

    public init(cpus: Int32, map: [UInt8], online: UInt32) {
        self.cpus = cpus
        self.map = map
        self.online = online
    }

    /// A map of `cpus` CPUs with the ones in `onlineCPUs` set.
    public init(cpus: Int, onlineCPUs: [Int]) {
        var bytes = [UInt8](repeating: 0, count: (cpus + 7) / 8)
        var n: UInt32 = 0
        for c in onlineCPUs where c >= 0 && c < cpus {
            bytes[c / 8] |= UInt8(1) << UInt8(c % 8)
            n += 1
        }
        self.init(cpus: Int32(cpus), map: bytes, online: n)
    }

    /// Whether CPU `cpu` is online according to `map`.
    public func isOnline(_ cpu: Int) -> Bool {
        guard cpu >= 0, cpu / 8 < map.count else { return false }
        return map[cpu / 8] & (UInt8(1) << UInt8(cpu % 8)) != 0
    }
}

/// The arguments checks libvirt's public host API (libvirt-host.c) makes before any driver runs, in its words
/// (`virReportInvalidArg`: code INVALID_ARG, error domain of libvirt-host.c, function and argument name as
/// str1/str2).
public enum NodeAPIChecks {
    /// `VIR_NODE_CPU_STATS_ALL_CPUS` / `VIR_NODE_MEMORY_STATS_ALL_CELLS`.
    public static let all: Int32 = -1

    static func invalid(_ function: String, _ arg: String, _ message: String) -> VirtError {
        VirtError(.invalidArg, domain: .domain, message, str1: function, str2: arg)
    }

    /// `virNodeGetCPUStats`: cpuNum is -1 or a CPU number; nparams is not negative.
    public static func cpuStats(cpu: Int32, nparams: Int32) throws(VirtError) {
        if nparams < 0 {
            throw invalid("virNodeGetCPUStats", "nparams", "nparams in virNodeGetCPUStats must be zero or greater")
        }
        if cpu < 0 && cpu != all {
            throw invalid("virNodeGetCPUStats", "cpuNum",
                          "cpuNum in virNodeGetCPUStats only accepts -1 as a negative value")
        }
    }

    /// `virNodeGetMemoryStats`: cellNum is -1 or a cell number; nparams is not negative.
    public static func memoryStats(cell: Int32, nparams: Int32) throws(VirtError) {
        if nparams < 0 {
            throw invalid("virNodeGetMemoryStats", "nparams",
                          "nparams in virNodeGetMemoryStats must be zero or greater")
        }
        if cell < 0 && cell != all {
            throw invalid("virNodeGetMemoryStats", "cellNum",
                          "cellNum in virNodeGetMemoryStats only accepts -1 as a negative value")
        }
    }

    /// `virNodeGetCellsFreeMemory`: startCell is not negative, maxCells is positive.
    public static func cellsFreeMemory(startCell: Int32, maxCells: Int32) throws(VirtError) {
        if maxCells <= 0 {
            throw invalid("virNodeGetCellsFreeMemory", "maxCells",
                          "maxCells in virNodeGetCellsFreeMemory must be greater than zero")
        }
        if startCell < 0 {
            throw invalid("virNodeGetCellsFreeMemory", "startCell",
                          "startCell in virNodeGetCellsFreeMemory must be zero or greater")
        }
    }

    /// `virNodeGetMemoryParameters`: nparams is not negative.
    public static func memoryParameters(nparams: Int32) throws(VirtError) {
        if nparams < 0 {
            throw invalid("virNodeGetMemoryParameters", "nparams",
                          "nparams in virNodeGetMemoryParameters must be zero or greater")
        }
    }
}
