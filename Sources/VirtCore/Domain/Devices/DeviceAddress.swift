/// A PCI address: `<address type='pci' domain bus slot function multifunction/>`.
public struct PCIAddress: Sendable, Hashable {
    public var domain: UInt32
    public var bus: UInt32
    public var slot: UInt32
    public var function: UInt32
    /// `multifunction='on|off'`, nil when not written.
    public var multifunction: Bool?

    public init(domain: UInt32 = 0, bus: UInt32 = 0, slot: UInt32 = 0, function: UInt32 = 0,
                multifunction: Bool? = nil) {
        self.domain = domain
        self.bus = bus
        self.slot = slot
        self.function = function
        self.multifunction = multifunction
    }
}

extension PCIAddress {
    /// libvirt's "empty" PCI address (domain, bus and slot zero): written as `<address type='pci'/>`, to be
    /// assigned by the hypervisor driver.
    public var isEmpty: Bool { domain == 0 && bus == 0 && slot == 0 }
}

/// A drive address on an IDE/SCSI/SATA/FDC controller.
public struct DriveAddress: Sendable, Hashable {
    public var controller: UInt32
    public var bus: UInt32
    public var target: UInt32
    public var unit: UInt32

    public init(controller: UInt32 = 0, bus: UInt32 = 0, target: UInt32 = 0, unit: UInt32 = 0) {
        self.controller = controller
        self.bus = bus
        self.target = target
        self.unit = unit
    }
}

/// Where a device sits on its bus: libvirt's `<address type='…'>`.
public enum DeviceAddress: Sendable, Hashable {
    case pci(PCIAddress)
    case drive(DriveAddress)
    case virtioSerial(controller: UInt32, bus: UInt32, port: UInt32)
    case ccid(controller: UInt32, slot: UInt32)
    /// `port` is a dotted hub path such as `1.2`.
    case usb(bus: UInt32, port: String?)
    case spaprVIO(reg: UInt64?)
    case ccw(cssid: UInt32, ssid: UInt32, devno: UInt32)
    case virtioMMIO
    case isa(iobase: UInt32?, irq: UInt32?)
    case dimm(slot: UInt32, base: UInt64?)
    case virtioS390
    case unassigned

    /// The `type` attribute's value.
    public var typeName: String {
        switch self {
        case .pci: "pci"
        case .drive: "drive"
        case .virtioSerial: "virtio-serial"
        case .ccid: "ccid"
        case .usb: "usb"
        case .spaprVIO: "spapr-vio"
        case .ccw: "ccw"
        case .virtioMMIO: "virtio-mmio"
        case .isa: "isa"
        case .dimm: "dimm"
        case .virtioS390: "virtio-s390"
        case .unassigned: "unassigned"
        }
    }

