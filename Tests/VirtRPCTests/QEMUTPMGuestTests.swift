import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The TPM as the guest sees it, across save and restore: the guest extends its PCR 16 through /dev/tpm0 (a raw
/// TPM2_PCR_Extend, written in one write(2) by dd: the driver takes each write as a whole command), reads the value
/// back from sysfs, and after `save` + `restore` reads the same value (PCRs are volatile state: it reaches the
/// restored TPM only through QEMU's stream and swtpm). A cold boot afterwards resets the PCR to zeros, so the reading
/// is the live TPM's. With the TPM state on shared storage (a glusterfs-typed FUSE mount) too: libvirt 9.0 refuses
/// that save when swtpm cannot migrate; ours saves, and the guest has its TPM state after the restore.
@Suite("TPM state in the guest across save/restore", .serialized, .tags(.qemu, .root))
struct QEMUTPMGuestTests {
    /// The 32 bytes extended into PCR 16.
    static let digest: [UInt8] = Array(1...32)

    /// TPM2_PCR_Extend(PCR 16, sha256 = digest) with an empty password session, as printf escapes.
    static var extendCommand: String {
        var bytes: [UInt8] = [0x80, 0x02, 0, 0, 0, 65, 0, 0, 0x01, 0x82, 0, 0, 0, 0x10]  // tag, size, code, handle
        bytes += [0, 0, 0, 9, 0x40, 0, 0, 0x09, 0, 0, 0, 0, 0]  // TPM_RS_PW, no nonce, no attributes, no hmac
        bytes += [0, 0, 0, 1, 0, 0x0B] + digest  // one digest, TPM_ALG_SHA256
        precondition(bytes.count == 65)
        return bytes.map { String(format: "\\x%02x", $0) }.joined()
    }

    /// sha256(32 zero bytes || digest): PCR 16 after one extend from its reset value.
    static func expectedPCR() throws -> String {
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        let r = try ChildProcess.run(["/usr/bin/python3", "-c",
                                      "import hashlib;print(hashlib.sha256(bytes(32)+bytes.fromhex('\(hex)')).hexdigest())"])
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let readPCR = "echo PCR16-$(tr A-F a-f </sys/class/tpm/tpm0/pcr-sha256/16)"

    @Test("the guest's PCR 16 survives save/restore and resets on a cold boot; TPM state local and shared",
          arguments: ["local", "shared"])
    func pcrAcrossSaveRestore(storage: String) throws {
        let expected = try Self.expectedPCR()
        #expect(expected.count == 64)
        let zeros = String(repeating: "0", count: 64)
        let daemon = try RestartableVirtd(config: TestHost.qemuUserConfig)
        let swtpmDir = daemon.dir + "/lib/swtpm"
        var mounted = false
        defer {
            _ = try? daemon.virsh(args: ["destroy", "tpmguest"])
            daemon.kill9()
            TPMTestSupport.killSwtpms(mentioning: daemon.dir)
            if mounted { TPMTestSupport.unmount(swtpmDir) }
            daemon.cleanup()
        }
        if storage == "shared" {
            let backing = daemon.dir + "/backing"
            try FileManager.default.createDirectory(atPath: backing, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: swtpmDir, withIntermediateDirectories: true)
            chmod(backing, 0o711)
            try TPMTestSupport.mountGluster(backing, on: swtpmDir)
            mounted = true
        }
        let xmlPath = daemon.dir + "/tpmguest.xml"
        try QEMUDaemonSupport.guestXML(name: "tpmguest", serial: "<serial type='pty'/>" + TPMTestSupport.tpmXML)
            .write(toFile: xmlPath, atomically: true, encoding: .utf8)
        #expect(try daemon.virsh(args: ["define", xmlPath]).status == 0)
        let st = try daemon.virsh(args: ["start", "tpmguest"])
        #expect(st.status == 0, "\(st.stderr)")
        func console(_ command: String, _ answer: String) throws -> Bool {
            try GuestConsole.run(uri: daemon.uri, name: "tpmguest", command: command, expect: answer, dir: daemon.dir)
        }
        // Before: PCR 16 is at its reset value; the guest extends it once (a marker file keeps the retyped
        // command from extending it again) and reads it back.
        #expect(try console(Self.readPCR, "PCR16-" + zeros), "the guest does not see a TPM 2.0 with a sha256 bank")
        let extend = "[ -e /tmp/pcr16 ] || { touch /tmp/pcr16; printf '\(Self.extendCommand)' >/tmp/ext; "
            + "dd if=/tmp/ext of=/dev/tpm0 bs=65 count=1; }; "
            + Self.readPCR
        #expect(try console(extend, "PCR16-" + expected), "the extend did not reach PCR 16")

        let image = daemon.dir + "/tpmguest.save"
        let sv = try daemon.virsh(args: ["save", "tpmguest", image])
        #expect(sv.status == 0, "\(sv.stderr)")
        #expect(try daemon.virsh(args: ["domstate", "tpmguest"]).stdout.contains("shut off"))
        #expect(eventually(10) { TPMTestSupport.swtpmProcesses(mentioning: daemon.dir).isEmpty })
        let rs = try daemon.virsh(args: ["restore", image])
        #expect(rs.status == 0, "\(rs.stderr)")
        #expect(try console(Self.readPCR, "PCR16-" + expected), "the restored guest lost its TPM's PCR 16")

        // A cold boot resets the PCRs: the value read above came from the live TPM.
        #expect(try daemon.virsh(args: ["destroy", "tpmguest"]).status == 0)
        #expect(try daemon.virsh(args: ["start", "tpmguest"]).status == 0)
        #expect(try console(Self.readPCR, "PCR16-" + zeros), "PCR 16 not reset by a cold boot")
    }
}
