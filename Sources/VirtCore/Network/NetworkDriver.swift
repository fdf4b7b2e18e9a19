/// How a network is named across the API and the wire: libvirt's `remote_nonnull_network`.
public struct NetworkRef: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var uuid: VirtUUID

    public init(name: String, uuid: VirtUUID) {
        self.name = name
        self.uuid = uuid
    }

    public init(_ def: NetworkDefinition) { self.init(name: def.name, uuid: def.uuid) }

    public var description: String { name }
}

/// `virNetworkEventLifecycleType` with its numbers (detail is always 0).
public enum NetworkLifecycleEvent: Int32, Sendable, Hashable {
    case defined = 0, undefined, started, stopped
}

/// A network event (`VIR_NETWORK_EVENT_ID_LIFECYCLE`, the only network event of libvirt 9.0).
public struct NetworkEventRecord: Sendable, Hashable {
    public var network: NetworkRef
    public var event: NetworkLifecycleEvent
    public var detail: Int32

    public init(network: NetworkRef, event: NetworkLifecycleEvent, detail: Int32 = 0) {
        self.network = network
        self.event = event
        self.detail = detail
    }

    /// `VIR_NETWORK_EVENT_ID_LIFECYCLE`.
    public var eventID: Int32 { 0 }
}

/// `virConnectListAllNetworksFlags`.
public struct NetworkListFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let inactive = NetworkListFlags(rawValue: 1)
    public static let active = NetworkListFlags(rawValue: 2)
    public static let persistent = NetworkListFlags(rawValue: 4)
    public static let transient = NetworkListFlags(rawValue: 8)
    public static let autostart = NetworkListFlags(rawValue: 16)
    public static let noAutostart = NetworkListFlags(rawValue: 32)

    /// Whether a network in this state passes the filters (`virNetworkObjMatch`).
    public func matches(active: Bool, persistent: Bool, autostart: Bool) -> Bool {
        func group(_ a: NetworkListFlags, _ b: NetworkListFlags, _ v: Bool) -> Bool {
            if isDisjoint(with: [a, b]) { return true }
            return (contains(a) && v) || (contains(b) && !v)
        }
        return group(.active, .inactive, active) && group(.persistent, .transient, persistent)
            && group(.autostart, .noAutostart, autostart)
    }
}

/// `virNetworkUpdateFlags`: 0 is "current" (live when running, else config).
public struct NetworkUpdateFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let live = NetworkUpdateFlags(rawValue: 1)
    public static let config = NetworkUpdateFlags(rawValue: 2)
}

/// `virNetworkUpdateCommand`.
public enum NetworkUpdateCommand: UInt32, Sendable {
    case none = 0, modify, delete, addLast, addFirst
}

/// `virNetworkUpdateSection`.
public enum NetworkUpdateSection: UInt32, Sendable, CaseIterable {
    case none = 0, bridge, domain, ip, ipDHCPHost, ipDHCPRange, forward, forwardInterface, forwardPF, portgroup,
         dnsHost, dnsTxt, dnsSrv

    /// virsh's names (`net-update`'s section argument).
    public var name: String {
        ["none", "bridge", "domain", "ip", "ip-dhcp-host", "ip-dhcp-range", "forward", "forward-interface",
         "forward-pf", "portgroup", "dns-host", "dns-txt", "dns-srv"][Int(rawValue)]
    }
}

/// One DHCP lease (`virNetworkDHCPLease`).
public struct NetworkDHCPLeaseRecord: Sendable, Hashable {
    public var iface: String
    public var expiryTime: Int64
    /// `virIPAddrType`: 0 IPv4, 1 IPv6.
    public var type: Int32
    public var mac: String?
    public var iaid: String?
    public var ipaddr: String
    public var prefix: UInt32
    public var hostname: String?
    public var clientID: String?

    public init(iface: String, expiryTime: Int64, type: Int32, mac: String?, iaid: String?, ipaddr: String,
                prefix: UInt32, hostname: String?, clientID: String?) {
        self.iface = iface
        self.expiryTime = expiryTime
        self.type = type
        self.mac = mac
        self.iaid = iaid
        self.ipaddr = ipaddr
        self.prefix = prefix
        self.hostname = hostname
        self.clientID = clientID
    }
}

