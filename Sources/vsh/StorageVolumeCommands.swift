import Virt

/// Storage volume commands (virsh-volume.c).
enum StorageVolumeCommands {
    /// In virsh's order.
    static let all: [CommandDefinition] = [clone, createAs, create, createFrom, delete, download, dumpxml, info, key,
                                           list, name, path, pool, resize, upload, wipe]

    /// virsh's `virshVolumeTypeToString`.
    static let typeNames = ["file", "block", "dir", "network", "netdir", "ploop"]
    static func typeName(_ t: Int32) -> String { t >= 0 && Int(t) < typeNames.count ? typeNames[Int(t)] : "unknown" }

    static let volOption = OptionDefinition.data("vol", "vol name, key or path")
    static let poolOption = OptionDefinition.string("pool", "pool name or uuid", requiresName: true)

    /// The volume of option `option` (`virshCommandOptVolBy`): by name in `--pool`, then by key, then by path.
    @MainActor
    static func lookup(_ shell: Shell, _ cmd: ParsedCommand, option: String = "vol",
                       poolOption: String? = "pool") async -> StorageVolume? {
        guard let n = StoragePoolCommands.requiredString(shell, cmd, option) else { return nil }
        var pool: StoragePool?
        if let poolOption {
            let (ok, p) = shell.stringOption(cmd, poolOption)
            guard ok else { return nil }
            if let p {
                guard let found = await StoragePoolCommands.lookup(shell, p) else { return nil }
                guard await shell.call({ try await found.isActive() }) == true else {
                    shell.error("pool '\(p)' is not active")
                    return nil
                }
                pool = found
            }
        }
        var vol: StorageVolume?
        if let pool { vol = await shell.call { try await pool.lookupVolume(name: n) } }
        if vol == nil { vol = await shell.call { try await shell.conn.lookupStorageVolume(key: n) } }
        if vol == nil { vol = await shell.call { try await shell.conn.lookupStorageVolume(path: n) } }
        guard let vol else {
            if pool != nil || poolOption == nil {
                shell.error("failed to get vol '\(n)'")
            } else {
                shell.error("failed to get vol '\(n)', specifying --\(poolOption ?? "pool") might help")
            }
            return nil
        }
        shell.lastError = nil
        if let pool, let volPool = await shell.call({ try await vol.pool() }), volPool.name != pool.name {
            shell.lastError = nil
            shell.error("Requested volume '\(n)' is not in pool '\(pool.name)'")
            return nil
        }
        return vol
    }

    /// virsh's `virshVolSize`: a number with an optional unit (bytes by default).
    /// A unit libvirt does not know leaves its error as the pending library error.
    @MainActor
    static func size(_ text: String, _ shell: Shell) -> UInt64? {
        let digits = text.prefix { $0.isNumber }
        guard !digits.isEmpty, let v = UInt64(digits) else { return nil }
        let suffix = String(text.dropFirst(digits.count))
        let scale: UInt64
        do {
            scale = try StorageUnits.scale(suffix)
        } catch {
            shell.lastError = VirtError(.invalidArg, "invalid argument: unknown suffix '\(suffix)'")
            return nil
        }
        let (r, overflow) = v.multipliedReportingOverflow(by: scale)
        if overflow {
            shell.lastError = VirtError(.overflow, "value too large: \(text)")
            return nil
        }
        return r
    }

    static let create = CommandDefinition(
        "vol-create", summary: "create a vol from an XML file", description: "Create a vol.",
        options: [
            .data("pool", "pool name"), .file("file containing an XML vol description"),
            .flag("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)"),
            .flag("validate", "validate the XML against the schema"),
        ]
    ) { shell, cmd in
        guard let pool = await StoragePoolCommands.lookup(shell, cmd),
              let file = StoragePoolCommands.requiredString(shell, cmd, "file"), let xml = shell.readFile(file) else {
            return false
        }
        let flags: UInt32 = (cmd.has("prealloc-metadata") ? 1 : 0) | (cmd.has("validate") ? 4 : 0)
        guard let vol = await shell.call({ try await pool.createVolume(xml: xml, flags: flags) }) else {
            shell.error("Failed to create vol from \(file)")
            return false
        }
        shell.printExtra("Vol \(vol.name) created from \(file)\n")
        return true
    }

