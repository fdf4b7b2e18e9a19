/// `<rng model='…'>`.
public enum RNGModel: String, XMLEnum {
    case virtio
    case virtioTransitional = "virtio-transitional"
    case virtioNonTransitional = "virtio-non-transitional"
}

/// The entropy source of an `<rng>`.
public enum RNGBackend: Sendable, Hashable {
    /// `<backend model='random'>/dev/random</backend>`.
    case random(path: String)
    /// `<backend model='egd' type='…'>` with a character device source.
    case egd(CharSource)
    /// `<backend model='builtin'/>`.
    case builtin
}

/// An `<rng>` device.
public struct RNG: Sendable, Hashable {
    public var model: RNGModel
    public var backend: RNGBackend
    public var rateBytes: UInt32?
    public var ratePeriod: UInt32?
    public var driver: XMLElement?
    public var info: DeviceInfo

    public init(model: RNGModel = .virtio, backend: RNGBackend = .random(path: "/dev/random"),
                info: DeviceInfo = DeviceInfo()) {
        self.model = model
        self.backend = backend
        self.info = info
    }

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> RNG {
        guard let m = el.attr("model") else { throw DeviceError.xml("missing RNG device model") }
        guard let model = RNGModel(rawValue: m) else { throw DeviceError.unsupported("unknown RNG model '\(m)'") }
        let backends = el.children("backend")
        guard backends.count == 1, let b = backends.first else {
            throw DeviceError.xml("only one RNG backend is supported")
        }
        guard let bm = b.attr("model") else { throw DeviceError.xml("missing RNG device backend model") }
        let backend: RNGBackend
        switch bm {
        case "random":
            let p = b.text.trimmingSpaces
            backend = .random(path: p.isEmpty ? "/dev/random" : p)
        case "egd":
            guard b.attr("type") != nil else { throw DeviceError.xml("missing EGD backend type") }
            backend = .egd(try CharSource.parse(b, options: options))
        case "builtin":
            backend = .builtin
        default:
            throw DeviceError.unsupported("unknown RNG backend model '\(bm)'")
        }
        var r = RNG(model: model, backend: backend, info: try DeviceInfo.parse(el, options: options))
        if let rate = el.child("rate") {
            r.rateBytes = try rate.uintValue("bytes")
            r.ratePeriod = try rate.uintValue("period")
        }
        r.driver = el.child("driver")
        return r
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.element("rng", [("model", model.rawValue)]) { w in
            if let rateBytes { w.empty("rate", [("bytes", String(rateBytes)), ("period", ratePeriod.text)]) }
            switch backend {
            case .random(let p): w.text("backend", [("model", "random")], p)
            case .egd(let src):
                // libvirt closes an EGD backend with `</backend>` even without a source (type null, pty).
                w.container("backend", [("model", "egd"), ("type", src.type.rawValue)]) { w in
                    src.format(into: &w, options: options)
                }
            case .builtin: w.empty("backend", [("model", "builtin")])
            }
            if let driver { w.libvirtStyle(driver) }
            info.format(into: &w, options: options)
        }
    }
}
