/// Which element a character device is: `<serial>`, `<parallel>`, `<console>` or `<channel>`.
public enum CharDeviceKind: String, Sendable, Hashable {
    case serial, parallel, console, channel
}

/// The host side of a character device (`type='…'` on the device element).
public enum CharSourceType: String, XMLEnum {
    case null, vc, pty, dev, file, pipe, stdio, udp, tcp, unix, spicevmc, spiceport, nmdm
    case qemuVDAgent = "qemu-vdagent"
    case dbus
}

/// `<protocol type='…'/>` of a tcp character device.
public enum CharTCPProtocol: String, XMLEnum {
    case raw, telnet, telnets, tls
}

/// The host side of a character device: libvirt's `virDomainChrSourceDef`.
public struct CharSource: Sendable, Hashable {
    public var type: CharSourceType
    /// Path of pty/dev/file/pipe/unix sources.
    public var path: String?
    /// `append='on|off'` of file sources.
    public var append: Bool?
    /// `mode='bind'` (true) or `'connect'` for tcp and unix; for udp, the bind side is `bindHost`/`bindService`.
    public var listen: Bool = false
    public var host: String?
    public var service: String?
    public var bindHost: String?
    public var bindService: String?
    public var tlsAttr: Bool?
    public var tcpProtocol: CharTCPProtocol = .raw
    /// `<source channel='…'/>` of spiceport.
    public var channel: String?
    public var master: String?
    public var slave: String?
    /// `<reconnect …/>` inside `<source>`.
    public var reconnect: XMLElement?
    public var logFile: String?
    public var logAppend: Bool?
    /// Other children of `<source>` (seclabel, clipboard, …), kept as written.
    public var extra: [XMLElement] = []

    public init(type: CharSourceType) { self.type = type }

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> CharSource {
        var s = CharSource(type: .pty)
        if let t = el.attr("type") {
            guard let v = CharSourceType(rawValue: t) else {
                throw DeviceError.unsupported("unknown type presented to host for character device: \(t)")
            }
            s.type = v
        }
        for src in el.children("source") {
            let mode = src.attr("mode")
            switch s.type {
            case .pty, .dev, .file, .pipe:
                if s.path == nil { s.path = src.attr("path") }
                if s.type == .file { s.append = try src.onOffAttr("append") }
            case .unix:
                if s.path == nil { s.path = src.attr("path") }
                s.listen = mode == "bind"
            case .tcp:
                s.host = src.attr("host")
                s.service = src.attr("service")
                s.listen = mode == "bind"
                s.tlsAttr = try src.yesNoAttr("tls")
            case .udp:
                if mode == "bind" {
                    s.bindHost = src.attr("host")
                    s.bindService = src.attr("service")
                } else {
                    s.host = src.attr("host")
                    s.service = src.attr("service")
                }
            case .spiceport:
                s.channel = src.attr("channel")
            case .nmdm:
                s.master = src.attr("master")
                s.slave = src.attr("slave")
            default:
                break
            }
            if let r = src.child("reconnect") { s.reconnect = r }
            s.extra += src.elements(notIn: ["reconnect"])
        }
        if let p = el.child("protocol"), let t = p.attr("type") {
            guard let v = CharTCPProtocol(rawValue: t) else {
                throw DeviceError.unsupported("Unknown protocol '\(t)'")
            }
            s.tcpProtocol = v
        }
        if let l = el.child("log") {
            s.logFile = l.attr("file")
            s.logAppend = try l.onOffAttr("append")
        }
        // A pty's path is runtime state.
        if s.type == .pty && !options.live { s.path = nil }
        switch s.type {
        case .dev, .file, .pipe:
            if s.path == nil { throw DeviceError.internalError("Missing source path attribute for char device") }
        case .unix:
            if s.path == nil && s.listen == false && el.name != "channel" {
                throw DeviceError.internalError("Missing source path attribute for char device")
            }
            if s.reconnect != nil && s.listen {
                throw DeviceError.internalError("chardev reconnect is possible only for connect mode")
            }
        case .tcp:
            if s.host == nil && !s.listen {
                throw DeviceError.internalError("Missing source host attribute for char device")
            }
            if s.service == nil { throw DeviceError.internalError("Missing source service attribute for char device") }
            if s.reconnect != nil && s.listen {
                throw DeviceError.internalError("chardev reconnect is possible only for connect mode")
            }
        default: break
        }
        return s
    }

