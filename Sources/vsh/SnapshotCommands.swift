import Virt
import VirtCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Snapshot commands (virsh-snapshot.c of virsh 9.0).
enum SnapshotCommands {
    static let all: [CommandDefinition] = [create, createAs, current, delete, dumpxml, edit, info, list, parent, revert]

    typealias F = SnapshotFlags

    /// virsh's creation-time column: `%Y-%m-%d %H:%M:%S %z` in local time.
    static func timeString(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 100)
        let n = strftime(&buf, buf.count, "%Y-%m-%d %H:%M:%S %z", &tmv)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `--snapshotname` or `--current` (virsh's `virshLookupSnapshot`); unless `exclusive`, a name given with
    /// `--current` names the snapshot.
    @MainActor static func lookup(_ shell: Shell, _ cmd: ParsedCommand, _ dom: Domain, option: String = "snapshotname",
                                  exclusive: Bool = true) async -> DomainSnapshot? {
        let (ok, name) = shell.stringOption(cmd, option)
        guard ok else { return nil }
        if exclusive && cmd.has("current") && name != nil {
            shell.error("--\(option) and --current are mutually exclusive")
            return nil
        }
        if let name { return await shell.call { try await dom.snapshot(named: name) } }
        if cmd.has("current") {
            return await shell.call { try await dom.currentSnapshot() }
        }
        shell.error("--\(option) or --current is required")
        return nil
    }

    static func createFlags(_ cmd: ParsedCommand) -> UInt32 {
        var flags: UInt32 = 0
        for (o, f) in [("redefine", F.createRedefine), ("current", F.createCurrent), ("no-metadata", F.createNoMetadata),
                       ("halt", F.createHalt), ("disk-only", F.createDiskOnly), ("reuse-external", F.createReuseExt),
                       ("quiesce", F.createQuiesce), ("atomic", F.createAtomic), ("live", F.createLive),
                       ("validate", F.createValidate)] where cmd.has(o) {
            flags |= f
        }
        return flags
    }

    /// virsh's `virshSnapshotCreate`.
    @MainActor static func createFromXML(_ shell: Shell, _ dom: Domain, xml: String, flags: UInt32, from: String?) async -> Bool {
        guard let snap = await shell.call({ try await dom.createSnapshot(xml: xml, flags: flags) }) else { return false }
        if let from {
            shell.printExtra("Domain snapshot \(snap.name) created from '\(from)'")
        } else {
            shell.printExtra("Domain snapshot \(snap.name) created")
        }
        return true
    }

    static let createOptions: [OptionDefinition] = [
        .flag("no-metadata", "take snapshot but create no metadata"),
        .flag("halt", "halt domain after snapshot is created"),
        .flag("disk-only", "capture disk state but not vm state"),
        .flag("reuse-external", "reuse any existing external files"),
        .flag("quiesce", "quiesce guest's file systems"),
        .flag("atomic", "require atomic operation"),
        .flag("live", "take a live snapshot"),
        .flag("validate", "validate the XML against the schema"),
    ]

    static let create = CommandDefinition(
        "snapshot-create", summary: "Create a snapshot from XML",
        description: "Create a snapshot (disk and RAM) from XML",
        options: [.domain(), .string("xmlfile", "domain snapshot XML"),
                  .flag("redefine", "redefine metadata for existing snapshot"),
                  .flag("current", "with redefine, set current snapshot")] + createOptions
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok, file) = shell.stringOption(cmd, "xmlfile")
        guard ok else { return false }
        var xml = "<domainsnapshot/>"
        if let file {
            guard let bytes = shell.readFileBytes(file) else {
                shell.reportError()
                return false
            }
            xml = String(decoding: bytes, as: UTF8.self)
        }
        return await createFromXML(shell, dom, xml: xml, flags: createFlags(cmd), from: file)
    }

