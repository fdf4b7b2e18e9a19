/// A string-valued XML enumeration (an attribute whose value must be one of a fixed set of words).
public protocol XMLEnum: RawRepresentable, CaseIterable, Sendable, Hashable where RawValue == String {}

/// libvirt's errors for device XML, with the codes, error domains and messages libvirt 9 uses.
enum DeviceError {
    /// `virXMLPropEnum`: "Invalid value for attribute 'A' in element 'E': 'V'." (XML_ERROR, from XML).
    static func invalidValue(_ attr: String, _ element: String, _ value: String, _ suffix: String = "")
        -> VirtError {
        let detail = "Invalid value for attribute '\(attr)' in element '\(element)': '\(value)'.\(suffix)"
        return VirtError(.xmlError, domain: .xml, "XML error: \(detail)", str1: detail)
    }

    /// `virXMLPropString` required: "Missing required attribute 'A' in element 'E'".
    static func missingAttr(_ attr: String, _ element: String) -> VirtError {
        let detail = "Missing required attribute '\(attr)' in element '\(element)'"
        return VirtError(.xmlError, domain: .xml, "XML error: \(detail)", str1: detail)
    }

    /// An XML_ERROR raised by the domain parser itself (error domain "domain").
    static func xml(_ detail: String, domain: VirtError.ErrorDomain = .domain) -> VirtError {
        VirtError(.xmlError, domain: domain, "XML error: \(detail)", str1: detail)
    }

    /// CONFIG_UNSUPPORTED from the domain parser.
    static func unsupported(_ detail: String) -> VirtError {
        VirtError.configUnsupported(detail, domain: .domain)
    }

    /// INTERNAL_ERROR from the domain parser.
    static func internalError(_ detail: String) -> VirtError {
        VirtError.internalError(detail, domain: .domain)
    }

    /// `define --validate` rejecting a device: libxml2's RelaxNG validation reports any problem inside
    /// `<devices>` only as an extra `devices` element of the domain.
    static func schema(_ element: String) -> VirtError {
        var e = VirtError.schemaInvalid(["Extra element devices in interleave",
                                         "Element domain failed to validate content"])
        e.cause = DeviceSchemaViolation(element: element).description
        return e
    }
}

/// What the device schema check rejected (kept as the cause of the schema error).
struct DeviceSchemaViolation: Error, CustomStringConvertible {
    var element: String
    var description: String { "unexpected \(element)" }
}

extension XMLElement {
    /// An enumerated attribute; an unknown word gives libvirt's "Invalid value for attribute" error.
    func enumValue<E: XMLEnum>(_ name: String, _ type: E.Type = E.self) throws(VirtError) -> E? {
        guard let v = attr(name) else { return nil }
        guard let e = E(rawValue: v) else { throw DeviceError.invalidValue(name, self.name, v) }
        return e
    }

    /// An enumerated attribute that must be present.
    func requiredEnumValue<E: XMLEnum>(_ name: String, _ type: E.Type = E.self) throws(VirtError) -> E {
        guard let e: E = try enumValue(name) else { throw DeviceError.missingAttr(name, self.name) }
        return e
    }

    /// A non-negative integer attribute (`virXMLPropUInt`), decimal, or with `hex` also `0x…` and octal as
    /// `strtoul(…, 0)` accepts.
    func uintValue(_ name: String, hex: Bool = false, nonZero: Bool = false) throws(VirtError) -> UInt32? {
        guard let v = attr(name) else { return nil }
        guard let n = Self.parseUnsignedValue(v, hex: hex), n <= UInt64(UInt32.max) else {
            throw DeviceError.invalidValue(name, self.name, v, " Expected non-negative integer value")
        }
        if nonZero && n == 0 {
            let detail = "Invalid value for attribute '\(name)' in element '\(self.name)': Zero is not permitted"
            throw VirtError(.xmlError, domain: .xml, "XML error: \(detail)", str1: detail)
        }
        return UInt32(n)
    }

    /// A 64-bit non-negative integer attribute (`virXMLPropULongLong`).
    func uint64Value(_ name: String, hex: Bool = false) throws(VirtError) -> UInt64? {
        guard let v = attr(name) else { return nil }
        guard let n = Self.parseUnsignedValue(v, hex: hex) else {
            throw DeviceError.invalidValue(name, self.name, v, " Expected non-negative integer value")
        }
        return n
    }

    /// A signed integer attribute (`virXMLPropInt`).
    func intValue(_ name: String, nonNegative: Bool = false) throws(VirtError) -> Int32? {
        guard let v = attr(name) else { return nil }
        guard let n = Int32(v.trimmingSpaces) else {
            throw DeviceError.invalidValue(name, self.name, v, " Expected integer value")
        }
        if nonNegative && n < 0 {
            throw DeviceError.invalidValue(name, self.name, v, " Expected non-negative value")
        }
        return n
    }

    static func parseUnsignedValue(_ s: String, hex: Bool) -> UInt64? {
        var t = Substring(s)
        if t.hasPrefix("+") { t = t.dropFirst() }
        if t.isEmpty || t.hasPrefix("-") { return nil }
        if hex {
            if t.hasPrefix("0x") || t.hasPrefix("0X") { return UInt64(t.dropFirst(2), radix: 16) }
            if t.count > 1 && t.hasPrefix("0") { return UInt64(t.dropFirst(), radix: 8) }
        }
        return UInt64(t, radix: 10)
    }
}

extension Optional where Wrapped == Bool {
    /// `yes`/`no` for formatting, nil when unset.
    var yesNo: String? { map { $0 ? "yes" : "no" } }
    /// `on`/`off` for formatting, nil when unset.
    var onOff: String? { map { $0 ? "on" : "off" } }
}

extension Optional where Wrapped: BinaryInteger {
    /// The decimal text of the value, nil when unset.
    var text: String? { map { String($0) } }
}

extension String {
    /// Hex with `0x` and zero padding to `width` digits (libvirt's `0x%0Nx`).
    static func hex<T: BinaryInteger>(_ v: T, width: Int = 0) -> String {
        let digits = String(v, radix: 16)
        let pad = Swift.max(0, width - digits.count)
        return "0x" + String(repeating: "0", count: pad) + digits
    }
}
