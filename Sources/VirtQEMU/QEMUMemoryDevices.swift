import VirtCore

/// DIMM memory devices (`<memory model='dimm'>`) as libvirt 9.0's QEMU driver runs them: `<maxMemory>` turns
/// into `-m size=…k,slots=…,maxmem=…k`, each DIMM into a RAM backend object `memdimmN` and a `pc-dimm` device
/// `dimmN` (N its slot), sizes aligned up to 2 MiB. The checks are libvirt's (qemuDomainDefValidateMemoryHotplug,
/// its slot assignment), at define and for a live attach; other memory models are not run yet.
enum QEMUMemoryDevices {
    /// libvirt's alignment of a DIMM on x86, in KiB.
    static let alignmentKiB: UInt64 = 2048

    static func aligned(_ kib: UInt64) -> UInt64 { (kib + alignmentKiB - 1) / alignmentKiB * alignmentKiB }

    /// The memory the guest starts with outside its memory devices: the NUMA cells' sum when there are cells.
    static func initialKiB(_ def: DomainDefinition) -> UInt64 {
        let cells = def.cpu?.numaCells ?? []
        if !cells.isEmpty { return cells.reduce(UInt64(0)) { $0 &+ $1.memory } }
        let devices = def.devices.memories.reduce(UInt64(0)) { $0 &+ $1.sizeKiB }
        return def.memory > devices ? def.memory - devices : def.memory
    }

    /// libvirt's define with ABI update: with NUMA cells the total memory is theirs plus the memory devices'.
    static func updateTotal(_ def: inout DomainDefinition) {
        let cells = def.cpu?.numaCells ?? []
        guard !cells.isEmpty else { return }
        def.memory = initialKiB(def) &+ def.devices.memories.reduce(UInt64(0)) { $0 &+ $1.sizeKiB }
        if def.currentMemory > def.memory { def.currentMemory = def.memory }
    }

    /// The sizes a start uses (libvirt's qemuDomainAlignMemorySizes): DIMMs aligned, the total their sum with
    /// the initial memory.
    static func alignForStart(_ def: inout DomainDefinition) {
        guard !def.devices.memories.isEmpty else { return }
        for i in def.devices.memories.indices where def.devices.memories[i].model == .dimm {
            def.devices.memories[i].sizeKiB = aligned(def.devices.memories[i].sizeKiB)
        }
        let initial = initialKiB(def)
        def.memory = initial &+ def.devices.memories.reduce(UInt64(0)) { $0 &+ $1.sizeKiB }
        if def.currentMemory > def.memory { def.currentMemory = def.memory }
    }

    static func slot(of m: MemoryDevice) -> UInt32? {
        if case .dimm(let s, _)? = m.info.address { return s }
        return nil
    }

    /// The checks of a definition's memory devices against `<maxMemory>` and the NUMA layout.
    static func validate(_ def: DomainDefinition) throws(VirtError) {
        let mems = def.devices.memories
        guard let mm = def.maxMemory else {
            if !mems.isEmpty {
                throw VirtError.configUnsupported(
                    "cannot use/hotplug a memory device when domain 'maxMemory' is not defined", domain: .qemu)
            }
            return
        }
        if def.cpu?.numaCells.isEmpty ?? true {
            throw VirtError.configUnsupported(
                "At least one numa node has to be configured when enabling memory hotplug", domain: .qemu)
        }
        for m in mems where m.model == .dimm {
            if m.node == nil {
                throw VirtError.configUnsupported("target NUMA node needs to be specified for memory device",
                                                  domain: .qemu)
            }
            if let s = slot(of: m), s >= mm.slots {
                throw VirtError.configUnsupported("memory device slot '\(s)' exceeds slots count '\(mm.slots)'",
                                                  domain: .qemu)
            }
        }
    }

    /// libvirt's slot assignment: a DIMM without one gets the lowest slot no other device has.
    static func assignSlots(_ def: inout DomainDefinition) throws(VirtError) {
        guard let mm = def.maxMemory else { return }
        var used = Set(def.devices.memories.compactMap(slot(of:)))
        for i in def.devices.memories.indices where def.devices.memories[i].model == .dimm
            && slot(of: def.devices.memories[i]) == nil {
            guard let free = (0..<mm.slots).first(where: { !used.contains($0) }) else {
                throw VirtError.internalError("failed to find an empty memory slot", domain: .qemu)
            }
            used.insert(free)
            def.devices.memories[i].info.address = .dimm(slot: free, base: nil)
        }
    }

