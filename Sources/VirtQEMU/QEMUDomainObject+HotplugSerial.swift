import VirtCore

/// Hot-plug of `<serial>` ports, as libvirt 9.0's qemuDomainAttachChrDevice: the next port number and the alias
/// one past the highest `serialN`, a PCI slot (pci-serial) or USB port (usb-serial) assigned as at start, the
/// host side with `chardev-add`, then `device_add`; an ISA port goes to QEMU, which refuses it. The chardev goes
/// with `chardev-remove` after the unplug (`removeLive`).
extension QEMUDomainObject {
    /// libvirt's `virDomainChrFind` for serial ports: the same target type, port and source.
    static func findSerial(_ c: CharDevice, in list: [CharDevice]) -> Int? {
        func type(_ d: CharDevice) -> String { d.targetType ?? "isa-serial" }
        return list.firstIndex {
            type($0) == type(c) && $0.targetPort == c.targetPort && $0.source.type == c.source.type
                && $0.source.path == c.source.path && $0.source.listen == c.source.listen
        }
    }

    func attachSerial(_ c: CharDevice, live: DomainDefinition, mon: QMPMonitor, capabilities: QEMUCapabilities)
        async throws(VirtError) {
        var added = c
        if added.targetType == nil { added.targetType = "isa-serial" }
        if added.targetModel == nil { added.targetModel = added.targetType }
        if added.targetPort == nil { added.targetPort = (live.devices.serials.compactMap(\.targetPort).max() ?? -1) + 1 }
        if Self.findSerial(added, in: live.devices.serials) != nil {
            throw VirtError.operationInvalid("chardev already exists", domain: .qemu)
        }
        let used = live.devices.serials.compactMap { $0.info.alias.flatMap { Int($0.dropFirst(6)) } }
        added.info.alias = "serial\((used.max() ?? -1) + 1)"
        guard let alias = added.info.alias else { return }
        var next = live
        next.devices.serials.append(added)
        try prepareAdded(&next, from: live, capabilities: capabilities)
        QEMUPCIAddresses.assignUSBPorts(&next.devices, addHubs: false)
        guard var placed = next.devices.serials.last else { return }
        // Every port taken (libvirt adds no hub on hot-plug): refused before QEMU hears of it.
        let usbBus = next.devices.controllers.contains { $0.type == .usb && $0.index == 0 && $0.model != ControllerModel.none }
        if placed.targetType == "usb-serial", usbBus,
           placed.info.address == nil || placed.info.address == .usb(bus: 0, port: nil) {
            throw VirtError.internalError("No free USB ports", domain: .domain)
        }
        let reply = try await mon.execute("chardev-add", arguments: ["id": .string("char" + alias),
                                                                     "backend": try Self.chardevBackend(placed.source)])
        if placed.source.type == .pty, let pty = reply["pty"]?.stringValue { placed.source.path = pty }
        let device = QEMUCommandLine(definition: next, capabilities: capabilities)
            .serialDevice(placed, alias: alias, index: next.devices.serials.count - 1)
        try await addChardevFrontend(device, alias: alias, mon: mon)
        let attached = placed
        // The first serial port of a domain without any brings its console copy (libvirt's qemuDomainChrInsert).
        recordAttached(alias) { $0.insertSerial(attached) }
    }
}
