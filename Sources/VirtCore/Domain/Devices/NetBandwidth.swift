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

    /// The element libvirt's formatter writes (`virNetDevBandwidthFormat`): a direction that has an average
    /// or a floor, with its non-zero attributes in libvirt's order (average, peak, floor, burst).
    public var element: XMLElement {
        var bw = XMLElement(name: "bandwidth")
        for (name, r) in [("inbound", inbound), ("outbound", outbound)] {
            guard let r, r.average != 0 || r.floor != 0 else { continue }
            var e = XMLElement(name: name)
            for (a, v) in [("average", r.average), ("peak", r.peak), ("floor", r.floor), ("burst", r.burst)] where v != 0 {
                e.attributes.append((a, String(v)))
            }
            bw.children.append(.element(e))
        }
        return bw
    }

    /// libvirt's `virNetDevBandwidthParse` for a domain interface (no classID; a floor only where
    /// `allowFloor`, i.e. on type network): libvirt's checks and words; nil when neither direction is given
    /// (libvirt then has no bandwidth at all).
    public static func parse(_ el: XMLElement, allowFloor: Bool) throws(VirtError) -> NetBandwidth? {
        func detail(_ m: String) -> VirtError { VirtError(.xmlDetail, domain: .none, m, str1: "%s", str2: m) }
        func unsupported(_ m: String) -> VirtError { VirtError.configUnsupported(m, domain: .none) }
        if el.attr("classID") != nil {
            throw detail("classID attribute not supported on <bandwidth> in this usage context")
        }
        var inEl: XMLElement?, outEl: XMLElement?
        for c in el.elements where c.prefix == nil {
            if c.name == "inbound" {
                if inEl != nil { throw detail("Only one child <inbound> element allowed") }
                inEl = c
            } else if c.name == "outbound" {
                if outEl != nil { throw detail("Only one child <outbound> element allowed") }
                outEl = c
            }
        }
        // virStrToLong_ullp: leading blanks, then decimal digits to the end.
        func number(_ e: XMLElement, _ a: String) throws(VirtError) -> UInt64? {
            guard let text = e.attr(a) else { return nil }
            let t = text.drop { $0 == " " || $0 == "\t" || $0 == "\n" }
            let digits = t.first == "+" ? t.dropFirst() : t
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let v = UInt64(digits) else {
                throw unsupported("could not convert bandwidth \(a) value '\(text)'")
            }
            return v
        }
        func rate(_ e: XMLElement, floorAllowed: Bool) throws(VirtError) -> NetBandwidthRate {
            var r = NetBandwidthRate()
            let hasAverage = e.attr("average") != nil, hasFloor = e.attr("floor") != nil
            if hasAverage {
                r.average = try number(e, "average") ?? 0
            } else if !hasFloor {
                throw detail("Missing mandatory average or floor attributes")
            }
            if (e.attr("peak") != nil || e.attr("burst") != nil) && !hasAverage {
                throw unsupported("'peak' and 'burst' require 'average' attribute")
            }
            r.peak = try number(e, "peak") ?? 0
            r.burst = try number(e, "burst") ?? 0
            if hasFloor {
                if !floorAllowed { throw unsupported("'floor' attribute allowed only in <inbound> element") }
                r.floor = try number(e, "floor") ?? 0
            }
            return r
        }
        var bw = NetBandwidth()
        if let inEl {
            let r = try rate(inEl, floorAllowed: true)
            if r.floor != 0 && !allowFloor { throw unsupported("floor attribute is not supported for this config") }
            bw.inbound = r
        }
        if let outEl { bw.outbound = try rate(outEl, floorAllowed: false) }
        return bw.inbound == nil && bw.outbound == nil ? nil : bw
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

extension DomainDefinition {
    /// libvirt's `virDomainNetFind`: the index of the interface `device` names, by MAC address when it parses
    /// as one, else by host device name (`<target dev>`).
    public func interfaceIndex(_ device: String) throws(VirtError) -> Int {
        let found: Int?
        if let mac = MACAddress(string: device) {
            found = devices.interfaces.firstIndex { $0.mac == mac }
        } else {
            found = devices.interfaces.firstIndex { $0.targetDev == device }
        }
        guard let found else { throw VirtError.invalidArg("'\(device)' is not a known interface", domain: .domain) }
        return found
    }
}

extension NetBandwidth {
    /// The directions `virDomainSetInterfaceParameters` gives (libvirt's drivers read the seven uint
    /// parameters the same way): a direction without an average (inbound: and without a floor) is nil; whether
    /// each direction was named at all (an average or inbound floor of 0 clears it).
    public static func given(_ params: [TypedParam])
        -> (inbound: NetBandwidthRate?, outbound: NetBandwidthRate?, inboundSpecified: Bool, outboundSpecified: Bool) {
        var v: [String: UInt64] = [:]
        for p in params { if case .uint(let x) = p.value { v[p.field] = UInt64(x) } }
        var inbound: NetBandwidthRate? = NetBandwidthRate(
            average: v["inbound.average"] ?? 0, peak: v["inbound.peak"] ?? 0, floor: v["inbound.floor"] ?? 0,
            burst: v["inbound.burst"] ?? 0)
        if inbound?.average == 0 && inbound?.floor == 0 { inbound = nil }
        var outbound: NetBandwidthRate? = NetBandwidthRate(
            average: v["outbound.average"] ?? 0, peak: v["outbound.peak"] ?? 0, burst: v["outbound.burst"] ?? 0)
        if outbound?.average == 0 { outbound = nil }
        return (inbound, outbound, v["inbound.average"] != nil || v["inbound.floor"] != nil, v["outbound.average"] != nil)
    }

    /// A persistent (or test-driver) definition's bandwidth after a set: the directions given replace the old
    /// ones, a direction named with nothing left clears it, the others stay.
    public func merging(_ params: [TypedParam]) -> NetBandwidth {
        let g = Self.given(params)
        var bw = self
        if let i = g.inbound { bw.inbound = i } else if g.inboundSpecified { bw.inbound = nil }
        if let o = g.outbound { bw.outbound = o } else if g.outboundSpecified { bw.outbound = nil }
        return bw
    }
}
