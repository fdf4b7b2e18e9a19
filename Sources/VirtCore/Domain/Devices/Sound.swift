/// `<sound model='…'>`.
public enum SoundModel: String, XMLEnum {
    case sb16, es1370, pcspk, ac97, ich6, ich9, usb, ich7, virtio
}

/// A `<sound>` device.
public struct Sound: Sendable, Hashable {
    public var model: SoundModel
    /// `<codec type='duplex|micro|output'/>` entries.
    public var codecs: [String] = []
    /// `<audio id='N'/>`: the audio backend this device uses.
    public var audioID: UInt32?
    public var driver: XMLElement?
    public var info: DeviceInfo

    public init(model: SoundModel, info: DeviceInfo = DeviceInfo()) {
        self.model = model
        self.info = info
    }

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> Sound {
        var s = Sound(model: try el.requiredEnumValue("model"), info: try DeviceInfo.parse(el, options: options))
        // `multichannel` is newer than libvirt 9.0, which ignores it.
        for c in el.children("codec") {
            guard let t = c.attr("type") else { throw DeviceError.missingAttr("type", "codec") }
            guard ["duplex", "micro", "output"].contains(t) else {
                throw DeviceError.unsupported("unknown codec type '\(t)'")
            }
            s.codecs.append(t)
        }
        if let a = el.child("audio") { s.audioID = try a.uintValue("id") }
        s.driver = el.child("driver")
        return s
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.element("sound", [("model", model.rawValue)]) { w in
            for c in codecs { w.empty("codec", [("type", c)]) }
            if let audioID { w.empty("audio", [("id", String(audioID))]) }
            if let driver { w.libvirtStyle(driver) }
            info.format(into: &w, options: options)
        }
    }
}
