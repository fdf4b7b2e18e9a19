import Synchronization
import Virt

/// One call a ``FakeMigrationDriver`` received, with the side it was made on.
enum MigrationCall: Equatable, CustomStringConvertible {
    case begin(side: String, params: [TypedParam], flags: MigrateFlags)
    case prepare(side: String, params: [TypedParam], cookie: [UInt8], flags: MigrateFlags)
    case perform(side: String, dconnuri: String?, params: [TypedParam], cookie: [UInt8], flags: MigrateFlags)
    case finish(side: String, params: [TypedParam], cookie: [UInt8], flags: MigrateFlags, cancelled: Bool)
    case confirm(side: String, params: [TypedParam], cookie: [UInt8], flags: MigrateFlags, cancelled: Bool)
    case startPostCopy(side: String)
    case suspend(side: String)
    case abortJob(side: String)
    case setMaxDowntime(side: String, ms: UInt64)
    case setMaxSpeed(side: String, mib: UInt64, flags: UInt32)
    case maxSpeed(side: String, flags: UInt32)

    /// The phase name and side, for order checks.
    var description: String {
        switch self {
        case .begin(let s, _, _): "\(s).begin"
        case .prepare(let s, _, _, _): "\(s).prepare"
        case .perform(let s, _, _, _, _): "\(s).perform"
        case .finish(let s, _, _, _, let c): "\(s).finish\(c ? "(cancelled)" : "")"
        case .confirm(let s, _, _, _, let c): "\(s).confirm\(c ? "(cancelled)" : "")"
        case .startPostCopy(let s): "\(s).startPostCopy"
        case .suspend(let s): "\(s).suspend"
        case .abortJob(let s): "\(s).abortJob"
        case .setMaxDowntime(let s, let ms): "\(s).setMaxDowntime(\(ms))"
        case .setMaxSpeed(let s, let mib, let f): "\(s).setMaxSpeed(\(mib),\(f))"
        case .maxSpeed(let s, let f): "\(s).maxSpeed(\(f))"
        }
    }
}

/// The calls of every fake of one test, in the order they arrived.
final class MigrationCallLog: Sendable {
    private let calls = Mutex<[MigrationCall]>([])
    func append(_ c: MigrationCall) { calls.withLock { $0.append(c) } }
    var all: [MigrationCall] { calls.withLock { $0 } }
    var names: [String] { all.map(\.description) }
}

/// A driver that implements the migration phases by recording them (a seam test of the orchestration in
/// `Domain.migrate` and of vsh's commands; the real phases are tested with two daemons elsewhere).
final class FakeMigrationDriver: HypervisorDriver {
    struct Config: Sendable {
        var features: Set<Int32> = [DriverFeatureCode.migrationV3, DriverFeatureCode.migrationParams,
                                    DriverFeatureCode.migrationP2P]
        var state = DomainState.running
        var beginXML = "<domain type='kvm'><name>vm</name></domain>"
        var prepareURI: String? = "tcp:dst.example:49152"
        var failures: [String: VirtError] = [:]
        /// How long Perform takes.
        var performDuration: Duration = .zero
        /// Migration iterations announced during Perform (one every 100 ms).
        var iterations: [Int32] = []
        /// Perform waits for `migrateStartPostCopy` (up to its duration) before it returns.
        var performWaitsForPostCopy = false
        /// Perform waits for `suspend` (up to its duration) before it returns.
        var performWaitsForSuspend = false
        /// Perform waits until the job statistics were asked for (up to its duration) before it returns.
        var performWaitsForJobStats = false
        var jobStats: (type: Int32, params: [TypedParam]) = (0, [])
        var maxDowntime: UInt64 = 300
        var maxSpeed: UInt64 = 8_796_093_022_207
    }

    let side: String
    let log: MigrationCallLog
    let config: Config
    let domain: DomainRef
    private let listeners = Mutex<[AsyncStream<DomainEventRecord>.Continuation]>([])
    private let postCopyStarted = Mutex(false)
    private let suspended = Mutex(false)
    private let statsAsked = Mutex(false)

    init(side: String, log: MigrationCallLog, domain: DomainRef = FakeMigrationDriver.vm, config: Config = Config()) {
        self.side = side
        self.log = log
        self.domain = domain
        self.config = config
    }

    static let vm = DomainRef(name: "vm", uuid: VirtUUID(high: 0x1111_1111_2222_3333, low: 0x4444_5555_5555_5555),
                              id: 7)

    var uri: String { "fake:///\(side)" }

    private func fail(_ phase: String) throws {
        if let e = config.failures[phase] { throw e }
    }

    func supportsFeature(_ feature: Int32) async -> Bool { config.features.contains(feature) }

