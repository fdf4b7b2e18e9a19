/// How a node device is named across the API and the wire: libvirt's `remote_nonnull_node_device` (its name).
public struct NodeDeviceRef: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public init(name: String) { self.name = name }
    public var description: String { name }
}

/// A host device as libvirt's node device driver describes it (`<device>`): its name, sysfs path, parent and
/// capabilities. The capability elements are kept as parsed (libvirt's test driver and our sysfs reader both
/// build them in libvirt's element order), and written back the way libvirt formats elements.
public struct NodeDeviceDefinition: Sendable, Hashable {
    public var name: String?
    public var path: String?
    public var devnodes: [XMLElement]
    public var parent: String?
    public var driver: XMLElement?
    public var capabilities: [XMLElement]

    public init(name: String?, path: String? = nil, devnodes: [XMLElement] = [], parent: String? = nil,
                driver: XMLElement? = nil, capabilities: [XMLElement]) {
        self.name = name
        self.path = path
        self.devnodes = devnodes
        self.parent = parent
        self.driver = driver
        self.capabilities = capabilities
    }

    /// libvirt's capability type names (`virNodeDevCapType`).
    public static let capabilityTypes: [String] = [
        "system", "pci", "usb_device", "usb", "net", "scsi_host", "scsi_target", "scsi", "storage", "fc_host",
        "vports", "scsi_generic", "drm", "mdev_types", "mdev", "ccw", "css", "vdpa", "ap_card", "ap_queue",
        "ap_matrix", "vpd",
    ]

    /// Parses `<device>` XML as libvirt's `virNodeDeviceDefParse` does for a device to create.
    public init(xml: String) throws(VirtError) {
        let root = try XMLParser.parse(xml, documentName: "node_device_definition", errorDomain: .nodeDevice)
        guard root.name == "device", root.prefix == nil else {
            let d = "expecting root element of 'device', not '\(root.name)'"
            throw VirtError(.xmlError, domain: .xml, "XML error: \(d)", str1: d)
        }
        try self.init(element: root, creating: true)
    }

    /// Parses a `<device>` element already read (node files embed them). A device being created is called
    /// "new device" in errors, whatever its XML names it.
    public init(element root: XMLElement, creating: Bool = false) throws(VirtError) {
        var caps: [XMLElement] = []
        for c in root.children("capability") {
            guard let type = c.attr("type") else {
                let d = "Missing required attribute 'type' in element 'capability'"
                throw VirtError(.xmlError, domain: .nodeDevice, "XML error: \(d)", str1: d)
            }
            guard Self.capabilityTypes.contains(type) else {
                let d = "Invalid value for attribute 'type' in element 'capability': '\(type)'."
                throw VirtError(.xmlError, domain: .nodeDevice, "XML error: \(d)", str1: d)
            }
            caps.append(c)
        }
        let name = root.childText("name")
        guard !caps.isEmpty else {
            throw VirtError.internalError("no device capabilities for '\(creating ? "new device" : name ?? "")'",
                                          domain: .nodeDevice)
        }
        self.init(name: name, path: root.childText("path"), devnodes: root.children("devnode"),
                  parent: root.childText("parent"), driver: root.child("driver"), capabilities: caps)
    }

    /// libvirt's `virNodeDeviceDefFormat` order: name, path, devnodes, parent, driver, capabilities.
    public func formatXML() -> String {
        var w = XMLWriter()
        w.container("device") { w in
            w.optionalText("name", name)
            w.optionalText("path", path)
            for d in devnodes { w.formatted(d) }
            w.optionalText("parent", parent)
            if let driver { w.formatted(driver) }
            for c in capabilities { Self.format(c, into: &w) }
        }
        return w.output
    }

    /// Elements libvirt always writes open and closed, even empty (the system capability's parts).
    static let alwaysOpen: Set<String> = ["hardware", "firmware"]

    static func format(_ el: XMLElement, into w: inout XMLWriter) {
        let kids = el.elements
        if el.name == "capability" && el.attr("type") == "usb_device" {
            // libvirt writes a USB product or vendor without a name as `<product id='0x0000' />`.
            w.container(el.name, el.attributes.map { ($0.name, Optional($0.value)) }) { w in
                for k in kids {
                    if (k.name == "product" || k.name == "vendor"), k.elements.isEmpty, k.text.trimmingSpaces.isEmpty,
                       let id = k.attr("id") {
                        var one = XMLWriter(indent: w.indent)
                        one.empty(k.name, [("id", id)])
                        w.raw(String(one.output.dropLast(3)) + " />\n")
                    } else {
                        w.formatted(k)
                    }
                }
            }
            return
        }
        guard alwaysOpen.contains(el.name) || (!kids.isEmpty && kids.contains { alwaysOpen.contains($0.name) }) else {
            w.formatted(el)
            return
        }
        w.container(el.name, el.attributes.map { ($0.name, Optional($0.value)) }) { w in
            for k in kids { format(k, into: &w) }
        }
    }

