import VirtCore

/// `REMOTE_DOMAIN_BLOCK_IO_TUNE_PARAMETERS_MAX`: 32.
public enum BlockIoTuneParamsLimit: XDRLimit {
    public static var max: Int { 32 }
    public static var unit: Int { 12 }
}

/// `REMOTE_DOMAIN_BLOCK_COPY_PARAMETERS_MAX`: 16.
public enum BlockCopyParamsLimit: XDRLimit {
    public static var max: Int { 16 }
    public static var unit: Int { 12 }
}

/// `remote_domain_get_block_job_info_ret`: found, type, bandwidth, cur, end.
struct BlockJobInfoReply: XDRCodable {
    var info: BlockJobInfo?
    init(_ info: BlockJobInfo?) { self.info = info }
    init(xdr r: inout XDRReader) throws(XDRError) {
        let found = try r.int()
        let type = try r.int()
        let bandwidth = try r.uhyper(), cur = try r.uhyper(), end = try r.uhyper()
        info = found == 0 ? nil : BlockJobInfo(type: type, bandwidth: bandwidth, cur: cur, end: end)
    }
    func encode(xdr w: inout XDRWriter) {
        w.int(info == nil ? 0 : 1)
        w.int(info?.type ?? 0)
        w.uhyper(info?.bandwidth ?? 0)
        w.uhyper(info?.cur ?? 0)
        w.uhyper(info?.end ?? 0)
    }
}

/// `remote_domain_block_commit_args`: dom, disk, base, top, bandwidth, flags.
struct BlockCommitArgs: XDRCodable, CallSubject {
    var dom: DomainRef
    var disk: String
    var base: String?
    var top: String?
    var bandwidth: UInt64
    var flags: UInt32
    init(dom: DomainRef, disk: String, base: String?, top: String?, bandwidth: UInt64, flags: UInt32) {
        self.dom = dom
        self.disk = disk
        self.base = base
        self.top = top
        self.bandwidth = bandwidth
        self.flags = flags
    }
    init(xdr r: inout XDRReader) throws(XDRError) {
        dom = try DomainRef(xdr: &r)
        disk = try r.string()
        base = try r.optionalString()
        top = try r.optionalString()
        bandwidth = try r.uhyper()
        flags = try r.uint()
    }
    func encode(xdr w: inout XDRWriter) {
        dom.encode(xdr: &w)
        w.string(disk)
        w.optionalString(base)
        w.optionalString(top)
        w.uhyper(bandwidth)
        w.uint(flags)
    }
    var callSubject: String? { dom.callSubject }
}

/// Block devices: resize, I/O throttling and block jobs.
extension RemoteCalls {
    typealias BlockIoTuneParams = TypedParamList<BlockIoTuneParamsLimit>
    /// dom, disk, size, flags.
    static let domainBlockResize = RemoteCall<XDRTuple4<D, String, UInt64, Flags>, XDRVoid>(.domainBlockResize)
    /// dom, disk, params, flags.
    static let domainSetBlockIoTune =
        RemoteCall<XDRTuple4<D, String, BlockIoTuneParams, Flags>, XDRVoid>(.domainSetBlockIoTune)
    /// dom, disk (nullable), nparams, flags → params, nparams.
    static let domainGetBlockIoTune =
        RemoteCall<XDRTuple4<D, String?, Int32, Flags>, XDRTuple2<BlockIoTuneParams, Int32>>(.domainGetBlockIoTune)
    /// dom, path, flags.
    static let domainGetBlockJobInfo = RemoteCall<XDRTuple3<D, String, Flags>, BlockJobInfoReply>(.domainGetBlockJobInfo)
    static let domainBlockJobAbort = RemoteCall<XDRTuple3<D, String, Flags>, XDRVoid>(.domainBlockJobAbort)
    /// dom, path, bandwidth, flags.
    static let domainBlockJobSetSpeed =
        RemoteCall<XDRTuple4<D, String, UInt64, Flags>, XDRVoid>(.domainBlockJobSetSpeed)
    static let domainBlockPull = RemoteCall<XDRTuple4<D, String, UInt64, Flags>, XDRVoid>(.domainBlockPull)
    /// dom, path, base, bandwidth, flags.
    static let domainBlockRebase =
        RemoteCall<XDRTuple5<D, String, String?, UInt64, Flags>, XDRVoid>(.domainBlockRebase)
    static let domainBlockCommit = RemoteCall<BlockCommitArgs, XDRVoid>(.domainBlockCommit)
    /// dom, path, destxml, params, flags.
    static let domainBlockCopy =
        RemoteCall<XDRTuple5<D, String, String, TypedParamList<BlockCopyParamsLimit>, Flags>, XDRVoid>(
            .domainBlockCopy)
}

extension ProcedureTable {
    private static let void = XDRVoid()

