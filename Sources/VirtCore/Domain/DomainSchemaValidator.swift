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
    enum Report: Sendable {
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
    struct Rule: Sendable {
        var attributes: Set<String>
        /// nil: children are not checked.
        var children: Set<String>?
        /// Allowed values per attribute.
        var values: [String: Set<String>] = [:]
        /// Allowed text content.
        var text: Set<String>? = nil
        /// A check of the text content.
        var textCheck: TextCheck? = nil
        /// How a disallowed attribute value is reported: "Invalid attribute A for element E" when true,
        /// "Element E failed to validate attributes" otherwise.
        var valueAsInvalidAttribute = false
        /// Attributes whose value must be an unsigned integer.
        var numericAttributes: Set<String> = []
        /// Required attributes.
        var requiredAttributes: [String] = []
        /// Text must not be empty.
        var nonEmpty = false
        /// Required child elements.
        var required: [String] = []
        /// The first line reported for an unexpected child instead of "Element E has extra content: C".
        var unexpectedChildLines: (@Sendable (String) -> [String])? = nil
    }

    /// Checks of text content, with libxml2's message.
    enum TextCheck: Sendable {
        /// An xsd:unsignedLong ("Type unsignedLong doesn't allow value 'V'").
        case unsignedLong
        /// Digits, reported without an inner line.
        case digits
        /// A UUID, reported without an inner line.
        case uuid
        /// One of the values ("Error validating value ").
        case oneOf(Set<String>)
    }

    static let sizeUnits: Set<String> = [
        "b", "bytes", "KB", "k", "KiB", "MB", "M", "MiB", "GB", "G", "GiB", "TB", "T", "TiB", "PB", "P", "PiB",
        "EB", "E", "EiB",
    ]
    static let lifecycle: Set<String> = ["destroy", "restart", "rename-restart", "preserve"]

    static let reports: [String: Report] = [
        "name": .bare, "uuid": .sequence(innerLine: false), "genid": .sequence(innerLine: false),
        "memtune": .sequence(innerLine: false), "cputune": .sequence(innerLine: false),
        "memoryBacking": .sequence(innerLine: false), "numatune": .sequence(innerLine: false),
        "iothreads": .sequence(innerLine: false), "seclabel": .detailed, "sysinfo": .detailed,
        "memory": .sequence(innerLine: true), "currentMemory": .sequence(innerLine: false),
        "maxMemory": .sequence(innerLine: false), "vcpu": .sequence(innerLine: false),
        "vcpus": .sequence(innerLine: false),
        "on_poweroff": .sequence(innerLine: false), "on_reboot": .sequence(innerLine: false),
        "on_crash": .sequence(innerLine: false), "on_lockfailure": .sequence(innerLine: false),
        "os": .detailed, "clock": .detailed,
    ]

    static let rules: [String: Rule] = [
        "domain": Rule(attributes: ["type", "id"], children: Set(DomainDefinition.elementOrder),
                       values: ["type": DomainDefinition.knownVirtTypes]),
        "domain/name": Rule(attributes: [], children: []),
        "domain/uuid": Rule(attributes: [], children: [], textCheck: .uuid),
        "domain/genid": Rule(attributes: [], children: []),
        "domain/description": Rule(attributes: [], children: []),
        "domain/memory": Rule(attributes: ["unit", "dumpCore"], children: [],
                              values: ["unit": sizeUnits, "dumpCore": ["on", "off"]], textCheck: .unsignedLong,
                              valueAsInvalidAttribute: true),
        "domain/currentMemory": Rule(attributes: ["unit"], children: [], values: ["unit": sizeUnits],
                                     textCheck: .unsignedLong, valueAsInvalidAttribute: true),
        "domain/maxMemory": Rule(attributes: ["unit", "slots"], children: [], values: ["unit": sizeUnits],
                                 textCheck: .unsignedLong, valueAsInvalidAttribute: true, requiredAttributes: ["slots"]),
        "domain/vcpu": Rule(attributes: ["placement", "cpuset", "current"], children: [],
                            values: ["placement": ["static", "auto"]], textCheck: .digits,
                            numericAttributes: ["current"]),
        "domain/vcpus": Rule(attributes: [], children: ["vcpu"]),
        "domain/vcpus/vcpu": Rule(attributes: ["id", "enabled", "hotpluggable", "order"], children: [],
                                  values: ["enabled": ["yes", "no"], "hotpluggable": ["yes", "no"]],
                                  requiredAttributes: ["id", "enabled"]),
        "domain/metadata": Rule(attributes: [], children: nil),
        "domain/features/kvm": Rule(attributes: [], children: Set(DomainFeatures.kvmOrder)),
        "domain/cpu/numa": Rule(attributes: [], children: ["cell", "interconnects"]),
        "domain/cpu/numa/cell": Rule(attributes: ["id", "cpus", "memory", "unit", "memAccess", "discard"],
                                     children: ["distances", "cache"]),
        "domain/iothreads": Rule(attributes: [], children: [], textCheck: .digits),
        "domain/memtune": Rule(attributes: [], children: Set(DomainTunables.memtuneOrder)),
        "domain/memtune/hard_limit": Rule(attributes: ["unit"], children: []),
        "domain/memtune/soft_limit": Rule(attributes: ["unit"], children: []),
        "domain/memtune/min_guarantee": Rule(attributes: ["unit"], children: []),
        "domain/memtune/swap_hard_limit": Rule(attributes: ["unit"], children: []),
        "domain/cputune": Rule(attributes: [], children: Set(DomainTunables.cputuneOrder)),
        "domain/memoryBacking": Rule(attributes: [], children: Set(DomainTunables.memoryBackingOrder)),
        "domain/numatune": Rule(attributes: [], children: ["memory", "memnode"]),
        "domain/seclabel": Rule(attributes: ["type", "model", "relabel"], children: nil,
                                values: ["type": ["dynamic", "static", "none"], "relabel": ["yes", "no"]],
                                valueAsInvalidAttribute: true),
        "domain/sysinfo": Rule(attributes: ["type"], children: [
            "bios", "system", "baseBoard", "chassis", "processor", "memory", "oemStrings", "entry",
        ], unexpectedChildLines: { c in
            ["Did not expect element \(c) there", "Element sysinfo failed to validate content"]
        }),
        "domain/os": Rule(attributes: ["firmware"], children: [
            "type", "firmware", "init", "initarg", "initenv", "initdir", "inituser", "initgroup", "loader", "nvram",
            "kernel", "initrd", "cmdline", "dtb", "root", "acpi", "boot", "bootmenu", "bios", "smbios",
        ], values: ["firmware": ["efi", "bios"]], valueAsInvalidAttribute: true, required: ["type"]),
        "domain/os/type": Rule(attributes: ["arch", "machine"], children: [], values: ["arch": OSConfig.knownArchs],
                               textCheck: .oneOf(["hvm", "xen", "linux", "exe", "xenpvh"]),
                               valueAsInvalidAttribute: true),
        "domain/os/boot": Rule(attributes: ["dev"], children: [], values: ["dev": ["hd", "fd", "cdrom", "network"]]),
        "domain/os/bootmenu": Rule(attributes: ["enable", "timeout"], children: [], values: ["enable": ["yes", "no"]],
                                   requiredAttributes: ["enable"]),
        "domain/os/bios": Rule(attributes: ["useserial", "rebootTimeout"], children: []),
        "domain/os/smbios": Rule(attributes: ["mode"], children: [],
                                 values: ["mode": ["emulate", "host", "sysinfo"]]),
        "domain/os/loader": Rule(attributes: ["readonly", "secure", "type", "stateless"], children: [],
                                 values: ["readonly": ["yes", "no"], "secure": ["yes", "no"],
                                          "type": ["rom", "pflash"]]),
        "domain/os/kernel": Rule(attributes: [], children: []),
        "domain/os/initrd": Rule(attributes: [], children: []),
        "domain/os/cmdline": Rule(attributes: [], children: []),
        "domain/os/dtb": Rule(attributes: [], children: []),
        "domain/clock": Rule(attributes: ["offset", "adjustment", "basis", "timezone", "start"], children: ["timer"]),
        "domain/clock/timer": Rule(attributes: ["name", "present", "tickpolicy", "track", "frequency", "mode"],
                                   children: ["catchup"],
                                   values: ["name": ["platform", "pit", "rtc", "hpet", "tsc", "kvmclock",
                                                     "hypervclock", "armvtimer"],
                                            "present": ["yes", "no"]],
                                   valueAsInvalidAttribute: true),
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
        "domain/cpu/feature": Rule(attributes: ["policy", "name"], children: [], requiredAttributes: ["policy", "name"]),
        "domain/title": Rule(attributes: [], children: [], nonEmpty: true),
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

    /// libvirt's unit pattern: b, byte(s), or k/m/g/t/p/e optionally followed by b or ib, any case.
    static func isSizeUnit(_ u: String) -> Bool {
        let l = u.lowercased()
        if l == "b" || l == "byte" || l == "bytes" { return true }
        guard let f = l.first, "kmgtpe".contains(f) else { return false }
        let rest = l.dropFirst()
        return rest.isEmpty || rest == "b" || rest == "ib"
    }

    /// The schema error `define --validate` reports when the schema itself rejects a value that the parser
    /// found invalid in top-level element `section` (the parser's checks stand in for the schema's types).
    static func schemaError(for error: VirtError, section: String?) -> VirtError {
        guard error.code != .xmlInvalidSchema, error.code != .xmlDetail, let section else { return error }
        // Only values the schema's types reject; semantic checks (ranges, counts, overflow) come after validation.
        let m = error.message
        let semantic = ["must be specified", "must be at least", "Exactly one", "both maximum", "cannot", "exceed",
                        "Invalid value of 'cpuset'", "doesn't support", "catchup policies", "specified without",
                        "out of range of maximum vcpu count"]
        if semantic.contains(where: { m.contains($0) }) && !m.contains("setting of timer track") { return error }
        // Values the schema already checked (as tokens, so surrounding blanks pass it): the parser's error stands.
        if section.hasPrefix("on_") || m.contains("unknown OS type") || m.contains("Unknown architecture") {
            return error
        }
        switch error.code {
        case .xmlError, .invalidArg:
            break
        case .configUnsupported:
            let typeErrors = ["unknown", "Invalid mode", "Invalid fallback", "Invalid CPU feature", "invalid value for",
                              "setting of timer track"]
            guard typeErrors.contains(where: { m.contains($0) }) else { return error }
        case .internalError:
            guard m.contains("malformed") else { return error }
        default:
            return error
        }
        let tail = ["Extra element \(section) in interleave"]
        let domainLine = "Element domain failed to validate content"
        switch reports[section] ?? .opaque {
        case .bare:
            return error
        case .opaque:
            return VirtError.schemaInvalid(tail + [domainLine])
        case .sequence:
            return VirtError.schemaInvalid(tail + ["Invalid sequence in interleave", domainLine])
        case .detailed:
            var inner = "Error validating value "
            if m.contains("boot menu timeout") { inner = "Invalid attribute timeout for element bootmenu" }
            if m.contains("rebootTimeout") { inner = "Invalid attribute rebootTimeout for element bios" }
            if let a = m.firstRange(of: "attribute '") {
                let afterA = m[a.upperBound...]
                if let e = afterA.firstRange(of: "' in element '") {
                    let afterE = afterA[e.upperBound...]
                    if let end = afterE.firstIndex(of: "'"), reportedAsAttribute.contains(String(afterA[..<e.lowerBound])) {
                        inner = "Invalid attribute \(afterA[..<e.lowerBound]) for element \(afterE[..<end])"
                    }
                }
            }
            return VirtError.schemaInvalid([inner] + tail + [domainLine])
        }
    }

    /// Attributes whose bad values libxml2 reports as "Invalid attribute A for element E" (their values are a
    /// choice in the schema); others give "Error validating value ".
    static let reportedAsAttribute: Set<String> = ["tickpolicy", "present", "firmware", "arch", "dev", "enable"]

    static func validate(_ root: XMLElement) throws(VirtError) {
        if root.child("name") == nil {
            throw VirtError.schemaInvalid(["Expecting an element name, got nothing", "Invalid sequence in interleave",
                                           "Invalid sequence in interleave", "Element domain failed to validate content"])
        }
        if root.attr("type") == nil {
            throw VirtError.schemaInvalid(["Element domain failed to validate content"])
        }
        if let inner = firstProblem(root, path: "domain") {
            if inner.kind == .value { throw VirtError.schemaInvalid(["Element domain failed to validate content"]) }
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
            if el.name == "clock" && inner.element == "timer" && inner.kind == .value {
                if inner.message.contains("name") || !inner.message.hasPrefix("Invalid attribute") {
                    return ["Element timer failed to validate content"] + tail + [domainLine]
                }
            }
            if el.name == "os" && inner.element == "loader" && inner.kind == .value {
                return ["Extra element loader in interleave"] + tail + [domainLine]
            }
            return inner.lines + tail + [domainLine]
        case .sequence(let innerLine):
            let first = innerLine && inner.kind != .text ? inner.lines : []
            return first + tail + ["Invalid sequence in interleave", domainLine]
        }
    }

    struct Problem {
        enum Kind { case attribute, value, child, text, typedText }
        var kind: Kind
        var element: String
        var message: String
        /// 0 for the checked element itself, more for descendants.
        var depth: Int
        /// The lines libxml2 reports for this problem (default: `message`).
        var lines: [String]

        init(kind: Kind, element: String, message: String, depth: Int, lines: [String]? = nil) {
            self.kind = kind
            self.element = element
            self.message = message
            self.depth = depth
            self.lines = lines ?? [message]
        }
    }

    /// The first problem in `el` or below, in document order.
    static func firstProblem(_ el: XMLElement, path: String, depth: Int = 0) -> Problem? {
        guard let rule = rules[path] else { return nil }
        for a in el.attributes where !a.name.hasPrefix("xmlns") {
            if !rule.attributes.contains(a.name) {
                return Problem(kind: .attribute, element: el.name,
                               message: "Invalid attribute \(a.name) for element \(el.name)", depth: depth)
            }
            if rule.numericAttributes.contains(a.name) && (parseUnsigned(a.value) ?? 0) == 0 {
                return Problem(kind: .text, element: el.name, message: "Invalid value for \(a.name)", depth: depth)
            }
            if a.name == "unit" && rule.values["unit"] != nil {
                if !isSizeUnit(a.value) {
                    return Problem(kind: .value, element: el.name,
                                   message: "Invalid attribute unit for element \(el.name)", depth: depth)
                }
                continue
            }
            if let allowed = rule.values[a.name], !allowed.contains(a.value.trimmingSpaces) {
                let msg = rule.valueAsInvalidAttribute ? "Invalid attribute \(a.name) for element \(el.name)"
                    : "Element \(el.name) failed to validate attributes"
                return Problem(kind: .value, element: el.name, message: msg, depth: depth)
            }
        }
        if let allowed = rule.text, !allowed.contains(el.text.trimmingSpaces) {
            return Problem(kind: .text, element: el.name, message: "Invalid value for \(el.name)", depth: depth)
        }
        if let check = rule.textCheck {
            let t = el.text
            switch check {
            case .unsignedLong:
                if parseUnsigned(t.trimmingSpaces) != nil && t != t.trimmingSpaces {
                    return Problem(kind: .typedText, element: el.name,
                                   message: "Error validating datatype unsignedLong", depth: depth)
                }
                if parseUnsigned(t.trimmingSpaces) == nil {
                    return Problem(kind: .typedText, element: el.name,
                                   message: "Type unsignedLong doesn't allow value '\(t)'", depth: depth)
                }
            case .digits:
                if parseUnsigned(t.trimmingSpaces) == nil || t != t.trimmingSpaces
                    || (el.name == "vcpu" && parseUnsigned(t) == 0) {
                    return Problem(kind: .text, element: el.name, message: "Invalid value for \(el.name)", depth: depth)
                }
            case .uuid:
                if VirtUUID(string: t) == nil || t != t.trimmingSpaces {
                    return Problem(kind: .text, element: el.name, message: "Invalid value for \(el.name)", depth: depth)
                }
            case .oneOf(let values):
                if !values.contains(t.trimmingSpaces) {
                    return Problem(kind: .typedText, element: el.name, message: "Error validating value ",
                                   depth: depth)
                }
            }
        }
        if el.name == "clock", let adj = el.attr("adjustment"), adj != "reset", Int64(adj) == nil {
            return Problem(kind: .typedText, element: el.name, message: "Error validating value ", depth: depth)
        }
        for a in rule.requiredAttributes where el.attr(a) == nil {
            return Problem(kind: .attribute, element: el.name, message: "Element \(el.name) failed to validate attributes",
                           depth: depth)
        }
        if rule.nonEmpty && el.text.isEmpty {
            return Problem(kind: .text, element: el.name, message: "Invalid value for \(el.name)", depth: depth)
        }
        for r in rule.required where el.child(r) == nil {
            return Problem(kind: .child, element: el.name, message: "Expecting an element \(r), got nothing",
                           depth: depth)
        }
        if path == "domain/features" {
            var seen = Set<String>()
            for c in el.elements {
                if seen.contains(c.name) || (c.name == "hyperv" && c.attr("mode") == "passthrough" && !c.elements.isEmpty) {
                    return Problem(kind: .child, element: el.name, message: "Element features has extra content: \(c.name)",
                                   depth: depth)
                }
                seen.insert(c.name)
            }
        }
        if let allowed = rule.children {
            for c in el.elements {
                if c.prefix != nil && path == "domain" { continue }
                if c.prefix != nil || !allowed.contains(c.name) {
                    return Problem(kind: .child, element: el.name,
                                   message: "Element \(el.name) has extra content: \(c.qualifiedName)", depth: depth,
                                   lines: rule.unexpectedChildLines?(c.qualifiedName))
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
