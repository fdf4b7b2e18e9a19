import Foundation
import Testing
import VirtTestSupport

/// The test driver's screenshot (libvirt-python's own test calls it): a PNG on a stream, for a running or a
/// shut-off domain, through virtd as through libvirt's embedded test driver. The picture itself is ours.
@Suite("test driver screenshot: virtd vs libvirt 9.0")
struct TestDriverScreenshotTests {
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    @Test("virsh and vsh save a PNG with libvirt's words; python3-libvirt gets image/png and the bytes")
    func screenshot() throws {
        let dir = try TestPaths.makeTempDir("shot", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = "screenshot test \(dir)/a.png; destroy test; screenshot test \(dir)/b.png; screenshot nope \(dir)/c.png"
        let r = try ChildProcess.run(["/usr/bin/virsh", "-c", "test:///default", script], timeLimit: 60)
        for client in ["/usr/bin/virsh", TestPaths.vsh] {
            for f in ["a.png", "b.png"] { unlink(dir + "/" + f) }
            let ours = try VirtdProcess()
            defer { ours.stop() }
            let o = try ChildProcess.run([client, "-c", ours.testURI, script], timeLimit: 60)
            #expect(o.stdout == r.stdout, "\(client): \(o.stdout)\n--- libvirt:\n\(r.stdout)")
            #expect(o.stderr == r.stderr, "\(client): \(o.stderr)\n--- libvirt:\n\(r.stderr)")
            for f in ["a.png", "b.png"] {
                let bytes = [UInt8](FileManager.default.contents(atPath: dir + "/" + f) ?? Data())
                #expect(bytes.count > 100 && Array(bytes.prefix(8)) == Self.png, "\(client) \(f): \(bytes.count) bytes")
            }
        }
        let py = """
            import libvirt, sys
            c = libvirt.open(sys.argv[1])
            st = c.newStream()
            mime = c.lookupByName("test").screenshot(st, 0, 0)
            data = bytearray()
            while True:
                b = st.recv(65536)
                if not b: break
                data += b
            st.finish()
            print(mime, data[:8] == b"\\x89PNG\\r\\n\\x1a\\n", len(data) > 100)
            """
        try py.write(toFile: dir + "/shot.py", atomically: true, encoding: .utf8)
        let ours = try VirtdProcess()
        defer { ours.stop() }
        let p = try ChildProcess.run(["/usr/bin/python3", dir + "/shot.py", ours.testURI], timeLimit: 60)
        #expect(p.stdout == "image/png True True\n", "\(p.stdout) \(p.stderr)")
        let l = try ChildProcess.run(["/usr/bin/python3", dir + "/shot.py", "test:///default"], timeLimit: 60)
        #expect(l.stdout == p.stdout)
    }
}

/// The test driver's memory peek (libvirt's testDomainMemoryPeek: bytes counting up from the start address), its
/// missing block peek and pool lookup by target path, virDomainGetMaxVcpus and virDomainSetMaxMemory, through virtd
/// as through libvirt's embedded test driver, by python3-libvirt.
@Suite("test driver memory peek: virtd vs libvirt 9.0")
struct TestDriverPeekTests {
    @Test("memoryPeek's bytes and errors, blockPeek unsupported, as libvirt's test driver")
    func peeks() throws {
        let dir = try TestPaths.makeTempDir("peek", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let py = """
            import libvirt, sys
            libvirt.registerErrorHandler(lambda a, b: None, None)
            c = libvirt.open(sys.argv[1])
            d = c.lookupByName("test")
            def call(label, f):
                try:
                    print(label, repr(f()))
                except libvirt.libvirtError as e:
                    print(label, e.get_error_code(), e.get_error_domain(), e.get_error_message())
            call("virtual", lambda: d.memoryPeek(0, 16, libvirt.VIR_MEMORY_VIRTUAL))
            call("physical", lambda: d.memoryPeek(250, 10, libvirt.VIR_MEMORY_PHYSICAL))
            call("none", lambda: d.memoryPeek(0, 4, 0))
            call("both", lambda: d.memoryPeek(0, 4, 3))
            call("unknown", lambda: d.memoryPeek(0, 4, 4))
            call("block", lambda: d.blockPeek("vda", 0, 16, 0))
            call("maxVcpus", lambda: d.maxVcpus())
            call("securityLabelList", lambda: d.securityLabelList())
            call("setMaxMemory live", lambda: d.setMaxMemory(4194304))
            call("pool by target path", lambda: c.storagePoolLookupByTargetPath("/default-pool").name())
            d.destroy()
            call("maxVcpus inactive", lambda: d.maxVcpus())
            call("setMaxMemory", lambda: d.setMaxMemory(4194304))
            call("maxMemory", lambda: d.maxMemory())
            call("inactive", lambda: d.memoryPeek(0, 4, libvirt.VIR_MEMORY_VIRTUAL))
            """
        try py.write(toFile: dir + "/peek.py", atomically: true, encoding: .utf8)
        let ours = try VirtdProcess()
        defer { ours.stop() }
        let p = try ChildProcess.run(["/usr/bin/python3", dir + "/peek.py", ours.testURI], timeLimit: 60)
        let l = try ChildProcess.run(["/usr/bin/python3", dir + "/peek.py", "test:///default"], timeLimit: 60)
        #expect(p.status == 0 && l.status == 0, "\(p.stderr) \(l.stderr)")
        #expect(p.stdout == l.stdout, "virtd:\n\(p.stdout)\nlibvirt:\n\(l.stdout)")
        #expect(p.stdout.contains(#"virtual b'\x00\x01\x02"#), "\(p.stdout)")
    }
}
