import VirtCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The host name as libvirt's `virGetHostname` determines it: `gethostname`, then, for a short name that is
/// not "localhost…", the canonical name from `getaddrinfo` (unless that is "localhost…" or the lookup fails).
enum HostName {
    static func current() throws(VirtError) -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else {
            throw VirtError.systemError("failed to determine host name", errno: errno)
        }
        let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if name.hasPrefix("localhost") || name.contains(".") { return name }
        var hints = addrinfo()
        hints.ai_flags = AI_CANONNAME | 0x0080  // AI_CANONIDN
        hints.ai_family = AF_UNSPEC
        var info: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &info) == 0, let first = info else { return name }
        defer { freeaddrinfo(first) }
        guard let canon = first.pointee.ai_canonname else { return name }
        let canonical = String(cString: canon)
        return canonical.hasPrefix("localhost") ? name : canonical
    }
}
