import Virt
import VirtCore

/// virsh 9.0's iface-bridge and iface-unbridge: composed on the client from interface calls (lookup, inactive
/// XML, define, create, destroy, undefine), the XML rewritten as virsh rewrites it.
extension InterfaceCommands {
    /// The elements that move between the bridge and its attached interface.
    static let movedElements: Set<String> = ["mac", "bond", "vlan"]

    /// The interface named by option `option`, by name only (`virshCommandOptInterfaceBy` with VIRSH_BYNAME).
    @MainActor
    static func lookupByName(_ shell: Shell, _ cmd: ParsedCommand, option: String) async -> (InterfaceRef, String)? {
        let (ok, value) = shell.stringOption(cmd, option)
        guard ok, let value else { return nil }
        var found: InterfaceRef?
        if !isMAC(value) {
            found = await shell.call { try await shell.conn.interfaces("virInterfaceLookupByName").lookupInterface(name: value) }
        }
        guard let found else {
            shell.error("failed to get interface '\(value)'")
            return nil
        }
        return (found, value)
    }

    /// The XML to define a bridge `bridge` holding `top` (an interface that is no bridge), or nil after an error.
    @MainActor
    static func bridged(_ shell: Shell, _ top: XMLElement, name ifName: String, bridge: String, stp: Bool,
                        delay: UInt32) -> XMLElement? {
        guard let type = top.attr("type") else {
            shell.error("Existing device \(ifName) has no type")
            return nil
        }
        if type == "bridge" {
            shell.error("Existing device \(ifName) is already a bridge")
            return nil
        }
        let configName = top.attr("name")
        guard configName == ifName else {
            shell.error("Interface name from config \(configName ?? "(null)") doesn't match given supplied name \(ifName)")
            return nil
        }
        var kept: [XMLElement.Child] = [], moved: [XMLElement.Child] = []
        for c in top.children {
            if case .element(let e) = c, e.prefix == nil, movedElements.contains(e.name) { moved.append(c) } else { kept.append(c) }
        }
        let lower = XMLElement(name: "interface", attributes: [(name: "type", value: type), (name: "name", value: ifName)],
                               children: moved)
        var bridgeAttrs: [(name: String, value: String)] = [(name: "stp", value: stp ? "on" : "off")]
        if stp { bridgeAttrs.append((name: "delay", value: String(delay))) }
        var out = top
        out.attributes = renamed(top.attributes, type: "bridge", name: bridge)
        out.children = kept + [.element(XMLElement(name: "bridge", attributes: bridgeAttrs, children: [.element(lower)]))]
        return out
    }

    /// The XML to define the one interface attached to bridge `top`, or nil after an error.
    @MainActor
    static func unbridged(_ shell: Shell, _ top: XMLElement, bridge: String) -> (XMLElement, String)? {
        guard let type = top.attr("type") else {
            shell.error("Existing device \(bridge) has no type")
            return nil
        }
        guard type == "bridge" else {
            shell.error("Device \(bridge) is not a bridge")
            return nil
        }
        let configName = top.attr("name")
        guard configName == bridge else {
            shell.error("Interface name from config \(configName ?? "(null)") doesn't match given supplied name \(bridge)")
            return nil
        }
        guard let br = top.child("bridge") else {
            shell.error("No bridge node in xml document")
            return nil
        }
        let attached = br.children("interface")
        if attached.count > 1 {
            shell.error("Multiple interfaces attached to bridge")
            return nil
        }
        guard let lower = attached.first else {
            shell.error("No interface attached to bridge")
            return nil
        }
        guard let ifName = lower.attr("name") else {
            shell.error("Device attached to bridge \(bridge) has no name")
            return nil
        }
        guard let ifType = lower.attr("type") else {
            shell.error("Attached device \(ifName) has no type")
            return nil
        }
        var out = top
        out.attributes = renamed(top.attributes, type: ifType, name: ifName)
        // The attached interface's MAC, bond and VLAN move up, after what the bridge already had.
        let moved = lower.children.filter { c in
            if case .element(let e) = c, e.prefix == nil, movedElements.contains(e.name) { return true }
            return false
        }
        var remaining = lower
        remaining.children = lower.children.filter { c in
            if case .element(let e) = c, e.prefix == nil, movedElements.contains(e.name) { return false }
            return true
        }
        out.children = top.children.map { c in
            guard case .element(var e) = c, e.prefix == nil, e.name == "bridge" else { return c }
            var done = false
            e.children = e.children.map { k in
                if !done, case .element(let i) = k, i.prefix == nil, i.name == "interface" {
                    done = true
                    return .element(remaining)
                }
                return k
            }
            return .element(e)
        } + moved
        return (out, ifName)
    }

    /// `attributes` with the values of `type` and `name` replaced (in place, as xmlSetProp does).
    static func renamed(_ attributes: [(name: String, value: String)], type: String, name: String)
        -> [(name: String, value: String)] {
        attributes.map { a -> (name: String, value: String) in
            if a.name == "type" { return (name: a.name, value: type) }
            if a.name == "name" { return (name: a.name, value: name) }
            return a
        }
    }

