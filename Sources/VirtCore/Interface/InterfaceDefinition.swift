/// How a host interface is named across the API and the wire: libvirt's `remote_nonnull_interface` (name and
/// MAC address string).
public struct InterfaceRef: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var mac: String
    public init(name: String, mac: String) {
        self.name = name
        self.mac = mac
    }
    public var description: String { name }
}

/// A host interface configuration (`<interface>` of libvirt's interface driver, netcf's format): ethernet,
/// bridge, bond or vlan, with start mode, MTU, IP protocols and the type's own part.
public struct InterfaceDefinition: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case ethernet, bridge, bond, vlan
    }

    public var type: Kind
    public var name: String?
    /// `none`, `onboot` or `hotplug` (top level only).
    public var startMode: String?
    public var mtu: String?
    /// `<protocol family=…>` elements, their children in libvirt's order.
    public var protocols: [XMLElement]
    public var link: XMLElement?
    /// Ethernet only.
    public var mac: String?
    /// Bridge: `stp`, `delay`; bond: `mode`; vlan: `tag`.
    public var typeAttributes: [(String, String)]
    /// Bond: its `<miimon>` or `<arpmon>`.
    public var bondMonitor: XMLElement?
    /// Bridge and bond members.
    public var members: [InterfaceDefinition]
    /// Vlan: the device it rides on.
    public var vlanDevice: String?

    public static func == (a: InterfaceDefinition, b: InterfaceDefinition) -> Bool { a.formatXML() == b.formatXML() }
    public func hash(into h: inout Hasher) { h.combine(formatXML()) }

    static func xmlError(_ d: String) -> VirtError { VirtError(.xmlError, domain: .interface, "XML error: \(d)", str1: d) }

    /// Parses `<interface>` XML as libvirt's `virInterfaceDefParseString`.
    public init(xml: String) throws(VirtError) {
        let root = try XMLParser.parse(xml, documentName: "interface_definition", errorDomain: .interface)
        guard root.name == "interface", root.prefix == nil else {
            let d = "expecting root element of 'interface', not '\(root.name)'"
            throw VirtError(.xmlError, domain: .xml, "XML error: \(d)", str1: d)
        }
        try self.init(element: root, topLevel: true)
    }

    /// Parses an `<interface>` element (node files embed them; bridges and bonds nest them).
    public init(element el: XMLElement, topLevel: Bool = true) throws(VirtError) {
        guard let t = el.attr("type") else {
            throw Self.xmlError("Missing required attribute 'type' in element 'interface'")
        }
        guard let kind = Kind(rawValue: t) else {
            throw Self.xmlError("Invalid value for attribute 'type' in element 'interface': '\(t)'.")
        }
        type = kind
        name = el.attr("name")
        if topLevel && name == nil { throw Self.xmlError("interface has no name") }
        startMode = nil
        if topLevel, let s = el.child("start") {
            let mode = s.attr("mode") ?? ""
            guard ["none", "onboot", "hotplug"].contains(mode) else {
                throw Self.xmlError("unknown interface startmode \(mode)")
            }
            startMode = mode
        }
        mtu = el.child("mtu")?.attr("size")
        let order = ["autoconf", "dhcp", "ip", "route"]
        protocols = el.children("protocol").map { p in
            var q = p
            q.children = order.flatMap { n in p.children(n).map { XMLElement.Child.element($0) } }
            return q
        }
        link = el.child("link")
        mac = nil
        typeAttributes = []
        bondMonitor = nil
        members = []
        vlanDevice = nil
        switch kind {
        case .ethernet:
            mac = el.child("mac")?.attr("address")
        case .bridge:
            guard let b = el.child("bridge") else { throw Self.xmlError("bridge interface misses the bridge element") }
            for a in ["stp", "delay"] { if let v = b.attr(a) { typeAttributes.append((a, v)) } }
            members = try Self.members(b)
        case .bond:
            guard let b = el.child("bond") else { throw Self.xmlError("bond interface misses the bond element") }
            if let v = b.attr("mode") { typeAttributes.append(("mode", v)) }
            bondMonitor = b.child("miimon") ?? b.child("arpmon")
            members = try Self.members(b)
        case .vlan:
            guard let v = el.child("vlan") else { throw Self.xmlError("vlan interface misses vlan element") }
            guard let tag = v.attr("tag") else { throw Self.xmlError("vlan interface misses the tag attribute") }
            typeAttributes.append(("tag", tag))
            guard let dev = v.child("interface")?.attr("name") else {
                throw Self.xmlError("vlan interface misses name attribute")
            }
            vlanDevice = dev
        }
    }

    private static func members(_ el: XMLElement) throws(VirtError) -> [InterfaceDefinition] {
        var out: [InterfaceDefinition] = []
        for m in el.children("interface") { out.append(try InterfaceDefinition(element: m, topLevel: false)) }
        return out
    }

    /// libvirt's `virInterfaceDefFormat`.
    public func formatXML() -> String {
        var w = XMLWriter()
        format(into: &w, topLevel: true)
        return w.output
    }

    func format(into w: inout XMLWriter, topLevel: Bool) {
        w.container("interface", [("type", type.rawValue), ("name", name)]) { w in
            if topLevel, let startMode { w.empty("start", [("mode", startMode)]) }
            if let mtu { w.empty("mtu", [("size", mtu)]) }
            for p in protocols { w.formatted(p) }
            if let link { w.formatted(link) }
            let attrs = typeAttributes.map { ($0.0, Optional($0.1)) }
            switch type {
            case .ethernet:
                if let mac { w.empty("mac", [("address", mac)]) }
            case .bridge, .bond:
                w.container(type.rawValue, attrs) { w in
                    if let bondMonitor { w.formatted(bondMonitor) }
                    for m in members { m.format(into: &w, topLevel: false) }
                }
            case .vlan:
                w.container("vlan", attrs) { w in
                    if let vlanDevice { w.empty("interface", [("name", vlanDevice)]) }
                }
            }
        }
    }

    /// The MAC address libvirt reports for it (ethernet only; empty otherwise).
    public var macString: String { mac ?? "" }
}

