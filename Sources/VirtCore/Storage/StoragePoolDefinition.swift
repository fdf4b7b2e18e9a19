/// A pool's `<source><adapter>` (`virStorageAdapter`): an SCSI host by name or parent address, or a vHBA.
public enum StorageAdapter: Sendable, Hashable {
    case scsiHost(name: String?, parentAddress: (uniqueID: Int32, domain: UInt32, bus: UInt32, slot: UInt32,
                                                 function: UInt32)?)
    case fcHost(parent: String?, managed: Bool?, parentWWNN: String?, parentWWPN: String?, parentFabricWWN: String?,
                wwnn: String?, wwpn: String?)

    public static func == (a: StorageAdapter, b: StorageAdapter) -> Bool { a.key == b.key }
    public func hash(into h: inout Hasher) { h.combine(key) }
    private var key: String {
        var w = XMLWriter()
        format(&w)
        return w.output
    }

    static func parse(_ el: XMLElement) throws(VirtError) -> StorageAdapter {
        guard let type = el.attr("type") else {
            if el.attr("wwnn") != nil || el.attr("wwpn") != nil || el.attr("parent") != nil {
                throw StorageErrors.xml("Use of 'wwnn', 'wwpn', and 'parent' attributes requires use of the adapter "
                                        + "'type'")
            }
            return .scsiHost(name: el.attr("name"), parentAddress: nil)
        }
        switch type {
        case "scsi_host":
            var addr: (Int32, UInt32, UInt32, UInt32, UInt32)?
            if let p = el.child("parentaddr") {
                let uid = Int32(p.attr("unique_id") ?? "") ?? 0
                let a = p.child("address")
                func hex(_ n: String) -> UInt32 {
                    guard let s = a?.attr(n) else { return 0 }
                    return s.hasPrefix("0x") ? UInt32(s.dropFirst(2), radix: 16) ?? 0 : UInt32(s) ?? 0
                }
                addr = (uid, hex("domain"), hex("bus"), hex("slot"), hex("function"))
            }
            let name = el.attr("name")
            if name != nil && addr != nil {
                throw StorageErrors.xml("Use of 'name' and 'parent_addr' for scsi_host adapter are mutually exclusive")
            }
            return .scsiHost(name: name, parentAddress: addr)
        case "fc_host":
            var managed: Bool?
            if let m = el.attr("managed") {
                guard m == "yes" || m == "no" else {
                    throw StorageErrors.xml("Invalid value for attribute 'managed' in element 'adapter': '\(m)'.")
                }
                managed = m == "yes"
            }
            return .fcHost(parent: el.attr("parent"), managed: managed, parentWWNN: el.attr("parent_wwnn"),
                           parentWWPN: el.attr("parent_wwpn"), parentFabricWWN: el.attr("parent_fabric_wwn"),
                           wwnn: el.attr("wwnn"), wwpn: el.attr("wwpn"))
        default:
            throw StorageErrors.unsupported("Unknown pool adapter type '\(type)'")
        }
    }

    func validate() throws(VirtError) {
        switch self {
        case .scsiHost(let name, let addr):
            if name == nil && addr == nil {
                throw StorageErrors.xml("Either 'name' or 'parent' must be specified for the 'scsi_host' adapter")
            }
        case .fcHost(_, _, _, _, _, let wwnn, let wwpn):
            if wwnn == nil || wwpn == nil {
                throw StorageErrors.xml("'wwnn' and 'wwpn' must be specified for adapter type 'fchost'")
            }
        }
    }

    func format(_ w: inout XMLWriter) {
        switch self {
        case .fcHost(let parent, let managed, let pwwnn, let pwwpn, let fabric, let wwnn, let wwpn):
            w.empty("adapter", [("type", "fc_host"), ("parent", parent), ("managed", managed.map { $0 ? "yes" : "no" }),
                                ("parent_wwnn", pwwnn), ("parent_wwpn", pwwpn), ("parent_fabric_wwn", fabric),
                                ("wwnn", wwnn ?? "(null)"), ("wwpn", wwpn ?? "(null)")])
        case .scsiHost(let name, let addr):
            if let name {
                w.empty("adapter", [("type", "scsi_host"), ("name", name)])
            } else if let a = addr {
                w.container("adapter", [("type", "scsi_host")]) { w in
                    w.container("parentaddr", [("unique_id", String(a.uniqueID))]) { w in
                        func hex(_ v: UInt32, _ width: Int) -> String {
                            let s = String(v, radix: 16)
                            return "0x" + String(repeating: "0", count: max(0, width - s.count)) + s
                        }
                        w.empty("address", [("domain", hex(a.domain, 4)), ("bus", hex(a.bus, 2)),
                                            ("slot", hex(a.slot, 2)), ("function", "0x\(a.function)")])
                    }
                }
            }
        }
    }
}

