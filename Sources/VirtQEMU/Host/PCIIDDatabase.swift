import Foundation

/// Vendor and device names from the PCI ID database (`pci.ids`, Debian's package of that name), as libvirt's
/// udev node-device backend translates ids through libpciaccess: a vendor's name when the vendor is listed,
/// a device's name when that device is listed under it, nothing otherwise. The file is read once per process
/// (``shared``) into a table by vendor.
struct PCIIDDatabase: Sendable {
    /// Where libpciaccess on Debian looks for it.
    static let defaultPaths = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"]

    /// The host's database, read at first use (nil when the package is not installed).
    static let shared: PCIIDDatabase? = PCIIDDatabase()

    private struct Vendor: Sendable {
        var name: String
        var devices: [String: String] = [:]
    }

    /// By vendor id (four lower-case hex digits).
    private let vendors: [String: Vendor]

    init?(paths: [String] = PCIIDDatabase.defaultPaths) {
        guard let data = paths.lazy.compactMap({ FileManager.default.contents(atPath: $0) }).first else { return nil }
        self.init(contents: String(decoding: data, as: UTF8.self))
    }

    init(contents: String) {
        var table: [String: Vendor] = [:]
        var current: String?
        for raw in contents.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.utf8
            guard let first = line.first, first != UInt8(ascii: "#") else { continue }
            if first != 0x09 {
                // A vendor line: four hex digits, two spaces, the name. Anything else unindented (a class
                // section "C 01  …") ends the vendors.
                let id = String(raw.prefix(4))
                guard raw.count > 6, Self.isID(id) else {
                    current = nil
                    continue
                }
                table[id] = Vendor(name: String(raw.dropFirst(4)).trimmingCharacters(in: .whitespaces))
                current = id
                continue
            }
            // A device line has one tab; subsystem lines (two tabs) are not devices.
            guard let v = current, raw.count > 7, raw.dropFirst().first != "\t" else { continue }
            let id = String(raw.dropFirst().prefix(4))
            guard Self.isID(id) else { continue }
            table[v]?.devices[id] = String(raw.dropFirst(5)).trimmingCharacters(in: .whitespaces)
        }
        vendors = table
    }

    /// The names for `vendor` and `device` (ids as sysfs gives them, "0x8086" or "8086").
    func names(vendor: String, device: String) -> (vendor: String?, device: String?) {
        guard let v = vendors[Self.key(vendor)] else { return (nil, nil) }
        let d = v.devices[Self.key(device)]
        return (v.name.isEmpty ? nil : v.name, d?.isEmpty == false ? d : nil)
    }

    private static func key(_ id: String) -> String {
        (id.hasPrefix("0x") ? String(id.dropFirst(2)) : id).lowercased()
    }

    private static func isID(_ s: String) -> Bool {
        s.count == 4 && s.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}
