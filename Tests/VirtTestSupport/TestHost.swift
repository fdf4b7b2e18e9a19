import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An error of the test support: something a test needs is missing or could not be set up.
public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What the tests need from the machine. Each check fails the test (records an issue and throws): a missing
/// need is never a silent skip.
public enum TestHost {
    /// The QEMU binary every QEMU test uses.
    public static let qemuBinary = "/usr/bin/qemu-system-x86_64"

    /// Fails (never skips) when /dev/kvm is missing or not readable and writable.
    public static func requireKVM(sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard access("/dev/kvm", R_OK | W_OK) == 0 else {
            Issue.record("/dev/kvm is missing or not accessible: the KVM tests need it", sourceLocation: sourceLocation)
            throw TestSupportError("no /dev/kvm")
        }
    }

    /// Fails (never skips) when the test does not run as root.
    public static func requireRoot(sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard geteuid() == 0 else {
            Issue.record("this test needs root", sourceLocation: sourceLocation)
            throw TestSupportError("not root")
        }
    }

    /// Debian's `libvirt-qemu` user (libvirt-daemon-system), which QEMU runs as in the DAC and daemon tests: it
    /// reaches /dev/kvm through its primary group `kvm`; a group of the same name exists too.
    public struct QEMUUser: Sendable {
        public var name: String
        public var uid: uid_t
        /// The user's primary group (`kvm` on Debian).
        public var gid: gid_t
        /// The group named `libvirt-qemu`.
        public var ownGroup: gid_t
    }

    /// virtd.conf lines that run QEMU as `libvirt-qemu` and group `libvirt-qemu` (as libvirtd does here).
    public static let qemuUserConfig = "user = \"libvirt-qemu\"\ngroup = \"libvirt-qemu\"\n"

    /// A user's uid and primary gid, looked up reentrantly (getpwnam's buffer is shared by every thread of
    /// the test process, and the drivers under test look users up concurrently).
    public static func user(_ name: String) -> (uid: uid_t, gid: gid_t)? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 16384)
        let rc = buf.withUnsafeMutableBufferPointer { b -> Int32 in
            guard let base = b.baseAddress else { return -1 }
            return getpwnam_r(name, &pwd, base, b.count, &result)
        }
        guard rc == 0, result != nil else { return nil }
        return (pwd.pw_uid, pwd.pw_gid)
    }

    /// A group's gid, looked up reentrantly.
    public static func group(_ name: String) -> gid_t? {
        var grp = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buf = [CChar](repeating: 0, count: 16384)
        let rc = buf.withUnsafeMutableBufferPointer { b -> Int32 in
            guard let base = b.baseAddress else { return -1 }
            return getgrnam_r(name, &grp, base, b.count, &result)
        }
        guard rc == 0, result != nil else { return nil }
        return grp.gr_gid
    }

    /// The `libvirt-qemu` user and group; fails the test when either is missing.
    public static func qemuUser(sourceLocation: SourceLocation = #_sourceLocation) throws -> QEMUUser {
        guard let pw = user("libvirt-qemu"), let gr = group("libvirt-qemu") else {
            Issue.record("the user or group libvirt-qemu is missing: install libvirt-daemon-system (scripts/install-deps.sh)",
                         sourceLocation: sourceLocation)
            throw TestSupportError("no libvirt-qemu user")
        }
        return QEMUUser(name: "libvirt-qemu", uid: pw.uid, gid: pw.gid, ownGroup: gr)
    }

    /// The gid of a group, by name (fails the test when it is missing).
    public static func groupID(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> gid_t {
        guard let gid = group(name) else {
            Issue.record("the group \(name) is missing", sourceLocation: sourceLocation)
            throw TestSupportError("no group \(name)")
        }
        return gid
    }
}
