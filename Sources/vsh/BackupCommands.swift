import Virt

/// Backup commands (virsh-backup.c): backup-begin and backup-dumpxml.
enum BackupCommands {
    static let all: [CommandDefinition] = [begin, dumpxml]

    static let begin = CommandDefinition(
        "backup-begin", summary: "Start a disk backup of a live domain",
        description: "Use XML to start a full or incremental disk backup of a live domain, optionally creating a checkpoint",
        options: [
            .domain(),
            .string("backupxml", "domain backup XML", requiresName: true),
            .string("checkpointxml", "domain checkpoint XML", requiresName: true),
            .flag("reuse-external", "reuse files provided by caller"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        // Without a file, the driver's defaults: every disk with a writable medium, pushed next to its image.
        var backupXML = "<domainbackup/>"
        if let path = cmd.value("backupxml") {
            guard let text = shell.readFile(path) else { return false }
            backupXML = text
        }
        var checkpointXML: String?
        if let path = cmd.value("checkpointxml") {
            guard let text = shell.readFile(path) else { return false }
            checkpointXML = text
        }
        let flags: UInt32 = cmd.has("reuse-external") ? 1 : 0
        guard await shell.call({ try await dom.backupBegin(xml: backupXML, checkpointXML: checkpointXML, flags: flags) })
                != nil else { return false }
        shell.print("Backup started\n")
        return true
    }

    static let dumpxml = CommandDefinition(
        "backup-dumpxml", summary: "Dump XML for an ongoing domain block backup job", description: "Backup Dump XML",
        options: [
            .domain(),
            .string("xpath", "xpath expression to filter the XML document", requiresName: true),
            .flag("wrap", "wrap xpath results in an common root element"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let xml = await shell.call({ try await dom.backupXML() }) else { return false }
        if cmd.has("xpath") {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        shell.print(xml)
        return true
    }
}
