import Virt

/// Storage pool commands (virsh-pool.c).
enum StoragePoolCommands {
    /// In virsh's order (pool-edit is not there yet).
    static let all: [CommandDefinition] = [findSourcesAs, findSources, autostart, build, createAs, create, defineAs,
                                           define, delete, destroy, dumpxml, info, list, name, refresh, start,
                                           undefine, uuid, event, capabilities, edit]

    static let capabilities = CommandDefinition(
        "pool-capabilities", summary: "storage pool capabilities",
        description: "Returns capabilities of storage pool support."
    ) { shell, _ in
        guard let xml = await shell.call({ try await shell.conn.storagePoolCapabilities() }) else {
            shell.error("failed to get storage pool capabilities")
            return false
        }
        shell.print(xml)
        return true
    }

    @MainActor
    static func findSources(_ shell: Shell, type: String, spec: String?) async -> Bool {
        guard let xml = await shell.call({ try await shell.conn.findStoragePoolSources(type: type, spec: spec) }) else {
            shell.error("Failed to find any \(type) pool sources")
            return false
        }
        shell.print(xml)
        return true
    }

    static let findSources = CommandDefinition(
        "find-storage-pool-sources", summary: "discover potential storage pool sources",
        description: "Returns XML <sources> document.",
        options: [.data("type", "type of storage pool sources to discover"),
                  .string("srcSpec", "optional file of source xml to query for pools", requiresName: true)]
    ) { shell, cmd in
        guard let type = requiredString(shell, cmd, "type") else { return false }
        let (ok, file) = shell.stringOption(cmd, "srcSpec")
        guard ok else { return false }
        var spec: String?
        if let file {
            guard let text = shell.readFile(file) else { return false }
            spec = text
        }
        return await findSources(shell, type: type, spec: spec)
    }

    static let findSourcesAs = CommandDefinition(
        "find-storage-pool-sources-as", summary: "find potential storage pool sources",
        description: "Returns XML <sources> document.",
        options: [.data("type", "type of storage pool sources to find"), .string("host", "optional host to query"),
                  .string("port", "optional port to query"),
                  .string("initiator", "optional initiator IQN to use for query")]
    ) { shell, cmd in
        guard let type = requiredString(shell, cmd, "type") else { return false }
        var v: [String: String] = [:]
        for o in ["host", "port", "initiator"] {
            let (ok, value) = shell.stringOption(cmd, o)
            guard ok else { return false }
            if let value { v[o] = value }
        }
        var spec: String?
        if let host = v["host"] {
            var x = "<source>\n  <host name='\(host)'"
            if let port = v["port"] { x += " port='\(port)'" }
            x += "/>\n"
            if let iqn = v["initiator"] { x += "  <initiator>\n    <iqn name='\(iqn)'/>\n  </initiator>\n" }
            spec = x + "</source>\n"
        }
        return await findSources(shell, type: type, spec: spec)
    }

    /// virsh's `virshStoragePoolStateToString`.
    static let stateNames = ["inactive", "building", "running", "degraded", "inaccessible"]

    static func stateName(_ s: Int32) -> String { s >= 0 && Int(s) < stateNames.count ? stateNames[Int(s)] : "unknown" }

    /// virsh's `vshPrettyCapacity` printed as "%.2lf %s".
    static func capacity(_ v: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(v)
        var i = 0
        while value >= 1024 && i < units.count - 1 {
            value /= 1024
            i += 1
        }
        return Format.fixed(value, 2) + " " + units[i]
    }

    static func poolOption(_ help: String = "pool name or uuid") -> OptionDefinition { .data("pool", help) }

    /// The pool named by option `option` (`virshCommandOptPoolBy`): by UUID, then by name.
    @MainActor
    static func lookup(_ shell: Shell, _ cmd: ParsedCommand, option: String = "pool", byUUID: Bool = true,
                       byName: Bool = true) async -> StoragePool? {
        let (ok, value) = shell.stringOption(cmd, option)
        guard ok else { return nil }
        guard let value else {
            shell.error("Failed to get option '\(option)': Mandatory option not present")
            return nil
        }
        return await lookup(shell, value, byUUID: byUUID, byName: byName)
    }

