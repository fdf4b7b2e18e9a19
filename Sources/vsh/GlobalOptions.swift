#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The options before the command, parsed as virsh parses them (getopt_long with "+:c:d:e:hk:K:l:qrtvV").
struct GlobalOptions {
    var connectURI: String?
    var quiet = false
    var readOnly = false
    var timing = false
    /// The words after the options: one command string, or a command and its arguments.
    var commandWords: [String] = []
    /// What to do instead of running commands (`-h`, `-v`, `-V`).
    var immediate: Immediate?
    /// Messages printed as `error: …` without stopping (e.g. an out-of-range debug level).
    var warnings: [String] = []

    enum Immediate {
        case help
        case version(long: Bool)
    }

    struct Failure: Error {
        var message: String
    }

    private static let longNames: [Character: String] = [
        "c": "connect", "d": "debug", "e": "escape", "h": "help", "k": "keepalive-interval",
        "K": "keepalive-count", "l": "log", "q": "quiet", "r": "readonly", "t": "timing",
    ]
    private static let withArgument: Set<Character> = ["c", "d", "e", "k", "K", "l"]

    static func parse(_ args: [String]) throws(Failure) -> GlobalOptions {
        var options = GlobalOptions()
        var i = 0
        while i < args.count {
            let arg = args[i]
            if arg == "--" {
                i += 1
                break
            }
            if arg.hasPrefix("--") {
                var name = String(arg.dropFirst(2))
                var value: String?
                if let eq = name.firstIndex(of: "=") {
                    value = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                if name == "version" {
                    switch value {
                    case nil, "short": options.immediate = .version(long: false)
                    case "long": options.immediate = .version(long: true)
                    default: throw Failure(message: "unknown version type '\(value ?? "")'")
                    }
                    i += 1
                    continue
                }
                // getopt_long accepts unambiguous prefixes of long option names.
                let matches = longNames.filter { $0.value == name }.isEmpty
                    ? longNames.filter { $0.value.hasPrefix(name) && !name.isEmpty }
                    : longNames.filter { $0.value == name }
                guard matches.count == 1, let (short, _) = matches.first else {
                    throw Failure(message: "unsupported option '\(arg)'. See --help.")
                }
                if withArgument.contains(short) {
                    if value == nil {
                        i += 1
                        guard i < args.count else {
                            throw Failure(message: "option '-\(short)'/'--\(longNames[short] ?? "")' requires an argument")
                        }
                        value = args[i]
                    }
                } else if value != nil {
                    throw Failure(message: "unsupported option '\(arg)'. See --help.")
                }
                try Self.apply(short, value, &options)
                i += 1
                continue
            }
            if arg.hasPrefix("-") && arg.count > 1 {
                var chars = Array(arg.dropFirst())[...]
                while let c = chars.popFirst() {
                    if c == "v" {
                        options.immediate = .version(long: false)
                        continue
                    }
                    if c == "V" {
                        options.immediate = .version(long: true)
                        continue
                    }
                    guard longNames[c] != nil else {
                        throw Failure(message: "unsupported option '-\(c)'. See --help.")
                    }
                    var value: String?
                    if withArgument.contains(c) {
                        if !chars.isEmpty {
                            value = String(chars)
                            chars = []
                        } else {
                            i += 1
                            guard i < args.count else {
                                throw Failure(message: "option '-\(c)'/'--\(longNames[c] ?? "")' requires an argument")
                            }
                            value = args[i]
                        }
                    }
                    try Self.apply(c, value, &options)
                }
                i += 1
                continue
            }
            break
        }
        options.commandWords = Array(args[i...])
        return options
    }

    private static func apply(_ option: Character, _ value: String?, _ options: inout GlobalOptions) throws(Failure) {
        switch option {
        case "c": options.connectURI = value
        case "q": options.quiet = true
        case "r": options.readOnly = true
        case "t": options.timing = true
        case "h": options.immediate = .help
        case "d":
            guard let v = value.flatMap(Format.parseInt32) else {
                throw Failure(message: "option -d takes a numeric argument")
            }
            if v < 0 || v > 4 { options.warnings.append("ignoring debug level \(v) out of range [0-4]") }
        case "k", "K":
            guard let v = value.flatMap(Format.parseInt32), v >= 0 else {
                throw Failure(message: "Invalid value for option -\(option)")
            }
        case "e":
            guard let v = value, Self.validEscape(v) else {
                throw Failure(message: "Invalid string '\(value ?? "")' for escape sequence")
            }
        case "l":
            break
        default:
            throw Failure(message: "unsupported option '-\(option)'. See --help.")
        }
    }

    /// virsh accepts a single character or `^X` as the console escape.
    private static func validEscape(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return u.count == 1 || (u.count == 2 && u[0] == UInt8(ascii: "^"))
    }
}
