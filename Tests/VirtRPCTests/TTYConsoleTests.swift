import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `ttyconsole` on a real KVM domain with a pty serial console (no guest OS needed): vsh on the embedded driver
/// next to Debian's virsh on libvirt's embedded driver, and Debian's virsh and vsh through virtd.
@Suite("ttyconsole: vsh and virsh, embedded and through virtd", .serialized, .tags(.qemu, .kvm))
struct TTYConsoleTests {
    static func domainXML(_ name: String) -> String {
        """
        <domain type='kvm'>
          <name>\(name)</name>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type></os>
          <devices><serial type='pty'/></devices>
        </domain>
        """
    }

    /// /dev/pts/N → /dev/pts/#.
    static func normalisePTS(_ s: String) -> String {
        s.replacingOccurrences(of: #"/dev/pts/[0-9]+"#, with: "/dev/pts/#", options: .regularExpression)
    }

    @Test("embedded: vsh on qemu:///embed prints what virsh on libvirt's qemu:///embed prints")
    func embedded() throws {
        try TestHost.requireKVM()
        let dir = try TestPaths.makeTempDir("tty", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.domainXML("ttyemb").write(toFile: dir + "/d.xml", atomically: true, encoding: .utf8)
        // libvirt's embedded driver logs QEMU's output to a file (no virtlogd here).
        try FileManager.default.createDirectory(atPath: dir + "/ref/etc", withIntermediateDirectories: true)
        try "stdio_handler = \"file\"\n".write(toFile: dir + "/ref/etc/qemu.conf", atomically: true, encoding: .utf8)
        let script = "define \(dir)/d.xml; ttyconsole ttyemb; start ttyemb; ttyconsole ttyemb; "
            + "destroy ttyemb; ttyconsole ttyemb; undefine ttyemb"
        let ref = try ChildProcess.run(["/usr/bin/virsh", "-c", "qemu:///embed?root=\(dir)/ref", script], timeLimit: 120)
        let ours = try ChildProcess.run([TestPaths.vsh, "-c", "qemu:///embed?root=\(dir)/ours", script],
                                          timeLimit: 120)
        #expect(ref.stdout.contains("/dev/pts/"), "libvirt: \(ref.stdout) \(ref.stderr)")
        #expect(ours.stdout.range(of: #"\n/dev/pts/[0-9]+\n"#, options: .regularExpression) != nil,
                "ours: \(ours.stdout) \(ours.stderr)")
        #expect(Self.normalisePTS(ours.stdout) == Self.normalisePTS(ref.stdout))
        #expect(ours.stderr == ref.stderr)
        #expect(ours.status == ref.status)
    }

    @Test("through virtd: virsh and vsh print the live console's pty; nothing and status 1 when shut off")
    func throughDaemon() throws {
        try TestHost.requireKVM()
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        try Self.domainXML("ttyd").write(toFile: daemon.dir + "/d.xml", atomically: true, encoding: .utf8)
        #expect(try daemon.virsh(args: ["define", daemon.dir + "/d.xml"]).status == 0)
        func both(_ args: [String]) throws -> (ChildProcess.Result, ChildProcess.Result) {
            (try daemon.virsh(args: args),
             try ChildProcess.run([TestPaths.vsh, "-c", daemon.uri] + args))
        }

        var (v, s) = try both(["ttyconsole", "ttyd"])
        #expect(v.status == 1 && s.status == 1)
        #expect(v.stdout == s.stdout && v.stderr == s.stderr, "virsh \(v) vsh \(s)")

        let start = try daemon.virsh(args: ["start", "ttyd"])
        #expect(start.status == 0, "\(start.stderr)")
        (v, s) = try both(["ttyconsole", "ttyd"])
        let xml = try daemon.virsh(args: ["dumpxml", "ttyd"]).stdout
        let tty = xml.range(of: #"<console type='pty' tty='[^']+'"#, options: .regularExpression)
            .map { String(xml[$0]).components(separatedBy: "tty='")[1].dropLast() }.map(String.init)
        #expect(tty?.hasPrefix("/dev/pts/") == true, "\(xml)")
        // virsh ends the output of a command with an empty line.
        #expect(v.status == 0 && v.stdout == "\(tty ?? "?")\n\n", "virsh: \(v)")
        #expect(s.status == 0 && s.stdout == v.stdout && s.stderr == v.stderr, "vsh: \(s)")
        var st = stat()
        #expect(stat(tty ?? "/nonexistent", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR)

        (v, s) = try both(["ttyconsole", "nosuch"])
        #expect(v.status == 1 && s.status == 1 && v.stderr == s.stderr, "virsh \(v) vsh \(s)")
        #expect(try daemon.virsh(args: ["destroy", "ttyd"]).status == 0)
    }
}
