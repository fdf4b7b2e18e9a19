import VirtCore

/// PCI, USB-port and virtio-serial address assignment as libvirt's QEMU driver does it for i440fx and q35
/// machines (`qemu_domain_address.c`), so that the bus/addr values on the command line match.
///
/// i440fx: slot 1 is the PIIX3 (ISA, IDE at 1.1, UHCI at 1.2, ACPI), the primary video card gets slot 2, then
/// devices take the next free slot in libvirt's order: NICs, sound cards, controllers, virtio disks, host
/// devices, balloon, RNGs, watchdog, secondary video cards. q35: the primary video card gets 0:1, the SATA
/// controller 0:1f.2, ICH9 sound 0:1b; PCIe devices each take a free (or a new) pcie-root-port, and new root
/// ports are placed on pcie.0 as functions of the first free slot.
struct QEMUPCIAddresses {
    private var usedSlots = Set<UInt32>()   // bus << 8 | slot
    private var lastSlot: UInt32 = 0
    private let q35: Bool

    init(q35: Bool) { self.q35 = q35 }

    private static func key(_ bus: UInt32, _ slot: UInt32) -> UInt32 { bus << 8 | slot }

    private mutating func reserve(_ a: PCIAddress) { usedSlots.insert(Self.key(a.bus, a.slot)) }

    /// The next free slot on bus 0 after the last one handed out.
    private mutating func nextSlot() -> PCIAddress {
        var s = max(lastSlot, 1)
        while usedSlots.contains(Self.key(0, s)) && s < 31 { s += 1 }
        lastSlot = s
        usedSlots.insert(Self.key(0, s))
        return PCIAddress(domain: 0, bus: 0, slot: s, function: 0)
    }

    static func wantsPCI(_ info: DeviceInfo) -> Bool {
        switch info.address {
        case nil: return true
        case .pci(let a)?: return a.isEmpty && a.function == 0
        default: return false
        }
    }

    static func isPCIe(netModel: String?) -> Bool {
        guard let m = netModel else { return false }
        return m == "virtio" || m == "virtio-non-transitional" || m == "e1000e"
    }

