/// A structural check of domain XML for `define --validate`, reporting problems the way libvirt's RelaxNG
/// validation against its domain schema does (XML_INVALID_SCHEMA from the XML domain, e.g.
/// "Element domain has extra content: bogus" or "Invalid attribute foo for element os", followed by the lines
/// libxml2 adds for each enclosing pattern).
///
/// It knows the elements and attributes of the parts of the schema this model covers, and the shape of
/// libxml2's messages for them (observed with libvirt 9.0). Below elements it has no table for (devices, and
/// elements kept as they are) nothing is checked.
enum DomainSchemaValidator {
    /// How libxml2 reports a failure inside a top-level element of `<domain>`.
    enum Report {
        /// The inner message, then "Extra element X in interleave" and "Element domain failed to validate content".
        case detailed
        /// Only "Extra element X in interleave" and "Element domain failed to validate content".
        case opaque
        /// A scaled size: the inner message (attribute problems only), then "Extra element X in interleave",
        /// "Invalid sequence in interleave" and "Element domain failed to validate content".
        case sequence(innerLine: Bool)
        /// Only the inner message.
        case bare
    }

    /// Allowed attributes and child elements per element path.
    struct Rule {
        var attributes: Set<String>
        /// nil: children are not checked.
        var children: Set<String>?
        /// Allowed values per attribute.
        var values: [String: Set<String>] = [:]
        /// Allowed text content.
        var text: Set<String>? = nil
    }

    static let sizeUnits: Set<String> = [
        "b", "bytes", "KB", "k", "KiB", "MB", "M", "MiB", "GB", "G", "GiB", "TB", "T", "TiB", "PB", "P", "PiB",
        "EB", "E", "EiB",
    ]
    static let lifecycle: Set<String> = ["destroy", "restart", "rename-restart", "preserve"]

    static let reports: [String: Report] = [
        "name": .bare, "uuid": .bare, "genid": .bare, "title": .bare, "description": .bare,
        "memory": .sequence(innerLine: true), "currentMemory": .sequence(innerLine: true),
        "maxMemory": .sequence(innerLine: true), "vcpu": .sequence(innerLine: false),
        "on_poweroff": .sequence(innerLine: false), "on_reboot": .sequence(innerLine: false),
        "on_crash": .sequence(innerLine: false), "on_lockfailure": .sequence(innerLine: false),
        "os": .detailed, "clock": .detailed,
    ]

    static let rules: [String: Rule] = [
        "domain": Rule(attributes: ["type", "id"], children: Set(DomainDefinition.elementOrder)),
        "domain/name": Rule(attributes: [], children: []),
        "domain/uuid": Rule(attributes: [], children: []),
        "domain/genid": Rule(attributes: [], children: []),
        "domain/title": Rule(attributes: [], children: []),
        "domain/description": Rule(attributes: [], children: []),
        "domain/memory": Rule(attributes: ["unit", "dumpCore"], children: [],
                              values: ["unit": sizeUnits, "dumpCore": ["on", "off"]]),
        "domain/currentMemory": Rule(attributes: ["unit"], children: [], values: ["unit": sizeUnits]),
        "domain/maxMemory": Rule(attributes: ["unit", "slots"], children: [], values: ["unit": sizeUnits]),
        "domain/vcpu": Rule(attributes: ["placement", "cpuset", "current"], children: [],
                            values: ["placement": ["static", "auto"]]),
        "domain/iothreads": Rule(attributes: [], children: []),
        "domain/os": Rule(attributes: ["firmware"], children: [
            "type", "firmware", "init", "initarg", "initenv", "initdir", "inituser", "initgroup", "loader", "nvram",
            "kernel", "initrd", "cmdline", "dtb", "root", "acpi", "boot", "bootmenu", "bios", "smbios",
        ], values: ["firmware": ["efi", "bios"]]),
        "domain/os/type": Rule(attributes: ["arch", "machine"], children: []),
        "domain/os/boot": Rule(attributes: ["dev"], children: [], values: ["dev": ["hd", "fd", "cdrom", "network"]]),
        "domain/os/bootmenu": Rule(attributes: ["enable", "timeout"], children: [], values: ["enable": ["yes", "no"]]),
        "domain/os/bios": Rule(attributes: ["useserial", "rebootTimeout"], children: []),
        "domain/os/smbios": Rule(attributes: ["mode"], children: [],
                                 values: ["mode": ["emulate", "host", "sysinfo"]]),
        "domain/os/loader": Rule(attributes: ["readonly", "secure", "type", "stateless", "format"], children: [],
                                 values: ["readonly": ["yes", "no"], "secure": ["yes", "no"],
                                          "type": ["rom", "pflash"]]),
        "domain/os/kernel": Rule(attributes: [], children: []),
        "domain/os/initrd": Rule(attributes: [], children: []),
        "domain/os/cmdline": Rule(attributes: [], children: []),
        "domain/os/dtb": Rule(attributes: [], children: []),
        "domain/clock": Rule(attributes: ["offset", "adjustment", "basis", "timezone", "start"], children: ["timer"]),
        "domain/clock/timer": Rule(attributes: ["name", "present", "tickpolicy", "track", "frequency", "mode"],
                                   children: ["catchup"]),
        "domain/features": Rule(attributes: [], children: Set(DomainFeatures.order)),
        "domain/features/acpi": Rule(attributes: [], children: []),
        "domain/features/pae": Rule(attributes: [], children: []),
        "domain/features/apic": Rule(attributes: ["eoi"], children: []),
        "domain/features/hyperv": Rule(attributes: ["mode"], children: Set(DomainFeatures.hypervOrder)),
        "domain/cpu": Rule(attributes: ["mode", "match", "check", "migratable"], children: [
            "model", "vendor", "topology", "cache", "maxphysaddr", "feature", "numa",
        ]),
        "domain/cpu/model": Rule(attributes: ["fallback", "vendor_id"], children: []),
        "domain/cpu/topology": Rule(attributes: ["sockets", "dies", "cores", "threads"], children: []),
        "domain/cpu/feature": Rule(attributes: ["policy", "name"], children: []),
        "domain/on_poweroff": Rule(attributes: [], children: [], text: lifecycle),
        "domain/on_reboot": Rule(attributes: [], children: [], text: lifecycle),
        "domain/on_crash": Rule(attributes: [], children: [],
                                text: lifecycle.union(["coredump-destroy", "coredump-restart"])),
        "domain/on_lockfailure": Rule(attributes: [], children: [], text: ["poweroff", "restart", "pause", "ignore"]),
        "domain/devices": Rule(attributes: [], children: [
            "emulator", "disk", "controller", "lease", "filesystem", "interface", "input", "sound", "video",
            "hostdev", "redirdev", "redirfilter", "smartcard", "serial", "parallel", "console", "channel",
            "graphics", "hub", "watchdog", "memballoon", "rng", "tpm", "panic", "shmem", "memory", "iommu", "vsock",
            "audio", "crypto", "pstore",
        ]),
        "domain/pm": Rule(attributes: [], children: ["suspend-to-mem", "suspend-to-disk"]),
    ]

