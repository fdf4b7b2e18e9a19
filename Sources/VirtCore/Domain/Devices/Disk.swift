/// `<disk type='…'>`: where the disk's data comes from.
public enum DiskType: String, XMLEnum {
    case block, file, dir, network, volume, nvme, vhostuser
}

/// `<disk device='…'>`: what the guest sees.
public enum DiskDevice: String, XMLEnum {
    case disk, cdrom, floppy, lun
}

/// `<target bus='…'>`.
public enum DiskBus: String, XMLEnum {
    case ide, fdc, scsi, virtio, xen, usb, uml, sata, sd
}

/// `<driver cache='…'>`.
public enum DiskCache: String, XMLEnum {
    case `default`, none, writethrough, writeback, directsync, unsafe
}

/// `<driver io='…'>`.
public enum DiskIO: String, XMLEnum {
    case `default`, native, threads
    case ioUring = "io_uring"
}

/// `<driver discard='…'>`.
public enum DiskDiscard: String, XMLEnum {
    case `default`, unmap, ignore
}

/// `<driver error_policy='…'>` / `rerror_policy`.
public enum DiskErrorPolicy: String, XMLEnum {
    case `default`, stop, report, ignore, enospace
}

/// `<driver detect_zeroes='…'>`.
public enum DiskDetectZeroes: String, XMLEnum {
    case `default`, off, on, unmap
}

/// `<driver type='…'>`: the image format.
public enum DiskFormat: String, XMLEnum {
    case none, raw, dir, bochs, cloop, dmg, iso, vpc, vdi, fat, vhd, ploop, cow, qcow, qcow2, qed, vmdk, luks
    case luks2, rbd
}

/// `<disk><driver …/>`.
public struct DiskDriver: Sendable, Hashable {
    public var name: String?
    public var format: DiskFormat?
    public var cache: DiskCache?
    public var errorPolicy: DiskErrorPolicy?
    public var readErrorPolicy: DiskErrorPolicy?
    public var io: DiskIO?
    public var ioeventfd: Bool?
    public var eventIdx: Bool?
    public var copyOnRead: Bool?
    public var discard: DiskDiscard?
    public var iothread: UInt32?
    public var detectZeroes: DiskDetectZeroes?
    public var queues: UInt32?
    public var queueSize: UInt32?
    /// virtio options: `iommu`, `ats`, `packed`, `page_per_vq` (on/off).
    public var virtio: VirtioOptions = VirtioOptions()
    /// Children such as `<metadata_cache>` or `<iothreads>`, kept as written.
    public var extra: [XMLElement] = []

    public init(name: String? = nil, format: DiskFormat? = nil, cache: DiskCache? = nil) {
        self.name = name
        self.format = format
        self.cache = cache
    }

    var isEmpty: Bool {
        name == nil && format == nil && cache == nil && errorPolicy == nil && readErrorPolicy == nil && io == nil
            && ioeventfd == nil && eventIdx == nil && copyOnRead == nil && discard == nil && iothread == nil
            && detectZeroes == nil && queues == nil && queueSize == nil && virtio.isEmpty && extra.isEmpty
    }

    static func parse(_ el: XMLElement) throws(VirtError) -> DiskDriver {
        var d = DiskDriver()
        d.name = el.attr("name")
        if let t = el.attr("type") {
            // libvirt accepts "aio" as an alias of raw.
            guard let f = DiskFormat(rawValue: t == "aio" ? "raw" : t) else {
                throw DeviceError.unsupported("unknown driver format value '\(t)'")
            }
            d.format = f
        }
        d.cache = try el.enumValue("cache")
        d.errorPolicy = try el.enumValue("error_policy")
        d.readErrorPolicy = try el.enumValue("rerror_policy")
        d.io = try el.enumValue("io")
        d.ioeventfd = try el.onOffAttr("ioeventfd")
        d.eventIdx = try el.onOffAttr("event_idx")
        d.copyOnRead = try el.onOffAttr("copy_on_read")
        d.discard = try el.enumValue("discard")
        d.iothread = try el.uintValue("iothread")
        d.detectZeroes = try el.enumValue("detect_zeroes")
        d.queues = try el.uintValue("queues")
        d.queueSize = try el.uintValue("queue_size")
        d.virtio = try VirtioOptions.parse(el)
        d.extra = el.elements
        return d
    }

    /// The attribute text of an enum value; libvirt leaves out `default`.
    static func word<E: XMLEnum>(_ v: E?) -> String? {
        guard let v, v.rawValue != "default" else { return nil }
        return v.rawValue
    }

