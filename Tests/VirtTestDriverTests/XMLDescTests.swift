import Foundation
import Testing
@testable import Virt
@testable import VirtTestDriver

/// The XML the test driver formats, compared with the reference test driver's for the same domains.
@Suite struct XMLDescTests {
    static let minimal = "<domain type='test'><name>x</name><uuid>e35352e0-a7cd-46f9-9ca2-57c5499ba8ac</uuid>"
        + "<memory>1024</memory><os><type>hvm</type></os></domain>"

    static func reference() throws -> [String] {
        let out = try Reference.python("""
            import libvirt, sys
            c = libvirt.open('test:///default')
            t = c.lookupByName('test')
            x = c.defineXML("\(minimal)")
            sys.stdout.write(t.XMLDesc(0) + '\\x00' + t.XMLDesc(2) + '\\x00' + x.XMLDesc(0))
            """)
        return out.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
    }

    static func ours() async throws -> [String] {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        let t = try await c.lookupDomain(name: "test")
        let x = try await c.defineDomain(xml: minimal)
        return [try await t.xmlDesc(), try await t.xmlDesc(flags: .inactive), try await x.xmlDesc()]
    }

    @Test func matchesReference() async throws {
        let ref = try Self.reference()
        let ours = try await Self.ours()
        try #require(ref.count == 3)
        for i in 0..<3 {
            #expect(ours[i] == ref[i])
        }
    }
}
