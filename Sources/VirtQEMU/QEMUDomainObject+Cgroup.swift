import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The domain's cgroup through its life (created before QEMU executes, QEMU's threads placed once it runs,
/// removed at stop, adopted on reconnect) and libvirt's tuning calls over it: scheduler parameters
/// (`<cputune>`), memory parameters (`<memtune>`) and block I/O parameters (`<blkiotune>`).
extension QEMUDomainObject {
    /// libvirt's scheduler parameters, in its order.
    static let schedulerFields = ["cpu_shares", "vcpu_period", "vcpu_quota", "emulator_period", "emulator_quota",
                                  "global_period", "global_quota", "iothread_period", "iothread_quota"]

    // MARK: Life

    /// Part of the host phase: the group is made (libvirt's qemuInitCgroup) and the live definition names its
    /// partition, as libvirt's does.
    func prepareCgroup(_ config: QEMUCgroupConfig?, _ run: inout PreparedRun) throws(VirtError) {
        cgroup = nil
        guard let config, !config.controllers.isEmpty else { return }
        let partition = definition.resourcePartition ?? "/machine"
        guard partition.hasPrefix("/") else {
            throw VirtError.configUnsupported("Resource partition '\(partition)' must start with '/'", domain: .qemu)
        }
        let g = try QEMUCgroup.create(config, partition: partition, id: run.id, name: definition.name)
        cgroup = g
        if run.live.resourcePartition == nil { run.live.resourcePartition = partition }
        // Before QEMU executes, as libvirt: the device ACL (v1 devices only; see setDeviceACL).
        try g.setDeviceACL(Self.blockDevices(of: run.live))
    }

    /// The block devices a domain's disks use, as the device cgroup allows them.
    static func blockDevices(of def: DomainDefinition) -> [(path: String, readOnly: Bool)] {
        def.devices.disks.filter { $0.type == .block }.compactMap { d in
            d.source.path.map { (path: $0, readOnly: d.readonly) }
        }
    }

    /// Once QEMU runs (paused): its threads into `emulator` and `vcpuN`, then `<cputune>`, `<memtune>` and
    /// `<blkiotune>` written to the group (libvirt's qemuSetupCgroup and qemuProcessSetupVcpus/Emulator).
    func setupCgroupAfterLaunch() async throws(VirtError) {
        guard let g = cgroup, let m = monitor, let proc = process, let def = liveDefinition else { return }
        let vcpus = try await vcpuThreads(m)
        try g.placeThreads(pid: proc.pid, vcpus: vcpus)
        // libvirt's qemuProcessSetupIOThreads: each IOThread into `iothreadN`.
        for (id, tid) in try await iothreadThreads(m).sorted(by: { $0.key < $1.key }) {
            try g.placeIOThread(id, tid: tid)
        }
        let tune = def.cputune
        if g.has(.cpu) {
            if let s = tune?.shares { try g.setCPUShares(s) }
            func bw(_ sub: String?, _ period: Int64?, _ quota: Int64?) throws(VirtError) {
                if let p = period, p > 0 { try g.setPeriod(sub, UInt64(p)) }
                if let q = quota, q != 0 { try g.setQuota(sub, q) }
            }
            for sub in g.vcpuGroups() { try bw(sub, tune?.period.map { Int64($0) }, tune?.quota) }
            try bw("emulator", tune?.value("emulator_period"), tune?.value("emulator_quota"))
            for sub in g.iothreadGroups() { try bw(sub, tune?.value("iothread_period"), tune?.value("iothread_quota")) }
            try bw(nil, tune?.value("global_period"), tune?.value("global_quota"))
        }
        if let mt = def.memtune, g.has(.memory) {
            if let v = mt.hardLimit { try g.setMemoryLimit(.hard, kib: v) }
            if let v = mt.softLimit { try g.setMemoryLimit(.soft, kib: v) }
            if let v = mt.swapHardLimit { try g.setMemoryLimit(.swap, kib: v) }
        }
        if let bt = def.blkiotune, g.has(.blkio) {
            if let w = bt.weight { try g.setBlkioWeight(w) }
            for d in bt.devices { try Self.applyDevice(g, d) }
        }
    }

