import Logging

#if canImport(Glibc)
import Glibc
#endif

/// libvirt's logging settings: `log_level`, `log_filters` and `log_outputs` (libvirtd.conf syntax).
///
/// A message of a category (our logger labels, named like libvirt's source categories: `daemon`,
/// `rpc.server`, `remote.dispatch`) passes when its level is at least that of the first filter whose
/// pattern matches the category, or, with no matching filter, at least `log_level`. It then goes to every
/// output whose own level it reaches.
struct LogSettings: Sendable, Equatable {
    struct Filter: Sendable, Equatable {
        /// libvirt's match: a shell glob when it has `*`, `?` or `[`, otherwise any substring of the category.
        var match: String
        var level: Logger.Level

        /// The pattern as a glob (libvirt 9 turns a plain substring into `*MATCH*`).
        var globPattern: String { match.contains(where: { "*?[".contains($0) }) ? match : "*" + match + "*" }

        func matches(_ category: String) -> Bool {
            fnmatch(globPattern, category, 0) == 0
        }
    }

    enum Destination: Sendable, Equatable {
        case stderr
        case file(String)
        /// `syslog:IDENT`; libvirt's `journald` output is written to syslog too (the journal collects it).
        case syslog(String)
    }

    struct Output: Sendable, Equatable {
        var level: Logger.Level
        var destination: Destination
    }

    var level: Logger.Level = .info
    var filters: [Filter] = []
    /// nil: the daemon's default outputs (its log file unless `log_to_file = 0`, and standard error).
    var outputs: [Output]?

    /// The level below which a category's messages are dropped.
    func level(for category: String) -> Logger.Level {
        filters.first(where: { $0.matches(category) })?.level ?? level
    }

    /// libvirt's priorities 1 to 4, or the names.
    static func level(_ text: some StringProtocol) -> Logger.Level? {
        switch text {
        case "1", "debug": .debug
        case "2", "info": .info
        case "3", "warning": .warning
        case "4", "error": .error
        case "trace": .trace
        default: nil
        }
    }

    /// `log_filters`: space-separated `LEVEL:[+]MATCH` entries.
    static func parseFilters(_ text: String) throws(LogSettingsError) -> [Filter] {
        try text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { entry throws(LogSettingsError) in
            guard let colon = entry.firstIndex(of: ":"), let level = level(entry[..<colon]) else {
                throw LogSettingsError("log_filters: '\(entry)' is not LEVEL:MATCH with LEVEL 1 to 4")
            }
            var match = entry[entry.index(after: colon)...]
            if match.hasPrefix("+") { match = match.dropFirst() }  // stack traces: nothing to add here
            guard !match.isEmpty else { throw LogSettingsError("log_filters: '\(entry)' has an empty match") }
            return Filter(match: String(match), level: level)
        }
    }

    /// `log_outputs`: space-separated `LEVEL:stderr`, `LEVEL:file:PATH`, `LEVEL:syslog:IDENT`, `LEVEL:journald`.
    static func parseOutputs(_ text: String) throws(LogSettingsError) -> [Output] {
        try text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { entry throws(LogSettingsError) in
            let parts = entry.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, let level = level(parts[0]) else {
                throw LogSettingsError("log_outputs: '\(entry)' is not LEVEL:DESTINATION with LEVEL 1 to 4")
            }
            let arg = parts.count == 3 ? String(parts[2]) : nil
            switch (parts[1], arg) {
            case ("stderr", nil): return Output(level: level, destination: .stderr)
            case ("journald", nil): return Output(level: level, destination: .syslog("virtd"))
            case ("file", let path?) where path.hasPrefix("/"): return Output(level: level, destination: .file(path))
            case ("syslog", let ident?) where !ident.isEmpty: return Output(level: level, destination: .syslog(ident))
            case ("file", _):
                throw LogSettingsError("log_outputs: '\(entry)' needs an absolute file path")
            case ("syslog", _):
                throw LogSettingsError("log_outputs: '\(entry)' needs a syslog name")
            default:
                throw LogSettingsError("log_outputs: '\(entry)': unknown destination (stderr, file:PATH, syslog:NAME, journald)")
            }
        }
    }
}

struct LogSettingsError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
