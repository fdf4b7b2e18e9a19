import Foundation
import VirtCore

/// Host information calls of the QEMU driver (libvirt's qemuNode*/qemuConnectGet* that forward to the host
/// helpers): CPU and memory statistics, free memory per NUMA cell, the CPU map, KSM parameters, the SMBIOS
/// sysinfo and the CPU model names.
extension QEMUDriver {
    static func checkNoFlags(_ flags: UInt32, _ function: String, domain: VirtError.ErrorDomain = .none)
        throws(VirtError) {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: function, domain: domain)
        }
    }

    public func nodeFreeMemory() async throws -> UInt64 {
        try HostNodeStats().freeMemory()
    }

    public func nodeCPUStats(cpu: Int32, nparams: Int32, flags: UInt32) async throws -> NodeStatsResult {
        try NodeAPIChecks.cpuStats(cpu: cpu, nparams: nparams)
        try Self.checkNoFlags(flags, "virHostCPUGetStats")
        return try HostNodeStats().cpuStats(cpu: cpu, nparams: nparams)
    }

    public func nodeMemoryStats(cell: Int32, nparams: Int32, flags: UInt32) async throws -> NodeStatsResult {
        try NodeAPIChecks.memoryStats(cell: cell, nparams: nparams)
        try Self.checkNoFlags(flags, "virHostMemGetStats")
        return try HostNodeStats().memoryStats(cell: cell, nparams: nparams)
    }

    public func nodeCellsFreeMemory(startCell: Int32, maxCells: Int32) async throws -> [UInt64] {
        try NodeAPIChecks.cellsFreeMemory(startCell: startCell, maxCells: maxCells)
        return try HostNodeStats().cellsFreeMemory(startCell: startCell, maxCells: maxCells)
    }

    public func nodeCPUMap(flags: UInt32) async throws -> NodeCPUMap {
        try Self.checkNoFlags(flags, "virHostCPUGetMap")
        return try HostNodeStats().cpuMap()
    }

    public func nodeMemoryParameters(nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try NodeAPIChecks.memoryParameters(nparams: nparams)
        // VIR_TYPED_PARAM_STRING_OKAY is the only flag.
        if flags & ~UInt32(4) != 0 {
            try Self.checkNoFlags(flags & ~UInt32(4), "virHostMemGetParameters")
        }
        return try HostNodeStats().memoryParameters(nparams: nparams)
    }

    public func sysinfo(flags: UInt32) async throws -> String {
        try Self.checkNoFlags(flags, "qemuConnectGetSysinfo", domain: .qemu)
        guard let info = HostSysinfo.host else {
            throw VirtError.configUnsupported("Host SMBIOS information is not available", domain: .qemu)
        }
        return info.xml
    }

    public func cpuModelNames(arch: String, flags: UInt32) async throws -> [String] {
        try Self.checkNoFlags(flags, "qemuConnectGetCPUModelNames", domain: .qemu)
        return try CPUModelNames.names(arch: arch, driverDomain: .qemu)
    }
}
