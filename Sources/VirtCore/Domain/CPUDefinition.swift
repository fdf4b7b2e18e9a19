/// `<cpu>`: the guest CPU model, topology, features and NUMA cells.
public struct CPUDefinition: Sendable, Hashable {
    /// `mode`.
    public enum Mode: String, Sendable, Hashable {
        case custom
        case hostModel = "host-model"
        case hostPassthrough = "host-passthrough"
        case maximum
    }

    /// `match`.
    public enum Match: String, Sendable, Hashable { case minimum, exact, strict }
    /// `check`.
    public enum Check: String, Sendable, Hashable { case none, partial, full }
    /// `<model fallback>`.
    public enum Fallback: String, Sendable, Hashable { case allow, forbid }
    /// `<feature policy>`.
    public enum FeaturePolicy: String, Sendable, Hashable { case force, require, optional, disable, forbid }

    public var mode: Mode = .custom
    /// Whether `mode` was written (libvirt writes `<cpu>` without mode when only topology or NUMA is given).
    public var modeGiven: Bool = false
    public var match: Match?
    public var check: Check?
    /// `migratable='on|off'` (host-passthrough, maximum).
    public var migratable: Bool?
    /// `<model>` name.
    public var model: String?
    public var fallback: Fallback = .allow
    /// `<model vendor_id='…'>`.
    public var vendorID: String?
    /// `<vendor>`.
    public var vendor: String?
    public var topology: Topology?
    /// `<cache level='…' mode='…'/>`.
    public var cache: Cache?
    /// `<maxphysaddr mode='…' bits='…'/>`.
    public var maxPhysAddr: MaxPhysAddr?
    public var features: [Feature] = []
    /// `<numa><cell …/></numa>`.
    public var numaCells: [NUMACell] = []

    public init(mode: Mode = .custom) { self.mode = mode }

    /// `<topology>`.
    public struct Topology: Sendable, Hashable {
        public var sockets: UInt32
        public var dies: UInt32
        public var cores: UInt32
        public var threads: UInt32
        public init(sockets: UInt32, dies: UInt32 = 1, cores: UInt32, threads: UInt32) {
            self.sockets = sockets
            self.dies = dies
            self.cores = cores
            self.threads = threads
        }
    }

    /// `<cache>`.
    public struct Cache: Sendable, Hashable {
        public var level: UInt32?
        public var mode: String
        public init(level: UInt32? = nil, mode: String) {
            self.level = level
            self.mode = mode
        }
    }

    /// `<maxphysaddr>`.
    public struct MaxPhysAddr: Sendable, Hashable {
        public var mode: String
        public var bits: UInt32?
        public var limit: UInt32?
        public init(mode: String, bits: UInt32? = nil) {
            self.mode = mode
            self.bits = bits
        }
    }

    /// `<feature policy='…' name='…'/>`.
    public struct Feature: Sendable, Hashable {
        public var policy: FeaturePolicy
        public var name: String
        public init(policy: FeaturePolicy = .require, name: String) {
            self.policy = policy
            self.name = name
        }
    }

    /// A NUMA `<cell>`.
    public struct NUMACell: Sendable, Hashable {
        public var id: UInt32
        public var cpus: CPUSet?
        /// KiB.
        public var memory: UInt64
        /// shared or private.
        public var memAccess: String?
        public var discard: Bool?
        /// `<distances><sibling id value/></distances>`.
        public var distances: [(id: UInt32, value: UInt32)] = []
        /// Cache and interconnect children (`<cache>`), kept as written.
        public var extra: [XMLElement] = []

        public init(id: UInt32, cpus: CPUSet?, memory: UInt64) {
            self.id = id
            self.cpus = cpus
            self.memory = memory
        }

        public static func == (a: NUMACell, b: NUMACell) -> Bool {
            a.id == b.id && a.cpus == b.cpus && a.memory == b.memory && a.memAccess == b.memAccess
                && a.discard == b.discard && a.distances.map(\.id) == b.distances.map(\.id)
                && a.distances.map(\.value) == b.distances.map(\.value) && a.extra == b.extra
        }