    func format(into w: inout XMLWriter) {
        let attrsEmpty = name == nil && Self.word(format) == nil && Self.word(cache) == nil
            && Self.word(errorPolicy) == nil && Self.word(readErrorPolicy) == nil && Self.word(io) == nil
            && ioeventfd == nil && eventIdx == nil && copyOnRead == nil && Self.word(discard) == nil
            && iothread == nil && Self.word(detectZeroes) == nil && queues == nil && queueSize == nil
            && virtio.isEmpty
        guard !attrsEmpty || !extra.isEmpty else { return }
        let attrs: [(String, String?)] = [
            ("name", name), ("type", format.flatMap { $0 == .none ? nil : $0.rawValue }),
            ("cache", Self.word(cache)), ("error_policy", Self.word(errorPolicy)),
            ("rerror_policy", Self.word(readErrorPolicy)), ("io", Self.word(io)), ("ioeventfd", ioeventfd.onOff), ("event_idx", eventIdx.onOff),
            ("copy_on_read", copyOnRead.onOff), ("discard", Self.word(discard)), ("iothread", iothread.text),
            ("detect_zeroes", Self.word(detectZeroes)), ("queues", queues.text), ("queue_size", queueSize.text),
        ] + virtio.attributes
        w.element("driver", attrs) { w in
            for e in extra { w.libvirtStyle(e) }
        }
    }
}

/// `<source protocol='…'>` of a network disk.
public enum DiskNetworkProtocol: String, XMLEnum {
    case nbd, rbd, sheepdog, gluster, iscsi, http, https, ftp, ftps, tftp, ssh, vxhs, nfs

    /// The port libvirt fills in for a host given without one.
    public var defaultPort: String? {
        switch self {
        case .nbd: "10809"
        case .iscsi: "3260"
        case .gluster: "24007"
        case .http: "80"
        case .https: "443"
        case .ftp: "21"
        case .ftps: "990"
        case .tftp: "69"
        case .ssh: "22"
        case .sheepdog: "7000"
        case .vxhs: "9999"
        case .rbd, .nfs: nil
        }
    }
}

/// A `<host>` of a network disk source.
public struct DiskHost: Sendable, Hashable {
    public enum Transport: String, XMLEnum { case tcp, unix, rdma }
    public var name: String?
    public var port: String?
    public var transport: Transport?
    public var socket: String?

    public init(name: String? = nil, port: String? = nil, transport: Transport? = nil, socket: String? = nil) {
        self.name = name
        self.port = port
        self.transport = transport
        self.socket = socket
    }
}

/// `<disk><source>`.
public struct DiskSource: Sendable, Hashable {
    /// The file (type file), device (block) or directory (dir) path.
    public var path: String?
    public var networkProtocol: DiskNetworkProtocol?
    /// `name='…'` of a network source (export, image, volume).
    public var name: String?
    public var hosts: [DiskHost] = []
    /// `pool`/`volume`/`mode` of a volume source.
    public var pool: String?
    public var volume: String?
    public var mode: String?
    public var startupPolicy: String?
    /// `fdgroup='NAME'` of a file source: the image is opened through the descriptors a client associated with
    /// the domain under that name (virDomainFDAssociate), not by path.
    public var fdGroup: String?
    public var tls: Bool?
    public var query: String?
    /// Other attributes and children (reconnect, auth, snapshot, …), kept as written.
    public var extraChildren: [XMLElement] = []
    /// `index='N'` of the live XML: the QEMU driver's block node number (`libvirt-N-format`).
    public var index: Int?
    /// A volume source as the storage driver resolved it when the domain started (libvirt's `srcpool`
    /// translation): the volume's path and whether it is a block device. Never written to XML.
    public var resolvedVolume: (path: String, block: Bool)? {
        get { resolved.map { ($0.path, $0.block) } }
        set { resolved = newValue.map { ResolvedVolume(path: $0.path, block: $0.block) } }
    }
    private var resolved: ResolvedVolume?
    private struct ResolvedVolume: Sendable, Hashable {
        var path: String
        var block: Bool
    }

    public init(path: String? = nil) { self.path = path }

    var isEmpty: Bool {
        path == nil && networkProtocol == nil && name == nil && hosts.isEmpty && pool == nil && volume == nil
            && extraChildren.isEmpty
    }
}

/// `<target dev='…' bus='…'>` of a disk.
public struct DiskTarget: Sendable, Hashable {
    public var dev: String
    public var bus: DiskBus?
    public var tray: String?
    public var removable: Bool?
    public var rotationRate: UInt32?

    public init(dev: String, bus: DiskBus? = nil) {
        self.dev = dev
        self.bus = bus
    }
}

