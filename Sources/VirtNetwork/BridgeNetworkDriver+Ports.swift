import Foundation
import VirtCore
import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// Network ports (libvirt's `virNetworkPortDef` objects of `bridge_driver.c`): each guest interface on a network
/// holds one (the QEMU driver creates it when the domain starts or the NIC is plugged, deletes it when the
/// domain stops or the NIC goes); clients can create and delete ports too. A running network's ports live in
/// `STATE/NAME/ports/UUID.xml` (libvirt's status directory layout), so they outlive a daemon restart, and go
/// when the network stops. The live XML's `connections` is the network's port count.
extension BridgeNetworkDriver {
    /// `VIR_NETWORK_PORT_CREATE_RECLAIM`, `VIR_NETWORK_PORT_CREATE_VALIDATE`.
    static let portCreateReclaim: UInt32 = 1
    static let portCreateValidate: UInt32 = 2

    func portDir(_ network: String) -> String { stateDir + "/" + network + "/ports" }

    /// The ports recorded for `network` (at open, for a network taken over from a previous daemon).
    func loadPorts(_ network: String) -> [NetworkPortDefinition] {
        let dir = portDir(network)
        var out: [NetworkPortDefinition] = []
        for file in FileStore.list(dir).sorted() where file.hasSuffix(".xml") {
            guard let text = Self.readText(dir + "/" + file), let p = try? NetworkPortDefinition(xml: text),
                  file == p.uuid.description + ".xml" else {
                unlink(dir + "/" + file)
                continue
            }
            out.append(p)
        }
        return out
    }

    /// Removes every port file of `network` (it stopped: libvirt's `virNetworkObjDeleteAllPorts`).
    func removePortFiles(_ network: String) {
        let dir = portDir(network)
        for file in FileStore.list(dir) { unlink(dir + "/" + file) }
        rmdir(dir)
        rmdir(stateDir + "/" + network)
    }

    func writePort(_ network: String, _ p: NetworkPortDefinition) throws(VirtError) {
        try Self.makeDirectory(portDir(network))
        try Self.atomicWrite(portDir(network) + "/" + p.uuid.description + ".xml", p.xml())
    }

    /// The running network `net` (ports exist only on running networks).
    func activeObject(_ net: NetworkRef) throws(VirtError) -> NetObject {
        let o = try object(net)
        guard o.active else {
            throw VirtError.operationInvalid("network '\(o.def.name)' is not active", domain: Self.domain)
        }
        return o
    }

    func port(_ net: NetworkRef, _ uuid: VirtUUID) throws(VirtError) -> NetworkPortDefinition {
        let o = try object(net)
        guard let p = o.ports.first(where: { $0.uuid == uuid }) else { throw NetworkPortErrors.noPort(uuid) }
        return p
    }

    public func listAllNetworkPorts(_ net: NetworkRef, flags: UInt32) async throws -> [VirtUUID] {
        try Self.checkFlags(flags, allowed: 0, "networkListAllPorts")
        return try activeObject(net).ports.map(\.uuid)
    }

    public func lookupNetworkPort(_ net: NetworkRef, uuid: VirtUUID) async throws -> VirtUUID {
        try port(net, uuid).uuid
    }

    /// `networkPortCreateXML`: a port without a plug is allocated on the network (`networkAllocatePort`: the
    /// network's bridge); one with a plug is taken back as it is (`VIR_NETWORK_PORT_CREATE_RECLAIM`, after a
    /// restart).
    public func createNetworkPort(_ net: NetworkRef, xml: String, flags: UInt32) async throws -> VirtUUID {
        try Self.checkFlags(flags, allowed: Self.portCreateReclaim | Self.portCreateValidate, "networkPortCreateXML")
        var p = try NetworkPortDefinition(xml: xml)
        let o = try activeObject(net)
        let reclaim = flags & Self.portCreateReclaim != 0
        if p.plugType == .none {
            if reclaim {
                throw VirtError.invalidArg("Port reclaim requested but plug type is none", domain: Self.domain)
            }
        } else if !reclaim {
            throw VirtError.invalidArg("Port reclaim not requested but plug type is not none", domain: Self.domain)
        }
        if !reclaim { try Self.allocate(&p, on: o.def) }
        try modify { l throws(VirtError) in
            let i = try Self.find(l, net)
            if l[i].ports.contains(where: { $0.uuid == p.uuid }) { throw NetworkPortErrors.exists(p.uuid) }
            if !reclaim { try Self.plugFloor(&p, l[i].def, l[i].ports) }
            try writePort(l[i].def.name, p)
            l[i].ports.append(p)
        }
        return p.uuid
    }

