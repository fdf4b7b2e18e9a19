import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The state of one test hypervisor: its node and its domains. Every operation runs under one lock, so
/// operations never interleave and lifecycle operations on a domain never race each other; none of them waits
/// on anything, so the lock is held for microseconds. (An actor gave the same order, but each call hopped onto
/// the actor and back: two executor switches per call.) Lookups by name, UUID and id are O(1).
///
/// `test:///default` connections of one process share one state (see ``TestDriverRegistry``); each
/// `test:///path/node.xml` connection has its own, as in libvirt.
final class TestDriverState: Sendable {
    let node: TestNode
    let core: Mutex<TestDriverCore>
    /// The networks, under a lock of their own (no operation touches both).
    let networks: TestNetworkState
    /// Pools and volumes (TestStorage.swift).
    let storage: TestStorageState
    /// Node devices and host interfaces (TestNodeDevices.swift).
    let nodeDevices: TestNodeDeviceState
    let interfaces: TestInterfaceState
    /// The node file's `<auth>` users: a connection must authenticate as one of them.
    let requiresAuthentication: Bool

    /// A state built from a node description.
    init(node: TestNode, nodeFile: NodeFile) throws(VirtError) {
        self.node = node
        core = Mutex(try TestDriverCore(nodeFile: nodeFile))
        networks = try TestNetworkState(networks: nodeFile.networks)
        storage = try TestStorageState(nodePools: nodeFile.pools)
        nodeDevices = TestNodeDeviceState(devices: nodeFile.devices)
        interfaces = TestInterfaceState(interfaces: nodeFile.interfaces)
        requiresAuthentication = !nodeFile.authUsers.isEmpty
    }

    /// The state of `test:///default`.
    static func makeDefault() throws(VirtError) -> TestDriverState {
        var file = try NodeFile.parse(DefaultNode.xml, path: nil)
        file.pools = try NodeFile.parsePools(XMLParser.parse("<node>\(DefaultNode.poolXML)</node>"), path: nil)
        file.devices = try TestNodeDeviceState.defaults()
        file.interfaces = [try InterfaceDefinition(xml: TestInterfaceState.defaultXML)]
        return try TestDriverState(node: .defaultNode, nodeFile: file)
    }

    /// The state described by the node file at `path`.
    static func load(path: String) throws(VirtError) -> TestDriverState {
        let file = try NodeFile.load(path: path)
        return try TestDriverState(node: TestNode(info: file.info, cells: []), nodeFile: file)
    }

    var nodeInfo: NodeInfo { node.info }

    static func sorted(_ refs: [DomainRef]) -> [DomainRef] { TestDriverCore.sorted(refs) }

    static func matches(_ obj: TestDomainObject, _ f: UInt32) -> Bool { TestDriverCore.matches(obj, f) }

    func register(_ bus: EventBus<DomainEventRecord>) -> Int { core.withLock { $0.register(bus) } }

    func unregister(_ token: Int) { core.withLock { $0.unregister(token) } }

    func listAll(flags: ListAllDomainsFlags) throws(VirtError) -> [DomainRef] {
        try core.withLock { c throws(VirtError) in try c.listAll(flags: flags) }
    }

    func listDomainIDs() -> [Int32] { core.withLock { $0.listDomainIDs() } }

    func listDefinedNames() -> [String] { core.withLock { $0.listDefinedNames() } }

    func numberOfDomains() -> Int32 { core.withLock { $0.numberOfDomains() } }

    func numberOfDefinedDomains() -> Int32 { core.withLock { $0.numberOfDefinedDomains() } }

    func lookup(name: String) throws(VirtError) -> DomainRef {
        try core.withLock { c throws(VirtError) in try c.lookup(name: name) }
    }

    func lookup(id: Int32) throws(VirtError) -> DomainRef {
        try core.withLock { c throws(VirtError) in try c.lookup(id: id) }
    }

    func lookup(uuid: VirtUUID) throws(VirtError) -> DomainRef {
        try core.withLock { c throws(VirtError) in try c.lookup(uuid: uuid) }
    }

    func define(_ xml: String, flags: DefineFlags) throws(VirtError) -> DomainRef {
        try core.withLock { c throws(VirtError) in try c.define(xml, flags: flags) }
    }

