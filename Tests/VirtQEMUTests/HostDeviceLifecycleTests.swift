import Foundation
import Testing
import VirtCore
@testable import VirtQEMU

/// The host device driver's refusals for define/undefine/create/autostart and PCI assignment on a sysfs tree with
/// one PCI device. The PCI paths libvirtd would follow by touching the device (reset, re-attach, detach where VFIO
/// is usable) are never compared with libvirtd on these hosts; here they must end in virtd's refusal, and every
/// check libvirt makes first must come first.
@Suite struct HostDeviceLifecycleTests {
    static func driver() throws -> (HostUSBSCSIDevicesTests.Tree, HostDeviceDriver, NodeDeviceRef) {
        let t = try HostUSBSCSIDevicesTests.Tree()
        let pci = "devices/pci0000:00/0000:00:03.0"
        try t.file(pci + "/class", "0x020000")
        try t.file(pci + "/vendor", "0x1af4")
        try t.file(pci + "/device", "0x1000")
        try t.link("bus/pci/devices/0000:00:03.0", to: pci)
        try t.dir("kernel/iommu_groups/3")
        let d = HostDeviceDriver(sysfs: t.sys, udevData: t.udev)
        return (t, d, NodeDeviceRef(name: "pci_0000_00_03_0"))
    }

    static func failure(_ body: () async throws -> Void) async -> VirtError? {
        do {
            try await body()
            return nil
        } catch let e as VirtError {
            return e
        } catch {
            return nil
        }
    }

    @Test func pciAssignmentIsCheckedInLibvirtsOrderAndNeverDone() async throws {
        let (tree, d, pci) = try Self.driver()
        _ = tree
        #expect(try await d.listAllNodeDevices(flags: 0).contains(pci))
        let computer = NodeDeviceRef(name: "computer")

        var e = await Self.failure { try await d.resetNodeDevice(pci) }
        #expect(e?.code == .operationUnsupported)
        #expect(e?.message == "Operation not supported: assigning host PCI device pci_0000_00_03_0 is not supported by this daemon")
        e = await Self.failure { try await d.reattachNodeDevice(pci) }
        #expect(e?.code == .operationUnsupported)
        e = await Self.failure { try await d.reattachNodeDevice(computer) }
        #expect(e?.code == .invalidArg && e?.domain == .domain)
        #expect(e?.message == "invalid argument: device computer is not a PCI device")
        e = await Self.failure { try await d.detachNodeDevice(pci, driverName: "kvm", flags: 0) }
        #expect(e?.code == .argumentUnsupported && e?.domain == .qemu)
        #expect(e?.message == "argument unsupported: KVM device assignment is no longer supported on this system")
        e = await Self.failure { try await d.detachNodeDevice(computer, driverName: "xen", flags: 0) }
        #expect(e?.message == "invalid argument: unknown driver name 'xen'")
        e = await Self.failure { try await d.detachNodeDevice(pci, driverName: nil, flags: 4) }
        #expect(e?.message == "unsupported flags (0x4) in function qemuNodeDeviceDetachFlags")
        e = await Self.failure { try await d.resetNodeDevice(NodeDeviceRef(name: "pci_9999_00_00_0")) }
        #expect(e?.code == .noNodeDevice)
        // Without the VFIO container device VFIO is refused first; with it, the PCI device is still never detached.
        let vfio = FileManager.default.fileExists(atPath: "/dev/vfio/vfio")
        for dev in [pci, computer] {
            e = await Self.failure { try await d.dettachNodeDevice(dev) }
            if !vfio {
                #expect(e?.message == "argument unsupported: VFIO device assignment is currently not supported on this system")
            } else {
                #expect(e?.code == (dev == pci ? .operationUnsupported : .invalidArg))
            }
        }
    }

    @Test func devicesReadFromTheHostAreActiveAndOnlyMediatedOnesCanBeDefined() async throws {
        let (tree, d, pci) = try Self.driver()
        _ = tree
        var e = await Self.failure { try await d.startNodeDevice(pci, flags: 0) }
        #expect(e?.message == "Requested operation is not valid: Device is already active")
        e = await Self.failure { try await d.undefineNodeDevice(pci, flags: 0) }
        #expect(e?.message == "Requested operation is not valid: Node device 'pci_0000_00_03_0' is not defined")
        e = await Self.failure { try await d.undefineNodeDevice(NodeDeviceRef(name: "computer"), flags: 0) }
        #expect(e?.message == "unsupported configuration: Unsupported device type")
        e = await Self.failure { try await d.setNodeDeviceAutostart(pci, autostart: true) }
        #expect(e?.code == .operationUnsupported && e?.domain == .nodeDevice)

        func define(_ xml: String) async -> VirtError? { await Self.failure { _ = try await d.defineNodeDevice(xml: xml, flags: 0) } }
        let mdev = { (parent: String) in
            "<device><parent>\(parent)</parent><capability type='mdev'><type id='nvidia-11'/></capability></device>"
        }
        e = await define("<device><capability type='net'><interface>x</interface></capability></device>")
        #expect(e?.message == "unsupported configuration: Unsupported device type")
        e = await define(mdev("computer"))
        #expect(e?.code == .parseFailed)
        #expect(e?.message == "failed to parse configuration file Unable to find address for parent device 'computer'")
        e = await define(mdev("nope"))
        #expect(e?.message == "unsupported configuration: invalid parent device 'nope'")
        e = await define("<device><parent>computer</parent><capability type='mdev'/></device>")
        #expect(e?.message == "unsupported configuration: missing type id attribute for 'new device'")
        e = await define(mdev("pci_0000_00_03_0"))
        if !NodeDeviceLifecycleHost.has("mdevctl") {
            #expect(e?.code == .systemError && e?.domain == VirtError.ErrorDomain.none)
            #expect(e?.message == "Cannot find 'mdevctl' in path: No such file or directory")
        } else {
            #expect(e?.code == .operationUnsupported)
        }
        e = await Self.failure { _ = try await d.defineNodeDevice(xml: mdev("computer"), flags: 2) }
        #expect(e?.message == "unsupported flags (0x2) in function nodeDeviceDefineXML")
    }
}

enum NodeDeviceLifecycleHost {
    static func has(_ tool: String) -> Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }
}
