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

    /// `virDomainOpenGraphics`: the caller's connected socket `fd` becomes a client of the `index`th graphics
    /// server of the running domain (the caller keeps its descriptor). Remote connections pass it over their
    /// unix socket.
    public func openGraphics(index: UInt32 = 0, fd: Int32, flags: UInt32 = 0) async throws {
        try await connection.driver.openGraphics(ref, index: index, fd: fd, flags: flags)
    }

    /// `virDomainFDAssociate`: disks whose source says `fdgroup='name'` open their image through these
    /// descriptors (the daemon keeps duplicates while this connection lasts; the caller keeps its own).
    /// `flags`: VIR_DOMAIN_FD_ASSOCIATE_SECLABEL_RESTORE (1), _SECLABEL_WRITABLE (2).
    public func associateFDs(name: String, fds: [Int32], flags: UInt32 = 0) async throws {
        // libvirt's public API checks.
        if fds.isEmpty {
            // libvirt's virCheckNonZeroArg: its own words, without the code's prefix.
            throw VirtError(.invalidArg, domain: .domain, "nfds in virDomainFDAssociate must not be zero")
        }
        try await connection.driver.associateFDs(ref, name: name, fds: fds, flags: flags, owner: 0)
    }

    /// `virDomainBackupBegin`: starts a backup job of the running domain's disks (push: into target images;
    /// pull: exported over NBD). `flags`: VIR_DOMAIN_BACKUP_BEGIN_REUSE_EXTERNAL (1).
    public func backupBegin(xml: String, checkpointXML: String? = nil, flags: UInt32 = 0) async throws {
        try await connection.driver.backupBegin(ref, backupXML: xml, checkpointXML: checkpointXML, flags: flags)
    }

    /// `virDomainBackupGetXMLDesc`: the running backup job's definition.
    public func backupXML(flags: UInt32 = 0) async throws -> String {
        try await connection.driver.backupXML(ref, flags: flags)
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
