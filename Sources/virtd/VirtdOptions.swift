#if canImport(Glibc)
import Glibc
#endif

/// virtd's command line. Parsed by hand: the daemon has five options, and a parser library's start-up
/// work (reflection over the command type) cost the daemon's idle RSS more than the rest of argument
/// handling together.
struct VirtdOptions: Equatable {
    /// `--root DIR`: config, state, run, log and sockets under DIR.
    var root: String?
    /// `-f`/`--config FILE`.
    var config: String?
    /// `-l`/`--listen`: open the network listeners the config asks for (`listen_tls`, `listen_tcp`).
    var listen = false
    /// `--tcp-port N`.
    var tcpPort: Int?
    /// `-v`/`--verbose`: debug logging.
    var verbose = false

    /// Why the command line cannot be used; `help` asks for the usage text.
    enum ParseError: Error, Equatable {
        case help
        case invalid(String)
    }

    static let usage = """
        OVERVIEW: SwiftVirt daemon: serves libvirt's remote protocol for virsh, python3-libvirt and others.

        USAGE: virtd [--root <root>] [--config <config>] [--listen] [--tcp-port <tcp-port>] [--verbose]

        OPTIONS:
          --root <root>           Put config, state, run, log and sockets under this directory.
          -f, --config <config>   Configuration file (default: <config dir>/virtd.conf).
          -l, --listen            Open the network listeners the config asks for (listen_tls, on by default;
                                  listen_tcp), as libvirtd's --listen.
          --tcp-port <tcp-port>   TCP port (overrides tcp_port; 0 picks a free port).
          -v, --verbose           Debug logging.
          -h, --help              Show help information.

        """

    /// Parses the arguments after the program name. Values follow their option as the next argument or
    /// after `=` (`--root=DIR`).
    static func parse(_ args: [String]) throws(ParseError) -> VirtdOptions {
        var o = VirtdOptions()
        var i = 0
        func value(_ name: String, _ inline: String?) throws(ParseError) -> String {
            if let inline { return inline }
            i += 1
            guard i < args.count else { throw .invalid("Missing value for '\(name)'") }
            return args[i]
        }
        while i < args.count {
            let arg = args[i]
            var name = arg
            var inline: String?
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                inline = String(arg[arg.index(after: eq)...])
            }
            switch name {
            case "--root": o.root = try value(name, inline)
            case "-f", "--config": o.config = try value(name, inline)
            case "--tcp-port":
                let v = try value(name, inline)
                guard let n = Int(v) else { throw .invalid("The value '\(v)' is invalid for '--tcp-port <tcp-port>'") }
                o.tcpPort = n
            case "-l", "--listen", "-v", "--verbose", "-h", "--help":
                if inline != nil { throw .invalid("Unknown option '\(arg)'") }
                switch name {
                case "-l", "--listen": o.listen = true
                case "-v", "--verbose": o.verbose = true
                default: throw .help
                }
            default: throw .invalid("Unknown option '\(arg)'")
            }
            i += 1
        }
        return o
    }
}
