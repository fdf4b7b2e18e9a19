import Synchronization

/// An async mutual-exclusion lock per key, FIFO per key: libvirt's per-domain job lock, so that two clients
/// cannot race a start against a destroy. Waiters suspend; nothing blocks a thread.
public final class KeyedAsyncLock<Key: Hashable & Sendable>: Sendable {
    private struct State {
        var waiters: [Key: [CheckedContinuation<Void, Never>]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Runs `body` while holding the lock for `key`.
    public func withLock<T: Sendable>(_ key: Key, _ body: () async throws -> T) async throws -> T {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }

    /// Number of keys currently held (for tests).
    public var heldCount: Int { state.withLock { $0.waiters.count } }

    private func acquire(_ key: Key) async {
        // A free key is taken without suspending: a suspension and its resumption cost two executor hops.
        if state.withLock({ s -> Bool in
            if s.waiters[key] == nil {
                s.waiters[key] = []
                return true
            }
            return false
        }) {
            return
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let immediate = state.withLock { s -> Bool in
                if s.waiters[key] == nil {
                    s.waiters[key] = []
                    return true
                }
                s.waiters[key, default: []].append(c)
                return false
            }
            if immediate { c.resume() }
        }
    }

    private func release(_ key: Key) {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard var q = s.waiters[key] else { return nil }
            if q.isEmpty {
                s.waiters.removeValue(forKey: key)
                return nil
            }
            let c = q.removeFirst()
            s.waiters[key] = q
            return c
        }
        next?.resume()
    }
}