    static func serialize(_ el: XMLElement) -> String {
        var w = XMLWriter()
        w.formatted(el)
        return w.output
    }

    static let bridge = CommandDefinition(
        "iface-bridge", summary: "create a bridge device and attach an existing network device to it",
        description: "bridge an existing network device",
        options: [
            .data("interface", "existing interface name"),
            .data("bridge", "new bridge device name"),
            .flag("no-stp", "do not enable STP for this bridge"),
            .int("delay", "number of seconds to squelch traffic on newly connected ports"),
            .flag("no-start", "don't start the bridge immediately"),
        ]
    ) { shell, cmd in
        guard let found = await lookupByName(shell, cmd, option: "interface") else { return false }
        let (iface, ifName) = found
        let (ok, brName) = shell.stringOption(cmd, "bridge")
        guard ok, let brName else { return false }
        // The new device must not exist yet (a failed lookup stays the pending error, as in virsh).
        if await shell.call({ try await shell.conn.interfaces("virInterfaceLookupByName").lookupInterface(name: brName) }) != nil {
            shell.error("Network device \(brName) already exists")
            return false
        }
        let stp = !cmd.has("no-stp")
        var delay: UInt32 = 0
        if let text = cmd.value("delay") {
            guard let d = Format.parseUInt32(text) else {
                shell.error("Numeric value '\(text)' for <delay> option is malformed or out of range")
                return false
            }
            delay = d
        }
        guard let xml = await shell.call({
            try await shell.conn.interfaces("virInterfaceGetXMLDesc").interfaceXML(iface, flags: 1)
        }) else { return false }
        guard let top = try? XMLParser.parse(xml, documentName: "(interface definition)", errorDomain: .interface) else {
            shell.error("Failed to parse configuration of \(ifName)")
            return false
        }
        guard let newXML = bridged(shell, top, name: ifName, bridge: brName, stp: stp, delay: delay) else { return false }
        guard let br = await shell.call({
            try await shell.conn.interfaces("virInterfaceDefineXML", modifying: true)
                .defineInterface(xml: serialize(newXML), flags: 0)
        }) else {
            shell.error("Failed to define new bridge interface \(brName)")
            return false
        }
        shell.printExtra("Created bridge \(brName) with attached device \(ifName)\n")
        if !cmd.has("no-start") {
            guard await shell.call({
                try await shell.conn.interfaces("virInterfaceCreate", modifying: true).startInterface(br, flags: 0)
            }) != nil else {
                shell.error("Failed to start bridge interface \(brName)")
                return false
            }
            shell.printExtra("Bridge interface \(brName) started\n")
        }
        return true
    }

    static let unbridge = CommandDefinition(
        "iface-unbridge", summary: "undefine a bridge device after detaching its device(s)",
        description: "unbridge a network device",
        options: [
            .data("bridge", "current bridge device name"),
            .flag("no-start", "don't start the detached interface immediately (not recommended)"),
        ]
    ) { shell, cmd in
        guard let found = await lookupByName(shell, cmd, option: "bridge") else { return false }
        let (br, brName) = found
        guard let xml = await shell.call({
            try await shell.conn.interfaces("virInterfaceGetXMLDesc").interfaceXML(br, flags: 1)
        }) else { return false }
        guard let top = try? XMLParser.parse(xml, documentName: "(bridge interface definition)", errorDomain: .interface) else {
            shell.error("Failed to parse configuration of \(brName)")
            return false
        }
        guard let rewritten = unbridged(shell, top, bridge: brName) else { return false }
        let (newXML, ifName) = rewritten
        guard await shell.call({
            try await shell.conn.interfaces("virInterfaceDestroy", modifying: true).destroyInterface(br, flags: 0)
        }) != nil else {
            shell.error("Failed to destroy bridge interface \(brName)")
            return false
        }
        guard await shell.call({
            try await shell.conn.interfaces("virInterfaceUndefine", modifying: true).undefineInterface(br)
        }) != nil else {
            shell.error("Failed to undefine bridge interface \(brName)")
            return false
        }
        guard let iface = await shell.call({
            try await shell.conn.interfaces("virInterfaceDefineXML", modifying: true)
                .defineInterface(xml: serialize(newXML), flags: 0)
        }) else {
            shell.error("Failed to define new interface \(ifName)")
            return false
        }
        shell.printExtra("Device \(ifName) un-attached from bridge \(brName)\n")
        if !cmd.has("no-start") {
            guard await shell.call({
                try await shell.conn.interfaces("virInterfaceCreate", modifying: true).startInterface(iface, flags: 0)
            }) != nil else {
                shell.error("Failed to start interface \(ifName)")
                return false
            }
            shell.printExtra("Interface \(ifName) started\n")
        }
        return true
    }
}
