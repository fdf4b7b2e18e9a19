extension NetworkDefinition {
    /// libvirt's format of the definition (`virNetworkDefFormat`); `inactive` leaves out live-only data
    /// (`VIR_NETWORK_XML_INACTIVE`).
    public func xml(inactive: Bool = false) -> String {
        var w = XMLWriter()
        var attrs: [(String, String?)] = []
        if dnsmasqOptions != nil { attrs.append(("xmlns:dnsmasq", Self.dnsmasqNamespace)) }
        if !inactive && connections > 0 { attrs.append(("connections", String(connections))) }
        if ipv6NoGateway { attrs.append(("ipv6", "yes")) }
        attrs.append(("trustGuestRxFilters", trustGuestRxFilters.map(Self.yesNo)))
        w.container("network", attrs) { w in
            w.text("name", [], name)
            w.text("uuid", [], uuid.description)
            w.optionalText("title", title)
            w.optionalText("description", description)
            if let metadata { w.node(metadata) }
            formatForward(&w, inactive: inactive)
            if forward.mode.hasBridge || bridge != nil || macTableManager != nil {
                var b: [(String, String?)] = [("name", bridge), ("zone", bridgeZone)]
                if forward.mode.hasBridge {
                    b.append(("stp", stp ? "on" : "off"))
                    b.append(("delay", String(delay)))
                }
                b.append(("macTableManager", macTableManager))
                w.empty("bridge", b)
            }
            if mtu != 0 { w.empty("mtu", [("size", String(mtu))]) }
            if let mac { w.empty("mac", [("address", mac.description)]) }
            if let domainName {
                w.empty("domain", [("name", domainName), ("localOnly", domainLocalOnly.map(Self.yesNo))])
            }
            formatDNS(&w)
            if let vlan { w.formatted(vlan) }
            if let bandwidth { w.formatted(bandwidth) }
            if let isolatedPort { w.empty("port", [("isolated", Self.yesNo(isolatedPort))]) }
            for ip in ips { Self.formatIP(&w, ip) }
            for r in routes {
                w.empty("route", [("family", r.family), ("address", r.address.description),
                                  ("netmask", r.netmask?.description), ("prefix", r.prefix.map { String($0) }),
                                  ("gateway", r.gateway.description), ("metric", r.metric.map { String($0) })])
            }
            if let virtualPort { w.formatted(virtualPort) }
            for pg in portGroups {
                w.container("portgroup", [("name", pg.name), ("default", pg.isDefault ? "yes" : nil),
                                          ("trustGuestRxFilters", pg.trustGuestRxFilters.map(Self.yesNo))]) { w in
                    if let v = pg.vlan { w.formatted(v) }
                    if let v = pg.virtualPort { w.formatted(v) }
                    if let v = pg.bandwidth { w.formatted(v) }
                }
            }
            if let opts = dnsmasqOptions, !opts.isEmpty {
                w.container("dnsmasq:options") { w in
                    for o in opts { w.empty("dnsmasq:option", [("value", o)]) }
                }
            }
        }
        return w.output
    }

    static func yesNo(_ b: Bool) -> String { b ? "yes" : "no" }

    func formatForward(_ w: inout XMLWriter, inactive: Bool) {
        guard forward.mode != .none else { return }
        var attrs: [(String, String?)] = [("dev", forward.pf == nil ? forward.firstDev : nil), ("mode", forward.mode.name)]
        if forward.mode == .hostdev { attrs.append(("managed", forward.managed ? "yes" : "no")) }
        let short = forward.interfaces.isEmpty && forward.pf == nil && forward.natAddressStart == nil
            && forward.natAddressEnd == nil && forward.natPortStart == 0 && forward.natPortEnd == 0
            && forward.driverName == nil && forward.natIPv6 == nil
        if short {
            w.empty("forward", attrs)
            return
        }
        w.container("forward", attrs) { w in
            if let d = forward.driverName { w.empty("driver", [("name", d)]) }
            if forward.mode == .nat { formatNAT(&w) }
            if let pf = forward.pf { w.empty("pf", [("dev", pf)]) }
            if !forward.interfaces.isEmpty && (forward.pf == nil || !inactive) {
                for i in forward.interfaces {
                    switch i {
                    case .netdev(let d): w.empty("interface", [("dev", d)])
                    case .pci(let d, let b, let s, let f):
                        w.empty("address", [("type", "pci"), ("domain", "0x" + Self.hexString(d, 4)),
                                            ("bus", "0x" + Self.hexString(b, 2)), ("slot", "0x" + Self.hexString(s, 2)),
                                            ("function", "0x" + String(f, radix: 16))])
                    }
                }
            }
        }
    }

    func formatNAT(_ w: inout XMLWriter) {
        let f = forward
        let hasRange = f.natAddressStart != nil || f.natAddressEnd != nil || f.natPortStart != 0 || f.natPortEnd != 0
        guard hasRange || f.natIPv6 != nil else { return }
        let attrs: [(String, String?)] = [("ipv6", f.natIPv6.map(Self.yesNo))]
        if !hasRange {
            w.empty("nat", attrs)
            return
        }
        w.container("nat", attrs) { w in
            if let s = f.natAddressStart {
                w.empty("address", [("start", s.description), ("end", f.natAddressEnd?.description)])
            }
            if f.natPortStart != 0 || f.natPortEnd != 0 {
                w.empty("port", [("start", String(f.natPortStart)), ("end", f.natPortEnd != 0 ? String(f.natPortEnd) : nil)])
            }
        }
    }

    func formatDNS(_ w: inout XMLWriter) {
        let d = dns
        guard d.enable != nil || d.forwardPlainNames != nil || !d.forwarders.isEmpty || !d.hosts.isEmpty
            || !d.srvs.isEmpty || !d.txts.isEmpty else { return }
        let attrs: [(String, String?)] = [("enable", d.enable.map(Self.yesNo)),
                                          ("forwardPlainNames", d.forwardPlainNames.map(Self.yesNo))]
        w.element("dns", attrs) { w in
            for f in d.forwarders { w.empty("forwarder", [("domain", f.domain), ("addr", f.addr?.description)]) }
            for t in d.txts { w.empty("txt", [("name", t.name), ("value", t.value)]) }
            for s in d.srvs where s.service != nil && s.protocol != nil {
                w.empty("srv", [("service", s.service), ("protocol", s.protocol), ("domain", s.domain), ("target", s.target),
                                ("port", s.port != 0 ? String(s.port) : nil),
                                ("priority", s.priority != 0 ? String(s.priority) : nil),
                                ("weight", s.weight != 0 ? String(s.weight) : nil)])
            }
            for h in d.hosts {
                w.container("host", [("ip", h.ip?.description ?? "")]) { w in
                    for n in h.hostnames { w.text("hostname", [], n) }
                }
            }
        }
    }

    static func formatLease(_ w: inout XMLWriter, _ lease: NetworkDHCPLease) {
        if lease.expiry == 0 {
            w.empty("lease", [("expiry", "0")])
        } else {
            w.empty("lease", [("expiry", String(lease.expiry)), ("unit", lease.unit)])
        }
    }

    static func formatIP(_ w: inout XMLWriter, _ ip: NetworkIP) {
        w.container("ip", [("family", ip.family), ("address", ip.address.description), ("netmask", ip.netmask?.description),
                           ("prefix", ip.prefix > 0 ? String(ip.prefix) : nil),
                           ("localPtr", ip.localPTR.map(yesNo))]) { w in
            if let t = ip.tftpRoot { w.empty("tftp", [("root", t)]) }
            guard !ip.ranges.isEmpty || !ip.hosts.isEmpty else { return }
            w.container("dhcp") { w in
                for r in ip.ranges {
                    w.element("range", [("start", r.start.description), ("end", r.end.description)]) { w in
                        if let l = r.lease { formatLease(&w, l) }
                    }
                }
                for h in ip.hosts {
                    w.element("host", [("mac", h.mac), ("id", h.id), ("name", h.name), ("ip", h.ip?.description)]) { w in
                        if let l = h.lease { formatLease(&w, l) }
                    }
                }
                if let f = ip.bootFile { w.empty("bootp", [("file", f), ("server", ip.bootServer?.description)]) }
            }
        }
    }
}