/// A pool's `<source>` (`virStoragePoolSource`).
public struct StoragePoolSource: Sendable, Hashable {
    public struct Host: Sendable, Hashable {
        public var name: String
        public var port: Int32
    }
    public struct Device: Sendable, Hashable {
        public var path: String
        /// `part_separator` (nil: absent).
        public var partSeparator: Bool?
    }

    public var hosts: [Host] = []
    public var devices: [Device] = []
    public var dir: String?
    public var adapter: StorageAdapter?
    public var name: String?
    public var initiatorIQN: String?
    /// Index into the type's source formats.
    public var format: Int = 0
    public var auth: StorageAuth?
    /// NFS protocol version, "N" or "N.M".
    public var protocolVersion: String?
    public var vendor: String?
    public var product: String?

    public init() {}

    /// A `<source>` document (`virStoragePoolDefParseSourceString`).
    public init(xml: String, type: StoragePoolType) throws(VirtError) {
        let root = try XMLParser.parse(xml, documentName: "storage_source_specification", errorDomain: .storage)
        guard root.name == "source" else {
            throw StorageErrors.xml("expecting root element of 'source', not '\(root.name)'")
        }
        self = try Self.parse(root, type: type)
    }

    static func parse(_ el: XMLElement, type: StoragePoolType) throws(VirtError) -> StoragePoolSource {
        var s = StoragePoolSource()
        s.name = el.xpathString("name")
        if type == .rbd && s.name == nil { throw StorageErrors.xml("element 'name' is mandatory for RBD pool") }
        if let formats = type.sourceFormats {
            if let f = el.child("format")?.nonEmptyAttr("type") {
                guard let i = formats.names.firstIndex(of: f) else {
                    throw StorageErrors.unsupported("unknown pool format type \(f)")
                }
                s.format = i
            } else {
                s.format = formats.defaultIndex
            }
        }
        for h in el.children("host") {
            guard let name = h.attr("name") else { throw StorageErrors.xml("missing storage pool host name") }
            var port: Int32 = 0
            if let p = h.attr("port") {
                guard let v = Int32(p) else {
                    throw StorageErrors.xml("Invalid value for attribute 'port' in element 'host': '\(p)'. "
                                            + "Expected integer value")
                }
                port = v
            }
            s.hosts.append(Host(name: name, port: port))
        }
        s.initiatorIQN = el.child("initiator")?.child("iqn")?.nonEmptyAttr("name")
        for d in el.children("device") {
            guard let path = d.attr("path") else { throw StorageErrors.xml("missing storage pool source device path") }
            var sep: Bool?
            if let p = d.attr("part_separator") {
                guard p == "yes" || p == "no" else {
                    throw StorageErrors.xml("Invalid value for attribute 'part_separator' in element 'device': "
                                            + "'\(p)'. Expected one of 'yes', 'no'")
                }
                sep = p == "yes"
            }
            s.devices.append(Device(path: path, partSeparator: sep))
        }
        if let d = el.child("dir")?.nonEmptyAttr("path") { s.dir = sanitizePath(d) }
        if s.dir == nil && type == .gluster { s.dir = "/" }
        if let a = el.child("adapter") { s.adapter = try StorageAdapter.parse(a) }
        if let a = el.child("auth") {
            let auth = try StorageAuth.parse(a)
            if auth.type == nil { throw StorageErrors.unsupported("storage pool missing auth type") }
            s.auth = auth
        }
        if let ver = el.child("protocol")?.nonEmptyAttr("ver") {
            if s.format != 1 && s.format != 0 {
                let name = s.format < 4 ? ["auto", "nfs", "glusterfs", "cifs"][s.format] : "(null)"
                throw StorageErrors.unsupported("storage pool protocol ver unsupported for pool type '\(name)'")
            }
            let parts = ver.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count <= 2, parts.allSatisfy({ UInt32($0) != nil }) else {
                throw StorageErrors.xml("storage pool protocol ver '\(ver)' is malformed")
            }
            s.protocolVersion = ver
        }
        s.vendor = el.child("vendor")?.nonEmptyAttr("name")
        s.product = el.child("product")?.nonEmptyAttr("name")
        return s
    }