    @MainActor
    static func lookup(_ shell: Shell, _ value: String, byUUID: Bool = true,
                       byName: Bool = true) async -> StoragePool? {
        var pool: StoragePool?
        if byUUID && value.utf8.count == 36 {
            pool = await shell.call { try await shell.conn.lookupStoragePool(uuidString: value) }
        }
        if pool == nil && byName {
            pool = await shell.call { try await shell.conn.lookupStoragePool(name: value) }
        }
        if pool == nil {
            shell.error("failed to get pool '\(value)'")
        } else {
            shell.lastError = nil
        }
        return pool
    }

    @MainActor
    static func requiredString(_ shell: Shell, _ cmd: ParsedCommand, _ name: String) -> String? {
        let (ok, value) = shell.stringOption(cmd, name)
        guard ok else { return nil }
        guard let value else {
            shell.error("Failed to get option '\(name)': Mandatory option not present")
            return nil
        }
        return value
    }

    static let buildFlags: [OptionDefinition] = [
        .flag("build", "build the pool as normal"),
        .flag("no-overwrite", "do not overwrite any existing data"),
        .flag("overwrite", "overwrite any existing data"),
    ]

    /// `VIR_STORAGE_POOL_CREATE_WITH_BUILD*` from --build, --overwrite, --no-overwrite.
    @MainActor
    static func createFlags(_ shell: Shell, _ cmd: ParsedCommand) -> UInt32? {
        guard shell.exclusive(cmd, "overwrite", "no-overwrite") else { return nil }
        var flags: UInt32 = 0
        if cmd.has("build") { flags |= 1 }
        if cmd.has("overwrite") { flags |= 2 }
        if cmd.has("no-overwrite") { flags |= 4 }
        return flags
    }

    static let define = CommandDefinition(
        "pool-define",
        summary: "define an inactive persistent storage pool or modify an existing persistent one from an XML file",
        description: "Define or modify a persistent storage pool.",
        options: [.file("file containing an XML pool description"),
                  .flag("validate", "validate the XML against the schema")]
    ) { shell, cmd in
        guard let file = requiredString(shell, cmd, "file"), let xml = shell.readFile(file) else { return false }
        let flags: UInt32 = cmd.has("validate") ? 1 : 0
        guard let pool = await shell.call({ try await shell.conn.defineStoragePool(xml: xml, flags: flags) }) else {
            shell.error("Failed to define pool from \(file)")
            return false
        }
        shell.printExtra("Pool \(pool.name) defined from \(file)\n")
        return true
    }

    static let create = CommandDefinition(
        "pool-create", summary: "create a pool from an XML file",
        description: "Create a pool.",
        options: [.file("file containing an XML pool description")] + buildFlags
    ) { shell, cmd in
        guard let file = requiredString(shell, cmd, "file"), let flags = createFlags(shell, cmd),
              let xml = shell.readFile(file) else { return false }
        guard let pool = await shell.call({ try await shell.conn.createStoragePool(xml: xml, flags: flags) }) else {
            shell.error("Failed to create pool from \(file)")
            return false
        }
        shell.printExtra("Pool \(pool.name) created from \(file)\n")
        return true
    }

