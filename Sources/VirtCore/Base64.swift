/// Standard base64 (RFC 4648, with padding), as libvirt and virsh use it for secret values.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int((n >> UInt32(shift)) & 63)]) }
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out.append(alphabet[Int((n >> 18) & 63)])
            out.append(alphabet[Int((n >> 12) & 63)])
            out.append(rest == 2 ? alphabet[Int((n >> 6) & 63)] : 0x3D)
            out.append(0x3D)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of `text`, decoded as GLib's `g_base64_decode` does it (what libvirt and virsh use): characters
    /// outside the alphabet are skipped, bytes come out per group of four characters (a final `=` or `==`
    /// shortens the group), and an incomplete last group is dropped.
    public static func decode(_ text: String) -> [UInt8] {
        var out = [UInt8]()
        var group: UInt32 = 0
        var count = 0
        var pads = 0
        for c in text.utf8 {
            let v: UInt32
            switch c {
            case 0x41...0x5A: v = UInt32(c - 0x41)
            case 0x61...0x7A: v = UInt32(c - 0x61 + 26)
            case 0x30...0x39: v = UInt32(c - 0x30 + 52)
            case 0x2B: v = 62
            case 0x2F: v = 63
            case 0x3D:
                v = 0
                pads += 1
            default: continue
            }
            group = (group << 6) | v
            count += 1
            if count == 4 {
                let n = 3 - min(pads, 2)
                for i in 0..<n { out.append(UInt8(truncatingIfNeeded: group >> UInt32(16 - 8 * i))) }
                group = 0
                count = 0
                pads = 0
            }
        }
        return out
    }
}
