import Foundation
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The state of one QEMU driver instance (one root): the domain table, ids, events, capabilities.
actor QEMUDriverState {
    let paths: QEMUDriverPaths
    let bus = EventBus<DomainEventRecord>()
    let capabilities: QEMUCapabilitiesCache
    private var domains: [VirtUUID: QEMUDomainObject] = [:]
    private var nextID: Int32 = 1
    /// The security driver QEMUs are started with (``QEMUSecurityConfig``); none for the embedded default.
    private(set) var security: any SecurityManager = NoOpSecurityManager()

    func setSecurity(_ manager: any SecurityManager) { security = manager }

    /// Where firmware descriptors are read from (``QEMUFirmware/defaultDirs`` unless configured).
    private(set) var firmwareDirs = QEMUFirmware.defaultDirs

    func setFirmwareDirs(_ dirs: [String]) { firmwareDirs = dirs }

    /// swtpm settings (qemu.conf's `swtpm_user`, `swtpm_group`, `shared_filesystems`).
    private(set) var tpmSettings = QEMUSecurityConfig()
    /// Labels the TPM state at start and gives it back at stop (DAC has no TPM-state label: a no-op; tests
    /// put a recording one here).
    private(set) var tpmLabeler: any TPMStateLabeler = NoOpTPMStateLabeler()
    private var swtpmConfig: SwtpmHostConfig?

    func setTPMSettings(_ s: QEMUSecurityConfig) {
        tpmSettings = s
        swtpmConfig = nil
        let wanted = Set((s.cgroupControllers ?? []).compactMap { CgroupController(rawValue: $0) })
        cgroups = wanted.isEmpty ? nil : QEMUCgroupConfig(controllers: wanted)
    }

    /// Cgroups for QEMUs (qemu.conf's `cgroup_controllers`); nil: none.
    private(set) var cgroups: QEMUCgroupConfig?

    func setTPMLabeler(_ l: any TPMStateLabeler) {
        tpmLabeler = l
        swtpmConfig = nil
    }

    /// The secret driver the daemon shares with its clients: TPM state passphrases come from it.
    private(set) var secretDriver: (any SecretDriver)?
    /// The daemon's storage driver: `<disk type='volume'>` sources are resolved through it at start.
    private(set) var storageDriver: (any StorageDriver)?

    func setStorageDriver(_ s: any StorageDriver) { storageDriver = s }

    /// The daemon's network driver: `<interface type='network'>` finds its network's bridge through it.
    private(set) var networkDriver: (any NetworkDriver)?

    func setNetworkDriver(_ n: any NetworkDriver) { networkDriver = n }

    func setSecretDriver(_ s: any SecretDriver) {
        secretDriver = s
        swtpmConfig = nil
    }

    /// The host's swtpm set-up, made at the first start of a domain with an emulated TPM.
    func swtpmHostConfig() throws(VirtError) -> SwtpmHostConfig {
        if let c = swtpmConfig { return c }
        let (uid, gid) = try SwtpmHostConfig.defaultIDs(user: tpmSettings.swtpmUser, group: tpmSettings.swtpmGroup)
        let qemu = try security.processCredentials()
        let swtpm = SwtpmHostConfig.findBinary("swtpm") ?? "/usr/bin/swtpm"
        let setup = SwtpmHostConfig.findBinary("swtpm_setup") ?? "/usr/bin/swtpm_setup"
        let caps = try SwtpmCapabilities.cached(swtpm: swtpm, swtpmSetup: setup)
        let c = SwtpmHostConfig(swtpmBinary: swtpm, swtpmSetupBinary: setup, swtpmUID: uid, swtpmGID: gid,
                                qemuUID: qemu?.uid ?? getuid(), qemuGID: qemu?.gid ?? getgid(),
                                sharedFilesystems: tpmSettings.sharedFilesystems, capabilities: caps,
                                labeler: tpmLabeler, secrets: secretDriver)
        swtpmConfig = c
        return c
    }

    /// Migration settings (host UUID, URI host, port range) and the opener of peer daemons (peer to peer).
    private(set) var migrationConfig = QEMUMigrationConfig()
    private(set) var peerOpener: (any MigrationPeerOpener)?
    var generatedHostUUID: VirtUUID?
    var reservedPorts: Set<Int> = []

    func setMigrationConfig(_ c: QEMUMigrationConfig) {
        migrationConfig = c
        generatedHostUUID = nil
    }

    func setPeerOpener(_ o: any MigrationPeerOpener) { peerOpener = o }

    init(paths: QEMUDriverPaths) {
        self.paths = paths
        self.capabilities = QEMUCapabilitiesCache(cacheDir: paths.cacheDir + "/capabilities",
                                                  runDir: paths.libDir + "/probe")
    }

    /// Loads the persistent definitions from the config directory.
    func loadConfigs() throws(VirtError) {
        try LinuxSys.mkdirs(paths.configDir)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: paths.configDir)) ?? []
        for file in names.sorted() where file.hasSuffix(".xml") {
            guard let text = LinuxSys.readFile(paths.configDir + "/" + file),
                  let def = try? DomainDefinition.parse(text) else { continue }
            domains[def.uuid] = makeObject(def, persistent: true)
        }
    }

    /// Reconnects to every QEMU that still runs according to the status files; those that died while no
    /// daemon watched are marked shut off (crashed).
    func reconnectAll() async {
        LinuxSys.sweepGraves(in: paths.stateDir)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: paths.stateDir)) ?? []
        for file in names.sorted() where file.hasSuffix(".status") {
            let name = String(file.dropLast(".status".count))
            guard let text = LinuxSys.readFile(paths.stateDir + "/" + file),
                  let st = try? JSONDecoder().decode(QEMUDomainStatus.self, from: Data(text.utf8)) else { continue }
            let live = LinuxSys.readFile(paths.statusXMLFile(name))
                .flatMap { try? DomainDefinition.parse($0, options: DomainParseOptions(live: true)) }
            var obj = await find(name: name)
            if obj == nil, let live {
                let o = makeObject(live, persistent: false)
                domains[live.uuid] = o
                obj = o
            }
            guard let obj else { continue }
            nextID = max(nextID, st.id + 1)
            let swtpm = st.externalDevices?.isEmpty == false ? try? swtpmHostConfig() : nil
            if await !obj.reconnect(st, live: live, security: security, swtpm: swtpm), await !obj.persistent {
                domains.removeValue(forKey: obj.uuid)
            }
        }
    }

    private func makeObject(_ def: DomainDefinition, persistent: Bool) -> QEMUDomainObject {
        let bus = self.bus
        return QEMUDomainObject(definition: def, persistent: persistent, paths: paths,
                                emit: { bus.emit($0) },
                                onStopped: { [weak self] obj in await self?.stopped(obj) })
    }

    /// A transient domain disappears when it stops.
    private func stopped(_ obj: QEMUDomainObject) async {
        if await !obj.persistent { domains.removeValue(forKey: obj.uuid) }
    }

    func allObjects() -> [QEMUDomainObject] { Array(domains.values) }

    func object(_ ref: DomainRef) throws(VirtError) -> QEMUDomainObject {
        guard let o = domains[ref.uuid] else {
            throw VirtError.noDomain("no domain with matching uuid '\(ref.uuid)' (\(ref.name))", domain: .qemu)
        }
        return o
    }

    func find(name: String) async -> QEMUDomainObject? {
        for o in domains.values where await o.name == name { return o }
        return nil
    }

    func find(uuid: VirtUUID) -> QEMUDomainObject? { domains[uuid] }

    func allocateID() -> Int32 {
        defer { nextID += 1 }
        return nextID
    }

    /// libvirt's define/create checks: a name belongs to one uuid and a uuid to one name.
    func addOrUpdate(_ def: DomainDefinition, persistent: Bool, live: Bool) async throws(VirtError)
        -> (QEMUDomainObject, updated: Bool) {
        if let existing = domains[def.uuid] {
            let oldName = await existing.name
            if oldName != def.name {
                throw VirtError.operationFailed(
                    "domain '\(oldName)' already exists with uuid \(def.uuid)", domain: .qemu)
            }
            let active = await existing.isActive
            if live && active {
                throw VirtError.operationInvalid("domain '\(def.name)' is already active", domain: .qemu)
            }
            let wasPersistent = await existing.persistent
            if live && wasPersistent && !persistent {
                // As libvirt's virDomainObjListAdd with LIVE: the domain runs `def`, its persistent definition
                // stays (a restore, createXML or incoming migration does not redefine a persistent domain).
                await existing.setNextRun(def)
            } else {
                await existing.setDefinition(def, persistent: persistent || wasPersistent)
            }
            return (existing, true)
        }
        if let other = await find(name: def.name) {
            throw VirtError.operationFailed(
                "domain '\(def.name)' is already defined with uuid \(other.uuid)", domain: .qemu)
        }
        let obj = makeObject(def, persistent: persistent)
        domains[def.uuid] = obj
        return (obj, false)
    }

    func remove(_ uuid: VirtUUID) { domains.removeValue(forKey: uuid) }
}