    func undefine(_ ref: DomainRef, flags: UndefineFlags) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.undefine(ref, flags: flags) }
    }

    func create(_ xml: String, flags: CreateFlags) throws(VirtError) -> DomainRef {
        try core.withLock { c throws(VirtError) in try c.create(xml, flags: flags) }
    }

    func start(_ ref: DomainRef, flags: CreateFlags) throws(VirtError) -> DomainRef {
        try core.withLock { c throws(VirtError) in try c.start(ref, flags: flags) }
    }

    func destroy(_ ref: DomainRef, flags: DestroyFlags) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.destroy(ref, flags: flags) }
    }

    func shutdown(_ ref: DomainRef, flags: ShutdownFlags) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.shutdown(ref, flags: flags) }
    }

    func reboot(_ ref: DomainRef, flags: ShutdownFlags) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.reboot(ref, flags: flags) }
    }

    func reset(_ ref: DomainRef) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.reset(ref) }
    }

    func suspend(_ ref: DomainRef) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.suspend(ref) }
    }

    func resume(_ ref: DomainRef) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.resume(ref) }
    }

    func save(_ ref: DomainRef, to path: String, xml: String?, flags: SaveRestoreFlags) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.save(ref, to: path, xml: xml, flags: flags) }
    }

    func restore(from path: String, xml: String?, flags: SaveRestoreFlags) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.restore(from: path, xml: xml, flags: flags) }
    }

    func managedSave(_ ref: DomainRef, flags: SaveRestoreFlags) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.managedSave(ref, flags: flags) }
    }

    func hasManagedSaveImage(_ ref: DomainRef) throws(VirtError) -> Bool {
        try core.withLock { c throws(VirtError) in try c.hasManagedSaveImage(ref) }
    }

    func managedSaveRemove(_ ref: DomainRef) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.managedSaveRemove(ref) }
    }

    func autostart(_ ref: DomainRef) throws(VirtError) -> Bool {
        try core.withLock { c throws(VirtError) in try c.autostart(ref) }
    }

    func setAutostart(_ ref: DomainRef, _ enabled: Bool) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.setAutostart(ref, enabled) }
    }

    func info(_ ref: DomainRef) throws(VirtError) -> DomainInfo {
        try core.withLock { c throws(VirtError) in try c.info(ref) }
    }

    func state(_ ref: DomainRef) throws(VirtError) -> DomainStatus {
        try core.withLock { c throws(VirtError) in try c.state(ref) }
    }

    func xmlDesc(_ ref: DomainRef, flags: XMLFlags) throws(VirtError) -> String {
        try core.withLock { c throws(VirtError) in try c.xmlDesc(ref, flags: flags) }
    }

    func isActive(_ ref: DomainRef) throws(VirtError) -> Bool {
        try core.withLock { c throws(VirtError) in try c.isActive(ref) }
    }

    func isPersistent(_ ref: DomainRef) throws(VirtError) -> Bool {
        try core.withLock { c throws(VirtError) in try c.isPersistent(ref) }
    }

    func maxMemory(_ ref: DomainRef) throws(VirtError) -> UInt64 {
        try core.withLock { c throws(VirtError) in try c.maxMemory(ref) }
    }

    func setMemory(_ ref: DomainRef, kib: UInt64, flags: ModificationImpact) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.setMemory(ref, kib: kib, flags: flags) }
    }

    func vcpuCount(_ ref: DomainRef, flags: ModificationImpact) throws(VirtError) -> Int32 {
        try core.withLock { c throws(VirtError) in try c.vcpuCount(ref, flags: flags) }
    }

    func setVcpus(_ ref: DomainRef, count: UInt32, flags: ModificationImpact) throws(VirtError) {
        try core.withLock { c throws(VirtError) in try c.setVcpus(ref, count: count, flags: flags) }
    }

    func securityLabels(_ ref: DomainRef) throws(VirtError) -> [SecurityLabel] {
        try core.withLock { c throws(VirtError) in try c.securityLabels(ref) }
    }

    func messages(_ ref: DomainRef, flags: UInt32) throws(VirtError) -> [String] {
        try core.withLock { c throws(VirtError) in try c.messages(ref, flags: flags) }
    }

    func allDomainStats(domains refs: [DomainRef]?, types: StatsTypes, flags: GetAllDomainStatsFlags)
        throws(VirtError) -> [DomainStatsRecord] {
        try core.withLock { c throws(VirtError) in
            try c.allDomainStats(domains: refs, types: types, flags: flags)
        }
    }
}

