import VirtCore

extension QEMUCommandLine {
    /// Controllers, in libvirt's type order (PCI, USB, SCSI, IDE, SATA, FDC, virtio-serial, CCID).
    func controllerArguments(into a: inout [String]) {
        let ctrls = definition.devices.controllers
        let order: [ControllerType] = [.pci, .usb, .scsi, .ide, .sata, .fdc, .virtioSerial, .ccid]
        for type in order {
            for c in ctrls where c.type == type {
                guard let p = controllerProps(c) else { continue }
                a += ["-device", p.rendered]
            }
        }
    }

    /// The `-device` of one controller (nil for those QEMU has built in): also `device_add`'s arguments.
    func controllerProps(_ c: Controller) -> QEMUJSONProps? {
        guard let driver = controllerDriver(c) else { return nil }
        var p = QEMUJSONProps()
        p.add("driver", driver)
        switch c.model {
        case .pcieRootPort?:
            p.add("port", int: Int64(c.target.port ?? 0))
            p.add("chassis", int: Int64(c.target.chassis ?? UInt32(c.index)))
            p.add("id", c.info.alias)
        case .pciBridge?:
            p.add("chassis_nr", int: Int64(c.target.chassisNr ?? UInt32(c.index)))
            p.add("id", c.info.alias)
        case .ibmvscsi?:
            p.add("id", c.info.alias)
            if case .spaprVIO(let reg?)? = c.info.address { p.add("reg", uint: reg) } else { p.add("reg", int: 0x2000) }
        default:
            if c.type == .usb, c.model == .qemuXHCI || c.model == .necXHCI, let ports = c.ports {
                p.add("p2", int: Int64(ports)); p.add("p3", int: Int64(ports))
            }
            if c.type == .usb, let start = c.info.usbMasterStartPort {
                // A USB2 companion: no id, on its EHCI master's bus (libvirt's masterbus/firstport).
                let master = definition.devices.controllers.first {
                    $0.type == .usb && $0.index == c.index && $0.info.usbMasterStartPort == nil
                }
                p.add("masterbus", (master?.info.alias ?? c.info.alias ?? "") + ".0")
                p.add("firstport", int: Int64(start))
            } else {
                p.add("id", c.info.alias)
            }
            if c.type == .virtioSerial {
                p.add("max_ports", int: c.ports.map(Int64.init))
                p.add("vectors", int: c.vectors.map(Int64.init))
            }
        }
        address(c.info, &p)
        return p
    }

    func controllerDriver(_ c: Controller) -> String? {
        switch c.type {
        case .pci:
            switch c.model {
            case .pcieRootPort?: return "pcie-root-port"
            case .pciBridge?: return "pci-bridge"
            case .dmiToPCIBridge?: return "i82801b11-bridge"
            case .pcieToPCIBridge?: return "pcie-pci-bridge"
            case .pcieSwitchUpstreamPort?: return "x3130-upstream"
            case .pcieSwitchDownstreamPort?: return "xio3130-downstream"
            default: return nil
            }
        case .usb:
            switch c.model {
            case .piix3UHCI?: return "piix3-usb-uhci"
            case .piix4UHCI?: return "piix4-usb-uhci"
            case .ehci?: return "usb-ehci"
            case .ich9EHCI1?: return "ich9-usb-ehci1"
            case .ich9UHCI1?: return "ich9-usb-uhci1"
            case .ich9UHCI2?: return "ich9-usb-uhci2"
            case .ich9UHCI3?: return "ich9-usb-uhci3"
            case .vt82c686bUHCI?: return "vt82c686b-usb-uhci"
            case .pciOHCI?: return "pci-ohci"
            case .necXHCI?: return "nec-usb-xhci"
            case .qemuXHCI?: return "qemu-xhci"
            default: return nil
            }
        case .scsi:
            switch c.model {
            case .lsilogic?, nil: return "lsi"
            case .lsisas1068?: return "mptsas1068"
            case .lsisas1078?: return "megasas"
            case .vmpvscsi?: return "pvscsi"
            case .ibmvscsi?: return "spapr-vscsi"
            case .virtioSCSI?: return "virtio-scsi-pci"
            case .virtioTransitional?: return "virtio-scsi-pci-transitional"
            case .virtioNonTransitional?: return "virtio-scsi-pci-non-transitional"
            case .am53c974?: return "am53c974"
            case .dc390?: return "dc390"
            default: return nil
            }
        case .sata:
            if isQ35 && c.index == 0 { return nil }
            return "ahci"
        case .virtioSerial:
            return "virtio-serial-pci"
        default:
            return nil
        }
    }

