import Testing
@testable import VirtCore

@Suite struct BasicsTests {
    @Test func uuidRoundTrip() throws {
        let u = try #require(VirtUUID(string: "6695eb01-f6a4-8304-79aa-97f2502e193f"))
        #expect(u.description == "6695eb01-f6a4-8304-79aa-97f2502e193f")
        #expect(VirtUUID(bytes: u.bytes) == u)
        #expect(VirtUUID(string: "6695eb01f6a4830479aa97f2502e193f") == u)
        #expect(VirtUUID(string: "xyz") == nil)
    }

    @Test func uriParsing() throws {
        let u = try ConnectionURI(parsing: "qemu+unix:///system?socket=/tmp/x%20y/sock")
        #expect(u.driver == "qemu")
        #expect(u.transport == "unix")
        #expect(u.path == "/system")
        #expect(u.queryValue("socket") == "/tmp/x y/sock")
        #expect(u.isRemote)
        let t = try ConnectionURI(parsing: "test+tcp://127.0.0.1:16509/default")
        #expect(t.host == "127.0.0.1")
        #expect(t.port == 16509)
        #expect(try !ConnectionURI(parsing: "test:///default").isRemote)
        #expect(throws: VirtError.self) { try ConnectionURI(parsing: "nonsense") }
    }

    @Test func malformedXMLNamesLineAndColumn() {
        do {
            _ = try XMLParser.parse("<domain>\n  <name>x</nam>\n</domain>")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .xmlDetail)
            #expect(error.int1 == 2)
            #expect(error.message.contains("(domain_definition):2:"))
        }
    }

    @Test func writerEscapesLikeLibvirt() {
        var w = XMLWriter()
        w.element("a", [("x", "it's")]) { w in
            w.text("b", [], "<&>")
            w.empty("c")
        }
        #expect(w.output == "<a x='it&apos;s'>\n  <b>&lt;&amp;&gt;</b>\n  <c/>\n</a>\n")
    }

    @Test func eventBusDelivers() async {
        let bus = EventBus<Int>()
        let s = bus.subscribe()
        bus.emit(1)
        bus.emit(2)
        bus.finishAll()
        var got: [Int] = []
        for await v in s { got.append(v) }
        #expect(got == [1, 2])
    }
}
