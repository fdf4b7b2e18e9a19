/// `<devices>`: every device of a domain, in libvirt's formatting order.
public struct DomainDevices: Sendable, Hashable {
    /// `<emulator>`.
    public var emulator: String?
    public var disks: [Disk] = []
    public var controllers: [Controller] = []
    public var interfaces: [NetInterface] = []
    public var serials: [CharDevice] = []
    public var parallels: [CharDevice] = []
    /// Consoles as libvirt keeps them: when the first console is the serial-port console, it mirrors
    /// `serials[0]`.
    public var consoles: [CharDevice] = []
    public var channels: [CharDevice] = []
    public var inputs: [Input] = []
    public var tpms: [TPM] = []
    public var graphics: [Graphics] = []
    public var sounds: [Sound] = []
    public var videos: [Video] = []
    public var hostdevs: [Hostdev] = []
    public var redirdevs: [Redirdev] = []
    public var watchdogs: [Watchdog] = []
    public var memballoon: MemBalloon?
    public var rngs: [RNG] = []
    public var memories: [MemoryDevice] = []
    /// Device kinds not modelled yet, by element name, kept in document order within each kind.
    public var other: [GenericDevice] = []

    public init(emulator: String? = nil) {
        self.emulator = emulator
    }

    /// Element names of kinds kept as ``GenericDevice``, in libvirt's formatting order, with where each group
    /// goes relative to the typed kinds.
    static let genericBeforeInterfaces = ["lease", "filesystem"]
    static let genericAfterInterfaces = ["smartcard"]
    static let genericAfterSound = ["audio"]
    static let genericAfterRedirdev = ["redirfilter", "hub"]
    static let genericAfterRNG = ["nvram", "panic", "shmem"]
    static let genericAfterMemory = ["iommu", "vsock", "crypto", "pstore"]
    static var genericNames: Set<String> {
        Set(genericBeforeInterfaces + genericAfterInterfaces + genericAfterSound + genericAfterRedirdev
            + genericAfterRNG + genericAfterMemory)
    }

    /// Reads a `<devices>` element, applying libvirt's generic post-parse defaults (disk buses and drive
    /// addresses, controller indexes and implicit controllers, serial/console compatibility, port numbers,
    /// video defaults, generated MAC addresses) and its validation.
    public static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> DomainDevices {
        var d: DomainDevices
        if options.validate {
            try DeviceSchema.check(el)
            // The schema rejects what the per-device parsers reject (bad enum values, missing required
            // parts) before libvirt's parser would see it.
            do {
                d = try parseDevices(el, options: options)
            } catch {
                throw DeviceError.schema("devices: \(error.message)")
            }
        } else {
            d = try parseDevices(el, options: options)
        }
        try d.postParse()
        try d.validate()
        return d
    }

