import VirtCore

/// What one client's calls are checked against: the daemon's access drivers, the client's identity and the
/// name its connection's driver gives in denials ("QEMU", "Test").
final class SessionAccess: Sendable {
    let manager: AccessManager
    let identity: ClientIdentity
    let driverName: String

    /// A class, so that a call's context holds one pointer (nil when there is no access driver).
    init(manager: AccessManager, identity: ClientIdentity, driverName: String) {
        self.manager = manager
        self.identity = identity
        self.driverName = driverName
    }

    func allows(_ object: ACLObject, _ permission: String) -> Bool {
        manager.allows(identity, object, permission)
    }

    func require(_ object: ACLObject, _ permissions: [String]) throws(VirtError) {
        for p in permissions where !allows(object, p) { throw AccessManager.denied(driverName: driverName) }
    }
}

/// libvirt's `@acl` rules applied to one call, as its drivers apply them: the permissions the call's flags
/// select, checked on the object the call is about, after that object has been found (a missing object gives
/// the driver's "not found" first). Lookups and other calls that name their object only in the result are
/// checked on the result.
enum AccessCheck {
    /// What is left to check once the call has returned.
    struct Pending {
        var type: String
        var permissions: [String]
    }

    /// The values of a call's arguments or result, flattened: objects, unsigned and signed integers, strings.
    struct Flat {
        var domain: DomainRef?
        var secret: SecretRef?
        var network: NetworkRef?
        var pool: StoragePoolRef?
        var volume: StorageVolRef?
        var nodeDevice: NodeDeviceRef?
        var interface: InterfaceRef?
        var ints: [UInt32] = []
        var strings: [String] = []
    }

    static func flatten(_ value: Any) -> Flat {
        var f = Flat()
        func walk(_ v: Any) {
            switch v {
            case let d as DomainRef: if f.domain == nil { f.domain = d }
            case let s as SecretRef: if f.secret == nil { f.secret = s }
            case let n as NetworkRef: if f.network == nil { f.network = n }
            case let p as StoragePoolRef: if f.pool == nil { f.pool = p }
            case let v as StorageVolRef: if f.volume == nil { f.volume = v }
            case let d as NodeDeviceRef: if f.nodeDevice == nil { f.nodeDevice = d }
            case let i as InterfaceRef: if f.interface == nil { f.interface = i }
            case let u as UInt32: f.ints.append(u)
            case let i as Int32: f.ints.append(UInt32(bitPattern: i))
            case let s as String: f.strings.append(s)
            default:
                let m = Mirror(reflecting: v)
                if m.displayStyle == .optional {
                    if let c = m.children.first { walk(c.value) }
                    return
                }
                for c in m.children { walk(c.value) }
            }
        }
        walk(value)
        return f
    }

    /// The flag values `@acl` conditions name.
    static let flagValues: [String: UInt32] = [
        "VIR_DOMAIN_AFFECT_LIVE": 1, "VIR_DOMAIN_AFFECT_CONFIG": 2, "VIR_DOMAIN_VCPU_GUEST": 8,
        "VIR_NETWORK_UPDATE_AFFECT_LIVE": 1, "VIR_NETWORK_UPDATE_AFFECT_CONFIG": 2,
        "VIR_DOMAIN_XML_SECURE": 1, "VIR_DOMAIN_XML_MIGRATABLE": 8, "VIR_DOMAIN_SNAPSHOT_XML_SECURE": 1,
        "VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE": 64, "VIR_DOMAIN_SHUTDOWN_GUEST_AGENT": 2,
        "VIR_DOMAIN_SAVE_IMAGE_XML_SECURE": 1, "VIR_DOMAIN_REBOOT_GUEST_AGENT": 2,
        "VIR_DOMAIN_CHECKPOINT_XML_SECURE": 1, "VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE": 2,
        "VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT": 1,
    ]

