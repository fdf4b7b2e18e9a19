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