/// The QEMU/KVM driver: `qemu:///embed?root=DIR` runs it in-process with every file under DIR, as libvirt's
/// embed mode does. (`qemu:///system` is served by virtd.)
public final class QEMUDriver: HypervisorDriver {
    public let uri: String
    let state: QEMUDriverState

    private static let registry = Mutex<[String: QEMUDriverState]>([:])

    private init(uri: String, state: QEMUDriverState) {
        self.uri = uri
        self.state = state
    }

    /// Opens `qemu:///embed?root=DIR`. Connections of one process to the same root share one driver state.
    /// `security`, when given, becomes that state's security driver (before QEMUs still running are taken over).
    public static func open(_ uri: ConnectionURI, security: (any SecurityManager)? = nil) async throws -> QEMUDriver {
        guard uri.path == "/embed" else {
            throw VirtError(.noConnect, domain: .qemu,
                            "no connection driver available for \(uri.original)")
        }
        guard let root = uri.queryValue("root"), root.hasPrefix("/") else {
            throw VirtError(.invalidArg, domain: .qemu,
                            "invalid argument: root path must be absolute in \(uri.original)")
        }
        try LinuxSys.mkdirs(root)
        let (state, fresh) = try registry.withLock { r throws(VirtError) -> (QEMUDriverState, Bool) in
            if let s = r[root] { return (s, false) }
            let paths = QEMUDriverPaths(root: root)
            // One process manages a root: a second process opening it fails here, as libvirt's does.
            _ = try QEMUDriverLock.acquire(stateDir: paths.stateDir)
            let s = QEMUDriverState(paths: paths)
            r[root] = s
            return (s, true)
        }
        if let security { await state.setSecurity(security) }
        if fresh {
            try await state.loadConfigs()
            await state.reconnectAll()
        }
        return QEMUDriver(uri: uri.original, state: state)
    }

