/// A structural check of domain XML for `define --validate`, reporting problems the way libvirt's RelaxNG
/// validation against its domain schema does (XML_INVALID_SCHEMA, "Element domain has extra content: X",
/// "Invalid attribute A for element E").
///
/// It knows the elements and attributes of the parts of the schema this model covers; elements it has no table
/// for (devices and the elements kept verbatim) are not checked below their own level.
enum DomainSchemaValidator {
    /// Allowed attributes and child elements per element path.
    struct Rule {
        var attributes: Set<String>
        /// nil: children are not checked.
        var children: Set<String>?
    }

    static let rules: [String: Rule] = [
        "domain": Rule(attributes: ["type", "id"], children: Set(DomainDefinition.elementOrder)),
        "domain/name": Rule(attributes: [], children: []),
        "domain/uuid": Rule(attributes: [], children: []),
        "domain/genid": Rule(attributes: [], children: []),
        "domain/title": Rule(attributes: [], children: []),
        "domain/description": Rule(attributes: [], children: []),
        "domain/memory": Rule(attributes: ["unit", "dumpCore"], children: []),
        "domain/currentMemory": Rule(attributes: ["unit"], children: []),
        "domain/maxMemory": Rule(attributes: ["unit", "slots"], children: []),
        "domain/vcpu": Rule(attributes: ["placement", "cpuset", "current"], children: []),
        "domain/iothreads": Rule(attributes: [], children: []),
        "domain/os": Rule(attributes: ["firmware"], children: [
            "type", "firmware", "init", "initarg", "initenv", "initdir", "inituser", "initgroup", "loader", "nvram",
            "kernel", "initrd", "cmdline", "dtb", "root", "acpi", "boot", "bootmenu", "bios", "smbios",
        ]),
        "domain/os/type": Rule(attributes: ["arch", "machine"], children: []),
        "domain/os/boot": Rule(attributes: ["dev"], children: []),
        "domain/os/bootmenu": Rule(attributes: ["enable", "timeout"], children: []),
        "domain/os/bios": Rule(attributes: ["useserial", "rebootTimeout"], children: []),
        "domain/os/smbios": Rule(attributes: ["mode"], children: []),
        "domain/os/loader": Rule(attributes: ["readonly", "secure", "type", "stateless", "format"], children: []),
        "domain/os/kernel": Rule(attributes: [], children: []),
        "domain/os/initrd": Rule(attributes: [], children: []),
        "domain/os/cmdline": Rule(attributes: [], children: []),
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
        "domain/clock": Rule(attributes: ["offset", "adjustment", "basis", "timezone", "start"], children: ["timer"]),
        "domain/clock/timer": Rule(attributes: ["name", "present", "tickpolicy", "track", "frequency", "mode"],
                                   children: ["catchup"]),
        "domain/on_poweroff": Rule(attributes: [], children: []),
        "domain/on_reboot": Rule(attributes: [], children: []),
        "domain/on_crash": Rule(attributes: [], children: []),
        "domain/on_lockfailure": Rule(attributes: [], children: []),
        "domain/pm": Rule(attributes: [], children: ["suspend-to-mem", "suspend-to-disk"]),
    ]

    static func validate(_ root: XMLElement) throws(VirtError) {
        try check(root, path: "domain", ancestors: [])
    }

    private static func check(_ el: XMLElement, path: String, ancestors: [String]) throws(VirtError) {
        guard let rule = rules[path] else { return }
        for a in el.attributes where !rule.attributes.contains(a.name) && !a.name.hasPrefix("xmlns") {
            throw VirtError.schemaInvalid(["Invalid attribute \(a.name) for element \(el.name)"] + tail(el, ancestors))
        }
        if let allowed = rule.children {
            for c in el.elements {
                if c.prefix != nil && path == "domain" { continue }
                if c.prefix != nil || !allowed.contains(c.name) {
                    throw VirtError.schemaInvalid(["Element \(el.name) has extra content: \(c.qualifiedName)"]
                                                  + tail(el, ancestors))
                }
            }
        }
        for c in el.elements where c.prefix == nil {
            try check(c, path: path + "/" + c.name, ancestors: ancestors + [el.name])
        }
    }

    /// libvirt's trailing lines: each enclosing element reports the failed child.
    private static func tail(_ el: XMLElement, _ ancestors: [String]) -> [String] {
        guard !ancestors.isEmpty else { return [] }
        var lines = ["Extra element \(el.name) in interleave"]
        for a in ancestors.reversed() { lines.append("Element \(a) failed to validate content") }
        return lines
    }
}
