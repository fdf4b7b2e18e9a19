#if canImport(Glibc)
import Glibc
#endif

/// Who a client is, as libvirt's identity attributes (viridentity.c): for unix sockets the peer's uid, gid and
/// pid from SO_PEERCRED, with the user and group names; for TLS the certificate's distinguished name. A TCP
/// client without TLS has none of these.
public struct ClientIdentity: Sendable, Hashable, CustomStringConvertible {
    public var uid: uid_t?
    public var gid: gid_t?
    public var pid: pid_t?
    public var userName: String?
    public var groupName: String?
    /// `x509-distinguished-name`, GnuTLS's form (`C=GB,O=Example,CN=client1`).
    public var x509DN: String?

    public init(uid: uid_t? = nil, gid: gid_t? = nil, pid: pid_t? = nil, userName: String? = nil,
                groupName: String? = nil, x509DN: String? = nil) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.userName = userName
        self.groupName = groupName
        self.x509DN = x509DN
    }

    /// The identity of a unix-socket peer: its credentials and the names they map to.
    public static func unixPeer(uid: uid_t, gid: gid_t, pid: pid_t) -> ClientIdentity {
        var user: String?
        if let pw = getpwuid(uid) { user = String(cString: pw.pointee.pw_name) }
        var group: String?
        if let gr = getgrgid(gid) { group = String(cString: gr.pointee.gr_name) }
        return ClientIdentity(uid: uid, gid: gid, pid: pid, userName: user, groupName: group)
    }

    public var description: String {
        var parts: [String] = []
        if let uid { parts.append("uid \(uid)") }
        if let pid { parts.append("pid \(pid)") }
        if let x509DN { parts.append("dn '\(x509DN)'") }
        return parts.isEmpty ? "anonymous" : parts.joined(separator: " ")
    }
}
