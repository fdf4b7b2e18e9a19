import VirtCore
#if canImport(Glibc)
import Glibc
#endif

/// Memory devices (`<memory model='dimm|nvdimm|virtio-mem|virtio-pmem'>`) as libvirt 9.0's QEMU driver runs
/// them: `<maxMemory>` turns into `-m size=…k,slots=…,maxmem=…k`; each device into a backend object `mem<alias>`
/// (see ``QEMUMemoryBackend``) and its device (`pc-dimm`, `nvdimm`, `virtio-mem-pci`, `virtio-pmem-pci`).
/// DIMMs and NVDIMMs take a slot and are named after it; the virtio models sit on PCI. The checks are libvirt's
/// (its domain validation, qemuDomainDefValidateMemoryHotplug, its slot assignment), at define and for a live
/// attach. `sgx-epc` is refused as libvirt refuses it with this QEMU.
enum QEMUMemoryDevices {
    /// libvirt's alignment of a DIMM, NVDIMM or virtio-pmem on x86, in KiB; a virtio-mem's is its block size.
    static let alignmentKiB: UInt64 = 2048

    static func aligned(_ kib: UInt64) -> UInt64 { (kib + alignmentKiB - 1) / alignmentKiB * alignmentKiB }

    /// A device's size as a start or an attach uses it (libvirt's qemuDomainMemoryDeviceAlignSize).
    static func alignedSize(_ m: MemoryDevice) -> UInt64 {
        if m.model == .virtioMem, let b = m.blockKiB, b > 0 { return (m.sizeKiB + b - 1) / b * b }
        return aligned(m.sizeKiB)
    }

    /// DIMMs and NVDIMMs occupy a memory slot.
    static func usesSlot(_ m: MemoryDevice) -> Bool { m.model == .dimm || m.model == .nvdimm }

    /// The alias prefix of a model (libvirt's qemuAssignDeviceMemoryAlias).
    static func aliasPrefix(_ model: MemoryModel) -> String {
        switch model {
        case .dimm: "dimm"
        case .nvdimm: "nvdimm"
        case .virtioMem: "virtiomem"
        case .virtioPMEM: "virtiopmem"
        case .sgxEPC: "epc"
        }
    }

    /// The alias a new device gets: slot devices after their slot, the virtio ones the next free number.
    static func alias(for m: MemoryDevice, among others: [MemoryDevice]) -> String {
        let prefix = aliasPrefix(m.model)
        if usesSlot(m), let s = slot(of: m) { return prefix + String(s) }
        let used = others.compactMap { o -> Int? in
            guard let a = o.info.alias, a.hasPrefix(prefix) else { return nil }
            return Int(a.dropFirst(prefix.count))
        }
        return prefix + String((used.max() ?? -1) + 1)
    }

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

    /// The sizes a start uses (libvirt's qemuDomainAlignMemorySizes): devices aligned, the total their sum
    /// with the initial memory.
    static func alignForStart(_ def: inout DomainDefinition) {
        guard !def.devices.memories.isEmpty else { return }
        for i in def.devices.memories.indices where def.devices.memories[i].model != .sgxEPC {
            def.devices.memories[i].sizeKiB = alignedSize(def.devices.memories[i])
        }
        let initial = initialKiB(def)
        def.memory = initial &+ def.devices.memories.reduce(UInt64(0)) { $0 &+ $1.sizeKiB }
        if def.currentMemory > def.memory { def.currentMemory = def.memory }
    }

    static func slot(of m: MemoryDevice) -> UInt32? {
        if case .dimm(let s, _)? = m.info.address { return s }
        return nil
    }

    /// libvirt's VIR_ERR_XML_DETAIL from its domain validation: the message alone, without a prefix.
    static func detail(_ message: String) -> VirtError {
        VirtError(.xmlDetail, domain: .domain, message, str1: message)
    }

    /// libvirt's checks of one memory device of any model (its domain validation), in its words.
    static func validateDevice(_ m: MemoryDevice) throws(VirtError) {
        switch m.model {
        case .nvdimm:
            if m.path == nil { throw QEMUMemoryDevices.detail("path is required for model 'nvdimm'") }
            if m.discard == true {
                throw VirtError.configUnsupported("discard is not supported for nvdimms", domain: .domain)
            }
        case .virtioPMEM:
            if m.path == nil { throw QEMUMemoryDevices.detail("path is required for model 'virtio-pmem'") }
            if m.node != nil {
                throw VirtError.configUnsupported("virtio-pmem does not support NUMA nodes", domain: .domain)
            }
            if m.access == "private" {
                throw VirtError.configUnsupported("shared access mode required for virtio-pmem device",
                                                  domain: .domain)
            }
        case .virtioMem:
            let block = m.blockKiB ?? 0
            if block == 0 || block & (block - 1) != 0 {
                throw QEMUMemoryDevices.detail("block size must be a power of two")
            }
            if block < alignmentKiB {
                throw QEMUMemoryDevices.detail("block size too small, must be at least \(alignmentKiB)KiB")
            }
            if let r = m.requestedKiB {
                if r % block != 0 {
                    throw QEMUMemoryDevices.detail("requested size must be an integer multiple of block size")
                }
                if r > m.sizeKiB {
                    throw QEMUMemoryDevices.detail("requested size must be smaller than or equal to @size (\(m.sizeKiB)KiB)")
                }
            }
        case .sgxEPC:
            throw VirtError.configUnsupported("sgx epc isn't supported by this QEMU binary", domain: .qemu)
        case .dimm:
            break
        }
    }

