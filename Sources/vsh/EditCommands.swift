import Virt

/// The `*-edit` commands of virsh 9.0 other than net-edit: each gets an object's XML, runs the editor through
/// ``XMLEditor/cycle(_:getXML:define:)`` and redefines the object with virsh's messages.
extension DomainCommands {
    static let edit = CommandDefinition(
        "edit", summary: "edit XML configuration for a domain",
        description: "Edit the XML configuration for a domain.",
        options: [.domain(), .flag("skip-validate", "skip validation of the XML against the schema")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let flags: DefineFlags = cmd.has("skip-validate") ? [] : [.validate]
        switch await XMLEditor.cycle(shell, getXML: {
            await shell.call({ try await dom.xmlDesc(flags: [.secure, .inactive]) })
        }, define: { edited in
            await shell.call({ try await shell.conn.defineDomain(xml: edited, flags: flags) })
        }) {
        case .failed:
            return false
        case .unchanged:
            shell.printExtra("Domain '\(dom.name)' XML configuration not changed.\n")
        case .defined(let edited):
            shell.printExtra("Domain '\(edited?.name ?? "(null)")' XML configuration edited.\n")
        }
        return true
    }

    static let managedsaveEdit = CommandDefinition(
        "managedsave-edit", summary: "edit XML for a domain's managed save state file",
        description: "Edit the domain XML associated with the managed save state file",
        options: [
            .domain(),
            .flag("running", "set domain to be running on start"),
            .flag("paused", "set domain to be paused on start"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "running", "paused") else { return false }
        let flags: UInt32 = (cmd.has("running") ? 2 : 0) | (cmd.has("paused") ? 4 : 0)
        guard let dom = await shell.domainOption(cmd) else { return false }
        switch await XMLEditor.cycle(shell, getXML: {
            await shell.call({ try await dom.managedSaveXML(flags: 1) })
        }, define: { edited in
            await shell.call({ try await dom.managedSaveDefineXML(edited, flags: flags) })
        }) {
        case .failed:
            return false
        case .unchanged:
            shell.printExtra("Managed save image of domain '\(dom.name)' XML configuration not changed.\n")
        case .defined:
            shell.printExtra("Managed save image of domain '\(dom.name)' XML configuration edited.\n")
        }
        return true
    }

    static let saveImageEdit = CommandDefinition(
        "save-image-edit", summary: "edit XML for a domain's saved state file",
        description: "Edit the domain XML associated with a saved state file",
        options: [
            .file("saved state file to edit"),
            .flag("running", "set domain to be running on restore"),
            .flag("paused", "set domain to be paused on restore"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "running", "paused") else { return false }
        let flags: UInt32 = (cmd.has("running") ? 2 : 0) | (cmd.has("paused") ? 4 : 0)
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file else { return false }
        switch await XMLEditor.cycle(shell, getXML: {
            await shell.call({ try await shell.conn.saveImageXML(file, flags: 1) })
        }, define: { edited in
            await shell.call({ try await shell.conn.saveImageDefineXML(file, xml: edited, flags: flags) })
        }) {
        case .failed:
            return false
        case .unchanged:
            shell.printExtra("Saved image \(file) XML configuration not changed.\n")
        case .defined:
            shell.printExtra("State file \(file) edited.\n")
        }
        return true
    }
}

extension StoragePoolCommands {
    static let edit = CommandDefinition(
        "pool-edit", summary: "edit XML configuration for a storage pool",
        description: "Edit the XML configuration for a storage pool.",
        options: [poolOption()]
    ) { shell, cmd in
        guard let pool = await lookup(shell, cmd) else { return false }
        // The inactive XML, or the live one from a server that refuses the flag.
        var flags: UInt32 = 1
        if await shell.call({ try await pool.xmlDesc(flags: flags) }) == nil {
            guard shell.lastError?.code == .invalidArg else { return false }
            shell.lastError = nil
            flags = 0
        }
        switch await XMLEditor.cycle(shell, getXML: {
            await shell.call({ try await pool.xmlDesc(flags: flags) })
        }, define: { edited in
            await shell.call({ try await shell.conn.defineStoragePool(xml: edited) })
        }) {
        case .failed:
            return false
        case .unchanged:
            shell.printExtra("Pool \(pool.name) XML configuration not changed.\n")
        case .defined(let edited):
            shell.printExtra("Pool \(edited?.name ?? "(null)") XML configuration edited.\n")
        }
        return true
    }
}

extension InterfaceCommands {
    static let edit = CommandDefinition(
        "iface-edit", summary: "edit XML configuration for a physical host interface",
        description: "Edit the XML configuration for a physical host interface.",
        options: [interfaceOption()]
    ) { shell, cmd in
        guard let iface = await lookup(shell, cmd) else { return false }
        switch await XMLEditor.cycle(shell, getXML: {
            await shell.call({
                try await shell.conn.interfaces("virInterfaceGetXMLDesc").interfaceXML(iface, flags: 1)
            })
        }, define: { edited in
            await shell.call({
                try await shell.conn.interfaces("virInterfaceDefineXML", modifying: true).defineInterface(xml: edited, flags: 0)
            })
        }) {
        case .failed:
            return false
        case .unchanged:
            shell.printExtra("Interface \(iface.name) XML configuration not changed.\n")
        case .defined(let edited):
            shell.printExtra("Interface \(edited?.name ?? "(null)") XML configuration edited.\n")
        }
        return true
    }
}

extension SnapshotCommands {
    static let edit = CommandDefinition(
        "snapshot-edit", summary: "edit XML for a snapshot",
        description: "Edit the domain snapshot XML for a named snapshot",
        options: [
            .domain(),
            .string("snapshotname", "snapshot name"),
            .flag("current", "also set edited snapshot as current"),
            .flag("rename", "allow renaming an existing snapshot"),
            .flag("clone", "allow cloning to new name"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "rename", "clone") else { return false }
        var flags = F.createRedefine
        if cmd.has("current") && cmd.has("snapshotname") { flags |= F.createCurrent }
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let snapshot = await lookup(shell, cmd, dom, exclusive: false) else { return false }
        let name = snapshot.name
        let getXML = { await shell.call({ try await snapshot.xmlDesc(flags: F.xmlSecure) }) }
        guard let original = await getXML() else { return failed(shell, name) }
        let outcome: XMLEditor.Outcome<DomainSnapshot>
        if flags & F.createCurrent != 0 {
            // With --current the snapshot is redefined even when the XML is unchanged.
            guard let edited = XMLEditor.edit(shell, original) else { return failed(shell, name) }
            var defineFlags = flags
            if original.contains("<state>disk-snapshot</state>") { defineFlags |= F.createDiskOnly }
            outcome = .defined(await shell.call({ try await dom.createSnapshot(xml: edited, flags: defineFlags) }))
        } else {
            outcome = await XMLEditor.cycle(shell, getXML: getXML, define: { edited in
                var defineFlags = flags
                if original.contains("<state>disk-snapshot</state>") { defineFlags |= F.createDiskOnly }
                return await shell.call({ try await dom.createSnapshot(xml: edited, flags: defineFlags) })
            })
        }
        switch outcome {
        case .failed:
            return failed(shell, name)
        case .unchanged:
            shell.printExtra("Snapshot \(name) XML configuration not changed.\n")
            return true
        case .defined(let edited):
            // virsh 9.0 crashes when the redefinition fails; vsh reports the failure.
            guard let edited else { return failed(shell, name) }
            if edited.name == name {
                shell.printExtra("Snapshot \(name) edited.\n")
            } else if cmd.has("clone") {
                shell.printExtra("Snapshot \(name) cloned to \(edited.name).\n")
            } else {
                let rename = cmd.has("rename")
                let victim = rename ? snapshot : edited
                if await shell.call({ try await victim.delete(flags: F.deleteMetadataOnly) }) == nil {
                    shell.reportError()
                    shell.error("Failed to clean up \(victim.name)")
                    return failed(shell, name)
                }
                if !rename {
                    shell.error("Must use --rename or --clone to change \(name) to \(edited.name)")
                    return failed(shell, name)
                }
            }
            return true
        }
    }

    /// virsh's cleanup line; the library error, if any, follows it.
    @MainActor private static func failed(_ shell: Shell, _ name: String) -> Bool {
        shell.error("Failed to update \(name)")
        return false
    }
}

extension CheckpointCommands {
    static let edit = CommandDefinition(
        "checkpoint-edit", summary: "edit XML for a checkpoint",
        description: "Edit the domain checkpoint XML for a named checkpoint",
        options: [.domain(), .string("checkpointname", "checkpoint name")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let checkpoint = await lookup(shell, cmd, dom) else { return false }
        let name = checkpoint.name
        let outcome = await XMLEditor.cycle(shell, getXML: {
            await shell.call({ try await checkpoint.xmlDesc(flags: SnapshotFlags.xmlSecure) })
        }, define: { edited in
            await shell.call({ try await dom.createCheckpoint(xml: edited, flags: SnapshotFlags.createRedefine) })
        })
        switch outcome {
        case .unchanged:
            shell.printExtra("Checkpoint \(name) XML configuration not changed.\n")
            return true
        case .defined(let edited?) where edited.name == name:
            shell.printExtra("Checkpoint \(name) edited.\n")
            return true
        case .defined(let edited?):
            if await shell.call({ try await edited.delete(flags: SnapshotFlags.deleteMetadataOnly) }) == nil {
                shell.reportError()
                shell.error("Failed to clean up \(edited.name)")
            } else {
                shell.error("Cannot rename checkpoint \(name) to \(edited.name)")
            }
        case .failed, .defined(nil):
            // virsh 9.0 crashes when the redefinition fails; vsh reports the failure.
            break
        }
        shell.error("Failed to update \(name)")
        return false
    }
}
