import Foundation
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// A console stream on a pty that QEMU provides (`<serial type='pty'>`): a dedicated thread reads the pty
/// (waiting in `poll` together with a wake-up pipe, so ``finish()`` ends it at once); writes go straight to it.
public final class PTYStream: ByteStream {
    private let fd: Int32
    private let wakeWrite: Int32
    private let chunks: AsyncStream<[UInt8]>
    private let closed = Mutex(false)
    /// Set (under the lock) by the reader thread when it closes the pty; writes hold the lock.
    private let fdClosed: FDFlag

    /// Opens the pty at `path` in raw mode.
    public init(path: String) throws(VirtError) {
        let fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw VirtError.lastSystemError("cannot open console '\(path)'") }
        var tio = termios()
        if tcgetattr(fd, &tio) == 0 {
            cfmakeraw(&tio)
            tcsetattr(fd, TCSANOW, &tio)
        }
        var pipeFDs: [Int32] = [0, 0]
        // A socket pair, not a pipe: waking a reader that has already gone must not raise SIGPIPE.
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pipeFDs) == 0 else {
            let e = VirtError.lastSystemError("cannot create socket pair")
            close(fd)
            throw e
        }
        self.fd = fd
        self.wakeWrite = pipeFDs[1]
        let (stream, cont) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .unbounded)
        chunks = stream
        let wake = pipeFDs[0]
        let flag = FDFlag()
        fdClosed = flag
        Thread.detachNewThread {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            var buf = [UInt8](repeating: 0, count: 4096)
            loop: while true {
                fds[0].revents = 0
                fds[1].revents = 0
                let r = poll(&fds, 2, -1)
                if r < 0 {
                    if errno == EINTR { continue }
                    break
                }
                if fds[1].revents != 0 { break }
                if fds[0].revents & Int16(POLLIN) != 0 {
                    let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                    if n > 0 {
                        cont.yield(Array(buf[0..<n]))
                        continue
                    }
                    if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                    break loop
                }
                if fds[0].revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { break }
            }
            flag.state.withLock { closedNow in
                close(fd)
                close(wake)
                closedNow = true
            }
            cont.finish()
        }
    }

    public func read() async throws -> [UInt8]? {
        // One reader at a time, as a virStream has; iterators of one AsyncStream share its buffer.
        var it = chunks.makeAsyncIterator()
        return await it.next()
    }

    public func write(_ bytes: [UInt8]) async throws {
        if closed.withLock({ $0 }) { throw VirtError(.invalidStream, domain: .streams, "stream is closed") }
        let ok = fdClosed.state.withLock { c -> Bool in
            if c { return false }
            return LinuxSys.writeAll(fdFile: fd, bytes)
        }
        guard ok else { throw VirtError(.invalidStream, domain: .streams, "cannot write to the console") }
    }

    public func finish() async throws { shutdownStream() }

    public func abort() async { shutdownStream() }

    private func shutdownStream() {
        let was = closed.withLock { c -> Bool in
            let w = c
            c = true
            return w
        }
        if was { return }
        var one: UInt8 = 1
        _ = send(wakeWrite, &one, 1, Int32(MSG_NOSIGNAL))
    }

    deinit {
        shutdownStream()
        // The reader thread closes the pty and the pipe's read end when it ends.
        close(wakeWrite)
    }
}

private final class FDFlag: Sendable {
    let state = Mutex(false)
}
