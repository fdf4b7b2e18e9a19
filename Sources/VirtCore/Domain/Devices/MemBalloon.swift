/// `<memballoon model='…'>`.
public enum MemBalloonModel: String, XMLEnum {
    case virtio, xen, none
    case virtioTransitional = "virtio-transitional"
    case virtioNonTransitional = "virtio-non-transitional"
}

/// The `<memballoon>` device.
public struct MemBalloon: Sendable, Hashable {
    public var model: MemBalloonModel
    public var autodeflate: Bool?
    public var freePageReporting: Bool?
    /// `<stats period='N'/>` in seconds.
    public var statsPeriod: Int32?
    public var driver: XMLElement?
    public var info: DeviceInfo

    public init(model: MemBalloonModel, info: DeviceInfo = DeviceInfo()) {
        self.model = model
        self.info = info
    }

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> MemBalloon {
        var m = MemBalloon(model: try el.requiredEnumValue("model"), info: try DeviceInfo.parse(el, options: options))
        m.autodeflate = try el.onOffAttr("autodeflate")
        m.freePageReporting = try el.onOffAttr("freePageReporting")
        if let s = el.child("stats") {
            guard let p = s.attr("period"), let v = Int32(p) else {
                throw DeviceError.xml("invalid statistics collection period")
            }
            m.statsPeriod = v
        }
        m.driver = el.child("driver")
        return m
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.element("memballoon", [("model", model.rawValue), ("autodeflate", autodeflate.onOff),
                                 ("freePageReporting", freePageReporting.onOff)]) { w in
            if let statsPeriod { w.empty("stats", [("period", String(statsPeriod))]) }
            // libvirt writes the balloon's address before its driver options.
            info.format(into: &w, options: options)
            if let driver { w.libvirtStyle(driver) }
        }
    }
}