    static func assign(_ def: inout DomainDefinition) {
        let q35 = QEMUDomainDefaults.isQ35(def.os.machine ?? "")
        var st = QEMUPCIAddresses(q35: q35)
        var d = def.devices
        for a in d.usedPCIAddresses { st.reserve(a) }
        if q35 {
            st.reserve(PCIAddress(slot: 0x1f))
            for i in d.controllers.indices where d.controllers[i].type == .sata && d.controllers[i].index == 0
                && wantsPCI(d.controllers[i].info) {
                d.controllers[i].info.address = .pci(PCIAddress(slot: 0x1f, function: 2))
            }
            if let v = d.videos.first, v.model != .none, wantsPCI(v.info), !st.usedSlots.contains(key(0, 1)) {
                d.videos[0].info.address = .pci(PCIAddress(slot: 1))
                st.reserve(PCIAddress(slot: 1))
            }
            for i in d.sounds.indices where d.sounds[i].model == .ich9 && wantsPCI(d.sounds[i].info)
                && !st.usedSlots.contains(key(0, 0x1b)) {
                d.sounds[i].info.address = .pci(PCIAddress(slot: 0x1b))
                st.reserve(PCIAddress(slot: 0x1b))
            }
        } else {
            st.reserve(PCIAddress(slot: 1))
            for i in d.controllers.indices where d.controllers[i].index == 0 && wantsPCI(d.controllers[i].info) {
                if d.controllers[i].type == .ide {
                    d.controllers[i].info.address = .pci(PCIAddress(slot: 1, function: 1))
                } else if d.controllers[i].type == .usb && d.controllers[i].model == .piix3UHCI {
                    d.controllers[i].info.address = .pci(PCIAddress(slot: 1, function: 2))
                }
            }
            if let v = d.videos.first, v.model != .none, wantsPCI(v.info), !st.usedSlots.contains(key(0, 2)) {
                d.videos[0].info.address = .pci(PCIAddress(slot: 2))
                st.reserve(PCIAddress(slot: 2))
            }
        }

        // Root ports that exist and are free, for q35 PCIe devices.
        var freePorts: [Int32] = []
        if q35 {
            let taken = Set(d.usedPCIAddresses.map(\.bus))
            freePorts = d.controllers.filter { $0.type == .pci && $0.model == .pcieRootPort && !taken.contains(UInt32($0.index)) }
                .map(\.index)
        }
        var newPorts: [Int32] = []
        var nextIndex = (d.controllers.filter { $0.type == .pci }.map(\.index).max() ?? 0) + 1
        // Root ports in the order they were handed out, and the bridge's position among their users.
        var portUsers: [Int32] = []
        var bridge: (index: Int32, port: Int32, userPosition: Int)?
        var bridgeSlot: UInt32 = 1
        func takePort() -> Int32 {
            let idx: Int32
            if !freePorts.isEmpty {
                idx = freePorts.removeFirst()
            } else {
                idx = nextIndex
                nextIndex += 1
                newPorts.append(idx)
            }
            portUsers.append(idx)
            return idx
        }
        func place(_ info: inout DeviceInfo, pcie: Bool) {
            guard wantsPCI(info) else { return }
            if q35 && pcie {
                info.address = .pci(PCIAddress(bus: UInt32(takePort()), slot: 0))
            } else if q35 {
                // Conventional PCI devices go behind a pcie-to-pci-bridge, itself in a root port.
                if bridge == nil {
                    let port = takePort()
                    bridge = (nextIndex, port, portUsers.count - 1)
                    nextIndex += 1
                }
                if let b = bridge {
                    info.address = .pci(PCIAddress(bus: UInt32(b.index), slot: bridgeSlot))
                    bridgeSlot += 1
                }
            } else {
                info.address = .pci(st.nextSlot())
            }
        }

        // PCI controllers (bridges) come first.
        for i in d.controllers.indices where d.controllers[i].type == .pci {
            switch d.controllers[i].model {
            case .pciBridge?, .pcieToPCIBridge?, .dmiToPCIBridge?:
                place(&d.controllers[i].info, pcie: d.controllers[i].model != .pciBridge)
            default: break
            }
        }
        for i in d.interfaces.indices where d.interfaces[i].type != .hostdev {
            let m = d.interfaces[i].model
            if m == "usb-net" || m == "spapr-vlan" { continue }
            place(&d.interfaces[i].info, pcie: isPCIe(netModel: m))
        }
        for i in d.sounds.indices {
            switch d.sounds[i].model {
            case .es1370, .ac97, .ich6, .ich9, .ich7, .virtio:
                place(&d.sounds[i].info, pcie: d.sounds[i].model == .virtio)
            default: break
            }
        }
        var ich9Slots: [Int32: UInt32] = [:]
        for i in d.controllers.indices {
            let c = d.controllers[i]
            switch c.type {
            case .pci, .ide, .fdc, .ccid, .xenbus, .isa: continue
            case .usb where c.model == ControllerModel.none: continue
            case .scsi where c.model == .ibmvscsi: continue
            case .sata where q35 && c.index == 0: continue
            default: break
            }
            // ICH9 USB2: the EHCI is function 7 and its UHCI companions functions 0-2 of one slot.
            let companion: [ControllerModel: UInt32] = [.ich9EHCI1: 7, .ich9UHCI1: 0, .ich9UHCI2: 1, .ich9UHCI3: 2]
            if c.type == .usb, let model = c.model, let fn = companion[model] {
                guard wantsPCI(c.info) else { continue }
                let slot: UInt32
                if let s = ich9Slots[c.index] { slot = s } else {
                    slot = st.nextSlot().slot
                    ich9Slots[c.index] = slot
                }
                d.controllers[i].info.address = .pci(PCIAddress(slot: slot, function: fn,
                                                                multifunction: model == .ich9UHCI1 ? true : nil))
                continue
            }
            let pcie = c.type == .virtioSerial || c.model == .virtioSCSI || c.model == .qemuXHCI || c.model == .necXHCI
            place(&d.controllers[i].info, pcie: pcie)
        }
        for i in d.disks.indices where d.disks[i].target.bus == .virtio {
            place(&d.disks[i].info, pcie: true)
        }
        if let b = d.memballoon, b.model != .none && b.model != .xen {
            var info = b.info
            place(&info, pcie: true)
            d.memballoon?.info = info
        }
        for i in d.rngs.indices { place(&d.rngs[i].info, pcie: true) }
        for i in d.watchdogs.indices where d.watchdogs[i].model == .i6300esb {
            place(&d.watchdogs[i].info, pcie: false)
        }
        for i in d.videos.indices.dropFirst() where d.videos[i].model != .none {
            place(&d.videos[i].info, pcie: d.videos[i].model == .virtio)
        }
        for i in d.inputs.indices where d.inputs[i].bus == .virtio {
            place(&d.inputs[i].info, pcie: true)
        }
        for i in d.serials.indices where d.serials[i].targetType == "pci-serial" {
            place(&d.serials[i].info, pcie: false)
        }
        for i in d.memories.indices where d.memories[i].model == .virtioMem || d.memories[i].model == .virtioPMEM {
            place(&d.memories[i].info, pcie: true)
        }

        // libvirt keeps one empty root port for hotplug when it had to add root ports.
        if !newPorts.isEmpty { newPorts.append(nextIndex) }
        for idx in newPorts {
            QEMUDomainDefaults.insert(Controller(type: .pci, index: idx, model: .pcieRootPort), into: &d)
        }
        if let b = bridge {
            // libvirt places controllers before devices: the bridge gets the first root port handed out and
            // the devices before it move up by one.
            var remap: [UInt32: UInt32] = [:]
            for k in 0..<b.userPosition { remap[UInt32(portUsers[k])] = UInt32(portUsers[k + 1]) }
            d.updateDeviceInfos { _, info in
                if case .pci(var a)? = info.address, let nb = remap[a.bus] {
                    a.bus = nb
                    info.address = .pci(a)
                }
            }
            let bridgePort = UInt32(portUsers.first ?? b.port)
            QEMUDomainDefaults.insert(Controller(type: .pci, index: b.index, model: .pcieToPCIBridge,
                                                 info: DeviceInfo(address: .pci(PCIAddress(bus: bridgePort, slot: 0)))),
                                      into: &d)
        }
        // q35: root ports without an address go to the first free slot of pcie.0, function by function.
        if q35 {
            var slot: UInt32 = 0
            var fn: UInt32 = 8
            for i in d.controllers.indices where d.controllers[i].model == .pcieRootPort && wantsPCI(d.controllers[i].info) {
                if fn == 8 {
                    slot = 1
                    while st.usedSlots.contains(key(0, slot)) { slot += 1 }
                    st.reserve(PCIAddress(slot: slot))
                    fn = 0
                }
                var a = PCIAddress(slot: slot, function: fn)
                if fn == 0 { a.multifunction = true }
                d.controllers[i].info.address = .pci(a)
                if d.controllers[i].target.port == nil { d.controllers[i].target.port = slot << 3 | fn }
                if d.controllers[i].target.chassis == nil { d.controllers[i].target.chassis = UInt32(d.controllers[i].index) }
                fn += 1
            }
            // A lone root port in a slot is not multifunction.
            var perSlot: [UInt32: Int] = [:]
            for c in d.controllers where c.model == .pcieRootPort {
                if case .pci(let a)? = c.info.address, a.bus == 0 { perSlot[a.slot, default: 0] += 1 }
            }
            for i in d.controllers.indices where d.controllers[i].model == .pcieRootPort {
                if case .pci(var a)? = d.controllers[i].info.address, a.multifunction == true, perSlot[a.slot] == 1 {
                    a.multifunction = nil
                    d.controllers[i].info.address = .pci(a)
                }
            }
        }
        assignUSBPorts(&d)
        assignVirtioSerialPorts(&d)
        def.devices = d
    }