/// What ``TestDriverState`` guards: the domain table and the event sinks, with libvirt's test driver's rules.
/// Only used under the state's lock.
final class TestDriverCore {
    var table: TestDomainTable
    private var sinks: [Int: EventBus<DomainEventRecord>] = [:]
    private var nextSink = 0

    init(nodeFile: NodeFile) throws(VirtError) {
        var table = TestDomainTable()
        for nd in nodeFile.domains {
            try table.load(nd)
        }
        self.table = table
    }

    // MARK: Events

    /// Registers a connection's event bus; every event of this state is delivered to it.
    func register(_ bus: EventBus<DomainEventRecord>) -> Int {
        let token = nextSink
        nextSink += 1
        sinks[token] = bus
        return token
    }

    /// Removes a connection's event bus.
    func unregister(_ token: Int) {
        sinks.removeValue(forKey: token)
    }

    /// Delivers `record` to every connection's bus.
    func emit(_ record: DomainEventRecord) {
        for bus in sinks.values { bus.emit(record) }
    }

    private func emit(_ obj: TestDomainObject, _ event: LifecycleEvent) {
        let record = DomainEventRecord(domain: obj.ref, kind: .lifecycle(event))
        for bus in sinks.values { bus.emit(record) }
    }

    /// Ends a stop: stores the object, or forgets it when transient; then emits the stopped event.
    private func finishStop(_ obj: TestDomainObject, before: TestDomainObject, _ event: LifecycleEvent) {
        table.finishStop(obj, before: before)
        emit(obj, event)
    }

