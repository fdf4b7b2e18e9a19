import VirtCore

/// Statistics, pinning and guest information (issue 11: what monitoring tools such as
/// prometheus-libvirt-exporter and collectd ask for): block, interface and memory statistics, block info,
/// vCPU information and vCPU and emulator pinning. The drivers take the domain's query or modify job.
extension ProcedureTable {
    private static let void = XDRVoid()

    static let domainStatsRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainBlockStats) { a, ctx in
            let (d, path) = a.values
            return try await ctx.driver.blockStats(d, path: path)
        },
        .serve(RemoteCalls.domainBlockStatsFlags) { a, ctx in
            let (d, path, nparams, flags) = a.values
            if nparams > Int32(BlockStatsParamsLimit.max) {
                throw VirtError.internalError("nparams too large", domain: .rpc)
            }
            let params = try await ctx.driver.blockStatsFlags(d, path: path, flags: flags)
            // nparams 0 asks for the number of parameters only.
            if nparams <= 0 { return XDRTuple2(TypedParamList([]), Int32(params.count)) }
            let sent = Array(params.prefix(Int(nparams)))
            return XDRTuple2(TypedParamList(sent), Int32(sent.count))
        },
        .serve(RemoteCalls.domainInterfaceStats) { a, ctx in
            let (d, device) = a.values
            return try await ctx.driver.interfaceStats(d, device: device)
        },
        .serve(RemoteCalls.domainMemoryStats) { a, ctx in
            let (d, maxStats, flags) = a.values
            if maxStats > UInt32(MemoryStatsLimit.max) {
                throw VirtError.internalError("maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX", domain: .rpc)
            }
            let stats = try await ctx.driver.memoryStats(d, maxStats: maxStats, flags: flags)
            return XDRList(Array(stats.prefix(Int(maxStats))))
        },
        .serve(RemoteCalls.domainSetMemoryStatsPeriod) { a, ctx in
            let (d, period, flags) = a.values
            try await ctx.driver.setMemoryStatsPeriod(d, period: period, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainBlockPeek) { a, ctx in
            let (d, path, offset, size, flags) = a.values
            // libvirtd's dispatcher bounds the reply before the driver reads anything.
            if Int(size) > PeekBufferLimit.max {
                throw VirtError.internalError("size > maximum buffer size", domain: .rpc)
            }
            return XDROpaque(try await ctx.driver.blockPeek(d, path: path, offset: offset, size: size, flags: flags))
        },
        .serve(RemoteCalls.domainMemoryPeek) { a, ctx in
            let (d, offset, size, flags) = a.values
            if Int(size) > PeekBufferLimit.max {
                throw VirtError.internalError("size > maximum buffer size", domain: .rpc)
            }
            return XDROpaque(try await ctx.driver.memoryPeek(d, start: offset, size: size, flags: flags))
        },
        .serve(RemoteCalls.domainGetBlockInfo) { a, ctx in
            let (d, path, flags) = a.values
            return try await ctx.driver.blockInfo(d, path: path, flags: flags)
        },
        .serve(RemoteCalls.domainGetVcpus) { a, ctx in
            let (d, maxInfo, mapLength) = a.values
            if maxInfo > Int32(VcpuInfoLimit.max) {
                throw VirtError.internalError("maxinfo > REMOTE_VCPUINFO_MAX", domain: .rpc)
            }
            let total = Int64(max(maxInfo, 0)) * Int64(max(mapLength, 0))
            if total > Int64(CPUMapsLimit.max) {
                throw VirtError.internalError("maxinfo * maplen > REMOTE_CPUMAPS_MAX", domain: .rpc)
            }
            let r = try await ctx.driver.vcpuInfo(d, maxInfo: maxInfo, mapLength: mapLength)
            return XDRTuple2(XDRList(r.info), XDROpaque(sized(r.cpumaps, Int(total))))
        },
        .serve(RemoteCalls.domainGetVcpuPinInfo) { a, ctx in
            let (d, maps, mapLength, flags) = a.values
            if maps > Int32(VcpuInfoLimit.max) {
                throw VirtError.internalError("ncpumaps > REMOTE_VCPUINFO_MAX", domain: .rpc)
            }
            let total = Int64(max(maps, 0)) * Int64(max(mapLength, 0))
            if total > Int64(CPUMapsLimit.max) {
                throw VirtError.internalError("maxinfo * maplen > REMOTE_CPUMAPS_MAX", domain: .rpc)
            }
            let r = try await ctx.driver.vcpuPinInfo(d, maps: maps, mapLength: mapLength, flags: flags)
            return XDRTuple2(XDROpaque(sized(r.cpumaps, Int(total))), r.count)
        },
        .serve(RemoteCalls.domainPinVcpu) { a, ctx in
            let (d, vcpu, map) = a.values
            try await ctx.driver.pinVcpu(d, vcpu: vcpu, cpumap: map.bytes, flags: nil)
            return void
        },
        .serve(RemoteCalls.domainPinVcpuFlags) { a, ctx in
            let (d, vcpu, map, flags) = a.values
            try await ctx.driver.pinVcpu(d, vcpu: vcpu, cpumap: map.bytes, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainGetEmulatorPinInfo) { a, ctx in
            let (d, mapLength, flags) = a.values
            if mapLength > Int32(CPUMapsLimit.max) {
                throw VirtError.internalError("maplen > REMOTE_CPUMAPS_MAX", domain: .rpc)
            }
            let r = try await ctx.driver.emulatorPinInfo(d, mapLength: mapLength, flags: flags)
            return XDRTuple2(XDROpaque(sized(r.cpumap, Int(max(mapLength, 0)))), r.count)
        },
        .serve(RemoteCalls.domainPinEmulator) { a, ctx in
            let (d, map, flags) = a.values
            try await ctx.driver.pinEmulator(d, cpumap: map.bytes, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainSetMetadata) { a, ctx in
            try await ctx.driver.setMetadata(a.domain, type: a.type, value: a.metadata, key: a.key, uri: a.uri,
                                             flags: a.flags)
            return void
        },
        .serve(RemoteCalls.domainRename) { a, ctx in
            let (d, newName, flags) = a.values
            // libvirt's public API refuses a missing name before the driver sees it.
            guard let newName else {
                throw VirtError(.invalidArg, domain: .domain,
                                "invalid argument: new_name in virDomainRename must not be NULL",
                                str1: "new_name in virDomainRename must not be NULL")
            }
            try await ctx.driver.renameDomain(d, newName: newName, flags: flags)
            return Int32(0)
        },
        .serve(RemoteCalls.domainInjectNMI) { a, ctx in
            let (d, flags) = a.values
            try await ctx.driver.injectNMI(d, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainGetMetadata) { a, ctx in
            let (d, type, uri, flags) = a.values
            return try await ctx.driver.metadata(d, type: type, uri: uri, flags: flags)
        },
    ]

    /// `bytes` cut or zero-padded to `count`, the buffer size libvirt's server sends back.
    private static func sized(_ bytes: [UInt8], _ count: Int) -> [UInt8] {
        bytes.count >= count ? Array(bytes.prefix(count)) : bytes + [UInt8](repeating: 0, count: count - bytes.count)
    }
}