        public func hash(into h: inout Hasher) {
            h.combine(id)
            h.combine(memory)
        }
    }

    /// True when `<cpu>` carries nothing libvirt would write.
    var isEmpty: Bool {
        !modeGiven && model == nil && vendor == nil && topology == nil && cache == nil && maxPhysAddr == nil
            && features.isEmpty && numaCells.isEmpty && check == nil
    }
}

extension CPUDefinition {
    static func parse(_ el: XMLElement) throws(VirtError) -> CPUDefinition {
        var c = CPUDefinition()
        if let m = el.attr("mode") {
            guard let mode = Mode(rawValue: m) else {
                throw VirtError.domainConfigUnsupported("Invalid mode attribute '\(m)'", domain: .cpu)
            }
            c.mode = mode
            c.modeGiven = true
        }
        c.match = try el.enumAttr("match")
        c.check = try el.enumAttr("check")
        c.migratable = try el.onOffAttr("migratable")
        if let m = el.child("model") {
            let name = m.text
            c.model = name.isEmpty ? nil : name
            if let f = m.attr("fallback") {
                guard let fb = Fallback(rawValue: f) else {
                    throw VirtError.domainConfigUnsupported("Invalid fallback attribute", domain: .cpu)
                }
                c.fallback = fb
            }
            c.vendorID = m.attr("vendor_id")
            if let v = c.vendorID, v.utf8.count != 12 {
                throw VirtError(.xmlError, domain: .cpu, "XML error: vendor_id must be exactly 12 characters long")
            }
        }
        c.vendor = el.child("vendor")?.text
        if let t = el.child("topology") {
            func nonZero(_ a: String) throws(VirtError) -> UInt32? {
                guard let v = try t.uintAttr(a) else { return nil }
                if v == 0 {
                    let detail = "Invalid value for attribute '\(a)' in element 'topology': Zero is not permitted"
                    throw VirtError(.xmlError, domain: .xml, "XML error: \(detail)", str1: "XML error: %s",
                                    str2: detail)
                }
                return v
            }
            func need(_ a: String) throws(VirtError) -> UInt32 {
                guard let v = try nonZero(a) else {
                    throw VirtError.xmlMissingAttribute(a, element: "topology")
                }
                return v
            }
            let sockets = try need("sockets")
            let dies = try nonZero("dies") ?? 1
            let cores = try need("cores")
            let threads = try need("threads")
            c.topology = Topology(sockets: sockets, dies: dies, cores: cores, threads: threads)
        }
        if let cache = el.child("cache") {
            c.cache = Cache(level: try cache.uintAttr("level"), mode: cache.attr("mode") ?? "emulate")
        }
        if let m = el.child("maxphysaddr") {
            var mp = MaxPhysAddr(mode: m.attr("mode") ?? "passthrough", bits: try m.uintAttr("bits"))
            mp.limit = try m.uintAttr("limit")
            c.maxPhysAddr = mp
        }
        for f in el.children("feature") {
            guard let name = f.attr("name") else {
                throw VirtError(.xmlError, domain: .cpu, "XML error: Invalid CPU feature name")
            }
            var policy = FeaturePolicy.require
            if let p = f.attr("policy") {
                guard let pp = FeaturePolicy(rawValue: p) else {
                    throw VirtError.domainConfigUnsupported("Invalid CPU feature policy", domain: .cpu)
                }
                policy = pp
            }
            if c.features.contains(where: { $0.name == name }) {
                throw VirtError(.xmlError, domain: .cpu, "XML error: CPU feature '\(name)' specified more than once")
            }
            c.features.append(Feature(policy: policy, name: name))
        }
        if let numa = el.child("numa") {
            for (i, cell) in numa.children("cell").enumerated() {
                let id = try cell.uintAttr("id") ?? UInt32(i)
                if id != UInt32(i) {
                    throw VirtError.domainXMLError("Exactly one 'cell' element per guest NUMA cell allowed, "
                        + "non-contiguous ranges or ranges not starting from 0 are not allowed")
                }
                let cpus = try cell.attr("cpus").map { s throws(VirtError) in try CPUSet(parsing: s) }
                guard let mem = try MemoryUnit.parseAttribute(cell, "memory") else {
                    throw VirtError.domainXMLError("Missing 'memory' attribute in NUMA cell")
                }
                var nc = NUMACell(id: id, cpus: cpus, memory: mem)
                nc.memAccess = cell.attr("memAccess")
                nc.discard = try cell.yesNoAttr("discard")
                if let d = cell.child("distances") {
                    for s in d.children("sibling") {
                        nc.distances.append((try s.uintAttr("id") ?? 0, try s.uintAttr("value") ?? 0))
                    }
                }
                nc.extra = cell.elements.filter { $0.name != "distances" }
                c.numaCells.append(nc)
            }
        }
        if c.mode == .custom && c.model == nil {
            if c.vendor != nil {
                throw VirtError(.xmlError, domain: .cpu, "XML error: CPU vendor specified without CPU model")
            }
            if c.check != nil {
                throw VirtError.domainConfigUnsupported("check attribute specified for CPU with no model")
            }
            c.match = nil
        }
        if c.mode == .custom && c.model != nil && c.match == nil { c.match = .exact }
        return c
    }

