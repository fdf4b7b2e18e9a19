import Virt

/// Node device commands (virsh-nodedev.c of virsh 9.0).
enum NodeDeviceCommands {
    /// virsh's table order (`help nodedev` lists them so).
    static let all: [CommandDefinition] = [create, destroy, detach, dumpxml, list, reattach, reset, event, define, undefine,
                                           start, autostart, info]

    static let deviceOption = OptionDefinition.data("device", "device name or wwn pair in 'wwnn,wwpn' format")

    /// The device named by `--device`: a name, or a "wwnn,wwpn" pair of a SCSI host (`vshFindNodeDevice`).
    @MainActor
    static func lookup(_ shell: Shell, _ cmd: ParsedCommand) async -> NodeDeviceRef? {
        let (ok, value) = shell.stringOption(cmd, "device")
        guard ok, let value else { return nil }
        let parts = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var found: NodeDeviceRef?
        if parts.count == 2 {
            // virsh checks both WWNs first (virValidateWWN: 16 hex digits, an optional "0x" before them).
            for w in parts {
                let digits = w.lowercased().hasPrefix("0x") ? String(w.dropFirst(2)) : w
                guard digits.count == 16, digits.allSatisfy(\.isHexDigit) else {
                    shell.lastError = VirtError.internalError("Malformed wwn: \(w)")
                    return nil
                }
            }
            found = await shell.call {
                try await shell.conn.nodeDevices("virNodeDeviceLookupSCSIHostByWWN").lookupSCSIHost(
                    wwnn: parts[0], wwpn: parts[1], flags: 0)
            }
        } else if parts.count > 2 {
            shell.error("Malformed device value '\(value)'")
            return nil
        } else {
            found = await shell.call { try await shell.conn.nodeDevices("virNodeDeviceLookupByName").lookupNodeDevice(name: value) }
        }
        if found == nil { shell.error("Could not find matching device '\(value)'") }
        return found
    }

