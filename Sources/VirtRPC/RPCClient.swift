import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import VirtCore

/// A client connection speaking libvirt's remote protocol: numbered calls matched to replies by serial,
/// MESSAGE packets (events) handed to a callback, keepalive answered and sent.
public final class RPCClient: Sendable {
    /// Where to connect.
    public enum Endpoint: Sendable {
        case unix(String)
        case tcp(host: String, port: Int)
        /// libvirt's TLS transport: the handshake, the server's certificate checked, the confirmation byte.
        case tls(TLSClientSettings)
    }

    private struct State {
        var serial: UInt32 = 0
        var pending: [UInt32: CheckedContinuation<RPCPacket, any Error>] = [:]
        var closed = false
        var onMessage: (@Sendable (RPCPacket) -> Void)?
        var streams: [UInt32: AsyncStream<RPCPacket>.Continuation] = [:]
        var lastReceived = NIODeadline.now()
        var missed = 0
        var keepalive: RepeatedTask?
    }

    let channel: any Channel
    private let state: Mutex<State>
    /// Whether the transport is a unix socket (the only one that carries descriptors).
    let isUnixSocket: Bool
    /// Calls receiving descriptors run one at a time (``callReceivingFDs(_:_:)``).
    let fdCalls = KeyedAsyncLock<Int>()

    private init(channel: any Channel, isUnixSocket: Bool) {
        self.channel = channel
        self.state = Mutex(State())
        self.isUnixSocket = isUnixSocket
    }

