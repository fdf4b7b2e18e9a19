/// The virtio transport options libvirt accepts on the `<driver>` of virtio devices
/// (`iommu`, `ats`, `packed`, `page_per_vq`).
public struct VirtioOptions: Sendable, Hashable {
    public var iommu: Bool?
    public var ats: Bool?
    public var packed: Bool?
    public var pagePerVQ: Bool?

    public init() {}

    static let names = ["iommu", "ats", "packed", "page_per_vq"]

    var isEmpty: Bool { iommu == nil && ats == nil && packed == nil && pagePerVQ == nil }

    static func parse(_ el: XMLElement) throws(VirtError) -> VirtioOptions {
        var v = VirtioOptions()
        v.iommu = try el.onOffAttr("iommu")
        v.ats = try el.onOffAttr("ats")
        v.packed = try el.onOffAttr("packed")
        v.pagePerVQ = try el.onOffAttr("page_per_vq")
        return v
    }

    /// The attributes in libvirt's order.
    var attributes: [(String, String?)] {
        [("iommu", iommu.onOff), ("ats", ats.onOff), ("packed", packed.onOff), ("page_per_vq", pagePerVQ.onOff)]
    }
}
