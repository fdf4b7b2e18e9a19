import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// A fresh host (no udev, so /dev/kvm is root:root 0600): scripts/install-deps.sh gives /dev/kvm what Debian's
/// udev rule gives it, and a KVM domain whose QEMU user cannot open /dev/kvm is refused before anything runs.
@Suite("fresh host: /dev/kvm permissions, install-deps.sh", .serialized, .tags(.qemu, .kvm, .root))
struct FreshHostTests {
    /// A uid and gid with no name and outside group kvm (nothing to create on the host).
    static let outsider = "+64999"

    static func runScript(_ env: [String: String]) throws -> (status: Int32, output: String) {
        let r = try ChildProcess.run([TestPaths.repoRoot + "/scripts/install-deps.sh"],
                                     environment: ChildProcess.environment(adding: env), timeLimit: 600)
        return (r.status, r.stdout + r.stderr)
    }

    static func statOf(_ path: String) -> stat? {
        var st = stat()
        return stat(path, &st) == 0 ? st : nil
    }

    @Test("install-deps.sh gives a device group kvm and mode 0660 (creating the group), and /run/libvirt 0755")
    func installDepsFixesPermissions() throws {
        let dir = try TestPaths.makeTempDir("fresh")
        defer { TestPaths.removeDir(dir) }
        // Stand-ins for /dev/kvm (root:root 0600) and a /run/libvirt left 0700; a group that does not exist yet.
        let device = dir + "/kvm"
        #expect(FileManager.default.createFile(atPath: device, contents: nil))
        #expect(chown(device, 0, 0) == 0 && chmod(device, 0o600) == 0)
        let runDir = dir + "/run-libvirt"
        #expect(mkdir(runDir, 0o700) == 0 && chmod(runDir, 0o700) == 0)
        let group = "svkvm\(getpid() % 100000)"
        #expect(TestHost.group(group) == nil)
        defer { _ = try? DACSecurityTests.run(["/usr/sbin/groupdel", group]) }

        let env = ["SWIFTVIRT_SKIP_PACKAGES": "1", "SWIFTVIRT_KVM_DEVICE": device, "SWIFTVIRT_KVM_GROUP": group,
                   "SWIFTVIRT_RUN_LIBVIRT": runDir]
        let r = try Self.runScript(env)
        #expect(r.status == 0, "\(r.output)")
        let gid = try #require(TestHost.group(group))
        let st = try #require(Self.statOf(device))
        #expect(st.st_gid == gid && st.st_uid == 0)
        #expect(st.st_mode & 0o7777 == 0o660)
        #expect(try #require(Self.statOf(runDir)).st_mode & 0o7777 == 0o755)

        // A second run changes nothing and says nothing.
        let again = try Self.runScript(env)
        #expect(again.status == 0 && again.output.isEmpty, "\(again.output)")
    }

