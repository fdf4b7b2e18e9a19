import Foundation
import Dispatch
import Virt

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `event` command (virsh-domain-event.c): waits for domain events and prints them as virsh does.
enum EventCommands {
    static let all: [CommandDefinition] = [event]

    /// Event names in libvirt's `virDomainEventID` order, as `event --list` prints them.
    static let eventNames = [
        "lifecycle", "reboot", "rtc-change", "watchdog", "io-error", "graphics", "io-error-reason",
        "control-error", "block-job", "disk-change", "tray-change", "pm-wakeup", "pm-suspend", "balloon-change",
        "pm-suspend-disk", "device-removed", "block-job-2", "tunable", "agent-lifecycle", "device-added",
        "migration-iteration", "job-completed", "device-removal-failed", "metadata-change", "block-threshold",
        "memory-failure", "memory-device-size-change",
    ]

    static let event = CommandDefinition(
        "event", summary: "Domain Events",
        description: "List event types, or wait for domain events to occur",
        options: [
            .string("domain", "filter by domain name, id or uuid"),
            .string("event", "which event type to wait for"),
            .flag("all", "wait for all events instead of just one type"),
            .flag("loop", "loop until timeout or interrupt, rather than one-shot"),
            .int("timeout", "timeout seconds"),
            .flag("list", "list valid event types"),
            .flag("timestamp", "show timestamp for each printed event"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "all", "event"), shell.exclusive(cmd, "list", "all"),
              shell.exclusive(cmd, "list", "event") else { return false }
        if cmd.has("list") {
            for name in eventNames { shell.print("\(name)\n") }
            return true
        }
        let (ok, eventName) = shell.stringOption(cmd, "event")
        guard ok else { return false }
        let all = cmd.has("all")
        if eventName == nil && !all {
            shell.error("one of --list, --all, or --event <type> is required")
            return false
        }
        var wanted = Set<Int32>()
        for (i, name) in eventNames.enumerated() where eventName == nil || eventName == name {
            wanted.insert(Int32(i))
        }
        if wanted.isEmpty {
            shell.error("unknown event type \(eventName ?? "")")
            return false
        }
        var timeoutMs: Int?
        if let text = cmd.value("timeout") {
            guard let seconds = Format.parseUInt32(text) else {
                shell.error("Numeric value '\(text)' for <timeout> option is malformed or out of range")
                return false
            }
            guard seconds != 0, seconds <= UInt32(Int32.max / 1000) else {
                shell.error("Numeric value '\(seconds)' for <timeout> option is malformed or out of range")
                return false
            }
            timeoutMs = Int(seconds) * 1000
        }
        var filter: VirtUUID?
        if cmd.has("domain") {
            guard let dom = await shell.domainOption(cmd) else { return false }
            filter = dom.uuid
        }

        return await printEvents(shell, shell.conn.events(), timeoutMs: timeoutMs, loop: cmd.has("loop"),
                                 timestamp: cmd.has("timestamp")) { record in
            if let filter, record.domain.uuid != filter { return nil }
            return wanted.contains(record.eventID.rawValue) ? describe(record) : nil
        }
    }

    /// virsh's event loop (vshEventWait and the callbacks' printing): each event `line` gives a line for is
    /// printed (with `--timestamp`, after the time), until the first one, or with `--loop` until the timeout or
    /// SIGINT; then how it ended and the count. True when an event was printed.
    @MainActor
    static func printEvents<Element: Sendable>(_ shell: Shell, _ stream: AsyncStream<Element>, timeoutMs: Int?,
                                               loop: Bool, timestamp: Bool,
                                               line: @escaping @MainActor @Sendable (Element) -> String?) async -> Bool {
        let counter = Counter()
        let outcome = await wait(timeoutMs: timeoutMs) { @MainActor in
            for await record in stream {
                guard let text = line(record) else { continue }
                if !loop && counter.count > 0 { return }
                shell.print(timestamp ? "\(nowTimestamp()): \(text)" : text)
                shell.output.flush()
                counter.count += 1
                if !loop { return }
            }
        }
        switch outcome {
        case .interrupted: shell.print("event loop interrupted\n")
        case .timedOut: shell.print("event loop timed out\n")
        case .done: break
        }
        shell.print("events received: \(counter.count)\n")
        return counter.count > 0
    }

    @MainActor
    final class Counter {
        var count = 0
    }

    enum Outcome: Sendable {
        case done, timedOut, interrupted
    }

    /// Runs `body` until it returns, the timeout passes or SIGINT arrives (virsh's `vshEventWait`).
    @MainActor
    static func wait(timeoutMs: Int?, _ body: @escaping @MainActor @Sendable () async -> Void) async -> Outcome {
        let interrupts = SignalWatcher(SIGINT)
        defer { interrupts.stop() }
        return await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                await body()
                return .done
            }
            if let timeoutMs {
                group.addTask {
                    try? await Task.sleep(nanoseconds: UInt64(timeoutMs) * 1_000_000)
                    return .timedOut
                }
            }
            group.addTask {
                var signals = interrupts.stream.makeAsyncIterator()
                return await signals.next() != nil ? .interrupted : .done
            }
            let first = await group.next() ?? .done
            group.cancelAll()
            return first
        }
    }

    /// The line(s) virsh prints for one event.
    static func describe(_ record: DomainEventRecord) -> String {
        let name = record.domain.name
        switch record.kind {
        case .lifecycle(let e):
            return "event 'lifecycle' for domain '\(name)': \(e.type.virshLabel) \(e.virshDetailLabel)\n"
        case .reboot:
            return "event 'reboot' for domain '\(name)'\n"
        case .rtcChange(let offset):
            return "event 'rtc-change' for domain '\(name)': \(offset)\n"
        case .watchdog(let action):
            let actions = ["none", "pause", "reset", "poweroff", "shutdown", "debug", "inject-nmi"]
            return "event 'watchdog' for domain '\(name)': \(label(actions, action))\n"
        case .ioError(let path, let alias, let action):
            return "event 'io-error' for domain '\(name)': \(path) (\(alias)) "
                + "\(label(["none", "pause", "report"], action))\n"
        case .ioErrorReason(let path, let alias, let action, let reason):
            return "event 'io-error-reason' for domain '\(name)': \(path) (\(alias)) "
                + "\(label(["none", "pause", "report"], action)) due to \(reason)\n"
        case .balloonChange(let kib):
            return "event 'balloon-change' for domain '\(name)': \(kib)KiB\n"
        case .deviceRemoved(let alias):
            return "event 'device-removed' for domain '\(name)': \(alias)\n"
        case .deviceAdded(let alias):
            return "event 'device-added' for domain '\(name)': \(alias)\n"
        case .deviceRemovalFailed(let alias):
            return "event 'device-removal-failed' for domain '\(name)': \(alias)\n"
        case .trayChange(let alias, let reason):
            return "event 'tray-change' for domain '\(name)' disk \(alias): \(label(["opened", "closed"], reason))\n"
        case .metadataChange(let type, let uri):
            return "event 'metadata-change' for domain '\(name)': type "
                + "\(label(["description", "title", "element"], type)), uri \(uri ?? "<null>")\n"
        case .jobCompleted(let params):
            var text = "event 'job-completed' for domain '\(name)':\n"
            for p in params { text += "\t\(p.field): \(Self.paramValue(p.value))\n" }
            return text
        case .migrationIteration(let iteration):
            return "event 'migration-iteration' for domain '\(name)': iteration: '\(iteration)'\n"
        case .memoryDeviceSizeChange(let alias, let size):
            return "event 'memory-device-size-change' for domain '\(name)':\nalias: \(alias)\nsize: \(size)\n"
        case .blockThreshold(let dev, let path, let threshold, let excess):
            return "event 'block-threshold' for domain '\(name)': dev: \(dev)(\(path ?? "<null>")) \(threshold) \(excess)\n"
        case .tunable(let params):
            var text = "event 'tunable' for domain '\(name)':\n"
            for p in params { text += "\t\(p.field): \(Self.paramValue(p.value))\n" }
            return text
        case .pmWakeup:
            return "event 'pm-wakeup' for domain '\(name)'\n"
        case .pmSuspend:
            return "event 'pm-suspend' for domain '\(name)'\n"
        case .pmSuspendDisk:
            return "event 'pm-suspend-disk' for domain '\(name)'\n"
        case .blockJob(let path, let type, let status), .blockJob2(let path, let type, let status):
            let which = if case .blockJob = record.kind { "block-job" } else { "block-job-2" }
            return "event '\(which)' for domain '\(name)': "
                + "\(label(["Unknown", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit", "Backup"], type)) "
                + "for \(path) \(label(["completed", "failed", "canceled", "ready"], status))\n"
        case .agentLifecycle(let state, let reason):
            return "event 'agent-lifecycle' for domain '\(name)': state: "
                + "'\(label(["unknown", "connected", "disconnected"], state))' reason: "
                + "'\(label(["unknown", "domain started", "channel event"], reason))'\n"
        }
    }

    /// A typed parameter's value as virsh prints it (virTypedParameterToString).
    static func paramValue(_ v: TypedParam.Value) -> String {
        switch v {
        case .int(let x): "\(x)"
        case .uint(let x): "\(x)"
        case .llong(let x): "\(x)"
        case .ullong(let x): "\(x)"
        case .double(let x): String(format: "%lf", x)
        case .boolean(let x): x ? "1" : "0"
        case .string(let x): x
        }
    }

    private static func label(_ table: [String], _ value: Int32) -> String {
        value >= 0 && Int(value) < table.count ? table[Int(value)] : "unknown"
    }

    /// libvirt's `virTimeStringNowRaw`: `YYYY-MM-DD HH:MM:SS.mmm+0000` in UTC.
    static func nowTimestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = Int(ts.tv_nsec / 1_000_000)
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(msText)+0000"
    }
}

/// Turns a signal into an async stream while it is watched; the default action is restored on `stop()`.
///
/// Unchecked: the dispatch source is only configured in `init` and cancelled in `stop()`; dispatch sources are
/// thread-safe for those calls.
final class SignalWatcher: @unchecked Sendable {
    let stream: AsyncStream<Void>
    private let source: DispatchSourceSignal
    private let signalNumber: Int32

    init(_ signalNumber: Int32) {
        self.signalNumber = signalNumber
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        self.stream = stream
        signal(signalNumber, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler { continuation.yield() }
        source.setCancelHandler { continuation.finish() }
        source.resume()
    }

    func stop() {
        source.cancel()
        signal(signalNumber, SIG_DFL)
    }
}
