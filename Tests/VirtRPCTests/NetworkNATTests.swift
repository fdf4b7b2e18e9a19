import Foundation
import Testing
import VirtTestSupport

/// What a NAT network's firewall does to real traffic, seen from an "upstream" namespace: a client namespace
/// (a veth on the network's bridge, static addresses) connects to a listener upstream, which logs the source
/// address and port it sees. `<nat><address/><port/></nat>` translates IPv4 to the given address and port
/// range (libvirt's SNAT rules); `<nat ipv6='yes'/>` masquerades IPv6 too (libvirt 9.0's IPv6 NAT); without it,
/// IPv6 is routed. Everything runs in namespaces the test makes (virtd's, upstream, the client).
@Suite("NAT networks: source NAT to an address range and IPv6 masquerade, on real traffic", .serialized, .tags(.root))
struct NetworkNATTests {
    static let listener = #"""
    import socket, sys, threading
    def serve(family, addr, port, log):
        s = socket.socket(family)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(16)
        while True:
            c, peer = s.accept()
            with open(log, "a") as f:
                f.write("FROM %s %d\n" % (peer[0], peer[1]))
            c.close()
    threading.Thread(target=serve, args=(socket.AF_INET6, sys.argv[2], int(sys.argv[3]), sys.argv[4]), daemon=True).start()
    serve(socket.AF_INET, sys.argv[1], int(sys.argv[3]), sys.argv[4])
    """#

    @Test("IPv4 leaves as the configured address and port; IPv6 as the host's upstream address; rules gone at destroy")
    func natAddressAndIPv6() throws {
        let h = try NetworkNamespaces()
        defer { h.cleanup() }
        let tag = String(h.ns.suffix(5))
        let client = h.ns + "c"
        let net = Int.random(in: 1..<250)
        try MigrationHosts.ip(["netns", "add", client])
        defer { _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", client], timeLimit: 30) }
        // IPv6 between virtd's namespace and upstream; upstream routes the SNAT range back to the host.
        let up = "sn\(tag)"
        try MigrationHosts.ip(["-n", h.ns, "addr", "add", "fd00:ffff::1/64", "dev", up + "a", "nodad"])
        try MigrationHosts.ip(["-n", h.upstreamNS, "addr", "add", "fd00:ffff::2/64", "dev", up + "b", "nodad"])
        try MigrationHosts.ip(["-n", h.upstreamNS, "route", "add", "10.99.\(net).0/24", "via", h.hostIP])
        try MigrationHosts.ip(["-n", h.ns, "-6", "route", "add", "default", "via", "fd00:ffff::2"])
        let log = h.dir + "/nat.log"
        FileManager.default.createFile(atPath: log, contents: Data())
        try Self.listener.write(toFile: h.dir + "/nat-listener.py", atomically: true, encoding: .utf8)
        let listener = try ChildProcess.spawn(["/usr/sbin/ip", "netns", "exec", h.upstreamNS, "/usr/bin/python3",
                                               h.dir + "/nat-listener.py", h.upstreamIP, "fd00:ffff::2", "7788", log],
                                              output: .file(h.dir + "/nat-listener.out"))
        defer { listener.terminate() }

        let xml = """
            <network><name>svnat6</name><bridge name='svnat6'/>
              <forward mode='nat'><nat ipv6='yes'><address start='10.99.\(net).5' end='10.99.\(net).5'/>\
            <port start='2000' end='2000'/></nat></forward>
              <ip address='192.168.\(net).1' prefix='24'/>
              <ip family='ipv6' address='fd00:\(net)::1' prefix='64'/>
            </network>
            """
        let file = try QEMUNetworkTests.write(xml, h.dir, "nat6.xml")
        let created = try h.virtd.virsh(args: ["net-create", file])
        #expect(created.status == 0, "\(created.stderr)")
        // The client: a veth on the bridge, static addresses, default routes through the network's addresses.
        // Made inside the namespaces: the pair never shows in the host's own (where other tests list links).
        try MigrationHosts.ip(["link", "add", "nc\(tag)a", "netns", h.ns, "type", "veth", "peer", "name", "nc\(tag)b",
             "netns", client])
        try MigrationHosts.ip(["-n", h.ns, "link", "set", "nc\(tag)a", "master", "svnat6", "up"])
        try MigrationHosts.ip(["-n", client, "addr", "add", "192.168.\(net).50/24", "dev", "nc\(tag)b"])
        try MigrationHosts.ip(["-n", client, "addr", "add", "fd00:\(net)::50/64", "dev", "nc\(tag)b", "nodad"])
        try MigrationHosts.ip(["-n", client, "link", "set", "nc\(tag)b", "up"])
        try MigrationHosts.ip(["-n", client, "route", "add", "default", "via", "192.168.\(net).1"])
        try MigrationHosts.ip(["-n", client, "-6", "route", "add", "default", "via", "fd00:\(net)::1"])

        func connect(_ addr: String) throws -> Bool {
            let py = "import socket, sys\ns = socket.create_connection((sys.argv[1], 7788), timeout=2)\ns.close()"
            return try ChildProcess.run(["/usr/sbin/ip", "netns", "exec", client, "/usr/bin/python3", "-c", py, addr],
                                        timeLimit: 30).status == 0
        }
        func seen() -> [String] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        // The bridge's IPv6 address finishes duplicate address detection once a port is up: retried a while.
        #expect(eventually(30) { (try? connect(h.upstreamIP)) == true }, "IPv4 connection through the NAT network")
        #expect(eventually(30) { (try? connect("fd00:ffff::2")) == true }, "IPv6 connection through the NAT network")
        #expect(eventually(10) { seen().count >= 2 }, "\(seen())")
        let lines = seen()
        #expect(lines.contains("FROM 10.99.\(net).5 2000"), "IPv4 source NAT: \(lines)")
        let v6 = lines.filter { $0.hasPrefix("FROM fd00:") }
        #expect(!v6.isEmpty && v6.allSatisfy { $0.hasPrefix("FROM fd00:ffff::1 ") }, "IPv6 masquerade: \(lines)")
        #expect(!lines.contains { $0.contains("192.168.\(net).50") || $0.contains("fd00:\(net)::50") }, "\(lines)")

        let destroyed = try h.virtd.virsh(args: ["net-destroy", "svnat6"])
        #expect(destroyed.status == 0, "\(destroyed.stderr)")
        #expect(!(try h.nftTables()).contains("swiftvirt_svnat6"))
    }
}
