import VirtCore

/// The host: hypervisor and node information, capabilities.
extension ProcedureTable {
    static let hostRows: [ServedProcedure] = [
        .serve(RemoteCalls.connectGetType) { _, ctx in try await ctx.driver.hypervisorType() },
        .serve(RemoteCalls.connectGetVersion) { _, ctx in try await ctx.driver.hypervisorVersion() },
        .serve(RemoteCalls.connectGetLibVersion) { _, ctx in ctx.server.config.libraryVersion },
        .serve(RemoteCalls.connectGetHostname) { _, ctx in try await ctx.driver.hostname() },
        .serve(RemoteCalls.connectGetURI) { _, ctx in ctx.driver.uri },
        .serve(RemoteCalls.connectGetCapabilities) { _, ctx in try await ctx.driver.capabilities() },
        .serve(RemoteCalls.connectGetDomainCapabilities) { a, ctx in
            let (emulator, arch, machine, virtType, flags) = a.values
            return try await ctx.driver.domainCapabilities(emulator: emulator, arch: arch, machine: machine,
                                                           virtType: virtType, flags: flags)
        },
        .serve(RemoteCalls.connectGetMaxVcpus) { type, ctx in try await ctx.driver.maxVcpus(type: type) },
        .serve(RemoteCalls.nodeGetInfo) { _, ctx in try await ctx.driver.nodeInfo() },
        .serve(RemoteCalls.nodeGetFreeMemory) { _, ctx in try await ctx.driver.nodeFreeMemory() },
        .serve(RemoteCalls.connectIsSecure) { _, ctx in try await ctx.driver.isSecure() ? 1 : 0 },
        .serve(RemoteCalls.nodeGetSecurityModel) { _, ctx in try await ctx.driver.securityModel() },
        .serve(RemoteCalls.connectCompareCPU) { a, ctx in
            let (xml, flags) = a.values
            return try await ctx.driver.compareCPU(xml: xml, flags: flags)
        },
        .serve(RemoteCalls.connectBaselineCPU) { a, ctx in
            let (xmls, flags) = a.values
            // libvirtd's public API sees an empty array as NULL.
            guard !xmls.items.isEmpty else { throw nullCPUs("virConnectBaselineCPU") }
            return try await ctx.driver.baselineCPU(xmls: xmls.items, flags: flags)
        },
        .serve(RemoteCalls.connectCompareHypervisorCPU) { a, ctx in
            let (emulator, arch, machine, virtType) = a.values.0.values
            let (xml, flags) = a.values.1.values
            return try await ctx.driver.compareHypervisorCPU(emulator: emulator, arch: arch, machine: machine,
                                                             virtType: virtType, xml: xml, flags: flags)
        },
        .serve(RemoteCalls.connectBaselineHypervisorCPU) { a, ctx in
            let (emulator, arch, machine, virtType) = a.values.0.values
            let (xmls, flags) = a.values.1.values
            guard !xmls.items.isEmpty else { throw nullCPUs("virConnectBaselineHypervisorCPU") }
            return try await ctx.driver.baselineHypervisorCPU(emulator: emulator, arch: arch, machine: machine,
                                                              virtType: virtType, xmls: xmls.items, flags: flags)
        },
    ] + hostStatsRows

    /// libvirt's public API check of a baseline call's CPU list.
    static func nullCPUs(_ api: String) -> VirtError {
        VirtError(.invalidArg, domain: .domain, "xmlCPUs in \(api) must not be NULL")
    }

    /// Host statistics: with nparams 0 the driver tells only how many values it has (libvirt's two-call
    /// protocol); `need_*` 0 leaves that part of the answer empty.
    static let hostStatsRows: [ServedProcedure] = [
        .serve(RemoteCalls.nodeGetCPUStats) { a, ctx in
            let (cpu, nparams, flags) = a.values
            guard nparams <= Int32(NodeStatsLimit.max) else { throw tooLarge }
            let r = try await ctx.driver.nodeCPUStats(cpu: cpu, nparams: nparams, flags: flags)
            return nparams == 0 ? NodeStatsResult(stats: [], nparams: r.nparams) : r
        },
        .serve(RemoteCalls.nodeGetMemoryStats) { a, ctx in
            let (nparams, cell, flags) = a.values
            guard nparams <= Int32(NodeStatsLimit.max) else { throw tooLarge }
            let r = try await ctx.driver.nodeMemoryStats(cell: cell, nparams: nparams, flags: flags)
            return nparams == 0 ? NodeStatsResult(stats: [], nparams: r.nparams) : r
        },
        .serve(RemoteCalls.nodeGetCellsFreeMemory) { a, ctx in
            let (start, maxCells) = a.values
            guard maxCells <= Int32(NodeCellsLimit.max) else {
                throw VirtError(.rpc, domain: .remote, "maxCells > REMOTE_NODE_MAX_CELLS")
            }
            return XDRList(try await ctx.driver.nodeCellsFreeMemory(startCell: start, maxCells: maxCells))
        },
        .serve(RemoteCalls.nodeGetCPUMap) { a, ctx in
            let (needMap, needOnline, flags) = a.values
            var m = try await ctx.driver.nodeCPUMap(flags: flags)
            if needMap == 0 { m.map = [] }
            if needOnline == 0 { m.online = 0 }
            return m
        },
        .serve(RemoteCalls.connectGetSysinfo) { flags, ctx in try await ctx.driver.sysinfo(flags: flags) },
        .serve(RemoteCalls.nodeGetMemoryParameters) { a, ctx in
            let (nparams, flags) = a.values
            guard nparams <= Int32(NodeMemoryParametersLimit.max) else { throw tooLarge }
            let r = try await ctx.driver.nodeMemoryParameters(nparams: nparams, flags: flags)
            return XDRTuple2(TypedParamList(nparams == 0 ? [] : r.params), r.nparams)
        },
        .serve(RemoteCalls.connectGetCPUModelNames) { a, ctx in
            let (arch, needResults, flags) = a.values
            let models = try await ctx.driver.cpuModelNames(arch: arch, flags: flags)
            guard models.count <= CPUModelsLimit.max else {
                throw VirtError.internalError(
                    "Too many model names '\(models.count)' for limit '\(CPUModelsLimit.max)'", domain: .remote)
            }
            return XDRTuple2(XDRList(needResults == 0 ? [] : models), Int32(models.count))
        },
    ]

    static let tooLarge = VirtError.internalError("nparams too large", domain: .remote)
}
