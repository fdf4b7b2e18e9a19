import Foundation
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Tunnelled migration (peer to peer only): QEMU's stream goes through a pipe on each host and, between
/// them, through the daemons' connection as libvirt stream packets (libvirt's `qemuMigrationSrcIOFunc` on the
/// source, `virFDStreamOpen` on the destination).
enum QEMUMigrationTunnel {
    /// libvirt's chunk size on the source.
    static let chunk = 65536

    /// A pipe whose ends close on exec; the end the daemon keeps is non-blocking.
    static func pipe(daemonEndNonBlocking readSide: Bool) throws(VirtError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard Glibc.pipe(&fds) == 0 else { throw VirtError.lastSystemError("cannot create a pipe") }
        for f in fds { _ = fcntl(f, F_SETFD, FD_CLOEXEC) }
        let mine = readSide ? fds[0] : fds[1]
        _ = fcntl(mine, F_SETFL, fcntl(mine, F_GETFL) | O_NONBLOCK)
        return (fds[0], fds[1])
    }

    /// Source: copies what QEMU writes into the pipe (`fd`, non-blocking) to `stream` until QEMU closes its end,
    /// then finishes the stream. Closes `fd`.
    static func pump(fd: Int32, to stream: any ByteStream) async throws {
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: chunk)
        var idle = 1
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, chunk) }
            if n > 0 {
                idle = 1
                try await stream.write(Array(buf[0..<n]))
            } else if n == 0 {
                try await stream.finish()
                return
            } else if errno == EAGAIN || errno == EINTR {
                if Task.isCancelled { throw CancellationError() }
                try? await Task.sleep(for: .milliseconds(idle))
                idle = min(idle * 2, 20)
            } else {
                throw VirtError.lastSystemError("cannot read the migration stream from QEMU")
            }
        }
    }
}

/// Destination: the migration data the source sends, written into the pipe QEMU reads (`migrate-incoming
/// fd:…`). ``finish()`` and ``abort()`` close the pipe; ``read()`` has nothing to give and returns at the end.
final class QEMUMigrationPipeSink: ByteStream {
    private let fd: Mutex<Int32>
    private let closedSignal: AsyncStream<Void>
    private let closedCont: AsyncStream<Void>.Continuation

    init(fd: Int32) {
        self.fd = Mutex(fd)
        (closedSignal, closedCont) = AsyncStream<Void>.makeStream()
    }

    func read() async throws -> [UInt8]? {
        for await _ in closedSignal {}
        return nil
    }

    func write(_ bytes: [UInt8]) async throws {
        var off = 0
        var idle = 1
        while off < bytes.count {
            let f = fd.withLock { $0 }
            guard f >= 0 else { throw VirtError(.invalidStream, domain: .streams, "migration stream is closed") }
            let n = bytes.withUnsafeBytes { Glibc.write(f, $0.baseAddress.map { $0 + off }, bytes.count - off) }
            if n > 0 {
                off += n
                idle = 1
            } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
                try? await Task.sleep(for: .milliseconds(idle))
                idle = min(idle * 2, 20)
            } else {
                throw VirtError.lastSystemError("cannot write the migration stream to QEMU")
            }
        }
    }

    func finish() async throws { end() }

    func abort() async { end() }

    private func end() {
        let f = fd.withLock { f -> Int32 in
            let v = f
            f = -1
            return v
        }
        if f >= 0 { close(f) }
        closedCont.finish()
    }

    deinit { end() }
}
