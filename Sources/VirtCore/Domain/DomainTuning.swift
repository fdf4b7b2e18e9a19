/// Typed views of the tuning elements that ``DomainDefinition`` keeps in their canonical XML form
/// (``DomainDefinition/extraElements``): reading gives the typed value, assigning writes the canonical element
/// back, so formatting stays exactly libvirt's.

/// `<memtune>`: memory limits, in KiB.
public struct MemTune: Sendable, Hashable {
    public var hardLimit: UInt64?
    public var softLimit: UInt64?
    public var minGuarantee: UInt64?
    public var swapHardLimit: UInt64?

    public init(hardLimit: UInt64? = nil, softLimit: UInt64? = nil, minGuarantee: UInt64? = nil,
                swapHardLimit: UInt64? = nil) {
        self.hardLimit = hardLimit
        self.softLimit = softLimit
        self.minGuarantee = minGuarantee
        self.swapHardLimit = swapHardLimit
    }

    init(element e: XMLElement) {
        func kib(_ n: String) -> UInt64? { e.child(n).flatMap { parseUnsigned($0.text) } }
        self.init(hardLimit: kib("hard_limit"), softLimit: kib("soft_limit"), minGuarantee: kib("min_guarantee"),
                  swapHardLimit: kib("swap_hard_limit"))
    }

    var element: XMLElement? {
        var kids: [XMLElement.Child] = []
        for (n, v) in [("hard_limit", hardLimit), ("soft_limit", softLimit), ("min_guarantee", minGuarantee),
                       ("swap_hard_limit", swapHardLimit)] {
            guard let v else { continue }
            kids.append(.element(XMLElement(name: n, attributes: [("unit", "KiB")], children: [.text(String(v))])))
        }
        return kids.isEmpty ? nil : XMLElement(name: "memtune", children: kids)
    }
}

/// `<memoryBacking>`: huge pages and how guest memory is allocated.
public struct MemoryBacking: Sendable, Hashable {
    /// `<hugepages>` present.
    public var hugepages: Bool = false
    /// `<hugepages><page size='KiB' nodeset='…'/></hugepages>`.
    public var pages: [Page] = []
    public var noSharePages: Bool = false
    public var locked: Bool = false
    /// `<source type='file|anonymous|memfd'/>`.
    public var sourceType: String?
    /// `<access mode='shared|private'/>`.
    public var accessMode: String?
    /// `<allocation mode='immediate|ondemand' threads='N'/>`.
    public var allocationMode: String?
    public var allocationThreads: UInt32?
    public var discard: Bool = false

    public init() {}

    /// A huge page size (KiB) for some guest NUMA nodes (all when `nodeset` is nil).
    public struct Page: Sendable, Hashable {
        public var size: UInt64
        public var nodeset: CPUSet?
        public init(size: UInt64, nodeset: CPUSet? = nil) {
            self.size = size
            self.nodeset = nodeset
        }
    }

    init(element e: XMLElement) {
        if let hp = e.child("hugepages") {
            hugepages = true
            for p in hp.children("page") {
                guard let size = p.attr("size").flatMap(parseUnsigned) else { continue }
                pages.append(Page(size: size, nodeset: p.attr("nodeset").flatMap { try? CPUSet(parsing: $0) }))
            }
        }
        noSharePages = e.child("nosharepages") != nil
        locked = e.child("locked") != nil
        sourceType = e.child("source")?.attr("type")
        accessMode = e.child("access")?.attr("mode")
        allocationMode = e.child("allocation")?.attr("mode")
        allocationThreads = e.child("allocation")?.attr("threads").flatMap { UInt32($0) }
        discard = e.child("discard") != nil
    }

    var element: XMLElement? {
        var kids: [XMLElement] = []
        if hugepages {
            var hp = XMLElement(name: "hugepages")
            for p in pages {
                var attrs: [(name: String, value: String)] = [("size", String(p.size)), ("unit", "KiB")]
                if let n = p.nodeset { attrs.append(("nodeset", n.description)) }
                hp.children.append(.element(XMLElement(name: "page", attributes: attrs)))
            }
            kids.append(hp)
        }
        if noSharePages { kids.append(XMLElement(name: "nosharepages")) }
        if locked { kids.append(XMLElement(name: "locked")) }
        if let t = sourceType { kids.append(XMLElement(name: "source", attributes: [("type", t)])) }
        if let m = accessMode { kids.append(XMLElement(name: "access", attributes: [("mode", m)])) }
        if allocationMode != nil || allocationThreads != nil {
            var attrs: [(name: String, value: String)] = []
            if let m = allocationMode { attrs.append(("mode", m)) }
            if let t = allocationThreads { attrs.append(("threads", String(t))) }
            kids.append(XMLElement(name: "allocation", attributes: attrs))
        }
        if discard { kids.append(XMLElement(name: "discard")) }
        return kids.isEmpty ? nil : XMLElement(name: "memoryBacking", children: kids.map { .element($0) })
    }
}

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

/// `<cputune>`: CPU shares, bandwidth and pinning. Scheduler and cache/memory bandwidth settings are kept in
/// `other` as elements.
public struct CPUTune: Sendable, Hashable {
    public var shares: UInt64?
    public var period: UInt64?
    public var quota: Int64?
    /// `<vcpupin vcpu='N' cpuset='…'/>`, sorted by vCPU.
    public var vcpuPins: [Pin] = []
    /// `<emulatorpin cpuset='…'/>`.
    public var emulatorPin: CPUSet?
    /// `<iothreadpin iothread='N' cpuset='…'/>`, sorted by iothread.
    public var iothreadPins: [Pin] = []
    /// The other children (global/emulator/iothread periods and quotas, `vcpusched`, `iothreadsched`,
    /// `emulatorsched`, `cachetune`, `memorytune`) in libvirt's form.
    public var other: [XMLElement] = []

