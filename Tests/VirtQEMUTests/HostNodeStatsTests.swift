import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

/// ``HostNodeStats`` on a made-up /proc and /sys tree: what libvirt's Linux helpers would read from it, and their
/// errors; ``HostSysinfo`` on dmidecode output without a host.
@Suite("host statistics readers")
struct HostNodeStatsTests {
    /// A tree with 4 CPUs present (1 offline), two NUMA nodes and KSM without merge_across_nodes.
    static func makeTree() throws -> (dir: String, stats: HostNodeStats) {
        let dir = try TestPaths.makeTempDir("hns")
        func write(_ path: String, _ text: String) throws {
            let full = dir + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
        try write("/proc/stat", """
            cpu  100 5 40 1000 7 2 3 0 0 0
            cpu0 50 5 20 500 3 1 1 0 0 0
            cpu1 50 0 20 500 4 1 2 0 0 0
            intr 1 2 3

            """)
        try write("/proc/meminfo", """
            MemTotal:        4000000 kB
            MemFree:         1000000 kB
            MemAvailable:    2000000 kB
            Buffers:           30000 kB
            Cached:           500000 kB
            SwapCached:            0 kB

            """)
        try write("/sys/devices/system/cpu/present", "0-3\n")
        try write("/sys/devices/system/cpu/online", "0-1,3\n")
        for (n, total, free) in [(0, 2_000_000, 600_000), (1, 2_000_000, 400_000)] {
            try write("/sys/devices/system/node/node\(n)/meminfo", """
                Node \(n) MemTotal:       \(total) kB
                Node \(n) MemFree:        \(free) kB
                Node \(n) MemUsed:        \(total - free) kB

                """)
        }
        for (f, v) in [("pages_to_scan", "100"), ("sleep_millisecs", "20"), ("pages_shared", "7"),
                       ("pages_sharing", "9"), ("pages_unshared", "0"), ("pages_volatile", "1"),
                       ("full_scans", "12345678901")] {
            try write("/sys/kernel/mm/ksm/" + f, v + "\n")
        }
        var stats = HostNodeStats()
        stats.procDir = dir + "/proc"
        stats.sysDir = dir + "/sys"
        return (dir, stats)
    }

    @Test("CPU times: kernel = system + irq + softirq, user = user + nice, in ns; a missing CPU is libvirt's error")
    func cpuStats() throws {
        let (dir, stats) = try Self.makeTree()
        defer { TestPaths.removeDir(dir) }
        let tick = UInt64(1_000_000_000) / UInt64(sysconf(Int32(_SC_CLK_TCK)))
        #expect(try stats.cpuStats(cpu: -1, nparams: 0) == NodeStatsResult(stats: [], nparams: 4))
        let all = try stats.cpuStats(cpu: -1, nparams: 4)
        #expect(all.stats == [NodeStat("kernel", 45 * tick), NodeStat("user", 105 * tick),
                              NodeStat("idle", 1000 * tick), NodeStat("iowait", 7 * tick)])
        #expect(try stats.cpuStats(cpu: 1, nparams: 4).stats.first == NodeStat("kernel", 23 * tick))
        // The count is known without the CPU; the values are not.
        #expect(try stats.cpuStats(cpu: 7, nparams: 0).nparams == 4)
        #expect(throws: VirtError(.invalidArg, "Invalid cpuNum in virHostCPUGetStatsLinux")) {
            try stats.cpuStats(cpu: 7, nparams: 4)
        }
    }

    @Test("memory: /proc/meminfo for the host, the node's meminfo for a cell; free memory sums the nodes")
    func memory() throws {
        let (dir, stats) = try Self.makeTree()
        defer { TestPaths.removeDir(dir) }
        #expect(try stats.memoryStats(cell: -1, nparams: 4).stats == [
            NodeStat("total", 4_000_000), NodeStat("free", 1_000_000), NodeStat("buffers", 30000),
            NodeStat("cached", 500_000),
        ])
        #expect(try stats.memoryStats(cell: 1, nparams: 0).nparams == 2)
        #expect(try stats.memoryStats(cell: 1, nparams: 2).stats == [NodeStat("total", 2_000_000),
                                                                      NodeStat("free", 400_000)])
        #expect(throws: VirtError(.invalidArg, "cellNum in virHostMemGetStats must be less than or equal to 1")) {
            try stats.memoryStats(cell: 2, nparams: 0)
        }
        #expect(try stats.freeMemory() == 1_000_000 * 1024)
        #expect(try stats.cellsFreeMemory(startCell: 0, maxCells: 8) == [600_000 * 1024, 400_000 * 1024])
        #expect(try stats.cellsFreeMemory(startCell: 1, maxCells: 1) == [400_000 * 1024])
        #expect(throws: VirtError.internalError("start cell 2 out of range (0-1)")) {
            try stats.cellsFreeMemory(startCell: 2, maxCells: 1)
        }
    }

    @Test("CPU map: present is the highest CPU + 1, online from cpu/online")
    func cpuMap() throws {
        let (dir, stats) = try Self.makeTree()
        defer { TestPaths.removeDir(dir) }
        let m = try stats.cpuMap()
        #expect(m == NodeCPUMap(cpus: 4, map: [0b1011], online: 3))
    }

    @Test("KSM parameters in libvirt's order and types; a file the kernel lacks is left out")
    func memoryParameters() throws {
        let (dir, stats) = try Self.makeTree()
        defer { TestPaths.removeDir(dir) }
        #expect(try stats.memoryParameters(nparams: 0).nparams == 8)
        let p = try stats.memoryParameters(nparams: 8).params
        #expect(p == [
            TypedParam("shm_pages_to_scan", .uint(100)), TypedParam("shm_sleep_millisecs", .uint(20)),
            TypedParam("shm_pages_shared", .ullong(7)), TypedParam("shm_pages_sharing", .ullong(9)),
            TypedParam("shm_pages_unshared", .ullong(0)), TypedParam("shm_pages_volatile", .ullong(1)),
            TypedParam("shm_full_scans", .ullong(12_345_678_901)),
        ])
        #expect(try stats.memoryParameters(nparams: 2).params.count == 2)
    }

    @Test("sysinfo: nothing but a BIOS vendor; an OEM string without its colon is malformed")
    func sysinfoParse() throws {
        let s = try HostSysinfo.parse("BIOS Information\n\tVendor: V\n", oemString: { _ in nil })
        #expect(s.xml == "<sysinfo type='smbios'>\n  <bios>\n    <entry name='vendor'>V</entry>\n  </bios>\n</sysinfo>\n")
        #expect(try HostSysinfo.parse("", oemString: { _ in nil }).xml == "<sysinfo type='smbios'/>\n")
        #expect(throws: VirtError.internalError("Malformed output of dmidecode")) {
            try HostSysinfo.parse("OEM Strings\n\tString 1 x\n", oemString: { _ in nil })
        }
    }
}
