import Virt
import VirtCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Checkpoint commands (virsh-checkpoint.c of virsh 9.0).
enum CheckpointCommands {
    static let all: [CommandDefinition] = [create, createAs, delete, dumpxml, edit, info, list, parent]

    static let createAs = CommandDefinition(
        "checkpoint-create-as", summary: "Create a checkpoint from a set of args",
        description: "Create a checkpoint from arguments for use in future incremental backups",
        options: [.domain(), .string("name", "name of checkpoint"),
                  .string("description", "description of checkpoint"),
                  .flag("print-xml", "print XML document rather than create"),
                  .flag("quiesce", "quiesce guest's file systems"),
                  .argv("diskspec", "disk attributes: disk[,checkpoint=type][,bitmap=name]")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (okName, name) = shell.stringOption(cmd, "name")
        let (okDesc, desc) = shell.stringOption(cmd, "description")
        guard okName, okDesc else { return false }
        if !cmd.values("diskspec").isEmpty {
            shell.error("--diskspec is not supported by this shell")
            return false
        }
        var xml = "<domaincheckpoint>\n"
        if let name { xml += "  <name>\(XMLWriter.escape(name))</name>\n" }
        if let desc { xml += "  <description>\(XMLWriter.escape(desc))</description>\n" }
        xml += "</domaincheckpoint>\n"
        if cmd.has("print-xml") {
            shell.print(xml + "\n")
            return true
        }
        let flags: UInt32 = cmd.has("quiesce") ? 2 : 0
        guard let cp = await shell.call({ try await dom.createCheckpoint(xml: xml, flags: flags) }) else { return false }
        shell.printExtra("Domain checkpoint \(cp.name) created")
        return true
    }

    @MainActor static func lookup(_ shell: Shell, _ cmd: ParsedCommand, _ dom: Domain) async -> DomainCheckpoint? {
        let (ok, name) = shell.stringOption(cmd, "checkpointname")
        guard ok else { return nil }
        guard let name else {
            shell.error("--checkpointname is required")
            return nil
        }
        return await shell.call { try await dom.checkpoint(named: name) }
    }

    static let dumpxml = CommandDefinition(
        "checkpoint-dumpxml", summary: "Dump XML for a domain checkpoint", description: "Checkpoint Dump XML",
        options: [.domain(), .string("checkpointname", "checkpoint name"),
                  .flag("security-info", "include security sensitive information in XML dump"),
                  .flag("no-domain", "exclude <domain> from XML"),
                  .flag("size", "include backup size estimate in XML dump"),
                  .string("xpath", "xpath expression to filter the XML document", requiresName: true),
                  .flag("wrap", "wrap xpath results in an common root element")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let cp = await lookup(shell, cmd, dom) else { return false }
        if cmd.has("xpath") {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        var flags: UInt32 = 0
        if cmd.has("security-info") { flags |= 1 }
        if cmd.has("no-domain") { flags |= 2 }
        if cmd.has("size") { flags |= 4 }
        guard let xml = await shell.call({ try await cp.xmlDesc(flags: flags) }) else { return false }
        shell.print(xml)
        return true
    }

    static let delete = CommandDefinition(
        "checkpoint-delete", summary: "Delete a domain checkpoint", description: "Checkpoint Delete",
        options: [.domain(), .string("checkpointname", "checkpoint name"),
                  .flag("children", "delete checkpoint and all children"),
                  .flag("children-only", "delete children but not checkpoint"),
                  .flag("metadata", "delete only libvirt metadata, leaving checkpoint contents behind")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let cp = await lookup(shell, cmd, dom) else { return false }
        var flags: UInt32 = 0
        if cmd.has("children") { flags |= 1 }
        if cmd.has("metadata") { flags |= 2 }
        if cmd.has("children-only") { flags |= 4 }
        return await DomainTreeCommands.delete(shell, cp, flags: flags, kind: "checkpoint",
                                               childrenOnly: cmd.has("children-only"))
    }

    static let list = CommandDefinition(
        "checkpoint-list", summary: "List checkpoints for a domain", description: "Checkpoint List",
        options: [.domain(), .flag("parent", "add a column showing parent checkpoint"),
                  .flag("roots", "list only checkpoints without parents"),
                  .flag("leaves", "list only checkpoints without children"),
                  .flag("no-leaves", "list only checkpoints that are not leaves (with children)"),
                  .flag("tree", "list checkpoints in a tree"),
                  .string("from", "limit list to children of given checkpoint"),
                  .flag("descendants", "with --from, list all descendants"),
                  .flag("name", "list checkpoint names only"),
                  .flag("topological", "sort list topologically rather than by name")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        var flags: UInt32 = 0
        if cmd.has("roots") { flags |= 1 }
        if cmd.has("topological") { flags |= 2 }
        if cmd.has("leaves") { flags |= 4 }
        if cmd.has("no-leaves") { flags |= 8 }
        guard DomainTreeCommands.listOptionsExclusive(shell, cmd) else { return false }
        let tree = cmd.has("tree")
        var cps: [DomainCheckpoint]
        var from: DomainCheckpoint?
        if cmd.has("from") && cmd.has("roots") {
            shell.error("Options --roots and --from are mutually exclusive")
            return false
        }
        if cmd.has("descendants") && !cmd.has("from") {
            shell.error("--descendants requires --from")
            return false
        }
        if let name = cmd.value("from") {
            guard let c = await shell.call({ try await dom.checkpoint(named: name) }) else { return false }
            from = c
            var f = flags
            if cmd.has("descendants") { f |= 1 }
            guard let s = await shell.call({ try await c.allChildren(flags: f) }) else { return false }
            cps = tree ? [c] + s : s
        } else {
            guard let s = await shell.call({ try await dom.checkpoints(flags: flags) }) else { return false }
            cps = s
        }
        var rows: [DomainTreeCommands.Row] = []
        for c in cps {
            let parentName = cmd.has("parent") || tree ? await DomainTreeCommands.parentName(shell, c) : nil
            var time: Int64 = 0
            if !cmd.has("name") && !tree {
                guard let xml = await shell.call({ try await c.xmlDesc(flags: 2) }) else { return false }
                let el = try? XMLParser.parse(xml, documentName: "domain_checkpoint")
                time = el?.childText("creationTime").flatMap { Int64($0) } ?? 0
            }
            rows.append(.init(name: c.name, parent: parentName, cells: [SnapshotCommands.timeString(time)]))
        }
        DomainTreeCommands.printList(shell, cmd, rows: rows, headers: ["Name", "Creation Time"],
                                     topological: flags & 2 != 0, from: from != nil)
        return true
    }

    static let create = CommandDefinition(
        "checkpoint-create", summary: "Create a checkpoint from XML",
        description: "Create a checkpoint from XML for use in future incremental backups",
        options: [.domain(), .string("xmlfile", "domain checkpoint XML"),
                  .flag("redefine", "redefine metadata for existing checkpoint"),
                  .flag("redefine-validate", "validate the redefined checkpoint"),
                  .flag("quiesce", "quiesce guest's file systems")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok, file) = shell.stringOption(cmd, "xmlfile")
        guard ok else { return false }
        var xml = "<domaincheckpoint/>"
        if let file {
            guard let bytes = shell.readFileBytes(file) else { return false }
            xml = String(decoding: bytes, as: UTF8.self)
        }
        var flags: UInt32 = 0
        if cmd.has("redefine") { flags |= 1 }
        if cmd.has("quiesce") { flags |= 2 }
        if cmd.has("redefine-validate") { flags |= 4 }
        guard let cp = await shell.call({ try await dom.createCheckpoint(xml: xml, flags: flags) }) else { return false }
        if let file {
            shell.printExtra("Domain checkpoint \(cp.name) created from '\(file)'")
        } else {
            shell.printExtra("Domain checkpoint \(cp.name) created")
        }
        return true
    }

    static let info = CommandDefinition(
        "checkpoint-info", summary: "checkpoint information",
        description: "Returns basic information about a checkpoint.",
        options: [.domain(), .string("checkpointname", "checkpoint name")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let cp = await lookup(shell, cmd, dom) else { return false }
        @MainActor func line(_ label: String, _ value: String) {
            shell.print(label.snapshotLabel(15) + " " + value + "\n")
        }
        line("Name:", cp.name)
        line("Domain:", dom.name)
        line("Parent:", await DomainTreeCommands.parentName(shell, cp) ?? "-")
        guard let children = await shell.call({ try await cp.allChildren() }) else { return false }
        line("Children:", "\(children.count)")
        guard let desc = await shell.call({ try await cp.allChildren(flags: 1) }) else { return false }
        line("Descendants:", "\(desc.count)")
        return true
    }

    static let parent = CommandDefinition(
        "checkpoint-parent", summary: "Get the name of the parent of a checkpoint",
        description: "Extract the checkpoint's parent, if any",
        options: [.domain(), .string("checkpointname", "find parent of checkpoint name")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let cp = await lookup(shell, cmd, dom) else { return false }
        return await DomainTreeCommands.printParent(shell, cp, kind: "checkpoint", noParent: .noDomainCheckpoint)
    }
}