    static let asOptions: [OptionDefinition] = [
        .data("name", "name of the pool"),
        .data("type", "type of the pool"),
        .flag("print-xml", "print XML document, but don't define/create"),
        .string("source-host", "source-host for underlying storage"),
        .string("source-path", "source path for underlying storage"),
        .string("source-dev", "source device for underlying storage"),
        .string("source-name", "source name for underlying storage"),
        .string("target", "target for underlying storage"),
        .string("source-format", "format for underlying storage", requiresName: true),
        .string("auth-type", "auth type to be used for underlying storage", requiresName: true),
        .string("auth-username", "auth username to be used for underlying storage", requiresName: true),
        .string("secret-usage", "auth secret usage to be used for underlying storage", requiresName: true),
        .string("secret-uuid", "auth secret UUID to be used for underlying storage", requiresName: true),
        .string("adapter-name", "adapter name to be used for underlying storage", requiresName: true),
        .string("adapter-wwnn", "adapter wwnn to be used for underlying storage", requiresName: true),
        .string("adapter-wwpn", "adapter wwpn to be used for underlying storage", requiresName: true),
        .string("adapter-parent", "adapter parent scsi_hostN to be used for underlying vHBA storage",
                requiresName: true),
        .string("adapter-parent-wwnn", "adapter parent scsi_hostN wwnn to be used for underlying vHBA storage",
                requiresName: true),
        .string("adapter-parent-wwpn", "adapter parent scsi_hostN wwpn to be used for underlying vHBA storage",
                requiresName: true),
        .string("adapter-parent-fabric-wwn",
                "adapter parent scsi_hostN fabric_wwn to be used for underlying vHBA storage", requiresName: true),
        .string("source-protocol-ver", "nfsvers value for NFS pool mount option", requiresName: true),
        .string("source-initiator", "initiator iqn for underlying storage", requiresName: true),
    ]

    /// virsh's `virshBuildPoolXML`.
    @MainActor
    static func buildXML(_ shell: Shell, _ cmd: ParsedCommand) -> (name: String, xml: String)? {
        var v: [String: String] = [:]
        for o in asOptions where o.name != "print-xml" {
            let (ok, value) = shell.stringOption(cmd, o.name)
            guard ok else { return nil }
            if let value { v[o.name] = value }
        }
        guard let name = v["name"] else {
            shell.error("Failed to get option 'name': Mandatory option not present")
            return nil
        }
        guard let type = v["type"] else {
            shell.error("Failed to get option 'type': Mandatory option not present")
            return nil
        }
        var x = "<pool type='\(type)'>\n  <name>\(name)</name>\n"
        let wwnn = v["adapter-wwnn"], wwpn = v["adapter-wwpn"]
        if v["source-host"] != nil || v["source-path"] != nil || v["source-dev"] != nil || v["source-initiator"] != nil
            || v["source-format"] != nil || v["source-name"] != nil || (wwnn != nil && wwpn != nil)
            || v["adapter-name"] != nil {
            x += "  <source>\n"
            if let h = v["source-host"] { x += "    <host name='\(h)'/>\n" }
            if let p = v["source-path"] { x += "    <dir path='\(p)'/>\n" }
            if let d = v["source-dev"] { x += "    <device path='\(d)'/>\n" }
            if let i = v["source-initiator"] { x += "    <initiator>\n      <iqn name='\(i)'/>\n    </initiator>\n" }
            if let wwnn, let wwpn {
                x += "    <adapter type='fc_host'"
                if let p = v["adapter-parent"] {
                    x += " parent='\(p)'"
                } else if let pn = v["adapter-parent-wwnn"], let pp = v["adapter-parent-wwpn"] {
                    x += " parent_wwnn='\(pn)' parent_wwpn='\(pp)'"
                } else if let f = v["adapter-parent-fabric-wwn"] {
                    x += " parent_fabric_wwn='\(f)'"
                }
                x += " wwnn='\(wwnn)' wwpn='\(wwpn)'/>\n"
            } else if let a = v["adapter-name"] {
                x += "    <adapter type='scsi_host' name='\(a)'/>\n"
            }
            if let t = v["auth-type"], let u = v["auth-username"], v["secret-usage"] != nil || v["secret-uuid"] != nil {
                x += "    <auth type='\(t)' username='\(u)'>\n"
                if let s = v["secret-usage"] {
                    x += "      <secret usage='\(s)'/>\n"
                } else if let s = v["secret-uuid"] {
                    x += "      <secret uuid='\(s)'/>\n"
                }
                x += "    </auth>\n"
            }
            if let f = v["source-format"] { x += "    <format type='\(f)'/>\n" }
            if let n = v["source-name"] { x += "    <name>\(n)</name>\n" }
            if let p = v["source-protocol-ver"] { x += "    <protocol ver='\(p)'/>\n" }
            x += "  </source>\n"
        }
        if let t = v["target"] { x += "  <target>\n    <path>\(t)</path>\n  </target>\n" }
        x += "</pool>\n"
        return (name, x)
    }

