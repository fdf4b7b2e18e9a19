import Foundation

/// One QMP event of a domain as libvirt-qemu's virConnectDomainQemuMonitorEventRegister delivers it: the event
/// name, QEMU's timestamp (seconds and microseconds) and its `data` member as JSON text (nil when absent).
public struct QEMUMonitorEventRecord: Sendable, Hashable {
    public var domain: DomainRef
    public var event: String
    public var seconds: Int64
    public var micros: UInt32
    public var details: String?
    public init(domain: DomainRef, event: String, seconds: Int64, micros: UInt32, details: String?) {
        self.domain = domain
        self.event = event
        self.seconds = seconds
        self.micros = micros
        self.details = details
    }
}

/// Which events a registration wants (libvirt's virDomainQemuMonitorEventStateRegisterID): one domain or all,
/// and an event name compared exactly, without case (`VIR_CONNECT_DOMAIN_QEMU_MONITOR_EVENT_REGISTER_NOCASE`,
/// 2) or as an extended regular expression (`…_REGEX`, 1).
public struct QEMUMonitorEventFilter: Sendable {
    public static let regex: UInt32 = 1
    public static let nocase: UInt32 = 2
    public var domain: VirtUUID?
    public var event: String?
    private let pattern: NSRegularExpression?
    private let nocase: Bool

    public init(domain: VirtUUID?, event: String?, flags: UInt32) throws(VirtError) {
        if flags & ~UInt32(3) != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags & ~UInt32(3)), function: "virConnectDomainQemuMonitorEventRegister",
                                             domain: .domain)
        }
        self.domain = domain
        self.event = event
        nocase = flags & Self.nocase != 0
        if let event, flags & Self.regex != 0 {
            do {
                pattern = try NSRegularExpression(pattern: event, options: nocase ? [.caseInsensitive] : [])
            } catch {
                throw VirtError.invalidArg("failed to compile regex '\(event)'", domain: .domain)
            }
        } else {
            pattern = nil
        }
    }

    public func matches(_ r: QEMUMonitorEventRecord) -> Bool {
        if let domain, domain != r.domain.uuid { return false }
        guard let event else { return true }
        if let pattern {
            return pattern.firstMatch(in: r.event, range: NSRange(r.event.startIndex..., in: r.event)) != nil
        }
        return nocase ? event.lowercased() == r.event.lowercased() : event == r.event
    }
}

extension HypervisorDriver {
    /// `virConnectDomainQemuMonitorEventRegister`: the matching QMP events until the stream is dropped.
    public func qemuMonitorEvents(domain: DomainRef?, event: String?, flags: UInt32) async throws
        -> AsyncStream<QEMUMonitorEventRecord> {
        throw VirtError.noSupport("virConnectDomainQemuMonitorEventRegister", domain: .domain)
    }
}
