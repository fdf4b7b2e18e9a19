import Virt

/// desc and metadata (virsh-domain.c): a domain's description, title and namespaced metadata elements.
/// `--edit` (an editor) is accepted by the parser but not supported.
extension DomainCommands {
    static let metadataCommands: [CommandDefinition] = [desc, metadata, injectNMI]

    static let injectNMI = CommandDefinition(
        "inject-nmi", summary: "Inject NMI to the guest", description: "Inject NMI to the guest domain.",
        options: [.domain()]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        return await shell.call({ try await dom.injectNMI() }) != nil
    }

    private static func impact(_ cmd: ParsedCommand) -> ModificationImpact {
        var flags: ModificationImpact = []
        if cmd.has("config") { flags.insert(.config) }
        if cmd.has("live") { flags.insert(.live) }
        return flags
    }

    static let desc = CommandDefinition(
        "desc", summary: "show or set domain's description or title",
        description: "Allows setting or modifying the description or title of a domain.",
        options: [
            .domain(),
            .flag("live", "modify/get running state"),
            .flag("config", "modify/get persistent configuration"),
            .flag("current", "modify/get current state configuration"),
            .flag("title", "modify/get the title instead of description"),
            .flag("edit", "open an editor to modify the description"),
            OptionDefinition(name: "new-desc", kind: .argv, emptyOK: true, help: "message"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config") else { return false }
        let title = cmd.has("title")
        let flags = impact(cmd)
        guard let dom = await shell.domainOption(cmd) else { return false }
        let type: DomainMetadataType = title ? .title : .description
        let words = cmd.values("new-desc")
        if cmd.has("edit") {
            shell.error("editing is not supported by this shell")
            return false
        }
        if cmd.has("new-desc") {
            let text = words.joined(separator: " ")
            if await shell.call({ try await dom.setMetadata(type, text, flags: flags) }) == nil {
                shell.error(title ? "Failed to set new domain title" : "Failed to set new domain description")
                return false
            }
            shell.printExtra(title ? "Domain title updated successfully" : "Domain description updated successfully")
            return true
        }
        // virshGetDomainDescription: the query uses the XML's inactive flag for --config (the same bit).
        let query: ModificationImpact = cmd.has("config") ? .config : []
        var text = await shell.call({ try await dom.metadata(type, flags: query) })
        if text == nil {
            switch shell.lastError?.code {
            case .noDomainMetadata?:
                shell.lastError = nil
                text = ""
            case .noSupport?:
                shell.lastError = nil
                guard let root = await MonitorCommands.domainXML(shell, dom, inactive: cmd.has("config")) else {
                    return false
                }
                text = root.child(title ? "title" : "description")?.text ?? ""
            default:
                return false
            }
        }
        if let text, !text.isEmpty {
            shell.print(text)
        } else {
            shell.printExtra("No \(title ? "title" : "description") for domain: \(dom.name)")
        }
        return true
    }

    static let metadata = CommandDefinition(
        "metadata", summary: "show or set domain's custom XML metadata",
        description: "Shows or modifies the XML metadata of a domain.",
        options: [
            .domain(),
            .data("uri", "URI of the namespace"),
            .flag("live", "modify/get running state"),
            .flag("config", "modify/get persistent configuration"),
            .flag("current", "modify/get current state configuration"),
            .flag("edit", "use an editor to change the metadata"),
            .string("key", "key to be used as a namespace identifier", requiresName: true),
            .string("set", "new metadata to set", requiresName: true),
            .flag("remove", "remove the metadata corresponding to an uri"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "edit", "set"), shell.exclusive(cmd, "remove", "set"),
              shell.exclusive(cmd, "remove", "edit"), shell.exclusive(cmd, "current", "live"),
              shell.exclusive(cmd, "current", "config") else { return false }
        let flags = impact(cmd)
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok1, uri) = shell.stringOption(cmd, "uri")
        guard ok1 else { return false }
        let (ok2, key) = shell.stringOption(cmd, "key")
        guard ok2 else { return false }
        let (ok3, set) = shell.stringOption(cmd, "set")
        guard ok3 else { return false }
        let remove = cmd.has("remove"), edit = cmd.has("edit")
        if (set != nil || edit) && key == nil {
            shell.error("namespace key is required when modifying metadata")
            return false
        }
        if set != nil || remove {
            guard await shell.call({ try await dom.setMetadata(.element, set, key: key, uri: uri, flags: flags) }) != nil
            else { return false }
            shell.printExtra(remove ? "Metadata removed\n" : "Metadata modified\n")
            return true
        }
        if edit {
            shell.error("editing is not supported by this shell")
            return false
        }
        guard let data = await shell.call({ try await dom.metadata(.element, uri: uri, flags: flags) }) else {
            return false
        }
        shell.print(data + "\n")
        return true
    }
}
