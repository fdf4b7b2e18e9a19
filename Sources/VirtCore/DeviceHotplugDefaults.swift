/// The device calls' NO_SUPPORT defaults, naming libvirt's API as its dispatcher does.
extension HypervisorDriver {
    public func attachDevice(_ domain: DomainRef, xml: String, flags: UInt32?) async throws {
        throw VirtError.noSupport(flags == nil ? "virDomainAttachDevice" : "virDomainAttachDeviceFlags", domain: .domain)
    }
    public func detachDevice(_ domain: DomainRef, xml: String, flags: UInt32?) async throws {
        throw VirtError.noSupport(flags == nil ? "virDomainDetachDevice" : "virDomainDetachDeviceFlags", domain: .domain)
    }
    public func updateDevice(_ domain: DomainRef, xml: String, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainUpdateDeviceFlags", domain: .domain)
    }
    public func detachDeviceAlias(_ domain: DomainRef, alias: String, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainDetachDeviceAlias", domain: .domain)
    }
}

/// `virDomainDeviceModifyFlags`: the modification impact plus FORCE (update-device, change-media).
public enum DeviceModifyFlags {
    public static let live: UInt32 = 1
    public static let config: UInt32 = 2
    public static let force: UInt32 = 4
}