    private static func applyDevice(_ g: QEMUCgroup, _ d: BlkioTune.Device) throws(VirtError) {
        let values: [(QEMUCgroup.DeviceLimit, UInt64)] = [(.weight, d.weight), (.readIops, d.readIops),
            (.writeIops, d.writeIops), (.readBytes, d.readBytes), (.writeBytes, d.writeBytes)]
        for (k, v) in values where v != 0 { try g.setDevice(k, path: d.path, value: v) }
    }

    /// Part of the teardown: the group and its sub-groups removed.
    func removeCgroup() {
        cgroup?.remove()
        cgroup = nil
    }

    /// The definitions a tuning call changed, kept once every write to the group succeeded: the live one into
    /// the status file, the persistent one saved.
    private func commit(_ t: (live: Bool, config: Bool), live: DomainDefinition?, persistent: DomainDefinition)
        throws(VirtError) {
        if t.live {
            liveDefinition = live
            writeStatus()
        }
        if t.config {
            definition = persistent
            try saveConfig()
        }
    }

    // MARK: Scheduler

    private func requireCgroup(_ c: CgroupController) throws(VirtError) -> QEMUCgroup {
        guard let g = cgroup, g.has(c) else {
            throw VirtError.operationInvalid("cgroup \(c == .cpu ? "CPU" : c.rawValue) controller is not mounted",
                                             domain: .qemu)
        }
        return g
    }

    /// libvirt's qemuDomainGetSchedulerParametersFlags: the live values from the cgroup files, the persistent
    /// ones from `<cputune>` (0 where unset).
    func schedulerParameters(flags: UInt32) throws(VirtError) -> [TypedParam] {
        let (def, live) = try oneDefinition(flags)
        var values: [TypedParam.Value]
        if live {
            let g = try requireCgroup(.cpu)
            let vcpu = try g.bandwidth(g.vcpuGroups().first)
            let emu = try g.bandwidth(g.hasSubgroup("emulator") ? "emulator" : nil)
            let global = try g.bandwidth(nil)
            // The first IOThread's group; the whole group's without IOThreads (libvirt's qemuGetIOThreadsBWLive).
            let firstIOThread = def.allIOThreadIDs.first.map { "iothread\($0.id)" }
            let io = try firstIOThread.map { sub throws(VirtError) in
                g.hasSubgroup(sub) ? try g.bandwidth(sub) : global
            } ?? global
            values = [.ullong(try g.cpuShares()), .ullong(vcpu.period), .llong(vcpu.quota), .ullong(emu.period),
                      .llong(emu.quota), .ullong(global.period), .llong(global.quota), .ullong(io.period),
                      .llong(io.quota)]
        } else {
            let t = def.cputune
            func u(_ n: String) -> TypedParam.Value { .ullong(UInt64(max(t?.value(n) ?? 0, 0))) }
            func l(_ n: String) -> TypedParam.Value { .llong(t?.value(n) ?? 0) }
            values = [.ullong(t?.shares ?? 0), .ullong(t?.period ?? 0), .llong(t?.quota ?? 0), u("emulator_period"),
                      l("emulator_quota"), u("global_period"), l("global_quota"), u("iothread_period"),
                      l("iothread_quota")]
        }
        return zip(Self.schedulerFields, values).map { TypedParam($0, $1) }
    }

