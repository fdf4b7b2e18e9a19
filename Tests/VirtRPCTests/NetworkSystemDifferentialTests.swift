import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The same network session through virtd (in a network namespace of the test) and through Debian's libvirtd
/// 9.0 (in another), driven by Debian's virsh: definitions and live XML (libvirt's bridge names, NAT's port
/// range), net-info, net-list, libvirt's errors for clashing bridges and subnets and for invalid operations,
/// and the dnsmasq config files both daemons write. UUIDs and generated MACs differ by nature and are
/// replaced before comparing; so are the files' directories.
@Suite("virtual networks on qemu:///system: virtd vs libvirtd 9.0", .serialized, .tags(.root, .referenceLibvirtd))
struct NetworkSystemDifferentialTests {
    static let natXML = """
    <network>
      <name>svnat</name>
      <forward mode='nat'/>
      <domain name='example.org'/>
      <ip address='192.168.150.1' netmask='255.255.255.0'>
        <dhcp>
          <range start='192.168.150.100' end='192.168.150.200'/>
          <host mac='52:54:00:11:22:33' name='fixed' ip='192.168.150.10'/>
        </dhcp>
      </ip>
    </network>
    """
    static let isoXML = """
    <network><name>sviso</name><ip address='192.168.151.1' prefix='24'>\
    <dhcp><range start='192.168.151.100' end='192.168.151.200'/></dhcp></ip></network>
    """
    static let routeXML = "<network><name>svroute</name><forward mode='route'/><ip address='192.168.160.1' prefix='24'/></network>"
    static let openXML = "<network><name>svopen</name><forward mode='open'/><bridge name='svopen0'/><ip address='192.168.161.1' prefix='24'/></network>"
    static let bridgeXML = "<network><name>svbr</name><forward mode='bridge'/><bridge name='svnosuch'/></network>"
    static let clashBridge = "<network><name>svclash</name><bridge name='virbr0'/></network>"
    static let clashNet = """
    <network><name>svclash</name><bridge name='svclash0'/><forward mode='nat'/>\
    <ip address='192.168.150.1' prefix='24'/></network>
    """

    static func normalise(_ s: String) -> String {
        var t = s
        for (pattern, with) in [("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID"),
                                ("52:54:00(:[0-9a-f]{2}){3}", "MAC")] {
            t = t.replacingOccurrences(of: pattern, with: with, options: .regularExpression)
        }
        // The fixed host's MAC is given, not generated.
        return t.replacingOccurrences(of: "mac='MAC' name='fixed'", with: "mac='52:54:00:11:22:33' name='fixed'")
    }

