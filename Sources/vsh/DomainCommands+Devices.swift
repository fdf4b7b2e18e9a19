import Foundation
import Virt
import VirtCore

/// attach-device, detach-device, update-device, detach-device-alias, attach-disk, detach-disk,
/// attach-interface, detach-interface and change-media (virsh-domain.c): devices, live and persistent.
extension DomainCommands {
    static let deviceCommands: [CommandDefinition] = [
        attachDevice, detachDevice, updateDevice, detachDeviceAlias, attachDisk, detachDisk, attachInterface,
        detachInterface, changeMedia,
    ]

    private static let impactOptions: [OptionDefinition] = [
        .flag("persistent", "make live change persistent"),
        .flag("config", "affect next boot"),
        .flag("live", "affect running domain"),
        .flag("current", "affect current domain"),
    ]

    /// virsh's flag rules for the device commands: --persistent, --current, --live and --config exclusive as
    /// virsh has them; --persistent adds LIVE on a running domain. Nil after an error; `.1` tells --current.
    @MainActor
    private static func deviceFlags(_ shell: Shell, _ cmd: ParsedCommand, _ dom: Domain?,
                                    persistent: Bool = true) async -> UInt32? {
        if persistent { guard shell.exclusive(cmd, "persistent", "current") else { return nil } }
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config") else { return nil }
        var flags: UInt32 = 0
        if cmd.has("config") || (persistent && cmd.has("persistent")) { flags |= DeviceModifyFlags.config }
        if cmd.has("live") { flags |= DeviceModifyFlags.live }
        if persistent && cmd.has("persistent"), let dom, (try? await dom.isActive()) == true {
            flags |= DeviceModifyFlags.live
        }
        return flags
    }

    /// The end the built-XML commands share: --print-xml, else the attach or detach call (with flags when an
    /// impact option was given) and virsh's message.
    @MainActor
    private static func send(_ shell: Shell, _ cmd: ParsedCommand, _ dom: Domain, xml: String, flags: UInt32,
                             detach: Bool, what: String) async -> Bool {
        if cmd.has("print-xml") {
            shell.print(xml)
            return true
        }
        let f: UInt32? = flags != 0 || cmd.has("current") ? flags : nil
        let verb = detach ? "detach" : "attach"
        let ok = await shell.call({
            if detach { try await dom.detachDevice(xml: xml, flags: f) } else { try await dom.attachDevice(xml: xml, flags: f) }
        }) != nil
        if !ok {
            shell.error("Failed to \(verb) \(what.lowercased())")
            return false
        }
        shell.printExtra("\(what) \(verb)ed successfully\n")
        return true
    }

    static let attachDevice = CommandDefinition(
        "attach-device", summary: "attach device from an XML file",
        description: "Attach device from an XML <file>.",
        options: [.domain(), .file("XML file")] + impactOptions
    ) { shell, cmd in
        await applyDeviceFile(shell, cmd, verb: "attach", done: "Device attached successfully\n") { dom, xml, flags in
            try await dom.attachDevice(xml: xml, flags: flags)
        }
    }

    static let detachDevice = CommandDefinition(
        "detach-device", summary: "detach device from an XML file",
        description: "Detach device from an XML <file>",
        options: [.domain(), .file("XML file")] + impactOptions
    ) { shell, cmd in
        await applyDeviceFile(shell, cmd, verb: "detach", done: "Device detached successfully\n") { dom, xml, flags in
            try await dom.detachDevice(xml: xml, flags: flags)
        }
    }

    static let updateDevice = CommandDefinition(
        "update-device", summary: "update device from an XML file",
        description: "Update device from an XML <file>.",
        options: [.domain(), .file("XML file")] + impactOptions + [.flag("force", "force device update")]
    ) { shell, cmd in
        await applyDeviceFile(shell, cmd, verb: "update", done: "Device updated successfully\n",
                              alwaysFlags: true) { dom, xml, flags in
            try await dom.updateDevice(xml: xml, flags: (flags ?? 0) | (cmd.has("force") ? DeviceModifyFlags.force : 0))
        }
    }

