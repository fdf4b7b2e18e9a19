import VirtCore

/// The QEMU driver's additions to a parsed definition before it runs (libvirt's qemu post-parse callbacks):
/// the canonical machine type, implicit root/USB/IDE/SATA controllers, default controller, NIC and video
/// models and the default memory balloon. Idempotent.
enum QEMUDomainDefaults {
    static func isQ35(_ machine: String) -> Bool { machine.contains("q35") }

    /// A `<panic>` without a model is ISA (pvpanic) on x86, as libvirt's post-parse sets it.
    static func setPanicModel(_ def: inout DomainDefinition) {
        for i in def.devices.other.indices where def.devices.other[i].element.name == "panic"
            && def.devices.other[i].element.attr("model") == nil {
            def.devices.other[i].element.attributes.insert((name: "model", value: "isa"), at: 0)
        }
    }

    static func apply(to def: inout DomainDefinition, capabilities: QEMUCapabilities?) {
        let machine = def.os.machine ?? capabilities?.defaultMachine ?? "pc"
        let canonical = capabilities?.canonicalMachine(machine) ?? machine
        def.os.machine = canonical
        setPanicModel(&def)
        let q35 = isQ35(canonical)
        // Memory sizes are rounded up to whole MiB (libvirt's qemuDomainAlignMemorySizes on x86).
        def.memory = alignMiB(def.memory)
        if def.currentMemory > def.memory || def.currentMemory == 0 { def.currentMemory = def.memory }
        if var cpu = def.cpu {
            for i in cpu.numaCells.indices { cpu.numaCells[i].memory = alignMiB(cpu.numaCells[i].memory) }
            def.cpu = cpu
        }
        var devs = def.devices

        // The machine's default controllers (USB, on q35 the SATA controller, the PCI root), in libvirt's order:
        // its QEMU driver adds them before its generic parser adds the controllers disks and channels need,
        // which end the list (no address, no model).
        let implicitTypes: Set<ControllerType> = [.scsi, .fdc, .ide, .sata, .virtioSerial, .ccid]
        var tail: [Controller] = []
        while let last = devs.controllers.last, implicitTypes.contains(last.type), last.info.address == nil,
              last.model == nil {
            tail.insert(devs.controllers.removeLast(), at: 0)
        }
        if !devs.controllers.contains(where: { $0.type == .usb }) {
            devs.controllers.append(Controller(type: .usb, index: 0))
        }
        if q35 && !devs.controllers.contains(where: { $0.type == .sata && $0.index == 0 }) {
            if let i = tail.firstIndex(where: { $0.type == .sata && $0.index == 0 }) {
                devs.controllers.append(tail.remove(at: i))
            } else {
                devs.controllers.append(Controller(type: .sata, index: 0))
            }
        }
        if !devs.controllers.contains(where: { $0.type == .pci && $0.index == 0 }) {
            insert(Controller(type: .pci, index: 0, model: q35 ? .pcieRoot : .pciRoot), into: &devs)
        }
        devs.controllers += tail
        for i in devs.controllers.indices where devs.controllers[i].type == .usb && devs.controllers[i].model == nil {
            devs.controllers[i].model = q35 ? .qemuXHCI : .piix3UHCI
        }
        for i in devs.controllers.indices where devs.controllers[i].type == .scsi && devs.controllers[i].model == nil {
            devs.controllers[i].model = .lsilogic
        }
        for i in devs.interfaces.indices where devs.interfaces[i].model == nil {
            devs.interfaces[i].model = NetModel.rtl8139.rawValue
        }
        for i in devs.videos.indices where devs.videos[i].model == .default {
            devs.videos[i].model = .vga
        }
        for i in devs.videos.indices where devs.videos[i].vram == nil {
            switch devs.videos[i].model {
            case .vga, .cirrus, .vmvga, .qxl, .bochs: devs.videos[i].vram = 16384
            default: break
            }
        }
        if devs.memballoon == nil { devs.memballoon = MemBalloon(model: .virtio) }
        def.devices = devs
    }

