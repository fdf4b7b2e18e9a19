/// Memory sizes with units, as in `<size unit='MiB'>512</size>`: libvirt stores KiB.
enum MemorySize {
    /// The multiplier in bytes of a libvirt unit name, nil for unknown units.
    static func bytes(ofUnit unit: String) -> UInt64? {
        switch unit {
        case "b", "byte", "bytes": 1
        case "KB": 1000
        case "k", "K", "KiB": 1024
        case "MB": 1_000_000
        case "M", "m", "MiB": 1 << 20
        case "GB": 1_000_000_000
        case "G", "g", "GiB": 1 << 30
        case "TB": 1_000_000_000_000
        case "T", "t", "TiB": 1 << 40
        case "PB": 1_000_000_000_000_000
        case "P", "p", "PiB": 1 << 50
        case "EB": 1_000_000_000_000_000_000
        case "E", "e", "EiB": 1 << 60
        default: nil
        }
    }

    /// Reads an element holding a size with an optional `unit` (default KiB) and returns KiB, rounded up.
    static func parseKiB(_ el: XMLElement) throws(VirtError) -> UInt64 {
        let unit = el.attr("unit") ?? "KiB"
        guard let mult = bytes(ofUnit: unit) else {
            throw VirtError(.invalidArg, domain: .none, "invalid argument: unknown suffix '\(unit)'",
                            str1: "unknown suffix '\(unit)'")
        }
        let text = el.text.trimmingSpaces
        guard let v = UInt64(text) else {
            throw DeviceError.xml("Invalid value '\(text)' for element or attribute './\(el.name)[1]'", domain: .xml)
        }
        let (b, overflow) = v.multipliedReportingOverflow(by: mult)
        if overflow { throw VirtError(.overflow, domain: .none, "value too large: \(text)\(unit)") }
        return (b + 1023) / 1024
    }
}
