import Foundation
import NIOCore
import Testing
import VirtTestSupport
import Virt
@testable import VirtRPC

#if canImport(Glibc)
import Glibc
#endif

/// A raw unix-socket peer for sending arbitrary bytes; replies are drained and counted while writing so the
/// server never stalls on us.
final class RawPeer {
    let fd: Int32
    var received = 0
    var dropped = false

    init?(path: String) {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if ok != 0 {
            close(fd)
            return nil
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(fd) }

    /// Reads whatever is there.
    func drain() {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                received += n
                continue
            }
            if n == 0 { dropped = true }
            return
        }
    }

    /// Writes all bytes unless the server drops us; returns false when the connection is gone.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                off += n
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                var p = pollfd(fd: fd, events: Int16(POLLIN | POLLOUT), revents: 0)
                _ = poll(&p, 1, 1000)
                drain()
                if dropped { return false }
                continue
            }
            dropped = true
            return false
        }
        drain()
        return !dropped
    }
}

@Suite("Fuzz: malformed packets never stop the daemon serving others", .serialized)
struct FuzzTests {
    struct RNG: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var z = state
            z = (z ^ (z >> 33)) &* 0xff51afd7ed558ccd
            return z ^ (z >> 33)
        }
    }

    static func packet(_ h: RPCHeader, _ payload: [UInt8] = []) -> [UInt8] {
        var b = RPCPacket.encode(h) { $0.buffer.writeBytes(payload) }
        return b.readBytes(length: b.readableBytes) ?? []
    }

    /// One malformed (or hostile) packet; `fatal` when the server is expected to drop the connection.
    static func malformed(_ rng: inout RNG, serial: UInt32) -> (bytes: [UInt8], fatal: Bool) {
        let rand = { (n: Int, r: inout RNG) -> [UInt8] in (0..<n).map { _ in UInt8.random(in: 0...255, using: &r) } }
        let knownProcs = ProcedureTable.served.filter { $0.program == .remote }.map(\.number)
        switch Int.random(in: 0..<12, using: &rng) {
        case 0: // known procedure, random payload (truncated or garbage XDR)
            let proc = knownProcs.randomElement(using: &rng) ?? 1
            return (packet(RPCHeader(program: RPCProgram.remote, procedure: proc, type: .call, serial: serial),
                           rand(Int.random(in: 0..<64, using: &rng), &rng)), false)
        case 1: // wrong program
            var h = RPCHeader(program: UInt32.random(in: 0...UInt32.max, using: &rng), procedure: 59, type: .call,
                              serial: serial)
            if h.program == RPCProgram.remote || h.program == RPCProgram.keepalive { h.program = 1 }
            return (packet(h), false)
        case 2: // wrong version
            var h = RPCHeader(program: RPCProgram.remote, procedure: 59, type: .call, serial: serial)
            h.version = UInt32.random(in: 2...UInt32.max, using: &rng)
            return (packet(h), false)
        case 3: // wrong type
            var h = RPCHeader(program: RPCProgram.remote, procedure: 59, type: .call, serial: serial)
            h.type = Int32.random(in: 1...Int32.max, using: &rng)
            return (packet(h, rand(8, &rng)), false)
        case 4: // string length far beyond the data
            return (packet(RPCHeader(program: RPCProgram.remote, procedure: 23, type: .call, serial: serial),
                           [0x7f, 0xff, 0xff, 0xf0, 0x61]), false)
        case 5: // unknown procedure
            return (packet(RPCHeader(program: RPCProgram.remote, procedure: Int32.random(in: 444...Int32.max, using: &rng),
                                     type: .call, serial: serial)), false)
        case 6: // bad status
            return (packet(RPCHeader(program: RPCProgram.remote, procedure: 59, type: .call, serial: serial,
                                     status: .error)), false)
        case 7: // keepalive ping, and a pong nobody asked for
            return (packet(RPCHeader(program: RPCProgram.keepalive, procedure: Int32.random(in: 1...3, using: &rng),
                                     type: .message, serial: 0)), false)
        case 8: // list with a huge maximum, event register with a bad id
            return (packet(RPCHeader(program: RPCProgram.remote, procedure: Bool.random(using: &rng) ? 37 : 316,
                                     type: .call, serial: serial), [0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]), false)
        case 9: // length word too short
            return ([0, 0, 0, UInt8.random(in: 0...27, using: &rng)] + rand(28, &rng), true)
        case 10: // length word too long
            return ([UInt8.random(in: 3...255, using: &rng), UInt8.random(in: 0...255, using: &rng), 0, 1]
                    + rand(16, &rng), true)
        default: // a correct length word around random bytes (short ones are too short for a header)
            let n = Int.random(in: 0..<200, using: &rng)
            let len = UInt32(n + 4)
            return ([UInt8(len >> 24), UInt8(len >> 16 & 0xff), UInt8(len >> 8 & 0xff), UInt8(len & 0xff)]
                    + rand(n, &rng), n < 24)
        }
    }

    @Test("100,000 malformed packets while a well-behaved client keeps working, with bounded memory")
    func fuzz() async throws {
        let daemon = try VirtdProcess()
        defer { daemon.stop() }
        // The well-behaved client is python3-libvirt in a process of its own, printing a line per successful
        // round; the fuzzer waits for one every 1,000 packets, so good calls are interleaved with the garbage all
        // along. In its own process it does not depend on this test process's task pool, which suites running in
        // parallel can keep busy for minutes (a client on that pool once made no progress for 180 s in CI).
        let script = """
            import sys, time, libvirt
            libvirt.registerErrorHandler(lambda c, e: None, None)
            c = libvirt.open(sys.argv[1])
            while True:
                try:
                    c.getHostname()
                    names = [d.name() for d in c.listAllDomains()]
                    print("ok" if names == ["test"] else "domains %s" % names, flush=True)
                except libvirt.libvirtError as e:
                    print("error %s" % e.get_error_message(), flush=True)
                time.sleep(0.005)
            """
        // Spawned with ChildProcess (an empty signal mask): a Foundation Process inherits the test runner's
        // blocked SIGTERM, so python never ended and waitUntilExit spun a CPU for good (the CI run that did not
        // finish in time). Its lines go to a file that the fuzzer reads as they come.
        let dir = try TestPaths.makeTempDir("fuzz")
        defer { TestPaths.removeDir(dir) }
        let log = GoodClientLog(path: dir + "/good.log")
        let good = try ChildProcess.spawn(["/usr/bin/python3", "-c", script, daemon.testURI], output: .file(log.path))
        defer { good.terminate() }
        let socketPath = daemon.socket
        let pid = daemon.pid
        let stats: (connections: Int, rssWarm: Int, stalls: Int) = await withCheckedContinuation { c in
            Thread.detachNewThread {
                c.resume(returning: Self.fuzzLoop(socketPath: socketPath, pid: pid, progress: log))
            }
        }
        good.terminate()
        log.refresh()
        let result = (ok: log.ok, failed: log.failed)
        let rssEnd = ProcFS.rssKiB(daemon.pid)
        #expect(result.failed.isEmpty, "\(result.failed.prefix(3))")
        #expect(stats.stalls == 0, "the good client made no progress \(stats.stalls) times")
        #expect(result.ok >= 100)
        // Every framing error drops the connection, so the fuzzer reconnects over and over.
        #expect(stats.connections > 1_000, "\(stats.connections) connections")
        // Still serving, and the state is intact.
        let r = try virsh(daemon.testURI, "list --all --name")
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "test")
        #expect(rssEnd > 0 && rssEnd < stats.rssWarm + 40_000, "RSS \(stats.rssWarm) KiB -> \(rssEnd) KiB")
    }

    static func fuzzLoop(socketPath: String, pid: Int32, progress: GoodClientLog)
        -> (connections: Int, rssWarm: Int, stalls: Int) {
        var rng = RNG(state: 0x5eed)
        var sent = 0
        var connections = 0
        var rssWarm = 0
        var stalls = 0
        var peer: RawPeer?
        while sent < 100_000 {
            if peer == nil || peer?.dropped == true {
                peer = RawPeer(path: socketPath)
                connections += 1
                // Half the connections open a driver connection first, so the dispatch paths run too.
                if Bool.random(using: &rng), let p = peer {
                    p.send(packet(RPCHeader(program: RPCProgram.remote, procedure: 1, type: .call, serial: 0),
                                  [0, 0, 0, 0, 0, 0, 0, 0]))
                }
            }
            guard let p = peer else { return (connections, rssWarm, stalls + 1) }
            let (bytes, _) = malformed(&rng, serial: UInt32(sent))
            if !p.send(bytes) { peer = nil }
            sent += 1
            if sent == 10_000 { rssWarm = ProcFS.rssKiB(pid) }
            if sent % 1_000 == 0 && !progress.waitForNewOK(timeLimit: 180) { stalls += 1 }
        }
        return (connections, rssWarm, stalls)
    }
}

