import VirtCore

/// The storage driver's procedures (libvirt-storage.c), served by the connection's storage driver.
extension ProcedureTable {
    static let storageRows: [ServedProcedure] = poolRows + volumeRows + storageEventRows

    private static func checkMax(_ max: Int32, _ what: String, api: String) throws(VirtError) {
        if max > Int32(StoragePoolNameListLimit.max) {
            throw VirtError(.rpc, domain: .rpc, "RPC error : maxnames > REMOTE_STORAGE_\(what)_LIST_MAX")
        }
        // libvirt's API layer (virCheckNonNegativeArgGoto) before the driver sees it.
        if max < 0 {
            let detail = "maxnames in \(api) must be zero or greater"
            throw VirtError(.invalidArg, domain: .storage, "invalid argument: \(detail)", str1: detail)
        }
    }

    private static let poolRows: [ServedProcedure] = [
        .serve(RemoteCalls.connectNumOfStoragePools) { _, ctx in
            let s = try ctx.storage("virConnectNumOfStoragePools")
            if ctx.access != nil { return Int32(try await visiblePools(ctx, s, active: true).count) }
            return try await s.numOfStoragePools()
        },
        .serve(RemoteCalls.connectListStoragePools) { max, ctx in
            try checkMax(max, "POOL", api: "virConnectListStoragePools")
            let s = try ctx.storage("virConnectListStoragePools")
            if ctx.access != nil {
                return XDRList(Array(try await visiblePools(ctx, s, active: true).prefix(Int(max)).map(\.name)))
            }
            return XDRList(try await s.listStoragePools(max: max))
        },
        .serve(RemoteCalls.connectNumOfDefinedStoragePools) { _, ctx in
            let s = try ctx.storage("virConnectNumOfDefinedStoragePools")
            if ctx.access != nil { return Int32(try await visiblePools(ctx, s, active: false).count) }
            return try await s.numOfDefinedStoragePools()
        },
        .serve(RemoteCalls.connectListDefinedStoragePools) { max, ctx in
            try checkMax(max, "POOL", api: "virConnectListDefinedStoragePools")
            let s = try ctx.storage("virConnectListDefinedStoragePools")
            if ctx.access != nil {
                return XDRList(Array(try await visiblePools(ctx, s, active: false).prefix(Int(max)).map(\.name)))
            }
            return XDRList(try await s.listDefinedStoragePools(max: max))
        },
        .serve(RemoteCalls.connectListAllStoragePools) { a, ctx in
            let (need, flags) = a.values
            let all = ctx.visible(try await ctx.storage("virConnectListAllStoragePools").listAllStoragePools(flags: flags))
            return XDRCountedList(all, needResults: need)
        },
        .serve(RemoteCalls.connectGetStoragePoolCapabilities) { flags, ctx in
            try await ctx.storage("virConnectGetStoragePoolCapabilities").storagePoolCapabilities(flags: flags)
        },
        .serve(RemoteCalls.connectFindStoragePoolSources) { a, ctx in
            let (type, spec, flags) = a.values
            let storage = try ctx.storage("virConnectFindStoragePoolSources")
            return try await storage.findStoragePoolSources(type: type, spec: spec, flags: flags)
        },
        .serve(RemoteCalls.storagePoolLookupByName) { name, ctx in
            try await ctx.storage("virStoragePoolLookupByName").lookupStoragePool(name: name)
        },
        .serve(RemoteCalls.storagePoolLookupByUUID) { uuid, ctx in
            try await ctx.storage("virStoragePoolLookupByUUID").lookupStoragePool(uuid: uuid)
        },
        .serve(RemoteCalls.storagePoolLookupByTargetPath) { path, ctx in
            try await ctx.storage("virStoragePoolLookupByTargetPath").lookupStoragePool(targetPath: path)
        },
        .serve(RemoteCalls.storagePoolLookupByVolume) { vol, ctx in
            try await ctx.storage("virStoragePoolLookupByVolume").lookupStoragePool(volume: vol)
        },
        .serve(RemoteCalls.storagePoolCreateXML) { a, ctx in
            try await ctx.storage("virStoragePoolCreateXML").createStoragePool(xml: a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.storagePoolDefineXML) { a, ctx in
            try await ctx.storage("virStoragePoolDefineXML").defineStoragePool(xml: a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.storagePoolBuild) { a, ctx in
            try await ctx.storage("virStoragePoolBuild").buildStoragePool(a.values.0, flags: a.values.1)
            return XDRVoid()
        },
        .serve(RemoteCalls.storagePoolUndefine) { p, ctx in
            try await ctx.storage("virStoragePoolUndefine").undefineStoragePool(p)
            return XDRVoid()
        },
        .serve(RemoteCalls.storagePoolCreate) { a, ctx in
            try await ctx.storage("virStoragePoolCreate").startStoragePool(a.values.0, flags: a.values.1)
            return XDRVoid()
        },
        .serve(RemoteCalls.storagePoolDestroy) { p, ctx in
            try await ctx.storage("virStoragePoolDestroy").destroyStoragePool(p)
            return XDRVoid()
        },
        .serve(RemoteCalls.storagePoolDelete) { a, ctx in
            try await ctx.storage("virStoragePoolDelete").deleteStoragePool(a.values.0, flags: a.values.1)
            return XDRVoid()
        },
        .serve(RemoteCalls.storagePoolRefresh) { a, ctx in
            try await ctx.storage("virStoragePoolRefresh").refreshStoragePool(a.values.0, flags: a.values.1)
            return XDRVoid()
        },
        .serve(RemoteCalls.storagePoolGetInfo) { p, ctx in
            try await ctx.storage("virStoragePoolGetInfo").storagePoolInfo(p)
        },
        .serve(RemoteCalls.storagePoolGetXMLDesc) { a, ctx in
            try await ctx.storage("virStoragePoolGetXMLDesc").storagePoolXML(a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.storagePoolGetAutostart) { p, ctx in
            try await ctx.storage("virStoragePoolGetAutostart").storagePoolAutostart(p) ? 1 : 0
        },
        .serve(RemoteCalls.storagePoolSetAutostart) { a, ctx in
            try await ctx.storage("virStoragePoolSetAutostart").setStoragePoolAutostart(a.values.0,
                                                                                      autostart: a.values.1 != 0)
            return XDRVoid()
        },
        .serve(RemoteCalls.storagePoolIsActive) { p, ctx in
            try await ctx.storage("virStoragePoolIsActive").storagePoolIsActive(p) ? 1 : 0
        },
        .serve(RemoteCalls.storagePoolIsPersistent) { p, ctx in
            try await ctx.storage("virStoragePoolIsPersistent").storagePoolIsPersistent(p) ? 1 : 0
        },
        .serve(RemoteCalls.storagePoolNumOfVolumes) { p, ctx in
            let s = try ctx.storage("virStoragePoolNumOfVolumes")
            if ctx.access != nil { return Int32(ctx.visible(try await s.listAllVolumes(p, flags: 0)).count) }
            return try await s.numOfVolumes(p)
        },
        .serve(RemoteCalls.storagePoolListVolumes) { a, ctx in
            try checkMax(a.values.1, "VOL", api: "virStoragePoolListVolumes")
            let s = try ctx.storage("virStoragePoolListVolumes")
            if ctx.access != nil {
                let vols = ctx.visible(try await s.listAllVolumes(a.values.0, flags: 0)).map(\.name).sorted()
                return XDRList(Array(vols.prefix(Int(a.values.1))))
            }
            return XDRList(try await s.listVolumes(a.values.0, max: a.values.1))
        },
        .serve(RemoteCalls.storagePoolListAllVolumes) { a, ctx in
            let (pool, need, flags) = a.values
            let all = ctx.visible(try await ctx.storage("virStoragePoolListAllVolumes").listAllVolumes(pool, flags: flags))
            return XDRCountedList(all, needResults: need)
        },
    ]

    private static let volumeRows: [ServedProcedure] = [
        .serve(RemoteCalls.storageVolLookupByName) { a, ctx in
            try await ctx.storage("virStorageVolLookupByName").lookupVolume(pool: a.values.0, name: a.values.1)
        },
        .serve(RemoteCalls.storageVolLookupByKey) { key, ctx in
            try await ctx.storage("virStorageVolLookupByKey").lookupVolume(key: key)
        },
        .serve(RemoteCalls.storageVolLookupByPath) { path, ctx in
            try await ctx.storage("virStorageVolLookupByPath").lookupVolume(path: path)
        },
        .serve(RemoteCalls.storageVolCreateXML) { a, ctx in
            let (pool, xml, flags) = a.values
            return try await ctx.storage("virStorageVolCreateXML").createVolume(pool, xml: xml, flags: flags)
        },
        .serve(RemoteCalls.storageVolCreateXMLFrom) { a, ctx in
            let (pool, xml, clone, flags) = a.values
            return try await ctx.storage("virStorageVolCreateXMLFrom").createVolume(pool, xml: xml, from: clone,
                                                                                    flags: flags)
        },
        .serve(RemoteCalls.storageVolDelete) { a, ctx in
            try await ctx.storage("virStorageVolDelete").deleteVolume(a.values.0, flags: a.values.1)
            return XDRVoid()
        },
        .serve(RemoteCalls.storageVolWipe) { a, ctx in
            try await ctx.storage("virStorageVolWipe").wipeVolume(a.values.0, flags: a.values.1)
            return XDRVoid()
        },
        .serve(RemoteCalls.storageVolGetInfo) { v, ctx in
            try await ctx.storage("virStorageVolGetInfo").volumeInfo(v)
        },
        .serve(RemoteCalls.storageVolGetInfoFlags) { a, ctx in
            try await ctx.storage("virStorageVolGetInfoFlags").volumeInfo(a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.storageVolWipePattern) { a, ctx in
            let (vol, algorithm, flags) = a.values
            try await ctx.storage("virStorageVolWipePattern").wipeVolume(vol, algorithm: algorithm, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.storageVolGetXMLDesc) { a, ctx in
            try await ctx.storage("virStorageVolGetXMLDesc").volumeXML(a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.storageVolGetPath) { v, ctx in
            try await ctx.storage("virStorageVolGetPath").volumePath(v)
        },
        .serve(RemoteCalls.storageVolResize) { a, ctx in
            let (vol, capacity, flags) = a.values
            try await ctx.storage("virStorageVolResize").resizeVolume(vol, capacity: capacity, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.storageVolUpload) { a, ctx in
            let (vol, offset, length, flags) = a.values
            let stream = try await ctx.storage("virStorageVolUpload").uploadVolume(vol, offset: offset, length: length,
                                                                                   flags: flags)
            ctx.session.addStream(ServerStream(header: ctx.header, stream: stream, session: ctx.session))
            return XDRVoid()
        },
        .serve(RemoteCalls.storageVolDownload) { a, ctx in
            let (vol, offset, length, flags) = a.values
            let stream = try await ctx.storage("virStorageVolDownload").downloadVolume(vol, offset: offset,
                                                                                       length: length, flags: flags)
            ctx.session.addStream(ServerStream(header: ctx.header, stream: stream, session: ctx.session))
            return XDRVoid()
        },
    ]

    private static let storageEventRows: [ServedProcedure] = [
        .serve(RemoteCalls.connectStoragePoolEventRegisterAny) { a, ctx in
            let (eid, pool) = a.values
            let storage = try ctx.storage("virConnectStoragePoolEventRegisterAny")
            guard eid == 0 || eid == 1 else {
                let detail = "unsupported storage pool event ID \(eid)"
                throw VirtError(.internalError, domain: .rpc, "internal error: \(detail)", str1: detail)
            }
            ctx.session.ensureStoragePoolEventPump(storage)
            return ctx.session.state.withLock { s -> Int32 in
                let id = s.nextCallbackID
                s.nextCallbackID += 1
                s.storageCallbacks[id] = ClientSession.Callback(eventID: eid, domain: pool?.uuid)
                return id
            }
        },
        .serve(RemoteCalls.connectStoragePoolEventDeregisterAny) { id, ctx in
            let ok = ctx.session.state.withLock { $0.storageCallbacks.removeValue(forKey: id) != nil }
            if !ok {
                throw VirtError(.internalError, domain: .rpc,
                                "internal error: storage pool event callback \(id) not registered",
                                str1: "storage pool event callback \(id) not registered")
            }
            return XDRVoid()
        },
    ]
}

extension CallContext {
    /// The connection's storage driver, or NO_SUPPORT naming `api`.
    func storage(_ api: String) throws(VirtError) -> any StorageDriver {
        guard let s = session.state.withLock({ $0.storage }) else { throw VirtError.noSupport(api, domain: .storage) }
        return s
    }
}

extension ClientSession {
    /// Starts forwarding storage pool events to this client, once.
    func ensureStoragePoolEventPump(_ storage: any StorageDriver) {
        let stream: AsyncStream<StoragePoolEventRecord>? = state.withLock { s in
            s.storageEventTask != nil ? nil : storage.storagePoolEvents()
        }
        guard let stream else { return }
        let task = Task { [weak self] in
            for await ev in stream {
                guard let self else { return }
                let (cbs, identity) = self.state.withLock { ($0.storageCallbacks, $0.identity) }
                // Events about pools the client may not getattr are never sent.
                if let m = self.access,
                   !m.allows(identity, ACLObject(type: "storage_pool", name: ev.pool.name), "getattr") {
                    continue
                }
                for (id, cb) in cbs.sorted(by: { $0.key < $1.key }) where cb.eventID == ev.eventID {
                    if let u = cb.domain, u != ev.pool.uuid { continue }
                    self.send(StoragePoolEventEncoder.message(ev, callbackID: id))
                }
            }
        }
        let cancelNow = state.withLock { s -> Bool in
            if s.storageEventTask != nil || s.closed { return true }
            s.storageEventTask = task
            return false
        }
        if cancelNow { task.cancel() }
    }
}

/// The active (or inactive) pools a client may getattr (libvirt's @aclfilter of the legacy listings and counts).
private func visiblePools(_ ctx: CallContext, _ s: any StorageDriver, active: Bool) async throws -> [StoragePoolRef] {
    // VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE 2, _INACTIVE 1.
    ctx.visible(try await s.listAllStoragePools(flags: active ? 2 : 1)).sorted { $0.name < $1.name }
}
