/// `<clock>`: the guest clock offset and its timers.
public struct ClockConfig: Sendable, Hashable {
    /// `offset`.
    public enum Offset: String, Sendable, Hashable { case utc, localtime, variable, timezone, absolute }

    public var offset: Offset = .utc
    /// `adjustment` in seconds (variable offset), or nil.
    public var adjustment: Int64?
    /// `adjustment='reset'` (utc or localtime).
    public var adjustmentReset: Bool = false
    /// `basis` for a variable offset: utc or localtime.
    public var basis: String?
    /// `timezone` for offset='timezone'.
    public var timezone: String?
    /// `start` for offset='absolute'.
    public var start: UInt64?
    public var timers: [Timer] = []

    public init(offset: Offset = .utc) { self.offset = offset }

    /// `<timer>`.
    public struct Timer: Sendable, Hashable {
        public enum Name: String, Sendable, Hashable {
            case platform, pit, rtc, hpet, tsc, kvmclock, hypervclock, armvtimer
        }

        public var name: Name
        public var present: Bool?
        /// delay, catchup, merge, discard.
        public var tickPolicy: String?
        /// boot, guest, wall, realtime.
        public var track: String?
        public var frequency: UInt64?
        /// auto, native, emulate, paravirt, smpsafe.
        public var mode: String?
        /// `<catchup threshold slew limit/>`.
        public var catchup: (threshold: UInt32?, slew: UInt32?, limit: UInt32?)?

        public init(name: Name) { self.name = name }

        public static func == (a: Timer, b: Timer) -> Bool {
            a.name == b.name && a.present == b.present && a.tickPolicy == b.tickPolicy && a.track == b.track
                && a.frequency == b.frequency && a.mode == b.mode && a.catchup?.threshold == b.catchup?.threshold
                && a.catchup?.slew == b.catchup?.slew && a.catchup?.limit == b.catchup?.limit
        }

        public func hash(into h: inout Hasher) {
            h.combine(name)
            h.combine(tickPolicy)
        }
    }
}

extension ClockConfig {
    static let tickPolicies: Set<String> = ["delay", "catchup", "merge", "discard"]
    static let tracks: Set<String> = ["boot", "guest", "wall", "realtime"]
    static let modes: Set<String> = ["auto", "native", "emulate", "paravirt", "smpsafe"]

    static func parse(_ el: XMLElement?) throws(VirtError) -> ClockConfig {
        var c = ClockConfig()
        guard let el else { return c }
        if let o = el.attr("offset") {
            guard let off = Offset(rawValue: o) else {
                throw VirtError.domainConfigUnsupported("unknown clock offset '\(o)'")
            }
            c.offset = off
        }
        switch c.offset {
        case .utc, .localtime:
            if let adj = el.attr("adjustment") {
                if adj == "reset" {
                    c.adjustmentReset = true
                } else if let v = Int64(adj) {
                    c.basis = c.offset.rawValue
                    c.offset = .variable
                    c.adjustment = v
                }
            }
        case .variable:
            c.adjustment = el.attr("adjustment").flatMap { Int64($0) } ?? 0
            if let b = el.attr("basis") {
                guard b == "utc" || b == "localtime" else {
                    throw VirtError.domainConfigUnsupported("unknown clock basis '\(b)'")
                }
                c.basis = b
            } else {
                c.basis = "utc"
            }
        case .timezone:
            guard let tz = el.attr("timezone") else {
                throw VirtError.domainInternal("missing 'timezone' attribute for clock with offset='timezone'")
            }
            c.timezone = tz
        case .absolute:
            guard let s = el.attr("start"), let v = parseUnsigned(s) else {
                throw VirtError.domainXMLError("missing 'start' attribute for clock with offset='absolute'")
            }
            c.start = v
        }
        for t in el.children("timer") {
            guard let n = t.attr("name") else { throw VirtError.xmlMissingAttribute("name", element: "timer") }
            guard let name = Timer.Name(rawValue: n) else {
                throw VirtError.xmlInvalidAttribute("name", element: "timer", value: n)
            }
            var timer = Timer(name: name)
            timer.present = try t.yesNoAttr("present")
            if let p = t.attr("tickpolicy") {
                guard tickPolicies.contains(p) else {
                    throw VirtError.xmlInvalidAttribute("tickpolicy", element: "timer", value: p)
                }
                timer.tickPolicy = p
            }
            if let tr = t.attr("track") {
                guard tracks.contains(tr) else {
                    throw VirtError.xmlInvalidAttribute("track", element: "timer", value: tr)
                }
                guard name == .platform || name == .rtc else {
                    throw VirtError.domainConfigUnsupported("timer \(n) doesn't support setting of timer track")
                }
                timer.track = tr
            }
            timer.frequency = try t.ulongAttr("frequency")
            if let m = t.attr("mode") {
                guard modes.contains(m) else { throw VirtError.xmlInvalidAttribute("mode", element: "timer", value: m) }
                timer.mode = m
            }
            if let cu = t.child("catchup") {
                if timer.tickPolicy != "catchup" {
                    throw VirtError.domainXMLError(
                        "setting of timer catchup policies is only supported with tickpolicy='catchup'")
                }
                timer.catchup = (try cu.uintAttr("threshold"), try cu.uintAttr("slew"), try cu.uintAttr("limit"))
            }
            c.timers.append(timer)
        }
        return c
    }

    func format(into w: inout XMLWriter) {
        var attrs: [(String, String?)] = [("offset", offset.rawValue)]
        switch offset {
        case .utc, .localtime:
            if adjustmentReset { attrs.append(("adjustment", "reset")) }
        case .variable:
            attrs.append(("adjustment", String(adjustment ?? 0)))
            attrs.append(("basis", basis ?? "utc"))
        case .timezone:
            attrs.append(("timezone", timezone))
        case .absolute:
            attrs.append(("start", start.map { String($0) }))
        }
        w.element("clock", attrs) { w in
            for t in timers {
                let tAttrs: [(String, String?)] = [
                    ("name", t.name.rawValue), ("present", t.present.map { $0 ? "yes" : "no" }),
                    ("tickpolicy", t.tickPolicy), ("track", t.track), ("frequency", t.frequency.map { String($0) }),
                    ("mode", t.mode),
                ]
                w.element("timer", tAttrs) { w in
                    if let c = t.catchup, c.threshold != nil || c.slew != nil || c.limit != nil {
                        w.empty("catchup", [("threshold", c.threshold.map { String($0) }),
                                            ("slew", c.slew.map { String($0) }), ("limit", c.limit.map { String($0) })])
                    }
                }
            }
        }
    }
}
