#if canImport(Glibc)
import Glibc
#endif

/// Reentrant look-ups in the user and group databases (`getpwnam_r` and friends): the plain `getpwnam`
/// returns a static buffer that another thread's look-up overwrites (the daemon resolves QEMU's and swtpm's
/// users from concurrent tasks).
enum UserDatabase {
    struct User: Sendable, Hashable {
        var name: String
        var uid: uid_t
        var gid: gid_t
    }

    static func user(named name: String) -> User? {
        withBuffer { buf -> User? in
            var pwd = passwd()
            var result: UnsafeMutablePointer<passwd>?
            guard getpwnam_r(name, &pwd, buf.base, buf.count, &result) == 0, result != nil else { return nil }
            return User(name: String(cString: pwd.pw_name), uid: pwd.pw_uid, gid: pwd.pw_gid)
        }
    }

    static func user(uid: uid_t) -> User? {
        withBuffer { buf -> User? in
            var pwd = passwd()
            var result: UnsafeMutablePointer<passwd>?
            guard getpwuid_r(uid, &pwd, buf.base, buf.count, &result) == 0, result != nil else { return nil }
            return User(name: String(cString: pwd.pw_name), uid: pwd.pw_uid, gid: pwd.pw_gid)
        }
    }

    static func group(named name: String) -> (name: String, gid: gid_t)? {
        withBuffer { buf -> (name: String, gid: gid_t)? in
            var grp = Glibc.group()
            var result: UnsafeMutablePointer<Glibc.group>?
            guard getgrnam_r(name, &grp, buf.base, buf.count, &result) == 0, result != nil else { return nil }
            return (String(cString: grp.gr_name), grp.gr_gid)
        }
    }

    static func group(gid: gid_t) -> (name: String, gid: gid_t)? {
        withBuffer { buf -> (name: String, gid: gid_t)? in
            var grp = Glibc.group()
            var result: UnsafeMutablePointer<Glibc.group>?
            guard getgrgid_r(gid, &grp, buf.base, buf.count, &result) == 0, result != nil else { return nil }
            return (String(cString: grp.gr_name), grp.gr_gid)
        }
    }

    private static func withBuffer<T>(_ body: ((base: UnsafeMutablePointer<CChar>, count: Int)) -> T?) -> T? {
        let count = 16384
        let base = UnsafeMutablePointer<CChar>.allocate(capacity: count)
        defer { base.deallocate() }
        return body((base, count))
    }
}
