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
            if let source { w.libvirtStyle(source) }
            for e in extra { w.libvirtStyle(e) }
            info.format(into: &w, options: options)
        }
    }
}

/// A device kind SwiftVirt does not model yet (lease, filesystem, smartcard, redirdev, hub, panic, shmem,
/// iommu, vsock, crypto, audio, nvram, …): kept as parsed and written back in libvirt's style.
public struct GenericDevice: Sendable, Hashable {
    public var element: XMLElement

    public init(element: XMLElement) { self.element = GenericDevice.normalise(element) }

    /// The defaults and canonical spellings libvirt applies to these kinds.
    static func normalise(_ el: XMLElement) -> XMLElement {
        var e = el
        switch el.name {
        case "filesystem":
            var attrs: [(name: String, value: String)] = [("type", el.attr("type") ?? "mount"),
                                                          ("accessmode", el.attr("accessmode") ?? "passthrough")]
            attrs += el.attributes.filter { $0.name != "type" && $0.name != "accessmode" }
            e.attributes = attrs
            if e.attr("type") == "ram" {
                e.children = e.children.map { c in
                    guard case .element(var s) = c, s.name == "source", let u = s.attr("usage"),
                          let v = UInt64(u) else { return c }
                    let mult = MemorySize.bytes(ofUnit: s.attr("units") ?? "KiB") ?? 1024
                    s.attributes = [("usage", String((v * mult + 1023) / 1024)), ("units", "KiB")]
                    return .element(s)
                }
            }
        case "redirfilter":
            e.children = e.children.map { c in
                guard case .element(var u) = c, u.name == "usbdev" else { return c }
                u = u.reorderingAttributes(["class", "vendor", "product", "version", "allow"])
                // -1 means "any" and is not written.
                u.attributes = u.attributes.filter { $0.value != "-1" }
                u.attributes = u.attributes.map { a in
                    switch a.name {
                    case "vendor", "product":
                        guard let v = XMLElement.parseUnsignedValue(a.value, hex: true) else { return a }
                        let hex = String(v, radix: 16).uppercased()
                        return (a.name, "0x" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex)
                    case "class":
                        guard let v = XMLElement.parseUnsignedValue(a.value, hex: true) else { return a }
                        return (a.name, String.hex(v, width: 2))
                    case "version":
                        let parts = a.value.split(separator: ".")
                        guard parts.count == 2, let major = UInt32(parts[0]), let minor = UInt32(parts[1], radix: 16)
                        else { return a }
                        let m = String(minor, radix: 16)
                        return (a.name, "\(major)." + (m.count < 2 ? "0" + m : m))
                    default: return a
                    }
                }
                return .element(u)
            }
        default:
            break
        }
        return e
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        var el = element
        if options.inactive {
            el.children = el.children.filter {
                if case .element(let e) = $0, e.name == "alias", !(e.attr("name") ?? "").hasPrefix("ua-") {
                    return false
                }
                return true
            }
        }
        w.libvirtStyle(el)
    }
}
