/// What a secret is for: libvirt's `virSecretUsageType` with its usage ID.
public enum SecretUsage: Sendable, Hashable {
    case none
    /// A volume's path.
    case volume(String)
    /// A Ceph user name.
    case ceph(String)
    /// An iSCSI target.
    case iscsi(String)
    case tls(String)
    case vtpm(String)

    /// `virSecretUsageType`.
    public var type: Int32 {
        switch self {
        case .none: 0
        case .volume: 1
        case .ceph: 2
        case .iscsi: 3
        case .tls: 4
        case .vtpm: 5
        }
    }

    /// libvirt's name of the type (`<usage type='…'>`, virsh's list column).
    public var typeName: String { Self.names[Int(type)] }

    /// The usage ID (path, name or target); "" for none, as libvirt's `virSecretGetUsageID` gives it over the wire.
    public var id: String {
        switch self {
        case .none: ""
        case .volume(let s), .ceph(let s), .iscsi(let s), .tls(let s), .vtpm(let s): s
        }
    }

    static let names = ["none", "volume", "ceph", "iscsi", "tls", "vtpm"]

    /// The usage of `type` with `id`; nil for an unknown type.
    public init?(type: Int32, id: String) {
        switch type {
        case 0: self = .none
        case 1: self = .volume(id)
        case 2: self = .ceph(id)
        case 3: self = .iscsi(id)
        case 4: self = .tls(id)
        case 5: self = .vtpm(id)
        default: return nil
        }
    }
}

/// A secret's definition: libvirt's `<secret>` XML (`virSecretDef`).
public struct SecretDefinition: Sendable, Hashable {
    public var uuid: VirtUUID
    /// Kept in memory only, never written to disk.
    public var ephemeral: Bool
    /// The value is never given to clients.
    public var isPrivate: Bool
    public var description: String?
    public var usage: SecretUsage

    public init(uuid: VirtUUID = .random(), ephemeral: Bool = false, isPrivate: Bool = false,
                description: String? = nil, usage: SecretUsage = .none) {
        self.uuid = uuid
        self.ephemeral = ephemeral
        self.isPrivate = isPrivate
        self.description = description
        self.usage = usage
    }

    /// The secret of `xml`, with libvirt's errors for what it refuses. A missing `<uuid>` gets a random one.
    public init(xml: String) throws(VirtError) {
        let root = try XMLParser.parse(xml, documentName: "definition_of_secret", errorDomain: .secret)
        guard root.name == "secret" else {
            throw VirtError(.xmlError, domain: .secret, "XML error: expecting root element of 'secret', not '\(root.name)'",
                            str1: "expecting root element of 'secret', not '\(root.name)'")
        }
        func yesNo(_ name: String) throws(VirtError) -> Bool {
            switch root.attr(name) {
            case nil, "no": return false
            case "yes": return true
            default:
                throw VirtError(.xmlError, domain: .secret, "XML error: invalid value of '\(name)'",
                                str1: "invalid value of '\(name)'")
            }
        }
        ephemeral = try yesNo("ephemeral")
        isPrivate = try yesNo("private")
        if let text = root.child("uuid")?.text {
            guard let u = VirtUUID(string: text.trimmingSpaces) else {
                throw VirtError(.internalError, domain: .secret, "internal error: malformed uuid element",
                                str1: "malformed uuid element")
            }
            uuid = u
        } else {
            uuid = .random()
        }
        description = root.child("description")?.text
        usage = .none
        if let u = root.child("usage") {
            usage = try Self.parseUsage(u)
        }
    }

    private static func parseUsage(_ u: XMLElement) throws(VirtError) -> SecretUsage {
        guard let type = u.attr("type") else {
            throw VirtError(.xmlError, domain: .secret, "XML error: unknown secret usage type",
                            str1: "unknown secret usage type")
        }
        func required(_ element: String, _ what: String) throws(VirtError) -> String {
            guard let v = u.child(element)?.text else {
                throw VirtError(.internalError, domain: .secret, "internal error: \(what)", str1: what)
            }
            return v
        }
        switch type {
        case "none": return .none
        case "volume": return .volume(try required("volume", "volume usage specified, but volume path is missing"))
        case "ceph": return .ceph(try required("name", "Ceph usage specified, but name is missing"))
        case "iscsi": return .iscsi(try required("target", "iSCSI usage specified, but target is missing"))
        case "tls": return .tls(try required("name", "TLS usage specified, but name is missing"))
        case "vtpm": return .vtpm(try required("name", "vTPM usage specified, but name is missing"))
        default:
            throw VirtError.configUnsupported("unknown secret usage type \(type)", domain: .secret)
        }
    }

    /// libvirt's format of the definition (`virSecretDefFormat`).
    public var xml: String {
        var w = XMLWriter()
        w.container("secret", [("ephemeral", ephemeral ? "yes" : "no"), ("private", isPrivate ? "yes" : "no")]) { w in
            w.text("uuid", [], uuid.description)
            w.optionalText("description", description)
            switch usage {
            case .none: break
            case .volume(let s): w.container("usage", [("type", "volume")]) { $0.text("volume", [], s) }
            case .ceph(let s): w.container("usage", [("type", "ceph")]) { $0.text("name", [], s) }
            case .iscsi(let s): w.container("usage", [("type", "iscsi")]) { $0.text("target", [], s) }
            case .tls(let s): w.container("usage", [("type", "tls")]) { $0.text("name", [], s) }
            case .vtpm(let s): w.container("usage", [("type", "vtpm")]) { $0.text("name", [], s) }
            }
        }
        return w.output
    }
}
