import VirtCore

/// Domains: listing, lookup, definition, lifecycle, save/restore, properties and statistics.
/// State-changing calls run under the domain's job lock.
extension ProcedureTable {
    static let domainRows: [ServedProcedure] = listingRows + definitionRows + lifecycleRows + saveRows
        + propertyRows + jobRows

    static let jobRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainGetJobInfo) { d, ctx in
            let s = try await ctx.driver.jobStats(d, completed: false, keepCompleted: false)
            return JobInfoResult(type: s.type, params: s.params)
        },
        .serve(RemoteCalls.domainGetJobStats) { a, ctx in
            let (d, flags) = a.values
            // VIR_DOMAIN_JOB_STATS_COMPLETED (1), VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED (2).
            let s = try await ctx.driver.jobStats(d, completed: flags & 1 != 0, keepCompleted: flags & 2 != 0)
            return XDRTuple2(s.type, TypedParamList(s.params))
        },
        .serve(RemoteCalls.domainAbortJob) { d, ctx in
            try await ctx.driver.abortJob(d, flags: 0)
            return void
        },
        .serve(RemoteCalls.domainAbortJobFlags) { a, ctx in
            let (d, flags) = a.values
            try await ctx.driver.abortJob(d, flags: flags)
            return void
        },
    ]

    private static let void = XDRVoid()

    static let listingRows: [ServedProcedure] = [
        .serve(RemoteCalls.connectListAllDomains) { a, ctx in
            let (need, flags) = a.values
            let doms = ctx.visible(try await ctx.driver.listAllDomains(flags: ListAllDomainsFlags(rawValue: flags)))
            if doms.count > RPCLimits.domainListMax {
                throw VirtError(.rpc, domain: .rpc,
                                "RPC error: too many domains '\(doms.count)' for limit '\(RPCLimits.domainListMax)'")
            }
            return XDRCountedList(doms, needResults: need)
        },
        .serve(RemoteCalls.connectListDomains) { max, ctx in
            try checkMax(max)
            var ids = try await ctx.driver.listDomainIDs()
            if ctx.access != nil { ids = try await visibleDomains(ctx, active: true).map(\.id) }
            return XDRList(Array(ids.prefix(Int(max))))
        },
        .serve(RemoteCalls.connectListDefinedDomains) { max, ctx in
            try checkMax(max)
            var names = try await ctx.driver.listDefinedDomainNames()
            if ctx.access != nil { names = try await visibleDomains(ctx, active: false).map(\.name) }
            return XDRList(Array(names.prefix(Int(max))))
        },
        .serve(RemoteCalls.connectNumOfDomains) { _, ctx in
            if ctx.access != nil { return Int32(try await visibleDomains(ctx, active: true).count) }
            return try await ctx.driver.numberOfDomains()
        },
        .serve(RemoteCalls.connectNumOfDefinedDomains) { _, ctx in
            if ctx.access != nil { return Int32(try await visibleDomains(ctx, active: false).count) }
            return try await ctx.driver.numberOfDefinedDomains()
        },
        .serve(RemoteCalls.domainLookupByID) { id, ctx in try await ctx.driver.lookupDomain(id: id) },
        .serve(RemoteCalls.domainLookupByName) { name, ctx in try await ctx.driver.lookupDomain(name: name) },
        .serve(RemoteCalls.domainLookupByUUID) { uuid, ctx in try await ctx.driver.lookupDomain(uuid: uuid) },
    ]

    static let definitionRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainDefineXML) { xml, ctx in try await ctx.driver.defineXML(xml, flags: []) },
        .serve(RemoteCalls.domainDefineXMLFlags) { a, ctx in
            let (xml, flags) = a.values
            return try await ctx.driver.defineXML(xml, flags: DefineFlags(rawValue: flags))
        },
        .serve(RemoteCalls.domainUndefine) { d, ctx in
            try await ctx.driver.undefine(d, flags: [])
            return void
        },
        .serve(RemoteCalls.domainUndefineFlags) { a, ctx in
            let (d, flags) = a.values
            try await ctx.driver.undefine(d, flags: UndefineFlags(rawValue: flags))
            return void
        },
        .serve(RemoteCalls.domainCreateXML) { a, ctx in
            let (xml, flags) = a.values
            return try await ctx.driver.createXML(xml, flags: CreateFlags(rawValue: flags))
        },
    ]

    static let lifecycleRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainCreate) { d, ctx in
            _ = try await ctx.driver.start(d, flags: [])
            return void
        },
        .serve(RemoteCalls.domainCreateWithFlags) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.start(d, flags: CreateFlags(rawValue: flags))
        },
        .serve(RemoteCalls.domainDestroy) { d, ctx in
            try await ctx.driver.destroy(d, flags: [])
            return void
        },
        .serve(RemoteCalls.domainDestroyFlags) { a, ctx in
            let (d, flags) = a.values
            try await ctx.driver.destroy(d, flags: DestroyFlags(rawValue: flags))
            return void
        },
        .serve(RemoteCalls.domainShutdown) { d, ctx in
            try await ctx.driver.shutdown(d, flags: [])
            return void
        },
        .serve(RemoteCalls.domainShutdownFlags) { a, ctx in
            let (d, flags) = a.values
            try await ctx.driver.shutdown(d, flags: ShutdownFlags(rawValue: flags))
            return void
        },
        .serve(RemoteCalls.domainReboot) { a, ctx in
            let (d, flags) = a.values
            try await ctx.driver.reboot(d, flags: ShutdownFlags(rawValue: flags))
            return void
        },
        .serve(RemoteCalls.domainReset) { a, ctx in
            let d = a.values.0
            try await ctx.driver.reset(d)
            return void
        },
        .serve(RemoteCalls.domainSuspend) { d, ctx in
            try await ctx.driver.suspend(d)
            return void
        },
        .serve(RemoteCalls.domainResume) { d, ctx in
            try await ctx.driver.resume(d)
            return void
        },
    ]

    static let saveRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainSave) { a, ctx in
            let (d, to) = a.values
            try await ctx.driver.save(d, to: to, xml: nil, flags: [])
            return void
        },
        .serve(RemoteCalls.domainSaveFlags) { a, ctx in
            let (d, to, xml, flags) = a.values
            try await ctx.driver.save(d, to: to, xml: xml, flags: SaveRestoreFlags(rawValue: flags))
            return void
        },
        .serve(RemoteCalls.domainSaveParams) { a, ctx in
            let (d, params, flags) = a.values
            guard let file = params.string("file") else {
                throw VirtError.invalidArg("missing file parameter", domain: .domain)
            }
            let xml = params.string("dxml")
            try await ctx.driver.save(d, to: file, xml: xml, flags: SaveRestoreFlags(rawValue: flags))
            return void
        },
        .serve(RemoteCalls.domainRestore) { from, ctx in
            try await ctx.driver.restore(from: from, xml: nil, flags: [])
            return void
        },
        .serve(RemoteCalls.domainRestoreFlags) { a, ctx in
            let (from, xml, flags) = a.values
            try await ctx.driver.restore(from: from, xml: xml, flags: SaveRestoreFlags(rawValue: flags))
            return void
        },
        .serve(RemoteCalls.domainRestoreParams) { a, ctx in
            let (params, flags) = a.values
            guard let file = params.string("file") else {
                throw VirtError.invalidArg("missing file parameter", domain: .domain)
            }
            try await ctx.driver.restore(from: file, xml: params.string("dxml"), flags: SaveRestoreFlags(rawValue: flags))
            return void
        },
        .serve(RemoteCalls.domainSaveImageGetXMLDesc) { a, ctx in
            let (file, flags) = a.values
            return try await ctx.driver.saveImageXML(path: file, flags: flags)
        },
        .serve(RemoteCalls.domainSaveImageDefineXML) { a, ctx in
            let (file, xml, flags) = a.values
            try await ctx.driver.saveImageDefineXML(path: file, xml: xml, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainManagedSaveGetXMLDesc, readOnlyValue: { $0.values.1 }) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.managedSaveXML(d, flags: flags)
        },
        .serve(RemoteCalls.domainManagedSaveDefineXML) { a, ctx in
            let (d, xml, flags) = a.values
            try await ctx.driver.managedSaveDefineXML(d, xml: xml, flags: flags)
            return void
        },
        .serve(RemoteCalls.domainManagedSave) { a, ctx in
            let (d, flags) = a.values
            try await ctx.driver.managedSave(d, flags: SaveRestoreFlags(rawValue: flags))
            return void
        },
        .serve(RemoteCalls.domainHasManagedSaveImage) { a, ctx in
            try await ctx.driver.hasManagedSaveImage(a.values.0) ? 1 : 0
        },
        .serve(RemoteCalls.domainManagedSaveRemove) { a, ctx in
            let d = a.values.0
            try await ctx.driver.managedSaveRemove(d)
            return void
        },
    ]

    static let propertyRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainGetAutostart) { d, ctx in try await ctx.driver.autostart(d) ? 1 : 0 },
        .serve(RemoteCalls.domainSetAutostart) { a, ctx in
            let (d, on) = a.values
            try await ctx.driver.setAutostart(d, on != 0)
            return void
        },
        .serve(RemoteCalls.domainGetInfo) { d, ctx in try await ctx.driver.info(d) },
        .serve(RemoteCalls.domainGetState) { a, ctx in try await ctx.driver.state(a.values.0) },
        .serve(RemoteCalls.domainGetXMLDesc, readOnlyValue: { $0.values.1 }) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.xmlDesc(d, flags: XMLFlags(rawValue: flags))
        },
        .serve(RemoteCalls.domainGetOSType) { d, ctx in try await ctx.driver.osType(d) },
        .serve(RemoteCalls.domainIsActive) { d, ctx in try await ctx.driver.isActive(d) ? 1 : 0 },
        .serve(RemoteCalls.domainIsPersistent) { d, ctx in try await ctx.driver.isPersistent(d) ? 1 : 0 },
        .serve(RemoteCalls.domainIsUpdated) { d, ctx in try await ctx.driver.isUpdated(d) ? 1 : 0 },
        .serve(RemoteCalls.domainGetMaxMemory) { d, ctx in try await ctx.driver.maxMemory(d) },
        // virDomainSetMaxMemory and virDomainGetMaxVcpus: libvirt's drivers answer them as the flags calls
        // with VIR_DOMAIN_MEM_MAXIMUM (current impact), and with VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_VCPU_MAXIMUM.
        .serve(RemoteCalls.domainSetMaxMemory) { a, ctx in
            let (d, kib) = a.values
            try await ctx.driver.setMemory(d, kib: kib, flags: ModificationImpact(rawValue: 4))
            return void
        },
        .serve(RemoteCalls.domainGetMaxVcpus) { d, ctx in
            try await ctx.driver.vcpuCount(d, flags: ModificationImpact(rawValue: 1 | 4))
        },
        .serve(RemoteCalls.domainSetMemory) { a, ctx in
            let (d, kib) = a.values
            try await ctx.driver.setMemory(d, kib: kib, flags: .live)
            return void
        },
        .serve(RemoteCalls.domainSetMemoryFlags) { a, ctx in
            let (d, kib, flags) = a.values
            try await ctx.driver.setMemory(d, kib: kib, flags: ModificationImpact(rawValue: flags))
            return void
        },
        .serve(RemoteCalls.domainGetVcpusFlags, readOnlyValue: { $0.values.1 }) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.vcpuCount(d, flags: ModificationImpact(rawValue: flags))
        },
        .serve(RemoteCalls.domainSetVcpusFlags) { a, ctx in
            let (d, n, flags) = a.values
            try await ctx.driver.setVcpus(d, count: n, flags: ModificationImpact(rawValue: flags))
            return void
        },
        .serve(RemoteCalls.domainGetSecurityLabel) { d, ctx in
            try await ctx.driver.securityLabels(d).first ?? SecurityLabel(label: "", enforcing: false)
        },
        .serve(RemoteCalls.domainGetSecurityLabelList) { d, ctx in
            let labels = try await ctx.driver.securityLabelList(d)
            return XDRTuple2(XDRList(labels), Int32(labels.count))
        },
        .serve(RemoteCalls.domainGetMessages) { a, ctx in
            let (d, flags) = a.values
            return XDRList(try await ctx.driver.messages(d, flags: flags))
        },
        .serve(RemoteCalls.connectGetAllDomainStats) { a, ctx in
            let (doms, stats, flags) = a.values
            let recs = try await ctx.driver.allDomainStats(domains: doms.items.isEmpty ? nil : doms.items,
                                                           types: StatsTypes(rawValue: stats),
                                                           flags: GetAllDomainStatsFlags(rawValue: flags))
            // Filtered by domain:read (libvirt's @aclfilter of this call).
            if ctx.access != nil {
                let allowed = Set(ctx.visible(recs.map(\.domain), permission: "read").map(\.uuid))
                return XDRList(recs.filter { allowed.contains($0.domain.uuid) })
            }
            return XDRList(recs)
        },
        .serve(RemoteCalls.domainOpenConsole) { a, ctx in
            let (d, dev, flags) = a.values
            let stream = try await ctx.driver.openConsole(d, device: dev, flags: flags)
            ctx.session.addStream(ServerStream(header: ctx.header, stream: stream, session: ctx.session))
            return void
        },
    ]

    /// The running (or defined, inactive) domains this client may getattr, in the driver's order.
    private static func visibleDomains(_ ctx: CallContext, active: Bool) async throws -> [DomainRef] {
        let all = try await ctx.driver.listAllDomains(flags: active ? .active : .inactive)
        let visible = ctx.visible(all)
        return active ? visible.sorted { $0.id < $1.id } : visible
    }

    private static func checkMax(_ max: Int32) throws {
        if max < 0 || max > Int32(RPCLimits.domainListMax) {
            throw VirtError(.rpc, domain: .rpc, "RPC error: maximum list length exceeded",
                            str1: "maximum list length exceeded")
        }
    }
}
