import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The security settings of the QEMU driver, as qemu.conf names them (`user`, `group`, `dynamic_ownership`,
/// `remember_owner`, `security_driver`). A daemon fills this from its configuration file.
///
/// The embedded driver's default (`user` and `group` unset) runs QEMU as the calling process and changes no
/// owner. A system daemon sets a dedicated user (e.g. `libvirt-qemu` / `kvm`).
public struct QEMUSecurityConfig: Sendable, Hashable {
    /// User QEMU runs as: a name, or `+N` for a numeric uid (libvirt's syntax); nil: the daemon's.
    public var user: String?
    /// Group QEMU runs as: a name or `+N`; nil: the user's primary group.
    public var group: String?
    /// Whether disk images, kernels, chardev paths and logs are chowned to QEMU's user at start.
    public var dynamicOwnership: Bool
    /// Whether the original owner is remembered (in extended attributes) and restored at stop.
    public var rememberOwner: Bool
    /// `"dac"` (the default when a user or group is set) or `"none"`.
    public var securityDriver: String?
    /// qemu.conf's `swtpm_user` and `swtpm_group` (nil: `tss` where it exists, else root).
    public var swtpmUser: String?
    public var swtpmGroup: String?
    /// qemu.conf's `shared_filesystems` (libvirt 10.3): paths treated as shared storage, e.g. for TPM state.
    public var sharedFilesystems: [String] = []
    /// qemu.conf's `cgroup_controllers`: the controllers each QEMU gets a cgroup in (nil or empty: no
    /// cgroups; the embedded driver's default).
    public var cgroupControllers: [String]?
    /// qemu.conf's `auto_dump_path`: where watchdog and crash dumps go (nil: the driver's `lib/qemu/dump`).
    public var autoDumpPath: String?

    public init(user: String? = nil, group: String? = nil, dynamicOwnership: Bool = true,
                rememberOwner: Bool = true, securityDriver: String? = nil) {
        self.user = user
        self.group = group
        self.dynamicOwnership = dynamicOwnership
        self.rememberOwner = rememberOwner
        self.securityDriver = securityDriver
    }

    /// The embedded driver's default: QEMU runs as the caller, no owner changes.
    public static let embedDefault = QEMUSecurityConfig()

    /// Resolves the user and group to ids: names through the user database, `+N` (or plain digits) as numbers.
    public func resolveIDs() throws(VirtError) -> (uid: uid_t, gid: gid_t) {
        var uid = getuid()
        var gid = getgid()
        if let user {
            guard let (u, g) = Self.lookupUser(user) else {
                throw VirtError(.internalError, domain: .conf, "internal error: Failed to parse user '\(user)'")
            }
            uid = u
            gid = g
        }
        if let group {
            guard let g = Self.lookupGroup(group) else {
                throw VirtError(.internalError, domain: .conf, "internal error: Failed to parse group '\(group)'")
            }
            gid = g
        }
        return (uid, gid)
    }

    /// Builds the security driver this configuration asks for.
    public func makeManager() throws(VirtError) -> any SecurityManager {
        let driver = securityDriver ?? ((user == nil && group == nil) ? "none" : "dac")
        switch driver {
        case "none":
            return NoOpSecurityManager()
        case "dac":
            let (uid, gid) = try resolveIDs()
            return DACSecurityManager(uid: uid, gid: gid, dynamicOwnership: dynamicOwnership,
                                      rememberOwner: rememberOwner, sharedFilesystems: sharedFilesystems)
        default:
            throw VirtError(.configUnsupported, domain: .security,
                            "unsupported configuration: Security driver \(driver) not enabled")
        }
    }

    static func numeric(_ s: String) -> UInt32? {
        UInt32(s.hasPrefix("+") ? String(s.dropFirst()) : s)
    }

    static func lookupUser(_ name: String) -> (uid_t, gid_t)? {
        if name.hasPrefix("+"), let n = numeric(name) {
            return (n, UserDatabase.user(uid: n)?.gid ?? n)
        }
        if let u = UserDatabase.user(named: name) { return (u.uid, u.gid) }
        if let n = numeric(name) { return (n, UserDatabase.user(uid: n)?.gid ?? n) }
        return nil
    }

    public static func lookupGroup(_ name: String) -> gid_t? {
        if name.hasPrefix("+") { return numeric(name) }
        if let g = UserDatabase.group(named: name) { return g.gid }
        return numeric(name)
    }
}