/// `virConnectListAllInterfacesFlags`.
public enum InterfaceListFlags {
    public static let inactive: UInt32 = 1
    public static let active: UInt32 = 2
}

/// libvirt's interface driver table (`virInterfaceDriver`); every operation defaults to NO_SUPPORT.
public protocol InterfaceDriver: AnyObject, Sendable {
    func numOfInterfaces() async throws -> Int32
    func listInterfaces(max: Int32) async throws -> [String]
    func numOfDefinedInterfaces() async throws -> Int32
    func listDefinedInterfaces(max: Int32) async throws -> [String]
    func listAllInterfaces(flags: UInt32) async throws -> [InterfaceRef]
    func lookupInterface(name: String) async throws -> InterfaceRef
    func lookupInterface(mac: String) async throws -> InterfaceRef
    func interfaceXML(_ iface: InterfaceRef, flags: UInt32) async throws -> String
    func defineInterface(xml: String, flags: UInt32) async throws -> InterfaceRef
    func undefineInterface(_ iface: InterfaceRef) async throws
    func startInterface(_ iface: InterfaceRef, flags: UInt32) async throws
    func destroyInterface(_ iface: InterfaceRef, flags: UInt32) async throws
    func interfaceIsActive(_ iface: InterfaceRef) async throws -> Bool
    func interfaceChangeBegin(flags: UInt32) async throws
    func interfaceChangeCommit(flags: UInt32) async throws
    func interfaceChangeRollback(flags: UInt32) async throws
}

extension InterfaceDriver {
    public func numOfInterfaces() async throws -> Int32 { throw VirtError.noSupport("virConnectNumOfInterfaces", domain: .interface) }
    public func listInterfaces(max: Int32) async throws -> [String] {
        throw VirtError.noSupport("virConnectListInterfaces", domain: .interface)
    }
    public func numOfDefinedInterfaces() async throws -> Int32 {
        throw VirtError.noSupport("virConnectNumOfDefinedInterfaces", domain: .interface)
    }
    public func listDefinedInterfaces(max: Int32) async throws -> [String] {
        throw VirtError.noSupport("virConnectListDefinedInterfaces", domain: .interface)
    }
    public func listAllInterfaces(flags: UInt32) async throws -> [InterfaceRef] {
        throw VirtError.noSupport("virConnectListAllInterfaces", domain: .interface)
    }
    public func lookupInterface(name: String) async throws -> InterfaceRef {
        throw VirtError.noSupport("virInterfaceLookupByName", domain: .interface)
    }
    public func lookupInterface(mac: String) async throws -> InterfaceRef {
        throw VirtError.noSupport("virInterfaceLookupByMACString", domain: .interface)
    }
    public func interfaceXML(_ iface: InterfaceRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virInterfaceGetXMLDesc", domain: .interface)
    }
    public func defineInterface(xml: String, flags: UInt32) async throws -> InterfaceRef {
        throw VirtError.noSupport("virInterfaceDefineXML", domain: .interface)
    }
    public func undefineInterface(_ iface: InterfaceRef) async throws {
        throw VirtError.noSupport("virInterfaceUndefine", domain: .interface)
    }
    public func startInterface(_ iface: InterfaceRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virInterfaceCreate", domain: .interface)
    }
    public func destroyInterface(_ iface: InterfaceRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virInterfaceDestroy", domain: .interface)
    }
    public func interfaceIsActive(_ iface: InterfaceRef) async throws -> Bool {
        throw VirtError.noSupport("virInterfaceIsActive", domain: .interface)
    }
    public func interfaceChangeBegin(flags: UInt32) async throws {
        throw VirtError.noSupport("virInterfaceChangeBegin", domain: .interface)
    }
    public func interfaceChangeCommit(flags: UInt32) async throws {
        throw VirtError.noSupport("virInterfaceChangeCommit", domain: .interface)
    }
    public func interfaceChangeRollback(flags: UInt32) async throws {
        throw VirtError.noSupport("virInterfaceChangeRollback", domain: .interface)
    }
}

/// libvirt's interface lookup errors.
public enum InterfaceErrors {
    public static func noInterface(name: String, domain: VirtError.ErrorDomain = .test) -> VirtError {
        let d = "no interface with matching name '\(name)'"
        return VirtError(.noInterface, domain: domain, "Interface not found: \(d)", str1: d)
    }
    public static func noInterface(mac: String, domain: VirtError.ErrorDomain = .test) -> VirtError {
        let d = "no interface with matching mac '\(mac)'"
        return VirtError(.noInterface, domain: domain, "Interface not found: \(d)", str1: d)
    }
}