    static let createAs = CommandDefinition(
        "snapshot-create-as", summary: "Create a snapshot from a set of args",
        description: "Create a snapshot (disk and RAM) from arguments",
        options: [.domain(), .string("name", "name of snapshot"),
                  .string("description", "description of snapshot"),
                  .flag("print-xml", "print XML document rather than create")] + createOptions + [
                  .string("memspec", "memory attributes: [file=]name[,snapshot=type]"),
                  .argv("diskspec", "disk attributes: disk[,snapshot=type][,driver=type][,stype=type][,file=name]")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (okName, name) = shell.stringOption(cmd, "name")
        let (okDesc, desc) = shell.stringOption(cmd, "description")
        guard okName, okDesc else { return false }
        if cmd.has("memspec") || !cmd.values("diskspec").isEmpty {
            shell.error("--memspec and --diskspec are not supported by this shell")
            return false
        }
        var xml = "<domainsnapshot>\n"
        if let name { xml += "  <name>\(XMLWriter.escape(name))</name>\n" }
        if let desc { xml += "  <description>\(XMLWriter.escape(desc))</description>\n" }
        xml += "</domainsnapshot>\n"
        if cmd.has("print-xml") {
            shell.print(xml + "\n")
            return true
        }
        return await createFromXML(shell, dom, xml: xml, flags: createFlags(cmd), from: nil)
    }

    /// Reads what virsh reads from a snapshot's XML: state, creation time, location.
    struct Summary {
        var state = "", creationTime: Int64 = 0, external = false
        init(_ xml: String) {
            guard let el = try? XMLParser.parse(xml, documentName: "domain_snapshot") else { return }
            state = el.childText("state") ?? ""
            creationTime = el.childText("creationTime").flatMap { Int64($0) } ?? 0
            external = el.child("memory")?.attr("snapshot") == "external"
                || (el.child("disks")?.children("disk").contains { $0.attr("snapshot") == "external" } ?? false)
        }
    }

    static let info = CommandDefinition(
        "snapshot-info", summary: "snapshot information",
        description: "Returns basic information about a snapshot.",
        options: [.domain(), .string("snapshotname", "snapshot name"),
                  .flag("current", "info on current snapshot")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let snap = await lookup(shell, cmd, dom) else { return false }
        @MainActor func line(_ label: String, _ value: String) {
            shell.print(label.snapshotLabel(15) + " " + value + "\n")
        }
        line("Name:", snap.name)
        line("Domain:", dom.name)
        guard let current = await shell.call({ try await snap.isCurrent() }) else { return false }
        line("Current:", current ? "yes" : "no")
        guard let xml = await shell.call({ try await snap.xmlDesc() }) else { return false }
        let s = Summary(xml)
        line("State:", s.state)
        line("Location:", s.external ? "external" : "internal")
        line("Parent:", await DomainTreeCommands.parentName(shell, snap) ?? "-")
        guard let children = await shell.call({ try await snap.numChildren() }) else { return false }
        line("Children:", "\(children)")
        guard let desc = await shell.call({ try await snap.numChildren(flags: F.listDescendants) }) else { return false }
        line("Descendants:", "\(desc)")
        guard let meta = await shell.call({ try await snap.hasMetadata() }) else { return false }
        line("Metadata:", meta ? "yes" : "no")
        return true
    }

    static let dumpxml = CommandDefinition(
        "snapshot-dumpxml", summary: "Dump XML for a domain snapshot", description: "Snapshot Dump XML",
        options: [.domain(), .data("snapshotname", "snapshot name"),
                  .flag("security-info", "include security sensitive information in XML dump"),
                  .string("xpath", "xpath expression to filter the XML document", requiresName: true),
                  .flag("wrap", "wrap xpath results in an common root element")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok, name) = shell.stringOption(cmd, "snapshotname")
        guard ok, let name else { return false }
        if cmd.has("xpath") {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        guard let snap = await shell.call({ try await dom.snapshot(named: name) }),
              let xml = await shell.call({ try await snap.xmlDesc(flags: cmd.has("security-info") ? F.xmlSecure : 0) })
        else { return false }
        shell.print(xml)
        return true
    }

    static let current = CommandDefinition(
        "snapshot-current", summary: "Get or set the current snapshot", description: "Get or set the current snapshot",
        options: [.domain(), .flag("name", "list the name, rather than the full xml"),
                  .flag("security-info", "include security sensitive information in XML dump"),
                  .string("snapshotname", "name of existing snapshot to make current")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok, target) = shell.stringOption(cmd, "snapshotname")
        guard ok else { return false }
        if let target {
            if cmd.has("name") || cmd.has("security-info") {
                shell.error("--snapshotname and --\(cmd.has("name") ? "name" : "security-info") are mutually exclusive")
                return false
            }
            guard let snap = await shell.call({ try await dom.snapshot(named: target) }),
                  let xml = await shell.call({ try await snap.xmlDesc(flags: F.xmlSecure) }),
                  await shell.call({ try await dom.createSnapshot(xml: xml, flags: F.createRedefine | F.createCurrent) })
                    != nil
            else { return false }
            shell.printExtra("Snapshot \(target) set as current")
            return true
        }
        guard let has = await shell.call({ try await dom.hasCurrentSnapshot() }) else { return false }
        if !has {
            shell.error("domain '\(dom.name)' has no current snapshot")
            return false
        }
        guard let snap = await shell.call({ try await dom.currentSnapshot() }) else { return false }
        if cmd.has("name") {
            shell.print(snap.name)
            return true
        }
        guard let xml = await shell.call({ try await snap.xmlDesc(flags: cmd.has("security-info") ? F.xmlSecure : 0) })
        else { return false }
        shell.print(xml)
        return true
    }

    static let parent = CommandDefinition(
        "snapshot-parent", summary: "Get the name of the parent of a snapshot",
        description: "Extract the snapshot's parent, if any",
        options: [.domain(), .string("snapshotname", "find parent of snapshot name"),
                  .flag("current", "find parent of current snapshot")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let snap = await lookup(shell, cmd, dom) else { return false }
        return await DomainTreeCommands.printParent(shell, snap, kind: "snapshot", noParent: .noDomainSnapshot)
    }

    static let revert = CommandDefinition(
        "snapshot-revert", summary: "Revert a domain to a snapshot", description: "Revert domain to snapshot",
        options: [.domain(), .string("snapshotname", "snapshot name"), .flag("current", "revert to current snapshot"),
                  .flag("running", "after reverting, change state to running"),
                  .flag("paused", "after reverting, change state to paused"),
                  .flag("force", "try harder on risky reverts"),
                  .flag("reset-nvram", "re-initialize NVRAM from its pristine template")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        var flags: UInt32 = 0
        if cmd.has("running") { flags |= F.revertRunning }
        if cmd.has("paused") { flags |= F.revertPaused }
        if cmd.has("reset-nvram") { flags |= 8 }
        guard let snap = await lookup(shell, cmd, dom) else { return false }
        var done = await shell.call({ try await snap.revert(flags: flags) }) != nil
        // virsh retries with FORCE when asked and the failure was a risky revert.
        if !done, cmd.has("force"), shell.lastError?.code == .snapshotRevertRisky {
            shell.lastError = nil
            done = await shell.call({ try await snap.revert(flags: flags | F.revertForce) }) != nil
        }
        guard done else { return false }
        shell.printExtra("Domain snapshot \(snap.name) reverted\n")
        return true
    }

    static let delete = CommandDefinition(
        "snapshot-delete", summary: "Delete a domain snapshot", description: "Snapshot Delete",
        options: [.domain(), .string("snapshotname", "snapshot name"), .flag("current", "delete current snapshot"),
                  .flag("children", "delete snapshot and all children"),
                  .flag("children-only", "delete children but not snapshot"),
                  .flag("metadata", "delete only libvirt metadata, leaving snapshot contents behind")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let snap = await lookup(shell, cmd, dom) else { return false }
        var flags: UInt32 = 0
        if cmd.has("children") { flags |= F.deleteChildren }
        if cmd.has("children-only") { flags |= F.deleteChildrenOnly }
        if cmd.has("metadata") { flags |= F.deleteMetadataOnly }
        return await DomainTreeCommands.delete(shell, snap, flags: flags, kind: "snapshot",
                                               childrenOnly: cmd.has("children-only"))
    }

    static let list = CommandDefinition(
        "snapshot-list", summary: "List snapshots for a domain", description: "Snapshot List",
        options: [.domain(), .flag("parent", "add a column showing parent snapshot"),
                  .flag("roots", "list only snapshots without parents"),
                  .flag("leaves", "list only snapshots without children"),
                  .flag("no-leaves", "list only snapshots that are not leaves (with children)"),
                  .flag("metadata", "list only snapshots that have metadata that would prevent undefine"),
                  .flag("no-metadata", "list only snapshots that have no metadata managed by libvirt"),
                  .flag("inactive", "filter by snapshots taken while inactive"),
                  .flag("active", "filter by snapshots taken while active (full system snapshots)"),
                  .flag("disk-only", "filter by disk-only snapshots"),
                  .flag("internal", "filter by internal snapshots"),
                  .flag("external", "filter by external snapshots"),
                  .flag("tree", "list snapshots in a tree"),
                  .string("from", "limit list to children of given snapshot"),
                  .flag("current", "limit list to children of current snapshot"),
                  .flag("descendants", "with --from, list all descendants"),
                  .flag("name", "list snapshot names only"),
                  .flag("topological", "sort list topologically rather than by name")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        var flags: UInt32 = 0
        for (o, f) in [("roots", F.listRoots), ("leaves", F.listLeaves), ("no-leaves", F.listNoLeaves),
                       ("metadata", F.listMetadata), ("no-metadata", F.listNoMetadata),
                       ("inactive", F.listInactive), ("active", F.listActive), ("disk-only", F.listDiskOnly),
                       ("internal", F.listInternal), ("external", F.listExternal),
                       ("topological", F.listTopological)] where cmd.has(o) {
            flags |= f
        }
        guard DomainTreeCommands.listOptionsExclusive(shell, cmd) else { return false }
        let tree = cmd.has("tree")
        var from: DomainSnapshot?
        if cmd.has("from") || cmd.has("current") {
            if cmd.has("roots") {
                shell.error("Options --roots and --\(cmd.has("from") ? "from" : "current") are mutually exclusive")
                return false
            }
            if cmd.has("from") && cmd.has("current") {
                shell.error("--from and --current are mutually exclusive")
                return false
            }
            if let name = cmd.value("from") {
                guard let s = await shell.call({ try await dom.snapshot(named: name) }) else { return false }
                from = s
            } else {
                guard let s = await shell.call({ try await dom.currentSnapshot() }) else { return false }
                from = s
            }
        } else if cmd.has("descendants") {
            shell.error("--descendants requires either --from or --current")
            return false
        }
        let snaps: [DomainSnapshot]
        if let from {
            var f = flags
            if cmd.has("descendants") { f |= F.listDescendants }
            guard let s = await shell.call({ try await from.allChildren(flags: f) }) else { return false }
            snaps = tree ? [from] + s : s
        } else {
            guard let s = await shell.call({ try await dom.snapshots(flags: flags) }) else { return false }
            snaps = s
        }
        var rows: [DomainTreeCommands.Row] = []
        for s in snaps {
            let parentName = cmd.has("parent") || tree ? await DomainTreeCommands.parentName(shell, s) : nil
            var summary = Summary("")
            if !cmd.has("name") && !tree {
                guard let xml = await shell.call({ try await s.xmlDesc() }) else { return false }
                summary = Summary(xml)
            }
            rows.append(.init(name: s.name, parent: parentName, cells: [timeString(summary.creationTime), summary.state]))
        }
        DomainTreeCommands.printList(shell, cmd, rows: rows, headers: ["Name", "Creation Time", "State"],
                                     topological: flags & F.listTopological != 0, from: from != nil)
        return true
    }
}

extension String {
    /// Pads with spaces to `width` characters (printf's `%-Ns`).
    func snapshotLabel(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
