import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Live migration in the QEMU driver: libvirt's version 3 protocol with parameters. Client-managed, each
/// phase is one call (Begin, Perform, Confirm here on the source; Prepare, Finish on the destination); peer to
/// peer, the source's Perform runs the destination's phases itself through a connection the daemon opens.
extension QEMUDriver {
    /// Sets the migration settings of this driver's root (the daemon's configuration).
    public func setMigrationConfig(_ c: QEMUMigrationConfig) async { await state.setMigrationConfig(c) }

    /// Gives the driver the means to reach another daemon (peer-to-peer migration).
    public func setPeerOpener(_ o: any MigrationPeerOpener) async { await state.setPeerOpener(o) }

    public func supportsFeature(_ feature: Int32) async -> Bool {
        switch feature {
        case DriverFeatureCode.migrationV3, DriverFeatureCode.migrationP2P, DriverFeatureCode.migrationParams:
            return true
        default:
            return false
        }
    }

    public func migrateBegin3(_ domain: DomainRef, params: [TypedParam], flags: MigrateFlags) async throws
        -> (xml: String, cookie: [UInt8]) {
        try await phase("Begin", on: "source") {
            let obj = try await state.object(domain)
            return try await obj.migrationBegin(flags: flags, params: params, host: await state.migrationHost())
        }
    }

    /// Runs one migration phase on this host; its error keeps libvirt's text and names the phase and the host
    /// ("… [migration Perform on source host 'h1']"), so a two-host failure says where it happened.
    func phase<T: Sendable>(_ name: String, on role: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch var e as VirtError {
            if !e.message.contains(" [migration ") {
                e.message += " [migration \(name) on \(role) host '\(QEMUDriverState.localHostname())']"
            }
            throw e
        }
    }

