import NIOCore
import NIOSSL
import SwiftASN1
import VirtCore
import X509

#if canImport(Glibc)
import Glibc
#endif

/// The TLS listener's set-up (libvirtd.conf's `listen_tls`, `tls_port`, `ca_file`, `cert_file`, `key_file`,
/// `crl_file`, `tls_no_verify_certificate`, `tls_allowed_dn_list`): the server certificate, the CA that client
/// certificates must chain to, the revoked serial numbers, and the DN patterns allowed in.
public struct TLSServerSettings: Sendable {
    public var host: String?
    public var port: Int
    let context: NIOSSLContext
    /// Serial numbers revoked by the CRL (of certificates issued by the CRL's issuer, the CA).
    let revoked: Set<[UInt8]>
    let crlIssuer: String?
    /// `tls_allowed_dn_list`: nil, no check; empty, nobody.
    public var allowedDNs: [String]?
    /// `tls_no_verify_certificate`: a bad client certificate is logged and let through.
    public var noVerify: Bool

    /// Loads the files; errors in libvirt's words ("Cannot read CA certificate '…'").
    public init(host: String?, port: Int, caFile: String, certFile: String, keyFile: String, crlFile: String?,
                allowedDNs: [String]?, noVerify: Bool) throws(VirtError) {
        self.host = host
        self.port = port
        self.allowedDNs = allowedDNs
        self.noVerify = noVerify
        func readable(_ path: String, _ what: String) throws(VirtError) {
            if access(path, R_OK) != 0 {
                throw VirtError.systemError("Cannot read \(what) '\(path)'", errno: errno, domain: .rpc)
            }
        }
        try readable(caFile, "CA certificate")
        try readable(certFile, "certificate")
        try readable(keyFile, "private key")
        do {
            var config = TLSConfiguration.makeServerConfigurationWithMTLS(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)),
                trustRoots: .file(caFile))
            config.minimumTLSVersion = .tlsv12
            // TLS 1.3 servers send session tickets after the handshake; libvirt's client reads the confirmation
            // byte right after its handshake and fails on a record that carries no data ("Unable to read TLS
            // confirmation: Resource temporarily unavailable"). TLS 1.2 sends nothing after the handshake.
            config.maximumTLSVersion = .tlsv12
            context = try NIOSSLContext(configuration: config)
        } catch {
            throw VirtError(.systemError, domain: .rpc, "Unable to set up TLS with '\(certFile)', '\(keyFile)', '\(caFile)': \(error)")
        }
        if let crlFile, access(crlFile, F_OK) == 0 {
            let crl = try CertificateRevocationList.load(crlFile)
            revoked = crl.serials
            crlIssuer = crl.issuer
        } else {
            revoked = []
            crlIssuer = nil
        }
    }

    /// Whether a certificate of the peer's chain is revoked by the CRL.
    func isRevoked(_ cert: NIOSSLCertificate) -> Bool {
        guard !revoked.isEmpty, let der = try? cert.toDERBytes(), let c = try? Certificate(derEncoded: der) else {
            return false
        }
        if let crlIssuer, GnuTLSName.format(c.issuer) != crlIssuer { return false }
        return revoked.contains(Array(c.serialNumber.bytes))
    }
}

/// A distinguished name as GnuTLS's `gnutls_x509_crt_get_dn` prints it (what libvirt matches
/// `tls_allowed_dn_list` against and `virt-pki-query-dn` shows): RDNs in encoding order, joined by `,`.
enum GnuTLSName {
    static func format(_ dn: DistinguishedName) -> String {
        dn.map { rdn in
            rdn.map { attr in
                let key: String
                switch attr.type {
                case .RDNAttributeType.commonName: key = "CN"
                case .RDNAttributeType.countryName: key = "C"
                case .RDNAttributeType.localityName: key = "L"
                case .RDNAttributeType.stateOrProvinceName: key = "ST"
                case .RDNAttributeType.organizationName: key = "O"
                case .RDNAttributeType.organizationalUnitName: key = "OU"
                case .RDNAttributeType.streetAddress: key = "STREET"
                case .RDNAttributeType.domainComponent: key = "DC"
                case .RDNAttributeType.emailAddress: key = "EMAIL"
                case let other: key = other.description
                }
                return key + "=" + attr.value.description
            }.joined(separator: "+")
        }.joined(separator: ",")
    }

    /// The subject of a peer certificate.
    static func subject(_ cert: NIOSSLCertificate) -> String? {
        guard let der = try? cert.toDERBytes(), let c = try? Certificate(derEncoded: der) else { return nil }
        return format(c.subject)
    }
}

/// The parts of an X.509 CRL (RFC 5280 `CertificateList`) the server uses: its issuer and the revoked serial
/// numbers. (The CRL file is the administrator's, as the CA file is; its signature is not checked.)
struct CertificateRevocationList {
    var issuer: String
    var serials: Set<[UInt8]>

    static func load(_ path: String) throws(VirtError) -> CertificateRevocationList {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VirtError.systemError("Cannot read CRL '\(path)'", errno: errno, domain: .rpc) }
        var bytes = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        close(fd)
        do {
            var der = bytes
            let text = String(decoding: bytes, as: UTF8.self)
            if text.contains("-----BEGIN X509 CRL-----") {
                der = try PEMDocument(pemString: text).derBytes
            }
            return try parse(der)
        } catch {
            throw VirtError(.systemError, domain: .rpc, "Unable to import CRL '\(path)': \(error)")
        }
    }

    static func parse(_ der: [UInt8]) throws -> CertificateRevocationList {
        let root = try DER.parse(der)
        return try DER.sequence(root, identifier: .sequence) { nodes in
            guard let tbs = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "no tbsCertList") }
            while nodes.next() != nil {}
            return try DER.sequence(tbs, identifier: .sequence) { t in
                var node = t.next()
                if let n = node, n.identifier == .integer { node = t.next() }  // version
                node = t.next()  // signature algorithm done: node is the issuer
                guard let issuerNode = node else { throw ASN1Error.invalidASN1Object(reason: "no issuer") }
                let issuer = try DistinguishedName(derEncoded: issuerNode)
                _ = t.next()  // thisUpdate
                var serials = Set<[UInt8]>()
                while let n = t.next() {
                    // nextUpdate (a time), then revokedCertificates (a SEQUENCE OF SEQUENCE), then [0] extensions.
                    guard n.identifier == .sequence else { continue }
                    guard case .constructed(let entries) = n.content else { continue }
                    for entry in entries {
                        guard case .constructed(let fields) = entry.content else { continue }
                        var it = fields.makeIterator()
                        if let serial = it.next() {
                            let value = try ArraySlice<UInt8>(derEncoded: serial)
                            serials.insert(Array(value))
                        }
                    }
                }
                return CertificateRevocationList(issuer: GnuTLSName.format(issuer), serials: serials)
            }
        }
    }
}
