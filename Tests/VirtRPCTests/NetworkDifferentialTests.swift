import Foundation
import Testing
import VirtTestSupport

/// The network API through virtd's `test+unix:///default` against libvirt 9.0's own test driver
/// (`test:///default` inside Debian's virsh and python3-libvirt): the same virsh script, the same python
/// script (API, errors, lifecycle events), outputs compared byte for byte after replacing generated UUIDs.
/// Each script runs in one client process, since libvirt's test:///default lives as long as its process; every
/// script also gets a fresh virtd.
@Suite("networks: virtd's test driver vs libvirt 9.0's", .serialized)
struct NetworkDifferentialTests {
    static let files: [String: String] = [
        "n1.xml": """
            <network>
              <name>net1</name>
              <uuid>5c1f4a2e-0d3b-4a8f-9e6c-7b2d1e0f3a41</uuid>
              <bridge name='virbr5'/>
              <ip address='10.0.0.1' netmask='255.255.255.0'>
                <dhcp>
                  <range start='10.0.0.2' end='10.0.0.100'/>
                  <host mac='52:54:00:00:00:01' name='h1' ip='10.0.0.10'/>
                </dhcp>
              </ip>
            </network>
            """,
        "n2.xml": "<network>\n  <name>net2</name>\n  <uuid>6d2e5b3f-1e4c-4b9a-8f7d-8c3e2f1a4b52</uuid>\n</network>\n",
        "ngen.xml": "<network>\n  <name>ngen</name>\n  <forward mode='bridge'/>\n  <bridge name='br9'/>\n</network>\n",
        "nrouted.xml": """
            <network>
              <name>routed</name>
              <uuid>7e3f6c4a-2f5d-4cab-9a8e-9d4f3a2b5c63</uuid>
              <forward mode='route' dev='eth1'/>
              <mac address='52:54:00:AB:CD:EF'/>
              <dns><txt name='example' value='example value'/><host ip='192.168.130.5'><hostname>h5</hostname></host></dns>
              <ip address='192.168.130.1' prefix='24'><dhcp><range start='192.168.130.2' end='192.168.130.9'/></dhcp></ip>
              <ip family='ipv6' address='2001:db8:ca2:2::1' prefix='64'/>
            </network>
            """,
        "ndupname.xml": "<network><name>default</name><uuid>11111111-2222-3333-4444-555555555555</uuid></network>",
        "ndupuuid.xml": "<network><name>other</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid></network>",
        "nredefine.xml": "<network><name>default</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid><bridge name='virbr9'/></network>",
        "nbad.xml": "<network>\n  <name>bad</name>\n  <bogus>\n</network>\n",
        "nnoname.xml": "<network>\n  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\n</network>\n",
        "nwrongroot.xml": "<domain/>",
        "nforward.xml": "<network><name>f</name><forward mode='nat'/></network>",
    ]

    static func writeFiles(_ dir: String) throws {
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
    }