/// libvirt's network driver table (`virNetworkDriver`): virtual networks. A connection has one when its
/// hypervisor driver comes with one (the test driver is its own; the remote driver forwards); every operation
/// defaults to NO_SUPPORT in libvirt's words.
public protocol NetworkDriver: AnyObject, Sendable {
    func numOfNetworks() async throws -> Int32
    func listNetworks(max: Int32) async throws -> [String]
    func numOfDefinedNetworks() async throws -> Int32
    func listDefinedNetworks(max: Int32) async throws -> [String]
    func listAllNetworks(flags: UInt32) async throws -> [NetworkRef]
    func lookupNetwork(uuid: VirtUUID) async throws -> NetworkRef
    func lookupNetwork(name: String) async throws -> NetworkRef
    /// `virNetworkCreateXMLFlags`: a transient, running network.
    func createNetwork(xml: String, flags: UInt32) async throws -> NetworkRef
    /// `virNetworkDefineXMLFlags`: a persistent definition (new or replacing).
    func defineNetwork(xml: String, flags: UInt32) async throws -> NetworkRef
    func undefineNetwork(_ net: NetworkRef) async throws
    /// `virNetworkCreate`: starts a defined network.
    func startNetwork(_ net: NetworkRef) async throws
    func destroyNetwork(_ net: NetworkRef) async throws
    func networkXML(_ net: NetworkRef, flags: UInt32) async throws -> String
    func networkBridgeName(_ net: NetworkRef) async throws -> String
    func networkAutostart(_ net: NetworkRef) async throws -> Bool
    func setNetworkAutostart(_ net: NetworkRef, _ enabled: Bool) async throws
    func networkIsActive(_ net: NetworkRef) async throws -> Bool
    func networkIsPersistent(_ net: NetworkRef) async throws -> Bool
    /// `virNetworkUpdate`: command and section as libvirt's numbers.
    func updateNetwork(_ net: NetworkRef, command: UInt32, section: UInt32, parentIndex: Int32, xml: String,
                       flags: UInt32) async throws
    func networkDHCPLeases(_ net: NetworkRef, mac: String?, flags: UInt32) async throws -> [NetworkDHCPLeaseRecord]
    /// Network ports (`virNetworkListAllPorts`, `virNetworkPortLookupByUUID`, `virNetworkPortCreateXML`,
    /// `virNetworkPortGetXMLDesc`, `virNetworkPortGet/SetParameters`, `virNetworkPortDelete`): the daemon's
    /// network driver has them (libvirt 9.0's test driver has none).
    func listAllNetworkPorts(_ net: NetworkRef, flags: UInt32) async throws -> [VirtUUID]
    func lookupNetworkPort(_ net: NetworkRef, uuid: VirtUUID) async throws -> VirtUUID
    func createNetworkPort(_ net: NetworkRef, xml: String, flags: UInt32) async throws -> VirtUUID
    func networkPortXML(_ net: NetworkRef, port: VirtUUID, flags: UInt32) async throws -> String
    func networkPortParameters(_ net: NetworkRef, port: VirtUUID, flags: UInt32) async throws -> [TypedParam]
    func setNetworkPortParameters(_ net: NetworkRef, port: VirtUUID, params: [TypedParam], flags: UInt32) async throws
    func deleteNetworkPort(_ net: NetworkRef, port: VirtUUID, flags: UInt32) async throws
    /// Every network event from now on.
    func networkEvents() -> AsyncStream<NetworkEventRecord>
    /// Makes sure events reach ``networkEvents()`` (a remote driver asks its daemon; a local one has nothing to do).
    func registerNetworkEvents() async throws
}

