/// `<interface type='…'>`.
public enum InterfaceType: String, XMLEnum {
    case user, ethernet, vhostuser, server, client, mcast, network, bridge, `internal`, direct, hostdev, udp, vdpa
    case null, vds
}

/// Well-known NIC models (`<model type='…'>`); other words are kept as written.
public enum NetModel: String, XMLEnum {
    case netfront, rtl8139, virtio, e1000, e1000e
    case virtioTransitional = "virtio-transitional", virtioNonTransitional = "virtio-non-transitional"
    case usbNet = "usb-net", spaprVLAN = "spapr-vlan", lan9118, scm91c111, vlance, vmxnet, vmxnet2, vmxnet3
    case am79C970A = "Am79C970A", am79C973 = "Am79C973"
    case e82540EM = "82540EM", e82545EM = "82545EM", e82543GC = "82543GC"
}

/// An `<interface>` device (libvirt's `virDomainNetDef`).
public struct NetInterface: Sendable, Hashable {
    public var type: InterfaceType
    /// `<mac address='…'/>`; generated (52:54:00:xx:xx:xx) when absent.
    public var mac: MACAddress
    /// `<source>` attributes, by name, e.g. `network`, `bridge`, `dev`, `mode`, `address`, `port`, `path`.
    public var source: [String: String] = [:]
    /// Children of `<source>` (e.g. `<local>` of udp), kept as written.
    public var sourceChildren: [XMLElement] = []
    public var hasSource: Bool = false
    /// `<script path='…'/>`.
    public var script: String?
    /// `<target dev='…'/>`: the host-side device name.
    public var targetDev: String?
    /// `<target managed='yes|no'/>`: whether libvirt creates the tap device (ethernet).
    public var targetManaged: Bool?
    /// `<model type='…'/>`, normalised to libvirt's spelling for well-known models.
    public var model: String?
    /// `<link state='up|down'/>`.
    public var linkUp: Bool?
    /// `<mtu size='N'/>`.
    public var mtu: UInt32?
    /// `<driver>` (name, txmode, queues, host/guest offloads …) in libvirt's attribute order; only virtio
    /// models keep it.
    public var driver: XMLElement?
    /// `managed='yes|no'` of hostdev interfaces.
    public var managed: Bool?
    /// Other children (vlan, virtualport, bandwidth, ip, route, guest, backend, filterref, tune, coalesce, …).
    public var extra: [XMLElement] = []
    public var info: DeviceInfo

    public init(type: InterfaceType, mac: MACAddress = .generateQEMU(), info: DeviceInfo = DeviceInfo()) {
        self.type = type
        self.mac = mac
        self.info = info
    }

    /// The model as a known enum value, if it is one.
    public var modelType: NetModel? { model.flatMap { NetModel(rawValue: $0) } }
    /// `<source network='…'>`.
    public var network: String? { source["network"] }
    /// `<source bridge='…'>`.
    public var bridge: String? { source["bridge"] }

    /// The source attributes libvirt writes, in its order, per interface type.
    static func sourceAttributeOrder(_ t: InterfaceType) -> [String] {
        switch t {
        case .network: ["network", "portgroup", "portid", "bridge"]
        case .bridge: ["bridge"]
        case .direct: ["dev", "mode"]
        case .vhostuser: ["type", "path", "mode"]
        case .server, .client, .mcast, .udp: ["address", "port"]
        case .internal: ["name"]
        case .vdpa: ["dev"]
        case .ethernet, .user, .hostdev, .null, .vds: ["dev", "address", "port"]
        }
    }

    static let requiredSource: [InterfaceType: String] = [
        .network: "network", .bridge: "bridge", .direct: "dev", .internal: "name", .vdpa: "dev",
    ]

    /// Slot order of libvirt's formatter; typed fields are written at their slot, kept elements at theirs.
    static let order = ["mac", "source", "vlan", "virtualport", "bandwidth", "ip", "route", "portForward", "script",
                        "downscript", "backenddomain", "target", "guest", "model", "driver", "backend", "filterref",
                        "tune", "teaming", "link", "mtu", "coalesce"]
    static let typedNames: Set<String> = ["mac", "source", "script", "target", "model", "driver", "link", "mtu",
                                          "boot", "alias", "address", "rom", "acpi"]
    static let modelChars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

