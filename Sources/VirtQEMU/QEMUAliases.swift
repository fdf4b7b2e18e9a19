import VirtCore

/// Device aliases as libvirt's QEMU driver names them (`qemu_alias.c`): `virtio-disk0`, `ide0-0-0`, `net0`,
/// `serial0`, `usb`, `pci.0`, `balloon0`, … Devices that already have an alias keep it.
enum QEMUAliases {
    static func controllerAlias(_ c: Controller, q35: Bool) -> String {
        switch c.type {
        case .sata where c.index == 0 && q35: return "ide"  // the ICH9 AHCI controller's buses are ide.N
        case .pci: return c.model == .pcieRoot ? "pcie.\(c.index)" : "pci.\(c.index)"
        case .ide where c.index == 0: return "ide"
        case .usb where c.index == 0: return "usb"
        default: return "\(c.type.rawValue)\(c.index)"
        }
    }

    static func diskAlias(_ d: Disk, controllers: [Controller]) -> String? {
        let a: DriveAddress? = if case .drive(let x)? = d.info.address { x } else { nil }
        switch d.target.bus {
        case .ide?:
            guard let a else { return nil }
            return "ide\(a.controller)-\(a.bus)-\(a.unit)"
        case .sata?:
            guard let a else { return nil }
            return "sata\(a.controller)-\(a.bus)-\(a.unit)"
        case .fdc?:
            guard let a else { return nil }
            return "fdc\(a.controller)-\(a.bus)-\(a.unit)"
        case .scsi?:
            guard let a else { return nil }
            let model = controllers.first { $0.type == .scsi && $0.index == Int32(a.controller) }?.model
            if model == .lsilogic { return "scsi\(a.controller)-\(a.bus)-\(a.unit)" }
            return "scsi\(a.controller)-\(a.bus)-\(a.target)-\(a.unit)"
        case .virtio?:
            return "virtio-disk\(Disk.nameToIndex(d.target.dev) ?? 0)"
        case .usb?:
            return "usb-disk\(Disk.nameToIndex(d.target.dev) ?? 0)"
        default:
            return nil
        }
    }

    static func assign(_ def: inout DomainDefinition) {
        var d = def.devices
        for i in d.controllers.indices where d.controllers[i].info.alias == nil {
            d.controllers[i].info.alias = controllerAlias(d.controllers[i],
                                                          q35: QEMUDomainDefaults.isQ35(def.os.machine ?? ""))
        }
        let controllers = d.controllers
        for i in d.disks.indices where d.disks[i].info.alias == nil {
            d.disks[i].info.alias = diskAlias(d.disks[i], controllers: controllers)
        }
        func fill<T>(_ list: inout [T], _ prefix: String, _ path: WritableKeyPath<T, DeviceInfo>) {
            for i in list.indices where list[i][keyPath: path].alias == nil {
                list[i][keyPath: path].alias = "\(prefix)\(i)"
            }
        }
        fill(&d.interfaces, "net", \.info)
        fill(&d.serials, "serial", \.info)
        fill(&d.parallels, "parallel", \.info)
        for i in d.consoles.indices where d.consoles[i].info.alias == nil {
            // The first console of type serial is the first serial port.
            if i == 0, d.consoles[i].targetType == "serial", let s = d.serials.first?.info.alias {
                d.consoles[i].info.alias = s
            } else {
                d.consoles[i].info.alias = "console\(i)"
            }
        }
        fill(&d.channels, "channel", \.info)
        fill(&d.inputs, "input", \.info)
        fill(&d.tpms, "tpm", \.info)
        fill(&d.sounds, "sound", \.info)
        fill(&d.videos, "video", \.info)
        fill(&d.hostdevs, "hostdev", \.info)
        fill(&d.redirdevs, "redir", \.info)
        fill(&d.watchdogs, "watchdog", \.info)
        fill(&d.rngs, "rng", \.info)
        // USB hubs: hubN by position, the alias before the address as libvirt writes it.
        var hubIndex = 0
        for i in d.other.indices where d.other[i].element.name == "hub" {
            defer { hubIndex += 1 }
            guard d.other[i].element.child("alias") == nil else { continue }
            var alias = XMLElement(name: "alias")
            alias.attributes = [(name: "name", value: "hub\(hubIndex)")]
            var e = d.other[i].element
            let at = e.children.firstIndex { if case .element(let c) = $0 { c.name == "address" } else { false } }
                ?? e.children.count
            e.children.insert(.element(alias), at: at)
            d.other[i].element = e
        }
        // A (NV)DIMM is named after its slot (libvirt's qemuAssignDeviceMemoryAlias), the others numbered.
        for i in d.memories.indices where d.memories[i].info.alias == nil {
            d.memories[i].info.alias = QEMUMemoryDevices.alias(for: d.memories[i], among: d.memories)
        }
        // A balloon of model none is no device: no alias (libvirt's qemuAssignDeviceAliases).
        if let b = d.memballoon, b.model != .none, b.info.alias == nil { d.memballoon?.info.alias = "balloon0" }
        def.devices = d
    }
}
