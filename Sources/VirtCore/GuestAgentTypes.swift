/// What the guest agent APIs return (libvirt's `virDomainInterface`, `virDomainIPAddress`, `virDomainFSInfo`).

/// One address of a guest interface: `type` 0 is IPv4, 1 IPv6 (`virIPAddrType`).
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

/// A guest network interface and its addresses (`virDomainInterfaceAddresses`).
public struct DomainInterface: Sendable, Hashable {
    public var name: String
    public var hwaddr: String?
    public var addrs: [DomainIPAddress]

    public init(name: String, hwaddr: String?, addrs: [DomainIPAddress]) {
        self.name = name
        self.hwaddr = hwaddr
        self.addrs = addrs
    }
}

/// A mounted guest file system (`virDomainGetFSInfo`): `devAliases` are the target names of the domain's
/// disks it lives on.
public struct DomainFSInfo: Sendable, Hashable {
    public var mountpoint: String
    public var name: String
    public var fstype: String
    public var devAliases: [String]

    public init(mountpoint: String, name: String, fstype: String, devAliases: [String]) {
        self.mountpoint = mountpoint
        self.name = name
        self.fstype = fstype
        self.devAliases = devAliases
    }
}

/// `virDomainInterfaceAddressesSource`.
public enum InterfaceAddressSource {
    public static let lease: UInt32 = 0
    public static let agent: UInt32 = 1
    public static let arp: UInt32 = 2
}

/// `virDomainGuestInfoTypes`.
public enum GuestInfoTypes {
    public static let users: UInt32 = 1 << 0
    public static let os: UInt32 = 1 << 1
    public static let timezone: UInt32 = 1 << 2
    public static let hostname: UInt32 = 1 << 3
    public static let filesystem: UInt32 = 1 << 4
    public static let disks: UInt32 = 1 << 5
    public static let interfaces: UInt32 = 1 << 6
    public static let all: UInt32 = (1 << 7) - 1
}
