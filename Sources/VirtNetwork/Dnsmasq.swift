import Foundation
import VirtCore

/// dnsmasq for one network, as libvirt runs it: a config file of libvirt's shape (the one libvirtd writes in
/// /var/lib/libvirt/dnsmasq/NAME.conf), a hosts file for static DHCP hosts (re-read on SIGHUP), an additional
/// hosts file for `<dns><host>`, and a lease file dnsmasq keeps itself (libvirt uses a lease helper script).
struct DnsmasqFiles: Sendable {
    let dir: String
    let name: String

    var conf: String { "\(dir)/\(name).conf" }
    var pidFile: String { "\(dir)/\(name).pid" }
    var hostsFile: String { "\(dir)/\(name).hostsfile" }
    var addnHosts: String { "\(dir)/\(name).addnhosts" }
    var leases: String { "\(dir)/\(name).leases" }
    var log: String { "\(dir)/\(name).log" }
}

enum Dnsmasq {
    /// Whether the network needs dnsmasq: an address of its own and DNS not disabled, or DHCP
    /// (`networkStartDhcpDaemon`'s rule, for the bridge-owning forward modes).
    static func needed(_ def: NetworkDefinition) -> Bool {
        guard def.forward.mode.hasBridge, !def.ips.isEmpty else { return false }
        let dhcp = def.ips.contains { !$0.ranges.isEmpty || !$0.hosts.isEmpty }
        return dhcp || def.dns.enable != false
    }

    /// The DHCP-serving IPv4 `<ip>` (libvirt serves DHCP on one IPv4 and one IPv6 address).
    static func dhcpIPv4(_ def: NetworkDefinition) -> NetworkIP? {
        def.ips.first { $0.address.isIPv4 && (!$0.ranges.isEmpty || !$0.hosts.isEmpty) }
    }

    /// The DHCP-serving IPv6 `<ip>`.
    static func dhcpIPv6(_ def: NetworkDefinition) -> NetworkIP? {
        def.ips.first { !$0.address.isIPv4 && (!$0.ranges.isEmpty || !$0.hosts.isEmpty) }
    }

    static func netmask(_ prefix: Int) -> NetworkAddress {
        NetworkAddress(bytes: [255, 255, 255, 255]).masked(prefix)
    }

    static func leaseTime(_ l: NetworkDHCPLease?) -> String? {
        guard let l else { return nil }
        if l.expiry == 0 { return "infinite" }
        switch l.unit {
        case "seconds": return "\(l.expiry)"
        case "hours": return "\(l.expiry)h"
        default: return "\(l.expiry)m"
        }
    }

    /// The number of addresses in a range: IPv4 ranges whole; IPv6 ones by their last 64 bits (libvirt refuses
    /// larger IPv6 ranges when the network is defined).
    static func rangeSize(_ r: NetworkDHCPRange) -> Int {
        guard r.start.isIPv4 == r.end.isIPv4 else { return 0 }
        let tail = r.start.isIPv4 ? 4 : 8
        func v(_ a: NetworkAddress) -> Int { a.bytes.suffix(tail).reduce(0) { $0 << 8 | Int($1) } }
        let n = v(r.end) - v(r.start) + 1
        return n > 0 ? min(n, Int(Int32.max)) : 0
    }

