import Foundation
import Testing
@testable import Virt
@testable import VirtTestDriver

/// Save images are laid out as libvirt's test driver lays them out, so each side restores the other's.
@Suite struct SaveImageTests {
    @Test func referenceImageRestoresHere() async throws {
        try await Support.withTempDir { dir in
            let path = dir.appendingPathComponent("ref.save").path
            _ = try Reference.python("""
                import libvirt
                c = libvirt.open('test:///default')
                c.lookupByName('test').save('\(path)')
                """)
            let c = try await Support.freshConnection()
            defer { Task { await c.close() } }
            let t = try await c.lookupDomain(name: "test")
            try await t.destroy()
            try await c.restoreDomain(from: path)
            #expect(try await t.state() == .running(.restored))
            #expect(try await t.info().maxMemory == 8_388_608)
        }
    }

    @Test func ourImageRestoresInReference() async throws {
        try await Support.withTempDir { dir in
            let path = dir.appendingPathComponent("ours.save").path
            let c = try await Support.freshConnection()
            defer { Task { await c.close() } }
            try await c.lookupDomain(name: "test").save(to: path)
            let out = try Reference.python("""
                import libvirt
                c = libvirt.open('test:///default')
                c.lookupByName('test').destroy()
                c.restore('\(path)')
                d = c.lookupByName('test')
                print(d.state(), d.info()[1])
                """)
            #expect(out == "[1, 3] 8388608\n")
        }
    }

    /// Saving the built-in domain writes the very bytes libvirt's test driver writes.
    @Test func imageBytesMatchReference() async throws {
        try await Support.withTempDir { dir in
            let refPath = dir.appendingPathComponent("ref.save").path
            let ourPath = dir.appendingPathComponent("ours.save").path
            _ = try Reference.python("""
                import libvirt
                libvirt.open('test:///default').lookupByName('test').save('\(refPath)')
                """)
            let c = try await Support.freshConnection()
            defer { Task { await c.close() } }
            try await c.lookupDomain(name: "test").save(to: ourPath)
            let ref = try Data(contentsOf: URL(fileURLWithPath: refPath))
            let ours = try Data(contentsOf: URL(fileURLWithPath: ourPath))
            #expect(ours == ref)
        }
    }

    @Test func imageLayout() throws {
        let dir = try Support.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("x.save").path
        try SaveImage.write(path: path, xml: "<domain/>", domainName: "x")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(Array(data) == Array("TestGuestMagic\0".utf8) + [9, 0, 0, 0] + Array("<domain/>".utf8))
        #expect(try SaveImage.read(path: path) == "<domain/>")
        try (Array("TestGuestMagic\0".utf8) + [0, 0x40, 0, 0]).withUnsafeBufferPointer { b in
            try Data(buffer: b).write(to: URL(fileURLWithPath: path))
        }
        #expect(throws: VirtError(.internalError, domain: .test, "internal error: length of metadata out of range")) {
            _ = try SaveImage.read(path: path)
        }
    }
}
