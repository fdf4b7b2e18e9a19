import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The user a launched process runs as: its uid, gid and supplementary groups, set in the child between
/// clone and exec (as libvirt's `virExec` does), so the program never runs with the daemon's identity.
public struct ProcessCredentials: Sendable, Hashable {
    public var uid: uid_t
    public var gid: gid_t
    /// Supplementary groups, set with `setgroups` (empty: none).
    public var groups: [gid_t]

    public init(uid: uid_t, gid: gid_t, groups: [gid_t]) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    /// `uid:gid` with the groups libvirt gives such a process (`virGetGroupList`): those of the user's name
    /// in the group database (with its primary group), plus `gid`; only `gid` when the uid has no name.
    public static func forUser(uid: uid_t, gid: gid_t) -> ProcessCredentials {
        ProcessCredentials(uid: uid, gid: gid, groups: groupList(uid: uid, gid: gid))
    }

    static func groupList(uid: uid_t, gid: gid_t) -> [gid_t] {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 16384)
        var groups: [gid_t] = []
        if getpwuid_r(uid, &pwd, &buf, buf.count, &result) == 0, result != nil, let name = pwd.pw_name {
            var count: Int32 = 32
            while true {
                var list = [gid_t](repeating: 0, count: Int(count))
                var n = count
                if getgrouplist(name, pwd.pw_gid, &list, &n) >= 0 {
                    groups = Array(list.prefix(Int(n)))
                    break
                }
                // Too small: n holds the size needed.
                guard n > count else { break }
                count = n
            }
        }
        if !groups.contains(gid) { groups.append(gid) }
        return groups
    }
}
