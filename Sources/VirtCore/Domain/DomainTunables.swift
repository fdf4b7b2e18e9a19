/// Canonical forms of the tuning elements this model keeps as elements (`<memtune>`, `<cputune>`,
/// `<numatune>`, `<memoryBacking>`, `<blkiotune>`): sizes normalised to KiB, CPU and node sets written in
/// libvirt's bitmap form, children in libvirt's order.
enum DomainTunables {
    static let memtuneOrder = ["hard_limit", "soft_limit", "min_guarantee", "swap_hard_limit"]
    static let cputuneOrder = [
        "shares", "period", "quota", "global_period", "global_quota", "emulator_period", "emulator_quota",
        "iothread_period", "iothread_quota", "vcpupin", "emulatorpin", "iothreadpin", "vcpusched", "iothreadsched",
        "emulatorsched", "cachetune", "memorytune",
    ]
    static let memoryBackingOrder = [
        "hugepages", "nosharepages", "locked", "source", "access", "allocation", "discard",
    ]

    /// The canonical form of a kept top-level element.
    static func normalise(_ el: XMLElement) throws(VirtError) -> XMLElement {
        switch el.name {
        case "memtune":
            var out = XMLElement(name: "memtune", line: el.line)
            for n in memtuneOrder {
                guard let c = el.child(n) else { continue }
                let kib = try MemoryUnit.parseElement(c, xpath: "./memtune[1]/\(n)[1]")
                out.children.append(.element(XMLElement(name: n, attributes: [("unit", "KiB")],
                                                        children: [.text(String(kib))])))
            }
            return out
        case "cputune":
            return try normaliseSets(sorted(el, by: cputuneOrder))
        case "memoryBacking":
            return try normaliseSets(sorted(el, by: memoryBackingOrder))
        case "numatune", "blkiotune":
            return try normaliseSets(el)
        default:
            return el
        }
    }

    /// Children ordered by `order` (stable; unknown names last).
    static func sorted(_ el: XMLElement, by order: [String]) -> XMLElement {
        var out = el
        let kids = el.elements.enumerated().sorted { a, b in
            let ia = order.firstIndex(of: a.element.name) ?? order.count
            let ib = order.firstIndex(of: b.element.name) ?? order.count
            return ia == ib ? a.offset < b.offset : ia < ib
        }.map(\.element)
        out.children = kids.isEmpty ? el.children : kids.map { .element($0) }
        return out
    }

    /// Rewrites `cpuset` and `nodeset` attributes in libvirt's bitmap form, recursively.
    static func normaliseSets(_ el: XMLElement) throws(VirtError) -> XMLElement {
        var out = el
        for i in out.attributes.indices where out.attributes[i].name == "cpuset" || out.attributes[i].name == "nodeset" {
            out.attributes[i].value = try CPUSet(parsing: out.attributes[i].value).description
        }
        var kids: [XMLElement.Child] = []
        for c in el.children {
            if case .element(let e) = c {
                kids.append(.element(try normaliseSets(e)))
            } else {
                kids.append(c)
            }
        }
        out.children = kids
        return out
    }
}
