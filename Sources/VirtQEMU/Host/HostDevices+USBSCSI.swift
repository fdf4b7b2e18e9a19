import Foundation
import VirtCore

/// USB devices and interfaces, SCSI hosts, targets, devices and generic devices, as libvirt's udev backend
/// describes them from what the kernel says of each device (its `uevent` file and sysfs attributes) and, where
/// udevd keeps a database, the properties udev added (USB vendor and product ids and names).
extension HostDeviceDriver {
    /// The kernel's properties of a device (its `uevent` file: DEVTYPE, DEVNAME, BUSNUM, ...).
    static func uevent(_ path: String) -> [String: String] {
        var props: [String: String] = [:]
        for line in (read(path + "/uevent") ?? "").split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            props[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return props
    }

    /// The properties udev stored for a device (`E:` lines of its database file: `cMAJOR:MINOR` for a
    /// character device, `+SUBSYSTEM:SYSNAME` for one without a device node), or none without udevd.
    func udevProperties(_ kernel: [String: String], subsystem: String, sysname: String) -> [String: String] {
        let file: String
        if let major = kernel["MAJOR"], let minor = kernel["MINOR"] {
            file = "c\(major):\(minor)"
        } else {
            file = "+\(subsystem):\(sysname)"
        }
        var props: [String: String] = [:]
        for line in (Self.read(udevData + "/" + file) ?? "").split(separator: "\n") where line.hasPrefix("E:") {
            let kv = line.dropFirst(2)
            guard let eq = kv.firstIndex(of: "=") else { continue }
            props[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
        }
        return props
    }

    /// A sysfs attribute as libvirt reads strings: control characters dropped, empty as absent.
    static func attribute(_ path: String) -> String? {
        guard let v = read(path) else { return nil }
        let s = String(v.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) })
        return s.isEmpty ? nil : s
    }

    /// The `<driver>` element from the device's `driver` link.
    static func driverElement(_ path: String) -> XMLElement? {
        let drv = path + "/driver"
        guard (try? FileManager.default.destinationOfSymbolicLink(atPath: drv)) != nil else { return nil }
        return E.element("driver", [E.element("name", text: (resolved(drv) as NSString).lastPathComponent)])
    }

    /// A hexadecimal sysfs attribute (`bInterfaceClass` and the like), 0 when absent.
    static func hex(_ path: String) -> UInt32 { read(path).flatMap { UInt32($0, radix: 16) } ?? 0 }

    /// `usb_device` (libvirt's udevProcessUSBDevice) and `usb` interfaces (udevProcessUSBInterface), from
    /// `/sys/bus/usb/devices`. Named `usb_SYSNAME` (`usb_usb1`, `usb_1_2`, `usb_1_2_1_0`).
    func usbDevices() -> [Found] {
        let base = sys + "/bus/usb/devices/"
        var out: [Found] = []
        for sysname in Self.entries(base) {
            let path = Self.resolved(base + sysname)
            let kernel = Self.uevent(path)
            let cap: XMLElement
            var devnodes: [XMLElement] = []
            switch kernel["DEVTYPE"] {
            case "usb_device":
                let udev = udevProperties(kernel, subsystem: "usb", sysname: sysname)
                let bus = kernel["BUSNUM"].flatMap { UInt32($0, radix: 10) } ?? 0
                let device = kernel["DEVNUM"].flatMap { UInt32($0, radix: 10) } ?? 0
                let vendor = udev["ID_VENDOR_ID"].flatMap { UInt32($0, radix: 16) } ?? 0
                let product = udev["ID_MODEL_ID"].flatMap { UInt32($0, radix: 16) } ?? 0
                let vendorName = udev["ID_VENDOR_FROM_DATABASE"] ?? Self.attribute(path + "/manufacturer")
                let productName = udev["ID_MODEL_FROM_DATABASE"] ?? Self.attribute(path + "/product")
                cap = E.element("capability", [("type", "usb_device")], [
                    E.element("bus", text: String(bus)), E.element("device", text: String(device)),
                    E.element("product", [("id", "0x" + String(format: "%04x", product))], text: productName),
                    E.element("vendor", [("id", "0x" + String(format: "%04x", vendor))], text: vendorName),
                ])
                if let node = kernel["DEVNAME"] {
                    devnodes.append(E.element("devnode", [("type", "dev")], text: "/dev/" + node))
                }
            case "usb_interface":
                cap = E.element("capability", [("type", "usb")], [
                    E.element("number", text: String(Self.hex(path + "/bInterfaceNumber"))),
                    E.element("class", text: String(Self.hex(path + "/bInterfaceClass"))),
                    E.element("subclass", text: String(Self.hex(path + "/bInterfaceSubClass"))),
                    E.element("protocol", text: String(Self.hex(path + "/bInterfaceProtocol"))),
                ])
            default:
                continue
            }
            out.append(Found(def: NodeDeviceDefinition(name: Self.deviceName(["usb", sysname]), path: path,
                                                       devnodes: devnodes, driver: Self.driverElement(path),
                                                       capabilities: [cap]),
                             syspath: path))
        }
        return out
    }