    /// Builds an element with children only.
    public static func element(_ name: String, _ children: [XMLElement]) -> XMLElement {
        element(name, [], text: nil, children)
    }

    /// Builds an element (for devices read from the host).
    public static func element(_ name: String, _ attributes: [(String, String)] = [], text: String? = nil,
                               _ children: [XMLElement] = []) -> XMLElement {
        var kids: [XMLElement.Child] = children.map { .element($0) }
        if let text { kids.append(.text(text)) }
        return XMLElement(name: name, attributes: attributes.map { (name: $0.0, value: $0.1) }, children: kids)
    }

    /// The top-level capability types, in order (`virNodeDeviceListCaps`).
    public var capabilityNames: [String] { capabilities.compactMap { $0.attr("type") } }

    /// Whether the device has capability `cap`: a top-level one, or the fc_host / vports a SCSI host carries
    /// inside (libvirt's `virNodeDeviceObjHasCap`).
    public func hasCapability(_ cap: String) -> Bool {
        if capabilityNames.contains(cap) { return true }
        for c in capabilities where c.attr("type") == "scsi_host" {
            for inner in c.children("capability") {
                if inner.attr("type") == cap { return true }
                if cap == "vports" && inner.attr("type") == "vport_ops" { return true }
            }
        }
        return false
    }

    /// The fc_host element of a SCSI host (where its WWNN and WWPN are).
    public var fcHost: XMLElement? {
        for c in capabilities where c.attr("type") == "scsi_host" {
            if let fc = c.children("capability").first(where: { $0.attr("type") == "fc_host" }) { return fc }
        }
        return nil
    }
}

/// `virConnectListAllNodeDeviceFlags`: capability bits, and (from libvirt 7.3) active/inactive.
public enum NodeDeviceListFlags {
    /// The capability each bit selects, in bit order (bit 0 system ... ).
    public static let capabilityBits: [String] = [
        "system", "pci", "usb_device", "usb", "net", "scsi_host", "scsi_target", "scsi", "storage", "fc_host",
        "vports", "scsi_generic", "drm", "mdev_types", "mdev", "ccw", "css", "vdpa", "ap_card", "ap_queue",
        "ap_matrix", "vpd",
    ]
    public static let inactive: UInt32 = 1 << 30
    public static let active: UInt32 = 1 << 31
}

/// `virNodeDeviceEventLifecycleType`.
public enum NodeDeviceLifecycleEvent: Int32, Sendable, Hashable {
    case created = 0, deleted, defined, undefined
}

/// A node device event: lifecycle (`VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE`, 0) or update (`..._UPDATE`, 1).
public struct NodeDeviceEventRecord: Sendable, Hashable {
    public var device: NodeDeviceRef
    /// nil: an update event.
    public var lifecycle: NodeDeviceLifecycleEvent?
    public var detail: Int32

    public init(device: NodeDeviceRef, lifecycle: NodeDeviceLifecycleEvent?, detail: Int32 = 0) {
        self.device = device
        self.lifecycle = lifecycle
        self.detail = detail
    }

    public var eventID: Int32 { lifecycle == nil ? 1 : 0 }
}