    /// The file commands: read the file, then the call with flags when any impact option was given, the
    /// legacy call otherwise (virsh's rule).
    @MainActor
    private static func applyDeviceFile(_ shell: Shell, _ cmd: ParsedCommand, verb: String, done: String,
                                        alwaysFlags: Bool = false,
                                        _ body: @escaping (Domain, String, UInt32?) async throws -> Void) async -> Bool {
        guard shell.exclusive(cmd, "persistent", "current"), shell.exclusive(cmd, "current", "live"),
              shell.exclusive(cmd, "current", "config") else { return false }
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let flags = await deviceFlags(shell, cmd, dom) else { return false }
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file else { return false }
        guard let xml = shell.readFile(file) else {
            shell.reportError()
            return false
        }
        let useFlags = alwaysFlags || flags != 0 || cmd.has("current")
        if await shell.call({ try await body(dom, xml, useFlags ? flags : nil) }) == nil {
            shell.error("Failed to \(verb) device from \(file)")
            return false
        }
        shell.printExtra(done)
        return true
    }

    static let detachDeviceAlias = CommandDefinition(
        "detach-device-alias", summary: "detach device from an alias",
        description: "Detach device identified by the given alias from a domain",
        options: [.domain(), .data("alias", "device alias"),
                  .flag("config", "affect next boot"), .flag("live", "affect running domain"),
                  .flag("current", "affect current domain")]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config") else { return false }
        var flags: UInt32 = 0
        if cmd.has("config") { flags |= DeviceModifyFlags.config }
        if cmd.has("live") { flags |= DeviceModifyFlags.live }
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok, alias) = shell.stringOption(cmd, "alias")
        guard ok, let alias else { return false }
        if await shell.call({ try await dom.detachDevice(alias: alias, flags: flags) }) == nil {
            shell.error("Failed to detach device with alias \(alias)")
            return false
        }
        shell.printExtra("Device detach request sent successfully\n")
        return true
    }

    // MARK: attach-disk, detach-disk

    static let attachDisk = CommandDefinition(
        "attach-disk", summary: "attach disk device", description: "Attach new disk device.",
        options: [
            .domain(),
            .data("source", "source of disk device or name of network disk"),
            .data("target", "target of disk device"),
            .string("targetbus", "target bus of disk device"),
            .string("driver", "driver of disk device"),
            .string("subdriver", "subdriver of disk device"),
            .string("cache", "cache mode of disk device"),
            .string("type", "target device type"),
            .string("mode", "mode of device reading and writing"),
            .string("sourcetype", "type of source (block|file|network)"),
            .string("serial", "serial of disk device"),
            .string("wwn", "wwn of disk device"),
            .flag("rawio", "needs rawio capability"),
        ] + impactOptions + [.flag("print-xml", "print XML document rather than attach the disk")]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "persistent", "current"), shell.exclusive(cmd, "current", "live"),
              shell.exclusive(cmd, "current", "config") else { return false }
        let source = cmd.value("source") ?? ""
        let target = cmd.value("target") ?? ""
        var sourceType = cmd.value("sourcetype")
        if sourceType == nil {
            var st = stat()
            sourceType = stat(source, &st) == 0 && (st.st_mode & S_IFMT) == S_IFBLK ? "block" : "file"
        }
        guard sourceType == "file" || sourceType == "block" else {
            shell.error("Unknown source type: '\(sourceType ?? "")'")
            return false
        }
        if let mode = cmd.value("mode"), mode != "readonly" && mode != "shareable" {
            shell.error("No support for \(mode) in command 'attach-disk'")
            return false
        }
        var lines = ["<disk type='\(sourceType ?? "file")'" + (cmd.value("type").map { " device='\(XMLWriter.escape($0))'" } ?? "")
            + ">"]
        if cmd.value("driver") != nil || cmd.value("subdriver") != nil || cmd.value("cache") != nil {
            var attrs = ""
            if let d = cmd.value("driver") { attrs += " name='\(XMLWriter.escape(d))'" }
            if let s = cmd.value("subdriver") { attrs += " type='\(XMLWriter.escape(s))'" }
            if let c = cmd.value("cache") { attrs += " cache='\(XMLWriter.escape(c))'" }
            lines.append("  <driver\(attrs)/>")
        }
        if !source.isEmpty {
            lines.append("  <source \(sourceType == "block" ? "dev" : "file")='\(XMLWriter.escape(source))'/>")
        }
        var targetLine = "  <target dev='\(XMLWriter.escape(target))'"
        if let bus = cmd.value("targetbus") { targetLine += " bus='\(XMLWriter.escape(bus))'" }
        lines.append(targetLine + "/>")
        if let mode = cmd.value("mode") { lines.append("  <\(mode)/>") }
        if let s = cmd.value("serial") { lines.append("  <serial>\(XMLWriter.escape(s))</serial>") }
        if let w = cmd.value("wwn") { lines.append("  <wwn>\(XMLWriter.escape(w))</wwn>") }
        lines.append("</disk>")
        let xml = lines.joined(separator: "\n") + "\n"
        if cmd.has("print-xml") {
            shell.print(xml)
            return true
        }
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let flags = await deviceFlags(shell, cmd, dom) else { return false }
        return await send(shell, cmd, dom, xml: xml, flags: flags, detach: false, what: "Disk")
    }

    /// virsh's `virshFindDisk`: the `<disk>` whose target or source is `path`.
    static func findDisk(_ root: XMLElement, _ path: String) -> XMLElement? {
        root.child("devices")?.children("disk").first { d in
            if d.child("target")?.attr("dev") == path { return true }
            guard let s = d.child("source") else { return false }
            return [s.attr("file"), s.attr("dev"), s.attr("dir"), s.attr("name")].contains(path)
        }
    }

    static func xmlText(_ el: XMLElement) -> String {
        var w = XMLWriter()
        w.formatted(el)
        return w.output
    }

    static let detachDisk = CommandDefinition(
        "detach-disk", summary: "detach disk device", description: "Detach disk device.",
        options: [.domain(), .data("target", "target of disk device")] + impactOptions
            + [.flag("print-xml", "print XML document rather than detach the disk")]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "persistent", "current"), shell.exclusive(cmd, "current", "live"),
              shell.exclusive(cmd, "current", "config") else { return false }
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let flags = await deviceFlags(shell, cmd, dom) else { return false }
        let target = cmd.value("target") ?? ""
        guard let root = await MonitorCommands.domainXML(shell, dom, inactive: flags == DeviceModifyFlags.config) else {
            return false
        }
        guard let disk = findDisk(root, target) else {
            shell.error("No disk found whose source path or target is \(target)")
            return false
        }
        return await send(shell, cmd, dom, xml: xmlText(disk), flags: flags, detach: true, what: "Disk")
    }

    // MARK: attach-interface, detach-interface

    static let attachInterface = CommandDefinition(
        "attach-interface", summary: "attach network interface", description: "Attach new network interface.",
        options: [
            .domain(),
            .data("type", "network interface type"),
            .data("source", "source of network interface"),
            .string("target", "target network name"),
            .string("mac", "MAC address"),
            .string("script", "script used to bridge network interface"),
            .string("model", "model type"),
            .string("alias", "custom alias name of interface device"),
        ] + impactOptions + [.flag("print-xml", "print XML document rather than attach the interface")]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "persistent", "current"), shell.exclusive(cmd, "current", "live"),
              shell.exclusive(cmd, "current", "config") else { return false }
        let type = cmd.value("type") ?? ""
        // virsh 9.0 builds network, bridge and direct interfaces only.
        let sourceKey = ["network": "network", "bridge": "bridge", "direct": "dev"]
        guard let key = sourceKey[type] else {
            shell.error("No support for \(type) in command 'attach-interface'")
            return false
        }
        var lines = ["<interface type='\(type)'>"]
        if let s = cmd.value("source") { lines.append("  <source \(key)='\(XMLWriter.escape(s))'/>") }
        if let t = cmd.value("target") { lines.append("  <target dev='\(XMLWriter.escape(t))'/>") }
        if let mac = cmd.value("mac") { lines.append("  <mac address='\(XMLWriter.escape(mac))'/>") }
        if let s = cmd.value("script") { lines.append("  <script path='\(XMLWriter.escape(s))'/>") }
        if let m = cmd.value("model") { lines.append("  <model type='\(XMLWriter.escape(m))'/>") }
        if let a = cmd.value("alias") { lines.append("  <alias name='\(XMLWriter.escape(a))'/>") }
        lines.append("</interface>")
        let xml = lines.joined(separator: "\n") + "\n"
        if cmd.has("print-xml") {
            shell.print(xml)
            return true
        }
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let flags = await deviceFlags(shell, cmd, dom) else { return false }
        return await send(shell, cmd, dom, xml: xml, flags: flags, detach: false, what: "Interface")
    }

    static let detachInterface = CommandDefinition(
        "detach-interface", summary: "detach network interface", description: "Detach network interface.",
        options: [.domain(), .data("type", "network interface type"), .string("mac", "MAC address")] + impactOptions
            + [.flag("print-xml", "print XML document rather than detach the interface")]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "persistent", "current"), shell.exclusive(cmd, "current", "live"),
              shell.exclusive(cmd, "current", "config") else { return false }
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let flags = await deviceFlags(shell, cmd, dom) else { return false }
        let type = cmd.value("type") ?? ""
        let mac = cmd.value("mac")
        guard let root = await MonitorCommands.domainXML(shell, dom, inactive: flags == DeviceModifyFlags.config) else {
            return false
        }
        let all = root.child("devices")?.children("interface").filter { $0.attr("type") == type } ?? []
        if all.isEmpty {
            shell.error("No interface found whose type is \(type)")
            shell.error("Failed to detach interface")
            return false
        }
        let matching = mac.map { m in
            all.filter { ($0.child("mac")?.attr("address") ?? "").lowercased() == m.lowercased() }
        } ?? all
        guard let iface = matching.first else {
            shell.error("No interface with MAC address \(mac ?? "") was found")
            shell.error("Failed to detach interface")
            return false
        }
        if matching.count > 1 {
            shell.error("Domain has \(matching.count) interfaces. Please specify which one to detach using --mac")
            shell.error("Failed to detach interface")
            return false
        }
        return await send(shell, cmd, dom, xml: xmlText(iface), flags: flags, detach: true, what: "Interface")
    }

    // MARK: change-media

    static let changeMedia = CommandDefinition(
        "change-media", summary: "Change media of CD or floppy drive",
        description: "Change media of CD or floppy drive.",
        options: [
            .domain(),
            .data("path", "Fully-qualified path or target of disk device"),
            .string("source", "source of the media"),
            .flag("eject", "Eject the media"),
            .flag("insert", "Insert the media"),
            .flag("update", "Update the media"),
            .flag("current", "can be either or both of --live and --config, depends on implementation hypervisor driver"),
            .flag("live", "alter live configuration of running domain"),
            .flag("config", "alter persistent configuration, effect observed on next boot"),
            .flag("force", "force media changing"),
            .flag("print-xml", "print XML document rather than change media"),
            .flag("block", "source media is a block device"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "eject", "insert"), shell.exclusive(cmd, "eject", "update"),
              shell.exclusive(cmd, "insert", "update"), shell.exclusive(cmd, "eject", "source"),
              shell.exclusive(cmd, "eject", "block"), shell.exclusive(cmd, "current", "live"),
              shell.exclusive(cmd, "current", "config") else { return false }
        let eject = cmd.has("eject"), insert = cmd.has("insert")
        let source = cmd.value("source")
        if insert && source == nil {
            shell.error("No disk source specified for change-media action")
            return false
        }
        var flags: UInt32 = 0
        if cmd.has("config") { flags |= DeviceModifyFlags.config }
        if cmd.has("live") { flags |= DeviceModifyFlags.live }
        if cmd.has("force") { flags |= DeviceModifyFlags.force }
        guard let dom = await shell.domainOption(cmd) else { return false }
        let path = cmd.value("path") ?? ""
        guard let root = await MonitorCommands.domainXML(shell, dom, inactive: flags & 3 == DeviceModifyFlags.config) else {
            return false
        }
        guard var disk = findDisk(root, path),
              disk.attr("device") == "cdrom" || disk.attr("device") == "floppy" else {
            shell.error("No disk found whose source path or target is \(path)")
            return false
        }
        let action = eject ? "eject" : insert ? "insert" : "update"
        let hasSource = disk.child("source") != nil
        if eject && !hasSource {
            shell.error("The disk device '\(path)' doesn't have media")
            return false
        }
        if insert && hasSource {
            shell.error("The disk device '\(path)' already has media")
            return false
        }
        disk.children.removeAll { if case .element(let e) = $0 { return e.name == "source" } else { return false } }
        if let source, !eject {
            let block = cmd.has("block")
            let src = XMLElement(name: "source", attributes: [(name: block ? "dev" : "file", value: source)])
            if let i = disk.attributes.firstIndex(where: { $0.name == "type" }) {
                disk.attributes[i].value = block ? "block" : "file"
            }
            let at = disk.children.firstIndex { if case .element(let e) = $0 { return e.name == "target" } else { return false } }
            disk.children.insert(.element(src), at: at ?? disk.children.count)
        }
        let xml = xmlText(disk)
        if cmd.has("print-xml") {
            shell.print(xml)
            return true
        }
        if await shell.call({ try await dom.updateDevice(xml: xml, flags: flags) }) == nil {
            shell.error("Failed to complete action \(action) on media")
            return false
        }
        let done = ["eject": "Successfully ejected media.", "insert": "Successfully inserted media.",
                    "update": "Successfully updated media."][action] ?? ""
        shell.printExtra(done)
        return true
    }
}
