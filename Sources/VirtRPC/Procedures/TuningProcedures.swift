import VirtCore

/// `REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX`, `REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX`,
/// `REMOTE_DOMAIN_BLKIO_PARAMETERS_MAX`: 16 each.
public enum TuningParamsLimit: XDRLimit {
    public static var max: Int { 16 }
    public static var unit: Int { 12 }
}

/// Resource control (issue 11): scheduler, memory and block I/O parameters, the cgroup tunables behind
/// virsh's `schedinfo`, `memtune` and `blkiotune`.
extension RemoteCalls {
    typealias TuningParams = TypedParamList<TuningParamsLimit>
    static let domainGetSchedulerType = RemoteCall<D, XDRTuple2<String, Int32>>(.domainGetSchedulerType)
    static let domainGetSchedulerParameters =
        RemoteCall<XDRTuple2<D, Int32>, TuningParams>(.domainGetSchedulerParameters)
    static let domainGetSchedulerParametersFlags =
        RemoteCall<XDRTuple3<D, Int32, Flags>, TuningParams>(.domainGetSchedulerParametersFlags)
    static let domainSetSchedulerParameters =
        RemoteCall<XDRTuple2<D, TuningParams>, XDRVoid>(.domainSetSchedulerParameters)
    static let domainSetSchedulerParametersFlags =
        RemoteCall<XDRTuple3<D, TuningParams, Flags>, XDRVoid>(.domainSetSchedulerParametersFlags)
    static let domainSetMemoryParameters =
        RemoteCall<XDRTuple3<D, TuningParams, Flags>, XDRVoid>(.domainSetMemoryParameters)
    static let domainGetMemoryParameters =
        RemoteCall<XDRTuple3<D, Int32, Flags>, XDRTuple2<TuningParams, Int32>>(.domainGetMemoryParameters)
    static let domainSetBlkioParameters =
        RemoteCall<XDRTuple3<D, TuningParams, Flags>, XDRVoid>(.domainSetBlkioParameters)
    static let domainGetBlkioParameters =
        RemoteCall<XDRTuple3<D, Int32, Flags>, XDRTuple2<TuningParams, Int32>>(.domainGetBlkioParameters)
    /// `REMOTE_DOMAIN_NUMA_PARAMETERS_MAX` is 16 too.
    static let domainSetNumaParameters =
        RemoteCall<XDRTuple3<D, TuningParams, Flags>, XDRVoid>(.domainSetNumaParameters)
    static let domainGetNumaParameters =
        RemoteCall<XDRTuple3<D, Int32, Flags>, XDRTuple2<TuningParams, Int32>>(.domainGetNumaParameters)
    /// `REMOTE_DOMAIN_INTERFACE_PARAMETERS_MAX` is 16 too.
    static let domainSetInterfaceParameters =
        RemoteCall<XDRTuple4<D, String, TuningParams, Flags>, XDRVoid>(.domainSetInterfaceParameters)
    static let domainGetInterfaceParameters =
        RemoteCall<XDRTuple4<D, String, Int32, Flags>, XDRTuple2<TuningParams, Int32>>(.domainGetInterfaceParameters)
}

extension ProcedureTable {
    private static let void = XDRVoid()
    private static let tooMany = VirtError.internalError("nparams too large", domain: .rpc)

