import VirtCore

/// Statistics and pinning (issue 11): see `QEMUDomainObject+Stats.swift`.
extension QEMUDriver {
    static func checkFlags(_ flags: UInt32, allowed: UInt32, _ function: String) throws {
        if flags & ~allowed != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags & ~allowed), function: function, domain: .qemu)
        }
    }

    public func blockStats(_ domain: DomainRef, path: String) async throws -> BlockStats {
        let c = try await state.object(domain).blockCounters(path: path)
        // QEMU does not count errors.
        return BlockStats(rdReq: c.rdReq, rdBytes: c.rdBytes, wrReq: c.wrReq, wrBytes: c.wrBytes, errs: -1)
    }

    public func blockStatsFlags(_ domain: DomainRef, path: String, flags: UInt32) async throws -> [TypedParam] {
        // VIR_TYPED_PARAM_STRING_OKAY (4) is accepted: no strings are returned.
        try Self.checkFlags(flags, allowed: 4, "qemuDomainBlockStatsFlags")
        let c = try await state.object(domain).blockCounters(path: path)
        let all: [TypedParam] = [
            TypedParam("wr_bytes", .llong(c.wrBytes)), TypedParam("wr_operations", .llong(c.wrReq)),
            TypedParam("rd_bytes", .llong(c.rdBytes)), TypedParam("rd_operations", .llong(c.rdReq)),
            TypedParam("flush_operations", .llong(c.flushReq)), TypedParam("wr_total_times", .llong(c.wrTotalTimes)),
            TypedParam("rd_total_times", .llong(c.rdTotalTimes)),
            TypedParam("flush_total_times", .llong(c.flushTotalTimes)),
        ]
        return Array(all.prefix(max(c.reported, 0)))
    }

    public func interfaceStats(_ domain: DomainRef, device: String) async throws -> InterfaceStats {
        try await state.object(domain).interfaceCounters(device: device)
    }

    public func memoryStats(_ domain: DomainRef, maxStats: UInt32, flags: UInt32) async throws -> [MemoryStat] {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainMemoryStats")
        return try await state.object(domain).memoryStatistics(max: Int(maxStats))
    }

    public func setMemoryStatsPeriod(_ domain: DomainRef, period: Int32, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainSetMemoryStatsPeriod")
        try await state.object(domain).setMemoryStatsPeriod(period, flags: flags)
    }

    public func blockInfo(_ domain: DomainRef, path: String, flags: UInt32) async throws -> BlockInfo {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainGetBlockInfo")
        return try await state.object(domain).blockInformation(path: path)
    }

    public func vcpuInfo(_ domain: DomainRef, maxInfo: Int32, mapLength: Int32) async throws
        -> (info: [VcpuInfo], cpumaps: [UInt8]) {
        let (info, maps) = try await state.object(domain).vcpuInformation(maxInfo: Int(max(maxInfo, 0)),
                                                                          mapLength: Int(max(mapLength, 0)))
        return (info, maps)
    }

    public func vcpuPinInfo(_ domain: DomainRef, maps: Int32, mapLength: Int32, flags: UInt32) async throws
        -> (count: Int32, cpumaps: [UInt8]) {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainGetVcpuPinInfo")
        let (count, out) = try await state.object(domain).vcpuPinInformation(maps: Int(max(maps, 0)),
                                                                             mapLength: Int(max(mapLength, 0)),
                                                                             flags: flags)
        return (count, out)
    }

    public func pinVcpu(_ domain: DomainRef, vcpu: UInt32, cpumap: [UInt8], flags: UInt32?) async throws {
        // virDomainPinVcpu is qemuDomainPinVcpuFlags on the running domain (VIR_DOMAIN_AFFECT_LIVE).
        let f = flags ?? 1
        try Self.checkFlags(f, allowed: 1 | 2, "qemuDomainPinVcpuFlags")
        try await state.object(domain).pinVcpu(vcpu, cpumap: cpumap, flags: f)
    }

    public func emulatorPinInfo(_ domain: DomainRef, mapLength: Int32, flags: UInt32) async throws
        -> (count: Int32, cpumap: [UInt8]) {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainGetEmulatorPinInfo")
        let map = try await state.object(domain).emulatorPinInformation(mapLength: Int(max(mapLength, 0)), flags: flags)
        return (1, map)
    }

    public func setMetadata(_ domain: DomainRef, type: Int32, value: String?, key: String?, uri: String?,
                            flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainSetMetadata")
        let t = try DomainMetadataType.checked(type)
        try await state.object(domain).setMetadata(t, value: value, key: key, uri: uri, flags: flags)
    }

    public func metadata(_ domain: DomainRef, type: Int32, uri: String?, flags: UInt32) async throws -> String {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainGetMetadata")
        let t = try DomainMetadataType.checked(type)
        return try await state.object(domain).metadata(t, uri: uri, flags: flags)
    }

    public func injectNMI(_ domain: DomainRef, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainInjectNMI")
        try await state.object(domain).injectNMI()
    }

    public func pinEmulator(_ domain: DomainRef, cpumap: [UInt8], flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainPinEmulator")
        try await state.object(domain).pinEmulator(cpumap: cpumap, flags: flags)
    }
}

extension QEMUDriver {
    /// `virDomainGetVcpusFlags` (libvirt's qemuDomainGetVcpusFlags without the guest agent's count): the current
    /// or maximum vCPU count of the live or persistent definition. virsh's vcpupin asks for the maximum.
    public func vcpuCount(_ domain: DomainRef, flags: ModificationImpact) async throws -> Int32 {
        let bad = flags.rawValue & ~UInt32(1 | 2 | 4 | 8)
        if bad != 0 {
            throw VirtError.unsupportedFlags(UInt64(bad), function: "qemuDomainGetVcpusFlags", domain: .qemu)
        }
        if flags.contains(.vcpuGuest) {
            throw VirtError.noSupport("virDomainGetVcpusFlags", domain: .domain)
        }
        return try await state.object(domain).vcpuCount(flags: flags.rawValue)
    }
}
