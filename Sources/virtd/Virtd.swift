import Dispatch
import Logging
import NIOPosix
import Virt
import VirtQEMU
import VirtRPC

#if canImport(Glibc)
import Glibc
#endif

/// A start-up failure: the daemon exits with `status` after logging or printing why.
struct DaemonExit: Error {
    var status: Int32
}

/// virtd: SwiftVirt's daemon, serving libvirt's remote protocol on unix sockets (and optionally TCP).
@main
enum Virtd {
    static func main() async {
        let options: VirtdOptions
        do {
            options = try VirtdOptions.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            switch error {
            case .help:
                print(VirtdOptions.usage, terminator: "")
                exit(0)
            case .invalid(let message):
                printError("Error: \(message)\n\(VirtdOptions.usage)")
                exit(64)
            }
        }
        do {
            try await run(options)
        } catch let e as DaemonExit {
            exit(e.status)
        } catch {
            printError("Error: \(error)\n")
            exit(1)
        }
    }

    static func run(_ options: VirtdOptions) async throws {
        let root = options.root, config = options.config, listen = options.listen
        let tcpPort = options.tcpPort, verbose = options.verbose
        var cfg = DaemonConfig(root: root)
        if let config { cfg.configFile = config }
        if let text = readFile(cfg.configFile) {
            try cfg.apply(text: text)
        } else if config != nil {
            printError("Error: cannot read config file \(cfg.configFile)\n")
            throw DaemonExit(status: 64)
        }
        // As libvirtd: listen_tls and listen_tcp take effect only with --listen.
        cfg.listen = listen
        if let tcpPort { cfg.tcpPort = tcpPort }
        if verbose { cfg.log.level = .debug }
        for dir in [cfg.configDir, cfg.stateDir, cfg.runDir, cfg.logDir] { makeDirs(dir) }
        // The socket directory (/run/libvirt for the system daemon: libvirtd creates it 0755 too).
        let socketDir = String(cfg.socketPath[..<(cfg.socketPath.lastIndex(of: "/") ?? cfg.socketPath.endIndex)])
        if !socketDir.isEmpty { makeDirs(socketDir) }

        let logControl: LogControl
        do {
            logControl = try LogControl(settings: cfg.log, outputs: cfg.logOutputs)
        } catch {
            printError("Error: \(error)\n")
            throw DaemonExit(status: 1)
        }
        LoggingSystem.bootstrap { label in
            FileLogHandler(label: label, sinks: logControl.sinks, level: logControl.level(for: label))
        }
        // Categories as libvirt names its sources, so that its filters ("1:remote 3:rpc") apply alike.
        let logger = Logger(label: "daemon")

        if cfg.listen && cfg.listenTCP {
            // Plain TCP carries everything in clear: only with auth_tcp = "none" said explicitly, on loopback.
            guard cfg.authTCP == "none" else {
                logger.error("\(cfg.configFile): auth_tcp: unsupported auth \(cfg.authTCP)")
                throw DaemonExit(status: 1)
            }
            guard cfg.listenAddrIsLoopback else {
                logger.error("listen_tcp without TLS is refused on \(cfg.listenAddr): use listen_tls, or listen_addr on loopback")
                throw DaemonExit(status: 1)
            }
            logger.warning("listening on TCP without TLS or authentication (auth_tcp = \"none\"): every local user can connect")
        }

        var server = RemoteServerConfig()
        server.unixSocketPath = cfg.socketPath
        server.readOnlySocketPath = cfg.readOnlySocketPath
        server.unixSocketMode = cfg.unixSockRWPerms
        server.readOnlySocketMode = cfg.unixSockROPerms
        server.keepaliveInterval = cfg.keepaliveInterval
        server.keepaliveCount = cfg.keepaliveCount
        server.maxClients = cfg.maxClients
        server.maxClientRequests = cfg.maxClientRequests
        server.maxWorkers = cfg.maxWorkers
        server.minWorkers = cfg.minWorkers
        server.prioWorkers = cfg.prioWorkers
        server.maxAnonymousClients = cfg.maxAnonymousClients
        server.adminSocketPath = cfg.adminSocketPath
        server.adminSocketMode = cfg.unixSockAdminPerms
        server.admin = DaemonAdmin(log: logControl, defaultOutputs: cfg.logOutputs)
        if let group = cfg.unixSockGroup {
            guard let gid = QEMUSecurityConfig.lookupGroup(group) else {
                logger.error("Failed to parse group '\(group)'")
                throw DaemonExit(status: 1)
            }
            server.unixSocketGroup = gid
        }
        do {
            server.access = try cfg.accessManager()
        } catch {
            logger.error("\(error)")
            throw DaemonExit(status: 1)
        }
        if cfg.listen && cfg.listenTCP {
            server.tcpHost = cfg.listenAddr
            server.tcpPort = cfg.tcpPort
        }
        if cfg.listen && cfg.listenTLS {
            do {
                server.tls = try cfg.tlsSettings()
            } catch {
                logger.error("\(error.message)")
                throw DaemonExit(status: 1)
            }
        }

        // A parent may have left signals blocked; SIGTERM/SIGINT must reach the handlers below.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGTERM)
        sigaddset(&unblock, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        signal(SIGPIPE, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let (stopStream, stopCont) = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler { stopCont.yield(sig) }
            src.resume()
            sources.append(src)
        }

        // Orphaned descendants of QEMU and its helpers are re-parented to the daemon, which reaps them
        // (QEMUs it launched are still waited for by their own waiters).
        do {
            try OrphanReaper.start()
        } catch {
            logger.warning("cannot become a child subreaper: \(error)")
        }
        // Checked now, so a bad user, group or driver stops the daemon at start rather than at first use.
        do {
            _ = try cfg.qemuSecurity.makeManager()
        } catch {
            logger.error("invalid QEMU security configuration: \(error)")
            throw DaemonExit(status: 1)
        }
        let provider = try await DaemonDriverProvider(defaultURI: cfg.defaultURI, qemuRoot: root ?? cfg.stateDir,
                                                      qemuSecurity: cfg.qemuSecurity, firmwareDirs: cfg.firmwareDirs,
                                                      migration: cfg.migration,
                                                      secretsDir: cfg.configDir + "/secrets",
                                                      storageDirs: (cfg.configDir + "/storage", cfg.runDir + "/storage"),
                                                      networkDirs: (cfg.configDir + "/networks", cfg.runDir + "/networks"))
        for problem in provider.secrets.skipped { logger.error("Error reading secret: \(problem)") }
        for problem in provider.storage?.loadProblems ?? [] { logger.error("storage: \(problem)") }
        for problem in provider.network?.loadProblems ?? [] { logger.error("network: \(problem)") }
        do {
            try await provider.startQEMUDriver()
        } catch {
            logger.error("cannot start the QEMU driver: \(error)")
        }
        let rpc = RemoteServer(config: server, provider: provider, logger: Logger(label: "rpc.server"),
                              callLogger: Logger(label: "remote.dispatch"))
        try await rpc.start()
        if let port = rpc.boundTCPPort { logger.info("tcp port \(port)") }
        if let port = rpc.boundTLSPort { logger.info("tls port \(port)") }
        writeFile(cfg.pidFile, "\(getpid())\n")
        logger.info("virtd ready")
        // Autostart domains boot while clients may already connect, as libvirtd's do.
        let autostarting = Task {
            for problem in await provider.autostartQEMUDomains() { logger.error("\(problem)") }
        }

        var it = stopStream.makeAsyncIterator()
        let sig = await it.next() ?? SIGTERM
        logger.info("signal \(sig): shutting down")
        autostarting.cancel()
        await rpc.stop()
        unlink(cfg.pidFile)
        sources.forEach { $0.cancel() }
        logger.info("virtd stopped")
    }
}

/// Writes `text` to standard error.
func printError(_ text: String) {
    var t = text
    t.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
}

func readFile(_ path: String) -> String? {
    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    return String(decoding: out, as: UTF8.self)
}

func writeFile(_ path: String, _ text: String) {
    let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return }
    var t = text
    t.withUTF8 { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

func makeDirs(_ path: String) {
    var cur = ""
    for comp in path.split(separator: "/") {
        cur += "/" + comp
        mkdir(cur, 0o755)
    }
}

extension DaemonConfig {
    /// The access drivers of `access_drivers` (nil when there are none or only "none": everything allowed).
    func accessManager() throws -> AccessManager? {
        var drivers: [any AccessDriver] = []
        for name in accessDrivers {
            switch name {
            case "none": continue
            case "rules":
                let path = accessRulesFile ?? configDir + "/access.rules"
                guard let text = readFile(path) else {
                    throw AccessSetupError(message: "cannot read access rules file \(path)")
                }
                drivers.append(try AccessRules(text: text))
            default:
                throw AccessSetupError(message: "Cannot find security driver '\(name)'")
            }
        }
        return drivers.isEmpty ? nil : AccessManager(drivers: drivers)
    }
}

struct AccessSetupError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
