/// `virNetworkPortPlugType`: how a port is plugged into the host.
public enum NetworkPortPlugType: String, Sendable, Hashable {
    case none, network, bridge, direct, hostdevPCI = "hostdev-pci"
}

/// A network port (`virNetworkPortDef`, `<networkport>`): one guest interface's connection to a virtual
/// network, owned by a domain. Bandwidth, VLAN and virtualport are kept as written (libvirt formats them in
/// its own order; the elements are re-written the way libvirt's formatter writes them).
public struct NetworkPortDefinition: Sendable, Hashable {
    public var uuid: VirtUUID
    public var ownerName: String
    public var ownerUUID: VirtUUID
    public var group: String?
    public var mac: MACAddress
    public var virtualPort: XMLElement?
    public var bandwidth: XMLElement?
    public var vlan: XMLElement?
    public var isolated: Bool?
    public var trustGuestRxFilters: Bool?
    public var plugType: NetworkPortPlugType = .none
    /// The plug's attributes past `type` (bridge, macTableManager; dev, mode), in libvirt's order.
    public var plugAttributes: [(name: String, value: String)] = []
    /// `<plug type='hostdev-pci'>`'s children, kept.
    public var plugChildren: [XMLElement] = []

    public init(uuid: VirtUUID, ownerName: String, ownerUUID: VirtUUID, mac: MACAddress) {
        self.uuid = uuid
        self.ownerName = ownerName
        self.ownerUUID = ownerUUID
        self.mac = mac
    }

    public static func == (a: NetworkPortDefinition, b: NetworkPortDefinition) -> Bool { a.xml() == b.xml() }
    public func hash(into h: inout Hasher) { h.combine(xml()) }

    /// The bridge of a network or bridge plug.
    public var plugBridge: String? {
        plugType == .network || plugType == .bridge ? plugAttributes.first { $0.name == "bridge" }?.value : nil
    }

    static let domain = VirtError.ErrorDomain.network

    static func internalError(_ d: String) -> VirtError { VirtError.internalError(d, domain: domain) }

    static func invalidValue(_ attr: String, _ el: String, _ v: String) -> VirtError {
        let d = "Invalid value for attribute '\(attr)' in element '\(el)': '\(v)'."
        return VirtError(.xmlError, domain: .xml, "XML error: \(d)", str1: d)
    }

    /// Parses `<networkport>` with libvirt 9.0's checks and words (`virNetworkPortDefParseXML`).
    public init(xml: String) throws(VirtError) {
        let root = try XMLParser.parse(xml, documentName: "networkport_definition", errorDomain: Self.domain)
        guard root.name == "networkport", root.prefix == nil else {
            let d = "expecting root element of 'networkport', not '\(root.name)'"
            throw VirtError(.xmlError, domain: .xml, "XML error: \(d)", str1: d)
        }
        func own(_ name: String) -> XMLElement? { root.elements.first { $0.name == name && $0.prefix == nil } }
        guard let uuidText = own("uuid")?.text.trimmingSpaces else { throw Self.internalError("network port has no uuid") }
        guard let uuid = VirtUUID(string: uuidText) else { throw Self.internalError("Unable to parse UUID '\(uuidText)'") }
        let owner = own("owner")
        guard let ownerName = owner?.childText("name") else { throw Self.internalError("network port has no owner name") }
        guard let ownerUUIDText = owner?.childText("uuid") else {
            throw Self.internalError("network port has no owner UUID")
        }
        guard let ownerUUID = VirtUUID(string: ownerUUIDText) else {
            throw Self.internalError("Unable to parse UUID '\(ownerUUIDText)'")
        }
        guard let macText = own("mac")?.attr("address") else { throw Self.internalError("network port has no mac") }
        guard let mac = MACAddress(string: macText) else { throw Self.internalError("Unable to parse MAC '\(macText)'") }
        self.init(uuid: uuid, ownerName: ownerName, ownerUUID: ownerUUID, mac: mac)
        group = own("group")?.text
        virtualPort = own("virtualport")
        bandwidth = own("bandwidth")
        vlan = own("vlan")
        func triState(_ el: XMLElement?, _ attr: String) throws(VirtError) -> Bool? {
            guard let el, let v = el.attr(attr) else { return nil }
            switch v {
            case "yes": return true
            case "no": return false
            default: throw Self.invalidValue(attr, el.name, v)
            }
        }
        isolated = try triState(own("port"), "isolated")
        trustGuestRxFilters = try triState(own("rxfilters"), "trustGuest")
        if let plug = own("plug") {
            let t = plug.attr("type") ?? "none"
            guard let type = NetworkPortPlugType(rawValue: t) else { throw Self.invalidValue("type", "plug", t) }
            plugType = type
            switch type {
            case .none: break
            case .network, .bridge:
                guard let br = plug.attr("bridge") else { throw Self.internalError("Missing network port bridge name") }
                plugAttributes = [("bridge", br)]
                if let m = plug.attr("macTableManager") {
                    guard m == "kernel" || m == "libvirt" else { throw Self.invalidValue("macTableManager", "plug", m) }
                    plugAttributes.append(("macTableManager", m))
                }
            case .direct:
                guard let dev = plug.attr("dev") else { throw Self.internalError("Missing network port link device name") }
                plugAttributes = [("dev", dev), ("mode", plug.attr("mode") ?? "vepa")]
            case .hostdevPCI:
                plugAttributes = [("managed", plug.attr("managed") ?? "no")]
                plugChildren = plug.elements
            }
        }
    }

