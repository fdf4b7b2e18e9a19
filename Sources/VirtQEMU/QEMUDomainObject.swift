import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// How a domain starts, with what that start needs: libvirt's three start kinds. It travels from the API
/// that starts the domain through every phase of the start into the external devices and the security
/// manager, and is recorded in the status file.
public enum QEMUStartKind: Sendable, Equatable, Codable {
    /// A fresh boot (create, start).
    case coldBoot
    /// From a save image (restore, or start with a managed save).
    case restore(QEMURestoreSource)
    /// An incoming migration: QEMU waits for the stream on `uri`.
    case incomingMigration(uri: String)

    /// The job operation libvirt reports for this start.
    public var operation: QEMUJobOperation {
        switch self {
        case .coldBoot: .start
        case .restore: .restore
        case .incomingMigration: .migrationIn
        }
    }

    /// The kind's name in the status file and logs.
    public var name: String {
        switch self {
        case .coldBoot: "coldBoot"
        case .restore: "restore"
        case .incomingMigration: "incomingMigration"
        }
    }

    private enum Keys: String, CodingKey { case kind, path, wasRunning, managed, uri }

    public init(from decoder: any Decoder) throws {
        // Older status files wrote the bare name.
        if let c = try? decoder.singleValueContainer(), let name = try? c.decode(String.self) {
            switch name {
            case "restore": self = .restore(QEMURestoreSource(path: "", wasRunning: true))
            case "incomingMigration": self = .incomingMigration(uri: "")
            default: self = .coldBoot
            }
            return
        }
        let c = try decoder.container(keyedBy: Keys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "restore":
            self = .restore(QEMURestoreSource(path: try c.decodeIfPresent(String.self, forKey: .path) ?? "",
                                              wasRunning: try c.decodeIfPresent(Bool.self, forKey: .wasRunning) ?? true,
                                              managed: try c.decodeIfPresent(Bool.self, forKey: .managed) ?? false))
        case "incomingMigration":
            self = .incomingMigration(uri: try c.decodeIfPresent(String.self, forKey: .uri) ?? "")
        default:
            self = .coldBoot
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(name, forKey: .kind)
        switch self {
        case .coldBoot: break
        case .restore(let s):
            try c.encode(s.path, forKey: .path)
            try c.encode(s.wasRunning, forKey: .wasRunning)
            try c.encode(s.managed, forKey: .managed)
        case .incomingMigration(let uri):
            try c.encode(uri, forKey: .uri)
        }
    }
}

/// Where a restore reads from: the save image's path, the descriptor positioned at QEMU's stream (not
/// recorded), and whether the guest ran when it was saved.
public struct QEMURestoreSource: Sendable, Equatable {
    public var path: String
    /// Open on the image, at the stream's first byte; -1 once handed to QEMU (or when not known).
    public var fd: Int32 = -1
    public var wasRunning: Bool
    /// A managed save image (removed once the domain runs from it).
    public var managed = false

    public init(path: String, fd: Int32 = -1, wasRunning: Bool, managed: Bool = false) {
        self.path = path
        self.fd = fd
        self.wasRunning = wasRunning
        self.managed = managed
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.path == b.path && a.wasRunning == b.wasRunning && a.managed == b.managed
    }
}

/// How a running domain stops: passed to the one teardown and to the external devices (swtpm gives its
/// state's label back unless the domain migrated away with the state on shared storage).
public enum QEMUStopKind: Sendable, Hashable {
    /// `virDomainDestroy` (also a failed incoming migration on the destination).
    case destroyed
    /// The guest shut down.
    case shutdown
    /// QEMU crashed or was killed.
    case crashed
    /// A start that failed, torn down.
    case failed
    /// Saved to a file or a managed save (the state's label is given back, as libvirt's save path does).
    case saved
    /// Migrated out: `success` when the destination took over.
    case migratedOut(success: Bool)

    /// The shut-off reason and STOPPED detail libvirt reports for it.
    var reason: (ShutoffReason, StoppedDetail) {
        switch self {
        case .destroyed: (.destroyed, .destroyed)
        case .shutdown: (.shutdown, .shutdown)
        case .crashed: (.crashed, .crashed)
        case .failed: (.failed, .failed)
        case .saved: (.saved, .saved)
        case .migratedOut: (.migrated, .migrated)
        }
    }
}

/// The runtime state written to the status file on every change.
public struct QEMUDomainStatus: Sendable, Codable, Hashable {
    public var id: Int32
    public var pid: Int32
    public var monitorPath: String
    public var startKind: QEMUStartKind
    public var state: Int32
    public var reason: Int32
    /// The running sync job, if any (libvirt's job name), e.g. "destroy".
    public var job: String?
    /// The async job in flight (libvirt's name, e.g. "save") and its phase, so a restarted daemon can recover.
    public var asyncJob: String?
    public var jobPhase: QEMUJobPhase?
    /// The external devices' helpers (swtpm), adopted after a daemon restart.
    public var externalDevices: [ExternalDeviceRecord]?
    /// Each disk's block node name prefix (`libvirt-N`) by alias, and the next N (hotplug).
    public var diskNodes: [String: String]?
    public var nextNodeIndex: Int?
    /// virDomainAgentSetResponseTimeout's value when not the default (libvirt's `<agentTimeout>`).
    public var agentTimeout: Int32? = nil
    /// A variable clock's adjustment at start (libvirt's `adjustment0`).
    public var clockAdjustment0: Int64? = nil
    /// The block jobs running (pull, commit, copy), so a restarted daemon adopts them.
    public var blockJobs: [String: QEMUBlockJob]?
    /// The backup job running, so a restarted daemon adopts it (QEMUDomainObject+Backup.swift).
    public var backup: QEMUBackupJob? = nil
}

extension QEMUStartKind: Hashable {
    public func hash(into h: inout Hasher) { h.combine(name) }
}

extension QEMURestoreSource: Codable {
    private enum Keys: String, CodingKey { case path, wasRunning, managed }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        self.init(path: try c.decode(String.self, forKey: .path), wasRunning: try c.decode(Bool.self, forKey: .wasRunning),
                  managed: try c.decodeIfPresent(Bool.self, forKey: .managed) ?? false)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(path, forKey: .path)
        try c.encode(wasRunning, forKey: .wasRunning)
        try c.encode(managed, forKey: .managed)
    }
}

