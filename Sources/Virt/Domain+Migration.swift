/// Live migration through the public API: libvirt's `virDomainMigrate3` (the client drives the five phases
/// between two connections), `virDomainMigrateToURI3` (peer to peer: the source daemon drives them) and the
/// calls that tune a migration in flight.
extension Domain {
    /// Migrates the domain to the host behind `destination`, as libvirt's `virDomainMigrate3` with the version 3
    /// protocol with parameters: Begin on this connection, Prepare on the destination, Perform here, Finish there,
    /// Confirm here. Returns the domain's handle on the destination.
    ///
    /// `params` are libvirt's `VIR_MIGRATE_PARAM_*` (``MigrateParam``); `destination_xml` is replaced by the
    /// definition Begin returns, `migrate_uri` by the URI Prepare returns, and `destination_name` defaults to this
    /// domain's name. Peer-to-peer and tunnelled migrations go through ``migrateToURI(_:flags:params:)``.
    public func migrate(to destination: Connection, flags: MigrateFlags = [], params: [TypedParam] = []) async throws
        -> Domain {
        if connection.isReadOnly || destination.isReadOnly { throw ReadOnlyDriver.denied("virDomainMigrate3") }
        try Self.checkExclusiveStorageFlags(flags)
        if flags.contains(.peer2peer) {
            throw Self.invalidArg("use virDomainMigrateToURI3 for peer-to-peer migration")
        }
        if flags.contains(.tunnelled) {
            throw Self.invalidArg("cannot perform tunnelled migration without using peer2peer flag")
        }
        let source = connection.driver
        let target = destination.driver
        if flags.contains(.offline) {
            if !(await source.supportsFeature(DriverFeatureCode.migrationOffline)) {
                throw Self.argumentUnsupported("offline migration is not supported by the source host")
            }
            if !(await target.supportsFeature(DriverFeatureCode.migrationOffline)) {
                throw Self.argumentUnsupported("offline migration is not supported by the destination host")
            }
        }
        // Only the version 3 protocol with parameters is implemented by the drivers; libvirt would fall back to
        // older protocols, which no driver here offers.
        guard await source.supportsFeature(DriverFeatureCode.migrationParams),
              await target.supportsFeature(DriverFeatureCode.migrationParams) else {
            throw VirtError.noSupport("virDomainMigrate3", domain: .domain)
        }
        let ddom = try await MigrationV3(source: source, target: target, domain: ref)
            .run(flags: flags, params: params)
        return Domain(connection: destination, ref: ddom)
    }

    /// Peer-to-peer migration, as libvirt's `virDomainMigrateToURI3` with `VIR_MIGRATE_PEER2PEER` (added to
    /// `flags` here): the source's driver connects to `dconnuri` (as seen from the source host) and runs every
    /// phase itself. A URI naming this host is refused, as libvirt does.
    public func migrateToURI(_ dconnuri: String, flags: MigrateFlags = [], params: [TypedParam] = []) async throws {
        try await migrateToURI3(dconnuri, flags: flags.union(.peer2peer), params: params)
    }

    /// libvirt's `virDomainMigrateToURI3`: with ``MigrateFlags/peer2peer`` the source's driver migrates to the
    /// daemon at `dconnuri` by itself; without it, a direct migration (the hypervisor sends to the `migrate_uri`
    /// parameter, `dconnuri` is unused), which only drivers answering yes to `migrationDirect` can do.
    public func migrateToURI3(_ dconnuri: String?, flags: MigrateFlags = [], params: [TypedParam] = []) async throws {
        if connection.isReadOnly { throw ReadOnlyDriver.denied("virDomainMigrateToURI3") }
        try Self.checkExclusiveStorageFlags(flags)
        if flags.contains(.offline), !(await driver.supportsFeature(DriverFeatureCode.migrationOffline)) {
            throw Self.argumentUnsupported("offline migration is not supported by the source host")
        }
        let p2p = flags.contains(.peer2peer)
        if p2p {
            if !(await driver.supportsFeature(DriverFeatureCode.migrationP2P)) {
                throw Self.argumentUnsupported("p2p migration is not supported by the source host")
            }
        } else if !(await driver.supportsFeature(DriverFeatureCode.migrationDirect)) {
            throw Self.argumentUnsupported("direct migration is not supported by the source host")
        }
        // Only the version 3 protocol with parameters is implemented by the drivers.
        guard await driver.supportsFeature(DriverFeatureCode.migrationParams) else {
            throw VirtError.noSupport("virDomainMigrateToURI3", domain: .domain)
        }
        var target: String?
        if p2p {
            guard let dconnuri else {
                throw Self.invalidArg("dconnuri in virDomainMigrateToURI3 must not be NULL")
            }
            try Self.checkNotLocal(dconnuri)
            target = dconnuri
        }
        _ = try await driver.migratePerform3(ref, destinationURI: target, params: params, cookie: [], flags: flags)
    }

