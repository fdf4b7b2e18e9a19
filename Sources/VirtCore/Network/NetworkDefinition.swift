/// libvirt's `virNetworkForwardType`, with its XML names.
public enum NetworkForwardMode: Int32, Sendable, Hashable, CaseIterable {
    case none = 0, nat, route, open, bridge, `private`, vepa, passthrough, hostdev

    public var name: String {
        ["none", "nat", "route", "open", "bridge", "private", "vepa", "passthrough", "hostdev"][Int(rawValue)]
    }

    public init?(name: String) {
        guard let m = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = m
    }

    /// Modes that give the network a bridge of its own (libvirt formats `<bridge>` with stp and delay for them).
    public var hasBridge: Bool {
        switch self {
        case .none, .nat, .route, .open: true
        default: false
        }
    }
}

/// A `<forward>` pool member: a network device or a PCI address (`virNetworkForwardIfDef`).
public enum NetworkForwardInterface: Sendable, Hashable {
    case netdev(String)
    case pci(domain: UInt32, bus: UInt32, slot: UInt32, function: UInt32)
}

/// `<forward>` (`virNetworkForwardDef`).
public struct NetworkForward: Sendable, Hashable {
    public var mode: NetworkForwardMode = .none
    public var managed = false
    /// `<driver name='kvm|vfio|xen'/>`; nil is libvirt's default.
    public var driverName: String?
    public var interfaces: [NetworkForwardInterface] = []
    /// `<pf dev='…'/>`: at most one.
    public var pf: String?
    /// `<nat ipv6='…'>`.
    public var natIPv6: Bool?
    public var natAddressStart: NetworkAddress?
    public var natAddressEnd: NetworkAddress?
    public var natPortStart: UInt32 = 0
    public var natPortEnd: UInt32 = 0

    public init() {}

    /// The device of the first netdev member (`virNetworkDefForwardIf(def, 0)`).
    public var firstDev: String? {
        if case .netdev(let d)? = interfaces.first { return d }
        return nil
    }
}

/// `<lease expiry='…' unit='…'/>` of a DHCP range or host.
public struct NetworkDHCPLease: Sendable, Hashable {
    public var expiry: UInt64
    public var unit: String
}

public struct NetworkDHCPRange: Sendable, Hashable {
    public var start: NetworkAddress
    public var end: NetworkAddress
    public var lease: NetworkDHCPLease?
}

public struct NetworkDHCPHost: Sendable, Hashable {
    public var mac: String?
    public var id: String?
    public var name: String?
    public var ip: NetworkAddress?
    public var lease: NetworkDHCPLease?
}

/// An `<ip>` element (`virNetworkIPDef`).
public struct NetworkIP: Sendable, Hashable {
    public var family: String?
    public var address: NetworkAddress
    public var netmask: NetworkAddress?
    public var prefix: UInt32 = 0
    public var localPTR: Bool?
    public var tftpRoot: String?
    public var ranges: [NetworkDHCPRange] = []
    public var hosts: [NetworkDHCPHost] = []
    public var bootFile: String?
    public var bootServer: NetworkAddress?

    /// `virNetworkIPDefPrefix`: the explicit prefix, the netmask's bits, or the classful default for IPv4
    /// (64 for IPv6).
    public var effectivePrefix: Int {
        if prefix > 0 { return Int(prefix) }
        if let netmask, let bits = netmask.netmaskBits { return bits }
        if address.isIPv4 {
            let first = address.bytes[0]
            if first & 0x80 == 0 { return 8 }
            if first & 0xC0 == 0x80 { return 16 }
            if first & 0xE0 == 0xC0 { return 24 }
            return -1
        }
        return address.isIPv6 ? 64 : -1
    }
}

public struct NetworkDNSHost: Sendable, Hashable {
    public var ip: NetworkAddress?
    public var hostnames: [String]
}

public struct NetworkDNSSrv: Sendable, Hashable {
    public var service: String?
    public var `protocol`: String?
    public var domain: String?
    public var target: String?
    public var port: UInt32 = 0
    public var priority: UInt32 = 0
    public var weight: UInt32 = 0
}

public struct NetworkDNSTxt: Sendable, Hashable {
    public var name: String
    public var value: String?
}

public struct NetworkDNSForwarder: Sendable, Hashable {
    public var domain: String?
    public var addr: NetworkAddress?
}

/// `<dns>` (`virNetworkDNSDef`).
public struct NetworkDNS: Sendable, Hashable {
    public var enable: Bool?
    public var forwardPlainNames: Bool?
    public var forwarders: [NetworkDNSForwarder] = []
    public var txts: [NetworkDNSTxt] = []
    public var srvs: [NetworkDNSSrv] = []
    public var hosts: [NetworkDNSHost] = []
    public init() {}
}

/// A static `<route>` (`virNetDevIPRoute`).
public struct NetworkRoute: Sendable, Hashable {
    public var family: String?
    public var address: NetworkAddress
    public var netmask: NetworkAddress?
    public var prefix: UInt32?
    public var gateway: NetworkAddress
    public var metric: UInt32?
}

/// A `<portgroup>`; its vlan, virtual port and bandwidth are kept as parsed.
public struct NetworkPortGroup: Sendable, Hashable {
    public var name: String
    public var isDefault: Bool
    public var trustGuestRxFilters: Bool?
    public var vlan: XMLElement?
    public var virtualPort: XMLElement?
    public var bandwidth: XMLElement?
}

/// A virtual network's definition: libvirt's `<network>` XML (`virNetworkDef`). Parse with
/// ``init(xml:options:)``, format with ``xml(inactive:)``.
public struct NetworkDefinition: Sendable, Hashable {
    public var name: String
    public var uuid: VirtUUID
    public var title: String?
    public var description: String?
    public var metadata: XMLElement?
    /// `ipv6='yes'`: guest-to-guest IPv6 without a gateway address.
    public var ipv6NoGateway = false
    public var trustGuestRxFilters: Bool?
    /// Live only: how many guest interfaces use the network.
    public var connections: Int32 = 0
    public var forward = NetworkForward()
    public var bridge: String?
    public var bridgeZone: String?
    public var stp = true
    public var delay: UInt64 = 0
    /// `kernel` or `libvirt`; nil is libvirt's default.
    public var macTableManager: String?
    public var mtu: UInt32 = 0
    public var mac: MACAddress?
    public var domainName: String?
    public var domainLocalOnly: Bool?
    public var dns = NetworkDNS()
    public var vlan: XMLElement?
    public var bandwidth: XMLElement?
    public var isolatedPort: Bool?
    public var ips: [NetworkIP] = []
    public var routes: [NetworkRoute] = []
    public var virtualPort: XMLElement?
    public var portGroups: [NetworkPortGroup] = []
    /// `<dnsmasq:options>` values, when the dnsmasq namespace was parsed (the network driver's, not the test
    /// driver's).
    public var dnsmasqOptions: [String]?

    public init(name: String, uuid: VirtUUID = .random()) {
        self.name = name
        self.uuid = uuid
    }
}

/// Parse options: what libvirt's `virNetworkXMLOption` of the driver adds.
public struct NetworkParseOptions: Sendable {
    /// Parse `<dnsmasq:options>` (the network driver registers the namespace; the test driver does not).
    public var dnsmasqNamespace: Bool
    public init(dnsmasqNamespace: Bool = false) { self.dnsmasqNamespace = dnsmasqNamespace }
}
