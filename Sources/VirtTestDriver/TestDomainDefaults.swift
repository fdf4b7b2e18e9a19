import VirtCore

/// The test driver's parsing of domain XML, followed by its post-parse defaults (libvirt's test driver:
/// default architecture i686, hypervisor namespaces dropped).
enum TestDomainDefaults {
    /// Parses domain XML for the test driver.
    static func parse(_ xml: String, validate: Bool = false) throws(VirtError) -> DomainDefinition {
        var def = try DomainDefinition.parse(xml, options: DomainParseOptions(validate: validate))
        def.applyDefaults(for: .test)
        return def
    }

    /// Parses an already read `<domain>` element for the test driver.
    static func parse(_ el: XMLElement) throws(VirtError) -> DomainDefinition {
        var def = try DomainDefinition.parse(el)
        def.applyDefaults(for: .test)
        return def
    }
}
