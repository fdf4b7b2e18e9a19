/// One direction of a `<bandwidth>` (libvirt's `virNetDevBandwidthRate`): kilobytes per second for average,
/// peak and floor, kilobytes for burst; 0 means not set.
public struct NetBandwidthRate: Sendable, Hashable {
    public var average: UInt64 = 0
    public var peak: UInt64 = 0
    public var floor: UInt64 = 0
    public var burst: UInt64 = 0

    public init(average: UInt64 = 0, peak: UInt64 = 0, floor: UInt64 = 0, burst: UInt64 = 0) {
        self.average = average
        self.peak = peak
        self.floor = floor
        self.burst = burst
    }
}

/// `<bandwidth><inbound …/><outbound …/></bandwidth>` of an interface or a network (libvirt's
/// `virNetDevBandwidth`). Inbound is the traffic towards the guest (or into the network), outbound the traffic
/// it sends.
public struct NetBandwidth: Sendable, Hashable {
    public var inbound: NetBandwidthRate?
    public var outbound: NetBandwidthRate?

    public init(inbound: NetBandwidthRate? = nil, outbound: NetBandwidthRate? = nil) {
        self.inbound = inbound
        self.outbound = outbound
    }

    /// The typed view of a `<bandwidth>` element as kept (attributes that are no numbers count as unset).
    public init(_ el: XMLElement) {
        func rate(_ name: String) -> NetBandwidthRate? {
            guard let e = el.child(name) else { return nil }
            func v(_ a: String) -> UInt64 { e.attr(a).flatMap { UInt64($0) } ?? 0 }
            return NetBandwidthRate(average: v("average"), peak: v("peak"), floor: v("floor"), burst: v("burst"))
        }
        inbound = rate("inbound")
        outbound = rate("outbound")
    }

    /// The element libvirt's formatter writes (`virNetDevBandwidthFormat`): a direction with its non-zero
    /// attributes in libvirt's order (average, peak, floor, burst).
    public var element: XMLElement {
        var bw = XMLElement(name: "bandwidth")
        for (name, r) in [("inbound", inbound), ("outbound", outbound)] {
            guard let r else { continue }
            var e = XMLElement(name: name)
            for (a, v) in [("average", r.average), ("peak", r.peak), ("floor", r.floor), ("burst", r.burst)] where v != 0 {
                e.attributes.append((a, String(v)))
            }
            bw.children.append(.element(e))
        }
        return bw
    }

    /// libvirt's typed parameter names of `virDomainGetInterfaceParameters`, in its order.
    public static let parameterNames = ["inbound.average", "inbound.peak", "inbound.burst", "inbound.floor",
                                        "outbound.average", "outbound.peak", "outbound.burst"]

    /// The seven parameters of `virDomainGetInterfaceParameters` (zeros for what is not set).
    public var parameters: [TypedParam] {
        let i = inbound ?? NetBandwidthRate(), o = outbound ?? NetBandwidthRate()
        let values = [i.average, i.peak, i.burst, i.floor, o.average, o.peak, o.burst]
        return zip(Self.parameterNames, values).map { TypedParam($0.0, .uint(UInt32(truncatingIfNeeded: $0.1))) }
    }
}

extension NetInterface {
    /// The interface's `<bandwidth>`, typed (nil without one).
    public var bandwidth: NetBandwidth? {
        get { extra.first { $0.name == "bandwidth" }.map { NetBandwidth($0) } }
        set {
            guard let newValue else {
                extra.removeAll { $0.name == "bandwidth" }
                return
            }
            let el = newValue.element
            if let i = extra.firstIndex(where: { $0.name == "bandwidth" }) {
                extra[i] = el
            } else {
                extra.append(el)
            }
        }
    }
}
