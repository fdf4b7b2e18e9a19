import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `domifaddr --source arp` against a real neighbour table: virtd in a network namespace of the test and
/// Debian's libvirtd 9.0 in another, each with the same NAT network (same bridge name, MAC and addresses) and the
/// same TCG guest (same MAC), which leases an address from the network's dnsmasq and pings the gateway, so that
/// the namespace's neighbour table has the guest. Debian's virsh and python3-libvirt then ask both daemons.
///
/// libvirtd 9.0 reads the table with a single netlink receive and fails with "wrong nlmsg len" when the dump's
/// NLMSG_DONE comes in that same batch, as Linux 6.x sends it for a small table. Both namespaces therefore get
/// 80 permanent IPv6 neighbours on a spare bridge: the kernel dumps the IPv4 table first, and the first batch
/// (about 3.7 kB) ends before NLMSG_DONE. Neither daemon lists IPv6 or permanent entries, so the filler changes
/// nothing else. virtd reads the whole dump.
@Suite("domifaddr --source arp: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUArpSourceTests {
    static let mac = "52:54:00:5e:0a:01"
    static let networkXML = """
    <network>
      <name>svarp</name>
      <forward mode='nat'/>
      <bridge name='virbr0'/>
      <mac address='52:54:00:0a:0b:01'/>
      <ip address='192.168.150.1' netmask='255.255.255.0'>
        <dhcp><range start='192.168.150.100' end='192.168.150.200'/></dhcp>
      </ip>
    </network>
    """

    static let python = """
    import libvirt, sys
    conn = libvirt.open(sys.argv[1])
    dom = conn.lookupByName("ga")
    print(sorted(dom.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP).items()))
    print(conn.lookupByName("idle").interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP))
    """

    /// The filler: a bridge with 80 permanent IPv6 neighbours (see the suite's comment).
    static func fill(_ ns: String, dir: String) throws {
        try MigrationHosts.ip(["-n", ns, "link", "add", "svfill0", "type", "bridge"])
        try MigrationHosts.ip(["-n", ns, "link", "set", "svfill0", "up"])
        let batch = (1...80).map { "neigh add fd00::\($0) lladdr 52:54:00:fe:00:\(String(format: "%02x", $0)) dev svfill0 nud permanent" }
        try (batch.joined(separator: "\n") + "\n").write(toFile: dir + "/fill.batch", atomically: true, encoding: .utf8)
        try MigrationHosts.ip(["-n", ns, "-batch", dir + "/fill.batch"])
    }

    /// The guest's entry in `ns`'s table, once the kernel confirmed it (REACHABLE or STALE, the states libvirt
    /// keeps; right after the ping it is DELAY or PROBE for a few seconds).
    static func confirmed(_ ns: String, _ ip: String) -> Bool {
        let out = (try? ChildProcess.run(["/usr/sbin/ip", "-n", ns, "-4", "neigh", "show", ip, "dev", "virbr0"],
                                         timeLimit: 30).stdout) ?? ""
        return out.contains("lladdr \(mac)") && (out.contains("REACHABLE") || out.contains("STALE"))
    }

    @Test("the guest's address from the neighbour table; duplicates, permanent and IPv6 entries as libvirtd 9.0")
    func arpSource() throws {
        let h = try NetworkNamespaces()
        defer { h.cleanup() }
        let refNS = h.ns + "r"
        try MigrationHosts.ip(["netns", "add", refNS])
        defer { _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", refNS], timeLimit: 30) }
        // libvirtd's guests log through virtlogd, started in its mount namespace beside it.
        let virtlogdPID = h.dir + "/virtlogd.pid"
        let ref = try ReferenceLibvirtd(privateDomainConfig: true, namespaceSetup: "/usr/sbin/virtlogd -p '\(virtlogdPID)' & ",
                                        prefix: ["/usr/sbin/ip", "netns", "exec", refNS])
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"
        defer {
            // libvirtd leaves its guests and networks (with their dnsmasq) running when it stops.
            for d in ["ga", "idle"] { _ = try? virsh(refURI, "destroy \(d)") }
            _ = try? virsh(refURI, "net-destroy svarp")
            ref.stop()
            if let s = try? String(contentsOfFile: virtlogdPID, encoding: .utf8),
               let pid = Int32(s.trimmingCharacters(in: .whitespacesAndNewlines)) {
                ProcFS.kill(pid, SIGTERM, ifExecutable: "virtlogd")
            }
        }
        let v = h.virtd!
        let daemons: [(label: String, ns: String, uri: String)] = [("virtd", h.ns, v.uri), ("libvirtd", refNS, refURI)]

        // One guest definition for both: the test guest copied where libvirtd's QEMU user can read it.
        let guest = try TestGuest.load(format: 5)
        for (from, to) in [(guest.kernel, "vmlinuz"), (guest.initrd, "initrd.img")] {
            try FileManager.default.copyItem(atPath: from, toPath: h.dir + "/" + to)
            chmod(h.dir + "/" + to, 0o644)
        }
        let xml = try h.guestXML(name: "ga", network: "svarp", mac: Self.mac)
            .replacingOccurrences(of: guest.kernel, with: h.dir + "/vmlinuz")
            .replacingOccurrences(of: guest.initrd, with: h.dir + "/initrd.img")
        let guestFile = try QEMUNetworkTests.write(xml, h.dir, "ga.xml")
        let netFile = try QEMUNetworkTests.write(Self.networkXML, h.dir, "net.xml")
        for d in daemons {
            // A running domain without any NIC (SeaBIOS idling): an empty list. Its serial log in the daemon's dir.
            let idle = try QEMUNetworkTests.write(
                QEMUGuestAgentProofTests.idleXML(name: "idle", channel: false, dir: d.label == "virtd" ? v.dir : ref.dir),
                h.dir, "idle-\(d.label).xml")
            for cmd in ["net-define \(netFile)", "net-start svarp", "define \(guestFile)", "start ga", "define \(idle)",
                        "start idle"] {
                let r = try virsh(d.uri, cmd)
                #expect(r.status == 0, "\(d.label) \(cmd): \(r.stderr)")
            }
            // The namespace's table is small: libvirtd 9.0 trips over the NLMSG_DONE in its one batch, virtd not.
            let small = try virsh(d.uri, "domifaddr idle --source arp")
            if d.label == "libvirtd" {
                #expect(small.status != 0 && small.stderr.contains("error: internal error: wrong nlmsg len"), "\(small)")
            } else {
                #expect(small.status == 0, "\(small.stderr)")
            }
            try Self.fill(d.ns, dir: h.dir)
        }

        // Each guest leases an address and pings the gateway; the namespace's table then has it.
        var guestIP: [String: String] = [:]
        for d in daemons {
            _ = eventually(180) {
                let leases = (try? virsh(d.uri, "net-dhcp-leases svarp").stdout) ?? ""
                for line in leases.split(separator: "\n") where line.contains(Self.mac) {
                    guestIP[d.label] = line.split(separator: " ").first { $0.hasPrefix("192.168.150.") }
                        .map { String($0.split(separator: "/")[0]) }
                }
                return guestIP[d.label] != nil
            }
            let ip = try #require(guestIP[d.label], "\(d.label): no lease")
            #expect(try GuestConsole.run(uri: d.uri, name: "ga", command: "ping -c 2 -W 2 192.168.150.1 >/dev/null && echo SV-PING-$((40+2))",
                                         expect: "SV-PING-42", dir: h.dir), "\(d.label)")
            #expect(eventually(60) { Self.confirmed(d.ns, ip) }, "\(d.label): the guest's neighbour entry never settled")
        }
        let ourIP = try #require(guestIP["virtd"])

        // virsh, vsh and python3-libvirt on virtd: the guest's NIC by its tap, its leased address, prefix 0.
        let ours = try v.virsh("domifaddr ga --source arp")
        #expect(ours.status == 0 && ours.stdout == " Name       MAC address          Protocol     Address\n"
                + String(repeating: "-", count: 79) + "\n"
                + " vnet0      \(Self.mac)    ipv4         \(ourIP)/0\n\n", "\(ours.stdout) \(ours.stderr)")
        let vsh = try v.virsh(args: ["domifaddr", "ga", "--source", "arp"], client: TestPaths.vsh)
        #expect(vsh.stdout == ours.stdout, "\(vsh.stdout) \(vsh.stderr)")
        try Self.python.write(toFile: h.dir + "/arp.py", atomically: true, encoding: .utf8)
        var py: [String: String] = [:]
        for d in daemons {
            let r = try ChildProcess.run(["/usr/bin/python3", h.dir + "/arp.py", d.uri], timeLimit: 60)
            #expect(r.status == 0, "\(d.label): \(r.stderr)")
            py[d.label] = r.stdout.replacingOccurrences(of: guestIP[d.label] ?? "-", with: "GUEST")
        }
        #expect(py["virtd"] == """
            [('vnet0', {'addrs': [{'addr': 'GUEST', 'prefix': 0, 'type': 0}], 'hwaddr': '\(Self.mac)'})]
            {}

            """, "\(py["virtd"] ?? "")")
        #expect(py["virtd"] == py["libvirtd"], "python3-libvirt:\n virtd    \(py["virtd"] ?? "")\n libvirtd \(py["libvirtd"] ?? "")")

        // More entries with the guest's MAC: a second IPv4 neighbour (STALE) is a second interface of the same
        // name; a permanent one (which /proc/net/arp lists) and an IPv6 one are not listed.
        for d in daemons {
            for args in [["192.168.150.251", "virbr0", "stale"], ["192.168.150.250", "virbr0", "permanent"],
                         ["fd01::5", "svfill0", "stale"]] {
                try MigrationHosts.ip(["-n", d.ns, "neigh", "replace", args[0], "lladdr", Self.mac, "dev", args[1],
                                       "nud", args[2]])
            }
        }
        var outputs: [String: String] = [:]
        let commands = "domifaddr ga --source arp; domifaddr idle --source arp; domifaddr ga --source arp --full"
        for d in daemons {
            let r = try virsh(d.uri, commands)
            if d.label == "virtd" {
                let vshDup = try v.virsh(args: [commands], client: TestPaths.vsh)
                #expect(vshDup.stdout == r.stdout && vshDup.status == r.status, "vsh: \(vshDup.stdout) \(vshDup.stderr)")
            }
            // The entries come in the kernel's hash order, which may differ between namespaces: lines compared sorted.
            outputs[d.label] = "\(r.status)\n" + r.stderr + r.stdout.replacingOccurrences(of: guestIP[d.label] ?? "-", with: "GUEST")
                .split(separator: "\n", omittingEmptySubsequences: false).sorted().joined(separator: "\n")
        }
        let mine = outputs["virtd"] ?? ""
        #expect(mine.contains(" vnet0      \(Self.mac)    ipv4         192.168.150.251/0"), "\(mine)")
        #expect(mine.contains(" vnet0      \(Self.mac)    ipv4         GUEST/0"), "\(mine)")
        #expect(!mine.contains("192.168.150.250") && !mine.contains("fd01::5"), "\(mine)")
        #expect(outputs["virtd"] == outputs["libvirtd"], "virsh:\n virtd    \(mine)\n libvirtd \(outputs["libvirtd"] ?? "")")
        let procArp = (try? h.inNS(["/bin/cat", "/proc/net/arp"]).stdout) ?? ""
        #expect(procArp.contains("192.168.150.250"), "\(procArp)")

        // A domain that is not running: libvirt's error.
        _ = try v.virsh("destroy idle")
        _ = try virsh(refURI, "destroy idle")
        let a = try v.virsh("domifaddr idle --source arp")
        let b = try virsh(refURI, "domifaddr idle --source arp")
        #expect(a.status == b.status && a.stderr == b.stderr, "\(a.stderr) vs \(b.stderr)")
    }
}
