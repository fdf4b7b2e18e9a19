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
/// Debian's libvirtd in a network namespace of its own (the test's virtd namespace name + "r"). `stop()`
/// destroys its networks first (libvirtd leaves them, with their dnsmasq, running when it stops), then stops it
/// and deletes the namespace.
final class NamespacedReference {
    let ns: String
    let daemon: ReferenceLibvirtd
    var uri: String { "qemu+unix:///system?socket=\(daemon.socket)" }

    init(_ h: NetworkNamespaces) throws {
        ns = h.ns + "r"
        try MigrationHosts.ip(["netns", "add", ns])
        do {
            daemon = try ReferenceLibvirtd(privateDomainConfig: true, prefix: ["/usr/sbin/ip", "netns", "exec", ns])
        } catch {
            _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", ns], timeLimit: 30)
            throw error
        }
    }

    func stop() {
        let names = ((try? virsh(uri, "net-list --name").stdout) ?? "").split(separator: "\n")
        for n in names where !n.trimmingCharacters(in: .whitespaces).isEmpty { _ = try? virsh(uri, "net-destroy \(n)") }
        daemon.stop()
        _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", ns], timeLimit: 30)
    }
}

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
        let r = try NamespacedReference(h)
        defer { r.stop() }
        let (ref, refURI) = (r.daemon, r.uri)
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

    static let v6Networks: [(file: String, name: String?, xml: String)] = [
        ("v6nat", "sv6", """
            <network><name>sv6</name><forward mode='nat'/>\
            <ip address='192.168.170.1' prefix='24'><dhcp><range start='192.168.170.100' end='192.168.170.200'/></dhcp></ip>\
            <ip family='ipv6' address='fd00:170::1' prefix='64'><dhcp><range start='fd00:170::100' end='fd00:170::1ff'/>\
            <host id='0:3:0:1:52:54:0:aa:bb:cc' name='six' ip='fd00:170::10'/><host name='byname' ip='fd00:170::11'/>\
            </dhcp></ip></network>
            """),
        ("v6ra", "sv6ra", """
            <network><name>sv6ra</name><forward mode='route'/><ip family='ipv6' address='fd00:171::1' prefix='64'/>\
            <ip family='ipv6' address='fd00:172::1' prefix='64'/></network>
            """),
        ("v6iso", "sv6iso", """
            <network><name>sv6iso</name><ip family='ipv6' address='fd00:173::1' prefix='64'><dhcp>\
            <range start='fd00:173::100' end='fd00:173::1ff'><lease expiry='2' unit='hours'/></range></dhcp></ip></network>
            """),
        ("static", "svst", """
            <network><name>svst</name><mtu size='9000'/><ip address='192.168.180.1' prefix='24'><dhcp>\
            <host mac='52:54:00:11:22:33' name='fixed' ip='192.168.180.10'/><host name='named' ip='192.168.180.11'/>\
            </dhcp></ip><ip family='ipv6' address='fd00:180::1' prefix='64'><dhcp><host id='0:3:0:1:52:54:0:aa:bb:cc' \
            ip='fd00:180::10'><lease expiry='1' unit='hours'/></host></dhcp></ip>\
            <ip family='ipv6' address='fd00:181::1' prefix='64'/></network>
            """),
        ("nodns", "svnodns", """
            <network><name>svnodns</name><dns enable='no'/><ip address='192.168.182.1' prefix='24'><dhcp>\
            <range start='192.168.182.10' end='192.168.182.20'/></dhcp></ip></network>
            """),
        ("dns", "svdns", """
            <network><name>svdns</name><forward mode='nat'/><domain name='ex.org' localOnly='yes'/>\
            <dns forwardPlainNames='no'><forwarder domain='a.org' addr='10.0.0.1'/><forwarder domain='b.org'/>\
            <forwarder addr='10.0.0.2'/><txt name='t' value='v'/></dns>\
            <ip address='192.168.190.1' prefix='24' localPtr='yes'><dhcp><range start='192.168.190.10' end='192.168.190.20'/>\
            </dhcp></ip><ip family='ipv6' address='fd00:190::1' prefix='64' localPtr='yes'/></network>
            """),
        ("big6", nil, """
            <network><name>svbig</name><ip family='ipv6' address='fd00:183::1' prefix='64'><dhcp>\
            <range start='fd00:183::100' end='fd00:183::1:ffff'/></dhcp></ip></network>
            """),
        ("ptr20", nil, """
            <network><name>svptr</name><ip address='10.20.0.1' prefix='20' localPtr='yes'/></network>
            """),
    ]

    /// Runs dhcpcd (Debian's, DHCPv6 only, once) on a veth whose other end is on `bridge` in namespace `ns`,
    /// from a namespace of its own; returns the global IPv6 address the client configured.
    static func dhcpv6Client(ns: String, bridge: String, tag: String, dir: String) throws -> String? {
        let client = ns + "c"
        try MigrationHosts.ip(["netns", "add", client])
        defer { _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", client], timeLimit: 30) }
        // Made inside the namespaces: the pair never shows in the host's own (where other tests list links).
        try MigrationHosts.ip(["link", "add", "d6\(tag)a", "netns", ns, "type", "veth", "peer", "name", "d6\(tag)b",
             "netns", client])
        try MigrationHosts.ip(["-n", ns, "link", "set", "d6\(tag)a", "master", bridge, "up"])
        try MigrationHosts.ip(["-n", client, "link", "set", "d6\(tag)b", "address", "52:54:00:12:34:56", "up"])
        // dhcpcd keeps its DUID and leases under /var/lib/dhcpcd and /run/dhcpcd: private ones here, and no
        // hook script (it would rewrite the host's resolv.conf).
        let r = try ChildProcess.run(["/usr/sbin/ip", "netns", "exec", client, "/usr/bin/unshare", "-m", "/bin/sh", "-c",
                                      "mkdir -p /var/lib/dhcpcd /run/dhcpcd && mount -t tmpfs tmpfs /var/lib/dhcpcd && "
                                      + "mount -t tmpfs tmpfs /run/dhcpcd && exec /usr/sbin/dhcpcd -6 -1 -B -t 30 "
                                      + "-c /bin/true -f /dev/null d6\(tag)b"], timeLimit: 60)
        #expect(r.status == 0, "dhcpcd: \(r.stdout)\(r.stderr)")
        let a = try ChildProcess.run(["/usr/sbin/ip", "-n", client, "-6", "-o", "addr", "show", "dev", "d6\(tag)b", "scope", "global"],
                                     timeLimit: 30).stdout
        return a.split(separator: " ").first { $0.contains("fd00:170::") }.map { String($0.split(separator: "/")[0]) }
    }

    @Test("IPv6 and DNS options: dnsmasq's config and hosts file, the bridges' sysctls, errors, and a DHCPv6 lease from Debian's dhcpcd in net-dhcp-leases, as libvirtd's")
    func ipv6() throws {
        let h = try NetworkNamespaces()
        defer { h.cleanup() }
        let r = try NamespacedReference(h)
        defer { r.stop() }
        let (ref, refNS, refURI) = (r.daemon, r.ns, r.uri)
        func sysctls(_ ns: String, _ bridges: [String]) throws -> String {
            var keys = ["net.ipv6.conf.all.forwarding"]
            for b in bridges { keys += ["disable_ipv6", "accept_ra", "autoconf"].map { "net.ipv6.conf.\(b).\($0)" } }
            return try ChildProcess.run(["/usr/sbin/ip", "netns", "exec", ns, "/usr/sbin/sysctl"] + keys, timeLimit: 30).stdout
        }
        var bridges: [String] = []
        for net in Self.v6Networks {
            let file = try QEMUNetworkTests.write(net.xml, h.dir, net.file + ".xml")
            let ours = try h.virtd.virsh(args: ["net-create", file])
            let theirs = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "net-create", file], timeLimit: 60)
            #expect(ours.status == theirs.status && ours.stdout == theirs.stdout && ours.stderr == theirs.stderr,
                    "net-create \(net.file): \(ours.stdout)\(ours.stderr) -- libvirtd: \(theirs.stdout)\(theirs.stderr)")
            guard let name = net.name, ours.status == 0 else { continue }
            let dump = try h.virtd.virsh(args: ["net-dumpxml", name])
            let refDump = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "net-dumpxml", name], timeLimit: 60)
            #expect(Self.normalise(dump.stdout) == Self.normalise(refDump.stdout), "net-dumpxml \(name)")
            if let b = dump.stdout.range(of: "<bridge name='") {
                bridges.append(String(dump.stdout[b.upperBound...].prefix { $0 != "'" }))
            }
            for ext in ["conf", "hostsfile"] {
                let mine = (try? String(contentsOfFile: h.virtd.dir + "/run/networks/dnsmasq/\(name).\(ext)", encoding: .utf8)) ?? ""
                let theirsFile = try ChildProcess.run(["/usr/bin/nsenter", "-t", String(ref.pid), "-m", "cat",
                                                       "/var/lib/libvirt/dnsmasq/\(name).\(ext)"], timeLimit: 30).stdout
                #expect(Self.normaliseConf(mine, dirs: [h.virtd.dir + "/run/networks/dnsmasq"])
                        == Self.normaliseConf(theirsFile, dirs: ["/var/lib/libvirt/dnsmasq", "/run/libvirt/network"]),
                        "\(name).\(ext)")
            }
        }
        #expect(bridges.count == 6)
        #expect(try sysctls(h.ns, bridges) == (try sysctls(refNS, bridges)))

        // A DHCPv6 client on sv6 (the first bridge) of each daemon, with the same MAC address.
        let tag = String(h.ns.suffix(5))
        let ourAddr = try Self.dhcpv6Client(ns: h.ns, bridge: bridges[0], tag: tag + "o", dir: h.dir)
        let refAddr = try Self.dhcpv6Client(ns: refNS, bridge: bridges[0], tag: tag + "r", dir: h.dir)
        #expect(ourAddr != nil && refAddr != nil)
        // The lease as virsh prints it, the expiry time and the address's last part (dnsmasq picks it from the
        // client's DUID, whose time differs) and the DUID's time masked.
        func lease(_ text: String, _ addr: String?) -> String {
            var t = text
            if let addr { t = t.replacingOccurrences(of: addr, with: "ADDR") }
            for (p, w) in [("[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}", "TIME"),
                           ("00:01:00:01(:[0-9a-f]{2}){4}:", "00:01:00:01:T:")] {
                t = t.replacingOccurrences(of: p, with: w, options: .regularExpression)
            }
            return t
        }
        let mine = try h.virtd.virsh(args: ["net-dhcp-leases", "sv6"])
        let theirs = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "net-dhcp-leases", "sv6"], timeLimit: 60)
        #expect(mine.stdout.contains("52:54:00:12:34:56   ipv6"), "\(mine.stdout)")
        #expect(lease(mine.stdout, ourAddr) == lease(theirs.stdout, refAddr), "\(mine.stdout)\n-- libvirtd:\n\(theirs.stdout)")
        let byMAC = try h.virtd.virsh(args: ["net-dhcp-leases", "sv6", "--mac", "52:54:00:12:34:56"])
        #expect(lease(byMAC.stdout, ourAddr) == lease(mine.stdout, ourAddr))
    }
}