    /// Opens a driver state of its own on `root`, not shared with other connections of this process, as a
    /// freshly started daemon would (reconnect tests).
    static func openUnshared(root: String, security: (any SecurityManager)? = nil) async throws -> QEMUDriver {
        let state = QEMUDriverState(paths: QEMUDriverPaths(root: root))
        if let security { await state.setSecurity(security) }
        try await state.loadConfigs()
        await state.reconnectAll()
        return QEMUDriver(uri: "qemu:///embed?root=\(root)", state: state)
    }

    /// Lets go of every running QEMU without stopping it, as a daemon killed with SIGKILL does (tests).
    func detachAll() async {
        for o in await state.allObjects() { await o.detach() }
    }

    /// Opens a driver on `root` directly (for the daemon and tests).
    public static func open(root: String) async throws -> QEMUDriver {
        try await open(ConnectionURI(parsing: "qemu:///embed?root=\(root)"))
    }

    /// Opens a driver on `root` whose QEMUs run with the security settings of `security` (user, group,
    /// ownership). The settings apply to every connection of this process to `root`, for later starts.
    ///
    /// `firmwareDirs`, when given, replaces the directories firmware descriptors are read from
    /// (``QEMUFirmware/defaultDirs``), for every connection of this process to `root`.
    public static func open(root: String, security: QEMUSecurityConfig, firmwareDirs: [String]? = nil)
        async throws -> QEMUDriver {
        let driver = try await open(ConnectionURI(parsing: "qemu:///embed?root=\(root)"), security: security.makeManager())
        if let firmwareDirs { await driver.state.setFirmwareDirs(firmwareDirs) }
        await driver.state.setTPMSettings(security)
        for o in await driver.state.allObjects() { await o.setAutoDumpPath(security.autoDumpPath) }
        return driver
    }

    /// Gives the driver the daemon's secret driver: `<encryption secret='UUID'/>` of an emulated TPM reads its
    /// passphrase there.
    public func setSecretDriver(_ s: any SecretDriver) async { await state.setSecretDriver(s) }

    /// Gives the driver the daemon's storage driver: `<disk type='volume'><source pool='P' volume='V'/>` is
    /// resolved through it when the domain starts (libvirt's `virDomainDiskTranslateSourcePool`).
    public func setStorageDriver(_ s: any StorageDriver) async { await state.setStorageDriver(s) }

