import Synchronization
import VirtCore

/// Whether a label is being set for the VM or restored to the default.
public enum TPMLabelAction: String, Sendable, Hashable, Codable {
    case set, restore
}

/// The security driver's TPM hook (libvirt's `virSecurityManagerSetTPMLabels` / `RestoreTPMLabels`): at swtpm
/// start the state directory (when the plan says so) and the swtpm log get the VM's label; at stop they get
/// theirs back. Only SELinux has such labels; DAC ownership of the state is the swtpm user's and is not
/// changed here.
public protocol TPMStateLabeler: Sendable {
    /// Labels the log, and the state directory with its files when `statePath` is not nil.
    func setTPMLabels(statePath: String?, logPath: String) throws(VirtError)
    /// Restores the log's label, and the state's when `statePath` is not nil; best effort.
    func restoreTPMLabels(statePath: String?, logPath: String)
}

/// The labeler of security drivers without TPM labels (DAC, none): does nothing.
public struct NoOpTPMStateLabeler: TPMStateLabeler {
    /// The no-op labeler.
    public init() {}
    public func setTPMLabels(statePath: String?, logPath: String) throws(VirtError) {}
    public func restoreTPMLabels(statePath: String?, logPath: String) {}
}

/// A labeler that records each (path, action), for tests that check which paths are labelled when.
public final class RecordingTPMStateLabeler: TPMStateLabeler {
    /// One labelling step.
    public struct Entry: Sendable, Hashable {
        /// The state directory or the log.
        public var path: String
        /// Set or restored.
        public var action: TPMLabelAction
        /// An entry.
        public init(path: String, action: TPMLabelAction) {
            self.path = path
            self.action = action
        }
    }

    private let entries = Mutex<[Entry]>([])

    /// An empty recorder.
    public init() {}

    /// Everything recorded so far, in order.
    public var recorded: [Entry] { entries.withLock { $0 } }

    /// Forgets what was recorded.
    public func reset() { entries.withLock { $0 = [] } }

    public func setTPMLabels(statePath: String?, logPath: String) throws(VirtError) {
        entries.withLock { e in
            if let statePath { e.append(Entry(path: statePath, action: .set)) }
            e.append(Entry(path: logPath, action: .set))
        }
    }

    public func restoreTPMLabels(statePath: String?, logPath: String) {
        entries.withLock { e in
            if let statePath { e.append(Entry(path: statePath, action: .restore)) }
            e.append(Entry(path: logPath, action: .restore))
        }
    }
}
