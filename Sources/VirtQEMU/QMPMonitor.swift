import CSpawn
import Foundation
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// An asynchronous QMP event.
public struct QMPEvent: Sendable, Hashable {
    /// The event name, e.g. `STOP`, `SHUTDOWN`.
    public var name: String
    /// The event's `data` member (`.null` when absent).
    public var data: JSONValue
    /// QEMU's timestamp, in microseconds since the epoch.
    public var timestampMicros: Int64
    /// The event's place in the monitor's stream (1 for the first): ``QMPMonitor/eventCount`` compares with it.
    public var sequence: UInt64 = 0
    /// The `data` member as compact JSON in QEMU's member order (nil when absent): what libvirt forwards to
    /// qemu-monitor-event.
    public var dataText: String?

    public init(name: String, data: JSONValue, timestampMicros: Int64) {
        self.name = name
        self.data = data
        self.timestampMicros = timestampMicros
    }
}

/// A client of QEMU's QMP monitor on a unix socket.
///
/// Commands carry ids (`libvirt-N`) and their replies are matched by id; every command has a timeout; events
/// arrive on ``events``. A dedicated thread reads the socket, parses each line and resumes the command that waits
/// for it directly (one wake-up of the caller per reply: no stream, task or actor in between), and it also
/// enforces the timeouts (its `poll` wakes at the earliest deadline; nothing is scheduled per command). When the
/// connection ends (QEMU exited or ``close()``), pending commands fail and ``events`` finishes.
public final class QMPMonitor: Sendable {
    /// The default timeout of a command.
    public static let defaultTimeout: Duration = .seconds(30)

    /// Events, in the order QEMU sent them. Single consumer.
    public let events: AsyncStream<QMPEvent>

    /// A command waiting for its reply.
    private struct Waiter {
        var command: String
        /// Hands the reply (or the failure) to whoever waits: a suspended caller, or a ``PendingReply``.
        var complete: @Sendable (Result<JSONValue, VirtError>) -> Void
        var sent: ContinuousClock.Instant
        var deadline: ContinuousClock.Instant
        var timeout: Duration
        /// Passthrough (monitor command): the whole reply text is returned, an error reply included.
        var raw: Bool
    }

    /// Everything the reader thread and the callers share.
    private struct State {
        var nextID: UInt64 = 1
        var version: (major: Int, minor: Int, micro: Int) = (0, 0, 0)
        var oobEnabled = false
        var eventCount: UInt64 = 0
        var pending: [String: Waiter] = [:]
        var greeting: JSONValue?
        var greetingWaiter: CheckedContinuation<JSONValue, any Error>?
        var greetingDeadline: ContinuousClock.Instant?
        var closedError: VirtError?
        var closedWaiters: [CheckedContinuation<Void, Never>] = []
        var ended = false
        /// When the reader's `poll` returns at the latest (nil: it waits for input only). A command whose
        /// deadline is later needs no wake-up: the reader re-arms for it when this passes.
        var armed: ContinuousClock.Instant?
    }

    private let fd: Int32
    /// An eventfd that wakes the reader when a deadline earlier than the armed one appears.
    private let wakeFD: Int32
    private let eventContinuation: AsyncStream<QMPEvent>.Continuation
    private let state = Mutex(State())
    /// Serialises writes to the socket, and the final close against them.
    private let writeLock = Mutex(())

    private init(fd: Int32) {
        self.fd = fd
        wakeFD = swiftvirt_eventfd()
        (events, eventContinuation) = AsyncStream<QMPEvent>.makeStream(bufferingPolicy: .unbounded)
    }

    /// QEMU's version from the greeting: (major, minor, micro).
    public var version: (major: Int, minor: Int, micro: Int) { state.withLock { $0.version } }
    /// Whether out-of-band execution was negotiated.
    public var oobEnabled: Bool { state.withLock { $0.oobEnabled } }
    /// Events received so far. A command's reply comes after every event QEMU sent before it, so a caller that
    /// reads this after a reply and waits until its consumer handled that many sees the events in QEMU's order.
    public var eventCount: UInt64 { state.withLock { $0.eventCount } }

