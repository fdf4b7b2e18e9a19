import VirtCore

/// `REMOTE_DOMAIN_IOTHREAD_PARAMS_MAX`, `REMOTE_DOMAIN_GUEST_VCPU_PARAMS_MAX`: 64 each.
public enum VcpuIOThreadParamsLimit: XDRLimit {
    public static var max: Int { 64 }
    public static var unit: Int { 12 }
}

/// IOThreads, single vCPUs, the guest's vCPUs, guest power management and the native formats: the wire calls.
extension RemoteCalls {
    typealias VcpuIOThreadParams = TypedParamList<VcpuIOThreadParamsLimit>
    /// dom, iothread_id, flags.
    static let domainAddIOThread = RemoteCall<XDRTuple3<D, UInt32, Flags>, XDRVoid>(.domainAddIOThread)
    /// dom, iothread_id, flags.
    static let domainDelIOThread = RemoteCall<XDRTuple3<D, UInt32, Flags>, XDRVoid>(.domainDelIOThread)
    /// dom, iothreads_id, cpumap, flags.
    static let domainPinIOThread =
        RemoteCall<XDRTuple4<D, UInt32, XDROpaque<CPUMapLimit>, Flags>, XDRVoid>(.domainPinIOThread)
    /// dom, iothread_id, params, flags.
    static let domainSetIOThreadParams =
        RemoteCall<XDRTuple4<D, UInt32, VcpuIOThreadParams, Flags>, XDRVoid>(.domainSetIOThreadParams)
    /// dom, cpumap, state, flags.
    static let domainSetVcpu = RemoteCall<XDRTuple4<D, String, Int32, Flags>, XDRVoid>(.domainSetVcpu)
    /// dom, flags → params.
    static let domainGetGuestVcpus = RemoteCall<XDRTuple2<D, Flags>, VcpuIOThreadParams>(.domainGetGuestVcpus)
    /// dom, cpumap, state, flags.
    static let domainSetGuestVcpus = RemoteCall<XDRTuple4<D, String, Int32, Flags>, XDRVoid>(.domainSetGuestVcpus)
    /// dom, target, duration, flags.
    static let domainPMSuspendForDuration =
        RemoteCall<XDRTuple4<D, UInt32, UInt64, Flags>, XDRVoid>(.domainPMSuspendForDuration)
    /// dom, flags.
    static let domainPMWakeup = RemoteCall<XDRTuple2<D, Flags>, XDRVoid>(.domainPMWakeup)
    /// nativeFormat, domainXml, flags → native.
    static let connectDomainXMLToNative =
        RemoteCall<XDRTuple3<String, String, Flags>, String>(.connectDomainXMLToNative)
    /// nativeFormat, nativeConfig, flags → domainXml.
    static let connectDomainXMLFromNative =
        RemoteCall<XDRTuple3<String, String, Flags>, String>(.connectDomainXMLFromNative)
}

extension ProcedureTable {
    private static let none = XDRVoid()

    static let vcpuIOThreadRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainAddIOThread) { a, ctx in
            let (d, id, flags) = a.values
            try await ctx.driver.addIOThread(d, id: id, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainDelIOThread) { a, ctx in
            let (d, id, flags) = a.values
            try await ctx.driver.delIOThread(d, id: id, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainPinIOThread) { a, ctx in
            let (d, id, map, flags) = a.values
            if map.bytes.isEmpty {
                throw VirtError(.invalidArg, domain: .domain,
                                "invalid argument: maplen in virDomainPinIOThread must be greater than zero",
                                str1: "maplen in virDomainPinIOThread must be greater than zero")
            }
            try await ctx.driver.pinIOThread(d, id: id, cpumap: map.bytes, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainSetIOThreadParams) { a, ctx in
            let (d, id, params, flags) = a.values
            try await ctx.driver.setIOThreadParams(d, id: id, params: params.params, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainSetVcpu) { a, ctx in
            let (d, map, state, flags) = a.values
            try await ctx.driver.setVcpu(d, cpumap: map, state: state, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainGetGuestVcpus) { a, ctx in
            let (d, flags) = a.values
            return TypedParamList(try await ctx.driver.guestVcpus(d, flags: flags))
        },
        .serve(RemoteCalls.domainSetGuestVcpus) { a, ctx in
            let (d, map, state, flags) = a.values
            try await ctx.driver.setGuestVcpus(d, cpumap: map, state: state, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainPMSuspendForDuration) { a, ctx in
            let (d, target, duration, flags) = a.values
            try await ctx.driver.pmSuspendForDuration(d, target: target, duration: duration, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainPMWakeup) { a, ctx in
            let (d, flags) = a.values
            try await ctx.driver.pmWakeup(d, flags: flags)
            return none
        },
        .serve(RemoteCalls.connectDomainXMLToNative) { a, ctx in
            let (format, xml, flags) = a.values
            return try await ctx.driver.domainXMLToNative(format: format, xml: xml, flags: flags)
        },
        .serve(RemoteCalls.connectDomainXMLFromNative) { a, ctx in
            let (format, config, flags) = a.values
            return try await ctx.driver.domainXMLFromNative(format: format, config: config, flags: flags)
        },
    ]
}

extension RemoteDriver {
    public func addIOThread(_ domain: DomainRef, id: UInt32, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainAddIOThread, XDRTuple3(domain, id, flags))
    }
    public func delIOThread(_ domain: DomainRef, id: UInt32, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainDelIOThread, XDRTuple3(domain, id, flags))
    }
    public func pinIOThread(_ domain: DomainRef, id: UInt32, cpumap: [UInt8], flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainPinIOThread, XDRTuple4(domain, id, XDROpaque(cpumap), flags))
    }
    public func setIOThreadParams(_ domain: DomainRef, id: UInt32, params: [TypedParam], flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetIOThreadParams, XDRTuple4(domain, id, TypedParamList(params), flags))
    }
    public func setVcpu(_ domain: DomainRef, cpumap: String, state: Int32, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetVcpu, XDRTuple4(domain, cpumap, state, flags))
    }
    public func guestVcpus(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        try await call(RemoteCalls.domainGetGuestVcpus, XDRTuple2(domain, flags)).params
    }
    public func setGuestVcpus(_ domain: DomainRef, cpumap: String, state: Int32, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetGuestVcpus, XDRTuple4(domain, cpumap, state, flags))
    }
    public func pmSuspendForDuration(_ domain: DomainRef, target: UInt32, duration: UInt64, flags: UInt32)
        async throws {
        _ = try await call(RemoteCalls.domainPMSuspendForDuration, XDRTuple4(domain, target, duration, flags))
    }
    public func pmWakeup(_ domain: DomainRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainPMWakeup, XDRTuple2(domain, flags))
    }
    public func domainXMLToNative(format: String, xml: String, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.connectDomainXMLToNative, XDRTuple3(format, xml, flags))
    }
    public func domainXMLFromNative(format: String, config: String, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.connectDomainXMLFromNative, XDRTuple3(format, config, flags))
    }
}