    func format(_ w: inout XMLWriter, type: StoragePoolType) {
        let parts = type.sourceParts
        w.container("source") { w in
            if parts.contains(.host) {
                for h in hosts { w.empty("host", [("name", h.name), ("port", h.port != 0 ? String(h.port) : nil)]) }
            }
            if parts.contains(.device) {
                for d in devices {
                    w.empty("device", [("path", d.path), ("part_separator", d.partSeparator.map { $0 ? "yes" : "no" })])
                }
            }
            if parts.contains(.dir), let dir { w.empty("dir", [("path", dir)]) }
            if parts.contains(.adapter), let adapter { adapter.format(&w) }
            if parts.contains(.name), let name { w.text("name", [], name) }
            if parts.contains(.initiatorIQN), let iqn = initiatorIQN {
                w.container("initiator") { $0.empty("iqn", [("name", iqn)]) }
            }
            if let formats = type.sourceFormats, format < formats.names.count {
                w.empty("format", [("type", formats.names[format])])
            }
            auth?.format(&w)
            if let protocolVersion { w.empty("protocol", [("ver", protocolVersion)]) }
            if let vendor { w.empty("vendor", [("name", vendor)]) }
            if let product { w.empty("product", [("name", product)]) }
        }
    }
}

/// A storage pool's definition: libvirt's `<pool>` XML (`virStoragePoolDef`).
public struct StoragePoolDefinition: Sendable, Hashable {
    public static let fsNamespace = "http://libvirt.org/schemas/storagepool/fs/1.0"
    public static let rbdNamespace = "http://libvirt.org/schemas/storagepool/rbd/1.0"

    public var type: StoragePoolType
    public var name: String
    public var uuid: VirtUUID
    public var capacity: UInt64 = 0
    public var allocation: UInt64 = 0
    public var available: UInt64 = 0
    /// `<features><cow state=…>` (nil: absent).
    public var cow: Bool?
    public var source = StoragePoolSource()
    public var targetPath: String?
    public var targetPermissions = StoragePermissions()
    /// `<refresh><volume allocation=…>`: "default" or "capacity".
    public var refreshVolumeAllocation: String?
    /// `fs:mount_opts` option names (fs and netfs pools).
    public var mountOptions: [String] = []
    /// `rbd:config_opts` name/value pairs (rbd pools).
    public var rbdConfigOptions: [(name: String, value: String)] = []

    public static func == (a: StoragePoolDefinition, b: StoragePoolDefinition) -> Bool { a.xml == b.xml }
    public func hash(into h: inout Hasher) { h.combine(xml) }

    /// Parses a `<pool>` document with libvirt's `virStoragePoolDefParseString` rules and errors.
    /// `namespaces`: read the fs/rbd namespace options (libvirt does when the pool type's backend is loaded; its
    /// test driver has no backends).
    public init(xml: String, namespaces: Bool = true) throws(VirtError) {
        let root = try XMLParser.parse(xml, documentName: "storage_pool_definition", errorDomain: .storage)
        try self.init(element: root, namespaces: namespaces)
    }

