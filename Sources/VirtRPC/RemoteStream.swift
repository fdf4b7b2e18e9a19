import NIOCore
import Synchronization
import VirtCore

/// The client end of a libvirt stream over an ``RPCClient``: STREAM/CONTINUE data in, an empty CONTINUE or
/// OK as end of stream, ERROR as a thrown `VirtError`; writes go out as STREAM/CONTINUE, ``finish()`` sends
/// STREAM/OK and ``abort()`` STREAM/ERROR.
public final class RemoteStream: ByteStream {
    private let client: RPCClient
    private let header: RPCHeader
    private let incoming: AsyncStream<RPCPacket>
    private let done = Mutex(false)

    init(client: RPCClient, header: RPCHeader, incoming: AsyncStream<RPCPacket>) {
        self.client = client
        self.header = header
        self.incoming = incoming
    }

    public func read() async throws -> [UInt8]? {
        var it = incoming.makeAsyncIterator()
        guard let p = await it.next() else { return nil }
        switch RPCMessageStatus(rawValue: p.header.status) {
        case .continue:
            let bytes = p.payload.getBytes(at: p.payload.readerIndex, length: p.payload.readableBytes) ?? []
            return bytes.isEmpty ? nil : bytes
        case .error:
            var r = XDRReader(buffer: p.payload)
            let e = (try? r.error()) ?? VirtError(.rpc, domain: .rpc, "stream error")
            client.endStream(header.serial)
            throw e
        default:
            client.endStream(header.serial)
            return nil
        }
    }

    public func write(_ bytes: [UInt8]) async throws {
        if done.withLock({ $0 }) { throw VirtError(.invalidStream, domain: .streams, "stream is closed") }
        try await client.sendStream(header, status: .continue, bytes)
    }

    public func finish() async throws {
        if markDone() { return }
        try await client.sendStream(header, status: .ok, [])
        client.endStream(header.serial)
    }

    /// Sends STREAM/OK, then waits for the server's OK (or its ERROR, thrown); data still arriving is dropped.
    public func finishConfirmed() async throws {
        if markDone() { return }
        defer { client.endStream(header.serial) }
        try await client.sendStream(header, status: .ok, [])
        var it = incoming.makeAsyncIterator()
        while let p = await it.next() {
            switch RPCMessageStatus(rawValue: p.header.status) {
            case .continue:
                continue
            case .error:
                var r = XDRReader(buffer: p.payload)
                throw (try? r.error()) ?? VirtError(.rpc, domain: .rpc, "stream error")
            default:
                return
            }
        }
    }

    public func abort() async {
        if markDone() { return }
        try? await client.sendStream(header, status: .error, [])
        client.endStream(header.serial)
    }

    private func markDone() -> Bool {
        done.withLock { d -> Bool in
            let was = d
            d = true
            return was
        }
    }
}
