#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// printf-style helpers without Foundation.
enum Format {
    /// `%-Ns`: the text padded with spaces to `width` bytes (printf counts bytes, not characters).
    static func padRight(_ text: String, _ width: Int) -> String {
        let n = text.utf8.count
        return n >= width ? text : text + String(repeating: " ", count: width - n)
    }

    /// `%.Nf` with C's rounding.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var buf = [CChar](repeating: 0, count: 64)
        let n = withVaList([value]) { args in
            buf.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, 64, "%.\(digits)f", args) }
        }
        let count = max(0, min(Int(n), 63))
        return String(decoding: buf[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An integer as libvirt's `virStrToLong_i` parses it: optional blanks and sign, decimal digits, nothing
    /// after, in range.
    static func parseInt32(_ text: String) -> Int32? {
        guard let v = parseInt64(text), v >= Int64(Int32.min), v <= Int64(Int32.max) else { return nil }
        return Int32(v)
    }

    /// `virStrToLong_i` with base 0: decimal, `0x` hexadecimal or `0` octal, as strtol reads them.
    static func parseCInt32(_ text: String) -> Int32? {
        text.withCString { p -> Int32? in
            var end: UnsafeMutablePointer<CChar>?
            errno = 0
            let v = strtol(p, &end, 0)
            guard let end, end != UnsafeMutablePointer(mutating: p), end.pointee == 0, errno == 0,
                  v >= Int(Int32.min), v <= Int(Int32.max) else { return nil }
            return Int32(v)
        }
    }

    static func parseInt64(_ text: String) -> Int64? {
        var bytes = Substring(text).utf8[...]
        while let c = bytes.first, c == 0x20 || (c >= 0x09 && c <= 0x0D) { bytes = bytes.dropFirst() }
        var negative = false
        if let c = bytes.first, c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
            negative = c == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        guard !bytes.isEmpty else { return nil }
        var value: Int64 = 0
        for c in bytes {
            guard c >= 0x30 && c <= 0x39 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(c - 0x30))
            if o1 || o2 { return nil }
            value = a
        }
        return negative ? -value : value
    }

    /// An unsigned integer as `virStrToLong_uip` parses it (no negative values).
    static func parseUInt32(_ text: String) -> UInt32? {
        guard let v = parseInt64(text), v >= 0, v <= Int64(UInt32.max) else { return nil }
        if text.contains("-") { return nil }
        return UInt32(v)
    }

    /// An unsigned 64-bit integer as `virStrToLong_ullp` parses it: optional blanks and `+`, decimal digits, no
    /// minus sign anywhere, in range.
    static func parseUInt64(_ text: String) -> UInt64? {
        guard !text.contains("-"), let (negative, magnitude) = parseMagnitude(text), !negative else { return nil }
        return magnitude
    }

    /// An unsigned 64-bit integer as `virStrToLong_ul` (strtoul) parses it: a negative number wraps around.
    static func parseUInt64Wrapping(_ text: String) -> UInt64? {
        guard let (negative, magnitude) = parseMagnitude(text) else { return nil }
        return negative ? 0 &- magnitude : magnitude
    }

    /// Blanks, an optional sign and decimal digits (nothing after) that fit in 64 bits.
    private static func parseMagnitude(_ text: String) -> (negative: Bool, magnitude: UInt64)? {
        var bytes = Substring(text).utf8[...]
        while let c = bytes.first, c == 0x20 || (c >= 0x09 && c <= 0x0D) { bytes = bytes.dropFirst() }
        var negative = false
        if let c = bytes.first, c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
            negative = c == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        guard !bytes.isEmpty else { return nil }
        var value: UInt64 = 0
        for c in bytes {
            guard c >= 0x30 && c <= 0x39 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 0x30))
            if o1 || o2 { return nil }
            value = a
        }
        return (negative, value)
    }

    /// A libvirt version number (major*1,000,000 + minor*1,000 + micro) as `major.minor.micro`.
    static func version(_ v: UInt64) -> String {
        "\(v / 1_000_000).\((v / 1000) % 1000).\(v % 1000)"
    }
}
