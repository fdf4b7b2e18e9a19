/// Device sub-elements that are kept as parsed and written back in libvirt's style (single quotes, two-space
/// indent, self-closing when empty). Used for settings SwiftVirt does not model yet, so that they survive a
/// define/dumpxml round trip.
extension XMLWriter {
    /// Writes `el` and its children in libvirt's formatting style.
    mutating func libvirtStyle(_ el: XMLElement) {
        let attrs: [(String, String?)] = el.attributes.map { ($0.name, $0.value) }
        let kids = el.elements
        if kids.isEmpty {
            let t = el.text.trimmingSpaces
            if t.isEmpty { empty(el.qualifiedName, attrs) } else { text(el.qualifiedName, attrs, t) }
            return
        }
        element(el.qualifiedName, attrs) { w in
            for k in kids { w.libvirtStyle(k) }
        }
    }
}

/// Ordered lookup of the children a device parser did not consume, for keeping them verbatim.
extension XMLElement {
    /// Child elements whose names are not in `known`.
    func elements(notIn known: Set<String>) -> [XMLElement] {
        elements.filter { !known.contains($0.name) || $0.prefix != nil }
    }
}

extension XMLElement {
    /// A copy with attributes reordered: names in `order` first, in that order, then the others as written.
    func reorderingAttributes(_ order: [String]) -> XMLElement {
        var e = self
        var sorted: [(name: String, value: String)] = []
        for n in order { if let v = attr(n) { sorted.append((n, v)) } }
        for a in attributes where !order.contains(a.name) { sorted.append(a) }
        e.attributes = sorted
        return e
    }

    /// A copy with child elements reordered: names in `order` first, in that order, then the others.
    func reorderingChildren(_ order: [String]) -> XMLElement {
        var e = self
        let els = elements
        var out: [XMLElement] = []
        for n in order { out += els.filter { $0.name == n } }
        out += els.filter { !order.contains($0.name) }
        e.children = out.map { .element($0) }
        return e
    }

    /// A copy with a PCI `<address>` child (as in hostdev sources) written in libvirt's hex form.
    func normalisingPCISourceAddress() throws(VirtError) -> XMLElement {
        guard let a = child("address"), a.attr("uuid") == nil, a.attr("slot") != nil || a.attr("bus") != nil else {
            return self
        }
        var typed = a
        typed.attributes = typed.attributes.filter { $0.name != "type" }
        typed.attributes.insert((name: "type", value: "pci"), at: 0)
        guard case .pci(let p)? = try DeviceAddress.parse(typed) else { return self }
        var attrs: [(name: String, value: String)] = []
        if a.attr("type") != nil { attrs.append(("type", "pci")) }
        attrs += [("domain", String.hex(p.domain, width: 4)), ("bus", String.hex(p.bus, width: 2)),
                  ("slot", String.hex(p.slot, width: 2)), ("function", String.hex(p.function))]
        let norm = XMLElement(name: "address", attributes: attrs)
        var e = self
        e.children = children.map {
            if case .element(let x) = $0, x.name == "address" { return .element(norm) }
            return $0
        }
        return e
    }
}
