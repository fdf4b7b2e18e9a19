import VirtCore

/// Live migration: libvirt's version 3 protocol with parameters (Begin, Prepare, Perform, Finish, Confirm),
/// post-copy, and the migration tunables. The phases' order is the client's (virDomainMigrate3) or, peer to
/// peer, the source daemon's business; each row is one phase on one host.
extension ProcedureTable {
    static let migrationRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainMigrateBegin3Params) { a, ctx in
            let (d, params, flags) = a.values
            let r = try await ctx.driver.migrateBegin3(d, params: params.params, flags: MigrateFlags(rawValue: flags))
            return XDRTuple2(XDROpaque(r.cookie), r.xml)
        },
        .serve(RemoteCalls.domainMigratePrepare3Params) { a, ctx in
            let (params, cookie, flags) = a.values
            let r = try await ctx.driver.migratePrepare3(params: params.params, cookie: cookie.bytes,
                                                         flags: MigrateFlags(rawValue: flags))
            if let name = params.params.string(MigrateParam.destName) ?? MigrationNames.domainName(r.cookie) {
                ctx.session.state.withLock { _ = $0.incomingMigrations.insert(name) }
            }
            return XDRTuple2(XDROpaque(r.cookie), r.uri)
        },
        .serve(RemoteCalls.domainMigratePrepareTunnel3Params) { a, ctx in
            let (params, cookie, flags) = a.values
            let r = try await ctx.driver.migratePrepareTunnel3(params: params.params, cookie: cookie.bytes,
                                                               flags: MigrateFlags(rawValue: flags))
            if let name = params.params.string(MigrateParam.destName) ?? MigrationNames.domainName(r.cookie) {
                ctx.session.state.withLock { _ = $0.incomingMigrations.insert(name) }
            }
            // The source's STREAM packets (the migration data) go to the destination QEMU from here on.
            ctx.session.addStream(ServerStream(header: ctx.header, stream: r.stream, session: ctx.session))
            return XDROpaque(r.cookie)
        },
        .serve(RemoteCalls.domainMigratePerform3Params) { a, ctx in
            let (d, dconnuri, params, cookie, flags) = a.values
            let out = try await ctx.driver.migratePerform3(d, destinationURI: dconnuri, params: params.params,
                                                           cookie: cookie.bytes, flags: MigrateFlags(rawValue: flags))
            return XDROpaque(out)
        },
        .serve(RemoteCalls.domainMigrateFinish3Params) { a, ctx in
            let (params, cookie, flags, cancelled) = a.values
            if let name = params.params.string(MigrateParam.destName) ?? MigrationNames.domainName(cookie.bytes) {
                ctx.session.state.withLock { _ = $0.incomingMigrations.remove(name) }
            }
            let r = try await ctx.driver.migrateFinish3(params: params.params, cookie: cookie.bytes,
                                                        flags: MigrateFlags(rawValue: flags), cancelled: cancelled != 0)
            return XDRTuple2(r.domain, XDROpaque(r.cookie))
        },
        .serve(RemoteCalls.domainMigrateConfirm3Params) { a, ctx in
            let (d, params, cookie, flags, cancelled) = a.values
            try await ctx.driver.migrateConfirm3(d, params: params.params, cookie: cookie.bytes,
                                                 flags: MigrateFlags(rawValue: flags), cancelled: cancelled != 0)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainMigrateStartPostCopy) { a, ctx in
            let (d, flags) = a.values
            try await ctx.driver.migrateStartPostCopy(d, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainMigrateSetMaxDowntime) { a, ctx in
            let (d, ms, flags) = a.values
            try await ctx.driver.migrateSetMaxDowntime(d, milliseconds: ms, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainMigrateGetMaxDowntime) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.migrateMaxDowntime(d, flags: flags)
        },
        .serve(RemoteCalls.domainMigrateSetMaxSpeed) { a, ctx in
            let (d, bw, flags) = a.values
            try await ctx.driver.migrateSetMaxSpeed(d, mibPerSecond: bw, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainMigrateGetMaxSpeed) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.migrateMaxSpeed(d, flags: flags)
        },
    ]
}

/// The domain name a migration cookie carries (`<name>` of `<qemu-migration>`), without parsing the rest.
enum MigrationNames {
    static func domainName(_ cookie: [UInt8]) -> String? {
        let bytes = Array(cookie.prefix { $0 != 0 })
        let open = Array("<name>".utf8), close = Array("</name>".utf8)
        func find(_ needle: [UInt8], from: Int) -> Int? {
            guard bytes.count >= needle.count else { return nil }
            var i = from
            while i + needle.count <= bytes.count {
                if Array(bytes[i..<i + needle.count]) == needle { return i }
                i += 1
            }
            return nil
        }
        guard let a = find(open, from: 0), let b = find(close, from: a + open.count) else { return nil }
        return String(decoding: bytes[(a + open.count)..<b], as: UTF8.self)
    }
}
