import Foundation
import VirtCore

/// The host's CPU and memory figures as libvirt's Linux helpers read them (virhostcpu.c, virhostmem.c, virnuma.c):
/// /proc/stat, /proc/meminfo, the NUMA nodes under /sys/devices/system/node, the CPU bitmaps under
/// /sys/devices/system/cpu and the KSM tunables under /sys/kernel/mm/ksm. Errors in libvirt's words; those of the
/// helpers carry no error domain (VIR_FROM_NONE) and name the helper as libvirt's `virReportInvalidArg` does.
public struct HostNodeStats: Sendable {
    /// Where the files are read from (a test may point these elsewhere).
    public var procDir = "/proc"
    public var sysDir = "/sys"

    public init() {}

    /// libvirt's `virReportInvalidArg`: the message alone, the function and argument as str1/str2.
    static func invalidArg(_ function: String, _ arg: String, _ message: String) -> VirtError {
        VirtError(.invalidArg, domain: .none, message, str1: function, str2: arg)
    }

    // MARK: CPU

    /// `virHostCPUGetStatsLinux`: kernel (system + irq + softirq), user (user + nice), idle and iowait of CPU `cpu`
    /// (-1: the "cpu " total line), in nanoseconds.
    public func cpuStats(cpu: Int32, nparams: Int32) throws(VirtError) -> NodeStatsResult {
        let count: Int32 = 4
        if nparams == 0 { return NodeStatsResult(stats: [], nparams: count) }
        guard nparams == count else {
            throw Self.invalidArg("virHostCPUGetStatsLinux", "nparams",
                                  "nparams in virHostCPUGetStatsLinux must be equal to \(count)")
        }
        guard let text = LinuxSys.readFile(procDir + "/stat") else {
            throw VirtError.systemError("cannot open \(procDir)/stat", errno: errno)
        }
        let header = cpu == NodeAPIChecks.all ? "cpu " : "cpu\(cpu) "
        let tick = UInt64(1_000_000_000) / UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        for line in text.split(separator: "\n") where line.hasPrefix(header) {
            let v = line.split(separator: " ").dropFirst().map { UInt64($0) }
            var n: [UInt64] = []
            for x in v {
                guard let x else { break }
                n.append(x)
            }
            guard n.count >= 4 else { continue }
            func at(_ i: Int) -> UInt64 { i < n.count ? n[i] : 0 }
            return NodeStatsResult(stats: [
                NodeStat("kernel", (at(2) + at(5) + at(6)) * tick),
                NodeStat("user", (at(0) + at(1)) * tick),
                NodeStat("idle", at(3) * tick),
                NodeStat("iowait", at(4) * tick),
            ], nparams: count)
        }
        throw Self.invalidArg("virHostCPUGetStatsLinux", "cpuNum", "Invalid cpuNum in virHostCPUGetStatsLinux")
    }

    /// `virHostCPUGetMap`: CPUs present (the highest id in cpu/present + 1) and the online ones (cpu/online).
    public func cpuMap() throws(VirtError) -> NodeCPUMap {
        let base = sysDir + "/devices/system/cpu"
        guard let present = LinuxSys.readFile(base + "/present") else {
            throw VirtError.systemError("Failed to read file '\(base)/present'", errno: errno)
        }
        guard let online = LinuxSys.readFile(base + "/online") else {
            throw VirtError.systemError("Failed to read file '\(base)/online'", errno: errno)
        }
        let count = (HostCapabilities.parseCPUList(present).max() ?? -1) + 1
        return NodeCPUMap(cpus: count, onlineCPUs: HostCapabilities.parseCPUList(online))
    }

    // MARK: Memory

