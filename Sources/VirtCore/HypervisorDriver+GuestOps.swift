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
}
