/// One address of a guest interface (`virDomainIPAddress`): type 0 IPv4, 1 IPv6.
public struct DomainIPAddress: Sendable, Hashable {
    public var type: Int32
    public var addr: String
    public var prefix: UInt32

    public init(type: Int32, addr: String, prefix: UInt32) {
        self.type = type
        self.addr = addr
        self.prefix = prefix
    }
}

/// A guest interface and its addresses (`virDomainInterface`), as `virDomainInterfaceAddresses` reports it.
public struct DomainInterfaceAddresses: Sendable, Hashable {
    public var name: String
    public var hwaddr: String?
    public var addrs: [DomainIPAddress]

    public init(name: String, hwaddr: String?, addrs: [DomainIPAddress]) {
        self.name = name
        self.hwaddr = hwaddr
        self.addrs = addrs
    }
}

/// `virDomainInterfaceAddressesSource`.
public enum DomainInterfaceAddressSource: UInt32, Sendable {
    case lease = 0, agent, arp
}