/// A `<disk>` device.
public struct Disk: Sendable, Hashable {
    /// The host path QEMU opens: a file or block source, or the volume a volume source resolved to.
    public var localPath: String? {
        switch type {
        case .file, .block: source.path
        case .volume: source.resolvedVolume?.path
        default: nil
        }
    }

    public var type: DiskType
    public var device: DiskDevice
    public var model: String?
    public var rawio: Bool?
    public var sgio: String?
    public var snapshot: String?
    public var driver: DiskDriver
    public var source: DiskSource
    public var target: DiskTarget
    public var readonly: Bool = false
    public var shareable: Bool = false
    public var transient: Bool = false
    public var serial: String?
    public var wwn: String?
    public var vendor: String?
    public var product: String?
    /// `<geometry>`, `<blockio>`, `<iotune>`, `<backingStore>`, `<encryption>`, … kept as written.
    public var extra: [XMLElement] = []
    public var info: DeviceInfo

    public init(type: DiskType = .file, device: DiskDevice = .disk, source: DiskSource, target: DiskTarget,
                driver: DiskDriver = DiskDriver(), info: DeviceInfo = DeviceInfo()) {
        self.type = type
        self.device = device
        self.source = source
        self.target = target
        self.driver = driver
        self.info = info
    }

    /// libvirt's `virDiskNameToIndex`: `sda` → 0, `vdb` → 1, `hdaa` → 26; nil for names without a disk prefix.
    public static func nameToIndex(_ name: String) -> Int? {
        var rest: Substring?
        for p in ["fd", "hd", "vd", "sd", "xvd", "ubd"] where name.hasPrefix(p) {
            rest = name.dropFirst(p.count)
            break
        }
        guard var r = rest else { return nil }
        var idx = 0
        var i = 0
        while let c = r.first, c >= "a", c <= "z", let a = c.asciiValue {
            idx = (idx + (i < 1 ? 0 : 1)) * 26 + Int(a - 97)
            i += 1
            r = r.dropFirst()
        }
        guard r.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        return idx
    }

    /// libvirt's order of `<iotune>` children.
    static let iotuneOrder = [
        "total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec",
        "total_bytes_sec_max", "read_bytes_sec_max", "write_bytes_sec_max", "total_iops_sec_max",
        "read_iops_sec_max", "write_iops_sec_max", "size_iops_sec", "group_name", "total_bytes_sec_max_length",
        "read_bytes_sec_max_length", "write_bytes_sec_max_length", "total_iops_sec_max_length",
        "read_iops_sec_max_length", "write_iops_sec_max_length",
    ]

    /// libvirt's order of the children of a disk `<source>` (after the hosts).
    static let sourceChildOrder = ["host", "snapshot", "config", "ssl", "cookies", "readahead", "timeout", "auth",
                                   "encryption", "reservations", "initiator", "address", "slices", "seclabel"]