    /// Reads every device element, kind by kind, as libvirt's parser does.
    static func parseDevices(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> DomainDevices {
        var d = DomainDevices(emulator: el.childText("emulator"))
        let generic = genericNames
        // libvirt parses kind by kind; errors surface in that order.
        var parsedDisks: [Disk] = []
        for e in el.children("disk") { parsedDisks.append(try Disk.parse(e, options: options)) }
        for disk in parsedDisks { d.insertDisk(disk) }
        for e in el.children("controller") { d.insertController(try Controller.parse(e, options: options)) }
        for e in el.children("interface") { d.interfaces.append(try NetInterface.parse(e, options: options)) }
        for e in el.children("serial") {
            var c = try CharDevice.parse(e, kind: .serial, options: options)
            // ISA serial ports are numbered after parsing (lowest free ISA port); others get the next port.
            if c.targetPort == nil && c.targetType != "isa-serial" {
                c.targetPort = (d.serials.compactMap(\.targetPort).max() ?? -1) + 1
            }
            d.serials.append(c)
        }
        for e in el.children("parallel") {
            var c = try CharDevice.parse(e, kind: .parallel, options: options)
            if c.targetPort == nil { c.targetPort = (d.parallels.compactMap(\.targetPort).max() ?? -1) + 1 }
            d.parallels.append(c)
        }
        for (i, e) in el.children("console").enumerated() {
            var c = try CharDevice.parse(e, kind: .console, options: options)
            c.targetPort = Int32(i)
            d.consoles.append(c)
        }
        for e in el.children("channel") { d.channels.append(try CharDevice.parse(e, kind: .channel, options: options)) }
        for e in el.children("input") { d.inputs.append(try Input.parse(e, options: options)) }
        for e in el.children("tpm") { d.tpms.append(try TPM.parse(e, options: options)) }
        for e in el.children("graphics") { d.graphics.append(try Graphics.parse(e, options: options)) }
        for e in el.children("sound") { d.sounds.append(try Sound.parse(e, options: options)) }
        for e in el.children("video") { d.videos.append(try Video.parse(e, options: options)) }
        for e in el.children("hostdev") { d.hostdevs.append(try Hostdev.parse(e, options: options)) }
        for e in el.children("redirdev") { d.redirdevs.append(try Redirdev.parse(e, options: options)) }
        for e in el.children("watchdog") { d.watchdogs.append(try Watchdog.parse(e, options: options)) }
        if d.watchdogs.count > 1 {
            // libvirt 9.0 accepts one watchdog per domain.
            throw DeviceError.internalError("only a single watchdog device is supported")
        }
        let balloons = el.children("memballoon")
        if balloons.count > 1 {
            throw DeviceError.internalError("only a single memory balloon device is supported")
        }
        if let b = balloons.first { d.memballoon = try MemBalloon.parse(b, options: options) }
        for e in el.children("rng") { d.rngs.append(try RNG.parse(e, options: options)) }
        for e in el.children("memory") { d.memories.append(try MemoryDevice.parse(e, options: options)) }
        for e in el.elements where e.prefix == nil && generic.contains(e.name) {
            d.other.append(GenericDevice(element: e))
        }
        return d
    }

    /// libvirt's `virDomainDiskInsert`: keeps disks grouped by bus and ordered by target name within a bus.
    mutating func insertDisk(_ disk: Disk) {
        var insertAt = -1
        let newIdx = Disk.nameToIndex(disk.target.dev) ?? -1
        for i in stride(from: disks.count - 1, through: 0, by: -1) where disks[i].target.bus == disk.target.bus {
            if (Disk.nameToIndex(disks[i].target.dev) ?? -1) > newIdx {
                insertAt = i
            } else if insertAt == -1 {
                insertAt = i + 1
            }
        }
        if insertAt == -1 { disks.append(disk) } else { disks.insert(disk, at: insertAt) }
    }

    /// libvirt's `virDomainControllerInsert`: keeps controllers of a type ordered by index.
    mutating func insertController(_ c: Controller) {
        var insertAt = -1
        for i in stride(from: controllers.count - 1, through: 0, by: -1) where controllers[i].type == c.type {
            if c.index == -1 {
                insertAt = i + 1
                break
            }
            if controllers[i].index > c.index {
                insertAt = i
            } else if controllers[i].index < c.index && insertAt == -1 {
                insertAt = i + 1
            }
        }
        if insertAt == -1 { controllers.append(c) } else { controllers.insert(c, at: insertAt) }
    }

    func hasController(_ type: ControllerType, _ index: Int32) -> Bool {
        controllers.contains { $0.type == type && $0.index == index }
    }

    mutating func addImplicitController(_ type: ControllerType, _ index: Int32) {
        if !hasController(type, index) { controllers.append(Controller(type: type, index: index)) }
    }

    mutating func postParse() throws(VirtError) {
        for i in disks.indices { try disks[i].postParse() }
        // Missing controller indexes (libvirt's virDomainAssignControllerIndexes): a USB2 companion right after
        // another USB2 controller joins that one's index unless the index already has this model; otherwise
        // the lowest index not used by a controller of the same type.
        let usb2: Set<ControllerModel> = [.ich9EHCI1, .ich9UHCI1, .ich9UHCI2, .ich9UHCI3]
        func isUSB2(_ c: Controller) -> Bool { c.type == .usb && c.model.map { usb2.contains($0) } == true }
        for i in controllers.indices where controllers[i].index == -1 {
            if i > 0, isUSB2(controllers[i]),
               let prev = controllers[..<i].last(where: { $0.type == .usb }), isUSB2(prev),
               !controllers.contains(where: { $0.type == .usb && $0.index == prev.index
                                              && $0.model == controllers[i].model }) {
                controllers[i].index = prev.index
                continue
            }
            let used = Set(controllers.filter { $0.type == controllers[i].type }.map(\.index))
            var n: Int32 = 0
            while used.contains(n) { n += 1 }
            controllers[i].index = n
        }
        // Implicit disk controllers: every index up to the highest one a disk address uses.
        for (ctype, bus) in [(ControllerType.scsi, DiskBus.scsi), (.fdc, .fdc), (.ide, .ide), (.sata, .sata)] {
            var maxIdx: Int32 = -1
            for disk in disks where disk.target.bus == bus {
                if case .drive(let a)? = disk.info.address { maxIdx = max(maxIdx, Int32(a.controller)) }
            }
            if maxIdx >= 0 {
                for idx in 0...maxIdx { addImplicitController(ctype, idx) }
            }
        }
        // virtio-serial controllers for virtio channels and consoles.
        for c in channels + consoles where c.targetType == "virtio" {
            var idx: Int32 = 0
            if case .virtioSerial(let ctl, _, _)? = c.info.address { idx = Int32(ctl) }
            addImplicitController(.virtioSerial, idx)
        }
        // ccid controllers and addresses for smartcards.
        var slot: UInt32 = 0
        for i in other.indices where other[i].element.name == "smartcard" {
            var idx: Int32 = 0
            if let a = other[i].element.child("address"), a.attr("type") == "ccid" {
                idx = Int32(a.attr("controller") ?? "0") ?? 0
            } else if other[i].element.child("address") == nil {
                let addr = XMLElement(name: "address", attributes: [("type", "ccid"), ("controller", "0"),
                                                                     ("slot", String(slot))])
                other[i].element.children.append(.element(addr))
                slot += 1
            }
            addImplicitController(.ccid, idx)
        }
        // SCSI host devices without an address get the first free unit (libvirt's
        // virDomainHostdevAssignAddress: 7 units per narrow SCSI bus, controllers in order).
        for i in hostdevs.indices where hostdevs[i].type == "scsi" && hostdevs[i].info.address == nil {
            var used = Set<DriveAddress>()
            for d in disks where d.target.bus == .scsi {
                if case .drive(let a)? = d.info.address { used.insert(a) }
            }
            for h in hostdevs where h.type == "scsi" {
                if case .drive(let a)? = h.info.address { used.insert(a) }
            }
            var ctl: UInt32 = 0
            search: while true {
                for unit in UInt32(0)..<7 {
                    let a = DriveAddress(controller: ctl, bus: 0, target: 0, unit: unit)
                    if !used.contains(a) {
                        hostdevs[i].info.address = .drive(a)
                        break search
                    }
                }
                ctl += 1
            }
        }
        // SCSI controllers for SCSI host devices: every index up to the highest one used.
        var maxHostdevSCSI: Int32 = -1
        for h in hostdevs where h.type == "scsi" {
            if case .drive(let a)? = h.info.address { maxHostdevSCSI = max(maxHostdevSCSI, Int32(a.controller)) }
        }
        if maxHostdevSCSI >= 0 {
            for idx in 0...maxHostdevSCSI { addImplicitController(.scsi, idx) }
        }
        for i in serials.indices where serials[i].targetPort == nil {
            let used = Set(serials.filter { $0.targetType == "isa-serial" }.compactMap(\.targetPort))
            var p: Int32 = 0
            while used.contains(p) { p += 1 }
            serials[i].targetPort = p
        }
        try addConsoleCompat()
        for i in inputs.indices { inputs[i].postParse() }
        // A graphics device without a video device gets the default one.
        if videos.isEmpty && !graphics.isEmpty { videos.append(Video(model: .default)) }
        if videos.filter(\.primary).count > 1 {
            throw DeviceError.unsupported("Only one primary video device is supported")
        }
        if videos.count > 1 && videos.contains(where: { $0.model == .none }) {
            throw DeviceError.unsupported("a 'none' video type must be the only video device defined for the domain")
        }
        if let p = videos.firstIndex(where: { $0.primary }), p != 0 {
            let v = videos.remove(at: p)
            videos.insert(v, at: 0)
        }
        for i in videos.indices {
            videos[i].postParse()
            videos[i].primary = i == 0 && videos[i].model != .none
        }
    }

    /// libvirt's serial/console compatibility: the first console of an HVM guest is the first serial port.
    mutating func addConsoleCompat() throws(VirtError) {
        if let first = consoles.first, first.targetType == nil || first.targetType == "serial",
           first.info.address == nil {
            if serials.isEmpty {
                var s = first
                s.kind = .serial
                s.targetType = nil
                s.targetPort = 0
                serials.append(s)
            } else if consoles[0].source != serials[0].source {
                consoles[0].source = serials[0].source
            }
            consoles[0].targetType = "serial"
        }
        if consoles.dropFirst().contains(where: { $0.targetType == nil || $0.targetType == "serial" }) {
            throw DeviceError.unsupported("Only the first console can be a serial port")
        }
        // Only a serial port the guest sees as its console (not a USB or PCI serial adapter) gets the stub.
        let consoleCapable = serials.first.map { $0.targetType != "usb-serial" && $0.targetType != "pci-serial" }
            ?? false
        if consoleCapable && (consoles.isEmpty || consoles[0].targetType != "serial") {
            var c = serials[0]
            c.kind = .console
            c.targetType = "serial"
            c.targetModel = nil
            c.info = DeviceInfo()
            consoles.insert(c, at: 0)
        }
    }

    func validate() throws(VirtError) {
        // Boot orders are unique across devices.
        var orders = Set<UInt32>()
        for (_, info) in deviceInfos {
            guard let o = info.bootOrder else { continue }
            if !orders.insert(o).inserted {
                throw DeviceError.unsupported("boot order '\(o)' used for more than one device")
            }
        }
        // One controller per type and index (USB companion controllers share their master's index).
        var seen = Set<String>()
        for c in controllers where c.type != .usb {
            if !seen.insert("\(c.type.rawValue)/\(c.index)").inserted {
                throw DeviceError.xml("Multiple '\(c.type.rawValue)' controllers with index '\(c.index)'")
            }
        }
        for disk in disks { try disk.validate() }
        for (i, a) in disks.enumerated() {
            guard case .drive(let x)? = a.info.address else { continue }
            for b in disks[(i + 1)...] where b.target.bus == a.target.bus {
                if case .drive(let y)? = b.info.address, x == y {
                    throw DeviceError.unsupported("Found duplicate drive address for disk with target name "
                        + "'\(a.target.dev)' controller='\(x.controller)' bus='\(x.bus)' target='\(x.target)' "
                        + "unit='\(x.unit)'")
                }
            }
        }
        for (i, a) in disks.enumerated() {
            for b in disks[(i + 1)...] where a.target.dev == b.target.dev {
                func name(_ d: Disk) -> String { d.source.path ?? d.source.name ?? d.source.volume ?? "(null)" }
                throw DeviceError.xml("target '\(a.target.dev)' duplicated for disk sources '\(name(a))' and "
                                      + "'\(name(b))'")
            }
        }
    }

    /// Writes the `<devices>` element.
    public func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        var inner = XMLWriter(indent: w.indent + 2)
        formatChildren(into: &inner, options: options)
        // libvirt always writes an open and a close tag, even with no devices.
        let pad = String(repeating: " ", count: w.indent)
        w.raw("\(pad)<devices>\n\(inner.output)\(pad)</devices>\n")
    }