    func requireActive(_ obj: TestDomainObject) throws(VirtError) {
        if !obj.isActive { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
    }

    /// libvirt's API-layer check shared by save, restore and managed save.
    private static func checkRunningPaused(_ flags: SaveRestoreFlags) throws(VirtError) {
        if flags.contains(.running) && flags.contains(.paused) {
            throw VirtError(.invalidArg, domain: .domain,
                            "Flags 'VIR_DOMAIN_SAVE_RUNNING' and 'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive")
        }
    }

    static func checkFlags(_ flags: UInt32, allowed: UInt32, _ function: String) throws(VirtError) {
        let bad = flags & ~allowed
        if bad != 0 {
            throw VirtError.unsupportedFlags(UInt64(bad), function: function, domain: .test)
        }
    }

    // MARK: Listing and lookup

    /// Every domain matching `flags` (libvirt's `virDomainObjListFilter`), active ones by id, then by name.
    func listAll(flags: ListAllDomainsFlags) throws(VirtError) -> [DomainRef] {
        try Self.checkFlags(flags.rawValue, allowed: 0xFFFF, "testConnectListAllDomains")
        var out: [DomainRef] = []
        out.reserveCapacity(table.domains.count)
        for obj in table.domains.values where Self.matches(obj, flags.rawValue) { out.append(obj.ref) }
        return Self.sorted(out)
    }

    static func sorted(_ refs: [DomainRef]) -> [DomainRef] {
        refs.sorted { a, b in
            switch (a.id == -1, b.id == -1) {
            case (false, false): a.id < b.id
            case (false, true): true
            case (true, false): false
            case (true, true): a.name < b.name
            }
        }
    }

    /// libvirt's `virDomainObjListFilter` on the raw filter bits (shared by listing and stats).
    static func matches(_ obj: TestDomainObject, _ f: UInt32) -> Bool {
        let active = obj.isActive
        let activeBits = f & 3
        if activeBits == 1 && !active { return false }
        if activeBits == 2 && active { return false }
        let persistBits = f & 12
        if persistBits == 4 && !obj.persistent { return false }
        if persistBits == 8 && obj.persistent { return false }
        let stateBits = f & (16 | 32 | 64 | 128)
        if stateBits != 0 {
            let s = obj.status.state
            let ok = (stateBits & 16 != 0 && s == .running) || (stateBits & 32 != 0 && s == .paused)
                || (stateBits & 64 != 0 && s == .shutoff)
                || (stateBits & 128 != 0 && s != .running && s != .paused && s != .shutoff)
            if !ok { return false }
        }
        let msBits = f & (256 | 512)
        if msBits == 256 && !obj.hasManagedSave { return false }
        if msBits == 512 && obj.hasManagedSave { return false }
        let autoBits = f & (1024 | 2048)
        if autoBits == 1024 && !obj.autostart { return false }
        if autoBits == 2048 && obj.autostart { return false }
        let snapBits = f & (4096 | 8192)
        if snapBits == 4096 && obj.snapshots.isEmpty { return false }
        if snapBits == 8192 && !obj.snapshots.isEmpty { return false }
        let checkpointBits = f & (16384 | 32768)
        if checkpointBits == 16384 && obj.checkpoints.isEmpty { return false }
        if checkpointBits == 32768 && !obj.checkpoints.isEmpty { return false }
        return true
    }

    func listDomainIDs() -> [Int32] { table.byID.keys.sorted() }

    func listDefinedNames() -> [String] {
        table.domains.values.filter { !$0.isActive }.map(\.name).sorted()
    }

    func numberOfDomains() -> Int32 { Int32(table.byID.count) }

    func numberOfDefinedDomains() -> Int32 { Int32(table.domains.count - table.byID.count) }

    private static let notFound = VirtError(.noDomain, domain: .test, "Domain not found")

    func lookup(name: String) throws(VirtError) -> DomainRef {
        guard let u = table.byName[name], let obj = table.domains[u] else { throw Self.notFound }
        return obj.ref
    }

    func lookup(id: Int32) throws(VirtError) -> DomainRef {
        guard id >= 0 else {
            throw VirtError(.invalidArg, domain: .domain,
                            "invalid argument: id in virDomainLookupByID must be zero or greater")
        }
        guard let u = table.byID[id], let obj = table.domains[u] else { throw Self.notFound }
        return obj.ref
    }

    func lookup(uuid: VirtUUID) throws(VirtError) -> DomainRef {
        guard let obj = table.domains[uuid] else { throw Self.notFound }
        return obj.ref
    }

    // MARK: Definition

    func define(_ xml: String, flags: DefineFlags) throws(VirtError) -> DomainRef {
        try Self.checkFlags(flags.rawValue, allowed: DefineFlags.validate.rawValue, "testDomainDefineXMLFlags")
        let def = try TestDomainDefaults.parse(xml, validate: flags.contains(.validate))
        if def.name.contains("\n") {
            throw VirtError(.xmlDetail, domain: .xml, "invalid char in name: \n")
        }
        var (obj, oldDef) = try table.addObject(def, live: false)
        obj.persistent = true
        table.store(obj)
        emit(obj, .defined(oldDef == nil ? .added : .updated))
        return obj.ref
    }

    func undefine(_ ref: DomainRef, flags: UndefineFlags) throws(VirtError) {
        try Self.checkFlags(flags.rawValue, allowed: 1 | 2, "testDomainUndefineFlags")
        var obj = try table.object(ref)
        if obj.hasManagedSave && !flags.contains(.managedSave) {
            throw VirtError.operationInvalid("Refusing to undefine while domain managed save image exists",
                                             domain: .test)
        }
        // Requiring an inactive domain is part of libvirt's documented API for UNDEFINE_SNAPSHOTS_METADATA.
        if !obj.isActive && !obj.snapshots.isEmpty && flags.rawValue & 2 == 0 {
            throw VirtError.operationInvalid(
                "cannot delete inactive domain with \(obj.snapshots.count) snapshots", domain: .test)
        }
        let event = DomainEventRecord(domain: obj.ref, kind: .lifecycle(.undefined(.removed)))
        obj.hasManagedSave = false
        if obj.isActive {
            obj.persistent = false
            table.store(obj)
        } else {
            table.remove(obj)
        }
        for bus in sinks.values { bus.emit(event) }
    }

    func create(_ xml: String, flags: CreateFlags) throws(VirtError) -> DomainRef {
        try Self.checkFlags(flags.rawValue, allowed: CreateFlags.validate.rawValue, "testDomainCreateXML")
        let def = try TestDomainDefaults.parse(xml, validate: flags.contains(.validate))
        var (obj, _) = try table.addObject(def, live: true, checkLive: true)
        table.startState(&obj, reason: .booted)
        table.store(obj)
        emit(obj, .started(.booted))
        return obj.ref
    }

    // MARK: Lifecycle

    func start(_ ref: DomainRef, flags: CreateFlags) throws(VirtError) -> DomainRef {
        try Self.checkFlags(flags.rawValue, allowed: 0, "testDomainCreateWithFlags")
        var obj = try table.object(ref)
        if obj.status.state != .shutoff {
            throw VirtError.internalError("Domain '\(ref.name)' is already running", domain: .test)
        }
        table.startState(&obj, reason: .booted)
        table.store(obj)
        emit(obj, .started(.booted))
        return obj.ref
    }

    func destroy(_ ref: DomainRef, flags: DestroyFlags) throws(VirtError) {
        try Self.checkFlags(flags.rawValue, allowed: DestroyFlags.graceful.rawValue, "testDomainDestroyFlags")
        var obj = try table.object(ref)
        try requireActive(obj)
        let before = obj
        table.shutdownState(&obj, reason: .destroyed)
        finishStop(obj, before: before, .stopped(.destroyed))
    }

    func shutdown(_ ref: DomainRef, flags: ShutdownFlags) throws(VirtError) {
        try Self.checkFlags(flags.rawValue, allowed: 0, "testDomainShutdownFlags")
        var obj = try table.object(ref)
        if obj.status.state == .shutoff {
            throw VirtError.internalError("domain '\(ref.name)' not running", domain: .test)
        }
        try lifecycleAction(&obj, TestLifecycleAction.onPoweroff(obj.definition))
    }

    func reboot(_ ref: DomainRef, flags: ShutdownFlags) throws(VirtError) {
        try Self.checkFlags(flags.rawValue, allowed: 0x1F, "testDomainReboot")
        var obj = try table.object(ref)
        try requireActive(obj)
        try lifecycleAction(&obj, TestLifecycleAction.onReboot(obj.definition))
    }

    /// libvirt's `testDomainActionSetState` followed by the stop when the action leaves the domain shut off.
    private func lifecycleAction(_ obj: inout TestDomainObject, _ action: TestLifecycleAction) throws(VirtError) {
        switch action {
        case .restart:
            obj.status = .running(.booted)
            table.store(obj)
        case .stop:
            let before = obj
            table.shutdownState(&obj, reason: .shutdown)
            finishStop(obj, before: before, .stopped(.shutdown))
        }
    }

    func reset(_ ref: DomainRef) throws(VirtError) {
        let obj = try table.object(ref)
        try requireActive(obj)
    }

    func suspend(_ ref: DomainRef) throws(VirtError) {
        var obj = try table.object(ref)
        let s = obj.status.state
        if s == .shutoff || s == .paused {
            throw VirtError.internalError("domain '\(ref.name)' not running", domain: .test)
        }
        obj.status = .paused(.user)
        table.store(obj)
        emit(obj, .suspended(.paused))
    }

    func resume(_ ref: DomainRef) throws(VirtError) {
        var obj = try table.object(ref)
        if obj.status.state != .paused {
            throw VirtError.internalError("domain '\(ref.name)' not paused", domain: .test)
        }
        obj.status = .running(.unpaused)
        table.store(obj)
        emit(obj, .resumed(.unpaused))
    }

    func save(_ ref: DomainRef, to path: String, xml: String?, flags: SaveRestoreFlags) throws(VirtError) {
        try Self.checkRunningPaused(flags)
        try Self.checkFlags(flags.rawValue, allowed: 0, "testDomainSaveFlags")
        if xml != nil {
            throw VirtError(.argumentUnsupported, domain: .test, "argument unsupported: xml modification unsupported")
        }
        var obj = try table.object(ref)
        try requireActive(obj)
        let image = obj.definition.formatXML(DomainFormatOptions(secure: true, inactive: false, id: obj.id))
        try SaveImage.write(path: path, xml: image, domainName: obj.name)
        let before = obj
        table.shutdownState(&obj, reason: .saved)
        finishStop(obj, before: before, .stopped(.saved))
    }

    func restore(from path: String, xml: String?, flags: SaveRestoreFlags) throws(VirtError) {
        try Self.checkRunningPaused(flags)
        try Self.checkFlags(flags.rawValue, allowed: 0, "testDomainRestoreFlags")
        if xml != nil {
            throw VirtError(.argumentUnsupported, domain: .test, "argument unsupported: xml modification unsupported")
        }
        let text = try SaveImage.read(path: path)
        let def = try TestDomainDefaults.parse(text)
        var (obj, _) = try table.addObject(def, live: true, checkLive: true)
        table.startState(&obj, reason: .restored)
        table.store(obj)
        emit(obj, .started(.restored))
    }

    func managedSave(_ ref: DomainRef, flags: SaveRestoreFlags) throws(VirtError) {
        try Self.checkRunningPaused(flags)
        try Self.checkFlags(flags.rawValue, allowed: 1 | 2 | 4, "testDomainManagedSave")
        var obj = try table.object(ref)
        try requireActive(obj)
        if !obj.persistent {
            throw VirtError.operationInvalid("cannot do managed save for transient domain", domain: .test)
        }
        let before = obj
        table.shutdownState(&obj, reason: .saved)
        obj.hasManagedSave = true
        finishStop(obj, before: before, .stopped(.saved))
    }

    func hasManagedSaveImage(_ ref: DomainRef) throws(VirtError) -> Bool {
        try table.object(ref).hasManagedSave
    }

    func managedSaveRemove(_ ref: DomainRef) throws(VirtError) {
        var obj = try table.object(ref)
        obj.hasManagedSave = false
        table.store(obj)
    }

    /// libvirt's `testDomainRename`: an inactive persistent domain takes `newName`, with the undefined and
    /// defined (renamed) events.
    func rename(_ ref: DomainRef, to newName: String, flags: UInt32) throws(VirtError) {
        try Self.checkFlags(flags, allowed: 0, "testDomainRename")
        var obj = try table.object(ref)
        if obj.isActive { throw VirtError.operationInvalid("cannot rename active domain", domain: .test) }
        if !obj.persistent { throw VirtError.operationInvalid("cannot rename a transient domain", domain: .test) }
        if obj.status.state != .shutoff {
            throw VirtError.operationInvalid("domain has to be shutoff before renaming", domain: .test)
        }
        let before = obj
        if obj.name != newName, newName.contains("/") {
            throw VirtError(.xmlError, domain: .test, "XML error: name \(newName) cannot contain '/'",
                            str1: "name \(newName) cannot contain '/'")
        }
        try table.rename(&obj, to: newName)
        emit(before, .undefined(.renamed))
        emit(obj, .defined(.renamed))
    }

    // MARK: Properties

    func autostart(_ ref: DomainRef) throws(VirtError) -> Bool { try table.object(ref).autostart }

    func setAutostart(_ ref: DomainRef, _ enabled: Bool) throws(VirtError) {
        var obj = try table.object(ref)
        obj.autostart = enabled
        table.store(obj)
    }

    func info(_ ref: DomainRef) throws(VirtError) -> DomainInfo {
        let obj = try table.object(ref)
        let def = obj.definition
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        // libvirt: g_get_real_time() (microseconds) * 1000.
        let cpuTime = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec / 1000) * 1000
        return DomainInfo(state: obj.status.state, maxMemory: def.memory, memory: def.currentMemory,
                          vcpus: UInt16(truncatingIfNeeded: def.currentVcpus ?? def.vcpus), cpuTime: cpuTime)
    }

