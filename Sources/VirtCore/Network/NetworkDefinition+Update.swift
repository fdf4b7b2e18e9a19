/// `virNetworkUpdate`'s work on one definition (`virNetworkDefUpdateSection`): the sections libvirt can change
/// in place. Errors are libvirt's.
extension NetworkDefinition {
    static func unsupported(_ detail: String) -> VirtError {
        VirtError(.operationUnsupported, domain: .network, "Operation not supported: \(detail)", str1: detail)
    }

    static func invalid(_ detail: String) -> VirtError { VirtError.operationInvalid(detail, domain: .network) }

    func noSupport(_ section: String) -> VirtError { Self.unsupported("can't update '\(section)' section of network '\(name)'") }

    static func unknownCommand(_ command: UInt32) -> VirtError {
        unsupported("unrecognized network update command code \(command)")
    }

    func checkElement(_ el: XMLElement, _ expected: String) throws(VirtError) {
        if el.name != expected {
            throw NetworkXMLError.xml("unexpected element <\(el.name)>, expecting <\(expected)>, while updating network '\(name)'")
        }
    }

    /// Applies one update; `command` and `section` are libvirt's numbers.
    public mutating func update(command: UInt32, section: UInt32, parentIndex: Int32, xml: String) throws(VirtError) {
        let el: XMLElement
        do {
            el = try XMLParser.parse(xml, documentName: "network_update_xml", errorDomain: .network)
        } catch {
            // virXMLParseStringCtxt names the document without parentheses.
            var e = error
            e.message = e.message.replacingAll("(network_update_xml)", "network_update_xml")
            e.str2 = e.str2?.replacingAll("(network_update_xml)", "network_update_xml")
            throw e
        }
        guard let sec = NetworkUpdateSection(rawValue: section) else {
            throw Self.unsupported("can't update unrecognized section of network")
        }
        switch sec {
        case .bridge: throw noSupport("bridge")
        case .domain: throw noSupport("domain")
        case .ip: throw noSupport("ip")
        case .forward: throw noSupport("forward")
        case .forwardPF: throw noSupport("forward pf")
        case .none: throw Self.unsupported("can't update unrecognized section of network")
        case .ipDHCPHost: try updateDHCPHost(command: command, parentIndex: parentIndex, el)
        case .ipDHCPRange: try updateDHCPRange(command: command, parentIndex: parentIndex, el)
        case .forwardInterface: try updateForwardInterface(command: command, el)
        case .dnsHost: try updateDNSHost(command: command, el)
        case .dnsTxt: try updateDNSTxt(command: command, el)
        case .portgroup: try updatePortGroup(command: command, el)
        case .dnsSrv: try updateDNSSrv(command: command, el)
        }
    }

    /// `virNetworkIPDefByIndex`: the `<ip>` at `parentIndex`, or (-1) the one with DHCP, else the first IPv4,
    /// else the first IPv6.
    func ipIndex(_ parentIndex: Int32) throws(VirtError) -> Int {
        if parentIndex >= 0 {
            guard Int(parentIndex) < ips.count else {
                throw Self.invalid("couldn't update dhcp host entry - no <ip> element found at index \(parentIndex) in network '\(name)'")
            }
            return Int(parentIndex)
        }
        if let i = ips.firstIndex(where: { !$0.ranges.isEmpty || !$0.hosts.isEmpty }) { return i }
        if let i = ips.firstIndex(where: { $0.address.isIPv4 }) { return i }
        if let i = ips.firstIndex(where: { $0.address.isIPv6 }) { return i }
        throw Self.invalid("couldn't update dhcp host entry - no <ip> element found in network '\(name)'")
    }

