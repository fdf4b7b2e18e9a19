import VirtCore

/// Block devices: resize and I/O throttling (QEMUDomainObject+Block.swift).
extension QEMUDriver {
    /// libvirt's qemuDomainBlockResize: KiB unless VIR_DOMAIN_BLOCK_RESIZE_BYTES (1).
    public func blockResize(_ domain: DomainRef, disk: String, size: UInt64, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1, "qemuDomainBlockResize")
        var bytes = size
        if flags & 1 == 0 {
            guard size <= UInt64.max / 1024 else {
                throw VirtError(.overflow, domain: .qemu, "value too large: size must be less than \(UInt64.max / 1024)",
                                str1: "size must be less than \(UInt64.max / 1024)")
            }
            bytes = size * 1024
        }
        try await state.object(domain).blockResize(disk: disk, bytes: bytes)
    }

    public func blockIoTune(_ domain: DomainRef, disk: String?, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try Self.checkFlags(flags, allowed: 1 | 2 | 4, "qemuDomainGetBlockIoTune")
        let all = try await state.object(domain).blockIoTune(disk: disk, countOnly: nparams == 0, flags: flags)
        if nparams == 0 { return ([], Int32(all.count)) }
        let sent = Array(all.prefix(Int(max(nparams, 0))))
        return (sent, Int32(sent.count))
    }

    public func setBlockIoTune(_ domain: DomainRef, disk: String, params: [TypedParam], flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainSetBlockIoTune")
        try await state.object(domain).setBlockIoTune(disk: disk, params: params, flags: flags)
    }
}

/// Block jobs (QEMUDomainObject+BlockJobs.swift).
extension QEMUDriver {
    public func blockJobInfo(_ domain: DomainRef, disk: String, flags: UInt32) async throws -> BlockJobInfo? {
        try Self.checkFlags(flags, allowed: 1, "qemuDomainGetBlockJobInfo")
        return try await state.object(domain).blockJobInformation(disk: disk, bytes: flags & 1 != 0)
    }

    public func blockJobAbort(_ domain: DomainRef, disk: String, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainBlockJobAbort")
        try await state.object(domain).abortBlockJob(disk: disk, flags: flags)
    }

    public func blockJobSetSpeed(_ domain: DomainRef, disk: String, bandwidth: UInt64, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1, "qemuDomainBlockJobSetSpeed")
        try await state.object(domain).setBlockJobSpeed(disk: disk, bandwidth: bandwidth, bytes: flags & 1 != 0)
    }

    /// virDomainBlockPull (flags: BANDWIDTH_BYTES 0x40) and virDomainBlockRebase (SHALLOW 1, REUSE_EXT 2,
    /// COPY_RAW 4, COPY 8, RELATIVE 16, COPY_DEV 32, BANDWIDTH_BYTES 64); a rebase with COPY is a block copy.
    public func blockRebase(_ domain: DomainRef, disk: String, base: String?, bandwidth: UInt64, flags: UInt32,
                            pull: Bool) async throws {
        let obj = try await state.object(domain)
        if pull {
            try Self.checkFlags(flags, allowed: 0x40, "qemuDomainBlockPull")
            try await obj.blockPull(disk: disk, base: nil, bandwidth: bandwidth, bytes: flags & 0x40 != 0)
            return
        }
        try Self.checkFlags(flags, allowed: 0x7f, "qemuDomainBlockRebase")
        if flags & 8 != 0 {
            guard let base else {
                throw VirtError.invalidArg("destination must not be NULL", domain: .qemu)
            }
            try await obj.blockCopy(disk: disk, destination: base, format: flags & 4 != 0 ? "raw" : nil,
                                    bandwidth: bandwidth, bytes: flags & 64 != 0, shallow: flags & 1 != 0,
                                    reuse: flags & 2 != 0, transientJob: false, granularity: nil, bufSize: nil,
                                    syncWrites: false, blockDevice: flags & 32 != 0)
            return
        }
        if flags & (1 | 2 | 4 | 32) != 0 {
            throw VirtError.invalidArg("flags shallow, reuse-external, copy-raw and copy-dev need the copy flag",
                                       domain: .qemu)
        }
        try await obj.blockPull(disk: disk, base: base, bandwidth: bandwidth, bytes: flags & 64 != 0,
                                relative: flags & 16 != 0)
    }

    /// virDomainBlockCommit (flags: SHALLOW 1, DELETE 2, ACTIVE 4, RELATIVE 8, BANDWIDTH_BYTES 16).
    public func blockCommit(_ domain: DomainRef, disk: String, base: String?, top: String?, bandwidth: UInt64,
                            flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2 | 4 | 8 | 16, "qemuDomainBlockCommit")
        try await state.object(domain).blockCommit(disk: disk, base: base, top: top, bandwidth: bandwidth, flags: flags)
    }

    /// virDomainBlockCopy (flags: SHALLOW 1, REUSE_EXT 2, TRANSIENT_JOB 4, SYNCHRONOUS_WRITES 8; parameters
    /// bandwidth in bytes/s, granularity, buf-size): the destination from a `<disk>` of type file.
    public func blockCopy(_ domain: DomainRef, disk: String, destXML: String, params: [TypedParam], flags: UInt32)
        async throws {
        try Self.checkFlags(flags, allowed: 1 | 2 | 4 | 8, "qemuDomainBlockCopy")
        try TypedParam.validate(params, ["bandwidth": 4, "granularity": 2, "buf-size": 4])
        var bandwidth: UInt64 = 0
        var granularity: UInt32?
        var bufSize: UInt64?
        for p in params {
            switch (p.field, p.value) {
            case ("bandwidth", .ullong(let v)): bandwidth = v
            case ("granularity", .uint(let v)): granularity = v
            case ("buf-size", .ullong(let v)): bufSize = v
            default: break
            }
        }
        if let g = granularity, g < 512 || g > 64 << 20 || g & (g - 1) != 0 {
            throw VirtError.invalidArg("granularity must be power of 2 between 512 and 64M", domain: .qemu)
        }
        let root = try XMLParser.parse(destXML)
        let block = root.attr("type") == "block"
        guard root.name == "disk", let file = root.child("source")?.attr(block ? "dev" : "file") else {
            throw VirtError.configUnsupported("block copy destination must be a disk of type file or block", domain: .qemu)
        }
        try await state.object(domain).blockCopy(disk: disk, destination: file,
                                                 format: root.child("driver")?.attr("type"), bandwidth: bandwidth,
                                                 bytes: true, shallow: flags & 1 != 0, reuse: flags & 2 != 0,
                                                 transientJob: flags & 4 != 0, granularity: granularity,
                                                 bufSize: bufSize, syncWrites: flags & 8 != 0, blockDevice: block)
    }
}
