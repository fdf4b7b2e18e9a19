import CSpawn
import Foundation
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
/// arrive on ``events``. A dedicated thread reads the socket, so no executor thread ever blocks. When the
/// connection ends (QEMU exited or ``close()``), pending commands fail and ``events`` finishes.
public actor QMPMonitor {
    /// The default timeout of a command.
    public static let defaultTimeout: Duration = .seconds(30)

    /// Events, in the order QEMU sent them. Single consumer.
    public nonisolated let events: AsyncStream<QMPEvent>
    /// QEMU's version from the greeting: (major, minor, micro).
    public private(set) var version: (major: Int, minor: Int, micro: Int) = (0, 0, 0)

    private let fd: Int32
    private let eventContinuation: AsyncStream<QMPEvent>.Continuation
    private var nextID: UInt64 = 1
    /// Events received so far. A command's reply comes after every event QEMU sent before it, so a caller that
    /// reads this after a reply and waits until its consumer handled that many sees the events in QEMU's order.
    public private(set) var eventCount: UInt64 = 0
    /// Ids of passthrough commands, whose whole reply text is returned.
    private var rawIDs: Set<String> = []
    private var pending: [String: (command: String, continuation: CheckedContinuation<JSONValue, any Error>,
                                   timer: Task<Void, Never>)] = [:]
    private var greeting: JSONValue?
    private var greetingWaiter: CheckedContinuation<JSONValue, any Error>?
    private var closedError: VirtError?
    private var closedWaiters: [CheckedContinuation<Void, Never>] = []
    private var ended = false

    private init(fd: Int32) {
        self.fd = fd
        (events, eventContinuation) = AsyncStream<QMPEvent>.makeStream(bufferingPolicy: .unbounded)
    }

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
        await monitor.startReader()
        do {
            try await monitor.negotiate(timeout: timeout, outOfBand: outOfBand)
        } catch {
            await monitor.close()
            throw error
        }
        return monitor
    }

    private func startReader() {
        let (lines, lineContinuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .unbounded)
        let fd = self.fd
        Thread.detachNewThread {
            QMPMonitor.readLoop(fd: fd, into: lineContinuation)
        }
        Task { [weak self] in
            for await line in lines {
                guard let self else { return }
                await self.handle(line)
            }
            await self?.connectionEnded()
        }
    }

    /// Blocking reader: splits the byte stream into lines, ends at EOF or error (the actor closes the socket).
    private static func readLoop(fd: Int32, into out: AsyncStream<[UInt8]>.Continuation) {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            buffer.append(contentsOf: chunk[0..<n])
            var start = 0
            while let nl = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if nl > start { out.yield(Array(buffer[start..<nl])) }
                start = nl + 1
            }
            buffer.removeFirst(start)
        }
        out.finish()
    }

    private func negotiate(timeout: Duration, outOfBand: Bool) async throws(VirtError) {
        let g: JSONValue
        do {
            g = try await withCheckedThrowingContinuation { c in
                if let greeting {
                    c.resume(returning: greeting)
                } else if let closedError {
                    c.resume(throwing: closedError)
                } else {
                    greetingWaiter = c
                    let t = Task { [weak self] in
                        try? await Task.sleep(for: timeout)
                        await self?.greetingTimedOut()
                    }
                    _ = t
                }
            }
        } catch let e as VirtError {
            throw e
        } catch {
            throw VirtError.internalError("QEMU monitor: \(error)", domain: .qemu)
        }
        if let v = g["QMP"]?["version"]?["qemu"] {
            version = (Int(v["major"]?.intValue ?? 0), Int(v["minor"]?.intValue ?? 0), Int(v["micro"]?.intValue ?? 0))
        }
        let offered = (g["QMP"]?["capabilities"]?.arrayValue ?? []).contains { $0.stringValue == "oob" }
        if outOfBand && offered {
            _ = try await execute("qmp_capabilities", arguments: ["enable": ["oob"]], timeout: timeout)
            oobEnabled = true
        } else {
            _ = try await execute("qmp_capabilities", timeout: timeout)
        }
    }

    /// Whether out-of-band execution was negotiated.
    public private(set) var oobEnabled = false

    /// Runs `command` out of band (`exec-oob`): QEMU's monitor thread answers it even while the main loop is
    /// blocked (a post-copy destination whose main thread waits for a page: `migrate-recover`, `migrate-pause`).
    /// Falls back to in-band execution when out-of-band was not negotiated.
    @discardableResult
    public func executeOutOfBand(_ command: String, arguments: JSONValue? = nil, timeout: Duration = defaultTimeout)
        async throws(VirtError) -> JSONValue {
        guard oobEnabled else { return try await execute(command, arguments: arguments, timeout: timeout) }
        let id = "libvirt-\(nextID)"
        var msg: [String: JSONValue] = ["exec-oob": .string(command), "id": .string(id)]
        if let arguments { msg["arguments"] = arguments }
        return try await send(command, id: id, message: msg, timeout: timeout)
    }

    private func greetingTimedOut() {
        if let w = greetingWaiter {
            greetingWaiter = nil
            w.resume(throwing: VirtError(.operationTimeout, domain: .qemu,
                                         "Timed out during operation: no greeting from the QEMU monitor"))
        }
    }

    /// Runs `command` with `arguments` and returns its `return` member.
    ///
    /// Throws QEMU's error as libvirt reports it ("unable to execute QEMU command 'X': desc"), a timeout
    /// error when no reply comes within `timeout`, or an error when the monitor closes first.
    @discardableResult
    public func execute(_ command: String, arguments: JSONValue? = nil, timeout: Duration = defaultTimeout)
        async throws(VirtError) -> JSONValue {
        let id = "libvirt-\(nextID)"
        var msg: [String: JSONValue] = ["execute": .string(command), "id": .string(id)]
        if let arguments { msg["arguments"] = arguments }
        return try await send(command, id: id, message: msg, timeout: timeout)
    }

    /// Runs `command` with descriptor `fd` attached to it (SCM_RIGHTS), as `getfd` and `add-fd` need.
    @discardableResult
    public func execute(_ command: String, arguments: JSONValue? = nil, passing fd: Int32,
                        timeout: Duration = defaultTimeout) async throws(VirtError) -> JSONValue {
        let id = "libvirt-\(nextID)"
        var msg: [String: JSONValue] = ["execute": .string(command), "id": .string(id)]
        if let arguments { msg["arguments"] = arguments }
        return try await send(command, id: id, message: msg, timeout: timeout, passing: fd)
    }

    /// Writes `message` (carrying `id`, and `passing` a descriptor) and waits for the reply with that id.
    private func send(_ command: String, id: String, message msg: [String: JSONValue], timeout: Duration,
                      passing passFD: Int32? = nil) async throws(VirtError) -> JSONValue {
        if let closedError { throw closedError }
        nextID += 1
        let bytes = Array((JSONValue.object(msg).jsonString + "\r\n").utf8)
        do {
            return try await withCheckedThrowingContinuation { c in
                let timer = Task { [weak self] in
                    do {
                        try await Task.sleep(for: timeout)
                    } catch {
                        return
                    }
                    await self?.expire(id, after: timeout)
                }
                pending[id] = (command, c, timer)
                if !Self.write(fd, bytes, passing: passFD) {
                    let e = VirtError.lastSystemError("cannot send QEMU command '\(command)'")
                    if let p = pending.removeValue(forKey: id) {
                        p.timer.cancel()
                        p.continuation.resume(throwing: e)
                    }
                }
            }
        } catch let e as VirtError {
            throw e
        } catch {
            throw VirtError.internalError("QEMU monitor: \(error)", domain: .qemu)
        }
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
    public func executeRaw(_ json: String, timeout: Duration = defaultTimeout) async throws(VirtError) -> String {
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(json)
        } catch {
            throw VirtError.internalError("cannot parse json \(json): \(error)", domain: .qemu)
        }
        guard case .object(var msg) = parsed, let cmd = msg["execute"]?.stringValue else {
            throw VirtError.internalError("cannot parse json \(json): missing 'execute'", domain: .qemu)
        }
        let id = "libvirt-\(nextID)"
        msg["id"] = .string(id)
        rawIDs.insert(id)
        defer { rawIDs.remove(id) }
        let reply = try await send(cmd, id: id, message: msg, timeout: timeout)
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

    private func expire(_ id: String, after timeout: Duration) {
        guard let p = pending.removeValue(forKey: id) else { return }
        p.continuation.resume(throwing: VirtError(
            .operationTimeout, domain: .qemu,
            "Timed out during operation: QEMU command '\(p.command)' got no reply within \(timeout)"))
    }

    private func handle(_ line: [UInt8]) {
        guard let msg = try? JSONValue.parse(String(decoding: line, as: UTF8.self)) else { return }
        if let name = msg["event"]?.stringValue {
            let ts = msg["timestamp"]
            let micros = (ts?["seconds"]?.intValue ?? 0) * 1_000_000 + (ts?["microseconds"]?.intValue ?? 0)
            eventCount += 1
            var event = QMPEvent(name: name, data: msg["data"] ?? .null, timestampMicros: micros)
            event.sequence = eventCount
            event.dataText = QEMUMonitorEventHub.member("data", ofCompact: Self.compactJSON(line))
            eventContinuation.yield(event)
            return
        }
        if msg["QMP"] != nil {
            greeting = msg
            if let w = greetingWaiter {
                greetingWaiter = nil
                w.resume(returning: msg)
            }
            return
        }
        guard let id = msg["id"]?.stringValue, let p = pending.removeValue(forKey: id) else { return }
        p.timer.cancel()
        if rawIDs.contains(id) {
            p.continuation.resume(returning: .string(Self.compactJSON(line)))
        } else if let err = msg["error"] {
            let desc = err["desc"]?.stringValue ?? "unknown error"
            p.continuation.resume(throwing: VirtError.internalError(
                "unable to execute QEMU command '\(p.command)': \(desc)", domain: .qemu))
        } else {
            p.continuation.resume(returning: msg["return"] ?? .null)
        }
    }

    private func connectionEnded() {
        ended = true
        Glibc.close(fd)
        let e = closedError ?? VirtError.operationFailed("domain is not running", domain: .qemu)
        closedError = e
        if let w = greetingWaiter {
            greetingWaiter = nil
            w.resume(throwing: VirtError.internalError("QEMU monitor closed before its greeting", domain: .qemu))
        }
        for (_, p) in pending {
            p.timer.cancel()
            p.continuation.resume(throwing: VirtError.internalError(
                "QEMU monitor closed while running command '\(p.command)'", domain: .qemu))
        }
        pending.removeAll()
        eventContinuation.finish()
        for w in closedWaiters { w.resume() }
        closedWaiters.removeAll()
    }

    /// Whether the connection has ended.
    public var isClosed: Bool { ended }

    /// Returns when the connection has ended (QEMU closed it or ``close()`` was called).
    public func waitClosed() async {
        if ended { return }
        await withCheckedContinuation { c in closedWaiters.append(c) }
    }

    /// Closes the connection; pending commands fail.
    public func close() {
        if closedError == nil {
            closedError = VirtError.operationFailed("QEMU monitor closed", domain: .qemu)
        }
        if !ended { shutdown(fd, Int32(SHUT_RDWR)) }
    }
}
