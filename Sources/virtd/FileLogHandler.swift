import Logging
import Synchronization

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

    private let sinks: [Sink]
    private let lock = Mutex(())

    /// Opens every output; a file that cannot be opened is an error naming it.
    init(_ outputs: [LogSettings.Output]) throws(LogSettingsError) {
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
        self.sinks = sinks
    }

    /// The least level any output takes.
    var floor: Logger.Level { sinks.map(\.level).min() ?? .critical }

    func write(_ level: Logger.Level, _ line: String, plain: String) {
        var line = line
        lock.withLock { _ in
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

/// A swift-log handler writing one line per message to the daemon's outputs, at the level its category's
/// filter (or `log_level`) allows.
struct FileLogHandler: LogHandler {
    let label: String
    let sinks: LogSinks
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

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
