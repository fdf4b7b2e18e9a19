import Foundation

/// Vendor and device names from the PCI ID database (`pci.ids`, Debian's package of that name), as libvirt's
/// udev node-device backend translates ids through libpciaccess: a vendor's name when the vendor is listed,
/// a device's name when that device is listed under it, nothing otherwise.
struct PCIIDDatabase: Sendable {
    /// Where libpciaccess on Debian looks for it.
    static let defaultPaths = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"]

    private let text: [UInt8]

    init?(paths: [String] = PCIIDDatabase.defaultPaths) {
        guard let data = paths.lazy.compactMap({ FileManager.default.contents(atPath: $0) }).first else { return nil }
        text = [UInt8](data)
    }

    init(contents: String) { text = Array(contents.utf8) }

    /// The names for `vendor` and `device` (ids as sysfs gives them, "0x8086" or "8086").
    func names(vendor: String, device: String) -> (vendor: String?, device: String?) {
        guard let v = Self.hex4(vendor) else { return (nil, nil) }
        let d = Self.hex4(device)
        var vendorName: String?
        var i = 0
        let n = text.count
        while i < n {
            var end = i
            while end < n && text[end] != 0x0A { end += 1 }
            let line = text[i..<end]
            i = end + 1
            guard let first = line.first, first != UInt8(ascii: "#") else { continue }
            if vendorName == nil {
                // Vendor lines: four hex digits, two spaces, the name, at the start of the line.
                if first != 0x09, line.count > 6, Array(line.prefix(4)) == v {
                    vendorName = Self.name(line.dropFirst(4))
                }
                continue
            }
            // Inside our vendor's block: device lines start with one tab; the block ends at the next
            // unindented line (another vendor or a class section).
            if first != 0x09 { break }
            guard let d, line.count > 7, line[line.startIndex + 1] != 0x09 else { continue }
            if Array(line.dropFirst().prefix(4)) == d {
                return (vendorName, Self.name(line.dropFirst(5)))
            }
        }
        return (vendorName, nil)
    }

    private static func hex4(_ id: String) -> [UInt8]? {
        let s = (id.hasPrefix("0x") ? String(id.dropFirst(2)) : id).lowercased()
        guard s.count == 4, s.allSatisfy(\.isHexDigit) else { return nil }
        return Array(s.utf8)
    }

    private static func name(_ rest: ArraySlice<UInt8>) -> String? {
        let s = String(decoding: rest, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        return s.isEmpty ? nil : s
    }
}
