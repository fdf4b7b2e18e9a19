import Foundation
import Testing
@testable import Virt
@testable import VirtTestDriver

/// `test:///path/to/node.xml`: libvirt's custom node format, compared with what the reference driver makes of
/// the same file.
@Suite struct NodeFileTests {
    static let nodeXML = """
        <node>
          <cpu>
            <mhz>6000</mhz>
            <model>i986</model>
            <active>50</active>
            <nodes>4</nodes>
            <sockets>4</sockets>
            <cores>4</cores>
            <threads>2</threads>
          </cpu>
          <memory>8192000</memory>
          <domain file="dom1.xml"/>
          <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
            <name>inl</name>
            <uuid>22222222-2222-3333-4444-555555555555</uuid>
            <memory>1024</memory>
            <os><type>hvm</type></os>
            <test:runstate>5</test:runstate>
            <test:hasmanagedsave/>
          </domain>
          <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
            <name>paused</name>
            <uuid>33333333-2222-3333-4444-555555555555</uuid>
            <memory>1024</memory>
            <os><type>hvm</type></os>
            <test:runstate>3</test:runstate>
            <test:transient/>
          </domain>
        </node>
        """
    static let domXML = """
        <domain type='test'><name>fromfile</name><uuid>11111111-2222-3333-4444-555555555555</uuid>\
        <memory>2048</memory><vcpu>2</vcpu><iothreads>2</iothreads><os><type>hvm</type></os></domain>
        """

    /// Runs `body` with the URI of ``nodeXML`` written to a fresh directory (with ``domXML`` as the
    /// `dom1.xml` it refers to); the directory is removed afterwards.
    static func withNodeFile(_ body: (String) async throws -> Void) async throws {
        try await Support.withTempDir { dir in
            try nodeXML.write(to: dir.appendingPathComponent("node.xml"), atomically: true, encoding: .utf8)
            try domXML.write(to: dir.appendingPathComponent("dom1.xml"), atomically: true, encoding: .utf8)
            try await body("test://\(dir.path)/node.xml")
        }
    }

    @Test func customNodeMatchesReference() async throws {
        try await Self.withNodeFile { uri in
            let reference = try Reference.python("""
                import libvirt
                c = libvirt.open('\(uri)')
                print(c.getInfo())
                for d in sorted(c.listAllDomains(0), key=lambda d: d.name()):
                    print(d.name(), d.ID(), d.state(), d.isPersistent(), d.hasManagedSaveImage() if d.isPersistent() else 0, d.info()[1:4])
                """)
            let c = try await Connection.open(uri)
            defer { Task { await c.close() } }
            let n = try await c.nodeInfo()
            var ours = "['\(n.model)', \(n.memory / 1024), \(n.cpus), \(n.mhz), \(n.nodes), \(n.sockets), \(n.cores), "
                + "\(n.threads)]\n"
            for d in try await c.listAllDomains().sorted(by: { $0.name < $1.name }) {
                let st = try await d.state()
                let persistent = try await d.isPersistent()
                let managed = persistent ? (try await d.hasManagedSaveImage() ? 1 : 0) : 0
                let info = try await d.info()
                ours += "\(d.name) \(d.id) [\(st.state.rawValue), \(st.reason)] \(persistent ? 1 : 0) \(managed) "
                    + "[\(info.maxMemory), \(info.memory), \(info.vcpus)]\n"
            }
            #expect(ours == reference)
        }
    }

    @Test func statsMatchReference() async throws {
        try await Self.withNodeFile { uri in
            let reference = try Reference.python("""
                import libvirt
                c = libvirt.open('\(uri)')
                for flags in [0, 1, 2, 32]:
                    for types in [0, 1, 128]:
                        for d, st in sorted(c.getAllDomainStats(types, flags), key=lambda r: r[0].name()):
                            print(flags, types, d.name(), ' '.join('%s=%s' % kv for kv in st.items()))
                """)
            let c = try await Connection.open(uri)
            defer { Task { await c.close() } }
            var ours = ""
            for flags: UInt32 in [0, 1, 2, 32] {
                for types: UInt32 in [0, 1, 128] {
                    let records = try await c.domainStats(types: StatsTypes(rawValue: types),
                                                          flags: GetAllDomainStatsFlags(rawValue: flags))
                    for r in records.sorted(by: { $0.domain.name < $1.domain.name }) {
                        let params = r.params.map { p -> String in
                            switch p.value {
                            case .int(let v): "\(p.field)=\(v)"
                            case .uint(let v): "\(p.field)=\(v)"
                            case .ullong(let v): "\(p.field)=\(v)"
                            default: "\(p.field)=?"
                            }
                        }
                        ours += "\(flags) \(types) \(r.domain.name) \(params.joined(separator: " "))\n"
                    }
                }
            }
            #expect(ours == reference)
        }
    }

