/// `<numatune>`: host NUMA placement of guest memory.
public struct NUMATune: Sendable, Hashable {
    /// `<memory mode='strict|preferred|interleave|restrictive' nodeset='…' placement='static|auto'/>`.
    public var mode: String?
    public var nodeset: CPUSet?
    public var placement: String?
    /// `<memnode cellid='…' mode='…' nodeset='…'/>`.
    public var memnodes: [MemNode] = []

    public init() {}

    /// `virDomainNumatuneMemMode` names, by value.
    public static let modes = ["strict", "preferred", "interleave", "restrictive"]

    /// Whether `<memory>` is there (libvirt's `memory.specified`).
    public var memorySpecified: Bool { mode != nil || nodeset != nil || placement != nil }

    /// The memory mode's value (strict when unset).
    public var modeValue: Int32 { Int32(mode.flatMap { Self.modes.firstIndex(of: $0) } ?? 0) }

    /// libvirt's `virDomainNumatuneSet` for the domain-wide memory: `mode` -1 keeps the mode, a nodeset makes the
    /// placement static; `placementStatic` is the vCPUs' placement, which decides a default placement. Afterwards
    /// the memory is written as libvirt writes it: a static placement as its nodeset, an automatic one as
    /// `placement='auto'`.
    public mutating func set(mode newMode: Int32, nodeset newNodeset: CPUSet?, placementStatic: Bool) throws(VirtError) {
        if newMode == -1 && newNodeset == nil { return }
        var mode = newMode
        var placement: String?
        if !memorySpecified {
            if mode == -1 { mode = 0 }
            placement = "default"
        }
        if mode < -1 || mode >= Int32(Self.modes.count) {
            throw VirtError.domainConfigUnsupported("Unsupported numatune mode '\(mode)'")
        }
        if mode != -1 { self.mode = Self.modes[Int(mode)] }
        if let newNodeset {
            nodeset = newNodeset
            if placement == nil { placement = "static" }
        }
        if placement == "default" { placement = nodeset != nil || placementStatic ? "static" : "auto" }
        let effective = placement ?? self.placement ?? "static"
        if effective == "static" && nodeset == nil {
            throw VirtError.domainConfigUnsupported("nodeset for NUMA memory tuning must be set if 'placement' is 'static'")
        }
        if effective == "auto" { nodeset = nil }
        if self.mode == nil { self.mode = Self.modes[0] }
        self.placement = effective == "static" ? nil : effective
    }

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

extension NUMATune {
    /// The `numa_mode` and `numa_nodeset` typed parameters of virDomainSetNumaParameters, checked as libvirt's
    /// drivers check them: a mode in range, a nodeset that parses and is not empty. -1 and nil: not given.
    public static func parameters(_ params: [TypedParam], domain: VirtError.ErrorDomain) throws(VirtError) -> (mode: Int32, nodeset: CPUSet?) {
        var mode: Int32 = -1
        var nodeset: CPUSet?
        for p in params {
            switch (p.field, p.value) {
            case ("numa_mode", .int(let m)):
                if m < 0 || m >= Int32(modes.count) {
                    throw VirtError.invalidArg("unsupported numatune mode: '\(m)'", domain: domain)
                }
                mode = m
            case ("numa_nodeset", .string(let s)):
                let set = try CPUSet(parsing: s)
                if set.isEmpty {
                    throw VirtError.operationInvalid("Invalid nodeset of 'numatune': \(s)", domain: domain)
                }
                nodeset = set
            default:
                break
            }
        }
        return (mode, nodeset)
    }
}
