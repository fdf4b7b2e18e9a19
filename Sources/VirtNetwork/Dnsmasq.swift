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

    static func rangeSize(_ r: NetworkDHCPRange) -> Int {
        guard r.start.isIPv4, r.end.isIPv4 else { return 0 }
        func v(_ a: NetworkAddress) -> Int { a.bytes.reduce(0) { $0 << 8 | Int($1) } }
        return max(0, v(r.end) - v(r.start) + 1)
    }

    /// The config file (`networkDnsmasqConfContents`), plus the lease file dnsmasq writes itself.
    static func config(_ def: NetworkDefinition, bridge: String, files: DnsmasqFiles) -> String {
        var c = """
            ##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE
            ##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:
            ##    virsh net-edit \(def.name)
            ## or other application using the libvirt API.
            ##
            ## dnsmasq conf file created by libvirt
            strict-order

            """
        if def.dns.forwardPlainNames == false {
            c += "domain-needed\nlocal=//\n"
        }
        for f in def.dns.forwarders {
            if let d = f.domain, let a = f.addr {
                c += "server=/\(d)/\(a)\n"
            } else if let d = f.domain {
                c += "server=/\(d)/\n"
            } else if let a = f.addr {
                c += "server=\(a)\n"
            }
        }
        if let d = def.domainName {
            if def.domainLocalOnly == true { c += "local=/\(d)/\n" }
            c += "domain=\(d)\nexpand-hosts\n"
        }
        c += "pid-file=\(files.pidFile)\n"
        c += "except-interface=lo\nbind-dynamic\ninterface=\(bridge)\n"
        // An isolated network: no default route for its guests, no upstream resolvers, no IPv6 router.
        if def.forward.mode == .none { c += "dhcp-option=3\nno-resolv\nra-param=*,0,0\n" }
        if def.dns.enable == false { c += "port=0\n" }
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
        var leaseMax = 0
        for ip in def.ips where ip.address.isIPv4 {
            let mask = netmask(ip.effectivePrefix)
            for r in ip.ranges {
                var line = "dhcp-range=\(r.start),\(r.end),\(mask)"
                if let t = leaseTime(r.lease) { line += ",\(t)" }
                c += line + "\n"
                leaseMax += rangeSize(r)
            }
            // Static hosts only (no range): dnsmasq serves them with a static range of the network.
            if ip.ranges.isEmpty && !ip.hosts.isEmpty {
                c += "dhcp-range=\(ip.address.masked(ip.effectivePrefix)),static,\(mask)\n"
            }
            if let f = ip.bootFile {
                if let s = ip.bootServer { c += "dhcp-boot=\(f),,\(s)\n" } else { c += "dhcp-boot=\(f)\n" }
            }
        }
        if dhcpIPv4(def) != nil {
            c += "dhcp-no-override\ndhcp-authoritative\n"
            if leaseMax > 0 { c += "dhcp-lease-max=\(leaseMax)\n" }
            c += "dhcp-hostsfile=\(files.hostsFile)\n"
            c += "dhcp-leasefile=\(files.leases)\n"
        }
        c += "addn-hosts=\(files.addnHosts)\n"
        for o in def.dnsmasqOptions ?? [] { c += o + "\n" }
        return c
    }

    /// The static DHCP hosts (`dhcp-hostsfile`): "MAC,IP,NAME[,LEASE]" or "id:ID,IP,…".
    static func hostsFile(_ def: NetworkDefinition) -> String {
        var out = ""
        for ip in def.ips where ip.address.isIPv4 {
            for h in ip.hosts {
                var parts: [String] = []
                if let m = h.mac { parts.append(m) } else if let id = h.id { parts.append("id:\(id)") }
                if let a = h.ip { parts.append(a.description) }
                if let n = h.name { parts.append(n) }
                if let t = leaseTime(h.lease) { parts.append(t) }
                if !parts.isEmpty { out += parts.joined(separator: ",") + "\n" }
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

    /// The leases in dnsmasq's lease file ("EXPIRY MAC IP HOSTNAME CLIENTID" per line; IPv6 ones follow a
    /// "duid" line and are left out).
    static func leases(_ text: String, bridge: String, def: NetworkDefinition, mac: String?) -> [NetworkDHCPLeaseRecord] {
        var out: [NetworkDHCPLeaseRecord] = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ").map(String.init)
            if f.first == "duid" { break }
            guard f.count >= 5, let expiry = Int64(f[0]), let addr = NetworkAddress(f[2]), addr.isIPv4 else { continue }
            if let mac, mac.lowercased() != f[1].lowercased() { continue }
            let prefix = def.ips.first { ip in
                ip.address.isIPv4 && ip.effectivePrefix >= 0
                    && ip.address.masked(ip.effectivePrefix) == addr.masked(ip.effectivePrefix)
            }?.effectivePrefix ?? 24
            out.append(NetworkDHCPLeaseRecord(iface: bridge, expiryTime: expiry, type: 0, mac: f[1], iaid: nil,
                                              ipaddr: f[2], prefix: UInt32(prefix),
                                              hostname: f[3] == "*" ? nil : f[3], clientID: f[4] == "*" ? nil : f[4]))
        }
        return out
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
        for ip in def.ips where ip.effectivePrefix >= 0 {
            let fam = ip.address.isIPv4 ? "ip" : "ip6"
            let net = "\(ip.address.masked(ip.effectivePrefix))/\(ip.effectivePrefix)"
            switch mode {
            case .nat where ip.address.isIPv4:
                forward.append("iifname \(br)\(out) \(fam) saddr \(net) accept")
                forward.append("\(inn)oifname \(br) \(fam) daddr \(net) ct state related,established accept")
                post.append("\(fam) saddr \(net) \(fam) daddr 224.0.0.0/24 return")
                post.append("\(fam) saddr \(net) \(fam) daddr 255.255.255.255 return")
                post.append("\(fam) saddr \(net) \(fam) daddr != \(net)\(out) meta l4proto { tcp, udp } masquerade to :\(ports)")
                post.append("\(fam) saddr \(net) \(fam) daddr != \(net)\(out) masquerade")
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
