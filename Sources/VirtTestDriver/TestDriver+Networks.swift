import VirtCore

/// The test driver is its own network driver, as libvirt's (test:///default has the active network "default").
extension TestDriver: NetworkDriver {
    public func numOfNetworks() async throws -> Int32 { Int32(state.networks.names(active: true).count) }
    public func listNetworks(max: Int32) async throws -> [String] {
        Array(state.networks.names(active: true).prefix(Int(Swift.max(0, max))))
    }
    public func numOfDefinedNetworks() async throws -> Int32 { Int32(state.networks.names(active: false).count) }
    public func listDefinedNetworks(max: Int32) async throws -> [String] {
        Array(state.networks.names(active: false).prefix(Int(Swift.max(0, max))))
    }
    public func listAllNetworks(flags: UInt32) async throws -> [NetworkRef] { try state.networks.listAll(flags: flags) }
    public func lookupNetwork(uuid: VirtUUID) async throws -> NetworkRef { try state.networks.lookup(uuid: uuid) }
    public func lookupNetwork(name: String) async throws -> NetworkRef { try state.networks.lookup(name: name) }
    public func createNetwork(xml: String, flags: UInt32) async throws -> NetworkRef {
        try state.networks.create(xml: xml, flags: flags)
    }
    public func defineNetwork(xml: String, flags: UInt32) async throws -> NetworkRef {
        try state.networks.define(xml: xml, flags: flags)
    }
    public func undefineNetwork(_ net: NetworkRef) async throws { try state.networks.undefine(net) }
    public func startNetwork(_ net: NetworkRef) async throws { try state.networks.start(net) }
    public func destroyNetwork(_ net: NetworkRef) async throws { try state.networks.destroy(net) }
    public func networkXML(_ net: NetworkRef, flags: UInt32) async throws -> String {
        try state.networks.xml(net, flags: flags)
    }
    public func networkBridgeName(_ net: NetworkRef) async throws -> String { try state.networks.bridgeName(net) }
    public func networkAutostart(_ net: NetworkRef) async throws -> Bool { try state.networks.object(net).autostart }
    public func setNetworkAutostart(_ net: NetworkRef, _ enabled: Bool) async throws {
        try state.networks.setAutostart(net, enabled)
    }
    public func networkIsActive(_ net: NetworkRef) async throws -> Bool { try state.networks.object(net).active }
    public func networkIsPersistent(_ net: NetworkRef) async throws -> Bool {
        try state.networks.object(net).persistent
    }
    public func updateNetwork(_ net: NetworkRef, command: UInt32, section: UInt32, parentIndex: Int32, xml: String,
                              flags: UInt32) async throws {
        try state.networks.update(net, command: command, section: section, parentIndex: parentIndex, xml: xml,
                                  flags: flags)
    }
    // virNetworkGetDHCPLeases: libvirt 9.0's test driver has none, so the NO_SUPPORT default stays.

    public func networkEvents() -> AsyncStream<NetworkEventRecord> { networkBus.subscribe() }
}
