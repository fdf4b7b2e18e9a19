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

        // USB: a default controller unless one is given; given ones without a model get the default model.
        if !devs.controllers.contains(where: { $0.type == .usb }) {
            // libvirt adds it before the controllers its generic parser adds for disks and channels, which
            // end the list (no address, no model).
            var at = devs.controllers.count
            let implicitTypes: Set<ControllerType> = [.scsi, .fdc, .ide, .sata, .virtioSerial, .ccid]
            while at > 0, implicitTypes.contains(devs.controllers[at - 1].type),
                  devs.controllers[at - 1].info.address == nil, devs.controllers[at - 1].model == nil {
                at -= 1
            }
            devs.controllers.insert(Controller(type: .usb, index: 0), at: at)
        }
        if !devs.controllers.contains(where: { $0.type == .pci && $0.index == 0 }) {
            insert(Controller(type: .pci, index: 0, model: q35 ? .pcieRoot : .pciRoot), into: &devs)
        }
        for i in devs.controllers.indices where devs.controllers[i].type == .usb && devs.controllers[i].model == nil {
            devs.controllers[i].model = q35 ? .qemuXHCI : .piix3UHCI
        }
        if q35 {
            if !devs.controllers.contains(where: { $0.type == .sata && $0.index == 0 }) {
                insert(Controller(type: .sata, index: 0), into: &devs)
            }
        } else if !devs.controllers.contains(where: { $0.type == .ide && $0.index == 0 }) {
            insert(Controller(type: .ide, index: 0), into: &devs)
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
