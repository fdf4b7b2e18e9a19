/// libvirt's network XML errors (network_conf.c reports them in the network error domain).
enum NetworkXMLError {
    static func xml(_ detail: String) -> VirtError {
        VirtError(.xmlError, domain: .network, "XML error: \(detail)", str1: detail)
    }
    /// VIR_ERR_XML_DETAIL: libvirt prints the detail alone.
    static func detail(_ detail: String) -> VirtError {
        VirtError(.xmlDetail, domain: .network, detail, str1: detail)
    }
    static func config(_ detail: String) -> VirtError {
        VirtError.configUnsupported(detail, domain: .network)
    }
}

extension NetworkDefinition {
    /// Parses `<network>` XML with libvirt's checks (`virNetworkDefParse`); malformed XML gives the parser's
    /// error with line and column, as for domains.
    public init(xml: String, options: NetworkParseOptions = NetworkParseOptions()) throws(VirtError) {
        let root = try XMLParser.parse(xml, documentName: "network_definition", errorDomain: .network)
        guard root.name == "network", root.prefix == nil else {
            // virXMLParse reports this one in the XML error domain.
            let d = "expecting root element of 'network', not '\(root.name)'"
            throw VirtError(.xmlError, domain: .xml, "XML error: \(d)", str1: d)
        }
        try self.init(element: root, options: options)
    }

    /// Parses a `<network>` element already read (node files embed them).
    public init(element root: XMLElement, options: NetworkParseOptions = NetworkParseOptions()) throws(VirtError) {
        func own(_ name: String) -> XMLElement? { root.elements.first { $0.name == name && $0.prefix == nil } }
        func all(_ name: String) -> [XMLElement] { root.elements.filter { $0.name == name && $0.prefix == nil } }

        guard let nameEl = own("name") else {
            throw VirtError(.noName, domain: .network, "missing name information")
        }
        let name = nameEl.text
        if name.contains("/") {
            throw VirtError(.xmlDetail, domain: .network, "invalid char in name: /", str1: "invalid char in name: /")
        }
        self.init(name: name)
        if let u = own("uuid") {
            guard let parsed = VirtUUID(string: u.text.trimmingSpaces) else {
                throw VirtError.internalError("malformed uuid element", domain: .network)
            }
            uuid = parsed
        }
        if let t = own("title") {
            if t.text.contains("\n") { throw NetworkXMLError.xml("Network title can't contain newlines") }
            title = t.text
        }
        description = own("description")?.text
        if let v = root.attr("ipv6") {
            switch v {
            case "yes": ipv6NoGateway = true
            case "no": ipv6NoGateway = false
            default: throw NetworkXMLError.xml("Invalid ipv6 setting '\(v)' in network '\(name)'")
            }
        }
        trustGuestRxFilters = try Self.triState(root, "trustGuestRxFilters")
        if let d = own("domain") {
            domainName = d.attr("name")
            domainLocalOnly = try Self.triState(d, "localOnly")
        }
        bandwidth = own("bandwidth")
        vlan = own("vlan")
        if let port = own("port") { isolatedPort = try Self.triState(port, "isolated") }

        var stpSpecified = false
        if let b = own("bridge") {
            stpSpecified = b.attr("stp") != nil
            bridge = b.attr("name")
            bridgeZone = b.attr("zone")
            stp = b.attr("stp") != "off"
            if let d = b.attr("delay") {
                guard let v = UInt64(d) else { throw NetworkXMLError.xml("Invalid delay value in network '\(name)'") }
                delay = v
            }
            if let m = b.attr("macTableManager") {
                guard m == "kernel" || m == "libvirt" else {
                    throw NetworkXMLError.xml("Invalid macTableManager setting '\(m)' in network '\(name)'")
                }
                macTableManager = m
            }
        }
        if let m = own("mac")?.attr("address") {
            guard let mac = MACAddress(string: m) else {
                throw NetworkXMLError.xml("Invalid bridge mac address '\(m)' in network '\(name)'")
            }
            if mac.isMulticast {
                throw NetworkXMLError.xml("Invalid multicast bridge mac address '\(m)' in network '\(name)'")
            }
            self.mac = mac
        }
        if let size = own("mtu")?.attr("size") {
            guard let v = UInt32(size) else { throw NetworkXMLError.xml("Invalid mtu size '\(size)' in network '\(name)'") }
            mtu = v
        }
        if let d = own("dns") { dns = try Self.parseDNS(d, network: name) }
        virtualPort = own("virtualport")
        for pg in all("portgroup") { portGroups.append(try Self.parsePortGroup(pg)) }
        for ip in all("ip") { ips.append(try Self.parseIP(ip, network: name)) }
        for r in all("route") { routes.append(try Self.parseRoute(r, network: name)) }
        try checkRouteGateways()
        if let f = own("forward") { forward = try Self.parseForward(f, network: name) }
        try checkForwardMode(stpSpecified: stpSpecified)
        if let m = own("metadata") { metadata = m }
        if options.dnsmasqNamespace {
            let opts = root.elements.filter { $0.name == "options" && $0.prefix != nil
                && root.namespaces.contains(where: { $0.href == Self.dnsmasqNamespace }) }
            if let o = opts.first {
                dnsmasqOptions = o.elements.filter { $0.name == "option" }.compactMap { $0.attr("value") }
            }
        }
    }

