/// Scaling of sizes written with a unit suffix, as libvirt's `virScaleInteger` and `virDomainParseMemory` do.
///
/// Accepted suffixes (case-insensitive): `b`, `byte`, `bytes`; `k`, `KiB`, `M`, `MiB`, `G`, `GiB`, `T`, `TiB`,
/// `P`, `PiB`, `E`, `EiB` (powers of 1024); `KB`, `MB`, `GB`, `TB`, `PB`, `EB` (powers of 1000).
public enum MemoryUnit {
    /// The largest byte count libvirt accepts for a memory size (`LLONG_MAX` on 64-bit hosts).
    public static let maxBytes: UInt64 = UInt64(Int64.max)

    /// The multiplier for `suffix`, or nil when `suffix` is nil or empty (the caller's default applies).
    /// Throws libvirt's INVALID_ARG "unknown suffix 'X'".
    public static func multiplier(_ suffix: String) throws(VirtError) -> UInt64 {
        let lower = suffix.lowercased()
        if lower == "b" || lower == "byte" || lower == "bytes" { return 1 }
        let chars = Array(lower.utf8)
        guard let first = chars.first else { return 1 }
        let base: UInt64
        if chars.count == 1 || String(decoding: chars[1...], as: UTF8.self) == "ib" {
            base = 1024
        } else if chars.count == 2 && chars[1] == UInt8(ascii: "b") {
            base = 1000
        } else {
            throw VirtError.invalidArg("unknown suffix '\(suffix)'")
        }
        let power: Int
        switch first {
        case UInt8(ascii: "k"): power = 1
        case UInt8(ascii: "m"): power = 2
        case UInt8(ascii: "g"): power = 3
        case UInt8(ascii: "t"): power = 4
        case UInt8(ascii: "p"): power = 5
        case UInt8(ascii: "e"): power = 6
        default: throw VirtError.invalidArg("unknown suffix '\(suffix)'")
        }
        var scale: UInt64 = 1
        for _ in 0..<power { scale *= base }
        return scale
    }

    /// `value` scaled by `unit` (or by `defaultScale` when `unit` is nil or empty), checked against `limit` the
    /// way libvirt does: OVERFLOW "value too large: VALUEUNIT".
    public static func scale(_ value: UInt64, unit: String?, defaultScale: UInt64 = 1024,
                             limit: UInt64 = maxBytes) throws(VirtError) -> UInt64 {
        let suffix = unit ?? ""
        let scale = suffix.isEmpty ? defaultScale : try multiplier(suffix)
        if value != 0 && value > limit / scale {
            throw VirtError(.overflow, domain: .none, "numerical overflow: value too large: \(value)\(suffix)",
                            str1: "numerical overflow: %s", str2: "value too large: \(value)\(suffix)")
        }
        return value * scale
    }

    /// A size in KiB from `value` in `unit` (default KiB), rounded up to a whole KiB as libvirt does.
    public static func kibibytes(_ value: UInt64, unit: String?, limit: UInt64 = maxBytes) throws(VirtError)
        -> UInt64 {
        let bytes = try scale(value, unit: unit, defaultScale: 1024, limit: limit)
        let kib = bytes / 1024 + (bytes % 1024 == 0 ? 0 : 1)
        if kib >= limit / 1024 + (limit % 1024 == 0 ? 0 : 1) {
            throw VirtError(.overflow, domain: .domain, "numerical overflow: size value too large",
                            str1: "numerical overflow: %s", str2: "size value too large")
        }
        return kib
    }

    /// Reads a scaled size element such as `<memory unit='MiB'>512</memory>` and returns KiB.
    /// `xpath` names the element in libvirt's invalid-value message, e.g. `./memory[1]`.
    static func parseElement(_ el: XMLElement, xpath: String) throws(VirtError) -> UInt64 {
        let text = el.text
        if text.isEmpty { return 0 }
        guard let value = parseUnsigned(text) else {
            throw VirtError.xmlInvalidValue(text, xpath: xpath)
        }
        return try kibibytes(value, unit: el.attr("unit"))
    }

    /// Reads a scaled size given as an attribute (e.g. NUMA `<cell memory='…' unit='…'>`) and returns KiB.
    static func parseAttribute(_ el: XMLElement, _ name: String, unitAttribute: String = "unit") throws(VirtError)
        -> UInt64? {
        guard let text = el.attr(name) else { return nil }
        guard let value = parseUnsigned(text) else {
            throw VirtError.xmlInvalidValue(text, xpath: "./@\(name)")
        }
        return try kibibytes(value, unit: el.attr(unitAttribute))
    }
}