    /// Whether a permission's condition holds for a call whose flags are `flags` and whose second integer
    /// argument (the `source` of DOMAIN_INTERFACE_ADDRESSES) is `param`. Unknown names make the rule apply.
    static func applies(_ condition: String?, flags: UInt32, param: UInt32?) -> Bool {
        guard let condition, !condition.isEmpty else { return true }
        if condition.hasPrefix(":") {
            // ":param:VALUE" or ":param:!VALUE"
            let parts = condition.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 3 else { return true }
            var v = Substring(parts[2])
            let negate = v.hasPrefix("!")
            if negate { v = v.dropFirst() }
            guard let want = flagValues[String(v)], let param else { return true }
            return (param == want) != negate
        }
        var c = Substring(condition)
        let none = c.hasPrefix("!")
        if none { c = c.dropFirst() }
        var mask: UInt32 = 0
        for name in c.split(separator: "|") {
            guard let v = flagValues[String(name)] else { return true }
            mask |= v
        }
        return none ? flags & mask == 0 : flags & mask == mask
    }

    /// The object type and permissions a call needs, given its flags.
    static func permissions(_ info: ProcedureInfo, _ flat: Flat) -> (type: String, perms: [String])? {
        let flags = flat.ints.last ?? 0
        let param = flat.ints.count >= 2 ? flat.ints[0] : nil
        let perms = info.acl.filter { $0.object != "none" && applies($0.condition, flags: flags, param: param) }
        guard let type = perms.first?.object else { return nil }
        var names: [String] = []
        for p in perms where !names.contains(p.permission) { names.append(p.permission) }
        return (type, names)
    }

    /// The check before the driver runs. Returns what must still be checked on the result.
    static func before<A, R>(_ info: ProcedureInfo, _ args: A, _ ret: R.Type, _ ctx: CallContext,
                             _ access: SessionAccess) async throws(VirtError) -> Pending? {
        // CONNECT_OPEN checks connect:getattr itself, once the driver (which names the denial) is open.
        if info.program == .remote && info.number == 1 { return nil }
        let flat = flatten(args)
        guard let (type, perms) = permissions(info, flat) else { return nil }
        switch type {
        case "connect":
            try access.require(ACLObject(type: "connect"), perms)
            return nil
        case "domain":
            if let d = flat.domain {
                // Not found comes first: the driver reports it with its own words.
                guard let found = try? await ctx.driver.lookupDomain(uuid: d.uuid) else { return nil }
                try access.require(ACLObject(type: "domain", name: found.name), perms)
                return nil
            }
            if let xml = flat.strings.first(where: { $0.hasPrefix("<") }) {
                // A definition: checked on the name it gives (a malformed one is left to the driver's parser).
                guard let root = try? XMLParser.parse(xml), let name = root.childText("name") else { return nil }
                try access.require(ACLObject(type: "domain", name: name), perms)
                return nil
            }
        case "secret":
            if let s = flat.secret {
                if let secrets = ctx.session.state.withLock({ $0.secrets }),
                   (try? await secrets.lookupSecret(uuid: s.uuid)) == nil {
                    return nil
                }
                try access.require(ACLObject(type: "secret", name: s.uuid.description), perms)
                return nil
            }
            if let xml = flat.strings.first(where: { $0.hasPrefix("<") }) {
                let uuid = (try? XMLParser.parse(xml, documentName: "definition_of_secret"))?.childText("uuid")
                try access.require(ACLObject(type: "secret", name: uuid), perms)
                return nil
            }
        case "network":
            if let n = flat.network {
                if let networks = ctx.session.state.withLock({ $0.networks }),
                   (try? await networks.lookupNetwork(uuid: n.uuid)) == nil {
                    return nil
                }
                try access.require(ACLObject(type: "network", name: n.name), perms)
                return nil
            }
            if let xml = flat.strings.first(where: { $0.hasPrefix("<") }) {
                guard let root = try? XMLParser.parse(xml, documentName: "network_definition"),
                      let name = root.childText("name") else { return nil }
                try access.require(ACLObject(type: "network", name: name), perms)
                return nil
            }
        case "storage_pool":
            if let p = flat.pool {
                if let storage = ctx.session.state.withLock({ $0.storage }),
                   (try? await storage.lookupStoragePool(uuid: p.uuid)) == nil {
                    return nil
                }
                try access.require(ACLObject(type: "storage_pool", name: p.name), perms)
                return nil
            }
            if let xml = flat.strings.first(where: { $0.hasPrefix("<") }) {
                guard let root = try? XMLParser.parse(xml, documentName: "pool_definition"),
                      let name = root.childText("name") else { return nil }
                try access.require(ACLObject(type: "storage_pool", name: name), perms)
                return nil
            }
        case "storage_vol":
            if let v = flat.volume {
                if let storage = ctx.session.state.withLock({ $0.storage }),
                   (try? await storage.lookupVolume(key: v.key)) == nil {
                    return nil
                }
                try access.require(ACLObject(type: "storage_vol", name: v.name), perms)
                return nil
            }
            if let xml = flat.strings.first(where: { $0.hasPrefix("<") }) {
                guard let root = try? XMLParser.parse(xml, documentName: "volume_definition"),
                      let name = root.childText("name") else { return nil }
                try access.require(ACLObject(type: "storage_vol", name: name), perms)
                return nil
            }
        case "node_device":
            // Node device calls name their device by a plain string (or create it from XML).
            if let xml = flat.strings.first(where: { $0.hasPrefix("<") }) {
                let name = (try? XMLParser.parse(xml, documentName: "node_device_definition"))?.childText("name")
                try access.require(ACLObject(type: "node_device", name: name), perms)
                return nil
            }
            // (LOOKUP_SCSI_HOST_BY_WWN names WWNs: checked on its result.)
            if info.number != 297, let name = flat.nodeDevice?.name ?? flat.strings.first {
                if let devices = ctx.session.state.withLock({ $0.nodeDevices }),
                   (try? await devices.lookupNodeDevice(name: name)) == nil {
                    return nil
                }
                try access.require(ACLObject(type: "node_device", name: name), perms)
                return nil
            }
        case "interface":
            if let i = flat.interface {
                if let ifaces = ctx.session.state.withLock({ $0.interfaces }),
                   (try? await ifaces.lookupInterface(name: i.name)) == nil {
                    return nil
                }
                try access.require(ACLObject(type: "interface", name: i.name), perms)
                return nil
            }
            if let xml = flat.strings.first(where: { $0.hasPrefix("<") }) {
                let name = (try? XMLParser.parse(xml, documentName: "interface_definition"))?.attr("name")
                try access.require(ACLObject(type: "interface", name: name), perms)
                return nil
            }
        default:
            break
        }
        // The object is known only from the result; a call with no result is checked without a name.
        if R.self == XDRVoid.self {
            try access.require(ACLObject(type: type), perms)
            return nil
        }
        return Pending(type: type, permissions: perms)
    }

