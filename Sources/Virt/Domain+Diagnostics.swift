import VirtCore

/// Read-outs and signals of a running domain: host name, control channel, disk errors, process signals,
/// launch security parameters.
extension Domain {
    /// `virDomainGetHostname` (flags: 1 from DHCP leases, 2 from the guest agent).
    public func hostname(flags: UInt32 = 0) async throws -> String {
        try await connection.driver.domainHostname(ref, flags: flags)
    }

    /// `virDomainGetCPUStats` (start CPU -1: the totals); string parameters are understood.
    public func cpuStats(nparams: UInt32, startCPU: Int32, ncpus: UInt32, flags: UInt32 = 0) async throws
        -> (params: [TypedParam], count: Int32) {
        try await connection.driver.cpuStats(ref, nparams: nparams, startCPU: startCPU, ncpus: ncpus, flags: flags | 4)
    }

    /// `virDomainGetControlInfo`.
    public func controlInfo(flags: UInt32 = 0) async throws -> DomainControlInfo {
        try await connection.driver.controlInfo(ref, flags: flags)
    }

    /// `virDomainGetDiskErrors` called as virsh does: the count, then that many errors.
    public func diskErrors(flags: UInt32 = 0) async throws -> [DomainDiskError] {
        let count = try await connection.driver.diskErrors(ref, maxErrors: 0, flags: flags).count
        if count <= 0 { return [] }
        return try await connection.driver.diskErrors(ref, maxErrors: UInt32(count), flags: flags).errors
    }

    /// `virDomainSendProcessSignal`: `signal` is a `virDomainProcessSignal` value.
    public func sendProcessSignal(pid: Int64, signal: UInt32, flags: UInt32 = 0) async throws {
        // libvirt's public API refuses pid 0 before anything else.
        if pid == 0 {
            throw VirtError(.invalidArg, domain: .domain, "pid_value in virDomainSendProcessSignal must not be zero",
                            str1: "pid_value in virDomainSendProcessSignal must not be zero")
        }
        try await connection.driver.sendProcessSignal(ref, pid: pid, signal: signal, flags: flags)
    }

    /// `virDomainGetLaunchSecurityInfo`; string parameters are understood (VIR_TYPED_PARAM_STRING_OKAY).
    public func launchSecurityInfo(flags: UInt32 = 0) async throws -> [TypedParam] {
        try await connection.driver.launchSecurityInfo(ref, flags: flags | 4)
    }
}
