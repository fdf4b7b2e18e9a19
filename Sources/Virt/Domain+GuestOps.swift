import VirtCore

/// Console and guest operations of a domain (issue 11).
extension Domain {
    /// `virDomainScreenshot`: the MIME type of the image and a stream of its bytes.
    public func screenshot(screen: UInt32 = 0, flags: UInt32 = 0) async throws -> (mime: String, stream: any ByteStream) {
        try await connection.driver.screenshot(ref, screen: screen, flags: flags)
    }

    /// `virDomainOpenGraphicsFD`: a socket connected to the `index`th graphics server (VNC or SPICE) of the
    /// running domain; the caller owns and closes it. `flags`: `VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH` (1). Remote
    /// connections receive it over their unix socket.
    public func openGraphicsFD(index: UInt32 = 0, flags: UInt32 = 0) async throws -> Int32 {
        try await connection.driver.openGraphicsFD(ref, index: index, flags: flags)
    }

    /// `virDomainSendKey`: key codes of a code set, held for `holdtime` milliseconds (0: QEMU's default).
    public func sendKey(codeset: KeycodeSet, holdtime: UInt32 = 0, keycodes: [UInt32], flags: UInt32 = 0) async throws {
        try await connection.driver.sendKey(ref, codeset: UInt32(codeset.rawValue), holdtime: holdtime,
                                            keycodes: keycodes, flags: flags)
    }

    /// `virDomainCoreDumpWithFormat` (or with nil format `virDomainCoreDump`): `path` is made absolute against the
    /// working directory first, as libvirt's client library does.
    public func coreDump(to path: String, format: UInt32? = nil, flags: UInt32 = 0) async throws {
        try CoreDump.check(format: format, flags: flags)
        try await connection.driver.coreDump(ref, to: AbsolutePath.make(path), format: format, flags: flags)
    }

    /// `virDomainGetIOThreadInfo`.
    public func iothreadInfo(flags: ModificationImpact = .current) async throws -> [IOThreadInfo] {
        try await connection.driver.iothreadInfo(ref, flags: flags.rawValue)
    }
}