    static let defineAs = CommandDefinition(
        "pool-define-as", summary: "define a pool from a set of args",
        description: "Define a pool.",
        options: asOptions
    ) { shell, cmd in
        guard let (name, xml) = buildXML(shell, cmd) else { return false }
        if cmd.has("print-xml") {
            shell.print(xml)
            return true
        }
        guard let pool = await shell.call({ try await shell.conn.defineStoragePool(xml: xml) }) else {
            shell.error("Failed to define pool \(name)")
            return false
        }
        shell.printExtra("Pool \(pool.name) defined\n")
        return true
    }

    static let createAs = CommandDefinition(
        "pool-create-as", summary: "create a pool from a set of args",
        description: "Create a pool.",
        options: asOptions + buildFlags
    ) { shell, cmd in
        guard let flags = createFlags(shell, cmd), let (name, xml) = buildXML(shell, cmd) else { return false }
        if cmd.has("print-xml") {
            shell.print(xml)
            return true
        }
        guard let pool = await shell.call({ try await shell.conn.createStoragePool(xml: xml, flags: flags) }) else {
            shell.error("Failed to create pool \(name)")
            return false
        }
        shell.printExtra("Pool \(pool.name) created\n")
        return true
    }

    /// A command on one pool: looks it up, runs `body`, prints `done` or fails with `failed`.
    static func simple(_ name: String, summary: String, description: String, extra: [OptionDefinition] = [],
                       done: @escaping @Sendable (String) -> String, failed: @escaping @Sendable (String) -> String,
                       _ body: @escaping @MainActor @Sendable (StoragePool, ParsedCommand) async throws -> Void)
        -> CommandDefinition {
        CommandDefinition(name, summary: summary, description: description,
                          options: [poolOption()] + extra) { shell, cmd in
            guard let pool = await lookup(shell, cmd) else { return false }
            guard await shell.call({ try await body(pool, cmd) }) != nil else {
                shell.error(failed(pool.name))
                return false
            }
            shell.printExtra(done(pool.name))
            return true
        }
    }

    static let start = CommandDefinition(
        "pool-start", summary: "start a (previously defined) inactive pool",
        description: "Start a pool.",
        options: [poolOption()] + buildFlags
    ) { shell, cmd in
        guard let pool = await lookup(shell, cmd), let flags = createFlags(shell, cmd) else { return false }
        guard await shell.call({ try await pool.start(flags: flags) }) != nil else {
            shell.error("Failed to start pool \(pool.name)")
            return false
        }
        shell.printExtra("Pool \(pool.name) started\n")
        return true
    }

    static let destroy = simple("pool-destroy", summary: "destroy (stop) a pool",
                                description: "Forcefully stop a given pool. Raw data in the pool is untouched",
                                done: { "Pool \($0) destroyed\n" },
                                failed: { "Failed to destroy pool \($0)" }) { p, _ in
        try await p.destroy()
    }

    static let undefine = simple("pool-undefine", summary: "undefine an inactive pool",
                                 description: "Undefine the configuration for an inactive pool.",
                                 done: { "Pool \($0) has been undefined\n" },
                                 failed: { "Failed to undefine pool \($0)" }) { p, _ in
        try await p.undefine()
    }

    static let refresh = simple("pool-refresh", summary: "refresh a pool", description: "Refresh a given pool.",
                                done: { "Pool \($0) refreshed\n" },
                                failed: { "Failed to refresh pool \($0)" }) { p, _ in
        try await p.refresh()
    }

    static let delete = simple("pool-delete", summary: "delete a pool", description: "Delete a given pool.",
                               done: { "Pool \($0) deleted\n" }, failed: { "Failed to delete pool \($0)" }) { p, _ in
        try await p.delete()
    }

    static let build = CommandDefinition(
        "pool-build", summary: "build a pool", description: "Build a given pool.",
        options: [poolOption(), .flag("no-overwrite", "do not overwrite any existing data"),
                  .flag("overwrite", "overwrite any existing data")]
    ) { shell, cmd in
        guard let pool = await lookup(shell, cmd) else { return false }
        let flags: UInt32 = (cmd.has("overwrite") ? 8 : 0) | (cmd.has("no-overwrite") ? 4 : 0)
        guard await shell.call({ try await pool.build(flags: flags) }) != nil else {
            shell.error("Failed to build pool \(pool.name)")
            return false
        }
        shell.printExtra("Pool \(pool.name) built\n")
        return true
    }

