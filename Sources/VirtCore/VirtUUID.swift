/// A 16-byte UUID, printed in libvirt's lowercase 8-4-4-4-12 form.
public struct VirtUUID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A new random (version 4) UUID.
    public static func random() -> VirtUUID {
        var g = SystemRandomNumberGenerator()
        var h = g.next() as UInt64
        var l = g.next() as UInt64
        h = (h & ~0xF000) | 0x4000
        l = (l & ~(0xC000_0000_0000_0000)) | 0x8000_0000_0000_0000
        return VirtUUID(high: h, low: l)
    }

    /// The 16 raw bytes, most significant first (the wire form, `opaque uuid[16]`).
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(16)
        for i in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: high >> (UInt64(i) * 8))) }
        for i in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: low >> (UInt64(i) * 8))) }
        return out
    }

    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h = (h << 8) | UInt64(b) } else { l = (l << 8) | UInt64(b) }
        }
        self.init(high: h, low: l)
    }

    /// Parses libvirt's accepted forms: 32 hex digits, optionally separated by dashes (and surrounding spaces).
    public init?(string: String) {
        var nibbles = [UInt8]()
        nibbles.reserveCapacity(32)
        let trimmed = string.trimmingSpaces
        for c in trimmed.utf8 {
            switch c {
            case UInt8(ascii: "-"): continue
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibbles.append(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibbles.append(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibbles.append(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
        }
        guard nibbles.count == 32 else { return nil }
        var bytes = [UInt8]()
        for i in stride(from: 0, to: 32, by: 2) { bytes.append(nibbles[i] << 4 | nibbles[i + 1]) }
        self.init(bytes: bytes)
    }

    public var description: String {
        let hex = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func < (a: VirtUUID, b: VirtUUID) -> Bool { (a.high, a.low) < (b.high, b.low) }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let u = VirtUUID(string: s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad uuid"))
        }
        self = u
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension String {
    /// The string without leading and trailing ASCII white space.
    public var trimmingSpaces: String {
        let u = Array(utf8)
        var s = 0
        var e = u.count
        func ws(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
        while s < e && ws(u[s]) { s += 1 }
        while e > s && ws(u[e - 1]) { e -= 1 }
        if s == 0 && e == u.count { return self }
        return String(decoding: u[s..<e], as: UTF8.self)
    }
}
