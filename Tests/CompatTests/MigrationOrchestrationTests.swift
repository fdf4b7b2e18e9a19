import Testing
import Virt

/// `Domain.migrate` (libvirt's virDomainMigrate3 with parameters) and `migrateToURI` against recording fakes:
/// which phase runs on which side, in which order, with which cookies, flags, parameters and `cancelled` bit, and
/// which error comes out.
@Suite struct MigrationOrchestrationTests {
    let log = MigrationCallLog()

    func connections(source: FakeMigrationDriver.Config = .init(), destination: FakeMigrationDriver.Config = .init())
        -> (Domain, Connection) {
        let src = Connection(driver: FakeMigrationDriver(side: "src", log: log, config: source))
        let dst = Connection(driver: FakeMigrationDriver(side: "dst", log: log, config: destination))
        return (Domain(connection: src, ref: FakeMigrationDriver.vm), dst)
    }

    static func qemuError(_ code: VirtError.Code, _ message: String) -> VirtError {
        VirtError(code, domain: .qemu, message)
    }

    @Test func phasesInOrderWithCookiesFlagsAndParams() async throws {
        let (dom, dst) = connections()
        let given = [TypedParam(MigrateParam.uri, .string("tcp:given:1234")),
                     TypedParam(MigrateParam.bandwidth, .ullong(100))]
        let ddom = try await dom.migrate(to: dst, flags: [.live, .abortOnError, .autoConverge], params: given)

        #expect(log.names == ["src.begin", "dst.prepare", "src.perform", "dst.finish", "src.confirm"])
        #expect(ddom.connection === dst)
        #expect(ddom.name == "vm")
        #expect(ddom.id == 42)

        let calls = log.all
        let sourceFlags: MigrateFlags = [.live, .abortOnError, .autoConverge]
        #expect(calls[0] == .begin(side: "src", params: given, flags: sourceFlags))
        let xml = FakeMigrationDriver.Config().beginXML
        // Prepare: Begin's XML as destination_xml, cookie A, flags without abort-on-error and auto-converge.
        guard case .prepare(_, let pParams, let pCookie, let pFlags) = calls[1] else { Issue.record(); return }
        #expect(pParams.string(MigrateParam.destXML) == xml)
        #expect(pParams.string(MigrateParam.uri) == "tcp:given:1234")
        #expect(pCookie == [0xA])
        #expect(pFlags == [.live])
        // Perform: no destination URI (not peer to peer), Prepare's URI replaces the given one, cookie B.
        guard case .perform(_, let dconnuri, let fParams, let fCookie, let fFlags) = calls[2] else {
            Issue.record(); return
        }
        #expect(dconnuri == nil)
        #expect(fParams.strings(MigrateParam.uri) == ["tcp:dst.example:49152"])
        #expect(fParams.uint64(MigrateParam.bandwidth) == 100)
        #expect(fCookie == [0xB])
        #expect(fFlags == sourceFlags)
        // Finish: destination_name defaults to the source's name, cookie C, destination flags.
        guard case .finish(_, let nParams, let nCookie, let nFlags, let nCancelled) = calls[3] else {
            Issue.record(); return
        }
        #expect(nParams.string(MigrateParam.destName) == "vm")
        #expect(nCookie == [0xC])
        #expect(nFlags == [.live])
        #expect(!nCancelled)
        // Confirm: cookie D, source flags, not cancelled.
        guard case .confirm(_, _, let cCookie, let cFlags, let cCancelled) = calls[4] else { Issue.record(); return }
        #expect(cCookie == [0xD])
        #expect(cFlags == sourceFlags)
        #expect(!cCancelled)
    }

    @Test func givenDestinationNameIsKept() async throws {
        let (dom, dst) = connections()
        let ddom = try await dom.migrate(to: dst, flags: .live,
                                         params: [TypedParam(MigrateParam.destName, .string("renamed"))])
        #expect(ddom.name == "renamed")
        guard case .finish(_, let params, _, _, _) = log.all[3] else { Issue.record(); return }
        #expect(params.strings(MigrateParam.destName) == ["renamed"])
    }

