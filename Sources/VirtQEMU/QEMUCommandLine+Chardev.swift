import VirtCore

extension QEMUCommandLine {
    /// Serial ports, parallel ports, channels and consoles, each a `-chardev char<alias>` and its device.
    func charDeviceArguments(into a: inout [String]) throws(VirtError) {
        let devs = definition.devices
        for (i, s) in devs.serials.enumerated() {
            let alias = s.info.alias ?? "serial\(i)"
            a += ["-chardev", try chardev(s.source, id: "char" + alias)]
            a += ["-device", serialDevice(s, alias: alias, index: i).rendered]
        }
        for (i, s) in devs.parallels.enumerated() {
            let alias = s.info.alias ?? "parallel\(i)"
            a += ["-chardev", try chardev(s.source, id: "char" + alias)]
            var p = QEMUJSONProps()
            p.add("driver", "isa-parallel"); p.add("chardev", "char" + alias); p.add("id", alias)
            a += ["-device", p.rendered]
        }
        for (i, c) in devs.channels.enumerated() {
            let alias = c.info.alias ?? "channel\(i)"
            guard c.targetType == "virtio" else {
                throw VirtError.configUnsupported("channel target type '\(c.targetType ?? "")' is not supported yet",
                                                  domain: .qemu)
            }
            var src = c.source
            if src.type == .unix, src.path == nil, let dir = channelTargetDir, let name = c.targetName {
                src.path = dir + "/" + name
                src.listen = true
            }
            a += ["-chardev", try chardev(src, id: "char" + alias)]
            var p = QEMUJSONProps()
            p.add("driver", "virtserialport")
            virtioSerialAddress(c.info, &p)
            p.add("chardev", "char" + alias)
            p.add("id", alias)
            p.add("name", c.targetName)
            a += ["-device", p.rendered]
        }
        for (i, c) in devs.consoles.enumerated() {
            if c.targetType == "serial" || c.targetType == nil { continue }
            let alias = c.info.alias ?? "console\(i)"
            guard c.targetType == "virtio" else {
                throw VirtError.configUnsupported("console target type '\(c.targetType ?? "")' is not supported",
                                                  domain: .qemu)
            }
            a += ["-chardev", try chardev(c.source, id: "char" + alias)]
            var p = QEMUJSONProps()
            p.add("driver", "virtconsole")  // libvirt leaves the port to QEMU
            p.add("chardev", "char" + alias)
            p.add("id", alias)
            a += ["-device", p.rendered]
        }
    }

    /// A serial port's device (also `device_add`): an ISA port by its index, a PCI or USB one at its address.
    func serialDevice(_ s: CharDevice, alias: String, index: Int) -> QEMUJSONProps {
        let model = s.targetModel ?? (s.targetType == "pci-serial" || s.targetType == "usb-serial"
            ? s.targetType ?? "isa-serial" : "isa-serial")
        var p = QEMUJSONProps()
        p.add("driver", model)
        p.add("chardev", "char" + alias)
        p.add("id", alias)
        if model == "isa-serial" {
            p.add("index", int: Int64(s.targetPort ?? Int32(index)))
        } else {
            address(s.info, &p)
        }
        return p
    }

    func virtioSerialAddress(_ info: DeviceInfo, _ p: inout QEMUJSONProps) {
        guard case .virtioSerial(let ctl, let bus, let port)? = info.address, port != 0 else { return }
        p.add("bus", "virtio-serial\(ctl).\(bus)")
        p.add("nr", int: Int64(port))
    }

    /// A `-chardev` value in libvirt's key=value syntax.
    func chardev(_ src: CharSource, id: String) throws(VirtError) -> String {
        switch src.type {
        case .pty: return "pty,id=\(id)"
        case .null: return "null,id=\(id)"
        case .vc: return "vc,id=\(id)"
        case .stdio: return "stdio,id=\(id)"
        case .spicevmc: return "spicevmc,id=\(id),name=\(src.channel ?? "vdagent")"
        case .spiceport: return "spiceport,id=\(id),name=\(Self.escape(src.channel ?? ""))"
        case .dev:
            guard let p = src.path else { throw VirtError.xmlDetail("missing source path for dev chardev") }
            return "serial,id=\(id),path=\(Self.escape(p))"
        case .pipe:
            guard let p = src.path else { throw VirtError.xmlDetail("missing source path for pipe chardev") }
            return "pipe,id=\(id),path=\(Self.escape(p))"
        case .file:
            guard let p = src.path else { throw VirtError.xmlDetail("missing source path for file chardev") }
            var s = "file,id=\(id),path=\(Self.escape(p))"
            if let ap = src.append { s += ",append=\(ap ? "on" : "off")" }
            return s
        case .unix:
            guard let p = src.path else { throw VirtError.xmlDetail("missing source path for unix chardev") }
            return "socket,id=\(id),path=\(Self.escape(p))" + (src.listen ? ",server=on,wait=off" : "")
        case .tcp:
            let host = src.host.map { "host=\(Self.escape($0))," } ?? ""
            let telnet = src.tcpProtocol == .telnet ? ",telnet=on" : ""
            return "socket,id=\(id),\(host)port=\(Self.escape(src.service ?? "0"))\(telnet)"
                + (src.listen ? ",server=on,wait=off" : "")
        case .udp:
            var s = "udp,id=\(id),host=\(Self.escape(src.host ?? "")),port=\(src.service ?? "0")"
            if let lh = src.bindHost { s += ",localaddr=\(Self.escape(lh))" }
            if let lp = src.bindService { s += ",localport=\(lp)" }
            return s
        default:
            throw VirtError.configUnsupported("chardev type '\(src.type.rawValue)' is not supported yet",
                                              domain: .qemu)
        }
    }
}
