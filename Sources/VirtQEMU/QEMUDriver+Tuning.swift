import VirtCore

/// Resource control through the domain's cgroup (QEMUDomainObject+Cgroup.swift).
extension QEMUDriver {
    /// libvirt's qemuDomainGetSchedulerType: "posix" with 9 parameters; a running domain needs its CPU cgroup.
    public func schedulerType(_ domain: DomainRef) async throws -> (type: String, nparams: Int32) {
        let obj = try await state.object(domain)
        if await obj.isActive, await !(obj.cgroup?.has(.cpu) ?? false) {
            throw VirtError.operationInvalid("cgroup CPU controller is not mounted", domain: .qemu)
        }
        return ("posix", Int32(QEMUDomainObject.schedulerFields.count))
    }

    public func schedulerParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32?) async throws -> [TypedParam] {
        let f = flags ?? 0
        try Self.checkFlags(f, allowed: 1 | 2 | 4, "qemuDomainGetSchedulerParametersFlags")
        let all = try await state.object(domain).schedulerParameters(flags: f & 3)
        return Array(all.prefix(Int(max(nparams, 0))))
    }

    public func setSchedulerParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32?) async throws {
        let f = flags ?? 0
        try Self.checkFlags(f, allowed: 1 | 2, "qemuDomainSetSchedulerParametersFlags")
        try await state.object(domain).setSchedulerParameters(params, flags: f)
    }

    public func memoryParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try Self.checkFlags(flags, allowed: 1 | 2 | 4, "qemuDomainGetMemoryParameters")
        let all = try await state.object(domain).memoryParameters(flags: flags & 3)
        if nparams == 0 { return ([], Int32(all.count)) }
        let sent = Array(all.prefix(Int(max(nparams, 0))))
        return (sent, Int32(sent.count))
    }

    public func setMemoryParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainSetMemoryParameters")
        try await state.object(domain).setMemoryParameters(params, flags: flags)
    }

    public func blkioParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try Self.checkFlags(flags, allowed: 1 | 2 | 4, "qemuDomainGetBlkioParameters")
        // The count alone reads no cgroup file (libvirt answers it before reading the weight).
        let all = try await state.object(domain).blkioParameters(flags: flags & 3, countOnly: nparams == 0)
        if nparams == 0 { return ([], Int32(all.count)) }
        let sent = Array(all.prefix(Int(max(nparams, 0))))
        return (sent, Int32(sent.count))
    }

    public func setBlkioParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainSetBlkioParameters")
        try await state.object(domain).setBlkioParameters(params, flags: flags)
    }
}
