import VirtCore

/// `REMOTE_DOMAIN_DISK_ERRORS_MAX`.
public enum DiskErrorsLimit: XDRLimit {
    public static var max: Int { 256 }
    public static var unit: Int { 8 }
}

/// `REMOTE_DOMAIN_LAUNCH_SECURITY_INFO_PARAMS_MAX`.
public enum LaunchSecurityParamsLimit: XDRLimit {
    public static var max: Int { 64 }
    public static var unit: Int { 12 }
}

/// `REMOTE_DOMAIN_PERF_EVENTS_MAX`.
public enum PerfEventsLimit: XDRLimit {
    public static var max: Int { 64 }
    public static var unit: Int { 12 }
}

/// `REMOTE_DOMAIN_GET_CPU_STATS_MAX`.
public enum CPUStatsLimit: XDRLimit {
    public static var max: Int { 2048 }
    public static var unit: Int { 12 }
}

/// `REMOTE_DOMAIN_GET_CPU_STATS_NCPUS_MAX`.
let cpuStatsNCPUsMax: UInt32 = 128

/// `remote_domain_get_control_info_ret`: state, details, stateTime.
extension DomainControlInfo: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let state = try r.uint()
        let details = try r.uint()
        self.init(state: state, details: details, stateTime: try r.uhyper())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.uint(state)
        w.uint(details)
        w.uhyper(stateTime)
    }
}

/// `remote_domain_disk_error`: disk, error.
extension DomainDiskError: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let disk = try r.string()
        self.init(disk: disk, error: try r.int())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.string(disk)
        w.int(error)
    }
}

extension RemoteCalls {
    /// dom, nparams, start_cpu, ncpus, flags → params, nparams.
    static let domainGetCPUStats =
        RemoteCall<XDRTuple5<D, UInt32, Int32, UInt32, Flags>, XDRTuple2<TypedParamList<CPUStatsLimit>, Int32>>(
            .domainGetCPUStats)
    /// dom, type, action, flags.
    static let domainSetLifecycleAction =
        RemoteCall<XDRTuple4<D, UInt32, UInt32, Flags>, XDRVoid>(.domainSetLifecycleAction)
    /// dom, flags → params.
    static let domainGetPerfEvents =
        RemoteCall<XDRTuple2<D, Flags>, TypedParamList<PerfEventsLimit>>(.domainGetPerfEvents)
    /// dom, params, flags.
    static let domainSetPerfEvents =
        RemoteCall<XDRTuple3<D, TypedParamList<PerfEventsLimit>, Flags>, XDRVoid>(.domainSetPerfEvents)
    /// dom, flags → hostname.
    static let domainGetHostname = RemoteCall<XDRTuple2<D, Flags>, String>(.domainGetHostname)
    /// dom, flags → state, details, stateTime.
    static let domainGetControlInfo = RemoteCall<XDRTuple2<D, Flags>, DomainControlInfo>(.domainGetControlInfo)
    /// dom, maxerrors, flags → errors, nerrors.
    static let domainGetDiskErrors =
        RemoteCall<XDRTuple3<D, UInt32, Flags>, XDRTuple2<XDRList<DomainDiskError, DiskErrorsLimit>, Int32>>(
            .domainGetDiskErrors)
    /// dom, pid_value, signum, flags.
    static let domainSendProcessSignal =
        RemoteCall<XDRTuple4<D, Int64, UInt32, Flags>, XDRVoid>(.domainSendProcessSignal)
    /// dom, flags → params.
    static let domainGetLaunchSecurityInfo =
        RemoteCall<XDRTuple2<D, Flags>, TypedParamList<LaunchSecurityParamsLimit>>(.domainGetLaunchSecurityInfo)
}

