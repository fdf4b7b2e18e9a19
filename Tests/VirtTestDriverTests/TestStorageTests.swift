import Foundation
import Testing
@testable import Virt
@testable import VirtTestDriver

/// The test driver's storage pools and volumes through the public API, in process: libvirt 9.0's default pool,
/// the accounting of volume allocations, the refusals, and the events in order.
@Suite struct TestStorageTests {
    static func connection() async throws -> Connection {
        Connection(driver: try await TestDriver.openPrivateDefault())
    }

    @Test func defaultPool() async throws {
        let c = try await Self.connection()
        let pools = try await c.listAllStoragePools()
        #expect(pools.map(\.name) == ["default-pool"])
        let p = try #require(pools.first)
        #expect(p.uuid.description == "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566")
        #expect(try await p.info() == StoragePoolInfo(state: 2, capacity: 107_374_182_400, allocation: 0,
                                                      available: 107_374_182_400))
        let active = try await p.isActive()
        let persistent = try await p.isPersistent()
        let autostart = try await p.autostart()
        #expect(active && persistent && !autostart)
        #expect(try await p.xmlDesc().contains("<path>/default-pool</path>"))
        #expect(try await p.listAllVolumes().isEmpty)
    }

    @Test func volumesAndAccounting() async throws {
        let c = try await Self.connection()
        let p = try await c.lookupStoragePool(name: "default-pool")
        let v = try await p.createVolume(xml: "<volume><name>a</name><capacity unit='G'>1</capacity><allocation unit='M'>5</allocation></volume>")
        #expect(v.key == "/default-pool/a")
        #expect(try await v.path() == "/default-pool/a")
        #expect(try await v.info() == StorageVolInfo(type: 0, capacity: 1 << 30, allocation: 5 << 20))
        #expect(try await p.info().allocation == 5 << 20)
        let b = try await p.createVolume(xml: "<volume><name>b</name><capacity>1</capacity></volume>", from: v)
        #expect(try await c.lookupStorageVolume(path: "/default-pool/b").name == "b")
        #expect(try await c.lookupStorageVolume(key: "/default-pool/a").name == "a")
        try await b.delete()
        try await v.delete()
        #expect(try await p.info().allocation == 0)
        await #expect(throws: VirtError.self) { try await v.wipe() }
        do {
            _ = try await p.createVolume(xml: "<volume><name>huge</name><capacity unit='T'>1</capacity></volume>")
            Issue.record("created a volume larger than the pool")
        } catch let e as VirtError {
            #expect(e.message == "internal error: Not enough free space in pool for volume 'huge'")
        }
    }

    @Test func lifecycleEvents() async throws {
        let c = try await Self.connection()
        let events = try await c.storagePoolEvents()
        let xml = "<pool type='dir'><name>p</name><uuid>11111111-2222-3333-4444-555555555555</uuid><target><path>/p</path></target></pool>"
        let p = try await c.defineStoragePool(xml: xml)
        try await p.build()
        try await p.start()
        try await p.refresh()
        try await p.destroy()
        try await p.delete()
        try await p.undefine()
        do {
            _ = try await c.lookupStoragePool(name: "p")
            Issue.record("undefined pool still found")
        } catch let e as VirtError {
            #expect(e.message == "Storage pool not found: no storage pool with matching name 'p'")
        }
        var seen: [String] = []
        for await ev in events {
            switch ev.kind {
            case .lifecycle(let e, _): seen.append("\(ev.pool.name):\(e)")
            case .refresh: seen.append("\(ev.pool.name):refresh")
            }
            if seen.count == 7 { break }
        }
        #expect(seen == ["p:0", "p:4", "p:2", "p:refresh", "p:3", "p:5", "p:1"])
    }

    @Test func nodeFilePools() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("storage-node-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let node = """
            <node>
              <pool type='dir'><name>np</name><target><path>/np</path></target>
                <volume><name>a</name><capacity>100</capacity><allocation>40</allocation></volume>
                <volume file='vol.xml'/>
              </pool>
            </node>
            """
        try node.write(to: dir.appendingPathComponent("node.xml"), atomically: true, encoding: .utf8)
        try "<volume><name>b</name><key>kb</key><capacity>10</capacity></volume>"
            .write(to: dir.appendingPathComponent("vol.xml"), atomically: true, encoding: .utf8)
        let c = try await Connection.open("test://\(dir.path)/node.xml")
        let p = try await c.lookupStoragePool(name: "np")
        #expect(try await p.info().allocation == 50)
        #expect(try await p.listAllVolumes().map(\.key).sorted() == ["/np/a", "kb"])
        #expect(try await c.lookupStorageVolume(path: "/np/b").name == "b")
    }
}
