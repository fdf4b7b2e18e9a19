import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A client that sends calls and never reads the replies stalls only itself: once its replies fill the socket
/// (the channel stops being writable) or `max_client_requests` calls run, virtd stops reading from it, so the
/// daemon's memory stays bounded while other clients are served.
@Suite("backpressure: a client that does not read")
struct BackpressureTests {
    /// Sends `count` AUTH_LIST calls (allowed before CONNECT_OPEN) on the socket and never reads; prints the
    /// number of bytes it managed to send before the socket would block for 3 s.
    static let flooder = #"""
    import socket, struct, sys, time
    s = socket.socket(socket.AF_UNIX)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(sys.argv[1])
    s.settimeout(3)
    sent = 0
    try:
        for serial in range(1, int(sys.argv[2]) + 1):
            # length, program REMOTE, version 1, procedure 66 (AUTH_LIST), CALL, serial, OK
            s.sendall(struct.pack(">IIIiiIi", 28, 0x20008086, 1, 66, 0, serial, 0))
            sent += 28
    except socket.timeout:
        pass
    print(sent, flush=True)
    time.sleep(float(sys.argv[3]))
    """#

    @Test("the daemon stops reading from a client that does not read its replies; others are served; memory bounded")
    func nonReadingClient() throws {
        let d = try VirtdProcess()
        defer { d.stop() }
        let script = d.dir + "/flood.py"
        try Self.flooder.write(toFile: script, atomically: true, encoding: .utf8)
        let rssBefore = ProcFS.rssKiB(d.pid)
        let flood = try ChildProcess.spawn(["/usr/bin/python3", script, d.socket, "2000000", "20"],
                                           output: .file(d.dir + "/flood.out"))
        defer { flood.terminate() }
        // The flooder blocks once the daemon stops reading (it would send 56 MB otherwise).
        #expect(eventually(60) {
            ((try? String(contentsOfFile: d.dir + "/flood.out", encoding: .utf8)) ?? "").hasSuffix("\n")
        }, "the flooder never blocked: the daemon kept reading")
        let sent = Int(((try? String(contentsOfFile: d.dir + "/flood.out", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        #expect(sent > 0 && sent < 2_000_000 * 28 / 4, "bytes sent before blocking: \(sent)")
        // Another client is served meanwhile.
        let r = try virsh("test+unix:///default?socket=\(d.socket)", "domstate test")
        #expect(r.status == 0 && r.stdout.contains("running"), "\(r)")
        let grown = ProcFS.rssKiB(d.pid) - rssBefore
        #expect(grown < 64 * 1024, "virtd grew by \(grown) KiB")
    }
}