    /// `<ip>` with libvirt's default family (from the address) and attribute order.
    static func normaliseIP(_ e: XMLElement) -> XMLElement {
        var ip = e
        if ip.attr("family") == nil, let addr = ip.attr("address") {
            ip.attributes.append(("family", addr.contains(":") ? "ipv6" : "ipv4"))
        }
        return ip.reorderingAttributes(["address", "family", "prefix", "peer"])
    }

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> NetInterface {
        let type: InterfaceType = try el.enumValue("type") ?? .user
        var n = NetInterface(type: type, info: try DeviceInfo.parse(el, options: options, allowBoot: true))
        if let m = el.child("mac")?.attr("address") {
            guard let mac = MACAddress(string: m) else { throw DeviceError.xml("unable to parse mac address '\(m)'") }
            if mac.isMulticast {
                throw DeviceError.xml("expected unicast mac address, found multicast '\(m)'")
            }
            n.mac = mac
        }
        if let s = el.child("source") {
            n.hasSource = true
            for a in s.attributes { n.source[a.name] = a.value }
            n.sourceChildren = s.elements.map { $0.name == "ip" ? normaliseIP($0) : $0 }
            if let req = requiredSource[type], n.source[req] == nil { throw DeviceError.missingAttr(req, "source") }
            if type == .direct, let m = n.source["mode"], !["vepa", "private", "bridge", "passthrough"].contains(m) {
                throw DeviceError.invalidValue("mode", "source", m)
            }
            // libvirt's default macvtap mode, written back.
            if type == .direct, n.source["mode"] == nil { n.source["mode"] = "vepa" }
        } else if [.network, .bridge, .direct, .server, .client, .mcast, .udp, .internal, .vdpa, .vhostuser]
                    .contains(type) {
            throw DeviceError.xml("interface type='\(type.rawValue)' requires a 'source' element")
        }
        n.script = el.child("script")?.attr("path")
        n.targetManaged = try el.child("target")?.yesNoAttr("managed")
        if let dev = el.child("target")?.attr("dev") {
            // Generated names are not kept in the persistent definition.
            let generated = ["vnet", "macvtap", "macvlan"].contains { dev.hasPrefix($0) }
            if options.live || !generated { n.targetDev = dev }
        }
        if let m = el.child("model")?.attr("type") {
            if !m.allSatisfy({ modelChars.contains($0) }) {
                throw VirtError.invalidArg("Model name contains invalid characters", domain: .domain)
            }
            n.model = NetModel.allCases.first { $0.rawValue.lowercased() == m.lowercased() }?.rawValue ?? m
        }
        if let l = el.child("link"), let st = l.attr("state") {
            switch st {
            case "up": n.linkUp = true
            case "down": n.linkUp = false
            default: throw DeviceError.unsupported("unknown interface link state '\(st)'")
            }
        }
        if let m = el.child("mtu"), let size = m.attr("size") {
            guard let v = UInt32(size) else { throw DeviceError.xml("malformed mtu size") }
            n.mtu = v
        }
        n.managed = try el.yesNoAttr("managed")
        let virtio = n.model.map { $0.hasPrefix("virtio") } ?? false
        if virtio, let d = el.child("driver") {
            var drv = d.reorderingAttributes(["name", "txmode", "ioeventfd", "event_idx", "queues", "rx_queue_size",
                                              "tx_queue_size", "rss", "rss_hash_report", "iommu", "ats", "packed",
                                              "page_per_vq"]).reorderingChildren(["host", "guest"])
            drv.children = drv.elements.map { c in
                let order = c.name == "host"
                    ? ["csum", "gso", "tso4", "tso6", "ecn", "ufo", "mrg_rxbuf"]
                    : ["csum", "tso4", "tso6", "ecn", "ufo"]
                return .element(c.reorderingAttributes(order))
            }
            n.driver = drv
        }
        if n.hasSource && type == .hostdev, let s = el.child("source") {
            n.sourceChildren = try s.normalisingPCISourceAddress().elements
        }
        n.extra = []
        for e in el.elements(notIn: typedNames) {
            switch e.name {
            case "ip":
                n.extra.append(normaliseIP(e))
            case "virtualport" where e.attr("type") == "openvswitch":
                // libvirt generates the Open vSwitch interface id when it is missing.
                var vp = e
                if let p = vp.child("parameters"), p.attr("interfaceid") != nil {
                    n.extra.append(vp)
                } else {
                    let id = VirtUUID.random().description
                    if vp.child("parameters") != nil {
                        vp.children = vp.children.map { c in
                            guard case .element(var p) = c, p.name == "parameters" else { return c }
                            p.attributes.insert((name: "interfaceid", value: id), at: 0)
                            return .element(p)
                        }
                    } else {
                        vp.children.append(.element(XMLElement(name: "parameters",
                                                                attributes: [("interfaceid", id)])))
                    }
                    n.extra.append(vp)
                }
            case "bandwidth" where e.prefix == nil:
                if let bw = try NetBandwidth.parse(e, allowFloor: type == .network) { n.extra.append(bw.element) }
            case "backend":
                var b = e.reorderingAttributes(["tap", "vhost", "type", "logFile"])
                if !virtio { b.attributes = b.attributes.filter { $0.name != "vhost" } }
                if !b.attributes.isEmpty { n.extra.append(b) }
            default:
                n.extra.append(e)
            }
        }
        return n
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.element("interface", [("type", type.rawValue), ("managed", managed.yesNo)]) { w in
            for slot in NetInterface.order {
                switch slot {
                case "mac": w.empty("mac", [("address", mac.description)])
                case "source":
                    guard hasSource else { continue }
                    let known = NetInterface.sourceAttributeOrder(type)
                    var attrs: [(String, String?)] = known.map { ($0, source[$0]) }
                    for (k, v) in source.sorted(by: { $0.key < $1.key }) where !known.contains(k) {
                        attrs.append((k, v))
                    }
                    w.element("source", attrs) { w in
                        for c in sourceChildren { w.libvirtStyle(c) }
                    }
                case "script": if let script { w.empty("script", [("path", script)]) }
                case "target":
                    if targetDev != nil || targetManaged != nil {
                        w.empty("target", [("dev", targetDev), ("managed", targetManaged.yesNo)])
                    }
                case "model": if let model { w.empty("model", [("type", model)]) }
                case "driver": if let driver { w.libvirtStyle(driver) }
                case "link": if let linkUp { w.empty("link", [("state", linkUp ? "up" : "down")]) }
                case "mtu": if let mtu { w.empty("mtu", [("size", String(mtu))]) }
                case "bandwidth":
                    // virNetDevBandwidthFormat: always an open and a close tag, even with no direction left.
                    for e in extra where e.name == slot {
                        w.container("bandwidth") { w in for c in e.elements { w.libvirtStyle(c) } }
                    }
                default:
                    for e in extra where e.name == slot { w.libvirtStyle(e) }
                }
            }
            for e in extra where !NetInterface.order.contains(e.name) { w.libvirtStyle(e) }
            info.format(into: &w, options: options)
        }
    }
}
