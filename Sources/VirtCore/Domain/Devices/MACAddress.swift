/// A 6-byte Ethernet MAC address, written as libvirt does (`52:54:00:ab:cd:ef`).
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Parses `aa:bb:cc:dd:ee:ff` (or `-` separated; one or two hex digits per byte).
    public init?(string: String) {
        let parts = string.split(separator: ":", omittingEmptySubsequences: false)
        let parts2 = parts.count == 6 ? parts : string.split(separator: "-", omittingEmptySubsequences: false)
        guard parts2.count == 6 else { return nil }
        var b: [UInt8] = []
        for p in parts2 {
            guard (1...2).contains(p.count), let v = UInt8(p, radix: 16) else { return nil }
            b.append(v)
        }
        bytes = b
    }

    /// A random address in QEMU's `52:54:00` range, as libvirt generates for interfaces without `<mac>`.
    public static func generateQEMU() -> MACAddress {
        var g = SystemRandomNumberGenerator()
        return MACAddress(bytes: [0x52, 0x54, 0x00, UInt8.random(in: 0...255, using: &g),
                                  UInt8.random(in: 0...255, using: &g), UInt8.random(in: 0...255, using: &g)])
    }

    public var isMulticast: Bool { (bytes.first ?? 0) & 1 == 1 }

    public var description: String {
        bytes.map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: ":")
    }
}
