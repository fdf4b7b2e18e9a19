/// Which hypervisor driver's post-parse defaults to apply (libvirt's per-driver `domainPostParseCallback`).
public enum DomainDefaultsProfile: Sendable, Hashable {
    /// The `test:///default` mock driver.
    case test
}

extension DomainDefinition {
    /// Applies the defaults a libvirt driver fills in after parsing, so that `dumpxml` shows what libvirt's
    /// driver would show for the same definition.
    ///
    /// For `.test` (libvirt 9.0's test driver, observed with `virsh -c test:///default define; dumpxml`):
    /// - an `<os><type>` without `arch` gets the test driver's default guest arch, `i686` (its capabilities list
    ///   i686 first; no machine type is added);
    /// - hypervisor namespace data (`<qemu:commandline>` …) is dropped: the test driver has no namespace parser.
    ///
    /// - interfaces without a host-side name get the test driver's `<target dev='testnetN'/>`.
    public mutating func applyDefaults(for profile: DomainDefaultsProfile) {
        switch profile {
        case .test:
            if os.arch == nil { os.arch = "i686" }
            namespaces = []
            namespaceElements = []
            devices.assignTestDriverInterfaceNames()
        }
    }
}