    /// The NUMA nodes libnuma sees (the node directories), or nil when the host exposes none (libvirt then
    /// reports one fake cell, `virNumaIsAvailable` false).
    func numaNodes() -> [Int]? {
        let dir = sysDir + "/devices/system/node"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return nil }
        let nodes = names.compactMap { n -> Int? in
            guard n.hasPrefix("node") else { return nil }
            return Int(n.dropFirst(4))
        }.sorted()
        return nodes.isEmpty ? nil : nodes
    }

    /// `MemTotal`/`MemFree` of node `n` in bytes (libnuma's `numa_node_size64`).
    func nodeMemory(_ n: Int) -> (total: UInt64, free: UInt64)? {
        guard let text = LinuxSys.readFile(sysDir + "/devices/system/node/node\(n)/meminfo") else { return nil }
        let fields = Self.meminfo(text)
        guard let total = fields["MemTotal:"], let free = fields["MemFree:"] else { return nil }
        return (total * 1024, free * 1024)
    }

    /// "Header: value kB" lines (with or without the "Node N " prefix of a node's meminfo), in file order.
    static func meminfoLines(_ text: String) -> [(String, UInt64)] {
        var out: [(String, UInt64)] = []
        for line in text.split(separator: "\n") {
            var words = line.split(separator: " ", omittingEmptySubsequences: true)
            if words.first == "Node" { words = Array(words.dropFirst(2)) }
            guard words.count >= 2, let v = UInt64(words[1]) else { continue }
            out.append((String(words[0]), v))
        }
        return out
    }

    static func meminfo(_ text: String) -> [String: UInt64] {
        Dictionary(meminfoLines(text), uniquingKeysWith: { a, _ in a })
    }

    /// The free memory in bytes of the physical memory when there is no NUMA information (gnulib's
    /// `physmem_available`).
    static func physmemAvailable() -> UInt64 {
        UInt64(max(sysconf(Int32(_SC_AVPHYS_PAGES)), 0)) * UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 0))
    }

    /// `virHostMemGetInfo`'s free memory: the sum of the nodes' MemFree, in bytes.
    public func freeMemory() throws(VirtError) -> UInt64 {
        guard let nodes = numaNodes() else {
            let avail = Self.physmemAvailable()
            if avail == 0 { throw VirtError.internalError("Cannot determine free memory") }
            return avail
        }
        var free: UInt64 = 0
        for n in nodes {
            guard let m = nodeMemory(n) else {
                throw VirtError.internalError("Failed to query NUMA free memory for node: \(n)")
            }
            free += m.free
        }
        return free
    }

    /// `virHostMemGetCellsFree`: the free memory in bytes of cells `startCell`… (at most `maxCells`).
    public func cellsFreeMemory(startCell: Int32, maxCells: Int32) throws(VirtError) -> [UInt64] {
        guard let nodes = numaNodes() else {
            if startCell != 0 {
                throw VirtError.internalError("start cell \(startCell) out of range (0-0)")
            }
            let avail = Self.physmemAvailable()
            if avail == 0 { throw VirtError.internalError("Cannot determine free memory") }
            return [avail]
        }
        let maxNode = Int32(nodes.last ?? 0)
        guard startCell <= maxNode else {
            throw VirtError.internalError("start cell \(startCell) out of range (0-\(maxNode))")
        }
        let last = min(Int64(startCell) + Int64(maxCells) - 1, Int64(maxNode))
        var out: [UInt64] = []
        var previous: UInt64 = 0
        for n in Int(startCell)...Int(last) {
            // libvirt ignores a node it cannot read and repeats the value it had.
            if let m = nodeMemory(n) { previous = m.free }
            out.append(previous)
        }
        return out
    }

    /// `virHostMemGetStats`: total, free, buffers and cached of the host (-1) from /proc/meminfo, or total and
    /// free of one NUMA cell from its meminfo, in KiB.
    public func memoryStats(cell requested: Int32, nparams: Int32) throws(VirtError) -> NodeStatsResult {
        let nodes = numaNodes()
        var cell = requested
        if nodes == nil && cell == 0 { cell = NodeAPIChecks.all }
        let path: String
        if cell == NodeAPIChecks.all {
            path = procDir + "/meminfo"
        } else {
            let maxNode = Int32(nodes?.last ?? 0)
            guard cell <= maxNode else {
                throw Self.invalidArg("virHostMemGetStats", "cellNum",
                                      "cellNum in virHostMemGetStats must be less than or equal to \(maxNode)")
            }
            path = sysDir + "/devices/system/node/node\(cell)/meminfo"
        }
        let count: Int32 = cell == NodeAPIChecks.all ? 4 : 2
        // libvirt opens the file before it answers the count.
        guard let text = LinuxSys.readFile(path) else {
            throw VirtError.systemError("cannot open \(path)", errno: errno)
        }
        if nparams == 0 { return NodeStatsResult(stats: [], nparams: count) }
        guard nparams == count else {
            throw Self.invalidArg("virHostMemGetStatsLinux", "nparams",
                                  "nparams in virHostMemGetStatsLinux must be \(count)")
        }
        let names = ["MemTotal:": "total", "MemFree:": "free", "Buffers:": "buffers", "Cached:": "cached"]
        var stats: [NodeStat] = []
        for (header, value) in Self.meminfoLines(text) {
            guard let name = names[header] else { continue }
            stats.append(NodeStat(name, value))
            if stats.count >= Int(count) { break }
        }
        if stats.isEmpty { throw VirtError.internalError("no available memory line found") }
        return NodeStatsResult(stats: stats, nparams: Int32(stats.count))
    }

    /// `virHostMemGetParameters`: the KSM tunables and counters, in libvirt's order and types; a file the kernel
    /// lacks is left out.
    public func memoryParameters(nparams: Int32) throws(VirtError) -> (params: [TypedParam], nparams: Int32) {
        let all: [(file: String, wide: Bool)] = [
            ("pages_to_scan", false), ("sleep_millisecs", false), ("pages_shared", true), ("pages_sharing", true),
            ("pages_unshared", true), ("pages_volatile", true), ("full_scans", true), ("merge_across_nodes", false),
        ]
        if nparams == 0 { return ([], Int32(all.count)) }
        var out: [TypedParam] = []
        for (file, wide) in all.prefix(Int(nparams)) {
            let path = sysDir + "/kernel/mm/ksm/" + file
            guard FileManager.default.fileExists(atPath: path) else { continue }
            guard let text = LinuxSys.readFile(path) else {
                throw VirtError.systemError("Failed to open file '\(path)'", errno: errno)
            }
            let value = String(text.prefix { $0 != "\n" })
            let name = "shm_" + file
            if wide {
                guard let v = UInt64(value) else { throw VirtError.internalError("failed to parse \(file)") }
                out.append(TypedParam(name, .ullong(v)))
            } else {
                guard let v = UInt32(value) else { throw VirtError.internalError("failed to parse \(file)") }
                out.append(TypedParam(name, .uint(v)))
            }
        }
        return (out, Int32(out.count))
    }
}
