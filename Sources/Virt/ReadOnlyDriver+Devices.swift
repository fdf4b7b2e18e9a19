import VirtCore

/// Device changes on a read-only connection: refused, as libvirt's API refuses them.
extension ReadOnlyDriver {
    public func attachDevice(_ domain: DomainRef, xml: String, flags: UInt32?) async throws {
        throw Self.denied(flags == nil ? "virDomainAttachDevice" : "virDomainAttachDeviceFlags")
    }
    public func detachDevice(_ domain: DomainRef, xml: String, flags: UInt32?) async throws {
        throw Self.denied(flags == nil ? "virDomainDetachDevice" : "virDomainDetachDeviceFlags")
    }
    public func updateDevice(_ domain: DomainRef, xml: String, flags: UInt32) async throws {
        throw Self.denied("virDomainUpdateDeviceFlags")
    }
    public func detachDeviceAlias(_ domain: DomainRef, alias: String, flags: UInt32) async throws {
        throw Self.denied("virDomainDetachDeviceAlias")
    }
}
