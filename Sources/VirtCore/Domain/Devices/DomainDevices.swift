/// `<devices>`: every device of a domain, in libvirt's formatting order.
public struct DomainDevices: Sendable, Hashable {
    /// `<emulator>`.
    public var emulator: String?

    public init(emulator: String? = nil) {
        self.emulator = emulator
    }

    /// Reads a `<devices>` element.
    public static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> DomainDevices {
        DomainDevices(emulator: el.childText("emulator"))
    }

    /// Writes the `<devices>` element (nothing inside when there are no devices: `<devices/>` is not written by
    /// libvirt, which always writes `<devices>` with its children).
    public func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.element("devices") { w in
            w.optionalText("emulator", emulator)
        }
    }
}