    /// Parses an `<address>` element.
    public static func parse(_ el: XMLElement) throws(VirtError) -> DeviceAddress? {
        guard let type = el.attr("type") else { return nil }
        switch type {
        case "pci":
            let a = PCIAddress(domain: try el.uintValue("domain", hex: true) ?? 0,
                               bus: try el.uintValue("bus", hex: true) ?? 0,
                               slot: try el.uintValue("slot", hex: true) ?? 0,
                               function: try el.uintValue("function", hex: true) ?? 0,
                               multifunction: try el.onOffAttr("multifunction"))
            // libvirt leaves an address with domain, bus and slot all zero unchecked ("empty").
            if a.isEmpty { return .pci(a) }
            if a.bus > 0xFF {
                throw DeviceError.xml("Invalid PCI address bus='\(String.hex(a.bus))', must be <= 0xFF",
                                      domain: .none)
            }
            if a.slot > 0x1F {
                throw DeviceError.xml("Invalid PCI address slot='\(String.hex(a.slot))', must be <= 0x1F",
                                      domain: .none)
            }
            if a.function > 7 {
                throw DeviceError.xml("Invalid PCI address function=0x\(String(a.function, radix: 16)), "
                                      + "must be <= 7", domain: .none)
            }
            return .pci(a)
        case "drive":
            return .drive(DriveAddress(controller: try el.uintValue("controller") ?? 0,
                                       bus: try el.uintValue("bus") ?? 0,
                                       target: try el.uintValue("target") ?? 0,
                                       unit: try el.uintValue("unit") ?? 0))
        case "virtio-serial":
            return .virtioSerial(controller: try el.uintValue("controller") ?? 0, bus: try el.uintValue("bus") ?? 0,
                                 port: try el.uintValue("port") ?? 0)
        case "ccid":
            return .ccid(controller: try el.uintValue("controller") ?? 0, slot: try el.uintValue("slot") ?? 0)
        case "usb":
            let port = el.attr("port")
            if let port {
                let parts = port.split(separator: ".", omittingEmptySubsequences: false)
                if parts.isEmpty || parts.count > 5 || parts.contains(where: { UInt32($0) == nil }) {
                    throw DeviceError.internalError("Cannot parse <address> 'port' attribute")
                }
            }
            return .usb(bus: try el.uintValue("bus") ?? 0, port: port)
        case "spapr-vio":
            return .spaprVIO(reg: try el.uint64Value("reg", hex: true))
        case "ccw":
            return .ccw(cssid: try el.uintValue("cssid", hex: true) ?? 0, ssid: try el.uintValue("ssid", hex: true) ?? 0,
                        devno: try el.uintValue("devno", hex: true) ?? 0)
        case "virtio-mmio":
            return .virtioMMIO
        case "isa":
            return .isa(iobase: try el.uintValue("iobase", hex: true), irq: try el.uintValue("irq", hex: true))
        case "dimm":
            return .dimm(slot: try el.uintValue("slot") ?? 0, base: try el.uint64Value("base", hex: true))
        case "virtio-s390":
            return .virtioS390
        case "unassigned":
            return .unassigned
        default:
            throw DeviceError.unsupported("unknown address type '\(type)'")
        }
    }

    /// Writes the `<address>` element as libvirt does.
    public func format(into w: inout XMLWriter) {
        switch self {
        case .pci(let a) where a.isEmpty:
            w.empty("address", [("type", "pci"), ("multifunction", a.multifunction.onOff)])
        case .pci(let a):
            w.empty("address", [("type", "pci"), ("domain", .hex(a.domain, width: 4)), ("bus", .hex(a.bus, width: 2)),
                                ("slot", .hex(a.slot, width: 2)), ("function", .hex(a.function)),
                                ("multifunction", a.multifunction.onOff)])
        case .drive(let a):
            w.empty("address", [("type", "drive"), ("controller", String(a.controller)), ("bus", String(a.bus)),
                                ("target", String(a.target)), ("unit", String(a.unit))])
        case .virtioSerial(let c, let b, let p):
            w.empty("address", [("type", "virtio-serial"), ("controller", String(c)), ("bus", String(b)),
                                ("port", String(p))])
        case .ccid(let c, let s):
            w.empty("address", [("type", "ccid"), ("controller", String(c)), ("slot", String(s))])
        case .usb(let b, let p):
            w.empty("address", [("type", "usb"), ("bus", String(b)), ("port", p)])
        case .spaprVIO(let reg):
            w.empty("address", [("type", "spapr-vio"), ("reg", reg.map { .hex($0, width: 8) })])
        case .ccw(let c, let s, let d):
            w.empty("address", [("type", "ccw"), ("cssid", .hex(c)), ("ssid", .hex(s)), ("devno", .hex(d, width: 4))])
        case .isa(let io, let irq):
            w.empty("address", [("type", "isa"), ("iobase", io.map { .hex($0) }), ("irq", irq.map { .hex($0) })])
        case .dimm(let s, let base):
            w.empty("address", [("type", "dimm"), ("slot", String(s)), ("base", base.map { .hex($0) })])
        case .virtioMMIO, .virtioS390, .unassigned:
            w.empty("address", [("type", typeName)])
        }
    }
}
