import Virt

#if canImport(Glibc)
import Glibc
#endif

/// net-edit and the network port commands (virsh-network.c).
extension NetworkCommands {
    static let edit = CommandDefinition(
        "net-edit", summary: "edit XML configuration for a network",
        description: "Edit the XML configuration for a network.",
        options: [networkOption()]
    ) { shell, cmd in
        guard let net = await lookup(shell, cmd) else { return false }
        // virshNetworkGetXMLDesc: the inactive XML, or the live one from a server that refuses the flag.
        let getXML = { () async -> String? in
            var xml = await shell.call({ try await net.xmlDesc(flags: 1) })
            if xml == nil, shell.lastError?.code == .invalidArg {
                shell.lastError = nil
                xml = await shell.call({ try await net.xmlDesc(flags: 0) })
            }
            return xml
        }
        switch await XMLEditor.cycle(shell, getXML: getXML, define: { edited in
            await shell.call({ try await shell.conn.defineNetwork(xml: edited) })
        }) {
        case .failed:
            return false
        case .unchanged:
            shell.printExtra("Network \(net.name) XML configuration not changed.\n")
        case .defined(let def):
            shell.printExtra("Network \(def?.name ?? "(null)") XML configuration edited.\n")
        }
        return true
    }

    static let portList = CommandDefinition(
        "net-port-list", summary: "list network ports", description: "Returns list of network ports.",
        options: [networkOption(), .flag("uuid", "list uuid's only"), .flag("table", "list table (default)")]
    ) { shell, cmd in
        guard let net = await lookup(shell, cmd) else { return false }
        guard var ports = await shell.call({ try await net.listAllPorts() }) else { return false }
        ports.sort { $0.description < $1.description }
        if cmd.has("uuid") {
            for p in ports { shell.print("\(p)\n") }
        } else {
            var table = Table(header: ["UUID"])
            for p in ports { table.append([p.description]) }
            shell.print(table.render(header: !shell.quiet))
        }
        return true
    }

    static let portCreate = CommandDefinition(
        "net-port-create", summary: "create a network port from an XML file", description: "Create a network port.",
        options: [networkOption(), .file("file containing an XML network port description"),
                  .flag("validate", "validate the XML against the schema")]
    ) { shell, cmd in
        guard let net = await lookup(shell, cmd) else { return false }
        guard let file = cmd.value("file"), let xml = shell.readFile(file) else { return false }
        let flags: UInt32 = cmd.has("validate") ? 1 : 0
        guard let port = await shell.call({ try await net.createPort(xml: xml, flags: flags) }) else {
            // virsh 9.0's own words for this failure.
            shell.error("Failed to create network from \(file)")
            return false
        }
        shell.printExtra("Network port \(port) created from \(file)\n")
        return true
    }

    /// The port named by `--port` (`virshCommandOptNetworkPort`): virsh prints only its own line on failure.
    @MainActor
    static func lookupPort(_ shell: Shell, _ cmd: ParsedCommand, _ net: Network) async -> VirtUUID? {
        guard let text = cmd.value("port") else { return nil }
        var found: VirtUUID?
        if let u = VirtUUID(string: text) { found = await shell.call { try await net.lookupPort(uuid: u) } }
        if found == nil {
            shell.lastError = nil
            shell.error("failed to get network port '\(text)'")
        }
        return found
    }

    static let portDumpxml = CommandDefinition(
        "net-port-dumpxml", summary: "network port information in XML",
        description: "Output the network port information as an XML dump to stdout.",
        options: [networkOption(), .data("port", "port UUID"),
                  .string("xpath", "xpath expression to filter the XML document", requiresName: true),
                  .flag("wrap", "wrap xpath results in an common root element")]
    ) { shell, cmd in
        let (ok, xpath) = shell.stringOption(cmd, "xpath")
        guard ok, let net = await lookup(shell, cmd) else { return false }
        // virsh 9.0 reports success when the port lookup fails.
        guard let port = await lookupPort(shell, cmd, net) else { return true }
        guard let xml = await shell.call({ try await net.portXMLDesc(uuid: port) }) else { return false }
        if xpath != nil {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        shell.print(xml)
        return true
    }

    static let portDelete = CommandDefinition(
        "net-port-delete", summary: "delete the specified network port",
        description: "Delete the specified network port.",
        options: [networkOption(), .data("port", "port UUID")]
    ) { shell, cmd in
        guard let net = await lookup(shell, cmd) else { return false }
        // virsh 9.0 reports success when the port lookup fails.
        guard let port = await lookupPort(shell, cmd, net) else { return true }
        guard await shell.call({ try await net.deletePort(uuid: port) }) != nil else {
            shell.error("Failed to delete network port \(port)")
            return false
        }
        shell.printExtra("Network port \(port) deleted\n")
        return true
    }
}
