import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// Device hotplug through the embedded QEMU driver on a q35 TCG domain with no guest OS: a USB disk comes and
/// goes at once (QEMU unplugs USB devices without the guest) with DEVICE_ADDED and DEVICE_REMOVED; a virtio disk
/// takes the root port libvirt keeps free for hotplug, and its detach, which no guest answers, returns after the
/// 5 s wait with the disk still attached; --config changes only the persistent definition, and bad input
/// changes neither.
@Suite(.tags(.qemu)) struct QEMUHotplugEmbeddedTests {
    @Test func usbAndVirtioDisksOnQ35() async throws {
        let root = try TestPaths.makeTempDir("hpe")
        defer { TestPaths.removeDir(root) }
        for name in ["a.img", "b.img", "c.img"] {
            FileManager.default.createFile(atPath: root + "/" + name, contents: Data(count: 1 << 20))
        }
        let driver = try await QEMUDriver.open(root: root)
        let dom = try await driver.defineXML(QEMUDriverTests.minimalXML(name: "hpe", type: "qemu"), flags: [])
        _ = try await driver.start(dom, flags: .startPaused)
        let qemuPid = try await driver.pid(of: dom) ?? 0
        defer { ProcFS.kill(qemuPid, ifExecutable: "qemu-system") }
        var events = driver.events().makeAsyncIterator()

        let usb = "<disk type='file' device='disk'><source file='\(root)/a.img'/><target dev='sdb' bus='usb'/></disk>"
        try await driver.attachDevice(dom, xml: usb, flags: DeviceModifyFlags.live)
        var live = try await driver.xmlDesc(dom, flags: [])
        #expect(live.contains("<alias name='usb-disk1'/>"), "\(live)")
        #expect(live.contains("<source file='\(root)/a.img' index='1'/>"), "\(live)")
        var ev = await events.next()
        #expect(ev?.kind == .deviceAdded(alias: "usb-disk1"))
        let nodes = try await driver.qemuMonitorCommand(dom, command: #"{"execute":"query-named-block-nodes","arguments":{"flat":true}}"#, flags: 0)
        #expect(nodes.contains("libvirt-1-format") && nodes.contains("libvirt-1-storage"), "\(nodes)")

        // Saved and restored with the hot-plugged disk: the image's XML has it, so the restored QEMU does.
        try await driver.save(dom, to: root + "/hpe.save", xml: nil, flags: [])
        try await driver.restore(from: root + "/hpe.save", xml: nil, flags: [])
        live = try await driver.xmlDesc(dom, flags: [])
        #expect(live.contains("<alias name='usb-disk1'/>") && live.contains("<target dev='sdb' bus='usb'/>"), "\(live)")
        // As libvirt: the restore runs the image's definition; the persistent one stays without the live-only disk.
        let persistent = try await driver.xmlDesc(dom, flags: [.inactive])
        #expect(!persistent.contains("a.img"), "\(persistent)")

        try await driver.detachDevice(dom, xml: usb, flags: nil)
        // The next device event after the save's and restore's lifecycle and migration events.
        func isDeviceEvent(_ e: DomainEventRecord?) -> Bool {
            switch e?.kind {
            case .deviceAdded?, .deviceRemoved?, nil: true
            default: false
            }
        }
        repeat { ev = await events.next() } while !isDeviceEvent(ev)
        #expect(ev?.kind == .deviceRemoved(alias: "usb-disk1"))
        live = try await driver.xmlDesc(dom, flags: [])
        #expect(!live.contains("usb-disk1"), "\(live)")
        let after = try await driver.qemuMonitorCommand(dom, command: #"{"execute":"query-named-block-nodes"}"#, flags: 0)
        #expect(!after.contains("libvirt-1-"), "\(after)")

        // A virtio disk on q35 goes into the free root port (bus 2 here: balloon on port 1, port 2 spare).
        let virtio = "<disk type='file' device='disk'><source file='\(root)/b.img'/><target dev='vdb' bus='virtio'/></disk>"
        try await driver.attachDevice(dom, xml: virtio, flags: nil)
        live = try await driver.xmlDesc(dom, flags: [])
        #expect(live.contains("<alias name='virtio-disk1'/>"), "\(live)")
        #expect(live.contains("<address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>"), "\(live)")
        // A second one finds no free port.
        let third = "<disk type='file' device='disk'><source file='\(root)/c.img'/><target dev='vdc' bus='virtio'/></disk>"
        await #expect(throws: VirtError.self) { try await driver.attachDevice(dom, xml: third, flags: nil) }
        let unchanged = try await driver.xmlDesc(dom, flags: [])
        #expect(unchanged == live)
        let clock = ContinuousClock()
        let t0 = clock.now
        try await driver.detachDevice(dom, xml: virtio, flags: DeviceModifyFlags.live)
        #expect(clock.now - t0 >= .seconds(4.5))
        #expect(try await driver.xmlDesc(dom, flags: []).contains("virtio-disk1"), "the removal is still pending")

        // --config: the persistent definition only; a bad bus changes nothing.
        try await driver.attachDevice(dom, xml: third, flags: DeviceModifyFlags.config)
        #expect(try await driver.xmlDesc(dom, flags: .inactive).contains("<target dev='vdc' bus='virtio'/>"))
        #expect(!(try await driver.xmlDesc(dom, flags: []).contains("vdc")))
        let inactive = try await driver.xmlDesc(dom, flags: .inactive)
        let bad = "<disk type='file' device='disk'><source file='\(root)/c.img'/><target dev='vdd' bus='foo'/></disk>"
        await #expect(throws: VirtError.self) { try await driver.attachDevice(dom, xml: bad, flags: 3) }
        #expect(try await driver.xmlDesc(dom, flags: .inactive) == inactive)
        try await driver.destroy(dom, flags: [])
        await #expect(throws: VirtError.self) { try await driver.attachDevice(dom, xml: usb, flags: DeviceModifyFlags.live) }
    }
}
