/// vCPU, IOThread, guest power management and native-format defaults: NO_SUPPORT naming libvirt's API.
extension HypervisorDriver {
    public func addIOThread(_ domain: DomainRef, id: UInt32, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainAddIOThread", domain: .domain)
    }
    public func delIOThread(_ domain: DomainRef, id: UInt32, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainDelIOThread", domain: .domain)
    }
    public func pinIOThread(_ domain: DomainRef, id: UInt32, cpumap: [UInt8], flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainPinIOThread", domain: .domain)
    }
    public func setIOThreadParams(_ domain: DomainRef, id: UInt32, params: [TypedParam], flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetIOThreadParams", domain: .domain)
    }
    public func setVcpu(_ domain: DomainRef, cpumap: String, state: Int32, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetVcpu", domain: .domain)
    }
    public func guestVcpus(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        throw VirtError.noSupport("virDomainGetGuestVcpus", domain: .domain)
    }
    public func setGuestVcpus(_ domain: DomainRef, cpumap: String, state: Int32, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetGuestVcpus", domain: .domain)
    }
    public func pmSuspendForDuration(_ domain: DomainRef, target: UInt32, duration: UInt64, flags: UInt32)
        async throws {
        throw VirtError.noSupport("virDomainPMSuspendForDuration", domain: .domain)
    }
    public func pmWakeup(_ domain: DomainRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainPMWakeup", domain: .domain)
    }
    public func domainXMLToNative(format: String, xml: String, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virConnectDomainXMLToNative", domain: .domain)
    }
    public func domainXMLFromNative(format: String, config: String, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virConnectDomainXMLFromNative", domain: .domain)
    }
}

/// The typed parameters of `virDomainSetIOThreadParams` (libvirt's `VIR_DOMAIN_IOTHREAD_*`).
public enum IOThreadParam {
    public static let pollMaxNs = "poll_max_ns"
    public static let pollGrow = "poll_grow"
    public static let pollShrink = "poll_shrink"
    public static let threadPoolMin = "thread_pool_min"
    public static let threadPoolMax = "thread_pool_max"
}
