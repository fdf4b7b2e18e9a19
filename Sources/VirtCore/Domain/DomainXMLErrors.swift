/// The errors libvirt raises while reading domain XML, with libvirt's codes, error domains and wording.
///
/// Values were observed against libvirt 9.0 (`virsh -c test:///default define`); each helper names the case.
extension VirtError {
    /// `Invalid value 'V' for element or attribute 'XPATH'` (XML_ERROR, from the XML domain), raised when a number
    /// read through an XPath expression such as `./memory[1]` does not parse.
    public static func xmlInvalidValue(_ value: String, xpath: String) -> VirtError {
        let detail = "Invalid value '\(value)' for element or attribute '\(xpath)'"
        return VirtError(.xmlError, domain: .xml, "XML error: \(detail)", str1: "XML error: %s", str2: detail)
    }

    /// `Invalid value for attribute 'A' in element 'E': 'V'.` (XML_ERROR), libvirt's enum attribute error.
    public static func xmlInvalidAttribute(_ attr: String, element: String, value: String,
                                           expected: String? = nil) -> VirtError {
        var detail = "Invalid value for attribute '\(attr)' in element '\(element)': '\(value)'."
        if let expected { detail += " \(expected)" }
        return VirtError(.xmlError, domain: .xml, "XML error: \(detail)", str1: "XML error: %s", str2: detail)
    }

    /// `Missing required attribute 'A' in element 'E'` (XML_ERROR).
    public static func xmlMissingAttribute(_ attr: String, element: String) -> VirtError {
        let detail = "Missing required attribute '\(attr)' in element '\(element)'"
        return VirtError(.xmlError, domain: .xml, "XML error: \(detail)", str1: "XML error: %s", str2: detail)
    }

    /// `XML error: DETAIL` raised by the domain configuration code (XML_ERROR, domain DOMAIN).
    public static func domainXMLError(_ detail: String) -> VirtError {
        VirtError(.xmlError, domain: .domain, "XML error: \(detail)", str1: "XML error: %s", str2: detail)
    }

    /// `unsupported configuration: DETAIL` (CONFIG_UNSUPPORTED) raised by the domain configuration code.
    public static func domainConfigUnsupported(_ detail: String, domain: ErrorDomain = .domain) -> VirtError {
        VirtError(.configUnsupported, domain: domain, "unsupported configuration: \(detail)",
                  str1: "unsupported configuration: %s", str2: detail)
    }

    /// `internal error: DETAIL` (INTERNAL_ERROR) raised by the domain configuration code.
    public static func domainInternal(_ detail: String) -> VirtError {
        VirtError(.internalError, domain: .domain, "internal error: \(detail)",
                  str1: "internal error: %s", str2: detail)
    }

    /// `XML document failed to validate against schema: …` (XML_INVALID_SCHEMA, from the XML domain), as
    /// `define --validate` reports a document that does not match libvirt's domain schema.
    public static func schemaInvalid(_ lines: [String]) -> VirtError {
        let detail = "Unable to validate doc against /usr/share/libvirt/schemas/domain.rng\n"
            + lines.map { $0 + "\n" }.joined()
        return VirtError(.xmlInvalidSchema, domain: .xml,
                         "XML document failed to validate against schema: \(detail)",
                         str1: "XML document failed to validate against schema: %s", str2: detail)
    }
}

/// Attribute and text readers that raise libvirt's errors.
extension XMLElement {
    /// The attribute parsed as an enum value, or nil when absent; libvirt's `virXMLPropEnum` error otherwise.
    func enumAttr<T: RawRepresentable>(_ name: String) throws(VirtError) -> T? where T.RawValue == String {
        guard let v = attr(name) else { return nil }
        guard let e = T(rawValue: v) else {
            throw VirtError.xmlInvalidAttribute(name, element: self.name, value: v)
        }
        return e
    }

    /// A required enum attribute.
    func requiredEnumAttr<T: RawRepresentable>(_ name: String) throws(VirtError) -> T where T.RawValue == String {
        guard let e: T = try enumAttr(name) else {
            throw VirtError.xmlMissingAttribute(name, element: self.name)
        }
        return e
    }

    /// The attribute as an unsigned integer (libvirt's `virXMLPropUInt`), nil when absent.
    func uintAttr(_ name: String) throws(VirtError) -> UInt32? {
        guard let v = attr(name) else { return nil }
        guard let n = parseUnsigned(v), n <= UInt64(UInt32.max) else {
            throw VirtError.xmlInvalidAttribute(name, element: self.name, value: v,
                                                expected: "Expected non-negative integer value")
        }
        return UInt32(n)
    }

    /// The attribute as an unsigned 64-bit integer, nil when absent.
    func ulongAttr(_ name: String) throws(VirtError) -> UInt64? {
        guard let v = attr(name) else { return nil }
        guard let n = parseUnsigned(v) else {
            throw VirtError.xmlInvalidAttribute(name, element: self.name, value: v,
                                                expected: "Expected non-negative integer value")
        }
        return n
    }

    /// A yes/no attribute (virTristateBool), nil when absent.
    func yesNoAttr(_ name: String) throws(VirtError) -> Bool? {
        guard let v = attr(name) else { return nil }
        switch v {
        case "yes": return true
        case "no": return false
        default: throw VirtError.xmlInvalidAttribute(name, element: self.name, value: v)
        }
    }

    /// An on/off attribute (virTristateSwitch), nil when absent.
    func onOffAttr(_ name: String) throws(VirtError) -> Bool? {
        guard let v = attr(name) else { return nil }
        switch v {
        case "on": return true
        case "off": return false
        default: throw VirtError.xmlInvalidAttribute(name, element: self.name, value: v)
        }
    }
}

/// Parses a decimal unsigned integer as libvirt's `virStrToLong_ullp` does: leading blanks allowed, no sign,
/// nothing after the digits.
func parseUnsigned(_ s: String) -> UInt64? {
    var result: UInt64 = 0
    var sawDigit = false
    var i = s.utf8.startIndex
    let u = s.utf8
    while i < u.endIndex, u[i] == 0x20 || u[i] == 0x09 || u[i] == 0x0A || u[i] == 0x0D { i = u.index(after: i) }
    if i < u.endIndex, u[i] == UInt8(ascii: "+") { i = u.index(after: i) }
    while i < u.endIndex {
        let c = u[i]
        guard c >= 0x30 && c <= 0x39 else { return nil }
        let (m, o1) = result.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(c - 0x30))
        if o1 || o2 { return nil }
        result = a
        sawDigit = true
        i = u.index(after: i)
    }
    return sawDigit ? result : nil
}