    static func validate(_ root: XMLElement) throws(VirtError) {
        if let inner = firstProblem(root, path: "domain") {
            throw VirtError.schemaInvalid([inner.message])
        }
        for c in root.elements where c.prefix == nil {
            guard let inner = firstProblem(c, path: "domain/" + c.name) else { continue }
            throw VirtError.schemaInvalid(lines(for: c, inner: inner))
        }
    }

    /// The lines libxml2 reports for a problem `inner` found in top-level element `el`.
    static func lines(for el: XMLElement, inner: Problem) -> [String] {
        let tail = ["Extra element \(el.name) in interleave"]
        let domainLine = "Element domain failed to validate content"
        switch reports[el.name] ?? .opaque {
        case .bare:
            return [inner.message]
        case .opaque:
            return tail + [domainLine]
        case .detailed:
            if el.name == "clock" && inner.depth == 0 && inner.kind == .attribute {
                return ["Expecting an element timer, got nothing"] + tail + [domainLine]
            }
            var msg = inner.message
            if inner.kind == .value { msg = "Element \(inner.element) failed to validate attributes" }
            return [msg] + tail + [domainLine]
        case .sequence(let innerLine):
            let first = innerLine && inner.kind != .text ? [inner.message] : []
            return first + tail + ["Invalid sequence in interleave", domainLine]
        }
    }

    struct Problem {
        enum Kind { case attribute, value, child, text }
        var kind: Kind
        var element: String
        var message: String
        /// 0 for the checked element itself, more for descendants.
        var depth: Int
    }

    /// The first problem in `el` or below, in document order.
    static func firstProblem(_ el: XMLElement, path: String, depth: Int = 0) -> Problem? {
        guard let rule = rules[path] else { return nil }
        for a in el.attributes where !a.name.hasPrefix("xmlns") {
            if !rule.attributes.contains(a.name) {
                return Problem(kind: .attribute, element: el.name,
                               message: "Invalid attribute \(a.name) for element \(el.name)", depth: depth)
            }
            if let allowed = rule.values[a.name], !allowed.contains(a.value) {
                return Problem(kind: .value, element: el.name,
                               message: "Invalid attribute \(a.name) for element \(el.name)", depth: depth)
            }
        }
        if let allowed = rule.text, !allowed.contains(el.text.trimmingSpaces) {
            return Problem(kind: .text, element: el.name, message: "Invalid value for \(el.name)", depth: depth)
        }
        if let allowed = rule.children {
            for c in el.elements {
                if c.prefix != nil && path == "domain" { continue }
                if c.prefix != nil || !allowed.contains(c.name) {
                    return Problem(kind: .child, element: el.name,
                                   message: "Element \(el.name) has extra content: \(c.qualifiedName)", depth: depth)
                }
            }
        }
        if path == "domain" { return nil }
        for c in el.elements where c.prefix == nil {
            if let p = firstProblem(c, path: path + "/" + c.name, depth: depth + 1) { return p }
        }
        return nil
    }
}