    /// The checks of a live attach (the device aligned already): room in `<maxMemory>` and its slots.
    static func validateHotplug(_ m: MemoryDevice, into live: DomainDefinition) throws(VirtError) {
        guard m.model == .dimm else {
            throw VirtError.operationUnsupported("live attach of memory model '\(m.model.rawValue)' is not supported",
                                                 domain: .qemu)
        }
        var next = live
        next.devices.memories.append(m)
        try validate(next)
        guard let mm = live.maxMemory else { return }
        if next.devices.memories.count > Int(mm.slots) {
            throw VirtError.configUnsupported(
                "memory device count '\(next.devices.memories.count)' exceeds slots count '\(mm.slots)'",
                domain: .qemu)
        }
        let devices = next.devices.memories.reduce(UInt64(0)) { $0 &+ $1.sizeKiB }
        if initialKiB(live) &+ devices > mm.size {
            throw VirtError.configUnsupported("Attaching memory device with size '\(m.sizeKiB)' would exceed domain's "
                                                + "maxMemory config size '\(mm.size)'", domain: .qemu)
        }
        if let s = slot(of: m), live.devices.memories.contains(where: { slot(of: $0) == s }) {
            throw VirtError.operationInvalid("memory device slot '\(s)' is already being used by another memory device",
                                             domain: .qemu)
        }
    }

    /// libvirt's `virDomainMemoryFindByDef`: same model, node and size, the same source, and the same address
    /// (slot and base, as the live XML shows them) when one is given.
    static func find(_ m: MemoryDevice, in list: [MemoryDevice]) -> Int? {
        list.firstIndex { have in
            have.model == m.model && have.node == m.node && have.sizeKiB == m.sizeKiB
                && nodemask(have) == nodemask(m) && pagesizeKiB(have) == pagesizeKiB(m)
                && (m.info.address == nil || have.info.address == m.info.address)
        }
    }

    static func nodemask(_ m: MemoryDevice) -> String? { m.source?.childText("nodemask") }

    static func pagesizeKiB(_ m: MemoryDevice) -> String? { m.source?.childText("pagesize") }

    /// What the builder cannot run yet, refused with the reason.
    static func checkSupported(_ m: MemoryDevice) throws(VirtError) {
        guard m.model == .dimm else {
            throw VirtError.configUnsupported("memory device model '\(m.model.rawValue)' is not supported by the QEMU "
                                                + "driver yet", domain: .qemu)
        }
        if pagesizeKiB(m) != nil || m.access != nil || m.discard != nil || m.source?.child("path") != nil {
            throw VirtError.configUnsupported("file-backed memory devices (pagesize, access, discard) are not "
                                                + "supported by the QEMU driver yet", domain: .qemu)
        }
    }

    /// The backend object of a DIMM: RAM of its aligned size, bound to host nodes when `<nodemask>` names them.
    static func backendProps(_ m: MemoryDevice, alias: String) throws(VirtError) -> QEMUJSONProps {
        var p = QEMUJSONProps()
        p.add("qom-type", "memory-backend-ram")
        p.add("id", "mem" + alias)
        p.add("size", uint: aligned(m.sizeKiB) * 1024)
        if let mask = nodemask(m) {
            p.add("host-nodes", uints: try CPUSet(parsing: mask).cpus.map(UInt64.init))
            p.add("policy", "bind")
        }
        return p
    }

    /// The `pc-dimm` device: guest node, backend, alias, slot and the base address when the XML fixes one.
    static func deviceProps(_ m: MemoryDevice, alias: String) -> QEMUJSONProps {
        var p = QEMUJSONProps()
        p.add("driver", "pc-dimm")
        p.add("node", uint: UInt64(m.node ?? 0))
        p.add("memdev", "mem" + alias)
        p.add("id", alias)
        if case .dimm(let s, let base)? = m.info.address {
            p.add("slot", uint: UInt64(s))
            p.add("addr", uint: base)
        }
        return p
    }

    /// QEMU's `query-memory-devices` answer applied to DIMMs: their slot and base address (libvirt's
    /// qemuDomainUpdateMemoryDeviceInfo, after a start and after a hotplug).
    static func applyInfo(_ reply: JSONValue, to def: inout DomainDefinition) -> Bool {
        var changed = false
        for entry in reply.arrayValue ?? [] {
            let data = entry["data"]
            guard let id = data?["id"]?.stringValue, let slot = data?["slot"]?.intValue,
                  let addr = data?["addr"]?.intValue,
                  let i = def.devices.memories.firstIndex(where: { $0.info.alias == id }) else { continue }
            let address = DeviceAddress.dimm(slot: UInt32(clamping: slot), base: UInt64(clamping: addr))
            if def.devices.memories[i].info.address != address {
                def.devices.memories[i].info.address = address
                changed = true
            }
        }
        return changed
    }
}
