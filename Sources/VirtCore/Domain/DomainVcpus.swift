/// One vCPU of `<vcpus>`: `<vcpu id='N' enabled='yes|no' hotpluggable='yes|no' order='K'/>` (libvirt's
/// virDomainVcpuDef; the id is the index in ``DomainDefinition/vcpuStates``).
public struct DomainVcpu: Sendable, Hashable {
    public var enabled: Bool
    /// nil until the post-parse default (online: no, offline: yes).
    public var hotpluggable: Bool?
    /// The order QEMU brings the vCPU up in (1-based); 0 when unset.
    public var order: UInt32

    public init(enabled: Bool, hotpluggable: Bool? = nil, order: UInt32 = 0) {
        self.enabled = enabled
        self.hotpluggable = hotpluggable
        self.order = order
    }
}

extension DomainDefinition {
    /// Each vCPU's state, `vcpus` long: the stored `<vcpus>` entries when they agree with `<vcpu current>`, else
    /// libvirt's default for a bare count (the first `current` vCPUs online and not hotpluggable, the rest offline
    /// and hotpluggable). Setting it also sets `currentVcpus` to the number enabled.
    public var vcpuStates: [DomainVcpu] {
        get {
            let current = Int(currentVcpus ?? vcpus)
            if storedVcpuStates.count == Int(vcpus), storedVcpuStates.filter(\.enabled).count == current {
                return storedVcpuStates
            }
            return (0..<Int(vcpus)).map { i in
                i < current ? DomainVcpu(enabled: true, hotpluggable: false) : DomainVcpu(enabled: false, hotpluggable: true)
            }
        }
        set {
            storedVcpuStates = newValue
            let online = UInt32(newValue.filter(\.enabled).count)
            currentVcpus = online == vcpus ? nil : online
        }
    }

    /// The ids of the enabled vCPUs.
    public var onlineVcpuIDs: [Int] {
        vcpuStates.indices.filter { vcpuStates[$0].enabled }
    }

    /// libvirt's virDomainVcpuParse for `<vcpus>`: every vCPU offline unless listed, each listed one's id
    /// (within `<vcpu>`), `enabled` (required), `hotpluggable` and `order`; a later entry for an id wins.
    mutating func parseVcpus(_ root: XMLElement) throws(VirtError) {
        let entries = root.child("vcpus")?.elements.filter { $0.name == "vcpu" && $0.prefix == nil } ?? []
        guard !entries.isEmpty else { return }
        // With the list, `<vcpu current>` is ignored (libvirt sets the count only without it).
        var list = [DomainVcpu](repeating: DomainVcpu(enabled: false), count: Int(vcpus))
        for e in entries {
            guard let id = try e.uintAttr("id") else { throw VirtError.xmlMissingAttribute("id", element: "vcpu") }
            guard id < vcpus else {
                throw VirtError.domainXMLError("vcpu id '\(id)' is out of range of maximum vcpu count")
            }
            guard let enabled = try e.yesNoAttr("enabled") else {
                throw VirtError.xmlMissingAttribute("enabled", element: "vcpu")
            }
            let hot = try e.yesNoAttr("hotpluggable")
            let order = try e.uintAttr("order") ?? 0
            list[Int(id)] = DomainVcpu(enabled: enabled, hotpluggable: hot, order: order)
        }
        individualVcpus = true
        vcpuStates = list
    }

    /// libvirt's generic post-parse of the per-vCPU states: the hotpluggable default (online vCPUs not
    /// hotpluggable, offline ones hotpluggable); an offline vCPU must be hotpluggable.
    mutating func postParseVcpus() throws(VirtError) {
        guard individualVcpus else { return }
        var list = vcpuStates
        for i in list.indices {
            switch list[i].hotpluggable {
            case nil: list[i].hotpluggable = !list[i].enabled
            case false?:
                if !list[i].enabled {
                    throw VirtError.domainConfigUnsupported("vcpu '\(i)' is both offline and not hotpluggable")
                }
            case true?: break
            }
        }
        vcpuStates = list
    }

