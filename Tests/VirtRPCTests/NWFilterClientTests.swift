import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// vsh's network filter commands against a daemon that has a filter driver: Debian's libvirtd 9.0 (in a mount and
/// network namespace of its own, its filter directory on a tmpfs with the packaged default filters, so nothing it defines or
/// applies reaches the host), asked the same command lines by Debian's virsh and by vsh, outputs compared byte for
/// byte: the default filters listed and dumped, a filter defined, updated with --validate, listed, dumped by name
/// and by UUID, edited without a change and undefined, a binding created, listed, dumped and deleted, and the
/// errors for what does not exist. virtd has no filter driver: there both clients print libvirt's NO_SUPPORT.
@Suite("network filter commands: vsh as virsh on libvirtd 9.0", .serialized, .tags(.root, .referenceLibvirtd))
struct NWFilterClientTests {
    final class FilterLibvirtd {
        let dir: String
        private var process: ChildProcess?
        var uri: String { "qemu+unix:///system?socket=\(dir)/libvirt-sock" }

        init() throws {
            dir = try TestPaths.makeTempDir("nf", mode: 0o755)
            try ReferenceLibvirtd.writeConfig(dir: dir)
            try FileManager.default.createDirectory(atPath: dir + "/filters", withIntermediateDirectories: true)
            // The default filters as Debian's libvirt-daemon-config-nwfilter ships them (its postinst copies them
            // to /etc, which a fresh host may not have done for the host's own state).
            let inner = "cp -a /usr/share/libvirt/nwfilter/. '\(dir)/filters/'; "
                + "mkdir -p -m 0755 /run/libvirt && mount -t tmpfs tmpfs /run/libvirt && "
                + "mount -t tmpfs tmpfs /var/lib/libvirt && mount -t tmpfs tmpfs /etc/libvirt/qemu && "
                + "mkdir -p /etc/libvirt/nwfilter && mount -t tmpfs tmpfs /etc/libvirt/nwfilter && "
                + "cp -a '\(dir)/filters/.' /etc/libvirt/nwfilter/ && ip link set lo up && "
                + "exec /usr/bin/tini -s -- /usr/sbin/libvirtd -f '\(dir)/libvirtd.conf' -p '\(dir)/pid'"
            process = try ChildProcess.spawn(["/usr/bin/unshare", "-m", "-n", "--propagation", "private", "/bin/sh", "-c", inner],
                                             output: .file(dir + "/stderr.log"))
            guard waitFor(path: dir + "/libvirt-sock"), waitFor(path: dir + "/pid") else {
                stop()
                throw DaemonError.notStarted("libvirtd: \((try? String(contentsOfFile: dir + "/stderr.log", encoding: .utf8)) ?? "")")
            }
        }

        func stop() {
            guard let proc = process else { return }
            process = nil
            let pid = Int32((try? String(contentsOfFile: dir + "/pid", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
            proc.terminate(signalPID: pid)
            try? FileManager.default.removeItem(atPath: dir)
        }

        deinit { stop() }
    }

    static let filter = """
        <filter name='sv-test' chain='ipv4'><uuid>5b1e9d2c-3b4f-4c5d-8e6f-102132435465</uuid>
        <rule action='drop' direction='out' priority='500'><ip srcipaddr='10.0.0.1' protocol='udp'/></rule>
        <filterref filter='clean-traffic'/></filter>
        """
    static let binding = """
        <filterbinding><owner><name>d</name><uuid>6b1e9d2c-3b4f-4c5d-8e6f-102132435465</uuid></owner>
        <portdev name='svtap0'/><mac address='52:54:00:11:22:33'/>
        <filterref filter='sv-test'><parameter name='IP' value='10.0.0.2'/></filterref></filterbinding>
        """

    static func script(_ dir: String) -> String {
        [
            "nwfilter-list", "nwfilter-dumpxml clean-traffic", "nwfilter-dumpxml allow-arp",
            "nwfilter-define \(dir)/filter.xml", "nwfilter-define \(dir)/filter.xml --validate",
            "nwfilter-list", "nwfilter-dumpxml sv-test", "nwfilter-dumpxml 5b1e9d2c-3b4f-4c5d-8e6f-102132435465",
            "nwfilter-define \(dir)/bad.xml", "nwfilter-define \(dir)/missing.xml",
            "nwfilter-binding-list", "nwfilter-binding-create \(dir)/binding.xml", "nwfilter-binding-list",
            "nwfilter-binding-dumpxml svtap0", "nwfilter-binding-delete svtap0", "nwfilter-binding-list",
            "nwfilter-binding-dumpxml nope", "nwfilter-binding-delete nope",
            "nwfilter-undefine sv-test", "nwfilter-undefine sv-test", "nwfilter-dumpxml nope", "nwfilter-list",
        ].joined(separator: "; ")
    }

    @Test("vsh prints what virsh prints for filters and bindings on libvirtd, and virtd's NO_SUPPORT")
    func sameAsVirsh() throws {
        let ref = try FilterLibvirtd()
        defer { ref.stop() }
        try Self.filter.write(toFile: ref.dir + "/filter.xml", atomically: true, encoding: .utf8)
        try Self.binding.write(toFile: ref.dir + "/binding.xml", atomically: true, encoding: .utf8)
        try "<filter name='x'><rule action='bogus'/></filter>".write(toFile: ref.dir + "/bad.xml", atomically: true,
                                                                    encoding: .utf8)
        let script = Self.script(ref.dir)
        let r = try ChildProcess.run(["/usr/bin/virsh", "-c", ref.uri, script], timeLimit: 120)
        let v = try ChildProcess.run([TestPaths.vsh, "-c", ref.uri, script], timeLimit: 120)
        #expect(r.stdout.contains("clean-traffic") && r.stdout.contains("sv-test"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("Network filter binding on svtap0 created") && r.stdout.contains("<portdev name='svtap0'/>"),
                "\(r.stdout) \(r.stderr)")
        #expect(v.stdout == r.stdout, "vsh:\n\(v.stdout)\nvirsh:\n\(r.stdout)")
        #expect(v.stderr == r.stderr, "vsh:\n\(v.stderr)\nvirsh:\n\(r.stderr)")
        #expect(v.status == r.status)

        // virtd: no filter driver.
        let ours = try VirtdProcess()
        defer { ours.stop() }
        let short = "nwfilter-list; nwfilter-dumpxml clean-traffic; nwfilter-define \(ref.dir)/filter.xml; "
            + "nwfilter-binding-list; nwfilter-binding-create \(ref.dir)/binding.xml"
        let ro = try ChildProcess.run(["/usr/bin/virsh", "-c", ours.testURI, short], timeLimit: 60)
        let vo = try ChildProcess.run([TestPaths.vsh, "-c", ours.testURI, short], timeLimit: 60)
        #expect(ro.stderr.contains("not supported by the connection driver"), "\(ro.stderr)")
        #expect(vo.stdout == ro.stdout && vo.stderr == ro.stderr, "vsh:\n\(vo.stderr)\nvirsh:\n\(ro.stderr)")
    }
}
