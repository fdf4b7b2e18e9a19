/// `<features>`: hypervisor features, formatted in libvirt's feature order whatever the input order.
public struct DomainFeatures: Sendable, Hashable {
    /// `<acpi/>`.
    public var acpi: Bool = false
    /// `<apic/>` (with optional `eoi='on|off'`).
    public var apic: APIC?
    /// `<pae/>`.
    public var pae: Bool = false
    /// `<hyperv>` enlightenments.
    public var hyperv: HyperV?
    /// Other features by name (`hap`, `kvm`, `smm`, `gic`, …), each kept as its element and re-emitted in
    /// libvirt's canonical form and position.
    public var others: [String: XMLElement] = [:]

    public init() {}

    /// True when nothing is enabled (libvirt then writes no `<features>` element).
    public var isEmpty: Bool { !acpi && apic == nil && !pae && hyperv == nil && others.isEmpty }

    /// `<apic eoi='…'/>`.
    public struct APIC: Sendable, Hashable {
        public var eoi: Bool?
        public init(eoi: Bool? = nil) { self.eoi = eoi }
    }

    /// `<hyperv mode='custom|passthrough'>` and its enlightenments.
    public struct HyperV: Sendable, Hashable {
        public var mode: String = "custom"
        /// Enlightenments by name, in libvirt's order when formatted.
        public var items: [HyperVItem] = []
        public init(mode: String = "custom", items: [HyperVItem] = []) {
            self.mode = mode
            self.items = items
        }
    }

    /// One `<hyperv>` child: `<relaxed state='on'/>`, `<spinlocks state='on' retries='8191'/>`,
    /// `<vendor_id state='on' value='…'/>`, `<stimer state='on'><direct state='on'/></stimer>`, …
    public struct HyperVItem: Sendable, Hashable {
        public var name: String
        public var state: Bool
        /// `retries` (spinlocks) or `value` (vendor_id).
        public var value: String?
        /// Sub-features (`stimer/direct`, `tlbflush/direct`, `tlbflush/extended`) with their state.
        public var subFeatures: [(name: String, state: Bool)] = []

        public init(name: String, state: Bool, value: String? = nil) {
            self.name = name
            self.state = state
            self.value = value
        }

        public static func == (a: HyperVItem, b: HyperVItem) -> Bool {
            a.name == b.name && a.state == b.state && a.value == b.value
                && a.subFeatures.map(\.name) == b.subFeatures.map(\.name)
                && a.subFeatures.map(\.state) == b.subFeatures.map(\.state)
        }

        public func hash(into h: inout Hasher) {
            h.combine(name)
            h.combine(state)
            h.combine(value)
        }
    }
}

extension DomainFeatures {
    /// libvirt's `virDomainFeature` order.
    static let order = [
        "acpi", "apic", "pae", "hap", "viridian", "privnet", "hyperv", "kvm", "pvspinlock", "capabilities", "pmu",
        "vmport", "gic", "smm", "ioapic", "hpt", "vmcoreinfo", "htm", "nested-hv", "msrs", "ccf-assist", "xen",
        "cfpc", "sbbc", "ibs", "tcg",
    ]
    /// Features whose only content is `state='on|off'` (on when absent).
    static let stateFeatures: Set<String> = [
        "hap", "pvspinlock", "pmu", "vmport", "smm", "vmcoreinfo", "htm", "nested-hv", "ccf-assist",
    ]
    /// Features written as a bare element.
    static let presenceFeatures: Set<String> = ["viridian", "privnet"]
    /// libvirt's `virDomainHyperv` order.
    static let hypervOrder = [
        "relaxed", "vapic", "spinlocks", "vpindex", "runtime", "synic", "stimer", "reset", "vendor_id",
        "frequencies", "reenlightenment", "tlbflush", "ipi", "evmcs", "avic",
    ]
    /// libvirt's `virDomainKVM` order.
    static let kvmOrder = ["hidden", "hint-dedicated", "poll-control", "pv-ipi", "dirty-ring"]
    /// libvirt's `virDomainXen` order.
    static let xenOrder = ["e820_host", "passthrough"]

