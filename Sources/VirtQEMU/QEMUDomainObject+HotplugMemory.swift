import Foundation
import VirtCore

/// Hot-plug of memory devices, as libvirt 9.0's qemuDomainAttachMemory: the size aligned, the hotplug checks, a
/// slot and the alias `dimmN`/`nvdimmN` for (NV)DIMMs, a PCI address and `virtiomemN`/`virtiopmemN` for the
/// virtio models, the backend object then the device; the live definition's total memory grows, the balloon's
/// figure is read again and QEMU's slot, base address and current size land in the live XML. libvirt names
/// the backend object (`mem<alias>`) in its DEVICE_ADDED. The removal completes in `removeLive`
/// (memoryRemoved); a virtio-mem or virtio-pmem unplug goes to QEMU, which refuses it, as with libvirt 9.0. A
/// virtio-mem's requested size changes through update-device (`qom-set requested-size` live, the persistent
/// definition with `--config`), and QEMU's MEMORY_DEVICE_SIZE_CHANGE sets its `<current>` and is libvirt's
/// MEMORY_DEVICE_SIZE_CHANGE event.
extension QEMUDomainObject {
    func attachMemory(_ m: MemoryDevice, live: DomainDefinition, mon: QMPMonitor,
                      capabilities: QEMUCapabilities) async throws(VirtError) {
        var added = m
        added.sizeKiB = QEMUMemoryDevices.alignedSize(m)
        added.info.alias = nil
        try QEMUMemoryDevices.validateHotplug(added, into: live)
        try QEMUMemoryDevices.checkSupported(added)
        try QEMUMemoryDevices.checkPath(added)
        var next = live
        next.devices.memories.append(added)
        try QEMUMemoryDevices.assignSlots(&next)
        if QEMUMemoryDevices.usesSlot(added) {
            guard var slotted = next.devices.memories.last else { return }
            slotted.info.alias = QEMUMemoryDevices.alias(for: slotted, among: live.devices.memories)
            next.devices.memories[next.devices.memories.count - 1] = slotted
        } else {
            try prepareAdded(&next, from: live, capabilities: capabilities)
        }
        guard let placed = next.devices.memories.last, let alias = placed.info.alias else { return }
        added = placed
        let backingDir = try prepareMemoryBackingDir(for: next, id: id)
        let backend = try QEMUMemoryDevices.backendProps(added, alias: alias, def: next, backingDir: backingDir)
        try await mon.execute("object-add", arguments: try Self.json(backend))
        do {
            let device = QEMUMemoryDevices.deviceProps(added, alias: alias, def: next)
            try await mon.execute("device_add", arguments: try Self.json(device))
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
        let early = earlyMemorySizeChanges.filter { $0.data["id"]?.stringValue == alias }
        earlyMemorySizeChanges.removeAll { $0.data["id"]?.stringValue == alias }
        for ev in early { memoryDeviceSizeChanged(ev) }
    }

    /// The domain's memory backing directory, made (for QEMU's user) when `def`'s backends need it.
    func prepareMemoryBackingDir(for def: DomainDefinition, id: Int32) throws(VirtError) -> String {
        let dir = paths.memoryBackingDir(id: id, name: def.name)
        guard QEMUMemoryDevices.needsBackingDir(def) else { return dir }
        try LinuxSys.mkdirs(paths.libDir + "/ram")
        try LinuxSys.mkdirs(dir, mode: 0o770)
        if let u = try? security.processCredentials(), chown(dir, u.uid, u.gid) != 0 {
            throw VirtError.systemError("unable to set ownership of '\(dir)'", errno: errno, domain: .qemu)
        }
        memoryDir = dir
        return dir
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

    /// libvirt's qemuDomainChangeMemoryLive: only a virtio-mem's requested size changes; the device is found
    /// by its address and, when given, its alias (virDomainMemoryFindByDeviceInfo).
    func changeMemoryLive(_ m: MemoryDevice, mon: QMPMonitor) async throws(VirtError) {
        try QEMUMemoryDevices.validateDevice(m)
        guard let live = liveDefinition,
              let i = live.devices.memories.firstIndex(where: {
                  $0.info.address == m.info.address && (m.info.alias == nil || $0.info.alias == m.info.alias)
              })
        else {
            throw VirtError.configUnsupported("memory '\(m.info.alias ?? "")' not found", domain: .qemu)
        }
        let old = live.devices.memories[i]
        try Self.validateMemoryChange(from: old, to: m)
        guard let alias = old.info.alias else { return }
        let requested = m.requestedKiB ?? 0
        try await mon.execute("qom-set", arguments: [
            "path": .string("/machine/peripheral/" + alias), "property": .string("requested-size"),
            "value": .int(Int64(clamping: requested * 1024)),
        ])
        // The definition as it is now: QEMU's size events (the guest plugging already) were handled meanwhile.
        if var cur = liveDefinition, let k = cur.devices.memories.firstIndex(where: { $0.info.alias == alias }) {
            cur.devices.memories[k].requestedKiB = m.requestedKiB
            liveDefinition = cur
        }
        if var run = runDefinition, let k = run.devices.memories.firstIndex(where: { $0.info.alias == alias }) {
            run.devices.memories[k].requestedKiB = m.requestedKiB
            runDefinition = run
        }
        writeStatus()
    }

    /// libvirt's persistent update of a memory device: a virtio-mem's requested size, the device found by its
    /// address.
    static func changeMemoryConfig(_ m: MemoryDevice, in def: inout DomainDefinition) throws(VirtError) {
        try QEMUMemoryDevices.validateDevice(m)
        guard let i = def.devices.memories.firstIndex(where: {
            $0.info.address == m.info.address && (m.info.alias == nil || $0.info.alias == m.info.alias)
        }) else {
            throw VirtError.invalidArg("memory not found", domain: .qemu)
        }
        try validateMemoryChange(from: def.devices.memories[i], to: m)
        def.devices.memories[i].requestedKiB = m.requestedKiB
    }

    /// libvirt's qemuDomainChangeMemoryLiveValidateChange: everything but `<requested>` stays.
    static func validateMemoryChange(from old: MemoryDevice, to new: MemoryDevice) throws(VirtError) {
        guard old.model == .virtioMem else {
            throw VirtError.operationUnsupported("cannot modify memory of model '\(old.model.rawValue)'", domain: .qemu)
        }
        func refuse(_ what: String) -> VirtError { .configUnsupported("cannot modify memory \(what)", domain: .qemu) }
        if new.model != old.model { throw refuse("model from '\(old.model.rawValue)' to '\(new.model.rawValue)'") }
        if new.access != old.access { throw refuse("access from '\(old.access ?? "default")' to '\(new.access ?? "default")'") }
        if new.discard != old.discard { throw refuse("discard") }
        if new.nodemask != old.nodemask { throw refuse("source nodes") }
        if new.pagesizeKiB != old.pagesizeKiB {
            throw refuse("pagesize from '\(old.pagesizeKiB ?? 0)' to '\(new.pagesizeKiB ?? 0)'")
        }
        if new.node != old.node {
            throw refuse("targetNode from '\(old.node.map { Int($0) } ?? -1)' to '\(new.node.map { Int($0) } ?? -1)'")
        }
        if new.sizeKiB != old.sizeKiB { throw refuse("size from '\(old.sizeKiB)' to '\(new.sizeKiB)'") }
        if new.blockKiB != old.blockKiB {
            throw refuse("block size from '\(old.blockKiB ?? 0)' to '\(new.blockKiB ?? 0)'")
        }
        if let r = new.requestedKiB, let b = old.blockKiB, b > 0, r % b != 0 {
            throw QEMUMemoryDevices.detail("requested size must be an integer multiple of block size")
        }
        if let r = new.requestedKiB, r > old.sizeKiB {
            throw QEMUMemoryDevices.detail("requested size must be smaller than or equal to @size (\(old.sizeKiB)KiB)")
        }
    }

    /// QEMU's MEMORY_DEVICE_SIZE_CHANGE: the virtio-mem's `<current>` in the live XML (KiB), the current memory
    /// by the same difference, and libvirt's event of the same name.
    func memoryDeviceSizeChanged(_ ev: QMPEvent) {
        guard let id = ev.data["id"]?.stringValue, let bytes = ev.data["size"]?.intValue,
              var live = liveDefinition else { return }
        guard let i = live.devices.memories.firstIndex(where: { $0.info.alias == id }) else {
            // A device being hot-plugged that the guest plugged before the attach finished: handled once the
            // attach has put it into the live definition (libvirt's worker waits for the attach's job).
            earlyMemorySizeChanges.append(ev)
            return
        }
        let kib = UInt64(clamping: bytes) / 1024
        // The guest's current memory moves by what it plugged or unplugged.
        QEMUMemoryDevices.setPlugged(kib, memory: i, in: &live)
        liveDefinition = live
        writeStatus()
        emit(DomainEventRecord(domain: ref, kind: .memoryDeviceSizeChange(alias: id, sizeKiB: kib)))
    }

    /// libvirt's qemuProcessRefreshBalloonState: the live current memory from `query-balloon`.
    func refreshBalloon(_ mon: QMPMonitor) async {
        guard let b = try? await mon.execute("query-balloon"), let a = b["actual"]?.intValue, var live = liveDefinition
        else { return }
        live.currentMemory = UInt64(max(a, 0)) / 1024 &+ QEMUMemoryDevices.virtioMemPluggedKiB(live)
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
