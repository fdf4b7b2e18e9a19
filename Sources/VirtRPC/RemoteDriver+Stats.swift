import VirtCore

/// The remote driver's statistics, pinning and guest information calls (issue 11).
extension RemoteDriver {
    public func blockStats(_ domain: DomainRef, path: String) async throws -> BlockStats {
        try await call(RemoteCalls.domainBlockStats, XDRTuple2(domain, path))
    }
    public func blockStatsFlags(_ domain: DomainRef, path: String, flags: UInt32) async throws -> [TypedParam] {
        let r = try await call(RemoteCalls.domainBlockStatsFlags,
                               XDRTuple4(domain, path, Int32(BlockStatsParamsLimit.max), flags))
        return r.values.0.params
    }
    public func interfaceStats(_ domain: DomainRef, device: String) async throws -> InterfaceStats {
        try await call(RemoteCalls.domainInterfaceStats, XDRTuple2(domain, device))
    }
    public func memoryStats(_ domain: DomainRef, maxStats: UInt32, flags: UInt32) async throws -> [MemoryStat] {
        try await call(RemoteCalls.domainMemoryStats, XDRTuple3(domain, maxStats, flags)).items
    }
    public func setMemoryStatsPeriod(_ domain: DomainRef, period: Int32, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetMemoryStatsPeriod, XDRTuple3(domain, period, flags))
    }
    public func blockInfo(_ domain: DomainRef, path: String, flags: UInt32) async throws -> BlockInfo {
        try await call(RemoteCalls.domainGetBlockInfo, XDRTuple3(domain, path, flags))
    }
    public func blockPeek(_ domain: DomainRef, path: String, offset: UInt64, size: UInt32, flags: UInt32)
        async throws -> [UInt8] {
        let r = try await call(RemoteCalls.domainBlockPeek, XDRTuple5(domain, path, offset, size, flags)).bytes
        // libvirt's client checks the reply's length.
        guard r.count == Int(size) else {
            throw VirtError(.rpc, domain: .rpc, "RPC error : returned buffer is not same size as requested",
                            str1: "returned buffer is not same size as requested")
        }
        return r
    }
    public func memoryPeek(_ domain: DomainRef, start: UInt64, size: UInt32, flags: UInt32) async throws -> [UInt8] {
        let r = try await call(RemoteCalls.domainMemoryPeek, XDRTuple4(domain, start, size, flags)).bytes
        guard r.count == Int(size) else {
            throw VirtError(.rpc, domain: .rpc, "RPC error : returned buffer is not same size as requested",
                            str1: "returned buffer is not same size as requested")
        }
        return r
    }
    public func vcpuInfo(_ domain: DomainRef, maxInfo: Int32, mapLength: Int32) async throws
        -> (info: [VcpuInfo], cpumaps: [UInt8]) {
        let r = try await call(RemoteCalls.domainGetVcpus, XDRTuple3(domain, maxInfo, mapLength))
        return (r.values.0.items, r.values.1.bytes)
    }
    public func vcpuPinInfo(_ domain: DomainRef, maps: Int32, mapLength: Int32, flags: UInt32) async throws
        -> (count: Int32, cpumaps: [UInt8]) {
        let r = try await call(RemoteCalls.domainGetVcpuPinInfo, XDRTuple4(domain, maps, mapLength, flags))
        return (r.values.1, r.values.0.bytes)
    }
    public func pinVcpu(_ domain: DomainRef, vcpu: UInt32, cpumap: [UInt8], flags: UInt32?) async throws {
        // virDomainPinVcpu has its own procedure (virsh's vcpupin without --live/--config/--current).
        guard let flags else {
            _ = try await call(RemoteCalls.domainPinVcpu, XDRTuple3(domain, vcpu, XDROpaque(cpumap)))
            return
        }
        _ = try await call(RemoteCalls.domainPinVcpuFlags, XDRTuple4(domain, vcpu, XDROpaque(cpumap), flags))
    }
    public func emulatorPinInfo(_ domain: DomainRef, mapLength: Int32, flags: UInt32) async throws
        -> (count: Int32, cpumap: [UInt8]) {
        let r = try await call(RemoteCalls.domainGetEmulatorPinInfo, XDRTuple3(domain, mapLength, flags))
        return (r.values.1, r.values.0.bytes)
    }
    public func setMetadata(_ domain: DomainRef, type: Int32, value: String?, key: String?, uri: String?,
                            flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetMetadata,
                           SetMetadataArgs(domain: domain, type: type, metadata: value, key: key, uri: uri, flags: flags))
    }
    public func metadata(_ domain: DomainRef, type: Int32, uri: String?, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.domainGetMetadata, XDRTuple4(domain, type, uri, flags))
    }
    public func renameDomain(_ domain: DomainRef, newName: String, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainRename, XDRTuple3(domain, Optional(newName), flags))
    }
    public func injectNMI(_ domain: DomainRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainInjectNMI, XDRTuple2(domain, flags))
    }
    public func pinEmulator(_ domain: DomainRef, cpumap: [UInt8], flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainPinEmulator, XDRTuple3(domain, XDROpaque(cpumap), flags))
    }
}