    static let known: Set<String> = ["driver", "source", "target", "readonly", "shareable", "transient", "serial",
                                     "wwn", "vendor", "product", "boot", "alias", "address", "acpi", "rom"]

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> Disk {
        let type: DiskType = try el.enumValue("type") ?? .file
        let device: DiskDevice = try el.enumValue("device") ?? .disk
        var source = DiskSource()
        if let s = el.child("source") {
            if options.live { source.index = s.attr("index").flatMap { Int($0) } }
            switch type {
            case .file:
                source.path = s.attr("file")
                // libvirt reads the group only with a file (and ignores it on other disk types).
                if source.path != nil { source.fdGroup = s.attr("fdgroup") }
            case .block: source.path = s.attr("dev")
            case .dir: source.path = s.attr("dir")
            case .network:
                guard let p = s.attr("protocol") else { throw DeviceError.missingAttr("protocol", "source") }
                guard let proto = DiskNetworkProtocol(rawValue: p) else {
                    throw DeviceError.invalidValue("protocol", "source", p)
                }
                source.networkProtocol = proto
                source.name = s.attr("name")
                // An iSCSI target without a LUN means LUN 0.
                if proto == .iscsi, let n = source.name, !n.contains("/") { source.name = n + "/0" }
                source.tls = try s.yesNoAttr("tls")
                source.query = s.attr("query")
                for h in s.children("host") {
                    var transport: DiskHost.Transport?
                    if let t = h.attr("transport") {
                        guard let v = DiskHost.Transport(rawValue: t) else {
                            throw DeviceError.unsupported("unknown protocol transport type '\(t)'")
                        }
                        transport = v
                    }
                    var host = DiskHost(name: h.attr("name"), port: h.attr("port"), transport: transport,
                                        socket: h.attr("socket"))
                    if host.port == nil, host.name != nil, host.transport == nil || host.transport == .tcp {
                        host.port = proto.defaultPort
                    }
                    source.hosts.append(host)
                }
            case .volume:
                source.pool = s.attr("pool")
                source.volume = s.attr("volume")
                source.mode = s.attr("mode")
            case .nvme, .vhostuser:
                source.path = s.attr("path")
            }
            source.startupPolicy = s.attr("startupPolicy")
            if let p = source.startupPolicy, !["mandatory", "requisite", "optional"].contains(p) {
                throw DeviceError.invalidValue("startupPolicy", "source", p)
            }
            // libvirt 9.0 does not know `<reconnect>` for disk sources and drops it.
            source.extraChildren = s.reorderingChildren(Disk.sourceChildOrder).elements(notIn: ["host", "reconnect"])
            if source.networkProtocol != .https && source.networkProtocol != .ftps {
                source.extraChildren.removeAll { $0.name == "ssl" }
            }
        }
        let t = el.child("target")
        guard let dev = t?.attr("dev") else {
            throw VirtError(.noTarget, domain: .domain,
                            source.path.map { "missing target information for device \($0)" }
                                ?? "missing target information for device",
                            str1: source.path)
        }
        var target = DiskTarget(dev: dev)
        if let t {
            target.bus = try t.enumValue("bus")
            target.tray = t.attr("tray")
            if let v = target.tray, v != "open" && v != "closed" {
                throw DeviceError.invalidValue("tray", "target", v)
            }
            target.removable = try t.onOffAttr("removable")
            target.rotationRate = try t.uintValue("rotation_rate")
        }
        var disk = Disk(type: type, device: device, source: source, target: target,
                        driver: try el.child("driver").map { (d) throws(VirtError) in try DiskDriver.parse(d) }
                            ?? DiskDriver(),
                        info: try DeviceInfo.parse(el, options: options, allowBoot: true))
        disk.model = el.attr("model")
        disk.rawio = try el.yesNoAttr("rawio")
        disk.sgio = el.attr("sgio")
        disk.snapshot = el.attr("snapshot")
        if let v = disk.snapshot, !["no", "internal", "external", "manual"].contains(v) {
            throw DeviceError.invalidValue("snapshot", "disk", v)
        }
        disk.readonly = el.child("readonly") != nil
        disk.shareable = el.child("shareable") != nil
        disk.transient = el.child("transient") != nil
        disk.serial = el.childText("serial")
        disk.wwn = el.childText("wwn")
        disk.vendor = el.childText("vendor")
        disk.product = el.childText("product")
        disk.extra = el.elements(notIn: known).map { e in
            switch e.name {
            case "iotune": return e.reorderingChildren(Disk.iotuneOrder)
            case "blockio":
                // libvirt 9.0 knows only the two block sizes.
                var b = e.reorderingAttributes(["logical_block_size", "physical_block_size"])
                b.attributes = b.attributes.filter { $0.name == "logical_block_size" || $0.name == "physical_block_size" }
                return b
            default: return e
            }
        }
        if device == .cdrom { disk.readonly = true }
        return disk
    }

    /// The defaults and checks libvirt applies after parsing (bus from the target name, drive address).
    mutating func postParse() throws(VirtError) {
        if target.bus == nil {
            if device == .floppy {
                target.bus = .fdc
            } else if target.dev.hasPrefix("hd") {
                target.bus = .ide
            } else if target.dev.hasPrefix("sd") {
                target.bus = .scsi
            } else if target.dev.hasPrefix("vd") {
                target.bus = .virtio
            } else if target.dev.hasPrefix("xvd") {
                target.bus = .xen
            } else if target.dev.hasPrefix("ubd") {
                target.bus = .uml
            } else {
                target.bus = .ide
            }
        }
        if info.address == nil, let bus = target.bus, [.ide, .fdc, .scsi, .sata].contains(bus) {
            guard let idx = Disk.nameToIndex(target.dev) else {
                throw DeviceError.internalError("Unknown disk name '\(target.dev)' and no address specified")
            }
            let n = UInt32(idx)
            switch bus {
            case .scsi: info.address = .drive(DriveAddress(controller: n / 7, bus: 0, target: 0, unit: n % 7))
            case .fdc: info.address = .drive(DriveAddress(controller: n / 2, bus: 0, target: 0, unit: n % 2))
            case .ide: info.address = .drive(DriveAddress(controller: n / 4, bus: (n % 4) / 2, target: 0, unit: n % 2))
            case .sata: info.address = .drive(DriveAddress(controller: n / 6, bus: 0, target: 0, unit: n % 6))
            default: break
            }
        }
    }

