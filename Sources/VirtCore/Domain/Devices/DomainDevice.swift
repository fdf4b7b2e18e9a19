/// One device, as `virsh attach-device`/`detach-device`/`update-device` pass it: a single device element
/// (libvirt's `virDomainDeviceDef`).
public enum DomainDevice: Sendable, Hashable {
    case disk(Disk)
    case controller(Controller)
    case interface(NetInterface)
    case chr(CharDevice)
    case input(Input)
    case tpm(TPM)
    case graphics(Graphics)
    case sound(Sound)
    case video(Video)
    case hostdev(Hostdev)
    case redirdev(Redirdev)
    case watchdog(Watchdog)
    case memballoon(MemBalloon)
    case rng(RNG)
    case memory(MemoryDevice)
    /// Kinds kept as written (filesystem, smartcard, shmem, vsock, …).
    case other(GenericDevice)

    /// The element name of the device.
    public var elementName: String {
        switch self {
        case .disk: "disk"
        case .controller: "controller"
        case .interface: "interface"
        case .chr(let c): c.kind.rawValue
        case .input: "input"
        case .tpm: "tpm"
        case .graphics: "graphics"
        case .sound: "sound"
        case .video: "video"
        case .hostdev: "hostdev"
        case .redirdev: "redirdev"
        case .watchdog: "watchdog"
        case .memballoon: "memballoon"
        case .rng: "rng"
        case .memory: "memory"
        case .other(let g): g.element.name
        }
    }

    /// Parses device XML such as `<disk type='file'>…</disk>`, with the defaults libvirt fills in for a device
    /// on its own (disk bus and drive address, input bus, video sizes).
    public static func parse(_ xml: String, options: DomainParseOptions = .init()) throws(VirtError) -> DomainDevice {
        let el = try XMLParser.parse(xml, documentName: "device_definition")
        return try parse(el, options: options)
    }

    /// Builds a device from an already parsed element.
    public static func parse(_ el: XMLElement, options: DomainParseOptions = .init()) throws(VirtError)
        -> DomainDevice {
        if options.validate {
            try DeviceSchema.check(XMLElement(name: "devices", children: [.element(el)]))
        }
        switch el.name {
        case "disk":
            var d = try Disk.parse(el, options: options)
            try d.postParse()
            try d.validate()
            return .disk(d)
        case "controller":
            var c = try Controller.parse(el, options: options)
            if c.index < 0 { c.index = 0 }
            return .controller(c)
        case "interface": return .interface(try NetInterface.parse(el, options: options))
        case "serial": return .chr(try CharDevice.parse(el, kind: .serial, options: options))
        case "parallel": return .chr(try CharDevice.parse(el, kind: .parallel, options: options))
        case "console": return .chr(try CharDevice.parse(el, kind: .console, options: options))
        case "channel": return .chr(try CharDevice.parse(el, kind: .channel, options: options))
        case "input":
            var i = try Input.parse(el, options: options)
            i.postParse()
            return .input(i)
        case "tpm": return .tpm(try TPM.parse(el, options: options))
        case "graphics": return .graphics(try Graphics.parse(el, options: options))
        case "sound": return .sound(try Sound.parse(el, options: options))
        case "video":
            var v = try Video.parse(el, options: options)
            v.postParse()
            return .video(v)
        case "hostdev": return .hostdev(try Hostdev.parse(el, options: options))
        case "redirdev": return .redirdev(try Redirdev.parse(el, options: options))
        case "watchdog": return .watchdog(try Watchdog.parse(el, options: options))
        case "memballoon": return .memballoon(try MemBalloon.parse(el, options: options))
        case "rng": return .rng(try RNG.parse(el, options: options))
        case "memory": return .memory(try MemoryDevice.parse(el, options: options))
        default:
            guard DomainDevices.genericNames.contains(el.name) else {
                throw DeviceError.xml("unknown device type '\(el.name)'")
            }
            return .other(GenericDevice(element: el))
        }
    }

    /// Formats the device element as libvirt does.
    public func formatXML(_ options: DomainFormatOptions = .init()) -> String {
        var w = XMLWriter()
        switch self {
        case .disk(let d): d.format(into: &w, options: options)
        case .controller(let c): c.format(into: &w, options: options)
        case .interface(let n): n.format(into: &w, options: options)
        case .chr(let c): c.format(into: &w, options: options)
        case .input(let i): i.format(into: &w, options: options)
        case .tpm(let t): t.format(into: &w, options: options)
        case .graphics(let g): g.format(into: &w, options: options)
        case .sound(let s): s.format(into: &w, options: options)
        case .video(let v): v.format(into: &w, options: options)
        case .hostdev(let h): h.format(into: &w, options: options)
        case .redirdev(let r): r.format(into: &w, options: options)
        case .watchdog(let x): x.format(into: &w, options: options)
        case .memballoon(let m): m.format(into: &w, options: options)
        case .rng(let r): r.format(into: &w, options: options)
        case .memory(let m): m.format(into: &w, options: options)
        case .other(let g): g.format(into: &w, options: options)
        }
        return w.output
    }
}

