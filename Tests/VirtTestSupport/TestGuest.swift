import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The test guest built by scripts/build-test-guest.sh into .build/test-guest: a Debian kernel and a busybox
/// initramfs that print markers on the serial console, run qemu-ga and power off on ACPI.
public struct TestGuest: Sendable {
    public var kernel: String
    public var initrd: String
    public var cmdline: String

    /// The guest; fails the test when it is missing or older than `format` (3 has the guest agent and pvpanic;
    /// 5 has Debian's qemu-ga, the balloon driver, ext4 on a `swiftvirt-fs` disk and a static address on eth0;
    /// 7 loads virtio_mem; 8 loads the i6300esb watchdog driver).
    public static func load(format: Int = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> TestGuest {
        let dir = TestPaths.testGuest
        let built = Int((try? String(contentsOfFile: dir + "/FORMAT", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        if built < format {
            Issue.record("the test guest is older than format \(format): run scripts/build-test-guest.sh",
                         sourceLocation: sourceLocation)
            throw TestSupportError("outdated test guest")
        }
        let cmdline = (try? String(contentsOfFile: dir + "/cmdline", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard let cmdline, access(dir + "/vmlinuz", R_OK) == 0, access(dir + "/initrd.img", R_OK) == 0 else {
            Issue.record("the test guest is missing: run scripts/build-test-guest.sh", sourceLocation: sourceLocation)
            throw TestSupportError("no test guest")
        }
        return TestGuest(kernel: dir + "/vmlinuz", initrd: dir + "/initrd.img", cmdline: cmdline)
    }
}