    static let createFrom = CommandDefinition(
        "vol-create-from", summary: "create a vol, using another volume as input",
        description: "Create a vol from an existing volume.",
        options: [
            .data("pool", "pool name or uuid"), .file("file containing an XML vol description"),
            volOption,
            .string("inputpool", "pool name or uuid of the input volume's pool", requiresName: true),
            .flag("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)"),
            .flag("reflink", "use btrfs COW lightweight copy"),
            .flag("validate", "validate the XML against the schema"),
        ]
    ) { shell, cmd in
        guard let pool = await StoragePoolCommands.lookup(shell, cmd),
              let file = StoragePoolCommands.requiredString(shell, cmd, "file"),
              let input = await lookup(shell, cmd, poolOption: "inputpool"), let xml = shell.readFile(file) else {
            return false
        }
        let flags: UInt32 = (cmd.has("prealloc-metadata") ? 1 : 0) | (cmd.has("reflink") ? 2 : 0)
            | (cmd.has("validate") ? 4 : 0)
        guard let vol = await shell.call({ try await pool.createVolume(xml: xml, from: input, flags: flags) }) else {
            shell.error("Failed to create vol from \(file)")
            return false
        }
        shell.printExtra("Vol \(vol.name) created from input vol \(input.name)\n")
        return true
    }

    static let clone = CommandDefinition(
        "vol-clone", summary: "clone a volume.", description: "Clone an existing volume within the parent pool.",
        options: [
            volOption, .data("newname", "clone name"), poolOption,
            .flag("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)"),
            .flag("reflink", "use btrfs COW lightweight copy"),
            .flag("print-xml", "print XML document rather than clone the volume"),
        ]
    ) { shell, cmd in
        guard let orig = await lookup(shell, cmd) else { return false }
        guard let pool = await shell.call({ try await orig.pool() }) else {
            shell.error("failed to get parent pool")
            return false
        }
        guard let newName = StoragePoolCommands.requiredString(shell, cmd, "newname") else { return false }
        guard let xml = await shell.call({ try await orig.xmlDesc() }) else { return false }
        guard let newXML = renamed(xml, to: newName) else {
            shell.error("Failed to allocate XML buffer")
            return false
        }
        if cmd.has("print-xml") {
            shell.print(newXML)
            return true
        }
        let flags: UInt32 = (cmd.has("prealloc-metadata") ? 1 : 0) | (cmd.has("reflink") ? 2 : 0)
        guard await shell.call({ try await pool.createVolume(xml: newXML, from: orig, flags: flags) }) != nil else {
            shell.error("Failed to clone vol from \(orig.name)")
            return false
        }
        shell.printExtra("Vol \(newName) cloned from \(orig.name)\n")
        return true
    }

    /// The volume XML with its `<name>` replaced, dumped as libxml2 does (virsh's `virshMakeCloneXML`).
    static func renamed(_ xml: String, to name: String) -> String? {
        guard var root = try? XMLParser.parse(xml, documentName: "volume_definition", errorDomain: .storage) else {
            return nil
        }
        let isName: (XMLElement.Child) -> Bool = { if case .element(let e) = $0 { e.name == "name" } else { false } }
        if let i = root.children.firstIndex(where: isName),
           case .element(var el) = root.children[i] {
            el.children = [.text(name)]
            root.children[i] = .element(el)
        }
        var w = XMLWriter()
        w.node(root)
        var out = w.output
        while out.hasSuffix("\n") { out.removeLast() }
        return out
    }

    static let createAs = CommandDefinition(
        "vol-create-as", summary: "create a volume from a set of args", description: "Create a vol.",
        options: [
            .data("pool", "pool name"), .data("name", "name of the volume"),
            .data("capacity", "size of the vol, as scaled integer (default bytes)"),
            .string("allocation", "initial allocation size, as scaled integer (default bytes)", requiresName: true),
            .string("format", "file format type raw,bochs,qcow,qcow2,qed,vmdk", requiresName: true),
            .string("backing-vol", "the backing volume if taking a snapshot", requiresName: true),
            .string("backing-vol-format", "format of backing volume if taking a snapshot", requiresName: true),
            .flag("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)"),
            .flag("print-xml", "print XML document, but don't define/create"),
        ]
    ) { shell, cmd in
        guard let pool = await StoragePoolCommands.lookup(shell, cmd),
              let name = StoragePoolCommands.requiredString(shell, cmd, "name"),
              let capText = StoragePoolCommands.requiredString(shell, cmd, "capacity") else { return false }
        guard let capacity = size(capText, shell) else {
            shell.error("Malformed size \(capText)")
            return false
        }
        var x = "<volume>\n  <name>\(name)</name>\n  <capacity>\(capacity)</capacity>\n"
        let (aok, allocText) = shell.stringOption(cmd, "allocation")
        guard aok else { return false }
        if let allocText {
            guard let a = size(allocText, shell) else {
                shell.error("Malformed size \(allocText)")
                return false
            }
            x += "  <allocation>\(a)</allocation>\n"
        }
        let (fok, format) = shell.stringOption(cmd, "format")
        guard fok else { return false }
        if let format { x += "  <target>\n    <format type='\(format)'/>\n  </target>\n" }
        let (bok, backing) = shell.stringOption(cmd, "backing-vol")
        guard bok else { return false }
        if let backing {
            var bvol = await shell.call { try await pool.lookupVolume(name: backing) }
            if bvol == nil { bvol = await shell.call { try await shell.conn.lookupStorageVolume(key: backing) } }
            if bvol == nil { bvol = await shell.call { try await shell.conn.lookupStorageVolume(path: backing) } }
            guard let bvol else {
                shell.error("failed to get vol '\(backing)'")
                return false
            }
            shell.lastError = nil
            guard let bpath = await shell.call({ try await bvol.path() }) else {
                shell.error("failed to get backing vol path")
                return false
            }
            x += "  <backingStore>\n    <path>\(bpath)</path>\n"
            if let bf = cmd.value("backing-vol-format") { x += "    <format type='\(bf)'/>\n" }
            x += "  </backingStore>\n"
        }
        x += "</volume>\n"
        if cmd.has("print-xml") {
            shell.print(x)
            return true
        }
        let flags: UInt32 = cmd.has("prealloc-metadata") ? 1 : 0
        guard await shell.call({ try await pool.createVolume(xml: x, flags: flags) }) != nil else {
            shell.error("Failed to create vol \(name)")
            return false
        }
        shell.printExtra("Vol \(name) created\n")
        return true
    }

