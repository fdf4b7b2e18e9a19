import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// A q35 domain with disks, a NIC, USB input and an RNG really starts in QEMU from our command line, and the
/// live XML shows libvirt's default devices, device aliases and assigned addresses (the inactive XML does not).
@Suite(.tags(.qemu)) struct QEMULiveDevicesTests {
    @Test func devicesStartAndShowAliasesInLiveXML() async throws {
        let root = try TestPaths.makeTempDir("live")
        defer { TestPaths.removeDir(root) }
        let image = root + "/disk,1.qcow2"
        #expect(try ChildProcess.run(["/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", image, "16M"]).status == 0)
        let driver = try await QEMUDriver.open(root: root)
        let xml = QEMUDriverTests.minimalXML(name: "live", type: "qemu", devices: """
            <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>
              <source file='\(image)'/><target dev='vda' bus='virtio'/><boot order='1'/></disk>
            <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
            <interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>
            <interface type='user'><mac address='52:54:00:12:34:57'/><model type='rtl8139'/></interface>
            <input type='tablet' bus='usb'/>
            <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
            """)
        let dom = try await driver.defineXML(xml, flags: [])
        _ = try await driver.start(dom, flags: .startPaused)
        let qemuPid = try await driver.pid(of: dom) ?? 0
        defer { ProcFS.kill(qemuPid, ifExecutable: "qemu-system") }
        let live = try await driver.xmlDesc(dom, flags: [])
        for alias in ["virtio-disk0", "sata0-0-0", "net0", "input0", "rng0", "balloon0", "usb", "ide", "pcie.0",
                      "pci.1", "net1"] {
            #expect(live.contains("<alias name='\(alias)'/>"), "alias \(alias) missing in live XML:\n\(live)")
        }
        #expect(live.contains("<controller type='usb' index='0' model='qemu-xhci'>"))
        #expect(live.contains("model='pcie-to-pci-bridge'"), "a conventional PCI NIC on q35 sits behind a bridge")
        #expect(live.contains("<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>"))
        #expect(live.contains("<address type='usb' bus='0' port='1'/>"))
        let inactive = try await driver.xmlDesc(dom, flags: .inactive)
        #expect(!inactive.contains("<alias name='virtio-disk0'/>"))
        try await driver.destroy(dom, flags: [])
    }
}