    /// The config file (`networkDnsmasqConfContents`), plus the lease file dnsmasq writes itself.
    static func config(_ def: NetworkDefinition, bridge: String, files: DnsmasqFiles) throws(VirtError) -> String {
        var c = """
            ##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE
            ##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:
            ##    virsh net-edit \(def.name)
            ## or other application using the libvirt API.
            ##
            ## dnsmasq conf file created by libvirt
            strict-order

            """
        let wantDNS = def.dns.enable != false
        // DNS disabled: dnsmasq listens on no port.
        if !wantDNS { c += "port=0\n" }
        if wantDNS && !def.dns.forwarders.isEmpty {
            // An address without a domain sends every other query there: no resolv.conf then.
            var noResolv = false
            for f in def.dns.forwarders {
                c += "server="
                if let d = f.domain { c += "/\(d)/" }
                if let a = f.addr {
                    c += "\(a)\n"
                    if f.domain == nil { noResolv = true }
                } else {
                    c += "#\n"
                }
            }
            if noResolv { c += "no-resolv\n" }
        }
        if let d = def.domainName {
            if def.domainLocalOnly == true { c += "local=/\(d)/\n" }
            c += "domain=\(d)\nexpand-hosts\n"
        }
        if wantDNS {
            for ip in def.ips where ip.localPTR == true {
                c += "local=/\(try ptrDomain(ip))/\n"
            }
        }
        if wantDNS && def.dns.forwardPlainNames == false {
            c += "domain-needed\nlocal=//\n"
        }
        c += "pid-file=\(files.pidFile)\n"
        c += "except-interface=lo\nbind-dynamic\ninterface=\(bridge)\n"
        // An isolated network: no default route for its guests, no upstream resolvers, no IPv6 router.
        if def.forward.mode == .none { c += "dhcp-option=3\nno-resolv\nra-param=*,0,0\n" }
        for t in def.dns.txts { c += "txt-record=\(t.name),\(t.value ?? "")\n" }
        for s in def.dns.srvs {
            guard let service = s.service, let proto = s.protocol else { continue }
            var line = "srv-host=_\(service)._\(proto)"
            if let d = s.domain { line += ".\(d)" }
            if let t = s.target {
                line += ",\(t)"
                if s.port > 0 { line += ",\(s.port)" }
                if s.priority > 0 { line += ",\(s.priority)" }
                if s.weight > 0 { line += ",\(s.weight)" }
            }
            c += line + "\n"
        }
        // DHCP on the first IPv4 and the first IPv6 `<ip>` with ranges or hosts (libvirt refuses a second one of
        // either family at define time), in that order.
        var leaseMax = 0
        let v4 = dhcpIPv4(def), v6 = dhcpIPv6(def)
        for ip in [v4, v6].compactMap({ $0 }) {
            let prefix = ip.effectivePrefix
            let mask = ip.address.isIPv4 ? netmask(prefix).description : String(prefix)
            for r in ip.ranges {
                var line = "dhcp-range=\(r.start),\(r.end),\(mask)"
                if let t = leaseTime(r.lease) { line += ",\(t)" }
                c += line + "\n"
                leaseMax += rangeSize(r)
            }
            // Static hosts only (no range): dnsmasq serves them with a static range of the network.
            if ip.ranges.isEmpty && !ip.hosts.isEmpty {
                c += ip.address.isIPv4 ? "dhcp-range=\(ip.address),static\n" : "dhcp-range=\(ip.address),static,\(prefix)\n"
            }
            if ip.address.isIPv4 {
                c += "dhcp-no-override\ndhcp-authoritative\n"
                if let f = ip.bootFile {
                    if let s = ip.bootServer { c += "dhcp-boot=\(f),,\(s)\n" } else { c += "dhcp-boot=\(f)\n" }
                }
            }
        }
        if leaseMax > 0 { c += "dhcp-lease-max=\(leaseMax)\n" }
        if v4 != nil || v6 != nil {
            c += "dhcp-hostsfile=\(files.hostsFile)\n"
            c += "dhcp-leasefile=\(files.leases)\n"
        }
        if def.dns.enable != false { c += "addn-hosts=\(files.addnHosts)\n" }
        if def.mtu > 0 { c += "dhcp-option=option:mtu,\(def.mtu)\n" }
        // Router advertisements: stateful with DHCPv6, else SLAAC (ra-only) on each IPv6 address.
        if v6 != nil {
            c += "enable-ra\n"
        } else {
            for ip in def.ips where !ip.address.isIPv4 { c += "dhcp-range=\(ip.address),ra-only\n" }
        }
        for o in def.dnsmasqOptions ?? [] { c += o + "\n" }
        return c
    }

    /// The reverse-lookup zone of an `<ip localPtr='yes'>` network (`virSocketAddrPTRDomain`): the network's
    /// whole octets (IPv4) or nibbles (IPv6), reversed, under in-addr.arpa or ip6.arpa.
    static func ptrDomain(_ ip: NetworkIP) throws(VirtError) -> String {
        let prefix = ip.effectivePrefix
        let v4 = ip.address.isIPv4
        let unit = v4 ? 8 : 4
        guard prefix > 0, prefix % unit == 0 else {
            throw VirtError(.configUnsupported, domain: .network,
                            "unsupported configuration: PTR domain for \(v4 ? "IPv4" : "IPv6") network with prefix "
                            + "\(max(prefix, 0)) cannot be automatically created")
        }
        let bytes = ip.address.masked(prefix).bytes
        if v4 {
            return bytes.prefix(prefix / 8).reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa"
        }
        let nibbles = bytes.flatMap { [$0 >> 4, $0 & 0xf] }.prefix(prefix / 4)
        return nibbles.reversed().map { String($0, radix: 16) }.joined(separator: ".") + ".ip6.arpa"
    }

