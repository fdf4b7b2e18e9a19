/// `<memory model='…'>`.
public enum MemoryModel: String, XMLEnum {
    case dimm, nvdimm
    case virtioPMEM = "virtio-pmem", virtioMem = "virtio-mem", sgxEPC = "sgx-epc"
}

/// A `<memory>` device (hot-pluggable DIMM and friends). As libvirt's parser, each model reads only the
/// `<source>` and `<target>` children it has (others are dropped); sizes are kept in KiB.
public struct MemoryDevice: Sendable, Hashable {
    public var model: MemoryModel
    /// `access='shared|private'`.
    public var access: String?
    public var discard: Bool?
    /// `<source><nodemask>` (dimm, virtio-mem).
    public var nodemask: String?
    /// `<source><pagesize>` in KiB (dimm, virtio-mem).
    public var pagesizeKiB: UInt64?
    /// `<source><path>` (nvdimm, virtio-pmem).
    public var path: String?
    /// `<source><alignsize>` in KiB (nvdimm).
    public var alignsizeKiB: UInt64?
    /// `<source><pmem/>` (nvdimm).
    public var pmem = false
    /// `<target><size>` in KiB.
    public var sizeKiB: UInt64
    /// `<target><node>`.
    public var node: UInt32?
    /// `<target><label><size>` in KiB (nvdimm).
    public var labelKiB: UInt64?
    /// `<target><readonly/>` (nvdimm).
    public var readonly = false
    /// `<target><block>`, `<requested>` and `<current>` in KiB (virtio-mem).
    public var blockKiB: UInt64?
    public var requestedKiB: UInt64?
    public var currentKiB: UInt64?
    public var info: DeviceInfo

    public init(model: MemoryModel, sizeKiB: UInt64, node: UInt32? = nil, info: DeviceInfo = DeviceInfo()) {
        self.model = model
        self.sizeKiB = sizeKiB
        self.node = node
        self.info = info
    }

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> MemoryDevice {
        let model: MemoryModel = try el.requiredEnumValue("model")
        guard let t = el.child("target") else { throw DeviceError.xml("missing <target> element for memory device") }
        guard let s = t.child("size") else {
            throw DeviceError.xml("missing element or attribute './size'", domain: .xml)
        }
        var m = MemoryDevice(model: model, sizeKiB: try MemorySize.parseKiB(s),
                             info: try DeviceInfo.parse(el, options: options))
        if let n = t.childText("node") {
            guard let v = UInt32(n) else { throw DeviceError.xml("Invalid value '\(n)' for element './node'") }
            m.node = v
        }
        if let a = el.attr("access") {
            guard a == "shared" || a == "private" else { throw DeviceError.invalidValue("access", "memory", a) }
            m.access = a
        }
        // libvirt's device post-parse: a virtio-pmem's memory is shared.
        if model == .virtioPMEM && m.access == nil { m.access = "shared" }
        m.discard = try el.yesNoAttr("discard")
        if let src = el.child("source") {
            switch model {
            case .dimm, .virtioMem:
                m.nodemask = src.childText("nodemask")
                if let p = src.child("pagesize") { m.pagesizeKiB = try MemorySize.parseKiB(p) }
            case .nvdimm:
                m.path = src.childText("path")
                if let a = src.child("alignsize") { m.alignsizeKiB = try MemorySize.parseKiB(a) }
                m.pmem = src.child("pmem") != nil
            case .virtioPMEM:
                m.path = src.childText("path")
            case .sgxEPC:
                m.nodemask = src.childText("nodemask")
            }
        }
        switch model {
        case .nvdimm:
            if let l = t.child("label")?.child("size") {
                m.labelKiB = try MemorySize.parseKiB(l)
                if (m.labelKiB ?? 0) < 128 { throw DeviceError.xml("nvdimm label must be at least 128KiB") }
                if (m.labelKiB ?? 0) >= m.sizeKiB {
                    throw DeviceError.xml("label size must be smaller than NVDIMM size")
                }
            }
            m.readonly = t.child("readonly") != nil
        case .virtioMem:
            if let b = t.child("block") { m.blockKiB = try MemorySize.parseKiB(b) }
            if let r = t.child("requested") { m.requestedKiB = try MemorySize.parseKiB(r) }
            if let c = t.child("current") { m.currentKiB = try MemorySize.parseKiB(c) }
        default:
            break
        }
        return m
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.element("memory", [("model", model.rawValue), ("access", access), ("discard", discard.yesNo)]) { w in
            let hasSource = nodemask != nil || pagesizeKiB != nil || path != nil || alignsizeKiB != nil || pmem
            if hasSource {
                w.element("source") { w in
                    if let path { w.text("path", [], path) }
                    if let alignsizeKiB { w.text("alignsize", [("unit", "KiB")], String(alignsizeKiB)) }
                    if pmem { w.empty("pmem", []) }
                    if let nodemask { w.text("nodemask", [], nodemask) }
                    if let pagesizeKiB { w.text("pagesize", [("unit", "KiB")], String(pagesizeKiB)) }
                }
            }
            w.element("target") { w in
                w.text("size", [("unit", "KiB")], String(sizeKiB))
                if let node { w.text("node", [], String(node)) }
                if let labelKiB {
                    w.element("label") { w in w.text("size", [("unit", "KiB")], String(labelKiB)) }
                }
                if readonly { w.empty("readonly", []) }
                if let blockKiB { w.text("block", [("unit", "KiB")], String(blockKiB)) }
                if let requestedKiB { w.text("requested", [("unit", "KiB")], String(requestedKiB)) }
                if !options.inactive, let currentKiB { w.text("current", [("unit", "KiB")], String(currentKiB)) }
            }
            info.format(into: &w, options: options)
        }
    }
}
