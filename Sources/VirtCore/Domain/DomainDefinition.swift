/// A domain definition: the typed value model of libvirt's domain XML.
///
/// Parse with ``DomainDefinition/parse(_:options:)``; format with ``DomainDefinition/formatXML(_:)``, which
/// writes exactly what libvirt's `dumpxml` writes for the same definition.
public struct DomainDefinition: Sendable, Hashable {
    /// `<domain type='…'>`: kvm, qemu, test, …
    public var type: String
    public var name: String
    public var uuid: VirtUUID
    public var title: String?
    public var description: String?
    /// `<memory>` in KiB.
    public var memory: UInt64
    /// `<currentMemory>` in KiB.
    public var currentMemory: UInt64
    /// `<vcpu>`: the maximum number of vCPUs.
    public var vcpus: UInt32
    /// `<vcpu current='…'>`, when fewer than `vcpus` are online.
    public var currentVcpus: UInt32?
    public var os: OSConfig
    public var devices: DomainDevices

    public init(type: String, name: String, uuid: VirtUUID = .random(), memory: UInt64, currentMemory: UInt64? = nil,
                vcpus: UInt32 = 1, os: OSConfig = OSConfig(type: "hvm"), devices: DomainDevices = DomainDevices()) {
        self.type = type
        self.name = name
        self.uuid = uuid
        self.memory = memory
        self.currentMemory = currentMemory ?? memory
        self.vcpus = vcpus
        self.os = os
        self.devices = devices
    }
}

/// `<os>`.
public struct OSConfig: Sendable, Hashable {
    /// `<type>`: hvm, linux, xen, exe.
    public var type: String
    public var arch: String?
    public var machine: String?

    public init(type: String, arch: String? = nil, machine: String? = nil) {
        self.type = type
        self.arch = arch
        self.machine = machine
    }
}

/// Options for parsing domain XML.
public struct DomainParseOptions: Sendable, Hashable {
    /// Reject unknown elements and attributes (`define --validate`).
    public var validate: Bool = false
    /// Parse live-only data (ids, aliases) as in status XML.
    public var live: Bool = false
    public init(validate: Bool = false, live: Bool = false) {
        self.validate = validate
        self.live = live
    }
}

/// Options for formatting domain XML.
public struct DomainFormatOptions: Sendable, Hashable {
    /// Include security-sensitive data (passwords): `--security-info`.
    public var secure: Bool = false
    /// Format the inactive (persistent) definition: no id, no live-only data.
    public var inactive: Bool = true
    /// The running domain's id, written as `<domain … id='N'>` when formatting live XML.
    public var id: Int32? = nil
    public init(secure: Bool = false, inactive: Bool = true, id: Int32? = nil) {
        self.secure = secure
        self.inactive = inactive
        self.id = id
    }
}

extension DomainDefinition {
    /// Parses libvirt domain XML.
    public static func parse(_ xml: String, options: DomainParseOptions = .init()) throws(VirtError)
        -> DomainDefinition {
        let root = try XMLParser.parse(xml)
        return try parse(root, options: options)
    }

    /// Builds a definition from an already parsed `<domain>` element.
    public static func parse(_ root: XMLElement, options: DomainParseOptions = .init()) throws(VirtError)
        -> DomainDefinition {
        guard root.name == "domain" else {
            throw VirtError(.xmlError, domain: .domain,
                            "XML error: unexpected root element <\(root.name)>, expecting <domain>")
        }
        guard let type = root.attr("type") else {
            throw VirtError.xmlDetail("missing domain type attribute")
        }
        guard let name = root.childText("name"), !name.isEmpty else {
            throw VirtError(.noName, domain: .domain, "missing name information")
        }
        let uuid: VirtUUID
        if let u = root.childText("uuid") {
            guard let parsed = VirtUUID(string: u) else {
                throw VirtError.xmlDetail("malformed uuid element")
            }
            uuid = parsed
        } else {
            uuid = .random()
        }
        guard let mem = root.childText("memory").flatMap({ UInt64($0) }) else {
            throw VirtError.xmlDetail("missing memory element")
        }
        let cur = root.childText("currentMemory").flatMap { UInt64($0) }
        let vcpus = root.childText("vcpu").flatMap { UInt32($0) } ?? 1
        let osEl = root.child("os")
        let osType = osEl?.childText("type") ?? "hvm"
        var def = DomainDefinition(type: type, name: name, uuid: uuid, memory: mem, currentMemory: cur, vcpus: vcpus,
                                   os: OSConfig(type: osType, arch: osEl?.child("type")?.attr("arch"),
                                                machine: osEl?.child("type")?.attr("machine")))
        if let d = root.child("devices") {
            def.devices = try DomainDevices.parse(d, options: options)
        }
        def.title = root.childText("title")
        def.description = root.childText("description")
        return def
    }

    /// Formats the definition as libvirt does.
    public func formatXML(_ options: DomainFormatOptions = .init()) -> String {
        var w = XMLWriter()
        let idAttr: String? = options.inactive ? nil : options.id.map { String($0) }
        w.element("domain", [("type", type), ("id", idAttr)]) { w in
            w.text("name", [], name)
            w.text("uuid", [], uuid.description)
            w.optionalText("title", title)
            w.optionalText("description", description)
            w.text("memory", [("unit", "KiB")], String(memory))
            w.text("currentMemory", [("unit", "KiB")], String(currentMemory))
            w.text("vcpu", [("placement", "static"), ("current", currentVcpus.map { String($0) })], String(vcpus))
            w.element("os") { w in
                w.text("type", [("arch", os.arch), ("machine", os.machine)], os.type)
            }
            devices.format(into: &w, options: options)
        }
        return w.output
    }
}