    /// libvirt's formatter (`virNetworkPortDefFormat`).
    public func xml() -> String {
        var w = XMLWriter()
        w.container("networkport") { w in
            w.text("uuid", [], uuid.description)
            w.container("owner") { w in
                w.text("name", [], ownerName)
                w.text("uuid", [], ownerUUID.description)
            }
            w.optionalText("group", group)
            w.empty("mac", [("address", mac.description)])
            if let virtualPort { w.formatted(virtualPort) }
            if let bandwidth { w.formatted(bandwidth) }
            if let vlan { w.formatted(vlan) }
            if let isolated { w.empty("port", [("isolated", isolated ? "yes" : "no")]) }
            if let trustGuestRxFilters { w.empty("rxfilters", [("trustGuest", trustGuestRxFilters ? "yes" : "no")]) }
            if plugType != .none {
                let attrs: [(String, String?)] = [("type", plugType.rawValue)] + plugAttributes.map { ($0.name, $0.value) }
                if plugType == .hostdevPCI {
                    w.container("plug", attrs) { w in for c in plugChildren { w.formatted(c) } }
                } else {
                    w.empty("plug", attrs)
                }
            }
        }
        return w.output
    }

    /// The bandwidth parameters of each direction (`VIR_NETWORK_PORT_BANDWIDTH_*`).
    public static let bandwidthFields = [("inbound", ["average", "peak", "floor", "burst"]),
                                         ("outbound", ["average", "peak", "burst"])]

    /// `virNetworkPortGetParameters`: the bandwidth settings of each direction the port has, as typed
    /// parameters (none without `<bandwidth>`).
    public var parameters: [TypedParam] {
        guard let bandwidth else { return [] }
        var out: [TypedParam] = []
        for (dir, names) in Self.bandwidthFields {
            guard let el = bandwidth.child(dir) else { continue }
            for n in names { out.append(TypedParam("\(dir).\(n)", .uint(el.attr(n).flatMap { UInt32($0) } ?? 0))) }
        }
        return out
    }

    /// The `<bandwidth>` that `virNetworkPortSetParameters` makes of `params` alone (libvirt's
    /// `networkPortSetParameters`: a direction without an average, inbound also without a floor, is left out;
    /// zeros are not written). Nil when nothing remains.
    public static func bandwidth(from params: [String: UInt32]) -> XMLElement? {
        var bw = XMLElement(name: "bandwidth")
        for (dir, names) in bandwidthFields {
            let avg = params["\(dir).average"] ?? 0
            let floor = dir == "inbound" ? params["inbound.floor"] ?? 0 : 0
            guard avg != 0 || floor != 0 else { continue }
            var e = XMLElement(name: dir)
            for n in names { if let v = params["\(dir).\(n)"], v != 0 { e.attributes.append((n, String(v))) } }
            bw.children.append(.element(e))
        }
        return bw.elements.isEmpty ? nil : bw
    }
}

/// How a network port is named across the API and the wire (`remote_nonnull_network_port`).
public struct NetworkPortRef: Sendable, Hashable, CustomStringConvertible {
    public var network: NetworkRef
    public var uuid: VirtUUID

    public init(network: NetworkRef, uuid: VirtUUID) {
        self.network = network
        self.uuid = uuid
    }

    public var description: String { uuid.description }
}

/// libvirt's errors for network ports.
public enum NetworkPortErrors {
    public static func noPort(_ uuid: VirtUUID) -> VirtError {
        let d = "Network port with UUID \(uuid) does not exist"
        return VirtError(.noNetworkPort, domain: .network, "network port not found: \(d)", str1: d)
    }

    public static func exists(_ uuid: VirtUUID) -> VirtError {
        let d = "Network port with UUID \(uuid) already exists"
        return VirtError(.networkPortExist, domain: .network, "network port \(d) exists already", str1: d)
    }
}
