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

/// The framing of ``RPCFrameDecoder`` passing each packet on as its bytes (header and payload, without the
/// length word), which the server's connection handler decodes itself: a `ByteBuffer` travels through the
/// pipeline unboxed, while an ``RPCPacket`` is boxed into `NIOAny` and cast back for every packet.
struct RPCFrameSplitter: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

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

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let body = try Self.nextFrame(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(body))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer,
                             seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
