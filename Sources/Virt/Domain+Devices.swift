import VirtCore

/// Devices, live and persistent: libvirt's attach, detach and update calls.
extension Domain {
    /// `virDomainAttachDeviceFlags` (`flags`: ``DeviceModifyFlags``), or with nil flags `virDomainAttachDevice`
    /// (the running domain, on the QEMU driver).
    public func attachDevice(xml: String, flags: UInt32? = nil) async throws {
        try await connection.driver.attachDevice(ref, xml: xml, flags: flags)
    }

    /// `virDomainDetachDeviceFlags`, or with nil flags `virDomainDetachDevice`. A live detach that the guest
    /// has not completed within libvirt's wait returns with the removal pending (DEVICE_REMOVED follows).
    public func detachDevice(xml: String, flags: UInt32? = nil) async throws {
        try await connection.driver.detachDevice(ref, xml: xml, flags: flags)
    }

    /// `virDomainUpdateDeviceFlags`: change a device in place (a CD-ROM's medium, a NIC's link state).
    public func updateDevice(xml: String, flags: UInt32 = 0) async throws {
        try await connection.driver.updateDevice(ref, xml: xml, flags: flags)
    }

    /// `virDomainDetachDeviceAlias`: detach the device with this alias.
    public func detachDevice(alias: String, flags: UInt32 = 0) async throws {
        try await connection.driver.detachDeviceAlias(ref, alias: alias, flags: flags)
    }
}