    /// libvirt's qemuDomainSetSchedulerParametersFlags (a modify job): every value checked first, then the
    /// cgroup files and `<cputune>` of the live and/or persistent definition; TUNABLE with the live changes.
    func setSchedulerParameters(_ params: [TypedParam], flags: UInt32) async throws(VirtError) {
        var types: [String: Int32] = [:]
        for f in Self.schedulerFields { types[f] = f.hasSuffix("_quota") ? 3 : 4 }
        try TypedParam.validate(params, types)
        try await beginJob(.modify, owner: "setSchedulerParameters")
        defer { endJob() }
        let t = try targets(flags)
        for p in params {
            switch p.value {
            case .ullong(let v) where p.field.hasSuffix("_period"):
                if (v > 0 && v < 1000) || v > 1_000_000 {
                    throw VirtError.invalidArg("value of '\(p.field)' is out of range [1000, 1000000]", domain: .qemu)
                }
            case .llong(let v):
                if (v > 0 && v < 1000) || v > 17_592_186_044_415 {
                    throw VirtError.invalidArg("value of '\(p.field)' is out of range [1000, 17592186044415]", domain: .qemu)
                }
            default: break
            }
        }
        var live = liveDefinition
        var persistent = definition
        var events: [TypedParam] = []
        let g: QEMUCgroup? = t.live ? try requireCgroup(.cpu) : nil
        if let g, let s = params.first(where: { $0.field == "cpu_shares" }), case .ullong(let v) = s.value {
            let r = try g.sharesRange()
            if !r.contains(v) {
                throw VirtError.invalidArg("shares '\(v)' must be in range [\(r.lowerBound), \(r.upperBound)]", domain: .cgroup)
            }
        }
        for p in params {
            let field = p.field
            let xmlName: String
            switch field {
            case "vcpu_period": xmlName = "period"
            case "vcpu_quota": xmlName = "quota"
            default: xmlName = field
            }
            var number: Int64 = 0
            switch p.value {
            case .ullong(let v): number = Int64(clamping: v)
            case .llong(let v): number = v
            default: break
            }
            if let g, var l = live {
                var tune = l.cputune ?? CPUTune()
                if field == "cpu_shares" {
                    try g.setCPUShares(UInt64(number))
                    let back = try g.cpuShares()
                    tune.shares = back
                    events.append(TypedParam("cputune.cpu_shares", .ullong(back)))
                } else if number != 0 {
                    let subs: [String?]
                    switch field {
                    case "vcpu_period", "vcpu_quota":
                        let v = g.vcpuGroups()
                        subs = v.isEmpty ? [nil] : v
                    case "emulator_period", "emulator_quota": subs = [g.hasSubgroup("emulator") ? "emulator" : nil]
                    case "global_period", "global_quota": subs = [nil]
                    case "iothread_period", "iothread_quota": subs = g.iothreadGroups()
                    default: subs = []
                    }
                    for s in subs {
                        if field.hasSuffix("_period") { try g.setPeriod(s, UInt64(number)) } else { try g.setQuota(s, number) }
                    }
                    Self.setTune(&tune, xmlName, number)
                    events.append(TypedParam("cputune." + field, p.value))
                }
                l.cputune = tune
                live = l
            }
            if t.config {
                var tune = persistent.cputune ?? CPUTune()
                if field == "cpu_shares" {
                    tune.shares = UInt64(number)
                } else {
                    Self.setTune(&tune, xmlName, number == 0 ? nil : number)
                }
                persistent.cputune = tune
            }
        }
        try commit(t, live: live, persistent: persistent)
        if !events.isEmpty { emit(DomainEventRecord(domain: ref, kind: .tunable(params: events))) }
    }

    private static func setTune(_ tune: inout CPUTune, _ name: String, _ v: Int64?) {
        switch name {
        case "period": tune.period = v.map { UInt64(max($0, 0)) }
        case "quota": tune.quota = v
        default: tune.setValue(name, v)
        }
    }

    // MARK: Memory

