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
        case "shmem":
            if el.child("model") == nil {
                e.children.insert(.element(XMLElement(name: "model", attributes: [("type", "ivshmem")])), at: 0)
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