    /// The defaults libvirt's parser and QEMU post-parse add that do not change the command line, applied when
    /// a definition is parsed (define, create): the default CPU model, the implicit PS/2 mouse and keyboard of
    /// x86 machines, the `<audio>` backend, ISA serial targets, and the model names of PCI controllers.
    /// libvirt's qemuDomainDeviceDiskDefPostParse: the driver name `qemu` and, but for volume disks, the format
    /// raw when the XML gives none.
    static func applyDiskDrivers(_ disks: inout [Disk]) {
        for i in disks.indices {
            if disks[i].driver.name == nil { disks[i].driver.name = "qemu" }
            if disks[i].driver.format == nil && disks[i].type != .volume { disks[i].driver.format = .raw }
            // An `<encryption>` without an engine is QEMU's (`engine='qemu'`, shown after the format).
            for j in disks[i].source.extraChildren.indices where disks[i].source.extraChildren[j].name == "encryption" {
                setQEMUEngine(&disks[i].source.extraChildren[j])
            }
            for j in disks[i].extra.indices where disks[i].extra[j].name == "encryption" {
                setQEMUEngine(&disks[i].extra[j])
            }
        }
    }

    static func setQEMUEngine(_ e: inout XMLElement) {
        let engine = e.attr("engine")
        guard engine == nil || engine == "default" else { return }
        e.attributes.removeAll { $0.name == "engine" }
        let at = (e.attributes.firstIndex { $0.name == "format" }).map { $0 + 1 } ?? e.attributes.count
        e.attributes.insert(("engine", "qemu"), at: at)
    }

    static func applyParseTime(to def: inout DomainDefinition, capabilities: QEMUCapabilities) {
        let arch = def.os.arch ?? capabilities.arch
        let x86 = arch == "x86_64" || arch == "i686"
        // Also a <cpu> that only has a topology or NUMA cells (libvirt's qemuDomainDefSetDefaultCPU).
        if x86 && (def.cpu == nil || (def.cpu?.mode == .custom && def.cpu?.model == nil)) {
            var cpu = def.cpu ?? CPUDefinition(mode: .custom)
            cpu.modeGiven = true
            cpu.match = .exact
            cpu.check = CPUDefinition.Check.none
            cpu.model = arch == "i686" ? "qemu32" : "qemu64"
            cpu.fallback = .forbid
            def.cpu = cpu
        }
        var devs = def.devices
        applyDiskDrivers(&devs.disks)
        if x86 {
            for type in [InputType.mouse, .keyboard]
            where !devs.inputs.contains(where: { $0.type == type && $0.bus == .ps2 }) {
                devs.inputs.append(Input(type: type, bus: .ps2))
            }
        }
        if !devs.other.contains(where: { $0.element.name == "audio" })
            && !devs.graphics.contains(where: { $0.type == .spice }) {
            var audio = XMLElement(name: "audio")
            audio.attributes = [(name: "id", value: "1"), (name: "type", value: "none")]
            devs.other.append(GenericDevice(element: audio))
        }
        for i in devs.serials.indices where devs.serials[i].targetType == nil || devs.serials[i].targetType == "isa-serial" {
            guard x86 else { break }
            devs.serials[i].targetType = "isa-serial"
            if devs.serials[i].targetModel == nil { devs.serials[i].targetModel = "isa-serial" }
        }
        for i in devs.serials.indices where devs.serials[i].targetModel == nil {
            // A PCI or USB serial port's model is its target type (libvirt's qemuDomainChrDefPostParse).
            if let t = devs.serials[i].targetType, t == "pci-serial" || t == "usb-serial" {
                devs.serials[i].targetModel = t
            }
        }
        for i in devs.controllers.indices where devs.controllers[i].type == .pci && devs.controllers[i].modelName == nil {
            switch devs.controllers[i].model {
            case .pcieRootPort?: devs.controllers[i].modelName = "pcie-root-port"
            case .pcieToPCIBridge?: devs.controllers[i].modelName = "pcie-pci-bridge"
            case .pciBridge?: devs.controllers[i].modelName = "pci-bridge"
            default: break
            }
        }
        def.devices = devs
    }

    static func alignMiB(_ kib: UInt64) -> UInt64 { (kib + 1023) / 1024 * 1024 }

    /// Inserts a controller after the last one of the same type with a lower index (libvirt's order).
    static func insert(_ c: Controller, into devs: inout DomainDevices) {
        var at = devs.controllers.count
        if let i = devs.controllers.firstIndex(where: { $0.type == c.type && $0.index > c.index }) {
            at = i
        } else if let i = devs.controllers.lastIndex(where: { $0.type == c.type }) {
            at = i + 1
        }
        devs.controllers.insert(c, at: at)
    }
}