    /// What `domxml-to-native` does to NICs after assignment (on i440fx): it rebuilds them without their
    /// addresses and gives each, in order, the lowest free slot of bus 0.
    static func reassignNICsAsNativeConversion(_ def: inout DomainDefinition) {
        var d = def.devices
        let nics = d.interfaces.indices.filter {
            if case .pci? = d.interfaces[$0].info.address { return d.interfaces[$0].type != .hostdev }
            return false
        }
        guard !nics.isEmpty else { return }
        for i in nics { d.interfaces[i].info.address = nil }
        var used = Set(d.usedPCIAddresses.filter { $0.bus == 0 }.map(\.slot))
        used.insert(0)
        used.insert(1)
        for i in nics {
            var slot: UInt32 = 1
            while used.contains(slot) && slot < 31 { slot += 1 }
            used.insert(slot)
            d.interfaces[i].info.address = .pci(PCIAddress(slot: slot))
        }
        def.devices = d
    }

    /// Root ports of a USB controller (libvirt's virDomainUSBAddressControllerModelToPorts): ICH9's UHCI
    /// companions count none (their EHCI has the ports), XHCIs their `ports` or 4; nil: unknown.
    static func usbRootPorts(_ c: Controller) -> Int? {
        switch c.model {
        case .piix3UHCI?, .piix4UHCI?, .vt82c686bUHCI?: 2
        case .ich9UHCI1?, .ich9UHCI2?, .ich9UHCI3?: 0
        case .ehci?, .ich9EHCI1?: 6
        case .pciOHCI?: 3
        case .necXHCI?, .qemuXHCI?: c.ports.map(Int.init) ?? 4
        default: nil
        }
    }

