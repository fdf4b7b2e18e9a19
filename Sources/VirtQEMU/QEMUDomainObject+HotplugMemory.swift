import VirtCore

/// Hot-plug of DIMMs, as libvirt 9.0's qemuDomainAttachMemory: the size aligned, the hotplug checks, a slot and
/// the alias `dimmN`, the backend object then `pc-dimm`; the live definition's total memory grows, the balloon's
/// figure is read again and QEMU's slot and base address land in the live XML. libvirt names the backend
/// object (`memdimmN`) in its DEVICE_ADDED. The removal completes in `removeLive` (memoryRemoved).
extension QEMUDomainObject {
    func attachMemory(_ m: MemoryDevice, live: DomainDefinition, mon: QMPMonitor) async throws(VirtError) {
        var added = m
        added.sizeKiB = QEMUMemoryDevices.aligned(m.sizeKiB)
        added.info.alias = nil
        try QEMUMemoryDevices.validateHotplug(added, into: live)
        try QEMUMemoryDevices.checkSupported(added)
        var next = live
        next.devices.memories.append(added)
        try QEMUMemoryDevices.assignSlots(&next)
        guard let slotted = next.devices.memories.last, let slot = QEMUMemoryDevices.slot(of: slotted) else { return }
        added = slotted
        let alias = "dimm\(slot)"
        added.info.alias = alias
        try await mon.execute("object-add", arguments: try Self.json(QEMUMemoryDevices.backendProps(added, alias: alias)))
        do {
            try await mon.execute("device_add", arguments: try Self.json(QEMUMemoryDevices.deviceProps(added, alias: alias)))
        } catch {
            _ = try? await mon.execute("object-del", arguments: ["id": .string("mem" + alias)])
            throw error
        }
        let size = added.sizeKiB
        if var cur = liveDefinition {
            cur.devices.memories.append(added)
            cur.memory &+= size
            liveDefinition = cur
            if var run = runDefinition {
                run.devices.memories.append(added)
                run.memory &+= size
                runDefinition = run
            }
        }
        writeStatus()
        emit(DomainEventRecord(domain: ref, kind: .deviceAdded(alias: "mem" + alias)))
        await refreshBalloon(mon)
        await refreshMemoryDeviceInfo(mon)
    }

    /// A DIMM QEMU let go of: its backend object goes, the totals shrink.
    func memoryRemoved(alias: String, size: UInt64) async {
        if let mon = monitor { _ = try? await mon.execute("object-del", arguments: ["id": .string("mem" + alias)]) }
        if var run = runDefinition {
            run.devices.memories.removeAll { $0.info.alias == alias }
            run.memory = run.memory > size ? run.memory - size : run.memory
            runDefinition = run
        }
        if var live = liveDefinition {
            live.memory = live.memory > size ? live.memory - size : live.memory
            liveDefinition = live
        }
    }

    /// libvirt's qemuProcessRefreshBalloonState: the live current memory from `query-balloon`.
    func refreshBalloon(_ mon: QMPMonitor) async {
        guard let b = try? await mon.execute("query-balloon"), let a = b["actual"]?.intValue, var live = liveDefinition
        else { return }
        live.currentMemory = UInt64(max(a, 0)) / 1024
        liveDefinition = live
        writeStatus()
    }

    /// libvirt's qemuDomainUpdateMemoryDeviceInfo: slots and base addresses from `query-memory-devices`.
    func refreshMemoryDeviceInfo(_ mon: QMPMonitor) async {
        guard var live = liveDefinition, !live.devices.memories.isEmpty,
              let reply = try? await mon.execute("query-memory-devices") else { return }
        if QEMUMemoryDevices.applyInfo(reply, to: &live) {
            liveDefinition = live
            writeStatus()
        }
    }
}