    @Test func pausedSourceAddsPausedFlag() async throws {
        var source = FakeMigrationDriver.Config()
        source.state = .paused
        let (dom, dst) = connections(source: source)
        _ = try await dom.migrate(to: dst, flags: .live)
        let calls = log.all
        guard case .begin(_, _, let bFlags) = calls[0], case .prepare(_, _, _, let pFlags) = calls[1],
              case .perform(_, _, _, _, let fFlags) = calls[2], case .finish(_, _, _, let nFlags, _) = calls[3],
              case .confirm(_, _, _, let cFlags, _) = calls[4] else { Issue.record(); return }
        #expect(bFlags == .live)  // Begin runs before the state is read
        #expect(pFlags == [.live, .paused])
        #expect(fFlags == [.live, .paused])
        #expect(nFlags == [.live, .paused])
        #expect(cFlags == [.live, .paused])
    }

    @Test func performFailureCancelsOnDestinationWithoutConfirm() async throws {
        var source = FakeMigrationDriver.Config()
        let performError = Self.qemuError(.operationInvalid, "Requested operation is not valid: domain is not running")
        source.failures["perform"] = performError
        let (dom, dst) = connections(source: source)
        await #expect(throws: performError) { try await dom.migrate(to: dst, flags: .live) }
        #expect(log.names == ["src.begin", "dst.prepare", "src.perform", "dst.finish(cancelled)"])
        guard case .finish(_, _, let cookie, _, true) = log.all[3] else { Issue.record(); return }
        #expect(cookie.isEmpty)
    }

    @Test func realFinishErrorReplacesQEMUsGenericPerformFailure() async throws {
        var source = FakeMigrationDriver.Config()
        source.failures["perform"] = Self.qemuError(.operationFailed, "operation failed: job 'migration out' failed")
        var destination = FakeMigrationDriver.Config()
        let finishError = Self.qemuError(.internalError, "internal error: qemu unexpectedly closed the monitor")
        destination.failures["finish"] = finishError
        let (dom, dst) = connections(source: source, destination: destination)
        await #expect(throws: finishError) { try await dom.migrate(to: dst, flags: .live) }
        #expect(log.names == ["src.begin", "dst.prepare", "src.perform", "dst.finish(cancelled)"])
    }

    @Test func finishOKKeepsPerformError() async throws {
        var source = FakeMigrationDriver.Config()
        let performError = Self.qemuError(.operationFailed, "operation failed: job 'migration out' failed")
        source.failures["perform"] = performError
        let (dom, dst) = connections(source: source)
        // The fake's cancelled Finish throws MIGRATE_FINISH_OK ("migration successfully aborted").
        await #expect(throws: performError) { try await dom.migrate(to: dst, flags: .live) }
    }

    @Test func finishFailureConfirmsCancelledAndReportsFinishError() async throws {
        var destination = FakeMigrationDriver.Config()
        let finishError = Self.qemuError(.operationFailed, "operation failed: domain did not start")
        destination.failures["finish"] = finishError
        var source = FakeMigrationDriver.Config()
        source.failures["confirm"] = Self.qemuError(.internalError, "internal error: confirm broke")
        let (dom, dst) = connections(source: source, destination: destination)
        await #expect(throws: finishError) { try await dom.migrate(to: dst, flags: .live) }
        #expect(log.names == ["src.begin", "dst.prepare", "src.perform", "dst.finish", "src.confirm(cancelled)"])
        guard case .confirm(_, _, let cookie, _, true) = log.all[4] else { Issue.record(); return }
        #expect(cookie.isEmpty)
    }

