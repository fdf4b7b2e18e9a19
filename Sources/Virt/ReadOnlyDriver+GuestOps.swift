import VirtCore

/// Console and guest operations on a read-only connection: screenshots, keys and core dumps are refused
/// (libvirt's public API checks for it).
extension ReadOnlyDriver {
    /// Refused on a read-only connection.
    public func screenshot(_ domain: DomainRef, screen: UInt32, flags: UInt32) async throws
        -> (mime: String, stream: any ByteStream) {
        throw Self.denied("virDomainScreenshot")
    }
    /// Refused on a read-only connection.
    public func sendKey(_ domain: DomainRef, codeset: UInt32, holdtime: UInt32, keycodes: [UInt32], flags: UInt32)
        async throws {
        throw Self.denied("virDomainSendKey")
    }
    /// Refused on a read-only connection.
    public func coreDump(_ domain: DomainRef, to path: String, format: UInt32?, flags: UInt32) async throws {
        throw Self.denied(format == nil ? "virDomainCoreDump" : "virDomainCoreDumpWithFormat")
    }
    /// IOThread information. Passed to the wrapped driver.
    public func iothreadInfo(_ domain: DomainRef, flags: UInt32) async throws -> [IOThreadInfo] {
        try await base.iothreadInfo(domain, flags: flags)
    }
}