    func state(_ ref: DomainRef) throws(VirtError) -> DomainStatus { try table.object(ref).status }

    func xmlDesc(_ ref: DomainRef, flags: XMLFlags) throws(VirtError) -> String {
        try Self.checkFlags(flags.rawValue, allowed: 1 | 2 | 4 | 8, "testDomainGetXMLDesc")
        let obj = try table.object(ref)
        let inactive = flags.contains(.inactive)
        if inactive, let persistentDef = obj.newDefinition {
            return persistentDef.formatXML(DomainFormatOptions(secure: flags.contains(.secure), inactive: true))
        }
        let live = !inactive && obj.isActive
        return obj.definition.formatXML(DomainFormatOptions(secure: flags.contains(.secure), inactive: !live,
                                                            id: live ? obj.id : nil))
    }

    func isActive(_ ref: DomainRef) throws(VirtError) -> Bool { try table.object(ref).isActive }

    func isPersistent(_ ref: DomainRef) throws(VirtError) -> Bool { try table.object(ref).persistent }

    func maxMemory(_ ref: DomainRef) throws(VirtError) -> UInt64 { try table.object(ref).definition.memory }

    /// libvirt's `virDomainObjGetOneDefState`: which definition `flags` address, and whether it is the live one.
    func oneDef(_ obj: TestDomainObject, _ flags: ModificationImpact) throws(VirtError)
        -> (config: Bool, live: Bool) {
        if flags.contains(.live) && flags.contains(.config) {
            throw VirtError(.invalidArg, domain: .domain,
                            "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive")
        }
        let (live, config) = try defs(obj, flags)
        return (config && obj.isActive, live)
    }

