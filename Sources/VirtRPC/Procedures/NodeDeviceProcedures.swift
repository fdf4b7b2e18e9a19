import VirtCore

/// The node device and host interface drivers' procedures (libvirt-nodedev.c, libvirt-interface.c), served by
/// the connection's node device and interface drivers.
extension ProcedureTable {
    static let nodeDeviceRows: [ServedProcedure] = [
        .serve(RemoteCalls.nodeNumOfDevices) { a, ctx in
            let (cap, flags) = a.values
            let d = try ctx.nodeDevices("virNodeNumOfDevices")
            if ctx.access != nil {
                return Int32(try await visibleDeviceNames(ctx, d, cap: cap, flags: flags).count)
            }
            return try await d.numOfNodeDevices(cap: cap, flags: flags)
        },
        .serve(RemoteCalls.nodeListDevices) { a, ctx in
            let (cap, max, flags) = a.values
            try NodeDeviceRowChecks.listMax(max, NodeDeviceListLimit.max, "node device names")
            let d = try ctx.nodeDevices("virNodeListDevices")
            if ctx.access != nil {
                return XDRList(Array(try await visibleDeviceNames(ctx, d, cap: cap, flags: flags).prefix(Int(max))))
            }
            return XDRList(try await d.listNodeDevices(cap: cap, max: max, flags: flags))
        },
        .serve(RemoteCalls.connectListAllNodeDevices) { a, ctx in
            let (need, flags) = a.values
            let all = ctx.visible(try await ctx.nodeDevices("virConnectListAllNodeDevices").listAllNodeDevices(flags: flags))
            return XDRCountedList(all, needResults: need)
        },
        .serve(RemoteCalls.nodeDeviceLookupByName) { name, ctx in
            try await ctx.nodeDevices("virNodeDeviceLookupByName").lookupNodeDevice(name: name)
        },
        .serve(RemoteCalls.nodeDeviceLookupSCSIHostByWWN) { a, ctx in
            let (wwnn, wwpn, flags) = a.values
            return try await ctx.nodeDevices("virNodeDeviceLookupSCSIHostByWWN").lookupSCSIHost(wwnn: wwnn, wwpn: wwpn,
                                                                                              flags: flags)
        },
        .serve(RemoteCalls.nodeDeviceGetXMLDesc) { a, ctx in
            try await ctx.nodeDevices("virNodeDeviceGetXMLDesc").nodeDeviceXML(NodeDeviceRef(name: a.values.0),
                                                                               flags: a.values.1)
        },
        .serve(RemoteCalls.nodeDeviceGetParent) { name, ctx in
            try await ctx.nodeDevices("virNodeDeviceGetParent").nodeDeviceParent(NodeDeviceRef(name: name))
        },
        .serve(RemoteCalls.nodeDeviceNumOfCaps) { name, ctx in
            Int32(try await ctx.nodeDevices("virNodeDeviceNumOfCaps").nodeDeviceCapabilities(NodeDeviceRef(name: name)).count)
        },
        .serve(RemoteCalls.nodeDeviceListCaps) { a, ctx in
            let (name, max) = a.values
            try NodeDeviceRowChecks.listMax(max, NodeDeviceListLimit.max, "capability names")
            let caps = try await ctx.nodeDevices("virNodeDeviceListCaps").nodeDeviceCapabilities(NodeDeviceRef(name: name))
            return XDRList(Array(caps.prefix(Int(max))))
        },
        .serve(RemoteCalls.nodeDeviceCreateXML) { a, ctx in
            try await ctx.nodeDevices("virNodeDeviceCreateXML").createNodeDevice(xml: a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.nodeDeviceDestroy) { name, ctx in
            try await ctx.nodeDevices("virNodeDeviceDestroy").destroyNodeDevice(NodeDeviceRef(name: name))
            return XDRVoid()
        },
        .serve(RemoteCalls.nodeDeviceIsActive) { name, ctx in
            try await ctx.nodeDevices("virNodeDeviceIsActive").nodeDeviceIsActive(NodeDeviceRef(name: name)) ? 1 : 0
        },
        .serve(RemoteCalls.nodeDeviceIsPersistent) { name, ctx in
            try await ctx.nodeDevices("virNodeDeviceIsPersistent").nodeDeviceIsPersistent(NodeDeviceRef(name: name)) ? 1 : 0
        },
        .serve(RemoteCalls.nodeDeviceGetAutostart) { name, ctx in
            try await ctx.nodeDevices("virNodeDeviceGetAutostart").nodeDeviceAutostart(NodeDeviceRef(name: name)) ? 1 : 0
        },
        // virt-manager registers for these on every connection (and falls back to polling without them).
        .serve(RemoteCalls.connectNodeDeviceEventRegisterAny) { a, ctx in
            let (eid, dev) = a.values
            // libvirtd checks the id before it asks the driver.
            guard eid == 0 || eid == 1 else {
                let detail = "unsupported node device event ID \(eid)"
                throw VirtError(.internalError, domain: .rpc, "internal error: \(detail)", str1: detail)
            }
            let d = try ctx.nodeDevices("virConnectNodeDeviceEventRegisterAny")
            ctx.session.ensureNodeDeviceEventPump(d)
            return ctx.session.state.withLock { s -> Int32 in
                let id = s.nextCallbackID
                s.nextCallbackID += 1
                s.nodeDeviceCallbacks[id] = ClientSession.NamedCallback(eventID: eid, name: dev?.name)
                return id
            }
        },
        .serve(RemoteCalls.connectNodeDeviceEventDeregisterAny) { id, ctx in
            let ok = ctx.session.state.withLock { $0.nodeDeviceCallbacks.removeValue(forKey: id) != nil }
            if !ok {
                let detail = "node device event callback \(id) not registered"
                throw VirtError(.internalError, domain: .rpc, "internal error: \(detail)", str1: detail)
            }
            return XDRVoid()
        },
    ]

    static let interfaceRows: [ServedProcedure] = [
        .serve(RemoteCalls.connectNumOfInterfaces) { _, ctx in
            let i = try ctx.interfaces("virConnectNumOfInterfaces")
            if ctx.access != nil { return Int32(try await visibleInterfaces(ctx, i, active: true).count) }
            return try await i.numOfInterfaces()
        },
        .serve(RemoteCalls.connectListInterfaces) { max, ctx in
            try NodeDeviceRowChecks.listMax(max, InterfaceListLimit.max, "interfaces")
            let i = try ctx.interfaces("virConnectListInterfaces")
            if ctx.access != nil {
                return XDRList(Array(try await visibleInterfaces(ctx, i, active: true).prefix(Int(max)).map(\.name)))
            }
            return XDRList(try await i.listInterfaces(max: max))
        },
        .serve(RemoteCalls.connectNumOfDefinedInterfaces) { _, ctx in
            let i = try ctx.interfaces("virConnectNumOfDefinedInterfaces")
            if ctx.access != nil { return Int32(try await visibleInterfaces(ctx, i, active: false).count) }
            return try await i.numOfDefinedInterfaces()
        },
        .serve(RemoteCalls.connectListDefinedInterfaces) { max, ctx in
            try NodeDeviceRowChecks.listMax(max, InterfaceListLimit.max, "interfaces")
            let i = try ctx.interfaces("virConnectListDefinedInterfaces")
            if ctx.access != nil {
                return XDRList(Array(try await visibleInterfaces(ctx, i, active: false).prefix(Int(max)).map(\.name)))
            }
            return XDRList(try await i.listDefinedInterfaces(max: max))
        },
        .serve(RemoteCalls.connectListAllInterfaces) { a, ctx in
            let (need, flags) = a.values
            let all = ctx.visible(try await ctx.interfaces("virConnectListAllInterfaces").listAllInterfaces(flags: flags))
            return XDRCountedList(all, needResults: need)
        },
        .serve(RemoteCalls.interfaceLookupByName) { name, ctx in
            try await ctx.interfaces("virInterfaceLookupByName").lookupInterface(name: name)
        },
        .serve(RemoteCalls.interfaceLookupByMACString) { mac, ctx in
            try await ctx.interfaces("virInterfaceLookupByMACString").lookupInterface(mac: mac)
        },
        .serve(RemoteCalls.interfaceGetXMLDesc) { a, ctx in
            try await ctx.interfaces("virInterfaceGetXMLDesc").interfaceXML(a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.interfaceDefineXML) { a, ctx in
            try await ctx.interfaces("virInterfaceDefineXML").defineInterface(xml: a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.interfaceUndefine) { i, ctx in
            try await ctx.interfaces("virInterfaceUndefine").undefineInterface(i)
            return XDRVoid()
        },
        .serve(RemoteCalls.interfaceCreate) { a, ctx in
            try await ctx.interfaces("virInterfaceCreate").startInterface(a.values.0, flags: a.values.1)
            return XDRVoid()
        },
        .serve(RemoteCalls.interfaceDestroy) { a, ctx in
            try await ctx.interfaces("virInterfaceDestroy").destroyInterface(a.values.0, flags: a.values.1)
            return XDRVoid()
        },
        .serve(RemoteCalls.interfaceIsActive) { i, ctx in
            try await ctx.interfaces("virInterfaceIsActive").interfaceIsActive(i) ? 1 : 0
        },
        .serve(RemoteCalls.interfaceChangeBegin) { flags, ctx in
            try await ctx.interfaces("virInterfaceChangeBegin").interfaceChangeBegin(flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.interfaceChangeCommit) { flags, ctx in
            try await ctx.interfaces("virInterfaceChangeCommit").interfaceChangeCommit(flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.interfaceChangeRollback) { flags, ctx in
            try await ctx.interfaces("virInterfaceChangeRollback").interfaceChangeRollback(flags: flags)
            return XDRVoid()
        },
    ]
}

/// The device names a client may getattr (libvirt's @aclfilter of the legacy listing and count).
private func visibleDeviceNames(_ ctx: CallContext, _ d: any NodeDeviceDriver, cap: String?, flags: UInt32) async throws
    -> [String] {
    let names = try await d.listNodeDevices(cap: cap, max: Int32(NodeDeviceListLimit.max), flags: flags)
    return ctx.visible(names.map(NodeDeviceRef.init(name:))).map(\.name)
}

/// The interfaces a client may getattr.
private func visibleInterfaces(_ ctx: CallContext, _ i: any InterfaceDriver, active: Bool) async throws -> [InterfaceRef] {
    let flags = active ? InterfaceListFlags.active : InterfaceListFlags.inactive
    return ctx.visible(try await i.listAllInterfaces(flags: flags))
}

enum NodeDeviceRowChecks {
    /// libvirtd's check of a list call's maximum.
    static func listMax(_ max: Int32, _ limit: Int, _ what: String) throws(VirtError) {
        guard max >= 0, Int(max) <= limit else {
            throw VirtError(.rpc, domain: .rpc, "RPC error : too many \(what): \(max) > \(limit)")
        }
    }
}

extension CallContext {
    /// The connection's node device driver, or NO_SUPPORT naming `api`.
    func nodeDevices(_ api: String) throws(VirtError) -> any NodeDeviceDriver {
        guard let d = session.state.withLock({ $0.nodeDevices }) else {
            throw VirtError.noSupport(api, domain: .nodeDevice)
        }
        return d
    }

    /// The connection's interface driver, or NO_SUPPORT naming `api`.
    func interfaces(_ api: String) throws(VirtError) -> any InterfaceDriver {
        guard let i = session.state.withLock({ $0.interfaces }) else {
            throw VirtError.noSupport(api, domain: .interface)
        }
        return i
    }

    /// The node devices of a listing this client may see (node_device:getattr).
    func visible(_ devices: [NodeDeviceRef]) -> [NodeDeviceRef] {
        guard let access else { return devices }
        return devices.filter { access.allows(ACLObject(type: "node_device", name: $0.name), "getattr") }
    }

    /// The interfaces of a listing this client may see (interface:getattr).
    func visible(_ interfaces: [InterfaceRef]) -> [InterfaceRef] {
        guard let access else { return interfaces }
        return interfaces.filter { access.allows(ACLObject(type: "interface", name: $0.name), "getattr") }
    }
}

extension ClientSession {
    /// Starts forwarding node device events to this client, once.
    func ensureNodeDeviceEventPump(_ devices: any NodeDeviceDriver) {
        let stream: AsyncStream<NodeDeviceEventRecord>? = state.withLock { s in
            s.nodeDeviceEventTask != nil ? nil : devices.nodeDeviceEvents()
        }
        guard let stream else { return }
        let task = Task { [weak self] in
            for await ev in stream {
                guard let self else { return }
                let (cbs, identity) = self.state.withLock { ($0.nodeDeviceCallbacks, $0.identity) }
                // Events about devices the client may not getattr are never sent.
                if let m = self.access,
                   !m.allows(identity, ACLObject(type: "node_device", name: ev.device.name), "getattr") {
                    continue
                }
                for (id, cb) in cbs.sorted(by: { $0.key < $1.key }) where cb.eventID == ev.eventID {
                    if let n = cb.name, n != ev.device.name { continue }
                    self.send(NodeDeviceEventEncoder.message(ev, callbackID: id))
                }
            }
        }
        let cancelNow = state.withLock { s -> Bool in
            if s.nodeDeviceEventTask != nil || s.closed { return true }
            s.nodeDeviceEventTask = task
            return false
        }
        if cancelNow { task.cancel() }
    }
}
