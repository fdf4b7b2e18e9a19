import NIOCore

/// Encodes values in XDR (RFC 4506) as rpcgen lays them out: big-endian 4-byte units, strings and opaques
/// padded to a multiple of 4, optionals as a 4-byte presence flag.
public struct XDRWriter: Sendable {
    /// The encoded bytes so far.
    public var buffer: ByteBuffer

    /// A writer appending to `buffer`.
    public init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    /// A writer with a fresh buffer of `capacity` bytes.
    public init(capacity: Int = 256) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    public mutating func int(_ v: Int32) { buffer.writeInteger(v, endianness: .big) }
    public mutating func uint(_ v: UInt32) { buffer.writeInteger(v, endianness: .big) }
    public mutating func hyper(_ v: Int64) { buffer.writeInteger(v, endianness: .big) }
    public mutating func uhyper(_ v: UInt64) { buffer.writeInteger(v, endianness: .big) }
    public mutating func bool(_ v: Bool) { int(v ? 1 : 0) }
    public mutating func double(_ v: Double) { uhyper(v.bitPattern) }

    /// `string<N>` / `remote_nonnull_string`: length, bytes, padding.
    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { opaque(UnsafeRawBufferPointer($0)) }
    }

    /// `remote_string`: a presence flag, then the string.
    public mutating func optionalString(_ s: String?) {
        if let s {
            int(1)
            string(s)
        } else {
            int(0)
        }
    }

    /// Variable-length `opaque x<N>`: length, bytes, padding.
    public mutating func opaque(_ bytes: UnsafeRawBufferPointer) {
        uint(UInt32(bytes.count))
        buffer.writeBytes(bytes)
        pad(bytes.count)
    }

    /// Variable-length `opaque x<N>` from an array.
    public mutating func opaque(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { opaque($0) }
    }

    /// Fixed-length `opaque x[N]`: the bytes and padding, no length.
    public mutating func fixedOpaque(_ bytes: [UInt8]) {
        buffer.writeBytes(bytes)
        pad(bytes.count)
    }

    /// rpcgen's `char x<N>` (not opaque): a count, then each byte as a 4-byte unit.
    public mutating func charArray(_ bytes: [UInt8]) {
        uint(UInt32(bytes.count))
        for b in bytes { int(Int32(Int8(bitPattern: b))) }
    }

    /// rpcgen's fixed `char x[N]`: N 4-byte units, zero-filled after `bytes`.
    public mutating func fixedCharArray(_ bytes: [UInt8], count: Int) {
        for i in 0..<count { int(i < bytes.count ? Int32(Int8(bitPattern: bytes[i])) : 0) }
    }

    private mutating func pad(_ n: Int) {
        let p = (4 - n & 3) & 3
        if p > 0 { buffer.writeRepeatingByte(0, count: p) }
    }
}
