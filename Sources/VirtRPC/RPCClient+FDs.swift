import CSpawn
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Descriptors in replies (libvirt's REPLY_WITH_FDS, e.g. DOMAIN_OPEN_GRAPHICS_FD). The daemon sends each
/// descriptor after the reply with one byte of its own (SCM_RIGHTS), which NIO's reads would drop. So for such
/// a call NIO stops reading (`autoRead` off) before the call goes out, and the socket is read here with
/// `recvmsg` until the reply and its descriptors have come: the bytes go into the channel's pipeline in order
/// (replies to other calls and events are decoded as usual), the descriptor bytes are left out, and NIO reads
/// again afterwards.
extension RPCClient {
    /// Sends procedure `c` and returns its result with the descriptors that came with it.
    public func callReceivingFDs<A, R>(_ c: RemoteCall<A, R>, _ args: A) async throws -> (R, [Int32]) {
        guard isUnixSocket else {
            // libvirt's client on a transport without descriptor passing (virNetSocketRecvFD).
            throw VirtError(.internalError, domain: .rpc,
                            "internal error: Receiving file descriptors is not supported on this socket",
                            str1: "Receiving file descriptors is not supported on this socket")
        }
        return try await fdCalls.withLock(0) {
            let channel = self.channel
            // Reading changes hands on the event loop, in one step each way (here, and at the end of the
            // reader's thread): no hop through Swift's task pool sits between NIO's reads and the reader's, so
            // a busy pool cannot leave the socket unread long enough for a keepalive to give up on it.
            let started = try await channel.eventLoop.submit { () throws -> DescriptorReader? in
                guard let options = channel.syncOptions,
                      let sock = try channel.pipeline.syncOperations.withUnsafeTransportIfAvailable(
                        of: NIOBSDSocket.Handle.self, { $0 })
                else { return nil }
                try options.setOption(ChannelOptions.autoRead, value: false)
                let reader = DescriptorReader(socket: sock, channel: channel)
                reader.start()
                return reader
            }.get()
            guard let reader = started else {
                throw VirtError(.internalError, domain: .rpc,
                                "internal error: Receiving file descriptors is not supported on this socket",
                                str1: "Receiving file descriptors is not supported on this socket")
            }
            do {
                var r = try await self.call(program: c.program.number, c.number, serial: try self.nextSerial()) {
                    args.encode(xdr: &$0)
                }
                let count = Int(try r.uint())
                let fds = try await reader.take(count)
                let result = try R(xdr: &r)
                await reader.finish()
                for fd in reader.leftover() { Glibc.close(fd) }
                return (result, fds)
            } catch {
                await reader.finish()
                for fd in reader.leftover() { Glibc.close(fd) }
                throw error
            }
        }
    }
}

/// Reads a unix socket with `recvmsg` and hands the bytes to the channel's pipeline, keeping the descriptors.
final class DescriptorReader: Sendable {
    private let socket: Int32
    private let channel: any Channel
    private struct State {
        var fds: [Int32] = []
        var stop = false
        var ended = false
        var finished = false
        var finishWaiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    init(socket: Int32, channel: any Channel) {
        self.socket = socket
        self.channel = channel
    }

    /// Starts the read loop on a thread of its own: it blocks in `poll`, which must not hold one of the few
    /// threads Swift's concurrency runs tasks on (the reply it waits for is handled by one of them).
    func start() {
        Thread.detachNewThread { [self] in
            run()
            // NIO reads again, after the bytes this loop handed over (the event loop runs them in order).
            let ch = channel
            ch.eventLoop.execute {
                try? ch.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            }
            let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                s.finished = true
                let w = s.finishWaiters
                s.finishWaiters = []
                return w
            }
            for w in waiters { w.resume() }
        }
    }

    /// The read loop until ``finish()`` or the end of the stream.
    private func run() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var fds = [Int32](repeating: -1, count: 16)
        while !state.withLock({ $0.stop }) {
            var p = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 20) > 0 else { continue }
            var nfds: Int32 = 0
            let n = buffer.withUnsafeMutableBytes { b in
                fds.withUnsafeMutableBufferPointer { f in
                    swiftvirt_recv_with_fds(socket, b.baseAddress, b.count, f.baseAddress, Int32(f.count), &nfds)
                }
            }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                state.withLock { $0.ended = true }
                return
            }
            if n == 0 {
                // End of stream: NIO sees it once it reads again.
                state.withLock { $0.ended = true }
                return
            }
            // A descriptor comes with one byte of its own (libvirt sends one per message), and recvmsg ends
            // with the message that carries it: that byte is the last one read.
            let got = Array(fds[0..<Int(nfds)])
            let length = nfds > 0 ? n - 1 : n
            if length > 0 {
                let bytes = Array(buffer[0..<length])
                let ch = channel
                ch.eventLoop.execute {
                    ch.pipeline.syncOperations.fireChannelRead(NIOAny(ch.allocator.buffer(bytes: bytes)))
                }
            }
            if !got.isEmpty { state.withLock { $0.fds += got } }
        }
    }

    /// The first `count` descriptors received; fails when the stream ends first or none come within 30 s
    /// (libvirt's "no file descriptor received" for a reply without them).
    func take(_ count: Int) async throws -> [Int32] {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let (have, ended) = state.withLock { s -> ([Int32]?, Bool) in
                if s.fds.count >= count {
                    let v = Array(s.fds.prefix(count))
                    s.fds.removeFirst(count)
                    return (v, s.ended)
                }
                return (nil, s.ended)
            }
            if let have { return have }
            if ended || ContinuousClock.now > deadline {
                throw VirtError(.internalError, domain: .rpc, "internal error: no file descriptor received",
                                str1: "no file descriptor received")
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Stops the loop and waits for its thread to end.
    func finish() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s -> Bool in
                s.stop = true
                if s.finished { return true }
                s.finishWaiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }

    /// Descriptors received but not taken.
    func leftover() -> [Int32] {
        state.withLock { s in
            let v = s.fds
            s.fds = []
            return v
        }
    }
}

