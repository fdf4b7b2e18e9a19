#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An IPv4 or IPv6 address as libvirt's `virSocketAddr` keeps it: parsed numerically, formatted canonically
/// (`virSocketAddrFormat`: dotted quad, compressed IPv6).
public struct NetworkAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 bytes (IPv6).
    public let bytes: [UInt8]

    public var isIPv4: Bool { bytes.count == 4 }
    public var isIPv6: Bool { bytes.count == 16 }

    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: v6) { Array($0) }
            return
        }
        return nil
    }

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public var description: String {
        var buf = [CChar](repeating: 0, count: 64)
        let family = isIPv4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { src in
            inet_ntop(family, src.baseAddress, &buf, socklen_t(buf.count)) != nil
        }
        guard ok else { return "" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The prefix length of a netmask (`virSocketAddrGetNumNetmaskBits`), nil when the mask is not contiguous.
    public var netmaskBits: Int? {
        var bits = 0
        var ended = false
        for b in bytes {
            for i in (0..<8).reversed() {
                if b & (1 << i) != 0 {
                    if ended { return nil }
                    bits += 1
                } else {
                    ended = true
                }
            }
        }
        return bits
    }

    /// The address with all bits after `prefix` cleared.
    public func masked(_ prefix: Int) -> NetworkAddress {
        var out = bytes
        for i in 0..<out.count {
            let keep = max(0, min(8, prefix - i * 8))
            out[i] &= keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
        return NetworkAddress(bytes: out)
    }

    /// Numeric comparison of two addresses of one family.
    public static func < (a: NetworkAddress, b: NetworkAddress) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

