import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// libvirt's remote protocol server: unix sockets (read-write and read-only) and an optional TCP listener,
/// dispatching every client's calls into the driver its CONNECT_OPEN named.
public final class RemoteServer: Sendable {
    public let config: RemoteServerConfig
    private let dispatcher: RemoteDispatcher
    private let group: any EventLoopGroup
    private let logger: Logger
    private let channels = Mutex<[any Channel]>([])
    private let network = Mutex<(tcp: (any Channel)?, tls: (any Channel)?)>((nil, nil))
    private let clientCount = Atomic<Int>(0)
    /// Connected clients per server, and the admin API over them (virt-admin).
    let registry = ClientRegistry()
    let admin: AdminService

    /// A server for `config` serving drivers from `provider`.
    public init(config: RemoteServerConfig, provider: any DriverProvider,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "swiftvirt.rpc"),
                callLogger: Logger = Logger(label: "swiftvirt.remote.dispatch")) {
        self.config = config
        self.group = group
        self.logger = logger
        dispatcher = RemoteDispatcher(provider: provider, config: config, callLogger: callLogger)
        admin = AdminService(registry: registry, workers: dispatcher.workers, config: config)
    }

    /// Number of connected clients.
    public var connectedClients: Int { clientCount.load(ordering: .relaxed) }

    /// Binds every configured listener.
    public func start() async throws {
        if let path = config.unixSocketPath {
            try await bind(unix: path, readOnly: false, mode: config.unixSocketMode)
        }
        if let path = config.readOnlySocketPath {
            try await bind(unix: path, readOnly: true, mode: config.readOnlySocketMode)
        }
        if let path = config.adminSocketPath {
            let admin = self.admin
            let ch = try await ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: 16)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RPCFrameSplitter())
                        try channel.pipeline.syncOperations.addHandler(AdminConnectionHandler(service: admin))
                    }
                }
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            chmod(path, mode_t(config.adminSocketMode))
            channels.withLock { $0.append(ch) }
            logger.info("listening on \(path) (admin)")
        }
        if let tls = config.tls {
            let ch = try await bootstrap(readOnly: false, tls: tls).bind(host: tls.host ?? "0.0.0.0", port: tls.port).get()
            channels.withLock { $0.append(ch) }
            network.withLock { $0.tls = ch }
            logger.info("listening on tls \(ch.localAddress.map { "\($0)" } ?? "?")")
        }
        if let port = config.tcpPort {
            let ch = try await bootstrap(readOnly: false).bind(host: config.tcpHost ?? "127.0.0.1", port: port).get()
            channels.withLock { $0.append(ch) }
            network.withLock { $0.tcp = ch }
            logger.info("listening on tcp \(ch.localAddress.map { "\($0)" } ?? "?")")
        }
    }

    /// The port the TLS listener is bound to (useful with port 0).
    public var boundTLSPort: Int? { network.withLock { $0.tls?.localAddress?.port } }

    /// The port the TCP listener is bound to (useful with port 0).
    public var boundTCPPort: Int? { network.withLock { $0.tcp?.localAddress?.port } }

    /// Closes the listeners (connected clients stay until they leave or the event loops stop).
    public func stop() async {
        let chs = channels.withLock { c -> [any Channel] in
            let v = c
            c.removeAll()
            return v
        }
        for ch in chs { try? await ch.close() }
        for p in [config.unixSocketPath, config.readOnlySocketPath, config.adminSocketPath].compactMap({ $0 }) {
            unlink(p)
        }
    }

    private func bind(unix path: String, readOnly: Bool, mode: UInt32) async throws {
        let ch = try await bootstrap(readOnly: readOnly)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        chmod(path, mode_t(mode))
        if let gid = config.unixSocketGroup, gid != 0 { chown(path, uid_t.max, gid) }
        channels.withLock { $0.append(ch) }
        logger.info("listening on \(path)\(readOnly ? " (read-only)" : "")")
    }

    private func bootstrap(readOnly: Bool, tls: TLSServerSettings? = nil) -> ServerBootstrap {
        let dispatcher = self.dispatcher
        let logger = self.logger
        let count = self
        let admin = self.admin
        let registry = self.registry
        let transport: ClientRegistry.Transport = tls != nil ? .tls : .unix
        return ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                let n = count.clientCount.wrappingAdd(1, ordering: .relaxed).newValue
                if n > admin.maxClients {
                    count.clientCount.wrappingSubtract(1, ordering: .relaxed)
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLServerHandler(context: tls.context) { result, cert in
                                Self.verify(result, cert, tls, logger)
                            })
                        try channel.pipeline.syncOperations.addHandler(TLSGate(settings: tls, logger: logger))
                    }
                    try channel.pipeline.syncOperations.addHandler(RPCFrameSplitter())
                    try channel.pipeline.syncOperations.addHandler(ServerConnectionHandler(
                        dispatcher: dispatcher, readOnly: readOnly, logger: logger, registry: registry,
                        transport: channel.localAddress?.protocol == .unix ? .unix : transport,
                        onClose: { count.clientCount.wrappingSubtract(1, ordering: .relaxed) }))
                }
            }
    }

    /// One certificate of a TLS client's chain, after BoringSSL's own verdict (trust, validity dates): also
    /// refused when the CRL revokes it. With `tls_no_verify_certificate` a bad certificate is let through with a
    /// warning, as libvirtd does ("Ignoring bad certificate at user request").
    static func verify(_ result: NIOSSLVerificationResult, _ cert: NIOSSLCertificate, _ tls: TLSServerSettings,
                       _ logger: Logger) -> NIOSSLVerificationResult {
        var verdict = result
        var reason = "Certificate failed validation"
        if verdict == .certificateVerified && tls.isRevoked(cert) {
            verdict = .failed
            reason = "Certificate failed validation: The certificate has been revoked."
        }
        guard verdict == .failed else { return verdict }
        let who = GnuTLSName.subject(cert) ?? "unknown"
        if tls.noVerify {
            logger.warning("\(reason) (\(who)); Ignoring bad certificate at user request")
            return .certificateVerified
        }
        logger.warning("TLS client refused: \(reason) (\(who))")
        return .failed
    }
}
