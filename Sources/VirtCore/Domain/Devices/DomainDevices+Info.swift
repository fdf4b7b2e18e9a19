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

extension DomainDevices {
    /// libvirt's checks of memory devices against the domain's memory and NUMA layout (they need the domain,
    /// so the domain parser calls this after its own post-parse): without NUMA cells the devices must leave some
    /// initial memory, and no device may name a guest node; with cells, the node must exist.
    public func validateMemoryDevices(totalMemoryKiB: UInt64, numaNodeCount: Int) throws(VirtError) {
        guard !memories.isEmpty else { return }
        if numaNodeCount == 0 {
            let hotplug = memories.reduce(UInt64(0)) { $0 &+ $1.sizeKiB }
            if hotplug > totalMemoryKiB {
                throw DeviceError.xml("Total size of memory devices exceeds the total memory size")
            }
            if hotplug == totalMemoryKiB {
                throw DeviceError.xml("Memory size must be specified via <memory> or in the <numa> configuration")
            }
        }
        for m in memories {
            guard let node = m.node else { continue }
            if numaNodeCount == 0 {
                let msg = "can't add memory backend as guest has no NUMA nodes configured"
                throw VirtError(.xmlDetail, domain: .domain, msg, str1: msg)
            }
            if Int(node) >= numaNodeCount {
                let msg = "can't add memory backend for guest node '\(node)' as the guest has only "
                    + "'\(numaNodeCount)' NUMA nodes configured"
                throw VirtError(.xmlDetail, domain: .domain, msg, str1: msg)
            }
        }
    }
}

extension DomainDevices {
    /// The defaults and checks that depend on the guest OS type (libvirt 9.0's test driver): guests that are
    /// not `hvm` get the `xen` video model by default and cannot have input devices.
    public mutating func applyOSType(_ osType: String) throws(VirtError) {
        guard osType != "hvm" else { return }
        if !inputs.isEmpty {
            throw DeviceError.internalError("Input devices are not supported by this virtualization driver.")
        }
        for i in videos.indices where videos[i].modelWasDefault {
            var v = videos[i]
            v.model = .default
            v.vram = v.vramAsWritten
            v.postParse(defaultModel: .xen)
            videos[i] = v
        }
    }
}