    func setMemory(_ ref: DomainRef, kib: UInt64, flags: ModificationImpact) throws(VirtError) {
        if kib == 0 {
            throw VirtError(.invalidArg, domain: .domain, "memory in virDomainSetMemoryFlags must not be zero")
        }
        try Self.checkFlags(flags.rawValue, allowed: 1 | 2 | 4, "testDomainSetMemoryFlags")
        var obj = try table.object(ref)
        let (useNew, live) = try oneDef(obj, flags)
        var def = useNew ? (obj.newDefinition ?? obj.definition) : obj.definition
        if flags.contains(.maximum) {
            if live {
                throw VirtError.operationInvalid("cannot resize the maximum memory on an active domain",
                                                 domain: .test)
            }
            def.memory = kib
            if def.currentMemory > kib { def.currentMemory = kib }
        } else {
            if kib > def.memory {
                throw VirtError.invalidArg("cannot set memory higher than max memory", domain: .test)
            }
            def.currentMemory = kib
        }
        if useNew { obj.newDefinition = def } else { obj.definition = def }
        table.store(obj)
    }

    func vcpuCount(_ ref: DomainRef, flags: ModificationImpact) throws(VirtError) -> Int32 {
        try Self.checkFlags(flags.rawValue, allowed: 1 | 2 | 4, "testDomainGetVcpusFlags")
        let obj = try table.object(ref)
        let (useNew, _) = try oneDef(obj, flags)
        let def = useNew ? (obj.newDefinition ?? obj.definition) : obj.definition
        if flags.contains(.maximum) { return Int32(def.vcpus) }
        return Int32(def.currentVcpus ?? def.vcpus)
    }

