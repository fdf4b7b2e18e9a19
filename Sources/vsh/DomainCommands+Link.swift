import Foundation
import Virt
import VirtCore

/// virsh's `domif-setlink`, `domif-getlink`, `setmaxmem` and `maxvcpus`, with virsh 9.0's output and errors.
extension DomainCommands {
    static let linkCommands: [CommandDefinition] = [domifSetlink, setmaxmem]

    /// The `<interface>` elements of a domain's XML whose MAC address or target device is `iface` (a MAC
    /// address compared in its normalised form, as virsh parses and formats it).
    static func matchingInterfaces(_ root: XMLElement, _ iface: String) -> (mac: String?, nics: [Int]) {
        // virMacAddrParse + virMacAddrFormat: compared in libvirt's lower-case, zero-padded form.
        let mac = MACAddress(string: iface)?.description
        var found: [Int] = []
        let devices = root.child("devices")?.elements ?? []
        var index = 0
        for e in devices where e.name == "interface" {
            defer { index += 1 }
            let m = e.child("mac")?.attr("address").flatMap { MACAddress(string: $0)?.description }
            if (mac != nil && m == mac) || e.child("target")?.attr("dev") == iface { found.append(index) }
        }
        return (mac, found)
    }

    /// An element as libxml2's xmlNodeDump writes a node of a parsed document without reformatting: its own
    /// whitespace kept, attributes in double quotes, an empty element closed with "/>".
    static func rawXML(_ e: XMLElement) -> String {
        func escape(_ s: String, attribute: Bool) -> String {
            attribute ? XMLWriter.escapeAttr(s) : XMLWriter.escapeText(s)
        }
        var out = "<" + e.qualifiedName
        for ns in e.namespaces {
            out += ns.prefix.isEmpty ? " xmlns=\"\(escape(ns.href, attribute: true))\""
                : " xmlns:\(ns.prefix)=\"\(escape(ns.href, attribute: true))\""
        }
        for a in e.attributes { out += " \(a.name)=\"\(escape(a.value, attribute: true))\"" }
        if e.children.isEmpty { return out + "/>" }
        out += ">"
        for c in e.children {
            switch c {
            case .element(let k): out += rawXML(k)
            case .text(let t): out += escape(t, attribute: false)
            case .comment(let t): out += "<!--\(t)-->"
            case .cdata(let t): out += "<![CDATA[\(t)]]>"
            }
        }
        return out + "</\(e.qualifiedName)>"
    }