    /// Switches the outgoing migration from pre-copy to post-copy (`virDomainMigrateStartPostCopy`); the
    /// migration must have been started with ``MigrateFlags/postcopy``.
    public func migrateStartPostCopy(flags: UInt32 = 0) async throws {
        try await driver.migrateStartPostCopy(ref, flags: flags)
    }

    /// Sets the maximum tolerable downtime of a live migration, in milliseconds.
    public func setMaxDowntime(_ milliseconds: UInt64, flags: UInt32 = 0) async throws {
        try await driver.migrateSetMaxDowntime(ref, milliseconds: milliseconds, flags: flags)
    }

    /// The maximum tolerable downtime of a live migration, in milliseconds.
    public func maxDowntime(flags: UInt32 = 0) async throws -> UInt64 {
        try await driver.migrateMaxDowntime(ref, flags: flags)
    }

    /// Sets the maximum migration bandwidth in MiB/s (with `postcopy`, the bandwidth of the post-copy phase:
    /// `VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY`).
    public func setMaxSpeed(_ mibPerSecond: UInt64, postcopy: Bool = false) async throws {
        try await driver.migrateSetMaxSpeed(ref, mibPerSecond: mibPerSecond, flags: postcopy ? 1 : 0)
    }

    /// The maximum migration bandwidth in MiB/s (with `postcopy`, that of the post-copy phase).
    public func maxSpeed(postcopy: Bool = false) async throws -> UInt64 {
        try await driver.migrateMaxSpeed(ref, flags: postcopy ? 1 : 0)
    }

    private var driver: any HypervisorDriver { connection.driver }

    // MARK: Checks of the public API

    /// libvirt's `VIR_EXCLUSIVE_FLAGS_GOTO(VIR_MIGRATE_NON_SHARED_DISK, VIR_MIGRATE_NON_SHARED_INC)`.
    static func checkExclusiveStorageFlags(_ flags: MigrateFlags) throws {
        if flags.contains(.nonSharedDisk) && flags.contains(.nonSharedInc) {
            throw invalidArg("Flags 'VIR_MIGRATE_NON_SHARED_DISK' and 'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive")
        }
    }

    /// libvirt's `virDomainMigrateCheckNotLocal`: a destination whose server starts with "localhost", or that
    /// names no server and is not a `+unix` URI with a `socket` parameter, is this host.
    static func checkNotLocal(_ dconnuri: String) throws {
        let local: Bool
        if dconnuri.contains("://") {
            let uri = try ConnectionURI(parsing: dconnuri)
            if let host = uri.host, !host.isEmpty {
                local = host.hasPrefix("localhost")
            } else {
                let unixSocket = uri.transport == "unix" && uri.query.contains { $0.key == "socket" }
                local = !unixSocket
            }
        } else {
            // No scheme and no server (a relative reference, as libxml2 parses it).
            local = true
        }
        if local { throw invalidArg("Attempt to migrate guest to the same host") }
    }

    /// libvirt's `virReportInvalidArg` from the public API: VIR_ERR_INVALID_ARG in the domain error domain, the
    /// message as given.
    static func invalidArg(_ message: String) -> VirtError {
        VirtError(.invalidArg, domain: .domain, message, str1: message)
    }

    /// VIR_ERR_ARGUMENT_UNSUPPORTED: "argument unsupported: …".
    static func argumentUnsupported(_ detail: String) -> VirtError {
        VirtError(.argumentUnsupported, domain: .domain, "argument unsupported: \(detail)", str1: detail)
    }
}

