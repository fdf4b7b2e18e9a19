import Virt

#if canImport(Glibc)
import Glibc
#endif

/// Network commands (virsh-network.c of virsh 9.0).
enum NetworkCommands {
    static let all: [CommandDefinition] = [
        autostart, create, define, destroy, dhcpLeases, dumpxml, edit, event, info, list, name, start, undefine, update, uuid,
        portList, portCreate, portDumpxml, portDelete,
    ]

    static func networkOption(_ help: String = "network name or uuid") -> OptionDefinition { .data("network", help) }

    struct By: OptionSet {
        let rawValue: Int
        static let uuid = By(rawValue: 1)
        static let name = By(rawValue: 2)
    }

    /// The network named by `--network` (`virshCommandOptNetworkBy`): by UUID when the text has a UUID's length,
    /// then by name; on failure virsh's line, then the library's error.
    @MainActor
    static func lookup(_ shell: Shell, _ cmd: ParsedCommand, by: By = [.uuid, .name]) async -> Network? {
        let (ok, value) = shell.stringOption(cmd, "network")
        guard ok else { return nil }
        guard let value else {
            shell.error("Failed to get option 'network': Mandatory option not present")
            return nil
        }
        var found: Network?
        if by.contains(.uuid), value.utf8.count == 36 {
            found = await shell.call { try await shell.conn.lookupNetwork(uuidString: value) }
        }
        if found == nil, by.contains(.name) {
            found = await shell.call { try await shell.conn.lookupNetwork(name: value) }
        }
        if found == nil { shell.error("failed to get network '\(value)'") }
        return found
    }

    static let info = CommandDefinition(
        "net-info", summary: "network information",
        description: "Returns basic information about the network",
        options: [networkOption()]
    ) { shell, cmd in
        guard let net = await lookup(shell, cmd) else { return false }
        @MainActor func line(_ label: String, _ value: String) {
            shell.print(label.padding(toLength: 15, withPad: " ", startingAt: 0) + " " + value + "\n")
        }
        line("Name:", net.name)
        line("UUID:", net.uuid.description)
        if let active = await shell.call({ try await net.isActive() }) { line("Active:", active ? "yes" : "no") }
        if let persistent = await shell.call({ try await net.isPersistent() }) {
            line("Persistent:", persistent ? "yes" : "no")
        } else {
            line("Persistent:", "unknown")
        }
        if let auto = await shell.call({ try await net.autostart() }) {
            line("Autostart:", auto ? "yes" : "no")
        } else {
            line("Autostart:", "no autostart")
        }
        if let bridge = await shell.call({ try await net.bridgeName() }) { line("Bridge:", bridge) }
        shell.lastError = nil
        return true
    }