/// What the well-behaved client printed, read from its log as it grows: "ok" per successful round, anything
/// else (an error, a Python traceback) is a failure. Used from the fuzzer's thread only, then from the test.
final class GoodClientLog: @unchecked Sendable {
    let path: String
    private(set) var ok = 0
    private(set) var failed: [String] = []
    private var offset: UInt64 = 0
    private var pending = Data()
    private var okAtLastWait = 0

    init(path: String) { self.path = path }

    /// Reads the lines added since the last call.
    func refresh() {
        guard let h = FileHandle(forReadingAtPath: path) else { return }
        defer { try? h.close() }
        try? h.seek(toOffset: offset)
        guard let chunk = try? h.readToEnd(), !chunk.isEmpty else { return }
        offset += UInt64(chunk.count)
        pending.append(chunk)
        while let nl = pending.firstIndex(of: 10) {
            let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
            pending.removeSubrange(pending.startIndex...nl)
            if line == "ok" { ok += 1 } else if failed.count < 10 { failed.append(line) }
        }
    }

    /// Waits until the client has finished a round since the previous wait; false after `timeLimit` seconds.
    func waitForNewOK(timeLimit: Double) -> Bool {
        let end = Date().addingTimeInterval(timeLimit)
        while true {
            refresh()
            if ok > okAtLastWait {
                okAtLastWait = ok
                return true
            }
            if Date() > end { return false }
            usleep(2_000)
        }
    }
}
