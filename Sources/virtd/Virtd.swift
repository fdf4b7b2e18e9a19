import ArgumentParser
import Dispatch
import Logging
import NIOPosix
import Virt
import VirtQEMU
import VirtRPC

#if canImport(Glibc)
import Glibc
#endif

/// virtd: SwiftVirt's daemon, serving libvirt's remote protocol on unix sockets (and optionally TCP).
@main
struct Virtd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "virtd",
        abstract: "SwiftVirt daemon: serves libvirt's remote protocol for virsh, python3-libvirt and others.")

    @Option(name: .long, help: "Put config, state, run, log and sockets under this directory.")
    var root: String?

    @Option(name: [.customShort("f"), .long], help: "Configuration file (default: <config dir>/virtd.conf).")
    var config: String?

    @Flag(name: [.customShort("l"), .long], help: "Listen for TCP connections (as listen_tcp = 1).")
    var listen = false

    @Option(name: .long, help: "TCP port (overrides tcp_port; 0 picks a free port).")
    var tcpPort: Int?

    @Flag(name: [.customShort("v"), .long], help: "Debug logging.")
    var verbose = false

    func run() async throws {
        var cfg = DaemonConfig(root: root)
        if let config { cfg.configFile = config }
        if let text = readFile(cfg.configFile) {
            try cfg.apply(text: text)
        } else if config != nil {
            throw ValidationError("cannot read config file \(cfg.configFile)")
        }
        if listen { cfg.listenTCP = true }
        if let tcpPort { cfg.tcpPort = tcpPort }
        if verbose { cfg.logLevel = .debug }
        for dir in [cfg.configDir, cfg.stateDir, cfg.runDir, cfg.logDir] { makeDirs(dir) }

        let logFD = cfg.logToFile ? Glibc.open(cfg.logFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600) : -1
        let sink = FileLogHandler.Sink(fd: logFD, alsoStderr: true)
        let level = cfg.logLevel
        LoggingSystem.bootstrap { label in FileLogHandler(label: label, sink: sink, logLevel: level) }
        let logger = Logger(label: "virtd")

        if cfg.listenTCP && cfg.authTCP != "none" {
            logger.error("listen_tcp requires auth_tcp = \"none\" (no other TCP auth is implemented)")
            throw ExitCode(1)
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
        if cfg.listenTCP {
            server.tcpHost = cfg.listenAddr
            server.tcpPort = cfg.tcpPort
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
            throw ExitCode(1)
        }
        let provider = try await DaemonDriverProvider(defaultURI: cfg.defaultURI, qemuRoot: root ?? cfg.stateDir,
                                                      qemuSecurity: cfg.qemuSecurity)
        do {
            try await provider.startQEMUDriver()
        } catch {
            logger.error("cannot start the QEMU driver: \(error)")
        }
        let rpc = RemoteServer(config: server, provider: provider, logger: Logger(label: "virtd.rpc"))
        try await rpc.start()
        if let port = rpc.boundTCPPort { logger.info("tcp port \(port)") }
        writeFile(cfg.pidFile, "\(getpid())\n")
        logger.info("virtd ready")

        var it = stopStream.makeAsyncIterator()
        let sig = await it.next() ?? SIGTERM
        logger.info("signal \(sig): shutting down")
        await rpc.stop()
        unlink(cfg.pidFile)
        sources.forEach { $0.cancel() }
        logger.info("virtd stopped")
    }
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
