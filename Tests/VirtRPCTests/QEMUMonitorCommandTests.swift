import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `qemu-monitor-command` (QEMU program 0x20008087, procedure 1) on a real KVM domain (no guest OS needed):
/// vsh on the embedded driver next to Debian's virsh on libvirt's embedded driver, then Debian's virsh and vsh
/// through virtd, and the read-only socket's refusal.
@Suite("qemu-monitor-command: vsh and virsh, embedded and through virtd", .serialized, .tags(.qemu, .kvm))
struct QEMUMonitorCommandTests {
    static let domainXML = """
        <domain type='kvm'>
          <name>qmc</name>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type></os>
        </domain>
        """

    /// QMP passthrough in every output form virsh has: plain reply (QEMU's member order, its id), --return-value,
    /// --pretty, HMP, a QMP error reply, a command with arguments, and virsh's own errors.
    static func script(_ xmlPath: String) -> String {
        [
            "define \(xmlPath)",
            "qemu-monitor-command qmc query-status",
            "start qmc --paused",
            #"qemu-monitor-command qmc '{"execute":"query-status"}'"#,
            "qemu-monitor-command qmc --return-value query-status",
            "qemu-monitor-command qmc --pretty query-status",
            "qemu-monitor-command qmc --pretty --return-value query-kvm",
            "qemu-monitor-command qmc --hmp info status",
            "qemu-monitor-command qmc --hmp 'info kvm'",
            "qemu-monitor-command qmc nosuch-cmd",
            "qemu-monitor-command qmc --hmp --pretty x",
            "qemu-monitor-command qmc --pretty --return-value qmp_capabilities",
            #"qemu-monitor-command qmc --return-value qom-get '"path":"/machine"' '"property":"type"'"#,
            "qemu-monitor-command qmc --return-value nosuch",
            "qemu-monitor-command nosuch query-status",
            "destroy qmc",
            "undefine qmc",
        ].joined(separator: "; ")
    }

    /// Command ids (`libvirt-N`) differ between the two; libvirt's embedded driver also logs to stderr.
    static func normalise(_ r: ChildProcess.Result) -> (String, String) {
        let out = r.stdout.replacingOccurrences(of: #"libvirt-[0-9]+"#, with: "libvirt-N", options: .regularExpression)
        let err = r.stderr.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains(" info : ") && !$0.contains(" warning : ") }.joined(separator: "\n")
        return (out, err)
    }

    @Test("embedded: vsh on qemu:///embed prints what virsh on libvirt's qemu:///embed prints")
    func embedded() throws {
        try TestHost.requireKVM()
        let dir = try TestPaths.makeTempDir("qmc", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.domainXML.write(toFile: dir + "/d.xml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/ref/etc", withIntermediateDirectories: true)
        try "stdio_handler = \"file\"\n".write(toFile: dir + "/ref/etc/qemu.conf", atomically: true, encoding: .utf8)
        let script = Self.script(dir + "/d.xml")
        let ref = try ChildProcess.run(["/usr/bin/virsh", "-c", "qemu:///embed?root=\(dir)/ref", script], timeLimit: 120)
        let ours = try ChildProcess.run([TestPaths.vsh, "-c", "qemu:///embed?root=\(dir)/ours", script],
                                          timeLimit: 120)
        #expect(ref.stdout.contains(#""status":"prelaunch""#), "libvirt: \(ref.stdout) \(ref.stderr)")
        #expect(ref.stdout.contains("\"pc-i440fx-"), "libvirt: \(ref.stdout)")
        let (refOut, refErr) = Self.normalise(ref)
        let (ourOut, ourErr) = Self.normalise(ours)
        #expect(ourOut == refOut)
        #expect(ourErr == refErr)
        #expect(ours.status == ref.status)
        #expect(QEMUDaemonSupport.qemuProcesses(under: dir).isEmpty)
    }

    @Test("through virtd: Debian's virsh and vsh give the embedded reference output; the read-only socket refuses")
    func throughDaemon() throws {
        try TestHost.requireKVM()
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        try Self.domainXML.write(toFile: daemon.dir + "/d.xml", atomically: true, encoding: .utf8)
        let script = Self.script(daemon.dir + "/d.xml")
        let v = try daemon.virsh(script)
        let s = try ChildProcess.run([TestPaths.vsh, "-c", daemon.uri, script], timeLimit: 120)
        #expect(v.stdout.contains(#"{"return":{"status":"prelaunch","singlestep":false,"running":false},"id":"libvirt-"#),
                "virsh: \(v.stdout) \(v.stderr)")
        #expect(v.stdout.contains("VM status: paused (prelaunch)"))
        #expect(v.stdout.contains(#""error":{"class":"CommandNotFound""#))
        let (vOut, vErr) = Self.normalise(v)
        let (sOut, sErr) = Self.normalise(s)
        #expect(sOut == vOut)
        #expect(sErr == vErr)
        #expect(vErr.contains("error: Options --hmp and --pretty are mutually exclusive"))
        #expect(vErr.contains("error: 'return' member missing"))

        // The read-only socket refuses the passthrough as libvirtd does (it is a write access).
        #expect(try daemon.virsh(args: ["define", daemon.dir + "/d.xml"]).status == 0)
        #expect(try daemon.virsh(args: ["start", "qmc"]).status == 0)
        let ro = "qemu+unix:///system?socket=\(daemon.socket)-ro"
        let r = try ChildProcess.run(["/usr/bin/virsh", "-c", ro, "qemu-monitor-command qmc query-status"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("operation forbidden: read only access prevents virDomainQemuMonitorCommand"),
                "\(r.stderr)")
        #expect(try daemon.virsh(args: ["destroy", "qmc"]).status == 0)
    }
}