    /// DHCP may live on one `<ip>` of each family only.
    func checkMultiDHCP(_ index: Int) throws(VirtError) {
        let v4 = ips[index].address.isIPv4
        for (i, ip) in ips.enumerated() where i != index && ip.address.isIPv4 == v4 {
            if !ip.ranges.isEmpty || !ip.hosts.isEmpty {
                throw Self.invalid("dhcp is supported only for a single \(v4 ? "IPv4" : "IPv6") address on each network")
            }
        }
    }

    mutating func updateDHCPHost(command: UInt32, parentIndex: Int32, _ el: XMLElement) throws(VirtError) {
        try checkElement(el, "host")
        let idx = try ipIndex(parentIndex)
        let ip = ips[idx]
        let isDelete = command == NetworkUpdateCommand.delete.rawValue
        let host = try Self.parseDHCPHost(el, ip: ip, network: name, partialOkay: isDelete)
        if !isDelete && ip.address.isIPv4 != (host.ip?.isIPv4 ?? !ip.address.isIPv4) {
            throw Self.invalid("the address family of a host entry IP must match the address family of the dhcp element's parent")
        }
        func sameMAC(_ a: String?, _ b: String?) -> Bool {
            guard let a, let b else { return false }
            return a.lowercased() == b.lowercased()
        }
        switch NetworkUpdateCommand(rawValue: command) {
        case .modify:
            guard let i = ip.hosts.firstIndex(where: { h in
                sameMAC(host.mac, h.mac) || (host.ip != nil && host.ip == h.ip) || (host.name != nil && host.name == h.name)
            }) else {
                let (mac, hostName, ip) = (host.mac ?? "unknown", host.name ?? "(null)", host.ip?.description ?? "unknown")
                throw Self.invalid("couldn't locate an existing dhcp host entry with \"mac='\(mac)'\" \"name='\(hostName)'\" "
                                   + "\"ip='\(ip)'\" in network '\(name)'")
            }
            ips[idx].hosts[i] = host
        case .addFirst, .addLast:
            try checkMultiDHCP(idx)
            if ip.hosts.contains(where: { h in
                sameMAC(host.mac, h.mac) || (host.name != nil && host.name == h.name) || (host.ip != nil && host.ip == h.ip)
            }) {
                let (mac, hostName, ip) = (host.mac ?? "unknown", host.name ?? "(null)", host.ip?.description ?? "unknown")
                throw Self.invalid("there is an existing dhcp host entry in network '\(name)' that matches "
                                   + "\"<host mac='\(mac)' name='\(hostName)' ip='\(ip)'/>\"")
            }
            if command == NetworkUpdateCommand.addFirst.rawValue {
                ips[idx].hosts.insert(host, at: 0)
            } else {
                ips[idx].hosts.append(host)
            }
        case .delete:
            guard let i = ip.hosts.firstIndex(where: { h in
                (host.mac == nil || h.mac == nil || sameMAC(host.mac, h.mac))
                    && (host.name == nil || host.name == h.name) && (host.ip == nil || host.ip == h.ip)
            }) else {
                throw Self.invalid("couldn't locate a matching dhcp host entry in network '\(name)'")
            }
            ips[idx].hosts.remove(at: i)
        default:
            throw Self.unknownCommand(command)
        }
    }

    mutating func updateDHCPRange(command: UInt32, parentIndex: Int32, _ el: XMLElement) throws(VirtError) {
        try checkElement(el, "range")
        let idx = try ipIndex(parentIndex)
        if command == NetworkUpdateCommand.modify.rawValue {
            throw Self.unsupported("dhcp ranges cannot be modified, only added or deleted")
        }
        let ip = ips[idx]
        let range = try Self.parseRange(el, ip: ip, network: name)
        if ip.address.isIPv4 != range.start.isIPv4 {
            throw Self.invalid("the address family of a dhcp range must match the address family of the dhcp element's parent")
        }
        let found = ip.ranges.firstIndex { $0.start == range.start && $0.end == range.end }
        switch NetworkUpdateCommand(rawValue: command) {
        case .addFirst, .addLast:
            try checkMultiDHCP(idx)
            if found != nil {
                throw Self.invalid("there is an existing dhcp range entry in network '\(name)' that matches "
                                   + "\"<range start='\(range.start)' end='\(range.end)'/>\"")
            }
            if command == NetworkUpdateCommand.addFirst.rawValue {
                ips[idx].ranges.insert(range, at: 0)
            } else {
                ips[idx].ranges.append(range)
            }
        case .delete:
            guard let found else { throw Self.invalid("couldn't locate a matching dhcp range entry in network '\(name)'") }
            ips[idx].ranges.remove(at: found)
        default:
            throw Self.unknownCommand(command)
        }
    }