    /// `-blockdev` storage and format nodes and the `-device` of every disk (node names `libvirt-N-…`, the
    /// last disk being 1), plus `-global isa-fdc.bootindexX` for bootable floppies.
    func diskArguments(into a: inout [String], bootIndexes: [String: UInt32]) throws(VirtError) {
        let disks = definition.devices.disks
        for (i, d) in disks.enumerated() where d.target.bus == .fdc {
            if let b = bootIndexes["disk\(i)"], case .drive(let addr)? = d.info.address {
                a += ["-global", "isa-fdc.bootindex\(addr.unit == 0 ? "A" : "B")=\(b)"]
            }
        }
        let indexes = QEMUBackingChain.nodeIndexes(disks)
        for (i, d) in disks.enumerated() {
            let node = "libvirt-\(indexes[i][0])"
            // The backing images first, deepest first, read-only (QEMUBackingChain.swift).
            let layers = QEMUBackingChain.layers(d)
            for (j, l) in layers.enumerated().reversed() {
                let n = "libvirt-\(indexes[i][j + 1])"
                let below = j + 2 < indexes[i].count ? "libvirt-\(indexes[i][j + 2])-format" : nil
                for p in Self.chainBlockdevs(l, node: n, backing: below, cache: d.driver.cache) { a += ["-blockdev", p.rendered] }
            }
            var nodes = try diskBlockdevs(d, node: node)
            if layers.count > 0, nodes.count == 2 {
                nodes[1].add("backing", "libvirt-\(indexes[i][1])-format")
            }
            // An encrypted disk's passphrase object precedes its nodes.
            if !nodes.isEmpty, QEMUDiskEncryption.of(d) != nil {
                guard let secret = diskSecrets[d.target.dev] else {
                    throw VirtError.internalError("missing secret for encrypted disk '\(d.target.dev)'", domain: .qemu)
                }
                a += ["-object", secret.props(id: QEMUDiskEncryption.secretAlias(node: node)).rendered]
            }
            // The image's descriptors go into its fdset first (`-add-fd`, one per descriptor).
            if let set = diskFDSets[d.target.dev] {
                for (k, fd) in set.fds.enumerated() {
                    a += ["-add-fd", "set=\(set.id),fd=\(fd),opaque=\(node)-storage\(k)"]
                }
            }
            for n in nodes { a += ["-blockdev", n.rendered] }
            a += ["-device", try diskDevice(d, drive: nodes.isEmpty ? nil : node + "-format", boot: bootIndexes["disk\(i)"])
                .rendered]
        }
    }

    /// Whether a disk has a medium (an empty CD-ROM has none, and no `-blockdev`).
    static func diskHasSource(_ d: Disk) -> Bool {
        d.source.path != nil || d.source.name != nil || !d.source.hosts.isEmpty || d.source.resolvedVolume != nil
    }

    /// The storage and format `-blockdev` nodes of one disk (`NODE-storage`, `NODE-format`), none without a
    /// medium: the same objects for the command line and for QMP `blockdev-add` at hotplug.
    func diskBlockdevs(_ d: Disk, node: String) throws(VirtError) -> [QEMUJSONProps] {
        guard Self.diskHasSource(d) else { return [] }
        let readOnly = d.readonly || d.device == .cdrom
        let cache = cacheProps(d.driver.cache)
        var s = QEMUJSONProps()
        switch d.type {
        case .block:
            s.add("driver", "host_device"); s.add("filename", d.source.path)
        case .file:
            s.add("driver", "file")
            s.add("filename", diskFDSets[d.target.dev].map { "/dev/fdset/\($0.id)" } ?? d.source.path)
        case .volume where d.source.resolvedVolume != nil:
            // A storage volume, as the storage driver resolved it at start.
            let v = d.source.resolvedVolume
            s.add("driver", v?.block == true ? "host_device" : "file"); s.add("filename", v?.path)
        case .network where d.source.networkProtocol == .nbd:
            s.add("driver", "nbd")
            var server = QEMUJSONProps()
            if let h = d.source.hosts.first, h.transport == .unix {
                server.add("type", "unix"); server.add("path", h.socket)
            } else {
                let h = d.source.hosts.first
                server.add("type", "inet"); server.add("host", h?.name)
                server.add("port", h?.port ?? "10809")
            }
            s.add("server", object: server)
            s.add("export", d.source.name)
        default:
            throw VirtError.configUnsupported(
                "disk type '\(d.type.rawValue)' is not supported by this driver yet", domain: .qemu)
        }
        s.add("node-name", node + "-storage")
        if let cache { s.add("cache", object: cache) }
        if let set = diskFDSets[d.target.dev], set.fds.count == 1 {
            // One descriptor has one access mode: QEMU cannot reopen it read-only, so the node says which.
            s.add("read-only", bool: set.writable ? false : d.readonly)
        } else {
            s.add("auto-read-only", bool: true)
        }
        s.add("discard", "unmap")
        var f = QEMUJSONProps()
        f.add("node-name", node + "-format")
        f.add("read-only", bool: readOnly)
        if let cache { f.add("cache", object: cache) }
        let fmt = d.driver.format ?? .raw
        guard fmt == .raw || fmt == .qcow2 || fmt == .qed || fmt == .vmdk || fmt == .vpc else {
            throw VirtError.configUnsupported("disk format '\(fmt.rawValue)' is not supported", domain: .qemu)
        }
        if QEMUDiskEncryption.of(d) != nil {
            try QEMUDiskEncryption.validate(d)
            let secret = QEMUDiskEncryption.secretAlias(node: node)
            if fmt == .raw {
                // A raw LUKS image is QEMU's luks format.
                f.add("driver", "luks")
                f.add("key-secret", secret)
            } else {
                f.add("driver", fmt.rawValue)
                var e = QEMUJSONProps()
                e.add("format", "luks"); e.add("key-secret", secret)
                f.add("encrypt", object: e)
            }
        } else {
            f.add("driver", fmt.rawValue)
        }
        f.add("file", node + "-storage")
        return [s, f]
    }