    /// One virsh command string per scenario (each run in one virsh process).
    static func scripts(_ d: String) -> [String] {
        [
            "net-list; net-list --all; net-list --inactive; net-list --name; net-list --uuid; net-list --name --uuid",
            "net-define \(d)/n1.xml; net-create \(d)/n2.xml; net-list --all; net-list --persistent --all; "
                + "net-list --transient; net-autostart net1; net-list --all --autostart; net-list --all --no-autostart --uuid; "
                + "net-info net1; net-info net2; net-info default; net-info dd8fe884-6c02-601e-7551-cca97df1c5df",
            "net-info nosuch; net-dumpxml nosuch; net-uuid default; net-name dd8fe884-6c02-601e-7551-cca97df1c5df; "
                + "net-name 00000000-0000-0000-0000-000000000000; net-name default; net-dumpxml default; "
                + "net-dumpxml default --inactive",
            "net-define \(d)/n1.xml; net-dumpxml net1; net-start net1; net-start net1; net-undefine net1; "
                + "net-destroy net1; net-destroy net1; net-undefine net1; net-create \(d)/n2.xml; net-destroy net2; "
                + "net-info net2; net-list --all",
            "net-define \(d)/ngen.xml; net-dumpxml ngen; net-define \(d)/nrouted.xml; net-dumpxml routed; "
                + "net-list --all",
            "net-define \(d)/ndupname.xml; net-define \(d)/ndupuuid.xml; net-create \(d)/ndupname.xml; "
                + "net-create \(d)/nredefine.xml; net-define \(d)/nbad.xml; net-define \(d)/nnoname.xml; "
                + "net-define \(d)/nwrongroot.xml; net-define \(d)/nforward.xml; net-define \(d)/nosuch.xml",
            "net-define \(d)/nredefine.xml; net-dumpxml default; net-destroy default; net-dumpxml default; "
                + "net-start default; net-dumpxml default; net-dhcp-leases default",
            "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:02' name='h2' ip='192.168.122.20'/>\"; "
                + "net-dumpxml default; "
                + "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:02' name='h2' ip='192.168.122.20'/>\"; "
                + "net-update default modify ip-dhcp-host \"<host mac='52:54:00:00:00:02' name='h3' ip='192.168.122.21'/>\"; "
                + "net-update default add-first ip-dhcp-host \"<host mac='52:54:00:00:00:04' ip='192.168.122.44'/>\" --live; "
                + "net-dumpxml default; net-update default delete ip-dhcp-host \"<host mac='52:54:00:00:00:02'/>\"; "
                + "net-update default delete ip-dhcp-host \"<host mac='52:54:00:00:00:09'/>\"; net-dumpxml default; "
                + "net-update default add ip-dhcp-host \"<foo/>\"; net-update default add bridge \"<bridge/>\"; "
                + "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:07' ip='192.168.122.51'/>\" --parent-index 3; "
                + "net-update default add ip-dhcp-host '<host'; "
                + "net-update default add ip-dhcp-range \"<range start='192.168.122.2' end='192.168.122.3'/>\"; "
                + "net-update default add dns-host \"<host ip='1.2.3.4'><hostname>a</hostname></host>\"; net-dumpxml default; "
                + "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:05' ip='192.168.122.50'/>\" --config; "
                + "net-define \(d)/n1.xml; net-update net1 add ip-dhcp-host \"<host mac='52:54:00:00:00:03' ip='10.0.0.30'/>\"; "
                + "net-dumpxml net1; net-update net1 delete ip-dhcp-host \"<host ip='10.0.0.30'/>\" --live; "
                + "net-create \(d)/n2.xml; net-update net2 add ip-dhcp-host \"<host mac='52:54:00:00:00:04' ip='10.0.0.40'/>\" --config",
            "net-event --list; net-event --event lifecycle --timeout 1; net-event --event bogus",
            "net-update default add dns-host \"<host ip='1.2.3.4'><hostname>a</hostname></host>\"; "
                + "net-update default add dns-host \"<host ip='1.2.3.5'><hostname>a</hostname></host>\"; "
                + "net-update default add dns-host \"<host ip='1.2.3.5'><hostname>b</hostname></host>\"; "
                + "net-update default add dns-srv \"<srv service='name' protocol='tcp' domain='d' target='t' port='1' priority='2' weight='3'/>\"; "
                + "net-update default add dns-srv \"<srv service='name' protocol='tcp'/>\"; "
                + "net-update default add dns-srv \"<srv service='x' protocol='udp' port='5'/>\"; "
                + "net-update default add dns-txt \"<txt name='t' value='v'/>\"; net-update default add dns-txt \"<txt name='t' value='w'/>\"; "
                + "net-update default add portgroup \"<portgroup name='pg' default='yes'><vlan><tag id='5'/></vlan></portgroup>\"; "
                + "net-update default add portgroup \"<portgroup name='pg2' default='yes'/>\"; "
                + "net-update default add-first portgroup \"<portgroup name='pg3'/>\"; "
                + "net-update default add portgroup \"<portgroup name='pg3'/>\"; net-dumpxml default; "
                + "net-update default modify portgroup \"<portgroup name='pg3' trustGuestRxFilters='yes'/>\"; "
                + "net-update default delete dns-srv \"<srv service='name'/>\"; net-update default delete dns-srv \"<srv/>\"; "
                + "net-update default delete portgroup \"<portgroup name='pg'/>\"; "
                + "net-update default delete portgroup \"<portgroup name='zz'/>\"; "
                + "net-update default delete dns-host \"<host><hostname>a</hostname></host>\"; "
                + "net-update default delete dns-host \"<host ip='1.2.3.4'/>\"; net-update default delete dns-txt \"<txt name='t'/>\"; "
                + "net-update default modify dns-srv \"<srv/>\"; net-update default modify dns-txt \"<txt/>\"; "
                + "net-update default add forward-interface \"<interface dev='eth0'/>\"; "
                + "net-update default add forward-interface \"<interface dev='eth0'/>\"; "
                + "net-update default delete forward-interface \"<interface dev='eth1'/>\"; "
                + "net-update default modify forward-interface \"<interface dev='eth1'/>\"; net-dumpxml default; "
                + "net-update default add ip-dhcp-range \"<range start='192.168.122.2' end='192.168.122.254'/>\"; "
                + "net-update default add ip-dhcp-range \"<range start='10.0.0.2' end='10.0.0.3'/>\"; "
                + "net-update default delete ip-dhcp-range \"<range start='192.168.122.2' end='192.168.122.254'/>\"; "
                + "net-update default add forward \"<forward/>\"; net-update default add domain \"<domain/>\"; "
                + "net-update default add ip \"<ip/>\"; net-update default add forward-pf \"<pf/>\"; net-dumpxml default",
        ]
    }

