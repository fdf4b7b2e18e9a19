import VirtCore

/// `REMOTE_DOMAIN_AUTHORIZED_SSH_KEYS_MAX`.
public enum AuthorizedSSHKeysLimit: XDRLimit {
    public static var max: Int { 2048 }
    public static var unit: Int { 4 }
}

/// The guest agent procedures (issue 11): interface addresses, guest time, file system freeze/thaw and
/// information, guest information and user passwords. The drivers ask the domain's guest agent.
extension ProcedureTable {
    private static let none = XDRVoid()

    static let agentRows: [ServedProcedure] = [
        // Read-only connections may ask for leases and ARP entries, not the agent (source 1).
        .serve(RemoteCalls.domainInterfaceAddresses, readOnlyValue: { $0.values.1 }) { a, ctx in
            let (d, source, flags) = a.values
            return XDRList(try await ctx.driver.interfaceAddresses(d, source: source, flags: flags))
        },
        .serve(RemoteCalls.domainGetTime) { a, ctx in
            let (d, flags) = a.values
            let t = try await ctx.driver.guestTime(d, flags: flags)
            return XDRTuple2(t.seconds, t.nseconds)
        },
        .serve(RemoteCalls.domainSetTime) { a, ctx in
            let (d, seconds, nseconds, flags) = a.values
            try await ctx.driver.setGuestTime(d, seconds: seconds, nseconds: nseconds, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainFSFreeze) { a, ctx in
            let (d, mountpoints, flags) = a.values
            return try await ctx.driver.fsFreeze(d, mountpoints: mountpoints.items, flags: flags)
        },
        .serve(RemoteCalls.domainFSThaw) { a, ctx in
            let (d, mountpoints, flags) = a.values
            return try await ctx.driver.fsThaw(d, mountpoints: mountpoints.items, flags: flags)
        },
        .serve(RemoteCalls.domainGetFSInfo) { a, ctx in
            let (d, flags) = a.values
            let info = try await ctx.driver.fsInfo(d, flags: flags)
            if info.count > FSInfoLimit.max {
                throw VirtError.internalError("Too many mountpoints in fsinfo: \(info.count) for limit \(FSInfoLimit.max)",
                                              domain: .rpc)
            }
            return XDRTuple2(XDRList(info), UInt32(info.count))
        },
        .serve(RemoteCalls.domainGetGuestInfo) { a, ctx in
            let (d, types, flags) = a.values
            let params = try await ctx.driver.guestInfo(d, types: types, flags: flags)
            if params.count > GuestInfoParamsLimit.max {
                throw VirtError.internalError("Number of guest info parameters \(params.count) exceeds max allowed \(GuestInfoParamsLimit.max)",
                                              domain: .rpc)
            }
            return TypedParamList(params)
        },
        .serve(RemoteCalls.domainSetUserPassword) { a, ctx in
            let (d, user, password, flags) = a.values
            try await ctx.driver.setUserPassword(d, user: user, password: password, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainFSTrim) { a, ctx in
            let (d, mountPoint, minimum, flags) = a.values
            try await ctx.driver.fsTrim(d, mountPoint: mountPoint, minimum: minimum, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainAuthorizedSSHKeysGet) { a, ctx in
            let (d, user, flags) = a.values
            let keys = try await ctx.driver.authorizedSSHKeys(d, user: user, flags: flags)
            if keys.count > AuthorizedSSHKeysLimit.max {
                throw VirtError.internalError("Number of keys \(keys.count), which exceeds max limit: \(AuthorizedSSHKeysLimit.max)",
                                              domain: .rpc)
            }
            return XDRList(keys)
        },
        .serve(RemoteCalls.domainAuthorizedSSHKeysSet) { a, ctx in
            let (d, user, keys, flags) = a.values
            try await ctx.driver.setAuthorizedSSHKeys(d, user: user, keys: keys.items, flags: flags)
            return none
        },
    ]
}
