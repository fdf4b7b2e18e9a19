/// `<numatune>`: host NUMA placement of guest memory.
public struct NUMATune: Sendable, Hashable {
    /// `<memory mode='strict|preferred|interleave|restrictive' nodeset='…' placement='static|auto'/>`.
    public var mode: String?
    public var nodeset: CPUSet?
    public var placement: String?
    /// `<memnode cellid='…' mode='…' nodeset='…'/>`.
    public var memnodes: [MemNode] = []

    public init() {}

    /// Placement of one guest NUMA cell.
    public struct MemNode: Sendable, Hashable {
        public var cellID: UInt32
        public var mode: String?
        public var nodeset: CPUSet?
        public init(cellID: UInt32, mode: String? = nil, nodeset: CPUSet? = nil) {
            self.cellID = cellID
            self.mode = mode
            self.nodeset = nodeset
        }
    }

    init(element e: XMLElement) {
        if let m = e.child("memory") {
            mode = m.attr("mode")
            nodeset = m.attr("nodeset").flatMap { try? CPUSet(parsing: $0) }
            placement = m.attr("placement")
        }
        for n in e.children("memnode") {
            guard let id = n.attr("cellid").flatMap({ UInt32($0) }) else { continue }
            memnodes.append(MemNode(cellID: id, mode: n.attr("mode"),
                                    nodeset: n.attr("nodeset").flatMap { try? CPUSet(parsing: $0) }))
        }
    }

    var element: XMLElement? {
        var kids: [XMLElement] = []
        if mode != nil || nodeset != nil || placement != nil {
            var attrs: [(name: String, value: String)] = []
            if let m = mode { attrs.append(("mode", m)) }
            if let n = nodeset { attrs.append(("nodeset", n.description)) }
            if let p = placement { attrs.append(("placement", p)) }
            kids.append(XMLElement(name: "memory", attributes: attrs))
        }
        for n in memnodes {
            var attrs: [(name: String, value: String)] = [("cellid", String(n.cellID))]
            if let m = n.mode { attrs.append(("mode", m)) }
            if let s = n.nodeset { attrs.append(("nodeset", s.description)) }
            kids.append(XMLElement(name: "memnode", attributes: attrs))
        }
        return kids.isEmpty ? nil : XMLElement(name: "numatune", children: kids.map { .element($0) })
    }
}
