import VirtCore

/// The handshake: what a client may call before CONNECT_OPEN, and opening and closing.
extension ProcedureTable {
    static let sessionRows: [ServedProcedure] = [
        .serve(RemoteCalls.authList, needsOpen: false) { _, _ in
            XDRList([0])  // REMOTE_AUTH_NONE
        },
        .serve(RemoteCalls.authPolkit, needsOpen: false) { _, _ in 1 },
        .serve(RemoteCalls.connectSupportsFeature, needsOpen: false) { feature, ctx in
            if feature == DriverFeature.programKeepalive.rawValue {
                let on = ctx.server.config.keepaliveInterval > 0
                ctx.session.state.withLock { $0.keepaliveEnabled = on }
            }
            if feature == DriverFeature.fdPassing.rawValue {
                ctx.session.state.withLock { $0.fdPassingAsked = true }
            }
            if RemoteDispatcher.supports(feature) { return 1 }
            return await ctx.driver.supportsFeature(feature) ? 1 : 0
        },
        .serve(RemoteCalls.connectOpen, needsOpen: false) { a, ctx in
            let (name, flags) = a.values
            try await open(ctx, name: name, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.connectClose, needsOpen: false) { _, ctx in
            await ctx.session.shutdown(provider: ctx.server.provider)
            return XDRVoid()
        },
        .serve(RemoteCalls.connectRegisterCloseCallback) { _, ctx in
            ctx.session.state.withLock { $0.closeCallbackRegistered = true }
            return XDRVoid()
        },
        .serve(RemoteCalls.connectUnregisterCloseCallback) { _, ctx in
            ctx.session.state.withLock { $0.closeCallbackRegistered = false }
            return XDRVoid()
        },
    ]

    /// CONNECT_OPEN: asks the provider for the driver; read-only when the socket or the flag says so.
    private static func open(_ ctx: CallContext, name: String?, flags: UInt32) async throws {
        let session = ctx.session
        let already = session.state.withLock { s -> Bool in
            if s.driver != nil || s.opening { return true }
            s.opening = true
            return false
        }
        if already {
            throw VirtError(.internalError, domain: .rpc, "internal error: connection already open",
                            str1: "connection already open")
        }
        let readOnly = session.readOnly || flags & 1 != 0
        do {
            let driver = try await ctx.server.provider.open(uri: name, readOnly: readOnly)
            let secrets = ctx.server.provider.secretDriver(for: driver)
            // libvirt names the test driver "Test" in denials although its type is "TEST".
            var driverName = ctx.server.config.access == nil ? "" : ((try? await driver.hypervisorType()) ?? "")
            if driverName == "TEST" { driverName = "Test" }
            // Every driver's open checks connect:getattr (libvirt), naming itself in the denial.
            if let manager = ctx.server.config.access {
                let identity = session.state.withLock { $0.identity }
                if !manager.allows(identity, ACLObject(type: "connect"), "getattr") {
                    await ctx.server.provider.release(driver)
                    throw AccessManager.denied(driverName: driverName)
                }
            }
            let networks = ctx.server.provider.networkDriver(for: driver)
            let storage = ctx.server.provider.storageDriver(for: driver)
            let nodeDevices = ctx.server.provider.nodeDeviceDriver(for: driver)
            let interfaces = ctx.server.provider.interfaceDriver(for: driver)
            let closed = session.state.withLock { s -> Bool in
                s.opening = false
                if s.closed { return true }
                s.driver = driver
                s.secrets = secrets
                s.aclDriverName = driverName
                s.networks = networks
                s.storage = storage
                s.nodeDevices = nodeDevices
                s.interfaces = interfaces
                s.readOnlyOpen = readOnly
                return false
            }
            if closed { await ctx.server.provider.release(driver) }
        } catch {
            session.state.withLock { $0.opening = false }
            throw error
        }
    }
}
