import Foundation
import Testing
import VirtCore
@testable import VirtQEMU

/// USB and SCSI node devices read from a sysfs tree. These hosts have neither a USB bus nor a SCSI host, so no
/// differential test with libvirtd can show them: the tree below is laid out as the kernel lays out a USB
/// keyboard behind an xHCI controller and a virtio-scsi CD-ROM (uevent files, attributes, driver links, the
/// bus and class links), and the expected XML is what libvirt's udev backend makes of such devices.
@Suite struct HostUSBSCSIDevicesTests {
    /// A fake sysfs root and a fake udev database directory.
    final class Tree {
        let root: String
        var sys: String { root + "/sys" }
        var udev: String { root + "/udev" }

        init() throws {
            root = NSTemporaryDirectory() + "sysfs-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: root + "/udev", withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func file(_ path: String, _ text: String) throws {
            let full = sys + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try (text + "\n").write(toFile: full, atomically: false, encoding: .utf8)
        }

        func dir(_ path: String) throws {
            try FileManager.default.createDirectory(atPath: sys + "/" + path, withIntermediateDirectories: true)
        }

        /// A relative symbolic link `path` → `target` (both under the sysfs root), as sysfs links are.
        func link(_ path: String, to target: String) throws {
            let full = sys + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            let depth = path.split(separator: "/").count - 1
            let rel = String(repeating: "../", count: depth) + target
            try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: rel)
        }
    }

    static let xhci = "devices/pci0000:00/0000:00:14.0"
    static let scsiHBA = "devices/pci0000:00/0000:00:05.0/virtio2"

    static func makeTree(udevDatabase: Bool) throws -> Tree {
        let t = try Tree()
        // The xHCI controller (a PCI device, the root hub's parent).
        try t.file(xhci + "/class", "0x0c0330")
        try t.file(xhci + "/vendor", "0x8086")
        try t.file(xhci + "/device", "0xa36d")
        try t.link("bus/pci/devices/0000:00:14.0", to: xhci)
        try t.dir("bus/usb/drivers/usb")
        try t.dir("bus/usb/drivers/usbhid")
        // The root hub and a keyboard on its port 2.
        let hub = xhci + "/usb1"
        try t.file(hub + "/uevent", "MAJOR=189\nMINOR=0\nDEVNAME=bus/usb/001/001\nDEVTYPE=usb_device\nDRIVER=usb\n"
                   + "PRODUCT=1d6b/3/606\nTYPE=9/0/3\nBUSNUM=001\nDEVNUM=001")
        try t.file(hub + "/manufacturer", "Linux 6.6.0 xhci-hcd")
        try t.file(hub + "/product", "xHCI Host Controller")
        try t.link(hub + "/driver", to: "bus/usb/drivers/usb")
        try t.link("bus/usb/devices/usb1", to: hub)
        let kbd = hub + "/1-2"
        try t.file(kbd + "/uevent", "MAJOR=189\nMINOR=1\nDEVNAME=bus/usb/001/002\nDEVTYPE=usb_device\nDRIVER=usb\n"
                   + "PRODUCT=46d/c31c/6400\nTYPE=0/0/0\nBUSNUM=001\nDEVNUM=002")
        try t.file(kbd + "/manufacturer", "Logitech\u{1}")
        try t.file(kbd + "/product", "USB Keyboard")
        try t.link(kbd + "/driver", to: "bus/usb/drivers/usb")
        try t.link("bus/usb/devices/1-2", to: kbd)
        // A device that gives no strings (no manufacturer, no product).
        let bare = hub + "/1-1"
        try t.file(bare + "/uevent", "MAJOR=189\nMINOR=2\nDEVNAME=bus/usb/001/003\nDEVTYPE=usb_device\nBUSNUM=001\n"
                   + "DEVNUM=003")
        try t.link("bus/usb/devices/1-1", to: bare)
        let intf = kbd + "/1-2:1.0"
        try t.file(intf + "/uevent", "DEVTYPE=usb_interface\nDRIVER=usbhid\nPRODUCT=46d/c31c/6400\nTYPE=0/0/0\n"
                   + "INTERFACE=3/1/1")
        try t.file(intf + "/bInterfaceNumber", "00")
        try t.file(intf + "/bInterfaceClass", "03")
        try t.file(intf + "/bInterfaceSubClass", "01")
        try t.file(intf + "/bInterfaceProtocol", "01")
        try t.link(intf + "/driver", to: "bus/usb/drivers/usbhid")
        try t.link("bus/usb/devices/1-2:1.0", to: intf)
        // A virtio-scsi host with a CD-ROM at 0:0:0:0 and its SCSI generic node.
        try t.file("devices/pci0000:00/0000:00:05.0/class", "0x010000")
        try t.file("devices/pci0000:00/0000:00:05.0/vendor", "0x1af4")
        try t.file("devices/pci0000:00/0000:00:05.0/device", "0x1004")
        try t.link("bus/pci/devices/0000:00:05.0", to: "devices/pci0000:00/0000:00:05.0")
        try t.dir("bus/scsi/drivers/sr")
        let host = scsiHBA + "/host0"
        try t.file(host + "/uevent", "DEVTYPE=scsi_host")
        try t.file(host + "/scsi_host/host0/unique_id", "1")
        try t.link("class/scsi_host/host0", to: host + "/scsi_host/host0")
        try t.link("bus/scsi/devices/host0", to: host)
        let target = host + "/target0:0:0"
        try t.file(target + "/uevent", "DEVTYPE=scsi_target")
        try t.link("bus/scsi/devices/target0:0:0", to: target)
        let lun = target + "/0:0:0:0"
        try t.file(lun + "/uevent", "DEVTYPE=scsi_device\nDRIVER=sr\nMODALIAS=scsi:t-0x05")
        try t.file(lun + "/type", "5")
        try t.link(lun + "/driver", to: "bus/scsi/drivers/sr")
        try t.link("bus/scsi/devices/0:0:0:0", to: lun)
        try t.file(lun + "/scsi_generic/sg0/uevent", "MAJOR=21\nMINOR=0\nDEVNAME=sg0")
        try t.link("class/scsi_generic/sg0", to: lun + "/scsi_generic/sg0")
        if udevDatabase {
            // What udevd's usb_id and hwdb builtins store for the keyboard.
            try ("E:ID_VENDOR_ID=046d\nE:ID_MODEL_ID=c31c\nE:ID_VENDOR_FROM_DATABASE=Logitech, Inc.\n"
                 + "E:ID_MODEL_FROM_DATABASE=Keyboard K120\nG:seat\n").write(toFile: t.udev + "/c189:1", atomically: false,
                                                                              encoding: .utf8)
        }
        return t
    }

    func xml(_ d: HostDeviceDriver, _ name: String) async throws -> String {
        try await d.nodeDeviceXML(NodeDeviceRef(name: name), flags: 0)
    }

    @Test func usbDevicesAsLibvirtWithoutUdevDatabase() async throws {
        let t = try Self.makeTree(udevDatabase: false)
        let d = HostDeviceDriver(sysfs: t.sys, udevData: t.udev)
        #expect(try await xml(d, "usb_usb1") == """
            <device>
              <name>usb_usb1</name>
              <path>\(t.sys)/\(Self.xhci)/usb1</path>
              <devnode type='dev'>/dev/bus/usb/001/001</devnode>
              <parent>pci_0000_00_14_0</parent>
              <driver>
                <name>usb</name>
              </driver>
              <capability type='usb_device'>
                <bus>1</bus>
                <device>1</device>
                <product id='0x0000'>xHCI Host Controller</product>
                <vendor id='0x0000'>Linux 6.6.0 xhci-hcd</vendor>
              </capability>
            </device>

            """)
        // Control characters are dropped from sysfs strings.
        #expect(try await xml(d, "usb_1_2").contains("<vendor id='0x0000'>Logitech</vendor>"))
        #expect(try await d.nodeDeviceParent(NodeDeviceRef(name: "usb_1_2")) == "usb_usb1")
        #expect(try await xml(d, "usb_1_2_1_0") == """
            <device>
              <name>usb_1_2_1_0</name>
              <path>\(t.sys)/\(Self.xhci)/usb1/1-2/1-2:1.0</path>
              <parent>usb_1_2</parent>
              <driver>
                <name>usbhid</name>
              </driver>
              <capability type='usb'>
                <number>0</number>
                <class>3</class>
                <subclass>1</subclass>
                <protocol>1</protocol>
              </capability>
            </device>

            """)
        #expect(try await xml(d, "usb_1_1") == """
            <device>
              <name>usb_1_1</name>
              <path>\(t.sys)/\(Self.xhci)/usb1/1-1</path>
              <devnode type='dev'>/dev/bus/usb/001/003</devnode>
              <parent>usb_usb1</parent>
              <capability type='usb_device'>
                <bus>1</bus>
                <device>3</device>
                <product id='0x0000' />
                <vendor id='0x0000' />
              </capability>
            </device>

            """)
        #expect(try await d.listNodeDevices(cap: "usb_device", max: 10, flags: 0).sorted()
                == ["usb_1_1", "usb_1_2", "usb_usb1"])
        #expect(try await d.listNodeDevices(cap: "usb", max: 10, flags: 0) == ["usb_1_2_1_0"])
    }

    @Test func usbIdsAndNamesFromUdevDatabase() async throws {
        let t = try Self.makeTree(udevDatabase: true)
        let d = HostDeviceDriver(sysfs: t.sys, udevData: t.udev)
        let x = try await xml(d, "usb_1_2")
        #expect(x.contains("<product id='0xc31c'>Keyboard K120</product>"), "\(x)")
        #expect(x.contains("<vendor id='0x046d'>Logitech, Inc.</vendor>"), "\(x)")
        // The root hub has no database entry here: ids 0, names from sysfs.
        #expect(try await xml(d, "usb_usb1").contains("<product id='0x0000'>xHCI Host Controller</product>"))
    }

    @Test func scsiDevicesAsLibvirt() async throws {
        let t = try Self.makeTree(udevDatabase: false)
        let d = HostDeviceDriver(sysfs: t.sys, udevData: t.udev)
        let host = "\(t.sys)/\(Self.scsiHBA)/host0"
        #expect(try await xml(d, "scsi_host0") == """
            <device>
              <name>scsi_host0</name>
              <path>\(host)</path>
              <parent>pci_0000_00_05_0</parent>
              <capability type='scsi_host'>
                <host>0</host>
                <unique_id>1</unique_id>
              </capability>
            </device>

            """)
        #expect(try await xml(d, "scsi_target0_0_0") == """
            <device>
              <name>scsi_target0_0_0</name>
              <path>\(host)/target0:0:0</path>
              <parent>scsi_host0</parent>
              <capability type='scsi_target'>
                <target>target0:0:0</target>
              </capability>
            </device>

            """)
        #expect(try await xml(d, "scsi_0_0_0_0") == """
            <device>
              <name>scsi_0_0_0_0</name>
              <path>\(host)/target0:0:0/0:0:0:0</path>
              <parent>scsi_target0_0_0</parent>
              <driver>
                <name>sr</name>
              </driver>
              <capability type='scsi'>
                <host>0</host>
                <bus>0</bus>
                <target>0</target>
                <lun>0</lun>
                <type>cdrom</type>
              </capability>
            </device>

            """)
        #expect(try await xml(d, "scsi_generic_sg0") == """
            <device>
              <name>scsi_generic_sg0</name>
              <path>\(host)/target0:0:0/0:0:0:0/scsi_generic/sg0</path>
              <devnode type='dev'>/dev/sg0</devnode>
              <parent>scsi_0_0_0_0</parent>
              <capability type='scsi_generic'>
                <char>/dev/sg0</char>
              </capability>
            </device>

            """)
        #expect(try await d.listNodeDevices(cap: "scsi_host", max: 10, flags: 0) == ["scsi_host0"])
        let all = try await d.listAllNodeDevices(flags: 1 << 11).map(\.name)  // VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI_GENERIC
        #expect(all == ["scsi_generic_sg0"])
    }
}