    @Test("this host's /dev/kvm opens for libvirt-qemu (scripts/install-deps.sh ran): group kvm, mode 0660")
    func hostKVMDeviceOpensForTheQEMUUser() throws {
        let device = try #require(KVMDeviceAccess.mode(of: "/dev/kvm"), "/dev/kvm is missing")
        let kvm = try #require(TestHost.group("kvm"), "group kvm is missing")
        #expect(device.gid == kvm && device.mode & 0o777 == 0o660,
                "/dev/kvm is \(device.description): run scripts/install-deps.sh")
        let pw = try #require(TestHost.user("libvirt-qemu"), "user libvirt-qemu is missing")
        let creds = ProcessCredentials.forUser(uid: pw.uid, gid: pw.gid)
        #expect(KVMDeviceAccess.canReadWrite(creds, device: device))
        // The kernel agrees: QEMU's user opens it (setpriv runs a shell as that user).
        let rc = try DACSecurityTests.run(["/usr/bin/setpriv", "--reuid=libvirt-qemu", "--regid=\(pw.gid)",
                                          "--init-groups", "/bin/sh", "-c", "exec 3<>/dev/kvm"])
        #expect(rc == 0)
    }

    @Test("access from owner, group and mode: owner, primary and supplementary group, others, root")
    func accessRules() {
        let dev = KVMDeviceAccess.DeviceMode(uid: 0, gid: 108, mode: 0o20660)
        #expect(KVMDeviceAccess.canReadWrite(ProcessCredentials(uid: 500, gid: 108, groups: []), device: dev))
        #expect(KVMDeviceAccess.canReadWrite(ProcessCredentials(uid: 500, gid: 500, groups: [500, 108]), device: dev))
        #expect(!KVMDeviceAccess.canReadWrite(ProcessCredentials(uid: 500, gid: 500, groups: [500]), device: dev))
        #expect(KVMDeviceAccess.canReadWrite(ProcessCredentials(uid: 0, gid: 0, groups: []), device: dev))
        let rootOnly = KVMDeviceAccess.DeviceMode(uid: 0, gid: 0, mode: 0o600)
        #expect(!KVMDeviceAccess.canReadWrite(ProcessCredentials(uid: 500, gid: 108, groups: [108]), device: rootOnly))
        let owned = KVMDeviceAccess.DeviceMode(uid: 500, gid: 0, mode: 0o600)
        #expect(KVMDeviceAccess.canReadWrite(ProcessCredentials(uid: 500, gid: 500, groups: []), device: owned))
        // Read-only for the group is not enough.
        let readOnly = KVMDeviceAccess.DeviceMode(uid: 0, gid: 108, mode: 0o640)
        #expect(!KVMDeviceAccess.canReadWrite(ProcessCredentials(uid: 500, gid: 108, groups: []), device: readOnly))
        let world = KVMDeviceAccess.DeviceMode(uid: 0, gid: 0, mode: 0o666)
        #expect(KVMDeviceAccess.canReadWrite(ProcessCredentials(uid: 500, gid: 500, groups: []), device: world))
    }

    /// QEMU runs as a uid:gid outside group kvm: the start of a KVM domain fails before any QEMU runs, with
    /// OPERATION_INVALID naming the user, the device with its owner and mode, and the fix; nothing is left.
    @Test("a KVM domain whose QEMU user cannot open /dev/kvm is refused before any process starts")
    func kvmDomainRefusedForAnOutsider() async throws {
        let device = try #require(KVMDeviceAccess.mode(of: "/dev/kvm"), "/dev/kvm is missing")
        let dir = try TestPaths.makeTempDir("fresh")
        defer { TestPaths.removeDir(dir) }
        chmod(dir, 0o755)
        let root = dir + "/root"
        let driver = try await QEMUDriver.open(
            root: root, security: QEMUSecurityConfig(user: Self.outsider, group: Self.outsider))
        let xml = """
            <domain type='kvm'>
              <name>fresh-kvm</name>
              <memory unit='MiB'>64</memory>
              <vcpu>1</vcpu>
              <os><type arch='x86_64' machine='pc'>hvm</type></os>
            </domain>
            """
        let dom = try await driver.defineXML(xml, flags: [])
        var failure: VirtError?
        do {
            _ = try await driver.start(dom, flags: [])
        } catch let e as VirtError {
            failure = e
        }
        let e = try #require(failure, "the start succeeded")
        #expect(e.code == .operationInvalid)
        #expect(e.message.contains("QEMU's user +64999 (uid 64999, gid 64999) cannot open /dev/kvm (\(device.description))"),
                "\(e.message)")
        #expect(e.message.contains("add the user to group 'kvm' and give /dev/kvm group kvm, mode 0660"), "\(e.message)")
        #expect(try await driver.state(dom).state == .shutoff)
        #expect(try await driver.pid(of: dom) == nil)
        // No QEMU ran: no log was written, no pid file.
        #expect(access(root + "/log/qemu/fresh-kvm.log", F_OK) != 0)
        #expect(access(root + "/run/qemu/fresh-kvm.pid", F_OK) != 0)
        // The host still reports KVM (as libvirt 9.0 does: its probe may open /dev/kvm).
        #expect(try await driver.capabilities().contains("<domain type='kvm'/>"))
        _ = try await driver.domainCapabilities(emulator: nil, arch: nil, machine: nil, virtType: "kvm", flags: 0)
        try await driver.undefine(dom, flags: [])
    }
}
