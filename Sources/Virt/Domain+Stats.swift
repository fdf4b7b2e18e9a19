import VirtCore

/// Statistics, pinning and guest information (issue 11: what monitoring tools ask for).
extension Domain {
    /// `virDomainBlockStats`: counters of a disk named by target (`vda`) or source path.
    public func blockStats(_ path: String) async throws -> BlockStats {
        try await connection.driver.blockStats(ref, path: path)
    }

    /// `virDomainBlockStatsFlags`: the disk counters as typed parameters.
    public func blockStatsParameters(_ path: String, flags: UInt32 = 0) async throws -> [TypedParam] {
        try await connection.driver.blockStatsFlags(ref, path: path, flags: flags)
    }

    /// `virDomainInterfaceStats`: counters of a NIC named by target device or MAC address.
    public func interfaceStats(_ device: String) async throws -> InterfaceStats {
        try await connection.driver.interfaceStats(ref, device: device)
    }

    /// `virDomainMemoryStats` (at most `maxStats`, 13 by default: every tag libvirt knows).
    public func memoryStats(maxStats: UInt32 = 13, flags: UInt32 = 0) async throws -> [MemoryStat] {
        try await connection.driver.memoryStats(ref, maxStats: maxStats, flags: flags)
    }

    /// `virDomainSetMemoryStatsPeriod`.
    public func setMemoryStatsPeriod(_ seconds: Int32, flags: ModificationImpact = .current) async throws {
        try await connection.driver.setMemoryStatsPeriod(ref, period: seconds, flags: flags.rawValue)
    }

    /// `virDomainGetBlockInfo`.
    public func blockInfo(_ path: String, flags: UInt32 = 0) async throws -> BlockInfo {
        try await connection.driver.blockInfo(ref, path: path, flags: flags)
    }

    /// `virDomainBlockPeek`: `size` bytes of disk `path`'s image (a raw image's bytes are the guest's).
    public func blockPeek(_ path: String, offset: UInt64, size: UInt32, flags: UInt32 = 0) async throws -> [UInt8] {
        if path.isEmpty {
            throw VirtError.invalidArg("disk in virDomainBlockPeek must not be empty", domain: .domain)
        }
        return try await connection.driver.blockPeek(ref, path: path, offset: offset, size: size, flags: flags)
    }

    /// `virDomainMemoryPeek`: `size` bytes of the running guest's memory (`flags`: 1 virtual, 2 physical).
    public func memoryPeek(start: UInt64, size: UInt32, flags: UInt32) async throws -> [UInt8] {
        if flags & 3 == 3 {
            throw VirtError(.invalidArg, domain: .domain,
                            "invalid argument: Flags 'VIR_MEMORY_VIRTUAL' and 'VIR_MEMORY_PHYSICAL' are mutually exclusive",
                            str1: "Flags 'VIR_MEMORY_VIRTUAL' and 'VIR_MEMORY_PHYSICAL' are mutually exclusive")
        }
        return try await connection.driver.memoryPeek(ref, start: start, size: size, flags: flags)
    }

    /// `virDomainGetVcpus`: the vCPUs of a running domain and, per vCPU, the host CPUs it may run on.
    public func vcpus(maxInfo: Int32, hostCPUs: Int) async throws -> [(info: VcpuInfo, affinity: CPUSet)] {
        let len = CPUMap.length(cpus: hostCPUs)
        let r = try await connection.driver.vcpuInfo(ref, maxInfo: maxInfo, mapLength: Int32(len))
        return r.info.enumerated().map { i, info in
            let start = i * len
            let map = start + len <= r.cpumaps.count ? Array(r.cpumaps[start..<start + len]) : []
            return (info, CPUMap.set(map))
        }
    }

    /// `virDomainGetVcpuPinInfo`: the affinity of the first `vcpus` vCPUs (host CPUs below `hostCPUs`).
    public func vcpuPinInfo(vcpus: Int32, hostCPUs: Int, flags: ModificationImpact = .current) async throws
        -> [CPUSet] {
        let len = CPUMap.length(cpus: hostCPUs)
        let r = try await connection.driver.vcpuPinInfo(ref, maps: vcpus, mapLength: Int32(len), flags: flags.rawValue)
        return (0..<Int(max(r.count, 0))).map { i in
            let start = i * len
            return start + len <= r.cpumaps.count ? CPUMap.set(r.cpumaps[start..<start + len]) : CPUSet([])
        }
    }

    /// `virDomainPinVcpuFlags` (`virDomainPinVcpu` when `flags` is nil).
    public func pinVcpu(_ vcpu: UInt32, to cpus: CPUSet, hostCPUs: Int, flags: ModificationImpact? = nil)
        async throws {
        let map = CPUMap.bytes(cpus, length: CPUMap.length(cpus: max(hostCPUs, Int(cpus.cpus.last ?? 0) + 1)))
        try await connection.driver.pinVcpu(ref, vcpu: vcpu, cpumap: map, flags: flags?.rawValue)
    }

    /// `virDomainGetEmulatorPinInfo`: the emulator threads' affinity, nil when the driver reports none.
    public func emulatorPinInfo(hostCPUs: Int, flags: ModificationImpact = .current) async throws -> CPUSet? {
        let len = CPUMap.length(cpus: hostCPUs)
        let r = try await connection.driver.emulatorPinInfo(ref, mapLength: Int32(len), flags: flags.rawValue)
        return r.count > 0 ? CPUMap.set(r.cpumap) : nil
    }

    /// `virDomainSetMetadata`: the description, the title or (with `key` and `uri`) a metadata element; nil
    /// or empty removes it.
    public func setMetadata(_ type: DomainMetadataType, _ value: String?, key: String? = nil, uri: String? = nil,
                            flags: ModificationImpact = .current) async throws {
        try await connection.driver.setMetadata(ref, type: type.rawValue, value: value, key: key, uri: uri,
                                                flags: flags.rawValue)
    }

    /// `virDomainGetMetadata`.
    public func metadata(_ type: DomainMetadataType, uri: String? = nil, flags: ModificationImpact = .current)
        async throws -> String {
        try await connection.driver.metadata(ref, type: type.rawValue, uri: uri, flags: flags.rawValue)
    }

    /// `virDomainInjectNMI`.
    public func injectNMI(flags: UInt32 = 0) async throws {
        try await connection.driver.injectNMI(ref, flags: flags)
    }

    /// `virDomainPinEmulator`.
    public func pinEmulator(to cpus: CPUSet, hostCPUs: Int, flags: ModificationImpact = .current) async throws {
        let map = CPUMap.bytes(cpus, length: CPUMap.length(cpus: max(hostCPUs, Int(cpus.cpus.last ?? 0) + 1)))
        try await connection.driver.pinEmulator(ref, cpumap: map, flags: flags.rawValue)
    }
}