    func lookupDomain(name: String) async throws -> DomainRef {
        guard name == domain.name else { throw VirtError.noDomain("no domain with matching name '\(name)'") }
        return domain
    }
    func lookupDomain(uuid: VirtUUID) async throws -> DomainRef {
        guard uuid == domain.uuid else { throw VirtError.noDomain("no domain with matching uuid '\(uuid)'") }
        return domain
    }
    func lookupDomain(id: Int32) async throws -> DomainRef {
        guard id == domain.id else { throw VirtError.noDomain("no domain with matching id \(id)") }
        return domain
    }
    func state(_ domain: DomainRef) async throws -> DomainStatus { DomainStatus(config.state) }

    func migrateBegin3(_ domain: DomainRef, params: [TypedParam], flags: MigrateFlags) async throws
        -> (xml: String, cookie: [UInt8]) {
        log.append(.begin(side: side, params: params, flags: flags))
        try fail("begin")
        return (config.beginXML, [0xA])
    }

    func migratePrepare3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags) async throws
        -> (uri: String?, cookie: [UInt8]) {
        log.append(.prepare(side: side, params: params, cookie: cookie, flags: flags))
        try fail("prepare")
        return (config.prepareURI, [0xB])
    }

    func migratePerform3(_ domain: DomainRef, destinationURI: String?, params: [TypedParam], cookie: [UInt8],
                         flags: MigrateFlags) async throws -> [UInt8] {
        log.append(.perform(side: side, dconnuri: destinationURI, params: params, cookie: cookie, flags: flags))
        let start = ContinuousClock.now
        for iteration in config.iterations {
            try await Task.sleep(for: .milliseconds(100))
            emit(DomainEventRecord(domain: domain, kind: .migrationIteration(iteration: iteration)))
        }
        while ContinuousClock.now - start < config.performDuration {
            if config.performWaitsForPostCopy && postCopyStarted.withLock({ $0 }) { break }
            if config.performWaitsForSuspend && suspended.withLock({ $0 }) { break }
            if config.performWaitsForJobStats && statsAsked.withLock({ $0 }) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        try fail("perform")
        return [0xC]
    }

    func migrateFinish3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags, cancelled: Bool) async throws
        -> (domain: DomainRef, cookie: [UInt8]) {
        log.append(.finish(side: side, params: params, cookie: cookie, flags: flags, cancelled: cancelled))
        if cancelled {
            throw config.failures["finish"] ?? VirtError(.migrateFinishOK, domain: .qemu, "migration successfully aborted")
        }
        try fail("finish")
        let name = params.string(MigrateParam.destName) ?? "?"
        return (DomainRef(name: name, uuid: FakeMigrationDriver.vm.uuid, id: 42), [0xD])
    }

    func migrateConfirm3(_ domain: DomainRef, params: [TypedParam], cookie: [UInt8], flags: MigrateFlags,
                         cancelled: Bool) async throws {
        log.append(.confirm(side: side, params: params, cookie: cookie, flags: flags, cancelled: cancelled))
        try fail("confirm")
    }

    func migrateStartPostCopy(_ domain: DomainRef, flags: UInt32) async throws {
        log.append(.startPostCopy(side: side))
        postCopyStarted.withLock { $0 = true }
        try fail("startPostCopy")
    }

    func suspend(_ domain: DomainRef) async throws {
        log.append(.suspend(side: side))
        suspended.withLock { $0 = true }
    }

    func abortJob(_ domain: DomainRef, flags: UInt32) async throws {
        log.append(.abortJob(side: side))
    }

    func jobStats(_ domain: DomainRef, completed: Bool, keepCompleted: Bool) async throws
        -> (type: Int32, params: [TypedParam]) {
        statsAsked.withLock { $0 = true }
        return config.jobStats
    }

    func migrateSetMaxDowntime(_ domain: DomainRef, milliseconds: UInt64, flags: UInt32) async throws {
        log.append(.setMaxDowntime(side: side, ms: milliseconds))
    }
    func migrateMaxDowntime(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 { config.maxDowntime }
    func migrateSetMaxSpeed(_ domain: DomainRef, mibPerSecond: UInt64, flags: UInt32) async throws {
        log.append(.setMaxSpeed(side: side, mib: mibPerSecond, flags: flags))
    }
    func migrateMaxSpeed(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        log.append(.maxSpeed(side: side, flags: flags))
        return flags == 1 ? config.maxSpeed / 2 : config.maxSpeed
    }

    func events() -> AsyncStream<DomainEventRecord> {
        let (stream, continuation) = AsyncStream<DomainEventRecord>.makeStream()
        listeners.withLock { $0.append(continuation) }
        return stream
    }

    func emit(_ record: DomainEventRecord) {
        for c in listeners.withLock({ $0 }) { c.yield(record) }
    }

    func close() async {
        for c in listeners.withLock({ $0 }) { c.finish() }
    }
}