    static let dumpxml = CommandDefinition(
        "nodedev-dumpxml", summary: "node device details in XML",
        description: "Output the node device details as an XML dump to stdout.",
        options: [
            deviceOption,
            .string("xpath", "xpath expression to filter the XML document", requiresName: true),
            .flag("wrap", "wrap xpath results in an common root element"),
        ]
    ) { shell, cmd in
        let (ok, xpath) = shell.stringOption(cmd, "xpath")
        guard ok, let dev = await lookup(shell, cmd) else { return false }
        guard let xml = await shell.call({
            try await shell.conn.nodeDevices("virNodeDeviceGetXMLDesc").nodeDeviceXML(dev, flags: 0)
        }) else { return false }
        if xpath != nil {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        shell.print(xml)
        return true
    }

    static let info = CommandDefinition(
        "nodedev-info", summary: "node device information",
        description: "Returns basic information about the node device", options: [deviceOption]
    ) { shell, cmd in
        guard let dev = await lookup(shell, cmd) else { return false }
        let d = try? shell.conn.nodeDevices("virNodeDeviceGetParent")
        @MainActor func line(_ label: String, _ value: String) {
            shell.print(label.padding(toLength: 15, withPad: " ", startingAt: 0) + " " + value + "\n")
        }
        line("Name:", dev.name)
        let parent = await shell.call { try await d?.nodeDeviceParent(dev) } ?? nil
        line("Parent:", parent ?? "")
        // virsh prints the C results as booleans: a failed call (-1) reads as "yes".
        let active = await shell.call { try await d?.nodeDeviceIsActive(dev) } ?? nil
        line("Active:", active ?? true ? "yes" : "no")
        let persistent = await shell.call { try await d?.nodeDeviceIsPersistent(dev) } ?? nil
        line("Persistent:", persistent ?? true ? "yes" : "no")
        if let auto = await shell.call({ try await d?.nodeDeviceAutostart(dev) }) ?? nil {
            line("Autostart:", auto ? "yes" : "no")
        } else {
            line("Autostart:", "no autostart")
        }
        shell.lastError = nil
        return true
    }

    static let create = CommandDefinition(
        "nodedev-create", summary: "create a device defined by an XML file on the node",
        description: "Create a device on the node.  Note that this command creates devices on the physical host "
            + "that can then be assigned to a virtual machine.",
        options: [.file("file containing an XML description of the device"),
                  .flag("validate", "validate the XML against the schema")]
    ) { shell, cmd in
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file, let xml = shell.readFile(file) else { return false }
        let flags: UInt32 = cmd.has("validate") ? 1 : 0
        guard let dev = await shell.call({
            try await shell.conn.nodeDevices("virNodeDeviceCreateXML", modifying: true).createNodeDevice(xml: xml, flags: flags)
        }) else {
            shell.error("Failed to create node device from \(file)")
            return false
        }
        shell.printExtra("Node device \(dev.name) created from \(file)\n")
        return true
    }

    static let destroy = CommandDefinition(
        "nodedev-destroy", summary: "destroy (stop) a device on the node",
        description: "Destroy a device on the node.  Note that this command destroys devices on the physical host",
        options: [deviceOption]
    ) { shell, cmd in
        guard let dev = await lookup(shell, cmd) else { return false }
        guard await shell.call({
            try await shell.conn.nodeDevices("virNodeDeviceDestroy", modifying: true).destroyNodeDevice(dev)
        }) != nil else {
            shell.error("Failed to destroy node device '\(dev.name)'")
            return false
        }
        shell.printExtra("Destroyed node device '\(dev.name)'\n")
        return true
    }

    static let list = CommandDefinition(
        "nodedev-list", summary: "enumerate devices on this host",
        options: [
            .flag("tree", "list devices in a tree"),
            .string("cap", "capability names, separated by comma"),
            .flag("inactive", "list inactive devices"),
            .flag("all", "list inactive & active devices"),
        ]
    ) { shell, cmd in
        let (ok, capText) = shell.stringOption(cmd, "cap")
        guard ok else { return false }
        let tree = cmd.has("tree"), inactive = cmd.has("inactive"), all = cmd.has("all")
        if tree && (capText != nil || inactive) {
            shell.error("Option --tree is incompatible with --cap and --inactive")
            return false
        }
        if all && inactive {
            shell.error("Option --all is incompatible with --inactive")
            return false
        }
        var flags: UInt32 = all ? NodeDeviceListFlags.active | NodeDeviceListFlags.inactive
            : inactive ? NodeDeviceListFlags.inactive : NodeDeviceListFlags.active
        for cap in (capText ?? "").split(separator: ",").map(String.init) {
            guard let bit = NodeDeviceListFlags.capabilityBits.firstIndex(of: cap) else {
                shell.error("Invalid capability type")
                return false
            }
            flags |= 1 << UInt32(bit)
        }
        guard let driver = await shell.call({ try shell.conn.nodeDevices("virConnectListAllNodeDevices") }),
              let devices = await shell.call({ try await driver.listAllNodeDevices(flags: flags) }) else {
            shell.error("Failed to list node devices")
            return false
        }
        let names = devices.map(\.name).sorted()
        guard tree else {
            for n in names { shell.print(n + "\n") }
            return true
        }
        var parents: [String?] = []
        for n in names {
            if n == "computer" {
                parents.append(nil)
            } else {
                parents.append(await shell.call { try await driver.nodeDeviceParent(NodeDeviceRef(name: n)) } ?? nil)
            }
        }
        shell.lastError = nil
        var out = ""
        for (i, p) in parents.enumerated() where p == nil {
            TreePrinter(names: names, parents: parents).print(i, last: i, root: true, indent: "", into: &out)
        }
        shell.print(out)
        return true
    }
}

/// virsh's `vshTreePrint`: each device under its parent, with `+-` branches and `|` rails.
struct TreePrinter {
    var names: [String]
    var parents: [String?]

    func print(_ i: Int, last: Int, root: Bool, indent: String, into out: inout String) {
        out += indent + (root ? "" : "+- ") + names[i] + "\n"
        var indent = indent
        if !root { indent += (i == last ? " " : "|") + " " }
        let children = parents.indices.filter { parents[$0] == names[i] }
        let lastChild = children.last
        if lastChild != nil { out += indent + "  |\n" }
        for c in children {
            print(c, last: lastChild ?? c, root: false, indent: indent + "  ", into: &out)
        }
        if lastChild == nil && i == last { out += indent + "\n" }
    }
}

/// Host interface commands (virsh-interface.c of virsh 9.0).
enum InterfaceCommands {
    static let all: [CommandDefinition] = [
        begin, bridge, commit, define, destroy, dumpxml, edit, list, mac, name, rollback, start, unbridge, undefine,
    ]

