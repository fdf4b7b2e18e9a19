extension DomainDefinition {
    /// Parses libvirt domain XML. Malformed XML gives libvirt's XML_DETAIL error naming the line, with the line
    /// and a caret under the column; invalid values give libvirt's errors naming the element and attribute.
    public static func parse(_ xml: String, options: DomainParseOptions = .init()) throws(VirtError)
        -> DomainDefinition {
        let root = try XMLParser.parse(xml)
        return try parse(root, options: options)
    }

    /// Builds a definition from an already parsed `<domain>` element.
    public static func parse(_ root: XMLElement, options: DomainParseOptions = .init()) throws(VirtError)
        -> DomainDefinition {
        var section: String?
        do {
            return try parse(root, options: options, section: &section)
        } catch {
            // With --validate, values the schema's types reject are reported as schema errors.
            if options.validate { throw DomainSchemaValidator.schemaError(for: error, section: section) }
            throw error
        }
    }

    /// The parser proper; `section` names the top-level element being read (for --validate errors).
    static func parse(_ root: XMLElement, options: DomainParseOptions, section: inout String?) throws(VirtError)
        -> DomainDefinition {
        guard root.name == "domain" else {
            let detail = "expecting root element of 'domain', not '\(root.name)'"
            throw VirtError(.xmlError, domain: .xml, "XML error: \(detail)", str1: "XML error: %s", str2: detail)
        }
        if options.validate {
            try DomainSchemaValidator.validate(root)
        }
        guard let type = root.attr("type") else {
            throw VirtError.domainInternal("missing domain type attribute")
        }
        guard knownVirtTypes.contains(type) else {
            throw VirtError.domainConfigUnsupported("invalid domain type \(type)")
        }
        guard let nameEl = root.child("name"), !nameEl.text.isEmpty else {
            throw VirtError(.noName, domain: .domain, "missing name information",
                            str1: "missing name information")
        }
        let name = nameEl.text
        if name.contains("/") { throw VirtError.domainXMLError("name \(name) cannot contain '/'") }
        let uuid: VirtUUID
        if let u = root.child("uuid") {
            guard let parsed = VirtUUID(string: u.text) else {
                throw VirtError.domainInternal("malformed uuid element")
            }
            uuid = parsed
        } else if let s = sysinfoUUID(root) {
            uuid = s
        } else {
            uuid = .random()
        }
        var def = DomainDefinition(type: type, name: name, uuid: uuid, memory: 0,
                                   os: OSConfig(type: "hvm"))
        section = "genid"
        if let g = root.child("genid") {
            let t = g.text.trimmingSpaces
            if t.isEmpty {
                def.genid = .random()
            } else {
                guard let parsed = VirtUUID(string: t) else {
                    throw VirtError.domainInternal("malformed genid element")
                }
                def.genid = parsed
            }
        }
        section = "title"
        if let t = root.child("title") {
            let title = t.text
            if title.contains("\n") { throw VirtError.domainXMLError("Domain title can't contain newlines") }
            if !title.isEmpty { def.title = title }
        }
        if let d = root.child("description"), !d.text.isEmpty { def.description = d.text }
        if let m = root.child("metadata") { def.metadata = sanitizeMetadata(m, rootNamespaces: root.namespaces) }

        section = "os"
        def.bootloader = root.child("bootloader")?.text
        def.bootloaderArgs = root.child("bootloader_args")?.text
        def.os = try OSConfig.parse(root.child("os"), hasBootloader: def.bootloader != nil)

        // Memory.
        section = "memory"
        if let m = root.child("memory") {
            def.memory = try MemoryUnit.parseElement(m, xpath: "./memory[1]")
            def.memoryDumpCore = try m.onOffAttr("dumpCore")
        }
        section = "maxMemory"
        if let mm = root.child("maxMemory") {
            let size = try MemoryUnit.parseElement(mm, xpath: "./maxMemory[1]")
            guard let slots = try mm.uintAttr("slots"), size > 0, slots > 0 else {
                throw VirtError.domainXMLError("both maximum memory size and memory slot count must be specified")
            }
            def.maxMemory = MaxMemory(size: size, slots: slots)
        }
        section = "currentMemory"
        if let cm = root.child("currentMemory") {
            def.currentMemory = try MemoryUnit.parseElement(cm, xpath: "./currentMemory[1]")
        }

        // vCPUs.
        section = "vcpu"
        if let v = root.child("vcpu") {
            guard let n = parseUnsigned(v.text), n <= UInt64(UInt32.max) else {
                throw VirtError.domainXMLError("maximum vcpus count must be an integer")
            }
            def.vcpus = UInt32(n)
            def.currentVcpus = try v.uintAttr("current")
            if let p: VCPUPlacement = try v.enumAttr("placement") { def.vcpuPlacement = p }
            if let cs = v.attr("cpuset") {
                let set = try CPUSet(parsing: cs)
                if set.isEmpty {
                    throw VirtError.domainConfigUnsupported("Invalid value of 'cpuset': \(cs)")
                }
                if def.vcpuPlacement == .static { def.vcpuCPUSet = set }
            }
        }
        section = "vcpus"
        try def.parseVcpus(root)
        section = "iothreads"
        if let it = root.child("iothreads") {
            guard let n = parseUnsigned(it.text), n <= UInt64(UInt32.max) else {
                throw VirtError.domainXMLError("invalid iothreads count '\(it.text)'")
            }
            def.iothreads = n > 0 ? UInt32(n) : nil
        }

        // Lifecycle.
        func action<T: RawRepresentable>(_ element: String, _ fallback: T) throws(VirtError) -> T
            where T.RawValue == String {
            section = element
            guard let e = root.child(element) else { return fallback }
            let v = e.text
            guard let a = T(rawValue: v) else {
                throw VirtError.domainConfigUnsupported("unknown \(element) action: \(v)")
            }
            return a
        }
        section = "on_poweroff"
        for (element, event) in [("on_poweroff", "poweroff"), ("on_reboot", "reboot")] {
            section = element
            if let v = root.child(element)?.text, LifecycleAction(rawValue: v) == nil,
               CrashAction(rawValue: v) != nil {
                throw VirtError.domainConfigUnsupported("Lifecycle event '\(event)' doesn't support '\(v)' action")
            }
        }
        def.onPoweroff = try action("on_poweroff", LifecycleAction.destroy)
        def.onReboot = try action("on_reboot", LifecycleAction.restart)
        def.onCrash = try action("on_crash", CrashAction.destroy)
        if root.child("on_lockfailure") != nil {
            def.onLockfailure = try action("on_lockfailure", LockFailureAction.poweroff)
        }
        section = "pm"
        if let pm = root.child("pm") { def.pm = try PowerManagement.parse(pm) }

        section = "clock"
        def.clock = try ClockConfig.parse(root.child("clock"))
        section = "features"
        if let f = root.child("features") { def.features = try DomainFeatures.parse(f) }
        section = "cpu"
        if let c = root.child("cpu") {
            let cpu = try CPUDefinition.parse(c)
            def.cpu = cpu.isEmpty ? nil : cpu
        }

        // Security labels: one per model.
        var models = Set<String>()
        for sl in root.children("seclabel") {
            guard let m = sl.attr("model") else { continue }
            if models.contains(m) {
                let msg = "seclabel for model \(m) is already provided"
                throw VirtError(.xmlDetail, domain: .domain, msg, str1: "%s", str2: msg)
            }
            models.insert(m)
        }
        // Known elements kept as they are.
        for e in root.elements where e.prefix == nil && extraElementNames.contains(e.name) {
            if e.name != "seclabel" && def.extraElements.contains(where: { $0.name == e.name }) { continue }
            section = e.name
            let n = try DomainTunables.normalise(e)
            if n.name == "memtune" && n.elements.isEmpty { continue }
            if n.name == "seclabel-default" { continue }
            def.extraElements.append(n)
            // libvirt keeps the perf events it knows, in its own order.
            if n.name == "perf" { def.perfEvents = try DomainDefinition.parsePerf(n) }
        }
        // Hypervisor namespaces.
        def.namespaces = root.namespaces.filter { !$0.prefix.isEmpty }
        def.namespaceElements = root.elements.filter { $0.prefix != nil }

        section = "devices"
        if let d = root.child("devices") {
            def.devices = try DomainDevices.parse(d, options: options)
        }
        section = nil
        let perDeviceBoot = root.child("devices").map { hasBootOrder($0) } ?? false
        if options.qemuVcpuRules { try def.qemuPostParseVcpus() }
        try def.postParse(perDeviceBootOrder: perDeviceBoot, abiUpdate: options.abiUpdate)
        try def.devices.applyOSType(def.os.type)
        try def.devices.validateMemoryDevices(totalMemoryKiB: def.memory, numaNodeCount: def.cpu?.numaCells.count ?? 0)
        return def
    }

    /// The SMBIOS system uuid of `<sysinfo type='smbios'>`, which libvirt uses as the domain's when it has none.
    static func sysinfoUUID(_ root: XMLElement) -> VirtUUID? {
        for si in root.children("sysinfo") where si.attr("type") == "smbios" {
            for e in si.child("system")?.children("entry") ?? [] where e.attr("name") == "uuid" {
                return VirtUUID(string: e.text)
            }
        }
        return nil
    }

    /// Virtualization types libvirt knows (`virDomainVirtType`).
    static let knownVirtTypes: Set<String> = [
        "none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware", "hyperv", "vbox",
        "phyp", "parallels", "bhyve", "vz", "hvf",
    ]

    /// libvirt's generic post-parse step (`virDomainDefPostParse` minus driver callbacks): fills defaults that
    /// every driver gets and rejects inconsistent definitions.
    mutating func postParse(perDeviceBootOrder: Bool, abiUpdate: Bool = false) throws(VirtError) {
        let numaMemory = cpu?.numaCells.reduce(UInt64(0)) { $0 + $1.memory } ?? 0
        if memory == 0 && numaMemory == 0 {
            throw VirtError.domainXMLError(
                "Memory size must be specified via <memory> or in the <numa> configuration")
        }
        if numaMemory > 0 && (memory == 0 || abiUpdate) {
            memory = numaMemory &+ devices.memories.reduce(UInt64(0)) { $0 &+ $1.sizeKiB }
        }
        if let mm = maxMemory, mm.size < memory {
            throw VirtError.domainXMLError(
                "maximum memory size must be equal or greater than the actual memory size")
        }
        if currentMemory == 0 || currentMemory > memory { currentMemory = memory }
        // iothreadids: as many as <iothreads> says, missing ids filled with the lowest unused numbers.
        var ids = iothreadIDs
        if !ids.isEmpty {
            var next: UInt32 = 1
            while ids.count < Int(iothreads ?? 0) {
                while ids.contains(where: { $0.id == next }) { next += 1 }
                ids.append(IOThreadID(id: next))
                iothreadAutofill.insert(next)
            }
            iothreadIDs = ids
            iothreads = max(iothreads ?? 0, UInt32(ids.count))
        }
        // Automatic vCPU placement implies automatic memory placement (libvirt adds the numatune).
        if vcpuPlacement == .auto {
            if var nt = numatune {
                if nt.placement == nil && nt.nodeset == nil && nt.mode != nil {
                    nt.placement = "auto"
                    numatune = nt
                }
            } else {
                let mem = XMLElement(name: "memory", attributes: [("mode", "strict"), ("placement", "auto")])
                extraElements.append(XMLElement(name: "numatune", children: [.element(mem)]))
            }
        }
        if let cur = currentVcpus {
            if cur > vcpus {
                throw VirtError.domainConfigUnsupported(
                    "maximum vCPU count must not be less than current vCPU count")
            }
            if cur == vcpus { currentVcpus = nil }
        }
        try postParseVcpus()
        let cells = cpu?.numaCells ?? []
        // libvirt checks the cells against each other first (as it reads them), each against those before it.
        for i in cells.indices {
            for j in 0..<i {
                if let a = cells[i].cpus?.cpus, let b = cells[j].cpus?.cpus, !Set(a).isDisjoint(with: b) {
                    throw VirtError.domainConfigUnsupported("NUMA cells \(i) and \(j) have overlapping vCPU ids")
                }
            }
        }
        let numaCPUs = cells.reduce(0) { $0 + ($1.cpus?.cpus.count ?? 0) }
        if numaCPUs > Int(vcpus) {
            throw VirtError.domainInternal("Number of CPUs in <numa> exceeds the <vcpu> count")
        }
        let maxID = cells.compactMap { $0.cpus?.cpus.last }.max() ?? 0
        if maxID >= vcpus {
            throw VirtError.domainInternal("CPU IDs in <numa> exceed the <vcpu> count")
        }
        if perDeviceBootOrder && !os.bootDevices.isEmpty {
            throw VirtError.domainConfigUnsupported(
                "per-device boot elements cannot be used together with os/boot elements")
        }
        // A hvm guest without any boot order boots from the first disk, unless devices carry their own.
        if os.type == "hvm" && os.bootDevices.isEmpty && bootloader == nil && !perDeviceBootOrder {
            os.bootDevices = [.disk]
        }
    }

    /// Whether any device under `<devices>` has `<boot order='…'/>`.
    static func hasBootOrder(_ devices: XMLElement) -> Bool {
        for d in devices.elements {
            for c in d.elements where c.name == "boot" && c.attr("order") != nil { return true }
        }
        return false
    }

    /// libvirt keeps only namespaced elements in `<metadata>` (the first of each namespace) and drops
    /// white-space-only text between them. Namespaces declared on `<domain>` and used inside are declared on
    /// `<metadata>`, as libxml2 does when it copies the node.
    static func sanitizeMetadata(_ m: XMLElement, rootNamespaces: [(prefix: String, href: String)] = [])
        -> XMLElement {
        var out = XMLElement(name: "metadata", line: m.line)
        out.namespaces = m.namespaces
        var seen = Set<String>()
        for c in m.children {
            guard case .element(let e) = c else { continue }
            guard let ns = namespaceURI(of: e, inherited: m.namespaces + rootNamespaces) else { continue }
            if seen.contains(ns) { continue }
            seen.insert(ns)
            // Declare on <metadata> the root's namespaces this subtree uses without declaring them.
            var used: [String] = []
            collectPrefixes(e, scope: [], into: &used)
            for pfx in used where !out.namespaces.contains(where: { $0.prefix == pfx }) {
                if let d = rootNamespaces.first(where: { $0.prefix == pfx }) { out.namespaces.append(d) }
            }
            out.children.append(.element(stripBlanks(e)))
        }
        return out
    }

    /// Prefixes used by `e` and its descendants (elements and attributes) that they do not declare themselves.
    static func collectPrefixes(_ e: XMLElement, scope: [String], into used: inout [String]) {
        let here = scope + e.namespaces.map(\.prefix)
        var prefixes: [String] = []
        if let p = e.prefix { prefixes.append(p) }
        for a in e.attributes {
            if let colon = a.name.firstIndex(of: ":") {
                let p = String(a.name[..<colon])
                if p != "xmlns" && p != "xml" { prefixes.append(p) }
            }
        }
        for p in prefixes where !here.contains(p) && !used.contains(p) { used.append(p) }
        for k in e.elements { collectPrefixes(k, scope: here, into: &used) }
    }

    static func namespaceURI(of e: XMLElement, inherited: [(prefix: String, href: String)]) -> String? {
        let pfx = e.prefix ?? ""
        for n in e.namespaces where n.prefix == pfx { return n.href }
        for n in inherited where n.prefix == pfx { return n.href }
        return nil
    }

    static func stripBlanks(_ e: XMLElement) -> XMLElement {
        var out = e
        let hasElement = e.children.contains { if case .element = $0 { true } else { false } }
        out.children = e.children.compactMap { c in
            switch c {
            case .element(let k): return .element(stripBlanks(k))
            case .text(let t): return (hasElement && t.trimmingSpaces.isEmpty) ? nil : c
            default: return c
            }
        }
        return out
    }
}
