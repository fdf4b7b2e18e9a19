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
                let kib = try MemoryUnit.parseElement(c, xpath: "./memtune/\(n)[1]")
                // VIR_DOMAIN_MEMORY_PARAM_UNLIMITED and above mean "no limit": not written.
                if kib >= 9_007_199_254_740_991 { continue }
                out.children.append(.element(XMLElement(name: n, attributes: [("unit", "KiB")],
                                                        children: [.text(String(kib))])))
            }
            return out
        case "cputune":
            return try normaliseSets(cputune(sorted(el, by: cputuneOrder)))
        case "memoryBacking":
            var mb = try normaliseSets(sorted(el, by: memoryBackingOrder))
            mb.children = try mb.children.map { c throws(VirtError) in
                guard case .element(var hp) = c, hp.name == "hugepages" else { return c }
                hp.children = try hp.children.map { p throws(VirtError) in
                    guard case .element(var page) = p, page.name == "page", let size = page.attr("size") else { return p }
                    guard let v = parseUnsigned(size) else {
                        throw VirtError.xmlInvalidValue(size, xpath: "./@size")
                    }
                    let kib = try MemoryUnit.kibibytes(v, unit: page.attr("unit"))
                    var attrs: [(name: String, value: String)] = [("size", String(kib)), ("unit", "KiB")]
                    attrs += page.attributes.filter { $0.name != "size" && $0.name != "unit" }
                    page.attributes = attrs
                    return .element(page)
                }
                return .element(hp)
            }
            return mb
        case "seclabel":
            return try seclabel(el)
        case "numatune", "blkiotune":
            return try normaliseSets(el)
        default:
            return el
        }
    }

    /// `<seclabel>` as libvirt stores it: relabel defaults (yes for dynamic, no for static), generated labels of a
    /// dynamic label left out; a label without a type is not written at all (returned with no attributes).
    static func seclabel(_ el: XMLElement) throws(VirtError) -> XMLElement {
        guard let type = el.attr("type") else { return XMLElement(name: "seclabel-default") }
        var out = el
        var relabel = el.attr("relabel")
        var kids = el.children
        switch type {
        case "dynamic":
            if relabel == "no" {
                throw VirtError.domainConfigUnsupported("dynamic label type must use resource relabeling")
            }
            relabel = "yes"
            kids = kids.filter { c in
                if case .element(let e) = c { return e.name != "label" && e.name != "imagelabel" }
                return true
            }
        case "static":
            relabel = relabel ?? "no"
        default:
            break
        }
        var attrs: [(name: String, value: String)] = [("type", type)]
        if let m = el.attr("model") { attrs.append(("model", m)) }
        if let r = relabel, type != "none" { attrs.append(("relabel", r)) }
        attrs += el.attributes.filter { !["type", "model", "relabel"].contains($0.name) }
        out.attributes = attrs
        out.children = kids
        return out
    }

    /// `<cputune>` as libvirt stores it: pins sorted by vCPU / iothread id, one `<vcpusched>` /
    /// `<iothreadsched>` per vCPU / iothread.
    static func cputune(_ el: XMLElement) throws(VirtError) -> XMLElement {
        var out = el
        var kids: [XMLElement] = []
        func key(_ e: XMLElement, _ a: String) -> UInt64 { e.attr(a).flatMap { parseUnsigned($0) } ?? 0 }
        var i = 0
        let elements = el.elements
        while i < elements.count {
            let e = elements[i]
            switch e.name {
            case "vcpupin", "iothreadpin":
                let a = e.name == "vcpupin" ? "vcpu" : "iothread"
                var group: [XMLElement] = []
                while i < elements.count && elements[i].name == e.name {
                    group.append(elements[i])
                    i += 1
                }
                kids += group.sorted { key($0, a) < key($1, a) }
                continue
            case "vcpusched", "iothreadsched":
                let a = e.name == "vcpusched" ? "vcpus" : "iothreads"
                var split: [(UInt32, XMLElement)] = []
                while i < elements.count && elements[i].name == e.name {
                    let s = elements[i]
                    if let v = s.attr(a) {
                        for id in try CPUSet(parsing: v).cpus {
                            var one = s
                            for j in one.attributes.indices where one.attributes[j].name == a {
                                one.attributes[j].value = String(id)
                            }
                            split.append((id, one))
                        }
                    } else {
                        split.append((0, s))
                    }
                    i += 1
                }
                kids += split.sorted { $0.0 < $1.0 }.map(\.1)
                continue
            default:
                kids.append(e)
            }
            i += 1
        }
        out.children = kids.isEmpty ? el.children : kids.map { .element($0) }
        return out
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
