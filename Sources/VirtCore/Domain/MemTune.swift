/// `<memtune>`: memory limits, in KiB.
public struct MemTune: Sendable, Hashable {
    public var hardLimit: UInt64?
    public var softLimit: UInt64?
    public var minGuarantee: UInt64?
    public var swapHardLimit: UInt64?

    public init(hardLimit: UInt64? = nil, softLimit: UInt64? = nil, minGuarantee: UInt64? = nil,
                swapHardLimit: UInt64? = nil) {
        self.hardLimit = hardLimit
        self.softLimit = softLimit
        self.minGuarantee = minGuarantee
        self.swapHardLimit = swapHardLimit
    }

    init(element e: XMLElement) {
        func kib(_ n: String) -> UInt64? { e.child(n).flatMap { parseUnsigned($0.text) } }
        self.init(hardLimit: kib("hard_limit"), softLimit: kib("soft_limit"), minGuarantee: kib("min_guarantee"),
                  swapHardLimit: kib("swap_hard_limit"))
    }

    var element: XMLElement? {
        var kids: [XMLElement.Child] = []
        for (n, v) in [("hard_limit", hardLimit), ("soft_limit", softLimit), ("min_guarantee", minGuarantee),
                       ("swap_hard_limit", swapHardLimit)] {
            guard let v else { continue }
            kids.append(.element(XMLElement(name: n, attributes: [("unit", "KiB")], children: [.text(String(v))])))
        }
        return kids.isEmpty ? nil : XMLElement(name: "memtune", children: kids)
    }
}
