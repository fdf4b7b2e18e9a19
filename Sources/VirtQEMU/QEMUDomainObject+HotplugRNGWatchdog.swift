import VirtCore

/// Hot-plug of `<rng>` and `<watchdog>` devices, as libvirt 9.0's qemuDomainAttachRNGDevice and
/// qemuDomainAttachWatchdog: the alias and PCI address assigned as at start, the backend object (rng) or the
/// watchdog action set first (an EGD rng's character device before its object), then `device_add`; the live definition changes only once QEMU accepted the
/// device, then DEVICE_ADDED. Their removal completes in `removeLive` (the rng's backend object goes too).
extension QEMUDomainObject {
    /// libvirt's `virDomainRNGFind`: same model, backend and rate, and the same address when one is given.
    static func findRNG(_ r: RNG, in list: [RNG]) -> Int? {
        list.firstIndex { have in
            have.model == r.model && have.backend == r.backend && have.rateBytes == r.rateBytes
                && have.ratePeriod == r.ratePeriod && (r.info.address == nil || have.info.address == r.info.address)
        }
    }

    func attachRNG(_ r: RNG, live: DomainDefinition, mon: QMPMonitor, capabilities: QEMUCapabilities)
        async throws(VirtError) {
        // libvirt's qemuAssignDeviceRNGAlias: one past the highest rngN in use.
        let used = live.devices.rngs.compactMap { $0.info.alias.flatMap { Int($0.dropFirst(3)) } }
        var added = r
        added.info.alias = "rng\((used.max() ?? -1) + 1)"
        guard let alias = added.info.alias else { return }
        var next = live
        next.devices.rngs.append(added)
        try prepareAdded(&next, from: live, capabilities: capabilities)
        guard let placed = next.devices.rngs.last else { return }
        let cl = QEMUCommandLine(definition: next, capabilities: capabilities)
        // An EGD backend's character device first (libvirt's qemuHotplugChardevAttach), gone again on failure.
        var chardev: String?
        if case .egd(let source) = placed.backend {
            try await mon.execute("chardev-add", arguments: ["id": .string("char" + alias),
                                                             "backend": try Self.chardevBackend(source)])
            chardev = "char" + alias
        }
        do {
            try await mon.execute("object-add", arguments: try Self.json(cl.rngBackend(placed, alias: alias)))
        } catch {
            if let chardev { _ = try? await mon.execute("chardev-remove", arguments: ["id": .string(chardev)]) }
            throw error
        }
        do {
            try await mon.execute("device_add", arguments: try Self.json(cl.rngDevice(placed, alias: alias)))
        } catch {
            _ = try? await mon.execute("object-del", arguments: ["id": .string("obj" + alias)])
            if let chardev { _ = try? await mon.execute("chardev-remove", arguments: ["id": .string(chardev)]) }
            throw error
        }
        recordAttached(alias) { $0.rngs.append(placed) }
    }

    func attachWatchdog(_ w: Watchdog, live: DomainDefinition, mon: QMPMonitor, capabilities: QEMUCapabilities)
        async throws(VirtError) {
        if !live.devices.watchdogs.isEmpty {
            throw VirtError.operationInvalid("domain already has a watchdog", domain: .qemu)
        }
        guard w.model == .i6300esb else {
            throw VirtError.operationUnsupported("hotplug of watchdog of model \(w.model.rawValue) is not supported",
                                                 domain: .qemu)
        }
        var added = w
        added.info.alias = "watchdog0"
        var next = live
        next.devices.watchdogs = [added]
        try prepareAdded(&next, from: live, capabilities: capabilities)
        guard let placed = next.devices.watchdogs.first else { return }
        let cl = QEMUCommandLine(definition: next, capabilities: capabilities)
        try await mon.execute("set-action",
                              arguments: ["watchdog": .string(QEMUCommandLine.watchdogAction(placed.action))])
        try await mon.execute("device_add", arguments: try Self.json(cl.watchdogDevice(placed, alias: "watchdog0")))
        recordAttached("watchdog0") { $0.watchdogs = [placed] }
    }

    /// A device QEMU accepted: added to the live definition as it is now (events may have changed it while QEMU
    /// worked) and to the run definition (what a save image or a migration carries), the status file written,
    /// then DEVICE_ADDED.
    func recordAttached(_ alias: String, _ add: (inout DomainDevices) -> Void) {
        if var cur = liveDefinition {
            add(&cur.devices)
            liveDefinition = cur
            if var run = runDefinition {
                add(&run.devices)
                runDefinition = run
            }
        }
        writeStatus()
        emit(DomainEventRecord(domain: ref, kind: .deviceAdded(alias: alias)))
    }
}
