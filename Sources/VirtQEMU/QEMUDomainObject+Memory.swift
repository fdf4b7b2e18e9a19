import VirtCore

/// `setmem` and `setmaxmem` (libvirt's qemuDomainSetMemoryFlags, a MODIFY job): the balloon target of the running
/// guest through QMP `balloon`, the persistent current or maximum memory. The live current memory follows QEMU's
/// BALLOON_CHANGE events, as libvirt's does.
extension QEMUDomainObject {
    func setMemory(kib: UInt64, flags: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "setMemory")
        defer { endJob() }
        let t = try targets(flags & 3)
        if flags & ModificationImpact.maximum.rawValue != 0 {
            if t.live {
                throw VirtError.operationInvalid("cannot resize the maximum memory on an active domain", domain: .qemu)
            }
            var def = definition
            def.memory = kib
            if def.currentMemory > kib { def.currentMemory = kib }
            definition = def
            try saveConfig()
            return
        }
        if t.live, let live = liveDefinition, kib > live.memory {
            throw VirtError.invalidArg("cannot set memory higher than max memory", domain: .qemu)
        }
        if t.config && kib > definition.memory {
            throw VirtError.invalidArg("cannot set memory higher than max memory", domain: .qemu)
        }
        if t.live {
            let mon = try requireRunning()
            guard let b = liveDefinition?.devices.memballoon, b.model != .none else {
                throw VirtError.operationInvalid(
                    "Unable to change memory of active domain without the balloon device and guest OS balloon driver",
                    domain: .qemu)
            }
            try await mon.execute("balloon", arguments: ["value": .int(Int64(clamping: kib) * 1024)])
        }
        if t.config {
            definition.currentMemory = kib
            try saveConfig()
        }
    }

    /// QEMU's BALLOON_CHANGE: the guest's balloon reached `actual` bytes.
    func balloonChanged(_ ev: QMPEvent) {
        guard let bytes = ev.data["actual"]?.intValue, var live = liveDefinition else { return }
        let kib = UInt64(max(bytes, 0)) / 1024
        // As libvirt: QEMU's figure is the balloon's alone; the live current memory also counts what the guest
        // has plugged of each virtio-mem device. The event carries QEMU's figure.
        live.currentMemory = kib &+ QEMUMemoryDevices.virtioMemPluggedKiB(live)
        liveDefinition = live
        writeStatus()
        emit(DomainEventRecord(domain: ref, kind: .balloonChange(actualKiB: kib)))
    }
}
