import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// virtd inside a network namespace of the test, with an "upstream" namespace joined to it by a veth pair
/// (the upstream knows a route back to the guests' subnets, as a router would, so only the network's
/// firewall decides what gets through). A listener in the upstream namespace logs the source address of every
/// connection. `cleanup()` stops the listener and the daemon, kills the QEMUs under the daemon's root and
/// deletes both namespaces (the bridges, taps, dnsmasq's sockets and our nftables tables go with them).
final class NetworkNamespaces {
    let ns: String
    let upstreamNS: String
    /// The daemon namespace's address on the veth (what the NAT rewrites guest addresses to) and upstream's.
    let hostIP: String
    let upstreamIP: String
    let listenPort = 7777
    let dir: String
    private(set) var virtd: RestartableVirtd!
    private var listener: ChildProcess?
    var listenerLog: String { dir + "/listener.log" }

    static let listenerScript = #"""
    import socket, sys
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen(16)
    while True:
        c, addr = s.accept()
        with open(sys.argv[3], "a") as f:
            f.write("FROM " + addr[0] + "\n")
        c.close()
    """#

    init() throws {
        try TestHost.requireRoot()
        let tag = String(format: "%05d", Int.random(in: 0..<100_000))
        ns = "svn\(tag)"
        upstreamNS = "svn\(tag)u"
        let net = Int.random(in: 1..<250)
        hostIP = "172.31.\(net).1"
        upstreamIP = "172.31.\(net).2"
        dir = try TestPaths.makeTempDir("net", mode: 0o755)
        do {
            try MigrationHosts.ip(["netns", "add", ns])
            try MigrationHosts.ip(["netns", "add", upstreamNS])
            // Made inside the namespaces: the pair never shows in the host's own (where other tests list links).
            try MigrationHosts.ip(["link", "add", "sn\(tag)a", "netns", ns, "type", "veth", "peer", "name", "sn\(tag)b",
                 "netns", upstreamNS])
            for (n, dev, ip) in [(ns, "sn\(tag)a", hostIP), (upstreamNS, "sn\(tag)b", upstreamIP)] {
                try MigrationHosts.ip(["-n", n, "addr", "add", ip + "/24", "dev", dev])
                try MigrationHosts.ip(["-n", n, "link", "set", dev, "up"])
                try MigrationHosts.ip(["-n", n, "link", "set", "lo", "up"])
            }
            try MigrationHosts.ip(["-n", upstreamNS, "route", "add", "192.168.0.0/16", "via", hostIP])
            try MigrationHosts.ip(["-n", ns, "route", "add", "default", "via", upstreamIP])
            try Self.listenerScript.write(toFile: dir + "/listener.py", atomically: true, encoding: .utf8)
            FileManager.default.createFile(atPath: listenerLog, contents: Data())
            listener = try ChildProcess.spawn(["/usr/sbin/ip", "netns", "exec", upstreamNS, "/usr/bin/python3",
                                               dir + "/listener.py", upstreamIP, String(listenPort), listenerLog],
                                              output: .file(dir + "/listener.out"))
            virtd = try RestartableVirtd(prefix: ["/usr/sbin/ip", "netns", "exec", ns])
        } catch {
            cleanup()
            throw error
        }
    }

    /// A command in the daemon's namespace.
    func inNS(_ argv: [String]) throws -> ChildProcess.Result {
        try ChildProcess.run(["/usr/sbin/ip", "netns", "exec", ns] + argv, timeLimit: 60)
    }

    func linkExists(_ name: String) throws -> Bool {
        try ChildProcess.run(["/usr/sbin/ip", "-n", ns, "link", "show", "dev", name], timeLimit: 30).status == 0
    }

    func nftTables() throws -> String { try inNS(["/usr/sbin/nft", "list", "tables"]).stdout }

    /// The dnsmasq of a network of the daemon: its pid file's process, if it runs dnsmasq.
    func dnsmasqPID(_ network: String) -> Int32? {
        let path = virtd.dir + "/run/networks/dnsmasq/\(network).pid"
        guard let s = try? String(contentsOfFile: path, encoding: .utf8),
              let pid = Int32(s.trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
        return Self.runsDnsmasq(pid) ? pid : nil
    }

    static func runsDnsmasq(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)...].prefix(1)
        guard state != "Z" && state != "X",
              let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: cmd, as: UTF8.self).contains("dnsmasq")
    }

    func sources() -> [String] {
        ((try? String(contentsOfFile: listenerLog, encoding: .utf8)) ?? "").split(separator: "\n")
            .map { String($0.dropFirst("FROM ".count)) }
    }

    func cleanup() {
        listener?.terminate()
        listener = nil
        if let virtd {
            // dnsmasq runs apart from the daemon: ended by its pid file's PID (checked to be dnsmasq).
            let dnsDir = virtd.dir + "/run/networks/dnsmasq"
            for f in (try? FileManager.default.contentsOfDirectory(atPath: dnsDir)) ?? [] where f.hasSuffix(".pid") {
                if let s = try? String(contentsOfFile: dnsDir + "/" + f, encoding: .utf8),
                   let pid = Int32(s.trimmingCharacters(in: .whitespacesAndNewlines)), Self.runsDnsmasq(pid) {
                    kill(pid, SIGKILL)
                }
            }
            virtd.cleanup()
        }
        _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", ns], timeLimit: 30)
        _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", upstreamNS], timeLimit: 30)
        try? FileManager.default.removeItem(atPath: dir)
    }

    deinit { cleanup() }

    /// The test guest (TCG) with a pty console and one virtio NIC on `network`, its MAC given.
    func guestXML(name: String, network: String, mac: String) throws -> String {
        let guest = try TestGuest.load(format: 5)
        return """
        <domain type='qemu'>
          <name>\(name)</name>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='q35'>hvm</type><kernel>\(guest.kernel)</kernel>\
        <initrd>\(guest.initrd)</initrd><cmdline>\(guest.cmdline)</cmdline></os>
          <features><acpi/></features>
          <devices><serial type='pty'/><console type='pty'/>
            <interface type='network'><mac address='\(mac)'/><source network='\(network)'/><model type='virtio'/></interface>
          </devices>
        </domain>
        """
    }
}

/// libvirt's virtual networks on qemu:///system through virtd, driven by Debian's virsh: a NAT network and an
/// isolated one (bridges, dnsmasq, our nftables tables), TCG guests that get their addresses by DHCP from our
/// dnsmasq, reach each other, reach the upstream namespace masqueraded (NAT network) or not at all (isolated),
/// the daemon killed and started again adopting the running networks, and everything gone after net-destroy.
@Suite("virtual networks on qemu:///system", .serialized, .tags(.qemu, .root))
struct QEMUNetworkTests {
    static let natXML = """
    <network>
      <name>svnat</name>
      <forward mode='nat'/>
      <ip address='192.168.150.1' netmask='255.255.255.0'>
        <dhcp><range start='192.168.150.100' end='192.168.150.200'/></dhcp>
      </ip>
    </network>
    """
    static let isolatedXML = """
    <network>
      <name>sviso</name>
      <ip address='192.168.151.1' prefix='24'>
        <dhcp><range start='192.168.151.100' end='192.168.151.200'/></dhcp>
      </ip>
    </network>
    """

    static func write(_ text: String, _ dir: String, _ name: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Debian's `virsh net-event --all --loop` (line-buffered through stdbuf: virsh does not flush its event
    /// lines), ready once the events of a marker network it saw defined and undefined are in its output.
    static func netEventWatcher(_ v: RestartableVirtd, _ dir: String, _ file: String) throws -> ChildProcess {
        let p = try ChildProcess.spawn(["/usr/bin/stdbuf", "-oL", "/usr/bin/virsh", "-c", v.uri, "net-event",
                                        "--loop", "--event", "lifecycle"], output: .file(dir + "/" + file))
        let marker = try write("<network><name>svmark</name></network>", dir, "mark.xml")
        let seen = eventually(30) {
            _ = try? v.virsh("net-define \(marker)")
            _ = try? v.virsh("net-undefine svmark")
            return ((try? String(contentsOfFile: dir + "/" + file, encoding: .utf8)) ?? "").contains("svmark: Undefined")
        }
        if !seen { p.terminate() }
        try #require(seen, "virsh net-event never reported the marker network")
        return p
    }

    @Test("NAT and isolated networks: DHCP leases, guests ping each other, masquerade, isolation, restart, destroy")
    func natAndIsolated() throws {
        let h = try NetworkNamespaces()
        defer { h.cleanup() }
        let v = h.virtd!
        let watcher = try Self.netEventWatcher(v, h.dir, "net-events")
        defer { watcher.terminate() }

        // Define: libvirt's bridge name (virbr0, the first free one) and a generated 52:54:00 MAC.
        var r = try v.virsh("net-define \(try Self.write(Self.natXML, h.dir, "nat.xml"))")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Network svnat defined from"), "\(r.stdout)")
        let inactive = try v.virsh("net-dumpxml svnat").stdout
        #expect(inactive.contains("<bridge name='virbr0' stp='on' delay='0'/>"), "\(inactive)")
        #expect(inactive.contains("<mac address='52:54:00:"), "\(inactive)")
        #expect(try v.virsh("net-info svnat").stdout.contains("Active:         no"))

        r = try v.virsh("net-start svnat")
        #expect(r.status == 0, "\(r.stderr)")
        let info = try v.virsh("net-info svnat").stdout
        for line in ["Name:           svnat", "Active:         yes", "Persistent:     yes", "Autostart:      no",
                     "Bridge:         virbr0"] {
            #expect(info.contains(line), "\(info)")
        }
        #expect(try h.linkExists("virbr0"))
        let addr = try ChildProcess.run(["/usr/sbin/ip", "-n", h.ns, "-4", "addr", "show", "dev", "virbr0"],
                                        timeLimit: 30).stdout
        #expect(addr.contains("inet 192.168.150.1/24"), "\(addr)")
        #expect(try h.nftTables().contains("table inet swiftvirt_virbr0"))
        let natPID = h.dnsmasqPID("svnat")
        #expect(natPID != nil)
        // dnsmasq blocks no signal (SIGHUP re-reads its hosts files, SIGTERM ends it).
        if let natPID {
            let status = (try? String(contentsOfFile: "/proc/\(natPID)/status", encoding: .utf8)) ?? ""
            #expect(status.contains("SigBlk:\t0000000000000000\n"), "\(status)")
        }
        let conf = (try? String(contentsOfFile: v.dir + "/run/networks/dnsmasq/svnat.conf", encoding: .utf8)) ?? ""
        #expect(conf.contains("interface=virbr0\n"), "\(conf)")
        #expect(conf.contains("dhcp-range=192.168.150.100,192.168.150.200,255.255.255.0\n"), "\(conf)")
        #expect(conf.contains("dhcp-lease-max=101\n"), "\(conf)")

        // The isolated network: the next bridge name, its own table (rejects only), its dnsmasq.
        r = try v.virsh("net-define \(try Self.write(Self.isolatedXML, h.dir, "iso.xml"))")
        #expect(r.status == 0, "\(r.stderr)")
        r = try v.virsh("net-start sviso")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try v.virsh("net-info sviso").stdout.contains("Bridge:         virbr1"))
        #expect(try h.nftTables().contains("table inet swiftvirt_virbr1"))

        // Bad input: a bridge name another network has, a subnet a running network routes. Nothing is left.
        let clashBridge = "<network><name>svclash</name><bridge name='virbr0'/></network>"
        r = try v.virsh("net-create \(try Self.write(clashBridge, h.dir, "c1.xml"))")
        #expect(r.status != 0)
        #expect(r.stderr.contains("error: internal error: bridge name 'virbr0' already in use."), "\(r.stderr)")
        let clashNet = """
        <network><name>svclash</name><bridge name='svclash0'/><forward mode='nat'/>\
        <ip address='192.168.150.1' prefix='24'><dhcp><range start='192.168.150.2' end='192.168.150.9'/></dhcp></ip>\
        </network>
        """
        r = try v.virsh("net-create \(try Self.write(clashNet, h.dir, "c2.xml"))")
        #expect(r.status != 0)
        #expect(r.stderr.contains("error: internal error: Network is already in use by interface virbr0"),
                "\(r.stderr)")
        #expect(try !h.linkExists("svclash0"))
        #expect(h.dnsmasqPID("svclash") == nil)
        #expect(try !h.nftTables().contains("svclash0"))
        #expect(try !v.virsh("net-list --all --name").stdout.contains("svclash"))

        // Guests: two on the NAT network, one on the isolated one.
        let guests = [("g1", "svnat", "52:54:00:5e:01:01"), ("g2", "svnat", "52:54:00:5e:01:02"),
                      ("g3", "sviso", "52:54:00:5e:01:03")]
        for (name, net, mac) in guests {
            r = try v.virsh("define \(try Self.write(try h.guestXML(name: name, network: net, mac: mac), h.dir, name + ".xml"))")
            #expect(r.status == 0, "\(r.stderr)")
            r = try v.virsh("start \(name)")
            #expect(r.status == 0, "\(r.stderr)")
        }
        // The network counts the guest interfaces on it.
        #expect(try v.virsh("net-dumpxml svnat").stdout.hasPrefix("<network connections='2'>\n"))
        #expect(try v.virsh("net-dumpxml --inactive svnat").stdout.hasPrefix("<network>\n"))
        let live = try v.virsh("dumpxml g1").stdout
        // The interface's network port (libvirt 9.0's portid) and the bridge.
        #expect(live.contains(/<source network='svnat' portid='[0-9a-f-]{36}' bridge='virbr0'\/>/), "\(live)")
        #expect(live.contains("<target dev='vnet0'/>"), "\(live)")
        let tap = try ChildProcess.run(["/usr/sbin/ip", "-n", h.ns, "link", "show", "dev", "vnet0"], timeLimit: 30).stdout
        #expect(tap.contains("master virbr0"), "\(tap)")
        #expect(tap.contains("link/ether fe:54:00:5e:01:01"), "\(tap)")

        // DHCP: both NAT guests get a lease from our dnsmasq, shown by net-dhcp-leases.
        var leases = ""
        let leased = eventually(180) {
            leases = (try? v.virsh("net-dhcp-leases svnat").stdout) ?? ""
            return leases.contains("52:54:00:5e:01:01") && leases.contains("52:54:00:5e:01:02")
        }
        #expect(leased, "\(leases)")
        func leaseIP(_ mac: String) -> String? {
            for line in leases.split(separator: "\n") where line.contains(mac) {
                if let f = line.split(separator: " ").first(where: { $0.hasPrefix("192.168.150.") }) {
                    return String(f.split(separator: "/")[0])
                }
            }
            return nil
        }
        let ip2 = try #require(leaseIP("52:54:00:5e:01:02"), "\(leases)")
        #expect(leases.contains("ipv4"), "\(leases)")
        #expect(eventually(180) { ((try? v.virsh("net-dhcp-leases sviso").stdout) ?? "").contains("52:54:00:5e:01:03") })

        // vsh prints what Debian's virsh prints for the same daemon.
        for cmd in [["net-dhcp-leases", "svnat"], ["net-dhcp-leases", "svnat", "--mac", "52:54:00:5e:01:02"],
                    ["net-info", "svnat"], ["net-dumpxml", "svnat"], ["net-list", "--all"], ["domiflist", "g1"]] {
            let a = try v.virsh(args: cmd)
            let b = try v.virsh(args: cmd, client: TestPaths.vsh)
            #expect(a.status == 0 && a.stdout == b.stdout && a.stderr == b.stderr, "\(cmd): \(a) vs \(b)")
        }
        // domifaddr (leases through the network driver), Debian's virsh and vsh alike; domifstat reads the tap.
        let addrs = try v.virsh("domifaddr g2").stdout
        #expect(addrs.contains(" vnet1      52:54:00:5e:01:02    ipv4         \(ip2)/24\n"), "\(addrs)")
        let vshAddrs = try v.virsh(args: ["domifaddr", "g2", "--source", "lease"], client: TestPaths.vsh)
        #expect(vshAddrs.stdout == addrs, "\(vshAddrs.stdout) \(vshAddrs.stderr)")
        let stats = try v.virsh("domifstat g2 vnet1").stdout
        let txPackets = stats.split(separator: "\n").first { $0.hasPrefix("vnet1 tx_packets ") }
            .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        #expect(txPackets > 0, "\(stats)")
        let bad = try v.virsh("domifaddr g2 --source agent")
        #expect(bad.stderr.contains("error: argument unsupported: QEMU guest agent is not configured"), "\(bad.stderr)")

        // domif-setlink: the NIC's link down (QMP set_link) and up again, shown by domif-getlink.
        var link = try v.virsh("domif-setlink g2 vnet1 down")
        #expect(link.status == 0 && link.stdout.contains("Device updated successfully"), "\(link)")
        #expect(try v.virsh("domif-getlink g2 vnet1").stdout.contains("vnet1 down"))
        // QEMU took it down: g2 does not answer g1.
        #expect(try GuestConsole.run(uri: v.uri, name: "g1",
                                     command: "ping -c 2 -W 2 \(ip2) >/dev/null || echo SV-DOWN-$((40+5))",
                                     expect: "SV-DOWN-45", dir: h.dir))
        link = try v.virsh("domif-setlink g2 vnet1 up")
        #expect(link.status == 0, "\(link)")
        #expect(try v.virsh("domif-getlink g2 vnet1").stdout.contains("vnet1 up"))

        // g1 pings g2 across the bridge.
        #expect(try GuestConsole.run(uri: v.uri, name: "g1", command: "ping -c 1 -W 2 \(ip2) >/dev/null && echo SV-PING-$((40+2))",
                                     expect: "SV-PING-42", dir: h.dir))
        // g1 reaches the upstream listener, which sees the daemon namespace's address: masqueraded.
        #expect(try GuestConsole.run(uri: v.uri, name: "g1",
                                     command: "echo hi | nc -w 3 \(h.upstreamIP) \(h.listenPort) && echo SV-NC-$((40+3))",
                                     expect: "SV-NC-43", dir: h.dir))
        #expect(eventually(10) { !h.sources().isEmpty })
        #expect(h.sources().allSatisfy { $0 == h.hostIP }, "\(h.sources())")
        let seen = h.sources().count
        // g3 (isolated) gets no default route from dnsmasq; even with one the firewall rejects its packets.
        try GuestConsole.type(uri: v.uri, name: "g3", command: "ip route add default via 192.168.151.1", dir: h.dir)
        #expect(try GuestConsole.run(uri: v.uri, name: "g3",
                                     command: "echo hi | nc -w 3 \(h.upstreamIP) \(h.listenPort) || echo SV-ISO-$((40+4))",
                                     expect: "SV-ISO-44", dir: h.dir))
        #expect(h.sources().count == seen, "\(h.sources())")

        // A static host added live: in the definition and in dnsmasq's hosts file (re-read on SIGHUP).
        r = try v.virsh(args: ["net-update", "svnat", "add", "ip-dhcp-host",
                               "<host mac='52:54:00:aa:bb:cc' name='fixed' ip='192.168.150.50'/>", "--live", "--config"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try v.virsh("net-dumpxml svnat").stdout.contains("<host mac='52:54:00:aa:bb:cc' name='fixed' ip='192.168.150.50'/>"))
        let hosts = (try? String(contentsOfFile: v.dir + "/run/networks/dnsmasq/svnat.hostsfile", encoding: .utf8)) ?? ""
        #expect(hosts.contains("52:54:00:aa:bb:cc,192.168.150.50,fixed"), "\(hosts)")
        #expect(h.dnsmasqPID("svnat") == natPID)
        r = try v.virsh(args: ["net-update", "svnat", "delete", "ip-dhcp-host",
                               "<host mac='52:54:00:aa:bb:cc' name='fixed' ip='192.168.150.50'/>", "--live", "--config"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!((try? String(contentsOfFile: v.dir + "/run/networks/dnsmasq/svnat.hostsfile", encoding: .utf8)) ?? "x")
            .contains("52:54:00:aa:bb:cc"))

        // Events so far, as virsh net-event prints them.
        func events(_ file: String) -> [String] {
            ((try? String(contentsOfFile: h.dir + "/" + file, encoding: .utf8)) ?? "")
                .split(separator: "\n").filter { $0.contains("network svnat:") }.map(String.init)
        }
        #expect(events("net-events") == ["event 'lifecycle' for network svnat: Defined",
                                         "event 'lifecycle' for network svnat: Started"], "\(events("net-events"))")
        watcher.terminate()

        // The daemon killed with SIGKILL and started again: the running networks are adopted (same dnsmasq).
        v.kill9()
        try v.start()
        let events2 = try Self.netEventWatcher(v, h.dir, "net-events2")
        defer { events2.terminate() }
        #expect(try v.virsh("net-list --name").stdout.contains("svnat"))
        #expect(try v.virsh("net-info svnat").stdout.contains("Active:         yes"))
        #expect(h.dnsmasqPID("svnat") == natPID)
        #expect(try v.virsh("net-dhcp-leases svnat").stdout.contains("52:54:00:5e:01:02"))
        #expect(try v.virsh("net-dumpxml svnat").stdout.hasPrefix("<network connections='2'>\n"))

        // A domain's tap goes when the domain stops.
        r = try v.virsh("destroy g1")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(eventually(10) { (try? !h.linkExists("vnet0")) ?? false })
        #expect(try v.virsh("net-dumpxml svnat").stdout.hasPrefix("<network connections='1'>\n"))
        for name in ["g2", "g3"] { _ = try v.virsh("destroy \(name)") }

        // net-destroy: our table, the bridge and dnsmasq are gone.
        r = try v.virsh("net-destroy svnat")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try !h.linkExists("virbr0"))
        #expect(try !h.nftTables().contains("swiftvirt_virbr0"))
        if let natPID { #expect(eventually(10) { !NetworkNamespaces.runsDnsmasq(natPID) }) }
        #expect(try v.virsh("net-info svnat").stdout.contains("Active:         no"))
        r = try v.virsh("net-destroy sviso")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try !h.nftTables().contains("swiftvirt"))

        // Autostart: a link in the config dir, then undefine.
        r = try v.virsh("net-autostart svnat")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(access(v.dir + "/etc/networks/autostart/svnat.xml", F_OK) == 0)
        #expect(try v.virsh("net-list --all --autostart --name").stdout.contains("svnat"))
        r = try v.virsh("net-undefine svnat")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(access(v.dir + "/etc/networks/svnat.xml", F_OK) != 0)
        #expect(access(v.dir + "/etc/networks/autostart/svnat.xml", F_OK) != 0)

        _ = eventually(10) { events("net-events2").count >= 2 }
        #expect(events("net-events2") == ["event 'lifecycle' for network svnat: Stopped",
                                          "event 'lifecycle' for network svnat: Undefined"], "\(events("net-events2"))")
    }

    @Test("route, open and bridge modes; a domain on a host bridge; autostart and adoption across a SIGKILL")
    func otherModes() throws {
        let h = try NetworkNamespaces()
        defer { h.cleanup() }
        let v = h.virtd!
        let route = """
        <network><name>svroute</name><forward mode='route'/>\
        <ip address='192.168.160.1' prefix='24'><dhcp><range start='192.168.160.10' end='192.168.160.20'/></dhcp></ip>\
        </network>
        """
        let open = "<network><name>svopen</name><forward mode='open'/><ip address='192.168.161.1' prefix='24'/></network>"
        try MigrationHosts.ip(["-n", h.ns, "link", "add", "svhostbr", "type", "bridge"])
        try MigrationHosts.ip(["-n", h.ns, "link", "set", "svhostbr", "up"])
        let bridged = "<network><name>svbr</name><forward mode='bridge'/><bridge name='svhostbr'/></network>"
        let missing = "<network><name>svgone</name><forward mode='bridge'/><bridge name='svnosuch'/></network>"
        for (name, xml) in [("svroute", route), ("svopen", open), ("svbr", bridged), ("svgone", missing)] {
            var r = try v.virsh("net-define \(try Self.write(xml, h.dir, name + ".xml"))")
            #expect(r.status == 0, "\(r.stderr)")
            r = try v.virsh("net-start \(name)")
            #expect(r.status == 0, "\(r.stderr)")
        }
        // route: forwarding both ways, no masquerade; open: no table at all; bridge: nothing made.
        let table = try h.inNS(["/usr/sbin/nft", "list", "table", "inet", "swiftvirt_virbr0"]).stdout
        #expect(table.contains("oifname \"virbr0\" ip daddr 192.168.160.0/24 accept"), "\(table)")
        #expect(!table.contains("masquerade"), "\(table)")
        #expect(try h.linkExists("virbr1"))
        #expect(try !h.nftTables().contains("swiftvirt_virbr1"))
        #expect(h.dnsmasqPID("svroute") != nil)
        #expect(try v.virsh("net-info svbr").stdout.contains("Bridge:         svhostbr"))
        #expect(try v.virsh("net-dumpxml svbr").stdout == """
            <network>
              <name>svbr</name>
              <uuid>\(try v.virsh("net-uuid svbr").stdout.trimmingCharacters(in: .whitespacesAndNewlines))</uuid>
              <forward mode='bridge'/>
              <bridge name='svhostbr'/>
            </network>