    mutating func updateForwardInterface(command: UInt32, _ el: XMLElement) throws(VirtError) {
        try checkElement(el, "interface")
        if command == NetworkUpdateCommand.modify.rawValue {
            throw Self.unsupported("forward interface entries cannot be modified, only added or deleted")
        }
        guard let dev = el.attr("dev") else { throw NetworkXMLError.xml("missing dev attribute in <interface> element") }
        let found = forward.interfaces.firstIndex(of: .netdev(dev))
        switch NetworkUpdateCommand(rawValue: command) {
        case .addFirst, .addLast:
            if found != nil {
                throw Self.invalid("there is an existing interface entry in network '\(name)' that matches \"<interface dev='\(dev)'>\"")
            }
            if command == NetworkUpdateCommand.addFirst.rawValue {
                forward.interfaces.insert(.netdev(dev), at: 0)
            } else {
                forward.interfaces.append(.netdev(dev))
            }
        case .delete:
            guard let found else {
                throw Self.invalid("couldn't find an interface entry in network '\(name)' matching <interface dev='\(dev)'>")
            }
            forward.interfaces.remove(at: found)
        default:
            throw Self.unknownCommand(command)
        }
    }

    mutating func updateDNSHost(command: UInt32, _ el: XMLElement) throws(VirtError) {
        let isAdd = command == NetworkUpdateCommand.addFirst.rawValue || command == NetworkUpdateCommand.addLast.rawValue
        if command == NetworkUpdateCommand.modify.rawValue {
            throw Self.unsupported("DNS HOST records cannot be modified, only added or deleted")
        }
        try checkElement(el, "host")
        let host = try Self.parseDNSHost(el, network: name, partialOkay: !isAdd)
        let matches = dns.hosts.indices.filter { i in
            let h = dns.hosts[i]
            // Adding checks the address only: one name on several addresses is a valid configuration.
            return (host.ip != nil && host.ip == h.ip) || (!isAdd && host.hostnames.contains { h.hostnames.contains($0) })
        }
        if isAdd {
            if !matches.isEmpty {
                throw Self.invalid("there is already at least one DNS HOST record with a matching field in network \(name)")
            }
            if command == NetworkUpdateCommand.addFirst.rawValue {
                dns.hosts.insert(host, at: 0)
            } else {
                dns.hosts.append(host)
            }
        } else if command == NetworkUpdateCommand.delete.rawValue {
            if matches.isEmpty { throw Self.invalid("couldn't locate a matching DNS HOST record in network \(name)") }
            if matches.count > 1 { throw Self.invalid("multiple matching DNS HOST records were found in network \(name)") }
            dns.hosts.remove(at: matches[0])
        } else {
            throw Self.unknownCommand(command)
        }
    }