    public func migratePrepare3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags) async throws
        -> (uri: String?, cookie: [UInt8]) {
        if flags.contains(.tunnelled) {
            throw VirtError.invalidArg("invalid argument: tunnelled migration requested but a non-tunnelled prepare was called",
                                       domain: .qemu)
        }
        return try await phase("Prepare", on: "destination") {
            if flags.contains(.postcopyResume) {
                return try await prepareResume(params: params, cookie: cookie, flags: flags)
            }
            let r = try await prepareIncoming(params: params, cookie: cookie, flags: flags, tunnelFD: nil)
            return (r.uri, r.cookie)
        }
    }

    /// Prepare of a post-copy recovery: the domain that failed in post-copy listens for the source again.
    private func prepareResume(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags) async throws
        -> (uri: String?, cookie: [UInt8]) {
        let host = await state.migrationHost()
        let incoming = try QEMUMigrationCookie.decode(cookie, localHostUUID: host.hostUUID)
        let name = params.string(MigrateParam.destName) ?? incoming.name
        guard let obj = await state.find(name: name) else {
            throw VirtError.noDomain("no domain with matching name '\(name)'", domain: .qemu)
        }
        let cfg = await state.migrationConfig
        let uriHost = cfg.migrationHost ?? QEMUDriverState.localHostname()
        let port = try await state.reserveMigrationPort()
        defer { Task { await self.state.releaseMigrationPort(port) } }
        let listenHost = params.string(MigrateParam.listenAddress) ?? cfg.migrationAddress ?? "0.0.0.0"
        try await obj.resumePrepare(flags: flags, listen: "tcp:\(listenHost):\(port)")
        return ("tcp:\(uriHost):\(port)", await obj.prepareCookie(host).encoded())
    }

    public func migratePrepareTunnel3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags) async throws
        -> (cookie: [UInt8], stream: any ByteStream) {
        if flags.contains(.postcopy) {
            throw VirtError(.argumentUnsupported, domain: .qemu,
                            "argument unsupported: post-copy is not supported with tunnelled migration",
                            str1: "post-copy is not supported with tunnelled migration")
        }
        let p = try QEMUMigrationTunnel.pipe(daemonEndNonBlocking: false)
        _ = fcntl(p.write, F_SETFL, fcntl(p.write, F_GETFL) | O_NONBLOCK)
        let sink = QEMUMigrationPipeSink(fd: p.write)
        do {
            let r = try await phase("Prepare", on: "destination") {
                try await prepareIncoming(params: params, cookie: cookie, flags: flags.union(.tunnelled),
                                          tunnelFD: p.read)
            }
            return (r.cookie, sink)
        } catch {
            await sink.abort()
            throw error
        }
    }

    /// Prepare (destination), both transports: the checks, the transient definition, QEMU started to wait for
    /// the stream on a TCP port of the migration range, or (tunnelled) on the pipe `tunnelFD` (taken over).
    private func prepareIncoming(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags,
                                 tunnelFD: Int32?) async throws -> (uri: String?, cookie: [UInt8]) {
        var tunnelFD = tunnelFD
        defer { if let fd = tunnelFD { Glibc.close(fd) } }
        guard let xml = params.string(MigrateParam.destXML) else {
            throw VirtError.invalidArg("invalid argument: no domain XML passed", domain: .qemu)
        }
        let host = await state.migrationHost()
        let incoming = try QEMUMigrationCookie.decode(cookie, localHostUUID: host.hostUUID)
        var def = try await parse(xml, validate: false)
        if let dname = params.string(MigrateParam.destName), !dname.isEmpty { def.name = dname }
        if incoming.uuid != def.uuid {
            throw VirtError.internalError("Incoming cookie data had unexpected UUID \(incoming.uuid) vs \(def.uuid)",
                                          domain: .qemu)
        }
        if let fd = tunnelFD {
            let (obj, _) = try await state.addOrUpdate(def, persistent: false, live: true)
            await obj.setMigrationFlags(flags)
            await obj.setIncomingFD(fd)
            tunnelFD = nil
            do {
                try await startObject(obj, flags: [], kind: .incomingMigration(uri: "fd:migrate"))
            } catch {
                await obj.setIncomingFD(-1)
                if await !obj.persistent { await state.remove(obj.uuid) }
                throw error
            }
            return (nil, await obj.prepareCookie(host).encoded())
        }
        // Where the source sends the stream: the client's URI (host and maybe port), else this host's name.
        let cfg = await state.migrationConfig
        var uriHost: String
        var port: Int?
        if let given = params.string(MigrateParam.uri), !given.isEmpty {
            let (scheme, h, p) = try Self.parseMigrationURI(given)
            guard scheme == "tcp" else {
                throw VirtError.invalidArg("unsupported scheme \(scheme) in migration URI \(given)",
                                           domain: .qemu)
            }
            uriHost = h
            port = p
        } else if let mh = cfg.migrationHost, !mh.isEmpty {
            uriHost = mh
        } else {
            uriHost = QEMUDriverState.localHostname()
            if QEMUDriverState.resolvesToLoopback(uriHost) {
                throw VirtError.internalError(
                    "hostname on destination resolved to localhost, but migration requires an FQDN", domain: .qemu)
            }
        }
        let reserved = port == nil
        let p: Int
        if let port { p = port } else { p = try await state.reserveMigrationPort() }
        // Storage migration: the disks the source copies are made here when missing, then exported over NBD
        // on a port of the same range while QEMU waits for the stream.
        let nbdDisks = flags.contains(.nonSharedDisk) ? (incoming.nbd?.disks ?? []) : []
        var nbdPort: Int?
        if !nbdDisks.isEmpty {
            do {
                try QEMUDomainObject.precreateDisks(nbdDisks, in: def)
                nbdPort = try await state.reserveMigrationPort()
            } catch {
                if reserved { await state.releaseMigrationPort(p) }
                throw error
            }
        }
        defer { if let n = nbdPort { Task { await self.state.releaseMigrationPort(n) } } }
        let listenHost = params.string(MigrateParam.listenAddress) ?? cfg.migrationAddress ?? "0.0.0.0"
        let listen = listenHost.contains(":") ? "tcp:[\(listenHost)]:\(p)" : "tcp:\(listenHost):\(p)"
        let (obj, _) = try await state.addOrUpdate(def, persistent: false, live: true)
        await obj.setMigrationFlags(flags)
        await obj.setStorageMigration(disks: nbdDisks, port: nbdPort)
        do {
            try await startObject(obj, flags: [], kind: .incomingMigration(uri: listen))
        } catch {
            if reserved { await state.releaseMigrationPort(p) }
            if await !obj.persistent { await state.remove(obj.uuid) }
            throw error
        }
        if reserved { await state.releaseMigrationPort(p) }
        var out = await obj.prepareCookie(host)
        if let nbdPort { out.nbd = QEMUMigrationCookie.NBD(port: nbdPort, disks: nbdDisks) }
        let bracketed = uriHost.contains(":") ? "[\(uriHost)]" : uriHost
        return ("tcp:\(bracketed):\(p)", out.encoded())
    }

    /// `tcp:host:port`, `tcp://host:port`, `tcp://[v6]:port`: scheme, host, port.
    static func parseMigrationURI(_ uri: String) throws(VirtError) -> (String, String, Int?) {
        guard let colon = uri.firstIndex(of: ":") else {
            throw VirtError.invalidArg("invalid argument: unable to parse URI \(uri)", domain: .qemu)
        }
        let scheme = String(uri[..<colon])
        var rest = uri[uri.index(after: colon)...]
        if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
        var host: String
        var portText: Substring?
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
        } else if let c = rest.lastIndex(of: ":") {
            host = String(rest[..<c])
            portText = rest[rest.index(after: c)...]
        } else {
            host = String(rest)
        }
        if let slash = host.firstIndex(of: "/") { host = String(host[..<slash]) }
        var port: Int?
        if let pt = portText {
            let digits = pt.prefix { $0.isNumber }
            guard let n = Int(digits), n > 0, n < 65536 else {
                throw VirtError.invalidArg("invalid argument: unable to parse port in migration URI \(uri)", domain: .qemu)
            }
            port = n
        }
        return (scheme, host, port)
    }

    public func migratePerform3(_ domain: DomainRef, destinationURI: String?, params: [TypedParam],
                                cookie: [UInt8], flags: MigrateFlags) async throws -> [UInt8] {
        try await phase("Perform", on: "source") {
            try await perform(domain, destinationURI: destinationURI, params: params, cookie: cookie, flags: flags)
        }
    }

    private func perform(_ domain: DomainRef, destinationURI: String?, params: [TypedParam],
                         cookie: [UInt8], flags: MigrateFlags) async throws -> [UInt8] {
        let obj = try await state.object(domain)
        let host = await state.migrationHost()
        if flags.contains(.peer2peer) {
            guard let dconnuri = destinationURI else {
                throw VirtError.invalidArg("invalid argument: peer-to-peer migration needs a destination URI", domain: .qemu)
            }
            if !cookie.isEmpty {
                throw VirtError.invalidArg("invalid argument: received unexpected cookie with P2P migration",
                                           domain: .qemu)
            }
            try await performPeer2Peer(obj, dconnuri: dconnuri, params: params, flags: flags, host: host)
            return []
        }
        if flags.contains(.tunnelled) {
            throw VirtError.invalidArg("invalid argument: cannot perform tunnelled migration without using peer2peer flag",
                                       domain: .qemu)
        }
        guard let uri = params.string(MigrateParam.uri) else {
            throw VirtError.invalidArg("invalid argument: domainMigratePrepare3 did not set uri", domain: .qemu)
        }
        return try await obj.migrationPerform(uri: uri, cookie: cookie, host: host)
    }

    /// libvirt's `qemuMigrationSrcPerformPeer2Peer3`: Begin here, Prepare on the destination, Perform here,
    /// Finish there, Confirm here. Success is the destination's Finish returning the domain.
    private func performPeer2Peer(_ obj: QEMUDomainObject, dconnuri: String, params: [TypedParam],
                                  flags: MigrateFlags, host: QEMUMigrationHost) async throws {
        guard let opener = await state.peerOpener else {
            throw VirtError.noSupport("peer-to-peer migration (no way to reach other daemons here)")
        }
        let peer: any HypervisorDriver
        do {
            peer = try await opener.openPeer(uri: dconnuri)
        } catch {
            throw VirtError.operationFailed("Failed to connect to remote libvirt URI \(dconnuri): \(Self.message(error))",
                                            domain: .qemu)
        }
        defer { Task { await peer.close() } }
        for f in [DriverFeatureCode.migrationP2P, DriverFeatureCode.migrationV3, DriverFeatureCode.migrationParams]
            where await !peer.supportsFeature(f) {
            throw VirtError.operationFailed("Destination libvirt does not support peer-to-peer migration protocol",
                                            domain: .qemu)
        }
        if flags.contains(.tunnelled) {
            for key in [MigrateParam.uri, MigrateParam.listenAddress] where params.string(key) != nil {
                throw VirtError(.argumentUnsupported, domain: .qemu,
                                "argument unsupported: migration URI and listen address are not supported with tunnelled migration",
                                str1: "migration URI and listen address are not supported with tunnelled migration")
            }
        }
        let begun = try await obj.migrationBegin(flags: flags, params: params, host: host)
        var destParams: [TypedParam] = [TypedParam(MigrateParam.destXML, .string(begun.xml))]
        for key in [MigrateParam.destName, MigrateParam.uri, MigrateParam.listenAddress] {
            if let v = params.string(key) { destParams.append(TypedParam(key, .string(v))) }
        }
        if let bw = params.uint64(MigrateParam.bandwidth) { destParams.append(TypedParam(MigrateParam.bandwidth, .ullong(bw))) }
        var destFlags = flags.subtracting([.abortOnError, .autoConverge, .peer2peer])
        if await obj.status.state == .paused { destFlags.insert(.paused) }
        let prepared: (uri: String?, cookie: [UInt8])
        var tunnel: (any ByteStream)?
        do {
            if flags.contains(.tunnelled) {
                let t = try await peer.migratePrepareTunnel3(params: destParams, cookie: begun.cookie, flags: destFlags)
                prepared = ("fd:migrate", t.cookie)
                tunnel = t.stream
            } else {
                prepared = try await peer.migratePrepare3(params: destParams, cookie: begun.cookie, flags: destFlags)
            }
        } catch {
            try? await obj.migrationConfirm(cookie: [], cancelled: true, host: host)
            // The destination daemon died before its Prepare answered: the lost connection, as libvirt says it.
            if await !peer.isAlive() {
                throw VirtError.operationFailed("Lost connection to destination host", domain: .qemu)
            }
            throw error
        }
        guard let uri = prepared.uri else {
            try? await obj.migrationConfirm(cookie: [], cancelled: true, host: host)
            throw VirtError.internalError("domainMigratePrepare3 did not set uri", domain: .qemu)
        }
        var performError: (any Error)?
        var cookieC: [UInt8] = []
        do {
            cookieC = try await obj.migrationPerform(uri: uri, cookie: prepared.cookie, host: host,
                                                     peerAlive: { await peer.isAlive() }, tunnel: tunnel)
        } catch {
            performError = error
        }
        var finished: (domain: DomainRef, cookie: [UInt8])?
        var finishError: (any Error)?
        var finishParams = destParams.filter { $0.field != MigrateParam.destXML }
        if finishParams.string(MigrateParam.destName) == nil {
            finishParams.append(TypedParam(MigrateParam.destName, .string(await obj.name)))
        }
        do {
            finished = try await peer.migrateFinish3(params: finishParams, cookie: cookieC, flags: destFlags,
                                                     cancelled: performError != nil)
        } catch {
            finishError = error
        }
        if performError == nil {
            try await obj.migrationConfirm(cookie: finished?.cookie ?? [], cancelled: finished == nil, host: host)
        }
        if finished != nil {
            if flags.contains(.undefineSource) { await undefineAfterMigration(obj) }
            return
        }
        if let performError { throw performError }
        // The destination daemon went away while QEMU's stream finished (its QEMU outlives it): as libvirt,
        // the source reports the lost connection, not the RPC layer's words, and runs on (Confirm cancelled).
        if finishError != nil, await !peer.isAlive() {
            throw VirtError.operationFailed("Lost connection to destination host", domain: .qemu)
        }
        if let e = finishError as? VirtError, e.code != .migrateFinishOK { throw e }
        throw finishError ?? VirtError.operationFailed("migration failed", domain: .qemu)
    }

    static func message(_ e: any Error) -> String { (e as? VirtError)?.message ?? "\(e)" }


    public func migrateFinish3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags, cancelled: Bool)
        async throws -> (domain: DomainRef, cookie: [UInt8]) {
        try await phase("Finish", on: "destination") {
            try await finish(params: params, cookie: cookie, flags: flags, cancelled: cancelled)
        }
    }

    private func finish(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags, cancelled: Bool)
        async throws -> (domain: DomainRef, cookie: [UInt8]) {
        let host = await state.migrationHost()
        let incoming = cookie.isEmpty ? nil : try? QEMUMigrationCookie.decode(cookie, localHostUUID: nil)
        guard let name = params.string(MigrateParam.destName) ?? incoming?.name else {
            throw VirtError.invalidArg("invalid argument: missing destination name", domain: .qemu)
        }
        guard let obj = await state.find(name: name) else {
            throw VirtError.noDomain("no domain with matching name '\(name)'", domain: .qemu)
        }
        if cancelled {
            await obj.migrationCancelIncoming()
            throw VirtError(.migrateFinishOK, domain: .qemu, "migration successfully aborted")
        }
        let out = try await obj.migrationFinish(flags: flags, cookie: incoming, host: host) { def throws(VirtError) in
            try await self.persistMigrated(obj, def)
        }
        return (await obj.ref, out)
    }

    /// PERSIST_DEST: the migrated definition becomes this host's persistent one (DEFINED/ADDED or UPDATED).
    private func persistMigrated(_ obj: QEMUDomainObject, _ def: DomainDefinition) async throws(VirtError) {
        let wasPersistent = await obj.persistent
        try LinuxSys.mkdirs(state.paths.configDir)
        try LinuxSys.writeFileAtomically(state.paths.configFile(def.name), def.formatXML())
        await obj.setDefinition(def, persistent: true)
        let ref = await obj.ref
        state.bus.emit(DomainEventRecord(domain: ref, kind: .lifecycle(.defined(wasPersistent ? .updated : .added))))
    }

    public func migrateConfirm3(_ domain: DomainRef, params: [TypedParam], cookie: [UInt8], flags: MigrateFlags,
                                cancelled: Bool) async throws {
        try await phase("Confirm", on: "source") {
            let obj = try await state.object(domain)
            try await obj.migrationConfirm(cookie: cookie, cancelled: cancelled, host: await state.migrationHost())
            if !cancelled && flags.contains(.undefineSource) { await undefineAfterMigration(obj) }
        }
    }

    /// UNDEFINE_SOURCE: the source's definition goes (UNDEFINED/REMOVED) once the guest runs elsewhere.
    private func undefineAfterMigration(_ obj: QEMUDomainObject) async {
        guard await obj.persistent, await !obj.isActive else { return }
        let ref = await obj.ref
        unlink(state.paths.configFile(ref.name))
        await state.remove(obj.uuid)
        state.bus.emit(DomainEventRecord(domain: ref, kind: .lifecycle(.undefined(.removed))))
    }

    public func migrationClientGone(incoming names: [String]) async {
        for name in names {
            guard let obj = await state.find(name: name) else { continue }
            await obj.abandonIncoming()
        }
    }

    public func migrateStartPostCopy(_ domain: DomainRef, flags: UInt32) async throws {
        try await state.object(domain).startPostCopy()
    }

    public func migrateSetMaxDowntime(_ domain: DomainRef, milliseconds: UInt64, flags: UInt32) async throws {
        try await state.object(domain).setMaxDowntime(milliseconds)
    }

    public func migrateMaxDowntime(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        try await state.object(domain).maxDowntime()
    }

    public func migrateSetMaxSpeed(_ domain: DomainRef, mibPerSecond: UInt64, flags: UInt32) async throws {
        try await state.object(domain).setMaxSpeed(mibPerSecond, postcopy: flags & 1 != 0)
    }

    public func migrateMaxSpeed(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        try await state.object(domain).maxSpeed(postcopy: flags & 1 != 0)
    }
}

extension QEMUDomainObject {
    func setMigrationFlags(_ flags: MigrateFlags) { migration.flags = flags }

    /// Cookie B: this domain and host, and the capabilities the destination's QEMU supports
    /// (late-block-activate always on for the destination).
    func prepareCookie(_ host: QEMUMigrationHost) -> QEMUMigrationCookie {
        var out = ownCookie(host)
        out.capabilities = migration.supportedCaps.map { ($0, $0 == "late-block-activate") }
        return out
    }

    func setSharedFilesystems(_ dirs: [String]) { sharedFilesystems = dirs }

    func setStorageMigration(disks: [QEMUMigrationCookie.NBD.Disk], port: Int?) {
        migration.nbdDisks = disks
        migration.nbdPort = port
    }

    func setIncomingFD(_ fd: Int32) {
        if incomingFD >= 0 && fd != incomingFD { close(incomingFD) }
        incomingFD = fd
    }
}
