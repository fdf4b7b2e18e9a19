/// `<memory model='…'>`.
public enum MemoryModel: String, XMLEnum {
    case dimm, nvdimm
    case virtioPMEM = "virtio-pmem", virtioMem = "virtio-mem", sgxEPC = "sgx-epc"
}

/// A `<memory>` device (hot-pluggable DIMM and friends).
public struct MemoryDevice: Sendable, Hashable {
    public var model: MemoryModel
    public var access: String?
    public var discard: Bool?
    /// `<source>` (pagesize, nodemask, path, …), kept as written.
    public var source: XMLElement?
    /// `<target><size>` in KiB.
    public var sizeKiB: UInt64
    /// `<target><node>`.
    public var node: UInt32?
    /// Other `<target>` children (label, block, requested, readonly, …), kept as written.
    public var targetExtra: [XMLElement] = []
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
        m.access = el.attr("access")
        m.discard = try el.yesNoAttr("discard")
        m.source = el.child("source")
        m.targetExtra = t.elements(notIn: ["size", "node"])
        return m
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.element("memory", [("model", model.rawValue), ("access", access), ("discard", discard.yesNo)]) { w in
            if let source { w.libvirtStyle(source) }
            w.element("target") { w in
                w.text("size", [("unit", "KiB")], String(sizeKiB))
                if let node { w.text("node", [], String(node)) }
                for e in targetExtra { w.libvirtStyle(e) }
            }
            info.format(into: &w, options: options)
        }
    }
}