    /// libvirt's qemuDomainGetMemoryParameters: hard_limit, soft_limit, swap_hard_limit in KiB (the live ones
    /// from the cgroup files), unlimited where unset.
    func memoryParameters(flags: UInt32) throws(VirtError) -> [TypedParam] {
        let (def, live) = try oneDefinition(flags)
        let un = QEMUCgroup.unlimitedKiB
        if live {
            let g = try requireCgroup(.memory)
            return [TypedParam("hard_limit", .ullong(try g.memoryLimit(.hard))),
                    TypedParam("soft_limit", .ullong(try g.memoryLimit(.soft))),
                    TypedParam("swap_hard_limit", .ullong(try g.memoryLimit(.swap)))]
        }
        let m = def.memtune
        return [TypedParam("hard_limit", .ullong(m?.hardLimit ?? un)), TypedParam("soft_limit", .ullong(m?.softLimit ?? un)),
                TypedParam("swap_hard_limit", .ullong(m?.swapHardLimit ?? un))]
    }

    /// libvirt's qemuDomainSetMemoryParameters (a modify job): hard_limit must not exceed swap_hard_limit;
    /// live, the soft limit first, the hard limit before the swap limit when it decreases, after it otherwise.
    func setMemoryParameters(_ params: [TypedParam], flags: UInt32) async throws(VirtError) {
        try TypedParam.validate(params, ["hard_limit": 4, "soft_limit": 4, "min_guarantee": 4, "swap_hard_limit": 4])
        try await beginJob(.modify, owner: "setMemoryParameters")
        defer { endJob() }
        let t = try targets(flags)
        let g: QEMUCgroup? = t.live ? try requireCgroup(.memory) : nil
        func get(_ n: String) -> UInt64? {
            for p in params where p.field == n { if case .ullong(let v) = p.value { return min(v, QEMUCgroup.unlimitedKiB) } }
            return nil
        }
        if get("min_guarantee") != nil {
            throw VirtError(.argumentUnsupported, domain: .qemu, "argument unsupported: parameter 'min_guarantee' not supported",
                            str1: "parameter 'min_guarantee' not supported")
        }
        let hard = get("hard_limit"), soft = get("soft_limit"), swap = get("swap_hard_limit")
        // 0 or unset means no limit when the two are compared.
        func limit(_ v: UInt64?) -> UInt64 { (v ?? 0) == 0 ? UInt64.max : (v ?? 0) }
        var live = liveDefinition
        var persistent = definition
        for check in [t.live ? live : nil, t.config ? persistent : nil].compactMap({ $0 }) where hard != nil || swap != nil {
            let h = hard ?? check.memtune?.hardLimit
            let s = swap ?? check.memtune?.swapHardLimit
            if limit(h) > limit(s) {
                throw VirtError.invalidArg("memory hard_limit tunable value must be lower than or equal to swap_hard_limit",
                                           domain: .qemu)
            }
        }
        if let g, var l = live {
            var mt = l.memtune ?? MemTune()
            if let soft {
                try g.setMemoryLimit(.soft, kib: soft)
                mt.softLimit = soft
            }
            var hardDone = false
            if let hard, (mt.hardLimit ?? 0) > hard {
                try g.setMemoryLimit(.hard, kib: hard)
                mt.hardLimit = hard
                hardDone = true
            }
            if let swap {
                try g.setMemoryLimit(.swap, kib: swap)
                mt.swapHardLimit = swap
            }
            if let hard, !hardDone {
                try g.setMemoryLimit(.hard, kib: hard)
                mt.hardLimit = hard
            }
            l.memtune = Self.limited(mt)
            live = l
        }
        if t.config {
            var mt = persistent.memtune ?? MemTune()
            if let soft { mt.softLimit = soft }
            if let swap { mt.swapHardLimit = swap }
            if let hard { mt.hardLimit = hard }
            persistent.memtune = Self.limited(mt)
        }
        try commit(t, live: live, persistent: persistent)
    }

