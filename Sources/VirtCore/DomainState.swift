/// libvirt's `virDomainState`.
public enum DomainState: Int32, Sendable, CaseIterable, Codable {
    case noState = 0
    case running = 1
    case blocked = 2
    case paused = 3
    case shutdown = 4
    case shutoff = 5
    case crashed = 6
    case pmSuspended = 7

    /// The string used in status XML (`<domstatus state='…'>`).
    public var statusString: String {
        switch self {
        case .noState: "nostate"
        case .running: "running"
        case .blocked: "blocked"
        case .paused: "paused"
        case .shutdown: "shutdown"
        case .shutoff: "shutoff"
        case .crashed: "crashed"
        case .pmSuspended: "pmsuspended"
        }
    }

    /// The string virsh prints (`list`, `domstate`, `dominfo`).
    public var virshString: String {
        switch self {
        case .noState: "no state"
        case .running: "running"
        case .blocked: "idle"
        case .paused: "paused"
        case .shutdown: "in shutdown"
        case .shutoff: "shut off"
        case .crashed: "crashed"
        case .pmSuspended: "pmsuspended"
        }
    }

    public init?(statusString: String) {
        guard let s = DomainState.allCases.first(where: { $0.statusString == statusString }) else { return nil }
        self = s
    }

    public var isActive: Bool { self != .shutoff && self != .noState }
}

/// libvirt's `virDomainRunningReason`.
public enum RunningReason: Int32, Sendable, CaseIterable {
    case unknown = 0, booted, migrated, restored, fromSnapshot, unpaused, migrationCanceled, saveCanceled, wakeup,
        crashed, postcopy, postcopyFailed
}

/// libvirt's `virDomainPausedReason`.
public enum PausedReason: Int32, Sendable, CaseIterable {
    case unknown = 0, user, migration, save, dump, ioError, watchdog, fromSnapshot, shuttingDown, snapshot, crashed,
        startingUp, postcopy, postcopyFailed, apiError
}

/// libvirt's `virDomainShutoffReason`.
public enum ShutoffReason: Int32, Sendable, CaseIterable {
    case unknown = 0, shutdown, destroyed, crashed, migrated, saved, failed, fromSnapshot, daemon
}

/// libvirt's `virDomainShutdownReason`.
public enum ShutdownReason: Int32, Sendable, CaseIterable {
    case unknown = 0, user
}

/// libvirt's `virDomainCrashedReason`.
public enum CrashedReason: Int32, Sendable, CaseIterable {
    case unknown = 0, panicked
}

/// A domain's state together with the reason for it, as `virDomainGetState` returns them.
public struct DomainStatus: Sendable, Hashable, Codable {
    public var state: DomainState
    /// The reason, interpreted according to `state` (e.g. a ``RunningReason`` raw value when running).
    public var reason: Int32

    public init(_ state: DomainState, reason: Int32 = 0) {
        self.state = state
        self.reason = reason
    }

    public static func running(_ r: RunningReason) -> DomainStatus { .init(.running, reason: r.rawValue) }
    public static func paused(_ r: PausedReason) -> DomainStatus { .init(.paused, reason: r.rawValue) }
    public static func shutoff(_ r: ShutoffReason) -> DomainStatus { .init(.shutoff, reason: r.rawValue) }
    public static func shutdown(_ r: ShutdownReason) -> DomainStatus { .init(.shutdown, reason: r.rawValue) }
    public static func crashed(_ r: CrashedReason) -> DomainStatus { .init(.crashed, reason: r.rawValue) }

    /// The reason string used in status XML (`<domstatus reason='…'>`), libvirt's `virDomain*ReasonTypeToString`.
    public var reasonStatusString: String {
        let table: [String]
        switch state {
        case .running:
            table = ["unknown", "booted", "migrated", "restored", "from snapshot", "unpaused", "migration canceled",
                     "save canceled", "wakeup", "crashed", "post-copy", "post-copy failed"]
        case .paused:
            table = ["unknown", "user", "migration", "save", "dump", "ioerror", "watchdog", "from snapshot", "shutdown",
                     "snapshot", "panicked", "starting up", "post-copy", "post-copy failed", "api error"]
        case .shutoff:
            table = ["unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from snapshot",
                     "daemon"]
        case .shutdown:
            table = ["unknown", "user"]
        case .crashed:
            table = ["unknown", "panicked"]
        case .noState, .blocked, .pmSuspended:
            table = ["unknown"]
        }
        let i = Int(reason)
        return i >= 0 && i < table.count ? table[i] : "unknown"
    }
}
