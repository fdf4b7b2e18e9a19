import VirtCore

/// Statistics and pinning on a read-only connection: queries pass through, pinning and the statistics
/// period are refused (issue 11).
extension ReadOnlyDriver {
    /// Disk counters. Passed to the wrapped driver.
    public func blockStats(_ domain: DomainRef, path: String) async throws -> BlockStats {
        try await base.blockStats(domain, path: path)
    }
    /// Disk counters as typed parameters. Passed to the wrapped driver.
    public func blockStatsFlags(_ domain: DomainRef, path: String, flags: UInt32) async throws -> [TypedParam] {
        try await base.blockStatsFlags(domain, path: path, flags: flags)
    }
    /// NIC counters. Passed to the wrapped driver.
    public func interfaceStats(_ domain: DomainRef, device: String) async throws -> InterfaceStats {
        try await base.interfaceStats(domain, device: device)
    }
    /// Memory statistics. Passed to the wrapped driver.
    public func memoryStats(_ domain: DomainRef, maxStats: UInt32, flags: UInt32) async throws -> [MemoryStat] {
        try await base.memoryStats(domain, maxStats: maxStats, flags: flags)
    }
    /// Refused on a read-only connection.
    public func setMemoryStatsPeriod(_ domain: DomainRef, period: Int32, flags: UInt32) async throws {
        throw Self.denied("virDomainSetMemoryStatsPeriod")
    }
    /// Disk sizes. Passed to the wrapped driver.
    public func blockInfo(_ domain: DomainRef, path: String, flags: UInt32) async throws -> BlockInfo {
        try await base.blockInfo(domain, path: path, flags: flags)
    }
    /// Refused on a read-only connection (libvirt's public API checks).
    public func blockPeek(_ domain: DomainRef, path: String, offset: UInt64, size: UInt32, flags: UInt32)
        async throws -> [UInt8] {
        throw Self.denied("virDomainBlockPeek")
    }
    public func memoryPeek(_ domain: DomainRef, start: UInt64, size: UInt32, flags: UInt32) async throws -> [UInt8] {
        throw Self.denied("virDomainMemoryPeek")
    }
    /// vCPU information. Passed to the wrapped driver.
    public func vcpuInfo(_ domain: DomainRef, maxInfo: Int32, mapLength: Int32) async throws
        -> (info: [VcpuInfo], cpumaps: [UInt8]) {
        try await base.vcpuInfo(domain, maxInfo: maxInfo, mapLength: mapLength)
    }
    /// vCPU affinity. Passed to the wrapped driver.
    public func vcpuPinInfo(_ domain: DomainRef, maps: Int32, mapLength: Int32, flags: UInt32) async throws
        -> (count: Int32, cpumaps: [UInt8]) {
        try await base.vcpuPinInfo(domain, maps: maps, mapLength: mapLength, flags: flags)
    }
    /// Refused on a read-only connection.
    public func pinVcpu(_ domain: DomainRef, vcpu: UInt32, cpumap: [UInt8], flags: UInt32?) async throws {
        throw Self.denied(flags == nil ? "virDomainPinVcpu" : "virDomainPinVcpuFlags")
    }
    /// Emulator affinity. Passed to the wrapped driver.
    public func emulatorPinInfo(_ domain: DomainRef, mapLength: Int32, flags: UInt32) async throws
        -> (count: Int32, cpumap: [UInt8]) {
        try await base.emulatorPinInfo(domain, mapLength: mapLength, flags: flags)
    }
    /// Refused on a read-only connection.
    public func setMetadata(_ domain: DomainRef, type: Int32, value: String?, key: String?, uri: String?,
                            flags: UInt32) async throws {
        throw Self.denied("virDomainSetMetadata")
    }
    /// The description, title or a metadata element. Passed to the wrapped driver.
    public func metadata(_ domain: DomainRef, type: Int32, uri: String?, flags: UInt32) async throws -> String {
        try await base.metadata(domain, type: type, uri: uri, flags: flags)
    }
    /// Refused on a read-only connection.
    public func renameDomain(_ domain: DomainRef, newName: String, flags: UInt32) async throws {
        throw Self.denied("virDomainRename")
    }
    /// Refused on a read-only connection.
    public func injectNMI(_ domain: DomainRef, flags: UInt32) async throws {
        throw Self.denied("virDomainInjectNMI")
    }
    /// Refused on a read-only connection.
    public func pinEmulator(_ domain: DomainRef, cpumap: [UInt8], flags: UInt32) async throws {
        throw Self.denied("virDomainPinEmulator")
    }
}
