/// `<controller type='…'>`.
public enum ControllerType: String, XMLEnum {
    case ide, fdc, scsi, sata
    case virtioSerial = "virtio-serial"
    case ccid, usb, pci, xenbus, isa
}

/// `<controller model='…'>`: the model words libvirt accepts, across all controller types.
public enum ControllerModel: String, XMLEnum {
    // scsi
    case auto, buslogic, lsilogic, lsisas1068, vmpvscsi, ibmvscsi
    case virtioSCSI = "virtio-scsi"
    case lsisas1078
    case virtioTransitional = "virtio-transitional"
    case virtioNonTransitional = "virtio-non-transitional"
    case ncr53c90, am53c974, dc390
    // usb
    case piix3UHCI = "piix3-uhci", piix4UHCI = "piix4-uhci", ehci
    case ich9EHCI1 = "ich9-ehci1", ich9UHCI1 = "ich9-uhci1", ich9UHCI2 = "ich9-uhci2", ich9UHCI3 = "ich9-uhci3"
    case vt82c686bUHCI = "vt82c686b-uhci", pciOHCI = "pci-ohci", necXHCI = "nec-xhci"
    case qusb1, qusb2
    case qemuXHCI = "qemu-xhci"
    case none
    // pci
    case pciRoot = "pci-root", pcieRoot = "pcie-root", pciBridge = "pci-bridge"
    case dmiToPCIBridge = "dmi-to-pci-bridge", pcieRootPort = "pcie-root-port"
    case pcieSwitchUpstreamPort = "pcie-switch-upstream-port"
    case pcieSwitchDownstreamPort = "pcie-switch-downstream-port"
    case pciExpanderBus = "pci-expander-bus", pcieExpanderBus = "pcie-expander-bus"
    case pcieToPCIBridge = "pcie-to-pci-bridge"
    // ide
    case piix3, piix4, ich6
    // virtio-serial
    case virtio
    // xenbus, isa: none defined

    /// The models valid for a controller type.
    static func allowed(for type: ControllerType) -> Set<ControllerModel> {
        switch type {
        case .scsi:
            [.auto, .buslogic, .lsilogic, .lsisas1068, .vmpvscsi, .ibmvscsi, .virtioSCSI, .lsisas1078,
             .virtioTransitional, .virtioNonTransitional, .ncr53c90, .am53c974, .dc390]
        case .usb:
            [.piix3UHCI, .piix4UHCI, .ehci, .ich9EHCI1, .ich9UHCI1, .ich9UHCI2, .ich9UHCI3, .vt82c686bUHCI, .pciOHCI,
             .necXHCI, .qusb1, .qusb2, .qemuXHCI, .none]
        case .pci:
            [.pciRoot, .pcieRoot, .pciBridge, .dmiToPCIBridge, .pcieRootPort, .pcieSwitchUpstreamPort,
             .pcieSwitchDownstreamPort, .pciExpanderBus, .pcieExpanderBus, .pcieToPCIBridge]
        case .ide: [.piix3, .piix4, .ich6]
        case .virtioSerial: [.virtio, .virtioTransitional, .virtioNonTransitional]
        default: []
        }
    }
}

/// `<controller><driver …/>`.
public struct ControllerDriver: Sendable, Hashable {
    public var queues: UInt32?
    public var cmdPerLun: UInt32?
    public var maxSectors: UInt32?
    public var ioeventfd: Bool?
    public var iothread: UInt32?
    public var virtio: VirtioOptions = VirtioOptions()
    public init() {}
    var isEmpty: Bool {
        queues == nil && cmdPerLun == nil && maxSectors == nil && ioeventfd == nil && iothread == nil && virtio.isEmpty
    }
}

/// `<controller><target …/>` of PCI controllers.
public struct PCIControllerTarget: Sendable, Hashable {
    public var chassisNr: UInt32?
    public var chassis: UInt32?
    public var port: UInt32?
    public var busNr: UInt32?
    public var index: UInt32?
    public var hotplug: Bool?
    public var memReserve: UInt64?
    public var numaNode: UInt32?
    public init() {}
    var isEmpty: Bool {
        chassisNr == nil && chassis == nil && port == nil && busNr == nil && index == nil && hotplug == nil
            && memReserve == nil && numaNode == nil
    }
}

