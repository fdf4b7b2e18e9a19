import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The migration settings of a daemon (libvirtd.conf's `host_uuid`; qemu.conf's `migration_host`,
/// `migration_address`, `migration_port_min`, `migration_port_max`).
public struct QEMUMigrationConfig: Sendable, Hashable {
    /// This host's UUID in migration cookies; nil: generated once and kept under the driver's root.
    public var hostUUID: VirtUUID?
    /// The host name or address the destination puts in the URI it returns (default: the host name).
    public var migrationHost: String?
    /// The address the destination QEMU listens on (default: every address).
    public var migrationAddress: String?
    public var portMin: Int = 49152
    public var portMax: Int = 49215

    public init() {}
}

extension QEMUDriverState {
    /// This host's UUID: the configured one, else the one kept in `<root>/lib/qemu/host-uuid` (made on first use).
    func hostUUID() -> VirtUUID {
        if let u = migrationConfig.hostUUID { return u }
        if let cached = generatedHostUUID { return cached }
        let file = paths.libDir + "/host-uuid"
        if let text = LinuxSys.readFile(file),
           let u = VirtUUID(string: text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            generatedHostUUID = u
            return u
        }
        let u = VirtUUID.random()
        try? LinuxSys.mkdirs(paths.libDir)
        try? LinuxSys.writeFileAtomically(file, u.description + "\n")
        generatedHostUUID = u
        return u
    }

    func migrationHost() -> QEMUMigrationHost {
        QEMUMigrationHost(hostname: Self.localHostname(), hostUUID: hostUUID())
    }

    static func localHostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A free TCP port of the migration range, reserved until released.
    func reserveMigrationPort() throws(VirtError) -> Int {
        let lo = migrationConfig.portMin, hi = max(migrationConfig.portMin, migrationConfig.portMax)
        for port in lo...hi where !reservedPorts.contains(port) {
            if Self.portIsFree(port) {
                reservedPorts.insert(port)
                return port
            }
        }
        throw VirtError.internalError("Unable to find an unused port in range 'migration' (\(lo)-\(hi))",
                                      domain: .qemu)
    }

    func releaseMigrationPort(_ port: Int) { reservedPorts.remove(port) }

    private static func portIsFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr = in_addr(s_addr: 0)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0
    }

    /// Whether `name` resolves to a loopback address only (libvirt refuses to hand such a URI to the source).
    static func resolvesToLoopback(_ name: String) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &res) == 0, let first = res else { return false }
        defer { freeaddrinfo(first) }
        var p: UnsafeMutablePointer<addrinfo>? = first
        var allLoopback = true
        while let ai = p {
            if ai.pointee.ai_family == AF_INET, let sa = ai.pointee.ai_addr {
                let a = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
                if a >> 24 != 127 { allLoopback = false }
            } else if ai.pointee.ai_family == AF_INET6, let sa = ai.pointee.ai_addr {
                let loop = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { s -> Bool in
                    var a = s.pointee.sin6_addr
                    return withUnsafeBytes(of: &a) { b in b.prefix(15).allSatisfy { $0 == 0 } && b[15] == 1 }
                }
                if !loop { allLoopback = false }
            }
            p = ai.pointee.ai_next
        }
        return allLoopback
    }
}
