/// One IOThread of `virDomainGetIOThreadInfo`: its id and the host CPUs it may run on (libvirt's CPU map: CPU n
/// is bit n % 8 of byte n / 8).
public struct IOThreadInfo: Sendable, Hashable {
    public var id: UInt32
    public var cpumap: [UInt8]
    public init(id: UInt32, cpumap: [UInt8]) {
        self.id = id
        self.cpumap = cpumap
    }
}

/// Console and guest operation defaults: NO_SUPPORT.
extension HypervisorDriver {
    public func screenshot(_ domain: DomainRef, screen: UInt32, flags: UInt32) async throws
        -> (mime: String, stream: any ByteStream) {
        throw VirtError.noSupport("virDomainScreenshot", domain: .domain)
    }
    public func sendKey(_ domain: DomainRef, codeset: UInt32, holdtime: UInt32, keycodes: [UInt32], flags: UInt32)
        async throws {
        throw VirtError.noSupport("virDomainSendKey", domain: .domain)
    }
    public func openGraphicsFD(_ domain: DomainRef, index: UInt32, flags: UInt32) async throws -> Int32 {
        throw VirtError.noSupport("virDomainOpenGraphicsFD", domain: .domain)
    }
    public func iothreadInfo(_ domain: DomainRef, flags: UInt32) async throws -> [IOThreadInfo] {
        throw VirtError.noSupport("virDomainGetIOThreadInfo", domain: .domain)
    }
    public func coreDump(_ domain: DomainRef, to path: String, format: UInt32?, flags: UInt32) async throws {
        throw VirtError.noSupport(format == nil ? "virDomainCoreDump" : "virDomainCoreDumpWithFormat", domain: .domain)
    }
}

/// `virDomainCoreDumpFlags` and `virDomainCoreDumpFormat`, and the checks of libvirt's public API that the client
/// library and the daemon both run.
public enum CoreDump {
    public static let crash: UInt32 = 1
    public static let live: UInt32 = 2
    public static let bypassCache: UInt32 = 4
    public static let reset: UInt32 = 8
    public static let memoryOnly: UInt32 = 16

    /// raw (ELF), kdump-zlib, kdump-lzo, kdump-snappy, win-dmp: QEMU's names of the formats, by number.
    public static let formatNames = ["elf", "kdump-zlib", "kdump-lzo", "kdump-snappy", "win-dmp"]

    /// libvirt's virDomainCoreDump(WithFormat) argument checks.
    public static func check(format: UInt32?, flags: UInt32) throws(VirtError) {
        if let format, format >= UInt32(formatNames.count) {
            let detail = "dumpformat '\(format)' is not supported"
            throw VirtError(.invalidArg, domain: .domain, detail, str1: "virDomainCoreDumpWithFormat", str2: "flags")
        }
        for (a, b, an, bn) in [(crash, live, "VIR_DUMP_CRASH", "VIR_DUMP_LIVE"),
                               (crash, reset, "VIR_DUMP_CRASH", "VIR_DUMP_RESET"),
                               (live, reset, "VIR_DUMP_LIVE", "VIR_DUMP_RESET")] where flags & a != 0 && flags & b != 0 {
            throw VirtError(.invalidArg, domain: .domain, "Flags '\(an)' and '\(bn)' are mutually exclusive",
                            str1: format == nil ? "virDomainCoreDump" : "virDomainCoreDumpWithFormat", str2: "flags")
        }
    }
}