/// A `<controller>` device.
public struct Controller: Sendable, Hashable {
    public var type: ControllerType
    /// `index`; libvirt picks the lowest unused index when it is missing.
    public var index: Int32
    public var model: ControllerModel?
    /// `ports` (usb, virtio-serial).
    public var ports: UInt32?
    /// `vectors` (virtio-serial).
    public var vectors: UInt32?
    /// `<model name='…'/>` of PCI controllers.
    public var modelName: String?
    public var target: PCIControllerTarget = PCIControllerTarget()
    public var driver: ControllerDriver = ControllerDriver()
    /// `<pcihole64 unit='KiB'>`.
    public var pciHole64KiB: UInt64?
    public var info: DeviceInfo

    public init(type: ControllerType, index: Int32, model: ControllerModel? = nil, info: DeviceInfo = DeviceInfo()) {
        self.type = type
        self.index = index
        self.model = model
        self.info = info
    }

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> Controller {
        let type: ControllerType = try el.enumValue("type") ?? .ide
        var c = Controller(type: type, index: try el.intValue("index", nonNegative: true) ?? -1,
                           info: try DeviceInfo.parse(el, options: options))
        if let m = el.attr("model") {
            guard let model = ControllerModel(rawValue: m), ControllerModel.allowed(for: type).contains(model) else {
                throw DeviceError.unsupported("Unknown model type '\(m)'")
            }
            c.model = model
        }
        c.ports = try el.intValue("ports").map { UInt32(clamping: $0) }
        c.vectors = try el.intValue("vectors").map { UInt32(clamping: $0) }
        c.modelName = el.child("model")?.attr("name")
        if let t = el.child("target") {
            c.target.chassisNr = try t.uintValue("chassisNr")
            c.target.chassis = try t.uintValue("chassis")
            c.target.port = try t.uintValue("port", hex: true)
            c.target.busNr = try t.uintValue("busNr")
            c.target.index = try t.uintValue("index")
            c.target.hotplug = try t.onOffAttr("hotplug")
            c.target.memReserve = try t.uint64Value("memReserve")
            if let n = t.childText("node") {
                guard let v = UInt32(n) else {
                    throw DeviceError.xml("invalid NUMA node in target")
                }
                c.target.numaNode = v
            }
        }
        if let d = el.child("driver") {
            c.driver.queues = try d.uintValue("queues")
            c.driver.cmdPerLun = try d.uintValue("cmd_per_lun")
            c.driver.maxSectors = try d.uintValue("max_sectors")
            c.driver.ioeventfd = try d.onOffAttr("ioeventfd")
            c.driver.iothread = try d.uintValue("iothread")
            c.driver.virtio = try VirtioOptions.parse(d)
        }
        if let h = el.childText("pcihole64") {
            guard let v = UInt64(h) else { throw DeviceError.xml("Cannot parse <pcihole64> size") }
            c.pciHole64KiB = v
        }
        return c
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.element("controller", [("type", type.rawValue), ("index", String(index)), ("model", model?.rawValue),
                                 ("ports", ports.text), ("vectors", vectors.text)]) { w in
            if let modelName { w.empty("model", [("name", modelName)]) }
            if !driver.isEmpty {
                w.empty("driver", [("queues", driver.queues.text), ("cmd_per_lun", driver.cmdPerLun.text),
                                   ("max_sectors", driver.maxSectors.text), ("ioeventfd", driver.ioeventfd.onOff),
                                   ("iothread", driver.iothread.text)] + driver.virtio.attributes)
            }
            if !target.isEmpty {
                let attrs: [(String, String?)] = [
                    ("chassisNr", target.chassisNr.text), ("chassis", target.chassis.text),
                    ("port", target.port.map { .hex($0) }), ("busNr", target.busNr.text),
                    ("index", target.index.text), ("hotplug", target.hotplug.onOff),
                    ("memReserve", target.memReserve.text),
                ]
                w.element("target", attrs) { w in
                    if let n = target.numaNode { w.text("node", [], String(n)) }
                }
            }
            if let pciHole64KiB { w.text("pcihole64", [("unit", "KiB")], String(pciHole64KiB)) }
            info.format(into: &w, options: options)
        }
    }
}
