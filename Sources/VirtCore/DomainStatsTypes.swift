/// `virDomainBlockStatsStruct`: a disk's counters; -1 for a counter the driver does not know.
public struct BlockStats: Sendable, Hashable {
    public var rdReq: Int64
    public var rdBytes: Int64
    public var wrReq: Int64
    public var wrBytes: Int64
    public var errs: Int64

    public init(rdReq: Int64, rdBytes: Int64, wrReq: Int64, wrBytes: Int64, errs: Int64) {
        self.rdReq = rdReq
        self.rdBytes = rdBytes
        self.wrReq = wrReq
        self.wrBytes = wrBytes
        self.errs = errs
    }
}

/// `virDomainInterfaceStatsStruct`: a NIC's counters as the guest sees them; -1 for unknown.
public struct InterfaceStats: Sendable, Hashable {
    public var rxBytes: Int64
    public var rxPackets: Int64
    public var rxErrs: Int64
    public var rxDrop: Int64
    public var txBytes: Int64
    public var txPackets: Int64
    public var txErrs: Int64
    public var txDrop: Int64

    public init(rxBytes: Int64, rxPackets: Int64, rxErrs: Int64, rxDrop: Int64,
                txBytes: Int64, txPackets: Int64, txErrs: Int64, txDrop: Int64) {
        self.rxBytes = rxBytes
        self.rxPackets = rxPackets
        self.rxErrs = rxErrs
        self.rxDrop = rxDrop
        self.txBytes = txBytes
        self.txPackets = txPackets
        self.txErrs = txErrs
        self.txDrop = txDrop
    }

    /// The counters in wire order (rx bytes, packets, errs, drop, then tx).
    public var values: [Int64] { [rxBytes, rxPackets, rxErrs, rxDrop, txBytes, txPackets, txErrs, txDrop] }
}

/// One `virDomainMemoryStatStruct`: a tag of `virDomainMemoryStatTags` and its value (KiB for sizes).
public struct MemoryStat: Sendable, Hashable {
    public var tag: Int32
    public var value: UInt64

    public init(tag: Int32, value: UInt64) {
        self.tag = tag
        self.value = value
    }

    /// `virDomainMemoryStatTags`, and virsh's names for them.
    public static let swapIn: Int32 = 0
    public static let swapOut: Int32 = 1
    public static let majorFault: Int32 = 2
    public static let minorFault: Int32 = 3
    public static let unused: Int32 = 4
    public static let available: Int32 = 5
    public static let actualBalloon: Int32 = 6
    public static let rss: Int32 = 7
    public static let usable: Int32 = 8
    public static let lastUpdate: Int32 = 9
    public static let diskCaches: Int32 = 10
    public static let hugetlbPgalloc: Int32 = 11
    public static let hugetlbPgfail: Int32 = 12

    /// virsh's `dommemstat` label of a tag (nil for a tag virsh does not print).
    public static func name(_ tag: Int32) -> String? {
        let names = ["swap_in", "swap_out", "major_fault", "minor_fault", "unused", "available", "actual", "rss",
                     "usable", "last_update", "disk_caches", "hugetlb_pgalloc", "hugetlb_pgfail"]
        return tag >= 0 && Int(tag) < names.count ? names[Int(tag)] : nil
    }
}

/// `virDomainBlockInfo`: bytes.
public struct BlockInfo: Sendable, Hashable {
    public var capacity: UInt64
    public var allocation: UInt64
    public var physical: UInt64

    public init(capacity: UInt64, allocation: UInt64, physical: UInt64) {
        self.capacity = capacity
        self.allocation = allocation
        self.physical = physical
    }
}

/// `virVcpuInfo`: a vCPU's state (`virVcpuState`: 0 offline, 1 running, 2 blocked), its CPU time (ns) and the
/// host CPU it last ran on.
public struct VcpuInfo: Sendable, Hashable {
    public var number: UInt32
    public var state: Int32
    public var cpuTime: UInt64
    public var cpu: Int32

    public init(number: UInt32, state: Int32, cpuTime: UInt64, cpu: Int32) {
        self.number = number
        self.state = state
        self.cpuTime = cpuTime
        self.cpu = cpu
    }
}

/// libvirt's CPU maps: one bit per host CPU, CPU 0 in the lowest bit of the first byte (`VIR_CPU_MAPLEN`).
public enum CPUMap {
    /// Bytes of a map for `cpus` host CPUs.
    public static func length(cpus: Int) -> Int { (cpus + 7) / 8 }

    /// A map of `length` bytes with the CPUs of `set` that fit.
    public static func bytes(_ set: CPUSet, length: Int) -> [UInt8] {
        var map = [UInt8](repeating: 0, count: max(length, 0))
        for c in set.cpus where Int(c) / 8 < map.count { map[Int(c) / 8] |= 1 << (c % 8) }
        return map
    }

    /// Every CPU below `cpus`, in a map of `length` bytes.
    public static func all(cpus: Int, length: Int) -> [UInt8] {
        bytes(CPUSet((0..<UInt32(max(cpus, 0)))), length: length)
    }

    /// The CPUs set in `map`.
    public static func set(_ map: some Collection<UInt8>) -> CPUSet {
        var cpus: [UInt32] = []
        for (i, b) in map.enumerated() {
            for bit in 0..<8 where b & (1 << bit) != 0 { cpus.append(UInt32(i * 8 + bit)) }
        }
        return CPUSet(cpus)
    }
}

extension NodeInfo {
    /// libvirt's `VIR_NODEINFO_MAXCPUS`: nodes × sockets × cores × threads, the host CPUs a CPU map covers.
    public var maxCPUs: UInt32 { max(nodes, 1) * max(sockets, 1) * max(cores, 1) * max(threads, 1) }
}
