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

    /// The `libvirt-qemu` user and group; fails the test when either is missing.
    public static func qemuUser(sourceLocation: SourceLocation = #_sourceLocation) throws -> QEMUUser {
        guard let pw = getpwnam("libvirt-qemu"), let gr = getgrnam("libvirt-qemu") else {
            Issue.record("the user or group libvirt-qemu is missing: install libvirt-daemon-system (scripts/install-deps.sh)",
                         sourceLocation: sourceLocation)
            throw TestSupportError("no libvirt-qemu user")
        }
        return QEMUUser(name: "libvirt-qemu", uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid,
                        ownGroup: gr.pointee.gr_gid)
    }

    /// The gid of a group, by name (fails the test when it is missing).
    public static func groupID(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> gid_t {
        guard let gr = getgrnam(name) else {
            Issue.record("the group \(name) is missing", sourceLocation: sourceLocation)
            throw TestSupportError("no group \(name)")
        }
        return gr.pointee.gr_gid
    }
}
