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
        [UInt8](unsafeUninitializedCapacity: 16) { buf, n in
            for i in 0..<8 {
                buf[i] = UInt8(truncatingIfNeeded: high >> (UInt64(7 - i) * 8))
                buf[8 + i] = UInt8(truncatingIfNeeded: low >> (UInt64(7 - i) * 8))
            }
            n = 16
        }
    }

    /// The UUID of 16 raw bytes, most significant first; nil unless there are exactly 16.
    @inlinable
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        var i = 0
        for b in bytes {
            if i < 8 { h = (h << 8) | UInt64(b) } else { l = (l << 8) | UInt64(b) }
            i += 1
        }
        self.init(high: h, low: l)
    }

    /// Parses libvirt's accepted forms: 32 hex digits, optionally separated by dashes (and surrounding spaces).
    public init?(string: String) {
        var h: UInt64 = 0
        var l: UInt64 = 0
        var n = 0
        // White space is allowed only around the rest (before its first and after its last character).
        var started = false
        var trailing = false
        for c in string.utf8 {
            let v: UInt8
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                if started { trailing = true }
                continue
            }
            if trailing { return nil }
            started = true
            switch c {
            case UInt8(ascii: "-"): continue
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if n == 32 { return nil }
            if n < 16 { h = h << 4 | UInt64(v) } else { l = l << 4 | UInt64(v) }
            n += 1
        }
        guard n == 32 else { return nil }
        self.init(high: h, low: l)
    }

    public var description: String {
        // 8-4-4-4-12 lowercase hex digits, written straight into the string's storage.
        String(unsafeUninitializedCapacity: 36) { out in
            var o = 0
            for i in 0..<16 {
                if i == 4 || i == 6 || i == 8 || i == 10 {
                    out[o] = UInt8(ascii: "-")
                    o += 1
                }
                let word = i < 8 ? high : low
                let b = UInt8(truncatingIfNeeded: word >> (UInt64(7 - i & 7) * 8))
                out[o] = Self.hexDigit(b >> 4)
                out[o + 1] = Self.hexDigit(b & 0xF)
                o += 2
            }
            return o
        }
    }

    private static func hexDigit(_ v: UInt8) -> UInt8 {
        v < 10 ? UInt8(ascii: "0") + v : UInt8(ascii: "a") + v - 10
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