    public static let dnsmasqNamespace = "http://libvirt.org/schemas/network/dnsmasq/1.0"

    /// libvirt's `virXMLPropTristateBool`: absent, yes or no.
    static func triState(_ el: XMLElement, _ attr: String) throws(VirtError) -> Bool? {
        guard let v = el.attr(attr) else { return nil }
        switch v {
        case "yes": return true
        case "no": return false
        default:
            throw NetworkXMLError.xml("Invalid value for attribute '\(attr)' in element '\(el.name)': '\(v)'. Expected 'yes' or 'no'")
        }
    }

    static func parseLease(_ el: XMLElement?) throws(VirtError) -> NetworkDHCPLease? {
        guard let el else { return nil }
        var expiry: UInt64 = 0
        if let e = el.attr("expiry") {
            guard let v = UInt64(e) else { throw NetworkXMLError.xml("Invalid value for attribute 'expiry' in element 'lease': '\(e)'.") }
            expiry = v
        }
        let unit = el.attr("unit") ?? "minutes"
        guard ["seconds", "minutes", "hours"].contains(unit) else {
            throw NetworkXMLError.xml("Invalid value for attribute 'unit' in element 'lease': '\(unit)'.")
        }
        return NetworkDHCPLease(expiry: expiry, unit: unit)
    }

    static func parseRange(_ el: XMLElement, ip: NetworkIP, network: String) throws(VirtError) -> NetworkDHCPRange {
        guard let s = el.attr("start") else {
            throw NetworkXMLError.xml("Missing 'start' attribute in dhcp range for network '\(network)'")
        }
        guard let start = NetworkAddress(s) else { throw NetworkXMLError.xml("Invalid dhcp range 'start' address '\(s)' in network '\(network)'") }
        guard let e = el.attr("end") else {
            throw NetworkXMLError.xml("Missing 'end' attribute in dhcp range for network '\(network)'")
        }
        guard let end = NetworkAddress(e) else { throw NetworkXMLError.xml("Invalid dhcp range 'end' address '\(e)' in network '\(network)'") }
        // virSocketAddrGetRange: one family, inside the network, start before end.
        if start.isIPv4 != end.isIPv4 {
            throw VirtError.internalError("mismatch of address family in range \(s) - \(e) for network "
                                          + "\(ip.address)/\(ip.effectivePrefix)", domain: .network)
        }
        let prefix = ip.effectivePrefix
        if prefix >= 0, start.isIPv4 == ip.address.isIPv4 {
            let net = ip.address.masked(prefix)
            if start.masked(prefix) != net || end.masked(prefix) != net {
                throw VirtError.internalError("range \(start) - \(end) is not entirely within network \(ip.address)/\(prefix)", domain: .network)
            }
        }
        // An IPv6 range may span at most 65535 addresses, in the last 32 bits.
        if !start.isIPv4 {
            func tail(_ a: NetworkAddress) -> Int { a.bytes.suffix(4).reduce(0) { $0 << 8 | Int($1) } }
            if start.bytes.prefix(12) != end.bytes.prefix(12) || tail(end) - tail(start) + 1 > 65535 {
                throw VirtError.internalError("range \(start) - \(end) is too large (> 65535)", domain: .network)
            }
        }
        if end < start {
            throw VirtError.internalError("range \(start) - \(end) is reversed ", domain: .network)
        }
        return NetworkDHCPRange(start: start, end: end, lease: try parseLease(el.child("lease")))
    }

