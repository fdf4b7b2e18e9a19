import Virt

/// Statistics commands of virsh-domain-monitor.c: domblkstat, domifstat, dommemstat, domblkinfo, domblklist,
/// domiflist. domblklist and domiflist read the domain XML, as virsh does.
extension MonitorCommands {
    static let statsCommands: [CommandDefinition] = [domblkstat, domifstat, dommemstat, domblkinfo, domblklist,
                                                     domiflist]

    /// virsh's `domblkstat_output`: field, legacy name, human label.
    private static let blockStatFields: [(String, String?, String)] = [
        ("rd_operations", "rd_req", "number of read operations:"),
        ("rd_bytes", "rd_bytes", "number of bytes read:"),
        ("wr_operations", "wr_req", "number of write operations:"),
        ("wr_bytes", "wr_bytes", "number of bytes written:"),
        ("errs", "errs", "error count:"),
        ("flush_operations", nil, "number of flush operations:"),
        ("rd_total_times", nil, "total duration of reads (ns):"),
        ("wr_total_times", nil, "total duration of writes (ns):"),
        ("flush_total_times", nil, "total duration of flushes (ns):"),
    ]

    static let domblkstat = CommandDefinition(
        "domblkstat", summary: "get device block stats for a domain",
        description: "Get device block stats for a running domain. See man page or use --human for explanation of fields",
        options: [
            .domain(),
            OptionDefinition(name: "device", kind: .string, emptyOK: true, help: "block device"),
            .flag("human", "print a more human readable output"),
        ]
    ) { shell, cmd in
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        let human = cmd.has("human")
        let given = cmd.value("device") ?? ""
        var device = given
        @MainActor func line(_ label: String, _ value: String) {
            let padded = human ? Format.padRight(label, 31) : label
            shell.print("\(device) \(padded) \(value)\n")
        }
        guard let params = await shell.call({ try await dom.blockStatsParameters(given) }) else {
            guard shell.lastError?.code == .noSupport else { return false }
            shell.lastError = nil
            guard let s = await shell.call({ try await dom.blockStats(given) }) else {
                shell.error("Failed to get block stats \(name) \(given)")
                return false
            }
            if human {
                shell.print("Device: \(device)\n")
                device = ""
            }
            for (i, v) in [s.rdReq, s.rdBytes, s.wrReq, s.wrBytes, s.errs].enumerated() where v >= 0 {
                let f = blockStatFields[i]
                line(human ? f.2 : (f.1 ?? f.0), "\(v)")
            }
            return true
        }
        if human {
            shell.print("Device: \(device)\n")
            device = ""
        }
        var printed = Set<Int>()
        for f in blockStatFields {
            guard let i = params.firstIndex(where: { $0.field == f.0 }), !printed.contains(i) else { continue }
            printed.insert(i)
            line(human ? f.2 : (f.1 ?? f.0), typedValue(params[i].value))
        }
        for (i, p) in params.enumerated() where !printed.contains(i) {
            shell.print("\(device) \(p.field) \(typedValue(p.value))\n")
        }
        return true
    }

    static let domifstat = CommandDefinition(
        "domifstat", summary: "get network interface stats for a domain",
        description: "Get network interface stats for a running domain.",
        options: [.domain(), .data("interface", "interface device specified by name or MAC Address")]
    ) { shell, cmd in
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        let (ok, device) = shell.stringOption(cmd, "interface")
        guard ok, let device else { return false }
        guard let s = await shell.call({ try await dom.interfaceStats(device) }) else {
            shell.error("Failed to get interface stats \(name) \(device)")
            return false
        }
        let names = ["rx_bytes", "rx_packets", "rx_errs", "rx_drop", "tx_bytes", "tx_packets", "tx_errs", "tx_drop"]
        for (n, v) in zip(names, s.values) where v >= 0 { shell.print("\(device) \(n) \(v)\n") }
        return true
    }