    /// dnsmasq's config with the directories replaced; our lease file line is ours (libvirt gets its leases
    /// through its lease helper named on dnsmasq's command line).
    static func normaliseConf(_ s: String, dirs: [String]) -> String {
        var t = s
        for d in dirs { t = t.replacingOccurrences(of: d + "/", with: "DIR/") }
        return t.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("dhcp-leasefile=") }.joined(separator: "\n")
    }

    @Test("definitions, live XML, info, list, errors and dnsmasq's config equal libvirtd's")
    func sameSession() throws {
        let h = try NetworkNamespaces()
        defer { h.cleanup() }
        let refNS = h.ns + "r"
        try MigrationHosts.ip(["netns", "add", refNS])
        defer { _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", refNS], timeLimit: 30) }
        let ref = try ReferenceLibvirtd(privateDomainConfig: true, prefix: ["/usr/sbin/ip", "netns", "exec", refNS])
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"
        defer {
            // libvirtd leaves its networks (and their dnsmasq) running when it stops: destroyed first.
            let names = ((try? virsh(refURI, "net-list --name").stdout) ?? "").split(separator: "\n")
            for n in names where !n.trimmingCharacters(in: .whitespaces).isEmpty { _ = try? virsh(refURI, "net-destroy \(n)") }
            ref.stop()
        }
        var files: [String: String] = [:]
        for (name, xml) in [("nat", Self.natXML), ("iso", Self.isoXML), ("route", Self.routeXML), ("open", Self.openXML),
                            ("br", Self.bridgeXML), ("c1", Self.clashBridge), ("c2", Self.clashNet)] {
            files[name] = try QEMUNetworkTests.write(xml, h.dir, name + ".xml")
        }
        let f = { (n: String) in files[n] ?? "" }
        let steps: [[String]] = [
            ["net-define", f("nat")], ["net-dumpxml", "svnat"], ["net-info", "svnat"], ["net-start", "svnat"],
            ["net-dumpxml", "svnat"], ["net-dumpxml", "--inactive", "svnat"], ["net-info", "svnat"],
            ["net-define", f("iso")], ["net-start", "sviso"], ["net-dumpxml", "sviso"],
            ["net-create", f("route")], ["net-dumpxml", "svroute"], ["net-create", f("open")], ["net-dumpxml", "svopen"],
            ["net-define", f("br")], ["net-start", "svbr"], ["net-dumpxml", "svbr"], ["net-info", "svbr"],
            ["net-create", f("c1")], ["net-create", f("c2")], ["net-start", "sviso"], ["net-undefine", "svroute"],
            ["net-autostart", "svroute"], ["net-autostart", "sviso"], ["net-list", "--all"],
            ["net-list", "--all", "--autostart"], ["net-list", "--transient"],
            ["net-update", "svnat", "add", "ip-dhcp-host", "<host mac='52:54:00:44:55:66' name='two' ip='192.168.150.11'/>",
             "--live", "--config"],
            ["net-dumpxml", "svnat"], ["net-dumpxml", "--inactive", "svnat"],
            ["net-update", "svnat", "delete", "ip-dhcp-host", "<host mac='52:54:00:11:22:33'/>", "--config"],
            ["net-dumpxml", "--inactive", "svnat"],
            ["net-destroy", "svroute"], ["net-dumpxml", "svroute"], ["net-destroy", "svnat"], ["net-destroy", "svnat"],
            ["net-dumpxml", "svnat"], ["net-undefine", "svbr"], ["net-list", "--all"],
        ]
        var confs: [String: (ours: String, theirs: String)] = [:]
        for step in steps {
            let ours = try h.virtd.virsh(args: step)
            let theirs = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI] + step, timeLimit: 60)
            let o = "\(ours.status)\n\(Self.normalise(ours.stdout))\(Self.normalise(ours.stderr))"
            let t = "\(theirs.status)\n\(Self.normalise(theirs.stdout))\(Self.normalise(theirs.stderr))"
            #expect(o == t, "virsh \(step.joined(separator: " "))")
            // Right after each start: the dnsmasq config of both.
            // (svbr, bridge mode, has no dnsmasq.)
            if step.first == "net-start" || step.first == "net-create", ours.status == 0, step[1] != "svbr" {
                let name = step[0] == "net-start" ? step[1] : (step[1].hasSuffix("route.xml") ? "svroute" : "svopen")
                let mine = (try? String(contentsOfFile: h.virtd.dir + "/run/networks/dnsmasq/\(name).conf", encoding: .utf8)) ?? ""
                let theirsConf = try ChildProcess.run(["/usr/bin/nsenter", "-t", String(ref.pid), "-m", "cat",
                                                       "/var/lib/libvirt/dnsmasq/\(name).conf"], timeLimit: 30).stdout
                confs[name] = (Self.normaliseConf(mine, dirs: [h.virtd.dir + "/run/networks/dnsmasq"]),
                               Self.normaliseConf(theirsConf, dirs: ["/var/lib/libvirt/dnsmasq", "/run/libvirt/network"]))
            }
        }
        #expect(Set(confs.keys) == ["svnat", "sviso", "svroute", "svopen"])
        for (name, c) in confs.sorted(by: { $0.key < $1.key }) {
            #expect(c.ours == c.theirs, "dnsmasq config of \(name)")
            #expect(!c.ours.isEmpty)
        }
    }
}
