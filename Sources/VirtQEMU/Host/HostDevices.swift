import CSpawn
import Foundation
import VirtCore

/// The host's devices and network interfaces as libvirt's udev backends report them on a host without a udev
/// database (the state these machines are in: udevd does not run, so only what sysfs itself says is known):
/// the computer (DMI), PCI devices, network interfaces and virtio disks, each named and parented as libvirt
/// names them. Read from sysfs on every call: the host's devices change behind the daemon's back.
public final class HostDeviceDriver: NodeDeviceDriver, InterfaceDriver, Sendable {
    let sys: String
    /// udev's database (`/run/udev/data`), read where udevd keeps one, as libudev gives libvirt its properties.
    let udevData: String

    public init(sysfs: String = "/sys", udevData: String = "/run/udev/data") {
        sys = sysfs
        self.udevData = udevData
    }

    /// One device found: its definition and the sysfs directory it came from.
    struct Found {
        var def: NodeDeviceDefinition
        var syspath: String
    }

    // MARK: Reading sysfs

    static func read(_ path: String) -> String? {
        guard let s = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return s.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func entries(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    static func resolved(_ path: String) -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map { link in
            URL(fileURLWithPath: link, relativeTo: URL(fileURLWithPath: (path as NSString).deletingLastPathComponent))
                .standardizedFileURL.path
        } ?? path
    }

    /// libvirt's `virNodeDeviceGenerateName`: characters other than letters, digits and '_' become '_'.
    static func deviceName(_ parts: [String]) -> String {
        String(parts.joined(separator: "_").map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
    }

    typealias E = NodeDeviceDefinition

    func scan() -> [Found] {
        var found: [Found] = [computer()]
        found += pciDevices()
        found += netDevices()
        found += blockDevices()
        found += usbDevices()
        found += scsiDevices()
        // Parents: the nearest sysfs ancestor that is a listed device, else the computer.
        let byPath = Dictionary(found.map { ($0.syspath, $0.def.name ?? "") }, uniquingKeysWith: { a, _ in a })
        for i in found.indices where found[i].def.name != "computer" {
            var p = (found[i].syspath as NSString).deletingLastPathComponent
            var parent = "computer"
            while p.count > 1 {
                if let n = byPath[p] {
                    parent = n
                    break
                }
                p = (p as NSString).deletingLastPathComponent
            }
            found[i].def.parent = parent
        }
        return found
    }

    /// The computer: DMI data where the kernel gives it (`/sys/class/dmi/id`).
    func computer() -> Found {
        let dmi = sys + "/class/dmi/id/"
        func d(_ f: String) -> String? { Self.read(dmi + f).flatMap { $0.isEmpty ? nil : $0 } }
        var kids: [XMLElement] = []
        if let p = d("product_name") { kids.append(E.element("product", text: p)) }
        var hw: [XMLElement] = []
        if let v = d("sys_vendor") { hw.append(E.element("vendor", text: v)) }
        if let v = d("product_version") { hw.append(E.element("version", text: v)) }
        if let v = d("product_serial") { hw.append(E.element("serial", text: v)) }
        hw.append(E.element("uuid", text: d("product_uuid") ?? "00000000-0000-0000-0000-000000000000"))
        kids.append(E.element("hardware", hw))
        var fw: [XMLElement] = []
        if let v = d("bios_vendor") { fw.append(E.element("vendor", text: v)) }
        if let v = d("bios_version") { fw.append(E.element("version", text: v)) }
        if let v = d("bios_date") { fw.append(E.element("release_date", text: v)) }
        kids.append(E.element("firmware", fw))
        return Found(def: NodeDeviceDefinition(name: "computer", capabilities: [E.element("capability", [("type", "system")], kids)]),
                     syspath: sys + "/devices")
    }

    func pciDevices() -> [Found] {
        let base = sys + "/bus/pci/devices/"
        var out: [Found] = []
        let ids = PCIIDDatabase.shared
        for addr in Self.entries(base) {
            let link = base + addr
            let path = Self.resolved(link)
            let parts = addr.split(whereSeparator: { $0 == ":" || $0 == "." }).map(String.init)
            guard parts.count == 4, let dom = Int(parts[0], radix: 16), let bus = Int(parts[1], radix: 16),
                  let slot = Int(parts[2], radix: 16), let fn = Int(parts[3], radix: 16),
                  let cls = Self.read(path + "/class").flatMap({ Int($0.dropFirst(2), radix: 16) }),
                  let vendor = Self.read(path + "/vendor"), let product = Self.read(path + "/device") else { continue }
            let names = ids?.names(vendor: vendor, device: product)
            var kids: [XMLElement] = [
                E.element("class", text: "0x" + String(format: "%06x", cls)),
                E.element("domain", text: String(dom)), E.element("bus", text: String(bus)),
                E.element("slot", text: String(slot)), E.element("function", text: String(fn)),
                E.element("product", [("id", product)], text: names?.device),
                E.element("vendor", [("id", vendor)], text: names?.vendor),
            ]
            let group = path + "/iommu_group"
            if FileManager.default.fileExists(atPath: group) {
                let g = Self.resolved(group)
                let number = (g as NSString).lastPathComponent
                let members = Self.entries(g + "/devices").compactMap { a -> XMLElement? in
                    let p = a.split(whereSeparator: { $0 == ":" || $0 == "." }).map(String.init)
                    guard p.count == 4 else { return nil }
                    return E.element("address", [("domain", "0x" + p[0]), ("bus", "0x" + p[1]), ("slot", "0x" + p[2]),
                                                 ("function", "0x" + String(Int(p[3], radix: 16) ?? 0))])
                }
                kids.append(E.element("iommuGroup", [("number", number)], members))
            }
            if let numa = Self.read(path + "/numa_node").flatMap(Int.init), numa >= 0 {
                kids.append(E.element("numa", [("node", String(numa))]))
            }
            if let pcie = Self.pciExpress(path + "/config") { kids.append(pcie) }
            var driver: XMLElement?
            let drv = path + "/driver"
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: drv)) != nil {
                driver = E.element("driver", [E.element("name", text: (Self.resolved(drv) as NSString).lastPathComponent)])
            }
            let name = Self.deviceName(["pci", parts[0], parts[1], parts[2], parts[3]])
            out.append(Found(def: NodeDeviceDefinition(name: name, path: path, driver: driver,
                                                       capabilities: [E.element("capability", [("type", "pci")], kids)]),
                             syspath: path))
        }
        return out
    }