    /// `virNetworkDHCPHostDefParseXML`; `partialOkay` for a delete's match pattern.
    static func parseDHCPHost(_ el: XMLElement, ip: NetworkIP, network: String, partialOkay: Bool) throws(VirtError)
        -> NetworkDHCPHost {
        var host = NetworkDHCPHost()
        if let mac = el.attr("mac") {
            if ip.address.isIPv6 {
                throw NetworkXMLError.xml("Invalid to specify MAC address '\(mac)' in network '\(network)' IPv6 static host definition")
            }
            guard let m = MACAddress(string: mac) else {
                throw NetworkXMLError.xml("Cannot parse MAC address '\(mac)' in network '\(network)'")
            }
            if m.isMulticast {
                throw NetworkXMLError.xml("expected unicast mac address, found multicast '\(mac)' in network '\(network)'")
            }
            host.mac = mac
        }
        if let id = el.attr("id") {
            if let bad = id.first(where: { !($0.isHexDigit || $0 == ":") }) {
                throw NetworkXMLError.xml("Invalid character '\(bad)' in id '\(id)' of network '\(network)'")
            }
            host.id = id
        }
        if let n = el.attr("name") {
            guard let c = n.unicodeScalars.first, c.isASCII, c.properties.isAlphabetic || ("0"..."9").contains(c) else {
                throw NetworkXMLError.xml("Cannot use host name '\(n)' in network '\(network)'")
            }
            host.name = n
        }
        if let a = el.attr("ip") {
            guard let addr = NetworkAddress(a) else {
                throw NetworkXMLError.xml("Invalid IP address in static host definition for network '\(network)'")
            }
            host.ip = addr
        }
        if partialOkay {
            if host.mac == nil && host.name == nil && host.ip == nil {
                throw NetworkXMLError.xml("At least one of name, mac, or ip attribute must be specified for static host "
                                          + "definition in network '\(network)'")
            }
        } else {
            if ip.address.isIPv6 {
                if host.id == nil && host.name == nil {
                    throw NetworkXMLError.xml("Static host definition in IPv6 network '\(network)' must have id or name attribute")
                }
            } else if host.mac == nil && host.name == nil {
                throw NetworkXMLError.xml("Static host definition in IPv4 network '\(network)' must have mac or name attribute")
            }
            if host.ip == nil {
                throw NetworkXMLError.xml("Missing IP address in static host definition for network '\(network)'")
            }
        }
        host.lease = try parseLease(el.child("lease"))
        return host
    }

    static func parseIP(_ el: XMLElement, network: String) throws(VirtError) -> NetworkIP {
        let family = el.attr("family")
        guard let a = el.attr("address") else {
            throw NetworkXMLError.xml("Missing required address attribute in network '\(network)'")
        }
        guard let address = NetworkAddress(a) else {
            throw NetworkXMLError.xml("Invalid address '\(a)' in network '\(network)'")
        }
        var ip = NetworkIP(family: family, address: address)
        let netmaskText = el.attr("netmask")
        if let m = netmaskText {
            guard let nm = NetworkAddress(m) else { throw NetworkXMLError.xml("Invalid netmask '\(m)' in network '\(network)'") }
            ip.netmask = nm
        }
        if let p = el.attr("prefix") {
            guard let v = UInt32(p) else {
                throw NetworkXMLError.xml("Invalid value for attribute 'prefix' in element 'ip': '\(p)'. Expected non-negative integer value")
            }
            ip.prefix = v
        }
        ip.localPTR = try triState(el, "localPtr")
        if family == nil || family == "ipv4" {
            if !address.isIPv4 {
                throw NetworkXMLError.config("\(family == nil ? "no" : "ipv4") family specified for non-IPv4 address '\(a)' in network '\(network)'")
            }
            if let m = netmaskText {
                if ip.netmask?.isIPv4 != true {
                    throw NetworkXMLError.config("Invalid netmask '\(m)' for address '\(a)' in network '\(network)' (both must be IPv4)")
                }
                if ip.prefix > 0 {
                    throw NetworkXMLError.config("Network '\(network)' IP address cannot have both a prefix and a netmask")
                }
            } else if ip.prefix > 32 {
                throw NetworkXMLError.config("Invalid IPv4 prefix '\(ip.prefix)' in network '\(network)'")
            }
        } else if family == "ipv6" {
            if !address.isIPv6 {
                throw NetworkXMLError.config("Family 'ipv6' specified for non-IPv6 address '\(a)' in network '\(network)'")
            }
            if netmaskText != nil {
                throw NetworkXMLError.config("netmask not allowed for IPv6 address '\(a)' in network '\(network)'")
            }
            if ip.prefix > 128 {
                throw NetworkXMLError.config("Invalid IPv6 prefix '\(ip.prefix)' in network '\(network)'")
            }
        } else {
            throw NetworkXMLError.xml("Unrecognized family '\(family ?? "")' in network '\(network)'")
        }
        if let dhcp = el.child("dhcp") {
            for r in dhcp.children("range") { ip.ranges.append(try parseRange(r, ip: ip, network: network)) }
            for h in dhcp.children("host") {
                ip.hosts.append(try parseDHCPHost(h, ip: ip, network: network, partialOkay: false))
            }
            if let bootp = dhcp.child("bootp"), address.isIPv4 {
                guard let file = bootp.attr("file") else {
                    throw NetworkXMLError.xml("Missing required attribute 'file' in element 'bootp'")
                }
                ip.bootFile = file
                if let s = bootp.attr("server") {
                    guard let srv = NetworkAddress(s) else {
                        throw VirtError.internalError("Cannot parse socket address '\(s)'", domain: .network)
                    }
                    ip.bootServer = srv
                }
            }
        }
        if let tftp = el.child("tftp") {
            if !address.isIPv4 {
                throw NetworkXMLError.config("Unsupported <tftp> element in an IPv6 element in network '\(network)'")
            }
            ip.tftpRoot = tftp.attr("root")
        }
        return ip
    }