    /// libvirt's `virDomainObjGetDefs`: whether `flags` address the live definition, the persistent one, or both.
    func defs(_ obj: TestDomainObject, _ flags: ModificationImpact) throws(VirtError) -> (live: Bool, config: Bool) {
        var live = flags.contains(.live)
        var config = flags.contains(.config)
        if !live && !config {
            if obj.isActive { live = true } else { config = true }
        }
        if live && !obj.isActive {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        if config && !obj.persistent {
            throw VirtError.operationInvalid("transient domains do not have any persistent config", domain: .domain)
        }
        return (live, config)
    }

    /// libvirt's `testDomainSetLifecycleAction`: the action of one lifecycle event (0 poweroff, 1 reboot,
    /// 2 crash) in the addressed definitions.
    func setLifecycleAction(_ ref: DomainRef, type: UInt32, action: UInt32, flags: ModificationImpact)
        throws(VirtError) {
        try Self.checkFlags(flags.rawValue, allowed: 1 | 2, "testDomainSetLifecycleAction")
        let types = ["poweroff", "reboot", "crash"]
        guard Int(type) < types.count, Int(action) < CrashAction.allCases.count else {
            throw VirtError.invalidArg("invalid lifecycle type or action", domain: .domain)
        }
        let crashAction = CrashAction.allCases[Int(action)]
        // virDomainDefLifecycleActionAllowed: power-off and reboot take no core dump.
        let plain = LifecycleAction(rawValue: crashAction.rawValue)
        if type < 2 && plain == nil {
            throw VirtError.domainConfigUnsupported(
                "Lifecycle event '\(types[Int(type)])' doesn't support '\(crashAction.rawValue)' action")
        }
        var obj = try table.object(ref)
        let (live, config) = try defs(obj, flags)
        func modify(_ d: inout DomainDefinition) {
            switch type {
            case 0: if let plain { d.onPoweroff = plain }
            case 1: if let plain { d.onReboot = plain }
            default: d.onCrash = crashAction
            }
        }
        if live { modify(&obj.definition) }
        if config {
            if obj.isActive {
                var d = obj.newDefinition ?? obj.definition
                modify(&d)
                obj.newDefinition = d
            } else {
                modify(&obj.definition)
            }
        }
        table.store(obj)
    }

    func setVcpus(_ ref: DomainRef, count: UInt32, flags: ModificationImpact) throws(VirtError) {
        // The checks of libvirt's public API (virDomainSetVcpusFlags) come first.
        if count == 0 {
            throw VirtError(.invalidArg, domain: .domain, "nvcpus in virDomainSetVcpusFlags must not be zero")
        }
        if flags.contains(.maximum) && !flags.contains(.config) {
            throw VirtError(.invalidArg, domain: .domain,
                            "Flag 'VIR_DOMAIN_AFFECT_CONFIG' is required by flag 'VIR_DOMAIN_VCPU_MAXIMUM'")
        }
        try Self.checkFlags(flags.rawValue, allowed: 1 | 2 | 4, "testDomainSetVcpusFlags")
        if count > 32 {
            throw VirtError.invalidArg(
                "requested cpu amount exceeds maximum supported amount (\(count) > 32)", domain: .test)
        }
        var obj = try table.object(ref)
        let (wantLive, wantConfig) = try defs(obj, flags)
        var liveDef: DomainDefinition? = wantLive ? obj.definition : nil
        var persistentDef: DomainDefinition? =
            wantConfig ? (obj.isActive ? (obj.newDefinition ?? obj.definition) : obj.definition) : nil
        if let d = liveDef, d.vcpus < count {
            throw VirtError.invalidArg("requested cpu amount exceeds maximum (\(count) > \(d.vcpus))", domain: .test)
        }
        if let d = persistentDef, !flags.contains(.maximum), d.vcpus < count {
            throw VirtError.invalidArg("requested cpu amount exceeds maximum (\(count) > \(d.vcpus))", domain: .test)
        }
        // As libvirt's test driver: virDomainDefSetVcpus (the first vCPUs online, each vCPU's hotpluggable and
        // order kept) or, for the maximum, virDomainDefSetVcpusMax.
        if var d = liveDef {
            d.setOnlineVcpuCount(count)
            liveDef = d
        }
        if var d = persistentDef {
            if flags.contains(.maximum) {
                d.setMaximumVcpus(count)
            } else {
                d.setOnlineVcpuCount(count)
            }
            persistentDef = d
        }
        if let d = liveDef { obj.definition = d }
        if let d = persistentDef {
            if obj.isActive { obj.newDefinition = d } else { obj.definition = d }
        }
        table.store(obj)
    }

    func securityLabels(_ ref: DomainRef) throws(VirtError) -> [SecurityLabel] {
        let obj = try table.object(ref)
        return obj.isActive ? [SecurityLabel(label: "libvirt-test", enforcing: true)]
            : [SecurityLabel(label: "", enforcing: false)]
    }

    func messages(_ ref: DomainRef, flags: UInt32) throws(VirtError) -> [String] {
        try Self.checkFlags(flags, allowed: 1 | 2, "testDomainGetMessages")
        let obj = try table.object(ref)
        return TestTaint.messages(taints: obj.taints, deprecations: obj.deprecations, flags: flags)
    }

    func allDomainStats(domains refs: [DomainRef]?, types: StatsTypes, flags: GetAllDomainStatsFlags)
        throws(VirtError) -> [DomainStatsRecord] {
        try Self.checkFlags(flags.rawValue, allowed: 0xFF | (1 << 29) | (1 << 30) | (1 << 31),
                            "testConnectGetAllDomainStats")
        let supported = StatsTypes.state.rawValue | StatsTypes.iothread.rawValue
        var wanted = types.rawValue
        if wanted == 0 {
            wanted = supported
        } else if flags.contains(.enforceStats), wanted & ~supported != 0 {
            throw VirtError(.argumentUnsupported, domain: .test,
                            "argument unsupported: Stats types bits 0x\(String(wanted & ~supported, radix: 16)) are not supported by this daemon")
        }
        let filter = flags.rawValue & 0xFF
        var objs: [TestDomainObject] = []
        if let refs {
            // libvirt's virDomainObjListConvert: unknown domains are skipped, the filters still apply.
            for r in refs {
                if let o = table.domains[r.uuid], Self.matches(o, filter) { objs.append(o) }
            }
        } else {
            let refs = table.domains.values.filter { Self.matches($0, filter) }.map(\.ref)
            objs = Self.sorted(refs).compactMap { table.domains[$0.uuid] }
        }
        return objs.map { obj in
            var params: [TypedParam] = []
            if wanted & StatsTypes.state.rawValue != 0 {
                params.append(TypedParam("state.state", .int(obj.status.state.rawValue)))
                params.append(TypedParam("state.reason", .int(obj.status.reason)))
            }
            if wanted & StatsTypes.iothread.rawValue != 0, obj.isActive, !obj.iothreadIDs.isEmpty {
                params.append(TypedParam("iothread.count", .uint(UInt32(obj.iothreadIDs.count))))
                for t in obj.iothreadIDs {
                    params.append(TypedParam("iothread.\(t.id).poll-max-ns", .ullong(t.pollMaxNs)))
                    params.append(TypedParam("iothread.\(t.id).poll-grow", .uint(t.pollGrow)))
                    params.append(TypedParam("iothread.\(t.id).poll-shrink", .uint(t.pollShrink)))
                }
            }
            return DomainStatsRecord(domain: obj.ref, params: params)
        }
    }
}