/// Descriptors in calls (libvirt's CALL_WITH_FDS, e.g. DOMAIN_FD_ASSOCIATE, DOMAIN_OPEN_GRAPHICS): the message
/// carries their number before the arguments, and each descriptor follows the message with one byte of its own
/// (SCM_RIGHTS), as libvirt's client sends them. The caller asks CONNECT_SUPPORTS_FEATURE(FD_PASSING) first, as
/// libvirt's public API does (a daemon reads descriptors only on connections that asked).
extension RPCClient {
    /// Sends procedure `c` with `args` and `fds` (the caller keeps its descriptors) and decodes its result.
    /// A REPLY_WITH_FDS reply (its count before the result) may carry none here.
    public func callSendingFDs<A, R>(_ c: RemoteCall<A, R>, _ args: A, fds: [Int32]) async throws -> R {
        guard isUnixSocket else {
            // libvirt's client on a transport without descriptor passing (virNetSocketSendFD).
            throw VirtError(.internalError, domain: .rpc,
                            "internal error: Sending file descriptors is not supported on this socket",
                            str1: "Sending file descriptors is not supported on this socket")
        }
        guard fds.count <= 32 else {
            let m = "Too many FDs to send \(fds.count), expected 32 maximum"
            throw VirtError(.internalError, domain: .rpc, "internal error: \(m)", str1: m)
        }
        let serial = try nextSerial()
        let packet = RPCPacket.encode(RPCHeader(program: c.program.number, procedure: c.number, type: .callWithFDs,
                                                serial: serial)) { w in
            w.uint(UInt32(fds.count))
            args.encode(xdr: &w)
        }
        let channel = self.channel
        var (r, type) = try await reply(serial: serial) { [weak self] in
            let written = channel.eventLoop.makePromise(of: Void.self)
            channel.writeAndFlush(packet, promise: written)
            written.futureResult.whenComplete { result in
                var sent = false
                if case .success = result {
                    sent = (try? channel.pipeline.syncOperations.withUnsafeTransportIfAvailable(
                        of: NIOBSDSocket.Handle.self) { sock in
                            fds.allSatisfy { Self.sendFD($0, on: sock) }
                        }) ?? false
                }
                if !sent {
                    self?.fail(serial, VirtError(.systemError, domain: .rpc, "cannot send data: file descriptors"))
                }
            }
        }
        if type == RPCMessageType.replyWithFDs.rawValue, try r.uint() != 0 {
            throw VirtError(.internalError, domain: .rpc, "internal error: unexpected file descriptors in the reply",
                            str1: "unexpected file descriptors in the reply")
        }
        return try R(xdr: &r)
    }

    /// One descriptor with a zero byte; waits (briefly) while the socket buffer is full.
    private static func sendFD(_ fd: Int32, on sock: Int32) -> Bool {
        var zero: UInt8 = 0
        for _ in 0..<1000 {
            if swiftvirt_send_with_fd(sock, &zero, 1, fd) == 1 { return true }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return false }
            var p = pollfd(fd: sock, events: Int16(POLLOUT), revents: 0)
            _ = poll(&p, 1, 10)
        }
        return false
    }
}
