/// NO_SUPPORT defaults of the persistent-device calls (libvirt 7.3's define, undefine, create, autostart) and of
/// PCI assignment (detach, re-attach, reset). libvirt keeps the last three in the hypervisor driver's table; here
/// they are the node device driver's, since it is the one that knows the devices.
extension NodeDeviceDriver {
    public func defineNodeDevice(xml: String, flags: UInt32) async throws -> NodeDeviceRef {
        throw VirtError.noSupport("virNodeDeviceDefineXML", domain: .nodeDevice)
    }
    public func undefineNodeDevice(_ dev: NodeDeviceRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virNodeDeviceUndefine", domain: .nodeDevice)
    }
    public func startNodeDevice(_ dev: NodeDeviceRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virNodeDeviceCreate", domain: .nodeDevice)
    }
    public func setNodeDeviceAutostart(_ dev: NodeDeviceRef, autostart: Bool) async throws {
        throw VirtError.noSupport("virNodeDeviceSetAutostart", domain: .nodeDevice)
    }
    public func dettachNodeDevice(_ dev: NodeDeviceRef) async throws {
        throw VirtError.noSupport("virNodeDeviceDettach", domain: .nodeDevice)
    }
    public func detachNodeDevice(_ dev: NodeDeviceRef, driverName: String?, flags: UInt32) async throws {
        throw VirtError.noSupport("virNodeDeviceDetachFlags", domain: .nodeDevice)
    }
    public func reattachNodeDevice(_ dev: NodeDeviceRef) async throws {
        throw VirtError.noSupport("virNodeDeviceReAttach", domain: .nodeDevice)
    }
    public func resetNodeDevice(_ dev: NodeDeviceRef) async throws {
        throw VirtError.noSupport("virNodeDeviceReset", domain: .nodeDevice)
    }
}
