import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// One hotpluggable entity QEMU reports (`query-hotpluggable-cpus`), placed in libvirt's vCPU numbering: the
/// entries sorted by socket, die, core and thread, each covering `count` vCPU ids from `firstID`.
struct QEMUVcpuSlot: Sendable {
    var type: String
    var props: [String: JSONValue]
    var count: Int
    var firstID: Int
    /// `vcpuN` when the entity was added with device_add (its QOM path is /machine/peripheral/vcpuN).
    var alias: String?

    static let idKeys = ["socket-id", "die-id", "core-id", "thread-id"]

    static func key(_ props: [String: JSONValue]) -> [Int64] { idKeys.map { props[$0]?.intValue ?? 0 } }
}

/// vCPU counts and per-vCPU states (libvirt's qemuDomainSetVcpusFlags, qemuDomainSetVcpu and the start-up
/// hotplug of qemuProcessSetupHotpluggableVcpus).
extension QEMUDomainObject {
    /// The hotpluggable entities in vCPU id order.
    func vcpuSlots(_ m: QMPMonitor, reply: Result<JSONValue, VirtError>? = nil) async throws(VirtError) -> [QEMUVcpuSlot] {
        let list: JSONValue
        if let reply { list = try reply.get() } else { list = try await m.execute("query-hotpluggable-cpus") }
        let entries = (list.arrayValue ?? []).compactMap { e -> QEMUVcpuSlot? in
            guard let type = e["type"]?.stringValue, let props = e["props"]?.objectValue else { return nil }
            let path = e["qom-path"]?.stringValue
            let alias = path.flatMap { p -> String? in
                p.hasPrefix("/machine/peripheral/") ? String(p.dropFirst("/machine/peripheral/".count)) : nil
            }
            return QEMUVcpuSlot(type: type, props: props, count: Int(e["vcpus-count"]?.intValue ?? 1), firstID: 0,
                                alias: alias)
        }.sorted { QEMUVcpuSlot.key($0.props).lexicographicallyPrecedes(QEMUVcpuSlot.key($1.props)) }
        var out: [QEMUVcpuSlot] = []
        var next = 0
        for var s in entries {
            s.firstID = next
            next += max(s.count, 1)
            out.append(s)
        }
        return out
    }

    /// libvirt's qemuDomainVcpuPersistOrder after refreshing the vCPU information: each online vCPU's order is
    /// its entity's place in QEMU's CPU list (`query-cpus-fast`, 1-based); offline vCPUs have none.
    func persistVcpuOrder(_ m: QMPMonitor, _ slots: [QEMUVcpuSlot], into live: inout DomainDefinition,
                          reply replyIn: Result<JSONValue, VirtError>? = nil) async throws(VirtError) {
        let reply: JSONValue
        if let prefetched = replyIn { reply = try prefetched.get() } else { reply = try await m.execute("query-cpus-fast") }
        let cpus = reply.arrayValue ?? []
        var enableID: [Int: UInt32] = [:]
        for (pos, c) in cpus.enumerated() {
            guard let props = c["props"]?.objectValue else { continue }
            let key = QEMUVcpuSlot.key(props)
            if let slot = slots.first(where: { QEMUVcpuSlot.key($0.props) == key }) {
                enableID[slot.firstID] = UInt32(pos + 1)
            }
        }
        var list = live.vcpuStates
        var previous: UInt32 = 0
        for i in list.indices {
            if !list[i].enabled {
                list[i].order = 0
            } else {
                if let e = enableID[i] { previous = e }
                list[i].order = previous
            }
        }
        live.vcpuStates = list
    }

