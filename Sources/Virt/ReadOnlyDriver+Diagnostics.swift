import VirtCore

/// Domain read-outs on a read-only connection: perf events, the control state and disk errors pass; setting perf
/// events, the host name, process signals and launch security parameters are refused, as libvirt's public API
/// refuses them.
extension ReadOnlyDriver {
    public func perfEvents(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        try await base.perfEvents(domain, flags: flags)
    }
    public func numaParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try await base.numaParameters(domain, nparams: nparams, flags: flags)
    }
    public func setNumaParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        throw Self.denied("virDomainSetNumaParameters")
    }
    public func setLifecycleAction(_ domain: DomainRef, type: UInt32, action: UInt32, flags: UInt32) async throws {
        throw Self.denied("virDomainSetLifecycleAction")
    }
    public func setPerfEvents(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        throw Self.denied("virDomainSetPerfEvents")
    }
    public func domainHostname(_ domain: DomainRef, flags: UInt32) async throws -> String {
        throw Self.denied("virDomainGetHostname")
    }
    public func cpuStats(_ domain: DomainRef, nparams: UInt32, startCPU: Int32, ncpus: UInt32, flags: UInt32)
        async throws -> (params: [TypedParam], count: Int32) {
        try await base.cpuStats(domain, nparams: nparams, startCPU: startCPU, ncpus: ncpus, flags: flags)
    }
    public func controlInfo(_ domain: DomainRef, flags: UInt32) async throws -> DomainControlInfo {
        try await base.controlInfo(domain, flags: flags)
    }
    public func diskErrors(_ domain: DomainRef, maxErrors: UInt32, flags: UInt32) async throws
        -> (errors: [DomainDiskError], count: Int32) {
        try await base.diskErrors(domain, maxErrors: maxErrors, flags: flags)
    }
    public func sendProcessSignal(_ domain: DomainRef, pid: Int64, signal: UInt32, flags: UInt32) async throws {
        throw Self.denied("virDomainSendProcessSignal")
    }
    public func launchSecurityInfo(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        throw Self.denied("virDomainGetLaunchSecurityInfo")
    }
}
