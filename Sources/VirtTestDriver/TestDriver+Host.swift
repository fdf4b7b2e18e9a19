import VirtCore

/// Host information as libvirt 9.0's test driver makes it up: fixed CPU times, a fixed CPU map (8 CPUs, 0, 2 and
/// 4 online), the cells' memory as their free memory, a fixed SMBIOS description; no memory statistics or
/// memory parameters (NO_SUPPORT).
extension TestDriver {
    static func checkNoFlags(_ flags: UInt32, _ function: String) throws(VirtError) {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: function, domain: .test)
        }
    }

    /// The fixed values of `testNodeGetCPUStats`, whatever the CPU.
    static let cpuStats = [
        NodeStat("user", 9_797_400_000), NodeStat("kernel", 34_678_723_400_000), NodeStat("idle", 87_264_900_000),
        NodeStat("iowait", 763_600_000),
    ]

    public func nodeCPUStats(cpu: Int32, nparams: Int32, flags: UInt32) async throws -> NodeStatsResult {
        try NodeAPIChecks.cpuStats(cpu: cpu, nparams: nparams)
        try Self.checkNoFlags(flags, "testNodeGetCPUStats")
        if nparams == 0 { return NodeStatsResult(stats: [], nparams: Int32(Self.cpuStats.count)) }
        let stats = Array(Self.cpuStats.prefix(Int(nparams)))
        return NodeStatsResult(stats: stats, nparams: Int32(stats.count))
    }

    public func nodeMemoryStats(cell: Int32, nparams: Int32, flags: UInt32) async throws -> NodeStatsResult {
        try NodeAPIChecks.memoryStats(cell: cell, nparams: nparams)
        throw VirtError.noSupport("virNodeGetMemoryStats", domain: .domain)
    }

    /// The cells' memory figure (libvirt's test driver reports it as the free memory, in bytes).
    /// Made-up counts as libvirt's test driver makes them: a sequence (x = 2x + 7 from 6) over the cells and
    /// page sizes asked for, whatever the cells and sizes are.
    public func nodeFreePages(pages: [UInt32], startCell: Int32, cellCount: UInt32, flags: UInt32) async throws
        -> [UInt64] {
        try TestDriverCore.checkFlags(flags, allowed: 0, "testNodeGetFreePages")
        var x: UInt64 = 6
        return (0..<Int(cellCount) * pages.count).map { _ in
            x = x &* 2 &+ 7
            return x
        }
    }
    public func nodeCellsFreeMemory(startCell: Int32, maxCells: Int32) async throws -> [UInt64] {
        try NodeAPIChecks.cellsFreeMemory(startCell: startCell, maxCells: maxCells)
        let cells = state.node.cells
        guard Int(startCell) < cells.count else {
            throw VirtError.invalidArg("Range exceeds available cells", domain: .test)
        }
        return cells[Int(startCell)...].prefix(Int(maxCells)).map(\.memory)
    }

    public func nodeCPUMap(flags: UInt32) async throws -> NodeCPUMap {
        try Self.checkNoFlags(flags, "testNodeGetCPUMap")
        return NodeCPUMap(cpus: 8, onlineCPUs: [0, 2, 4])
    }

    /// libvirt's test driver describes a Lenovo BIOS.
    public func sysinfo(flags: UInt32) async throws -> String {
        try Self.checkNoFlags(flags, "testConnectGetSysinfo")
        return """
            <sysinfo type='smbios'>
              <bios>
                <entry name='vendor'>LENOVO</entry>
                <entry name='version'>G4ETA1WW (2.61 )</entry>
                <entry name='date'>05/07/2014</entry>
                <entry name='release'>2.61</entry>
              </bios>
            </sysinfo>

            """
    }

    public func nodeMemoryParameters(nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try NodeAPIChecks.memoryParameters(nparams: nparams)
        throw VirtError.noSupport("virNodeGetMemoryParameters", domain: .domain)
    }

    public func cpuModelNames(arch: String, flags: UInt32) async throws -> [String] {
        try Self.checkNoFlags(flags, "testConnectGetCPUModelNames")
        return try CPUModelNames.names(arch: arch, driverDomain: .test)
    }
}