    static let delete = CommandDefinition(
        "vol-delete", summary: "delete a vol", description: "Delete a given vol.",
        options: [volOption, poolOption,
                  .flag("delete-snapshots",
                        "delete snapshots associated with volume (must be supported by storage driver)")]
    ) { shell, cmd in
        guard let vol = await lookup(shell, cmd) else { return false }
        let flags: UInt32 = cmd.has("delete-snapshots") ? 2 : 0
        guard await shell.call({ try await vol.delete(flags: flags) }) != nil else {
            shell.error("Failed to delete vol \(cmd.value("vol") ?? vol.name)")
            return false
        }
        // virsh names the volume as it was given (name, key or path).
        shell.printExtra("Vol \(cmd.value("vol") ?? vol.name) deleted\n")
        return true
    }

    static let algorithms = ["zero", "nnsa", "dod", "bsi", "gutmann", "schneier", "pfitzner7", "pfitzner33", "random",
                             "trim"]

    static let wipe = CommandDefinition(
        "vol-wipe", summary: "wipe a vol",
        description: "Ensure data previously on a volume is not accessible to future reads",
        options: [volOption, poolOption, .string("algorithm", "perform selected wiping algorithm", requiresName: true)]
    ) { shell, cmd in
        guard let vol = await lookup(shell, cmd) else { return false }
        let (ok, alg) = shell.stringOption(cmd, "algorithm")
        guard ok else { return false }
        if let alg, !algorithms.contains(alg) {
            shell.error("Unsupported algorithm '\(alg)'")
            return false
        }
        let result: Void?
        if let alg, let i = algorithms.firstIndex(of: alg), i != 0 {
            result = await shell.call { try await vol.wipe(algorithm: UInt32(i)) }
        } else {
            result = await shell.call { try await vol.wipe() }
        }
        guard result != nil else {
            shell.error("Failed to wipe vol \(cmd.value("vol") ?? vol.name)")
            return false
        }
        shell.printExtra("Vol \(cmd.value("vol") ?? vol.name) wiped\n")
        return true
    }

    static let resize = CommandDefinition(
        "vol-resize", summary: "resize a vol",
        description: "Resizes a storage volume. This is safe only for storage volumes not in use by an active guest.\n"
            + "See blockresize for live resizing.",
        options: [
            volOption, .data("capacity", "new capacity for the vol, as scaled integer (default bytes)"), poolOption,
            .flag("allocate", "allocate the new capacity, rather than leaving it sparse"),
            .flag("delta", "use capacity as a delta to current size, rather than the new size"),
            .flag("shrink", "allow the resize to shrink the volume"),
        ]
    ) { shell, cmd in
        guard let vol = await lookup(shell, cmd) else { return false }
        guard var text = StoragePoolCommands.requiredString(shell, cmd, "capacity") else { return false }
        var flags: UInt32 = 0
        if cmd.has("allocate") { flags |= 1 }
        let delta = cmd.has("delta")
        if delta { flags |= 2 }
        if cmd.has("shrink") { flags |= 4 }
        text = String(text.drop { $0 == " " || $0 == "\t" })
        if text.hasPrefix("-") {
            guard cmd.has("shrink") else {
                shell.error("negative size requires --shrink")
                return false
            }
            text.removeFirst()
        }
        guard let capacity = size(text, shell) else {
            shell.error("Malformed size \(text)")
            return false
        }
        guard await shell.call({ try await vol.resize(capacity: capacity, flags: flags) }) != nil else {
            shell.error(delta ? "Failed to change size of volume '\(vol.name)' by \(text)"
                              : "Failed to change size of volume '\(vol.name)' to \(text)")
            return false
        }
        shell.printExtra(delta ? "Size of volume '\(vol.name)' successfully changed by \(text)\n"
                               : "Size of volume '\(vol.name)' successfully changed to \(text)\n")
        return true
    }

