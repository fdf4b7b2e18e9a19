import Virt

/// virsh 9.0's persistent node device commands (define, undefine, start, autostart), PCI assignment (detach,
/// re-attach, reset) and `nodedev-event`.
extension NodeDeviceCommands {
    /// The device named by `--device`, by name only (`virNodeDeviceLookupByName`, as these commands do).
    @MainActor
    static func lookupByName(_ shell: Shell, _ cmd: ParsedCommand) async -> NodeDeviceRef? {
        let (ok, name) = shell.stringOption(cmd, "device")
        guard ok, let name else { return nil }
        guard let dev = await shell.call({
            try await shell.conn.nodeDevices("virNodeDeviceLookupByName").lookupNodeDevice(name: name)
        }) else {
            shell.error("Could not find matching device '\(name)'")
            return nil
        }
        return dev
    }

    static let define = CommandDefinition(
        "nodedev-define", summary: "Define a device by an xml file on a node",
        description: "Defines a persistent device on the node that can be assigned to a domain. The device must be "
            + "started before it can be assigned to a domain.",
        options: [.file("file containing an XML description of the device"),
                  .flag("validate", "validate the XML against the schema")]
    ) { shell, cmd in
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file, let xml = shell.readFile(file) else { return false }
        let flags: UInt32 = cmd.has("validate") ? 1 : 0
        guard let dev = await shell.call({
            try await shell.conn.nodeDevices("virNodeDeviceDefineXML", modifying: true).defineNodeDevice(xml: xml, flags: flags)
        }) else {
            shell.error("Failed to define node device from '\(file)'")
            return false
        }
        shell.printExtra("Node device '\(dev.name)' defined from '\(file)'\n")
        return true
    }

    static let undefine = CommandDefinition(
        "nodedev-undefine", summary: "Undefine an inactive node device",
        description: "Undefines the configuration for an inactive node device", options: [deviceOption]
    ) { shell, cmd in
        guard let dev = await lookup(shell, cmd) else { return false }
        let value = cmd.value("device") ?? dev.name
        guard await shell.call({
            try await shell.conn.nodeDevices("virNodeDeviceUndefine", modifying: true).undefineNodeDevice(dev, flags: 0)
        }) != nil else {
            shell.error("Failed to undefine node device '\(value)'")
            return false
        }
        shell.printExtra("Undefined node device '\(value)'\n")
        return true
    }

    static let start = CommandDefinition(
        "nodedev-start", summary: "Start an inactive node device",
        description: "Starts an inactive node device that was previously defined",
        options: [.data("device", "device name")]
    ) { shell, cmd in
        guard let dev = await lookupByName(shell, cmd) else { return false }
        let name = cmd.value("device") ?? dev.name
        guard await shell.call({
            try await shell.conn.nodeDevices("virNodeDeviceCreate", modifying: true).startNodeDevice(dev, flags: 0)
        }) != nil else {
            shell.error("Failed to start device \(name)")
            return false
        }
        shell.printExtra("Device \(name) started\n")
        return true
    }

    static let autostart = CommandDefinition(
        "nodedev-autostart", summary: "autostart a defined node device",
        description: "Configure a node device to be automatically started at boot.",
        options: [deviceOption, .flag("disable", "disable autostarting")]
    ) { shell, cmd in
        guard let dev = await lookup(shell, cmd) else { return false }
        let name = cmd.value("device") ?? dev.name
        let on = !cmd.has("disable")
        guard await shell.call({
            try await shell.conn.nodeDevices("virNodeDeviceSetAutostart", modifying: true)
                .setNodeDeviceAutostart(dev, autostart: on)
        }) != nil else {
            shell.error(on ? "failed to mark device \(name) as autostarted" : "failed to unmark device \(name) as autostarted")
            return false
        }
        shell.printExtra(on ? "Device \(name) marked as autostarted\n" : "Device \(name) unmarked as autostarted\n")
        return true
    }

    static let detach = CommandDefinition(
        "nodedev-detach", summary: "detach node device from its device driver",
        description: "Detach node device from its device driver before assigning to a domain.",
        options: [.data("device", "device key"),
                  .string("driver", "pci device assignment backend driver (e.g. 'vfio' or 'xen')")]
    ) { shell, cmd in
        let driverName = cmd.value("driver").flatMap { $0.isEmpty ? nil : $0 }
        guard let dev = await lookupByName(shell, cmd) else { return false }
        let name = cmd.value("device") ?? dev.name
        let done = await shell.call { () async throws -> Bool in
            if let driverName {
                // The newer API, which takes the backend's name.
                try await shell.conn.nodeDevices("virNodeDeviceDetachFlags", modifying: true)
                    .detachNodeDevice(dev, driverName: driverName, flags: 0)
            } else {
                try await shell.conn.nodeDevices("virNodeDeviceDettach", modifying: true).dettachNodeDevice(dev)
            }
            return true
        }
        guard done != nil else {
            shell.error("Failed to detach device \(name)")
            return false
        }
        shell.printExtra("Device \(name) detached\n")
        return true
    }

    static let reattach = CommandDefinition(
        "nodedev-reattach", summary: "reattach node device to its device driver",
        description: "Reattach node device to its device driver once released by the domain.",
        options: [.data("device", "device key")]
    ) { shell, cmd in
        guard let dev = await lookupByName(shell, cmd) else { return false }
        let name = cmd.value("device") ?? dev.name
        guard await shell.call({
            try await shell.conn.nodeDevices("virNodeDeviceReAttach", modifying: true).reattachNodeDevice(dev)
        }) != nil else {
            shell.error("Failed to re-attach device \(name)")
            return false
        }
        shell.printExtra("Device \(name) re-attached\n")
        return true
    }

    static let reset = CommandDefinition(
        "nodedev-reset", summary: "reset node device",
        description: "Reset node device before or after assigning to a domain.",
        options: [.data("device", "device key")]
    ) { shell, cmd in
        guard let dev = await lookupByName(shell, cmd) else { return false }
        let name = cmd.value("device") ?? dev.name
        guard await shell.call({
            try await shell.conn.nodeDevices("virNodeDeviceReset", modifying: true).resetNodeDevice(dev)
        }) != nil else {
            shell.error("Failed to reset device \(name)")
            return false
        }
        shell.printExtra("Device \(name) reset\n")
        return true
    }

    static let eventNames = ["lifecycle", "update"]
    static let lifecycleNames = ["Created", "Deleted", "Defined", "Undefined"]

    /// virsh's `cmdNodeDeviceEvent`: list the event names, or wait for one kind (optionally of one device).
    static let event = EventCommands.objectEvent(
        "nodedev-event", summary: "Node Device Events",
        description: "List event types, or wait for node device events to occur",
        object: "device", objectHelp: "filter by node device name", eventNames: eventNames, positional: true,
        lookup: { shell, cmd in await lookupByName(shell, cmd)?.name },
        subscribe: { shell in
            let d = try shell.conn.nodeDevices("virConnectNodeDeviceEventRegisterAny")
            let s = d.nodeDeviceEvents()
            try await d.registerNodeDeviceEvents()
            return s
        },
        describe: { (ev: NodeDeviceEventRecord) in
            let text: String
            if let l = ev.lifecycle {
                text = "for node device \(ev.device.name): " + EventCommands.lifecycleName(l.rawValue, lifecycleNames)
            } else {
                text = "for node device \(ev.device.name)"
            }
            return EventCommands.ObjectEvent(key: ev.device.name, eventID: ev.eventID, text: text)
        })
}
