import VirtCore

/// Hot-plug of virtio `<console>` devices, as libvirt 9.0's qemuDomainAttachChrDevice does it for a console
/// whose target is virtio: the next `console<N>` alias (a serial port's console copy counts as its `serial<N>`),
/// the target port, the host side with `chardev-add`, then `device_add` of a `virtconsole` (QEMU picks its
/// virtio-serial port, as for libvirt's). The live definition changes only once QEMU accepted both; the chardev
/// goes again after the port is unplugged (`removeLive`). A console on the serial port is refused, as libvirt.
extension QEMUDomainObject {
    /// libvirt's `virDomainChrFind` for consoles: the same target type and port (as given: a console named
    /// without its port matches none), and the same source.
    static func findConsole(_ c: CharDevice, in list: [CharDevice]) -> Int? {
        list.firstIndex {
            $0.targetType == c.targetType && $0.targetPort == c.targetPort && $0.source.type == c.source.type
                && $0.source.path == c.source.path && $0.source.listen == c.source.listen
        }
    }

    /// The console's target port when the XML gives none: one past the highest of the definition it goes to or
    /// is looked up in (libvirt's virDomainChrDefPostParse). In a running domain's definition the console
    /// copy of a serial port does not count (its port there is libvirt's -1; libvirtd 9.0 gives the first
    /// hot-plugged virtio console port 0 live and port 1 in the persistent definition).
    static func consolePort(_ c: CharDevice, in list: [CharDevice], live: Bool) -> CharDevice {
        var added = c
        if added.targetPort == nil {
            let counted = live ? list.filter { $0.targetType != "serial" } : list
            added.targetPort = (counted.compactMap(\.targetPort).max() ?? -1) + 1
        }
        return added
    }

    /// The index of the console `c` names in `list` (its port given or assigned as libvirt does).
    static func consoleIndex(_ c: CharDevice, in list: [CharDevice], live: Bool) -> Int? {
        findConsole(consolePort(c, in: list, live: live), in: list)
    }

    /// The persistent attach (libvirt's qemuDomainChrInsert for a console).
    static func attachConsoleConfig(_ c: CharDevice, to def: inout DomainDefinition) throws(VirtError) {
        let added = consolePort(c, in: def.devices.consoles, live: false)
        if findConsole(added, in: def.devices.consoles) != nil {
            throw VirtError.operationInvalid("chardev already exists", domain: .qemu)
        }
        def.devices.consoles.append(added)
    }

    func attachConsole(_ c: CharDevice, live: DomainDefinition, mon: QMPMonitor, capabilities: QEMUCapabilities)
        async throws(VirtError) {
        // libvirt builds the device's QEMU properties first: only a virtio console has them.
        guard c.targetType == "virtio" else {
            throw VirtError.configUnsupported("unsupported console target type \(c.targetType ?? "serial")",
                                              domain: .qemu)
        }
        var added = Self.consolePort(c, in: live.devices.consoles, live: true)
        if Self.findConsole(added, in: live.devices.consoles) != nil {
            throw VirtError.operationInvalid("chardev already exists", domain: .qemu)
        }
        if !live.devices.controllers.contains(where: { $0.type == .virtioSerial }) {
            throw VirtError.internalError("no virtio-serial controllers are available", domain: .qemu)
        }
        // libvirt's qemuGetNextChrDevIndex: one past the highest consoleN, or serialN for a console copy.
        let used = live.devices.consoles.compactMap { d -> Int? in
            guard let a = d.info.alias else { return nil }
            if a.hasPrefix("console") { return Int(a.dropFirst(7)) }
            if a.hasPrefix("serial") { return Int(a.dropFirst(6)) }
            return nil
        }
        added.info.alias = "console\((used.max() ?? -1) + 1)"
        guard let alias = added.info.alias else { return }
        var next = live
        next.devices.consoles.append(added)
        try prepareAdded(&next, from: live, capabilities: capabilities)
        // libvirt shows no virtio-serial address for a console and QEMU picks the port (0 when it is free).
        guard var placed = next.devices.consoles.last else { return }
        placed.info.address = nil
        let reply = try await mon.execute("chardev-add", arguments: ["id": .string("char" + alias),
                                                                     "backend": try Self.chardevBackend(placed.source)])
        if placed.source.type == .pty, let pty = reply["pty"]?.stringValue { placed.source.path = pty }
        var device = QEMUJSONProps()
        device.add("driver", "virtconsole")
        device.add("chardev", "char" + alias)
        device.add("id", alias)
        try await addChardevFrontend(device, alias: alias, mon: mon)
        let attached = placed
        recordAttached(alias) { $0.consoles.append(attached) }
    }
}
