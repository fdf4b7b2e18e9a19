import CSpawn
import Logging
import NIOCore
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// One client connection on the server: answers keepalive on the event loop, checks each packet's header
/// as libvirtd does, and runs each CALL as a task against the client's driver. Its input is the packets'
/// bytes as ``RPCFrameSplitter`` cuts them.
final class ServerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What waits while a reply's descriptors are on their way (libvirt sends them right after the reply's
    /// bytes, before any other message): other writes, and further replies with descriptors.
    private enum Held {
        case write(NIOAny, EventLoopPromise<Void>?)
        case flush
        case replyWithFDs(ByteBuffer, [Int32])
    }
    private var sendingFDs = false
    private var held: [Held] = []

    private let dispatcher: RemoteDispatcher
    /// The dispatcher in a box, so that each call's task captures one reference instead of copying it.
    private let dispatcherBox: DispatcherBox
    private let readOnly: Bool
    private let logger: Logger
    private var session: ClientSession?
    private var inFlight = 0
    private var readPaused = false
    /// Reads the socket with recvmsg once the client asked for descriptor passing (ServerDescriptorReader.swift).
    private var descriptorReader: ServerDescriptorReader?
    private var lastReceived = NIODeadline.now()
    private var missedPings = 0
    private var keepaliveTask: RepeatedTask?
    private let onClose: @Sendable () -> Void
    private var executor: EventLoopTaskExecutor?

    private let registry: ClientRegistry?
    private let transport: ClientRegistry.Transport
    private var clientID: UInt64?

    init(dispatcher: RemoteDispatcher, readOnly: Bool, logger: Logger, registry: ClientRegistry? = nil,
         transport: ClientRegistry.Transport = .unix, onClose: @escaping @Sendable () -> Void) {
        self.registry = registry
        self.transport = transport
        self.dispatcher = dispatcher
        dispatcherBox = DispatcherBox(dispatcher)
        self.readOnly = readOnly
        self.logger = logger
        self.onClose = onClose
    }

    func channelActive(context: ChannelHandlerContext) {
        let session = ClientSession(channel: context.channel, readOnly: readOnly, access: dispatcher.config.access)
        self.session = session
        // A unix peer's credentials (libvirt's identity: uid, gid, pid and their names).
        if context.channel.localAddress?.protocol == .unix, let provider = context.channel as? SocketOptionProvider {
            let future: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            future.whenSuccess { c in
                let id = ClientIdentity.unixPeer(uid: c.uid, gid: c.gid, pid: c.pid)
                session.state.withLock { $0.identity = id }
            }
        }
        clientID = registry?.add(server: "libvirtd", channel: context.channel, transport: transport,
                                 readOnly: readOnly, session: session)
        executor = EventLoopTaskExecutor(context.eventLoop)
        let interval = dispatcher.config.keepaliveInterval
        if interval > 0 {
            let loopSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
            let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
            keepaliveTask = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(Int64(interval)),
                                                                   delay: .seconds(Int64(interval))) { _ in
                loopSelf.value.keepaliveTick(context: ctx.value)
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        keepaliveTask?.cancel()
        keepaliveTask = nil
        descriptorReader?.stop()
        descriptorReader = nil
        if let session {
            session.receivedFDs.end()
            let provider = dispatcher.provider
            Task { await session.shutdown(provider: provider) }
        }
        session = nil
        if let clientID { registry?.remove(server: "libvirtd", id: clientID) }
        onClose()
        context.fireChannelInactive()
    }

    /// A TLS client's certificate DN: its identity (`x509-distinguished-name`).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSPeerIdentity, let session {
            session.state.withLock { $0.identity.x509DN = tls.distinguishedName }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("dropping client: \(error)")
        context.close(promise: nil)
    }

    private func keepaliveTick(context: ChannelHandlerContext) {
        guard let session, session.state.withLock({ $0.keepaliveEnabled }) else { return }
        let interval = Int64(dispatcher.config.keepaliveInterval)
        if NIODeadline.now() - lastReceived < .seconds(interval) { return }
        if missedPings >= dispatcher.config.keepaliveCount {
            logger.info("keepalive timeout, closing client")
            context.close(promise: nil)
            return
        }
        missedPings += 1
        context.writeAndFlush(wrapOutboundOut(RPCPacket.encode(
            RPCHeader(program: RPCProgram.keepalive, procedure: KeepaliveProcedure.ping.rawValue,
                      type: .message, serial: 0))), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // One packet's bytes from RPCFrameSplitter, at least a header long.
        let packet: RPCPacket
        do {
            packet = try RPCPacket.decode(unwrapInboundIn(data))
        } catch {
            errorCaught(context: context, error: error)
            return
        }
        lastReceived = .now()
        missedPings = 0
        let h = packet.header
        if h.program == RPCProgram.keepalive {
            if h.procedure == KeepaliveProcedure.ping.rawValue && h.type == RPCMessageType.message.rawValue {
                context.writeAndFlush(wrapOutboundOut(RPCPacket.encode(
                    RPCHeader(program: RPCProgram.keepalive, procedure: KeepaliveProcedure.pong.rawValue,
                              type: .message, serial: 0))), promise: nil)
            }
            return
        }
        if h.type == RPCMessageType.stream.rawValue || h.type == RPCMessageType.streamHole.rawValue {
            // Client data or finish/abort for an open stream; packets for unknown streams are dropped.
            session?.stream(h.serial)?.received(packet)
            return
        }
        // Only calls get answers; stray MESSAGE/STREAM/REPLY packets are dropped, as libvirtd does.
        guard h.type == RPCMessageType.call.rawValue || h.type == RPCMessageType.callWithFDs.rawValue else {
            return
        }
        guard let session else { return }
        // The LXC program is served too (as libvirtd does whatever its drivers are): its calls get the
        // driver's own answer.
        if (h.program != RPCProgram.remote && h.program != RPCProgram.qemu && h.program != RPCProgram.lxc)
            || h.version != RPCProgram.version {
            let msg = "Cannot find program \(h.program) version \(h.version)"
            sendError(context, h, VirtError(.rpc, domain: .rpc, "RPC error : \(msg)", str1: msg))
            return
        }
        if h.status != RPCMessageStatus.ok.rawValue {
            sendError(context, h, VirtError(.rpc, domain: .rpc, "RPC error : Unexpected message status \(h.status)"))
            return
        }
        var reader = XDRReader(buffer: packet.payload)
        var fdRange: Range<Int>?
        if h.type == RPCMessageType.callWithFDs.rawValue {
            // The number of descriptors comes before the arguments; the descriptors follow the message.
            guard let count = try? reader.uint() else {
                sendError(context, h, RemoteDispatcher.decodeError)
                return
            }
            guard count <= UInt32(ReceivedDescriptors.maxPerMessage) else {
                let m = "Too many FDs to receive \(count), expected \(ReceivedDescriptors.maxPerMessage) maximum"
                sendError(context, h, VirtError(.rpc, domain: .rpc, "RPC error : \(m)", str1: m))
                context.close(promise: nil)
                return
            }
            fdRange = session.receivedFDs.reserve(Int(count))
        }
        inFlight += 1
        updateReading(context)
        let dispatcher = self.dispatcherBox
        let loopSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let executor = self.executor ?? EventLoopTaskExecutor(eventLoop)
        Task(executorPreference: executor) {
            let reply = await dispatcher.value.run(h, reader, session, fds: fdRange)
            // The task runs on the client's event loop (its executor preference), so the reply is normally
            // written right here, through this handler's context (the last handler: the same path as a write
            // on the channel, without the channel's generic entry point).
            if eventLoop.inEventLoop {
                loopSelf.value.writeReply(reply, serial: h.serial, session: session, context: ctx.value)
            } else {
                eventLoop.execute {
                    loopSelf.value.writeReply(reply, serial: h.serial, session: session, context: ctx.value)
                }
            }
            // A stream opened by this call starts after its reply is queued, so STREAM packets follow it.
            if let st = session.stream(h.serial) {
                st.start()
            }
        }
    }

    /// Writes a call's reply. A client has at most `max_client_requests` calls running; beyond that, and while
    /// its replies wait in the channel's outbound buffer (the channel is not writable: the client does not
    /// read), the server stops reading from it, so a client that does not read stalls only itself. Writability
    /// is NIO's own water mark, so a reply needs no promise of its own.
    private func writeReply(_ reply: ByteBuffer, serial: UInt32, session: ClientSession,
                            context: ChannelHandlerContext) {
        if descriptorReader == nil, session.state.withLock({ $0.fdPassingAsked }) {
            startDescriptorReading(context, session: session)
        }
        if reply.getInteger(at: 16, as: Int32.self) == RPCMessageType.replyWithFDs.rawValue {
            let fds = session.state.withLock { $0.replyFDs.removeValue(forKey: serial) } ?? []
            if sendingFDs {
                held.append(.replyWithFDs(reply, fds))
            } else {
                writeWithFDs(reply, fds, context: context)
            }
        } else if sendingFDs {
            held.append(.write(wrapOutboundOut(reply), nil))
            held.append(.flush)
        } else {
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        }
        inFlight -= 1
        updateReading(context)
    }

    // Writes from elsewhere (events, stream data, keepalive) pass here on their way out.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if sendingFDs {
            held.append(.write(data, promise))
        } else {
            context.write(data, promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        if sendingFDs {
            held.append(.flush)
        } else {
            context.flush()
        }
    }

    /// The reply's bytes, then each descriptor with one byte of its own (libvirt's virNetSocketSendFD), then
    /// what was held meanwhile. A transport that cannot carry descriptors (TLS, TCP) closes the connection,
    /// as libvirtd fails the send.
    private func writeWithFDs(_ reply: ByteBuffer, _ fds: [Int32], context: ChannelHandlerContext) {
        sendingFDs = true
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(reply), promise: written)
        let loopSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { result in
            let me = loopSelf.value
            let context = ctx.value
            var sent = false
            if case .success = result, context.channel.localAddress?.protocol == .unix {
                sent = (try? context.pipeline.syncOperations.withUnsafeTransportIfAvailable(
                    of: NIOBSDSocket.Handle.self) { sock in
                        fds.allSatisfy { Self.sendFD($0, on: sock) }
                    }) ?? false
            }
            for fd in fds { Glibc.close(fd) }
            if !sent {
                me.logger.warning("cannot send file descriptors on this connection")
                context.close(promise: nil)
            }
            me.sendingFDs = false
            me.releaseHeld(context: context)
        }
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

    private func releaseHeld(context: ChannelHandlerContext) {
        while !sendingFDs, !held.isEmpty {
            switch held.removeFirst() {
            case .write(let data, let promise): context.write(data, promise: promise)
            case .flush: context.flush()
            case .replyWithFDs(let reply, let fds): writeWithFDs(reply, fds, context: context)
            }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        updateReading(context)
        context.fireChannelWritabilityChanged()
    }

    /// Reads while fewer than `max_client_requests` calls run and the replies are flowing out.
    private func updateReading(_ context: ChannelHandlerContext) {
        let pause = inFlight >= dispatcher.config.maxClientRequests || !context.channel.isWritable
        guard pause != readPaused else { return }
        readPaused = pause
        if let descriptorReader {
            descriptorReader.setPaused(pause)
            return
        }
        context.channel.setOption(ChannelOptions.autoRead, value: !pause).whenComplete { _ in }
    }

    /// The client asked whether descriptors can be passed (libvirt's client asks before each call that passes
    /// them): from now on this unix connection is read with recvmsg, before the answer leaves, so the call that
    /// follows it cannot reach NIO's reads. Other transports cannot carry descriptors (libvirt's client refuses).
    private func startDescriptorReading(_ context: ChannelHandlerContext, session: ClientSession) {
        guard context.channel.localAddress?.protocol == .unix,
              let sock = try? context.pipeline.syncOperations.withUnsafeTransportIfAvailable(
                of: NIOBSDSocket.Handle.self, { $0 }),
              let options = context.channel.syncOptions
        else { return }
        let copy = fcntl(sock, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else {
            logger.warning("cannot read descriptors on this connection: dup: \(String(cString: strerror(errno)))")
            return
        }
        do {
            try options.setOption(ChannelOptions.autoRead, value: false)
        } catch {
            Glibc.close(copy)
            return
        }
        let reader = ServerDescriptorReader(socket: copy, channel: context.channel, store: session.receivedFDs)
        reader.setPaused(readPaused)
        descriptorReader = reader
        reader.start()
    }

    private func sendError(_ context: ChannelHandlerContext, _ h: RPCHeader, _ e: VirtError) {
        context.writeAndFlush(wrapOutboundOut(RemoteDispatcher.errorPacket(h, e)), promise: nil)
    }
}

/// A ``RemoteDispatcher`` on the heap.
final class DispatcherBox: Sendable {
    let value: RemoteDispatcher

    init(_ value: RemoteDispatcher) {
        self.value = value
    }
}

/// `struct ucred` (pid, uid, gid: three 32-bit fields), which Glibc's Swift module does not export.
struct PeerCredentials: Sendable {
    var pid: pid_t = 0
    var uid: uid_t = 0
    var gid: gid_t = 0
}