    /// Gives the driver the daemon's network driver: `<interface type='network'>` gets a tap device on the
    /// network's bridge at start (libvirt's network port allocation).
    public func setNetworkDriver(_ n: any NetworkDriver) async {
        await state.setNetworkDriver(n)
        await reconcileNetworkPorts(n)
    }

    /// Once the daemon's network driver is known (after a restart): the running domains get it and have the
    /// ports they hold checked (taken back when lost); ports owned by one of our domains that no longer holds
    /// them (it stopped while no daemon ran) are deleted, as libvirt's stop would have.
    func reconcileNetworkPorts(_ n: any NetworkDriver) async {
        var held: Set<VirtUUID> = []
        var ours: Set<VirtUUID> = []
        for o in await state.allObjects() {
            await o.setNetworkPortDriver(n)
            await o.notifyNetworkPorts()
            for h in await o.heldNetworkPorts { held.insert(h.port) }
            ours.insert(await o.definition.uuid)
        }
        for net in (try? await n.listAllNetworks(flags: NetworkListFlags.active.rawValue)) ?? [] {
            for p in (try? await n.listAllNetworkPorts(net, flags: 0)) ?? [] where !held.contains(p) {
                guard let xml = try? await n.networkPortXML(net, port: p, flags: 0),
                      let def = try? NetworkPortDefinition(xml: xml), ours.contains(def.ownerUUID) else { continue }
                try? await n.deleteNetworkPort(net, port: p, flags: 0)
            }
        }
    }

    /// The bridge of the running network `name`.
    func resolveNetworkBridge(_ name: String) async throws -> String {
        guard let networks = await state.networkDriver else {
            throw VirtError(.noSupport, domain: .qemu,
                            "this function is not supported by the connection driver: virNetworkLookupByName")
        }
        let net = try await networks.lookupNetwork(name: name)
        guard try await networks.networkIsActive(net) else {
            throw VirtError.operationInvalid("network '\(name)' is not active", domain: .network)
        }
        return try await networks.networkBridgeName(net)
    }

    /// The path (and whether a block device) of each volume disk of `def`, keyed "pool/volume".
    func resolveVolumeDisks(_ def: DomainDefinition) async throws -> [String: (path: String, block: Bool)] {
        var out: [String: (path: String, block: Bool)] = [:]
        for d in def.devices.disks where d.type == .volume {
            guard let poolName = d.source.pool, let volName = d.source.volume else { continue }
            guard let storage = await state.storageDriver else {
                throw VirtError(.noSupport, domain: .qemu,
                                "this function is not supported by the connection driver: virStoragePoolLookupByName")
            }
            let pool = try await storage.lookupStoragePool(name: poolName)
            guard try await storage.storagePoolIsActive(pool) else {
                throw VirtError.operationInvalid("storage pool '\(poolName)' containing volume '\(volName)' is not active",
                                                 domain: .domain)
            }
            let vol = try await storage.lookupVolume(pool: pool, name: volName)
            let info = try await storage.volumeInfo(vol)
            let path = try await storage.volumePath(vol)
            // virStorageVolType: 0 file, 1 block.
            out[poolName + "/" + volName] = (path, info.type == 1)
        }
        return out
    }

