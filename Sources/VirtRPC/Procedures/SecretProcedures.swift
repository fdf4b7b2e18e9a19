import VirtCore

/// The secret driver's procedures (libvirt-secret.c), served by the connection's secret driver.
extension ProcedureTable {
    static let secretRows: [ServedProcedure] = [
        .serve(RemoteCalls.connectNumOfSecrets) { _, ctx in
            let s = try ctx.secrets("virConnectNumOfSecrets")
            if ctx.access != nil { return Int32(ctx.visible(try await s.listAllSecrets(flags: 0)).count) }
            return try await s.numOfSecrets()
        },
        .serve(RemoteCalls.connectListSecrets) { max, ctx in
            guard max >= 0, Int(max) <= SecretUUIDListLimit.max else {
                throw VirtError(.rpc, domain: .rpc, "RPC error : too many remote secret UUIDs: \(max) > \(SecretUUIDListLimit.max)")
            }
            let s = try ctx.secrets("virConnectListSecrets")
            if ctx.access != nil {
                return XDRList(Array(ctx.visible(try await s.listAllSecrets(flags: 0)).prefix(Int(max)).map(\.uuid.description)))
            }
            return XDRList(try await s.listSecretUUIDs(max: max))
        },
        .serve(RemoteCalls.connectListAllSecrets) { a, ctx in
            let (need, flags) = a.values
            let all = ctx.visible(try await ctx.secrets("virConnectListAllSecrets").listAllSecrets(flags: flags))
            return XDRCountedList(all, needResults: need)
        },
        .serve(RemoteCalls.secretLookupByUUID) { uuid, ctx in
            try await ctx.secrets("virSecretLookupByUUID").lookupSecret(uuid: uuid)
        },
        .serve(RemoteCalls.secretLookupByUsage) { a, ctx in
            try await ctx.secrets("virSecretLookupByUsage").lookupSecret(usageType: a.values.0, usageID: a.values.1)
        },
        .serve(RemoteCalls.secretDefineXML) { a, ctx in
            try await ctx.secrets("virSecretDefineXML").defineSecret(xml: a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.secretGetXMLDesc) { a, ctx in
            try await ctx.secrets("virSecretGetXMLDesc").secretXML(a.values.0, flags: a.values.1)
        },
        .serve(RemoteCalls.secretSetValue) { a, ctx in
            let (s, value, flags) = a.values
            // libvirtd's API layer refuses an empty value (NULL on its side) before the driver sees it.
            if value.bytes.isEmpty { throw SecretErrors.nullValue }
            try await ctx.secrets("virSecretSetValue").setSecretValue(s, value: value.bytes, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.secretGetValue) { a, ctx in
            // A client never makes an internal call: private secrets stay private.
            XDROpaque(try await ctx.secrets("virSecretGetValue").secretValue(a.values.0, flags: a.values.1,
                                                                             internalCall: false))
        },
        .serve(RemoteCalls.secretUndefine) { s, ctx in
            try await ctx.secrets("virSecretUndefine").undefineSecret(s)
            return XDRVoid()
        },
        .serve(RemoteCalls.connectSecretEventRegisterAny) { a, ctx in
            let (eid, secret) = a.values
            let secrets = try ctx.secrets("virConnectSecretEventRegisterAny")
            guard eid == 0 || eid == 1 else {
                throw VirtError(.internalError, domain: .rpc, "internal error: unsupported secret event ID \(eid)",
                                str1: "unsupported secret event ID \(eid)")
            }
            ctx.session.ensureSecretEventPump(secrets)
            return ctx.session.state.withLock { s -> Int32 in
                let id = s.nextCallbackID
                s.nextCallbackID += 1
                s.secretCallbacks[id] = ClientSession.Callback(eventID: eid, domain: secret?.uuid)
                return id
            }
        },
        .serve(RemoteCalls.connectSecretEventDeregisterAny) { id, ctx in
            let ok = ctx.session.state.withLock { $0.secretCallbacks.removeValue(forKey: id) != nil }
            if !ok {
                throw VirtError(.internalError, domain: .rpc, "internal error: secret event callback \(id) not registered",
                                str1: "secret event callback \(id) not registered")
            }
            return XDRVoid()
        },
    ]
}

extension CallContext {
    /// The connection's secret driver, or NO_SUPPORT naming `api` (libvirt's words when a connection has none).
    func secrets(_ api: String) throws(VirtError) -> any SecretDriver {
        guard let s = session.state.withLock({ $0.secrets }) else { throw VirtError.noSupport(api) }
        return s
    }
}

enum SecretErrors {
    /// libvirt's virCheckNonNullArg in virSecretSetValue (no "invalid argument: " prefix, as libvirt prints it).
    static let nullValue = VirtError(.invalidArg, domain: .secret, "value in virSecretSetValue must not be NULL")
}
