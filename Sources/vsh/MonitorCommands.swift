import Virt

/// Domain monitoring commands (virsh-domain-monitor.c): list, dominfo, domstate.
enum MonitorCommands {
    static let all: [CommandDefinition] = [dominfo, domstate, list] + statsCommands + [AgentCommands.domifaddr, AgentCommands.domtime, domifGetlink, domstats,
                                                                                  DomainCommands.domblkerror, DomainCommands.domcontrol]

    static let dominfo = CommandDefinition(
        "dominfo", summary: "domain information",
        description: "Returns basic information about the domain.",
        options: [.domain()]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        var ok = true
        @MainActor func line(_ label: String, _ value: String) {
            shell.print(Format.padRight(label, 15) + " " + value + "\n")
        }
        line("Id:", dom.id == -1 ? "-" : "\(dom.id)")
        line("Name:", dom.name)
        line("UUID:", "\(dom.uuid)")
        if let os = await shell.call({ try await dom.osType() }) { line("OS Type:", os) }
        if let info = await shell.call({ try await dom.info() }) {
            line("State:", info.state.virshString)
            line("CPU(s):", "\(info.vcpus)")
            if info.cpuTime != 0 {
                line("CPU time:", Format.fixed(Double(info.cpuTime) / 1_000_000_000.0, 1) + "s")
            }
            line("Max memory:", info.maxMemory != UInt64(UInt32.max) ? "\(info.maxMemory) KiB" : "no limit")
            line("Used memory:", "\(info.memory) KiB")
        } else {
            ok = false
        }
        if let persistent = await shell.call({ try await dom.isPersistent() }) {
            line("Persistent:", persistent ? "yes" : "no")
        } else {
            line("Persistent:", "unknown")
        }
        if let autostart = await shell.call({ try await dom.autostart() }) {
            line("Autostart:", autostart ? "enable" : "disable")
        }
        if let saved = await shell.call({ try await dom.hasManagedSaveImage() }) {
            line("Managed save:", saved ? "yes" : "no")
        } else {
            line("Managed save:", "unknown")
        }
        if let model = await shell.call({ try await shell.conn.securityModel() }) {
            if !model.model.isEmpty {
                line("Security model:", model.model)
                line("Security DOI:", model.doi)
                guard let labels = await shell.call({ try await dom.securityLabels() }) else { return false }
                if let label = labels.first, !label.label.isEmpty {
                    line("Security label:", "\(label.label) (\(label.enforcing ? "enforcing" : "permissive"))")
                }
            }
        } else if shell.lastError?.code != .noSupport {
            return false
        }
        shell.lastError = nil
        if let messages = await shell.call({ try await dom.messages() }) {
            for (i, message) in messages.enumerated() {
                line(i == 0 ? "Messages:" : "", message)
            }
        }
        shell.lastError = nil
        return ok
    }

