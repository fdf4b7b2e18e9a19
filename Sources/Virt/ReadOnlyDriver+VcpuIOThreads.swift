import VirtCore

/// IOThread and vCPU changes, the guest's vCPUs, guest power management and the native formats on a read-only
/// connection: all refused, as libvirt's public API does (the guest-vCPU query too).
extension ReadOnlyDriver {
    /// Refused on a read-only connection.
    public func addIOThread(_ domain: DomainRef, id: UInt32, flags: UInt32) async throws {
        throw Self.denied("virDomainAddIOThread")
    }
    /// Refused on a read-only connection.
    public func delIOThread(_ domain: DomainRef, id: UInt32, flags: UInt32) async throws {
        throw Self.denied("virDomainDelIOThread")
    }
    /// Refused on a read-only connection.
    public func pinIOThread(_ domain: DomainRef, id: UInt32, cpumap: [UInt8], flags: UInt32) async throws {
        throw Self.denied("virDomainPinIOThread")
    }
    /// Refused on a read-only connection.
    public func setIOThreadParams(_ domain: DomainRef, id: UInt32, params: [TypedParam], flags: UInt32) async throws {
        throw Self.denied("virDomainSetIOThreadParams")
    }
    /// Refused on a read-only connection.
    public func setVcpu(_ domain: DomainRef, cpumap: String, state: Int32, flags: UInt32) async throws {
        throw Self.denied("virDomainSetVcpu")
    }
    /// Refused on a read-only connection.
    public func guestVcpus(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        throw Self.denied("virDomainGetGuestVcpus")
    }
    /// Refused on a read-only connection.
    public func setGuestVcpus(_ domain: DomainRef, cpumap: String, state: Int32, flags: UInt32) async throws {
        throw Self.denied("virDomainSetGuestVcpus")
    }
    /// Refused on a read-only connection.
    public func pmSuspendForDuration(_ domain: DomainRef, target: UInt32, duration: UInt64, flags: UInt32)
        async throws {
        throw Self.denied("virDomainPMSuspendForDuration")
    }
    /// Refused on a read-only connection.
    public func pmWakeup(_ domain: DomainRef, flags: UInt32) async throws {
        throw Self.denied("virDomainPMWakeup")
    }
    /// Refused on a read-only connection.
    public func domainXMLToNative(format: String, xml: String, flags: UInt32) async throws -> String {
        throw Self.denied("virConnectDomainXMLToNative")
    }
    /// Refused on a read-only connection.
    public func domainXMLFromNative(format: String, config: String, flags: UInt32) async throws -> String {
        throw Self.denied("virConnectDomainXMLFromNative")
    }
}

extension ReadOnlyDriver {
    /// Refused on a read-only connection (libvirt-qemu's API checks it).
    public func qemuMonitorEvents(domain: DomainRef?, event: String?, flags: UInt32) async throws
        -> AsyncStream<QEMUMonitorEventRecord> {
        throw Self.denied("virConnectDomainQemuMonitorEventRegister")
    }
}