    /// libvirt's qemuProcessValidateHotpluggableVcpus and qemuProcessSetupHotpluggableVcpus: at start, while
    /// QEMU's CPUs are stopped, the enabled hotpluggable vCPUs are added with device_add in their `order`
    /// (`-smp` has only the others); then the orders QEMU shows are kept in the live definition.
    /// `prefetched`: the replies to `query-hotpluggable-cpus` and `query-cpus-fast` sent with the launch's first
    /// commands (used when there is nothing to add).
    func setUpHotpluggableVcpusAtStart(_ m: QMPMonitor,
                                       prefetched: (slots: Result<JSONValue, VirtError>, cpus: Result<JSONValue, VirtError>)? = nil)
        async throws(VirtError) {
        guard var live = liveDefinition else { return }
        let states = live.vcpuStates
        guard states.contains(where: { $0.enabled && $0.hotpluggable == true }) else {
            // Nothing to add: the orders only, where QEMU's machine reports hotpluggable CPUs at all (a machine
            // without CPU hotplug answers query-hotpluggable-cpus with an error, which must not fail the start).
            if let slots = try? await vcpuSlots(m, reply: prefetched?.slots),
               (try? await persistVcpuOrder(m, slots, into: &live, reply: prefetched?.cpus)) != nil {
                liveDefinition = live
            }
            return
        }
        var slots = try await vcpuSlots(m)
        do {
            var orders = Set<UInt32>()
            for slot in slots where slot.firstID < states.count {
                let v = states[slot.firstID]
                if v.order != 0 {
                    if orders.contains(v.order) {
                        throw VirtError.domainConfigUnsupported("duplicate vcpu order '\(v.order)'", domain: .qemu)
                    }
                    if v.order > live.vcpus {
                        throw VirtError.domainConfigUnsupported("vcpu order '\(v.order)' exceeds vcpu count",
                                                                domain: .qemu)
                    }
                    orders.insert(v.order)
                }
                for j in (slot.firstID + 1)..<min(slot.firstID + slot.count, states.count) {
                    let s = states[j]
                    if s.hotpluggable != v.hotpluggable || s.enabled != v.enabled || s.order != v.order {
                        throw VirtError.domainConfigUnsupported(
                            "vcpus '\(slot.firstID)' and '\(j)' are in the same hotplug group but differ in configuration",
                            domain: .qemu)
                    }
                }
            }
            for i in states.indices where states[i].enabled && states[i].hotpluggable == true {
                if !slots.contains(where: { $0.firstID == i }) {
                    throw VirtError.domainConfigUnsupported("vcpu '\(i)' is missing hotplug data", domain: .qemu)
                }
            }
            let boot = slots.filter { $0.firstID < states.count && states[$0.firstID].enabled
                && states[$0.firstID].hotpluggable == true }
                .sorted { (states[$0.firstID].order, $0.firstID) < (states[$1.firstID].order, $1.firstID) }
            for slot in boot {
                try await m.execute("device_add", arguments: .object(Self.vcpuDeviceArgs(slot)))
            }
            slots = try await vcpuSlots(m)
        }
        try await persistVcpuOrder(m, slots, into: &live)
        liveDefinition = live
    }

    /// libvirt's qemuBuildHotpluggableCPUProps: the entity's type and topology ids, its alias `vcpuN`.
    static func vcpuDeviceArgs(_ slot: QEMUVcpuSlot) -> [String: JSONValue] {
        var args: [String: JSONValue] = ["driver": .string(slot.type), "id": .string("vcpu\(slot.firstID)")]
        for (k, v) in slot.props where k != "node-id" { args[k] = v }
        return args
    }

    // MARK: setvcpus

    /// libvirt's qemuDomainSetVcpusFlags after the public API's checks.
    func setVcpus(_ count: UInt32, flags: ModificationImpact) async throws(VirtError) {
        try await beginJob(.modify, owner: "setVcpus")
        defer { endJob() }
        let t = try targets(flags.rawValue & 3)
        if flags.contains(.maximum) {
            // libvirt's qemuDomainSetVcpusMax.
            if t.live {
                throw VirtError.operationUnsupported("maximum vcpu count of a live domain can't be modified")
            }
            var d = definition
            if let topo = d.cpu?.topology, topo.sockets * topo.dies * topo.cores * topo.threads != count {
                throw VirtError.invalidArg("CPU topology doesn't match the desired vcpu count", domain: .qemu)
            }
            d.setMaximumVcpus(count)
            definition = d
            try saveConfig()
            return
        }
        if t.live, let live = liveDefinition, count > live.vcpus {
            throw VirtError.invalidArg(
                "requested vcpus is greater than max allowable vcpus for the live domain: \(count) > \(live.vcpus)",
                domain: .qemu)
        }
        if t.config, count > definition.vcpus {
            throw VirtError.invalidArg(
                "requested vcpus is greater than max allowable vcpus for the persistent domain: \(count) > \(definition.vcpus)",
                domain: .qemu)
        }
        if t.live { try await setVcpusLive(count) }
        if t.config {
            var d = definition
            d.setVcpuCountConfig(count, hotpluggable: flags.contains(.vcpuHotpluggable))
            definition = d
            try saveConfig()
        }
    }

