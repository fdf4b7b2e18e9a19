import VirtCore

/// Read-outs and signals of running domains as libvirt 9.0's test driver gives them: the made-up host name,
/// the control channel (always ok), disk errors invented per disk, signals to pid 1, and no launch security.
extension TestDriver {
    /// `virDomainProcessSignal`'s last value: signals 0 to 64 exist.
    static let processSignalCount: UInt32 = 65

    private func runningObject(_ domain: DomainRef, _ c: TestDriverCore) throws(VirtError) -> TestDomainObject {
        let obj = try c.table.object(domain)
        try c.requireActive(obj)
        return obj
    }

    /// libvirt's test driver's made-up CPU accounting: a fixed total split over the node's cores.
    static let totalCPUTime: UInt64 = 48_772_617_035

    /// Fixed totals (cpu, user, system time) or per-core times (cpu time, and vCPU time 1234567890 ns less),
    /// as libvirt's test driver reports them for a running domain.
    public func cpuStats(_ domain: DomainRef, nparams: UInt32, startCPU: Int32, ncpus: UInt32, flags: UInt32)
        async throws -> (params: [TypedParam], count: Int32) {
        let cores = state.node.info.cores
        return try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 4, "testDomainGetCPUStats")
            _ = try runningObject(domain, c)
            if startCPU == -1 {
                if nparams == 0 { return ([], 3) }
                let all = [TypedParam("cpu_time", .ullong(Self.totalCPUTime)),
                           TypedParam("user_time", .ullong(5_540_000_000)),
                           TypedParam("system_time", .ullong(6_460_000_000))]
                let sent = Array(all.prefix(Int(nparams)))
                return (sent, Int32(sent.count))
            }
            let total = Int32(cores)
            if nparams == 0 && ncpus != 0 { return ([], 2) }
            if ncpus == 0 { return ([], total) }
            if startCPU >= total {
                throw VirtError.invalidArg("start_cpu \(startCPU) larger than maximum of \(total - 1)", domain: .test)
            }
            let perCPU = Self.totalCPUTime / UInt64(total)
            var params: [TypedParam] = []
            for cpu in Int64(startCPU)..<min(Int64(total), Int64(startCPU) + Int64(ncpus)) {
                let time = perCPU + UInt64(cpu)
                var row = [TypedParam("cpu_time", .ullong(time)), TypedParam("vcpu_time", .ullong(time - 1_234_567_890))]
                row = Array(row.prefix(Int(nparams)))
                params += row
            }
            return (params, Int32(min(nparams, 2)))
        }
    }

    /// The domain's name followed by "host".
    public func domainHostname(_ domain: DomainRef, flags: UInt32) async throws -> String {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 0, "testDomainGetHostname")
            return "\(try runningObject(domain, c).name)host"
        }
    }

    /// Made up from the guest clock's seconds, as libvirt's test driver does: below 10000 a job running that
    /// many milliseconds, below 30000 occupied, below 60000 an error (the reason by the seconds modulo 4),
    /// else ok.
    public func controlInfo(_ domain: DomainRef, flags: UInt32) async throws -> DomainControlInfo {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 0, "testDomainGetControlInfo")
            let s = try runningObject(domain, c).guestSeconds
            switch s {
            case 1..<10_000: return DomainControlInfo(state: 1, stateTime: UInt64(s))
            case 10_000..<30_000: return DomainControlInfo(state: 2, stateTime: UInt64(s - 10_000))
            case 30_000..<60_000:
                return DomainControlInfo(state: 3, details: UInt32(s % 4), stateTime: UInt64(s - 30_000))
            default: return DomainControlInfo(state: 0)
            }
        }
    }

    /// The guest clock, for a domain that is running (not paused).
    public func guestTime(_ domain: DomainRef, flags: UInt32) async throws -> (seconds: Int64, nseconds: UInt32) {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 0, "testDomainGetTime")
            let obj = try c.table.object(domain)
            if obj.status.state != .running {
                throw VirtError.operationInvalid("domain is not running", domain: .test)
            }
            return (obj.guestSeconds, obj.guestNanoseconds)
        }
    }

    /// Sets the guest clock of a running domain.
    public func setGuestTime(_ domain: DomainRef, seconds: Int64, nseconds: UInt32, flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1, "testDomainSetTime")
            var obj = try runningObject(domain, c)
            obj.guestSeconds = seconds
            obj.guestNanoseconds = nseconds
            c.table.store(obj)
        }
    }

    /// One error per disk, in the definition's order, alternating unspecified (1) and no space (2).
    public func diskErrors(_ domain: DomainRef, maxErrors: UInt32, flags: UInt32) async throws
        -> (errors: [DomainDiskError], count: Int32) {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 0, "testDomainGetDiskErrors")
            let disks = try runningObject(domain, c).definition.devices.disks
            if maxErrors == 0 { return ([], Int32(disks.count)) }
            let errors = disks.prefix(Int(maxErrors)).enumerated().map { i, disk in
                DomainDiskError(disk: disk.target.dev, error: Int32(i % 2 + 1))
            }
            return (errors, Int32(errors.count))
        }
    }

    /// Accepted for pid 1 of a domain, running or not; nothing happens.
    public func sendProcessSignal(_ domain: DomainRef, pid: Int64, signal: UInt32, flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 0, "testDomainSendProcessSignal")
            if pid != 1 {
                throw VirtError.invalidArg("only sending a signal to pid 1 is supported", domain: .test)
            }
            if signal >= Self.processSignalCount {
                throw VirtError.invalidArg("signum value \(signal) is out of range", domain: .test)
            }
            _ = try c.table.object(domain)
        }
    }

    /// No parameters; libvirt's test driver takes no flags here, so the client library's
    /// VIR_TYPED_PARAM_STRING_OKAY is refused.
    public func launchSecurityInfo(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        try TestDriverCore.checkFlags(flags, allowed: 0, "testDomainGetLaunchSecurityInfo")
        return []
    }
}
