/// `<video><model type='…'>`.
public enum VideoModel: String, XMLEnum {
    case `default`, vga, cirrus, vmvga, xen, vbox, qxl, parallels, virtio, gop, none, bochs, ramfb
}

/// A `<video>` device.
public struct Video: Sendable, Hashable {
    public var model: VideoModel
    /// Sizes in KiB.
    public var ram: UInt32?
    public var vram: UInt32?
    public var vram64: UInt32?
    public var vgamem: UInt32?
    public var heads: UInt32?
    public var primary: Bool = false
    public var blob: Bool?
    /// `<acceleration …/>` inside `<model>`, kept as written.
    public var acceleration: XMLElement?
    /// `<driver …/>`, kept as written.
    public var driver: XMLElement?
    /// Other children (`<resolution>` …), kept as written.
    public var modelExtra: [XMLElement] = []
    public var info: DeviceInfo
    /// Whether the model was left to the driver (`default` or no `<model>`), and the vram as written: the
    /// defaults depend on the guest OS type, which ``DomainDevices/applyOSType(_:)`` applies.
    var modelWasDefault = false
    var vramAsWritten: UInt32?

    /// Equality over the definition (not over how its defaults were derived).
    public static func == (a: Video, b: Video) -> Bool {
        a.model == b.model && a.ram == b.ram && a.vram == b.vram && a.vram64 == b.vram64 && a.vgamem == b.vgamem
            && a.heads == b.heads && a.primary == b.primary && a.blob == b.blob && a.acceleration == b.acceleration
            && a.driver == b.driver && a.modelExtra == b.modelExtra && a.info == b.info
    }

    public func hash(into h: inout Hasher) {
        h.combine(model)
        h.combine(vram)
        h.combine(heads)
        h.combine(info)
    }

    public init(model: VideoModel, info: DeviceInfo = DeviceInfo()) {
        self.model = model
        self.info = info
    }

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> Video {
        var v = Video(model: .default, info: try DeviceInfo.parse(el, options: options))
        if let m = el.child("model") {
            if let t = m.attr("type") {
                guard let model = VideoModel(rawValue: t) else {
                    throw DeviceError.unsupported("unknown video model '\(t)'")
                }
                v.model = model
            }
            func size(_ n: String) throws(VirtError) -> UInt32? {
                guard let t = m.attr(n) else { return nil }
                guard let v = UInt32(t) else { throw DeviceError.xml("cannot parse video \(n) '\(t)'") }
                return v
            }
            v.ram = try size("ram")
            v.vram = try size("vram")
            v.vram64 = try size("vram64")
            v.vgamem = try size("vgamem")
            if let h = m.attr("heads") {
                guard let n = UInt32(h) else { throw DeviceError.internalError("cannot parse video heads '\(h)'") }
                v.heads = n
            }
            v.primary = try m.yesNoAttr("primary") ?? false
            v.blob = try m.onOffAttr("blob")
            v.acceleration = m.child("acceleration")
            v.modelExtra = m.elements(notIn: ["acceleration"])
        }
        v.driver = el.child("driver")
        return v
    }

    static func roundUpPowerOfTwo(_ v: UInt32) -> UInt32 {
        var p: UInt32 = 1
        while p < v && p < 0x8000_0000 { p <<= 1 }
        return p
    }

    /// libvirt's default sizes (KiB) for a model.
    static func defaultVRAM(_ m: VideoModel) -> UInt32? {
        switch m {
        case .vga, .cirrus, .vmvga, .bochs: 16384
        case .xen: 4096
        case .qxl: 65536
        default: nil
        }
    }

    /// Defaults applied after parsing: the test driver's default model (cirrus), default sizes, one head,
    /// power-of-two rounding of ram and vram.
    mutating func postParse(defaultModel: VideoModel = .cirrus) {
        if model == .default {
            modelWasDefault = true
            vramAsWritten = vram
            model = defaultModel
        }
        if model == .none { return }
        if vram == nil || vram == 0 { vram = Video.defaultVRAM(model) }
        if model == .qxl && (ram == nil || ram == 0) { ram = 65536 }
        if let r = ram, r > 0 { ram = Video.roundUpPowerOfTwo(r) }
        if let r = vram, r > 0 { vram = Video.roundUpPowerOfTwo(r) }
        if heads == nil { heads = 1 }
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.element("video") { w in
            if let driver { w.libvirtStyle(driver) }
            w.element("model", [("type", model.rawValue), ("ram", ram.text), ("vram", vram.text),
                                ("vram64", vram64.text), ("vgamem", vgamem.text), ("heads", heads.flatMap { $0 == 0 ? nil : String($0) }),
                                ("primary", primary ? "yes" : nil), ("blob", blob.onOff)]) { w in
                if let acceleration { w.libvirtStyle(acceleration) }
                for e in modelExtra { w.libvirtStyle(e) }
            }
            info.format(into: &w, options: options)
        }
    }
}