    /// `networkAllocatePort` for the forward modes this driver runs: the plug is the network's bridge.
    static func allocate(_ p: inout NetworkPortDefinition, on def: NetworkDefinition) throws(VirtError) {
        guard let bridge = def.bridge else {
            throw VirtError.internalError("network '\(def.name)' does not have a bridge name.", domain: domain)
        }
        switch def.forward.mode {
        case .none, .nat, .route, .open:
            if let vp = p.virtualPort {
                throw VirtError.configUnsupported(
                    "<virtualport type='\(vp.attr("type") ?? "none")'> not supported for network '\(def.name)' which uses IP forwarding",
                    domain: domain)
            }
            p.plugType = .network
        default:
            p.plugType = .bridge
        }
        p.plugAttributes = [("bridge", bridge)]
        if let m = def.macTableManager { p.plugAttributes.append(("macTableManager", m)) }
        // An interface without a bandwidth of its own takes its portgroup's (the named one, else the default).
        if p.bandwidth == nil {
            let pg = p.group.map { g in def.portGroups.first { $0.name == g } } ?? def.portGroups.first { $0.isDefault }
            p.bandwidth = pg?.bandwidth
        }
    }

    public func networkPortXML(_ net: NetworkRef, port uuid: VirtUUID, flags: UInt32) async throws -> String {
        try Self.checkFlags(flags, allowed: 0, "networkPortGetXMLDesc")
        return try port(net, uuid).xml()
    }

    public func networkPortParameters(_ net: NetworkRef, port uuid: VirtUUID, flags: UInt32) async throws -> [TypedParam] {
        try Self.checkFlags(flags, allowed: 0, "networkPortGetParameters")
        return try port(net, uuid).parameters
    }