    static let tuningRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainGetSchedulerType) { d, ctx in
            let r = try await ctx.driver.schedulerType(d)
            return XDRTuple2(r.type, r.nparams)
        },
        .serve(RemoteCalls.domainGetSchedulerParameters) { a, ctx in
            let (d, nparams) = a.values
            guard nparams <= Int32(TuningParamsLimit.max) else { throw tooMany }
            return TypedParamList(try await ctx.driver.schedulerParameters(d, nparams: nparams, flags: nil))
        },
        .serve(RemoteCalls.domainGetSchedulerParametersFlags) { a, ctx in
            let (d, nparams, flags) = a.values
            guard nparams <= Int32(TuningParamsLimit.max) else { throw tooMany }
            return TypedParamList(try await ctx.driver.schedulerParameters(d, nparams: nparams, flags: flags))
        },
        .serve(RemoteCalls.domainSetSchedulerParameters) { a, ctx in
            let (d, params) = a.values
            try await ctx.driver.setSchedulerParameters(d, params: params.params, flags: nil)
            return void
        },
        .serve(RemoteCalls.domainSetSchedulerParametersFlags) { a, ctx in
            let (d, params, flags) = a.values
            try await ctx.driver.setSchedulerParameters(d, params: params.params, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainSetMemoryParameters) { a, ctx in
            let (d, params, flags) = a.values
            try await ctx.driver.setMemoryParameters(d, params: params.params, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainGetMemoryParameters) { a, ctx in
            let (d, nparams, flags) = a.values
            guard nparams <= Int32(TuningParamsLimit.max) else { throw tooMany }
            let r = try await ctx.driver.memoryParameters(d, nparams: nparams, flags: flags)
            // nparams 0 asks for the number of parameters only.
            return XDRTuple2(TypedParamList(nparams == 0 ? [] : r.params), r.nparams)
        },
        .serve(RemoteCalls.domainSetBlkioParameters) { a, ctx in
            let (d, params, flags) = a.values
            try await ctx.driver.setBlkioParameters(d, params: params.params, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainGetBlkioParameters) { a, ctx in
            let (d, nparams, flags) = a.values
            guard nparams <= Int32(TuningParamsLimit.max) else { throw tooMany }
            let r = try await ctx.driver.blkioParameters(d, nparams: nparams, flags: flags)
            return XDRTuple2(TypedParamList(nparams == 0 ? [] : r.params), r.nparams)
        },
        .serve(RemoteCalls.domainGetNumaParameters) { a, ctx in
            let (d, nparams, flags) = a.values
            guard nparams <= Int32(TuningParamsLimit.max) else { throw tooMany }
            let r = try await ctx.driver.numaParameters(d, nparams: nparams, flags: flags)
            return XDRTuple2(TypedParamList(nparams == 0 ? [] : r.params), r.nparams)
        },
        .serve(RemoteCalls.domainSetNumaParameters) { a, ctx in
            let (d, params, flags) = a.values
            try await ctx.driver.setNumaParameters(d, params: params.params, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainSetInterfaceParameters) { a, ctx in
            let (d, device, params, flags) = a.values
            try await ctx.driver.setInterfaceParameters(d, device: device, params: params.params, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainGetInterfaceParameters) { a, ctx in
            let (d, device, nparams, flags) = a.values
            guard nparams <= Int32(TuningParamsLimit.max) else { throw tooMany }
            let r = try await ctx.driver.interfaceParameters(d, device: device, nparams: nparams, flags: flags)
            return XDRTuple2(TypedParamList(nparams == 0 ? [] : r.params), r.nparams)
        },
    ]
}

extension RemoteDriver {
    public func schedulerType(_ domain: DomainRef) async throws -> (type: String, nparams: Int32) {
        let r = try await call(RemoteCalls.domainGetSchedulerType, domain)
        return (r.values.0, r.values.1)
    }
    public func schedulerParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32?) async throws -> [TypedParam] {
        guard let flags else {
            return try await call(RemoteCalls.domainGetSchedulerParameters, XDRTuple2(domain, nparams)).params
        }
        return try await call(RemoteCalls.domainGetSchedulerParametersFlags, XDRTuple3(domain, nparams, flags)).params
    }
    public func setSchedulerParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32?) async throws {
        guard let flags else {
            _ = try await call(RemoteCalls.domainSetSchedulerParameters, XDRTuple2(domain, TypedParamList(params)))
            return
        }
        _ = try await call(RemoteCalls.domainSetSchedulerParametersFlags, XDRTuple3(domain, TypedParamList(params), flags))
    }
    public func memoryParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        let r = try await call(RemoteCalls.domainGetMemoryParameters, XDRTuple3(domain, nparams, flags))
        return (r.values.0.params, r.values.1)
    }
    public func setMemoryParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetMemoryParameters, XDRTuple3(domain, TypedParamList(params), flags))
    }
    public func numaParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        let r = try await call(RemoteCalls.domainGetNumaParameters, XDRTuple3(domain, nparams, flags))
        return (r.values.0.params, r.values.1)
    }
    public func setNumaParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetNumaParameters, XDRTuple3(domain, TypedParamList(params), flags))
    }
    public func blkioParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        // As libvirt's client: strings are understood (VIR_TYPED_PARAM_STRING_OKAY).
        let r = try await call(RemoteCalls.domainGetBlkioParameters, XDRTuple3(domain, nparams, flags | 4))
        return (r.values.0.params, r.values.1)
    }
    public func setBlkioParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetBlkioParameters, XDRTuple3(domain, TypedParamList(params), flags))
    }
    public func interfaceParameters(_ domain: DomainRef, device: String, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        let r = try await call(RemoteCalls.domainGetInterfaceParameters, XDRTuple4(domain, device, nparams, flags | 4))
        return (r.values.0.params, r.values.1)
    }
    public func setInterfaceParameters(_ domain: DomainRef, device: String, params: [TypedParam], flags: UInt32)
        async throws {
        _ = try await call(RemoteCalls.domainSetInterfaceParameters,
                           XDRTuple4(domain, device, TypedParamList(params), flags))
    }
}
