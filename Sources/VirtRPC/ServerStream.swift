import NIOCore
import Synchronization
import VirtCore

/// One stream of a client on the server (libvirt's `daemonClientStream`): the driver's ``ByteStream`` bound
/// to STREAM packets carrying the opening call's serial. Driver data goes out as STREAM/CONTINUE (EOF as an
/// empty CONTINUE); client CONTINUE data is written to the driver stream in order; a client OK (finish) or
/// ERROR (abort) is confirmed with an empty STREAM/OK.
final class ServerStream: Sendable {
    let header: RPCHeader
    let stream: any ByteStream
    private weak let session: ClientSession?
    private let inbox: AsyncStream<RPCPacket>.Continuation
    private let inboxStream: AsyncStream<RPCPacket>
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let ended = Mutex(false)

    init(header: RPCHeader, stream: any ByteStream, session: ClientSession) {
        self.header = header
        self.stream = stream
        self.session = session
        (inboxStream, inbox) = AsyncStream<RPCPacket>.makeStream(bufferingPolicy: .unbounded)
    }

    var serial: UInt32 { header.serial }

    private func streamHeader(_ status: RPCMessageStatus) -> RPCHeader {
        RPCHeader(program: header.program, version: header.version, procedure: header.procedure, type: .stream,
                  serial: header.serial, status: status)
    }

    /// Starts both directions; called after the opening REPLY has been queued.
    func start() {
        let out = Task { [self] in
            while true {
                let chunk: [UInt8]?
                do {
                    if stream.sparse {
                        // A hole goes out as STREAM_HOLE (length, flags 0), as libvirtd sends it.
                        switch try await stream.readSparse() {
                        case .hole(let length):
                            if isEnded { return }
                            let h = RPCHeader(program: header.program, version: header.version,
                                              procedure: header.procedure, type: .streamHole, serial: header.serial,
                                              status: .continue)
                            send(RPCPacket.encode(h) { w in
                                w.hyper(Int64(truncatingIfNeeded: length))
                                w.uint(0)
                            })
                            continue
                        case .data(let d):
                            chunk = d
                        case nil:
                            chunk = nil
                        }
                    } else {
                        chunk = try await stream.read()
                    }
                } catch {
                    let e = (error as? VirtError) ?? VirtError(.internalError, domain: .streams, "\(error)")
                    send(RPCPacket.encode(streamHeader(.error)) { $0.error(e) })
                    return
                }
                if isEnded { return }
                guard let chunk, !chunk.isEmpty else {
                    send(RPCPacket.encode(streamHeader(.continue)))
                    return
                }
                var start = 0
                while start < chunk.count {
                    let end = min(chunk.count, start + RPCLimits.legacyPayloadMax)
                    let part = Array(chunk[start..<end])
                    send(RPCPacket.encode(streamHeader(.continue), capacity: part.count + 32) {
                        $0.buffer.writeBytes(part)
                    })
                    start = end
                }
            }
        }
        let inbound = Task { [self] in
            for await p in inboxStream {
                if p.header.type == RPCMessageType.streamHole.rawValue {
                    // A hole of a sparse upload: length (hyper) and flags.
                    var r = XDRReader(buffer: p.payload)
                    do {
                        let length = try r.hyper()
                        try await stream.writeHole(UInt64(max(0, length)))
                    } catch {
                        let e = (error as? VirtError) ?? VirtError(.internalError, domain: .streams, "\(error)")
                        send(RPCPacket.encode(streamHeader(.error)) { $0.error(e) })
                        await close(abort: true, confirm: false)
                        return
                    }
                    continue
                }
                switch RPCMessageStatus(rawValue: p.header.status) {
                case .continue:
                    let bytes = p.payload.getBytes(at: p.payload.readerIndex, length: p.payload.readableBytes) ?? []
                    if bytes.isEmpty { continue }
                    do {
                        try await stream.write(bytes)
                    } catch {
                        let e = (error as? VirtError) ?? VirtError(.internalError, domain: .streams, "\(error)")
                        send(RPCPacket.encode(streamHeader(.error)) { $0.error(e) })
                        await close(abort: true, confirm: false)
                        return
                    }
                case .ok:
                    await close(abort: false, confirm: true)
                    return
                default:
                    await close(abort: true, confirm: true)
                    return
                }
            }
        }
        tasks.withLock { $0 = [out, inbound] }
    }

    /// Queues a STREAM packet from the client.
    func received(_ p: RPCPacket) {
        inbox.yield(p)
    }

    private var isEnded: Bool { ended.withLock { $0 } }

    private func send(_ buf: ByteBuffer) {
        session?.send(buf)
    }

    /// Ends the stream (client finish/abort, or disconnect).
    func close(abort: Bool, confirm: Bool) async {
        let was = ended.withLock { e -> Bool in
            let w = e
            e = true
            return w
        }
        if was { return }
        session?.removeStream(serial)
        inbox.finish()
        if abort { await stream.abort() } else { try? await stream.finish() }
        if confirm { send(RPCPacket.encode(streamHeader(.ok))) }
    }
}