    /// Connects to the QMP socket at `path`, reads the greeting and negotiates capabilities.
    public static func connect(path: String, timeout: Duration = defaultTimeout, outOfBand: Bool = false)
        async throws(VirtError) -> QMPMonitor {
        let fd = try LinuxSys.connectUnix(path)
        return try await open(fd: fd, timeout: timeout, outOfBand: outOfBand)
    }

    /// Takes over an already connected socket `fd`, reads the greeting and negotiates capabilities.
    /// `outOfBand`: enable QMP's out-of-band execution when QEMU offers it (``executeOutOfBand(_:arguments:)``).
    public static func open(fd: Int32, timeout: Duration = defaultTimeout, outOfBand: Bool = false)
        async throws(VirtError) -> QMPMonitor {
        let monitor = QMPMonitor(fd: fd)
        guard monitor.wakeFD >= 0 else {
            let e = VirtError.lastSystemError("cannot create an eventfd for the QEMU monitor")
            Glibc.close(fd)
            throw e
        }
        Thread.detachNewThread { monitor.readLoop() }
        do {
            try await monitor.negotiate(timeout: timeout, outOfBand: outOfBand)
        } catch {
            monitor.close()
            throw error
        }
        return monitor
    }

    /// The reader thread: waits for input or the armed deadline, splits the byte stream into lines and handles
    /// each, fails the commands whose deadline passed; at EOF or error ends the connection.
    private func readLoop() {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        loop: while true {
            let timeout = expireOverdue()
            let r = poll(&fds, 2, timeout)
            if r < 0 {
                if errno == EINTR { continue }
                break
            }
            if fds[1].revents != 0 {
                var counter: UInt64 = 0
                _ = read(wakeFD, &counter, 8)
            }
            guard fds[0].revents != 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if n <= 0 { break loop }
            buffer.append(contentsOf: chunk[0..<n])
            var start = 0
            while let nl = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if nl > start { handle(Array(buffer[start..<nl])) }
                start = nl + 1
            }
            buffer.removeFirst(start)
        }
        connectionEnded()
    }

    /// Fails the commands (and the greeting wait) whose deadline has passed; returns how long the reader may
    /// sleep in milliseconds (-1: until input).
    private func expireOverdue() -> Int32 {
        let now = ContinuousClock.now
        var expired: [Waiter] = []
        var greetingLate: CheckedContinuation<JSONValue, any Error>?
        let armed: ContinuousClock.Instant? = state.withLock { s in
            for (id, w) in s.pending where w.deadline <= now {
                s.pending[id] = nil
                expired.append(w)
            }
            if let d = s.greetingDeadline, d <= now {
                greetingLate = s.greetingWaiter
                s.greetingWaiter = nil
                s.greetingDeadline = nil
            }
            var earliest = s.pending.values.map(\.deadline).min()
            if let d = s.greetingDeadline { earliest = min(earliest ?? d, d) }
            if let a = s.armed, a > now {
                s.armed = min(a, earliest ?? a)
            } else {
                s.armed = earliest
            }
            return s.armed
        }
        for w in expired {
            w.complete(.failure(VirtError(
                .operationTimeout, domain: .qemu,
                "Timed out during operation: QEMU command '\(w.command)' got no reply within \(w.timeout)")))
        }
        greetingLate?.resume(throwing: VirtError(.operationTimeout, domain: .qemu,
                                                 "Timed out during operation: no greeting from the QEMU monitor"))
        guard let armed else { return -1 }
        let ms = (armed - now) / .milliseconds(1)
        return Int32(min(max(ms.rounded(.up), 0), 3_600_000))
    }

    /// Asks the reader to re-arm its `poll` when `deadline` is earlier than what it waits for. Call with the
    /// state unlocked.
    private func arm(_ deadline: ContinuousClock.Instant) {
        let wake = state.withLock { s -> Bool in
            if let a = s.armed, a <= deadline { return false }
            s.armed = deadline
            return true
        }
        if wake {
            writeLock.withLock { _ in
                if !state.withLock({ $0.ended }) {
                    var one: UInt64 = 1
                    _ = Glibc.write(wakeFD, &one, 8)
                }
            }
        }
    }

    private func negotiate(timeout: Duration, outOfBand: Bool) async throws(VirtError) {
        let g: JSONValue
        do {
            g = try await withCheckedThrowingContinuation { c in
                let deadline = ContinuousClock.now + timeout
                let early: Result<JSONValue, VirtError>? = state.withLock { s in
                    if let greeting = s.greeting { return .success(greeting) }
                    if let e = s.closedError { return .failure(e) }
                    s.greetingWaiter = c
                    s.greetingDeadline = deadline
                    return nil
                }
                switch early {
                case .success(let v): c.resume(returning: v)
                case .failure(let e): c.resume(throwing: e)
                case nil: arm(deadline)
                }
            }
        } catch let e as VirtError {
            throw e
        } catch {
            throw VirtError.internalError("QEMU monitor: \(error)", domain: .qemu)
        }
        if let v = g["QMP"]?["version"]?["qemu"] {
            let version = (Int(v["major"]?.intValue ?? 0), Int(v["minor"]?.intValue ?? 0), Int(v["micro"]?.intValue ?? 0))
            state.withLock { $0.version = version }
        }
        let offered = (g["QMP"]?["capabilities"]?.arrayValue ?? []).contains { $0.stringValue == "oob" }
        if outOfBand && offered {
            _ = try await execute("qmp_capabilities", arguments: ["enable": ["oob"]], timeout: timeout)
            state.withLock { $0.oobEnabled = true }
        } else {
            _ = try await execute("qmp_capabilities", timeout: timeout)
        }
    }

    /// Runs `command` out of band (`exec-oob`): QEMU's monitor thread answers it even while the main loop is
    /// blocked (a post-copy destination whose main thread waits for a page: `migrate-recover`, `migrate-pause`).
    /// Falls back to in-band execution when out-of-band was not negotiated.
    @discardableResult
    public func executeOutOfBand(_ command: String, arguments: JSONValue? = nil, timeout: Duration = defaultTimeout)
        async throws(VirtError) -> JSONValue {
        guard oobEnabled else { return try await execute(command, arguments: arguments, timeout: timeout) }
        return try await send(command, verb: "exec-oob", arguments: arguments, timeout: timeout)
    }

    /// Runs `command` with `arguments` and returns its `return` member.
    ///
    /// Throws QEMU's error as libvirt reports it ("unable to execute QEMU command 'X': desc"), a timeout
    /// error when no reply comes within `timeout`, or an error when the monitor closes first.
    @discardableResult
    public func execute(_ command: String, arguments: JSONValue? = nil, timeout: Duration = defaultTimeout)
        async throws(VirtError) -> JSONValue {
        try await send(command, arguments: arguments, timeout: timeout)
    }

    /// Runs `command` with descriptor `fd` attached to it (SCM_RIGHTS), as `getfd` and `add-fd` need.
    @discardableResult
    public func execute(_ command: String, arguments: JSONValue? = nil, passing fd: Int32,
                        timeout: Duration = defaultTimeout) async throws(VirtError) -> JSONValue {
        try await send(command, arguments: arguments, timeout: timeout, passing: fd)
    }

    /// Sends `command` (`verb` names how: execute or exec-oob; `message`, when given, is the whole message
    /// but for its id) with an id of its own, `passing` a descriptor, and waits for the reply with that id.
    private func send(_ command: String, verb: String = "execute", arguments: JSONValue? = nil,
                      message: [String: JSONValue]? = nil, raw: Bool = false, timeout: Duration,
                      passing passFD: Int32? = nil) async throws(VirtError) -> JSONValue {
        let result: Result<JSONValue, VirtError> = await withCheckedContinuation { c in
            dispatch(command, verb: verb, arguments: arguments, message: message, raw: raw, timeout: timeout,
                     passing: passFD) { c.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Registers a waiter for `command` and writes it to QEMU now; `complete` gets the reply or the failure
    /// (a closed monitor, a failed write, a timeout).
    private func dispatch(_ command: String, verb: String = "execute", arguments: JSONValue?,
                          message: [String: JSONValue]? = nil, raw: Bool = false, timeout: Duration,
                          passing passFD: Int32?, complete: @escaping @Sendable (Result<JSONValue, VirtError>) -> Void) {
        let now = ContinuousClock.now
        let registered: Result<String, VirtError> = state.withLock { s in
            if let e = s.closedError { return .failure(e) }
            let id = "libvirt-\(s.nextID)"
            s.nextID += 1
            s.pending[id] = Waiter(command: command, complete: complete, sent: now, deadline: now + timeout,
                                   timeout: timeout, raw: raw)
            return .success(id)
        }
        let id: String
        switch registered {
        case .failure(let e):
            complete(.failure(e))
            return
        case .success(let v): id = v
        }
        var msg = message ?? [verb: .string(command)]
        if message == nil, let arguments { msg["arguments"] = arguments }
        msg["id"] = .string(id)
        let bytes = Array((JSONValue.object(msg).jsonString + "\r\n").utf8)
        let written = writeLock.withLock { _ -> Bool in
            if state.withLock({ $0.ended }) { return false }
            return Self.write(fd, bytes, passing: passFD)
        }
        if !written {
            let e = state.withLock { $0.closedError }
                ?? VirtError.lastSystemError("cannot send QEMU command '\(command)'")
            if let w = state.withLock({ $0.pending.removeValue(forKey: id) }) {
                w.complete(.failure(e))
            }
            return
        }
        arm(now + timeout)
    }

    /// Sends `commands` one after the other without waiting for each reply, then waits for all of them: one
    /// round trip instead of one per command. QEMU runs them in order, each whatever became of the one
    /// before, so put together only commands where that is harmless. Returns each command's reply or error.
    public func executeInOrder(_ commands: [QMPCommand], timeout: Duration = defaultTimeout)
        async -> [Result<JSONValue, VirtError>] {
        let replies = commands.map { cmd in
            let reply = PendingReply()
            dispatch(cmd.name, arguments: cmd.arguments, timeout: timeout, passing: cmd.fd) { reply.fulfil($0) }
            return reply
        }
        var results: [Result<JSONValue, VirtError>] = []
        for r in replies { results.append(await r.value()) }
        return results
    }


    /// Writes `bytes`, the first of them with `passFD` attached.
    private static func write(_ fd: Int32, _ bytes: [UInt8], passing passFD: Int32?) -> Bool {
        guard let passFD else { return LinuxSys.writeAll(fd, bytes) }
        let n = bytes.withUnsafeBytes { swiftvirt_send_with_fd(fd, $0.baseAddress, $0.count, passFD) }
        if n <= 0 { return false }
        return n == bytes.count || LinuxSys.writeAll(fd, Array(bytes[n...]))
    }

    /// Sends a raw QMP JSON text (monitor passthrough, as libvirt's virDomainQemuMonitorCommand) with an id
    /// added, and returns QEMU's whole reply as compact JSON in QEMU's member order, id included; a QMP error
    /// reply is returned as text too, not thrown (as libvirt does).
    public func executeRaw(_ json: String, passing fd: Int32? = nil, timeout: Duration = defaultTimeout)
        async throws(VirtError) -> String {
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(json)
        } catch {
            throw VirtError.internalError("cannot parse json \(json): \(error)", domain: .qemu)
        }
        guard case .object(let msg) = parsed, let cmd = msg["execute"]?.stringValue else {
            throw VirtError.internalError("cannot parse json \(json): missing 'execute'", domain: .qemu)
        }
        let reply = try await send(cmd, message: msg, raw: true, timeout: timeout, passing: fd)
        return reply.stringValue ?? reply.jsonString
    }

    /// JSON text without the whitespace outside strings (member order kept).
    static func compactJSON(_ line: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(line.count)
        var inString = false
        var escaped = false
        for b in line {
            if inString {
                out.append(b)
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"): continue
            case UInt8(ascii: "\""): inString = true
            default: break
            }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// One line from QEMU (reader thread): an event, the greeting or a reply.
    private func handle(_ line: [UInt8]) {
        guard let msg = try? JSONValue.parse(String(decoding: line, as: UTF8.self)) else { return }
        if let name = msg["event"]?.stringValue {
            let ts = msg["timestamp"]
            let micros = (ts?["seconds"]?.intValue ?? 0) * 1_000_000 + (ts?["microseconds"]?.intValue ?? 0)
            var event = QMPEvent(name: name, data: msg["data"] ?? .null, timestampMicros: micros)
            event.sequence = state.withLock { s in
                s.eventCount += 1
                return s.eventCount
            }
            event.dataText = QEMUMonitorEventHub.member("data", ofCompact: Self.compactJSON(line))
            eventContinuation.yield(event)
            return
        }
        if msg["QMP"] != nil {
            let waiter = state.withLock { s in
                s.greeting = msg
                s.greetingDeadline = nil
                defer { s.greetingWaiter = nil }
                return s.greetingWaiter
            }
            waiter?.resume(returning: msg)
            return
        }
        guard let id = msg["id"]?.stringValue,
              let w = state.withLock({ $0.pending.removeValue(forKey: id) }) else { return }
        if w.raw {
            w.complete(.success(.string(Self.compactJSON(line))))
        } else if let err = msg["error"] {
            let desc = err["desc"]?.stringValue ?? "unknown error"
            w.complete(.failure(VirtError.internalError(
                "unable to execute QEMU command '\(w.command)': \(desc)", domain: .qemu)))
        } else {
            w.complete(.success(msg["return"] ?? .null))
        }
    }

    /// The reader's end: closes the socket, fails whoever waits, finishes the events.
    private func connectionEnded() {
        let (greetingWaiter, pending, closedWaiters) = writeLock.withLock { _ in
            let taken = state.withLock { s in
                s.ended = true
                if s.closedError == nil {
                    s.closedError = VirtError.operationFailed("domain is not running", domain: .qemu)
                }
                defer {
                    s.greetingWaiter = nil
                    s.pending.removeAll()
                    s.closedWaiters.removeAll()
                }
                return (s.greetingWaiter, s.pending, s.closedWaiters)
            }
            Glibc.close(fd)
            Glibc.close(wakeFD)
            return taken
        }
        greetingWaiter?.resume(throwing: VirtError.internalError("QEMU monitor closed before its greeting", domain: .qemu))
        for (_, w) in pending {
            w.complete(.failure(VirtError.internalError(
                "QEMU monitor closed while running command '\(w.command)'", domain: .qemu)))
        }
        eventContinuation.finish()
        for w in closedWaiters { w.resume() }
    }

    /// Whether the connection has ended.
    public var isClosed: Bool { state.withLock { $0.ended } }

    /// When the oldest command still waiting for its reply was sent (libvirt's `monStart`: the monitor is
    /// occupied since then), nil when none waits.
    public var busySince: ContinuousClock.Instant? {
        state.withLock { $0.pending.values.map(\.sent).min() }
    }

    /// Returns when the connection has ended (QEMU closed it or ``close()`` was called).
    public func waitClosed() async {
        await withCheckedContinuation { c in
            let now = state.withLock { s -> Bool in
                if s.ended { return true }
                s.closedWaiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// Closes the connection; pending commands fail.
    public func close() {
        writeLock.withLock { _ in
            let open = state.withLock { s -> Bool in
                if s.closedError == nil {
                    s.closedError = VirtError.operationFailed("QEMU monitor closed", domain: .qemu)
                }
                return !s.ended
            }
            if open { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }
}

/// A QMP command for ``QMPMonitor/executeInOrder(_:timeout:)``: its name, arguments and a descriptor to pass.
public struct QMPCommand: Sendable {
    public var name: String
    public var arguments: JSONValue?
    public var fd: Int32?

    public init(_ name: String, arguments: JSONValue? = nil, passing fd: Int32? = nil) {
        self.name = name
        self.arguments = arguments
        self.fd = fd
    }
}

/// A reply that arrives before or after someone waits for it.
private final class PendingReply: Sendable {
    private let state = Mutex<(result: Result<JSONValue, VirtError>?, waiter: CheckedContinuation<Result<JSONValue, VirtError>, Never>?)>((nil, nil))

    func fulfil(_ r: Result<JSONValue, VirtError>) {
        let waiter = state.withLock { s -> CheckedContinuation<Result<JSONValue, VirtError>, Never>? in
            guard s.result == nil else { return nil }
            s.result = r
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: r)
    }

    func value() async -> Result<JSONValue, VirtError> {
        await withCheckedContinuation { c in
            let ready = state.withLock { s -> Result<JSONValue, VirtError>? in
                if let r = s.result { return r }
                s.waiter = c
                return nil
            }
            if let ready { c.resume(returning: ready) }
        }
    }
}
