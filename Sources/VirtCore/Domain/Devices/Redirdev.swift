/// A `<redirdev>` device: a USB device redirected from a character device (spicevmc, tcp, …).
public struct Redirdev: Sendable, Hashable {
    /// `bus='usb'` (the only bus libvirt supports).
    public var bus: String
    public var source: CharSource
    public var info: DeviceInfo

    public init(bus: String = "usb", source: CharSource, info: DeviceInfo = DeviceInfo()) {
        self.bus = bus
        self.source = source
        self.info = info
    }

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> Redirdev {
        let bus = el.attr("bus") ?? "usb"
        guard bus == "usb" else { throw DeviceError.invalidValue("bus", "redirdev", bus) }
        return Redirdev(bus: bus, source: try CharSource.parse(el, options: options),
                        info: try DeviceInfo.parse(el, options: options, allowBoot: true))
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        var inner = XMLWriter(indent: w.indent + 2)
        source.format(into: &inner, options: options)
        info.format(into: &inner, options: options)
        // libvirt 9.0 writes an open and a close tag even when nothing is inside.
        let pad = String(repeating: " ", count: w.indent)
        let attrs = " bus='\(XMLWriter.escape(bus))' type='\(source.type.rawValue)'"
        w.raw("\(pad)<redirdev\(attrs)>\n\(inner.output)\(pad)</redirdev>\n")
    }
}