/// One domain of the QEMU driver: its definitions, its state, and while it runs its QEMU process and monitor.
///
/// Lifecycle operations are jobs: one at a time per domain (libvirt's job model); state queries never wait.
actor QEMUDomainObject {
    let uuid: VirtUUID
    var name: String { definition.name }
    /// The persistent (or, for a transient domain, the only) definition.
    var definition: DomainDefinition
    /// The definition the running QEMU was started from, with what QEMU reported (ptys, channel states).
    var liveDefinition: DomainDefinition?
    /// The definition the running QEMU was started from, as defined (what a save image carries).
    var runDefinition: DomainDefinition?
    /// The definition the next start runs instead of the persistent one (libvirt's `def` beside `newDef`): a
    /// restore runs its image's XML, a createXML or an incoming migration of a persistent domain the given XML,
    /// while the persistent definition stays as it was. Consumed by the start.
    var nextRunDefinition: DomainDefinition?

    func setNextRun(_ def: DomainDefinition) { nextRunDefinition = def }
    var persistent: Bool
    var status = DomainStatus.shutoff(.unknown)
    var id: Int32 = -1

    let paths: QEMUDriverPaths
    let emit: @Sendable (DomainEventRecord) -> Void
    private let onStopped: @Sendable (QEMUDomainObject) async -> Void
    var process: QEMUProcess?
    var monitor: QMPMonitor?
    private var monitorPath = ""
    /// How the running QEMU was started.
    var startKind = QEMUStartKind.coldBoot
    private var eventTask: Task<Void, Never>?
    /// The ``QMPEvent/sequence`` of the last event handled, and who waits in ``catchUpWithEvents()``.
    private var eventsHandled: UInt64 = 0
    /// Which ``watch(_:_:)`` the event task belongs to; whether its stream ended.
    private var eventGeneration = 0
    private var eventsEnded = false
    private var eventWaiters: [(UInt64, CheckedContinuation<Void, Never>)] = []
    private var exitTask: Task<Void, Never>?
    /// Why QEMU is going away, when we know (shutdown seen, destroy requested).
    var stopReason: (ShutoffReason, StoppedDetail)?
    /// The domain's snapshots (QEMUDomainObject+Snapshots.swift), read from their metadata files when first asked.
    var snapshots = SnapshotTree()
    var snapshotsLoaded = false
    /// The snapshot the next start loads (`-loadvm`, a revert): QEMU stays paused, the revert reports the start.
    var startFromSnapshot: String?
    /// The next start is a revert's (either kind): it stays paused and reports nothing itself.
    var revertStarting = false
    /// How the next cold boot is reported (a revert to a shut-off snapshot that boots: from snapshot).
    var bootDetail: StartedDetail = .booted
    /// A reboot was asked for through the API: the next SHUTDOWN restarts the guest (libvirt's fake reboot).
    var fakeReboot = false
    /// After a fake reboot's `cont`, QEMU's STOP (from the shutdown) may still be queued: ignore it until RESUME.
    private var ignoreStop = false
    /// QEMU has exited and the events it sent before are being handled (only SHUTDOWN still matters).
    private var draining = false
    /// ``finishStop`` is under way (it waits for QEMU's last events).
    private var stopping = false
    /// A teardown has told QEMU to end, and how the domain stops (see ``releaseFilesEarly()``).
    private var terminating: QEMUStopKind?
    /// QEMU reported GUEST_PANICKED; the on_crash action runs once the vCPUs have stopped.
    var panicPending = false
    /// The running reason the next RESUME gives a domain that is not running (libvirt's runningReason),
    /// set by a fake reboot.
    var fakeRebootRunningReason: RunningReason?
    /// libvirt's job object: the sync job, the async job with its mask and phase.
    var jobs = QEMUJobState()
    /// Calls waiting for the job lock.
    var jobWaiters: [UUID: QEMUJobWaiter] = [:]
    /// The security driver of the running QEMU and the paths it labelled (restored when QEMU has ended).
    var security: any SecurityManager = NoOpSecurityManager()
    var labelled: [SecurityLabelTarget] = []
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    /// The guest agent connection, while the guest has the agent's port open.
    var agent: QEMUGuestAgent?
    /// Those waiting for QEMU's SHUTDOWN or RESET (an agent shutdown in progress).
    var agentEventWaiters: [(String, CheckedContinuation<Void, Never>)] = []
    /// How many SHUTDOWN and RESET events QEMU has reported (an agent shutdown waits for the next one).
    var qemuEventCounts: [String: Int] = [:]
    /// The running reason the next RESUME gives (set before a `cont` whose reason is not "unpaused").
    var resumeReason: RunningReason?
    /// Those waiting for QEMU's next MIGRATION event (saves, restores).
    var migrationWaiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    /// How the domain is stopping, once known (passed to the teardown).
    var stopKind: QEMUStopKind?
    /// The external devices of the running QEMU (swtpm), and their records for the status file.
    var externalDevices: [SwtpmDevice] = []
    var externalRecords: [ExternalDeviceRecord] = []
    /// The domain's channel socket directory while it runs (libvirt's channelTargetDir).
    private var channelDir: String?
    var channelDirectory: String? { channelDir }
    /// The domain's memory backing directory while it runs, when its file-backed RAM needed one.
    var memoryDir: String?
    /// What the phases of a migration in flight pass to each other on this host, and the migration tunables.
    var migration = QEMUMigrationState()
    /// A restore whose stream QEMU was told to load during the launch phase (``launchQEMU``).
    var incomingStarted = false
    /// Tunnelled incoming migration: the read end of the pipe QEMU is given at `migrate-incoming`.
    var incomingFD: Int32 = -1
    /// Paths treated as shared storage (qemu.conf's `shared_filesystems`), besides network filesystems.
    var sharedFilesystems: [String] = []
    /// qemu.conf's `auto_dump_path` (nil: the driver's `lib/qemu/dump`).
    var autoDumpPath: String?
    /// The running QEMU's cgroup, if the driver places QEMUs in cgroups.
    var cgroup: QEMUCgroup?
    /// What the status files hold now (rewritten only on change).
    var writtenStatus = WrittenStatus()
    /// Hot-plugged devices: block node names, pending unplugs (QEMUDomainObject+Hotplug.swift).
    var hotplug = QEMUHotplugState()
    /// The perf events counted for the running QEMU (QEMUDomainObject+Diagnostics.swift).
    var perf = QEMUPerfEvents()
    /// virDomainAgentSetResponseTimeout's value: -2 block (the driver's long agent timeout), -1 libvirt's default
    /// (5 s), 0 no wait, else seconds.
    var agentResponseTimeout: Int32 = -2
    /// A variable clock's adjustment when QEMU started (libvirt's `adjustment0`): QEMU's RTC_CHANGE offsets count
    /// from it. Nil for other clock offsets.
    var clockAdjustment0: Int64?
    /// Storage nodes with a write threshold, and whether it was set with an index (`vda[1]`), which the
    /// BLOCK_THRESHOLD event's device then carries (QEMUDomainObject+HostControl.swift).
    var blockThresholdWithIndex: [String: Bool] = [:]
    /// MEMORY_DEVICE_SIZE_CHANGE events of a memory device whose attach has not finished yet
    /// (QEMUDomainObject+HotplugMemory.swift).
    var earlyMemorySizeChanges: [QMPEvent] = []
    /// Block jobs by disk target, and the callers waiting for their end (QEMUDomainObject+BlockJobs.swift).
    var blockJobs: [String: QEMUBlockJob] = [:]
    /// The backup job running (QEMUDomainObject+Backup.swift).
    var backup: QEMUBackupJob?
    var blockJobWaiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    struct WrittenStatus {
        var status: QEMUDomainStatus?
        /// The live XML as written (compared as text: DomainDefinition's equality ignores live-only state).
        var xml: String?
    }

    init(definition: DomainDefinition, persistent: Bool, paths: QEMUDriverPaths,
         emit: @escaping @Sendable (DomainEventRecord) -> Void,
         onStopped: @escaping @Sendable (QEMUDomainObject) async -> Void) {
        self.uuid = definition.uuid
        self.definition = definition
        self.persistent = persistent
        self.paths = paths
        self.emit = emit
        self.onStopped = onStopped
    }

    var ref: DomainRef { DomainRef(name: definition.name, uuid: uuid, id: id) }
    var isActive: Bool { status.state.isActive }

    func setDefinition(_ def: DomainDefinition, persistent: Bool) {
        definition = def
        self.persistent = persistent
    }

    func makeTransient() { persistent = false }

    func raise(_ e: LifecycleEvent) {
        emit(DomainEventRecord(domain: ref, kind: .lifecycle(e)))
    }

    // MARK: Start

    /// Starts the domain the way `kind` says, in libvirt's phases: prepare the host (directories, labels),
    /// start the external devices, launch QEMU, then finish the startup by kind (cold boot: `cont` unless
    /// paused; restore: load the image, then run or stay paused; incoming migration: wait for the stream).
    /// Whatever phase fails, ``teardown(_:)`` undoes what was done, and the domain is shut off (failed).
    /// Runs as libvirt's async START job: only a destroy may run meanwhile.
    func start(_ kind: QEMUStartKind, id newID: Int32, capabilities: QEMUCapabilities, paused: Bool,
               security: any SecurityManager = NoOpSecurityManager(),
               swtpm: SwtpmHostConfig? = nil, cgroups: QEMUCgroupConfig? = nil) async throws(VirtError) {
        // An incoming migration runs as libvirt's MIGRATION_IN job, which Finish ends; other starts as START.
        let incoming: Bool
        if case .incomingMigration = kind { incoming = true } else { incoming = false }
        try await beginAsyncJob(incoming ? .migrationIn : .start, operation: kind.operation,
                                owner: incoming ? "migrate-prepare" : "start")
        guard !isActive else {
            endAsyncJob()
            throw VirtError.operationInvalid("domain is already running", domain: .qemu)
        }
        startKind = kind
        do {
            var run = try prepareHost(id: newID, capabilities: capabilities, security: security, swtpm: swtpm)
            try prepareCgroup(cgroups, &run)
            try await startExternalDevices(kind)
            setJobPhase(.launching)
            try await launchQEMU(run, kind: kind, capabilities: capabilities)
            try await finishStartup(kind, paused: paused)
        } catch {
            await teardown(.failed, emitEvent: false)
            // As libvirt: a start that fails leaves the domain shut off with reason "failed".
            status = .shutoff(.failed)
            endAsyncJob()
            throw error
        }
        if !incoming { endAsyncJob() }
    }

    /// libvirt's check before a start: every local disk image must exist ("Cannot access storage file").
    private static func checkDiskSources(_ def: DomainDefinition) throws(VirtError) {
        // An image passed as descriptors (fdgroup) is not looked at by path (libvirt assumes it exists).
        for d in def.devices.disks where (d.type == .file || d.type == .block || d.type == .volume) && d.source.fdGroup == nil {
            guard let path = d.localPath, !path.isEmpty, d.source.startupPolicy != "optional" else { continue }
            if access(path, F_OK) != 0 {
                throw VirtError.systemError("Cannot access storage file '\(path)'", errno: errno, domain: .qemu)
            }
        }
    }

    /// Volume disks resolved by the driver for the next start ("pool/volume" → path, block device or not).
    var resolvedVolumes: [String: (path: String, block: Bool)] = [:]

    func setResolvedVolumes(_ r: [String: (path: String, block: Bool)]) { resolvedVolumes = r }

    /// The bridge of each interface of type network, by network name, resolved by the driver for the next start.
    var resolvedNetworkBridges: [String: String] = [:]
    /// The tap devices made for the running QEMU (names) and, until QEMU has them, their descriptors.
    var tapDevices: [String] = []
    /// The tap whose shaping failed in ``createTap(_:)`` (its bandwidth is cleared like libvirt's failed start).
    var failedTapName: String?
    /// The bandwidth of each network interface's port, by MAC (libvirt's actual bandwidth: a portgroup's when
    /// the interface has none of its own).
    var actualBandwidths: [MACAddress: NetBandwidth] = [:]
    var tapHostFDs: [Int32] = []
    /// Descriptor groups clients associated with the domain (virDomainFDAssociate), by name; they outlive runs
    /// and go with the client's connection or the domain object (QEMUDomainObject+FDGroups.swift).
    var fdGroups: [String: DiskFDGroup] = [:]
    /// The duplicates of the fdgroup descriptors QEMU gets at launch (closed once it has them).
    var fdSetHostFDs: [Int32] = []

    func setResolvedNetworkBridges(_ r: [String: String]) { resolvedNetworkBridges = r }
    /// The daemon's network driver (ports of `<interface type='network'>`).
    var networkPortDriver: (any NetworkDriver)?
    /// The network ports the domain holds while it runs.
    var networkPorts: [HeldNetworkPort] = []
    /// The port of each network interface (by index) for the start under way.
    var pendingPortIDs: [Int: VirtUUID] = [:]
    /// The passphrases of the encrypted disks (by target dev), read from the secret driver for the next start.
    var diskPassphrases: [String: [UInt8]] = [:]
    func setDiskPassphrases(_ p: [String: [UInt8]]) { diskPassphrases = p }
    /// The private directory of the running QEMU (where its monitor socket and master key are).
    var privateDirectory: String {
        String(monitorPath.prefix(upTo: monitorPath.lastIndex(of: "/") ?? monitorPath.startIndex))
    }
    func addResolvedNetworkBridge(_ network: String, _ bridge: String) { resolvedNetworkBridges[network] = bridge }

    /// What the launch phase needs from the host phase.
    struct PreparedRun {
        var id: Int32
        var libDir: String
        var commandLine: QEMUCommandLine
        var arguments: [String]
        /// The live definition (defaults, aliases, addresses, emulator, security label).
        var live: DomainDefinition
    }

    /// Phase 1: directories, the completed definition and command line, the security labels. Everything it
    /// creates is recorded so that ``teardown(_:emitEvent:)`` removes it.
    private func prepareHost(id newID: Int32, capabilities: QEMUCapabilities, security: any SecurityManager,
                             swtpm: SwtpmHostConfig?) throws(VirtError) -> PreparedRun {
        var def = nextRunDefinition ?? definition
        nextRunDefinition = nil
        // Volume disks name the volume the storage driver resolved before the start.
        for i in def.devices.disks.indices where def.devices.disks[i].type == .volume {
            let src = def.devices.disks[i].source
            if let r = resolvedVolumes[(src.pool ?? "") + "/" + (src.volume ?? "")] {
                def.devices.disks[i].source.resolvedVolume = r
            }
        }
        try Self.checkDiskSources(def)
        for m in def.devices.memories { try QEMUMemoryDevices.checkPath(m) }
        // A variable clock on a local-time basis becomes an offset from UTC now, as libvirt converts it (the live
        // XML then says basis='utc'): RTC_CHANGE and migration need no time zone afterwards. Its adjustment at
        // start is kept (libvirt's adjustment0): RTC_CHANGE offsets count from it.
        if def.clock.offset == .variable {
            if def.clock.basis == "localtime" {
                def.clock.adjustment = (def.clock.adjustment ?? 0) + Int64(TimeZone.current.secondsFromGMT())
                def.clock.basis = "utc"
            }
            clockAdjustment0 = def.clock.adjustment ?? 0
        } else {
            clockAdjustment0 = nil
        }
        runDefinition = def
        let libDir = paths.domainLibDir(id: newID, name: def.name)
        // The directories above the domain's own (0750, given to QEMU's user with the other labels) stay
        // traversable: QEMU running as its user opens its master key there.
        try LinuxSys.mkdirs(paths.libDir)
        try LinuxSys.mkdirs(libDir, mode: 0o750)
        try LinuxSys.mkdirs(paths.stateDir)
        try LinuxSys.mkdirs(paths.logDir)
        monitorPath = libDir + "/monitor.sock"
        // The definition completed as libvirt's QEMU driver does (default devices, aliases, addresses): what
        // the command line is built from and what the live XML shows.
        var prepared = QEMUCommandLine.prepared(def, capabilities: capabilities)
        // Backing chains as libvirt detects them (QEMUBackingChain.swift): nodes of their own on the command line.
        try QEMUBackingChain.detectChains(&prepared.devices.disks)
        let chanDir = paths.channelTargetDir(id: newID, name: def.name)
        if Self.assignChannelPaths(&prepared, dir: chanDir) {
            try LinuxSys.mkdirs(chanDir, mode: 0o750)
            channelDir = chanDir
        } else {
            channelDir = nil
        }
        // Tap devices on their bridges for interfaces of type network and bridge (the descriptors follow the
        // monitor's, and the restore image's when there is one).
        var restoreFD = false
        if case .restore(let src) = startKind, src.fd >= 0 { restoreFD = true }
        let tapFDNumbers = try createTaps(&prepared, firstFD: QEMULauncher.monitorFD + 1 + (restoreFD ? 1 : 0))
        var cl = QEMUCommandLine(definition: prepared, capabilities: capabilities)
        // Disks opened through associated descriptors: an fdset each, their descriptors after the taps'.
        cl.diskFDSets = try prepareDiskFDSets(
            prepared, firstFD: QEMULauncher.monitorFD + 1 + (restoreFD ? 1 : 0) + Int32(tapHostFDs.count))
        self.security = security
        cl.memoryBackingDir = try prepareMemoryBackingDir(for: prepared, id: newID)
        cl.tapFDs = tapFDNumbers
        cl.monitorFD = QEMULauncher.monitorFD
        cl.channelTargetDir = chanDir
        // The master key QEMU decrypts the domain's secrets with (libvirt makes one at every start), and the
        // passphrases of encrypted disks encrypted with it.
        let qemuUser = try security.processCredentials()
        // The private directory belongs to QEMU's user whatever dynamic_ownership says (libvirt's
        // DomainSetPathLabel of priv->libDir): QEMU opens its master key there.
        if let u = qemuUser, chown(libDir, u.uid, u.gid) != 0 {
            throw VirtError.systemError("unable to set ownership of '\(libDir)'", errno: errno, domain: .qemu)
        }
        let masterKey = try QEMUMasterKey.create(in: libDir, owner: qemuUser)
        cl.privateDir = libDir
        let passphrases = diskPassphrases
        diskPassphrases = [:]
        for (dev, value) in passphrases {
            cl.diskSecrets[dev] = try QEMUEncryptedSecret(value: value, masterKey: masterKey)
        }
        // External devices (swtpm) for the emulated TPMs: QEMU connects to their sockets.
        if let swtpm {
            externalDevices = try SwtpmDevice.devices(for: prepared, domainID: newID, paths: paths, config: swtpm)
            for d in externalDevices { cl.tpmSocketPaths[d.alias] = d.socketPath }
        }
        var args = try security.processArguments(cl.arguments())
        if startKind != .coldBoot { args += ["-incoming", "defer"] }
        if let snap = startFromSnapshot, startKind == .coldBoot { args += ["-loadvm", snap] }
        // Label what QEMU opens as its user (given back by the teardown).
        let logFD = open(paths.logFile(def.name), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if logFD >= 0 { close(logFD) }
        self.security = security
        let targets = securityTargets(prepared, libDir: libDir)
        labelled = targets
        try security.setLabels(targets, start: startKind)
        var live = prepared
        // The live XML names the emulator that runs, as libvirt's does.
        if live.devices.emulator == nil { live.devices.emulator = cl.emulator }
        QEMUBackingChain.markChainEnds(&live.devices.disks)
        security.addLiveLabel(to: &live)
        return PreparedRun(id: newID, libDir: libDir, commandLine: cl, arguments: args, live: live)
    }

    /// Phase 2: helper processes that must run before QEMU (swtpm), told the start kind: their storage and
    /// ownership, then the helper itself. Their records go into the status file.
    private func startExternalDevices(_ kind: QEMUStartKind) async throws(VirtError) {
        if externalDevices.isEmpty {
            for tpm in (runDefinition ?? definition).devices.tpms {
                if case .emulator = tpm.backend {
                    throw VirtError.configUnsupported("TPM emulator needs the driver's swtpm set-up", domain: .qemu)
                }
            }
            return
        }
        externalRecords = []
        for d in externalDevices {
            try await d.prepareHost(kind)
            try await d.start(kind)
            if let r = await d.record { externalRecords.append(r) }
        }
    }

    /// Phase 3: QEMU itself, its monitor, the ptys and channel states it reports, the reboot action.
    private func launchQEMU(_ run: PreparedRun, kind: QEMUStartKind,
                            capabilities: QEMUCapabilities) async throws(VirtError) {
        let def = runDefinition ?? definition
        var passFDs: [Int32] = []
        if case .restore(let src) = kind, src.fd >= 0 { passFDs.append(src.fd) }
        passFDs += tapHostFDs
        passFDs += fdSetHostFDs
        var spec = ProcessLaunchSpec(
            binary: run.commandLine.emulator, arguments: run.arguments, logPath: paths.logFile(def.name),
            pidfilePath: paths.pidFile(def.name),
            environment: ["HOME=\(run.libDir)", "XDG_DATA_HOME=\(run.libDir)/.local/share",
                          "XDG_CACHE_HOME=\(run.libDir)/.cache", "XDG_CONFIG_HOME=\(run.libDir)/.config"],
            credentials: try security.processCredentials(), umask: 0o002)
        spec.passFDs = passFDs
        spec.cgroupProcsFiles = cgroup?.joinFiles ?? []
        spec.maxMemLock = Self.memLockLimit(def)
        let (proc, mon) = try await QEMULauncher.start(spec, monitorPath: monitorPath, vmName: def.name)
        closeTapFDs()
        process = proc
        monitor = mon
        id = run.id
        stopReason = nil
        var live = run.live
        try await readPTYPaths(mon, into: &live)
        try await refreshChannelStates(mon, into: &live)
        if QEMULifecycleActions.needsRebootShutdownAction(def) {
            // A guest reboot then ends in a SHUTDOWN event (reason guest-reset): the domain shuts off.
            try await mon.execute("set-action", arguments: ["reboot": "shutdown"])
        }
        // As libvirt at every start: QEMU reports migrations (saves, restores) as MIGRATION and
        // MIGRATION_PASS events. The vCPU slots and threads read below go in the same round trip.
        let first = await mon.executeInOrder([
            QMPCommand("migrate-set-capabilities", arguments: ["capabilities": [["capability": "events", "state": true]]]),
            QMPCommand("query-hotpluggable-cpus"), QMPCommand("query-cpus-fast"),
        ])
        try first[0].get()
        hotplug = QEMUHotplugState(startingFrom: live)
        for i in live.devices.disks.indices {
            if let a = live.devices.disks[i].info.alias, let node = hotplug.diskNodes[a] {
                live.devices.disks[i].source.index = Self.nodeNumber(node)
            }
        }
        liveDefinition = live
        // The enabled hotpluggable vCPUs, added before the guest CPUs run (QEMUDomainObject+Vcpus.swift).
        try await setUpHotpluggableVcpusAtStart(mon, prefetched: (first[1], first[2]))
        // A restore's stream starts loading here, once every device the image has state for exists: QEMU reads
        // the image while the host-side set-up below runs (cgroups, tunables, the status file); QMP commands
        // sent meanwhile are answered once the load is over.
        incomingStarted = false
        if case .restore = kind {
            jobs.phase = .loading
            migration.lastStatus = ""
            let fd = QEMULauncher.monitorFD + 1  // the image descriptor follows the monitor's
            try await mon.execute("migrate-incoming", arguments: ["uri": .string("fd:\(fd)")])
            incomingStarted = true
        }
        // The DIMMs' base addresses as QEMU placed them (libvirt's qemuDomainUpdateMemoryDeviceInfo).
        await refreshMemoryDeviceInfo(mon)
        // The current memory as the balloon reports it (libvirt's qemuProcessRefreshBalloonState): without
        // NVDIMMs, virtio-pmem and the virtio-mem memory the guest has not plugged.
        if !live.devices.memories.isEmpty && live.devices.memballoon.map({ $0.model != .none }) == true {
            await refreshBalloon(mon)
        }
        // QEMU's threads into their sub-cgroups, the cgroup tunables (QEMUDomainObject+Cgroup.swift).
        try await setupCgroupAfterLaunch()
        // The disks' <iotune> (QEMUDomainObject+Block.swift).
        try await applyDiskThrottlingAtStart(mon)
        // <cputune> pins and the balloon's statistics period (QEMUDomainObject+Stats.swift).
        await applyTuningAfterLaunch()
        // The perf events <perf> enables (libvirt's qemuProcessEnablePerf).
        try enablePerfEvents(live, pid: proc.pid)
        status = .paused(.startingUp)
        watch(proc, mon)
        if let i = Self.agentChannelIndex(live), live.devices.channels[i].targetState == "connected" {
            connectAgent()
        }
        raiseAgentStateAtStart(live)
        writeStatus()
    }

    /// Phase 4: the start kind's own ending.
    private func finishStartup(_ kind: QEMUStartKind, paused: Bool) async throws(VirtError) {
        let mon = try requireMonitorStarting()
        switch kind {
        case .coldBoot where revertStarting:
            // A revert: the guest state is the snapshot's; the revert runs it and reports it.
            status = .paused(.fromSnapshot)
            writeStatus()
        case .coldBoot:
            let detail = bootDetail
            bootDetail = .booted
            if paused {
                raise(.started(detail))
                status = .paused(.user)
                raise(.suspended(.paused))
                writeStatus()
            } else {
                try await mon.execute("cont")
                setRunning(.booted)
                raise(.started(detail))
            }
        case .restore(let src):
            // In memory only: a restarted daemon treats a start in flight alike in every phase. The load began
            // in the launch phase.
            if !incomingStarted {
                jobs.phase = .loading
                let fd = QEMULauncher.monitorFD + 1  // the image descriptor follows the monitor's
                migration.lastStatus = ""
                try await mon.execute("migrate-incoming", arguments: ["uri": .string("fd:\(fd)")])
            }
            incomingStarted = false
            // QEMU's MIGRATION event "completed" ends the wait: no statistics are kept for a restore, and a
            // query right after the load waits for QEMU's post-load work (a round trip the restore does not need).
            try await waitMigration(mon, what: "start", completedByEvent: true)
            raise(.started(.restored))
            if src.wasRunning && !paused {
                resumeReason = .restored
                try await mon.execute("cont")
                setRunning(.restored)
            } else {
                // As libvirtd 9.0: a restore that stays paused (saved paused, or --paused) keeps the paused
                // reason of the incoming stream and reports SUSPENDED/RESTORED.
                status = .paused(.migration)
                raise(.suspended(.restored))
                writeStatus()
            }
        case .incomingMigration(let uri):
            try await startIncomingStream(listen: uri)
        }
    }

    /// The monitor of a QEMU being started.
    func requireMonitorStarting() throws(VirtError) -> QMPMonitor {
        guard let m = monitor, process != nil else {
            throw VirtError.operationFailed("QEMU ended during startup", domain: .qemu)
        }
        return m
    }

    /// Waits for the migration QEMU runs (incoming or outgoing) to end: returns when it completed, throws
    /// libvirt's "job 'X' failed" or "canceled" otherwise. Aborts (domjobabort) cancel it.
    func waitMigration(_ mon: QMPMonitor, what: String, completedByEvent: Bool = false) async throws(VirtError) {
        // Waiting for the event, the query is only the fallback (a QEMU that died without one).
        var delay = completedByEvent ? 200 : 5
        // Waiting for the event, the first look is the event's (an incoming QEMU answers a query only once its
        // load is over, just before the event); the query comes when no event did within the delay.
        var wokenByEvent = completedByEvent
        while true {
            if process == nil {
                throw VirtError.operationFailed("job '\(what)' failed: QEMU ended", domain: .qemu)
            }
            if completedByEvent && migration.lastStatus == "completed" && !jobs.abortRequested { return }
            if completedByEvent && wokenByEvent && !jobs.abortRequested
                && !["failed", "cancelled"].contains(migration.lastStatus) {
                // An event on the way (setup, active, device): nothing to ask QEMU, which is busy migrating.
                let before = migration.eventCount
                await waitMigrationEvent(timeout: .milliseconds(delay))
                wokenByEvent = migration.eventCount != before
                continue
            }
            if jobs.abortRequested {
                _ = try? await mon.execute("migrate_cancel")
            }
            let q: JSONValue
            let eventsBefore = migration.eventCount
            do {
                q = try await mon.execute("query-migrate")
            } catch {
                // QEMU went away while migrating: libvirt's words, with what QEMU printed.
                if let p = process, !QEMUProcess.isAlive(p.pid) || p.exitWaiter.result != nil {
                    let out = p.logOutput()
                    if !out.isEmpty {
                        throw VirtError.internalError("qemu unexpectedly closed the monitor: \(out)", domain: .qemu)
                    }
                }
                throw error
            }
            jobs.current?.update(fromQueryMigrate: q)
            let elapsed = asyncElapsedMs
            jobs.current?.elapsedMs = elapsed
            switch q["status"]?.stringValue ?? "" {
            case "completed":
                return
            case "failed":
                let why = q["error-desc"]?.stringValue ?? "unexpectedly failed"
                throw VirtError.operationFailed("job '\(what)' failed: \(why)", domain: .qemu)
            case "cancelled":
                throw VirtError(.operationAborted, domain: .qemu,
                                "operation aborted: job '\(what)' canceled by client",
                                str1: "job '\(what)' canceled by client")
            default:
                // An event that came while the query ran (QEMU answers a query made during an incoming load
                // only when the load is over, just before its "completed" event): look again now.
                if migration.eventCount != eventsBefore {
                    wokenByEvent = true
                    continue
                }
                // QEMU's MIGRATION event says when the status changes; the timeout only bounds the wait
                // (an abort, statistics for domjobinfo, a QEMU that died without an event).
                let before = migration.eventCount
                await waitMigrationEvent(timeout: .milliseconds(delay))
                wokenByEvent = migration.eventCount != before
                delay = min(delay * 2, 200)
            }
        }
    }

    /// Waits for QEMU's next MIGRATION event, at most `timeout`.
    func waitMigrationEvent(timeout: Duration) async {
        let id = UUID()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            migrationWaiters[id] = c
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                await self?.wakeMigrationWaiter(id)
            }
        }
    }

    private func wakeMigrationWaiter(_ id: UUID) {
        migrationWaiters.removeValue(forKey: id)?.resume()
    }

    /// A MIGRATION event: everyone waiting in ``waitMigration(_:what:)`` looks at the status again.
    private func migrationEvent() { wakeMigrationWaiters() }

    /// Everyone in ``waitMigrationEvent(timeout:)`` looks again.
    func wakeMigrationWaiters() {
        let w = migrationWaiters
        migrationWaiters = [:]
        for (_, c) in w { c.resume() }
    }

    /// Removes the channel socket directory of the last run.
    private func removeChannelDir() {
        guard let dir = channelDir else { return }
        channelDir = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The paths the security driver labels for a QEMU of `def` (its own files included).
    private func securityTargets(_ def: DomainDefinition, libDir: String) -> [SecurityLabelTarget] {
        var extra = [
            SecurityLabelTarget(path: paths.logFile(def.name), kind: .log, required: false),
            SecurityLabelTarget(path: libDir, kind: .privateDir, required: false),
        ]
        if let channelDir { extra.append(SecurityLabelTarget(path: channelDir, kind: .privateDir, required: false)) }
        return SecurityLabelTarget.targets(for: def, extra: extra)
    }

    /// Gives the labelled paths back (once), noting failures in the domain log.
    /// The security driver is told how QEMU stopped (after a successful outgoing migration it keeps the labels
    /// of shared storage, which the destination's QEMU uses now).
    private func restoreSecurityLabels(_ kind: QEMUStopKind? = nil) {
        guard !labelled.isEmpty else { return }
        let targets = labelled
        labelled = []
        for f in security.restoreLabels(targets.reversed(), stop: kind ?? .destroyed) {
            QEMUProcess.appendNote(paths.logFile(definition.name), f)
        }
    }

    /// The pty QEMU allocated for each pty chardev (`query-chardev`), recorded in the live definition.
    private func readPTYPaths(_ mon: QMPMonitor, into def: inout DomainDefinition) async throws(VirtError) {
        guard def.devices.serials.contains(where: { $0.source.type == .pty }) else { return }
        let list = try await mon.execute("query-chardev")
        var ptys: [String: String] = [:]
        for c in list.arrayValue ?? [] {
            if let label = c["label"]?.stringValue, let f = c["filename"]?.stringValue, f.hasPrefix("pty:") {
                ptys[label] = String(f.dropFirst(4))
            }
        }
        for i in def.devices.serials.indices where def.devices.serials[i].source.type == .pty {
            def.devices.serials[i].source.path = ptys["charserial\(i)"]
        }
    }

    /// A stream on the pty of the console or serial port named `device` (an alias), or of the first one.
    func openConsole(device: String?) throws(VirtError) -> PTYStream {
        guard isActive, let live = liveDefinition else {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        let candidates = live.devices.serials
        let chosen: CharDevice?
        if let device {
            chosen = candidates.first { $0.info.alias == device }
                ?? (device == "console0" ? candidates.first : nil)
        } else {
            chosen = candidates.first
        }
        guard let dev = chosen else {
            throw VirtError(.internalError, domain: .qemu,
                            "internal error: cannot find character device \(device ?? "<null>")")
        }
        guard dev.source.type == .pty, let path = dev.source.path else {
            throw VirtError(.operationUnsupported, domain: .qemu,
                            "Operation not supported: character device \(dev.info.alias ?? "serial0") is not using a PTY")
        }
        return try PTYStream(path: path)
    }

    /// Running after `cont`: RESUMED once (the RESUME event may have done it first), with the detail
    /// libvirt derives from the running reason.
    func setRunning(_ reason: RunningReason) {
        guard status.state == .paused else { return }
        resumeReason = nil
        status = .running(reason)
        let detail: ResumedDetail
        switch reason {
        case .restored, .fromSnapshot: detail = .fromSnapshot
        case .migrated, .migrationCanceled: detail = .migrated
        case .postcopy: detail = .postcopy
        case .postcopyFailed: detail = .postcopyFailed
        default: detail = .unpaused
        }
        raise(.resumed(detail))
        writeStatus()
    }

    private func watch(_ proc: QEMUProcess, _ mon: QMPMonitor) {
        eventGeneration += 1
        eventsHandled = 0
        eventsEnded = false
        let generation = eventGeneration
        eventTask = Task { [weak self] in
            for await ev in mon.events {
                await self?.handle(ev)
                await self?.handled(ev.sequence, generation: generation)
            }
            await self?.handled(.max, generation: generation)
        }
        exitTask = Task { [weak self] in
            await proc.exitWaiter.wait()
            await self?.processExited(proc)
        }
    }

    private func handled(_ sequence: UInt64, generation: Int) {
        guard generation == eventGeneration else { return }
        if sequence == .max {
            eventsEnded = true
            releaseFilesEarly()
        }
        eventsHandled = sequence
        let ready = eventWaiters.filter { $0.0 <= sequence }
        eventWaiters.removeAll { $0.0 <= sequence }
        for (_, c) in ready { c.resume() }
    }

    /// Waits until every event QEMU sent before the last reply has been handled, as libvirt's single monitor
    /// thread sees them (our events go through their own task, replies straight to the caller). Not from an
    /// event handler: the event being handled would wait for itself.
    func catchUpWithEvents() async {
        guard let mon = monitor, !eventsEnded else { return }
        let target = mon.eventCount
        guard eventsHandled < target, !eventsEnded else { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            eventWaiters.append((target, c))
        }
    }

    private func handle(_ ev: QMPEvent) async {
        QEMUMonitorEventHub.publish(ev, domain: ref, root: paths.root)
        if draining && ev.name != "SHUTDOWN" { return }
        switch ev.name {
        case "RESUME":
            ignoreStop = false
            if let r = fakeRebootRunningReason {
                // After a fake reboot: a domain that was not running (crashed) runs again with libvirt's
                // running reason; one that was running stays as it was, without an event.
                fakeRebootRunningReason = nil
                if status.state != .running {
                    status = .running(r)
                    raise(.resumed(.unpaused))
                    writeStatus()
                }
                return
            }
            setRunning(resumeReason
                ?? (status.state == .paused && status.reason == PausedReason.startingUp.rawValue ? .booted : .unpaused))
        case "MIGRATION":
            if let st = ev.data["status"]?.stringValue { migration.lastStatus = st }
            migration.eventCount &+= 1
            // Only the source reacts to post-copy here (libvirt's commit bd04d63): the destination announces
            // post-copy with RESUMED/POSTCOPY when Finish starts its vCPUs, never with SUSPENDED_POSTCOPY.
            if jobs.async == .migrationIn && ev.data["status"]?.stringValue == "postcopy-active" {
                // Remembered (Finish may run after QEMU completed), but no state change and no event here.
                migration.postcopyActive = true
            }
            if jobs.async == .migrationIn && ev.data["status"]?.stringValue == "postcopy-recover"
                && status.state == .running && status.reason == RunningReason.postcopyFailed.rawValue {
                status = .running(.postcopy)
                raise(.resumed(.postcopy))
                writeStatus()
            }
            if jobs.async == .migrationOut {
                switch ev.data["status"]?.stringValue ?? "" {
                case "postcopy-active":
                    if migration.flags.contains(.postcopy) { markPostcopyOnSource() }
                case "postcopy-paused":
                    // No thread watches the source in post-copy: the handler marks it failed.
                    if status.state == .paused && migration.postcopyActive { markPostcopyFailedOnSource() }
                case "postcopy-recover":
                    if status.state == .paused && status.reason == PausedReason.postcopyFailed.rawValue {
                        status = .paused(.postcopy)
                        raise(.suspended(.postcopy))
                        writeStatus()
                    }
                default:
                    break
                }
            }
            migrationEvent()
        case "MIGRATION_PASS":
            // One per pass over guest memory during a save or migration: libvirt's MIGRATION_ITERATION.
            if jobs.async != .none, let pass = ev.data["pass"]?.intValue {
                emit(DomainEventRecord(domain: ref, kind: .migrationIteration(iteration: Int32(clamping: pass))))
            }
        case "RESET":
            notifyQEMUEvent("RESET")
            // Every reset QEMU reports (the fake reboot's system_reset, the firmware's own) is a reboot event,
            // as libvirt reports them.
            emit(DomainEventRecord(domain: ref, kind: .reboot))
        case "STOP":
            if status.state == .running && jobs.async == .migrationOut {
                // The source's guest stops for the switch-over: paused for the migration, or for post-copy when
                // QEMU already switched (no pause-before-switchover).
                if migration.postcopyActive {
                    status = .paused(.postcopy)
                    raise(.suspended(.postcopy))
                } else {
                    status = .paused(.migration)
                    raise(.suspended(.migrated))
                }
                if migration.stoppedAt == 0 { migration.stoppedAt = Self.nowMs() }
                writeStatus()
            } else if status.state == .running && !ignoreStop {
                // As libvirt's STOP handler: a save or dump job's migration stream stops the guest for its end.
                status = .paused(jobs.async == .dump ? .dump : jobs.async == .save ? .save : .unknown)
                raise(.suspended(.paused))
                // A save's status file says a save is in flight: a daemon that restarts finds QEMU paused and
                // resumes it (job recovery), so the file is not rewritten for this pause.
                if jobs.async != .save { writeStatus() }
            }
            // After a guest panic, the on_crash action runs once QEMU has stopped the vCPUs.
            if panicPending {
                await runCrashAction()
            }
        case "GUEST_PANICKED":
            // With -no-shutdown QEMU pauses the guest (action "pause") and a STOP follows: the domain is
            // crashed now (so that STOP is no SUSPENDED), the on_crash action waits for the STOP.
            await guestPanicked(waitForStop: ev.data["action"]?.stringValue == "pause")
        case "BALLOON_CHANGE":
            balloonChanged(ev)
        case "JOB_STATUS_CHANGE":
            await handleJobStatusChange(ev)
        case "DEVICE_DELETED", "DEVICE_UNPLUG_GUEST_ERROR", "DEVICE_TRAY_MOVED", "ACPI_DEVICE_OST":
            await handleDeviceEvent(ev)
        case "MEMORY_DEVICE_SIZE_CHANGE":
            memoryDeviceSizeChanged(ev)
        case "SUSPEND", "SUSPEND_DISK":
            handlePMSuspend(disk: ev.name == "SUSPEND_DISK")
            notifyQEMUEvent(ev.name)
        case "WAKEUP":
            handlePMWakeup()
        case "BLOCK_WRITE_THRESHOLD":
            blockWriteThresholdReached(ev.data)
        case "BLOCK_IO_ERROR":
            blockIOError(ev.data)
        case "RTC_CHANGE":
            rtcChanged(ev.data)
        case "WATCHDOG":
            watchdogFired(ev.data)
        case "VSERPORT_CHANGE":
            if let id = ev.data["id"]?.stringValue, let open = ev.data["open"]?.boolValue {
                await handleSerialChange(id: id, open: open)
            }
        case "SHUTDOWN":
            // Repeated SHUTDOWNs are ignored, as libvirt does: QEMU reports a second one when we end it after a
            // guest shutdown.
            if status.state == .shutdown { return }
            let guest = ev.data["guest"]?.boolValue == true
            if let (_, detail) = stopReason {
                // Our destroy: QEMU reports the SIGTERM as a host-requested shutdown, which libvirt reports
                // (SHUTDOWN/HOST) before STOPPED/DESTROYED. (After a crash libvirt closes the monitor first.)
                if detail == .destroyed {
                    status = .shutdown(.unknown)
                    raise(.shutdown(guest ? .guest : .host))
                }
                return
            }
            if draining { return }
            notifyQEMUEvent("SHUTDOWN")
            // -no-shutdown keeps QEMU around, paused: its STOP is part of the shutdown.
            ignoreStop = true
            if QEMULifecycleActions.restartsOnShutdown(liveDefinition ?? definition, fakeReboot: fakeReboot) {
                // The reboot API's fake reboot, or on_poweroff restart: as in libvirt the state does not change
                // and no lifecycle event is reported; QEMU's RESET events become reboot events.
                startFakeReboot()
                return
            }
            status = .shutdown(.unknown)  // libvirt: VIR_DOMAIN_SHUTDOWN_UNKNOWN
            raise(.shutdown(guest ? .guest : .host))
            stopReason = (.shutdown, .shutdown)
            writeStatus()
            if let p = process {
                Task { await p.terminate(grace: .seconds(10)) }
            }
        default:
            break
        }
    }

    /// libvirt's fake reboot (`qemuProcessFakeReboot`, run in a thread of its own so that QEMU's RESET and
    /// RESUME are handled meanwhile, in order): `system_reset`, then `cont` with running reason crashed
    /// after a crash, booted otherwise. When it fails QEMU is ended.
    func startFakeReboot() {
        fakeReboot = false
        guard let m = monitor else { return }
        ignoreStop = true
        fakeRebootRunningReason = status.state == .crashed ? .crashed : .booted
        Task {
            do {
                try await m.execute("system_reset")
                try await m.execute("cont")
            } catch {
                self.fakeRebootFailed(error)
            }
        }
    }

    private func fakeRebootFailed(_ error: any Error) {
        process?.note("fake reboot failed: \(error); killing QEMU")
        fakeRebootRunningReason = nil
        if stopReason == nil { stopReason = (.crashed, .failed) }
        if let p = process {
            Task { await p.terminate(grace: .seconds(3)) }
        }
    }

    private func processExited(_ proc: QEMUProcess) async {
        guard process === proc else { return }
        let (reason, detail) = stopReason ?? (.crashed, .failed)
        if stopReason == nil {
            proc.note("QEMU exited unexpectedly: \(proc.exitWaiter.result.map { "\($0)" } ?? "unknown")")
        }
        await finishStop(reason, detail, emitEvent: true)
    }

    /// The one teardown, used by every failed start and by every stop: ends QEMU if it still runs, then
    /// undoes whatever the start reached (external devices, labels, status files, directories). Idempotent.
    func teardown(_ kind: QEMUStopKind, emitEvent: Bool) async {
        endBlockJobs()
        if let proc = process, QEMUProcess.isAlive(proc.pid) {
            if stopReason == nil { stopReason = kind.reason }
            stopKind = kind
            terminating = kind
            await proc.terminate(grace: .seconds(3))
            terminating = nil
        }
        if process != nil || stopping {
            let (reason, detail) = kind.reason
            await finishStop(reason, detail, emitEvent: emitEvent)
        } else {
            await cleanupHost(kind)
        }
    }

    /// A QEMU told to end closes its monitor when its own clean-up is over (disks and chardevs closed, in
    /// `qemu_cleanup`); what follows is the kernel freeing its memory and tearing down the KVM VM, 4 to 25 ms
    /// here. Meanwhile the files are given back and the status files removed, which ``cleanupHost(_:)`` would
    /// do after the exit (it runs anyway and finds them done). Only without external devices: those stop
    /// before the labels are given back, as in libvirt.
    private func releaseFilesEarly() {
        guard let kind = terminating, process != nil, externalDevices.isEmpty else { return }
        terminating = nil
        restoreSecurityLabels(kind)
        removeStatusFiles(monitorPath: monitorPath)
    }

    /// Host clean-up after QEMU has gone (or never started): external devices stopped, labels given back,
    /// status files, monitor socket, private and channel directories removed. Safe to repeat.
    private func cleanupHost(_ kind: QEMUStopKind) async {
        perf.closeAll()
        await stopExternalDevices(kind)
        removeTaps()
        await releaseNetworkPorts()
        removeCgroup()
        restoreSecurityLabels(kind)
        removeStatusFiles(monitorPath: monitorPath)
        removeChannelDir()
        if let dir = memoryDir {
            memoryDir = nil
            try? FileManager.default.removeItem(atPath: dir)
        }
        stopKind = nil
    }

    /// Stops the external devices, told how the domain stopped, and removes their runtime files.
    private func stopExternalDevices(_ kind: QEMUStopKind) async {
        let devices = externalDevices
        externalDevices = []
        externalRecords = []
        for d in devices {
            await d.stop(kind)
            await d.cleanupHost()
        }
    }

    func finishStop(_ reason: ShutoffReason, _ detail: StoppedDetail, emitEvent: Bool) async {
        if stopKind == nil { stopKind = Self.stopKind(reason) }
        guard let proc = process else {
            // Another caller (the exit waiter, or a destroy) is stopping the domain: return once it is done.
            if stopping { await withCheckedContinuation { stopWaiters.append($0) } }
            return
        }
        stopping = true
        defer { stopping = false }
        process = nil
        let mon = monitor
        monitor = nil
        // The events QEMU sent before it exited (a destroy's SHUTDOWN) come first, in order; the monitor's
        // stream ends at QEMU's exit. Bounded, in case the socket outlives the process.
        draining = true
        await Self.drain(eventTask, within: .seconds(2))
        draining = false
        mon?.close()
        eventTask?.cancel()
        proc.note("shutting down, reason=\(DomainStatus.shutoff(reason).reasonStatusString)")
        let oldRef = ref
        status = .shutoff(reason)
        id = -1
        clearNetBandwidth(liveDefinition)
        liveDefinition = nil
        runDefinition = nil
        // Block jobs end with QEMU (no event, as libvirt's); the next start has none. A backup ends cancelled
        // (libvirt's qemuProcessStop), its images removed.
        endBlockJobs()
        terminateBackup(.cancelled)
        earlyMemorySizeChanges = []
        await cleanupHost(stopKind ?? .crashed)
        await agent?.close()
        agent = nil
        panicPending = false
        fakeReboot = false
        fakeRebootRunningReason = nil
        notifyQEMUEvent(nil)
        // A transient domain is removed before its STOPPED event is seen.
        await onStopped(self)
        if emitEvent {
            emit(DomainEventRecord(domain: oldRef, kind: .lifecycle(.stopped(detail))))
        }
        let w = stopWaiters
        stopWaiters = []
        for c in w { c.resume() }
    }

    static func stopKind(_ reason: ShutoffReason) -> QEMUStopKind {
        switch reason {
        case .destroyed: .destroyed
        case .shutdown: .shutdown
        case .saved: .saved
        case .failed: .failed
        case .migrated: .migratedOut(success: true)
        default: .crashed
        }
    }

    /// Waits up to `limit` for `task` to end, then cancels it.
    private static func drain(_ task: Task<Void, Never>?, within limit: Duration) async {
        guard let task else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await task.value }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            task.cancel()
            group.cancelAll()
        }
    }

    // MARK: Reconnect

    /// Takes over a QEMU that a previous daemon started (after a restart): attaches to the process by pid,
    /// connects the monitor, and reads the state back from QEMU. When QEMU is gone (or not ours any more),
    /// the domain is marked shut off (crashed) and false is returned.
    func reconnect(_ st: QEMUDomainStatus, live: DomainDefinition?,
                   security: any SecurityManager = NoOpSecurityManager(), swtpm: SwtpmHostConfig? = nil) async -> Bool {
        self.security = security
        let libDir = String(st.monitorPath.prefix(upTo: st.monitorPath.lastIndex(of: "/") ?? st.monitorPath.endIndex))
        labelled = securityTargets(live ?? definition, libDir: libDir)
        // The host devices its NICs use, deleted when QEMU ends (a macvtap outlives QEMU's descriptor).
        tapDevices = (live ?? definition).devices.interfaces
            .filter { [.direct, .ethernet, .bridge, .network].contains($0.type) }.compactMap(\.targetDev)
        let emulator = (live ?? definition).devices.emulator ?? QEMUCommandLine.defaultEmulator
        let logPath = paths.logFile(definition.name)
        let exe = QEMUProcess.executable(of: st.pid)
        guard QEMUProcess.isAlive(st.pid), let exe, exe == emulator || exe.hasPrefix(emulator + " ") else {
            QEMUProcess.appendNote(logPath, "reconnect: QEMU (pid \(st.pid)) is gone; marking the domain shut off")
            QEMUCgroup.located(partition: QEMUCgroup.partition(of: live ?? definition), id: st.id,
                               name: definition.name)?.remove()
            restoreSecurityLabels()
            removeTaps()
            removeStatusFiles(monitorPath: st.monitorPath)
            status = .shutoff(.crashed)
            return false
        }
        let proc = QEMUProcess.attach(pid: st.pid, logPath: logPath)
        do {
            let mon = try await QEMULauncher.reconnect(monitorPath: st.monitorPath, timeout: .seconds(10))
            let qs = try await mon.execute("query-status")
            process = proc
            monitor = mon
            monitorPath = st.monitorPath
            id = st.id
            startKind = st.startKind
            liveDefinition = live ?? definition
            runDefinition = live.map(QEMUBackingChain.withoutChainEnds) ?? definition
            cgroup = QEMUCgroup.adopt(partition: QEMUCgroup.partition(of: live ?? definition), id: st.id,
                                      name: definition.name, pid: st.pid)
            hotplug = QEMUHotplugState(status: st, live: live ?? definition)
            agentResponseTimeout = st.agentTimeout ?? -2
            clockAdjustment0 = st.clockAdjustment0
            // libvirt's qemuProcessReconnect enables the live definition's perf events again.
            try? enablePerfEvents(live ?? definition, pid: st.pid)
            let saved = DomainStatus(DomainState(rawValue: st.state) ?? .running, reason: st.reason)
            if qs["running"]?.boolValue == true {
                status = saved.state == .running ? saved : .running(.unknown)
            } else if saved.state == .paused || saved.state == .crashed || saved.state == .pmSuspended {
                status = saved
            } else if qs["status"]?.stringValue == "guest-panicked" {
                // The guest panicked while no daemon watched (libvirt's qemuProcessUpdateState).
                status = .crashed(.panicked)
            } else {
                status = .paused(.unknown)
            }
            proc.note("reconnected to QEMU (pid \(st.pid)), state \(status.state.statusString)")
            adoptNetworkPorts()
            await adoptExternalDevices(st, swtpm: swtpm, proc: proc)
            let chanDir = paths.channelTargetDir(id: st.id, name: definition.name)
            channelDir = access(chanDir, F_OK) == 0 ? chanDir : nil
            let memDir = paths.memoryBackingDir(id: st.id, name: definition.name)
            memoryDir = access(memDir, F_OK) == 0 ? memDir : nil
            watch(proc, mon)
            if let l = liveDefinition, let i = Self.agentChannelIndex(l),
               l.devices.channels[i].targetState == "connected" {
                connectAgent()
            }
            if st.asyncJob == QEMUAsyncJob.migrationIn.name {
                // An incoming migration whose daemon died is abandoned, as libvirt's recovery does: QEMU and
                // its helpers end, a transient definition goes.
                proc.note("reconnect: an incoming migration was in flight (phase \(st.jobPhase?.rawValue ?? "none")); "
                    + "killing QEMU")
                stopReason = (.failed, .failed)
                await teardown(.failed, emitEvent: true)
                return false
            }
            await recoverInterruptedJob(st, mon, proc)
            blockJobs = st.blockJobs ?? [:]
            await reconcileBlockJobs(mon)
            if let b = st.backup, st.asyncJob == QEMUAsyncJob.backup.name { await adoptBackup(b, mon) }
            writeStatus()
            return true
        } catch {
            proc.note("reconnect failed: \(error); killing QEMU")
            await proc.terminate(grace: .seconds(3))
            restoreSecurityLabels()
            removeTaps()
            removeStatusFiles(monitorPath: st.monitorPath)
            status = .shutoff(.crashed)
            return false
        }
    }

    /// A save that a previous daemon left in flight (its async job in the status file): QEMU's migration is
    /// cancelled and a guest the save had paused runs again (RESUMED, reason save-canceled), as libvirt's
    /// job recovery does. The partial image is left as it is (its magic says it is incomplete).
    private func recoverInterruptedJob(_ st: QEMUDomainStatus, _ mon: QMPMonitor, _ proc: QEMUProcess) async {
        if st.asyncJob == QEMUAsyncJob.migrationOut.name {
            await recoverOutgoingMigration(phase: st.jobPhase ?? .none, mon, proc)
            return
        }
        guard st.asyncJob == QEMUAsyncJob.save.name else { return }
        proc.note("reconnect: a save was in flight (phase \(st.jobPhase?.rawValue ?? "none")); cancelling it")
        _ = try? await mon.execute("migrate_cancel")
        // As libvirt's qemuProcessRecoverJob: paused by the save, or paused for a reason nobody recorded (the
        // daemon died between QEMU's stop and the status file saying so).
        if status.state == .paused
            && (status.reason == PausedReason.save.rawValue || status.reason == PausedReason.unknown.rawValue) {
            resumeReason = .saveCanceled
            if (try? await mon.execute("cont")) != nil { setRunning(.saveCanceled) }
        }
    }

    /// Takes over the helpers (swtpm) a previous daemon started for this QEMU, from the status file's records.
    private func adoptExternalDevices(_ st: QEMUDomainStatus, swtpm: SwtpmHostConfig?, proc: QEMUProcess) async {
        guard let records = st.externalDevices, !records.isEmpty else { return }
        guard let swtpm, let def = liveDefinition,
              let devices = try? SwtpmDevice.devices(for: def, domainID: st.id, paths: paths, config: swtpm) else {
            proc.note("reconnect: cannot adopt the external devices (no swtpm set-up)")
            return
        }
        for d in devices {
            guard let r = records.first(where: { $0.alias == d.alias && $0.type == d.type }) else { continue }
            do {
                try await d.adopt(r)
                externalDevices.append(d)
                externalRecords.append(r)
            } catch {
                proc.note("reconnect: \(d.type) \(d.alias) (pid \(r.pid)) not adopted: \(error)")
            }
        }
    }

    /// Lets go of the running QEMU without stopping it, as a daemon that dies does (for tests).
    func detach() async {
        let mon = monitor
        process = nil
        monitor = nil
        eventTask?.cancel()
        exitTask?.cancel()
        mon?.close()
        await agent?.close()
        agent = nil
    }

    /// Removes the status files, the monitor socket and the domain's private directory (as libvirt's
    /// process stop does).
    private func removeStatusFiles(monitorPath: String) {
        writtenStatus = WrittenStatus()
        LinuxSys.retire(paths.statusFile(definition.name))
        LinuxSys.retire(paths.statusXMLFile(definition.name))
        LinuxSys.retire(paths.pidFile(definition.name))
        guard !monitorPath.isEmpty else { return }
        unlink(monitorPath)
        let dir = String(monitorPath.prefix(upTo: monitorPath.lastIndex(of: "/") ?? monitorPath.startIndex))
        if dir.hasPrefix(paths.libDir + "/domain-") {
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    // MARK: Operations

    /// libvirt's destroy: QEMU is killed first (so a destroy never waits behind a stuck job), then the
    /// DESTROY job, which every async job allows, tears the domain down.
    func destroy(graceful: Bool) async throws(VirtError) {
        guard let proc = process else {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        stopReason = (.destroyed, .destroyed)
        stopKind = .destroyed
        if graceful {
            proc.signal(SIGTERM)
            await proc.exitWaiter.wait()
        } else {
            await proc.terminate(grace: .seconds(10))
        }
        try await beginJob(.destroy, owner: "destroy")
        defer { endJob() }
        await finishStop(.destroyed, .destroyed, emitEvent: true)
    }

    func requireMonitor() throws(VirtError) -> QMPMonitor {
        guard let m = monitor, isActive else {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        return m
    }

    func suspend() async throws(VirtError) {
        try await beginJob(.suspend, owner: "suspend")
        defer { endJob() }
        let m = try requireMonitor()
        if status.state == .paused { return }
        try await m.execute("stop")
        if status.state == .running {
            status = .paused(.user)
            raise(.suspended(.paused))
            writeStatus()
        } else if status.state == .paused {
            status = .paused(.user)
            writeStatus()
        }
    }

    func resume() async throws(VirtError) {
        try await beginJob(.modify, owner: "resume")
        defer { endJob() }
        let m = try requireMonitor()
        guard status.state == .paused else {
            throw VirtError.operationInvalid("domain is not paused", domain: .qemu)
        }
        try await m.execute("cont")
        setRunning(.unpaused)
    }

    func reset() async throws(VirtError) {
        try await beginJob(.modify, owner: "reset")
        defer { endJob() }
        let m = try requireMonitor()
        try await m.execute("system_reset")
    }

    func monitorCommand(_ command: String, hmp: Bool = false, passing fd: Int32? = nil) async throws(VirtError)
        -> String {
        try await beginJob(.query, owner: "qemu-monitor-command")
        defer { endJob() }
        let m = try requireMonitor()
        if hmp {
            let args: JSONValue = .object(["command-line": .string(command)])
            let out = if let fd {
                try await m.execute("human-monitor-command", arguments: args, passing: fd)
            } else {
                try await m.execute("human-monitor-command", arguments: args)
            }
            return out.stringValue ?? ""
        }
        return try await m.executeRaw(command, passing: fd)
    }

    /// Returns once the domain is shut off.
    func waitStopped() async {
        if !isActive { return }
        await withCheckedContinuation { stopWaiters.append($0) }
    }

    func xml(inactive: Bool) -> String {
        if !inactive, let live = liveDefinition {
            return live.formatXML(DomainFormatOptions(inactive: false, id: id))
        }
        // A running transient domain has no other definition: libvirt formats the live one, without its id.
        if !persistent, let live = liveDefinition {
            return live.formatXML(DomainFormatOptions(inactive: true, runtimeDetails: true))
        }
        return definition.formatXML()
    }

    var pid: pid_t? { process?.pid }

    // MARK: Status file

    func writeStatus() {
        guard let proc = process else { return }
        var st = QEMUDomainStatus(id: id, pid: proc.pid, monitorPath: monitorPath, startKind: startKind,
                                  state: status.state.rawValue, reason: status.reason,
                                  job: jobs.active == .destroy ? "destroy" : nil,
                                  asyncJob: jobs.async == .none ? nil : jobs.async.name,
                                  jobPhase: jobs.async == .none ? nil : jobs.phase,
                                  externalDevices: externalRecords.isEmpty ? nil : externalRecords,
                                  diskNodes: hotplug.diskNodes, nextNodeIndex: hotplug.nextNodeIndex,
                                  blockJobs: blockJobs.isEmpty ? nil : blockJobs)
        st.agentTimeout = agentResponseTimeout == -2 ? nil : agentResponseTimeout
        st.backup = backup
        st.clockAdjustment0 = clockAdjustment0
        // Each file is rewritten only when what it says changed (a migration's phases would otherwise rewrite
        // the same live XML several times).
        if st != writtenStatus.status {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted]
            if let data = try? e.encode(st),
               (try? LinuxSys.writeFileAtomically(paths.statusFile(definition.name),
                                                  String(decoding: data, as: UTF8.self), durable: false)) != nil {
                writtenStatus.status = st
            }
        }
        let text = xml(inactive: false)
        if text != writtenStatus.xml,
           (try? LinuxSys.writeFileAtomically(paths.statusXMLFile(definition.name), text, durable: false)) != nil {
            writtenStatus.xml = text
        }
    }
}
