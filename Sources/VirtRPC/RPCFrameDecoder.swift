import NIOCore

/// Why a connection's byte stream cannot be framed any more (the peer is dropped, as libvirt does).
public enum RPCFramingError: Error, Sendable, Equatable {
    /// A length word smaller than the length word itself plus the header.
    case lengthTooShort(UInt32)
    /// A length word over `VIR_NET_MESSAGE_MAX`.
    case lengthTooLong(UInt32)
}

/// Splits the byte stream into packets with libvirt's rules: a 4-byte length that counts itself, at most
/// `VIR_NET_MESSAGE_MAX` after it, and a 24-byte header.
public struct RPCFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = RPCPacket

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let body = try RPCFrameSplitter.nextFrame(&buffer) else { return .needMoreData }
        let packet = try RPCPacket.decode(body)
        context.fireChannelRead(wrapInboundOut(packet))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer,
                                    seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// The server's framing: ``RPCFrameDecoder``'s rules, passing each packet on as its bytes (header and payload,
/// without the length word), which the server's connection handler decodes itself. A `ByteBuffer` travels
/// through the pipeline unboxed, while an ``RPCPacket`` is boxed into `NIOAny` and cast back for every packet;
/// and packets are cut straight from the bytes read, without `ByteToMessageHandler`'s bookkeeping. As with
/// `ByteToMessageHandler`, every whole packet of a read is passed on at once, and after a framing error
/// (passed on as an error) nothing more is.
final class RPCFrameSplitter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The start of a packet whose end has not been read yet.
    private var pending: ByteBuffer?
    private var failed = false

    /// The next whole packet's bytes, or nil when more data is needed.
    static func nextFrame(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let len = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return nil
        }
        if len < 4 + UInt32(RPCLimits.headerSize) { throw RPCFramingError.lengthTooShort(len) }
        if len - 4 > UInt32(RPCLimits.messageMax) { throw RPCFramingError.lengthTooLong(len) }
        guard buffer.readableBytes >= Int(len) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(len) - 4)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if failed { return }
        var buffer = unwrapInboundIn(data)
        if var start = pending {
            pending = nil
            start.writeBuffer(&buffer)
            buffer = start
        }
        do {
            while let frame = try Self.nextFrame(&buffer) {
                context.fireChannelRead(wrapInboundOut(frame))
            }
        } catch {
            failed = true
            context.fireErrorCaught(error)
            return
        }
        if buffer.readableBytes > 0 { pending = buffer }
    }
}
