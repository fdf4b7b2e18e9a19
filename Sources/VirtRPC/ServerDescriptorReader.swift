import CSpawn
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Descriptors a client sends with its calls (libvirt's CALL_WITH_FDS: virDomainFDAssociate,
/// virDomainOpenGraphics). libvirt's client writes the message, then each descriptor with one byte of its own
/// (SCM_RIGHTS). NIO reads a socket with `read`, which drops the descriptors and leaves their bytes in the stream,
/// so a connection that will carry them is read with `recvmsg` instead, by a ``ServerDescriptorReader``.
///
/// When: libvirt's client asks CONNECT_SUPPORTS_FEATURE(FD_PASSING) before every call that passes descriptors and
/// sends that call only after the answer. So the first time a unix-socket client asks, the connection changes
/// readers on the event loop just before the answer goes out: nothing the client sends afterwards reaches NIO's
/// reads. Every other connection keeps NIO's direct reads.
final class ReceivedDescriptors: Sendable {
    private struct State {
        /// Received descriptors by their position in the connection's stream of descriptors.
        var byIndex: [Int: Int32] = [:]
        var received = 0
        /// Positions handed to calls so far (calls take them in the order their messages came).
        var reserved = 0
        var ended = false
    }
    private let state = Mutex(State())

    /// libvirt's limit per message (VIR_NET_MESSAGE_NUM_FDS_MAX).
    static let maxPerMessage = 32

    /// The positions of the next `count` descriptors, for a call whose message just came (event loop, in order).
    func reserve(_ count: Int) -> Range<Int> {
        state.withLock { s in
            let r = s.reserved..<(s.reserved + count)
            s.reserved += count
            return r
        }
    }

    func append(_ fds: [Int32]) {
        let late = state.withLock { s -> [Int32] in
            if s.ended { return fds }
            for fd in fds {
                s.byIndex[s.received] = fd
                s.received += 1
            }
            return []
        }
        for fd in late { close(fd) }
    }

    /// The descriptors at `range`; they follow their message on the socket, so they may still be on their way.
    /// Fails as libvirt's server does when they do not come (the connection ended, or 30 s passed).
    func take(_ range: Range<Int>) async throws -> [Int32] {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let (got, ended) = state.withLock { s -> ([Int32]?, Bool) in
                guard range.allSatisfy({ s.byIndex[$0] != nil }) else { return (nil, s.ended) }
                return (range.compactMap { s.byIndex.removeValue(forKey: $0) }, s.ended)
            }
            if let got { return got }
            if ended || ContinuousClock.now > deadline {
                throw VirtError(.internalError, domain: .rpc, "internal error: no file descriptor received",
                                str1: "no file descriptor received")
            }
            try await Task.sleep(for: .microseconds(200))
        }
    }

    /// The connection ended: descriptors nobody took are closed.
    func end() {
        let left = state.withLock { s -> [Int32] in
            s.ended = true
            let v = Array(s.byIndex.values)
            s.byIndex = [:]
            return v
        }
        for fd in left { close(fd) }
    }
}

/// Reads a client's unix socket with `recvmsg` on a thread of its own, for the rest of the connection: the bytes
/// go into the channel's pipeline in order (without each descriptor's own byte), the descriptors into
/// ``ReceivedDescriptors``. It reads a duplicate of the socket, so its descriptor number cannot be reused by
/// another file while it polls; the duplicate is closed when the channel closes.
final class ServerDescriptorReader: Sendable {
    private let socket: Int32
    private let channel: any Channel
    private let store: ReceivedDescriptors
    private struct State {
        var stop = false
        var paused = false
    }
    private let state = Mutex(State())

    init(socket: Int32, channel: any Channel, store: ReceivedDescriptors) {
        self.socket = socket
        self.channel = channel
        self.store = store
    }

    func start() {
        Thread.detachNewThread { [self] in
            run()
            close(socket)
        }
    }

    /// Stops reading while the client has too many calls in flight or does not read its replies.
    func setPaused(_ paused: Bool) {
        state.withLock { $0.paused = paused }
    }

    /// The channel closed: the thread ends within one poll interval and closes the duplicate.
    func stop() {
        state.withLock { $0.stop = true }
    }

    private func run() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var fds = [Int32](repeating: -1, count: 16)
        while true {
            let (stop, paused) = state.withLock { ($0.stop, $0.paused) }
            if stop { return }
            if paused {
                usleep(2000)
                continue
            }
            var p = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 20) > 0 else { continue }
            var nfds: Int32 = 0
            let n = buffer.withUnsafeMutableBytes { b in
                fds.withUnsafeMutableBufferPointer { f in
                    swiftvirt_recv_with_fds(socket, b.baseAddress, b.count, f.baseAddress, Int32(f.count), &nfds)
                }
            }
            if n < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
            if n <= 0 {
                // End of stream (or an error): the connection ends as NIO would end it.
                let ch = channel
                ch.eventLoop.execute { ch.close(promise: nil) }
                return
            }
            // recvmsg stops after the byte that carries descriptors: when some came, it is the last one read.
            let got = Array(fds[0..<Int(nfds)])
            if !got.isEmpty { store.append(got) }
            let length = nfds > 0 ? n - 1 : n
            if length > 0 {
                let bytes = Array(buffer[0..<length])
                let ch = channel
                ch.eventLoop.execute {
                    ch.pipeline.syncOperations.fireChannelRead(NIOAny(ch.allocator.buffer(bytes: bytes)))
                    ch.pipeline.syncOperations.fireChannelReadComplete()
                }
            }
        }
    }
}