    /// The static DHCP hosts (`dhcp-hostsfile`) of the DHCP-serving IPv4 and IPv6 `<ip>`s, as libvirt's
    /// dnsmasq context writes them: IPv4 "MAC,IP,NAME", "NAME,IP" or "MAC,IP"; IPv6 "id:DUID,NAME,[IP]",
    /// "NAME,[IP]" or "id:DUID,[IP]"; each with ",LEASE" when the host has a lease time.
    static func hostsFile(_ def: NetworkDefinition) -> String {
        var out = ""
        for ip in [dhcpIPv4(def), dhcpIPv6(def)].compactMap({ $0 }) {
            for h in ip.hosts {
                guard let a = h.ip else { continue }
                var line: String
                if ip.address.isIPv4 {
                    switch (h.mac, h.name) {
                    case let (mac?, name?): line = "\(mac),\(a),\(name)"
                    case let (nil, name?): line = "\(name),\(a)"
                    case let (mac?, nil): line = "\(mac),\(a)"
                    case (nil, nil): continue
                    }
                } else {
                    switch (h.id, h.name) {
                    case let (id?, name?): line = "id:\(id),\(name),[\(a)]"
                    case let (nil, name?): line = "\(name),[\(a)]"
                    case let (id?, nil): line = "id:\(id),[\(a)]"
                    case (nil, nil): continue
                    }
                }
                if let t = leaseTime(h.lease) { line += ",\(t)" }
                out += line + "\n"
            }
        }
        return out
    }

    /// `<dns><host>` entries (`addn-hosts`): "IP\tNAME…".
    static func addnHosts(_ def: NetworkDefinition) -> String {
        var out = ""
        for h in def.dns.hosts {
            guard let ip = h.ip else { continue }
            out += ([ip.description] + h.hostnames).joined(separator: "\t") + "\n"
        }
        return out
    }

    /// The leases in dnsmasq's lease file: "EXPIRY MAC IP HOSTNAME CLIENTID" per IPv4 lease, then a
    /// "duid SERVERDUID" line and "EXPIRY IAID IP HOSTNAME CLIENTDUID" per IPv6 lease. An IPv6 lease's MAC
    /// address is the one in the client's DUID (link-layer, with or without time, Ethernet); libvirt keeps
    /// only leases whose MAC address is known, and so do we.
    static func leases(_ text: String, bridge: String, def: NetworkDefinition, mac: String?) -> [NetworkDHCPLeaseRecord] {
        var out: [NetworkDHCPLeaseRecord] = []
        var v6 = false
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ").map(String.init)
            if f.first == "duid" { v6 = true; continue }
            guard f.count >= 5, let expiry = Int64(f[0]), let addr = NetworkAddress(f[2]), addr.isIPv4 != v6 else { continue }
            guard let leaseMAC = v6 ? macFromDUID(f[4]) : f[1] else { continue }
            if let mac, mac.lowercased() != leaseMAC.lowercased() { continue }
            let prefix = def.ips.first { ip in
                ip.address.isIPv4 == addr.isIPv4 && ip.effectivePrefix >= 0
                    && ip.address.masked(ip.effectivePrefix) == addr.masked(ip.effectivePrefix)
            }?.effectivePrefix ?? (v6 ? 64 : 24)
            out.append(NetworkDHCPLeaseRecord(iface: bridge, expiryTime: expiry, type: v6 ? 1 : 0, mac: leaseMAC,
                                              iaid: v6 ? f[1] : nil, ipaddr: f[2], prefix: UInt32(prefix),
                                              hostname: f[3] == "*" ? nil : f[3], clientID: f[4] == "*" ? nil : f[4]))
        }
        return out
    }

    /// The Ethernet address in a DUID-LLT ("00:01:00:01:" + 4 bytes of time + MAC) or DUID-LL
    /// ("00:03:00:01:" + MAC).
    static func macFromDUID(_ duid: String) -> String? {
        let b = duid.split(separator: ":").map(String.init)
        guard b.allSatisfy({ $0.count == 2 && UInt8($0, radix: 16) != nil }) else { return nil }
        let lower = b.map { $0.lowercased() }
        if lower.count == 14, lower.prefix(4) == ["00", "01", "00", "01"] { return lower.suffix(6).joined(separator: ":") }
        if lower.count == 10, lower.prefix(4) == ["00", "03", "00", "01"] { return lower.suffix(6).joined(separator: ":") }
        return nil
    }
}