    /// libvirt's qemuDomainDefVcpusPostParse, on the vCPUs as written (before the generic defaults): vCPU 0
    /// online, not hotpluggable and first; an `order` on every online vCPU or on none; the vCPUs written as not
    /// hotpluggable in ascending order and before any hotpluggable one.
    mutating func qemuPostParseVcpus() throws(VirtError) {
        let list = vcpuStates
        guard individualVcpus, let first = list.first else { return }
        func fail(_ detail: String) -> VirtError { VirtError.domainConfigUnsupported(detail, domain: .qemu) }
        if !first.enabled { throw fail("vcpu 0 can't be offline") }
        if first.hotpluggable == true { throw fail("vcpu0 can't be hotpluggable") }
        if first.order > 1 { throw fail("vcpu0 must be enabled first") }
        let hasOrder = first.order != 0
        var previous = first
        for v in list.dropFirst() {
            if v.enabled && (v.order != 0) != hasOrder {
                throw fail("all vcpus must have either set or unset order")
            }
            if v.hotpluggable == false {
                if previous.hotpluggable == true {
                    throw fail("online non-hotpluggable vcpus need to be ordered prior to hotplugable vcpus")
                }
                if previous.order > v.order {
                    throw fail("online non-hotpluggable vcpus must be ordered in ascending order")
                }
            }
            previous = v
        }
    }

    /// `<vcpus>` as libvirt writes it: every vCPU, `hotpluggable` once set, `order` when not 0.
    func formatVcpus(into w: inout XMLWriter) {
        guard individualVcpus else { return }
        let list = vcpuStates
        w.container("vcpus") { w in
            for (i, v) in list.enumerated() {
                w.empty("vcpu", [("id", String(i)), ("enabled", v.enabled ? "yes" : "no"),
                                 ("hotpluggable", v.hotpluggable.map { $0 ? "yes" : "no" }),
                                 ("order", v.order != 0 ? String(v.order) : nil)])
            }
        }
    }

    /// libvirt's virDomainDefSetVcpus: the first `count` vCPUs online, the others offline; `hotpluggable` and
    /// `order` stay as they are.
    public mutating func setOnlineVcpuCount(_ count: UInt32) {
        var list = vcpuStates
        for i in list.indices { list[i].enabled = i < Int(count) }
        vcpuStates = list
    }

    /// Clears every vCPU's `order` (libvirt's virDomainDefVcpuOrderClear).
    public mutating func clearVcpuOrder() {
        var list = vcpuStates
        for i in list.indices { list[i].order = 0 }
        vcpuStates = list
    }

    /// libvirt's qemuDomainSetVcpusConfig: the count changed in the persistent definition. Orders are cleared;
    /// vCPUs are enabled from the lowest offline id (hotpluggable when asked, or when an online hotpluggable vCPU
    /// precedes them) or disabled from the highest online one (becoming hotpluggable).
    public mutating func setVcpuCountConfig(_ count: UInt32, hotpluggable: Bool) {
        clearVcpuOrder()
        var list = vcpuStates
        var current = list.filter(\.enabled).count
        let target = Int(count)
        var hot = hotpluggable
        if current < target {
            for i in list.indices where current < target {
                if list[i].enabled {
                    if list[i].hotpluggable == true { hot = true }
                    continue
                }
                list[i].enabled = true
                list[i].hotpluggable = hot
                if hot { individualVcpus = true }
                current += 1
            }
        } else if current > target {
            for i in list.indices.reversed() where current > target && list[i].enabled {
                list[i].enabled = false
                list[i].hotpluggable = true
                current -= 1
            }
        }
        vcpuStates = list
    }

    /// libvirt's virDomainDefSetVcpusMax for the per-vCPU states: new vCPUs offline (hotpluggable unset), the
    /// current count capped at the new maximum.
    public mutating func setMaximumVcpus(_ count: UInt32) {
        var list = vcpuStates
        if list.count > Int(count) {
            list.removeLast(list.count - Int(count))
        } else {
            // As libvirt: the new vCPUs have no hotpluggable value until the definition is parsed again.
            list += [DomainVcpu](repeating: DomainVcpu(enabled: false), count: Int(count) - list.count)
        }
        vcpus = count
        if !list.isEmpty && !list.contains(where: \.enabled) { list[0].enabled = true }
        vcpuStates = list
    }
}