    /// The checks of a definition's memory devices against `<maxMemory>` and the NUMA layout.
    static func validate(_ def: DomainDefinition) throws(VirtError) {
        let mems = def.devices.memories
        let numaNodes = def.cpu?.numaCells.count ?? 0
        // libvirt's domain-wide QEMU checks come before each device's own.
        guard let mm = def.maxMemory else {
            if !mems.isEmpty {
                throw VirtError.configUnsupported(
                    "cannot use/hotplug a memory device when domain 'maxMemory' is not defined", domain: .qemu)
            }
            return
        }
        if numaNodes == 0 {
            throw VirtError.configUnsupported(
                "At least one numa node has to be configured when enabling memory hotplug", domain: .qemu)
        }
        var slots = Set<UInt32>()
        for m in mems {
            if m.model != .virtioPMEM && m.model != .sgxEPC && m.node == nil {
                throw VirtError.configUnsupported("target NUMA node needs to be specified for memory device",
                                                  domain: .qemu)
            }
            if m.model == .virtioMem || m.model == .virtioPMEM {
                if let a = m.info.address, a.typeName != "pci" {
                    throw VirtError.configUnsupported(
                        "only 'pci' addresses are supported for the \(m.model.rawValue) device", domain: .qemu)
                }
                continue
            }
            if let s = slot(of: m) {
                if s >= mm.slots {
                    throw VirtError.configUnsupported("memory device slot '\(s)' exceeds slots count '\(mm.slots)'",
                                                      domain: .qemu)
                }
                if !slots.insert(s).inserted {
                    throw VirtError.configUnsupported(
                        "memory device slot '\(s)' is already being used by another memory device", domain: .qemu)
                }
            }
        }
        for m in mems { try validateDevice(m) }
    }

    /// Whether some backend of `def` is a file in the domain's memory backing directory.
    static func needsBackingDir(_ def: DomainDefinition) -> Bool {
        let backing = def.memoryBacking
        let cells = def.cpu?.numaCells ?? []
        if cells.isEmpty && QEMUMemoryBackend.usesBackingDir(QEMUMemoryBackend.Spec(id: "pc.ram", sizeKiB: 0),
                                                             backing: backing) { return true }
        for c in cells {
            var s = QEMUMemoryBackend.Spec(id: "ram-node\(c.id)", sizeKiB: 0)
            s.access = c.memAccess
            if QEMUMemoryBackend.usesBackingDir(s, backing: backing) { return true }
        }
        for m in def.devices.memories {
            var s = QEMUMemoryBackend.Spec(id: "", sizeKiB: 0)
            s.access = m.access
            s.path = m.path
            if QEMUMemoryBackend.usesBackingDir(s, backing: backing) { return true }
        }
        return false
    }

    /// libvirt's slot assignment: a DIMM or NVDIMM without one gets the lowest slot no other device has.
    static func assignSlots(_ def: inout DomainDefinition) throws(VirtError) {
        guard let mm = def.maxMemory else { return }
        var used = Set(def.devices.memories.compactMap(slot(of:)))
        for i in def.devices.memories.indices where usesSlot(def.devices.memories[i])
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
        if m.model == .sgxEPC {
            throw VirtError.operationUnsupported("live attach of memory model '\(m.model.rawValue)' is not supported",
                                                 domain: .qemu)
        }
        var next = live
        next.devices.memories.append(m)
        try validate(next)
        guard let mm = live.maxMemory else { return }
        // libvirt counts every memory device against the slots, also those that take none.
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
    }

    /// libvirt's `virDomainMemoryFindByDef`: same model, node and size, the same source, and the same address
    /// (slot and base, as the live XML shows them) when one is given.
    static func find(_ m: MemoryDevice, in list: [MemoryDevice]) -> Int? {
        list.firstIndex { have in
            have.model == m.model && have.node == m.node && have.sizeKiB == m.sizeKiB
                && have.nodemask == m.nodemask && have.pagesizeKiB == m.pagesizeKiB && have.path == m.path
                && have.labelKiB == m.labelKiB && have.blockKiB == m.blockKiB
                && (m.info.address == nil || have.info.address == m.info.address)
        }
    }

    /// What the builder cannot run: huge pages (this host's hugetlbfs is checked first, as libvirt does).
    static func checkSupported(_ m: MemoryDevice) throws(VirtError) {
        if QEMUMemoryBackend.wantsHugepages(m.pagesizeKiB) {
            try QEMUMemoryBackend.checkHugetlbfs()
            throw VirtError.configUnsupported("hugepage-backed memory devices are not supported by the QEMU "
                                                + "driver yet", domain: .qemu)
        }
    }

