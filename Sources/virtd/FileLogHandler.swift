import Logging
import Synchronization
import VirtCore
import VirtRPC

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's log destinations, opened once: files (appended), standard error and syslog, each with
/// the least level it takes (libvirt's `log_outputs`).
final class LogSinks: Sendable {
    struct Sink: Sendable {
        var level: Logger.Level
        var fd: Int32  // -1 for syslog
    }

    private let sinks: Mutex<[Sink]>

    /// Opens every output; a file that cannot be opened is an error naming it.
    init(_ outputs: [LogSettings.Output]) throws(LogSettingsError) {
        sinks = Mutex(try Self.open(outputs))
    }

    /// Replaces the outputs (virt-admin's daemon-log-outputs); the old files are closed.
    func replace(_ outputs: [LogSettings.Output]) throws(LogSettingsError) {
        let new = try Self.open(outputs)
        let old = sinks.withLock { s -> [Sink] in
            let o = s
            s = new
            return o
        }
        for o in old where o.fd > 2 { close(o.fd) }
    }

    private static func open(_ outputs: [LogSettings.Output]) throws(LogSettingsError) -> [Sink] {
        var sinks: [Sink] = []
        var syslogIdent: String?
        for o in outputs {
            switch o.destination {
            case .stderr: sinks.append(Sink(level: o.level, fd: 2))
            case .file(let path):
                let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
                guard fd >= 0 else {
                    throw LogSettingsError("cannot open log output file \(path): \(String(cString: strerror(errno)))")
                }
                sinks.append(Sink(level: o.level, fd: fd))
            case .syslog(let ident):
                syslogIdent = syslogIdent ?? ident
                sinks.append(Sink(level: o.level, fd: -1))
            }
        }
        if let syslogIdent {
            // openlog keeps the pointer: the string must live as long as the process.
            let kept = strdup(syslogIdent)
            openlog(kept, LOG_PID, LOG_DAEMON)
        }
        return sinks
    }

    /// The least level any output takes.
    var floor: Logger.Level { sinks.withLock { $0.map(\.level).min() ?? .critical } }

    func write(_ level: Logger.Level, _ line: String, plain: String) {
        var line = line
        sinks.withLock { sinks in
            for s in sinks where level >= s.level {
                if s.fd >= 0 {
                    line.withUTF8 { b in _ = Glibc.write(s.fd, b.baseAddress, b.count) }
                } else {
                    withVaList([plain]) { vsyslog(Self.syslogPriority(level), "%s", $0) }
                }
            }
        }
    }

    static func syslogPriority(_ level: Logger.Level) -> Int32 {
        switch level {
        case .trace, .debug: LOG_DEBUG
        case .info: LOG_INFO
        case .notice: LOG_NOTICE
        case .warning: LOG_WARNING
        case .error: LOG_ERR
        case .critical: LOG_CRIT
        }
    }
}

/// The daemon's logging as it runs: the settings (`log_level`, `log_filters`, `log_outputs`) and the outputs,
/// changeable while the daemon runs (virt-admin's daemon-log-filters and daemon-log-outputs). Each category's
/// level is kept in an atomic that its handlers read, so a log call costs one load.
final class LogControl: Sendable {
    final class Level: Sendable {
        let raw: Atomic<UInt8>
        init(_ l: Logger.Level) { raw = Atomic(Self.code(l)) }
        var value: Logger.Level { Self.level(raw.load(ordering: .relaxed)) }
        func set(_ l: Logger.Level) { raw.store(Self.code(l), ordering: .relaxed) }

        // A switch, not `allCases` (which builds an array on every use): a log call costs a load and a jump.
        static func code(_ l: Logger.Level) -> UInt8 {
            switch l {
            case .trace: 0
            case .debug: 1
            case .info: 2
            case .notice: 3
            case .warning: 4
            case .error: 5
            case .critical: 6
            }
        }

        static func level(_ c: UInt8) -> Logger.Level {
            switch c {
            case 0: .trace
            case 1: .debug
            case 2: .info
            case 3: .notice
            case 4: .warning
            case 5: .error
            default: .critical
            }
        }
    }

    private struct State {
        var settings: LogSettings
        var outputs: [LogSettings.Output]
        var levels: [String: Level] = [:]
    }

    let sinks: LogSinks
    private let state: Mutex<State>

    init(settings: LogSettings, outputs: [LogSettings.Output]) throws(LogSettingsError) {
        sinks = try LogSinks(outputs)
        state = Mutex(State(settings: settings, outputs: outputs))
    }

