import Virt

/// freepages and allocpages (virsh-host.c of virsh 9.0): the host's page pools per NUMA cell.
extension HostCommands {
    static let pageCommands: [CommandDefinition] = [freepages, allocpages]

    /// `--pagesize` in KiB (vshCommandOptScaledInt with scale 1024 and a limit in bytes: UINT_MAX for freepages,
    /// UINT_MAX KiB for allocpages; rounded up); nil with ok when absent.
    @MainActor static func pageSizeOption(_ shell: Shell, _ cmd: ParsedCommand, limit: UInt64)
        -> (ok: Bool, kib: UInt32?) {
        guard let text = cmd.value("pagesize") else { return (true, nil) }
        guard let kib = AgentCommands.scaledKiB(shell, text, option: "pagesize") else { return (false, nil) }
        guard let bytes = AgentCommands.scaledBytes(text, defaultScale: 1024), bytes <= limit else {
            // virScaleInteger's overflow: the number and its suffix as given.
            shell.error("Scaled numeric value '\(text)' for <pagesize> option is malformed or out of range")
            shell.lastError = VirtError(.overflow, "numerical overflow: value too large: \(text)")
            return (false, nil)
        }
        return (true, UInt32(kib))
    }

    /// The host's capabilities as a tree, with virsh's messages when they cannot be had.
    @MainActor static func capabilitiesTree(_ shell: Shell) async -> XMLElement? {
        guard let xml = await shell.call({ try await shell.conn.capabilities() }) else {
            shell.error("unable to get node capabilities")
            return nil
        }
        guard let root = await shell.call({ try XMLParser.parse(xml, documentName: "capabilities") }) else {
            shell.error("unable to parse node capabilities")
            return nil
        }
        return root
    }

    /// The ids of `/capabilities/host/topology/cells/cell`.
    static func cellIDs(_ caps: XMLElement) -> [String] {
        caps.child("host")?.child("topology")?.child("cells")?.children("cell").compactMap { $0.attr("id") } ?? []
    }

    static let freepages = CommandDefinition(
        "freepages", summary: "NUMA free pages", description: "display available free pages for the NUMA cell.",
        options: [
            .int("cellno", "NUMA cell number"),
            .int("pagesize", "page size (in kibibytes)"),
            .flag("all", "show free pages for all NUMA cells"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "all", "cellno") else { return false }
        let (ok, kib) = pageSizeOption(shell, cmd, limit: UInt64(UInt32.max))
        guard ok else { return false }
        if cmd.has("all") {
            guard let caps = await capabilitiesTree(shell) else { return false }
            var sizes: [UInt32]
            if let kib {
                sizes = [kib]
            } else {
                sizes = []
                for page in caps.child("host")?.child("cpu")?.children("pages") ?? [] {
                    let value = page.attr("size") ?? "(null)"
                    guard let size = Format.parseUInt32(value) else {
                        shell.error("unable to parse page size: \(value)")
                        return false
                    }
                    sizes.append(size)
                }
            }
            for id in cellIDs(caps) {
                guard let cell = Format.parseInt32(id) else {
                    shell.error("unable to parse numa node id: \(id)")
                    return false
                }
                guard let counts = await shell.call({
                    try await shell.conn.nodeFreePages(pages: sizes, startCell: cell, cellCount: 1)
                }) else { return false }
                shell.print("Node \(cell):\n")
                for (size, count) in zip(sizes, counts) { shell.print("\(size)KiB: \(count)\n") }
                shell.print("\n")
            }
            return true
        }
        guard cmd.has("cellno") else {
            shell.error("missing cellno argument")
            return false
        }
        let (cellOK, cellValue) = intOption(shell, cmd, "cellno")
        guard cellOK, let cell = cellValue else { return false }
        if cell < -1 {
            shell.error("cell number must be non-negative integer or -1")
            return false
        }
        guard let kib else {
            shell.error("missing pagesize argument")
            return false
        }
        guard let counts = await shell.call({
            try await shell.conn.nodeFreePages(pages: [kib], startCell: cell, cellCount: 1)
        }) else { return false }
        guard let count = counts.first else {
            shell.error("Could not get count of free \(kib)KiB pages, no data returned")
            return false
        }
        shell.print("\(kib)KiB: \(count)\n")
        return true
    }

    static let allocpages = CommandDefinition(
        "allocpages", summary: "Manipulate pages pool size",
        description: "Allocate or free some pages in the pool for NUMA cell.",
        options: [
            OptionDefinition(name: "pagesize", kind: .int, required: true, help: "page size (in kibibytes)"),
            OptionDefinition(name: "pagecount", kind: .int, required: true, help: "page count"),
            .int("cellno", "NUMA cell number"),
            .flag("add", "instead of setting new pool size add pages to it"),
            .flag("all", "set on all NUMA cells"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "all", "cellno") else { return false }
        var startCell: Int32 = -1
        if cmd.has("cellno") {
            let (ok, cell) = intOption(shell, cmd, "cellno")
            guard ok, let cell else { return false }
            startCell = cell
        }
        let (ok, kibValue) = pageSizeOption(shell, cmd, limit: UInt64(UInt32.max) * 1024)
        guard ok, let kib = kibValue else { return false }
        guard let countText = cmd.value("pagecount") else { return false }
        guard let count = Format.parseUInt64(countText) else {
            shell.error("Numeric value '\(countText)' for <pagecount> option is malformed or out of range")
            return false
        }
        // VIR_NODE_ALLOC_PAGES_ADD is 0, VIR_NODE_ALLOC_PAGES_SET 1.
        let flags: UInt32 = cmd.has("add") ? 0 : 1
        var cells = [startCell]
        if cmd.has("all") {
            guard let caps = await capabilitiesTree(shell) else { return false }
            cells = []
            for id in cellIDs(caps) {
                guard let cell = UInt64(id) else {
                    shell.error("conversion from string failed")
                    return false
                }
                cells.append(Int32(truncatingIfNeeded: cell))
            }
        }
        for cell in cells {
            guard await shell.call({
                try await shell.conn.nodeAllocPages(pageSizes: [kib], pageCounts: [count], startCell: cell,
                                                    cellCount: 1, flags: flags)
            }) != nil else { return false }
        }
        return true
    }
}
