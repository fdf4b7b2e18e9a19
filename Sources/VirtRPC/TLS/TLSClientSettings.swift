import Foundation
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization
import VirtCore
import X509

#if canImport(Glibc)
import Glibc
#endif

/// The client side of libvirt's TLS transport (`driver+tls://host[:port]/path`): libvirt's PKI files, the
/// server's certificate checked against the CA and the host name as libvirt's client checks them (unless
/// `no_verify=1`), and the one confirmation byte libvirtd sends after the handshake.
///
/// Files, as libvirt's client locates them: `pkipath=DIR` gives `DIR/cacert.pem`, `DIR/clientcert.pem`,
/// `DIR/clientkey.pem`; otherwise root uses `/etc/pki/CA/cacert.pem`, `/etc/pki/libvirt/clientcert.pem` and
/// `/etc/pki/libvirt/private/clientkey.pem`, and other users the same names under `~/.pki/libvirt` where they
/// exist. The CA is required; the client certificate and key are optional (a server that requires one refuses).
public struct TLSClientSettings: Sendable {
    public var host: String
    public var port: Int
    let context: NIOSSLContext
    let caCertificates: [Certificate]
    /// `no_verify=1`: the server's certificate is not checked.
    let verify: Bool

    public static let defaultPort = 16514