    /// SCSI hosts, targets and devices (`/sys/bus/scsi/devices`, libvirt's udevProcessSCSIHost/-Target/-Device)
    /// and SCSI generic devices (`/sys/class/scsi_generic`). Names: `scsi_host0`, `scsi_target0_0_0`,
    /// `scsi_0_0_0_0`, `scsi_generic_sg0`. Fibre Channel HBAs' `fc_host`/`vport_ops` and remote ports are not read.
    func scsiDevices() -> [Found] {
        let base = sys + "/bus/scsi/devices/"
        var out: [Found] = []
        for sysname in Self.entries(base) {
            let path = Self.resolved(base + sysname)
            let kernel = Self.uevent(path)
            var kids: [XMLElement] = []
            let type: String
            switch kernel["DEVTYPE"] {
            case "scsi_host":
                guard sysname.hasPrefix("host"), let host = UInt32(sysname.dropFirst(4)) else { continue }
                type = "scsi_host"
                kids.append(E.element("host", text: String(host)))
                if let id = Self.read(sys + "/class/scsi_host/\(sysname)/unique_id").flatMap({ Int32($0) }), id != -1 {
                    kids.append(E.element("unique_id", text: String(id)))
                }
            case "scsi_target":
                type = "scsi_target"
                kids.append(E.element("target", text: sysname))
            case "scsi_device":
                let parts = sysname.split(separator: ":").compactMap { UInt32($0) }
                guard parts.count == 4 else { continue }
                type = "scsi"
                kids = [E.element("host", text: String(parts[0])), E.element("bus", text: String(parts[1])),
                        E.element("target", text: String(parts[2])), E.element("lun", text: String(parts[3]))]
                if let t = Self.read(path + "/type").flatMap({ Int($0) }), let name = Self.scsiTypes[t] {
                    kids.append(E.element("type", text: name))
                }
            default:
                continue
            }
            out.append(Found(def: NodeDeviceDefinition(name: Self.deviceName(["scsi", sysname]), path: path,
                                                       driver: Self.driverElement(path),
                                                       capabilities: [E.element("capability", [("type", type)], kids)]),
                             syspath: path))
        }
        let sg = sys + "/class/scsi_generic/"
        for sysname in Self.entries(sg) {
            let path = Self.resolved(sg + sysname)
            guard let node = Self.uevent(path)["DEVNAME"] else { continue }
            let dev = "/dev/" + node
            out.append(Found(def: NodeDeviceDefinition(name: Self.deviceName(["scsi_generic", sysname]), path: path,
                                                       devnodes: [E.element("devnode", [("type", "dev")], text: dev)],
                                                       driver: Self.driverElement(path),
                                                       capabilities: [E.element("capability", [("type", "scsi_generic")],
                                                                                [E.element("char", text: dev)])]),
                             syspath: path))
        }
        return out
    }

    /// SCSI peripheral device types as libvirt names them (udevGetSCSIType); other types get no `<type>`.
    static let scsiTypes: [Int: String] = [
        0: "disk", 1: "tape", 3: "processor", 4: "worm", 5: "cdrom", 6: "scanner", 7: "mod", 8: "changer",
        0x0d: "enclosure", 12: "raid",
    ]
}
