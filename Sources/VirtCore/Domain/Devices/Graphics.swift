/// `<graphics type='…'>`.
public enum GraphicsType: String, XMLEnum {
    case sdl, vnc, rdp, desktop, spice, egl = "egl-headless", dbus
}

/// A `<listen>` of a graphics device.
public enum GraphicsListen: Sendable, Hashable {
    /// `type='address'`, with the address when one is given.
    case address(String?)
    case network(network: String, address: String?)
    /// `type='socket'`, with the socket path when one is given.
    case socket(String?)
    case none
}

/// A `<graphics>` device.
public struct Graphics: Sendable, Hashable {
    public var type: GraphicsType
    /// The port; nil with `autoport` means "pick one" (`port='-1'`).
    public var port: Int32?
    public var autoport: Bool = false
    public var websocket: Int32?
    public var tlsPort: Int32?
    public var listens: [GraphicsListen] = []
    public var keymap: String?
    public var sharePolicy: String?
    /// The VNC/SPICE password: written only with `--security-info`.
    public var passwd: String?
    public var passwdValidTo: String?
    public var connected: String?
    /// Other attributes (sdl display/xauth/fullscreen, spice defaultMode, …) in document order.
    public var otherAttributes: [(name: String, value: String)] = []
    /// Other children (spice `<image>`, `<channel>`, `<gl>`, vnc `<audio>`, …), kept as written.
    public var extra: [XMLElement] = []

    public init(type: GraphicsType) { self.type = type }

    public static func == (a: Graphics, b: Graphics) -> Bool {
        a.type == b.type && a.port == b.port && a.autoport == b.autoport && a.websocket == b.websocket
            && a.tlsPort == b.tlsPort && a.listens == b.listens && a.keymap == b.keymap && a.passwd == b.passwd
            && a.otherAttributes.map(\.name) == b.otherAttributes.map(\.name)
            && a.otherAttributes.map(\.value) == b.otherAttributes.map(\.value) && a.extra == b.extra
    }

    public func hash(into h: inout Hasher) {
        h.combine(type)
        h.combine(port)
        h.combine(listens)
    }

    static let typedAttributes: Set<String> = ["type", "port", "autoport", "websocket", "tlsPort", "listen",
                                               "keymap", "sharePolicy", "passwd", "passwdValidTo", "connected",
                                               "socket", "websocketGenerated"]

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> Graphics {
        guard let t = el.attr("type") else { throw DeviceError.missingAttr("type", "graphics") }
        guard let type = GraphicsType(rawValue: t) else { throw DeviceError.invalidValue("type", "graphics", t) }
        var g = Graphics(type: type)
        if type == .vnc || type == .spice || type == .rdp {
            if let p = el.attr("port") {
                guard let v = Int32(p) else {
                    throw DeviceError.internalError("cannot parse \(type.rawValue) port \(p)")
                }
                if v == -1 {
                    g.autoport = true
                } else {
                    g.port = v
                }
            } else if type == .vnc {
                g.autoport = true
            }
            // An autoport value other than yes/no is ignored.
            if let a = el.attr("autoport"), a == "yes" || a == "no" {
                g.autoport = a == "yes"
                // The port chosen at start-up is runtime state.
                if g.autoport && !options.live { g.port = nil }
            }
            g.websocket = try el.intValue("websocket")
            if let tp = el.attr("tlsPort") {
                guard let v = Int32(tp) else { throw DeviceError.internalError("cannot parse spice tlsPort \(tp)") }
                g.tlsPort = v
            }
        }
        g.keymap = el.attr("keymap")
        g.sharePolicy = el.attr("sharePolicy")
        g.passwd = el.attr("passwd")
        g.passwdValidTo = el.attr("passwdValidTo")
        g.connected = el.attr("connected")
        g.otherAttributes = el.attributes.filter { !typedAttributes.contains($0.name) }
        for l in el.children("listen") {
            switch l.attr("type") {
            case "address": g.listens.append(.address(l.attr("address")))
            case "network":
                guard let n = l.attr("network") else {
                    throw DeviceError.xml("'network' attribute is required for listen type 'network'")
                }
                g.listens.append(.network(network: n, address: options.live ? l.attr("address") : nil))
            case "socket": g.listens.append(.socket(l.attr("socket")))
            case "none": g.listens.append(.none)
            case let other:
                throw DeviceError.invalidValue("type", "listen", other ?? "")
            }
        }
        if let la = el.attr("listen") {
            if case .address(let a)? = g.listens.first {
                if a != la {
                    throw DeviceError.unsupported("graphics 'listen' attribute '\(la)' must match 'address' "
                                                  + "attribute of first listen element (found '\(a ?? "")')")
                }
            } else if g.listens.isEmpty {
                g.listens.append(.address(la))
            }
        }
        if let s = el.attr("socket"), g.listens.isEmpty {
            g.listens.append(.socket(s))
        }
        if g.listens.isEmpty && type == .spice && g.port == nil && g.tlsPort == nil && !g.autoport {
            g.listens.append(.none)
        }
        if g.listens.isEmpty && (type == .vnc || type == .spice || type == .rdp) {
            g.listens.append(.address(nil))
        }
        if case .none? = g.listens.first, type == .vnc {
            g.port = nil
            g.autoport = false
        }
        if case .none? = g.listens.first, type == .spice {
            g.port = nil
            g.tlsPort = nil
        }
        g.extra = el.elements(notIn: ["listen"])
        return g
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        var attrs: [(String, String?)] = [("type", type.rawValue)]
        var firstSocket: String?
        if case .socket(let s)? = listens.first { firstSocket = s }
        switch type {
        case .vnc:
            if case .none? = listens.first {
                // No port and no autoport for a VNC server that does not listen.
            } else if let firstSocket {
                attrs.append(("socket", firstSocket))
            } else {
                if let port, port != 0, !autoport || !options.inactive {
                    attrs.append(("port", String(port)))
                } else if autoport {
                    attrs.append(("port", "-1"))
                }
                attrs.append(("autoport", autoport ? "yes" : "no"))
                if let websocket { attrs.append(("websocket", String(websocket))) }
            }
        case .spice:
            if case .none? = listens.first {
                break
            }
            if let port, port > 0 { attrs.append(("port", String(port))) }
            if let tlsPort, tlsPort > 0 { attrs.append(("tlsPort", String(tlsPort))) }
            attrs.append(("autoport", autoport ? "yes" : "no"))
        case .rdp:
            if let port { attrs.append(("port", String(port))) } else if autoport { attrs.append(("port", "0")) }
            if autoport { attrs.append(("autoport", "yes")) }
        default: break
        }
        if case .address(let a?)? = listens.first { attrs.append(("listen", a)) }
        attrs.append(("keymap", keymap))
        attrs.append(("sharePolicy", sharePolicy))
        if options.secure { attrs.append(("passwd", passwd)) }
        attrs.append(("passwdValidTo", passwdValidTo))
        attrs.append(("connected", connected))
        for a in otherAttributes { attrs.append((a.name, a.value)) }
        w.element("graphics", attrs) { w in
            for l in listens {
                switch l {
                case .address(let a): w.empty("listen", [("type", "address"), ("address", a)])
                case .network(let n, let a):
                    w.empty("listen", [("type", "network"), ("address", options.inactive ? nil : a), ("network", n)])
                case .socket(let s): w.empty("listen", [("type", "socket"), ("socket", s)])
                case .none: w.empty("listen", [("type", "none")])
                }
            }
            for e in extra { w.libvirtStyle(e) }
        }
    }
}
