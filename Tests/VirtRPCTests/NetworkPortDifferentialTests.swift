import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Network ports on `qemu:///system`, virtd beside Debian's libvirtd 9.0 (each in a network namespace of the
/// test, with a NAT network `default`): the same net-port-* session through Debian's virsh and through vsh, a
/// python3-libvirt script (listAllPorts, portLookupByUUIDString, XMLDesc, parameters, setParameters, delete,
/// portCreateXML and their errors); then a running domain's port (owner the domain, plug the bridge, the live XML's portid), a
/// hot-plugged NIC's port, the ports kept over a virtd restart, and gone when the domain stops (also when it died
/// while virtd was down). UUIDs (of
/// domains, networks and ports made by the daemons), MACs and directories are masked; the ports the test
/// names keep their UUIDs.
@Suite("network ports: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct NetworkPortDifferentialTests {
    static let owner = "<owner><name>guest1</name><uuid>aaaaaaaa-2222-3333-4444-555555555555</uuid></owner>"
    static let portXML = """
    <networkport>
      <uuid>11111111-2222-3333-4444-555555555555</uuid>
      \(owner)
      <mac address='52:54:00:aa:bb:cc'/>
    </networkport>
    """
    static let richXML = """
    <networkport><uuid>11111111-2222-3333-4444-555555555557</uuid>\(owner)<group>g</group>\
    <mac address='52:54:00:aa:bb:ce'/><bandwidth><inbound average='1000' peak='2000' burst='1024'/>\
    <outbound average='500'/></bandwidth><vlan><tag id='42'/></vlan><port isolated='yes'/>\
    <rxfilters trustGuest='yes'/></networkport>
    """
    static let plugged = """
    <networkport><uuid>11111111-2222-3333-4444-555555555558</uuid>\(owner)<mac address='52:54:00:aa:bb:cf'/>\
    <plug type='network' bridge='virbr0'/></networkport>
    """
    static let noMAC = "<networkport><uuid>11111111-2222-3333-4444-555555555559</uuid>\(owner)</networkport>"

    static let python = """
    import libvirt, sys
    c = libvirt.open(sys.argv[1])
    n = c.networkLookupByName('default')
    def err(f):
        try:
            r = f()
            print('ok', r.UUIDString() if hasattr(r, 'UUIDString') else r)
        except libvirt.libvirtError as e:
            print('error', e.get_error_code(), e.get_error_domain(), e.get_error_message())
    print(sorted(p.UUIDString() for p in n.listAllPorts()))
    err(lambda: n.portLookupByUUIDString('11111111-2222-3333-4444-555555555556'))
    err(lambda: n.portLookupByUUIDString('bad'))
    err(lambda: n.listAllPorts(1))
    for x in sys.argv[2:]:
        err(lambda: n.portCreateXML(open(x).read(), 0))
    err(lambda: n.portCreateXML(open(sys.argv[2]).read(), 8))
    err(lambda: n.portCreateXML(open(sys.argv[4]).read(), 1))
    err(lambda: n.portCreateXML('<bogus/>', 0))
    err(lambda: n.portCreateXML('not xml', 0))
    for p in sorted(n.listAllPorts(), key=lambda p: p.UUIDString()):
        print(p.UUIDString())
        print(p.XMLDesc(0))
        print(sorted(p.parameters().items()))
        err(lambda: p.XMLDesc(1))
    p = n.portLookupByUUIDString('11111111-2222-3333-4444-555555555557')
    for d in [{'inbound.average': 2000}, {'inbound.floor': 10}, {'inbound.average': 300, 'inbound.peak': 5}]:
        err(lambda: p.setParameters(d, 0))
        print(p.XMLDesc(0))
        print(sorted(p.parameters().items()))
    p.delete()
    err(lambda: p.delete())
    err(lambda: p.XMLDesc(0))
    print(sorted(q.UUIDString() for q in n.listAllPorts()))
    """

    /// UUIDs the test did not choose (network, domain, ports of guests) masked; the test's own kept.
    static func mask(_ h: VirtInstallHosts, _ s: String) -> String {
        var t = s.replacingOccurrences(of: "11111111-2222-3333-4444-55555555555", with: "PORT-")
            .replacingOccurrences(of: "aaaaaaaa-2222-3333-4444-555555555555", with: "OWNER")
        t = h.normalise(t)
        return t.replacingOccurrences(of: "52:54:00:aa:bb:cc", with: "MAC")
    }

    /// Each step with `client` on virtd and Debian's virsh on libvirtd (DIR/ is each side's directory): exit
    /// status and output (masked) alike.
    static func run(_ h: VirtInstallHosts, _ steps: [[String]], client: String = "/usr/bin/virsh") throws {
        for step in steps {
            let mine = try ChildProcess.run([client, "-c", h.ours.uri]
                + step.map { $0.replacingOccurrences(of: "DIR/", with: h.ourDir + "/") }, timeLimit: 120)
            let theirs = try ChildProcess.run(["/usr/bin/virsh", "-c", h.ref.uri]
                + step.map { $0.replacingOccurrences(of: "DIR/", with: h.refDir + "/") }, timeLimit: 120)
            #expect(mine.status == theirs.status, "\(client) \(step): \(mine.stderr) vs \(theirs.stderr)")
            #expect(mask(h, mine.stdout + mine.stderr) == mask(h, theirs.stdout + theirs.stderr), "\(client) \(step)")
        }
    }

    /// The port UUIDs of `default` on one daemon.
    static func ports(_ uri: String) throws -> [String] {
        try virsh(uri, "net-port-list default --uuid").stdout.split(separator: "\n").map(String.init)
    }

    @Test("net-port-* through virsh and vsh, python3-libvirt, and a running domain's ports (start, hotplug, restart, stop) agree with libvirtd")
    func ports() throws {
        let h = try VirtInstallHosts()
        defer { h.cleanup() }
        for d in [h.ourDir, h.refDir] {
            for (name, xml) in [("port", Self.portXML), ("rich", Self.richXML), ("plugged", Self.plugged),
                                ("nomac", Self.noMAC), ("bad", "<networkport/>")] {
                try xml.write(toFile: d + "/\(name).xml", atomically: true, encoding: .utf8)
            }
        }
        let session: [[String]] = [
            ["net-port-list", "default"], ["net-port-list", "default", "--uuid"],
            ["net-port-create", "default", "DIR/port.xml"], ["net-port-list", "default"],
            ["net-port-list", "default", "--uuid"], ["net-port-list", "default", "--table"],
            ["net-port-dumpxml", "default", "11111111-2222-3333-4444-555555555555"],
            ["net-dumpxml", "default"],
            ["net-port-create", "default", "DIR/port.xml"], ["net-port-create", "default", "DIR/bad.xml"],
            ["net-port-create", "default", "DIR/plugged.xml"], ["net-port-create", "default", "DIR/nosuch.xml"],
            ["net-port-dumpxml", "default", "11111111-2222-3333-4444-555555555556"],
            ["net-port-dumpxml", "default", "zz"], ["net-port-list", "nosuch"],
            ["net-port-delete", "default", "11111111-2222-3333-4444-555555555555"],
            ["net-port-delete", "default", "11111111-2222-3333-4444-555555555555"],
            ["net-port-list", "default"], ["net-dumpxml", "default"],
        ]
        // 1. Debian's virsh on both daemons.
        try Self.run(h, session)
        // 2. vsh on virtd, Debian's virsh on libvirtd.
        try Self.run(h, session, client: TestPaths.vsh)

        // 3. python3-libvirt.
        for d in [h.ourDir, h.refDir] { try Self.python.write(toFile: d + "/ports.py", atomically: true, encoding: .utf8) }
        let (pa, pb) = try h.both { uri, dir in
            ["/usr/bin/python3", dir + "/ports.py", uri] + ["port", "rich", "plugged", "nomac", "bad"].map { "\(dir)/\($0).xml" }
        }
        #expect(pa.status == 0 && pb.status == 0, "\(pa.stderr)\n\(pb.stderr)")
        #expect(Self.mask(h, pa.stdout) == Self.mask(h, pb.stdout))
        #expect(pa.stdout.contains("('inbound.average', 1000)") && pa.stdout.contains("('inbound.average', 2000)"),
                "\(pa.stdout)")
        #expect(pa.stdout.contains("error 84 19 Operation not supported: Invalid use of 'floor'"), "\(pa.stdout)")
        for uri in [h.ours.uri, h.ref.uri] {
            for p in ["555555555555", "555555555558"] { _ = try virsh(uri, "net-port-delete default 11111111-2222-3333-4444-\(p)") }
            #expect(try Self.ports(uri).isEmpty)
        }

        // 4. A domain with a NIC on the network: its port, owned by the domain, plugged into virbr0.
        for (d, uri) in [(h.ourDir, h.ours.uri), (h.refDir, h.ref.uri)] {
            let xml = VirtInstallTests.domainXML(dir: d, cmdline: h.guest.cmdline).replacingOccurrences(
                of: "<memballoon model='none'/>",
                with: "<interface type='network'><mac address='52:54:00:7b:00:01'/><source network='default'/>"
                    + "<model type='virtio'/></interface><memballoon model='none'/>")
            try xml.write(toFile: d + "/hp.xml", atomically: true, encoding: .utf8)
            let r = try virsh(uri, "define \(d)/hp.xml; start hp")
            #expect(r.status == 0, "\(r.stderr)")
        }
        var portOf: [String: String] = [:]
        for uri in [h.ours.uri, h.ref.uri] {
            let p = try Self.ports(uri)
            #expect(p.count == 1, "\(uri): \(p)")
            let live = try virsh(uri, "dumpxml hp").stdout
            let id = live.firstMatch(of: /<source network='default' portid='([0-9a-f-]+)' bridge='virbr0'\/>/).map { String($0.1) }
            #expect(id != nil && id == p.first, "\(live)")
            portOf[uri] = id ?? ""
            let domUUID = try virsh(uri, "domuuid hp").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let px = try virsh(uri, "net-port-dumpxml default \(id ?? "")").stdout
            #expect(px.contains("<name>hp</name>") && px.contains("<uuid>\(domUUID)</uuid>"), "\(px)")
        }
        try Self.run(h, [["net-port-dumpxml", "default", "PORT"], ["net-dumpxml", "default"], ["domiflist", "hp"]],
                     portSubstitution: portOf)
        var (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri, "dumpxml", "hp"] }
        #expect(VirtInstallTests.interfaceLines(VirtInstallTests.liveComparable(h.normalise(a.stdout)))
                == VirtInstallTests.interfaceLines(VirtInstallTests.liveComparable(h.normalise(b.stdout))))

        // 5. A NIC plugged into the running guests gets a port; unplugged, the port goes.
        #expect(try GuestConsole.answers(uri: h.ours.uri, name: "hp", dir: h.ourDir))
        #expect(try GuestConsole.answers(uri: h.ref.uri, name: "hp", dir: h.refDir))
        try Self.run(h, [["attach-interface", "hp", "network", "default", "--model", "virtio", "--mac", "52:54:00:7b:00:02"]])
        for uri in [h.ours.uri, h.ref.uri] {
            let p = try Self.ports(uri)
            #expect(p.count == 2, "\(uri): \(p)")
            let live = try virsh(uri, "dumpxml hp").stdout
            let ids = live.matches(of: /portid='([0-9a-f-]+)'/).map { String($0.1) }
            #expect(Set(ids) == Set(p), "\(live)")
        }
        try Self.run(h, [["detach-interface", "hp", "network", "--mac", "52:54:00:7b:00:02"]])
        for uri in [h.ours.uri, h.ref.uri] {
            #expect(eventually(60) { (try? Self.ports(uri)) == [portOf[uri] ?? ""] }, "\(uri)")
        }

        // 6. virtd restarted (SIGKILL; the guest runs on): the port is still there, the live XML names it.
        h.ours.kill9()
        try h.ours.start()
        #expect(try Self.ports(h.ours.uri) == [portOf[h.ours.uri] ?? ""])
        let live = try virsh(h.ours.uri, "dumpxml hp").stdout
        #expect(live.contains("portid='\(portOf[h.ours.uri] ?? "")'"), "\(live)")
        let nd = try virsh(h.ours.uri, "net-dumpxml default").stdout
        #expect(nd.contains("<network connections='1'>"), "\(nd)")

        // 7. The domain stops: its port goes on both.
        (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri, "destroy", "hp"] }
        #expect(a.status == 0 && b.status == 0)
        for uri in [h.ours.uri, h.ref.uri] { #expect(try Self.ports(uri).isEmpty, "\(uri)") }
        try Self.run(h, [["net-port-list", "default"], ["net-dumpxml", "default"]])

        // 8. A guest that dies while virtd is down: its port is deleted when virtd comes back (libvirt's stop
        // at reconnect); a port a client made stays.
        var r = try virsh(h.ours.uri, "start hp; net-port-create default \(h.ourDir)/port.xml")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Self.ports(h.ours.uri).count == 2)
        h.ours.kill9()
        for q in ProcFS.qemuProcesses(whose: "cmdline", contains: h.ourDir + "/") { kill(q, SIGKILL) }
        #expect(eventually(30) { ProcFS.qemuProcesses(whose: "cmdline", contains: h.ourDir + "/").isEmpty })
        try h.ours.start()
        r = try virsh(h.ours.uri, "domstate hp")
        #expect(r.stdout.hasPrefix("shut off"), "\(r.stdout)")
        #expect(try Self.ports(h.ours.uri) == ["11111111-2222-3333-4444-555555555555"])
    }
}

extension NetworkPortDifferentialTests {
    /// ``run(_:_:client:)`` with `PORT` in a step replaced by each daemon's own port UUID.
    static func run(_ h: VirtInstallHosts, _ steps: [[String]], portSubstitution: [String: String]) throws {
        for step in steps {
            let (a, b) = try h.both { uri, _ in
                ["/usr/bin/virsh", "-c", uri] + step.map { $0 == "PORT" ? portSubstitution[uri] ?? "" : $0 }
            }
            #expect(a.status == b.status, "virsh \(step): \(a.stderr) vs \(b.stderr)")
            #expect(mask(h, a.stdout + a.stderr) == mask(h, b.stdout + b.stderr), "virsh \(step)")
        }
    }
}
