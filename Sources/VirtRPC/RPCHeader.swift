import NIOCore

/// `virNetMessageType`.
public enum RPCMessageType: Int32, Sendable {
    case call = 0, reply, message, stream, callWithFDs, replyWithFDs, streamHole
}

/// `virNetMessageStatus`.
public enum RPCMessageStatus: Int32, Sendable {
    case ok = 0, error, `continue`
}

/// Program numbers.
public enum RPCProgram {
    /// `REMOTE_PROGRAM`.
    public static let remote: UInt32 = 0x2000_8086
    /// `QEMU_PROGRAM`.
    public static let qemu: UInt32 = 0x2000_8087
    /// `LXC_PROGRAM`.
    public static let lxc: UInt32 = 0x0006_8000
    /// `KEEPALIVE_PROGRAM` ("keep").
    public static let keepalive: UInt32 = 0x6b65_6570
    /// Every program's version.
    public static let version: UInt32 = 1
}

/// Keepalive procedures.
public enum KeepaliveProcedure: Int32, Sendable {
    case ping = 1, pong = 2
}

/// `virNetMessageHeader`, 24 bytes on the wire. Type and status are kept raw so that a bad value can be
/// answered rather than dropped.
public struct RPCHeader: Sendable, Hashable {
    public var program: UInt32
    public var version: UInt32
    public var procedure: Int32
    public var type: Int32
    public var serial: UInt32
    public var status: Int32

    public init(program: UInt32, version: UInt32 = RPCProgram.version, procedure: Int32,
                type: RPCMessageType, serial: UInt32, status: RPCMessageStatus = .ok) {
        self.program = program
        self.version = version
        self.procedure = procedure
        self.type = type.rawValue
        self.serial = serial
        self.status = status.rawValue
    }

    public var messageType: RPCMessageType? { RPCMessageType(rawValue: type) }
    public var messageStatus: RPCMessageStatus? { RPCMessageStatus(rawValue: status) }

    /// The header of the reply to this call.
    public func reply(status: RPCMessageStatus) -> RPCHeader {
        RPCHeader(program: program, version: version, procedure: procedure, type: .reply, serial: serial,
                  status: status)
    }

    func write(to w: inout XDRWriter) {
        // The six words in one copy (one bounds check instead of six).
        var words = (program.bigEndian, version.bigEndian, UInt32(bitPattern: procedure).bigEndian,
                     UInt32(bitPattern: type).bigEndian, serial.bigEndian, UInt32(bitPattern: status).bigEndian)
        withUnsafeBytes(of: &words) { w.buffer.writeBytes($0) }
    }

    static func read(from r: inout XDRReader) throws(XDRError) -> RPCHeader {
        guard r.buffer.readableBytes >= RPCLimits.headerSize else { throw .truncated }
        var h = RPCHeader(program: 0, procedure: 0, type: .call, serial: 0)
        r.buffer.withUnsafeReadableBytes { p in
            h.program = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
            h.version = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            h.procedure = Int32(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: Int32.self))
            h.type = Int32(bigEndian: p.loadUnaligned(fromByteOffset: 12, as: Int32.self))
            h.serial = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
            h.status = Int32(bigEndian: p.loadUnaligned(fromByteOffset: 20, as: Int32.self))
        }
        r.buffer.moveReaderIndex(forwardBy: RPCLimits.headerSize)
        return h
    }
}

/// One packet: header and the XDR payload (without the length word).
public struct RPCPacket: Sendable {
    public var header: RPCHeader
    public var payload: ByteBuffer

    public init(header: RPCHeader, payload: ByteBuffer) {
        self.header = header
        self.payload = payload
    }

    /// Encodes a whole packet, length word included, with `body` writing the payload.
    public static func encode(_ header: RPCHeader, capacity: Int = 256,
                              _ body: (inout XDRWriter) -> Void = { _ in }) -> ByteBuffer {
        var w = XDRWriter(capacity: capacity)
        w.uint(0)
        header.write(to: &w)
        body(&w)
        let len = w.buffer.writerIndex
        w.buffer.setInteger(UInt32(truncatingIfNeeded: len), at: 0, endianness: .big)
        return w.buffer
    }

    /// Decodes a packet (without its length word).
    public static func decode(_ buffer: ByteBuffer) throws(XDRError) -> RPCPacket {
        var r = XDRReader(buffer: buffer)
        let h = try RPCHeader.read(from: &r)
        return RPCPacket(header: h, payload: r.buffer)
    }
}