    /// The check on the result (lookups).
    static func after<R>(_ pending: Pending, _ ret: R, _ access: SessionAccess) throws(VirtError) {
        let flat = flatten(ret)
        var name: String?
        switch pending.type {
        case "domain": name = flat.domain?.name
        case "secret": name = flat.secret.map { $0.uuid.description }
        case "network": name = flat.network?.name
        case "storage_pool": name = flat.pool?.name
        case "storage_vol": name = flat.volume?.name
        case "node_device": name = flat.nodeDevice?.name
        case "interface": name = flat.interface?.name
        default: name = nil
        }
        try access.require(ACLObject(type: pending.type, name: name), pending.permissions)
    }
}

extension CallContext {
    /// The domains of a listing this client may see (libvirt's `@aclfilter`, domain:getattr unless told).
    func visible(_ domains: [DomainRef], permission: String = "getattr") -> [DomainRef] {
        guard let access else { return domains }
        return domains.filter { access.allows(ACLObject(type: "domain", name: $0.name), permission) }
    }

    /// The networks of a listing this client may see (network:getattr).
    func visible(_ networks: [NetworkRef]) -> [NetworkRef] {
        guard let access else { return networks }
        return networks.filter { access.allows(ACLObject(type: "network", name: $0.name), "getattr") }
    }

    /// The pools of a listing this client may see (storage_pool:getattr).
    func visible(_ pools: [StoragePoolRef]) -> [StoragePoolRef] {
        guard let access else { return pools }
        return pools.filter { access.allows(ACLObject(type: "storage_pool", name: $0.name), "getattr") }
    }

    /// The volumes of a listing this client may see (storage_vol:getattr).
    func visible(_ volumes: [StorageVolRef]) -> [StorageVolRef] {
        guard let access else { return volumes }
        return volumes.filter { access.allows(ACLObject(type: "storage_vol", name: $0.name), "getattr") }
    }

    /// The secrets of a listing this client may see (secret:getattr).
    func visible(_ secrets: [SecretRef]) -> [SecretRef] {
        guard let access else { return secrets }
        return secrets.filter { access.allows(ACLObject(type: "secret", name: $0.uuid.description), "getattr") }
    }
}