    static let domifSetlink = CommandDefinition(
        "domif-setlink", summary: "set link state of a virtual interface",
        description: "Set link state of a domain's virtual interface. This command wraps usage of update-device command.",
        options: [
            .domain(),
            .data("interface", "interface device (MAC Address)"),
            .data("state", "new state of the device"),
            .flag("config", "affect next boot"),
            .flag("print-xml", "print XML document rather than set the interface link state"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (iok, iface) = shell.stringOption(cmd, "interface")
        let (sok, state) = shell.stringOption(cmd, "state")
        guard iok, sok, let iface, let state else { return false }
        guard state == "up" || state == "down" else {
            shell.error("invalid link state '\(state)'")
            return false
        }
        var config = cmd.has("config")
        // An inactive domain has only its persistent definition.
        if let active = await shell.call({ try await dom.isActive() }), !active { config = true }
        guard let xml = await shell.call({
            try await dom.xmlDesc(flags: cmd.has("config") ? .inactive : [])
        }) else { return false }
        let root: XMLElement
        do {
            root = try XMLParser.parse(xml)
        } catch {
            shell.lastError = error as? VirtError
            return false
        }
        let nics = (root.child("devices")?.elements ?? []).filter { $0.name == "interface" }
        if nics.isEmpty {
            shell.error("Failed to extract interface information or no interfaces found")
            return false
        }
        guard let i = matchingInterfaces(root, iface).nics.first else {
            shell.error("interface '\(iface)' not found")
            return false
        }
        // The interface with its <link state> set (added when it has none).
        var nic = nics[i]
        if let k = nic.children.firstIndex(where: { if case .element(let e) = $0 { e.name == "link" } else { false } }),
           case .element(var link) = nic.children[k] {
            if let a = link.attributes.firstIndex(where: { $0.name == "state" }) {
                link.attributes[a].value = state
            } else {
                link.attributes.append((name: "state", value: state))
            }
            nic.children[k] = .element(link)
        } else {
            nic.children.append(.element(XMLElement(name: "link", attributes: [(name: "state", value: state)])))
        }
        let device = rawXML(nic)
        if cmd.has("print-xml") {
            shell.print(device)
            return true
        }
        // VIR_DOMAIN_AFFECT_CONFIG 2, VIR_DOMAIN_AFFECT_LIVE 1.
        let flags: UInt32 = config ? 2 : 1
        guard await shell.call({ try await dom.updateDevice(xml: device, flags: flags) }) != nil else {
            shell.error("Failed to update interface link state")
            return false
        }
        shell.printExtra("Device updated successfully\n")
        return true
    }

    static let setmaxmem = CommandDefinition(
        "setmaxmem", summary: "change maximum memory limit",
        description: "Change the maximum memory allocation limit in the guest domain.",
        options: [
            .domain(),
            OptionDefinition(name: "size", kind: .int, required: true,
                             help: "new maximum memory size, as scaled integer (default KiB)"),
            .flag("config", "affect next boot"),
            .flag("live", "affect running domain"),
            .flag("current", "affect current domain"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config") else { return false }
        guard let dom = await shell.domainOption(cmd), let text = cmd.value("size") else { return false }
        guard let kib = AgentCommands.scaledKiB(shell, text, option: "size") else { return false }
        var flags: ModificationImpact = .maximum
        if cmd.has("config") { flags.insert(.config) }
        if cmd.has("live") { flags.insert(.live) }
        guard await shell.call({ try await dom.setMemory(kib: kib, flags: flags) }) != nil else {
            shell.error("Unable to change MaxMemorySize")
            return false
        }
        return true
    }
}

extension MonitorCommands {
    static let domifGetlink = CommandDefinition(
        "domif-getlink", summary: "get link state of a virtual interface",
        description: "Get link state of a domain's virtual interface.",
        options: [
            .domain(),
            .data("interface", "interface device (MAC Address)"),
            .flag("config", "Get persistent interface state"),
        ]
    ) { shell, cmd in
        let (iok, iface) = shell.stringOption(cmd, "interface")
        guard iok, let iface, let dom = await shell.domainOption(cmd) else { return false }
        guard let root = await domainXML(shell, dom, inactive: cmd.has("config")) else { return false }
        let (mac, found) = DomainCommands.matchingInterfaces(root, iface)
        if found.isEmpty {
            if let mac { shell.error("Interface (mac: \(mac)) not found.") } else { shell.error("Interface (dev: \(iface)) not found.") }
            return false
        }
        if found.count > 1 {
            shell.error("multiple matching interfaces found")
            return false
        }
        let nic = (root.child("devices")?.elements ?? []).filter { $0.name == "interface" }[found[0]]
        // virsh prints no newline of its own here.
        shell.print("\(iface) \(nonEmpty(nic.child("link")?.attr("state")) ?? "up")")
        return true
    }
}

extension HostCommands {
    static let maxvcpus = CommandDefinition(
        "maxvcpus", summary: "connection vcpu maximum",
        description: "Show maximum number of virtual CPUs for guests on this connection.",
        options: [.string("type", "domain type")]
    ) { shell, cmd in
        let type = cmd.value("type")
        // As virsh: the domain capabilities' <vcpu max>, else virConnectGetMaxVcpus.
        var vcpus: Int32 = -1
        if let caps = await shell.call({ try await shell.conn.domainCapabilities(virtType: type) }),
           let root = try? XMLParser.parse(caps), let max = root.child("vcpu")?.attr("max").flatMap({ Int32($0) }) {
            vcpus = max
        }
        shell.lastError = nil
        if vcpus < 0 {
            guard let n = await shell.call({ try await shell.conn.maxVcpus(type: type) }) else { return false }
            vcpus = n
        }
        shell.print("\(vcpus)\n")
        return true
    }
}

extension MonitorCommands {
    /// The stats groups and list filters of `domstats`, as virsh names them.
    static let domstatsGroups: [(String, StatsTypes, String)] = [
        ("state", .state, "report domain state"), ("cpu-total", .cpuTotal, "report domain physical cpu usage"),
        ("balloon", .balloon, "report domain balloon statistics"), ("vcpu", .vcpu, "report domain virtual cpu information"),
        ("interface", .interface, "report domain network interface information"),
        ("block", .block, "report domain block device statistics"), ("perf", .perf, "report domain perf event statistics"),
        ("iothread", .iothread, "report domain IOThread information"), ("memory", .memory, "report domain memory usage"),
        ("dirtyrate", .dirtyRate, "report domain dirty rate information"), ("vm", .vm, "report hypervisor-specific statistics"),
    ]
    static let domstatsFilters: [(String, GetAllDomainStatsFlags, String)] = [
        ("list-active", .active, "list only active domains"), ("list-inactive", .inactive, "list only inactive domains"),
        ("list-persistent", .persistent, "list only persistent domains"),
        ("list-transient", .transient, "list only transient domains"), ("list-running", .running, "list only running domains"),
        ("list-paused", .paused, "list only paused domains"), ("list-shutoff", .shutoff, "list only shutoff domains"),
        ("list-other", .other, "list only domains in other states"),
    ]

    static let domstats = CommandDefinition(
        "domstats", summary: "get statistics about one or multiple domains",
        description: "Gets statistics about one or more (or all) domains",
        options: domstatsGroups.map { OptionDefinition.flag($0.0, $0.2) } + domstatsFilters.map { .flag($0.0, $0.2) } + [
            .flag("raw", "do not pretty-print the fields"),
            .flag("enforce", "enforce requested stats parameters"),
            .flag("backing", "add backing chain information to block stats"),
            .flag("nowait", "report only stats that are accessible instantly"),
            .argv("domain", "list of domains to get stats for"),
        ]
    ) { shell, cmd in
        var types: StatsTypes = []
        for (name, t, _) in domstatsGroups where cmd.has(name) { types.insert(t) }
        var flags: GetAllDomainStatsFlags = []
        for (name, f, _) in domstatsFilters where cmd.has(name) { flags.insert(f) }
        if cmd.has("enforce") { flags.insert(.enforceStats) }
        if cmd.has("backing") { flags.insert(.backing) }
        if cmd.has("nowait") { flags.insert(.nowait) }
        var domains: [Domain]?
        let names = cmd.values("domain")
        if !names.isEmpty {
            var list: [Domain] = []
            for n in names {
                guard let d = await shell.lookupDomain(n) else { return false }
                list.append(d)
            }
            domains = list
        }
        guard let records = await shell.call({ try await shell.conn.domainStats(domains, types: types, flags: flags) }) else {
            return false
        }
        // A blank line between records (none after the last).
        for (i, r) in records.enumerated() {
            var text = "Domain: '\(r.domain.name)'\n"
            for p in r.params { text += "  \(p.field)=\(typedValue(p.value))\n" }
            shell.print(text + (i + 1 < records.count ? "\n" : ""))
        }
        return true
    }
}