/// The five phases of a client-managed migration, as libvirt's `virDomainMigrateVersion3Full` with parameters:
/// which phase runs, with which cookie, flags and `cancelled` bit, and which error is reported.
struct MigrationV3 {
    let source: any HypervisorDriver
    let target: any HypervisorDriver
    let domain: DomainRef

    func run(flags requested: MigrateFlags, params given: [TypedParam]) async throws -> DomainRef {
        var flags = requested
        var params = given
        // Change protection is only for the source, and only if it can.
        let protection: MigrateFlags =
            await source.supportsFeature(DriverFeatureCode.migrateChangeProtection) ? .changeProtection : []

        // Begin (source): the migratable definition and cookie A.
        let begun = try await source.migrateBegin3(domain, params: params, flags: flags.union(protection))
        if let status = try? await source.state(domain), status.state == .paused {
            flags.insert(.paused)
        }
        let destFlags = flags.subtracting([.abortOnError, .autoConverge])

        // Prepare (destination): cookie B and the URI the source sends to.
        params.replaceString(MigrateParam.destXML, begun.xml)
        let prepared: (uri: String?, cookie: [UInt8])
        do {
            prepared = try await target.migratePrepare3(params: params, cookie: begun.cookie, flags: destFlags)
        } catch {
            if !protection.isEmpty {
                // Begin started a job on the source: end it without losing Prepare's error.
                try? await source.migrateConfirm3(domain, params: params, cookie: [], flags: flags.union(protection),
                                                  cancelled: true)
            }
            throw error
        }

        var firstError: (any Error)?
        var notifySource = true
        var cancelled = true
        var finishCookie = prepared.cookie
        if let uri = prepared.uri {
            params.replaceString(MigrateParam.uri, uri)
        }
        if prepared.uri == nil && params.string(MigrateParam.uri) == nil {
            firstError = VirtError.internalError("domainMigratePrepare3 did not set uri", domain: .domain)
        } else if flags.contains(.offline) {
            // Nothing to send: straight to Finish.
            finishCookie = []
            cancelled = false
        } else {
            // Perform (source): sends the guest; the destination's URI is in the parameters.
            do {
                finishCookie = try await source.migratePerform3(domain, destinationURI: nil, params: params,
                                                                cookie: prepared.cookie, flags: flags.union(protection))
                cancelled = false
            } catch {
                // The source knows it failed: no Confirm; Finish (cancelled) removes the destination's guest.
                firstError = error
                notifySource = false
                finishCookie = []
            }
        }

        // Finish (destination): runs the guest, or with `cancelled` removes it.
        if params.string(MigrateParam.destName) == nil {
            params.replaceString(MigrateParam.destName, domain.name)
        }
        var finished: (domain: DomainRef, cookie: [UInt8])?
        var finishError: (any Error)?
        do {
            finished = try await target.migrateFinish3(params: params, cookie: finishCookie, flags: destFlags,
                                                       cancelled: cancelled)
        } catch {
            finishError = error
        }
        if cancelled && finished == nil {
            // A real error from Finish says more than QEMU's generic "operation failed" from Perform.
            if let fe = finishError as? VirtError, fe.code != .migrateFinishOK,
               let pe = firstError as? VirtError, pe.domain == .qemu, pe.code == .operationFailed {
                firstError = nil
            }
        }
        // Without a domain on the destination, the source resumes its guest.
        cancelled = finished == nil
        if firstError == nil { firstError = finishError }

        // Confirm (source): stops the migrated guest, or resumes it when cancelled.
        if notifySource {
            try? await source.migrateConfirm3(domain, params: params, cookie: finished?.cookie ?? [],
                                              flags: flags.union(protection), cancelled: cancelled)
        }
        if let finished { return finished.domain }
        throw firstError ?? VirtError.internalError("migration failed", domain: .domain)
    }
}

extension Array where Element == TypedParam {
    /// libvirt's `virTypedParamsReplaceString`: sets the first string parameter `name` to `value`, or adds it.
    mutating func replaceString(_ name: String, _ value: String) {
        if let i = firstIndex(where: { $0.field == name }) {
            self[i] = TypedParam(name, .string(value))
        } else {
            append(TypedParam(name, .string(value)))
        }
    }
}
