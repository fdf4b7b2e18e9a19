import Virt

/// Domain management commands (virsh-domain.c): define, lifecycle, save/restore, autostart, dumpxml, ids.
enum DomainCommands {
    static let all: [CommandDefinition] = [
        autostart, create, define, destroy, domid, domname, domuuid, dumpxml, managedsave, managedsaveRemove,
        reboot, reset, restore, resume, save, shutdown, start, suspend, undefine, console, ttyconsole,
        qemuMonitorCommand, saveImageDumpxml, saveImageDefine, managedsaveDumpxml, managedsaveDefine, domjobinfo,
        domjobabort, edit, managedsaveEdit, saveImageEdit,
    ] + displayCommands + diagnosticsCommands + hostControlCommands + migrationCommands + vcpuCommands + metadataCommands + tuningCommands + deviceCommands + AgentCommands.all
        + guestOpsCommands + linkCommands + vcpuIOThreadCommands + blockCommands + blockJobCommands + foreignCommands

    // MARK: Ids and names

    static let domid = CommandDefinition(
        "domid", summary: "convert a domain name or UUID to domain id",
        options: [.domain("domain name or uuid")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd, by: [.name, .uuid]) else { return false }
        shell.print(dom.id == -1 ? "-\n" : "\(dom.id)\n")
        return true
    }

    static let domname = CommandDefinition(
        "domname", summary: "convert a domain id or UUID to domain name",
        options: [.domain("domain id or uuid")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd, by: [.id, .uuid]) else { return false }
        shell.print("\(dom.name)\n")
        return true
    }

    static let domuuid = CommandDefinition(
        "domuuid", summary: "convert a domain name or id to domain UUID",
        options: [.domain("domain id or name")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd, by: [.id, .name]) else { return false }
        shell.print("\(dom.uuid)\n")
        return true
    }

    // MARK: XML