    /// One backing image's storage and format nodes (read-only; the deepest has `"backing":null`).
    static func chainBlockdevs(_ l: QEMUBackingChain.Layer, node: String, backing: String?, cache c: DiskCache?)
        -> [QEMUJSONProps] {
        let cache = cacheProps(c)
        var s = QEMUJSONProps()
        s.add("driver", "file"); s.add("filename", l.path)
        s.add("node-name", node + "-storage")
        if let cache { s.add("cache", object: cache) }
        s.add("auto-read-only", bool: true)
        s.add("discard", "unmap")
        var f = QEMUJSONProps()
        f.add("node-name", node + "-format")
        f.add("read-only", bool: true)
        if let cache { f.add("cache", object: cache) }
        f.add("driver", l.format)
        f.add("file", node + "-storage")
        // Only formats with a backing image take the key (raw does not).
        if l.format != "raw" {
            if let backing { f.add("backing", backing) } else { f.addNull("backing") }
        }
        return [s, f]
    }

    func cacheProps(_ c: DiskCache?) -> QEMUJSONProps? { Self.cacheProps(c) }

    static func cacheProps(_ c: DiskCache?) -> QEMUJSONProps? {
        let v: (Bool, Bool)
        switch c {
        case .writeback?: v = (false, false)
        case .none?: v = (true, false)
        case .writethrough?: v = (false, false)
        case .directsync?: v = (true, false)
        case .unsafe?: v = (false, true)
        default: return nil
        }
        return QEMUJSONProps([("direct", .bool(v.0)), ("no-flush", .bool(v.1))])
    }

    func writeCache(_ c: DiskCache?) -> String? {
        switch c {
        case .writeback?, .none?, .unsafe?: "on"
        case .writethrough?, .directsync?: "off"
        default: nil
        }
    }

    func diskDevice(_ d: Disk, drive: String?, boot: UInt32?) throws(VirtError) -> QEMUJSONProps {
        var p = QEMUJSONProps()
        let addr: DriveAddress? = if case .drive(let x)? = d.info.address { x } else { nil }
        let cd = d.device == .cdrom
        switch d.target.bus {
        case .ide?:
            p.add("driver", cd ? "ide-cd" : "ide-hd")
            p.add("bus", "ide.\(addr?.bus ?? 0)")
            p.add("unit", int: Int64(addr?.unit ?? 0))
        case .sata?:
            p.add("driver", cd ? "ide-cd" : "ide-hd")
            let ctl = addr?.controller ?? 0
            let alias = definition.devices.controllers.first { $0.type == .sata && $0.index == Int32(ctl) }?.info.alias
            p.add("bus", "\(alias ?? "sata\(ctl)").\(addr?.unit ?? 0)")
        case .scsi?:
            p.add("driver", cd ? "scsi-cd" : "scsi-hd")
            let ctl = addr?.controller ?? 0
            p.add("bus", "scsi\(ctl).0")
            let model = definition.devices.controllers.first { $0.type == .scsi && $0.index == Int32(ctl) }?.model
            if model == .lsilogic {
                p.add("scsi-id", int: Int64(addr?.unit ?? 0))
            } else {
                p.add("channel", int: Int64(addr?.bus ?? 0))
                p.add("scsi-id", int: Int64(addr?.target ?? 0))
                p.add("lun", int: Int64(addr?.unit ?? 0))
            }
            p.add("device_id", d.serial ?? "drive-" + (d.info.alias ?? ""))
        case .virtio?:
            p.add("driver", "virtio-blk-pci")
            // The disk's `<driver iothread='N'/>` (libvirt's qemuBuildDiskDeviceProps).
            if let t = d.driver.iothread { p.add("iothread", "iothread\(t)") }
            address(d.info, &p)
        case .usb?:
            p.add("driver", "usb-storage")
            address(d.info, &p)
        case .fdc?:
            p.add("driver", "floppy")
            p.add("unit", int: Int64(addr?.unit ?? 0))
        default:
            throw VirtError.configUnsupported(
                "disk bus '\(d.target.bus?.rawValue ?? "")' is not supported by this driver", domain: .qemu)
        }
        p.add("drive", drive)
        p.add("id", d.info.alias)
        if d.target.bus != .fdc { p.add("bootindex", int: boot.map(Int64.init)) }
        if d.target.bus == .usb { p.add("removable", bool: d.target.removable ?? false) }
        p.add("write-cache", writeCache(d.driver.cache))
        if d.target.bus == .scsi {
            p.add("serial", d.serial)
            if let w = d.wwn, let n = UInt64(w.hasPrefix("0x") ? String(w.dropFirst(2)) : w, radix: 16) {
                p.add("wwn", uint: n)
            }
        } else {
            p.add("serial", d.serial)
        }
        return p
    }
}