    @Test func confirmFailureAfterSuccessIsIgnored() async throws {
        var source = FakeMigrationDriver.Config()
        source.failures["confirm"] = Self.qemuError(.internalError, "internal error: confirm broke")
        let (dom, dst) = connections(source: source)
        let ddom = try await dom.migrate(to: dst, flags: .live)
        #expect(ddom.id == 42)
    }

    @Test func prepareFailureStopsThere() async throws {
        var destination = FakeMigrationDriver.Config()
        let prepareError = Self.qemuError(.operationFailed, "operation failed: no free port")
        destination.failures["prepare"] = prepareError
        let (dom, dst) = connections(destination: destination)
        await #expect(throws: prepareError) { try await dom.migrate(to: dst, flags: .live) }
        #expect(log.names == ["src.begin", "dst.prepare"])
    }

    @Test func prepareFailureWithChangeProtectionEndsTheSourceJob() async throws {
        var source = FakeMigrationDriver.Config()
        source.features.insert(DriverFeatureCode.migrateChangeProtection)
        var destination = FakeMigrationDriver.Config()
        let prepareError = Self.qemuError(.operationFailed, "operation failed: no free port")
        destination.failures["prepare"] = prepareError
        let (dom, dst) = connections(source: source, destination: destination)
        await #expect(throws: prepareError) { try await dom.migrate(to: dst, flags: .live) }
        #expect(log.names == ["src.begin", "dst.prepare", "src.confirm(cancelled)"])
        guard case .begin(_, _, let bFlags) = log.all[0], case .prepare(_, _, _, let pFlags) = log.all[1],
              case .confirm(_, _, let cookie, let cFlags, _) = log.all[2] else { Issue.record(); return }
        #expect(bFlags == [.live, .changeProtection])
        #expect(pFlags == .live)
        #expect(cFlags == [.live, .changeProtection])
        #expect(cookie.isEmpty)
    }