extension NetworkDriver {
    public func numOfNetworks() async throws -> Int32 { throw VirtError.noSupport("virConnectNumOfNetworks", domain: .network) }
    public func listNetworks(max: Int32) async throws -> [String] { throw VirtError.noSupport("virConnectListNetworks", domain: .network) }
    public func numOfDefinedNetworks() async throws -> Int32 {
        throw VirtError.noSupport("virConnectNumOfDefinedNetworks", domain: .network)
    }
    public func listDefinedNetworks(max: Int32) async throws -> [String] {
        throw VirtError.noSupport("virConnectListDefinedNetworks", domain: .network)
    }
    public func listAllNetworks(flags: UInt32) async throws -> [NetworkRef] {
        throw VirtError.noSupport("virConnectListAllNetworks", domain: .network)
    }
    public func lookupNetwork(uuid: VirtUUID) async throws -> NetworkRef {
        throw VirtError.noSupport("virNetworkLookupByUUID", domain: .network)
    }
    public func lookupNetwork(name: String) async throws -> NetworkRef {
        throw VirtError.noSupport("virNetworkLookupByName", domain: .network)
    }
    public func createNetwork(xml: String, flags: UInt32) async throws -> NetworkRef {
        throw VirtError.noSupport(flags == 0 ? "virNetworkCreateXML" : "virNetworkCreateXMLFlags", domain: .network)
    }
    public func defineNetwork(xml: String, flags: UInt32) async throws -> NetworkRef {
        throw VirtError.noSupport(flags == 0 ? "virNetworkDefineXML" : "virNetworkDefineXMLFlags", domain: .network)
    }
    public func undefineNetwork(_ net: NetworkRef) async throws { throw VirtError.noSupport("virNetworkUndefine", domain: .network) }
    public func startNetwork(_ net: NetworkRef) async throws { throw VirtError.noSupport("virNetworkCreate", domain: .network) }
    public func destroyNetwork(_ net: NetworkRef) async throws { throw VirtError.noSupport("virNetworkDestroy", domain: .network) }
    public func networkXML(_ net: NetworkRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virNetworkGetXMLDesc", domain: .network)
    }
    public func networkBridgeName(_ net: NetworkRef) async throws -> String {
        throw VirtError.noSupport("virNetworkGetBridgeName", domain: .network)
    }
    public func networkAutostart(_ net: NetworkRef) async throws -> Bool {
        throw VirtError.noSupport("virNetworkGetAutostart", domain: .network)
    }
    public func setNetworkAutostart(_ net: NetworkRef, _ enabled: Bool) async throws {
        throw VirtError.noSupport("virNetworkSetAutostart", domain: .network)
    }
    public func networkIsActive(_ net: NetworkRef) async throws -> Bool {
        throw VirtError.noSupport("virNetworkIsActive", domain: .network)
    }
    public func networkIsPersistent(_ net: NetworkRef) async throws -> Bool {
        throw VirtError.noSupport("virNetworkIsPersistent", domain: .network)
    }
    public func updateNetwork(_ net: NetworkRef, command: UInt32, section: UInt32, parentIndex: Int32, xml: String,
                              flags: UInt32) async throws {
        throw VirtError.noSupport("virNetworkUpdate", domain: .network)
    }
    public func networkDHCPLeases(_ net: NetworkRef, mac: String?, flags: UInt32) async throws
        -> [NetworkDHCPLeaseRecord] {
        throw VirtError.noSupport("virNetworkGetDHCPLeases", domain: .network)
    }
    public func listAllNetworkPorts(_ net: NetworkRef, flags: UInt32) async throws -> [VirtUUID] {
        throw VirtError.noSupport("virNetworkListAllPorts", domain: .network)
    }
    public func lookupNetworkPort(_ net: NetworkRef, uuid: VirtUUID) async throws -> VirtUUID {
        throw VirtError.noSupport("virNetworkPortLookupByUUID", domain: .network)
    }
    public func createNetworkPort(_ net: NetworkRef, xml: String, flags: UInt32) async throws -> VirtUUID {
        throw VirtError.noSupport("virNetworkPortCreateXML", domain: .network)
    }
    public func networkPortXML(_ net: NetworkRef, port: VirtUUID, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virNetworkPortGetXMLDesc", domain: .network)
    }
    public func networkPortParameters(_ net: NetworkRef, port: VirtUUID, flags: UInt32) async throws -> [TypedParam] {
        throw VirtError.noSupport("virNetworkPortGetParameters", domain: .network)
    }
    public func setNetworkPortParameters(_ net: NetworkRef, port: VirtUUID, params: [TypedParam],
                                         flags: UInt32) async throws {
        throw VirtError.noSupport("virNetworkPortSetParameters", domain: .network)
    }
    public func deleteNetworkPort(_ net: NetworkRef, port: VirtUUID, flags: UInt32) async throws {
        throw VirtError.noSupport("virNetworkPortDelete", domain: .network)
    }
    public func networkEvents() -> AsyncStream<NetworkEventRecord> { AsyncStream { $0.finish() } }
    public func registerNetworkEvents() async throws {}
}

/// libvirt's errors for network lookups.
public enum NetworkErrors {
    public static func noNetwork(name: String, domain: VirtError.ErrorDomain = .test) -> VirtError {
        let d = "no network with matching name '\(name)'"
        return VirtError(.noNetwork, domain: domain, "Network not found: \(d)", str1: d)
    }

    public static func noNetwork(uuid: VirtUUID, domain: VirtError.ErrorDomain = .test) -> VirtError {
        let d = "no network with matching uuid '\(uuid)'"
        return VirtError(.noNetwork, domain: domain, "Network not found: \(d)", str1: d)
    }
}