    static let dumpxml = CommandDefinition(
        "vol-dumpxml", summary: "vol information in XML",
        description: "Output the vol information as an XML dump to stdout.",
        options: [
            volOption, poolOption,
            .string("xpath", "xpath expression to filter the XML document", requiresName: true),
            .flag("wrap", "wrap xpath results in an common root element"),
        ]
    ) { shell, cmd in
        guard let vol = await lookup(shell, cmd) else { return false }
        guard let xml = await shell.call({ try await vol.xmlDesc() }) else { return false }
        if cmd.value("xpath") != nil {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        shell.print(xml)
        return true
    }

    static let info = CommandDefinition(
        "vol-info", summary: "storage vol information", description: "Returns basic information about the storage vol.",
        options: [volOption, poolOption, .flag("bytes", "sizes are represented in bytes rather than pretty units"),
                  .flag("physical", "return the physical size of the volume in allocation field")]
    ) { shell, cmd in
        guard let vol = await lookup(shell, cmd) else { return false }
        @MainActor func line(_ label: String, _ value: String) {
            shell.print(Format.padRight(label, 15) + " " + value + "\n")
        }
        line("Name:", vol.name)
        let result: StorageVolInfo?
        if cmd.has("physical") {
            result = await shell.call { try await vol.info(flags: 1) }
        } else {
            result = await shell.call { try await vol.info() }
        }
        guard let i = result else { return false }
        line("Type:", typeName(i.type))
        let bytes = cmd.has("bytes")
        line("Capacity:", bytes ? "\(i.capacity) bytes" : StoragePoolCommands.capacity(i.capacity))
        line(cmd.has("physical") ? "Physical:" : "Allocation:",
             bytes ? "\(i.allocation) bytes" : StoragePoolCommands.capacity(i.allocation))
        return true
    }

    static let list = CommandDefinition(
        "vol-list", summary: "list vols", description: "Returns list of vols by pool.",
        options: [.data("pool", "pool name or uuid"), .flag("details", "display extended details for volumes")]
    ) { shell, cmd in
        guard let pool = await StoragePoolCommands.lookup(shell, cmd) else { return false }
        guard var vols = await shell.call({ try await pool.listAllVolumes() }) else {
            shell.error("Failed to list volumes")
            return false
        }
        vols.sort { $0.name < $1.name }
        let details = cmd.has("details")
        var table = Table(header: details ? ["Name", "Path", "Type", "Capacity", "Allocation"] : ["Name", "Path"])
        for v in vols {
            guard let path = await shell.call({ try await v.path() }) else { return false }
            var row = [v.name, path]
            if details {
                if let i = await shell.call({ try await v.info() }) {
                    row += [typeName(i.type), StoragePoolCommands.capacity(i.capacity),
                            StoragePoolCommands.capacity(i.allocation)]
                } else {
                    row += ["unknown", "unknown", "unknown"]
                }
                shell.lastError = nil
            }
            table.append(row)
        }
        shell.print(table.render(header: !shell.quiet))
        return true
    }

    static let path = CommandDefinition(
        "vol-path", summary: "returns the volume path for a given volume name or key",
        options: [.data("vol", "volume name or key"), poolOption]
    ) { shell, cmd in
        guard let vol = await lookup(shell, cmd), let p = await shell.call({ try await vol.path() }) else {
            return false
        }
        shell.print("\(p)\n")
        return true
    }

    static let name = CommandDefinition(
        "vol-name", summary: "returns the volume name for a given volume key or path",
        options: [.data("vol", "volume key or path")]
    ) { shell, cmd in
        guard let vol = await lookup(shell, cmd, poolOption: nil) else { return false }
        shell.print("\(vol.name)\n")
        return true
    }

    static let key = CommandDefinition(
        "vol-key", summary: "returns the volume key for a given volume name or path",
        options: [.data("vol", "volume name or path"), poolOption]
    ) { shell, cmd in
        guard let vol = await lookup(shell, cmd) else { return false }
        shell.print("\(vol.key)\n")
        return true
    }

    static let pool = CommandDefinition(
        "vol-pool", summary: "returns the storage pool for a given volume key or path",
        options: [.data("vol", "volume key or path"), .flag("uuid", "return the pool uuid rather than pool name")]
    ) { shell, cmd in
        guard let vol = await lookup(shell, cmd, poolOption: nil) else { return false }
        guard let pool = await shell.call({ try await vol.pool() }) else {
            shell.error("failed to get parent pool")
            return false
        }
        shell.print(cmd.has("uuid") ? "\(pool.uuid)\n" : "\(pool.name)\n")
        return true
    }
}