/// libvirt's node device driver table (`virNodeDeviceDriver`), read side and the vHBA create/destroy; every
/// operation defaults to NO_SUPPORT in libvirt's words.
public protocol NodeDeviceDriver: AnyObject, Sendable {
    func numOfNodeDevices(cap: String?, flags: UInt32) async throws -> Int32
    func listNodeDevices(cap: String?, max: Int32, flags: UInt32) async throws -> [String]
    func listAllNodeDevices(flags: UInt32) async throws -> [NodeDeviceRef]
    func lookupNodeDevice(name: String) async throws -> NodeDeviceRef
    func lookupSCSIHost(wwnn: String, wwpn: String, flags: UInt32) async throws -> NodeDeviceRef
    func nodeDeviceXML(_ dev: NodeDeviceRef, flags: UInt32) async throws -> String
    func nodeDeviceParent(_ dev: NodeDeviceRef) async throws -> String?
    func nodeDeviceCapabilities(_ dev: NodeDeviceRef) async throws -> [String]
    func createNodeDevice(xml: String, flags: UInt32) async throws -> NodeDeviceRef
    func destroyNodeDevice(_ dev: NodeDeviceRef) async throws
    func nodeDeviceIsActive(_ dev: NodeDeviceRef) async throws -> Bool
    func nodeDeviceIsPersistent(_ dev: NodeDeviceRef) async throws -> Bool
    func nodeDeviceAutostart(_ dev: NodeDeviceRef) async throws -> Bool
    func nodeDeviceEvents() -> AsyncStream<NodeDeviceEventRecord>
    func registerNodeDeviceEvents() async throws
    // Persistent devices and PCI assignment (NodeDeviceDriver+Lifecycle.swift has the defaults).
    func defineNodeDevice(xml: String, flags: UInt32) async throws -> NodeDeviceRef
    func undefineNodeDevice(_ dev: NodeDeviceRef, flags: UInt32) async throws
    func startNodeDevice(_ dev: NodeDeviceRef, flags: UInt32) async throws
    func setNodeDeviceAutostart(_ dev: NodeDeviceRef, autostart: Bool) async throws
    func dettachNodeDevice(_ dev: NodeDeviceRef) async throws
    func detachNodeDevice(_ dev: NodeDeviceRef, driverName: String?, flags: UInt32) async throws
    func reattachNodeDevice(_ dev: NodeDeviceRef) async throws
    func resetNodeDevice(_ dev: NodeDeviceRef) async throws
}

extension NodeDeviceDriver {
    public func numOfNodeDevices(cap: String?, flags: UInt32) async throws -> Int32 {
        throw VirtError.noSupport("virNodeNumOfDevices", domain: .nodeDevice)
    }
    public func listNodeDevices(cap: String?, max: Int32, flags: UInt32) async throws -> [String] {
        throw VirtError.noSupport("virNodeListDevices", domain: .nodeDevice)
    }
    public func listAllNodeDevices(flags: UInt32) async throws -> [NodeDeviceRef] {
        throw VirtError.noSupport("virConnectListAllNodeDevices", domain: .nodeDevice)
    }
    public func lookupNodeDevice(name: String) async throws -> NodeDeviceRef {
        throw VirtError.noSupport("virNodeDeviceLookupByName", domain: .nodeDevice)
    }
    public func lookupSCSIHost(wwnn: String, wwpn: String, flags: UInt32) async throws -> NodeDeviceRef {
        throw VirtError.noSupport("virNodeDeviceLookupSCSIHostByWWN", domain: .nodeDevice)
    }
    public func nodeDeviceXML(_ dev: NodeDeviceRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virNodeDeviceGetXMLDesc", domain: .nodeDevice)
    }
    public func nodeDeviceParent(_ dev: NodeDeviceRef) async throws -> String? {
        throw VirtError.noSupport("virNodeDeviceGetParent", domain: .nodeDevice)
    }
    public func nodeDeviceCapabilities(_ dev: NodeDeviceRef) async throws -> [String] {
        throw VirtError.noSupport("virNodeDeviceListCaps", domain: .nodeDevice)
    }
    public func createNodeDevice(xml: String, flags: UInt32) async throws -> NodeDeviceRef {
        throw VirtError.noSupport("virNodeDeviceCreateXML", domain: .nodeDevice)
    }
    public func destroyNodeDevice(_ dev: NodeDeviceRef) async throws {
        throw VirtError.noSupport("virNodeDeviceDestroy", domain: .nodeDevice)
    }
    public func nodeDeviceIsActive(_ dev: NodeDeviceRef) async throws -> Bool {
        throw VirtError.noSupport("virNodeDeviceIsActive", domain: .nodeDevice)
    }
    public func nodeDeviceIsPersistent(_ dev: NodeDeviceRef) async throws -> Bool {
        throw VirtError.noSupport("virNodeDeviceIsPersistent", domain: .nodeDevice)
    }
    public func nodeDeviceAutostart(_ dev: NodeDeviceRef) async throws -> Bool {
        throw VirtError.noSupport("virNodeDeviceGetAutostart", domain: .nodeDevice)
    }
    public func nodeDeviceEvents() -> AsyncStream<NodeDeviceEventRecord> { AsyncStream { $0.finish() } }
    public func registerNodeDeviceEvents() async throws {}
}

/// libvirt's node device lookup error.
public enum NodeDeviceErrors {
    public static func noDevice(name: String, domain: VirtError.ErrorDomain = .test) -> VirtError {
        let d = "no node device with matching name '\(name)'"
        return VirtError(.noNodeDevice, domain: domain, "Node device not found: \(d)", str1: d)
    }
}
