import VirtCore

/// One network port a running domain holds: the network (by name) and the port's UUID (the live XML's
/// `<source portid>`).
struct HeldNetworkPort: Sendable, Hashable {
    var network: String
    var port: VirtUUID
}

/// Network ports of `<interface type='network'>` (libvirt's `virDomainNetAllocateActualDevice` and
/// `virDomainNetReleaseActualDevice`): at start and at a NIC's hot-plug the network driver creates a port owned by
/// the domain (the portid the NIC names, else a new one) and answers the bridge to plug the tap into; the port is
/// deleted when the domain stops or the NIC is unplugged. The live XML shows `portid` and `bridge`.
extension QEMUDomainObject {
    func setNetworkPortDriver(_ n: any NetworkDriver) { networkPortDriver = n }

    private static func asVirtError(_ error: any Error) -> VirtError {
        (error as? VirtError) ?? VirtError.internalError("\(error)", domain: .qemu)
    }

    /// The port XML of one interface (`virDomainNetDefToNetworkPort`): owner, MAC, portgroup and the
    /// interface's bandwidth, VLAN and virtualport; no plug (the network driver allocates it).
    static func portXML(_ n: NetInterface, owner: DomainDefinition, port: VirtUUID) -> String {
        var p = NetworkPortDefinition(uuid: port, ownerName: owner.name, ownerUUID: owner.uuid, mac: n.mac)
        p.group = n.source["portgroup"]
        p.virtualPort = n.extra.first { $0.name == "virtualport" }
        p.bandwidth = n.extra.first { $0.name == "bandwidth" }
        p.vlan = n.extra.first { $0.name == "vlan" }
        return p.xml()
    }

    /// Creates the port of one network interface; returns the port and the bridge to plug into.
    func allocateNetworkPort(_ n: NetInterface, owner: DomainDefinition) async throws(VirtError)
        -> (port: VirtUUID, bridge: String) {
        guard let networks = networkPortDriver else {
            throw VirtError(.noSupport, domain: .qemu,
                            "this function is not supported by the connection driver: virNetworkLookupByName")
        }
        let name = n.network ?? ""
        let want = n.source["portid"].flatMap { VirtUUID(string: $0) } ?? VirtUUID.random()
        do {
            let net = try await networks.lookupNetwork(name: name)
            let port = try await networks.createNetworkPort(net, xml: Self.portXML(n, owner: owner, port: want),
                                                            flags: 0)
            let xml = try await networks.networkPortXML(net, port: port, flags: 0)
            let def = try NetworkPortDefinition(xml: xml)
            // The port's bandwidth is the one the tap gets (libvirt's actual bandwidth: the interface's own, else
            // its portgroup's).
            actualBandwidths[n.mac] = def.bandwidth.map { NetBandwidth($0) }
            guard let bridge = def.plugBridge else {
                try? await networks.deleteNetworkPort(net, port: port, flags: 0)
                throw VirtError.internalError("network '\(name)' has no bridge for this domain", domain: .qemu)
            }
            networkPorts.append(HeldNetworkPort(network: name, port: port))
            return (port, bridge)
        } catch {
            throw Self.asVirtError(error)
        }
    }

    /// Ports for every network interface of `def` (the definition about to start), by interface index; on
    /// failure the ports made so far are deleted again.
    func allocateNetworkPorts(_ def: DomainDefinition) async throws(VirtError) {
        pendingPortIDs = [:]
        actualBandwidths = [:]
        for (i, n) in def.devices.interfaces.enumerated() where n.type == .network {
            do {
                let (port, bridge) = try await allocateNetworkPort(n, owner: def)
                pendingPortIDs[i] = port
                resolvedNetworkBridges[n.network ?? ""] = bridge
            } catch {
                await releaseNetworkPorts()
                // The failed start's virDomainClearNetBandwidth: interfaces named in the definition.
                clearNetBandwidth(def.devices.interfaces)
                throw error
            }
        }
    }

    /// Deletes one held port (a NIC unplugged).
    func releaseNetworkPort(_ port: VirtUUID) async {
        guard let i = networkPorts.firstIndex(where: { $0.port == port }) else { return }
        let held = networkPorts.remove(at: i)
        await Self.delete(held, networkPortDriver)
    }

    /// Deletes every port the domain holds (it stopped, or its start failed).
    func releaseNetworkPorts() async {
        let held = networkPorts
        networkPorts = []
        pendingPortIDs = [:]
        for h in held { await Self.delete(h, networkPortDriver) }
    }

    private static func delete(_ h: HeldNetworkPort, _ networks: (any NetworkDriver)?) async {
        guard let networks, let net = try? await networks.lookupNetwork(name: h.network) else { return }
        try? await networks.deleteNetworkPort(net, port: h.port, flags: 0)
    }

    /// The ports a running domain's live XML names (a domain taken over after a restart).
    func adoptNetworkPorts() {
        guard let live = liveDefinition else { return }
        networkPorts = live.devices.interfaces.compactMap { n in
            guard n.type == .network, let name = n.network, let p = n.source["portid"].flatMap({ VirtUUID(string: $0) })
            else { return nil }
            return HeldNetworkPort(network: name, port: p)
        }
    }

    /// After a daemon restart, once the network driver is known (libvirt's `virDomainNetNotifyActualDevice`):
    /// each port the running domain holds is checked, and taken back (RECLAIM, plugged into the bridge the live
    /// XML names) when the network driver has lost it.
    func notifyNetworkPorts() async {
        guard let networks = networkPortDriver, isActive, let live = liveDefinition else { return }
        for n in live.devices.interfaces where n.type == .network {
            guard let name = n.network, let p = n.source["portid"].flatMap({ VirtUUID(string: $0) }),
                  let net = try? await networks.lookupNetwork(name: name) else { continue }
            if (try? await networks.lookupNetworkPort(net, uuid: p)) != nil {
                // Its bandwidth is the interface's actual one again (a portgroup's, say).
                if let xml = try? await networks.networkPortXML(net, port: p, flags: 0),
                   let port = try? NetworkPortDefinition(xml: xml) {
                    actualBandwidths[n.mac] = port.bandwidth.map { NetBandwidth($0) }
                }
                continue
            }
            var def = NetworkPortDefinition(uuid: p, ownerName: live.name, ownerUUID: live.uuid, mac: n.mac)
            if let xml = try? NetworkPortDefinition(xml: Self.portXML(n, owner: live, port: p)) { def = xml }
            def.plugType = .network
            def.plugAttributes = [("bridge", n.bridge ?? "")]
            _ = try? await networks.createNetworkPort(net, xml: def.xml(), flags: 1)
        }
    }

    /// The ports this domain holds, for the driver's clean-up of ports left by domains that stopped while no
    /// daemon ran.
    var heldNetworkPorts: [HeldNetworkPort] { isActive ? networkPorts : [] }
}