    /// The passphrase of every disk with `<encryption format='luks'>`, by target dev, from the secret driver
    /// (libvirt's `qemuDomainSecretStorageSourcePrepareEncryption`).
    func diskPassphrases(_ def: DomainDefinition) async throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for d in def.devices.disks where QEMUCommandLine.diskHasSource(d) {
            guard let enc = QEMUDiskEncryption.of(d) else { continue }
            out[d.target.dev] = try await diskPassphrase(enc)
        }
        return out
    }

    func diskPassphrase(_ enc: QEMUDiskEncryption) async throws -> [UInt8] {
        guard let secrets = await state.secretDriver else {
            throw VirtError.configUnsupported(
                "disk encryption needs the secret driver of a daemon (virtd's qemu:///system); this connection has none",
                domain: .qemu)
        }
        return try await secrets.volumePassphrase(uuid: enc.secretUUID, usage: enc.secretUsage)
    }

    // MARK: Host

    public func hypervisorType() async throws -> String { "QEMU" }

    public func hypervisorVersion() async throws -> UInt64 {
        try await state.capabilities.capabilities(for: QEMUCommandLine.defaultEmulator).version.number
    }

    public func hostname() async throws -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func capabilities() async throws -> String { try await state.capabilitiesXML() }

    /// `virNodeGetInfo` as libvirt's Linux implementation fills it: the architecture, memory as the sum of the
    /// NUMA nodes' (`/sys/devices/system/node/node*/meminfo`, else /proc/meminfo), online CPUs, the first CPU's
    /// MHz, NUMA nodes, and the topology per node (sockets, cores per socket, threads per core).
    public func nodeInfo() async throws -> NodeInfo {
        let host = HostCapabilities.read()
        let nodes = max(1, host.cells.count)
        var memory = host.cells.reduce(UInt64(0)) { $0 + $1.memory }
        if memory == 0 {
            for line in (LinuxSys.readFile("/proc/meminfo") ?? "").split(separator: "\n")
            where line.hasPrefix("MemTotal:") {
                memory = UInt64(line.split(separator: " ").dropFirst().first ?? "") ?? 0
            }
        }
        let cellCPUs = host.cells.reduce(0) { $0 + $1.cpus.count }
        let cpus = cellCPUs > 0 ? cellCPUs : Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let mhzText = host.cpuinfo["cpu MHz"] ?? "0"
        let mhz = UInt32(mhzText.split(separator: ".").first.flatMap { UInt32($0) } ?? 0)
        return NodeInfo(model: host.arch, memory: memory, cpus: UInt32(max(1, cpus)), mhz: mhz,
                        nodes: UInt32(nodes), sockets: UInt32(max(1, host.sockets / nodes)),
                        cores: UInt32(max(1, host.diesPerSocket * host.coresPerDie)),
                        threads: UInt32(max(1, host.threadsPerCore)))
    }

    public func domainCapabilities(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                   flags: UInt32) async throws -> String {
        try await state.domainCapabilitiesXML(emulator: emulator, arch: arch, machine: machine, virtType: virtType,
                                              flags: flags)
    }

    // MARK: Listing and lookup

    public func listAllDomains(flags: ListAllDomainsFlags) async throws -> [DomainRef] {
        var out: [DomainRef] = []
        for o in await state.allObjects() {
            let active = await o.isActive
            let persistent = await o.persistent
            let st = await o.status.state
            if flags.contains(.active) && !flags.contains(.inactive) && !active { continue }
            if flags.contains(.inactive) && !flags.contains(.active) && active { continue }
            if flags.contains(.persistent) && !flags.contains(.transient) && !persistent { continue }
            if flags.contains(.transient) && !flags.contains(.persistent) && persistent { continue }
            if flags.contains(.autostart) != flags.contains(.noAutostart) {
                let auto = (try? await autostart(await o.ref)) == true
                if flags.contains(.autostart) ? !auto : auto { continue }
            }
            let stateFilter = flags.intersection([.running, .paused, .shutoff, .other])
            if !stateFilter.isEmpty {
                let match = (stateFilter.contains(.running) && st == .running)
                    || (stateFilter.contains(.paused) && st == .paused)
                    || (stateFilter.contains(.shutoff) && st == .shutoff)
                    || (stateFilter.contains(.other) && ![.running, .paused, .shutoff].contains(st))
                if !match { continue }
            }
            out.append(await o.ref)
        }
        return out.sorted { ($0.id, $0.name) < ($1.id, $1.name) }
    }

    public func lookupDomain(name: String) async throws -> DomainRef {
        guard let o = await state.find(name: name) else {
            throw VirtError.noDomain("no domain with matching name '\(name)'", domain: .qemu)
        }
        return await o.ref
    }

    public func lookupDomain(id: Int32) async throws -> DomainRef {
        for o in await state.allObjects() where await o.id == id && id > 0 { return await o.ref }
        throw VirtError.noDomain("no domain with matching id \(id)", domain: .qemu)
    }

    public func lookupDomain(uuid: VirtUUID) async throws -> DomainRef {
        guard let o = await state.find(uuid: uuid) else {
            throw VirtError.noDomain("no domain with matching uuid '\(uuid)'", domain: .qemu)
        }
        return await o.ref
    }

    // MARK: Definition

    func parse(_ xml: String, validate: Bool) async throws -> DomainDefinition {
        let def = try DomainDefinition.parse(xml, options: DomainParseOptions(validate: validate, abiUpdate: true, qemuVcpuRules: true))
        guard def.type == "kvm" || def.type == "qemu" else {
            throw VirtError.configUnsupported("unknown virt type '\(def.type)' for the QEMU driver", domain: .qemu)
        }
        try QEMULifecycleActions.validate(def)
        let emulator = def.devices.emulator ?? QEMUCommandLine.defaultEmulator
        let caps = try await state.capabilities.capabilities(for: emulator)
        var done = try QEMUCommandLine.completedAtDefine(def, capabilities: caps)
        // libvirt's qemuDomainDefPostParse: the definition names the default emulator when it names none.
        if done.devices.emulator == nil, def.os.arch == nil || def.os.arch == "x86_64" {
            done.devices.emulator = emulator
        }
        return done
    }

    public func defineXML(_ xml: String, flags: DefineFlags) async throws -> DomainRef {
        let def = try await parse(xml, validate: flags.contains(.validate))
        try LinuxSys.mkdirs(state.paths.configDir)
        let (obj, updated) = try await state.addOrUpdate(def, persistent: true, live: false)
        do {
            try LinuxSys.writeFileAtomically(state.paths.configFile(def.name), def.formatXML())
        } catch {
            if !updated { await state.remove(def.uuid) }
            throw error
        }
        let ref = await obj.ref
        state.bus.emit(DomainEventRecord(domain: ref, kind: .lifecycle(.defined(updated ? .updated : .added))))
        return ref
    }

    public func undefine(_ domain: DomainRef, flags: UndefineFlags) async throws {
        let obj = try await state.object(domain)
        guard await obj.persistent else {
            throw VirtError.operationInvalid("cannot undefine transient domain", domain: .qemu)
        }
        let name = await obj.name
        // libvirt's order: snapshots (their metadata goes with SNAPSHOTS_METADATA), then the managed save image.
        try await obj.discardSnapshotsForUndefine(metadataAllowed: flags.contains(.snapshotsMetadata))
        let managed = state.paths.managedSaveFile(name)
        if access(managed, F_OK) == 0 {
            guard flags.contains(.managedSave) else {
                throw VirtError.operationInvalid("Refusing to undefine while domain managed save image exists",
                                                 domain: .qemu)
            }
            if unlink(managed) != 0 {
                throw VirtError.systemError("Failed to remove domain managed save image '\(managed)'", errno: errno,
                                            domain: .qemu)
            }
        }
        unlink(state.paths.configFile(name))
        // The autostart link goes with the definition (libvirt's qemuDomainUndefineFlags).
        unlink(state.paths.autostartLink(name))
        let ref = await obj.ref
        if await obj.isActive {
            await obj.makeTransient()
        } else {
            await state.remove(obj.uuid)
            // The TPM state goes with the definition unless kept (--keep-tpm, persistent_state='yes').
            _ = SwtpmStateRemoval.removeState(of: await obj.definition, paths: state.paths, flags: flags,
                                          outgoingMigration: false)
        }
        state.bus.emit(DomainEventRecord(domain: ref, kind: .lifecycle(.undefined(.removed))))
    }

    public func createXML(_ xml: String, flags: CreateFlags) async throws -> DomainRef {
        let def = try await parse(xml, validate: flags.contains(.validate))
        let (obj, _) = try await state.addOrUpdate(def, persistent: false, live: true)
        do {
            try await startObject(obj, flags: flags)
        } catch {
            if await !obj.persistent { await state.remove(obj.uuid) }
            throw error
        }
        return await obj.ref
    }

    // MARK: Lifecycle

    func startObject(_ obj: QEMUDomainObject, flags: CreateFlags, kind: QEMUStartKind = .coldBoot) async throws {
        let def = await obj.definition
        if def.type == "kvm" {
            // Before anything runs: QEMU's user must be able to open /dev/kvm.
            try KVMDeviceAccess.check(credentials: try await state.security.processCredentials())
        }
        let caps = try await state.capabilities.capabilities(for: def.devices.emulator ?? QEMUCommandLine.defaultEmulator)
        if def.type == "kvm" && !caps.kvmAvailable {
            throw VirtError.configUnsupported("KVM is not available on this host", domain: .qemu)
        }
        let swtpm = def.devices.tpms.contains { if case .emulator = $0.backend { true } else { false } }
            ? try await state.swtpmHostConfig() : nil
        await obj.setSharedFilesystems(await state.tpmSettings.sharedFilesystems)
        await obj.setAutoDumpPath(await state.tpmSettings.autoDumpPath)
        await obj.setResolvedVolumes(try await resolveVolumeDisks(def))
        // A network port per <interface type='network'> (its bridge is where the tap goes).
        await obj.setDiskPassphrases(try await diskPassphrases(await obj.nextRunDefinition ?? def))
        await obj.setResolvedNetworkBridges([:])
        if let n = await state.networkDriver { await obj.setNetworkPortDriver(n) }
        try await obj.allocateNetworkPorts(await obj.nextRunDefinition ?? def)
        do {
            try await obj.start(kind, id: await state.allocateID(), capabilities: caps,
                                paused: flags.contains(.startPaused), security: await state.security, swtpm: swtpm,
                                cgroups: await state.cgroups)
        } catch {
            if !(await obj.isActive) { await obj.releaseNetworkPorts() }
            throw error
        }
    }

    public func start(_ domain: DomainRef, flags: CreateFlags) async throws -> DomainRef {
        let obj = try await state.object(domain)
        if await obj.isActive {
            throw VirtError.operationInvalid("domain is already running", domain: .qemu)
        }
        // A managed save image is restored (and removed once the domain runs), unless a fresh boot is forced.
        if try await startFromManagedSave(obj, flags: flags) { return await obj.ref }
        try await startObject(obj, flags: flags)
        return await obj.ref
    }

    public func destroy(_ domain: DomainRef, flags: DestroyFlags) async throws {
        let obj = try await state.object(domain)
        try await obj.destroy(graceful: flags.contains(.graceful))
    }

    public func shutdown(_ domain: DomainRef, flags: ShutdownFlags) async throws {
        try await state.object(domain).shutdown(flags: flags)
    }

    public func reboot(_ domain: DomainRef, flags: ShutdownFlags) async throws {
        try await state.object(domain).reboot(flags: flags)
    }

    public func reset(_ domain: DomainRef) async throws {
        try await state.object(domain).reset()
    }

    public func suspend(_ domain: DomainRef) async throws {
        try await state.object(domain).suspend()
    }

    public func resume(_ domain: DomainRef) async throws {
        try await state.object(domain).resume()
    }

    // MARK: Properties

    public func state(_ domain: DomainRef) async throws -> DomainStatus {
        try await state.object(domain).status
    }

    public func info(_ domain: DomainRef) async throws -> DomainInfo {
        let obj = try await state.object(domain)
        // A running domain's figures are its live definition's (a hot-plugged DIMM grows its maximum).
        let def = await obj.currentDefinition
        let cpu = await obj.pid.map { QEMUProcess.cpuTimeNanoseconds(of: $0) } ?? 0
        // A running domain's memory is the balloon's current size, as libvirt reads it.
        let memory = await obj.balloonCurrentKiB() ?? def.currentMemory
        return DomainInfo(state: await obj.status.state, maxMemory: def.memory, memory: memory,
                          vcpus: UInt16(def.currentVcpus ?? def.vcpus), cpuTime: cpu)
    }

    /// `virConnectGetAllDomainStats`: see ``QEMUDomainStats`` for the groups and fields.
    public func allDomainStats(domains: [DomainRef]?, types: StatsTypes, flags: GetAllDomainStatsFlags) async throws
        -> [DomainStatsRecord] {
        try await state.allDomainStats(domains: domains, types: types, flags: flags)
    }

    public func xmlDesc(_ domain: DomainRef, flags: XMLFlags) async throws -> String {
        try await state.object(domain).xml(inactive: flags.contains(.inactive))
    }

    public func osType(_ domain: DomainRef) async throws -> String {
        try await state.object(domain).definition.os.type
    }

    public func isActive(_ domain: DomainRef) async throws -> Bool { try await state.object(domain).isActive }
    public func isPersistent(_ domain: DomainRef) async throws -> Bool { try await state.object(domain).persistent }
    public func isUpdated(_ domain: DomainRef) async throws -> Bool { false }
    public func maxMemory(_ domain: DomainRef) async throws -> UInt64 {
        let obj = try await state.object(domain)
        return await obj.currentDefinition.memory
    }


    /// Whether the domain starts with the daemon: its link in the autostart directory (libvirt's).
    public func autostart(_ domain: DomainRef) async throws -> Bool {
        let obj = try await state.object(domain)
        var st = stat()
        return lstat(state.paths.autostartLink(await obj.name), &st) == 0
    }

    /// libvirt's qemuDomainSetAutostart: a symlink to the persistent definition, or none.
    public func setAutostart(_ domain: DomainRef, _ enabled: Bool) async throws {
        let obj = try await state.object(domain)
        guard await obj.persistent else {
            throw VirtError.operationInvalid("cannot set autostart for transient domain", domain: .qemu)
        }
        let name = await obj.name
        let link = state.paths.autostartLink(name), config = state.paths.configFile(name)
        var st = stat()
        let present = lstat(link, &st) == 0
        if enabled == present { return }
        if enabled {
            try LinuxSys.mkdirs(state.paths.autostartDir)
            if symlink(config, link) != 0 {
                throw VirtError.systemError("Failed to create symlink '\(link)' to '\(config)'", errno: errno,
                                            domain: .qemu)
            }
        } else if unlink(link) != 0 && errno != ENOENT && errno != ENOTDIR {
            throw VirtError.systemError("Failed to delete symlink '\(link)'", errno: errno, domain: .qemu)
        }
    }

    /// libvirt's qemuAutostartDomains at daemon start: every persistent domain marked for autostart that is not
    /// running (after the reconnect) is started. Returns libvirt's error line for each that fails.
    public func autostartDomains() async -> [String] {
        var problems: [String] = []
        for obj in await state.allObjects() {
            guard await obj.persistent, await !obj.isActive else { continue }
            let ref = await obj.ref
            guard (try? await autostart(ref)) == true else { continue }
            do {
                _ = try await start(ref, flags: [])
            } catch {
                problems.append("Failed to autostart VM '\(ref.name)': \((error as? VirtError)?.message ?? "\(error)")")
            }
        }
        return problems
    }

    /// The host's primary security model, as libvirt reports it on a host without SELinux or AppArmor: "none"
    /// (the DAC driver, when configured, is stacked below it).
    public func securityModel() async throws -> SecurityModel { SecurityModel(model: "none", doi: "0") }

    /// libvirt's qemuDomainGetSecurityLabelList: nothing for a shut-off domain; for a running one, each security
    /// driver's process label, in libvirt's stack order: the "none" driver's (empty), then with DAC the label of
    /// the live `<seclabel model='dac'>` (`+uid:+gid`), as libvirt's DAC driver reports it. None is enforcing.
    public func securityLabelList(_ domain: DomainRef) async throws -> [SecurityLabel] {
        let obj = try await state.object(domain)
        guard await obj.isActive else { return [] }
        var labels = [SecurityLabel(label: "", enforcing: false)]
        if await state.security.model == "dac" {
            let seclabel = await obj.liveDefinition?.extraElements.first {
                $0.name == "seclabel" && $0.attr("model") == "dac"
            }
            labels.append(SecurityLabel(label: seclabel?.child("label")?.text ?? "", enforcing: false))
        }
        return labels
    }

    // MARK: Events, monitor

    public func events() -> AsyncStream<DomainEventRecord> { state.bus.subscribe() }

    public func openConsole(_ domain: DomainRef, device: String?, flags: UInt32) async throws -> any ByteStream {
        try await state.object(domain).openConsole(device: device)
    }

    public func qemuMonitorCommand(_ domain: DomainRef, command: String, flags: UInt32) async throws -> String {
        // VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP (1): a human monitor command, run through QMP's
        // human-monitor-command; its text output is the result, as libvirt returns it.
        guard flags & ~1 == 0 else {
            throw VirtError.unsupportedFlags(UInt64(flags & ~1), function: "qemuDomainQemuMonitorCommand", domain: .qemu)
        }
        return try await state.object(domain).monitorCommand(command, hmp: flags & 1 != 0)
    }

    /// libvirt's qemuDomainQemuMonitorCommandWithFiles: at most one descriptor, passed with the command
    /// (SCM_RIGHTS); none comes back.
    public func qemuMonitorCommand(_ domain: DomainRef, command: String, fds: [Int32], flags: UInt32) async throws
        -> String {
        guard flags & ~1 == 0 else {
            throw VirtError.unsupportedFlags(UInt64(flags & ~1), function: "qemuDomainQemuMonitorCommandWithFiles",
                                             domain: .qemu)
        }
        if fds.count > 1 {
            throw VirtError.invalidArg("at most 1 fd can be passed to qemu along with a command", domain: .qemu)
        }
        return try await state.object(domain).monitorCommand(command, hmp: flags & 1 != 0, passing: fds.first)
    }

    /// The pid of a running domain's QEMU (for tests and the daemon).
    public func pid(of domain: DomainRef) async throws -> pid_t? {
        try await state.object(domain).pid
    }

    /// Returns once the domain is shut off.
    public func waitStopped(_ domain: DomainRef) async throws {
        try await state.object(domain).waitStopped()
    }
}
