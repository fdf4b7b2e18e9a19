import Foundation
import Testing
@testable import Virt
@testable import VirtTestDriver
import VirtCore

/// The test driver's networks through the public API, in process: libvirt 9.0's default network, node-file
/// networks, the object rules (define/create/start/destroy/undefine), update's live and config copies, events
/// across connections, read-only connections.
@Suite struct NetworkTests {
    static let n1 = """
        <network><name>net1</name><uuid>5c1f4a2e-0d3b-4a8f-9e6c-7b2d1e0f3a41</uuid><bridge name='virbr5'/>
        <ip address='10.0.0.1' netmask='255.255.255.0'><dhcp><range start='10.0.0.2' end='10.0.0.100'/></dhcp></ip>
        </network>
        """

    @Test("test:///default has libvirt's active, persistent network \"default\"")
    func defaultNetwork() async throws {
        let c = Connection(driver: try await TestDriver.openPrivateDefault())
        let nets = try await c.listAllNetworks()
        #expect(nets.map(\.name) == ["default"])
        let d = try await c.lookupNetwork(name: "default")
        #expect(d.uuid.description == "dd8fe884-6c02-601e-7551-cca97df1c5df")
        let (active, persistent, auto) = (try await d.isActive(), try await d.isPersistent(), try await d.autostart())
        #expect(active && persistent && !auto)
        #expect(try await d.bridgeName() == "virbr0")
        #expect(try await d.xmlDesc().contains("<forward mode='nat'/>"))
        await #expect(throws: VirtError.self) { try await c.lookupNetwork(name: "nosuch") }
    }

    @Test("define, start, destroy, undefine; create is transient and goes at destroy; events reach other connections")
    func lifecycleAndEvents() async throws {
        let registry = SharedStateRegistry(make: TestDriverState.makeDefault)
        let uri = try ConnectionURI(parsing: "test:///default")
        let a = Connection(driver: try await TestDriver.open(uri, registry: registry))
        let b = Connection(driver: try await TestDriver.open(uri, registry: registry))
        let events = try await b.networkEvents()
        let n = try await a.defineNetwork(xml: Self.n1)
        let (nActive, nPersistent) = (try await n.isActive(), try await n.isPersistent())
        #expect(!nActive && nPersistent)
        try await n.start()
        do {
            try await n.start()
            Issue.record("started twice")
        } catch let e as VirtError {
            #expect(e.message == "Requested operation is not valid: Network 'net1' is already running")
        }
        try await n.destroy()
        try await n.undefine()
        let t = try await a.createNetwork(xml: "<network><name>t</name></network>")
        let (tActive, tPersistent) = (try await t.isActive(), try await t.isPersistent())
        #expect(tActive && !tPersistent)
        try await t.destroy()
        await #expect(throws: VirtError.self) { try await a.lookupNetwork(name: "t") }
        var seen: [String] = []
        for await ev in events {
            seen.append("\(ev.network.name) \(ev.event)")
            if seen.count == 6 { break }
        }
        #expect(seen == ["net1 defined", "net1 started", "net1 stopped", "net1 undefined", "t started", "t stopped"])
        await a.close()
        await b.close()
    }

    @Test("update: current is live on a running network, config on a stopped one; failures change nothing")
    func updateCopies() async throws {
        let c = Connection(driver: try await TestDriver.openPrivateDefault())
        let n = try await c.defineNetwork(xml: Self.n1)
        let host = "<host mac='52:54:00:00:00:03' ip='10.0.0.30'/>"
        try await n.update(command: .addLast, section: .ipDHCPHost, xml: host)
        #expect(try await n.xmlDesc().contains("<host mac='52:54:00:00:00:03' ip='10.0.0.30'/>"))
        await #expect(throws: VirtError.self) {
            try await n.update(command: .addLast, section: .ipDHCPHost, xml: host, flags: .live)
        }
        try await n.start()
        try await n.update(command: .delete, section: .ipDHCPHost, xml: "<host ip='10.0.0.30'/>", flags: .live)
        let after = try await n.xmlDesc()
        #expect(!after.contains("10.0.0.30"))
        let before = try await n.xmlDesc()
        await #expect(throws: VirtError.self) {
            try await n.update(command: .addLast, section: .ipDHCPHost, xml: "<host mac='52:54:00:00:00:04'/>")
        }
        #expect(try await n.xmlDesc() == before)
    }

    @Test("a node file's <network> elements are active and persistent; file='…' is read beside the node file")
    func nodeFile() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("netnode-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.n1.write(to: dir.appendingPathComponent("n1.xml"), atomically: true, encoding: .utf8)
        try "<node><network file='n1.xml'/><network><name>inl</name></network></node>"
            .write(to: dir.appendingPathComponent("node.xml"), atomically: true, encoding: .utf8)
        let c = try await Connection.open("test://" + dir.appendingPathComponent("node.xml").path)
        let nets = try await c.listAllNetworks(flags: [.active, .persistent])
        #expect(nets.map(\.name).sorted() == ["inl", "net1"])
    }

    @Test("read-only local connections list and read networks but refuse changes in libvirt's words")
    func readOnly() async throws {
        let c = Connection(driver: ReadOnlyDriver(try await TestDriver.openPrivateDefault()))
        #expect(try await c.listAllNetworks().count == 1)
        do {
            _ = try await c.defineNetwork(xml: Self.n1)
            Issue.record("defined read-only")
        } catch let e as VirtError {
            #expect(e.message == "operation forbidden: read only access prevents virNetworkDefineXML")
        }
        let d = try await c.lookupNetwork(name: "default")
        await #expect(throws: VirtError.self) { try await d.destroy() }
        #expect(try await d.isActive())
    }
}