    /// The shared level of a category (one per label).
    func level(for label: String) -> Level {
        let floor = sinks.floor
        return state.withLock { s in
            if let l = s.levels[label] { return l }
            let l = Level(max(s.settings.level(for: label), floor))
            s.levels[label] = l
            return l
        }
    }

    /// The filters as libvirt prints them (`1:*rpc* 3:*util* `, substrings as globs), and their count.
    var filters: (text: String, count: Int) {
        state.withLock { s in
            // libvirt ends each filter with a space (virLogGetFilters), the last one too.
            (s.settings.filters.map { "\(Self.priority($0.level)):\($0.globPattern) " }.joined(),
             s.settings.filters.count)
        }
    }

    /// The outputs as libvirt prints them (`3:file:/path`), and their count.
    var outputs: (text: String, count: Int) {
        state.withLock { s in (s.outputs.map(Self.describe).joined(separator: " "), s.outputs.count) }
    }

    /// New filters (nil or empty: none); libvirt's error for a malformed entry.
    func setFilters(_ text: String?) throws(LogSettingsError) {
        let filters = try LogSettings.parseFilters(text ?? "")
        state.withLock { $0.settings.filters = filters }
        recompute()
    }

    /// New outputs (nil or empty: the daemon's defaults, `defaults`).
    func setOutputs(_ text: String?, defaults: [LogSettings.Output]) throws(LogSettingsError) {
        let parsed = try LogSettings.parseOutputs(text ?? "")
        let outputs = parsed.isEmpty ? defaults : parsed
        try sinks.replace(outputs)
        state.withLock { $0.outputs = outputs }
        recompute()
    }

    private func recompute() {
        let floor = sinks.floor
        state.withLock { s in
            for (label, l) in s.levels { l.set(max(s.settings.level(for: label), floor)) }
        }
    }

    static func priority(_ l: Logger.Level) -> Int {
        switch l {
        case .trace, .debug: 1
        case .info, .notice: 2
        case .warning: 3
        case .error, .critical: 4
        }
    }

    static func describe(_ o: LogSettings.Output) -> String {
        switch o.destination {
        case .stderr: "\(priority(o.level)):stderr"
        case .file(let p): "\(priority(o.level)):file:\(p)"
        case .syslog(let ident): "\(priority(o.level)):syslog:\(ident)"
        }
    }
}

/// A swift-log handler writing one line per message to the daemon's outputs, at the level its category's
/// filter (or `log_level`) allows.
struct FileLogHandler: LogHandler {
    let label: String
    let sinks: LogSinks
    let level: LogControl.Level
    var metadata: Logger.Metadata = [:]

    var logLevel: Logger.Level {
        get { level.value }
        set { level.set(newValue) }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var tmv = tm()
        var secs = ts.tv_sec
        gmtime_r(&secs, &tmv)
        let stamp = "\(Int(tmv.tm_year) + 1900)-" + two(Int(tmv.tm_mon) + 1) + "-" + two(Int(tmv.tm_mday))
            + " " + two(Int(tmv.tm_hour)) + ":" + two(Int(tmv.tm_min)) + ":" + two(Int(tmv.tm_sec)) + "."
            + String(Int(ts.tv_nsec) / 1_000_000 + 1000).dropFirst()
        let plain = "\(level): \(label): \(message)"
        sinks.write(level, "\(stamp)+0000: \(getpid()): \(plain)\n", plain: plain)
    }

    private func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}

/// The daemon's answers to virt-admin's logging calls.
struct DaemonAdmin: AdminDelegate {
    let log: LogControl
    let defaultOutputs: [LogSettings.Output]

    func logFilters() -> (String, Int) { log.filters }
    func logOutputs() -> (String, Int) { log.outputs }

    func setLogFilters(_ filters: String?) throws(VirtError) {
        do {
            try log.setFilters(filters)
        } catch {
            let bad = (filters ?? "").split(separator: " ").first { (try? LogSettings.parseFilters(String($0))) == nil }
            throw VirtError.invalidArg("Malformed format for filter '\(bad.map(String.init) ?? filters ?? "")'")
        }
    }

    func setLogOutputs(_ outputs: String?) throws(VirtError) {
        let bad = (outputs ?? "").split(separator: " ").first { (try? LogSettings.parseOutputs(String($0))) == nil }
        if let bad { throw VirtError.invalidArg("Malformed format for output '\(bad)'") }
        do {
            try log.setOutputs(outputs, defaults: defaultOutputs)
        } catch {
            // Well formed, but an output could not be opened (a file in a missing directory): the old outputs stay.
            throw VirtError(.systemError, domain: .none, "\(error)")
        }
    }
}
