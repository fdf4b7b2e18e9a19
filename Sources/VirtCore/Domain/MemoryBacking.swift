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
