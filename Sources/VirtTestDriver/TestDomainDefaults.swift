import VirtCore

/// The test driver's parsing of domain XML, with its post-parse defaults (default architecture i686, as libvirt's
/// test driver `defArch`).
enum TestDomainDefaults {
    /// Parses domain XML for the test driver.
    static func parse(_ xml: String) throws(VirtError) -> DomainDefinition {
        var def = try DomainDefinition.parse(xml)
        apply(&def)
        return def
    }

    /// Parses an already read `<domain>` element for the test driver.
    static func parse(_ el: XMLElement) throws(VirtError) -> DomainDefinition {
        var def = try DomainDefinition.parse(el)
        apply(&def)
        return def
    }

    /// Applies the test driver's post-parse defaults.
    static func apply(_ def: inout DomainDefinition) {
        if def.os.arch == nil { def.os.arch = "i686" }
    }
}
