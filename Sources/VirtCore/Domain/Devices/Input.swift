/// `<input type='…'>`.
public enum InputType: String, XMLEnum {
    case mouse, tablet, keyboard, passthrough, evdev
}

/// `<input bus='…'>`.
public enum InputBus: String, XMLEnum {
    case ps2, usb, xen, parallels, virtio, none
}

/// An `<input>` device.
public struct Input: Sendable, Hashable {
    public var type: InputType
    public var bus: InputBus?
    public var model: String?
    /// `<source evdev='…'/>` (passthrough) or `<source dev grab repeat grabToggle/>` (evdev), kept as written.
    public var source: XMLElement?
    /// `<driver …/>`, kept as written.
    public var driver: XMLElement?
    public var info: DeviceInfo

    public init(type: InputType, bus: InputBus? = nil, info: DeviceInfo = DeviceInfo()) {
        self.type = type
        self.bus = bus
        self.info = info
    }

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> Input {
        guard let t = el.attr("type") else { throw DeviceError.internalError("missing input device type") }
        guard let type = InputType(rawValue: t) else {
            throw DeviceError.unsupported("unknown input device type '\(t)'")
        }
        var i = Input(type: type, info: try DeviceInfo.parse(el, options: options))
        if let b = el.attr("bus") {
            guard let bus = InputBus(rawValue: b) else {
                throw DeviceError.unsupported("unknown input bus type '\(b)'")
            }
            i.bus = bus
        }
        i.model = el.attr("model")
        i.source = el.child("source")?.reorderingAttributes(["evdev", "dev", "grab", "grabToggle", "repeat"])
        i.driver = el.child("driver")?.reorderingAttributes(VirtioOptions.names)
        return i
    }

    /// libvirt's default bus for x86 HVM guests: ps2 for mouse and keyboard, usb for a tablet.
    mutating func postParse() {
        guard bus == nil else { return }
        switch type {
        case .mouse, .keyboard: bus = .ps2
        case .tablet: bus = .usb
        case .passthrough: bus = .virtio
        case .evdev: break
        }
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.element("input", [("type", type.rawValue), ("bus", bus?.rawValue), ("model", model)]) { w in
            if let driver { w.libvirtStyle(driver) }
            if let source { w.libvirtStyle(source) }
            info.format(into: &w, options: options)
        }
    }
}
