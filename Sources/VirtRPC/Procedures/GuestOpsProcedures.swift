import VirtCore

/// `REMOTE_DOMAIN_SEND_KEY_MAX`.
public enum SendKeyLimit: XDRLimit {
    public static var max: Int { 16 }
    public static var unit: Int { 4 }
}

/// `REMOTE_IOTHREAD_INFO_MAX`.
public enum IOThreadInfoLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 8 }
}

/// `remote_domain_iothread_info`: the IOThread's id and its CPU map.
extension IOThreadInfo: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let id = try r.uint()
        self.init(id: id, cpumap: try r.opaque(max: CPUMapLimit.max))
    }
    public func encode(xdr w: inout XDRWriter) {
        w.uint(id)
        w.opaque(cpumap)
    }
}

extension RemoteCalls {
    /// dom, nvcpus (virDomainSetVcpus: the live domain).
    static let domainSetVcpus = RemoteCall<XDRTuple2<D, UInt32>, XDRVoid>(.domainSetVcpus)
    /// dom, flags → info, ret (the count).
    static let domainGetIOThreadInfo =
        RemoteCall<XDRTuple2<D, Flags>, XDRTuple2<XDRList<IOThreadInfo, IOThreadInfoLimit>, UInt32>>(
            .domainGetIOThreadInfo)
    /// dom, to, flags.
    static let domainCoreDump = RemoteCall<XDRTuple3<D, String, Flags>, XDRVoid>(.domainCoreDump)
    /// dom, to, dumpformat, flags.
    static let domainCoreDumpWithFormat =
        RemoteCall<XDRTuple4<D, String, UInt32, Flags>, XDRVoid>(.domainCoreDumpWithFormat)
    /// dom, screen, flags → mime (then the image on the call's stream).
    static let domainScreenshot = RemoteCall<XDRTuple3<D, UInt32, Flags>, String?>(.domainScreenshot)
    /// dom, idx, flags → nothing but the descriptor (REPLY_WITH_FDS).
    static let domainOpenGraphicsFD = RemoteCall<XDRTuple3<D, UInt32, Flags>, XDRVoid>(.domainOpenGraphicsFD)
    /// dom, codeset, holdtime, keycodes, flags.
    static let domainSendKey =
        RemoteCall<XDRTuple5<D, UInt32, UInt32, XDRList<UInt32, SendKeyLimit>, Flags>, XDRVoid>(.domainSendKey)
}

/// Console and guest operations on running domains (issue 11): screenshots on a stream, keys sent to the
/// guest, core dumps, IOThread information. The drivers take the domain's job.
extension ProcedureTable {
    static let guestOpsRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainScreenshot) { a, ctx in
            let (d, screen, flags) = a.values
            let r = try await ctx.driver.screenshot(d, screen: screen, flags: flags)
            // The image follows the reply on the call's stream.
            ctx.session.addStream(ServerStream(header: ctx.header, stream: r.stream, session: ctx.session))
            return r.mime
        },
        .serve(RemoteCalls.domainOpenGraphicsFD) { a, ctx in
            let (d, idx, flags) = a.values
            let fd = try await ctx.driver.openGraphicsFD(d, index: idx, flags: flags)
            ProcedureTable.passFDs([fd], ctx)
            return XDRVoid()
        }.withFDs(),
        .serve(RemoteCalls.domainSendKey) { a, ctx in
            let (d, codeset, holdtime, keys, flags) = a.values
            // The checks of libvirt's public API, which the daemon runs again.
            if keys.items.isEmpty {
                throw VirtError(.invalidArg, domain: .domain,
                                "invalid argument: nkeycodes in virDomainSendKey must be greater than zero",
                                str1: "nkeycodes in virDomainSendKey must be greater than zero")
            }
            try await ctx.driver.sendKey(d, codeset: codeset, holdtime: holdtime, keycodes: keys.items, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainSetVcpus) { a, ctx in
            let (d, n) = a.values
            if n == 0 {
                throw VirtError(.invalidArg, domain: .domain, "nvcpus in virDomainSetVcpus must not be zero")
            }
            // libvirt's drivers run virDomainSetVcpus as virDomainSetVcpusFlags on the live domain.
            try await ctx.driver.setVcpus(d, count: n, flags: .live)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainGetIOThreadInfo) { a, ctx in
            let (d, flags) = a.values
            let info = try await ctx.driver.iothreadInfo(d, flags: flags)
            return XDRTuple2(XDRList(info), UInt32(info.count))
        },
        .serve(RemoteCalls.domainCoreDump) { a, ctx in
            let (d, to, flags) = a.values
            try CoreDump.check(format: nil, flags: flags)
            try await ctx.driver.coreDump(d, to: to, format: nil, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainCoreDumpWithFormat) { a, ctx in
            let (d, to, format, flags) = a.values
            try CoreDump.check(format: format, flags: flags)
            try await ctx.driver.coreDump(d, to: to, format: format, flags: flags)
            return XDRVoid()
        },
    ]
}