    /// The ports of a USB hub.
    static let usbHubPorts = 8

    /// USB addresses as libvirt assigns them (qemuDomainAssignUSBAddresses). When bus 0's controller's root
    /// ports and the ports of the hubs already there cannot take every USB device (hubs counted as devices),
    /// `<hub type='usb'>`s are added (qemuDomainUSBAddressAddHubs, one per 7 devices over). Then each hub
    /// without an address, the user's and the added ones in order, takes the first free port, and its own ports
    /// become free ports (qemuDomainAssignUSBHubs); then each device without an address takes the first free
    /// port: the root's first, then the hubs' (`1.1`, `1.2`, …, in the order of the hubs' ports).
    /// `addHubs` false: a hot-plugged device, for which libvirt adds no hub (virDomainUSBAddressEnsure).
    static func assignUSBPorts(_ d: inout DomainDevices, addHubs: Bool = true) {
        // Bus 0's controller: of ICH9's set, the EHCI (its UHCI companions have no ports of their own).
        guard let controller = d.controllers.first(where: { $0.type == .usb && $0.index == 0 && usbRootPorts($0) != 0 }),
              controller.model != ControllerModel.none else { return }
        func isUSBHub(_ g: GenericDevice) -> Bool { g.element.name == "hub" && (g.element.attr("type") ?? "usb") == "usb" }
        func hubPort(_ g: GenericDevice) -> String? {
            guard let a = g.element.child("address"), a.attr("type") == "usb" else { return nil }
            return a.attr("port")
        }
        var used = Set<String>()
        for (_, info) in d.deviceInfos { if case .usb(0, let p?)? = info.address { used.insert(p) } }
        for h in d.other where isUSBHub(h) { if let p = hubPort(h) { used.insert(p) } }
        var devices = 0
        func count(_: DeviceInfo) { devices += 1 }
        for x in d.disks where x.target.bus == .usb { count(x.info) }
        for x in d.inputs where x.bus == .usb { count(x.info) }
        for x in d.serials where x.targetType == "usb-serial" { count(x.info) }
        for x in d.sounds where x.model == .usb { count(x.info) }
        for x in d.redirdevs { count(x.info) }
        let hubCount = d.other.filter(isUSBHub).count
        let roots = usbRootPorts(controller)
        if let roots, addHubs {
            let available = roots + hubCount * usbHubPorts
            let wanted = devices + hubCount
            if wanted > available {
                for _ in 0..<((wanted - available + 1 + usbHubPorts - 2) / (usbHubPorts - 1)) {
                    var hub = XMLElement(name: "hub")
                    hub.attributes = [(name: "type", value: "usb")]
                    d.other.append(GenericDevice(element: hub))
                }
            }
        }
        // The ports of the hubs that have one, ordered by the hubs' ports (libvirt looks at the root's ports in
        // order, then at the hubs on them).
        func portOrder(_ a: String, _ b: String) -> Bool {
            a.split(separator: ".").compactMap { Int($0) }.lexicographicallyPrecedes(b.split(separator: ".").compactMap { Int($0) })
        }
        var hubs = d.other.filter(isUSBHub).compactMap(hubPort)
        var next = 1
        func freePort() -> String? {
            if let roots {
                let hubPorts = hubs.sorted(by: portOrder).flatMap { h in (1...usbHubPorts).map { "\(h).\($0)" } }
                return stride(from: 1, through: roots, by: 1).map(String.init).first { !used.contains($0) }
                    ?? hubPorts.first { !used.contains($0) }
            }
            // A controller of unknown size: the root's ports only.
            while used.contains(String(next)) { next += 1 }
            return String(next)
        }
        for i in d.other.indices where isUSBHub(d.other[i]) && hubPort(d.other[i]) == nil {
            guard let port = freePort() else { break }
            used.insert(port)
            var address = XMLElement(name: "address")
            address.attributes = [(name: "type", value: "usb"), (name: "bus", value: "0"), (name: "port", value: port)]
            d.other[i].element.children.removeAll {
                if case .element(let e) = $0 { return e.name == "address" }
                return false
            }
            d.other[i].element.children.append(.element(address))
            hubs.append(port)
        }
        func take(_ info: inout DeviceInfo) {
            guard info.address == nil || info.address == .usb(bus: 0, port: nil) else { return }
            guard let port = freePort() else { return }
            used.insert(port)
            info.address = .usb(bus: 0, port: port)
        }
        for i in d.disks.indices where d.disks[i].target.bus == .usb { take(&d.disks[i].info) }
        for i in d.inputs.indices where d.inputs[i].bus == .usb { take(&d.inputs[i].info) }
        for i in d.serials.indices where d.serials[i].targetType == "usb-serial" { take(&d.serials[i].info) }
        for i in d.sounds.indices where d.sounds[i].model == .usb { take(&d.sounds[i].info) }
        for i in d.redirdevs.indices { take(&d.redirdevs[i].info) }
    }

    static func assignVirtioSerialPorts(_ d: inout DomainDevices) {
        var used = Set<[UInt32]>()
        for c in d.consoles + d.channels {
            if case .virtioSerial(let ctl, let bus, let port)? = c.info.address { used.insert([ctl, bus, port]) }
        }
        func take(_ info: inout DeviceInfo, from start: UInt32, record: Bool = true) {
            guard info.address == nil else { return }
            var p = start
            while used.contains([0, 0, p]) { p += 1 }
            used.insert([0, 0, p])
            if record { info.address = .virtioSerial(controller: 0, bus: 0, port: p) }
        }
        // A virtio console's port is taken (port 0 first) but not written: libvirt's XML shows none for a
        // console, and QEMU picks the same port for a `virtconsole` given none.
        for i in d.consoles.indices where d.consoles[i].targetType == "virtio" {
            take(&d.consoles[i].info, from: 0, record: false)
        }
        for i in d.channels.indices where d.channels[i].targetType == "virtio" { take(&d.channels[i].info, from: 1) }
    }
}
