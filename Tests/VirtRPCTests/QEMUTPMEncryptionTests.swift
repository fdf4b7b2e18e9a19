import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `<tpm><backend type='emulator'><encryption secret='UUID'/>`: the passphrase comes from the daemon's secret
/// driver (a vTPM secret) and reaches swtpm (`--key`, `--migration-key`) and swtpm_setup (`--pwdfile-fd`) on
/// descriptors. The same steps on virtd and on libvirtd 9.0, with Debian's virsh: errors, swtpm_setup's and
/// swtpm's arguments, outcome; a wrong passphrase makes the state unreadable (swtpm cannot decrypt it).
@Suite("encrypted TPM state, virtd against libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUTPMEncryptionTests {
    static let secretUUID = "aaaaaaaa-2222-3333-4444-555555555555"
    static let domainUUID = "bbbbbbbb-2222-3333-4444-555555555555"

    static func domainXML(_ name: String) -> String {
        """
        <domain type='qemu'><name>\(name)</name><uuid>\(domainUUID)</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='q35'>hvm</type></os><devices><tpm model='tpm-crb'>
        <backend type='emulator' version='2.0'><encryption secret='\(secretUUID)'/></backend></tpm></devices></domain>
        """
    }

    struct Step: Equatable, CustomStringConvertible {
        var what: String
        var status: Int32
        var detail: String
        var description: String { "\(what): \(status) \(detail)" }
    }

    /// The steps on one daemon; `swtpmArgs` reads the running swtpm's arguments.
    static func steps(uri: String, dir: String, setupLog: String, swtpmArgs: () -> String) throws -> [Step] {
        func virsh(_ args: [String]) throws -> ChildProcess.Result {
            try ChildProcess.run(["/usr/bin/virsh", "-c", uri] + args, timeLimit: 120)
        }
        func norm(_ s: String) -> String {
            QEMUTPMStartKindDifferentialTests.normalize(s, uuid: domainUUID, name: "enc")
                .replacingOccurrences(of: #"pwdfd=\d+"#, with: "pwdfd=N", options: .regularExpression)
                .replacingOccurrences(of: #"--pwdfile-fd \d+"#, with: "--pwdfile-fd N", options: .regularExpression)
        }
        var out: [Step] = []
        func step(_ what: String, _ args: [String], keepStderr: Bool = true) throws {
            let r = try virsh(args)
            out.append(Step(what: what, status: r.status, detail: keepStderr ? r.stderr : ""))
        }
        let files: [String: String] = [
            "enc.xml": domainXML("enc"),
            "volume.xml": "<secret><uuid>\(secretUUID)</uuid><usage type='volume'><volume>/x</volume></usage></secret>",
            "vtpm.xml": "<secret private='yes'><uuid>\(secretUUID)</uuid><usage type='vtpm'><name>VTPM_enc</name></usage></secret>",
        ]
        for (n, t) in files { try t.write(toFile: dir + "/" + n, atomically: true, encoding: .utf8) }
        try step("define", ["define", dir + "/enc.xml"])
        try step("start without the secret", ["start", "enc"])
        try step("define a volume secret", ["secret-define", dir + "/volume.xml"])
        try step("start with a volume secret", ["start", "enc"])
        try step("undefine it", ["secret-undefine", secretUUID])
        try step("define the vTPM secret", ["secret-define", dir + "/vtpm.xml"])
        try step("start without a value", ["start", "enc"])
        try step("set the value", ["secret-set-value", secretUUID, "cGFzczE="])
        let setupBefore = TPMTestSupport.setupRuns(setupLog).count
        try step("start", ["start", "enc"])
        out.append(Step(what: "swtpm_setup", status: 0,
                        detail: TPMTestSupport.setupRuns(setupLog).dropFirst(setupBefore)
                            .map { norm($0) }.joined(separator: "\n")))
        out.append(Step(what: "swtpm", status: 0, detail: norm(swtpmArgs())))
        try step("destroy", ["destroy", "enc"])
        try step("set a wrong value", ["secret-set-value", secretUUID, "d3Jvbmc="], keepStderr: false)
        // The state cannot be decrypted: QEMU's TPM initialisation fails (the message is QEMU's, with a time).
        try step("start with the wrong passphrase", ["start", "enc"], keepStderr: false)
        try step("set the right value", ["secret-set-value", secretUUID, "cGFzczE="], keepStderr: false)
        try step("start again", ["start", "enc"])
        try step("destroy again", ["destroy", "enc"])
        try step("undefine", ["undefine", "--tpm", "enc"])
        return out
    }

    @Test("errors, swtpm_setup and swtpm arguments, a wrong passphrase refused: as libvirtd")
    func sameAsLibvirtd() throws {
        let bin = try TestPaths.makeTempDir("tpmencbin", mode: 0o755)
        defer { TestPaths.removeDir(bin) }
        let setupLog = try TPMTestSupport.writeSetupWrapper(in: bin)

        let daemon = try RestartableVirtd(config: TestHost.qemuUserConfig, environment: TPMTestSupport.environment(pathFirst: bin))
        defer {
            daemon.cleanup()
            TPMTestSupport.killSwtpms(mentioning: daemon.dir)
        }
        let ours = try Self.steps(uri: daemon.uri, dir: daemon.dir, setupLog: setupLog) {
            TPMTestSupport.swtpmProcesses(mentioning: daemon.dir).first
                .map { TPMTestSupport.cmdline($0).dropFirst().joined(separator: " ") } ?? "none"
        }

        let qemuConf = bin + "/qemu.conf"
        try "stdio_handler = \"file\"\n".write(toFile: qemuConf, atomically: true, encoding: .utf8)
        let setup = "export PATH='\(bin)':\"$PATH\" && mount --bind '\(qemuConf)' /etc/libvirt/qemu.conf && "
            + "mkdir -p /var/log/swtpm /var/log/libvirt /etc/libvirt/secrets && "
            + "mount -t tmpfs -o mode=0755 tmpfs /var/log/swtpm && mount -t tmpfs -o mode=0755 tmpfs /var/log/libvirt && "
            + "mount -t tmpfs tmpfs /etc/libvirt/secrets && "
        let ref = try ReferenceLibvirtd(privateDomainConfig: true, namespaceSetup: setup)
        defer {
            ref.stop()
            TPMTestSupport.killSwtpms(mentioning: Self.domainUUID)
        }
        let theirs = try Self.steps(uri: "qemu+unix:///system?socket=\(ref.socket)", dir: ref.dir, setupLog: setupLog) {
            TPMTestSupport.swtpmProcesses(mentioning: Self.domainUUID).first
                .map { TPMTestSupport.cmdline($0).dropFirst().joined(separator: " ") } ?? "none"
        }
        print("encrypted TPM state: virtd (ours) | libvirtd 9.0")
        for (o, r) in zip(ours, theirs) { print("| ours: \(o) |\n| libvirtd: \(r) |") }
        #expect(ours.count == theirs.count)
        for (o, r) in zip(ours, theirs) {
            #expect(o == r, "\n ours:     \(o)\n libvirtd: \(r)")
        }
        // What each step did, as a check that the comparison compared something.
        #expect(ours.first { $0.what == "start" }?.status == 0)
        #expect(ours.first { $0.what == "start with the wrong passphrase" }?.status == 1)
        #expect(ours.first { $0.what == "swtpm" }?.detail.contains("--key pwdfd=N,mode=aes-256-cbc --migration-key pwdfd=N,mode=aes-256-cbc") == true)
        #expect(ours.first { $0.what == "swtpm_setup" }?.detail.contains("--tpm2 --pwdfile-fd N --cipher aes-256-cbc --tpm-state") == true)
        let log = (try? String(contentsOfFile: daemon.dir + "/log/swtpm/enc-swtpm.log", encoding: .utf8)) ?? ""
        #expect(log.contains("GetDecryptedData"), "\(log)")
    }
}