    public init(uri: ConnectionURI) throws(VirtError) {
        host = uri.host ?? "localhost"
        port = uri.port ?? Self.defaultPort
        verify = uri.queryValue("no_verify").map { $0 == "0" } ?? true
        let (ca, cert, key) = Self.locate(pkipath: uri.queryValue("pkipath"))
        if access(ca, R_OK) != 0 {
            throw VirtError.systemError("Cannot read CA certificate '\(ca)'", errno: errno, domain: .rpc)
        }
        let haveCert = access(cert, R_OK) == 0 && access(key, R_OK) == 0
        if haveCert && uri.queryValue("no_sanity").map({ $0 == "0" }) ?? true {
            try Self.sanityCheck(cert: cert, ca: ca)
        }
        do {
            caCertificates = try Self.readPEMCertificates(ca)
            var config = TLSConfiguration.makeClientConfiguration()
            config.trustRoots = .file(ca)
            if haveCert {
                config.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                config.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
            // As the server: TLS 1.2 (libvirt 9.0's peers read their confirmation byte right after the handshake).
            config.minimumTLSVersion = .tlsv12
            config.maximumTLSVersion = .tlsv12
            // The server's certificate is checked in `verifyServer` with libvirt's rules and words.
            config.certificateVerification = .none
            context = try NIOSSLContext(configuration: config)
        } catch let e as VirtError {
            throw e
        } catch {
            throw VirtError(.systemError, domain: .rpc, "Unable to set up TLS with '\(cert)', '\(key)', '\(ca)': \(error)")
        }
    }

    /// libvirt's check of the client's own certificate before it connects (virNetTLSContextSanityCheckCredentials;
    /// `no_sanity=1` skips it): within its validity, not a CA, issued by the client's CA.
    static func sanityCheck(cert certPath: String, ca caPath: String) throws(VirtError) {
        let own: Certificate
        let roots: [Certificate]
        do {
            guard let c = try readPEMCertificates(certPath).first else {
                throw VirtError(.systemError, domain: .rpc, "No certificate in '\(certPath)'")
            }
            own = c
            roots = try readPEMCertificates(caPath)
        } catch let e as VirtError {
            throw e
        } catch {
            throw VirtError(.systemError, domain: .rpc, "Unable to import client certificate \(certPath): \(error)")
        }
        let now = Date()
        if own.notValidAfter < now {
            throw VirtError(.systemError, domain: .rpc, "The client certificate \(certPath) has expired")
        }
        if own.notValidBefore > now {
            throw VirtError(.systemError, domain: .rpc, "The client certificate \(certPath) is not yet active")
        }
        if let bc = try? own.extensions.basicConstraints, case .isCertificateAuthority = bc {
            throw VirtError(.systemError, domain: .rpc,
                            "The certificate \(certPath) basic constraints show a CA, but we need one for a client")
        }
        let issued = roots.contains { $0.subject == own.issuer && (try? $0.publicKey.isValidSignature(own.signature, for: own)) == true }
        if !issued {
            throw VirtError(.systemError, domain: .rpc,
                            "Our own certificate \(certPath) failed validation against \(caPath): The certificate hasn't got a known issuer.")
        }
    }

    /// libvirt's client file locations (virNetTLSContextLocateCredentials).
    static func locate(pkipath: String?) -> (ca: String, cert: String, key: String) {
        if let dir = pkipath {
            return (dir + "/cacert.pem", dir + "/clientcert.pem", dir + "/clientkey.pem")
        }
        var files = ("/etc/pki/CA/cacert.pem", "/etc/pki/libvirt/clientcert.pem", "/etc/pki/libvirt/private/clientkey.pem")
        if geteuid() != 0, let home = ProcessInfo.processInfo.environment["HOME"] {
            let user = home + "/.pki/libvirt"
            if access(user + "/cacert.pem", F_OK) == 0 { files.0 = user + "/cacert.pem" }
            if access(user + "/clientcert.pem", F_OK) == 0 { files.1 = user + "/clientcert.pem" }
            if access(user + "/clientkey.pem", F_OK) == 0 { files.2 = user + "/clientkey.pem" }
        }
        return files
    }

    static func readPEMCertificates(_ path: String) throws -> [Certificate] {
        try NIOSSLCertificate.fromPEMFile(path).map { try Certificate(derEncoded: try $0.toDERBytes()) }
    }

    /// The server's certificate chain checked as libvirt's client does: it chains to the CA and is within its
    /// validity, and the leaf names the host the client connected to. Nil when it passes, else libvirt's reason
    /// (which libvirt logs as a warning, with `no_verify=1` too).
    func checkServer(_ chain: [NIOSSLCertificate]) async -> String? {
        let certs = chain.compactMap { c in (try? c.toDERBytes()).flatMap { try? Certificate(derEncoded: $0) } }
        guard let leaf = certs.first else { return "No certificate was found." }
        let now = Date()
        var verifier = Verifier(rootCertificates: CertificateStore(caCertificates)) {
            RFC5280Policy(validationTime: now)
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(certs.dropFirst()))
        if case .couldNotValidate = result {
            let reason: String
            if certs.contains(where: { $0.notValidAfter < now }) {
                reason = "The certificate has expired"
            } else if certs.contains(where: { $0.notValidBefore > now }) {
                reason = "The certificate is not yet activated"
            } else {
                reason = "The certificate hasn't got a known issuer."
            }
            return "Certificate failed validation: \(reason)"
        }
        if !Self.matches(leaf, host: host) {
            return "Certificate [session] owner does not match the hostname \(host)"
        }
        return nil
    }

    /// Whether the certificate names `host` (GnuTLS's check: subject alternative names, DNS with a leading
    /// wildcard label or IP address; the common name only when there are none).
    static func matches(_ cert: Certificate, host: String) -> Bool {
        let wanted = host.lowercased()
        let ip = Self.ipBytes(host)
        if let sans = try? cert.extensions.subjectAlternativeNames {
            var sawName = false
            for name in sans {
                switch name {
                case .dnsName(let d):
                    sawName = true
                    if Self.dnsMatch(d.lowercased(), wanted) { return true }
                case .ipAddress(let octets):
                    sawName = true
                    if let ip, Array(octets.bytes) == ip { return true }
                default:
                    continue
                }
            }
            if sawName { return false }
        }
        for rdn in cert.subject {
            for attr in rdn where attr.type == .RDNAttributeType.commonName {
                if Self.dnsMatch(String(describing: attr.value).lowercased(), wanted) { return true }
            }
        }
        return false
    }

    static func dnsMatch(_ pattern: String, _ host: String) -> Bool {
        if pattern == host { return true }
        guard pattern.hasPrefix("*."), let dot = host.firstIndex(of: ".") else { return false }
        return String(host[dot...]) == String(pattern.dropFirst())
    }

    static func ipBytes(_ s: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, s, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, s, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}

/// The client's half of libvirt's TLS start: after the handshake the server's certificate is checked, then
/// the one confirmation byte the server sends is read (1: in; anything else, or the connection closing: refused).
/// Only then do RPC packets flow; `ready` completes with nil, or with the reason the connection failed.
final class TLSClientGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let settings: TLSClientSettings
    private let ready: EventLoopPromise<Void>
    private var verified = false
    private var done = false
    private var pending: [ByteBuffer] = []

    init(settings: TLSClientSettings, ready: EventLoopPromise<Void>) {
        self.settings = settings
        self.ready = ready
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let e = event as? TLSUserEvent, case .handshakeCompleted = e else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
        let leaf = handler?.peerCertificate
        let settings = settings
        let loop = context.eventLoop
        let box = NIOLoopBound(context, eventLoop: loop)
        let me = NIOLoopBound(self, eventLoop: loop)
        Task {
            let problem = await settings.checkServer(leaf.map { [$0] } ?? [])
            loop.execute {
                me.value.checkedServer(context: box.value, problem: problem)
            }
        }
    }

    private func checkedServer(context: ChannelHandlerContext, problem: String?) {
        if let problem {
            // libvirt's client logs the reason as a warning on stderr, also when told not to verify.
            FileHandle.standardError.write(Data("warning : Certificate check failed \(problem)\n".utf8))
            if settings.verify {
                fail(context: context, VirtError(.authFailed, domain: .rpc,
                                                 "authentication failed: Failed to verify peer's certificate"))
                return
            }
        }
        verified = true
        drain(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.append(unwrapInboundIn(data))
        if verified { drain(context: context) }
    }

    private func drain(context: ChannelHandlerContext) {
        guard !done else { return }
        guard var first = pending.first, let byte = first.readInteger(as: UInt8.self) else { return }
        guard byte == 1 else {
            fail(context: context, VirtError(.rpc, domain: .rpc, "server verification (of our certificate or IP address) failed"))
            return
        }
        done = true
        pending[0] = first
        let rest = pending
        pending = []
        ready.succeed(())
        for b in rest where b.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(b)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            ready.fail(VirtError(.rpc, domain: .rpc,
                                 "server verification (of our certificate or IP address) failed"))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            // libvirt quotes GnuTLS's words for the handshake's failure; a refusal by the server is an alert.
            let text = "\(error)"
            let why = text.contains("_ALERT_") ? "A TLS fatal alert has been received." : text
            fail(context: context, VirtError(.authFailed, domain: .rpc, "authentication failed: TLS handshake failed \(why)"))
            return
        }
        context.fireErrorCaught(error)
    }

    private func fail(context: ChannelHandlerContext, _ error: VirtError) {
        guard !done else { return }
        done = true
        ready.fail(error)
        context.close(promise: nil)
    }
}
