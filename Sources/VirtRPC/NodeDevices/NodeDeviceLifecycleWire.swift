import VirtCore

/// libvirt's persistent node device calls (define, undefine, create, autostart) and PCI assignment (detach,
/// re-attach, reset) on the wire: the typed calls, the served rows and the remote driver's methods.
extension RemoteCalls {
    /// xml, flags → device.
    static let nodeDeviceDefineXML = RemoteCall<XDRTuple2<String, Flags>, ND>(.nodeDeviceDefineXML)
    /// name, flags.
    static let nodeDeviceUndefine = RemoteCall<XDRTuple2<String, Flags>, XDRVoid>(.nodeDeviceUndefine)
    /// name, flags.
    static let nodeDeviceCreate = RemoteCall<XDRTuple2<String, Flags>, XDRVoid>(.nodeDeviceCreate)
    /// name, autostart.
    static let nodeDeviceSetAutostart = RemoteCall<XDRTuple2<String, Int32>, XDRVoid>(.nodeDeviceSetAutostart)
    static let nodeDeviceDettach = RemoteCall<String, XDRVoid>(.nodeDeviceDettach)
    /// name, driver name, flags.
    static let nodeDeviceDetachFlags = RemoteCall<XDRTuple3<String, String?, Flags>, XDRVoid>(.nodeDeviceDetachFlags)
    static let nodeDeviceReAttach = RemoteCall<String, XDRVoid>(.nodeDeviceReAttach)
    static let nodeDeviceReset = RemoteCall<String, XDRVoid>(.nodeDeviceReset)
}

extension ProcedureTable {
    static let nodeDeviceLifecycleRows: [ServedProcedure] = [
        .serve(RemoteCalls.nodeDeviceDefineXML) { a, ctx in
            try await ctx.nodeDevices("virNodeDeviceDefineXML").defineNodeDevice(xml: a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.nodeDeviceUndefine) { a, ctx in
            try await ctx.nodeDevices("virNodeDeviceUndefine").undefineNodeDevice(NodeDeviceRef(name: a.values.0),
                                                                                flags: a.values.1)
            return XDRVoid()
        },
        .serve(RemoteCalls.nodeDeviceCreate) { a, ctx in
            try await ctx.nodeDevices("virNodeDeviceCreate").startNodeDevice(NodeDeviceRef(name: a.values.0),
                                                                            flags: a.values.1)
            return XDRVoid()
        },
        .serve(RemoteCalls.nodeDeviceSetAutostart) { a, ctx in
            try await ctx.nodeDevices("virNodeDeviceSetAutostart").setNodeDeviceAutostart(
                NodeDeviceRef(name: a.values.0), autostart: a.values.1 != 0)
            return XDRVoid()
        },
        .serve(RemoteCalls.nodeDeviceDettach) { name, ctx in
            try await ctx.nodeDevices("virNodeDeviceDettach").dettachNodeDevice(NodeDeviceRef(name: name))
            return XDRVoid()
        },
        .serve(RemoteCalls.nodeDeviceDetachFlags) { a, ctx in
            let (name, driverName, flags) = a.values
            try await ctx.nodeDevices("virNodeDeviceDetachFlags").detachNodeDevice(
                NodeDeviceRef(name: name), driverName: driverName, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.nodeDeviceReAttach) { name, ctx in
            try await ctx.nodeDevices("virNodeDeviceReAttach").reattachNodeDevice(NodeDeviceRef(name: name))
            return XDRVoid()
        },
        .serve(RemoteCalls.nodeDeviceReset) { name, ctx in
            try await ctx.nodeDevices("virNodeDeviceReset").resetNodeDevice(NodeDeviceRef(name: name))
            return XDRVoid()
        },
    ]
}

extension RemoteDriver {
    public func defineNodeDevice(xml: String, flags: UInt32) async throws -> NodeDeviceRef {
        try await call(RemoteCalls.nodeDeviceDefineXML, XDRTuple2(xml, flags))
    }
    public func undefineNodeDevice(_ dev: NodeDeviceRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.nodeDeviceUndefine, XDRTuple2(dev.name, flags))
    }
    public func startNodeDevice(_ dev: NodeDeviceRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.nodeDeviceCreate, XDRTuple2(dev.name, flags))
    }
    public func setNodeDeviceAutostart(_ dev: NodeDeviceRef, autostart: Bool) async throws {
        _ = try await call(RemoteCalls.nodeDeviceSetAutostart, XDRTuple2(dev.name, Int32(autostart ? 1 : 0)))
    }
    public func dettachNodeDevice(_ dev: NodeDeviceRef) async throws {
        _ = try await call(RemoteCalls.nodeDeviceDettach, dev.name)
    }
    public func detachNodeDevice(_ dev: NodeDeviceRef, driverName: String?, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.nodeDeviceDetachFlags, XDRTuple3(dev.name, driverName, flags))
    }
    public func reattachNodeDevice(_ dev: NodeDeviceRef) async throws {
        _ = try await call(RemoteCalls.nodeDeviceReAttach, dev.name)
    }
    public func resetNodeDevice(_ dev: NodeDeviceRef) async throws {
        _ = try await call(RemoteCalls.nodeDeviceReset, dev.name)
    }
}

extension NodeDeviceEventEncoder {
    /// A node device event message (376 lifecycle, 377 update), without its callback id; nil for other messages.
    static func decode(_ proc: RemoteProcedure, _ r: inout XDRReader) throws(XDRError) -> NodeDeviceEventRecord? {
        guard proc == .nodeDeviceEventLifecycle || proc == .nodeDeviceEventUpdate else { return nil }
        _ = try r.int()
        let dev = try NodeDeviceRef(xdr: &r)
        guard proc == .nodeDeviceEventLifecycle else { return NodeDeviceEventRecord(device: dev, lifecycle: nil) }
        let event = try r.int()
        let detail = try r.int()
        guard let e = NodeDeviceLifecycleEvent(rawValue: event) else { return nil }
        return NodeDeviceEventRecord(device: dev, lifecycle: e, detail: detail)
    }
}

extension RemoteDriver {
    /// Node device events; the daemon is asked for them by ``registerNodeDeviceEvents()``.
    public func nodeDeviceEvents() -> AsyncStream<NodeDeviceEventRecord> { nodeDeviceBus.subscribe() }

    /// Registers a lifecycle and an update callback with the daemon, once per connection.
    public func registerNodeDeviceEvents() async throws {
        try await registerOnce(nodeDeviceEventsRegistered) {
            for id: Int32 in [0, 1] {
                _ = try await call(RemoteCalls.connectNodeDeviceEventRegisterAny, XDRTuple2(id, NodeDeviceRef?.none))
            }
        }
    }
}
