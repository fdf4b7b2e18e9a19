import VirtCore

/// The network driver's procedures (libvirt-network.c), served by the connection's network driver.
extension ProcedureTable {
    static let networkRows: [ServedProcedure] = [
        .serve(RemoteCalls.connectNumOfNetworks) { _, ctx in
            let n = try ctx.networks("virConnectNumOfNetworks")
            if ctx.access != nil { return Int32(try await visibleNetworks(ctx, n, active: true).count) }
            return try await n.numOfNetworks()
        },
        .serve(RemoteCalls.connectListNetworks) { max, ctx in
            try NetworkRowChecks.listMax(max, "remote networks")
            let n = try ctx.networks("virConnectListNetworks")
            if ctx.access != nil {
                return XDRList(Array(try await visibleNetworks(ctx, n, active: true).prefix(Int(max)).map(\.name)))
            }
            return XDRList(try await n.listNetworks(max: max))
        },
        .serve(RemoteCalls.connectNumOfDefinedNetworks) { _, ctx in
            let n = try ctx.networks("virConnectNumOfDefinedNetworks")
            if ctx.access != nil { return Int32(try await visibleNetworks(ctx, n, active: false).count) }
            return try await n.numOfDefinedNetworks()
        },
        .serve(RemoteCalls.connectListDefinedNetworks) { max, ctx in
            try NetworkRowChecks.listMax(max, "remote networks")
            let n = try ctx.networks("virConnectListDefinedNetworks")
            if ctx.access != nil {
                return XDRList(Array(try await visibleNetworks(ctx, n, active: false).prefix(Int(max)).map(\.name)))
            }
            return XDRList(try await n.listDefinedNetworks(max: max))
        },
        .serve(RemoteCalls.connectListAllNetworks) { a, ctx in
            let (need, flags) = a.values
            let all = ctx.visible(try await ctx.networks("virConnectListAllNetworks").listAllNetworks(flags: flags))
            return XDRCountedList(all, needResults: need)
        },
        .serve(RemoteCalls.networkLookupByUUID) { uuid, ctx in
            try await ctx.networks("virNetworkLookupByUUID").lookupNetwork(uuid: uuid)
        },
        .serve(RemoteCalls.networkLookupByName) { name, ctx in
            try await ctx.networks("virNetworkLookupByName").lookupNetwork(name: name)
        },
        .serve(RemoteCalls.networkCreateXML) { xml, ctx in
            try await ctx.networks("virNetworkCreateXML").createNetwork(xml: xml, flags: 0)
        },
        .serve(RemoteCalls.networkCreateXMLFlags) { a, ctx in
            try await ctx.networks("virNetworkCreateXMLFlags").createNetwork(xml: a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.networkDefineXML) { xml, ctx in
            try await ctx.networks("virNetworkDefineXML").defineNetwork(xml: xml, flags: 0)
        },
        .serve(RemoteCalls.networkDefineXMLFlags) { a, ctx in
            try await ctx.networks("virNetworkDefineXMLFlags").defineNetwork(xml: a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.networkUndefine) { n, ctx in
            try await ctx.networks("virNetworkUndefine").undefineNetwork(n)
            return XDRVoid()
        },
        .serve(RemoteCalls.networkCreate) { n, ctx in
            try await ctx.networks("virNetworkCreate").startNetwork(n)
            return XDRVoid()
        },
        .serve(RemoteCalls.networkDestroy) { n, ctx in
            try await ctx.networks("virNetworkDestroy").destroyNetwork(n)
            return XDRVoid()
        },
        .serve(RemoteCalls.networkGetXMLDesc) { a, ctx in
            try await ctx.networks("virNetworkGetXMLDesc").networkXML(a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.networkGetBridgeName) { n, ctx in
            try await ctx.networks("virNetworkGetBridgeName").networkBridgeName(n)
        },
        .serve(RemoteCalls.networkGetAutostart) { n, ctx in
            try await ctx.networks("virNetworkGetAutostart").networkAutostart(n) ? 1 : 0
        },
        .serve(RemoteCalls.networkSetAutostart) { a, ctx in
            try await ctx.networks("virNetworkSetAutostart").setNetworkAutostart(a.values.0, a.values.1 != 0)
            return XDRVoid()
        },
        .serve(RemoteCalls.networkIsActive) { n, ctx in
            try await ctx.networks("virNetworkIsActive").networkIsActive(n) ? 1 : 0
        },
        .serve(RemoteCalls.networkIsPersistent) { n, ctx in
            try await ctx.networks("virNetworkIsPersistent").networkIsPersistent(n) ? 1 : 0
        },
        .serve(RemoteCalls.networkUpdate) { a, ctx in
            try await ctx.networks("virNetworkUpdate").updateNetwork(a.net, command: a.command, section: a.section,
                                                                     parentIndex: a.parentIndex, xml: a.xml,
                                                                     flags: a.flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.networkGetDHCPLeases) { a, ctx in
            let (n, mac, need, flags) = a.values
            let leases = try await ctx.networks("virNetworkGetDHCPLeases").networkDHCPLeases(n, mac: mac, flags: flags)
            return NetworkLeasesResult(leases: need != 0 ? leases : [], count: UInt32(leases.count))
        },
        .serve(RemoteCalls.networkListAllPorts) { a, ctx in
            let (net, need, flags) = a.values
            let ports = try await ctx.networks("virNetworkListAllPorts").listAllNetworkPorts(net, flags: flags)
            return XDRCountedList(ports.map { NetworkPortRef(network: net, uuid: $0) }, needResults: need)
        },
        .serve(RemoteCalls.networkPortLookupByUUID) { a, ctx in
            let (net, uuid) = a.values
            let u = try await ctx.networks("virNetworkPortLookupByUUID").lookupNetworkPort(net, uuid: uuid)
            return NetworkPortRef(network: net, uuid: u)
        },
        .serve(RemoteCalls.networkPortCreateXML) { a, ctx in
            let (net, xml, flags) = a.values
            let u = try await ctx.networks("virNetworkPortCreateXML").createNetworkPort(net, xml: xml, flags: flags)
            return NetworkPortRef(network: net, uuid: u)
        },
        .serve(RemoteCalls.networkPortGetParameters) { a, ctx in
            // nparams is not looked at: the API hands back every parameter (libvirt's clients send what they
            // have, not a maximum).
            let (port, _, flags) = a.values
            let params = try await ctx.networks("virNetworkPortGetParameters")
                .networkPortParameters(port.network, port: port.uuid, flags: flags)
            return XDRTuple2(TypedParamList(params), Int32(params.count))
        },
        .serve(RemoteCalls.networkPortSetParameters) { a, ctx in
            let (port, params, flags) = a.values
            try await ctx.networks("virNetworkPortSetParameters")
                .setNetworkPortParameters(port.network, port: port.uuid, params: params.params, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.networkPortGetXMLDesc) { a, ctx in
            let (port, flags) = a.values
            return try await ctx.networks("virNetworkPortGetXMLDesc").networkPortXML(port.network, port: port.uuid,
                                                                                     flags: flags)
        },
        .serve(RemoteCalls.networkPortDelete) { a, ctx in
            let (port, flags) = a.values
            try await ctx.networks("virNetworkPortDelete").deleteNetworkPort(port.network, port: port.uuid, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.connectNetworkEventRegisterAny) { a, ctx in
            let (eid, net) = a.values
            let networks = try ctx.networks("virConnectNetworkEventRegisterAny")
            guard eid == 0 else {
                throw VirtError(.invalidArg, domain: .network, "invalid argument: unsupported event ID \(eid)",
                                str1: "unsupported event ID \(eid)")
            }
            ctx.session.ensureNetworkEventPump(networks)
            return ctx.session.state.withLock { s -> Int32 in
                let id = s.nextCallbackID
                s.nextCallbackID += 1
                s.networkCallbacks[id] = ClientSession.Callback(eventID: eid, domain: net?.uuid)
                return id
            }
        },
        .serve(RemoteCalls.connectNetworkEventDeregisterAny) { id, ctx in
            let ok = ctx.session.state.withLock { $0.networkCallbacks.removeValue(forKey: id) != nil }
            if !ok {
                throw VirtError(.internalError, domain: .rpc, "internal error: network event callback \(id) not registered",
                                str1: "network event callback \(id) not registered")
            }
            return XDRVoid()
        },
    ]
}

/// The networks a client may getattr (libvirt's @aclfilter of the legacy listings and counts).
private func visibleNetworks(_ ctx: CallContext, _ n: any NetworkDriver, active: Bool) async throws -> [NetworkRef] {
    let flags: NetworkListFlags = active ? .active : .inactive
    return ctx.visible(try await n.listAllNetworks(flags: flags.rawValue)).sorted { $0.name < $1.name }
}

enum NetworkRowChecks {
    /// libvirtd's check of a list call's maximum (`REMOTE_NETWORK_LIST_MAX`).
    static func listMax(_ max: Int32, _ what: String) throws(VirtError) {
        guard max >= 0, Int(max) <= NetworkNameListLimit.max else {
            throw VirtError(.rpc, domain: .rpc, "RPC error : too many \(what): \(max) > \(NetworkNameListLimit.max)")
        }
    }
}

extension CallContext {
    /// The connection's network driver, or NO_SUPPORT naming `api` (libvirt's words when a connection has none).
    func networks(_ api: String) throws(VirtError) -> any NetworkDriver {
        guard let n = session.state.withLock({ $0.networks }) else { throw VirtError.noSupport(api, domain: .network) }
        return n
    }
}
