import Virt

/// Network filter commands (virsh-nwfilter.c): filters and their bindings. They drive the connection's network
/// filter driver, which is a daemon's: libvirtd's answers for real; virtd and the test driver have none and answer
/// NO_SUPPORT, as libvirt's test driver does.
enum NWFilterCommands {
    /// In virsh's table order.
    static let all: [CommandDefinition] = [define, dumpxml, edit, list, undefine, bindingCreate, bindingDelete,
                                           bindingDumpxml, bindingList]

    /// virshCommandOptNWFilter: by UUID when the value has a UUID's length, else (or then) by name.
    @MainActor
    static func lookup(_ shell: Shell, _ cmd: ParsedCommand) async -> NWFilterRef? {
        let (ok, value) = shell.stringOption(cmd, "nwfilter")
        guard ok, let value else { return nil }
        var found: NWFilterRef?
        if value.utf8.count == 36, let uuid = VirtUUID(string: value) {
            found = await shell.call { try await shell.conn.nwfilters("virNWFilterLookupByUUID").lookupNWFilter(uuid: uuid) }
        }
        if found == nil {
            found = await shell.call { try await shell.conn.nwfilters("virNWFilterLookupByName").lookupNWFilter(name: value) }
        }
        if found == nil { shell.error("failed to get nwfilter '\(value)'") }
        return found
    }

    @MainActor
    static func lookupBinding(_ shell: Shell, _ cmd: ParsedCommand) async -> NWFilterBindingRef? {
        let (ok, value) = shell.stringOption(cmd, "binding")
        guard ok, let value else { return nil }
        guard let b = await shell.call({
            try await shell.conn.nwfilters("virNWFilterBindingLookupByPortDev").lookupNWFilterBinding(portDev: value)
        }) else {
            shell.error("failed to get nwfilter binding '\(value)'")
            return nil
        }
        return b
    }

    static let define = CommandDefinition(
        "nwfilter-define", summary: "define or update a network filter from an XML file",
        description: "Define a new network filter or update an existing one.",
        options: [.file("file containing an XML network filter description"),
                  .flag("validate", "validate the XML against the schema")]
    ) { shell, cmd in
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file else { return false }
        guard let xml = shell.readFile(file) else { return false }
        let flags: UInt32 = cmd.has("validate") ? 1 : 0
        let api = flags == 0 ? "virNWFilterDefineXML" : "virNWFilterDefineXMLFlags"
        guard let f = await shell.call({ try await shell.conn.nwfilters(api, modifying: true).defineNWFilter(xml: xml, flags: flags) })
        else {
            shell.error("Failed to define network filter from \(file)")
            return false
        }
        shell.printExtra("Network filter \(f.name) defined from \(file)\n")
        return true
    }

    static let undefine = CommandDefinition(
        "nwfilter-undefine", summary: "undefine a network filter", description: "Undefine a given network filter.",
        options: [.data("nwfilter", "network filter name or uuid")]
    ) { shell, cmd in
        guard let f = await lookup(shell, cmd) else { return false }
        guard await shell.call({ try await shell.conn.nwfilters("virNWFilterUndefine", modifying: true).undefineNWFilter(f) })
                != nil else {
            shell.error("Failed to undefine network filter \(cmd.value("nwfilter") ?? f.name)")
            return false
        }
        shell.printExtra("Network filter \(cmd.value("nwfilter") ?? f.name) undefined\n")
        return true
    }

