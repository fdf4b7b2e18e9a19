import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// A client of the QEMU guest agent (the qemu-ga protocol) on the unix socket of the domain's
/// `org.qemu.guest_agent.0` channel.
///
/// Every command is preceded by a `guest-sync-delimited` handshake: the request starts with a 0xFF byte,
/// the agent answers with a 0xFF byte and `{"return": ID}`, and everything before that byte (stale output
/// of an earlier session) is dropped. One command runs at a time. A dedicated thread reads the socket.
actor QEMUGuestAgent {
    /// How long the handshake may take (libvirt's `QEMU_AGENT_WAIT_TIME`, 5 s).
    static let syncTimeout: Duration = .seconds(5)
    /// How long `guest-shutdown` may take to end in a SHUTDOWN or RESET (libvirt's 60 s).
    static let shutdownTimeout: Duration = .seconds(60)

    private let fd: Int32
    private var nextSyncID: UInt64
    private var syncWaiter: (id: UInt64, continuation: CheckedContinuation<Void, any Error>)?
    private var replyWaiter: CheckedContinuation<JSONValue, any Error>?
    /// Counts commands, so that a timer of an earlier one never ends a later one.
    private var generation: UInt64 = 0
    private var busy = false
    private var busyWaiters: [CheckedContinuation<Void, Never>] = []
    private var ended = false
    /// A guest-shutdown is waiting for the guest's SHUTDOWN or RESET.
    private var awaitingEvent = false

    private init(fd: Int32) {
        self.fd = fd
        nextSyncID = UInt64(Date().timeIntervalSince1970 * 1000)
    }

    /// Connects to the agent's socket at `path`.
    static func connect(path: String) throws(VirtError) -> QEMUGuestAgent {
        let fd = try LinuxSys.connectUnix(path)
        let agent = QEMUGuestAgent(fd: fd)
        let (frames, cont) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .unbounded)
        Thread.detachNewThread { readLoop(fd: fd, into: cont) }
        Task { [weak agent] in
            for await f in frames {
                guard let agent else { return }
                await agent.handle(f)
            }
            await agent?.connectionEnded()
        }
        return agent
    }

    /// Blocking reader: a 0xFF byte drops what came before it (the delimiter of `guest-sync-delimited`);
    /// the rest is split into lines.
    private static func readLoop(fd: Int32, into out: AsyncStream<[UInt8]>.Continuation) {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            for b in chunk[0..<n] {
                if b == 0xFF {
                    buffer.removeAll()
                } else if b == UInt8(ascii: "\n") {
                    if !buffer.isEmpty { out.yield(buffer) }
                    buffer.removeAll()
                } else {
                    buffer.append(b)
                }
            }
        }
        out.finish()
    }

    /// The text of the last reply (compact, member order kept), for passthrough commands.
    private var lastReplyText = ""

    private func handle(_ line: [UInt8]) {
        guard let msg = try? JSONValue.parse(String(decoding: line, as: UTF8.self)) else { return }
        if syncWaiter == nil, replyWaiter != nil { lastReplyText = QMPMonitor.compactJSON(line) }
        if let w = syncWaiter {
            // Only the answer to our own handshake counts; anything else is stale.
            if let r = msg["return"]?.intValue, UInt64(truncatingIfNeeded: r) == w.id {
                syncWaiter = nil
                w.continuation.resume()
            }
            return
        }
        if let w = replyWaiter, msg["return"] != nil || msg["error"] != nil {
            replyWaiter = nil
            w.resume(returning: msg)
        }
    }

    private func connectionEnded() {
        ended = true
        Glibc.close(fd)
        let e = VirtError(.agentUnresponsive, domain: .qemu,
                          "Guest agent is not responding: Guest agent disappeared while executing command")
        syncWaiter?.continuation.resume(throwing: e)
        syncWaiter = nil
        // A guest shutting down closes its port: for guest-shutdown that is success (libvirt's agent
        // commands that await an event do not report an unexpected end of file).
        if awaitingEvent {
            replyWaiter?.resume(returning: .null)
        } else {
            replyWaiter?.resume(throwing: e)
        }
        replyWaiter = nil
    }

    /// Whether the connection has ended.
    var isClosed: Bool { ended }

    /// Closes the connection; a waiting command fails.
    func close() {
        if !ended { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func lock() async {
        while busy { await withCheckedContinuation { busyWaiters.append($0) } }
        busy = true
    }

    private func unlock() {
        busy = false
        let w = busyWaiters
        busyWaiters = []
        for c in w { c.resume() }
    }

    private func send(_ bytes: [UInt8]) throws(VirtError) {
        guard !ended, LinuxSys.writeAll(fd, bytes) else {
            throw VirtError(.agentUnresponsive, domain: .qemu,
                            "Guest agent is not responding: QEMU guest agent is not connected")
        }
    }

    /// The `guest-sync-delimited` handshake.
    private func sync() async throws(VirtError) {
        let id = nextSyncID
        nextSyncID += 1
        var bytes: [UInt8] = [0xFF]
        bytes += Array(#"{"execute":"guest-sync-delimited","arguments":{"id":\#(id)}}"#.utf8) + [UInt8(ascii: "\n")]
        let timer = Task { [weak self] in
            do { try await Task.sleep(for: Self.syncTimeout) } catch { return }
            await self?.syncTimedOut(id)
        }
        defer { timer.cancel() }
        do {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                syncWaiter = (id, c)
                do {
                    try send(bytes)
                } catch {
                    syncWaiter = nil
                    c.resume(throwing: error)
                }
            }
        } catch let e as VirtError {
            throw e
        } catch {
            throw VirtError.internalError("guest agent: \(error)", domain: .qemu)
        }
    }

    private func syncTimedOut(_ id: UInt64) {
        guard let w = syncWaiter, w.id == id else { return }
        syncWaiter = nil
        w.continuation.resume(throwing: VirtError(.agentUnresponsive, domain: .qemu,
                                                  "Guest agent is not responding: Guest agent not available for now"))
    }

    private func replyTimedOut(_ gen: UInt64) {
        guard gen == generation, let w = replyWaiter else { return }
        replyWaiter = nil
        w.resume(throwing: VirtError(.agentUnresponsive, domain: .qemu,
                                     "Guest agent is not responding: Guest agent didn't respond to command within timeout"))
    }

    /// Runs `command` after the handshake and returns its `return` member; an `error` reply becomes libvirt's
    /// "unable to execute QEMU agent command" error.
    func execute(_ command: String, arguments: JSONValue? = nil, timeout: Duration = .seconds(5))
        async throws(VirtError) -> JSONValue {
        await lock()
        defer { unlock() }
        try await sync()
        let reply = try await sendAndWait(command, arguments: arguments, timeout: timeout)
        return try Self.check(reply, command: command)
    }

    /// A command given as JSON text (`virDomainQemuAgentCommand`): its reply as compact JSON text, with the
    /// members in the agent's order; an `error` reply throws as ``execute(_:arguments:timeout:)`` does.
    /// `timeout` nil waits as long as it takes.
    func executeRaw(_ json: String, timeout: Duration?) async throws(VirtError) -> String {
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(json)
        } catch {
            throw VirtError.internalError("cannot parse json \(json): \(error)", domain: .qemu)
        }
        guard let cmd = parsed["execute"]?.stringValue else {
            throw VirtError.internalError("cannot parse json \(json): missing 'execute'", domain: .qemu)
        }
        await lock()
        defer { unlock() }
        try await sync()
        if timeout == .zero {
            // libvirt's NOWAIT: the command goes to the guest, and the wait for its reply ends at once with
            // libvirt's unresponsive-agent error (the late reply is dropped; the next command syncs first).
            var cmdObject: [String: JSONValue] = ["execute": .string(cmd)]
            if let args = parsed["arguments"] { cmdObject["arguments"] = args }
            try send(Array((JSONValue.object(cmdObject).jsonString + "\n").utf8))
            throw VirtError(.agentUnresponsive, domain: .qemu,
                            "Guest agent is not responding: Guest agent not available for now")
        }
        let reply = try await sendAndWait(cmd, arguments: parsed["arguments"], timeout: timeout ?? .seconds(86400 * 365))
        _ = try Self.check(reply, command: cmd)
        return lastReplyText
    }

    /// `guest-shutdown` with `mode` (powerdown, reboot, halt). The agent does not answer on success: this
    /// returns once the command is sent and `done` (the domain's SHUTDOWN or RESET, or QEMU's exit) has
    /// happened, or throws when the agent answers with an error first, or when neither happens in time.
    func shutdown(mode: String, done: @escaping @Sendable () async -> Void) async throws(VirtError) {
        try await awaitingEvent("guest-shutdown", arguments: .object(["mode": .string(mode)]), done: done)
    }

    /// A command the agent answers only on failure (`guest-shutdown`, `guest-suspend-*`): returns once it is
    /// sent and `done` (the QEMU event it causes) has happened, or throws the agent's error or a timeout.
    func awaitingEvent(_ command: String, arguments: JSONValue? = nil,
                       done: @escaping @Sendable () async -> Void) async throws(VirtError) {
        await lock()
        defer { unlock() }
        try await sync()
        var cmd: [String: JSONValue] = ["execute": .string(command)]
        if let arguments { cmd["arguments"] = arguments }
        let bytes = Array((JSONValue.object(cmd).jsonString + "\n").utf8)
        let outcome: JSONValue
        awaitingEvent = true
        var timer: Task<Void, Never>?
        defer {
            awaitingEvent = false
            timer?.cancel()
        }
        do {
            outcome = try await withCheckedThrowingContinuation { (c: CheckedContinuation<JSONValue, any Error>) in
                replyWaiter = c
                do {
                    try send(bytes)
                } catch {
                    replyWaiter = nil
                    c.resume(throwing: error)
                    return
                }
                generation += 1
                let gen = generation
                Task { [weak self] in
                    await done()
                    await self?.finishAwaited(gen)
                }
                timer = Task { [weak self] in
                    do { try await Task.sleep(for: Self.shutdownTimeout) } catch { return }
                    await self?.replyTimedOut(gen)
                }
            }
        } catch let e as VirtError {
            throw e
        } catch {
            throw VirtError.internalError("guest agent: \(error)", domain: .qemu)
        }
        if outcome == .null { return }
        _ = try Self.check(outcome, command: command)
    }

    /// The awaited event happened: the shutdown command succeeded.
    private func finishAwaited(_ gen: UInt64) {
        guard gen == generation, let w = replyWaiter else { return }
        replyWaiter = nil
        w.resume(returning: .null)
    }

    private func sendAndWait(_ command: String, arguments: JSONValue?, timeout: Duration) async throws(VirtError)
        -> JSONValue {
        var cmd: [String: JSONValue] = ["execute": .string(command)]
        if let arguments { cmd["arguments"] = arguments }
        let bytes = Array((JSONValue.object(cmd).jsonString + "\n").utf8)
        generation += 1
        let gen = generation
        let timer = Task { [weak self] in
            do { try await Task.sleep(for: timeout) } catch { return }
            await self?.replyTimedOut(gen)
        }
        defer { timer.cancel() }
        do {
            return try await withCheckedThrowingContinuation { (c: CheckedContinuation<JSONValue, any Error>) in
                replyWaiter = c
                do {
                    try send(bytes)
                } catch {
                    replyWaiter = nil
                    c.resume(throwing: error)
                }
            }
        } catch let e as VirtError {
            throw e
        } catch {
            throw VirtError.internalError("guest agent: \(error)", domain: .qemu)
        }
    }

    private static func check(_ reply: JSONValue, command: String) throws(VirtError) -> JSONValue {
        if let err = reply["error"] {
            let desc = err["desc"]?.stringValue ?? "unknown error"
            throw VirtError.internalError("unable to execute QEMU agent command '\(command)': \(desc)",
                                          domain: .qemu)
        }
        return reply["return"] ?? .null
    }
}