    static func parseDNS(_ el: XMLElement, network: String) throws(VirtError) -> NetworkDNS {
        var dns = NetworkDNS()
        dns.enable = try triState(el, "enable")
        dns.forwardPlainNames = try triState(el, "forwardPlainNames")
        for f in el.children("forwarder") {
            var fwd = NetworkDNSForwarder(domain: nil, addr: nil)
            if let a = f.attr("addr") {
                guard let addr = NetworkAddress(a) else {
                    throw NetworkXMLError.xml("Invalid forwarder IP address '\(a)' in network '\(network)'")
                }
                fwd.addr = addr
            }
            fwd.domain = f.attr("domain")
            if fwd.addr == nil && fwd.domain == nil {
                throw NetworkXMLError.xml("Invalid forwarder element, must contain at least one of addr or domain")
            }
            dns.forwarders.append(fwd)
        }
        for h in el.children("host") { dns.hosts.append(try parseDNSHost(h, network: network, partialOkay: false)) }
        for s in el.children("srv") { dns.srvs.append(try parseSrv(s, network: network)) }
        for t in el.children("txt") {
            guard let n = t.attr("name") else {
                throw NetworkXMLError.detail("missing required name attribute in DNS TXT record of network \(network)")
            }
            if n.contains(" ") || n.contains(",") {
                throw NetworkXMLError.detail("prohibited character in DNS TXT record name '\(n)' of network \(network)")
            }
            guard let v = t.attr("value") else {
                throw NetworkXMLError.detail("missing required value attribute in DNS TXT record named '\(n)' of network \(network)")
            }
            dns.txts.append(NetworkDNSTxt(name: n, value: v))
        }
        if dns.enable == false && !(dns.forwarders.isEmpty && dns.hosts.isEmpty && dns.srvs.isEmpty && dns.txts.isEmpty) {
            throw NetworkXMLError.xml("Extra data in disabled network '\(network)'")
        }
        return dns
    }

    static func parseDNSHost(_ el: XMLElement, network: String, partialOkay: Bool) throws(VirtError) -> NetworkDNSHost {
        let names = el.children("hostname").map(\.text)
        if names.contains("") || (names.isEmpty && !partialOkay) {
            throw NetworkXMLError.detail("Missing hostname in network '\(network)' DNS HOST record")
        }
        var host = NetworkDNSHost(ip: nil, hostnames: names)
        if let a = el.attr("ip") {
            guard let addr = NetworkAddress(a) else {
                throw NetworkXMLError.detail("Invalid IP address in network '\(network)' DNS HOST record")
            }
            host.ip = addr
        } else {
            if !partialOkay { throw NetworkXMLError.detail("Missing IP address in network '\(network)' DNS HOST record") }
            if names.isEmpty { throw NetworkXMLError.detail("Missing ip and hostname in network '\(network)' DNS HOST record") }
        }
        return host
    }