    static let domstate = CommandDefinition(
        "domstate", summary: "domain state",
        description: "Returns state about a domain.",
        options: [.domain(), .flag("reason", "also print reason for the state")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let status = await domainState(shell, dom) else { return false }
        if cmd.has("reason") {
            shell.print("\(status.state.virshString) (\(reasonString(status)))\n")
        } else {
            shell.print("\(status.state.virshString)\n")
        }
        return true
    }

    static let list = CommandDefinition(
        "list", summary: "list domains",
        description: "Returns list of domains.",
        options: [
            .flag("inactive", "list inactive domains"),
            .flag("all", "list inactive & active domains"),
            .flag("transient", "list transient domains"),
            .flag("persistent", "list persistent domains"),
            .flag("with-snapshot", "list domains with existing snapshot"),
            .flag("without-snapshot", "list domains without a snapshot"),
            .flag("with-checkpoint", "list domains with existing checkpoint"),
            .flag("without-checkpoint", "list domains without a checkpoint"),
            .flag("state-running", "list domains in running state"),
            .flag("state-paused", "list domains in paused state"),
            .flag("state-shutoff", "list domains in shutoff state"),
            .flag("state-other", "list domains in other states"),
            .flag("autostart", "list domains with autostart enabled"),
            .flag("no-autostart", "list domains with autostart disabled"),
            .flag("with-managed-save", "list domains with managed save state"),
            .flag("without-managed-save", "list domains without managed save"),
            .flag("uuid", "list uuid's only"),
            .flag("name", "list domain names only"),
            .flag("id", "list domain IDs only"),
            .flag("table", "list table (default)"),
            .flag("managed-save", "mark inactive domains with managed save state"),
            .flag("title", "show domain title"),
        ]
    ) { shell, cmd in
        var flags: ListAllDomainsFlags = .active
        if cmd.has("inactive") || cmd.has("state-shutoff") { flags = .inactive }
        if cmd.has("all") { flags = [.active, .inactive] }
        let filters: [(String, ListAllDomainsFlags)] = [
            ("persistent", .persistent), ("transient", .transient),
            ("with-managed-save", .managedSave), ("without-managed-save", .noManagedSave),
            ("autostart", .autostart), ("no-autostart", .noAutostart),
            ("with-snapshot", .hasSnapshot), ("without-snapshot", .noSnapshot),
            ("with-checkpoint", .hasCheckpoint), ("without-checkpoint", .noCheckpoint),
            ("state-running", .running), ("state-paused", .paused), ("state-shutoff", .shutoff),
            ("state-other", .other),
        ]
        for (name, flag) in filters where cmd.has(name) { flags.insert(flag) }

        guard shell.exclusive(cmd, "table", "name"), shell.exclusive(cmd, "table", "uuid"),
              shell.exclusive(cmd, "table", "id") else { return false }
        let optUUID = cmd.has("uuid"), optName = cmd.has("name"), optID = cmd.has("id")
        let optTable = cmd.has("table") || (!optUUID && !optName && !optID)
        let managed = cmd.has("managed-save")
        let optTitle = cmd.has("title")

        guard var domains = await shell.call({ try await shell.conn.listAllDomains(flags: flags) }) else {
            shell.error("Failed to list domains")
            return false
        }
        domains.sort(by: listOrder)

        var table = Table(header: optTitle ? ["Id", "Name", "State", "Title"] : ["Id", "Name", "State"])
        for dom in domains {
            let id = dom.id == -1 ? "-" : "\(dom.id)"
            if optTable {
                guard let status = await domainState(shell, dom) else {
                    shell.lastError = nil
                    continue
                }
                var state = status.state.virshString
                if managed && status.state == .shutoff,
                   await shell.call({ try await dom.hasManagedSaveImage() }) == true {
                    state = "saved"
                }
                shell.lastError = nil
                if optTitle {
                    guard let title = await domainTitle(shell, dom) else { return false }
                    table.append([id, dom.name, state, title])
                } else {
                    table.append([id, dom.name, state])
                }
            } else {
                var line = ""
                var sep = ""
                if optUUID {
                    line += "\(dom.uuid)"
                    sep = " "
                }
                if optID {
                    if dom.id == -1 && !optUUID && !optName { continue }
                    line += sep + id
                    sep = " "
                }
                if optName { line += sep + dom.name }
                shell.print(line + "\n")
            }
        }
        if optTable { shell.print(table.render(header: !shell.quiet)) }
        return true
    }

    // MARK: Helpers

    /// virsh's list order: running domains by id, then inactive ones by name ignoring case.
    static func listOrder(_ a: Domain, _ b: Domain) -> Bool {
        switch (a.id == -1, b.id == -1) {
        case (false, false): return UInt32(bitPattern: a.id) < UInt32(bitPattern: b.id)
        case (false, true): return true
        case (true, false): return false
        case (true, true): return caseInsensitiveLess(a.name, b.name)
        }
    }

    /// `strcasecmp` order (ASCII case folding, byte comparison).
    static func caseInsensitiveLess(_ a: String, _ b: String) -> Bool {
        func fold(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c + 32 : c }
        var ia = a.utf8.makeIterator(), ib = b.utf8.makeIterator()
        while true {
            switch (ia.next(), ib.next()) {
            case (nil, nil): return false
            case (nil, _): return true
            case (_, nil): return false
            case (let x?, let y?):
                if fold(x) != fold(y) { return fold(x) < fold(y) }
            }
        }
    }

    /// The domain's state and reason (`virshDomainState`), falling back to `info` when unsupported.
    @MainActor
    static func domainState(_ shell: Shell, _ dom: Domain) async -> DomainStatus? {
        if let status = await shell.call({ try await dom.state() }) { return status }
        guard shell.lastError?.code == .noSupport else { return nil }
        shell.lastError = nil
        guard let info = await shell.call({ try await dom.info() }) else { return nil }
        return DomainStatus(info.state, reason: 0)
    }

    /// virsh's reason wording for `domstate --reason`.
    static func reasonString(_ status: DomainStatus) -> String {
        let table: [String]
        switch status.state {
        case .running:
            table = ["unknown", "booted", "migrated", "restored", "from snapshot", "unpaused", "migration canceled",
                     "save canceled", "event wakeup", "crashed", "post-copy", "post-copy failed"]
        case .paused:
            table = ["unknown", "user", "migrating", "saving", "dumping", "I/O error", "watchdog", "from snapshot",
                     "shutting down", "creating snapshot", "crashed", "starting up", "post-copy", "post-copy failed",
                     "api error"]
        case .shutdown:
            table = ["unknown", "user"]
        case .shutoff:
            table = ["unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from snapshot",
                     "daemon"]
        case .crashed:
            table = ["unknown", "panicked"]
        case .noState, .blocked, .pmSuspended:
            table = ["unknown"]
        }
        let i = Int(status.reason)
        return i >= 0 && i < table.count ? table[i] : "unknown"
    }

    /// The domain's `<title>` from its XML, "" when none.
    @MainActor
    static func domainTitle(_ shell: Shell, _ dom: Domain) async -> String? {
        guard let xml = await shell.call({ try await dom.xmlDesc() }) else { return nil }
        guard let doc = try? XMLParser.parse(xml) else { return "" }
        return doc.child("title")?.text ?? ""
    }
}
