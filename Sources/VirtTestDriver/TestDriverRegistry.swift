import Synchronization
import VirtCore

/// A process-wide state shared by the connections that open it: created by the first open and freed when the
/// last connection closes (libvirt's `defaultPrivconn` with its reference count).
final class SharedStateRegistry: Sendable {
    private struct Shared {
        var state: TestDriverState?
        var references = 0
    }

    private let shared = Mutex(Shared())
    private let make: @Sendable () throws(VirtError) -> TestDriverState

    /// A registry whose state is built by `make` on first use.
    init(make: @escaping @Sendable () throws(VirtError) -> TestDriverState) {
        self.make = make
    }

    /// Takes a reference on the state, creating it if needed.
    func acquire() throws(VirtError) -> TestDriverState {
        try shared.withLock { s throws(VirtError) -> TestDriverState in
            if let state = s.state {
                s.references += 1
                return state
            }
            let state = try make()
            s.state = state
            s.references = 1
            return state
        }
    }

    /// Drops a reference on the state; the last one frees it.
    func release(_ state: TestDriverState) {
        shared.withLock { s in
            guard let current = s.state, current === state else { return }
            s.references -= 1
            if s.references <= 0 {
                s.state = nil
                s.references = 0
            }
        }
    }

    /// The number of references currently held.
    var references: Int { shared.withLock { $0.references } }
}

/// The registry of `test:///default`: one state for the whole process.
enum TestDriverRegistry {
    static let `default` = SharedStateRegistry(make: TestDriverState.makeDefault)
}