    /// libvirt's test driver names interfaces without a host-side name `testnetN` (the lowest N not in use)
    /// when a domain is defined.
    public mutating func assignTestDriverInterfaceNames() {
        for i in interfaces.indices where interfaces[i].targetDev == nil {
            var n = 0
            while interfaces.contains(where: { $0.targetDev == "testnet\(n)" }) { n += 1 }
            interfaces[i].targetDev = "testnet\(n)"
        }
    }

    func formatChildren(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.optionalText("emulator", emulator)
        for d in disks { d.format(into: &w, options: options) }
        for c in controllers { c.format(into: &w, options: options) }
        formatGeneric(Self.genericBeforeInterfaces, into: &w, options: options)
        for n in interfaces { n.format(into: &w, options: options) }
        formatGeneric(Self.genericAfterInterfaces, into: &w, options: options)
        for s in serials { s.format(into: &w, options: options) }
        for p in parallels { p.format(into: &w, options: options) }
        for (i, c) in consoles.enumerated() {
            if i == 0, c.targetType == "serial", let s = serials.first {
                // The serial console is written from the serial port it mirrors.
                var mirror = s
                mirror.kind = .console
                mirror.targetType = "serial"
                mirror.targetModel = nil
                mirror.format(into: &w, options: options)
            } else {
                c.format(into: &w, options: options)
            }
        }
        for c in channels { c.format(into: &w, options: options) }
        for i in inputs { i.format(into: &w, options: options) }
        for t in tpms { t.format(into: &w, options: options) }
        for g in graphics { g.format(into: &w, options: options) }
        for s in sounds { s.format(into: &w, options: options) }
        formatGeneric(Self.genericAfterSound, into: &w, options: options)
        for v in videos { v.format(into: &w, options: options) }
        for h in hostdevs { h.format(into: &w, options: options) }
        for r in redirdevs { r.format(into: &w, options: options) }
        formatGeneric(Self.genericAfterRedirdev, into: &w, options: options)
        for wd in watchdogs { wd.format(into: &w, options: options) }
        memballoon?.format(into: &w, options: options)
        for r in rngs { r.format(into: &w, options: options) }
        formatGeneric(Self.genericAfterRNG, into: &w, options: options)
        for m in memories { m.format(into: &w, options: options) }
        formatGeneric(Self.genericAfterMemory, into: &w, options: options)
    }

    func formatGeneric(_ names: [String], into w: inout XMLWriter, options: DomainFormatOptions) {
        for n in names {
            for g in other where g.element.name == n { g.format(into: &w, options: options) }
        }
    }
}