    @Test func prepareWithoutURIFailsAfterCancelling() async throws {
        var destination = FakeMigrationDriver.Config()
        destination.prepareURI = nil
        let (dom, dst) = connections(destination: destination)
        await #expect(throws: VirtError.internalError("domainMigratePrepare3 did not set uri", domain: .domain)) {
            try await dom.migrate(to: dst, flags: .live)
        }
        #expect(log.names == ["src.begin", "dst.prepare", "dst.finish(cancelled)", "src.confirm(cancelled)"])
        guard case .finish(_, _, let cookie, _, _) = log.all[2] else { Issue.record(); return }
        #expect(cookie == [0xB])
    }

    @Test func prepareWithoutURIUsesTheGivenOne() async throws {
        var destination = FakeMigrationDriver.Config()
        destination.prepareURI = nil
        let (dom, dst) = connections(destination: destination)
        _ = try await dom.migrate(to: dst, flags: .live, params: [TypedParam(MigrateParam.uri, .string("tcp:h:1"))])
        guard case .perform(_, _, let params, _, _) = log.all[2] else { Issue.record(); return }
        #expect(params.strings(MigrateParam.uri) == ["tcp:h:1"])
    }

    @Test func offlineSkipsPerform() async throws {
        var both = FakeMigrationDriver.Config()
        both.features.insert(DriverFeatureCode.migrationOffline)
        let (dom, dst) = connections(source: both, destination: both)
        _ = try await dom.migrate(to: dst, flags: [.offline, .persistDest])
        #expect(log.names == ["src.begin", "dst.prepare", "dst.finish", "src.confirm"])
        guard case .finish(_, _, let cookie, _, _) = log.all[2] else { Issue.record(); return }
        #expect(cookie.isEmpty)
    }

    @Test func offlineNeedsBothSides() async throws {
        var source = FakeMigrationDriver.Config()
        source.features.insert(DriverFeatureCode.migrationOffline)
        let (dom, dst) = connections(source: source)
        await #expect(throws: VirtError(.argumentUnsupported, domain: .domain,
                                        "argument unsupported: offline migration is not supported by the destination host")) {
            try await dom.migrate(to: dst, flags: .offline)
        }
        #expect(log.all.isEmpty)
    }

    @Test func refusedBeforeAnyPhase() async throws {
        let (dom, dst) = connections()
        await #expect(throws: VirtError(.invalidArg, domain: .domain,
                                        "use virDomainMigrateToURI3 for peer-to-peer migration")) {
            try await dom.migrate(to: dst, flags: [.live, .peer2peer])
        }
        await #expect(throws: VirtError(.invalidArg, domain: .domain,
                                        "cannot perform tunnelled migration without using peer2peer flag")) {
            try await dom.migrate(to: dst, flags: [.live, .tunnelled])
        }
        await #expect(throws: VirtError(.invalidArg, domain: .domain,
                                        "Flags 'VIR_MIGRATE_NON_SHARED_DISK' and 'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive")) {
            try await dom.migrate(to: dst, flags: [.nonSharedDisk, .nonSharedInc])
        }
        #expect(log.all.isEmpty)
    }

    @Test func bothSidesNeedMigrationParams() async throws {
        var destination = FakeMigrationDriver.Config()
        destination.features.remove(DriverFeatureCode.migrationParams)
        let (dom, dst) = connections(destination: destination)
        await #expect(throws: VirtError.noSupport("virDomainMigrate3", domain: .domain)) {
            try await dom.migrate(to: dst, flags: .live)
        }
        #expect(log.all.isEmpty)
    }

    @Test func readOnlyConnectionsAreRefused() async throws {
        let src = Connection(driver: ReadOnlyDriver(FakeMigrationDriver(side: "src", log: log)))
        let dst = Connection(driver: FakeMigrationDriver(side: "dst", log: log))
        let dom = Domain(connection: src, ref: FakeMigrationDriver.vm)
        #expect(src.isReadOnly)
        let denied = VirtError(.operationDenied, domain: .domain,
                               "operation forbidden: read only access prevents virDomainMigrate3")
        await #expect(throws: denied) { try await dom.migrate(to: dst, flags: .live) }
        let writable = Domain(connection: dst, ref: FakeMigrationDriver.vm)
        await #expect(throws: denied) { try await writable.migrate(to: src, flags: .live) }
        await #expect(throws: VirtError(.operationDenied, domain: .domain,
                                        "operation forbidden: read only access prevents virDomainMigrateToURI3")) {
            try await dom.migrateToURI("qemu+ssh://dst/system", flags: .live)
        }
        #expect(log.all.isEmpty)
    }

    @Test func readOnlyDriverRefusesChangesAndForwardsDowntime() async throws {
        let ro = ReadOnlyDriver(FakeMigrationDriver(side: "src", log: log))
        let vm = FakeMigrationDriver.vm
        func denied(_ api: String) -> VirtError {
            VirtError(.operationDenied, domain: .domain, "operation forbidden: read only access prevents \(api)")
        }
        #expect(await ro.supportsFeature(DriverFeatureCode.migrationParams))
        await #expect(throws: denied("virDomainMigrateBegin3Params")) { _ = try await ro.migrateBegin3(vm, params: [], flags: []) }
        await #expect(throws: denied("virDomainMigratePrepare3Params")) {
            _ = try await ro.migratePrepare3(params: [], cookie: [], flags: [])
        }
        await #expect(throws: denied("virDomainMigratePerform3Params")) {
            _ = try await ro.migratePerform3(vm, destinationURI: nil, params: [], cookie: [], flags: [])
        }
        await #expect(throws: denied("virDomainMigrateFinish3Params")) {
            _ = try await ro.migrateFinish3(params: [], cookie: [], flags: [], cancelled: false)
        }
        await #expect(throws: denied("virDomainMigrateConfirm3Params")) {
            try await ro.migrateConfirm3(vm, params: [], cookie: [], flags: [], cancelled: false)
        }
        await #expect(throws: denied("virDomainMigrateStartPostCopy")) { try await ro.migrateStartPostCopy(vm, flags: 0) }
        await #expect(throws: denied("virDomainMigrateSetMaxDowntime")) {
            try await ro.migrateSetMaxDowntime(vm, milliseconds: 10, flags: 0)
        }
        await #expect(throws: denied("virDomainMigrateSetMaxSpeed")) {
            try await ro.migrateSetMaxSpeed(vm, mibPerSecond: 10, flags: 0)
        }
        // libvirt refuses virDomainMigrateGetMaxSpeed read-only, but not virDomainMigrateGetMaxDowntime.
        await #expect(throws: denied("virDomainMigrateGetMaxSpeed")) { _ = try await ro.migrateMaxSpeed(vm, flags: 0) }
        #expect(try await ro.migrateMaxDowntime(vm, flags: 0) == 300)
        #expect(log.all.isEmpty)
    }

    @Test func migrateToURIIsOnePerformOnTheSource() async throws {
        let (dom, _) = connections()
        let params = [TypedParam(MigrateParam.destName, .string("copy"))]
        try await dom.migrateToURI("qemu+tcp://dst.example/system", flags: [.live, .persistDest], params: params)
        #expect(log.all == [.perform(side: "src", dconnuri: "qemu+tcp://dst.example/system", params: params, cookie: [],
                                     flags: [.live, .persistDest, .peer2peer])])
    }

    @Test(arguments: ["qemu+ssh://localhost/system", "qemu+tcp://localhost.localdomain:16509/system",
                      "qemu:///system", "qemu+unix:///system", "test:///default", "nonsense"])
    func migrateToURIRefusesThisHost(_ uri: String) async throws {
        let (dom, _) = connections()
        await #expect(throws: VirtError(.invalidArg, domain: .domain, "Attempt to migrate guest to the same host")) {
            try await dom.migrateToURI(uri, flags: .live)
        }
        #expect(log.all.isEmpty)
    }

    @Test func migrateToURIAcceptsAUnixSocket() async throws {
        let (dom, _) = connections()
        try await dom.migrateToURI("qemu+unix:///system?socket=/run/other/libvirt-sock", flags: .live)
        #expect(log.names == ["src.perform"])
    }

    @Test func migrateToURINeedsPeerToPeerSupport() async throws {
        var source = FakeMigrationDriver.Config()
        source.features.remove(DriverFeatureCode.migrationP2P)
        let (dom, _) = connections(source: source)
        await #expect(throws: VirtError(.argumentUnsupported, domain: .domain,
                                        "argument unsupported: p2p migration is not supported by the source host")) {
            try await dom.migrateToURI("qemu+tcp://dst/system", flags: .live)
        }
        await #expect(throws: VirtError(.argumentUnsupported, domain: .domain,
                                        "argument unsupported: direct migration is not supported by the source host")) {
            try await dom.migrateToURI3("qemu+tcp://dst/system", flags: .live)
        }
        #expect(log.all.isEmpty)
    }

    @Test func tuningCallsReachTheDriver() async throws {
        let (dom, _) = connections()
        try await dom.migrateStartPostCopy()
        try await dom.setMaxDowntime(250)
        try await dom.setMaxSpeed(64)
        try await dom.setMaxSpeed(32, postcopy: true)
        #expect(try await dom.maxDowntime() == 300)
        #expect(try await dom.maxSpeed() == 8_796_093_022_207)
        #expect(try await dom.maxSpeed(postcopy: true) == 4_398_046_511_103)
        #expect(log.names == ["src.startPostCopy", "src.setMaxDowntime(250)", "src.setMaxSpeed(64,0)",
                              "src.setMaxSpeed(32,1)", "src.maxSpeed(0)", "src.maxSpeed(1)"])
    }
}
