import Foundation
import Testing
import VirtCore
@testable import VirtNetwork
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's network driver without touching the host: definitions (libvirt's bridge name and MAC
/// choices, its refusals), files (config, autostart link, reload), events, and the files it gives dnsmasq and
/// nft for a network (checked as text; the namespace tests in QEMUNetworkTests run them).
@Suite("bridge network driver: definitions, files, dnsmasq and nft input")
struct BridgeNetworkDriverTests {
    static func driver(_ dir: String) throws -> BridgeNetworkDriver {
        // Never autostart here: that would make a bridge in the test runner's namespace.
        try BridgeNetworkDriver(configDir: dir + "/etc/networks", stateDir: dir + "/run/networks", autostart: false)
    }

    @Test("define picks libvirt's bridge name and MAC, refuses a bridge in use; files, autostart, reload, events")
    func defineAndFiles() async throws {
        let dir = try TestPaths.makeTempDir("netdrv")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try Self.driver(dir)
        let events = d.networkEvents()
        let a = try await d.defineNetwork(xml: "<network><name>a</name><bridge name='svt%d'/><forward mode='nat'/><ip address='10.9.0.1' prefix='24'/></network>",
                                          flags: 0)
        let ax = try await d.networkXML(a, flags: 0)
        #expect(ax.contains("<bridge name='svt0' stp='on' delay='0'/>"), "\(ax)")
        #expect(ax.contains("<mac address='52:54:00:"), "\(ax)")
        let b = try await d.defineNetwork(xml: "<network><name>b</name><bridge name='svt%d'/></network>", flags: 0)
        #expect(try await d.networkBridgeName(b) == "svt1")
        // A name of another network: libvirt's error at define, nothing written.
        await #expect(throws: VirtError.internalError("bridge name 'svt0' already in use.", domain: .network)) {
            _ = try await d.defineNetwork(xml: "<network><name>c</name><bridge name='svt0'/></network>", flags: 0)
        }
        #expect(access(dir + "/etc/networks/c.xml", F_OK) != 0)
        // Redefining a network keeps its own bridge name.
        _ = try await d.defineNetwork(xml: ax, flags: 0)
        #expect(try await d.networkBridgeName(a) == "svt0")
        // Modes without a bridge of their own refuse what only those have.
        await #expect(throws: VirtError.configUnsupported(
            "Unsupported <ip> element in network br with forward mode='bridge'", domain: .network)) {
            _ = try await d.defineNetwork(xml: """
                <network><name>br</name><forward mode='bridge'/><bridge name='br0'/><ip address='10.0.0.1' prefix='24'/></network>
                """, flags: 0)
        }
        await #expect(throws: VirtError.operationInvalid("network 'a' is not active", domain: .network)) {
            try await d.destroyNetwork(a)
        }
        await #expect(throws: VirtError.self) { _ = try await d.lookupNetwork(name: "nope") }
        do {
            _ = try await d.lookupNetwork(name: "nope")
        } catch let e as VirtError {
            #expect(e.code == .noNetwork && e.domain == .network)
            #expect(e.message == "Network not found: no network with matching name 'nope'")
        }

        try await d.setNetworkAutostart(a, true)
        #expect(access(dir + "/etc/networks/a.xml", F_OK) == 0)
        var st = stat()
        #expect(lstat(dir + "/etc/networks/autostart/a.xml", &st) == 0 && st.st_mode & S_IFMT == S_IFLNK)

        // Another driver on the same directories (a daemon restart) sees both, a's autostart.
        let d2 = try Self.driver(dir)
        #expect(try await d2.listAllNetworks(flags: 0).map(\.name) == ["a", "b"])
        #expect(try await d2.networkAutostart(try await d2.lookupNetwork(name: "a")))
        #expect(try await d2.networkXML(try await d2.lookupNetwork(name: "a"), flags: 0) == ax)

        try await d.undefineNetwork(b)
        #expect(access(dir + "/etc/networks/b.xml", F_OK) != 0)
        await #expect(throws: VirtError.self) { try await d.undefineNetwork(b) }

        var seen: [String] = []
        for await e in events {
            seen.append("\(e.network.name) \(e.event)")
            if seen.count == 4 { break }
        }
        #expect(seen == ["a defined", "b defined", "a defined", "b undefined"])
    }

    static let natXML = """
    <network>
      <name>default</name>
      <forward mode='nat'/>
      <bridge name='virbr0' stp='on' delay='0'/>
      <domain name='example.org'/>
      <dns><host ip='192.168.122.2'><hostname>myhost</hostname><hostname>alias</hostname></host></dns>
      <ip address='192.168.122.1' netmask='255.255.255.0'>
        <dhcp>
          <range start='192.168.122.2' end='192.168.122.254'/>
          <host mac='52:54:00:11:22:33' name='fixed' ip='192.168.122.10'/>
        </dhcp>
      </ip>
    </network>
    """

    @Test("dnsmasq's config, hosts files and lease file; the nft ruleset of nat, route, isolated and open")
    func hostInputs() throws {
        let def = try NetworkDefinition(xml: Self.natXML)
        let files = DnsmasqFiles(dir: "/R", name: "default")
        #expect(try Dnsmasq.config(def, bridge: "virbr0", files: files) == """
            ##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE
            ##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:
            ##    virsh net-edit default
            ## or other application using the libvirt API.
            ##
            ## dnsmasq conf file created by libvirt
            strict-order
            domain=example.org
            expand-hosts
            pid-file=/R/default.pid
            except-interface=lo
            bind-dynamic
            interface=virbr0
            dhcp-range=192.168.122.2,192.168.122.254,255.255.255.0
            dhcp-no-override
            dhcp-authoritative
            dhcp-lease-max=253
            dhcp-hostsfile=/R/default.hostsfile
            dhcp-leasefile=/R/default.leases
            addn-hosts=/R/default.addnhosts

            """)
        #expect(Dnsmasq.hostsFile(def) == "52:54:00:11:22:33,192.168.122.10,fixed\n")
        #expect(Dnsmasq.addnHosts(def) == "192.168.122.2\tmyhost\talias\n")
        let leases = Dnsmasq.leases("""
            1764800000 52:54:00:aa:bb:01 192.168.122.57 g1 01:52:54:00:aa:bb:01
            1764800001 52:54:00:aa:bb:02 192.168.122.58 * *
            duid 00:01:00:01
            """, bridge: "virbr0", def: def, mac: nil)
        #expect(leases == [
            NetworkDHCPLeaseRecord(iface: "virbr0", expiryTime: 1_764_800_000, type: 0, mac: "52:54:00:aa:bb:01", iaid: nil,
                                   ipaddr: "192.168.122.57", prefix: 24, hostname: "g1", clientID: "01:52:54:00:aa:bb:01"),
            NetworkDHCPLeaseRecord(iface: "virbr0", expiryTime: 1_764_800_001, type: 0, mac: "52:54:00:aa:bb:02", iaid: nil,
                                   ipaddr: "192.168.122.58", prefix: 24, hostname: nil, clientID: nil),
        ])
        #expect(Dnsmasq.leases("1 52:54:00:aa:bb:01 192.168.122.57 g1 *\n", bridge: "virbr0", def: def,
                               mac: "52:54:00:AA:BB:02").isEmpty)

        // IPv6: leases after the server's DUID line; the MAC address from the client's DUID-LLT or DUID-LL,
        // a lease without one left out (as libvirt's lease helper leaves it out).
        let v6 = try NetworkDefinition(xml: """
            <network><name>six</name><ip address='192.168.122.1' prefix='24'/>\
            <ip family='ipv6' address='fd00:170::1' prefix='64'><dhcp><range start='fd00:170::100' end='fd00:170::1ff'/>\
            <host id='0:3:0:1:52:54:0:aa:bb:cc' name='six' ip='fd00:170::10'/><host name='byname' ip='fd00:170::11'/>\
            </dhcp></ip></network>
            """)
        let six = Dnsmasq.leases("""
            duid 00:01:00:01:32:a5:d3:18:52:54:00:1c:a8:7c
            1796499657 1193046 fd00:170::135 * 00:01:00:01:32:a5:d3:c7:52:54:00:12:34:56
            1796499658 7 fd00:170::136 h6 00:03:00:01:52:54:00:12:34:57
            1796499659 8 fd00:170::137 * 00:02:00:00:ab:11:01:02
            """, bridge: "virbr1", def: v6, mac: nil)
        #expect(six == [
            NetworkDHCPLeaseRecord(iface: "virbr1", expiryTime: 1_796_499_657, type: 1, mac: "52:54:00:12:34:56",
                                   iaid: "1193046", ipaddr: "fd00:170::135", prefix: 64, hostname: nil,
                                   clientID: "00:01:00:01:32:a5:d3:c7:52:54:00:12:34:56"),
            NetworkDHCPLeaseRecord(iface: "virbr1", expiryTime: 1_796_499_658, type: 1, mac: "52:54:00:12:34:57",
                                   iaid: "7", ipaddr: "fd00:170::136", prefix: 64, hostname: "h6",
                                   clientID: "00:03:00:01:52:54:00:12:34:57"),
        ])
        #expect(Dnsmasq.hostsFile(v6) == "id:0:3:0:1:52:54:0:aa:bb:cc,six,[fd00:170::10]\nbyname,[fd00:170::11]\n")
        let v6conf = try Dnsmasq.config(v6, bridge: "virbr1", files: files)
        #expect(v6conf.contains("dhcp-range=fd00:170::100,fd00:170::1ff,64\ndhcp-lease-max=256\n"))
        #expect(v6conf.hasSuffix("addn-hosts=/R/default.addnhosts\nenable-ra\n"))
        var ptr = v6
        for i in ptr.ips.indices { ptr.ips[i].localPTR = true }
        #expect(try Dnsmasq.config(ptr, bridge: "virbr1", files: files).contains(
            "local=/122.168.192.in-addr.arpa/\nlocal=/0.0.0.0.0.0.0.0.0.7.1.0.0.0.d.f.ip6.arpa/\n"))
        ptr.ips[0].prefix = 20
        #expect(throws: VirtError.self) { try Dnsmasq.config(ptr, bridge: "virbr1", files: files) }

        let nat = try #require(NetworkFirewall.ruleset(def, bridge: "virbr0"))
        #expect(nat.hasPrefix("table inet swiftvirt_virbr0 {"))
        #expect(nat.contains("\t\tiifname \"virbr0\" ip saddr 192.168.122.0/24 accept\n"))
        #expect(nat.contains("\t\toifname \"virbr0\" ip daddr 192.168.122.0/24 ct state related,established accept\n"))
        #expect(nat.contains("ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 meta l4proto { tcp, udp } masquerade to :1024-65535\n"))
        var route = def
        route.forward.mode = .route
        let r = try #require(NetworkFirewall.ruleset(route, bridge: "virbr0"))
        #expect(!r.contains("masquerade") && r.contains("oifname \"virbr0\" ip daddr 192.168.122.0/24 accept"))
        var iso = def
        iso.forward.mode = .none
        let i = try #require(NetworkFirewall.ruleset(iso, bridge: "virbr0"))
        #expect(i.contains("iifname \"virbr0\" oifname \"virbr0\" accept") && i.contains("iifname \"virbr0\" reject")
                && !i.contains("saddr"))
        #expect(try Dnsmasq.config(iso, bridge: "virbr0", files: files).contains("dhcp-option=3\n"))
        var open = def
        open.forward.mode = .open
        #expect(NetworkFirewall.ruleset(open, bridge: "virbr0") == nil)
    }
}
