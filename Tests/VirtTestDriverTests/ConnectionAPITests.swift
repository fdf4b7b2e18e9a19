import Foundation
import Testing
@testable import Virt
@testable import VirtTestDriver

/// The public API around the driver: read-only connections, event sequences, handles.
@Suite struct ConnectionAPITests {
    /// A read-only connection answers queries and refuses changes with libvirt's errors (checked against
    /// python3-libvirt's `openReadOnly`).
    @Test func readOnlyConnection() async throws {
        let reference = try Reference.python("""
            import libvirt
            libvirt.registerErrorHandler(lambda c, e: None, None)
            c = libvirt.openReadOnly('test:///default')
            d = c.lookupByName('test')
            for f in [d.destroy, lambda: d.XMLDesc(1), lambda: c.defineXML('<domain/>'), lambda: d.setAutostart(1),
                      d.suspend, lambda: d.undefineFlags(1), lambda: c.createXML('<domain/>', 0)]:
                try:
                    f()
                except libvirt.libvirtError as e:
                    print(e.get_error_code(), e.get_error_domain(), e.get_error_message())
            print(d.state())
            """)
        // Opening read-only wraps the driver; the checks run on a fresh state of this test's own.
        let opened = try await Connection.open("test:///default", readOnly: true)
        #expect(opened.driver is ReadOnlyDriver)
        await opened.close()
        let c = Connection(driver: ReadOnlyDriver(try await TestDriver.openPrivateDefault()))
        defer { Task { await c.close() } }
        let d = try await c.lookupDomain(name: "test")
        var ours = ""
        let ops: [() async throws -> Void] = [
            { try await d.destroy() }, { _ = try await d.xmlDesc(flags: .secure) },
            { _ = try await c.defineDomain(xml: "<domain/>") }, { try await d.setAutostart(true) },
            { try await d.suspend() }, { try await d.undefine(flags: .managedSave) },
            { _ = try await c.createDomain(xml: "<domain/>") },
        ]
        for op in ops {
            do {
                try await op()
            } catch let e as VirtError {
                ours += "\(e.code.rawValue) \(e.domain.rawValue) \(e.message)\n"
            }
        }
        let st = try await d.state()
        ours += "[\(st.state.rawValue), \(st.reason)]\n"
        #expect(ours == reference)
    }

    @Test func lifecycleEventsCarryHandles() async throws {
        let c = try await Support.freshConnection()
        let events = c.lifecycleEvents()
        let t = try await c.lookupDomain(name: "test")
        try await t.suspend()
        try await t.resume()
        await c.close()
        var seen: [(String, Int32, LifecycleEvent)] = []
        for await (dom, e) in events { seen.append((dom.name, dom.id, e)) }
        // The sequence ended with the connection.
        #expect(seen.map(\.0) == ["test", "test"])
        #expect(seen.map(\.1) == [1, 1])
        #expect(seen.map(\.2) == [.suspended(.paused), .resumed(.unpaused)])
    }

    @Test func domainEventsAreFiltered() async throws {
        let c = try await Support.freshConnection()
        let t = try await c.lookupDomain(name: "test")
        let events = t.events()
        var other = try await c.defineDomain(xml: Support.domainXML("other"))
        try await other.start()
        try await t.suspend()
        await c.close()
        var kinds: [DomainEventRecord.Kind] = []
        for await e in events { kinds.append(e.kind) }
        #expect(kinds == [.lifecycle(.suspended(.paused))])
    }

    @Test func eventsOfAClosedConnectionEndAtOnce() async throws {
        let c = try await Support.freshConnection()
        await c.close()
        await c.close()
        var n = 0
        for await _ in c.events() { n += 1 }
        #expect(n == 0)
    }

    @Test func handleRefreshAndStart() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        var d = try await c.defineDomain(xml: Support.domainXML("h"))
        #expect(d.id == -1)
        try await d.start()
        #expect(d.id == 2)
        try await d.destroy()
        #expect(try await d.refreshed().id == -1)
        #expect(try await d.stats()?.params == [TypedParam("state.state", .int(5)), TypedParam("state.reason", .int(2))])
    }
}
