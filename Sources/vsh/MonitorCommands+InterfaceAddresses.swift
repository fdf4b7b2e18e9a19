import Virt

/// virsh's `domifaddr` (virsh-domain-monitor.c): the guest interfaces' addresses from DHCP leases, the guest
/// agent or the host's ARP table, in virsh's table.
extension MonitorCommands {
    static let domifaddr = CommandDefinition(
        "domifaddr", summary: "Get network interfaces' addresses for a running domain",
        description: "Get network interfaces' addresses for a running domain",
        options: [
            .domain(),
            .string("interface", "network interface name"),
            .flag("full", "always display names and MACs of interfaces"),
            .string("source", "address source: 'lease', 'agent', or 'arp'"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (okIface, iface) = shell.stringOption(cmd, "interface")
        let (okSource, sourceName) = shell.stringOption(cmd, "source")
        guard okIface, okSource else { return false }
        var source = DomainInterfaceAddressSource.lease
        if let sourceName {
            switch sourceName {
            case "lease": source = .lease
            case "agent": source = .agent
            case "arp": source = .arp
            default:
                shell.error("Unknown data source '\(sourceName)'")
                return false
            }
        }
        guard let ifaces = await shell.call({ try await dom.interfaceAddresses(source: source) }) else {
            shell.error("Failed to query for interfaces addresses")
            return false
        }
        let full = cmd.has("full")
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        shell.print(" \(pad("Name", 10)) \(pad("MAC address", 20)) \(pad("Protocol", 8))     Address\n")
        shell.print("-------------------------------------------------------------------------------\n")
        for i in ifaces {
            if let iface, iface != i.name { continue }
            if i.addrs.isEmpty {
                shell.print(" \(pad(i.name, 10)) \(pad(i.hwaddr ?? "N/A", 17))    \(pad("N/A", 12)) N/A\n")
                continue
            }
            for (j, a) in i.addrs.enumerated() {
                let type = a.type == 0 ? "ipv4" : a.type == 1 ? "ipv6" : ""
                let addr = "\(pad(type, 12)) \(a.addr)/\(a.prefix)"
                if full || j == 0 {
                    shell.print(" \(pad(i.name, 10)) \(pad(i.hwaddr ?? "", 17))    \(addr)\n")
                } else {
                    shell.print(" \(pad("-", 10)) \(pad("-", 17))    \(addr)\n")
                }
            }
        }
        return true
    }
}
