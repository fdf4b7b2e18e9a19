import VirtCore

/// `virDomainPMSuspendForDuration`'s targets (`virNodeSuspendTarget`).
public enum PMSuspendTarget: UInt32, Sendable, CaseIterable {
    case mem = 0
    case disk = 1
    case hybrid = 2
}

/// IOThreads, single vCPUs, the guest's own vCPUs and guest power management.
extension Domain {
    /// `virDomainAddIOThread`.
    public func addIOThread(_ id: UInt32, flags: ModificationImpact = .current) async throws {
        try await connection.driver.addIOThread(ref, id: id, flags: flags.rawValue)
    }

    /// `virDomainDelIOThread`.
    public func deleteIOThread(_ id: UInt32, flags: ModificationImpact = .current) async throws {
        try await connection.driver.delIOThread(ref, id: id, flags: flags.rawValue)
    }

    /// `virDomainPinIOThread`: the map covers `hostCPUs` CPUs (or the highest CPU of the set).
    public func pinIOThread(_ id: UInt32, to cpus: CPUSet, hostCPUs: Int, flags: ModificationImpact = .current)
        async throws {
        let map = CPUMap.bytes(cpus, length: CPUMap.length(cpus: max(hostCPUs, Int(cpus.cpus.last ?? 0) + 1)))
        try await connection.driver.pinIOThread(ref, id: id, cpumap: map, flags: flags.rawValue)
    }

    /// `virDomainSetIOThreadParams` (``IOThreadParam`` names the parameters).
    public func setIOThreadParams(_ id: UInt32, _ params: [TypedParam], flags: ModificationImpact = .current)
        async throws {
        try await connection.driver.setIOThreadParams(ref, id: id, params: params, flags: flags.rawValue)
    }

    /// `virDomainSetVcpu`: enables or disables the vCPUs of `cpulist` (libvirt's bitmap syntax).
    public func setVcpu(_ cpulist: String, enabled: Bool, flags: ModificationImpact = .current) async throws {
        try await connection.driver.setVcpu(ref, cpumap: cpulist, state: enabled ? 1 : 0, flags: flags.rawValue)
    }

    /// `virDomainGetGuestVcpus`: `vcpus`, `online`, `offlinable` as the guest agent reports them.
    public func guestVcpus(flags: UInt32 = 0) async throws -> [TypedParam] {
        try await connection.driver.guestVcpus(ref, flags: flags)
    }

    /// `virDomainSetGuestVcpus`.
    public func setGuestVcpus(_ cpulist: String, enabled: Bool, flags: UInt32 = 0) async throws {
        try await connection.driver.setGuestVcpus(ref, cpumap: cpulist, state: enabled ? 1 : 0, flags: flags)
    }

    /// `virDomainPMSuspendForDuration`.
    public func pmSuspend(target: PMSuspendTarget, duration: UInt64 = 0, flags: UInt32 = 0) async throws {
        try await connection.driver.pmSuspendForDuration(ref, target: target.rawValue, duration: duration,
                                                        flags: flags)
    }

    /// `virDomainPMWakeup`.
    public func pmWakeup(flags: UInt32 = 0) async throws {
        try await connection.driver.pmWakeup(ref, flags: flags)
    }
}

extension Connection {
    /// `virConnectDomainXMLToNative`: e.g. `qemu-argv`, the command line the driver would run.
    public func domainXMLToNative(format: String, xml: String, flags: UInt32 = 0) async throws -> String {
        try await driver.domainXMLToNative(format: format, xml: xml, flags: flags)
    }

    /// `virConnectDomainXMLFromNative`.
    public func domainXMLFromNative(format: String, config: String, flags: UInt32 = 0) async throws -> String {
        try await driver.domainXMLFromNative(format: format, config: config, flags: flags)
    }
}

extension Connection {
    /// `virConnectDomainQemuMonitorEventRegister` (libvirt-qemu): the QMP events of one domain or all,
    /// filtered by name (`QEMUMonitorEventFilter.regex`, `.nocase` in `flags`), until the stream is dropped.
    public func qemuMonitorEvents(domain: Domain? = nil, event: String? = nil, flags: UInt32 = 0) async throws
        -> AsyncStream<QEMUMonitorEventRecord> {
        try await driver.qemuMonitorEvents(domain: domain?.ref, event: event, flags: flags)
    }
}
