import VirtCore

/// Console and guest operations on a read-only connection: screenshots and keys are refused (libvirt's
/// virDomainScreenshot and virDomainSendKey check for it).
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
}
