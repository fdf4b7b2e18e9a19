import Foundation
import Virt
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The guest agent commands (virsh-domain.c, virsh-domain-monitor.c, virsh-host.c of virsh 9.0): domifaddr,
/// domtime, domfsfreeze, domfsthaw, domfsinfo, guestinfo, set-user-password, qemu-agent-command; and setmem.
/// Each prints what virsh prints (the shell adds virsh's newline after every command).
enum AgentCommands {
    /// Domain management commands (domifaddr and domtime are monitoring commands, MonitorCommands lists them).
    static let all: [CommandDefinition] = [
        domfsfreeze, domfsthaw, domfsinfo, guestinfo, setUserPassword, qemuAgentCommand, setmem, domfstrim,
        getUserSSHKeys, setUserSSHKeys,
    ]

    /// virsh's `" %-10s %-17s    %-12s %s\n"` row of domifaddr.
    static func ifaddrRow(_ name: String, _ mac: String, _ proto: String, _ addr: String) -> String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        return " " + pad(name, 10) + " " + pad(mac, 17) + "    " + pad(proto, 12) + " " + addr + "\n"
    }

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
        var source = InterfaceAddressSource.lease
        if let s = cmd.value("source") {
            switch s {
            case "lease": source = InterfaceAddressSource.lease
            case "agent": source = InterfaceAddressSource.agent
            case "arp": source = InterfaceAddressSource.arp
            default:
                shell.error("Unknown data source '\(s)'")
                return false
            }
        }
        guard let ifaces = await shell.call({ try await dom.interfaceAddresses(source: source) }) else {
            shell.error("Failed to query for interfaces addresses")
            return false
        }
        let only = cmd.value("interface")
        let full = cmd.has("full")
        shell.printExtra(" " + "Name".padding(toLength: 10, withPad: " ", startingAt: 0) + " "
                         + "MAC address".padding(toLength: 20, withPad: " ", startingAt: 0) + " "
                         + "Protocol".padding(toLength: 8, withPad: " ", startingAt: 0) + "     Address\n"
                         + String(repeating: "-", count: 79) + "\n")
        for iface in ifaces {
            if let only, only != iface.name { continue }
            let mac = iface.hwaddr ?? "N/A"
            if iface.addrs.isEmpty {
                shell.print(ifaddrRow(iface.name, mac, "N/A", "N/A"))
                continue
            }
            for (j, a) in iface.addrs.enumerated() {
                let proto = a.type == 0 ? "ipv4" : "ipv6"
                let addr = "\(a.addr)/\(a.prefix)"
                if full || j == 0 {
                    shell.print(ifaddrRow(iface.name, mac, proto, addr))
                } else {
                    shell.print(ifaddrRow("-", "-", proto, addr))
                }
            }
        }
        return true
    }

    static let domtime = CommandDefinition(
        "domtime", summary: "domain time",
        description: "Gets or sets the domain's system time",
        options: [
            .domain(),
            .flag("now", "set to the time of the host running virsh"),
            .flag("pretty", "print domain's time in human readable form"),
            .flag("sync", "instead of setting given time, synchronize from domain's RTC"),
            .int("time", "time to set"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "time", "now"), shell.exclusive(cmd, "time", "sync"),
              shell.exclusive(cmd, "now", "sync") else { return false }
        guard let dom = await shell.domainOption(cmd) else { return false }
        var seconds: Int64 = 0
        if let text = cmd.value("time") {
            guard let v = Int64(text) else {
                shell.error("Numeric value '\(text)' for <time> option is malformed or out of range")
                return false
            }
            seconds = v
        }
        let doSet = cmd.has("now") || cmd.has("sync") || cmd.has("time")
        if doSet {
            if cmd.has("now") { seconds = Int64(time(nil)) }
            let flags: UInt32 = cmd.has("sync") ? 1 : 0
            return await shell.call({ try await dom.setGuestTime(seconds: seconds, nseconds: 0, flags: flags) }) != nil
        }
        guard let t = await shell.call({ try await dom.guestTime() }) else { return false }
        if cmd.has("pretty") {
            var tt = time_t(t.seconds)
            var tmv = tm()
            gmtime_r(&tt, &tmv)
            var buf = [CChar](repeating: 0, count: 64)
            let n = strftime(&buf, buf.count, "%Y-%m-%d %H:%M:%S", &tmv)
            shell.print("Time: " + String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        } else {
            shell.print("Time: \(t.seconds)")
        }
        return true
    }

    static let domfsfreeze = CommandDefinition(
        "domfsfreeze", summary: "Freeze domain's mounted filesystems.",
        description: "Freeze domain's mounted filesystems.",
        options: [.domain(), .argv("mountpoint", "mountpoint path to be frozen")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let points = cmd.values("mountpoint")
        guard let n = await shell.call({ try await dom.fsFreeze(mountpoints: points) }) else {
            shell.error("Unable to freeze filesystems")
            return false
        }
        shell.print("Froze \(n) filesystem(s)\n")
        return true
    }

    static let domfsthaw = CommandDefinition(
        "domfsthaw", summary: "Thaw domain's mounted filesystems.",
        description: "Thaw domain's mounted filesystems.",
        options: [.domain(), .argv("mountpoint", "mountpoint path to be thawed")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let points = cmd.values("mountpoint")
        guard let n = await shell.call({ try await dom.fsThaw(mountpoints: points) }) else {
            shell.error("Unable to thaw filesystems")
            return false
        }
        shell.print("Thawed \(n) filesystem(s)\n")
        return true
    }

    static let domfsinfo = CommandDefinition(
        "domfsinfo", summary: "Get information of domain's mounted filesystems.",
        description: "Get information of domain's mounted filesystems.",
        options: [.domain()]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let info = await shell.call({ try await dom.fsInfo() }) else {
            shell.error("Unable to get filesystem information")
            return false
        }
        if info.isEmpty {
            shell.print("No filesystems are mounted in the domain")
            return true
        }
        var table = Table(header: ["Mountpoint", "Name", "Type", "Target"])
        for fs in info {
            table.append([fs.mountpoint, fs.name, fs.fstype, fs.devAliases.joined(separator: ",")])
        }
        shell.print(table.render(header: !shell.quiet))
        return true
    }

    static let guestinfo = CommandDefinition(
        "guestinfo", summary: "query information about the guest (via agent)",
        description: "Use the guest agent to query various information from guest's point of view",
        options: [
            .domain(),
            .flag("user", "report active users"),
            .flag("os", "report operating system information"),
            .flag("timezone", "report timezone information"),
            .flag("hostname", "report hostname"),
            .flag("filesystem", "report filesystem information"),
            .flag("disk", "report disk information"),
            .flag("interface", "report interface information"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        var types: UInt32 = 0
        for (name, bit) in [("user", GuestInfoTypes.users), ("os", GuestInfoTypes.os),
                            ("timezone", GuestInfoTypes.timezone), ("hostname", GuestInfoTypes.hostname),
                            ("filesystem", GuestInfoTypes.filesystem), ("disk", GuestInfoTypes.disks),
                            ("interface", GuestInfoTypes.interfaces)] where cmd.has(name) {
            types |= bit
        }
        guard let params = await shell.call({ try await dom.guestInfo(types: types) }) else { return false }
        for p in params {
            let name = p.field.count >= 20 ? p.field : p.field + String(repeating: " ", count: 20 - p.field.count)
            shell.print(name + ": " + MonitorCommands.typedValue(p.value) + "\n")
        }
        return true
    }

    static let domfstrim = CommandDefinition(
        "domfstrim", summary: "Invoke fstrim on domain's mounted filesystems.",
        description: "Invoke fstrim on domain's mounted filesystems.",
        options: [
            .domain(),
            .int("minimum", "Just a hint to ignore contiguous free ranges smaller than this (Bytes)"),
            .string("mountpoint", "which mount point to trim"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        var minimum: UInt64 = 0
        if let text = cmd.value("minimum") {
            guard let v = Format.parseUInt64(text) else {
                shell.error("Numeric value '\(text)' for <minimum> option is malformed or out of range")
                return false
            }
            minimum = v
        }
        let point = cmd.value("mountpoint")
        if point?.isEmpty == true {
            shell.error("command 'domfstrim' requires <mountpoint> option")
            return false
        }
        guard await shell.call({ try await dom.fsTrim(mountPoint: point, minimum: minimum) }) != nil else {
            shell.error("Unable to invoke fstrim")
            return false
        }
        return true
    }

    static let getUserSSHKeys = CommandDefinition(
        "get-user-sshkeys", summary: "list authorized SSH keys for given user (via agent)",
        description: "Use the guest agent to query authorized SSH keys for given user",
        options: [.domain(), .data("user", "user to list authorized keys for")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd), let user = cmd.value("user") else { return false }
        guard let keys = await shell.call({ try await dom.authorizedSSHKeys(user: user) }) else { return false }
        // virsh prints each key as the agent gave it (without a newline of its own).
        for k in keys { shell.print(k) }
        return true
    }

    static let setUserSSHKeys = CommandDefinition(
        "set-user-sshkeys", summary: "manipulate authorized SSH keys file for given user (via agent)",
        description: "Append, reset or remove specified key from the authorized keys file for given user",
        options: [
            .domain(),
            .data("user", "user to set authorized keys for"),
            .string("file", "optional file to read keys from"),
            .flag("reset", "clear out authorized keys file before adding new keys"),
            .flag("remove", "remove keys from the authorized keys file"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd), let user = cmd.value("user") else { return false }
        var flags: UInt32 = 0
        if cmd.has("remove") && cmd.value("file") == nil {
            shell.error("Option --file is required by option --remove")
            return false
        }
        if cmd.has("remove") {
            if cmd.has("reset") {
                shell.error("Options --reset and --remove are mutually exclusive")
                return false
            }
            flags |= 2
        } else if !cmd.has("reset") {
            flags |= 1
        }
        var keys: [String] = []
        if let file = cmd.value("file") {
            guard let text = shell.readFile(file) else { return false }
            // g_strsplit on newlines: a trailing newline leaves an empty last entry.
            keys = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if keys.count == 1 && keys[0].isEmpty { keys = [] }
        } else if flags & 1 != 0 {
            shell.error("Option --file is required")
            return false
        }
        return await shell.call({ try await dom.setAuthorizedSSHKeys(user: user, keys: keys, flags: flags) }) != nil
    }

    static let setUserPassword = CommandDefinition(
        "set-user-password", summary: "set the user password inside the domain",
        description: "changes the password of the specified user inside the domain",
        options: [
            .domain(),
            .data("user", "the username"),
            .data("password", "the new password"),
            .flag("encrypted", "the password is already encrypted"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd), let user = cmd.value("user"),
              let password = cmd.value("password") else { return false }
        let flags: UInt32 = cmd.has("encrypted") ? 1 : 0
        guard await shell.call({ try await dom.setUserPassword(user: user, password: password, flags: flags) }) != nil
        else { return false }
        shell.print("Password set successfully for \(user) in \(dom.name)")
        return true
    }

    static let qemuAgentCommand = CommandDefinition(
        "qemu-agent-command", summary: "QEMU Guest Agent Command",
        description: "Run an arbitrary qemu guest agent command; use at your own risk",
        options: [
            .domain(),
            OptionDefinition(name: "timeout", kind: .int, requiresName: true, help: "timeout seconds. must be positive."),
            .flag("async", "execute command without waiting for timeout"),
            .flag("block", "execute command without timeout"),
            .flag("pretty", "pretty-print the output"),
            .argv("cmd", "command", required: true),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let command = cmd.values("cmd").joined(separator: " ")
        var timeout: Int32 = -1
        var chosen = 0
        if let text = cmd.value("timeout") {
            guard let v = Int32(text) else {
                shell.error("Numeric value '\(text)' for <timeout> option is malformed or out of range")
                return false
            }
            if v < 1 {
                shell.error("timeout must be positive")
                return false
            }
            timeout = v
            chosen += 1
        }
        if cmd.has("async") {
            timeout = 0
            chosen += 1
        }
        if cmd.has("block") {
            timeout = -2
            chosen += 1
        }
        if chosen > 1 {
            shell.error("timeout, async and block options are exclusive")
            return false
        }
        guard let result = await shell.call({ try await dom.qemuAgentCommand(command, timeout: timeout) }) else {
            return false
        }
        let text = result ?? ""
        if cmd.has("pretty") {
            shell.print(agentPretty(text) + "\n")
        } else {
            shell.print(text + "\n")
        }
        return true
    }

    /// libvirt's pretty JSON (virJSONValueToString with pretty): two-space indentation, an empty object or
    /// array opened and closed on lines of their own with an empty line between, and a final newline.
    static func agentPretty(_ compact: String) -> String {
        // DomainCommands.prettyJSON puts one member or element per line and writes empty containers as {} and
        // [] at the end of their line (before a comma).
        let lines = DomainCommands.prettyJSON(compact).split(separator: "\n", omittingEmptySubsequences: false)
        var out: [String] = []
        for line in lines {
            var l = String(line)
            let comma = l.hasSuffix(",")
            if comma { l.removeLast() }
            if l.hasSuffix("{}") || l.hasSuffix("[]") {
                let close = String(l.removeLast())
                let indent = String(repeating: " ", count: l.prefix { $0 == " " }.count)
                out.append(l)
                out.append("")
                out.append(indent + close + (comma ? "," : ""))
            } else {
                out.append(l + (comma ? "," : ""))
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    static let setmem = CommandDefinition(
        "setmem", summary: "change memory allocation",
        description: "Change the current memory allocation in the guest domain.",
        options: [
            .domain(),
            OptionDefinition(name: "size", kind: .int, required: true, help: "new memory size, as scaled integer (default KiB)"),
            .flag("config", "affect next boot"),
            .flag("live", "affect running domain"),
            .flag("current", "affect current domain"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config") else { return false }
        guard let dom = await shell.domainOption(cmd), let text = cmd.value("size") else { return false }
        guard let kib = scaledKiB(shell, text, option: "size") else { return false }
        var flags: ModificationImpact = []
        if cmd.has("config") { flags.insert(.config) }
        if cmd.has("live") { flags.insert(.live) }
        // No option: virDomainSetMemory, which acts on the running domain.
        if flags.isEmpty && !cmd.has("current") { flags = .live }
        return await shell.call({ try await dom.setMemory(kib: kib, flags: flags) }) != nil
    }

    /// A size option in KiB, rounded up (virsh's vshCommandOptScaledInt with scale 1024, then VIR_DIV_UP);
    /// nil after virsh's errors: the malformed value, and libvirt's "unknown suffix" when only the suffix is wrong.
    @MainActor
    static func scaledKiB(_ shell: Shell, _ text: String, option: String) -> UInt64? {
        if let bytes = scaledBytes(text, defaultScale: 1024) { return (bytes + 1023) / 1024 }
        shell.error("Scaled numeric value '\(text)' for <\(option)> option is malformed or out of range")
        if let i = text.firstIndex(where: { !$0.isNumber }), i != text.startIndex, UInt64(text[..<i]) != nil {
            let suffix = String(text[i...])
            if scaledBytes("1" + suffix, defaultScale: 1024) == nil {
                shell.lastError = VirtError(.invalidArg, "invalid argument: unknown suffix '\(suffix)'")
            }
        }
        return nil
    }

    /// virsh's vshCommandOptScaledInt: a number with an optional unit suffix (b, k/KiB, KB, M/MiB, MB, ...).
    static func scaledBytes(_ text: String, defaultScale: UInt64) -> UInt64? {
        var digits = text
        var suffix = ""
        if let i = text.firstIndex(where: { !$0.isNumber }) {
            digits = String(text[..<i])
            suffix = String(text[i...])
        }
        guard let n = UInt64(digits) else { return nil }
        let scales: [String: UInt64] = ["b": 1, "byte": 1, "bytes": 1, "k": 1024, "kib": 1024, "kb": 1000,
                                        "m": 1 << 20, "mib": 1 << 20, "mb": 1_000_000, "g": 1 << 30, "gib": 1 << 30,
                                        "gb": 1_000_000_000, "t": 1 << 40, "tib": 1 << 40, "tb": 1_000_000_000_000,
                                        "p": 1 << 50, "pib": 1 << 50, "pb": 1_000_000_000_000_000,
                                        "e": 1 << 60, "eib": 1 << 60, "eb": 1_000_000_000_000_000_000]
        let scale = suffix.isEmpty ? defaultScale : scales[suffix.lowercased()]
        guard let scale else { return nil }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow || bytes > UInt64(Int64.max) ? nil : bytes
    }
}