    static func normalize(_ s: String) -> String {
        guard let re = try? NSRegularExpression(pattern: "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}") else {
            return s
        }
        return re.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: "<generated-uuid>")
    }

    @Test("virsh net-* on libvirt's test:///default and on virtd (virsh and vsh as clients): identical output")
    func virshScripts() throws {
        let dir = try TestPaths.makeTempDir("networks", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeFiles(dir)
        for script in Self.scripts(dir) {
            let r = try ChildProcess.run(["/usr/bin/virsh", "-c", "test:///default", script], timeLimit: 60)
            for client in ["/usr/bin/virsh", TestPaths.vsh] {
                let ours = try VirtdProcess()
                defer { ours.stop() }
                let o = try ChildProcess.run([client, "-c", ours.testURI, script], timeLimit: 60)
                #expect(Self.normalize(o.stdout) == Self.normalize(r.stdout),
                        "\(client) \(script): stdout\n\(o.stdout)\n--- libvirt:\n\(r.stdout)")
                #expect(Self.normalize(o.stderr) == Self.normalize(r.stderr),
                        "\(client) \(script): stderr\n\(o.stderr)\n--- libvirt:\n\(r.stderr)")
                #expect(o.status == r.status, "\(client) \(script): status \(o.status) vs \(r.status)")
            }
        }
    }

    @Test("read-only: listing and XML allowed, changes refused in libvirt's words (read-only socket vs virsh -r)")
    func readOnly() throws {
        let dir = try TestPaths.makeTempDir("networks", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeFiles(dir)
        let script = "net-list --all; net-dumpxml default; net-info default; net-define \(dir)/n1.xml; "
            + "net-create \(dir)/n2.xml; net-destroy default; net-undefine default; net-autostart default; "
            + "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:02' ip='192.168.122.20'/>\"; net-start default"
        let r = try ChildProcess.run(["/usr/bin/virsh", "-r", "-c", "test:///default", script], timeLimit: 60)
        let ours = try VirtdProcess()
        defer { ours.stop() }
        for uri in [ours.readOnlyTestURI] {
            let o = try ChildProcess.run(["/usr/bin/virsh", "-c", uri, script], timeLimit: 60)
            #expect(o.stdout == r.stdout, "stdout\n\(o.stdout)\n--- libvirt:\n\(r.stdout)")
            #expect(o.stderr == r.stderr, "stderr\n\(o.stderr)\n--- libvirt:\n\(r.stderr)")
        }
    }

    static let python = #"""
        import libvirt, sys, threading, time
        uri, d = sys.argv[1:3]
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
        watch = libvirt.open(uri)
        events = []
        def life(conn, net, event, detail, opaque): events.append("lifecycle %s %d %d" % (net.name(), event, detail))
        cb = watch.networkEventRegisterAny(None, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE, life, None)
        c = libvirt.open(uri)
        out = []
        def call(label, f):
            try:
                out.append("%s %r" % (label, f()))
            except libvirt.libvirtError as e:
                out.append("%s error %d %d %s" % (label, e.get_error_code(), e.get_error_domain(), e.get_error_message()))
        rd = lambda f: open(d + "/" + f).read()
        call("num", lambda: (c.numOfNetworks(), c.numOfDefinedNetworks()))
        call("lists", lambda: (sorted(c.listNetworks()), sorted(c.listDefinedNetworks())))
        n1 = c.networkDefineXML(rd("n1.xml"))
        call("n1", lambda: (n1.name(), n1.UUIDString(), n1.isActive(), n1.isPersistent(), n1.autostart(), n1.bridgeName()))
        n2 = c.networkCreateXML(rd("n2.xml"))
        call("n2", lambda: (n2.name(), n2.isActive(), n2.isPersistent()))
        call("n2 bridge", lambda: n2.bridgeName())
        call("all", lambda: sorted(n.name() for n in c.listAllNetworks()))
        for flags in [libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE, libvirt.VIR_CONNECT_LIST_NETWORKS_INACTIVE,
                      libvirt.VIR_CONNECT_LIST_NETWORKS_PERSISTENT, libvirt.VIR_CONNECT_LIST_NETWORKS_TRANSIENT,
                      libvirt.VIR_CONNECT_LIST_NETWORKS_AUTOSTART, libvirt.VIR_CONNECT_LIST_NETWORKS_NO_AUTOSTART]:
            call("flags %d" % flags, lambda: sorted(n.name() for n in c.listAllNetworks(flags)))
        call("bad flags", lambda: c.listAllNetworks(1 << 10))
        call("by name", lambda: c.networkLookupByName("default").UUIDString())
        call("by uuid", lambda: c.networkLookupByUUIDString("dd8fe884-6c02-601e-7551-cca97df1c5df").name())
        call("no name", lambda: c.networkLookupByName("nosuch"))
        call("no uuid", lambda: c.networkLookupByUUIDString("00000000-0000-0000-0000-000000000001"))
        call("xml", lambda: n1.XMLDesc(0))
        call("xml inactive", lambda: n1.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE))
        call("autostart", lambda: (n1.setAutostart(1), n1.autostart(), n1.setAutostart(0), n1.autostart()))
        call("start", lambda: n1.create())
        call("start again", lambda: n1.create())
        call("undefine active", lambda: n1.undefine())
        call("update", lambda: n1.update(libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST,
                                         -1, "<host mac='52:54:00:00:00:09' name='h9' ip='10.0.0.90'/>", 0))
        call("update flags", lambda: n1.update(libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                                               libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, "<host/>", 4))
        call("update dup", lambda: n1.update(libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_FIRST,
                                             libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST, 0,
                                             "<host mac='52:54:00:00:00:09' name='h9' ip='10.0.0.90'/>", 1))
        call("update cmd", lambda: n1.update(9, libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1,
                                             "<host mac='52:54:00:00:00:08' ip='10.0.0.80'/>", 0))
        call("update section", lambda: n1.update(1, 99, -1, "<host/>", 0))
        call("xml after", lambda: n1.XMLDesc(0))
        call("leases", lambda: n1.DHCPLeases())
        call("destroy", lambda: (n1.destroy(), n2.destroy()))
        call("n2 gone", lambda: c.networkLookupByName("net2"))
        call("undefine", lambda: n1.undefine())
        call("define bad", lambda: c.networkDefineXML(rd("nbad.xml")))
        call("define flags", lambda: c.networkDefineXMLFlags(rd("n2.xml"), 2))
        call("create flags", lambda: c.networkCreateXMLFlags(rd("nwrongroot.xml"), 0))
        call("define forward", lambda: c.networkDefineXML(rd("nforward.xml")))
        end = time.time() + 20
        while len(events) < 6 and time.time() < end:
            time.sleep(0.05)
        watch.networkEventDeregisterAny(cb)
        print("\n".join(out + events))
        """#

    @Test("python3-libvirt: network API, errors and lifecycle events are libvirt's test driver's")
    func pythonAndEvents() throws {
        let dir = try TestPaths.makeTempDir("networks", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeFiles(dir)
        let script = dir + "/networks.py"
        try Self.python.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try ChildProcess.run(["/usr/bin/python3", script, "test:///default", dir], timeLimit: 60)
        let ours = try VirtdProcess()
        defer { ours.stop() }
        let o = try ChildProcess.run(["/usr/bin/python3", script, ours.testURI, dir], timeLimit: 60)
        #expect(r.status == 0, "reference script failed: \(r.stderr)")
        #expect(o.stdout == r.stdout, "virtd:\n\(o.stdout)\n--- libvirt:\n\(r.stdout)\n\(o.stderr)")
        #expect(o.status == r.status)
    }

    /// libvirt's networkxml2xml inputs defined in the test driver (which, unlike the network driver, ignores
    /// `<dnsmasq:options>`): virsh on libvirt's test:///default against vsh on ours, one process each.
    @Test("libvirt's networkxml2xml inputs: net-define and net-dumpxml in the test driver match libvirt's")
    func conformanceInputsInTestDriver() throws {
        let inputs = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../VirtCoreTests/Resources/conformance/libvirt-9.6.0/networkxml2xmlin").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: inputs.path).filter { $0.hasSuffix(".xml") }.sorted()
        #expect(files.count == 41)
        var script = "net-destroy default; net-undefine default"
        for f in files {
            let text = try String(contentsOf: inputs.appendingPathComponent(f), encoding: .utf8)
            guard let a = text.range(of: "<name>"), let b = text.range(of: "</name>", range: a.upperBound..<text.endIndex) else {
                continue
            }
            let name = text[a.upperBound..<b.lowerBound]
            script += "; net-define \(inputs.path)/\(f); net-dumpxml \(name); net-undefine \(name)"
        }
        let r = try ChildProcess.run(["/usr/bin/virsh", "-c", "test:///default", script], timeLimit: 120)
        let o = try ChildProcess.run([TestPaths.vsh, "-c", "test:///default", script], timeLimit: 120)
        #expect(o.stdout == r.stdout)
        #expect(o.stderr == r.stderr)
        if o.stdout != r.stdout {
            let ours = o.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let ref = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            if let i = zip(ours, ref).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                print("first difference at line \(i): ours \(ours[i]) libvirt \(ref[i])")
            }
        }
    }
}
