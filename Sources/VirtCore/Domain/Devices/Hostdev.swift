/// A `<hostdev>` device: parsed and kept so that it round-trips; assignment to guests comes later.
public struct Hostdev: Sendable, Hashable {
    /// `mode='subsystem|capabilities'`.
    public var mode: String
    /// `type='pci|usb|scsi|scsi_host|mdev'` (subsystem) or `storage|misc|net` (capabilities).
    public var type: String
    public var managed: Bool?
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
            throw DeviceError.invalidValue("mode", "hostdev", mode)
        }
        guard let type = el.attr("type") else { throw DeviceError.missingAttr("type", "hostdev") }
        let subsys = ["usb", "pci", "scsi", "scsi_host", "mdev"]
        let caps = ["storage", "misc", "net"]
        guard (mode == "subsystem" ? subsys : caps).contains(type) else {
            throw DeviceError.invalidValue("type", "hostdev", type)
        }
        var h = Hostdev(mode: mode, type: type, info: try DeviceInfo.parse(el, options: options, allowBoot: true))
        h.managed = try el.yesNoAttr("managed")
        if var s = el.child("source") {
            if type == "pci", let a = s.child("address") {
                var typed = a
                typed.attributes.insert((name: "type", value: "pci"), at: 0)
                if case .pci(let p)? = try DeviceAddress.parse(typed) {
                    let norm = XMLElement(name: "address", attributes: [
                        ("domain", String.hex(p.domain, width: 4)), ("bus", String.hex(p.bus, width: 2)),
                        ("slot", String.hex(p.slot, width: 2)), ("function", String.hex(p.function)),
                    ])
                    s.children = s.children.map {
                        if case .element(let e) = $0, e.name == "address" { return .element(norm) }
                        return $0
                    }
                }
            }
            h.source = s
        }
        h.extra = el.elements(notIn: ["source", "boot", "alias", "address", "rom", "acpi"])
        return h
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        let managedText: String? = mode == "subsystem" && (type == "pci" || type == "usb")
            ? (managed == true ? "yes" : "no") : managed.yesNo
        w.element("hostdev", [("mode", mode), ("type", type), ("managed", managedText)]) { w in
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

    public init(element: XMLElement) { self.element = element }

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
        if el.name == "redirdev" && el.elements.isEmpty {
            // libvirt 9.0 writes an empty redirdev with an open and a close tag.
            let attrs = el.attributes.map { " \($0.name)='\(XMLWriter.escape($0.value))'" }.joined()
            let pad = String(repeating: " ", count: w.indent)
            w.raw("\(pad)<redirdev\(attrs)>\n\(pad)</redirdev>\n")
            return
        }
        w.libvirtStyle(el)
    }
}
