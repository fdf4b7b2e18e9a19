/// A handle on one virtual network of a connection, as libvirt's `virNetworkPtr`.
public struct Network: Sendable, Hashable {
    public let connection: Connection
    public let ref: NetworkRef

    public init(connection: Connection, ref: NetworkRef) {
        self.connection = connection
        self.ref = ref
    }

    public static func == (a: Network, b: Network) -> Bool { a.connection === b.connection && a.ref == b.ref }
    public func hash(into h: inout Hasher) { h.combine(ref) }

    public var name: String { ref.name }
    public var uuid: VirtUUID { ref.uuid }

    private func driver(_ api: String) throws -> any NetworkDriver { try connection.networkDriver(api) }

    private func modifying(_ api: String) throws -> any NetworkDriver {
        if connection.isReadOnly { throw ReadOnlyDriver.denied(api) }
        return try driver(api)
    }

    /// The definition's XML (`virNetworkGetXMLDesc`).
    public func xmlDesc(flags: UInt32 = 0) async throws -> String {
        try await driver("virNetworkGetXMLDesc").networkXML(ref, flags: flags)
    }

    public func bridgeName() async throws -> String {
        try await driver("virNetworkGetBridgeName").networkBridgeName(ref)
    }

    public func autostart() async throws -> Bool { try await driver("virNetworkGetAutostart").networkAutostart(ref) }

    public func setAutostart(_ enabled: Bool) async throws {
        try await modifying("virNetworkSetAutostart").setNetworkAutostart(ref, enabled)
    }

    public func isActive() async throws -> Bool { try await driver("virNetworkIsActive").networkIsActive(ref) }

    public func isPersistent() async throws -> Bool {
        try await driver("virNetworkIsPersistent").networkIsPersistent(ref)
    }

    /// Starts the defined network (`virNetworkCreate`).
    public func start() async throws { try await modifying("virNetworkCreate").startNetwork(ref) }

    public func destroy() async throws { try await modifying("virNetworkDestroy").destroyNetwork(ref) }

    public func undefine() async throws { try await modifying("virNetworkUndefine").undefineNetwork(ref) }

    /// Changes one section of the definition (`virNetworkUpdate`).
    public func update(command: NetworkUpdateCommand, section: NetworkUpdateSection, parentIndex: Int32 = -1,
                       xml: String, flags: NetworkUpdateFlags = []) async throws {
        try await modifying("virNetworkUpdate").updateNetwork(ref, command: command.rawValue, section: section.rawValue,
                                                              parentIndex: parentIndex, xml: xml, flags: flags.rawValue)
    }

    /// The UUIDs of the network's ports (`virNetworkListAllPorts`).
    public func listAllPorts(flags: UInt32 = 0) async throws -> [VirtUUID] {
        try await driver("virNetworkListAllPorts").listAllNetworkPorts(ref, flags: flags)
    }

    public func lookupPort(uuid: VirtUUID) async throws -> VirtUUID {
        try await driver("virNetworkPortLookupByUUID").lookupNetworkPort(ref, uuid: uuid)
    }

    public func createPort(xml: String, flags: UInt32 = 0) async throws -> VirtUUID {
        try await modifying("virNetworkPortCreateXML").createNetworkPort(ref, xml: xml, flags: flags)
    }

    /// A port's XML (`virNetworkPortGetXMLDesc`).
    public func portXMLDesc(uuid: VirtUUID, flags: UInt32 = 0) async throws -> String {
        try await driver("virNetworkPortGetXMLDesc").networkPortXML(ref, port: uuid, flags: flags)
    }

    /// A port's bandwidth settings (`virNetworkPortGetParameters`).
    public func portParameters(uuid: VirtUUID, flags: UInt32 = 0) async throws -> [TypedParam] {
        try await driver("virNetworkPortGetParameters").networkPortParameters(ref, port: uuid, flags: flags)
    }

    public func setPortParameters(uuid: VirtUUID, params: [TypedParam], flags: UInt32 = 0) async throws {
        try await modifying("virNetworkPortSetParameters").setNetworkPortParameters(ref, port: uuid, params: params,
                                                                                   flags: flags)
    }

