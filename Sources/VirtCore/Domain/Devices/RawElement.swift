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