    /// The checks of libvirt's disk validation.
    func validate() throws(VirtError) {
        if source.startupPolicy == "requisite" && device != .cdrom && device != .floppy {
            throw DeviceError.xml("disk startupPolicy 'requisite' is allowed only for cdrom or floppy")
        }
        if let wwn, !(wwn.hasPrefix("0x") ? wwn.dropFirst(2) : Substring(wwn)).allSatisfy(\.isHexDigit)
            || (wwn.hasPrefix("0x") ? wwn.count != 18 : wwn.count != 16) {
            throw VirtError.internalError("Malformed wwn: \(wwn)")
        }
        if device == .floppy, let bus = target.bus, bus != .fdc {
            throw DeviceError.internalError("Invalid bus type '\(bus.rawValue)' for floppy disk")
        }
        if device == .lun && type != .block && type != .network && type != .volume {
            throw DeviceError.unsupported("disk device='lun' is only valid for block type disk source")
        }
        if device == .disk || device == .lun {
            let ok = ["hd", "sd", "vd", "xvd", "ubd"].contains { target.dev.hasPrefix($0) }
            if !ok { throw DeviceError.internalError("Invalid harddisk device name: \(target.dev)") }
        }
        if device == .floppy && !target.dev.hasPrefix("fd") {
            throw DeviceError.internalError("Invalid floppy device name: \(target.dev)")
        }
        if source.isEmpty && device == .disk {
            throw VirtError(.noSource, domain: .domain, "missing source information for device \(target.dev)",
                            str1: target.dev)
        }
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        let snap = (snapshot == "no" && readonly) ? nil : snapshot
        w.element("disk", [("type", type.rawValue), ("device", device.rawValue), ("model", model),
                           ("rawio", rawio.yesNo), ("sgio", sgio), ("snapshot", snap)]) { w in
            driver.format(into: &w)
            for e in extra where e.name == "auth" { w.libvirtStyle(e) }
            formatSource(into: &w, options: options)
            for name in ["backingStore", "geometry", "blockio", "mirror"] {
                for e in extra where e.name == name {
                    // The backing chain QEMU's images detected is live data (an empty `<backingStore/>` is not).
                    if name == "backingStore", options.inactive, options.runtimeDetails, e.attr("type") != nil { continue }
                    w.libvirtStyle(e)
                }
            }
            w.empty("target", [("dev", target.dev), ("bus", target.bus?.rawValue), ("tray", target.tray),
                               ("removable", target.removable.onOff), ("rotation_rate", target.rotationRate.text)])
            for e in extra where e.name == "iotune" { w.libvirtStyle(e) }
            if readonly { w.empty("readonly") }
            if shareable { w.empty("shareable") }
            if transient { w.empty("transient") }
            w.optionalText("serial", serial)
            w.optionalText("wwn", wwn)
            w.optionalText("vendor", vendor)
            w.optionalText("product", product)
            for e in extra where !["auth", "backingStore", "geometry", "blockio", "mirror", "iotune"].contains(e.name) {
                w.libvirtStyle(e)
            }
            info.format(into: &w, options: options)
        }
    }

    func formatSource(into w: inout XMLWriter, options: DomainFormatOptions) {
        guard !source.isEmpty || source.startupPolicy != nil else { return }
        var attrs: [(String, String?)] = []
        switch type {
        case .file: attrs = [("file", source.path), ("fdgroup", source.fdGroup)]
        case .block: attrs = [("dev", source.path)]
        case .dir: attrs = [("dir", source.path)]
        case .network:
            attrs = [("protocol", source.networkProtocol?.rawValue), ("name", source.name),
                     ("query", source.query), ("tls", source.tls.yesNo)]
        case .volume: attrs = [("pool", source.pool), ("volume", source.volume), ("mode", source.mode)]
        case .nvme, .vhostuser: attrs = [("path", source.path)]
        }
        attrs.append(("startupPolicy", source.startupPolicy))
        if !options.inactive || options.runtimeDetails, let i = source.index { attrs.append(("index", String(i))) }
        w.element("source", attrs) { w in
            for h in source.hosts {
                w.empty("host", [("name", h.name), ("port", h.port),
                                 ("transport", h.transport == .tcp ? nil : h.transport?.rawValue), ("socket", h.socket)])
            }
            // Cookies may hold credentials: only written with --security-info.
            for e in source.extraChildren where e.name != "cookies" || options.secure { w.libvirtStyle(e) }
        }
    }
}