    /// libvirt's qemuDomainSelectHotplugVcpuEntities and qemuDomainSetVcpusLive: to plug, the offline entities
    /// from the lowest id; to unplug, the online entities added with device_add, from the highest id.
    private func setVcpusLive(_ count: UInt32) async throws(VirtError) {
        let m = try requireRunning()
        guard let live = liveDefinition else { return }
        let states = live.vcpuStates
        var current = states.filter(\.enabled).count
        let target = Int(count)
        if target == current { return }
        let slots = try await vcpuSlots(m)
        let enable = target > current
        var chosen: [Int] = []
        let granularity = "target vm vcpu granularity does not allow the desired vcpu count"
        if enable {
            for slot in slots where current < target && slot.firstID < states.count && !states[slot.firstID].enabled {
                current += slot.count
                if current > target { throw VirtError.invalidArg(granularity, domain: .qemu) }
                chosen.append(slot.firstID)
            }
        } else {
            for slot in slots.reversed() where current > target && slot.firstID >= 1 && slot.firstID < states.count
                && states[slot.firstID].enabled && slot.alias != nil {
                current -= slot.count
                if current < target { throw VirtError.invalidArg(granularity, domain: .qemu) }
                chosen.append(slot.firstID)
            }
        }
        if current != target {
            throw VirtError.internalError(
                "failed to find appropriate hotpluggable vcpus to reach the desired target vcpu count", domain: .qemu)
        }
        for id in chosen {
            if enable {
                try await hotplugAddVcpu(id, m)
            } else {
                try await hotplugDelVcpu(id, m)
            }
        }
    }

    /// libvirt's qemuDomainHotplugAddVcpu: device_add of the entity (alias `vcpuN`), its vCPUs online, `<vcpus>`
    /// shown from then on, the orders refreshed, the status file written, the new threads set up.
    private func hotplugAddVcpu(_ id: Int, _ m: QMPMonitor) async throws(VirtError) {
        guard let slot = try await vcpuSlots(m).first(where: { $0.firstID == id }) else {
            throw VirtError.internalError("vcpu '\(id)' is missing hotplug data", domain: .qemu)
        }
        try await m.execute("device_add", arguments: .object(Self.vcpuDeviceArgs(slot)))
        guard var live = liveDefinition else { return }
        var list = live.vcpuStates
        for i in id..<min(id + slot.count, list.count) { list[i].enabled = true }
        live.vcpuStates = list
        live.individualVcpus = true
        try await persistVcpuOrder(m, try await vcpuSlots(m), into: &live)
        liveDefinition = live
        writeStatus()
        for i in id..<min(id + slot.count, list.count) { try await setUpHotpluggedVcpu(i, m) }
    }