    /// Unlimited values are not written in `<memtune>`.
    private static func limited(_ m: MemTune) -> MemTune? {
        func f(_ v: UInt64?) -> UInt64? { v.flatMap { $0 >= QEMUCgroup.unlimitedKiB ? nil : $0 } }
        let out = MemTune(hardLimit: f(m.hardLimit), softLimit: f(m.softLimit), minGuarantee: f(m.minGuarantee),
                          swapHardLimit: f(m.swapHardLimit))
        return out == MemTune() ? nil : out
    }

    // MARK: Block I/O

    static let blkioDeviceFields = BlkioTune.deviceFields

    /// libvirt's qemuDomainGetBlkioParameters: the weight (live: the cgroup's) and, per kind, the devices as
    /// `path,value,…`.
    func blkioParameters(flags: UInt32, countOnly: Bool = false) throws(VirtError) -> [TypedParam] {
        let (def, live) = try oneDefinition(flags & 3)
        let bt = def.blkiotune
        let g: QEMUCgroup? = live ? try requireCgroup(.blkio) : nil
        let weight: UInt32 = if let g, !countOnly { try g.blkioWeight() } else { bt?.weight ?? 0 }
        return [TypedParam("weight", .uint(weight))]
            + Self.blkioDeviceFields.map { TypedParam($0, .string((bt ?? BlkioTune()).devicesString($0))) }
    }

    /// libvirt's qemuDomainSetBlkioParameters (a modify job): the weight and device values into the cgroup
    /// (live) and `<blkiotune>`.
    func setBlkioParameters(_ params: [TypedParam], flags: UInt32) async throws(VirtError) {
        var types: [String: Int32] = ["weight": 2]
        for f in Self.blkioDeviceFields { types[f] = 7 }
        try TypedParam.validate(params, types)
        try await beginJob(.modify, owner: "setBlkioParameters")
        defer { endJob() }
        let t = try targets(flags)
        let g: QEMUCgroup? = t.live ? try requireCgroup(.blkio) : nil
        var live = liveDefinition
        var persistent = definition
        for p in params {
            switch p.value {
            case .uint(let w):
                if let g, var l = live {
                    try g.setBlkioWeight(w)
                    var bt = l.blkiotune ?? BlkioTune()
                    bt.weight = w
                    l.blkiotune = bt
                    live = l
                }
                if t.config {
                    var bt = persistent.blkiotune ?? BlkioTune()
                    bt.weight = w
                    persistent.blkiotune = bt
                }
            case .string(let s):
                let devices = try BlkioTune.parseDevices(p.field, s)
                if let g, var l = live {
                    let kind: QEMUCgroup.DeviceLimit = switch p.field {
                    case "device_weight": .weight
                    case "device_read_iops_sec": .readIops
                    case "device_write_iops_sec": .writeIops
                    case "device_read_bytes_sec": .readBytes
                    default: .writeBytes
                    }
                    for (path, v) in devices { try g.setDevice(kind, path: path, value: v) }
                    var bt = l.blkiotune ?? BlkioTune()
                    bt.merge(p.field, devices)
                    l.blkiotune = bt
                    live = l
                }
                if t.config {
                    var bt = persistent.blkiotune ?? BlkioTune()
                    bt.merge(p.field, devices)
                    persistent.blkiotune = bt
                }
            default: break
            }
        }
        try commit(t, live: live, persistent: persistent)
    }
}

extension QEMUDomainObject {
    /// An IOThread added while QEMU runs (libvirt's qemuProcessSetupIOThread): its thread into `iothreadN`, with
    /// the live `<cputune>`'s IOThread bandwidth.
    func placeAddedIOThread(_ id: UInt32, tid: pid_t, tune: CPUTune?) throws(VirtError) {
        guard let g = cgroup else { return }
        try g.placeIOThread(id, tid: tid)
        guard g.has(.cpu) else { return }
        if let p = tune?.value("iothread_period"), p > 0 { try g.setPeriod("iothread\(id)", UInt64(p)) }
        if let q = tune?.value("iothread_quota"), q != 0 { try g.setQuota("iothread\(id)", q) }
    }
}
