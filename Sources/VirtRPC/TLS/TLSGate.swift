import Logging
import NIOCore
import NIOSSL
import NIOTLS

#if canImport(Glibc)
import Glibc
#endif

/// The TLS peer's identity, sent up the pipeline once the gate has let the client in.
struct TLSPeerIdentity: Sendable {
    var distinguishedName: String?
}

/// What libvirtd does between the TLS handshake and the first RPC packet: checks the client's DN against
/// `tls_allowed_dn_list`, then sends the one confirmation byte (`\1`) the client waits for. A client that fails
/// is logged and dropped. Removes itself once the client is in.
final class TLSGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let settings: TLSServerSettings
    private let logger: Logger
    private var open = false
    private var pending: [NIOAny] = []

    init(settings: TLSServerSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if open { context.fireChannelRead(data) } else { pending.append(data) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let e = event as? TLSUserEvent, case .handshakeCompleted = e else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        let dn = handler?.peerCertificate.flatMap(GnuTLSName.subject)
        if let allowed = settings.allowedDNs, !settings.noVerify {
            let ok = dn.map { d in allowed.contains { fnmatch($0, d, 0) == 0 } } ?? false
            if !ok {
                logger.warning("""
                    TLS client refused: Client's Distinguished Name is not on the list of allowed clients \
                    (tls_allowed_dn_list).  Use 'virt-pki-query-dn clientcert.pem' to view the Distinguished Name \
                    field in the client certificate, or run this daemon with --verbose option. (DN: \(dn ?? "none"))
                    """)
                context.close(promise: nil)
                return
            }
        }
        logger.debug("TLS client accepted: \(dn ?? "no certificate")")
        var one = context.channel.allocator.buffer(capacity: 1)
        one.writeInteger(UInt8(1))
        context.writeAndFlush(NIOAny(one), promise: nil)
        context.fireUserInboundEventTriggered(TLSPeerIdentity(distinguishedName: dn))
        open = true
        for d in pending { context.fireChannelRead(d) }
        pending = []
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.warning("TLS client refused: \(error)")
        context.close(promise: nil)
    }
}