    /// Writes `<source>`, `<protocol>` and `<log>` as libvirt does.
    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        switch type {
        case .pty, .dev, .file, .pipe:
            if type != .pty || (path != nil && !options.inactive) {
                w.element("source", [("path", path), ("append", type == .file ? append.onOff : nil)]) { w in
                    for e in extra { w.libvirtStyle(e) }
                }
            }
        case .udp:
            if bindHost != nil || bindService != nil {
                w.empty("source", [("mode", "bind"), ("host", bindHost), ("service", bindService)])
            }
            if host != nil || service != nil {
                w.empty("source", [("mode", "connect"), ("host", host), ("service", service)])
            }
        case .tcp:
            w.element("source", [("mode", listen ? "bind" : "connect"), ("host", host), ("service", service),
                                 ("tls", tlsAttr.yesNo)]) { w in
                if let reconnect { w.libvirtStyle(reconnect) }
                for e in extra { w.libvirtStyle(e) }
            }
            w.empty("protocol", [("type", tcpProtocol.rawValue)])
        case .unix:
            // A unix source without a path (to be generated by the driver) is not written.
            if path != nil {
                w.element("source", [("mode", listen ? "bind" : "connect"), ("path", path)]) { w in
                    if let reconnect { w.libvirtStyle(reconnect) }
                    for e in extra { w.libvirtStyle(e) }
                }
            }
        case .spiceport:
            w.empty("source", [("channel", channel)])
        case .nmdm:
            w.empty("source", [("master", master), ("slave", slave)])
        case .qemuVDAgent, .dbus:
            if !extra.isEmpty {
                w.element("source") { w in for e in extra { w.libvirtStyle(e) } }
            }
        case .null, .vc, .stdio, .spicevmc:
            break
        }
        if let logFile { w.empty("log", [("file", logFile), ("append", logAppend.onOff)]) }
    }
}

/// A `<serial>`, `<parallel>`, `<console>` or `<channel>` device (libvirt's `virDomainChrDef`).
public struct CharDevice: Sendable, Hashable {
    public var kind: CharDeviceKind
    public var source: CharSource
    /// `<target type='…'>`: isa-serial/usb-serial/pci-serial/… for serial, serial/virtio/… for console,
    /// virtio/guestfwd/xen for channel.
    public var targetType: String?
    /// `<target port='N'>` (serial, parallel, console; guestfwd channel port as text).
    public var targetPort: Int32?
    /// `<target name='…'>` of virtio channels.
    public var targetName: String?
    /// `<target address='…' port='…'>` of guestfwd channels.
    public var targetAddress: String?
    public var guestfwdPort: String?
    /// `<target state='connected|disconnected'>` (live only for virtio channels).
    public var targetState: String?
    /// `<target><model name='…'/></target>` of serial ports.
    public var targetModel: String?
    public var info: DeviceInfo

    public init(kind: CharDeviceKind, source: CharSource, info: DeviceInfo = DeviceInfo()) {
        self.kind = kind
        self.source = source
        self.info = info
    }

    static let serialTargetTypes: Set<String> = ["isa-serial", "usb-serial", "pci-serial", "spapr-vio-serial",
                                                 "system-serial", "sclp-serial", "isa-debug"]
    static let consoleTargetTypes: Set<String> = ["none", "serial", "xen", "uml", "virtio", "lxc", "openvz", "sclp",
                                                  "sclplm"]
    static let channelTargetTypes: Set<String> = ["guestfwd", "virtio", "xen"]

    static func parse(_ el: XMLElement, kind: CharDeviceKind, options: DomainParseOptions) throws(VirtError)
        -> CharDevice {
        var c = CharDevice(kind: kind, source: try CharSource.parse(el, options: options),
                           info: try DeviceInfo.parse(el, options: options))
        if let t = el.child("target") {
            if let tt = t.attr("type") {
                let allowed: Set<String> = switch kind {
                case .serial: serialTargetTypes
                case .console: consoleTargetTypes
                case .channel: channelTargetTypes
                case .parallel: []
                }
                guard allowed.contains(tt) else {
                    throw DeviceError.unsupported("unknown target type '\(tt)' specified for character device")
                }
                c.targetType = tt
            }
            if kind == .channel {
                c.targetName = t.attr("name")
                c.targetAddress = t.attr("address")
                c.guestfwdPort = t.attr("port")
                if options.live { c.targetState = t.attr("state") }
                if c.targetType == nil {
                    throw DeviceError.xml("target type must be specified for channel device")
                }
                if c.targetType == "guestfwd" {
                    guard c.targetAddress != nil else {
                        throw DeviceError.xml("guestfwd channel does not define a target address")
                    }
                    guard c.guestfwdPort != nil else {
                        throw DeviceError.xml("guestfwd channel does not define a target port")
                    }
                }
            } else if let p = t.attr("port") {
                guard let v = Int32(p), v >= 0 else {
                    throw DeviceError.xml("Invalid port number: \(p)")
                }
                c.targetPort = v
            }
            c.targetModel = t.child("model")?.attr("name")
        } else if kind == .channel {
            throw DeviceError.xml("target type must be specified for channel device")
        }
        return c
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        // Live XML names a console's pty in a `tty` attribute too (libvirt's "tty compat").
        let tty = kind == .console && targetPort == 0 && source.type == .pty && !options.inactive
            ? source.path : nil
        w.element(kind.rawValue, [("type", source.type.rawValue), ("tty", tty)]) { w in
            source.format(into: &w, options: options)
            switch kind {
            case .channel:
                if targetType == "guestfwd" {
                    w.empty("target", [("type", "guestfwd"), ("address", targetAddress), ("port", guestfwdPort)])
                } else {
                    w.empty("target", [("type", targetType), ("name", targetName),
                                       ("state", options.inactive ? nil : targetState)])
                }
            case .serial, .parallel, .console:
                w.element("target", [("type", targetType), ("port", targetPort.text)]) { w in
                    if let targetModel { w.empty("model", [("name", targetModel)]) }
                }
            }
            info.format(into: &w, options: options)
        }
    }
}