    static let blockRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainBlockResize) { a, ctx in
            let (d, disk, size, flags) = a.values
            try await ctx.driver.blockResize(d, disk: disk, size: size, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainSetBlockIoTune) { a, ctx in
            let (d, disk, params, flags) = a.values
            try await ctx.driver.setBlockIoTune(d, disk: disk, params: params.params, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainGetBlockIoTune) { a, ctx in
            let (d, disk, nparams, flags) = a.values
            guard nparams <= Int32(BlockIoTuneParamsLimit.max) else {
                throw VirtError.internalError("nparams too large", domain: .rpc)
            }
            let r = try await ctx.driver.blockIoTune(d, disk: disk, nparams: nparams, flags: flags)
            return XDRTuple2(TypedParamList(nparams == 0 ? [] : r.params), r.nparams)
        },
        .serve(RemoteCalls.domainGetBlockJobInfo) { a, ctx in
            let (d, disk, flags) = a.values
            return BlockJobInfoReply(try await ctx.driver.blockJobInfo(d, disk: disk, flags: flags))
        },
        .serve(RemoteCalls.domainBlockJobAbort) { a, ctx in
            let (d, disk, flags) = a.values
            try await ctx.driver.blockJobAbort(d, disk: disk, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainBlockJobSetSpeed) { a, ctx in
            let (d, disk, bandwidth, flags) = a.values
            try await ctx.driver.blockJobSetSpeed(d, disk: disk, bandwidth: bandwidth, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainBlockPull) { a, ctx in
            let (d, disk, bandwidth, flags) = a.values
            try await ctx.driver.blockRebase(d, disk: disk, base: nil, bandwidth: bandwidth, flags: flags, pull: true)
            return void
        },
        .serve(RemoteCalls.domainBlockRebase) { a, ctx in
            let (d, disk, base, bandwidth, flags) = a.values
            try await ctx.driver.blockRebase(d, disk: disk, base: base, bandwidth: bandwidth, flags: flags, pull: false)
            return void
        },
        .serve(RemoteCalls.domainBlockCommit) { a, ctx in
            try await ctx.driver.blockCommit(a.dom, disk: a.disk, base: a.base, top: a.top, bandwidth: a.bandwidth,
                                             flags: a.flags)
            return void
        },
        .serve(RemoteCalls.domainBlockCopy) { a, ctx in
            let (d, disk, xml, params, flags) = a.values
            try await ctx.driver.blockCopy(d, disk: disk, destXML: xml, params: params.params, flags: flags)
            return void
        },
    ]
}

extension RemoteDriver {
    public func blockResize(_ domain: DomainRef, disk: String, size: UInt64, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainBlockResize, XDRTuple4(domain, disk, size, flags))
    }
    public func blockIoTune(_ domain: DomainRef, disk: String?, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        let r = try await call(RemoteCalls.domainGetBlockIoTune, XDRTuple4(domain, disk, nparams, flags | 4))
        return (r.values.0.params, r.values.1)
    }
    public func setBlockIoTune(_ domain: DomainRef, disk: String, params: [TypedParam], flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetBlockIoTune, XDRTuple4(domain, disk, TypedParamList(params), flags))
    }
    public func blockJobInfo(_ domain: DomainRef, disk: String, flags: UInt32) async throws -> BlockJobInfo? {
        try await call(RemoteCalls.domainGetBlockJobInfo, XDRTuple3(domain, disk, flags)).info
    }
    public func blockJobAbort(_ domain: DomainRef, disk: String, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainBlockJobAbort, XDRTuple3(domain, disk, flags))
    }
    public func blockJobSetSpeed(_ domain: DomainRef, disk: String, bandwidth: UInt64, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainBlockJobSetSpeed, XDRTuple4(domain, disk, bandwidth, flags))
    }
    public func blockRebase(_ domain: DomainRef, disk: String, base: String?, bandwidth: UInt64, flags: UInt32,
                            pull: Bool) async throws {
        if pull, base == nil {
            _ = try await call(RemoteCalls.domainBlockPull, XDRTuple4(domain, disk, bandwidth, flags))
        } else {
            _ = try await call(RemoteCalls.domainBlockRebase, XDRTuple5(domain, disk, base, bandwidth, flags))
        }
    }
    public func blockCommit(_ domain: DomainRef, disk: String, base: String?, top: String?, bandwidth: UInt64,
                            flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainBlockCommit,
                           BlockCommitArgs(dom: domain, disk: disk, base: base, top: top, bandwidth: bandwidth,
                                           flags: flags))
    }
    public func blockCopy(_ domain: DomainRef, disk: String, destXML: String, params: [TypedParam], flags: UInt32)
        async throws {
        _ = try await call(RemoteCalls.domainBlockCopy, XDRTuple5(domain, disk, destXML, TypedParamList(params), flags))
    }
}