    /// Whether the connection has gone (the peer closed it, or keepalive gave up).
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Connects to `endpoint`.
    public static func connect(_ endpoint: Endpoint,
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws
        -> RPCClient {
        let box = ClientBox()
        let tlsReady = Mutex<EventLoopPromise<Void>?>(nil)
        let bootstrap = ClientBootstrap(group: group).channelInitializer { ch in
            ch.eventLoop.makeCompletedFuture {
                if case .tls(let settings) = endpoint {
                    // SNI takes a name, never an address.
                    let sni = TLSClientSettings.ipBytes(settings.host) == nil ? settings.host : nil
                    try ch.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: settings.context, serverHostname: sni))
                    let ready = ch.eventLoop.makePromise(of: Void.self)
                    tlsReady.withLock { $0 = ready }
                    try ch.pipeline.syncOperations.addHandler(TLSClientGate(settings: settings, ready: ready))
                }
                try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(RPCFrameDecoder()))
                try ch.pipeline.syncOperations.addHandler(ClientInboundHandler(box: box))
            }
        }
        let channel: any Channel
        do {
            switch endpoint {
            case .unix(let path):
                channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            case .tcp(let host, let port):
                channel = try await bootstrap.connect(host: host, port: port).get()
            case .tls(let settings):
                channel = try await bootstrap.connect(host: settings.host, port: settings.port).get()
            }
        } catch {
            // A TLS channel that never connected leaves its confirmation promise to us.
            tlsReady.withLock { $0 }?.fail(Self.closedError)
            switch endpoint {
            case .unix(let p):
                throw VirtError(.systemError, domain: .rpc, "Failed to connect to socket '\(p)': \(error)")
            case .tcp(let h, let p):
                throw Self.connectError(h, p, error)
            case .tls(let t):
                throw Self.connectError(t.host, t.port, error)
            }
        }
        if let ready = tlsReady.withLock({ $0 }) {
            do {
                try await ready.futureResult.get()
            } catch {
                try? await channel.close()
                if let e = error as? VirtError { throw e }
                throw VirtError(.rpc, domain: .rpc, "TLS: \(error)")
            }
        }
        var unix = false
        if case .unix = endpoint { unix = true }
        let client = RPCClient(channel: channel, isUnixSocket: unix)
        box.client.withLock { $0 = client }
        return client
    }

    /// libvirt's words for a TCP connection that could not be made (virNetSocketNewConnectTCP).
    static func connectError(_ host: String, _ port: Int, _ error: any Error) -> VirtError {
        VirtError(.systemError, domain: .rpc, "unable to connect to server at '\(host):\(port)': \(reason(error))")
    }

    /// The system's words for a failed connect ("Connection refused"), as libvirt quotes them.
    static func reason(_ error: any Error) -> String {
        if let e = error as? IOError { return String(cString: strerror(e.errnoCode)) }
        if let e = error as? NIOConnectionError, let first = e.connectionErrors.first {
            return reason(first.error)
        }
        return "\(error)"
    }

    /// Sets the handler for MESSAGE packets of non-keepalive programs (events).
    public func onMessage(_ handler: @escaping @Sendable (RPCPacket) -> Void) {
        state.withLock { $0.onMessage = handler }
    }

    /// Sends a CALL and waits for its REPLY. An ERROR reply throws the `VirtError` it carries.
    public func call(program: UInt32 = RPCProgram.remote, _ proc: Int32,
                     _ args: (inout XDRWriter) -> Void = { _ in }) async throws -> XDRReader {
        return try await call(program: program, proc, serial: try nextSerial(), args)
    }

    /// A fresh call serial; throws when the connection has gone.
    func nextSerial() throws(VirtError) -> UInt32 {
        try state.withLock { s throws(VirtError) -> UInt32 in
            if s.closed { throw Self.closedError }
            s.serial &+= 1
            return s.serial
        }
    }

    /// Sends procedure `c` with `args` and decodes its result.
    public func call<A, R>(_ c: RemoteCall<A, R>, _ args: A) async throws -> R {
        var r = try await call(program: c.program.number, c.number) { args.encode(xdr: &$0) }
        return try R(xdr: &r)
    }

    func call(program: UInt32, _ proc: Int32, serial: UInt32,
                      _ args: (inout XDRWriter) -> Void) async throws -> XDRReader {
        let packet = RPCPacket.encode(RPCHeader(program: program, procedure: proc, type: .call, serial: serial),
                                      args)
        let channel = self.channel
        return try await call(serial: serial) { [weak self] in
            channel.writeAndFlush(packet).whenFailure { err in
                self?.fail(serial, VirtError(.systemError, domain: .rpc, "cannot send data: \(err)"))
            }
        }
    }

    /// Waits for the reply to call `serial`, which `send` writes once the reply has a place to go.
    func call(serial: UInt32, send: () -> Void) async throws -> XDRReader {
        try await reply(serial: serial, send: send).reader
    }

    /// ``call(serial:send:)`` with the reply's message type (REPLY or REPLY_WITH_FDS).
    func reply(serial: UInt32, send: () -> Void) async throws -> (reader: XDRReader, type: Int32) {
        let reply: RPCPacket = try await withCheckedThrowingContinuation { c in
            let ok = state.withLock { s -> Bool in
                if s.closed { return false }
                s.pending[serial] = c
                return true
            }
            if !ok {
                c.resume(throwing: Self.closedError)
                return
            }
            send()
        }
        var r = XDRReader(buffer: reply.payload)
        if reply.header.status == RPCMessageStatus.error.rawValue {
            throw try r.error()
        }
        return (r, reply.header.type)
    }

    /// Sends a CALL that opens a stream (e.g. DOMAIN_OPEN_CONSOLE) and returns the stream once the REPLY
    /// came; STREAM packets with the call's serial are routed to it from before the call is sent.
    public func openStream(program: UInt32 = RPCProgram.remote, _ proc: Int32,
                           _ args: (inout XDRWriter) -> Void = { _ in }) async throws -> RemoteStream {
        try await openStreamWithReply(program: program, proc, args).stream
    }

    /// ``openStream(program:_:_:)`` that also returns the opening call's reply (e.g. a migration cookie).
    public func openStreamWithReply(program: UInt32 = RPCProgram.remote, _ proc: Int32,
                                    _ args: (inout XDRWriter) -> Void = { _ in }) async throws
        -> (reply: XDRReader, stream: RemoteStream) {
        let (incoming, cont) = AsyncStream<RPCPacket>.makeStream(bufferingPolicy: .unbounded)
        let serial = try state.withLock { s throws(VirtError) -> UInt32 in
            if s.closed { throw Self.closedError }
            s.serial &+= 1
            s.streams[s.serial] = cont
            return s.serial
        }
        let reply: XDRReader
        do {
            reply = try await call(program: program, proc, serial: serial, args)
        } catch {
            _ = state.withLock { $0.streams.removeValue(forKey: serial) }
            cont.finish()
            throw error
        }
        return (reply, RemoteStream(client: self, header: RPCHeader(program: program, procedure: proc, type: .stream,
                                                                     serial: serial), incoming: incoming))
    }

    /// Sends a STREAM packet of an open stream.
    func sendStream(_ header: RPCHeader, status: RPCMessageStatus, _ bytes: [UInt8]) async throws {
        var h = header
        h.status = status.rawValue
        let packet = RPCPacket.encode(h, capacity: bytes.count + 32) { $0.buffer.writeBytes(bytes) }
        do {
            try await channel.writeAndFlush(packet)
        } catch {
            throw VirtError(.systemError, domain: .rpc, "cannot send data: \(error)")
        }
    }

    /// Stops routing a stream's packets.
    func endStream(_ serial: UInt32) {
        let c = state.withLock { $0.streams.removeValue(forKey: serial) }
        c?.finish()
    }

    /// Starts sending keepalive PINGs every `interval` seconds while idle, closing after `count` unanswered.
    public func startKeepalive(interval: Int, count: Int) {
        guard interval > 0 else { return }
        let task = channel.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(Int64(interval)),
                                                          delay: .seconds(Int64(interval))) { [weak self] _ in
            guard let self else { return }
            let action = self.state.withLock { s -> Int in
                if NIODeadline.now() - s.lastReceived < .seconds(Int64(interval)) { return 0 }
                if s.missed >= count { return 2 }
                s.missed += 1
                return 1
            }
            if action == 1 {
                self.channel.writeAndFlush(RPCPacket.encode(RPCHeader(
                    program: RPCProgram.keepalive, procedure: KeepaliveProcedure.ping.rawValue, type: .message,
                    serial: 0)), promise: nil)
            } else if action == 2 {
                self.channel.close(promise: nil)
            }
        }
        state.withLock { $0.keepalive = task }
    }

    /// Closes the connection; pending calls fail.
    public func close() async {
        try? await channel.close()
        closed()
    }

    static let closedError = VirtError(.internalError, domain: .rpc,
                                       "internal error: client socket is closed", str1: "client socket is closed")

    fileprivate func received(_ p: RPCPacket) {
        state.withLock {
            $0.lastReceived = .now()
            $0.missed = 0
        }
        if p.header.program == RPCProgram.keepalive {
            if p.header.procedure == KeepaliveProcedure.ping.rawValue {
                channel.writeAndFlush(RPCPacket.encode(RPCHeader(
                    program: RPCProgram.keepalive, procedure: KeepaliveProcedure.pong.rawValue, type: .message,
                    serial: 0)), promise: nil)
            }
            return
        }
        switch RPCMessageType(rawValue: p.header.type) {
        case .reply, .replyWithFDs:
            let c = state.withLock { $0.pending.removeValue(forKey: p.header.serial) }
            c?.resume(returning: p)
        case .message:
            let h = state.withLock { $0.onMessage }
            h?(p)
        case .stream:
            let c = state.withLock { $0.streams[p.header.serial] }
            c?.yield(p)
        default:
            break
        }
    }

    fileprivate func closed() {
        let streams = state.withLock { s -> [AsyncStream<RPCPacket>.Continuation] in
            let v = Array(s.streams.values)
            s.streams.removeAll()
            return v
        }
        for c in streams { c.finish() }
        let (pending, ka) = state.withLock { s -> ([CheckedContinuation<RPCPacket, any Error>], RepeatedTask?) in
            s.closed = true
            let v = Array(s.pending.values)
            s.pending.removeAll()
            let k = s.keepalive
            s.keepalive = nil
            return (v, k)
        }
        ka?.cancel()
        for c in pending { c.resume(throwing: Self.closedError) }
    }

    func fail(_ serial: UInt32, _ e: VirtError) {
        let c = state.withLock { $0.pending.removeValue(forKey: serial) }
        c?.resume(throwing: e)
    }
}

private final class ClientBox: Sendable {
    let client = Mutex<RPCClient?>(nil)
}

private final class ClientInboundHandler: ChannelInboundHandler {
    typealias InboundIn = RPCPacket
    let box: ClientBox
    init(box: ClientBox) { self.box = box }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let p = unwrapInboundIn(data)
        box.client.withLock { $0 }?.received(p)
    }

    func channelInactive(context: ChannelHandlerContext) {
        box.client.withLock { $0 }?.closed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