    /// The file of an NVDIMM or virtio-pmem must exist before QEMU maps it (libvirt's check when it allows the
    /// path to QEMU, at start and attach).
    static func checkPath(_ m: MemoryDevice) throws(VirtError) {
        guard let path = m.path, access(path, F_OK) != 0 else { return }
        throw VirtError.systemError("Path '\(path)' is not accessible", errno: errno, domain: .qemu)
    }

    /// The backend object of a memory device (`mem<alias>`).
    static func backendProps(_ m: MemoryDevice, alias: String, def: DomainDefinition, backingDir: String?)
        throws(VirtError) -> QEMUJSONProps {
        let cell = m.node.flatMap { n in def.cpu?.numaCells.first { $0.id == n } }
        var spec = QEMUMemoryBackend.Spec(id: "mem" + alias, sizeKiB: alignedSize(m))
        spec.model = m.model
        spec.access = m.access ?? cell?.memAccess
        spec.discard = m.discard ?? cell?.discard
        spec.path = m.path
        spec.pmem = m.pmem
        spec.alignKiB = m.alignsizeKiB
        spec.nodemask = m.nodemask
        QEMUMemoryBackend.applyNUMATune(&spec, def.numatune, cell: m.node)
        spec.fileName = alias
        return try QEMUMemoryBackend.props(spec, backing: def.memoryBacking, backingDir: backingDir)
    }

    /// The device: its driver, guest node, properties, backend and alias; the slot and base address of a
    /// (NV)DIMM, the PCI address of a virtio one.
    static func deviceProps(_ m: MemoryDevice, alias: String, def: DomainDefinition) -> QEMUJSONProps {
        var p = QEMUJSONProps()
        switch m.model {
        case .dimm: p.add("driver", "pc-dimm")
        case .nvdimm: p.add("driver", "nvdimm")
        case .virtioMem: p.add("driver", "virtio-mem-pci")
        case .virtioPMEM: p.add("driver", "virtio-pmem-pci")
        case .sgxEPC: p.add("driver", "sgx-epc")
        }
        if let n = m.node { p.add("node", uint: UInt64(n)) }
        if m.model == .nvdimm {
            if let l = m.labelKiB { p.add("label-size", uint: l * 1024) }
            if m.readonly { p.add("unarmed", bool: true) }
        }
        if m.model == .virtioMem {
            if let b = m.blockKiB { p.add("block-size", uint: b * 1024) }
            if let r = m.requestedKiB, r > 0 { p.add("requested-size", uint: r * 1024) }
        }
        p.add("memdev", "mem" + alias)
        p.add("id", alias)
        switch m.info.address {
        case .dimm(let s, let base)?:
            p.add("slot", uint: UInt64(s))
            p.add("addr", uint: base)
        default:
            QEMUCommandLine.addAddress(m.info, to: &p, controllers: def.devices.controllers)
        }
        return p
    }

    /// What the guest has plugged of the virtio-mem devices, KiB: libvirt counts it in the live current memory
    /// on top of the balloon's figure, which QEMU reports without it.
    static func virtioMemPluggedKiB(_ def: DomainDefinition) -> UInt64 {
        def.devices.memories.filter { $0.model == .virtioMem }.reduce(0) { $0 &+ ($1.currentKiB ?? 0) }
    }

    /// Sets the `<current>` of the virtio-mem at `index` to `kib`, moving the live current memory by the
    /// difference (it counts what is plugged, ``virtioMemPluggedKiB``). Returns whether anything changed.
    @discardableResult
    static func setPlugged(_ kib: UInt64, memory index: Int, in def: inout DomainDefinition) -> Bool {
        let old = def.devices.memories[index].currentKiB
        guard old != kib else { return false }
        let before = old ?? 0
        def.devices.memories[index].currentKiB = kib
        def.currentMemory = kib >= before ? def.currentMemory &+ (kib - before)
            : def.currentMemory - min(def.currentMemory, before - kib)
        return true
    }

    /// QEMU's `query-memory-devices` answer applied to the definition: the slot and base address of a
    /// (NV)DIMM, the current size of a virtio-mem (libvirt's qemuDomainUpdateMemoryDeviceInfo, after a start
    /// and after a hotplug).
    static func applyInfo(_ reply: JSONValue, to def: inout DomainDefinition) -> Bool {
        var changed = false
        for entry in reply.arrayValue ?? [] {
            let data = entry["data"]
            guard let id = data?["id"]?.stringValue,
                  let i = def.devices.memories.firstIndex(where: { $0.info.alias == id }) else { continue }
            if entry["type"]?.stringValue == "virtio-mem" {
                if let size = data?["size"]?.intValue {
                    if setPlugged(UInt64(clamping: size) / 1024, memory: i, in: &def) { changed = true }
                }
                continue
            }
            guard usesSlot(def.devices.memories[i]), let slot = data?["slot"]?.intValue,
                  let addr = data?["addr"]?.intValue else { continue }
            let address = DeviceAddress.dimm(slot: UInt32(clamping: slot), base: UInt64(clamping: addr))
            if def.devices.memories[i].info.address != address {
                def.devices.memories[i].info.address = address
                changed = true
            }
        }
        return changed
    }
}