    /// `networkPortSetParameters`: the port's bandwidth becomes what the parameters give (average, peak,
    /// burst, floor per direction; libvirt keeps nothing of the old one). A floor needs the network's inbound
    /// QoS. The port file is rewritten.
    public func setNetworkPortParameters(_ net: NetworkRef, port uuid: VirtUUID, params: [TypedParam],
                                         flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0, "networkPortSetParameters")
        let known = ["inbound.average", "inbound.peak", "inbound.floor", "inbound.burst", "outbound.average",
                     "outbound.peak", "outbound.burst"]
        for p in params {
            guard known.contains(p.field) else {
                throw VirtError(.invalidArg, domain: Self.domain, "argument unsupported: parameter '\(p.field)' not supported",
                                str1: "parameter '\(p.field)' not supported")
            }
            guard case .uint = p.value else {
                throw VirtError.invalidArg("invalid type for parameter '\(p.field)', expected 'uint'", domain: Self.domain)
            }
        }
        var given: [String: UInt32] = [:]
        for q in params { if case .uint(let v) = q.value { given[q.field] = v } }
        try modify { l throws(VirtError) in
            let i = try Self.find(l, net)
            guard let j = l[i].ports.firstIndex(where: { $0.uuid == uuid }) else { throw NetworkPortErrors.noPort(uuid) }
            var p = l[i].ports[j]
            let bw = NetworkPortDefinition.bandwidth(from: given)
            if let floor = bw?.child("inbound")?.attr("floor"), floor != "0",
               l[i].def.bandwidth?.child("inbound") == nil {
                throw VirtError.operationUnsupported(
                    "Invalid use of 'floor' on interface with MAC address \(p.mac) - network '\(l[i].def.name)' has no inbound QoS set",
                    domain: Self.domain)
            }
            var others = l[i].ports
            others.remove(at: j)
            try Self.updateFloor(&p, new: bw, l[i].def, others)
            try writePort(l[i].def.name, p)
            l[i].ports[j] = p
        }
    }

    public func deleteNetworkPort(_ net: NetworkRef, port uuid: VirtUUID, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0, "networkPortDelete")
        try modify { l throws(VirtError) in
            let i = try Self.find(l, net)
            guard let j = l[i].ports.firstIndex(where: { $0.uuid == uuid }) else { throw NetworkPortErrors.noPort(uuid) }
            var p = l[i].ports[j]
            var others = l[i].ports
            others.remove(at: j)
            Self.unplugFloor(&p, l[i].def, others)
            unlink(portDir(l[i].def.name) + "/" + uuid.description + ".xml")
            l[i].ports.remove(at: j)
        }
    }

    // MARK: Floors (guaranteed inbound bandwidth per port, libvirt's networkPlugBandwidth and friends)

    static func inboundFloor(_ bw: XMLElement?) -> UInt64 { bw.map { NetBandwidth($0) }?.inbound?.floor ?? 0 }
    static func classID(_ p: NetworkPortDefinition) -> UInt32? { p.bandwidth?.attr("classID").flatMap { UInt32($0) } }

    /// The floors of the ports that hold a class on the bridge.
    static func floorSum(_ ports: [NetworkPortDefinition]) -> UInt64 {
        ports.reduce(0) { $0 + (classID($1) != nil ? inboundFloor($1.bandwidth) : 0) }
    }

    /// `networkCheckBandwidth`: nil when no floor is involved; else the rate left to class 1:2 (the network's
    /// peak, else its average, less every floor), after libvirt's checks.
    static func checkFloor(_ def: NetworkDefinition, _ others: [NetworkPortDefinition], mac: MACAddress,
                           new: XMLElement?, old: XMLElement?) throws(VirtError) -> UInt64? {
        let netIn = def.bandwidth.map { NetBandwidth($0) }?.inbound
        let newFloor = inboundFloor(new), oldFloor = inboundFloor(old)
        if newFloor != 0 && netIn == nil {
            throw VirtError.operationUnsupported(
                "Invalid use of 'floor' on interface with MAC address \(mac) - network '\(def.name)' has no inbound QoS set",
                domain: domain)
        }
        guard let netIn, newFloor != 0 || oldFloor != 0 else { return nil }
        let sum = floorSum(others) + newFloor
        let bridge = def.bridge ?? ""
        if netIn.peak != 0 {
            if sum > netIn.peak {
                throw VirtError.operationInvalid(
                    "Cannot plug '\(mac)' interface into '\(bridge)' because new combined inbound floor=\(sum) would overcommit peak=\(netIn.peak) on network '\(def.name)'",
                    domain: domain)
            }
            return netIn.peak - sum
        }
        if sum > netIn.average {
            throw VirtError.operationInvalid(
                "Cannot plug '\(mac)' interface into '\(bridge)' because new combined inbound floor=\(sum) would overcommit average=\(netIn.average) on network '\(def.name)'",
                domain: domain)
        }
        return netIn.average - sum
    }

    /// Sets or removes the classID of a port's bandwidth element.
    static func setClassID(_ p: inout NetworkPortDefinition, _ id: UInt32?) {
        guard var bw = p.bandwidth else { return }
        bw.attributes.removeAll { $0.name == "classID" }
        if let id { bw.attributes.insert((name: "classID", value: String(id)), at: 0) }
        p.bandwidth = bw
    }

    /// `networkPlugBandwidth` for a new port: a class of its own on the bridge when it has a floor.
    static func plugFloor(_ p: inout NetworkPortDefinition, _ def: NetworkDefinition, _ others: [NetworkPortDefinition])
        throws(VirtError) {
        guard p.plugType == .network, let bridge = def.bridge,
              let rate = try checkFloor(def, others, mac: p.mac, new: p.bandwidth, old: nil),
              let netIn = def.bandwidth.map({ NetBandwidth($0) })?.inbound,
              let portIn = p.bandwidth.map({ NetBandwidth($0) })?.inbound, portIn.floor != 0 else { return }
        let used = Set(others.compactMap { classID($0) })
        var id: UInt32 = 3
        while used.contains(id) { id += 1 }
        do throws(VirtError) {
            try NetDevBandwidth.plug(bridge: bridge, network: netIn, mac: p.mac, port: portIn, id: id)
        } catch {
            NetDevBandwidth.unplug(bridge: bridge, id: id)
            throw error
        }
        setClassID(&p, id)
        try NetDevBandwidth.updateRate(bridge: bridge, id: 2, network: netIn, rate: rate)
    }

    /// `networkUnplugBandwidth`: the port's class removed, class 1:2 given back its floor.
    static func unplugFloor(_ p: inout NetworkPortDefinition, _ def: NetworkDefinition, _ others: [NetworkPortDefinition]) {
        guard let id = classID(p), let bridge = def.bridge,
              let netIn = def.bandwidth.map({ NetBandwidth($0) })?.inbound else { return }
        NetDevBandwidth.unplug(bridge: bridge, id: id)
        setClassID(&p, nil)
        let base = netIn.peak != 0 ? netIn.peak : netIn.average
        let sum = floorSum(others)
        try? NetDevBandwidth.updateRate(bridge: bridge, id: 2, network: netIn, rate: base >= sum ? base - sum : 0)
    }

    /// `networkUpdatePortBandwidth`: a port's bandwidth replaced; its floor class changed, added or removed.
    static func updateFloor(_ p: inout NetworkPortDefinition, new: XMLElement?, _ def: NetworkDefinition,
                            _ others: [NetworkPortDefinition]) throws(VirtError) {
        let old = p.bandwidth
        let id = classID(p)
        guard p.plugType == .network, inboundFloor(new) != inboundFloor(old),
              let rate = try checkFloor(def, others, mac: p.mac, new: new, old: old) else {
            p.bandwidth = new
            if let id { setClassID(&p, id) }
            return
        }
        let newFloor = inboundFloor(new)
        if let id, newFloor != 0, let bridge = def.bridge, let netIn = def.bandwidth.map({ NetBandwidth($0) })?.inbound {
            try NetDevBandwidth.updateRate(bridge: bridge, id: id, network: netIn, rate: newFloor)
            try NetDevBandwidth.updateRate(bridge: bridge, id: 2, network: netIn, rate: rate)
            p.bandwidth = new
            setClassID(&p, id)
        } else if newFloor != 0 {
            p.bandwidth = new
            try plugFloor(&p, def, others)
        } else {
            unplugFloor(&p, def, others)
            p.bandwidth = new
        }
    }
}