    public init() {}

    /// A pin of one vCPU or iothread to host CPUs.
    public struct Pin: Sendable, Hashable {
        public var id: UInt32
        public var cpuset: CPUSet
        public init(id: UInt32, cpuset: CPUSet) {
            self.id = id
            self.cpuset = cpuset
        }
    }

    init(element e: XMLElement) {
        for c in e.elements {
            switch c.name {
            case "shares": shares = parseUnsigned(c.text)
            case "period": period = parseUnsigned(c.text)
            case "quota": quota = Int64(c.text.trimmingSpaces)
            case "vcpupin", "iothreadpin":
                let idAttr = c.name == "vcpupin" ? "vcpu" : "iothread"
                guard let id = c.attr(idAttr).flatMap({ UInt32($0) }),
                      let set = c.attr("cpuset").flatMap({ try? CPUSet(parsing: $0) }) else { continue }
                if c.name == "vcpupin" {
                    vcpuPins.append(Pin(id: id, cpuset: set))
                } else {
                    iothreadPins.append(Pin(id: id, cpuset: set))
                }
            case "emulatorpin": emulatorPin = c.attr("cpuset").flatMap { try? CPUSet(parsing: $0) }
            default: other.append(c)
            }
        }
    }

    var element: XMLElement? {
        var kids: [XMLElement] = []
        func value(_ n: String, _ v: String?) {
            if let v { kids.append(XMLElement(name: n, children: [.text(v)])) }
        }
        value("shares", shares.map { String($0) })
        value("period", period.map { String($0) })
        value("quota", quota.map { String($0) })
        kids += other
        for p in vcpuPins.sorted(by: { $0.id < $1.id }) {
            kids.append(XMLElement(name: "vcpupin", attributes: [("vcpu", String(p.id)),
                                                                 ("cpuset", p.cpuset.description)]))
        }
        if let e = emulatorPin { kids.append(XMLElement(name: "emulatorpin", attributes: [("cpuset", e.description)])) }
        for p in iothreadPins.sorted(by: { $0.id < $1.id }) {
            kids.append(XMLElement(name: "iothreadpin", attributes: [("iothread", String(p.id)),
                                                                     ("cpuset", p.cpuset.description)]))
        }
        guard !kids.isEmpty else { return nil }
        let sorted = DomainTunables.sorted(XMLElement(name: "cputune", children: kids.map { .element($0) }),
                                           by: DomainTunables.cputuneOrder)
        return sorted
    }
}

/// `<iothreadids><iothread id='N'/></iothreadids>`.
public struct IOThreadID: Sendable, Hashable {
    public var id: UInt32
    /// `thread_pool_min`.
    public var threadPoolMin: Int32?
    /// `thread_pool_max`.
    public var threadPoolMax: Int32?
    public init(id: UInt32, threadPoolMin: Int32? = nil, threadPoolMax: Int32? = nil) {
        self.id = id
        self.threadPoolMin = threadPoolMin
        self.threadPoolMax = threadPoolMax
    }
}

extension DomainDefinition {
    private func extra(_ name: String) -> XMLElement? { extraElements.first { $0.name == name } }

    private mutating func setExtra(_ name: String, _ element: XMLElement?) {
        if let i = extraElements.firstIndex(where: { $0.name == name }) {
            if let element { extraElements[i] = element } else { extraElements.remove(at: i) }
        } else if let element {
            extraElements.append(element)
        }
    }

    /// `<memtune>`.
    public var memtune: MemTune? {
        get { extra("memtune").map(MemTune.init(element:)) }
        set { setExtra("memtune", newValue?.element) }
    }

    /// `<memoryBacking>`.
    public var memoryBacking: MemoryBacking? {
        get { extra("memoryBacking").map(MemoryBacking.init(element:)) }
        set { setExtra("memoryBacking", newValue?.element) }
    }

    /// `<numatune>`.
    public var numatune: NUMATune? {
        get { extra("numatune").map(NUMATune.init(element:)) }
        set { setExtra("numatune", newValue?.element) }
    }

    /// `<cputune>`.
    public var cputune: CPUTune? {
        get { extra("cputune").map(CPUTune.init(element:)) }
        set { setExtra("cputune", newValue?.element) }
    }

    /// `<iothreadids>`.
    public var iothreadIDs: [IOThreadID] {
        get {
            (extra("iothreadids")?.children("iothread") ?? []).compactMap { e in
                guard let id = e.attr("id").flatMap({ UInt32($0) }) else { return nil }
                return IOThreadID(id: id, threadPoolMin: e.attr("thread_pool_min").flatMap { Int32($0) },
                                  threadPoolMax: e.attr("thread_pool_max").flatMap { Int32($0) })
            }
        }
        set {
            let kids: [XMLElement.Child] = newValue.map { t in
                var attrs: [(name: String, value: String)] = [("id", String(t.id))]
                if let m = t.threadPoolMin { attrs.append(("thread_pool_min", String(m))) }
                if let m = t.threadPoolMax { attrs.append(("thread_pool_max", String(m))) }
                return .element(XMLElement(name: "iothread", attributes: attrs))
            }
            setExtra("iothreadids", kids.isEmpty ? nil : XMLElement(name: "iothreadids", children: kids))
        }
    }
}