extension DomainDevices {
    /// Adds a device where libvirt's hot-plug/attach code puts it (disks and controllers in their sorted
    /// position, others at the end of their kind).
    public mutating func add(_ device: DomainDevice) {
        switch device {
        case .disk(let d): insertDisk(d)
        case .controller(let c): insertController(c)
        case .interface(let n): interfaces.append(n)
        case .chr(var c):
            switch c.kind {
            case .serial:
                if c.targetPort == nil { c.targetPort = (serials.compactMap(\.targetPort).max() ?? -1) + 1 }
                serials.append(c)
            case .parallel:
                if c.targetPort == nil { c.targetPort = (parallels.compactMap(\.targetPort).max() ?? -1) + 1 }
                parallels.append(c)
            case .console:
                if c.targetPort == nil { c.targetPort = Int32(consoles.count) }
                consoles.append(c)
            case .channel: channels.append(c)
            }
        case .input(let i): inputs.append(i)
        case .tpm(let t): tpms.append(t)
        case .graphics(let g): graphics.append(g)
        case .sound(let s): sounds.append(s)
        case .video(let v): videos.append(v)
        case .hostdev(let h): hostdevs.append(h)
        case .redirdev(let r): redirdevs.append(r)
        case .watchdog(let x): watchdogs.append(x)
        case .memballoon(let m): memballoon = m
        case .rng(let r): rngs.append(r)
        case .memory(let m): memories.append(m)
        case .other(let g): other.append(g)
        }
    }

    /// The index of the device that libvirt's detach would pick for `device`: disks by target name,
    /// interfaces by MAC address, controllers by type and index, character devices by kind and port (channels by
    /// target name), others by equal definition.
    public func indexOf(_ device: DomainDevice) -> Int? {
        switch device {
        case .disk(let d): disks.firstIndex { $0.target.dev == d.target.dev }
        case .interface(let n): interfaces.firstIndex { $0.mac == n.mac }
        case .controller(let c): controllers.firstIndex { $0.type == c.type && $0.index == c.index }
        case .chr(let c):
            switch c.kind {
            case .serial: serials.firstIndex { $0.targetPort == c.targetPort && $0.source.type == c.source.type }
            case .parallel: parallels.firstIndex { $0.targetPort == c.targetPort && $0.source.type == c.source.type }
            case .console: consoles.firstIndex { $0.targetPort == c.targetPort }
            case .channel:
                channels.firstIndex { $0.targetType == c.targetType && $0.targetName == c.targetName }
            }
        case .input(let i): inputs.firstIndex { $0.type == i.type && $0.bus == i.bus }
        case .tpm: tpms.isEmpty ? nil : 0
        case .graphics(let g): graphics.firstIndex { $0.type == g.type }
        case .sound(let s): sounds.firstIndex { $0.model == s.model }
        case .video(let v): videos.firstIndex { $0.model == v.model }
        case .hostdev(let h): hostdevs.firstIndex { $0.type == h.type && $0.source == h.source }
        case .redirdev(let r): redirdevs.firstIndex { $0 == r }
        case .watchdog: watchdogs.isEmpty ? nil : 0
        case .memballoon: memballoon == nil ? nil : 0
        case .rng(let r): rngs.firstIndex { $0.model == r.model && $0.backend == r.backend }
        case .memory(let m): memories.firstIndex { $0.model == m.model && $0.sizeKiB == m.sizeKiB }
        case .other(let g): other.firstIndex { $0.element.name == g.element.name && $0 == g }
        }
    }

    /// Removes the device `indexOf(device)` finds; returns it, or nil when there is none (libvirt then reports
    /// "device not found").
    @discardableResult
    public mutating func remove(_ device: DomainDevice) -> DomainDevice? {
        guard let i = indexOf(device) else { return nil }
        switch device {
        case .disk: return .disk(disks.remove(at: i))
        case .interface: return .interface(interfaces.remove(at: i))
        case .controller: return .controller(controllers.remove(at: i))
        case .chr(let c):
            switch c.kind {
            case .serial: return .chr(serials.remove(at: i))
            case .parallel: return .chr(parallels.remove(at: i))
            case .console: return .chr(consoles.remove(at: i))
            case .channel: return .chr(channels.remove(at: i))
            }
        case .input: return .input(inputs.remove(at: i))
        case .tpm: return .tpm(tpms.remove(at: i))
        case .graphics: return .graphics(graphics.remove(at: i))
        case .sound: return .sound(sounds.remove(at: i))
        case .video: return .video(videos.remove(at: i))
        case .hostdev: return .hostdev(hostdevs.remove(at: i))
        case .redirdev: return .redirdev(redirdevs.remove(at: i))
        case .watchdog: return .watchdog(watchdogs.remove(at: i))
        case .memballoon:
            let m = memballoon
            memballoon = nil
            return m.map { .memballoon($0) }
        case .rng: return .rng(rngs.remove(at: i))
        case .memory: return .memory(memories.remove(at: i))
        case .other: return .other(other.remove(at: i))
        }
    }
}
