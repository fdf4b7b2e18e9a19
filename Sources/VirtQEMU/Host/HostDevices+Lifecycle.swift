import Foundation
import VirtCore

/// libvirtd 9.0's answers for the persistent-device calls and PCI assignment on a host's devices: only mediated
/// devices can be defined, undefined, started or marked for autostart (through mdevctl), every device read from
/// sysfs is already active, and PCI assignment goes through VFIO. No host device is ever detached, reset or
/// rebound here: a PCI device that passes libvirt's checks is refused (a difference from libvirtd).
extension HostDeviceDriver {
    public func defineNodeDevice(xml: String, flags: UInt32) async throws -> NodeDeviceRef {
        if flags & ~1 != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags & ~1), function: "nodeDeviceDefineXML", domain: .nodeDevice)
        }
        let def = try NodeDeviceDefinition(xml: xml)
        guard let mdev = def.capabilities.first(where: { $0.attr("type") == "mdev" }) else {
            throw VirtError.configUnsupported("Unsupported device type", domain: .nodeDevice)
        }
        try Self.checkMediatedDevice(mdev, parent: def.parent)
        // The parent must be a device with a bus address (a PCI device here) for mdevctl's JSON.
        let parentName = def.parent ?? ""
        guard let parent = try? find(parentName) else {
            throw VirtError.configUnsupported("invalid parent device '\(parentName)'", domain: .nodeDevice)
        }
        guard parent.capabilityNames.contains(where: { ["pci", "ccw", "css", "ap_matrix"].contains($0) }) else {
            let d = "Unable to find address for parent device '\(parentName)'"
            throw VirtError(.parseFailed, domain: .nodeDevice, "failed to parse configuration file \(d)", str1: d)
        }
        throw Self.mdevctlMissing()
    }

    public func undefineNodeDevice(_ dev: NodeDeviceRef, flags: UInt32) async throws {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: "nodeDeviceUndefine", domain: .nodeDevice)
        }
        let def = try find(dev.name)
        guard try await nodeDeviceIsPersistent(dev) else {
            throw VirtError.operationInvalid("Node device '\(def.name ?? dev.name)' is not defined", domain: .nodeDevice)
        }
        throw VirtError.configUnsupported("Unsupported device type", domain: .nodeDevice)
    }

    public func startNodeDevice(_ dev: NodeDeviceRef, flags: UInt32) async throws {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: "nodeDeviceCreate", domain: .nodeDevice)
        }
        _ = try find(dev.name)
        // Every device read from the host is active.
        throw VirtError.operationInvalid("Device is already active", domain: .nodeDevice)
    }

    public func setNodeDeviceAutostart(_ dev: NodeDeviceRef, autostart: Bool) async throws {
        _ = try find(dev.name)
        throw VirtError.operationUnsupported("Unsupported device type", domain: .nodeDevice)
    }

    public func dettachNodeDevice(_ dev: NodeDeviceRef) async throws {
        try detach(dev, driverName: nil)
    }

    public func detachNodeDevice(_ dev: NodeDeviceRef, driverName: String?, flags: UInt32) async throws {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: "qemuNodeDeviceDetachFlags", domain: .qemu)
        }
        try detach(dev, driverName: driverName)
    }

    public func reattachNodeDevice(_ dev: NodeDeviceRef) async throws {
        try requirePCI(find(dev.name), dev)
        throw Self.assignmentRefused(dev)
    }

    public func resetNodeDevice(_ dev: NodeDeviceRef) async throws {
        try requirePCI(find(dev.name), dev)
        throw Self.assignmentRefused(dev)
    }

    /// libvirt's order: the device's XML, the backend (VFIO by default; KVM assignment is gone), then whether it
    /// is a PCI device.
    func detach(_ dev: NodeDeviceRef, driverName: String?) throws(VirtError) {
        let def = try find(dev.name)
        switch driverName ?? "" {
        case "", "vfio":
            guard vfioSupported else {
                throw VirtError(.argumentUnsupported, domain: .qemu,
                                "argument unsupported: VFIO device assignment is currently not supported on this system")
            }
        case "kvm":
            throw VirtError(.argumentUnsupported, domain: .qemu,
                            "argument unsupported: KVM device assignment is no longer supported on this system")
        case let other:
            throw VirtError.invalidArg("unknown driver name '\(other)'", domain: .qemu)
        }
        try requirePCI(def, dev)
        throw Self.assignmentRefused(dev)
    }

    /// `virDomainDriverNodeDeviceGetPCIInfo`: the device must have a PCI capability.
    func requirePCI(_ def: NodeDeviceDefinition, _ dev: NodeDeviceRef) throws(VirtError) {
        guard def.capabilityNames.contains("pci") else {
            throw VirtError.invalidArg("device \(def.name ?? dev.name) is not a PCI device", domain: .domain)
        }
    }

    /// VFIO assignment needs the VFIO container device and IOMMU groups.
    var vfioSupported: Bool {
        let groups = (try? FileManager.default.contentsOfDirectory(atPath: sys + "/kernel/iommu_groups")) ?? []
        return FileManager.default.fileExists(atPath: "/dev/vfio/vfio") && !groups.isEmpty
    }

    /// A PCI device that passed libvirt's checks: never touched here.
    static func assignmentRefused(_ dev: NodeDeviceRef) -> VirtError {
        VirtError.operationUnsupported("assigning host PCI device \(dev.name) is not supported by this daemon",
                                       domain: .qemu)
    }

    /// The parse checks of a mediated device to create: its type and its parent.
    static func checkMediatedDevice(_ mdev: XMLElement, parent: String?) throws(VirtError) {
        guard mdev.child("type")?.attr("id") != nil else {
            throw VirtError.configUnsupported("missing type id attribute for 'new device'", domain: .nodeDevice)
        }
        guard parent != nil else {
            throw VirtError.configUnsupported("missing parent device", domain: .nodeDevice)
        }
    }

    /// Mediated devices are made by mdevctl; without it, libvirt's lookup error (with it, not supported here).
    static func mdevctlMissing() -> VirtError {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let found = path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/mdevctl") }
        if found {
            return VirtError.operationUnsupported("mediated devices are not supported by this daemon", domain: .nodeDevice)
        }
        return VirtError.systemError("Cannot find 'mdevctl' in path", errno: ENOENT, domain: .none)
    }
}