    static let autostart = CommandDefinition(
        "pool-autostart", summary: "autostart a pool",
        description: "Configure a pool to be automatically started at boot.",
        options: [poolOption(), .flag("disable", "disable autostarting")]
    ) { shell, cmd in
        guard let pool = await lookup(shell, cmd) else { return false }
        let on = !cmd.has("disable")
        guard await shell.call({ try await pool.setAutostart(on) }) != nil else {
            shell.error(on ? "failed to mark pool \(pool.name) as autostarted"
                           : "failed to unmark pool \(pool.name) as autostarted")
            return false
        }
        shell.printExtra(on ? "Pool \(pool.name) marked as autostarted\n"
                            : "Pool \(pool.name) unmarked as autostarted\n")
        return true
    }

    static let dumpxml = CommandDefinition(
        "pool-dumpxml", summary: "pool information in XML",
        description: "Output the pool information as an XML dump to stdout.",
        options: [
            poolOption(), .flag("inactive", "show inactive defined XML"),
            .string("xpath", "xpath expression to filter the XML document", requiresName: true),
            .flag("wrap", "wrap xpath results in an common root element"),
        ]
    ) { shell, cmd in
        guard let pool = await lookup(shell, cmd) else { return false }
        let flags: UInt32 = cmd.has("inactive") ? 1 : 0
        guard let xml = await shell.call({ try await pool.xmlDesc(flags: flags) }) else { return false }
        if cmd.value("xpath") != nil {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        shell.print(xml)
        return true
    }

    static let info = CommandDefinition(
        "pool-info", summary: "storage pool information",
        description: "Returns basic information about the storage pool.",
        options: [poolOption(), .flag("bytes", "Return pool info in bytes")]
    ) { shell, cmd in
        guard let pool = await lookup(shell, cmd) else { return false }
        @MainActor func line(_ label: String, _ value: String) {
            shell.print(Format.padRight(label, 15) + " " + value + "\n")
        }
        line("Name:", pool.name)
        line("UUID:", pool.uuid.description)
        guard let i = await shell.call({ try await pool.info() }) else { return false }
        line("State:", stateName(i.state))
        let persistent = await shell.call { try await pool.isPersistent() }
        line("Persistent:", persistent.map { $0 ? "yes" : "no" } ?? "unknown")
        let auto = await shell.call { try await pool.autostart() }
        line("Autostart:", auto.map { $0 ? "yes" : "no" } ?? "no autostart")
        shell.lastError = nil
        if i.state == 2 || i.state == 3 {
            let bytes = cmd.has("bytes")
            line("Capacity:", bytes ? String(i.capacity) : capacity(i.capacity))
            line("Allocation:", bytes ? String(i.allocation) : capacity(i.allocation))
            line("Available:", bytes ? String(i.available) : capacity(i.available))
        }
        return true
    }

    static let uuid = CommandDefinition(
        "pool-uuid", summary: "convert a pool name to pool UUID",
        options: [poolOption()]
    ) { shell, cmd in
        guard let pool = await lookup(shell, cmd, byUUID: false) else { return false }
        shell.print("\(pool.uuid)\n")
        return true
    }

    static let name = CommandDefinition(
        "pool-name", summary: "convert a pool UUID to pool name",
        options: [poolOption()]
    ) { shell, cmd in
        guard let pool = await lookup(shell, cmd, byName: false) else { return false }
        shell.print("\(pool.name)\n")
        return true
    }

    static let list = CommandDefinition(
        "pool-list", summary: "list pools", description: "Returns list of pools.",
        options: [
            .flag("inactive", "list inactive pools"),
            .flag("all", "list inactive & active pools"),
            .flag("transient", "list transient pools"),
            .flag("persistent", "list persistent pools"),
            .flag("autostart", "list pools with autostart enabled"),
            .flag("no-autostart", "list pools with autostart disabled"),
            .string("type", "only list pool of specified type(s) (if supported)", requiresName: true),
            .flag("details", "display extended details for pools"),
            .flag("uuid", "list UUID of active pools only"),
            .flag("name", "list name of active pools only"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "details", "uuid"), shell.exclusive(cmd, "details", "name") else { return false }
        var flags: StoragePoolListFlags = .active
        if cmd.has("inactive") { flags = .inactive }
        if cmd.has("all") { flags = [] }
        if cmd.has("persistent") { flags.insert(.persistent) }
        if cmd.has("transient") { flags.insert(.transient) }
        if cmd.has("autostart") { flags.insert(.autostart) }
        if cmd.has("no-autostart") { flags.insert(.noAutostart) }
        let (ok, types) = shell.stringOption(cmd, "type")
        guard ok else { return false }
        if let types {
            for t in types.split(separator: ",", omittingEmptySubsequences: false) {
                guard let type = StoragePoolType(name: String(t)) else {
                    shell.error("Invalid pool type '\(t)'")
                    return false
                }
                flags.insert(.type(type))
            }
        }
        guard var pools = await shell.call({ try await shell.conn.listAllStoragePools(flags: flags) }) else {
            shell.error("Failed to list pools")
            return false
        }
        pools.sort { $0.name < $1.name }
        let details = cmd.has("details")
        var rows: [[String]] = []
        for p in pools {
            let auto = await shell.call { try await p.autostart() }
            var row = [p.name, "", auto.map { $0 ? "yes" : "no" } ?? "no autostart"]
            var persistent = ""
            if details {
                persistent = await shell.call { try await p.isPersistent() }.map { $0 ? "yes" : "no" } ?? "unknown"
            }
            if let i = await shell.call({ try await p.info() }) {
                if details {
                    row[1] = stateName(i.state)
                    let sizes = i.state == 2 || i.state == 3
                    row += [persistent] + (sizes ? [capacity(i.capacity), capacity(i.allocation), capacity(i.available)]
                                                 : ["-", "-", "-"])
                } else {
                    row[1] = (await shell.call { try await p.isActive() } ?? false) ? "active" : "inactive"
                }
            } else {
                shell.error("Could not retrieve pool information")
                row[1] = "unknown"
                if details { row += [persistent, "unknown", "unknown", "unknown"] }
            }
            shell.lastError = nil
            rows.append(row)
        }
        if !details {
            let uuids = cmd.has("uuid"), names = cmd.has("name")
            if uuids || names {
                for p in pools {
                    if uuids { shell.print(Format.padRight(p.uuid.description, 36) + (names ? " " : "\n")) }
                    if names { shell.print(Format.padRight(p.name, 20) + "\n") }
                }
                return true
            }
            var table = Table(header: ["Name", "State", "Autostart"])
            for r in rows { table.append(r) }
            shell.print(table.render(header: !shell.quiet))
            return true
        }
        var table = Table(header: ["Name", "State", "Autostart", "Persistent", "Capacity", "Allocation", "Available"])
        for r in rows { table.append(r) }
        shell.print(table.render(header: !shell.quiet))
        return true
    }

    /// Pool event names in `virStoragePoolEventID` order, and the lifecycle events' words.
    static let eventNames = ["lifecycle", "refresh"]
    static let lifecycleNames = ["Defined", "Undefined", "Started", "Stopped", "Created", "Deleted"]

    static let event = EventCommands.objectEvent(
        "pool-event", summary: "Storage Pool Events",
        description: "List event types, or wait for storage pool events to occur",
        object: "pool", objectHelp: "filter by storage pool name or uuid", eventNames: eventNames,
        lookup: { shell, cmd in await lookup(shell, cmd)?.uuid },
        subscribe: { shell in try await shell.conn.storagePoolEvents() },
        describe: { ev in
            var text = "for storage pool \(ev.pool.name)"
            if case .lifecycle(let e, _) = ev.kind { text += ": " + EventCommands.lifecycleName(e, lifecycleNames) }
            return EventCommands.ObjectEvent(key: ev.pool.uuid, eventID: ev.eventID, text: text)
        })
}