    func format(into w: inout XMLWriter) {
        if isEmpty { return }
        var attrs: [(String, String?)] = []
        if modeGiven || model != nil || mode != .custom { attrs.append(("mode", mode.rawValue)) }
        if mode == .custom { attrs.append(("match", match?.rawValue)) }
        attrs.append(("check", check?.rawValue))
        if mode == .hostPassthrough || mode == .maximum {
            attrs.append(("migratable", migratable.map { $0 ? "on" : "off" }))
        }
        w.element("cpu", attrs) { w in
            let modelAllowed = mode == .custom || mode == .hostModel
            if modelAllowed, model != nil || vendorID != nil {
                let mAttrs: [(String, String?)] = [("fallback", fallback.rawValue), ("vendor_id", vendorID)]
                if let model { w.text("model", mAttrs, model) } else { w.empty("model", mAttrs) }
            }
            if modelAllowed { w.optionalText("vendor", vendor) }
            if let t = topology {
                w.empty("topology", [("sockets", String(t.sockets)), ("dies", String(t.dies)),
                                     ("cores", String(t.cores)), ("threads", String(t.threads))])
            }
            if let c = cache { w.empty("cache", [("level", c.level.map { String($0) }), ("mode", c.mode)]) }
            if let m = maxPhysAddr {
                w.empty("maxphysaddr", [("mode", m.mode), ("bits", m.bits.map { String($0) }),
                                        ("limit", m.limit.map { String($0) })])
            }
            if modelAllowed || mode == .hostPassthrough || mode == .maximum {
                for f in features { w.empty("feature", [("policy", f.policy.rawValue), ("name", f.name)]) }
            }
            if !numaCells.isEmpty {
                w.element("numa") { w in
                    for c in numaCells {
                        let cAttrs: [(String, String?)] = [
                            ("id", String(c.id)), ("cpus", c.cpus?.description), ("memory", String(c.memory)),
                            ("unit", "KiB"), ("memAccess", c.memAccess), ("discard", c.discard.map { $0 ? "yes" : "no" }),
                        ]
                        w.element("cell", cAttrs) { w in
                            if !c.distances.isEmpty {
                                w.element("distances") { w in
                                    for d in c.distances {
                                        w.empty("sibling", [("id", String(d.id)), ("value", String(d.value))])
                                    }
                                }
                            }
                            for e in c.extra { w.formatted(e) }
                        }
                    }
                }
            }
        }
    }
}
