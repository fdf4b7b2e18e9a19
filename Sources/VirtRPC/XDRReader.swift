import NIOCore

/// Why XDR decoding failed.
public enum XDRError: Error, Sendable, Equatable {
    /// The data ended before the value did.
    case truncated
    /// A length exceeded the limit declared for it.
    case tooLong(Int, max: Int)
    /// A value outside its declared range (e.g. a bool that is neither 0 nor 1).
    case invalidValue(String)
}

/// Decodes XDR (RFC 4506) as rpcgen lays it out. Every length is checked against the data left and the
/// declared maximum before anything is allocated.
public struct XDRReader: Sendable {
    public var buffer: ByteBuffer

    public init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    public init(bytes: [UInt8]) {
        buffer = ByteBuffer(bytes: bytes)
    }

    /// Bytes not yet read.
    public var remaining: Int { buffer.readableBytes }

    public mutating func int() throws(XDRError) -> Int32 {
        guard let v = buffer.readInteger(endianness: .big, as: Int32.self) else { throw .truncated }
        return v
    }
    public mutating func uint() throws(XDRError) -> UInt32 {
        guard let v = buffer.readInteger(endianness: .big, as: UInt32.self) else { throw .truncated }
        return v
    }
    public mutating func hyper() throws(XDRError) -> Int64 {
        guard let v = buffer.readInteger(endianness: .big, as: Int64.self) else { throw .truncated }
        return v
    }
    public mutating func uhyper() throws(XDRError) -> UInt64 {
        guard let v = buffer.readInteger(endianness: .big, as: UInt64.self) else { throw .truncated }
        return v
    }
    public mutating func double() throws(XDRError) -> Double { Double(bitPattern: try uhyper()) }

    public mutating func bool() throws(XDRError) -> Bool {
        switch try int() {
        case 0: return false
        case 1: return true
        case let v: throw .invalidValue("bool \(v)")
        }
    }

    /// `remote_nonnull_string` (`string<REMOTE_STRING_MAX>`).
    public mutating func string(max: Int = RPCLimits.stringMax) throws(XDRError) -> String {
        let n = try length(max: max)
        guard let s = buffer.readString(length: n) else { throw .truncated }
        try skipPad(n)
        return s
    }

    /// `remote_string`: presence flag, then the string.
    public mutating func optionalString(max: Int = RPCLimits.stringMax) throws(XDRError) -> String? {
        try bool() ? try string(max: max) : nil
    }

    /// Variable-length `opaque x<N>`.
    public mutating func opaque(max: Int) throws(XDRError) -> [UInt8] {
        let n = try length(max: max)
        guard let b = buffer.readBytes(length: n) else { throw .truncated }
        try skipPad(n)
        return b
    }

    /// Fixed-length `opaque x[N]`.
    public mutating func fixedOpaque(count: Int) throws(XDRError) -> [UInt8] {
        guard let b = buffer.readBytes(length: count) else { throw .truncated }
        try skipPad(count)
        return b
    }

    /// rpcgen's `char x<N>`: a count, then one 4-byte unit per byte.
    public mutating func charArray(max: Int) throws(XDRError) -> [UInt8] {
        let n = try count(max: max, unit: 4)
        var out = [UInt8]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(UInt8(truncatingIfNeeded: try int())) }
        return out
    }

    /// rpcgen's fixed `char x[N]`.
    public mutating func fixedCharArray(count: Int) throws(XDRError) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(UInt8(truncatingIfNeeded: try int())) }
        return out
    }

    /// An array count, checked against `max` and against the bytes left (each element takes at least `unit`).
    public mutating func count(max: Int, unit: Int = 4) throws(XDRError) -> Int {
        let n = Int(try uint())
        if n > max { throw .tooLong(n, max: max) }
        if n * unit > buffer.readableBytes { throw .truncated }
        return n
    }

    private mutating func length(max: Int) throws(XDRError) -> Int {
        let n = Int(try uint())
        if n > max { throw .tooLong(n, max: max) }
        if n > buffer.readableBytes { throw .truncated }
        return n
    }

    private mutating func skipPad(_ n: Int) throws(XDRError) {
        let p = (4 - n & 3) & 3
        if p > 0 {
            guard buffer.readableBytes >= p else { throw .truncated }
            buffer.moveReaderIndex(forwardBy: p)
        }
    }
}