/// Read-outs, settings and signals of domains: lifecycle actions, perf events, host name, control channel, disk errors, process signals,
/// launch security parameters.
extension ProcedureTable {
    static let diagnosticsRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainGetCPUStats) { a, ctx in
            let (d, nparams, start, ncpus, flags) = a.values
            if nparams > UInt32(CPUStatsLimit.max) {
                throw VirtError.internalError("nparams count exceeds maximum", domain: .rpc)
            }
            if ncpus > cpuStatsNCPUsMax {
                throw VirtError.internalError("ncpus count exceeds maximum", domain: .rpc)
            }
            let r = try await ctx.driver.cpuStats(d, nparams: nparams, startCPU: start, ncpus: ncpus, flags: flags)
            return XDRTuple2(TypedParamList(nparams == 0 ? [] : r.params), r.count)
        },
        .serve(RemoteCalls.domainSetLifecycleAction) { a, ctx in
            let (d, type, action, flags) = a.values
            try await ctx.driver.setLifecycleAction(d, type: type, action: action, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainGetPerfEvents) { a, ctx in
            let (d, flags) = a.values
            return TypedParamList(try await ctx.driver.perfEvents(d, flags: flags))
        },
        .serve(RemoteCalls.domainSetPerfEvents) { a, ctx in
            let (d, params, flags) = a.values
            try await ctx.driver.setPerfEvents(d, params: params.params, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainGetHostname) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.domainHostname(d, flags: flags)
        },
        .serve(RemoteCalls.domainGetControlInfo) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.controlInfo(d, flags: flags)
        },
        .serve(RemoteCalls.domainGetDiskErrors) { a, ctx in
            let (d, maxErrors, flags) = a.values
            if maxErrors > DiskErrorsLimit.max {
                throw VirtError.internalError("maxerrors too large", domain: .rpc)
            }
            let r = try await ctx.driver.diskErrors(d, maxErrors: maxErrors, flags: flags)
            return XDRTuple2(XDRList(r.errors), r.count)
        },
        .serve(RemoteCalls.domainSendProcessSignal) { a, ctx in
            let (d, pid, signal, flags) = a.values
            // The check of libvirt's public API, which the daemon runs again.
            if pid == 0 {
                throw VirtError(.invalidArg, domain: .domain,
                                "pid_value in virDomainSendProcessSignal must not be zero",
                                str1: "pid_value in virDomainSendProcessSignal must not be zero")
            }
            try await ctx.driver.sendProcessSignal(d, pid: pid, signal: signal, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainGetLaunchSecurityInfo) { a, ctx in
            let (d, flags) = a.values
            return TypedParamList(try await ctx.driver.launchSecurityInfo(d, flags: flags))
        },
    ]
}

extension RemoteDriver {
    public func cpuStats(_ domain: DomainRef, nparams: UInt32, startCPU: Int32, ncpus: UInt32, flags: UInt32)
        async throws -> (params: [TypedParam], count: Int32) {
        let r = try await call(RemoteCalls.domainGetCPUStats, XDRTuple5(domain, nparams, startCPU, ncpus, flags))
        return (r.values.0.params, r.values.1)
    }
    public func setLifecycleAction(_ domain: DomainRef, type: UInt32, action: UInt32, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetLifecycleAction, XDRTuple4(domain, type, action, flags))
    }
    public func perfEvents(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        try await call(RemoteCalls.domainGetPerfEvents, XDRTuple2(domain, flags)).params
    }
    public func setPerfEvents(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetPerfEvents, XDRTuple3(domain, TypedParamList(params), flags))
    }
    public func domainHostname(_ domain: DomainRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.domainGetHostname, XDRTuple2(domain, flags))
    }
    public func controlInfo(_ domain: DomainRef, flags: UInt32) async throws -> DomainControlInfo {
        try await call(RemoteCalls.domainGetControlInfo, XDRTuple2(domain, flags))
    }
    public func diskErrors(_ domain: DomainRef, maxErrors: UInt32, flags: UInt32) async throws
        -> (errors: [DomainDiskError], count: Int32) {
        let r = try await call(RemoteCalls.domainGetDiskErrors, XDRTuple3(domain, maxErrors, flags))
        return (r.values.0.items, r.values.1)
    }
    public func sendProcessSignal(_ domain: DomainRef, pid: Int64, signal: UInt32, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSendProcessSignal, XDRTuple4(domain, pid, signal, flags))
    }
    public func launchSecurityInfo(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        try await call(RemoteCalls.domainGetLaunchSecurityInfo, XDRTuple2(domain, flags)).params
    }
}
