import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `<interface type='direct'>` (macvtap) on qemu:///system: virtd in a network namespace of the test, Debian's
/// libvirtd 9.0 in another, each with a veth pair whose end `dv0` is the macvtap's link, driven by Debian's virsh
/// with the same steps: start (a macvtap device in bridge mode on dv0 with the guest's MAC, its `/dev/tapN` given
/// to QEMU), the live XML and `domiflist`, `domifstat`, `attach-interface --type direct` and `detach-interface`,
/// `<target dev>` with libvirt's reserved prefix, a missing link, and the devices gone after destroy.
@Suite("direct (macvtap) interfaces: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUDirectInterfaceTests {
    static let xml = """
        <domain type='qemu'><name>dir</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
        <interface type='direct'><mac address='52:54:00:aa:bb:01'/><source dev='dv0' mode='bridge'/><model type='virtio'/></interface>
        <interface type='direct'><mac address='52:54:00:aa:bb:02'/><source dev='dv0'/><target dev='macvtap7'/><model type='e1000'/></interface>
        <memballoon model='none'/></devices></domain>
        """
    static let missing = """
        <domain type='qemu'><name>nolink</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
        <interface type='direct'><mac address='52:54:00:aa:bb:09'/><source dev='nosuchlink' mode='bridge'/></interface>
        <memballoon model='none'/></devices></domain>
        """

    /// The interface elements of a domain XML.
    static func interfaces(_ xml: String) -> String {
        var out: [String] = []
        var inside = false
        for line in xml.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("<interface ") { inside = true }
            if inside { out.append(t) }
            if t == "</interface>" { inside = false }
        }
        return out.joined(separator: "\n")
    }

    /// The macvtap devices of a namespace: name, link, MAC, mode and state.
    static func macvtaps(_ ns: String) throws -> String {
        let r = try ChildProcess.run(["/usr/sbin/ip", "-n", ns, "-d", "-o", "link", "show", "type", "macvtap"], timeLimit: 30)
        return r.stdout.split(separator: "\n").map { line -> String in
            let f = line.split(separator: " ").map(String.init)
            let name = f.count > 1 ? f[1].replacingOccurrences(of: ":", with: "") : "?"
            let mac = f.firstIndex(of: "link/ether").map { f[$0 + 1] } ?? "?"
            let mode = f.firstIndex(of: "macvtap").flatMap { $0 + 2 < f.count ? f[$0 + 2] : nil } ?? "?"
            let up = line.contains(",UP") || line.contains("<UP") ? "up" : "down"
            return "\(name) \(mac) \(mode) \(up)"
        }.sorted().joined(separator: "; ")
    }

    @Test("macvtap devices, live XML, domiflist, domifstat, hotplug and errors as libvirtd's")
    func directLikeLibvirtd() throws {
        let h = try NetworkNamespaces()
        defer { h.cleanup() }
        // libvirtd in a namespace of its own, with virtlogd (QEMU's log handler) started beside it.
        let refNS = h.ns + "r"
        try MigrationHosts.ip(["netns", "add", refNS])
        defer { _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", refNS], timeLimit: 30) }
        let logd = h.dir + "/virtlogd.pid"
        let ref = try ReferenceLibvirtd(privateDomainConfig: true,
                                        namespaceSetup: "/usr/sbin/virtlogd -d -p '\(logd)' &&",
                                        prefix: ["/usr/sbin/ip", "netns", "exec", refNS])
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"
        defer {
            _ = try? virsh(refURI, "destroy dir; destroy nolink")
            ref.stop()
            if let s = try? String(contentsOfFile: logd, encoding: .utf8),
               let pid = Int32(s.trimmingCharacters(in: .whitespacesAndNewlines)) {
                ProcFS.kill(pid, SIGTERM, ifExecutable: "virtlogd")
            }
        }
        for ns in [h.ns, refNS] {
            try MigrationHosts.ip(["-n", ns, "link", "add", "dv0", "type", "veth", "peer", "name", "dv1"])
            try MigrationHosts.ip(["-n", ns, "link", "set", "dv0", "up"])
            try MigrationHosts.ip(["-n", ns, "link", "set", "dv1", "up"])
        }
        let file = try QEMUNetworkTests.write(Self.xml, h.dir, "dir.xml")
        let missingFile = try QEMUNetworkTests.write(Self.missing, h.dir, "nolink.xml")
        let daemons: [(ns: String, run: (String) throws -> ChildProcess.Result)] = [
            (h.ns, { try h.virtd.virsh($0) }), (refNS, { try virsh(refURI, $0) }),
        ]
        var results: [[String]] = []
        for d in daemons {
            var out: [String] = []
            func step(_ c: String) throws {
                let x = try d.run(c)
                out.append("$ \(c)\n\(x.stdout)\(x.stderr)rc=\(x.status)".replacingOccurrences(of: h.dir, with: "D"))
            }
            try step("define \(file)")
            out.append(Self.interfaces(try d.run("dumpxml dir --inactive").stdout))
            try step("start dir")
            out.append(Self.interfaces(try d.run("dumpxml dir").stdout))
            out.append("macvtaps: " + (try Self.macvtaps(d.ns)))
            try step("domiflist dir")
            let stat = try d.run("domifstat dir macvtap0")
            out.append("domifstat: rc=\(stat.status) " + stat.stdout.split(separator: "\n").map { l in
                String(l.split(separator: " ").dropLast().joined(separator: " "))
            }.joined(separator: ", "))
            try step("attach-interface dir direct dv0 --model virtio --mac 52:54:00:aa:bb:03 --live")
            out.append(Self.interfaces(try d.run("dumpxml dir").stdout))
            out.append("macvtaps: " + (try Self.macvtaps(d.ns)))
            // Without a guest OS the unplug stays pending (libvirt's 5 s, then success); the device goes with QEMU.
            try step("detach-interface dir direct --mac 52:54:00:aa:bb:03 --live")
            try step("create \(missingFile)")
            try step("destroy dir")
            out.append("macvtaps: " + (try Self.macvtaps(d.ns)))
            try step("undefine dir")
            results.append(out)
        }
        #expect(results[0] == results[1],
                "virtd:\n\(results[0].joined(separator: "\n"))\nlibvirtd:\n\(results[1].joined(separator: "\n"))")
        let o = results[0].joined(separator: "\n")
        #expect(o.contains("macvtap0@dv0 52:54:00:aa:bb:01 bridge up"), "\(o)")
        // virtd killed and started again: the domain adopted, its macvtaps deleted when it is destroyed.
        #expect(try h.virtd.virsh("create \(file)").status == 0)
        #expect(try Self.macvtaps(h.ns).contains("macvtap1@dv0"))
        h.virtd.kill9()
        try h.virtd.start()
        #expect(try h.virtd.virsh("domstate dir").stdout.contains("running"))
        #expect(try h.virtd.virsh("destroy dir").status == 0)
        #expect(try Self.macvtaps(h.ns) == "")
    }
}