            """)
        #expect(try !h.nftTables().contains("svhostbr"))

        // A domain on the host bridge (type='bridge') and one on the bridge network: taps on svhostbr.
        let guest = try TestGuest.load(format: 5)
        for (name, iface) in [("b1", "<interface type='bridge'><source bridge='svhostbr'/><model type='virtio'/></interface>"),
                              ("b2", "<interface type='network'><source network='svbr'/><model type='virtio'/></interface>"),
                              ("b3", "<interface type='network'><source network='svgone'/><model type='virtio'/></interface>")] {
            let xml = """
            <domain type='qemu'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
            <os><type arch='x86_64' machine='q35'>hvm</type><kernel>\(guest.kernel)</kernel><initrd>\(guest.initrd)</initrd>\
            <cmdline>\(guest.cmdline)</cmdline></os><devices>\(iface)</devices></domain>
            """
            let r = try v.virsh("define \(try Self.write(xml, h.dir, name + ".xml"))")
            #expect(r.status == 0, "\(r.stderr)")
        }
        var r = try v.virsh("start b1")
        #expect(r.status == 0, "\(r.stderr)")
        r = try v.virsh("start b2")
        #expect(r.status == 0, "\(r.stderr)")
        let b2 = try v.virsh("dumpxml b2").stdout
        #expect(b2.contains(/<source network='svbr' portid='[0-9a-f-]{36}' bridge='svhostbr'\/>/), "\(b2)")
        let ports = try ChildProcess.run(["/usr/sbin/ip", "-n", h.ns, "-o", "link", "show", "master", "svhostbr"],
                                         timeLimit: 30).stdout
        #expect(ports.split(separator: "\n").count == 2, "\(ports)")
        // A bridge network whose host bridge is missing: the domain cannot start, nothing is left.
        r = try v.virsh("start b3")
        #expect(r.status != 0)
        #expect(r.stderr.contains("Unable to add bridge svnosuch port vnet"), "\(r.stderr)")
        #expect(r.stderr.contains("No such device"), "\(r.stderr)")
        #expect(try v.virsh("domstate b3").stdout.contains("shut off"))
        let links = try ChildProcess.run(["/usr/sbin/ip", "-n", h.ns, "-o", "link", "show"], timeLimit: 30).stdout
        #expect(links.components(separatedBy: "vnet").count - 1 == 2, "\(links)")
        for d in ["b1", "b2"] { _ = try v.virsh("destroy \(d)") }

        // A network whose dnsmasq refuses its config (an option it does not know): net-start fails with
        // dnsmasq's words, and the bridge and the nft table made before are removed again.
        let tablesBefore = try h.nftTables()
        let bad = """
        <network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'><name>svbad</name>\
        <bridge name='svbad0'/><forward mode='nat'/><ip address='192.168.163.1' prefix='24'/>\
        <dnsmasq:options><dnsmasq:option value='no-such-option=1'/></dnsmasq:options></network>
        """
        r = try v.virsh("net-define \(try Self.write(bad, h.dir, "bad.xml"))")
        #expect(r.status == 0, "\(r.stderr)")
        r = try v.virsh("net-start svbad")
        #expect(r.status != 0)
        #expect(r.stderr.contains("unexpected exit status 1"), "\(r.stderr)")
        #expect(r.stderr.contains("bad option"), "\(r.stderr)")
        #expect(try !h.linkExists("svbad0"))
        #expect(try h.nftTables() == tablesBefore)
        #expect(h.dnsmasqPID("svbad") == nil)
        #expect(try v.virsh("net-info svbad").stdout.contains("Active:         no"))
        #expect(try v.virsh("net-undefine svbad").status == 0)

        // Autostart: svroute stopped, marked autostart; svopen left running. After SIGKILL and a new daemon:
        // svopen adopted, svroute started again.
        r = try v.virsh("net-destroy svroute")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try !h.linkExists("virbr0"))
        r = try v.virsh("net-autostart svroute")
        #expect(r.status == 0, "\(r.stderr)")
        // svopen's dnsmasq dies while the daemon is down: the new daemon starts another.
        let openPID = try #require(h.dnsmasqPID("svopen"))
        v.kill9()
        kill(openPID, SIGKILL)
        #expect(eventually(10) { !NetworkNamespaces.runsDnsmasq(openPID) })
        try v.start()
        // The new daemon starts the dnsmasq as it adopts the network, which may finish after its socket answers.
        var newOpenPID: pid_t?
        _ = eventually(30) {
            newOpenPID = h.dnsmasqPID("svopen")
            return newOpenPID != nil && newOpenPID != openPID
        }
        #expect(newOpenPID != nil && newOpenPID != openPID)
        let active = try v.virsh("net-list --name").stdout
        for n in ["svroute", "svopen", "svbr"] { #expect(active.contains(n), "\(active)") }
        #expect(try h.linkExists("virbr0"))
        #expect(try h.nftTables().contains("swiftvirt_virbr0"))
        let list = try v.virsh("net-list --all").stdout
        #expect(list.contains(" svroute   active   yes         yes"), "\(list)")

        for n in ["svroute", "svopen", "svbr", "svgone"] {
            r = try v.virsh("net-destroy \(n)")
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(try !h.nftTables().contains("swiftvirt"))
        #expect(try !h.linkExists("virbr0") && !h.linkExists("virbr1"))
        #expect(try h.linkExists("svhostbr"))
        #expect(h.dnsmasqPID("svroute") == nil && h.dnsmasqPID("svopen") == nil)
    }
}
