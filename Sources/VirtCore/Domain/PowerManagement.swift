/// `<pm>`: guest power management (`suspend-to-mem`, `suspend-to-disk`).
public struct PowerManagement: Sendable, Hashable {
    /// `<suspend-to-mem enabled='yes|no'/>`.
    public var suspendToMem: Bool?
    /// `<suspend-to-disk enabled='yes|no'/>`.
    public var suspendToDisk: Bool?

    public init(suspendToMem: Bool? = nil, suspendToDisk: Bool? = nil) {
        self.suspendToMem = suspendToMem
        self.suspendToDisk = suspendToDisk
    }

    static func parse(_ el: XMLElement) throws(VirtError) -> PowerManagement {
        PowerManagement(suspendToMem: try el.child("suspend-to-mem")?.yesNoAttr("enabled"),
                        suspendToDisk: try el.child("suspend-to-disk")?.yesNoAttr("enabled"))
    }

    func format(into w: inout XMLWriter) {
        if suspendToMem == nil && suspendToDisk == nil { return }
        w.element("pm") { w in
            if let m = suspendToMem { w.empty("suspend-to-mem", [("enabled", m ? "yes" : "no")]) }
            if let d = suspendToDisk { w.empty("suspend-to-disk", [("enabled", d ? "yes" : "no")]) }
        }
    }
}