    /// Taint and deprecation messages of node file domains (libvirt's own virsh test, fc5-like domain).
    @Test func messagesMatchReference() async throws {
        try await Support.withTempDir { dir in
            let node = dir.appendingPathComponent("taint.xml")
            try """
                <node>
                  <domain type='test'>
                    <name>tainted</name>
                    <memory>1024</memory>
                    <os><type>hvm</type><dtb>/boot/x.dtb</dtb></os>
                    <cpu mode='custom'><model>Deprecated-Test</model></cpu>
                    <devices>
                      <disk type='block' device='cdrom'><source dev='/dev/sr0'/><target dev='hdc' bus='ide'/></disk>
                      <disk type='block' device='lun' rawio='yes'><source dev='/dev/sdb'/>\
                <target dev='sda' bus='scsi'/></disk>
                      <interface type='ethernet'><mac address='52:54:00:11:22:33'/><script path='/bin/true'/></interface>
                    </devices>
                  </domain>
                  <domain type='test'>
                    <name>clean</name>
                    <memory>1024</memory>
                    <os><type>hvm</type></os>
                  </domain>
                </node>
                """.write(to: node, atomically: true, encoding: .utf8)
            let uri = "test://\(node.path)"
            let reference = try Reference.python("""
                import libvirt
                c = libvirt.open('\(uri)')
                for n in ['tainted', 'clean']:
                    d = c.lookupByName(n)
                    for f in [0, 1, 2, 3]:
                        print(n, f, d.messages(f))
                """)
            let c = try await Connection.open(uri)
            defer { Task { await c.close() } }
            var ours = ""
            for n in ["tainted", "clean"] {
                let d = try await c.lookupDomain(name: n)
                for f: UInt32 in [0, 1, 2, 3] {
                    let m = try await d.messages(flags: f).map { "'\($0)'" }.joined(separator: ", ")
                    ours += "\(n) \(f) [\(m)]\n"
                }
            }
            #expect(ours == reference)
        }
    }

    @Test func nodeFileConnectionsDoNotShareState() async throws {
        try await Self.withNodeFile { uri in
            let a = try await Connection.open(uri)
            let b = try await Connection.open(uri)
            defer { Task { await a.close(); await b.close() } }
            try await a.lookupDomain(name: "fromfile").destroy()
            #expect(try await b.lookupDomain(name: "fromfile").isActive())
            #expect(try await !a.lookupDomain(name: "fromfile").isActive())
            #expect(try await b.capabilities().contains("<cells num='0'>\n      </cells>"))
        }
    }

    @Test func invalidNodeFiles() async throws {
        try await Support.withTempDir { dir in
            let bad = dir.appendingPathComponent("bad.xml")
            try """
                <node><domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\
                <name>t</name><memory>1024</memory><os><type>hvm</type></os><test:transient/>\
                <test:runstate>5</test:runstate></domain></node>
                """.write(to: bad, atomically: true, encoding: .utf8)
            await Support.expectError(.xmlError, .test,
                                      "XML error: transient domain cannot have runstate 'shutoff'") {
                _ = try await Connection.open("test://\(bad.path)")
            }
            let missing = "\(dir.path)/missing.xml"
            await Support.expectError(.xmlError, .test, "XML error: failed to parse xml document '\(missing)'") {
                _ = try await Connection.open("test://\(missing)")
            }
            let notNode = dir.appendingPathComponent("dom.xml")
            try Self.domXML.write(to: notNode, atomically: true, encoding: .utf8)
            await Support.expectError(.xmlError, .xml, "XML error: expecting root element of 'node', not 'domain'") {
                _ = try await Connection.open("test://\(notNode.path)")
            }
        }
    }
}
