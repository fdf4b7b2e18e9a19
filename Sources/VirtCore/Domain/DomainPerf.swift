/// `<perf>`: the perf events a domain's definition turns on or off, kept as the element the parser read.
extension DomainDefinition {
    /// libvirt's `virPerfEvent` names, in its order (the order of `<perf>` and of virDomainGetPerfEvents).
    public static let perfEventNames = [
        "cmt", "mbmt", "mbml", "cpu_cycles", "instructions", "cache_references", "cache_misses",
        "branch_instructions", "branch_misses", "bus_cycles", "stalled_cycles_frontend", "stalled_cycles_backend",
        "ref_cpu_cycles", "cpu_clock", "task_clock", "page_faults", "context_switches", "cpu_migrations",
        "page_faults_min", "page_faults_maj", "alignment_faults", "emulation_faults",
    ]

    /// Reads `<perf>` as libvirt's `virDomainPerfDefParseXML`: known event names, yes/no, each event once.
    static func parsePerf(_ perf: XMLElement) throws(VirtError) -> [String: Bool] {
        var events: [String: Bool] = [:]
        for e in perf.children("event") {
            guard let name = e.attr("name") else { throw .xmlMissingAttribute("name", element: "event") }
            guard perfEventNames.contains(name) else {
                throw .xmlInvalidAttribute("name", element: "event", value: name)
            }
            guard let enabled = e.attr("enabled") else { throw .xmlMissingAttribute("enabled", element: "event") }
            guard enabled == "yes" || enabled == "no" else {
                throw .xmlInvalidAttribute("enabled", element: "event", value: enabled)
            }
            if events[name] != nil { throw .domainXMLError("perf event '\(name)' was already specified") }
            events[name] = enabled == "yes"
        }
        return events
    }

    /// The events set in `<perf>` (enabled or not), by name; setting rewrites the element in libvirt's order,
    /// or drops it when no event is set.
    public var perfEvents: [String: Bool] {
        get {
            var events: [String: Bool] = [:]
            for perf in extraElements where perf.name == "perf" {
                for e in perf.children("event") {
                    guard let name = e.attr("name"), let enabled = e.attr("enabled") else { continue }
                    events[name] = enabled == "yes"
                }
            }
            return events
        }
        set {
            let at = extraElements.firstIndex { $0.name == "perf" } ?? extraElements.endIndex
            extraElements.removeAll { $0.name == "perf" }
            let events = Self.perfEventNames.compactMap { name in
                newValue[name].map { on in
                    XMLElement.Child.element(XMLElement(name: "event", attributes: [
                        (name: "name", value: name), (name: "enabled", value: on ? "yes" : "no"),
                    ]))
                }
            }
            if events.isEmpty { return }
            extraElements.insert(XMLElement(name: "perf", children: events), at: min(at, extraElements.endIndex))
        }
    }
}
