import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Read-outs and settings of a QEMU domain as libvirt 9.0's QEMU driver gives them: the guest's host name
/// (agent), the control channel's state (jobs and the monitor), disk I/O errors (query-block), CPU statistics
/// (the cgroup's cpuacct), lifecycle actions (live through `set-action`), NUMA memory placement (the cpuset
/// cgroup's `mems`) and perf events (perf_event_open on QEMU's process).
extension QEMUDomainObject {
    // MARK: Host name

    /// libvirt's qemuAgentGetHostname: the agent's `guest-get-host-name`.
    func agentHostname() async throws(VirtError) -> String {
        guard isActive else { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
        let agent = try requireAgent()
        let r = try await agent.execute("guest-get-host-name", arguments: nil, timeout: agentTimeout)
        guard let name = r["host-name"]?.stringValue else {
            throw VirtError.internalError("'host-name' missing in guest-get-host-name reply", domain: .qemu)
        }
        return name
    }

    /// The NICs of a running domain on virtual networks (for the lease source of the host name).
    func networkInterfaces() throws(VirtError) -> [(network: String, mac: String)] {
        guard isActive else { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
        return (liveDefinition ?? definition).devices.interfaces.compactMap { n in
            guard n.type == .network, let net = n.network else { return nil }
            return (net, n.mac.description)
        }
    }

    // MARK: Control state

    /// libvirt's qemuDomainGetControlInfo: an error once the monitor is gone; during an asynchronous job, "job"
    /// since it began; during a synchronous job, "occupied" since the monitor was entered (the oldest command
    /// still waiting for QEMU), or an internal error when the job is not in the monitor; else ok.
    func controlInfo() async throws(VirtError) -> DomainControlInfo {
        guard isActive else { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
        guard let mon = monitor, !mon.isClosed else {
            return DomainControlInfo(state: 3, details: 1)
        }
        func ms(since t: ContinuousClock.Instant) -> UInt64 {
            let d = ContinuousClock.now - t
            return UInt64(max(d.components.seconds, 0)) * 1000 + UInt64(max(d.components.attoseconds, 0) / 1_000_000_000_000_000)
        }
        if jobs.async != .none, let started = jobs.asyncStarted {
            return DomainControlInfo(state: 1, stateTime: ms(since: started))
        }
        if jobs.active != .none {
            if let since = mon.busySince { return DomainControlInfo(state: 2, stateTime: ms(since: since)) }
            return DomainControlInfo(state: 3, details: 2)
        }
        return DomainControlInfo(state: 0)
    }

    // MARK: Disk errors

    /// The query-block entry of `disk`: libvirt finds a -blockdev disk by its QOM name (`/machine/peripheral/ALIAS/
    /// virtio-backend` for virtio disks, the alias for the others), a -drive one by its drive name.
    static func blockEntry(for disk: Disk, in table: JSONValue) -> JSONValue? {
        guard let alias = disk.info.alias else { return nil }
        for e in table.arrayValue ?? [] {
            let qdev = e["qdev"]?.stringValue ?? ""
            if qdev == alias || qdev == "/machine/peripheral/\(alias)/virtio-backend"
                || qdev == "/machine/peripheral/\(alias)" || e["device"]?.stringValue == "drive-\(alias)" {
                return e
            }
        }
        return nil
    }

    /// `io-status` as `virDomainDiskErrorCode`: ok 0, failed 1 (unspecified), nospace 2.
    static func diskErrorCode(_ status: String?) -> Int32 {
        switch status {
        case "failed": 1
        case "nospace": 2
        default: 0
        }
    }

    /// libvirt's qemuDomainGetDiskErrors (a query job): with `maxErrors` 0 the number of disks; else the disks
    /// whose `io-status` is not ok, in the definition's order, at most `maxErrors`.
    func diskErrors(maxErrors: UInt32) async throws(VirtError) -> (errors: [DomainDiskError], count: Int32) {
        try await beginJob(.query, owner: "getDiskErrors")
        defer { endJob() }
        guard isActive else { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
        let def = liveDefinition ?? definition
        if maxErrors == 0 { return ([], Int32(def.devices.disks.count)) }
        let table = try await requireMonitor().execute("query-block")
        var out: [DomainDiskError] = []
        for disk in def.devices.disks {
            guard let e = Self.blockEntry(for: disk, in: table) else { continue }
            let code = Self.diskErrorCode(e["io-status"]?.stringValue)
            if code == 0 { continue }
            if out.count == Int(maxErrors) { break }
            out.append(DomainDiskError(disk: disk.target.dev, error: code))
        }
        return (out, Int32(out.count))
    }

    // MARK: CPU statistics

    /// The host's CPU count as libvirt's virHostCPUGetCount reads it (the highest present CPU plus one).
    static func hostCPUCount() -> Int32 {
        let text = LinuxSys.readFile("/sys/devices/system/cpu/present") ?? "0"
        let set = (try? CPUSet(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines))) ?? CPUSet([0])
        return Int32((set.cpus.last ?? 0) + 1)
    }

    /// libvirt's qemuDomainGetCPUStats: totals from the cgroup's cpuacct (cpu, user and system time), or per host
    /// CPU (cpu_time, and vcpu_time from the vCPU sub-groups) from `cpuacct.usage_percpu`, which only a v1
    /// cpuacct hierarchy has (libvirt's cgroup v2 backend refuses it).
    func cpuStats(nparams: UInt32, startCPU: Int32, ncpus: UInt32) throws(VirtError) -> (params: [TypedParam], count: Int32) {
        guard isActive else { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
        guard let g = cgroup, g.has(.cpuacct) else {
            throw VirtError.operationInvalid("cgroup CPUACCT controller is not mounted", domain: .qemu)
        }
        if startCPU == -1 {
            if nparams == 0 { return ([], 3) }
            guard let t = g.cpuTimes() else {
                throw VirtError.operationFailed("unable to get cpu account", domain: .cgroup)
            }
            let all = [TypedParam("cpu_time", .ullong(t.total)), TypedParam("user_time", .ullong(t.user)),
                       TypedParam("system_time", .ullong(t.system))]
            let sent = Array(all.prefix(Int(nparams)))
            return (sent, Int32(sent.count))
        }
        // The vCPU threads are known (libvirt's qemuDomainHasVcpuPids), so vcpu_time is there too.
        if nparams == 0 && ncpus != 0 { return ([], 2) }
        let total = Self.hostCPUCount()
        if ncpus == 0 { return ([], total) }
        if startCPU >= total {
            throw VirtError.invalidArg("start_cpu \(startCPU) larger than maximum of \(total - 1)", domain: .cgroup)
        }
        let usage = try g.percpuUsage(nil)
        let def = liveDefinition ?? definition
        var vcpuSum = [UInt64](repeating: 0, count: usage.count)
        if nparams >= 2 {
            for i in def.onlineVcpuIDs {
                let per = try g.percpuUsage("vcpu\(i)")
                for (j, v) in per.enumerated() where j < vcpuSum.count { vcpuSum[j] += v }
            }
        }
        var params: [TypedParam] = []
        let end = min(Int(total), Int(startCPU) + Int(ncpus))
        for cpu in Int(startCPU)..<end {
            var row = [TypedParam("cpu_time", .ullong(cpu < usage.count ? usage[cpu] : 0)),
                       TypedParam("vcpu_time", .ullong(cpu < vcpuSum.count ? vcpuSum[cpu] : 0))]
            row = Array(row.prefix(Int(nparams)))
            params += row
        }
        return (params, Int32(min(nparams, 2)))
    }

    // MARK: Lifecycle actions

    /// libvirt's qemuDomainSetLifecycleAction (a modify job): the action in the live definition (a changed
    /// reboot action told to QEMU with `set-action`) and/or the persistent one, each checked as at define.
    func setLifecycleAction(type: UInt32, action: UInt32, flags: UInt32) async throws(VirtError) {
        let types = ["poweroff", "reboot", "crash"]
        guard Int(type) < types.count, Int(action) < CrashAction.allCases.count else {
            throw VirtError.invalidArg("invalid lifecycle type or action", domain: .domain)
        }
        let crashAction = CrashAction.allCases[Int(action)]
        let plain = LifecycleAction(rawValue: crashAction.rawValue)
        if type < 2 && plain == nil {
            throw VirtError.domainConfigUnsupported(
                "Lifecycle event '\(types[Int(type)])' doesn't support '\(crashAction.rawValue)' action")
        }
        try await beginJob(.modify, owner: "setLifecycleAction")
        defer { endJob() }
        let t = try targets(flags)
        func modify(_ d: inout DomainDefinition) {
            switch type {
            case 0: if let plain { d.onPoweroff = plain }
            case 1: if let plain { d.onReboot = plain }
            default: d.onCrash = crashAction
            }
        }
        if t.live, var live = liveDefinition {
            let oldReboot = live.onReboot
            modify(&live)
            try QEMULifecycleActions.validate(live)
            if live.onReboot != oldReboot {
                try await requireMonitor().execute(
                    "set-action", arguments: ["reboot": .string(live.onReboot == .destroy ? "shutdown" : "reset")])
            }
            liveDefinition = live
            writeStatus()
        }
        if t.config {
            var d = definition
            modify(&d)
            try QEMULifecycleActions.validate(d)
            definition = d
            try saveConfig()
        }
    }

    // MARK: NUMA parameters

    /// libvirt's qemuDomainGetNumaParameters: the memory mode and nodeset of the addressed definition.
    func numaParameters(nparams: Int32, flags: UInt32) throws(VirtError) -> (params: [TypedParam], nparams: Int32) {
        if flags & 3 == 3 {
            // virDomainObjGetOneDefState's VIR_EXCLUSIVE_FLAGS_RET: no "invalid argument" prefix.
            throw VirtError(.invalidArg, domain: .domain,
                            "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive")
        }
        let (def, _) = try oneDefinition(flags & 3)
        if nparams == 0 { return ([], 2) }
        let n = def.numatune ?? NUMATune()
        let nodeset = n.placement == "auto" ? "" : (n.nodeset?.description ?? "")
        let all = [TypedParam("numa_mode", .int(n.modeValue)), TypedParam("numa_nodeset", .string(nodeset))]
        let sent = Array(all.prefix(Int(max(nparams, 0))))
        return (sent, Int32(sent.count))
    }

    /// libvirt's qemuDomainSetNumaParameters (a modify job). Live, as libvirtd 9.0 answers on the same domain:
    /// the mode cannot change; the strict mode alone is refused; a nodeset without the mode needs the restrictive
    /// mode (or none set yet); the nodes must exist. The nodeset is written into the `cpuset.mems` of the
    /// emulator, vCPU and I/O thread groups. Then libvirt's virDomainNumatuneSet on the definitions.
    func setNumaParameters(mode: Int32, nodeset: CPUSet?, flags: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "setNumaParameters")
        defer { endJob() }
        let t = try targets(flags)
        if t.live {
            guard let g = cgroup, g.has(.cpuset) else {
                throw VirtError.operationInvalid("cgroup cpuset controller is not mounted", domain: .qemu)
            }
            var live = liveDefinition ?? definition
            var n = live.numatune ?? NUMATune()
            if mode != -1 && n.memorySpecified && n.modeValue != mode {
                throw VirtError.operationInvalid("can't change numatune mode for running domain", domain: .qemu)
            }
            if mode == 0 && nodeset == nil && n.memorySpecified {
                throw VirtError.operationInvalid("can't change nodeset for strict mode for running domain",
                                                 domain: .qemu)
            }
            if let nodeset {
                if mode == -1 && n.memorySpecified && n.modeValue != 3 {
                    throw VirtError.operationInvalid(
                        "change of nodeset for running domain requires restrictive numa mode", domain: .qemu)
                }
                for node in nodeset.cpus where access("/sys/devices/system/node/node\(node)", F_OK) != 0 {
                    throw VirtError.configUnsupported("NUMA node \(node) is unavailable", domain: .qemu)
                }
                try g.setCpusetMems(nodeset.description)
            }
            try n.set(mode: mode, nodeset: nodeset, placementStatic: live.vcpuPlacement == .static)
            live.numatune = n
            liveDefinition = live
            writeStatus()
        }
        if t.config {
            var d = definition
            var n = d.numatune ?? NUMATune()
            try n.set(mode: mode, nodeset: nodeset, placementStatic: d.vcpuPlacement == .static)
            d.numatune = n
            definition = d
            try saveConfig()
        }
    }

    // MARK: Perf events

    /// Opens the events `def`'s `<perf>` enables for QEMU `pid` (libvirt's qemuProcessEnablePerf).
    func enablePerfEvents(_ def: DomainDefinition, pid: pid_t) throws(VirtError) {
        for name in DomainDefinition.perfEventNames where def.perfEvents[name] == true {
            try perf.enable(name, pid: pid)
        }
    }

    /// libvirt's qemuDomainGetPerfEvents (a query job): every event, enabled or not: for the live definition
    /// whether its descriptor is open, for the persistent one what `<perf>` says.
    func perfEventParams(flags: UInt32) async throws(VirtError) -> [TypedParam] {
        try await beginJob(.query, owner: "getPerfEvents")
        defer { endJob() }
        let (def, live) = try oneDefinition(flags & 3)
        let events = def.perfEvents
        return DomainDefinition.perfEventNames.map { name in
            TypedParam(name, .boolean(live && flags & 2 == 0 ? perf.isEnabled(name) : events[name] == true))
        }
    }

    /// libvirt's qemuDomainSetPerfEvents (a modify job): live, each event opened or closed in the parameters'
    /// order (stopping at the first that fails, as libvirt) and recorded in the live definition; the persistent
    /// definition's `<perf>` rewritten.
    func setPerfEvents(_ params: [TypedParam], flags: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "setPerfEvents")
        defer { endJob() }
        let t = try targets(flags)
        let wanted: [(String, Bool)] = params.compactMap { p in
            if case .boolean(let on) = p.value { return (p.field, on) }
            return nil
        }
        if t.live, var live = liveDefinition, let pid = process?.pid {
            var events = live.perfEvents
            var failure: VirtError?
            for (name, on) in wanted {
                if on {
                    do { try perf.enable(name, pid: pid) } catch { failure = error; break }
                } else {
                    perf.disable(name)
                }
                events[name] = on
            }
            live.perfEvents = events
            liveDefinition = live
            writeStatus()
            if let failure { throw failure }
        }
        if t.config {
            var d = definition
            var events = d.perfEvents
            for (name, on) in wanted { events[name] = on }
            d.perfEvents = events
            definition = d
            try saveConfig()
        }
    }
}

extension QEMUCgroup {
    /// `cpuacct.usage_percpu` of the group (or its sub-group `sub`): nanoseconds per host CPU. Only cgroup v1
    /// has it; libvirt's v2 backend refuses the call in these words.
    func percpuUsage(_ sub: String?) throws(VirtError) -> [UInt64] {
        for b in backends {
            guard let d = b.directory(rel, for: .cpuacct) else { continue }
            if b is CgroupV2Backend {
                throw VirtError.operationUnsupported(
                    "operation 'getCpuacctPercpuUsage' not supported for backend 'cgroup V2'", domain: .cgroup)
            }
            let path = d + (sub.map { "/" + $0 } ?? "") + "/cpuacct.usage_percpu"
            let text = try CgroupV1Backend.read(path)
            return text.split(separator: " ").compactMap { UInt64($0) }
        }
        throw VirtError.operationInvalid("cgroup CPUACCT controller is not mounted", domain: .qemu)
    }

    /// Writes `mems` into `cpuset.mems` of the emulator, vCPU and I/O thread sub-groups (libvirt's
    /// qemuDomainSetNumaParamsLive).
    func setCpusetMems(_ mems: String) throws(VirtError) {
        for b in backends {
            guard let d = b.directory(rel, for: .cpuset) else { continue }
            let subs = ((try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []).filter {
                $0 == "emulator" || $0.hasPrefix("vcpu") || $0.hasPrefix("iothread")
            }.sorted()
            for s in subs { try CgroupV1Backend.write(d + "/" + s + "/cpuset.mems", mems) }
        }
    }
}

extension QEMUDomainObject {
    // MARK: Rename

    /// How many snapshots the domain has (metadata read from disk on first use).
    func snapshotCount() -> Int {
        loadSnapshotsIfNeeded()
        return snapshots.isEmpty ? 0 : 1
    }

    /// libvirt's qemuDomainRenameCallback: the autostart link made for the new name, the definition written
    /// under it (atomically), then the old file and link removed; on failure what was made goes again and the
    /// old name stays.
    func renamePersistent(to newName: String) throws(VirtError) {
        let oldName = definition.name
        let oldConfig = paths.configFile(oldName), newConfig = paths.configFile(newName)
        let oldLink = paths.autostartLink(oldName), newLink = paths.autostartLink(newName)
        var st = stat()
        let autostart = lstat(oldLink, &st) == 0
        if autostart && symlink(newConfig, newLink) != 0 {
            throw VirtError.systemError("Failed to create symlink '\(newLink)' to '\(newConfig)'", errno: errno,
                                        domain: .qemu)
        }
        var renamed = definition
        renamed.name = newName
        do {
            try LinuxSys.writeFileAtomically(newConfig, renamed.formatXML())
        } catch {
            if autostart { unlink(newLink) }
            throw error
        }
        if access(oldConfig, F_OK) == 0 && unlink(oldConfig) != 0 {
            let e = VirtError.systemError("cannot remove old domain config file \(oldConfig)", errno: errno,
                                          domain: .qemu)
            unlink(newConfig)
            if autostart { unlink(newLink) }
            throw e
        }
        if autostart { unlink(oldLink) }
        definition = renamed
    }
}