/// The firewall of a network: an nftables table of our own per network (`inet swiftvirt_BRIDGE`), made and
/// removed as a whole. nat: forwarding from the network's subnets out, replies back in, masquerade to the
/// outside (ports 1024-65535 for tcp/udp, as libvirt); route: forwarding both ways; isolated (no forward):
/// traffic only between the network's own ports; open: no rules at all.
enum NetworkFirewall {
    static func tableName(_ bridge: String) -> String {
        "swiftvirt_" + String(bridge.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    /// The ruleset, or nil when the network gets none.
    static func ruleset(_ def: NetworkDefinition, bridge: String) -> String? {
        let mode = def.forward.mode
        guard [.nat, .route, .none].contains(mode) else { return nil }
        let br = "\"\(bridge)\""
        let out = def.forward.firstDev.map { " oifname \"\($0)\"" } ?? ""
        let inn = def.forward.firstDev.map { "iifname \"\($0)\" " } ?? ""
        var forward: [String] = ["iifname \(br) oifname \(br) accept"]
        let f = def.forward
        let ports = f.natPortStart == 0 && f.natPortEnd == 0 ? "1024-65535" : "\(f.natPortStart)-\(max(f.natPortStart, f.natPortEnd))"
        var post: [String] = []
        // `<nat><address start end/>`: source NAT to those addresses (IPv4) instead of the outgoing interface's.
        var snatTo: String?
        if let start = f.natAddressStart {
            snatTo = start.description
            if let end = f.natAddressEnd, end != start { snatTo = "\(start)-\(end)" }
        }
        for ip in def.ips where ip.effectivePrefix >= 0 {
            let v4 = ip.address.isIPv4
            let fam = v4 ? "ip" : "ip6"
            let net = "\(ip.address.masked(ip.effectivePrefix))/\(ip.effectivePrefix)"
            switch mode {
            // IPv4 always; IPv6 only with `<nat ipv6='yes'/>` (otherwise it is routed).
            case .nat where v4 || f.natIPv6 == true:
                forward.append("iifname \(br)\(out) \(fam) saddr \(net) accept")
                forward.append("\(inn)oifname \(br) \(fam) daddr \(net) ct state related,established accept")
                // Local multicast (and, for IPv4, broadcast) leave unchanged.
                post.append("\(fam) saddr \(net) \(fam) daddr \(v4 ? "224.0.0.0/24" : "ff02::/16") return")
                if v4 { post.append("\(fam) saddr \(net) \(fam) daddr 255.255.255.255 return") }
                let match = "\(fam) saddr \(net) \(fam) daddr != \(net)\(out)"
                if v4, let to = snatTo {
                    post.append("\(match) meta l4proto { tcp, udp } snat ip to \(to):\(ports)")
                    post.append("\(match) snat ip to \(to)")
                } else {
                    post.append("\(match) meta l4proto { tcp, udp } masquerade to :\(ports)")
                    post.append("\(match) masquerade")
                }
            case .route, .nat:
                forward.append("iifname \(br)\(out) \(fam) saddr \(net) accept")
                forward.append("\(inn)oifname \(br) \(fam) daddr \(net) accept")
            default:
                break
            }
        }
        forward.append("iifname \(br) reject")
        forward.append("oifname \(br) reject")
        var t = "table inet \(tableName(bridge)) {\n"
        t += "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n"
        for r in forward { t += "\t\t\(r)\n" }
        t += "\t}\n"
        if !post.isEmpty {
            t += "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
            for r in post { t += "\t\t\(r)\n" }
            t += "\t}\n"
        }
        t += "}\n"
        return t
    }
}