    static func parse(_ el: XMLElement) throws(VirtError) -> DomainFeatures {
        var f = DomainFeatures()
        for child in el.elements where child.prefix == nil {
            let name = child.name
            switch name {
            case "acpi": f.acpi = true
            case "pae": f.pae = true
            case "apic": f.apic = APIC(eoi: try child.onOffAttr("eoi"))
            case "hyperv": f.hyperv = try parseHyperV(child)
            default:
                guard order.contains(name) else {
                    throw VirtError.domainConfigUnsupported("unexpected feature '\(name)'")
                }
                if stateFeatures.contains(name) {
                    let state = try child.onOffAttr("state")
                    if state == nil && (name == "htm" || name == "nested-hv" || name == "ccf-assist") {
                        throw VirtError.xmlMissingAttribute("state", element: name)
                    }
                    var e = XMLElement(name: name, attributes: [("state", (state ?? true) ? "on" : "off")])
                    if name == "smm", let tseg = child.child("tseg") {
                        // Kept in bytes, written in MiB.
                        let text = tseg.text
                        guard let v = parseUnsigned(text) else {
                            throw VirtError.xmlInvalidValue(text, xpath: "./features/smm/tseg")
                        }
                        let bytes = try MemoryUnit.scale(v, unit: tseg.attr("unit"), defaultScale: 1 << 20)
                        let mib = bytes / (1 << 20)
                        e.children = [.element(XMLElement(name: "tseg", attributes: [("unit", "MiB")],
                                                          children: [.text(String(mib))]))]
                    }
                    f.others[name] = e
                } else if presenceFeatures.contains(name) {
                    f.others[name] = XMLElement(name: name)
                } else if name == "hpt" || name == "tcg" {
                    var e = child
                    var kids: [XMLElement.Child] = []
                    for k in child.elements {
                        let kib = try MemoryUnit.parseElement(k, xpath: "./features/\(name)/\(k.name)")
                        kids.append(.element(XMLElement(name: k.name, attributes: [("unit", "KiB")],
                                                        children: [.text(String(kib))])))
                    }
                    e.children = kids
                    f.others[name] = e
                } else if name == "kvm" {
                    f.others[name] = sortedChildren(child, by: kvmOrder)
                } else if name == "xen" {
                    f.others[name] = sortedChildren(child, by: xenOrder)
                } else {
                    f.others[name] = child
                }
            }
        }
        return f
    }

    static func sortedChildren(_ el: XMLElement, by order: [String]) -> XMLElement {
        var e = el
        let kids = el.elements.filter { order.contains($0.name) }
            .sorted { (order.firstIndex(of: $0.name) ?? 0) < (order.firstIndex(of: $1.name) ?? 0) }
        e.children = kids.map { .element($0) }
        return e
    }

    static func parseHyperV(_ el: XMLElement) throws(VirtError) -> HyperV {
        var h = HyperV()
        if let m = el.attr("mode") {
            guard m == "custom" || m == "passthrough" else {
                throw VirtError.xmlInvalidAttribute("mode", element: "hyperv", value: m)
            }
            h.mode = m
        }
        for c in el.elements where hypervOrder.contains(c.name) {
            guard let state = try c.onOffAttr("state") else {
                throw VirtError.xmlMissingAttribute("state", element: c.name)
            }
            var item = HyperVItem(name: c.name, state: state)
            if c.name == "spinlocks", state {
                guard let r = c.attr("retries") else {
                    throw VirtError.xmlMissingAttribute("retries", element: "spinlocks")
                }
                guard let n = parseUnsigned(r), n >= 4095 else {
                    throw VirtError.domainXMLError("HyperV spinlock retry count must be at least 4095")
                }
                item.value = String(n)
            }
            if c.name == "vendor_id", state {
                guard let v = c.attr("value") else {
                    throw VirtError.domainXMLError("missing 'value' attribute for HyperV feature 'vendor_id'")
                }
                item.value = v
            }
            if c.name == "stimer" {
                for sub in c.elements {
                    guard let s = try sub.onOffAttr("state") else {
                        throw VirtError.xmlMissingAttribute("state", element: sub.name)
                    }
                    item.subFeatures.append((sub.name, s))
                }
            }
            h.items.removeAll { $0.name == c.name }
            h.items.append(item)
        }
        h.items.sort { (hypervOrder.firstIndex(of: $0.name) ?? 0) < (hypervOrder.firstIndex(of: $1.name) ?? 0) }
        return h
    }

    func format(into w: inout XMLWriter) {
        if isEmpty { return }
        w.element("features") { w in
            for name in Self.order {
                switch name {
                case "acpi": if acpi { w.empty("acpi") }
                case "pae": if pae { w.empty("pae") }
                case "apic":
                    if let a = apic { w.empty("apic", [("eoi", a.eoi.map { $0 ? "on" : "off" })]) }
                case "hyperv":
                    if let h = hyperv {
                        w.container("hyperv", [("mode", h.mode)]) { w in
                            for item in h.items {
                                var attrs: [(String, String?)] = [("state", item.state ? "on" : "off")]
                                if item.name == "spinlocks" { attrs.append(("retries", item.value)) }
                                if item.name == "vendor_id" { attrs.append(("value", item.value)) }
                                if item.subFeatures.isEmpty {
                                    w.empty(item.name, attrs)
                                } else {
                                    w.element(item.name, attrs) { w in
                                        for s in item.subFeatures { w.empty(s.name, [("state", s.state ? "on" : "off")]) }
                                    }
                                }
                            }
                        }
                    }
                default:
                    if let e = others[name] { w.formatted(e) }
                }
            }
        }
    }
}
