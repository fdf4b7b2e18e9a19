import VirtCore

/// Block devices: resize, I/O throttling and block jobs (pull, rebase, commit, copy).
extension Domain {
    /// `virDomainBlockResize`: `size` in KiB, or in bytes with `bytes`.
    public func blockResize(disk: String, size: UInt64, bytes: Bool = false) async throws {
        try await connection.driver.blockResize(ref, disk: disk, size: size, flags: bytes ? 1 : 0)
    }

    /// `virDomainGetBlockIoTune` with libvirt's two-call protocol (nparams 0: the count).
    public func blockIoTune(disk: String?, nparams: Int32, flags: ModificationImpact = .current) async throws
        -> (params: [TypedParam], nparams: Int32) {
        // As libvirt's client library: string parameters are understood (VIR_TYPED_PARAM_STRING_OKAY).
        try await connection.driver.blockIoTune(ref, disk: disk, nparams: nparams, flags: flags.rawValue | 4)
    }

    /// `virDomainSetBlockIoTune`.
    public func setBlockIoTune(disk: String, _ params: [TypedParam], flags: ModificationImpact = .current)
        async throws {
        try await connection.driver.setBlockIoTune(ref, disk: disk, params: params, flags: flags.rawValue)
    }

    /// `virDomainGetBlockJobInfo`: nil when the disk has no block job.
    public func blockJobInfo(disk: String, flags: UInt32 = 0) async throws -> BlockJobInfo? {
        try await connection.driver.blockJobInfo(ref, disk: disk, flags: flags)
    }

    /// `virDomainBlockJobAbort`.
    public func blockJobAbort(disk: String, flags: UInt32 = 0) async throws {
        try await connection.driver.blockJobAbort(ref, disk: disk, flags: flags)
    }

    /// `virDomainBlockJobSetSpeed`.
    public func blockJobSetSpeed(disk: String, bandwidth: UInt64, flags: UInt32 = 0) async throws {
        try await connection.driver.blockJobSetSpeed(ref, disk: disk, bandwidth: bandwidth, flags: flags)
    }

    /// `virDomainBlockPull`.
    public func blockPull(disk: String, bandwidth: UInt64, flags: UInt32 = 0) async throws {
        try await connection.driver.blockRebase(ref, disk: disk, base: nil, bandwidth: bandwidth, flags: flags,
                                                pull: true)
    }

    /// `virDomainBlockRebase`.
    public func blockRebase(disk: String, base: String?, bandwidth: UInt64, flags: UInt32 = 0) async throws {
        try await connection.driver.blockRebase(ref, disk: disk, base: base, bandwidth: bandwidth, flags: flags,
                                                pull: false)
    }

    /// `virDomainBlockCommit`.
    public func blockCommit(disk: String, base: String?, top: String?, bandwidth: UInt64, flags: UInt32 = 0)
        async throws {
        try await connection.driver.blockCommit(ref, disk: disk, base: base, top: top, bandwidth: bandwidth,
                                                flags: flags)
    }

    /// `virDomainBlockCopy`.
    public func blockCopy(disk: String, destXML: String, params: [TypedParam], flags: UInt32 = 0) async throws {
        try await connection.driver.blockCopy(ref, disk: disk, destXML: destXML, params: params, flags: flags)
    }
}

/// The queries pass through, the changes are refused on a read-only connection.
extension ReadOnlyDriver {
    public func blockResize(_ domain: DomainRef, disk: String, size: UInt64, flags: UInt32) async throws {
        throw Self.denied("virDomainBlockResize")
    }
    public func blockIoTune(_ domain: DomainRef, disk: String?, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try await base.blockIoTune(domain, disk: disk, nparams: nparams, flags: flags)
    }
    public func setBlockIoTune(_ domain: DomainRef, disk: String, params: [TypedParam], flags: UInt32) async throws {
        throw Self.denied("virDomainSetBlockIoTune")
    }
    public func blockJobInfo(_ domain: DomainRef, disk: String, flags: UInt32) async throws -> BlockJobInfo? {
        try await base.blockJobInfo(domain, disk: disk, flags: flags)
    }
    public func blockJobAbort(_ domain: DomainRef, disk: String, flags: UInt32) async throws {
        throw Self.denied("virDomainBlockJobAbort")
    }
    public func blockJobSetSpeed(_ domain: DomainRef, disk: String, bandwidth: UInt64, flags: UInt32) async throws {
        throw Self.denied("virDomainBlockJobSetSpeed")
    }
    public func blockRebase(_ domain: DomainRef, disk: String, base: String?, bandwidth: UInt64, flags: UInt32,
                            pull: Bool) async throws {
        throw Self.denied(pull ? "virDomainBlockPull" : "virDomainBlockRebase")
    }
    public func blockCommit(_ domain: DomainRef, disk: String, base: String?, top: String?, bandwidth: UInt64,
                            flags: UInt32) async throws {
        throw Self.denied("virDomainBlockCommit")
    }
    public func blockCopy(_ domain: DomainRef, disk: String, destXML: String, params: [TypedParam], flags: UInt32)
        async throws {
        throw Self.denied("virDomainBlockCopy")
    }
}
