import VirtCore

/// libvirt 9.0's test driver for IOThreads: the definitions change, and the driver's statistics list
/// (`domstats --iothread`) gains an entry on every add and loses it on a delete, whatever the flags.
extension TestDriver {
    public func iothreadInfo(_ domain: DomainRef, flags: UInt32) async throws -> [IOThreadInfo] {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2, "testDomainGetIOThreadInfo")
            let (def, _) = try c.def(try c.table.object(domain), flags)
            // virDomainDriverGetIOThreadsConfig: the pin, else <vcpu cpuset>, else one CPU per vCPU.
            let all = CPUSet(0..<max(def.vcpus, 1))
            let length = CPUMap.length(cpus: Int(max(def.vcpus, 1)))
            return def.allIOThreadIDs.map { t in
                let set = def.cputune?.iothreadPins.first { $0.id == t.id }?.cpuset ?? def.vcpuCPUSet ?? all
                let needed = CPUMap.length(cpus: Int(set.cpus.last ?? 0) + 1)
                return IOThreadInfo(id: t.id, cpumap: CPUMap.bytes(set, length: max(length, needed)))
            }
        }
    }

    public func addIOThread(_ domain: DomainRef, id: UInt32, flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2, "testDomainAddIOThread")
            var obj = try c.table.object(domain)
            var (def, useNew) = try c.def(obj, flags)
            try def.addIOThread(id)
            obj.iothreadIDs.append(TestIOThreadStats(id: id))
            c.store(obj, def, persistent: useNew)
        }
    }

    public func delIOThread(_ domain: DomainRef, id: UInt32, flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2, "testDomainDelIOThread")
            var obj = try c.table.object(domain)
            var (def, useNew) = try c.def(obj, flags)
            try def.removeIOThread(id)
            obj.iothreadIDs.removeAll { $0.id == id }
            c.store(obj, def, persistent: useNew)
        }
    }

    public func pinIOThread(_ domain: DomainRef, id: UInt32, cpumap: [UInt8], flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2, "testDomainPinIOThread")
            let obj = try c.table.object(domain)
            var (def, useNew) = try c.def(obj, flags)
            guard def.allIOThreadIDs.contains(where: { $0.id == id }) else {
                throw VirtError.invalidArg("iothreadid \(id) not found", domain: .test)
            }
            let set = CPUMap.set(cpumap)
            if set.isEmpty { throw VirtError.invalidArg("Empty iothread cpumap list for pinning", domain: .test) }
            def.setIOThreadPin(id, set)
            c.store(obj, def, persistent: useNew)
        }
    }

    public func setIOThreadParams(_ domain: DomainRef, id: UInt32, params: [TypedParam], flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1, "testDomainSetIOThreadParams")
            try TypedParam.validate(params, [IOThreadParam.pollMaxNs: 4, IOThreadParam.pollGrow: 2,
                                             IOThreadParam.pollShrink: 2])
            var obj = try c.table.object(domain)
            let (def, _) = try c.def(obj, flags)
            guard def.allIOThreadIDs.contains(where: { $0.id == id }) else {
                throw VirtError.invalidArg("cannot find IOThread '\(id)' in iothreadids", domain: .test)
            }
            guard let i = obj.iothreadIDs.firstIndex(where: { $0.id == id }) else {
                // libvirt's test driver fails here without reporting an error.
                throw VirtError(.internalError, domain: .none, "An error occurred, but the cause is unknown")
            }
            for p in params {
                switch (p.field, p.value) {
                case (IOThreadParam.pollMaxNs, .ullong(let v)): obj.iothreadIDs[i].pollMaxNs = v
                case (IOThreadParam.pollGrow, .uint(let v)): obj.iothreadIDs[i].pollGrow = v
                case (IOThreadParam.pollShrink, .uint(let v)): obj.iothreadIDs[i].pollShrink = v
                default: break
                }
            }
            c.table.store(obj)
        }
    }
}