    static func interfaceOption(_ help: String = "interface name or MAC address") -> OptionDefinition {
        .data("interface", help)
    }

    struct By: OptionSet {
        let rawValue: Int
        static let name = By(rawValue: 1)
        static let mac = By(rawValue: 2)
    }

    /// Whether `s` is a MAC address as libvirt parses one (six hex bytes separated by ':').
    static func isMAC(_ s: String) -> Bool {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 6 && parts.allSatisfy { p in (1...2).contains(p.count) && p.allSatisfy(\.isHexDigit) }
    }

    /// The interface named by `--interface` (`virshCommandOptInterfaceBy`): a MAC address is looked up by MAC,
    /// anything else by name.
    @MainActor
    static func lookup(_ shell: Shell, _ cmd: ParsedCommand, by: By = [.name, .mac]) async -> InterfaceRef? {
        let (ok, value) = shell.stringOption(cmd, "interface")
        guard ok, let value else { return nil }
        var found: InterfaceRef?
        if isMAC(value) {
            if by.contains(.mac) {
                found = await shell.call {
                    try await shell.conn.interfaces("virInterfaceLookupByMACString").lookupInterface(mac: value)
                }
            }
        } else if by.contains(.name) {
            found = await shell.call { try await shell.conn.interfaces("virInterfaceLookupByName").lookupInterface(name: value) }
        }
        if found == nil { shell.error("failed to get interface '\(value)'") }
        return found
    }

    static let list = CommandDefinition(
        "iface-list", summary: "list physical host interfaces", description: "Returns list of physical host interfaces.",
        options: [.flag("inactive", "list inactive interfaces"), .flag("all", "list inactive & active interfaces")]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "all", "inactive") else { return false }
        let flags = cmd.has("all") ? InterfaceListFlags.active | InterfaceListFlags.inactive
            : cmd.has("inactive") ? InterfaceListFlags.inactive : InterfaceListFlags.active
        guard let driver = await shell.call({ try shell.conn.interfaces("virConnectListAllInterfaces") }),
              var ifaces = await shell.call({ try await driver.listAllInterfaces(flags: flags) }) else {
            shell.error("Failed to list interfaces")
            return false
        }
        ifaces.sort { $0.name < $1.name }
        var table = Table(header: ["Name", "State", "MAC Address"])
        for i in ifaces {
            let active = await shell.call({ try await driver.interfaceIsActive(i) }) ?? false
            table.append([i.name, active ? "active" : "inactive", i.mac])
        }
        shell.lastError = nil
        shell.print(table.render(header: !shell.quiet))
        return true
    }

