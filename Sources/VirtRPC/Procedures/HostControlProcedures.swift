import VirtCore

/// `REMOTE_NODE_SEV_INFO_MAX`.
public enum SEVInfoLimit: XDRLimit {
    public static var max: Int { 64 }
    public static var unit: Int { 12 }
}

/// `REMOTE_DOMAIN_LAUNCH_SECURITY_STATE_PARAMS_MAX`.
public enum LaunchSecurityStateLimit: XDRLimit {
    public static var max: Int { 64 }
    public static var unit: Int { 12 }
}

extension RemoteCalls {
    /// dom, dev, threshold, flags.
    static let domainSetBlockThreshold =
        RemoteCall<XDRTuple4<D, String, UInt64, Flags>, XDRVoid>(.domainSetBlockThreshold)
    /// dom, seconds, flags.
    static let domainStartDirtyRateCalc =
        RemoteCall<XDRTuple3<D, Int32, Flags>, XDRVoid>(.domainStartDirtyRateCalc)
    /// dom, timeout, flags → result.
    static let domainAgentSetResponseTimeout =
        RemoteCall<XDRTuple3<D, Int32, Flags>, Int32>(.domainAgentSetResponseTimeout)
    /// dom, flags → cacheSize.
    static let domainMigrateGetCompressionCache =
        RemoteCall<XDRTuple2<D, Flags>, UInt64>(.domainMigrateGetCompressionCache)
    /// dom, cacheSize, flags.
    static let domainMigrateSetCompressionCache =
        RemoteCall<XDRTuple3<D, UInt64, Flags>, XDRVoid>(.domainMigrateSetCompressionCache)
    /// dom, params, flags.
    static let domainSetLaunchSecurityState =
        RemoteCall<XDRTuple3<D, TypedParamList<LaunchSecurityStateLimit>, Flags>, XDRVoid>(.domainSetLaunchSecurityState)
    /// nparams, flags → params, nparams.
    static let nodeGetSEVInfo =
        RemoteCall<XDRTuple2<Int32, Flags>, XDRTuple2<TypedParamList<SEVInfoLimit>, Int32>>(.nodeGetSEVInfo)
    /// target, duration, flags.
    static let nodeSuspendForDuration =
        RemoteCall<XDRTuple3<UInt32, UInt64, Flags>, XDRVoid>(.nodeSuspendForDuration)
}

/// Block write thresholds, the dirty page rate calculation, the agent's response timeout, the migration
/// compression cache, SEV (host information, launch secrets) and host suspend.
extension ProcedureTable {
    static let hostControlRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainSetBlockThreshold) { a, ctx in
            let (d, dev, threshold, flags) = a.values
            try await ctx.driver.setBlockThreshold(d, dev: dev, threshold: threshold, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainStartDirtyRateCalc) { a, ctx in
            let (d, seconds, flags) = a.values
            try await ctx.driver.startDirtyRateCalc(d, seconds: seconds, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainAgentSetResponseTimeout) { a, ctx in
            let (d, timeout, flags) = a.values
            try await ctx.driver.agentSetResponseTimeout(d, timeout: timeout, flags: flags)
            return Int32(0)
        },
        .serve(RemoteCalls.domainMigrateGetCompressionCache) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.migrateCompressionCache(d, flags: flags)
        },
        .serve(RemoteCalls.domainMigrateSetCompressionCache) { a, ctx in
            let (d, size, flags) = a.values
            try await ctx.driver.setMigrateCompressionCache(d, size: size, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainSetLaunchSecurityState) { a, ctx in
            let (d, params, flags) = a.values
            try await ctx.driver.setLaunchSecurityState(d, params: params.params, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.nodeGetSEVInfo) { a, ctx in
            let (_, flags) = a.values
            let params = try await ctx.driver.nodeSEVInfo(flags: flags)
            return XDRTuple2(TypedParamList(params), Int32(params.count))
        },
        .serve(RemoteCalls.nodeSuspendForDuration) { a, ctx in
            let (target, duration, flags) = a.values
            try await ctx.driver.nodeSuspendForDuration(target: target, duration: duration, flags: flags)
            return XDRVoid()
        },
    ]
}

extension RemoteDriver {
    public func setBlockThreshold(_ domain: DomainRef, dev: String, threshold: UInt64, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetBlockThreshold, XDRTuple4(domain, dev, threshold, flags))
    }
    public func startDirtyRateCalc(_ domain: DomainRef, seconds: Int32, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainStartDirtyRateCalc, XDRTuple3(domain, seconds, flags))
    }
    public func agentSetResponseTimeout(_ domain: DomainRef, timeout: Int32, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainAgentSetResponseTimeout, XDRTuple3(domain, timeout, flags))
    }
    public func migrateCompressionCache(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        try await call(RemoteCalls.domainMigrateGetCompressionCache, XDRTuple2(domain, flags))
    }
    public func setMigrateCompressionCache(_ domain: DomainRef, size: UInt64, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainMigrateSetCompressionCache, XDRTuple3(domain, size, flags))
    }
    public func setLaunchSecurityState(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetLaunchSecurityState, XDRTuple3(domain, TypedParamList(params), flags))
    }
    public func nodeSEVInfo(flags: UInt32) async throws -> [TypedParam] {
        try await call(RemoteCalls.nodeGetSEVInfo, XDRTuple2(Int32(0), flags)).values.0.params
    }
    public func nodeSuspendForDuration(target: UInt32, duration: UInt64, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.nodeSuspendForDuration, XDRTuple3(target, duration, flags))
    }
}
