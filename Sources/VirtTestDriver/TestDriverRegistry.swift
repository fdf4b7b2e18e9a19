import Synchronization
import VirtCore

/// The process-wide state of `test:///default`: shared by every connection of the process, created by the first
/// open and freed when the last connection closes (libvirt's `defaultPrivconn` with its reference count).
enum TestDriverRegistry {
    private struct Shared {
        var state: TestDriverState?
        var references = 0
    }

    private static let shared = Mutex(Shared())

    /// Takes a reference on the default state, creating it if needed.
    static func acquireDefault() throws(VirtError) -> TestDriverState {
        try shared.withLock { s throws(VirtError) -> TestDriverState in
            if let state = s.state {
                s.references += 1
                return state
            }
            let state = try TestDriverState.makeDefault()
            s.state = state
            s.references = 1
            return state
        }
    }

    /// Drops a reference on the default state; the last one frees it.
    static func releaseDefault(_ state: TestDriverState) {
        shared.withLock { s in
            guard let current = s.state, current === state else { return }
            s.references -= 1
            if s.references <= 0 {
                s.state = nil
                s.references = 0
            }
        }
    }

    /// The number of open `test:///default` connections (for tests).
    static var defaultReferences: Int { shared.withLock { $0.references } }
}