    static let dumpxml = CommandDefinition(
        "dumpxml", summary: "domain information in XML",
        description: "Output the domain information as an XML dump to stdout.",
        options: [
            .domain(),
            .flag("inactive", "show inactive defined XML"),
            .flag("security-info", "include security sensitive information in XML dump"),
            .flag("update-cpu", "update guest CPU according to host CPU"),
            .flag("migratable", "provide XML suitable for migrations"),
            .string("xpath", "xpath expression to filter the XML document", requiresName: true),
            .flag("wrap", "wrap xpath results in an common root element"),
        ]
    ) { shell, cmd in
        var flags: XMLFlags = []
        if cmd.has("inactive") { flags.insert(.inactive) }
        if cmd.has("security-info") { flags.insert(.secure) }
        if cmd.has("update-cpu") { flags.insert(.updateCPU) }
        if cmd.has("migratable") { flags.insert(.migratable) }
        let (ok, xpath) = shell.stringOption(cmd, "xpath")
        guard ok else { return false }
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let xml = await shell.call({ try await dom.xmlDesc(flags: flags) }) else { return false }
        if xpath != nil {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        shell.print(xml)
        return true
    }

    static let define = CommandDefinition(
        "define", summary: "define (but don't start) a domain from an XML file",
        description: "Define a domain.",
        options: [
            .file("file containing an XML domain description"),
            .flag("validate", "validate the XML against the schema"),
        ]
    ) { shell, cmd in
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file else { return false }
        var flags: DefineFlags = []
        if cmd.has("validate") { flags.insert(.validate) }
        guard let xml = shell.readFile(file) else { return false }
        guard let dom = await shell.call({ try await shell.conn.defineDomain(xml: xml, flags: flags) }) else {
            shell.error("Failed to define domain from \(file)")
            return false
        }
        shell.printExtra("Domain '\(dom.name)' defined from \(file)\n")
        return true
    }

    static let undefine = CommandDefinition(
        "undefine", summary: "undefine a domain",
        description: "Undefine an inactive domain, or convert persistent to transient.",
        options: [
            .domain(),
            .flag("managed-save", "remove domain managed state file"),
            .string("storage",
                    "remove associated storage volumes (comma separated list of targets or source paths) (see domblklist)"),
            .flag("remove-all-storage", "remove all associated storage volumes (use with caution)"),
            .alias("delete-snapshots", of: "delete-storage-volume-snapshots"),
            .flag("delete-storage-volume-snapshots",
                  "delete snapshots associated with volume(s), requires --remove-all-storage (must be supported by storage driver)"),
            .flag("wipe-storage", "wipe data on the removed volumes"),
            .flag("snapshots-metadata", "remove all domain snapshot metadata (vm must be inactive)"),
            .flag("checkpoints-metadata", "remove all domain checkpoint metadata (vm must be inactive)"),
            .flag("nvram", "remove nvram file"),
            .flag("keep-nvram", "keep nvram file"),
            .flag("tpm", "remove TPM state"),
            .flag("keep-tpm", "keep TPM state"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "nvram", "keep-nvram"), shell.exclusive(cmd, "tpm", "keep-tpm") else {
            return false
        }
        if cmd.has("delete-storage-volume-snapshots") && !cmd.has("remove-all-storage") {
            shell.error("'--delete-storage-volume-snapshots' requires '--remove-all-storage'")
            return false
        }
        let (ok, storage) = shell.stringOption(cmd, "storage")
        guard ok else { return false }
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        if storage != nil || cmd.has("remove-all-storage") {
            shell.error("removing storage volumes is not supported by this shell yet")
            return false
        }
        var flags: UndefineFlags = []
        if cmd.has("managed-save") { flags.insert(.managedSave) }
        if cmd.has("snapshots-metadata") { flags.insert(.snapshotsMetadata) }
        if cmd.has("checkpoints-metadata") { flags.insert(.checkpointsMetadata) }
        if cmd.has("nvram") { flags.insert(.nvram) }
        if cmd.has("keep-nvram") { flags.insert(.keepNVRAM) }
        if cmd.has("tpm") { flags.insert(.tpm) }
        if cmd.has("keep-tpm") { flags.insert(.keepTPM) }

        guard let running = await shell.call({ try await dom.isActive() }) else { return false }
        var hasManagedSave = false
        if !running {
            if let has = await shell.call({ try await dom.hasManagedSaveImage() }) {
                hasManagedSave = has
            } else if shell.lastError?.code == .noSupport {
                shell.lastError = nil
            } else {
                return false
            }
        }
        if !hasManagedSave { flags.remove(.managedSave) }
        // Like virsh: try the flags API when it is known to be safe (or needed), and fall back to doing the
        // steps one by one when the driver rejects it as unsupported or with unknown flags.
        let managedSaveSafe = !hasManagedSave || cmd.has("managed-save")
        var undefined = false
        if managedSaveSafe || cmd.has("nvram") || cmd.has("keep-nvram") || cmd.has("tpm") || cmd.has("keep-tpm") {
            if await shell.call({ try await dom.undefine(flags: flags) }) != nil {
                undefined = true
            } else if let code = shell.lastError?.code, code != .noSupport && code != .invalidArg {
                shell.error("Failed to undefine domain '\(name)'")
                return false
            } else {
                shell.lastError = nil
            }
        }
        if !undefined {
            if hasManagedSave {
                guard cmd.has("managed-save") else {
                    shell.error("Refusing to undefine while domain managed save image exists")
                    return false
                }
                if await shell.call({ try await dom.managedSaveRemove() }) == nil {
                    shell.reportError()
                    return false
                }
            }
            if await shell.call({ try await dom.undefine(flags: []) }) == nil {
                shell.error("Failed to undefine domain '\(name)'")
                return false
            }
        }
        shell.printExtra("Domain '\(name)' has been undefined\n")
        return true
    }

    // MARK: Lifecycle

    static let create = CommandDefinition(
        "create", summary: "create a domain from an XML file",
        description: "Create a domain.",
        options: [
            .file("file containing an XML domain description"),
            .flag("console", "attach to console after creation"),
            .flag("paused", "leave the guest paused after creation"),
            .flag("autodestroy", "automatically destroy the guest when virsh disconnects"),
            .string("pass-fds", "pass file descriptors N,M,... to the guest"),
            .flag("validate", "validate the XML against the schema"),
            .flag("reset-nvram", "re-initialize NVRAM from its pristine template"),
        ]
    ) { shell, cmd in
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file else { return false }
        guard passFdsSupported(shell, cmd) else { return false }
        var flags: CreateFlags = []
        if cmd.has("paused") { flags.insert(.startPaused) }
        if cmd.has("autodestroy") { flags.insert(.autodestroy) }
        if cmd.has("validate") { flags.insert(.validate) }
        if cmd.has("reset-nvram") { flags.insert(.resetNVRAM) }
        guard let xml = shell.readFile(file) else { return false }
        guard let dom = await shell.call({ try await shell.conn.createDomain(xml: xml, flags: flags) }) else {
            shell.error("Failed to create domain from \(file)")
            return false
        }
        shell.printExtra("Domain '\(dom.name)' created from \(file)\n")
        if cmd.has("console") { return await ConsoleSupport.attach(shell, dom) }
        return true
    }

    static let start = CommandDefinition(
        "start", summary: "start a (previously defined) inactive domain",
        description: "Start a domain, either from the last managedsave\n    state, or via a fresh boot if no managedsave state\n    is present.",
        options: [
            .domain("name of the inactive domain"),
            .flag("console", "attach to console after creation"),
            .flag("paused", "leave the guest paused after creation"),
            .flag("autodestroy", "automatically destroy the guest when virsh disconnects"),
            .flag("bypass-cache", "avoid file system cache when loading"),
            .flag("force-boot", "force fresh boot by discarding any managed save"),
            .string("pass-fds", "pass file descriptors N,M,... to the guest"),
            .flag("reset-nvram", "re-initialize NVRAM from its pristine template"),
        ]
    ) { shell, cmd in
        guard var dom = await shell.domainOption(cmd, by: [.name, .uuid]) else { return false }
        if dom.id != -1 {
            shell.error("Domain is already active")
            return false
        }
        guard passFdsSupported(shell, cmd) else { return false }
        var flags: CreateFlags = []
        if cmd.has("paused") { flags.insert(.startPaused) }
        if cmd.has("autodestroy") { flags.insert(.autodestroy) }
        if cmd.has("bypass-cache") { flags.insert(.bypassCache) }
        if cmd.has("force-boot") { flags.insert(.forceBoot) }
        if cmd.has("reset-nvram") { flags.insert(.resetNVRAM) }
        var started = false
        if flags.contains(.forceBoot) {
            if await shell.call({ try await dom.start(flags: flags) }) != nil {
                started = true
            } else {
                guard let code = shell.lastError?.code, code == .noSupport || code == .invalidArg else {
                    shell.reportError()
                    return false
                }
                shell.lastError = nil
                if let has = await shell.call({ try await dom.hasManagedSaveImage() }) {
                    if has, await shell.call({ try await dom.managedSaveRemove() }) == nil {
                        shell.reportError()
                        return false
                    }
                } else {
                    shell.lastError = nil
                }
                flags.remove(.forceBoot)
            }
        }
        if !started, await shell.call({ try await dom.start(flags: flags) }) == nil {
            shell.error("Failed to start domain '\(dom.name)'")
            return false
        }
        shell.printExtra("Domain '\(dom.name)' started\n")
        if cmd.has("console") { return await ConsoleSupport.attach(shell, dom) }
        return true
    }

    static let shutdown = CommandDefinition(
        "shutdown", summary: "gracefully shutdown a domain",
        description: "Run shutdown in the target domain.",
        options: [.domain(), .string("mode", "shutdown mode: acpi|agent|initctl|signal|paravirt")]
    ) { shell, cmd in
        let (ok, mode) = shell.stringOption(cmd, "mode")
        guard ok, let flags = shutdownModes(shell, mode) else { return false }
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        if await shell.call({ try await dom.shutdown(flags: flags) }) == nil {
            shell.error("Failed to shutdown domain '\(name)'")
            return false
        }
        shell.printExtra("Domain '\(name)' is being shutdown\n")
        return true
    }

    static let reboot = CommandDefinition(
        "reboot", summary: "reboot a domain",
        description: "Run a reboot command in the target domain.",
        options: [.domain(), .string("mode", "shutdown mode: acpi|agent|initctl|signal|paravirt")]
    ) { shell, cmd in
        let (ok, mode) = shell.stringOption(cmd, "mode")
        guard ok, let flags = shutdownModes(shell, mode) else { return false }
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        if await shell.call({ try await dom.reboot(flags: flags) }) == nil {
            shell.error("Failed to reboot domain '\(name)'")
            return false
        }
        shell.printExtra("Domain '\(name)' is being rebooted\n")
        return true
    }

    static let reset = CommandDefinition(
        "reset", summary: "reset a domain",
        description: "Reset the target domain as if by power button",
        options: [.domain()]
    ) { shell, cmd in
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        if await shell.call({ try await dom.reset() }) == nil {
            shell.error("Failed to reset domain '\(name)'")
            return false
        }
        shell.printExtra("Domain '\(name)' was reset\n")
        return true
    }

    static let destroy = CommandDefinition(
        "destroy", summary: "destroy (stop) a domain",
        description: "Forcefully stop a given domain, but leave its resources intact.",
        options: [
            .domain(),
            .flag("graceful", "terminate gracefully"),
            .flag("remove-logs", "remove domain logs"),
        ]
    ) { shell, cmd in
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        var flags: DestroyFlags = []
        if cmd.has("graceful") { flags.insert(.graceful) }
        if cmd.has("remove-logs") { flags.insert(.removeLogs) }
        if await shell.call({ try await dom.destroy(flags: flags) }) == nil {
            shell.error("Failed to destroy domain '\(name)'")
            return false
        }
        shell.printExtra("Domain '\(name)' destroyed\n")
        return true
    }

    static let suspend = CommandDefinition(
        "suspend", summary: "suspend a domain",
        description: "Suspend a running domain.",
        options: [.domain()]
    ) { shell, cmd in
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        if await shell.call({ try await dom.suspend() }) == nil {
            shell.error("Failed to suspend domain '\(name)'")
            return false
        }
        shell.printExtra("Domain '\(name)' suspended\n")
        return true
    }

    static let resume = CommandDefinition(
        "resume", summary: "resume a domain",
        description: "Resume a previously suspended domain.",
        options: [.domain()]
    ) { shell, cmd in
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        if await shell.call({ try await dom.resume() }) == nil {
            shell.error("Failed to resume domain '\(name)'")
            return false
        }
        shell.printExtra("Domain '\(name)' resumed\n")
        return true
    }

    // MARK: Save and restore

    static let save = CommandDefinition(
        "save", summary: "save a domain state to a file",
        description: "Save the RAM state of a running domain.",
        options: [
            .domain(),
            .file("where to save the data"),
            .flag("bypass-cache", "avoid file system cache when saving"),
            .string("xml", "filename containing updated XML for the target"),
            .flag("running", "set domain to be running on restore"),
            .flag("paused", "set domain to be paused on restore"),
            .flag("verbose", "display the progress of save"),
        ]
    ) { shell, cmd in
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file else { return false }
        guard let (flags, xml) = saveFlags(shell, cmd) else { return false }
        let progress = cmd.has("verbose") ? startProgress(shell, dom, label: "Save") : nil
        let saved = await shell.call({ try await dom.save(to: file, xml: xml, flags: flags) }) != nil
        await progress?.finish(saved)
        if !saved {
            shell.error("Failed to save domain '\(name)' to \(file)")
            return false
        }
        shell.printExtra("\nDomain '\(name)' saved to \(file)\n")
        return true
    }

    static let restore = CommandDefinition(
        "restore", summary: "restore a domain from a saved state in a file",
        description: "Restore a domain.",
        options: [
            .file("the state to restore"),
            .flag("bypass-cache", "avoid file system cache when restoring"),
            .string("xml", "filename containing updated XML for the target"),
            .flag("running", "restore domain into running state"),
            .flag("paused", "restore domain into paused state"),
            .flag("reset-nvram", "re-initialize NVRAM from its pristine template"),
        ]
    ) { shell, cmd in
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file else { return false }
        guard var (flags, xml) = saveFlags(shell, cmd) else { return false }
        if cmd.has("reset-nvram") { flags.insert(.resetNVRAM) }
        if await shell.call({ try await shell.conn.restoreDomain(from: file, xml: xml, flags: flags) }) == nil {
            shell.error("Failed to restore domain from \(file)")
            return false
        }
        shell.printExtra("Domain restored from \(file)\n")
        return true
    }

    static let managedsave = CommandDefinition(
        "managedsave", summary: "managed save of a domain state",
        description: """
            Save and destroy a running domain, so it can be restarted from
                the same state at a later time.  When the virsh 'start'
                command is next run for the domain, it will automatically
                be started from this saved state.
            """,
        options: [
            .domain(),
            .flag("bypass-cache", "avoid file system cache when saving"),
            .flag("running", "set domain to be running on next start"),
            .flag("paused", "set domain to be paused on next start"),
            .flag("verbose", "display the progress of save"),
        ]
    ) { shell, cmd in
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        guard let (flags, _) = saveFlags(shell, cmd) else { return false }
        let progress = cmd.has("verbose") ? startProgress(shell, dom, label: "Managedsave") : nil
        let ok = await shell.call({ try await dom.managedSave(flags: flags) }) != nil
        await progress?.finish(ok)
        if !ok {
            shell.error("Failed to save domain '\(name)' state")
            return false
        }
        shell.printExtra("\nDomain '\(name)' state saved by libvirt\n")
        return true
    }

    static let managedsaveRemove = CommandDefinition(
        "managedsave-remove", summary: "Remove managed save of a domain",
        description: "Remove an existing managed save state file from a domain",
        options: [.domain()]
    ) { shell, cmd in
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        guard let has = await shell.call({ try await dom.hasManagedSaveImage() }) else {
            shell.error("Failed to check for domain managed save image")
            return false
        }
        if has {
            if await shell.call({ try await dom.managedSaveRemove() }) == nil {
                shell.error("Failed to remove managed save image for domain '\(name)'")
                return false
            }
            shell.printExtra("Removed managedsave image for domain '\(name)'")
        } else {
            shell.printExtra("Domain '\(name)' has no manage save image; removal skipped")
        }
        return true
    }

    // MARK: Autostart

    static let autostart = CommandDefinition(
        "autostart", summary: "autostart a domain",
        description: "Configure a domain to be automatically started at boot.",
        options: [.domain(), .flag("disable", "disable autostarting")]
    ) { shell, cmd in
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        let enable = !cmd.has("disable")
        if await shell.call({ try await dom.setAutostart(enable) }) == nil {
            shell.error(enable ? "Failed to mark domain '\(name)' as autostarted"
                               : "Failed to unmark domain '\(name)' as autostarted")
            return false
        }
        shell.printExtra(enable ? "Domain '\(name)' marked as autostarted\n"
                                : "Domain '\(name)' unmarked as autostarted\n")
        return true
    }

    // MARK: Helpers

    /// Parses `--mode a,b` into shutdown/reboot flags; nil after printing virsh's error.
    @MainActor
    static func shutdownModes(_ shell: Shell, _ mode: String?) -> ShutdownFlags? {
        var flags: ShutdownFlags = []
        guard let mode else { return flags }
        for m in splitCommaList(mode) {
            switch m {
            case "acpi": flags.insert(.acpiPowerButton)
            case "agent": flags.insert(.guestAgent)
            case "initctl": flags.insert(.initctl)
            case "signal": flags.insert(.signal)
            case "paravirt": flags.insert(.paravirt)
            default:
                shell.error("Unknown mode \(m) value, expecting 'acpi', 'agent', 'initctl', 'signal', or 'paravirt'")
                return nil
            }
        }
        return flags
    }

    /// Splits a comma separated list where `,,` stands for a literal comma (virsh's `vshStringToArray`).
    static func splitCommaList(_ text: String) -> [String] {
        var items = [String]()
        var current = ""
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            if c == "," {
                if chars.first == "," {
                    current.append(",")
                    chars = chars.dropFirst()
                } else {
                    items.append(current)
                    current = ""
                }
            } else {
                current.append(c)
            }
        }
        items.append(current)
        return items
    }

    /// The save/restore flags and the `--xml` file's content; nil after an error.
    @MainActor
    static func saveFlags(_ shell: Shell, _ cmd: ParsedCommand) -> (SaveRestoreFlags, String?)? {
        var flags: SaveRestoreFlags = []
        if cmd.has("bypass-cache") { flags.insert(.bypassCache) }
        if cmd.has("running") { flags.insert(.running) }
        if cmd.has("paused") { flags.insert(.paused) }
        let (ok, xmlFile) = shell.stringOption(cmd, "xml")
        guard ok else { return nil }
        var xml: String?
        if let xmlFile {
            guard let text = shell.readFile(xmlFile) else {
                shell.reportError()
                return nil
            }
            xml = text
        }
        return (flags, xml)
    }

    /// `--pass-fds` needs file descriptor passing, which the API does not offer yet.
    @MainActor
    static func passFdsSupported(_ shell: Shell, _ cmd: ParsedCommand) -> Bool {
        let (ok, fds) = shell.stringOption(cmd, "pass-fds")
        guard ok else { return false }
        if fds != nil {
            shell.error("passing file descriptors is not supported by this shell yet")
            return false
        }
        return true
    }
}