    public init(element root: XMLElement, namespaces: Bool = true) throws(VirtError) {
        guard root.name == "pool" else {
            throw StorageErrors.xml("expecting root element of 'pool', not '\(root.name)'")
        }
        guard let typeName = root.attr("type") else {
            throw StorageErrors.xml("Missing required attribute 'type' in element 'pool'")
        }
        guard let type = StoragePoolType(name: typeName) else {
            throw StorageErrors.xml("Invalid value for attribute 'type' in element 'pool': '\(typeName)'.")
        }
        self.type = type
        if let s = root.child("source") {
            source = try StoragePoolSource.parse(s, type: type)
        } else if let f = type.sourceFormats {
            source.format = f.defaultIndex
        }
        var name = root.xpathString("name")
        if name == nil && type.sourceParts.contains(.name) { name = source.name }
        guard let name else { throw StorageErrors.xml("missing pool source name element") }
        if name.contains("/") { throw StorageErrors.xml("name \(name) cannot contain '/'") }
        self.name = name
        if let u = root.xpathString("uuid") {
            guard let v = VirtUUID(string: u) else { throw StorageErrors.xml("malformed uuid element") }
            uuid = v
        } else {
            uuid = .random()
        }
        if let cow = root.child("features")?.child("cow"), let state = cow.attr("state") {
            guard state == "yes" || state == "no" else {
                throw StorageErrors.xml("Invalid value for attribute 'state' in element 'cow': '\(state)'. "
                                        + "Expected one of 'yes', 'no'")
            }
            guard type == .fs || type == .dir else {
                throw VirtError(.noSupport, domain: .storage,
                                "this function is not supported by the connection driver: "
                                    + "cow feature may only be used for 'fs' and 'dir' pools")
            }
            self.cow = state == "yes"
        }
        let parts = type.sourceParts
        if parts.contains(.host) && source.hosts.isEmpty {
            throw StorageErrors.xml("missing storage pool source host name")
        }
        if parts.contains(.dir) && source.dir == nil { throw StorageErrors.xml("missing storage pool source path") }
        if parts.contains(.name) && source.name == nil { source.name = name }
        if parts.contains(.adapter) {
            guard let adapter = source.adapter else { throw StorageErrors.xml("missing storage pool source adapter") }
            try adapter.validate()
        }
        if parts == [.device] && source.devices.isEmpty {
            throw StorageErrors.xml("missing storage pool source device name")
        }
        if !parts.contains(.network) {
            let path: String
            switch type {
            case .logical: path = "/dev/\(source.name ?? "(null)")"
            case .zfs: path = "/dev/zvol/\(source.name ?? "(null)")"
            default:
                guard let p = root.child("target")?.xpathString("path") else {
                    throw StorageErrors.xml("missing storage pool target path")
                }
                path = p
            }
            targetPath = sanitizePath(path)
            targetPermissions = try StoragePermissions.parse(root.child("target")?.child("permissions"))
        }
        if type == .iscsiDirect && source.initiatorIQN == nil {
            throw StorageErrors.unsupported("missing initiator IQN")
        }
        if let alloc = root.child("refresh")?.child("volume")?.nonEmptyAttr("allocation") {
            guard alloc == "default" || alloc == "capacity" else {
                throw StorageErrors.unsupported("unknown storage pool volume refresh allocation type \(alloc)")
            }
            refreshVolumeAllocation = alloc
        }
        if namespaces {
            let prefixed = root.elements.filter { $0.prefix != nil }
            if type == .fs || type == .netfs, let opts = prefixed.first(where: { $0.name == "mount_opts" }) {
                for o in opts.elements where o.name == "option" {
                    guard let n = o.attr("name") else { throw Self.missingOption("name") }
                    mountOptions.append(n)
                }
            }
            if type == .rbd, let opts = prefixed.first(where: { $0.name == "config_opts" }) {
                for o in opts.elements where o.name == "option" {
                    guard let n = o.attr("name") else { throw Self.missingOption("name") }
                    guard let v = o.attr("value") else { throw Self.missingOption("value") }
                    rbdConfigOptions.append((n, v))
                }
            }
        }
    }

    static func missingOption(_ attr: String) -> VirtError {
        StorageErrors.xml("Missing required attribute '\(attr)' in element 'option'")
    }

    /// libvirt's `virStoragePoolDefFormat`.
    public var xml: String {
        var w = XMLWriter()
        var attrs: [(String, String?)] = [("type", type.name)]
        if !mountOptions.isEmpty { attrs.append(("xmlns:fs", Self.fsNamespace)) }
        if !rbdConfigOptions.isEmpty { attrs.append(("xmlns:rbd", Self.rbdNamespace)) }
        w.container("pool", attrs) { w in
            w.text("name", [], name)
            w.text("uuid", [], uuid.description)
            w.text("capacity", [("unit", "bytes")], String(capacity))
            w.text("allocation", [("unit", "bytes")], String(allocation))
            w.text("available", [("unit", "bytes")], String(available))
            if let cow { w.container("features") { $0.empty("cow", [("state", cow ? "yes" : "no")]) } }
            source.format(&w, type: type)
            if type.hasTarget {
                w.container("target") { w in
                    w.optionalText("path", targetPath)
                    targetPermissions.format(&w)
                }
            }
            if let refreshVolumeAllocation {
                w.container("refresh") { $0.empty("volume", [("allocation", refreshVolumeAllocation)]) }
            }
            if !mountOptions.isEmpty {
                w.container("fs:mount_opts") { w in for o in mountOptions { w.empty("fs:option", [("name", o)]) } }
            }
            if !rbdConfigOptions.isEmpty {
                w.container("rbd:config_opts") { w in
                    for o in rbdConfigOptions { w.empty("rbd:option", [("name", o.name), ("value", o.value)]) }
                }
            }
        }
        return w.output
    }
}

extension StoragePoolDefinition {
    /// The name of `<source><format type=…>` for the types that have source formats (an fs pool's "auto",
    /// "ext4", …); nil for the others.
    public var sourceFormatName: String? {
        guard let f = type.sourceFormats else { return nil }
        return source.format >= 0 && source.format < f.names.count ? f.names[source.format] : nil
    }
}
