import VirtCore

/// The remote driver is also the connection's network driver: every call goes to the daemon.
extension RemoteDriver: NetworkDriver {
    public func numOfNetworks() async throws -> Int32 { try await call(RemoteCalls.connectNumOfNetworks) }
    public func listNetworks(max: Int32) async throws -> [String] {
        try await call(RemoteCalls.connectListNetworks, max).items
    }
    public func numOfDefinedNetworks() async throws -> Int32 { try await call(RemoteCalls.connectNumOfDefinedNetworks) }
    public func listDefinedNetworks(max: Int32) async throws -> [String] {
        try await call(RemoteCalls.connectListDefinedNetworks, max).items
    }
    public func listAllNetworks(flags: UInt32) async throws -> [NetworkRef] {
        try await call(RemoteCalls.connectListAllNetworks, XDRTuple2(1, flags)).items
    }
    public func lookupNetwork(uuid: VirtUUID) async throws -> NetworkRef {
        try await call(RemoteCalls.networkLookupByUUID, uuid)
    }
    public func lookupNetwork(name: String) async throws -> NetworkRef {
        try await call(RemoteCalls.networkLookupByName, name)
    }
    public func createNetwork(xml: String, flags: UInt32) async throws -> NetworkRef {
        if flags == 0 { return try await call(RemoteCalls.networkCreateXML, xml) }
        return try await call(RemoteCalls.networkCreateXMLFlags, XDRTuple2(xml, flags))
    }
    public func defineNetwork(xml: String, flags: UInt32) async throws -> NetworkRef {
        if flags == 0 { return try await call(RemoteCalls.networkDefineXML, xml) }
        return try await call(RemoteCalls.networkDefineXMLFlags, XDRTuple2(xml, flags))
    }
    public func undefineNetwork(_ net: NetworkRef) async throws { _ = try await call(RemoteCalls.networkUndefine, net) }
    public func startNetwork(_ net: NetworkRef) async throws { _ = try await call(RemoteCalls.networkCreate, net) }
    public func destroyNetwork(_ net: NetworkRef) async throws { _ = try await call(RemoteCalls.networkDestroy, net) }
    public func networkXML(_ net: NetworkRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.networkGetXMLDesc, XDRTuple2(net, flags))
    }
    public func networkBridgeName(_ net: NetworkRef) async throws -> String {
        try await call(RemoteCalls.networkGetBridgeName, net)
    }
    public func networkAutostart(_ net: NetworkRef) async throws -> Bool {
        try await call(RemoteCalls.networkGetAutostart, net) != 0
    }
    public func setNetworkAutostart(_ net: NetworkRef, _ enabled: Bool) async throws {
        _ = try await call(RemoteCalls.networkSetAutostart, XDRTuple2(net, enabled ? 1 : 0))
    }
    public func networkIsActive(_ net: NetworkRef) async throws -> Bool {
        try await call(RemoteCalls.networkIsActive, net) != 0
    }
    public func networkIsPersistent(_ net: NetworkRef) async throws -> Bool {
        try await call(RemoteCalls.networkIsPersistent, net) != 0
    }
    public func updateNetwork(_ net: NetworkRef, command: UInt32, section: UInt32, parentIndex: Int32, xml: String,
                              flags: UInt32) async throws {
        _ = try await call(RemoteCalls.networkUpdate, NetworkUpdateArgs(net: net, command: command, section: section,
                                                                         parentIndex: parentIndex, xml: xml, flags: flags))
    }
    public func networkDHCPLeases(_ net: NetworkRef, mac: String?, flags: UInt32) async throws -> [NetworkDHCPLeaseRecord] {
        try await call(RemoteCalls.networkGetDHCPLeases, XDRTuple4(net, mac, 1, flags)).leases
    }

    /// Network events; the daemon is asked for them by ``registerNetworkEvents()``.
    public func networkEvents() -> AsyncStream<NetworkEventRecord> { networkBus.subscribe() }

    /// Registers a lifecycle callback with the daemon, once per connection.
    public func registerNetworkEvents() async throws {
        try await registerOnce(networkEventsRegistered) {
            _ = try await call(RemoteCalls.connectNetworkEventRegisterAny, XDRTuple2(Int32(0), NetworkRef?.none))
        }
    }
}
