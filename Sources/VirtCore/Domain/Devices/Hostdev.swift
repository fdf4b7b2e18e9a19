/// A `<hostdev>` device: parsed and kept so that it round-trips; assignment to guests comes later.
public struct Hostdev: Sendable, Hashable {
    /// `mode='subsystem|capabilities'`.
    public var mode: String
    /// `type='pci|usb|scsi|scsi_host|mdev'` (subsystem) or `storage|misc|net` (capabilities).
    public var type: String
    public var managed: Bool?
    /// Other attributes (`sgio`, `rawio`, `model`, `display`, `ramfb`) in libvirt's order.
    public var otherAttributes: [String: String] = [:]
    static let attributeOrder = ["sgio", "rawio", "model", "display", "ramfb"]
    /// `<source>` as written (PCI source addresses are normalised to libvirt's hex form).
    public var source: XMLElement?
    /// Other children (driver, readonly, shareable, …), kept as written.
    public var extra: [XMLElement] = []
    public var info: DeviceInfo

    public init(mode: String = "subsystem", type: String, info: DeviceInfo = DeviceInfo()) {
        self.mode = mode
        self.type = type
        self.info = info
    }

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> Hostdev {
        let mode = el.attr("mode") ?? "subsystem"
        guard mode == "subsystem" || mode == "capabilities" else {
            throw DeviceError.unsupported("unknown hostdev mode '\(mode)'")
        }
        guard let type = el.attr("type") else { throw DeviceError.missingAttr("type", "hostdev") }
        let subsys = ["usb", "pci", "scsi", "scsi_host", "mdev"]
        let caps = ["storage", "misc", "net"]
        guard (mode == "subsystem" ? subsys : caps).contains(type) else {
            throw DeviceError.unsupported(mode == "subsystem" ? "unknown host device source address type '\(type)'"
                                                              : "unknown host device capability type '\(type)'")
        }
        var h = Hostdev(mode: mode, type: type, info: try DeviceInfo.parse(el, options: options, allowBoot: true))
        h.managed = try el.yesNoAttr("managed")
        for n in attributeOrder { if let v = el.attr(n) { h.otherAttributes[n] = v } }
        if h.otherAttributes["sgio"] == "unfiltered" {
            throw DeviceError.unsupported("unfiltered sgio is no longer supported")
        }
        if let s = el.child("source") {
            h.source = type == "pci" ? try s.normalisingPCISourceAddress() : s
        }
        h.extra = el.elements(notIn: ["source", "boot", "alias", "address", "rom", "acpi"])
        return h
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        let managedText: String? = mode == "subsystem" ? (managed == true ? "yes" : "no") : managed.yesNo
        var attrs: [(String, String?)] = [("mode", mode), ("type", type), ("managed", managedText)]
        for n in Hostdev.attributeOrder { attrs.append((n, otherAttributes[n])) }
        w.element("hostdev", attrs) { w in
            for e in extra where e.name == "driver" { w.libvirtStyle(e) }
            if let source { w.libvirtStyle(source) }
            for e in extra where e.name != "driver" { w.libvirtStyle(e) }
            info.format(into: &w, options: options)
        }
    }
}