    mutating func updateDNSTxt(command: UInt32, _ el: XMLElement) throws(VirtError) {
        let isAdd = command == NetworkUpdateCommand.addFirst.rawValue || command == NetworkUpdateCommand.addLast.rawValue
        if command == NetworkUpdateCommand.modify.rawValue {
            throw Self.unsupported("DNS TXT records cannot be modified, only added or deleted")
        }
        try checkElement(el, "txt")
        guard let n = el.attr("name") else {
            throw NetworkXMLError.detail("missing required name attribute in DNS TXT record of network \(name)")
        }
        let value = el.attr("value")
        if isAdd && value == nil {
            throw NetworkXMLError.detail("missing required value attribute in DNS TXT record named '\(n)' of network \(name)")
        }
        let found = dns.txts.firstIndex { $0.name == n }
        if isAdd {
            if found != nil {
                throw Self.invalid("there is already a DNS TXT record with name '\(n)' in network \(name)")
            }
            let txt = NetworkDNSTxt(name: n, value: value)
            if command == NetworkUpdateCommand.addFirst.rawValue { dns.txts.insert(txt, at: 0) } else { dns.txts.append(txt) }
        } else if command == NetworkUpdateCommand.delete.rawValue {
            guard let found else { throw Self.invalid("couldn't locate a matching DNS TXT record in network \(name)") }
            dns.txts.remove(at: found)
        } else {
            throw Self.unknownCommand(command)
        }
    }

    mutating func updateDNSSrv(command: UInt32, _ el: XMLElement) throws(VirtError) {
        let isAdd = command == NetworkUpdateCommand.addFirst.rawValue || command == NetworkUpdateCommand.addLast.rawValue
        if command == NetworkUpdateCommand.modify.rawValue {
            throw Self.unsupported("DNS SRV records cannot be modified, only added or deleted")
        }
        try checkElement(el, "srv")
        let srv = try Self.parseSrv(el, network: name, partialOkay: !isAdd)
        let matches = dns.srvs.indices.filter { i in
            let o = dns.srvs[i]
            return (srv.domain == nil || srv.domain == o.domain) && (srv.service == nil || srv.service == o.service)
                && (srv.protocol == nil || srv.protocol == o.protocol) && (srv.target == nil || srv.target == o.target)
        }
        if isAdd {
            if !matches.isEmpty {
                throw Self.invalid("there is already at least one DNS SRV record matching all specified fields in network \(name)")
            }
            if command == NetworkUpdateCommand.addFirst.rawValue { dns.srvs.insert(srv, at: 0) } else { dns.srvs.append(srv) }
        } else if command == NetworkUpdateCommand.delete.rawValue {
            if matches.isEmpty { throw Self.invalid("couldn't locate a matching DNS SRV record in network \(name)") }
            if matches.count > 1 {
                throw Self.invalid("multiple DNS SRV records matching all specified fields were found in network \(name)")
            }
            dns.srvs.remove(at: matches[0])
        } else {
            throw Self.unknownCommand(command)
        }
    }

    mutating func updatePortGroup(command: UInt32, _ el: XMLElement) throws(VirtError) {
        try checkElement(el, "portgroup")
        let pg = try Self.parsePortGroup(el)
        let foundName = portGroups.firstIndex { $0.name == pg.name }
        let foundDefault = portGroups.lastIndex { $0.isDefault }
        let cmd = NetworkUpdateCommand(rawValue: command)
        if foundName == nil && (cmd == .modify || cmd == .delete) {
            throw Self.invalid("couldn't find a portgroup entry in network '\(name)' matching <portgroup name='\(pg.name)'>")
        }
        if foundName != nil && (cmd == .addFirst || cmd == .addLast) {
            throw Self.invalid("there is an existing portgroup entry in network '\(name)' that matches \"<portgroup name='\(pg.name)'>\"")
        }
        if cmd != .delete && pg.isDefault, let foundDefault, foundDefault != foundName {
            throw Self.invalid("a different portgroup entry in network '\(name)' is already set as the default. Only one default is allowed.")
        }
        switch cmd {
        case .modify:
            if let foundName { portGroups[foundName] = pg }
        case .addFirst: portGroups.insert(pg, at: 0)
        case .addLast: portGroups.append(pg)
        case .delete:
            if let foundName { portGroups.remove(at: foundName) }
        default:
            throw Self.unknownCommand(command)
        }
    }
}