    static func parseSrv(_ el: XMLElement, network: String, partialOkay: Bool = false) throws(VirtError) -> NetworkDNSSrv {
        let serviceChars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+/*")
        let protocolChars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+/")
        var srv = NetworkDNSSrv()
        let service = el.attr("service")
        if service == nil && !partialOkay {
            throw NetworkXMLError.detail("missing required service attribute in DNS SRV record of network '\(network)'")
        }
        if let service {
            if service.utf8.count > 15 {
                throw NetworkXMLError.detail("service attribute '\(service)' in network '\(network)' is too long, limit is 15 bytes")
            }
            if !service.allSatisfy({ serviceChars.contains($0) }) {
                throw NetworkXMLError.detail("invalid character in service attribute '\(service)' in DNS SRV record of network '\(network)'")
            }
        }
        srv.service = service
        let shown = service ?? "(null)"
        let proto = el.attr("protocol")
        if proto == nil && !partialOkay {
            throw NetworkXMLError.detail("missing required protocol attribute in DNS SRV record '\(shown)' of network '\(network)'")
        }
        if let proto, !proto.allSatisfy({ protocolChars.contains($0) }) {
            throw NetworkXMLError.detail("invalid character in protocol attribute '\(proto)' in DNS SRV record of network '\(network)'")
        }
        srv.protocol = proto
        srv.domain = el.attr("domain")
        srv.target = el.attr("target")
        func number(_ attr: String, _ what: String, max: UInt32, min: UInt32 = 0) throws(VirtError) -> UInt32 {
            guard let t = el.attr(attr) else { return 0 }
            if srv.target == nil {
                throw NetworkXMLError.detail("DNS SRV \(attr) attribute not permitted without target for service '\(shown)' in network '\(network)'")
            }
            guard let v = UInt32(t), v >= min, v <= max else {
                throw NetworkXMLError.detail("\(what) DNS SRV \(attr) attribute for service '\(shown)' in network '\(network)'")
            }
            return v
        }
        srv.port = try number("port", "invalid", max: 65535, min: 1)
        srv.priority = try number("priority", "Invalid", max: 65535)
        srv.weight = try number("weight", "invalid", max: 65535)
        return srv
    }

    static func parseRoute(_ el: XMLElement, network: String) throws(VirtError) -> NetworkRoute {
        let family = el.attr("family")
        guard let a = el.attr("address") else {
            throw NetworkXMLError.config("Missing required address attribute in route definition in network '\(network)'")
        }
        guard let address = NetworkAddress(a) else {
            throw NetworkXMLError.config("Bad network address '\(a)' in route definition in network '\(network)'")
        }
        guard let g = el.attr("gateway") else {
            throw NetworkXMLError.config("Missing required gateway attribute in route definition in network '\(network)'")
        }
        guard let gateway = NetworkAddress(g) else {
            throw NetworkXMLError.config("Bad gateway address '\(g)' in route definition in network '\(network)'")
        }
        var route = NetworkRoute(family: family, address: address, gateway: gateway)
        if let m = el.attr("netmask") {
            guard let nm = NetworkAddress(m) else {
                throw NetworkXMLError.config("Bad netmask address '\(m)' in route definition in network '\(network)'")
            }
            route.netmask = nm
        }
        if let p = el.attr("prefix") {
            guard let v = UInt32(p) else {
                throw NetworkXMLError.config("Invalid prefix specified in route definition in network '\(network)'")
            }
            route.prefix = v
        }
        if let m = el.attr("metric") {
            guard let v = UInt32(m), v > 0 else {
                throw NetworkXMLError.config("Invalid metric specified in route definition in network '\(network)'")
            }
            route.metric = v
        }
        return route
    }

    /// libvirt refuses a static route whose gateway is on none of the network's subnets.
    func checkRouteGateways() throws(VirtError) {
        for r in routes {
            let reachable = ips.contains { ip in
                guard ip.address.isIPv4 == r.gateway.isIPv4 else { return false }
                let p = ip.effectivePrefix
                return p >= 0 && ip.address.masked(p) == r.gateway.masked(p)
            }
            if !reachable {
                throw NetworkXMLError.config("unreachable static route gateway '\(r.gateway)' specified for network '\(name)'")
            }
        }
    }

    static func parsePortGroup(_ el: XMLElement) throws(VirtError) -> NetworkPortGroup {
        guard let name = el.attr("name") else { throw NetworkXMLError.xml("Missing required name attribute in portgroup") }
        return NetworkPortGroup(name: name, isDefault: el.attr("default")?.lowercased() == "yes",
                                trustGuestRxFilters: try triState(el, "trustGuestRxFilters"),
                                vlan: el.child("vlan"), virtualPort: el.child("virtualport"), bandwidth: el.child("bandwidth"))
    }

    static func hex(_ s: String?) -> UInt32? {
        guard var s else { return nil }
        if s.hasPrefix("0x") || s.hasPrefix("0X") { s.removeFirst(2) }
        return UInt32(s, radix: 16)
    }

    static func parseForward(_ el: XMLElement, network: String) throws(VirtError) -> NetworkForward {
        var fwd = NetworkForward()
        if let m = el.attr("mode") {
            guard let mode = NetworkForwardMode(name: m) else { throw NetworkXMLError.config("unknown forwarding type '\(m)'") }
            fwd.mode = mode
        } else {
            fwd.mode = .nat
        }
        fwd.managed = el.attr("managed")?.lowercased() == "yes"
        if let d = el.child("driver")?.attr("name") {
            guard ["kvm", "vfio", "xen"].contains(d) else {
                throw NetworkXMLError.config("Unknown forward <driver name='\(d)'/> in network \(network)")
            }
            fwd.driverName = d
        }
        let ifs = el.children("interface")
        let addrs = el.children("address")
        let pfs = el.children("pf")
        let nats = el.children("nat")
        if nats.count > 1 {
            throw NetworkXMLError.xml("Only one <nat> element is allowed in <forward> of network \(network)")
        }
        if let nat = nats.first { try parseNAT(nat, into: &fwd, network: network) }
        let dev = el.attr("dev")
        if dev != nil && (!addrs.isEmpty || !pfs.isEmpty) {
            throw NetworkXMLError.xml("the <forward> 'dev' attribute cannot be used when <address> or <pf> sub-elements are present in network %s")
        }
        if !ifs.isEmpty || dev != nil {
            var devs: [String] = []
            if let dev { devs.append(dev) }
            for (i, iface) in ifs.enumerated() {
                guard let d = iface.attr("dev") else {
                    throw NetworkXMLError.xml("Missing required dev attribute in <forward> <interface> element of network \(network)")
                }
                if i == 0, let dev {
                    if d != dev {
                        throw NetworkXMLError.xml("<forward dev='\(dev)'> must match first <interface dev='\(d)'/> in network \(network)")
                    }
                    continue
                }
                if devs.contains(d) {
                    throw NetworkXMLError.xml("interface '\(d)' can only be listed once in network \(network)")
                }
                devs.append(d)
            }
            fwd.interfaces = devs.map { .netdev($0) }
        } else if !addrs.isEmpty {
            for a in addrs {
                guard let type = a.attr("type") else { throw NetworkXMLError.xml("missing address type in network \(network)") }
                guard type == "pci" else {
                    if ["none", "netdev", "usb"].contains(type) {
                        throw NetworkXMLError.xml("unsupported address type '\(type)' in network \(network)")
                    }
                    throw NetworkXMLError.config("unknown address type '\(type)' in network \(network)")
                }
                let pci = NetworkForwardInterface.pci(domain: hex(a.attr("domain")) ?? 0, bus: hex(a.attr("bus")) ?? 0,
                                                      slot: hex(a.attr("slot")) ?? 0, function: hex(a.attr("function")) ?? 0)
                if fwd.interfaces.contains(pci), case .pci(let d, let b, let s, let f) = pci {
                    let addr = "\(hexString(d, 4)):\(hexString(b, 2)):\(hexString(s, 2)).\(String(f, radix: 16))"
                    throw NetworkXMLError.xml("PCI device '\(addr)' can only be listed once in network \(network)")
                }
                fwd.interfaces.append(pci)
            }
        } else if pfs.count > 1 {
            throw NetworkXMLError.xml("Only one <pf> element is allowed in <forward> of network \(network)")
        } else if let pf = pfs.first {
            guard let d = pf.attr("dev") else {
                throw NetworkXMLError.xml("Missing required dev attribute in <pf> element of network '\(network)'")
            }
            fwd.pf = d
        }
        return fwd
    }

    static func hexString(_ v: UInt32, _ width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    static func parseNAT(_ nat: XMLElement, into fwd: inout NetworkForward, network: String) throws(VirtError) {
        if fwd.mode != .nat {
            throw NetworkXMLError.xml("The <nat> element can only be used when <forward> 'mode' is 'nat' in network \(network)")
        }
        fwd.natIPv6 = try triState(nat, "ipv6")
        let addrs = nat.children("address")
        if addrs.count > 1 {
            throw NetworkXMLError.xml("Only one <address> element is allowed in <nat> in <forward> in network \(network)")
        }
        if let a = addrs.first {
            guard let s = a.attr("start") else {
                throw NetworkXMLError.xml("missing 'start' attribute in <address> element in <nat> in <forward> in network \(network)")
            }
            guard let e = a.attr("end") else {
                throw NetworkXMLError.xml("missing 'end' attribute in <address> element in <nat> in <forward> in network \(network)")
            }
            guard let start = NetworkAddress(s), start.isIPv4 else {
                throw NetworkXMLError.xml("Bad ipv4 start address '\(s)' in <nat> in <forward> in network '\(network)'")
            }
            guard let end = NetworkAddress(e), end.isIPv4 else {
                throw NetworkXMLError.xml("Bad ipv4 end address '\(e)' in <nat> in <forward> in network '\(network)'")
            }
            if end < start { throw VirtError.internalError("range \(s) - \(e) is reversed ", domain: .network) }
            fwd.natAddressStart = start
            fwd.natAddressEnd = end
        }
        let ports = nat.children("port")
        if ports.count > 1 {
            throw NetworkXMLError.xml("Only one <port> element is allowed in <nat> in <forward> in network \(network)")
        }
        if let p = ports.first {
            guard let s = p.attr("start").flatMap({ UInt32($0) }), s <= 65535 else {
                throw NetworkXMLError.detail("Missing or invalid 'start' attribute in <port> in <nat> in <forward> in network \(network)")
            }
            guard let e = p.attr("end").flatMap({ UInt32($0) }), e <= 65535, e >= s else {
                throw NetworkXMLError.detail("Missing or invalid 'end' attribute in <port> in <nat> in <forward> in network \(network)")
            }
            fwd.natPortStart = s
            fwd.natPortEnd = e
        }
    }

    /// The checks that tie the rest of the definition to the forward mode.
    func checkForwardMode(stpSpecified: Bool) throws(VirtError) {
        let mode = forward.mode.name
        switch forward.mode {
        case .none: break
        case .route, .nat, .open:
            if ips.isEmpty {
                throw NetworkXMLError.xml("\(mode) forwarding requested, but no IP address provided for network '\(name)'")
            }
            if forward.interfaces.count > 1 {
                throw NetworkXMLError.xml("multiple forwarding interfaces specified for network '\(name)', only one is supported")
            }
            if forward.mode == .open && !forward.interfaces.isEmpty {
                throw NetworkXMLError.xml("forward dev not allowed for network '\(name)' with forward mode='\(mode)'")
            }
        case .private, .vepa, .passthrough, .hostdev, .bridge:
            if forward.mode != .bridge {
                if bridge != nil { throw NetworkXMLError.xml("bridge name not allowed in \(mode) mode (network '\(name)')") }
                if bridgeZone != nil { throw NetworkXMLError.xml("bridge zone not allowed in \(mode) mode (network '\(name)')") }
                if macTableManager != nil {
                    throw NetworkXMLError.xml("bridge macTableManager setting not allowed in \(mode) mode (network '\(name)')")
                }
            }
            if delay != 0 || stpSpecified || bridgeZone != nil {
                throw NetworkXMLError.xml("bridge delay/stp/zone options only allowed in route, nat, and isolated mode, "
                                          + "not in \(mode) (network '\(name)')")
            }
            if bridge != nil && (!forward.interfaces.isEmpty || forward.pf != nil) {
                throw NetworkXMLError.xml("A network with forward mode='\(mode)' can specify a bridge name or a forward dev, "
                                          + "but not both (network '\(name)')")
            }
        }
        if mtu != 0 && !forward.mode.hasBridge {
            throw NetworkXMLError.xml("mtu size only allowed in open, route, nat, and isolated mode, not in \(mode) (network '\(name)')")
        }
    }
}
