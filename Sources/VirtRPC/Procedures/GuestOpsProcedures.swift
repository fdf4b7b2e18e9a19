import VirtCore

/// `REMOTE_DOMAIN_SEND_KEY_MAX`.
public enum SendKeyLimit: XDRLimit {
    public static var max: Int { 16 }
    public static var unit: Int { 4 }
}

extension RemoteCalls {
    /// dom, screen, flags → mime (then the image on the call's stream).
    static let domainScreenshot = RemoteCall<XDRTuple3<D, UInt32, Flags>, String?>(.domainScreenshot)
    /// dom, codeset, holdtime, keycodes, flags.
    static let domainSendKey =
        RemoteCall<XDRTuple5<D, UInt32, UInt32, XDRList<UInt32, SendKeyLimit>, Flags>, XDRVoid>(.domainSendKey)
}

/// Console and guest operations on running domains (issue 11): screenshots on a stream and keys sent to the
/// guest. The drivers take the domain's job.
extension ProcedureTable {
    static let guestOpsRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainScreenshot) { a, ctx in
            let (d, screen, flags) = a.values
            let r = try await ctx.driver.screenshot(d, screen: screen, flags: flags)
            // The image follows the reply on the call's stream.
            ctx.session.addStream(ServerStream(header: ctx.header, stream: r.stream, session: ctx.session))
            return r.mime
        },
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
    ]
}