    static let dumpxml = CommandDefinition(
        "nwfilter-dumpxml", summary: "network filter information in XML",
        description: "Output the network filter information as an XML dump to stdout.",
        options: [.data("nwfilter", "network filter name or uuid"),
                  .string("xpath", "xpath expression to filter the XML document", requiresName: true),
                  .flag("wrap", "wrap xpath results in an common root element")]
    ) { shell, cmd in
        guard let f = await lookup(shell, cmd) else { return false }
        guard let xml = await shell.call({ try await shell.conn.nwfilters("virNWFilterGetXMLDesc").nwfilterXML(f, flags: 0) })
        else { return false }
        if cmd.has("xpath") {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        shell.print(xml)
        return true
    }

    static let list = CommandDefinition(
        "nwfilter-list", summary: "list network filters", description: "Returns list of network filters.", options: []
    ) { shell, _ in
        var filters: [NWFilterRef]
        if let all = await shell.call({ try await shell.conn.nwfilters("virConnectListAllNWFilters").listAllNWFilters(flags: 0) }) {
            filters = all
        } else {
            // virsh falls back to the old calls when the daemon does not know the new one.
            guard shell.lastError?.code == .noSupport else {
                shell.error("Failed to list network filters")
                return false
            }
            shell.lastError = nil
            guard let n = await shell.call({ try await shell.conn.nwfilters("virConnectNumOfNWFilters").numOfNWFilters() })
            else {
                shell.error("Failed to count network filters")
                return false
            }
            filters = []
            if n > 0 {
                guard let names = await shell.call({
                    try await shell.conn.nwfilters("virConnectListNWFilters").listNWFilters(max: n)
                }) else {
                    shell.error("Failed to list network filters")
                    return false
                }
                for name in names {
                    if let f = await shell.call({
                        try await shell.conn.nwfilters("virNWFilterLookupByName").lookupNWFilter(name: name)
                    }) { filters.append(f) }
                }
                shell.lastError = nil
            }
        }
        // vshStrcasecmp on the names.
        filters.sort { $0.name.lowercased() < $1.name.lowercased() }
        var table = Table(header: ["UUID", "Name"])
        for f in filters { table.append([f.uuid.description, f.name]) }
        shell.print(table.render(header: !shell.quiet))
        return true
    }

    static let edit = CommandDefinition(
        "nwfilter-edit", summary: "edit XML configuration for a network filter",
        description: "Edit the XML configuration for a network filter.",
        options: [.data("nwfilter", "network filter name or uuid")]
    ) { shell, cmd in
        guard let f = await lookup(shell, cmd) else { return false }
        let getXML = { () async -> String? in
            await shell.call({ try await shell.conn.nwfilters("virNWFilterGetXMLDesc").nwfilterXML(f, flags: 0) })
        }
        switch await XMLEditor.cycle(shell, getXML: getXML, define: { edited in
            await shell.call({
                try await shell.conn.nwfilters("virNWFilterDefineXML", modifying: true).defineNWFilter(xml: edited, flags: 0)
            })
        }) {
        case .failed:
            return false
        case .unchanged:
            shell.printExtra("Network filter \(f.name) XML configuration not changed.\n")
        case .defined(let def):
            shell.printExtra("Network filter \(def?.name ?? "(null)") XML configuration edited.\n")
        }
        return true
    }

    static let bindingCreate = CommandDefinition(
        "nwfilter-binding-create", summary: "create a network filter binding from an XML file",
        description: "Create a new network filter binding.",
        options: [.file("file containing an XML network filter binding description"),
                  .flag("validate", "validate the XML against the schema")]
    ) { shell, cmd in
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file else { return false }
        guard let xml = shell.readFile(file) else { return false }
        let flags: UInt32 = cmd.has("validate") ? 1 : 0
        guard let b = await shell.call({
            try await shell.conn.nwfilters("virNWFilterBindingCreateXML", modifying: true).createNWFilterBinding(xml: xml, flags: flags)
        }) else {
            shell.error("Failed to create network filter from \(file)")
            return false
        }
        shell.printExtra("Network filter binding on \(b.portDev) created from \(file)\n")
        return true
    }

    static let bindingDelete = CommandDefinition(
        "nwfilter-binding-delete", summary: "delete a network filter binding",
        description: "Delete a given network filter binding.",
        options: [.data("binding", "network filter binding port dev")]
    ) { shell, cmd in
        guard let b = await lookupBinding(shell, cmd) else { return false }
        guard await shell.call({
            try await shell.conn.nwfilters("virNWFilterBindingDelete", modifying: true).deleteNWFilterBinding(b)
        }) != nil else {
            shell.error("Failed to delete network filter binding on \(b.portDev)")
            return false
        }
        shell.printExtra("Network filter binding on \(b.portDev) deleted\n")
        return true
    }

    static let bindingDumpxml = CommandDefinition(
        "nwfilter-binding-dumpxml", summary: "network filter information in XML",
        description: "Output the network filter information as an XML dump to stdout.",
        options: [.data("binding", "network filter binding portdev"),
                  .string("xpath", "xpath expression to filter the XML document", requiresName: true),
                  .flag("wrap", "wrap xpath results in an common root element")]
    ) { shell, cmd in
        guard let b = await lookupBinding(shell, cmd) else { return false }
        guard let xml = await shell.call({
            try await shell.conn.nwfilters("virNWFilterBindingGetXMLDesc").nwfilterBindingXML(b, flags: 0)
        }) else { return false }
        if cmd.has("xpath") {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        shell.print(xml)
        return true
    }

    static let bindingList = CommandDefinition(
        "nwfilter-binding-list", summary: "list network filter bindings",
        description: "Returns list of network filter bindings.", options: []
    ) { shell, _ in
        guard var bindings = await shell.call({
            try await shell.conn.nwfilters("virConnectListAllNWFilterBindings").listAllNWFilterBindings(flags: 0)
        }) else {
            shell.error("Failed to list network filter bindings")
            return false
        }
        bindings.sort { $0.portDev.lowercased() < $1.portDev.lowercased() }
        var table = Table(header: ["Port Dev", "Filter"])
        for b in bindings { table.append([b.portDev, b.filterName]) }
        shell.print(table.render(header: !shell.quiet))
        return true
    }
}