    static let dumpxml = CommandDefinition(
        "iface-dumpxml", summary: "interface information in XML",
        description: "Output the physical host interface information as an XML dump to stdout.",
        options: [
            interfaceOption(),
            .flag("inactive", "show inactive defined XML"),
            .string("xpath", "xpath expression to filter the XML document", requiresName: true),
            .flag("wrap", "wrap xpath results in an common root element"),
        ]
    ) { shell, cmd in
        let (ok, xpath) = shell.stringOption(cmd, "xpath")
        guard ok, let iface = await lookup(shell, cmd) else { return false }
        let flags: UInt32 = cmd.has("inactive") ? 1 : 0
        guard let xml = await shell.call({
            try await shell.conn.interfaces("virInterfaceGetXMLDesc").interfaceXML(iface, flags: flags)
        }) else { return false }
        if xpath != nil {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        shell.print(xml)
        return true
    }

    static let define = CommandDefinition(
        "iface-define",
        summary: "define an inactive persistent physical host interface or modify an existing persistent one from an XML file",
        description: "Define or modify a persistent physical host interface.",
        options: [.file("file containing an XML interface description"),
                  .flag("validate", "validate the XML against the schema")]
    ) { shell, cmd in
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file, let xml = shell.readFile(file) else { return false }
        let flags: UInt32 = cmd.has("validate") ? 1 : 0
        guard let iface = await shell.call({
            try await shell.conn.interfaces("virInterfaceDefineXML", modifying: true).defineInterface(xml: xml, flags: flags)
        }) else {
            shell.error("Failed to define interface from \(file)")
            return false
        }
        shell.printExtra("Interface \(iface.name) defined from \(file)\n")
        return true
    }

    static let mac = CommandDefinition(
        "iface-mac", summary: "convert an interface name to interface MAC address",
        options: [interfaceOption("interface name")]
    ) { shell, cmd in
        guard let iface = await lookup(shell, cmd, by: .name) else { return false }
        shell.print("\(iface.mac)\n")
        return true
    }

    static let name = CommandDefinition(
        "iface-name", summary: "convert an interface MAC address to interface name",
        options: [interfaceOption("interface mac")]
    ) { shell, cmd in
        guard let iface = await lookup(shell, cmd, by: .mac) else { return false }
        shell.print("\(iface.name)\n")
        return true
    }

    /// iface-undefine, iface-start, iface-destroy. virsh 9.0's iface-destroy reports failure (exit status) even
    /// when the interface was destroyed, without an error message; vsh does the same.
    static func simple(_ cmdName: String, summary: String, description: String, api: String, failure: String,
                       success: String, alwaysFails: Bool = false,
                       _ op: @escaping @Sendable (any InterfaceDriver, InterfaceRef) async throws -> Void)
        -> CommandDefinition {
        CommandDefinition(cmdName, summary: summary, description: description, options: [interfaceOption()]) { shell, cmd in
            guard let iface = await lookup(shell, cmd) else { return false }
            guard await shell.call({ try await op(try shell.conn.interfaces(api, modifying: true), iface) }) != nil else {
                shell.error("\(failure) \(iface.name)")
                return false
            }
            shell.printExtra("Interface \(iface.name) \(success)\n")
            return !alwaysFails
        }
    }

    static let undefine = simple(
        "iface-undefine", summary: "undefine a physical host interface (remove it from configuration)",
        description: "undefine an interface.", api: "virInterfaceUndefine", failure: "Failed to undefine interface",
        success: "undefined") { d, i in try await d.undefineInterface(i) }

    static let start = simple(
        "iface-start", summary: "start a physical host interface (enable it / \"if-up\")",
        description: "start a physical host interface.", api: "virInterfaceCreate", failure: "Failed to start interface",
        success: "started") { d, i in try await d.startInterface(i, flags: 0) }

    static let destroy = simple(
        "iface-destroy", summary: "destroy a physical host interface (disable it / \"if-down\")",
        description: "forcefully stop a physical host interface.", api: "virInterfaceDestroy",
        failure: "Failed to destroy interface", success: "destroyed", alwaysFails: true
    ) { d, i in try await d.destroyInterface(i, flags: 0) }

    static func transaction(_ cmdName: String, summary: String, description: String, api: String, failure: String,
                            success: String,
                            _ op: @escaping @Sendable (any InterfaceDriver) async throws -> Void) -> CommandDefinition {
        CommandDefinition(cmdName, summary: summary, description: description, options: []) { shell, _ in
            guard await shell.call({ try await op(try shell.conn.interfaces(api, modifying: true)) }) != nil else {
                shell.error(failure)
                return false
            }
            shell.printExtra(success + "\n")
            return true
        }
    }

    static let begin = transaction(
        "iface-begin",
        summary: "create a snapshot of current interfaces settings, which can be later committed (iface-commit) "
            + "or restored (iface-rollback)",
        description: "Create a restore point for interfaces settings", api: "virInterfaceChangeBegin",
        failure: "Failed to begin network config change transaction",
        success: "Network config change transaction started") { try await $0.interfaceChangeBegin(flags: 0) }

    static let commit = transaction(
        "iface-commit", summary: "commit changes made since iface-begin and free restore point",
        description: "commit changes and free restore point", api: "virInterfaceChangeCommit",
        failure: "Failed to commit network config change transaction",
        success: "Network config change transaction committed") { try await $0.interfaceChangeCommit(flags: 0) }

    static let rollback = transaction(
        "iface-rollback", summary: "rollback to previous saved configuration created via iface-begin",
        description: "rollback to previous restore point", api: "virInterfaceChangeRollback",
        failure: "Failed to rollback network config change transaction",
        success: "Network config change transaction rolled back") { try await $0.interfaceChangeRollback(flags: 0) }
}
