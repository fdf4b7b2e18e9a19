import VirtCore

/// libvirt 9.0's test driver for resource control: a "fair" scheduler with a fixed weight of 50 (setting it
/// is accepted and changes nothing), memory and block I/O parameters kept in `<memtune>` and `<blkiotune>`.
extension TestDriver {
    public func schedulerType(_ domain: DomainRef) async throws -> (type: String, nparams: Int32) { ("fair", 1) }

    public func schedulerParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32?) async throws -> [TypedParam] {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags ?? 0, allowed: 0, "testDomainGetSchedulerParametersFlags")
            _ = try c.table.object(domain)
            return Array([TypedParam("weight", .uint(50))].prefix(Int(max(nparams, 0))))
        }
    }

    public func setSchedulerParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32?) async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags ?? 0, allowed: 0, "testDomainSetSchedulerParametersFlags")
            try TypedParam.validate(params, ["weight": 2])
            _ = try c.table.object(domain)
        }
    }

    public func memoryParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2 | 4, "testDomainGetMemoryParameters")
            if nparams == 0 { return ([], 3) }
            let (def, _) = try c.def(try c.table.object(domain), flags & 3)
            let un: UInt64 = 9_007_199_254_740_991
            let m = def.memtune
            let all = [TypedParam("hard_limit", .ullong(m?.hardLimit ?? un)),
                       TypedParam("soft_limit", .ullong(m?.softLimit ?? un)),
                       TypedParam("swap_hard_limit", .ullong(m?.swapHardLimit ?? un))]
            let sent = Array(all.prefix(Int(max(nparams, 0))))
            return (sent, Int32(sent.count))
        }
    }

    public func setMemoryParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2, "testDomainSetMemoryParameters")
            try TypedParam.validate(params, ["hard_limit": 4, "soft_limit": 4, "swap_hard_limit": 4])
            let obj = try c.table.object(domain)
            var (def, useNew) = try c.def(obj, flags)
            let un: UInt64 = 9_007_199_254_740_991
            func get(_ n: String) -> UInt64? {
                for p in params where p.field == n { if case .ullong(let v) = p.value { return v } }
                return nil
            }
            let hard = get("hard_limit"), soft = get("soft_limit"), swap = get("swap_hard_limit")
            if hard != nil || swap != nil {
                // Compared with the running (current) definition's values, as libvirt's test driver does.
                let current = obj.definition.memtune
                if (hard ?? current?.hardLimit ?? un) > (swap ?? current?.swapHardLimit ?? un) {
                    throw VirtError.invalidArg(
                        "memory hard_limit tunable value must be lower than or equal to swap_hard_limit", domain: .test)
                }
            }
            var m = def.memtune ?? MemTune()
            func kept(_ v: UInt64) -> UInt64? { v >= un ? nil : v }
            if let soft { m.softLimit = kept(soft) }
            if let hard { m.hardLimit = kept(hard) }
            if let swap { m.swapHardLimit = kept(swap) }
            def.memtune = m == MemTune() ? nil : m
            c.store(obj, def, persistent: useNew)
        }
    }

    /// The domain-wide memory mode and nodeset of the addressed definition.
    public func numaParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2 | 4, "testDomainGetNumaParameters")
            if nparams == 0 { return ([], 2) }
            let n = try c.def(try c.table.object(domain), flags & 3).0.numatune ?? NUMATune()
            let nodeset = n.placement == "auto" ? "" : (n.nodeset?.description ?? "")
            let all = [TypedParam("numa_mode", .int(n.modeValue)), TypedParam("numa_nodeset", .string(nodeset))]
            let sent = Array(all.prefix(Int(max(nparams, 0))))
            return (sent, Int32(sent.count))
        }
    }

    /// Changes the domain-wide memory mode and nodeset (libvirt's `testDomainSetNumaParameters`).
    public func setNumaParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2, "testDomainSetNumaParameters")
            try TypedParam.validate(params, ["numa_mode": 1, "numa_nodeset": 7])
            let obj = try c.table.object(domain)
            let (useNew, live) = try c.oneDef(obj, ModificationImpact(rawValue: flags))
            var def = useNew ? (obj.newDefinition ?? obj.definition) : obj.definition
            let (mode, nodeset) = try NUMATune.parameters(params, domain: .test)
            var n = def.numatune ?? NUMATune()
            if live && mode != -1 && n.memorySpecified && n.modeValue != mode {
                throw VirtError.operationInvalid("can't change numatune mode for running domain", domain: .test)
            }
            try n.set(mode: mode, nodeset: nodeset, placementStatic: def.vcpuPlacement == .static)
            def.numatune = n
            c.store(obj, def, persistent: useNew)
        }
    }

    /// Every perf event of the addressed definition, enabled or not.
    public func perfEvents(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2 | 4, "testDomainGetPerfEvents")
            let events = try c.def(try c.table.object(domain), flags & 3).0.perfEvents
            return DomainDefinition.perfEventNames.map { TypedParam($0, .boolean(events[$0] == true)) }
        }
    }

    /// Turns perf events on or off in the addressed definition.
    public func setPerfEvents(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2, "testDomainSetPerfEvents")
            try TypedParam.validate(params, Dictionary(uniqueKeysWithValues: DomainDefinition.perfEventNames.map { ($0, 6) }))
            var seen = Set<String>()
            for p in params where !seen.insert(p.field).inserted {
                throw VirtError.invalidArg("parameter '\(p.field)' occurs multiple times", domain: .none)
            }
            let obj = try c.table.object(domain)
            var (def, useNew) = try c.def(obj, flags)
            var events = def.perfEvents
            for p in params {
                if case .boolean(let on) = p.value { events[p.field] = on }
            }
            def.perfEvents = events
            c.store(obj, def, persistent: useNew)
        }
    }

    public func blkioParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2 | 4, "testDomainGetBlkioParameters")
            if nparams == 0 { return ([], 6) }
            let (def, _) = try c.def(try c.table.object(domain), flags & 3)
            let bt = def.blkiotune ?? BlkioTune()
            let all = [TypedParam("weight", .uint(bt.weight ?? 0))]
                + BlkioTune.deviceFields.map { TypedParam($0, .string(bt.devicesString($0))) }
            let sent = Array(all.prefix(Int(max(nparams, 0))))
            return (sent, Int32(sent.count))
        }
    }

    public func setBlkioParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2, "testDomainSetBlkioParameters")
            var types: [String: Int32] = ["weight": 2]
            for f in BlkioTune.deviceFields { types[f] = 7 }
            try TypedParam.validate(params, types)
            let obj = try c.table.object(domain)
            var (def, useNew) = try c.def(obj, flags)
            var bt = def.blkiotune ?? BlkioTune()
            for p in params {
                switch p.value {
                case .uint(let w): bt.weight = w
                case .string(let s): bt.merge(p.field, try BlkioTune.parseDevices(p.field, s))
                default: break
                }
            }
            def.blkiotune = bt
            c.store(obj, def, persistent: useNew)
        }
    }

    /// libvirt's testDomainGetInterfaceParameters: the seven bandwidth values of the interface (the count
    /// before the domain is even looked up).
    public func interfaceParameters(_ domain: DomainRef, device: String, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2 | 4, "testDomainGetInterfaceParameters")
            if nparams == 0 { return ([], 7) }
            let (def, _) = try c.def(try c.table.object(domain), flags & 3)
            let i = try def.interfaceIndex(device)
            let all = (def.devices.interfaces[i].bandwidth ?? NetBandwidth()).parameters
            let sent = Array(all.prefix(Int(max(nparams, 0))))
            return (sent, Int32(sent.count))
        }
    }

    /// libvirt's testDomainSetInterfaceParameters: the bandwidth of the one definition the flags name, merged
    /// direction by direction (nothing to apply in a mock).
    public func setInterfaceParameters(_ domain: DomainRef, device: String, params: [TypedParam], flags: UInt32)
        async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2, "testDomainSetInterfaceParameters")
            try TypedParam.validate(params, Dictionary(uniqueKeysWithValues: NetBandwidth.parameterNames.map { ($0, 2) }))
            let obj = try c.table.object(domain)
            var (def, useNew) = try c.def(obj, flags)
            let i = try def.interfaceIndex(device)
            def.devices.interfaces[i].bandwidth = (def.devices.interfaces[i].bandwidth ?? NetBandwidth()).merging(params)
            c.store(obj, def, persistent: useNew)
        }
    }
}
