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