    static let dumpxml = CommandDefinition(
        "net-dumpxml", summary: "network information in XML",
        description: "Output the network information as an XML dump to stdout.",
        options: [
            networkOption(),
            .flag("inactive", "show inactive defined XML"),
            .string("xpath", "xpath expression to filter the XML document", requiresName: true),
            .flag("wrap", "wrap xpath results in an common root element"),
        ]
    ) { shell, cmd in
        let (ok, xpath) = shell.stringOption(cmd, "xpath")
        guard ok, let net = await lookup(shell, cmd) else { return false }
        let flags: UInt32 = cmd.has("inactive") ? 1 : 0
        guard let xml = await shell.call({ try await net.xmlDesc(flags: flags) }) else { return false }
        if xpath != nil {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        shell.print(xml)
        return true
    }

    static func fromFile(_ name: String, summary: String, description: String, failure: String, success: String,
                         _ op: @escaping @MainActor @Sendable (Shell, String, UInt32) async throws -> Network)
        -> CommandDefinition {
        CommandDefinition(
            name, summary: summary, description: description,
            options: [.file("file containing an XML network description"),
                      .flag("validate", "validate the XML against the schema")]
        ) { shell, cmd in
            let (ok, file) = shell.stringOption(cmd, "file")
            guard ok else { return false }
            guard let file else {
                shell.error("Failed to get option 'file': Mandatory option not present")
                return false
            }
            guard let xml = shell.readFile(file) else { return false }
            let flags: UInt32 = cmd.has("validate") ? 1 : 0
            guard let net = await shell.call({ try await op(shell, xml, flags) }) else {
                shell.error("\(failure) \(file)")
                return false
            }
            shell.printExtra("Network \(net.name) \(success) \(file)\n")
            return true
        }
    }

    static let define = fromFile(
        "net-define",
        summary: "define an inactive persistent virtual network or modify an existing persistent one from an XML file",
        description: "Define or modify a persistent virtual network.", failure: "Failed to define network from",
        success: "defined from") { shell, xml, flags in try await shell.conn.defineNetwork(xml: xml, flags: flags) }

    static let create = fromFile(
        "net-create", summary: "create a network from an XML file", description: "Create a network.",
        failure: "Failed to create network from", success: "created from"
    ) { shell, xml, flags in try await shell.conn.createNetwork(xml: xml, flags: flags) }

    static func simple(_ name: String, summary: String, description: String, failure: String, success: String,
                       _ op: @escaping @Sendable (Network) async throws -> Void) -> CommandDefinition {
        CommandDefinition(name, summary: summary, description: description, options: [networkOption()]) { shell, cmd in
            guard let net = await lookup(shell, cmd) else { return false }
            guard await shell.call({ try await op(net) }) != nil else {
                shell.error("\(failure) \(net.name)")
                return false
            }
            shell.printExtra("Network \(net.name) \(success)\n")
            return true
        }
    }

    static let start = simple("net-start", summary: "start a (previously defined) inactive network",
                              description: "Start a network.", failure: "Failed to start network",
                              success: "started") { try await $0.start() }

    static let destroy = simple("net-destroy", summary: "destroy (stop) a network",
                                description: "Forcefully stop a given network.", failure: "Failed to destroy network",
                                success: "destroyed") { try await $0.destroy() }

    static let undefine = simple("net-undefine", summary: "undefine a persistent network",
                                 description: "Undefine the configuration for a persistent network.",
                                 failure: "Failed to undefine network", success: "has been undefined") {
        try await $0.undefine()
    }

    static let autostart = CommandDefinition(
        "net-autostart", summary: "autostart a network",
        description: "Configure a network to be automatically started at boot.",
        options: [networkOption(), .flag("disable", "disable autostarting")]
    ) { shell, cmd in
        guard let net = await lookup(shell, cmd) else { return false }
        let on = !cmd.has("disable")
        guard await shell.call({ try await net.setAutostart(on) }) != nil else {
            shell.error("failed to \(on ? "mark" : "unmark") network \(net.name) as autostarted")
            return false
        }
        shell.printExtra("Network \(net.name) \(on ? "marked" : "unmarked") as autostarted\n")
        return true
    }

    static let uuid = CommandDefinition(
        "net-uuid", summary: "convert a network name to network UUID", options: [networkOption("network name")]
    ) { shell, cmd in
        guard let net = await lookup(shell, cmd, by: .name) else { return false }
        shell.print("\(net.uuid)\n")
        return true
    }

    static let name = CommandDefinition(
        "net-name", summary: "convert a network UUID to network name", options: [networkOption("network uuid")]
    ) { shell, cmd in
        guard let net = await lookup(shell, cmd, by: .uuid) else { return false }
        shell.print("\(net.name)\n")
        return true
    }

    static let list = CommandDefinition(
        "net-list", summary: "list networks", description: "Returns list of networks.",
        options: [
            .flag("inactive", "list inactive networks"),
            .flag("all", "list inactive & active networks"),
            .flag("persistent", "list persistent networks"),
            .flag("transient", "list transient networks"),
            .flag("autostart", "list networks with autostart enabled"),
            .flag("no-autostart", "list networks with autostart disabled"),
            .flag("uuid", "list uuid's only"),
            .flag("name", "list network names only"),
            .flag("table", "list table (default)"),
        ]
    ) { shell, cmd in
        var flags: NetworkListFlags = .active
        if cmd.has("inactive") { flags = .inactive }
        if cmd.has("all") { flags = [.active, .inactive] }
        if cmd.has("persistent") { flags.insert(.persistent) }
        if cmd.has("transient") { flags.insert(.transient) }
        if cmd.has("autostart") { flags.insert(.autostart) }
        if cmd.has("no-autostart") { flags.insert(.noAutostart) }
        let optUUID = cmd.has("uuid"), optName = cmd.has("name")
        var optTable = cmd.has("table")
        if [optTable, optUUID, optName].filter({ $0 }).count > 1 {
            shell.error("Only one argument from --table, --name and --uuid may be specified.")
            return false
        }
        if !optUUID && !optName { optTable = true }
        guard var nets = await shell.call({ try await shell.conn.listAllNetworks(flags: flags) }) else {
            shell.error("Failed to list networks")
            return false
        }
        nets.sort { $0.name.lowercased() < $1.name.lowercased() }
        if optTable {
            var table = Table(header: ["Name", "State", "Autostart", "Persistent"])
            for n in nets {
                let auto = await shell.call({ try await n.autostart() }).map { $0 ? "yes" : "no" } ?? "no autostart"
                let active = await shell.call({ try await n.isActive() }) ?? false
                let persistent = await shell.call({ try await n.isPersistent() }) ?? false
                table.append([n.name, active ? "active" : "inactive", auto, persistent ? "yes" : "no"])
            }
            shell.lastError = nil
            shell.print(table.render(header: !shell.quiet))
        } else {
            for n in nets { shell.print(optUUID ? "\(n.uuid)\n" : "\(n.name)\n") }
        }
        return true
    }

    /// virsh's names of `virNetworkUpdateCommand` ("add" is "add-last").
    static let commandNames = ["none", "modify", "delete", "add-last", "add-first"]

    static let update = CommandDefinition(
        "net-update", summary: "update parts of an existing network's configuration",
        options: [
            networkOption(),
            .data("command", "type of update (add-first, add-last (add), delete, or modify)"),
            .data("section", "which section of network configuration to update"),
            .data("xml", "name of file containing xml (or, if it starts with '<', the complete xml element itself) "
                  + "to add/modify, or to be matched for search"),
            .int("parent-index", "which parent object to search through"),
            .flag("config", "affect next network startup"),
            .flag("live", "affect running network"),
            .flag("current", "affect current state of network"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config") else { return false }
        guard let net = await lookup(shell, cmd) else { return false }
        guard let commandText = cmd.value("command") else { return false }
        let command: NetworkUpdateCommand
        if commandText == "add" {
            command = .addLast
        } else if let i = commandNames.firstIndex(of: commandText), i > 0, let c = NetworkUpdateCommand(rawValue: UInt32(i)) {
            command = c
        } else {
            shell.error("unrecognized command name '\(commandText)'")
            return false
        }
        guard let sectionText = cmd.value("section") else { return false }
        guard let section = NetworkUpdateSection.allCases.first(where: { $0.name == sectionText }), section != .none else {
            shell.error("unrecognized section name '\(sectionText)'")
            return false
        }
        let (pok, parent) = HostCommands.intOption(shell, cmd, "parent-index")
        guard pok else { return false }
        guard let affected = cmd.value("xml") else { return false }
        var xml = affected
        if !affected.hasPrefix("<") {
            guard let text = shell.readFile(affected) else {
                shell.reportError()
                return false
            }
            xml = text
        }
        let config = cmd.has("config"), live = cmd.has("live")
        var flags: NetworkUpdateFlags = []
        if config { flags.insert(.config) }
        if live { flags.insert(.live) }
        let driverFlags = flags
        guard await shell.call({
            try await net.update(command: command, section: section, parentIndex: parent ?? -1, xml: xml,
                                 flags: driverFlags)
        }) != nil else {
            shell.error("Failed to update network \(net.name)")
            shell.reportError()
            return false
        }
        if config {
            shell.printExtra(live ? "Updated network \(net.name) persistent config and live state"
                                  : "Updated network \(net.name) persistent config")
        } else if live {
            shell.printExtra("Updated network \(net.name) live state")
        } else if await shell.call({ try await net.isActive() }) == true {
            shell.printExtra("Updated network \(net.name) live state")
        } else {
            shell.printExtra("Updated network \(net.name) persistent config")
        }
        shell.lastError = nil
        return true
    }

    static let dhcpLeases = CommandDefinition(
        "net-dhcp-leases", summary: "print lease info for a given network",
        description: "Print lease info for a given network",
        options: [networkOption(), .string("mac", "MAC address", requiresName: true)]
    ) { shell, cmd in
        let (ok, mac) = shell.stringOption(cmd, "mac")
        guard ok, let net = await lookup(shell, cmd) else { return false }
        guard var leases = await shell.call({ try await net.dhcpLeases(mac: mac) }) else {
            shell.error("Failed to get leases info for \(net.name)")
            return false
        }
        leases.sort { ($0.mac ?? $0.iaid ?? "") < ($1.mac ?? $1.iaid ?? "") }
        var table = Table(header: ["Expiry Time", "MAC address", "Protocol", "IP address", "Hostname",
                                   "Client ID or DUID"])
        for l in leases {
            var t = time_t(l.expiryTime)
            var tmv = tm()
            localtime_r(&t, &tmv)
            var buf = [CChar](repeating: 0, count: 64)
            let n = strftime(&buf, buf.count, "%Y-%m-%d %H:%M:%S", &tmv)
            let when = String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            table.append([when, l.mac ?? "", l.type == 0 ? "ipv4" : "ipv6", "\(l.ipaddr)/\(l.prefix)",
                          l.hostname ?? "-", l.clientID ?? "-"])
        }
        shell.print(table.render(header: !shell.quiet))
        return true
    }

    static let eventNames = ["lifecycle"]
    static let lifecycleNames = ["Defined", "Undefined", "Started", "Stopped"]

    static let event = EventCommands.objectEvent(
        "net-event", summary: "Network Events", description: "List event types, or wait for network events to occur",
        object: "network", objectHelp: "filter by network name or uuid", eventNames: eventNames,
        lookup: { shell, cmd in await lookup(shell, cmd)?.uuid },
        subscribe: { shell in try await shell.conn.networkEvents() },
        describe: { ev in
            EventCommands.ObjectEvent(key: ev.network.uuid, eventID: ev.eventID,
                                      text: "for network \(ev.network.name): "
                                          + EventCommands.lifecycleName(ev.event.rawValue, lifecycleNames))
        })
}
