import VirtCore

/// `virDomainSetInterfaceParameters` / `virDomainGetInterfaceParameters` (virsh's `domiftune`): an
/// interface's `<bandwidth>`, live (re-applied on its tap with tc, and on its network port) and in the
/// persistent definition, as libvirt 9.0's qemuDomainSetInterfaceParameters does it.
extension QEMUDomainObject {
    /// The seven bandwidth parameters of one interface of the live or the persistent definition.
    func interfaceParameters(device: String, flags: UInt32) throws(VirtError) -> [TypedParam] {
        let (def, _) = try checkedOneDefinition(flags)
        let i = try def.interfaceIndex(device)
        return (def.devices.interfaces[i].bandwidth ?? NetBandwidth()).parameters
    }

    /// `virDomainObjGetOneDef` as qemuDomainGetInterfaceParameters reaches it: both flags are refused with
    /// virReportInvalidArg's words (no "invalid argument: " prefix).
    func checkedOneDefinition(_ flags: UInt32) throws(VirtError)
        -> (def: DomainDefinition, live: Bool) {
        if flags & 3 == 3 {
            throw VirtError(.invalidArg, domain: .domain,
                            "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive")
        }
        return try oneDefinition(flags)
    }

    /// `virDomainClearNetBandwidth` at stop: the qdiscs of every tap that had a bandwidth removed.
    func clearNetBandwidth(_ def: DomainDefinition?) {
        clearNetBandwidth(def?.devices.interfaces ?? [])
    }

    /// `virDomainNetGetActualBandwidth`: a network interface's port's bandwidth, else the interface's own.
    func actualBandwidth(_ n: NetInterface) -> NetBandwidth? {
        n.type == .network ? (actualBandwidths[n.mac] ?? n.bandwidth) : n.bandwidth
    }

    func clearNetBandwidth(_ interfaces: [NetInterface]) {
        for n in interfaces where actualBandwidth(n) != nil && Self.supportsBandwidth(n.type) {
            if let t = n.targetDev { NetDevBandwidth.clear(t) }
        }
    }

    /// Whether libvirt shapes interfaces of this type (`virNetDevSupportsBandwidth`).
    static func supportsBandwidth(_ t: InterfaceType) -> Bool {
        [.bridge, .network, .direct, .ethernet].contains(t)
    }

    func setInterfaceParameters(device: String, params: [TypedParam], flags: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "setInterfaceParameters")
        defer { endJob() }
        let t = try targets(flags)
        var live = t.live ? liveDefinition : nil
        var persistent = definition
        let liveIndex: Int? = try live.map { (d: DomainDefinition) throws(VirtError) -> Int in
            try d.interfaceIndex(device)
        }
        let configIndex: Int? = t.config ? try persistent.interfaceIndex(device) : nil
        for (d, i) in [(live, liveIndex), (t.config ? persistent : nil, configIndex)] {
            guard let d, let i else { continue }
            let type = d.devices.interfaces[i].type
            if !Self.supportsBandwidth(type) {
                throw VirtError(.operationUnsupported, domain: .qemu,
                                "Operation not supported: setting bandwidth on interfaces of type '\(type.rawValue)' is not implemented yet")
            }
        }
        let (inbound, outbound, inboundSpecified, outboundSpecified) = NetBandwidth.given(params)

        if var l = live, let i = liveIndex {
            let net = l.devices.interfaces[i]
            let old = net.bandwidth
            let oldActual = actualBandwidth(net)
            // The directions not given keep their old values (tc replaces everything).
            var new = NetBandwidth()
            new.inbound = inbound ?? (inboundSpecified ? nil : old?.inbound)
            new.outbound = outbound ?? (outboundSpecified ? nil : old?.outbound)
            if net.type != .network, (oldActual?.inbound?.floor ?? 0) != 0 || (new.inbound?.floor ?? 0) != 0 {
                throw VirtError.operationUnsupported(
                    "Invalid use of 'floor' on interface with MAC address \(net.mac) - 'floor' is only supported for interface type 'network' with forward type 'nat', 'route', 'open' or none",
                    domain: .domain)
            }
            guard let ifname = net.targetDev else {
                throw VirtError(.operationUnsupported, domain: .none,
                                "Operation not supported: Unable to set bandwidth for interface because device name is unknown")
            }
            // The network port first (its floor class on the bridge, libvirt's overcommit checks), then the tap.
            try await updatePortBandwidth(net, new)
            do throws(VirtError) {
                try NetDevBandwidth.set(ifname, new, hierarchical: false, swapped: true)
            } catch {
                try? NetDevBandwidth.set(ifname, old, hierarchical: false, swapped: true)
                try? await updatePortBandwidth(net, old ?? NetBandwidth())
                throw error
            }
            if net.type == .network { actualBandwidths[net.mac] = new.inbound == nil && new.outbound == nil ? nil : new }
            // Without inbound shaping the tap gets its noqueue root qdisc back.
            if (new.inbound?.average ?? 0) == 0 { NetDevBandwidth.setNoQueue(ifname) }
            l.devices.interfaces[i].bandwidth = new.inbound == nil && new.outbound == nil ? nil : new
            live = l
            liveDefinition = l
            writeStatus()
        }
        if let i = configIndex {
            persistent.devices.interfaces[i].bandwidth =
                (persistent.devices.interfaces[i].bandwidth ?? NetBandwidth()).merging(params)
            definition = persistent
            try saveConfig()
        }
    }

    /// libvirt's `virDomainNetBandwidthUpdate`: a network interface's port takes the new bandwidth
    /// (`virNetworkPortSetParameters`).
    private func updatePortBandwidth(_ n: NetInterface, _ bw: NetBandwidth) async throws(VirtError) {
        guard n.type == .network, let networks = networkPortDriver, let name = n.network,
              let port = n.source["portid"].flatMap({ VirtUUID(string: $0) }) else { return }
        var params: [TypedParam] = []
        for p in bw.parameters { if case .uint(let v) = p.value, v != 0 { params.append(p) } }
        do {
            let net = try await networks.lookupNetwork(name: name)
            try await networks.setNetworkPortParameters(net, port: port, params: params, flags: 0)
        } catch {
            throw (error as? VirtError) ?? VirtError.internalError("\(error)", domain: .qemu)
        }
    }
}

extension QEMUDriver {
    public func interfaceParameters(_ domain: DomainRef, device: String, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try Self.checkFlags(flags, allowed: 1 | 2 | 4, "qemuDomainGetInterfaceParameters")
        let obj = try await state.object(domain)
        // The count is answered before the interface is looked up (libvirt's two-call protocol).
        if nparams == 0 {
            _ = try await obj.checkedOneDefinition(flags & 3)
            return ([], Int32(NetBandwidth.parameterNames.count))
        }
        let all = try await obj.interfaceParameters(device: device, flags: flags & 3)
        let sent = Array(all.prefix(Int(max(nparams, 0))))
        return (sent, Int32(sent.count))
    }

    public func setInterfaceParameters(_ domain: DomainRef, device: String, params: [TypedParam], flags: UInt32)
        async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainSetInterfaceParameters")
        try TypedParam.validate(params, Dictionary(uniqueKeysWithValues: NetBandwidth.parameterNames.map { ($0, 2) }))
        try await state.object(domain).setInterfaceParameters(device: device, params: params, flags: flags)
    }
}