    /// Deletes a port (`virNetworkPortDelete`).
    public func deletePort(uuid: VirtUUID, flags: UInt32 = 0) async throws {
        try await modifying("virNetworkPortDelete").deleteNetworkPort(ref, port: uuid, flags: flags)
    }

    /// The DHCP leases, of one MAC address when given (`virNetworkGetDHCPLeases`).
    public func dhcpLeases(mac: String? = nil, flags: UInt32 = 0) async throws -> [NetworkDHCPLeaseRecord] {
        try await driver("virNetworkGetDHCPLeases").networkDHCPLeases(ref, mac: mac, flags: flags)
    }
}

extension Connection {
    /// This connection's network driver (read-only local connections use the wrapped driver's), or NO_SUPPORT
    /// naming `api`.
    func networkDriver(_ api: String) throws -> any NetworkDriver {
        let d = (driver as? ReadOnlyDriver)?.base ?? driver
        guard let n = d as? any NetworkDriver else { throw VirtError.noSupport(api, domain: .network) }
        return n
    }

    public func numOfNetworks() async throws -> Int32 { try await networkDriver("virConnectNumOfNetworks").numOfNetworks() }

    /// Names of at most `max` active networks (`virConnectListNetworks`).
    public func listNetworks(max: Int32 = 16384) async throws -> [String] {
        try await networkDriver("virConnectListNetworks").listNetworks(max: max)
    }

    public func numOfDefinedNetworks() async throws -> Int32 {
        try await networkDriver("virConnectNumOfDefinedNetworks").numOfDefinedNetworks()
    }

    public func listDefinedNetworks(max: Int32 = 16384) async throws -> [String] {
        try await networkDriver("virConnectListDefinedNetworks").listDefinedNetworks(max: max)
    }

    /// Every network passing `flags` (`virConnectListAllNetworks`).
    public func listAllNetworks(flags: NetworkListFlags = []) async throws -> [Network] {
        try await networkDriver("virConnectListAllNetworks").listAllNetworks(flags: flags.rawValue)
            .map { Network(connection: self, ref: $0) }
    }

    public func lookupNetwork(name: String) async throws -> Network {
        Network(connection: self, ref: try await networkDriver("virNetworkLookupByName").lookupNetwork(name: name))
    }

    public func lookupNetwork(uuid: VirtUUID) async throws -> Network {
        Network(connection: self, ref: try await networkDriver("virNetworkLookupByUUID").lookupNetwork(uuid: uuid))
    }

    /// The network of a UUID string, with libvirt's error for a malformed one.
    public func lookupNetwork(uuidString: String) async throws -> Network {
        guard let u = VirtUUID(string: uuidString) else {
            throw VirtError(.invalidArg, domain: .network, "uuidstr in virNetworkLookupByUUIDString must be a valid UUID")
        }
        return try await lookupNetwork(uuid: u)
    }

    /// Creates and starts a transient network (`virNetworkCreateXMLFlags`).
    public func createNetwork(xml: String, flags: UInt32 = 0) async throws -> Network {
        if isReadOnly { throw ReadOnlyDriver.denied(flags == 0 ? "virNetworkCreateXML" : "virNetworkCreateXMLFlags") }
        return Network(connection: self, ref: try await networkDriver("virNetworkCreateXML").createNetwork(xml: xml, flags: flags))
    }

    /// Defines (or redefines) a persistent network (`virNetworkDefineXMLFlags`).
    public func defineNetwork(xml: String, flags: UInt32 = 0) async throws -> Network {
        if isReadOnly { throw ReadOnlyDriver.denied(flags == 0 ? "virNetworkDefineXML" : "virNetworkDefineXMLFlags") }
        return Network(connection: self, ref: try await networkDriver("virNetworkDefineXML").defineNetwork(xml: xml, flags: flags))
    }

    /// Network events from now on (`virConnectNetworkEventRegisterAny`, lifecycle).
    public func networkEvents() async throws -> AsyncStream<NetworkEventRecord> {
        let n = try networkDriver("virConnectNetworkEventRegisterAny")
        let stream = n.networkEvents()
        try await n.registerNetworkEvents()
        return stream
    }
}
