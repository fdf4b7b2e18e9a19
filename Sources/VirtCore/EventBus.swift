import Synchronization

/// Fans events out to any number of subscribers. Each subscriber gets every event emitted after it subscribed,
/// in order, buffered without bound (events are small and rare).
public final class EventBus<Element: Sendable>: Sendable {
    private struct State {
        var next = 0
        var subscribers: [Int: AsyncStream<Element>.Continuation] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// A new subscription. Dropping (or cancelling the iteration of) the stream unsubscribes.
    public func subscribe() -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream<Element>.makeStream(bufferingPolicy: .unbounded)
        let id = state.withLock { s -> Int in
            let id = s.next
            s.next += 1
            s.subscribers[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Delivers `element` to every current subscriber.
    public func emit(_ element: Element) {
        let subs = state.withLock { $0.subscribers.isEmpty ? [] : Array($0.subscribers.values) }
        for c in subs { c.yield(element) }
    }

    /// The number of current subscribers.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Ends every subscription.
    public func finishAll() {
        let subs = state.withLock { s -> [AsyncStream<Element>.Continuation] in
            let v = Array(s.subscribers.values)
            s.subscribers.removeAll()
            return v
        }
        for c in subs { c.finish() }
    }
}
