import VirtCore

/// Devices, live and persistent: libvirt's qemuDomain{Attach,Detach,Update}DeviceFlags and
/// qemuDomainDetachDeviceAlias. The legacy calls without flags act on the running domain, as libvirt's.
extension QEMUDriver {
    private static func checkDeviceFlags(_ flags: UInt32, allowed: UInt32, _ function: String) throws {
        if flags & ~allowed != 0 {
            // virCheckFlags: INVALID_ARG without the "invalid argument" prefix.
            throw VirtError(.invalidArg, domain: .qemu,
                            "unsupported flags (0x\(String(flags & ~allowed, radix: 16))) in function \(function)")
        }
    }

    private func deviceCapabilities(_ obj: QEMUDomainObject) async throws -> QEMUCapabilities {
        let live = await obj.liveDefinition
        let def: DomainDefinition
        if let live { def = live } else { def = await obj.definition }
        return try await state.capabilities.capabilities(for: def.devices.emulator ?? QEMUCommandLine.defaultEmulator)
    }

    public func attachDevice(_ domain: DomainRef, xml: String, flags: UInt32?) async throws {
        try Self.checkDeviceFlags(flags ?? 0, allowed: 3, "qemuDomainAttachDeviceLiveAndConfig")
        let obj = try await state.object(domain)
        let caps = try await deviceCapabilities(obj)
        let f = flags ?? DeviceModifyFlags.live
        // A NIC of type network plugged into the running domain: its network's bridge, resolved as at start
        // (the network must exist and run).
        if await obj.isActive, f & DeviceModifyFlags.live != 0 || f & DeviceModifyFlags.config == 0,
           let n = (try? DeviceDefinition.parse(xml))?.interface, n.type == .network, let name = n.network {
            let bridge = try await resolveNetworkBridge(name)
            await obj.addResolvedNetworkBridge(name, bridge)
        }
        // An encrypted disk plugged into the running domain: its passphrase from the secret driver, as at start.
        if await obj.isActive, f & DeviceModifyFlags.live != 0 || f & DeviceModifyFlags.config == 0,
           let d = (try? DeviceDefinition.parse(xml))?.disk, QEMUCommandLine.diskHasSource(d),
           let enc = QEMUDiskEncryption.of(d) {
            await obj.setDiskPassphrases([d.target.dev: try await diskPassphrase(enc)])
        }
        try await obj.attachDevice(xml: xml, flags: f, capabilities: caps)
    }

    public func detachDevice(_ domain: DomainRef, xml: String, flags: UInt32?) async throws {
        try Self.checkDeviceFlags(flags ?? 0, allowed: 3, "qemuDomainDetachDeviceLiveAndConfig")
        try await state.object(domain).detachDevice(xml: xml, flags: flags ?? DeviceModifyFlags.live)
    }

    public func updateDevice(_ domain: DomainRef, xml: String, flags: UInt32) async throws {
        try Self.checkDeviceFlags(flags, allowed: 7, "qemuDomainUpdateDeviceFlags")
        try await state.object(domain).updateDevice(xml: xml, flags: flags)
    }

    public func detachDeviceAlias(_ domain: DomainRef, alias: String, flags: UInt32) async throws {
        try Self.checkDeviceFlags(flags, allowed: 3, "qemuDomainDetachDeviceAliasLiveAndConfig")
        try await state.object(domain).detachDeviceAlias(alias, flags: flags)
    }
}