    static let dommemstat = CommandDefinition(
        "dommemstat", summary: "get memory statistics for a domain",
        description: "Get memory statistics for a running domain.",
        options: [
            .domain(),
            .int("period", "period in seconds to set collection"),
            .flag("config", "affect next boot"),
            .flag("live", "affect running domain"),
            .flag("current", "affect current domain"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config") else { return false }
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        var flags: ModificationImpact = []
        if cmd.has("config") { flags.insert(.config) }
        if cmd.has("live") { flags.insert(.live) }
        // Neither option and the domain running: the live definition (virsh's own rule).
        if !cmd.has("current") && !cmd.has("live") && !cmd.has("config"),
           await shell.call({ try await dom.isActive() }) == true {
            flags.insert(.live)
        }
        shell.lastError = nil
        if let text = cmd.value("period") {
            guard let period = Format.parseInt32(text) else {
                shell.error("Numeric value '\(text)' for <period> option is malformed or out of range")
                return false
            }
            if period < 0 {
                shell.error("Invalid collection period value '\(period)'")
                return false
            }
            if await shell.call({ try await dom.setMemoryStatsPeriod(period, flags: flags) }) == nil {
                shell.error("Unable to change balloon collection period.")
                return false
            }
            return true
        }
        guard let stats = await shell.call({ try await dom.memoryStats(maxStats: 13) }) else {
            shell.error("Failed to get memory statistics for domain \(name)")
            return false
        }
        for s in stats {
            if let n = MemoryStat.name(s.tag) { shell.print("\(n) \(s.value)\n") }
        }
        return true
    }

    static let domblkinfo = CommandDefinition(
        "domblkinfo", summary: "domain block device size information",
        description: "Get block device size info for a domain.",
        options: [
            .domain(),
            .string("device", "block device"),
            .flag("human", "Human readable output"),
            .flag("all", "display all block devices info"),
        ]
    ) { shell, cmd in
        let human = cmd.has("human"), all = cmd.has("all")
        guard let dom = await shell.domainOption(cmd) else { return false }
        let device = cmd.value("device")
        if !all && (device ?? "").isEmpty {
            shell.error("command 'domblkinfo' requires <device> option")
            return false
        }
        @MainActor func sizes(_ info: BlockInfo) -> [String] {
            if info.capacity == 0 && info.allocation == 0 && info.physical == 0 { return ["-", "-", "-"] }
            return [info.capacity, info.allocation, info.physical].map { human ? prettyCapacity($0) : "\($0)" }
        }
        guard all else {
            guard let device, let info = await shell.call({ try await dom.blockInfo(device) }) else { return false }
            let s = sizes(info)
            shell.print(Format.padRight("Capacity:", 15) + " " + s[0] + "\n")
            shell.print(Format.padRight("Allocation:", 15) + " " + s[1] + "\n")
            shell.print(Format.padRight("Physical:", 15) + " " + s[2] + "\n")
            return true
        }
        let active = await shell.call({ try await dom.isActive() }) == true
        shell.lastError = nil
        guard let root = await domainXML(shell, dom, inactive: false) else { return false }
        var table = Table(header: ["Target", "Capacity", "Allocation", "Physical"])
        for disk in root.child("devices")?.children("disk") ?? [] {
            let target = nonEmpty(disk.child("target")?.attr("dev")) ?? ""
            guard let source = disk.child("source") else {
                table.append([target, "-", "-", "-"])
                continue
            }
            var info = await shell.call({ try await dom.blockInfo(target) })
            if info == nil {
                // A network disk of an inactive domain cannot report sizes: zeros, as virsh does.
                if source.attr("protocol") != nil, !active, shell.lastError?.code == .internalError,
                   shell.lastError?.domain.rawValue == 18 {
                    shell.lastError = nil
                    info = BlockInfo(capacity: 0, allocation: 0, physical: 0)
                } else {
                    return false
                }
            }
            guard let info else { return false }
            table.append([target] + sizes(info))
        }
        shell.print(table.render(header: !shell.quiet))
        return true
    }

    static let domblklist = CommandDefinition(
        "domblklist", summary: "list all domain blocks",
        description: "Get the summary of block devices for a domain.",
        options: [
            .domain(),
            .flag("inactive", "get inactive rather than running configuration"),
            .flag("details", "additionally display the type and device value"),
        ]
    ) { shell, cmd in
        let details = cmd.has("details")
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let root = await domainXML(shell, dom, inactive: cmd.has("inactive")) else { return false }
        var table = Table(header: details ? ["Type", "Device", "Target", "Source"] : ["Target", "Source"])
        for disk in root.child("devices")?.children("disk") ?? [] {
            let type = nonEmpty(disk.attr("type"))
            let device = nonEmpty(disk.attr("device"))
            if details && (type == nil || device == nil) {
                shell.print("unable to query block list details")
                return false
            }
            guard let target = nonEmpty(disk.child("target")?.attr("dev")) else {
                shell.error("unable to query block list")
                return false
            }
            let source: String?
            if type == "nvme" {
                let s = disk.child("source")
                let a = s?.child("address")
                let addr = String(format4(a?.attr("domain")) + ":" + format2(a?.attr("bus")) + ":"
                                  + format2(a?.attr("slot")) + "." + format1(a?.attr("function")))
                source = "nvme://\(addr)/\(s?.attr("namespace") ?? "")"
            } else {
                source = firstAttribute(disk.children("source"), ["file", "dev", "dir", "name", "volume"])
            }
            if details {
                table.append([type ?? "", device ?? "", target, source ?? "-"])
            } else {
                table.append([target, source ?? "-"])
            }
        }
        shell.print(table.render(header: !shell.quiet))
        return true
    }

    static let domiflist = CommandDefinition(
        "domiflist", summary: "list all domain virtual interfaces",
        description: "Get the summary of virtual interfaces for a domain.",
        options: [.domain(), .flag("inactive", "get inactive rather than running configuration")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let root = await domainXML(shell, dom, inactive: cmd.has("inactive")) else { return false }
        var table = Table(header: ["Interface", "Type", "Source", "Model", "MAC"])
        for nic in root.child("devices")?.children("interface") ?? [] {
            let source = firstAttribute(nic.children("source"), ["bridge", "dev", "network", "name", "path"])
            table.append([
                nonEmpty(nic.child("target")?.attr("dev")) ?? "-",
                nonEmpty(nic.attr("type")) ?? "",
                source ?? "-",
                nonEmpty(nic.child("model")?.attr("type")) ?? "-",
                nonEmpty(nic.child("mac")?.attr("address")) ?? "-",
            ])
        }
        shell.print(table.render(header: !shell.quiet))
        return true
    }

    // MARK: Helpers

    /// The domain's XML root (`virshDomainGetXML`).
    @MainActor
    static func domainXML(_ shell: Shell, _ dom: Domain, inactive: Bool) async -> XMLElement? {
        guard let xml = await shell.call({ try await dom.xmlDesc(flags: inactive ? .inactive : []) }) else {
            return nil
        }
        do {
            return try XMLParser.parse(xml)
        } catch {
            shell.lastError = error
            return nil
        }
    }

    /// XPath's `string(./x/@a|./x/@b…)`: the first of the named attributes in document order, "" as nil.
    static func firstAttribute(_ elements: [XMLElement], _ names: Set<String>) -> String? {
        for e in elements {
            for a in e.attributes where names.contains(a.name) { return nonEmpty(a.value) }
        }
        return nil
    }

    static func nonEmpty(_ s: String?) -> String? {
        guard let s, !s.isEmpty else { return nil }
        return s
    }

    private static func hexNumber(_ s: String?) -> UInt64 {
        guard let s else { return 0 }
        if s.hasPrefix("0x") || s.hasPrefix("0X") { return UInt64(s.dropFirst(2), radix: 16) ?? 0 }
        return UInt64(s) ?? 0
    }

    private static func hex(_ s: String?, _ width: Int) -> String {
        let h = String(hexNumber(s), radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }

    private static func format4(_ s: String?) -> String { hex(s, 4) }
    private static func format2(_ s: String?) -> String { hex(s, 2) }
    private static func format1(_ s: String?) -> String { String(hexNumber(s), radix: 16) }

    /// virTypedParameterToString.
    static func typedValue(_ v: TypedParam.Value) -> String {
        switch v {
        case .int(let x): "\(x)"
        case .uint(let x): "\(x)"
        case .llong(let x): "\(x)"
        case .ullong(let x): "\(x)"
        case .double(let x): Format.fixed(x, 6)
        case .boolean(let b): b ? "yes" : "no"
        case .string(let s): s
        }
    }

    /// virsh's `vshPrettyCapacity` with "%.3lf %s".
    static func prettyCapacity(_ value: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(value)
        var i = 0
        while v >= 1024 && i < units.count - 1 {
            v /= 1024
            i += 1
        }
        return i == 0 ? "\(Format.fixed(Double(value), 3)) B" : "\(Format.fixed(v, 3)) \(units[i])"
    }
}
