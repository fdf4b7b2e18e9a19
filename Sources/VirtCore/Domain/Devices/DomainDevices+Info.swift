extension DomainDevices {
    /// Calls `body` with the element name and a mutable ``DeviceInfo`` of every typed device, in libvirt's
    /// formatting order: the hook hypervisor drivers use to assign PCI/drive/USB addresses and aliases.
    public mutating func updateDeviceInfos(_ body: (_ kind: String, _ info: inout DeviceInfo) -> Void) {
        for i in disks.indices { body("disk", &disks[i].info) }
        for i in controllers.indices { body("controller", &controllers[i].info) }
        for i in interfaces.indices { body("interface", &interfaces[i].info) }
        for i in serials.indices { body("serial", &serials[i].info) }
        for i in parallels.indices { body("parallel", &parallels[i].info) }
        for i in consoles.indices { body("console", &consoles[i].info) }
        for i in channels.indices { body("channel", &channels[i].info) }
        for i in inputs.indices { body("input", &inputs[i].info) }
        for i in tpms.indices { body("tpm", &tpms[i].info) }
        for i in sounds.indices { body("sound", &sounds[i].info) }
        for i in videos.indices { body("video", &videos[i].info) }
        for i in hostdevs.indices { body("hostdev", &hostdevs[i].info) }
        for i in redirdevs.indices { body("redirdev", &redirdevs[i].info) }
        for i in watchdogs.indices { body("watchdog", &watchdogs[i].info) }
        if memballoon != nil {
            var info = memballoon?.info ?? DeviceInfo()
            body("memballoon", &info)
            memballoon?.info = info
        }
        for i in rngs.indices { body("rng", &rngs[i].info) }
        for i in memories.indices { body("memory", &memories[i].info) }
    }

    /// Every typed device's element name and ``DeviceInfo``, in libvirt's formatting order.
    public var deviceInfos: [(kind: String, info: DeviceInfo)] {
        var copy = self
        var out: [(kind: String, info: DeviceInfo)] = []
        copy.updateDeviceInfos { kind, info in out.append((kind, info)) }
        return out
    }

    /// The PCI addresses already taken by devices, for address assignment.
    public var usedPCIAddresses: [PCIAddress] {
        deviceInfos.compactMap { if case .pci(let a)? = $0.info.address, !a.isEmpty { a } else { nil } }
    }
}