    /// libvirt's qemuDomainHotplugDelVcpu: only an entity added with device_add can go; device_del, then the
    /// wait for DEVICE_DELETED with libvirt's timeout; its vCPUs offline and their groups removed.
    private func hotplugDelVcpu(_ id: Int, _ m: QMPMonitor) async throws(VirtError) {
        guard let slot = try await vcpuSlots(m).first(where: { $0.firstID == id }), let alias = slot.alias else {
            throw VirtError(.operationUnsupported, domain: .qemu,
                            "Operation not supported: vcpu '\(id)' can't be unplugged",
                            str1: "vcpu '\(id)' can't be unplugged")
        }
        try await m.execute("device_del", arguments: ["id": .string(alias)])
        let deleted = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            hotplug.unplugWaiters[alias] = c
            Task { [weak self] in
                try? await Task.sleep(for: Self.unplugTimeout)
                await self?.vcpuUnplugTimedOut(alias)
            }
        }
        guard deleted else {
            let detail = "vcpu unplug request timed out. Unplug result must be manually inspected in the domain"
            throw VirtError(.operationTimeout, domain: .qemu, "Timed out during operation: \(detail)", str1: detail)
        }
        await removeVcpu(id, count: slot.count)
    }

    /// libvirt's qemuDomainRemoveVcpu: the entity's vCPUs offline (order cleared), the status file written,
    /// their `vcpuN` groups removed.
    private func removeVcpu(_ id: Int, count: Int) async {
        guard var live = liveDefinition else { return }
        var list = live.vcpuStates
        for i in id..<min(id + count, list.count) {
            list[i].enabled = false
            list[i].order = 0
        }
        live.vcpuStates = list
        liveDefinition = live
        writeStatus()
        for i in id..<min(id + count, list.count) { cgroup?.removeVcpu(i) }
    }

    /// libvirt's qemuProcessSetupVcpu for a hot-plugged vCPU: its thread into a `vcpuN` group with `<cputune>`'s
    /// vCPU bandwidth, and its affinity: its `<vcpupin>`, else `<vcpu cpuset>`, else every online host CPU (a new
    /// thread would otherwise inherit the pinning of the thread that created it).
    private func setUpHotpluggedVcpu(_ id: Int, _ m: QMPMonitor) async throws(VirtError) {
        guard let def = liveDefinition, let tid = try await vcpuThreads(m)[id] else { return }
        if let g = cgroup {
            try g.placeVcpu(id, tid: tid)
            if g.has(.cpu) {
                if let p = def.cputune?.period, p > 0 { try g.setPeriod("vcpu\(id)", p) }
                if let q = def.cputune?.quota, q != 0 { try g.setQuota("vcpu\(id)", q) }
            }
        }
        let pin = def.cputune?.vcpuPins.first(where: { $0.id == UInt32(id) })?.cpuset
        try Self.setAffinity(tid, pin ?? def.vcpuCPUSet ?? Self.onlineCPUs())
    }

    /// A vCPU the guest released after the unplug call had already returned with libvirt's timeout
    /// (DEVICE_DELETED of `vcpuN` with nobody waiting): libvirt's qemuDomainRemoveVcpuAlias, no event.
    func vcpuReleasedLate(_ alias: String) async {
        guard alias.hasPrefix("vcpu"), let id = Int(alias.dropFirst(4)), let live = liveDefinition,
              id < live.vcpus, live.vcpuStates[id].enabled else { return }
        var count = 1
        if let m = monitor, let slots = try? await vcpuSlots(m), let slot = slots.first(where: { $0.firstID == id }) {
            count = slot.count
        }
        await removeVcpu(id, count: count)
    }

    private func vcpuUnplugTimedOut(_ alias: String) {
        hotplug.unplugWaiters.removeValue(forKey: alias)?.resume(returning: false)
    }

    // MARK: setvcpu

    /// libvirt's qemuDomainSetVcpu and qemuDomainSetVcpuInternal: one hotpluggable entity enabled or disabled
    /// in the live domain (device_add / device_del), any set of vCPUs in the persistent definition.
    func setVcpu(_ map: CPUSet, enable: Bool, flags: UInt32) async throws(VirtError) {
        guard let last = map.cpus.last.map(Int.init) else {
            throw VirtError.invalidArg("no vcpus selected for modification", domain: .qemu)
        }
        try await beginJob(.modify, owner: "setVcpu")
        defer { endJob() }
        let t = try targets(flags)
        if t.live, let live = liveDefinition, last >= live.vcpus {
            throw VirtError.invalidArg("vcpu \(last) is not present in live config", domain: .qemu)
        }
        if t.config, last >= definition.vcpus {
            throw VirtError.invalidArg("vcpu \(last) is not present in persistent config", domain: .qemu)
        }
        var liveEntity: Int?
        var monitorForLive: QMPMonitor?
        if t.live, let live = liveDefinition {
            let m = try requireRunning()
            monitorForLive = m
            let states = live.vcpuStates
            let ids = map.cpus.map(Int.init)
            for id in ids where states[id].enabled == enable {
                throw VirtError.invalidArg("vcpu '\(id)' is already in requested state", domain: .qemu)
            }
            let slots = try await vcpuSlots(m)
            var covered = Set<Int>(), entities: [Int] = []
            for id in ids where !covered.contains(id) {
                guard let slot = slots.first(where: { $0.firstID == id }) else {
                    throw VirtError.invalidArg(
                        "vcpu '\(id)' belongs to a larger hotpluggable entity, but siblings were not selected",
                        domain: .qemu)
                }
                let end = id + slot.count - 1
                if end > id {
                    for j in (id + 1)...end where !ids.contains(j) {
                        throw VirtError.invalidArg(
                            "vcpu '\(j)' was not selected but it belongs to hotpluggable entity '\(id)-\(end)' which was partially selected",
                            domain: .qemu)
                    }
                    covered.formUnion((id + 1)...end)
                }
                entities.append(id)
            }
            guard entities.count == 1, let only = entities.first else {
                throw VirtError.operationUnsupported("only one hotpluggable entity can be selected")
            }
            liveEntity = only
        }
        if t.config { try Self.validateVcpuConfig(definition, map) }
        if let id = liveEntity, let m = monitorForLive {
            if enable {
                try await hotplugAddVcpu(id, m)
            } else {
                try await hotplugDelVcpu(id, m)
            }
        }
        if t.config {
            // libvirt's qemuDomainSetVcpuConfig.
            var d = definition
            d.individualVcpus = true
            d.clearVcpuOrder()
            var list = d.vcpuStates
            for id in map.cpus.map(Int.init) where id < list.count {
                list[id].enabled = enable
                list[id].hotpluggable = true
            }
            d.vcpuStates = list
            definition = d
            try saveConfig()
        }
    }

    /// libvirt's qemuDomainVcpuValidateConfig: vCPU 0 stays, and the non-hotpluggable online vCPUs stay together
    /// from vCPU 0 on (none may follow a changed one).
    static func validateVcpuConfig(_ def: DomainDefinition, _ map: CPUSet) throws(VirtError) {
        let ids = Set(map.cpus.map(Int.init))
        if ids.contains(0) { throw VirtError.invalidArg("vCPU '0' can't be modified", domain: .qemu) }
        guard let first = ids.min() else { return }
        let states = def.vcpuStates
        for next in (first + 1)..<max(states.count, first + 1) where !ids.contains(next) {
            if states[next].enabled && states[next].hotpluggable == false {
                throw VirtError.invalidArg(
                    "vcpu '\(first)' can't be modified as it is followed by non-hotpluggable online vcpus",
                    domain: .qemu)
            }
        }
    }
}