    /// `<pci-express>` from the device's configuration space, with its link capability and status when the
    /// device has a link (libvirt's `virPCIDeviceIsPCIExpress` and `virPCIDeviceGetLinkCapSta`).
    static func pciExpress(_ configPath: String) -> XMLElement? {
        guard let data = FileManager.default.contents(atPath: configPath), data.count >= 64 else { return nil }
        let b = [UInt8](data)
        func u16(_ o: Int) -> Int { o + 1 < b.count ? Int(b[o]) | Int(b[o + 1]) << 8 : 0 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        // No capability list: libvirt then counts the device as PCI Express when its configuration space is
        // larger than conventional PCI's 256 bytes.
        guard u16(0x06) & 0x10 != 0 else { return b.count > 256 ? E.element("pci-express") : nil }
        var pos = Int(b[0x34]) & ~3
        var seen = 0
        while pos >= 0x40 && pos + 1 < b.count && seen < 48 {
            if b[pos] == 0x10 {
                let type = (u16(pos + 2) >> 4) & 0xF
                // Root complex integrated endpoints and event collectors have no link.
                guard type != 9 && type != 10, pos + 0x13 < b.count else { return E.element("pci-express") }
                let speeds = ["", "2.5", "5", "8", "16", "32", "64"]
                let cap = u32(pos + 0x0C), sta = u16(pos + 0x12)
                func link(_ validity: String, _ v: Int, port: Int?) -> XMLElement {
                    var attrs: [(String, String)] = [("validity", validity)]
                    if let port { attrs.append(("port", String(port))) }
                    let s = v & 0xF
                    if s > 0 && s < speeds.count { attrs.append(("speed", speeds[s])) }
                    attrs.append(("width", String((v >> 4) & 0x3F)))
                    return E.element("link", attrs)
                }
                return E.element("pci-express", [link("cap", cap, port: (cap >> 24) & 0xFF), link("sta", sta, port: nil)])
            }
            pos = Int(b[pos + 1]) & ~3
            seen += 1
        }
        return nil
    }

    static let featureNames = ["rx", "tx", "sg", "tso", "gso", "gro", "lro", "rxvlan", "txvlan", "ntuple", "rxhash",
                               "txudptnl"]

    func netDevices() -> [Found] {
        let base = sys + "/class/net/"
        var out: [Found] = []
        for ifname in Self.entries(base) {
            let path = Self.resolved(base + ifname)
            guard let mac = Self.read(path + "/address") else { continue }
            var kids: [XMLElement] = [E.element("interface", text: ifname), E.element("address", text: mac)]
            kids.append(Self.link(path))
            var bits: UInt32 = 0
            _ = swiftvirt_netdev_features(ifname, &bits)
            for (i, f) in Self.featureNames.enumerated() where bits & (1 << UInt32(i)) != 0 {
                kids.append(E.element("feature", [("name", f)]))
            }
            let wlan = Self.read(path + "/uevent")?.contains("DEVTYPE=wlan") ?? false
            kids.append(E.element("capability", [("type", wlan ? "80211" : "80203")]))
            let name = Self.deviceName(["net", ifname] + mac.split(separator: ":").map(String.init))
            out.append(Found(def: NodeDeviceDefinition(name: name, path: path,
                                                       capabilities: [E.element("capability", [("type", "net")], kids)]),
                             syspath: path))
        }
        return out
    }

    /// `<link speed='…' state='…'/>`: speed in Mb/s as the kernel gives it (unsigned), state from operstate.
    static func link(_ path: String) -> XMLElement {
        var attrs: [(String, String)] = []
        if let s = read(path + "/speed"), let v = Int64(s) { attrs.append(("speed", String(UInt32(truncatingIfNeeded: v)))) }
        attrs.append(("state", read(path + "/operstate") ?? "unknown"))
        return E.element("link", attrs)
    }

    /// Block devices: without a udev database libvirt knows the drive type only of virtio disks (/dev/vd*), and
    /// leaves every other block device out.
    func blockDevices() -> [Found] {
        let base = sys + "/class/block/"
        var out: [Found] = []
        for dev in Self.entries(base) where dev.hasPrefix("vd") && !dev.dropFirst(2).contains(where: \.isNumber) {
            let path = Self.resolved(base + dev)
            guard let sectors = Self.read(path + "/size").flatMap(UInt64.init) else { continue }
            let lbs = Self.read(path + "/queue/logical_block_size").flatMap(UInt64.init) ?? 512
            var kids: [XMLElement] = [E.element("block", text: "/dev/" + dev), E.element("drive_type", text: "disk")]
            if let model = Self.read(path + "/device/model"), !model.isEmpty { kids.append(E.element("model", text: model)) }
            if let vendor = Self.read(path + "/device/vendor"), !vendor.isEmpty {
                kids.append(E.element("vendor", text: vendor))
            }
            let bytes = sectors * 512
            kids += [E.element("size", text: String(bytes)), E.element("logical_block_size", text: String(lbs)),
                     E.element("num_blocks", text: String(lbs > 0 ? bytes / lbs : 0))]
            out.append(Found(def: NodeDeviceDefinition(name: Self.deviceName(["block", dev]), path: path,
                                                       devnodes: [E.element("devnode", [("type", "dev")], text: "/dev/" + dev)],
                                                       capabilities: [E.element("capability", [("type", "storage")], kids)]),
                             syspath: path))
        }
        return out
    }

    // MARK: NodeDeviceDriver

    func find(_ name: String) throws(VirtError) -> NodeDeviceDefinition {
        guard let d = scan().first(where: { $0.def.name == name }) else {
            throw NodeDeviceErrors.noDevice(name: name, domain: .nodeDevice)
        }
        return d.def
    }

    static let filterMask: UInt32 = 0x3F_FFFF | NodeDeviceListFlags.active | NodeDeviceListFlags.inactive

    public func numOfNodeDevices(cap: String?, flags: UInt32) async throws -> Int32 {
        Int32(try await listNodeDevices(cap: cap, max: Int32.max, flags: flags).count)
    }

    public func listNodeDevices(cap: String?, max: Int32, flags: UInt32) async throws -> [String] {
        if flags != 0 { throw VirtError.unsupportedFlags(UInt64(flags), function: "nodeListDevices", domain: .nodeDevice) }
        return Array(scan().filter { cap == nil || $0.def.hasCapability(cap ?? "") }.compactMap(\.def.name)
            .prefix(Int(Swift.max(0, max))))
    }

    public func listAllNodeDevices(flags: UInt32) async throws -> [NodeDeviceRef] {
        let bad = flags & ~Self.filterMask
        if bad != 0 {
            throw VirtError.unsupportedFlags(UInt64(bad), function: "nodeConnectListAllNodeDevices", domain: .nodeDevice)
        }
        // Every device read from the host is active: asking only for inactive ones gives none.
        if flags & NodeDeviceListFlags.inactive != 0 && flags & NodeDeviceListFlags.active == 0 { return [] }
        let caps = NodeDeviceListFlags.capabilityBits.enumerated()
            .filter { flags & (1 << UInt32($0.offset)) != 0 }.map(\.element)
        return scan().filter { f in caps.isEmpty || caps.contains { f.def.hasCapability($0) } }
            .compactMap { $0.def.name.map(NodeDeviceRef.init(name:)) }
    }

    public func lookupNodeDevice(name: String) async throws -> NodeDeviceRef {
        NodeDeviceRef(name: try find(name).name ?? name)
    }

    public func nodeDeviceXML(_ dev: NodeDeviceRef, flags: UInt32) async throws -> String {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: "nodeDeviceGetXMLDesc", domain: .nodeDevice)
        }
        return try find(dev.name).formatXML()
    }

    public func nodeDeviceParent(_ dev: NodeDeviceRef) async throws -> String? { try find(dev.name).parent }

    public func nodeDeviceCapabilities(_ dev: NodeDeviceRef) async throws -> [String] {
        try find(dev.name).capabilityNames
    }

    public func createNodeDevice(xml: String, flags: UInt32) async throws -> NodeDeviceRef {
        if flags & ~1 != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags & ~1), function: "nodeDeviceCreateXML", domain: .nodeDevice)
        }
        let def = try NodeDeviceDefinition(xml: xml)
        // A vHBA needs a vport-capable Fibre Channel HBA, and the devices read from sysfs have none; mediated
        // devices are not supported here.
        if def.capabilityNames.contains("scsi_host") {
            guard def.fcHost != nil else {
                throw VirtError.internalError("Device is not a fibre channel HBA", domain: .nodeDevice)
            }
            if def.parent != nil {
                throw VirtError.internalError("Could not find parent device for 'new device'", domain: .nodeDevice)
            }
            throw VirtError.internalError("Could not find any vport capable device", domain: .nodeDevice)
        }
        throw VirtError.configUnsupported("Unsupported device type", domain: .nodeDevice)
    }

    public func destroyNodeDevice(_ dev: NodeDeviceRef) async throws {
        _ = try find(dev.name)
        throw VirtError.configUnsupported("Unsupported device type", domain: .nodeDevice)
    }

    /// The computer is persistent and autostarted in libvirt's node device list; devices read from the host are
    /// neither; all are active.
    public func nodeDeviceIsActive(_ dev: NodeDeviceRef) async throws -> Bool {
        _ = try find(dev.name)
        return true
    }

    public func nodeDeviceIsPersistent(_ dev: NodeDeviceRef) async throws -> Bool { try find(dev.name).name == "computer" }

    public func nodeDeviceAutostart(_ dev: NodeDeviceRef) async throws -> Bool { try find(dev.name).name == "computer" }

    // MARK: InterfaceDriver (libvirt's udev interface backend: read-only)

    struct HostInterface {
        var name: String
        var mac: String
        var active: Bool
        var path: String
    }

    func interfacesFound() -> [HostInterface] {
        let base = sys + "/class/net/"
        return Self.entries(base).compactMap { n in
            let path = Self.resolved(base + n)
            guard let mac = Self.read(path + "/address") else { return nil }
            return HostInterface(name: n, mac: mac, active: Self.read(path + "/operstate") == "up", path: path)
        }
    }

    /// The legacy count and list calls leave the loopback device out (libvirt 9.0's udev backend does);
    /// `virConnectListAllInterfaces` includes it.
    func legacy(active: Bool) -> [String] {
        interfacesFound().filter { $0.active == active && Self.read($0.path + "/type") != "772" }.map(\.name)
    }

    public func numOfInterfaces() async throws -> Int32 { Int32(legacy(active: true).count) }

    public func listInterfaces(max: Int32) async throws -> [String] {
        Array(legacy(active: true).prefix(Int(Swift.max(0, max))))
    }

    public func numOfDefinedInterfaces() async throws -> Int32 { Int32(legacy(active: false).count) }

    public func listDefinedInterfaces(max: Int32) async throws -> [String] {
        Array(legacy(active: false).prefix(Int(Swift.max(0, max))))
    }

    public func listAllInterfaces(flags: UInt32) async throws -> [InterfaceRef] {
        let bad = flags & ~(InterfaceListFlags.active | InterfaceListFlags.inactive)
        if bad != 0 {
            throw VirtError.unsupportedFlags(UInt64(bad), function: "udevConnectListAllInterfaces", domain: .interface)
        }
        let a = flags & InterfaceListFlags.active != 0, i = flags & InterfaceListFlags.inactive != 0
        return interfacesFound().filter { (!a && !i) || (a && $0.active) || (i && !$0.active) }
            .map { InterfaceRef(name: $0.name, mac: $0.mac) }
    }

    public func lookupInterface(name: String) async throws -> InterfaceRef {
        guard let f = interfacesFound().first(where: { $0.name == name }) else {
            let d = "couldn't find interface named '\(name)'"
            throw VirtError(.noInterface, domain: .interface, "Interface not found: \(d)", str1: d)
        }
        return InterfaceRef(name: f.name, mac: f.mac)
    }

    public func lookupInterface(mac: String) async throws -> InterfaceRef {
        let matches = interfacesFound().filter { $0.mac.lowercased() == mac.lowercased() }
        guard let f = matches.first else {
            let d = "couldn't find interface with MAC address '\(mac)'"
            throw VirtError(.noInterface, domain: .interface, "Interface not found: \(d)", str1: d)
        }
        if matches.count > 1 {
            let d = "the MAC address '\(mac)' matches multiple interfaces"
            throw VirtError(VirtError.Code(rawValue: 59), domain: .interface, d, str1: d)
        }
        return InterfaceRef(name: f.name, mac: f.mac)
    }

    public func interfaceXML(_ iface: InterfaceRef, flags: UInt32) async throws -> String {
        if flags & ~1 != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags & ~1), function: "udevInterfaceGetXMLDesc", domain: .interface)
        }
        guard let f = interfacesFound().first(where: { $0.name == iface.name }) else {
            let d = "couldn't find interface named '\(iface.name)'"
            throw VirtError(.noInterface, domain: .interface, "Interface not found: \(d)", str1: d)
        }
        return Self.interfaceXML(f)
    }

    /// The udev backend's `<interface>`: type from sysfs (bridge, vlan, else ethernet), MTU, link, MAC or
    /// the bridge's members.
    static func interfaceXML(_ f: HostInterface) -> String {
        var w = XMLWriter()
        let isBridge = FileManager.default.fileExists(atPath: f.path + "/bridge")
        w.container("interface", [("type", isBridge ? "bridge" : "ethernet"), ("name", f.name)]) { w in
            if let mtu = read(f.path + "/mtu") { w.empty("mtu", [("size", mtu)]) }
            w.formatted(link(f.path))
            if isBridge {
                let stp = read(f.path + "/bridge/stp_state") == "0" ? "off" : "on"
                let delay = (read(f.path + "/bridge/forward_delay").flatMap(Double.init) ?? 0) / 100
                w.container("bridge", [("stp", stp), ("delay", String(format: "%.2f", delay))]) { w in
                    for member in entries(f.path + "/brif") {
                        let mp = resolved(f.path + "/brif/" + member + "/../..")
                        w.container("interface", [("type", "ethernet"), ("name", member)]) { w in
                            if let mtu = read(mp + "/mtu") { w.empty("mtu", [("size", mtu)]) }
                            w.formatted(link(mp))
                            if let mac = read(mp + "/address") { w.empty("mac", [("address", mac)]) }
                        }
                    }
                }
            } else {
                w.empty("mac", [("address", f.mac)])
            }
        }
        return w.output
    }

    public func interfaceIsActive(_ iface: InterfaceRef) async throws -> Bool {
        guard let f = interfacesFound().first(where: { $0.name == iface.name }) else {
            let d = "couldn't find interface named '\(iface.name)'"
            throw VirtError(.noInterface, domain: .interface, "Interface not found: \(d)", str1: d)
        }
        return f.active
    }
}
