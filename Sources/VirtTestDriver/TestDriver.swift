import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A connection to libvirt's `test` mock hypervisor, behaving as libvirt 9.0's test driver.
///
/// `test:///default` starts with the running domain "test" (id 1) on a fake 16-CPU i686 host; every
/// `test:///default` connection of the process shares that state until the last one closes, so events caused
/// through one connection are seen on the others. `test:///path/to/node.xml` loads a custom node description
/// (a state of its own per connection).
public final class TestDriver: HypervisorDriver {
    /// The URI this connection was opened with.
    public let uri: String
    let state: TestDriverState
    /// The registry the state was taken from (`test:///default` only).
    private let registry: SharedStateRegistry?
    private let bus: EventBus<DomainEventRecord>
    private let token: Int
    private let closed = Mutex(false)
    /// This connection's network events (TestDriver+Networks.swift) and its registration with the state.
    let networkBus = EventBus<NetworkEventRecord>()
    private let networkToken: Int
    /// Node device events (TestNodeDevices.swift).
    let nodeDeviceBus = EventBus<NodeDeviceEventRecord>()
    private let nodeDeviceToken: Int

    private init(uri: String, state: TestDriverState, registry: SharedStateRegistry?, token: Int,
                 bus: EventBus<DomainEventRecord>) {
        self.uri = uri
        self.state = state
        self.registry = registry
        self.token = token
        self.bus = bus
        networkToken = state.networks.register(networkBus)
        nodeDeviceToken = state.nodeDevices.sinks.register(nodeDeviceBus)
    }

    /// Opens the test driver for `test:///default` or `test:///path/to/node.xml`.
    public static func open(_ uri: ConnectionURI) async throws -> TestDriver {
        try await open(uri, registry: TestDriverRegistry.default)
    }

    /// Opens the test driver, taking the `test:///default` state from `registry`.
    static func open(_ uri: ConnectionURI, registry: SharedStateRegistry) async throws -> TestDriver {
        let path = uri.path
        if path.isEmpty || path == "/" {
            throw VirtError(.invalidArg, domain: .test,
                            "invalid argument: testOpen: supply a path or use test:///default")
        }
        let state: TestDriverState
        let isDefault = path == "/default"
        if isDefault {
            state = try registry.acquire()
        } else {
            state = try TestDriverState.load(path: path)
            // A node file with `<auth>` users wants a name and password from the client's authentication
            // callback. Connections here have none (as libvirtd's own connection to the test driver, and a
            // client's virConnectOpen without one), so libvirt's answer is the same refusal.
            if state.requiresAuthentication {
                throw VirtError(.invalidArg, domain: .auth, "invalid argument: Missing authentication credentials")
            }
        }
        let bus = EventBus<DomainEventRecord>()
        let token = state.register(bus)
        return TestDriver(uri: uri.original, state: state, registry: isDefault ? registry : nil, token: token,
                          bus: bus)
    }

    /// Opens a connection on a fresh `test:///default` state of its own, not shared with other connections
    /// (for tests that must start from libvirt's initial state).
    static func openPrivateDefault() async throws -> TestDriver {
        let state = try TestDriverState.makeDefault()
        let bus = EventBus<DomainEventRecord>()
        let token = state.register(bus)
        return TestDriver(uri: "test:///default", state: state, registry: nil, token: token, bus: bus)
    }

    /// Closes the connection: its event subscriptions end, and the last `test:///default` connection frees the
    /// shared state. Closing twice is harmless.
    public func close() async {
        let wasClosed = closed.withLock { c -> Bool in
            let was = c
            c = true
            return was
        }
        if wasClosed { return }
        state.unregister(token)
        state.networks.unregister(networkToken)
        state.nodeDevices.sinks.unregister(nodeDeviceToken)
        bus.finishAll()
        networkBus.finishAll()
        nodeDeviceBus.finishAll()
        registry?.release(state)
    }

    /// A connection dropped without `close()` still releases what it holds.
    deinit {
        let wasClosed = closed.withLock { c -> Bool in
            let was = c
            c = true
            return was
        }
        if wasClosed { return }
        bus.finishAll()
        networkBus.finishAll()
        nodeDeviceBus.finishAll()
        state.unregister(token)
        state.networks.unregister(networkToken)
        state.nodeDevices.sinks.unregister(nodeDeviceToken)
        registry?.release(state)
    }

    // MARK: Host

    /// "TEST", as libvirt's test driver.
    public func hypervisorType() async throws -> String { "TEST" }
    /// 2 (printed by virsh as 0.0.2).
    public func hypervisorVersion() async throws -> UInt64 { 2 }

    /// The host name of the machine, as libvirt's `virGetHostname`.
    public func hostname() async throws -> String { try HostName.current() }

    /// The capabilities XML.
    public func capabilities() async throws -> String { state.node.capabilitiesXML }
    /// Not provided by libvirt 9.0's test driver (NO_SUPPORT from libvirt's domain API).
    public func domainCapabilities(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                   flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virConnectGetDomainCapabilities", domain: .domain)
    }
    /// Facts about the host.
    public func nodeInfo() async throws -> NodeInfo { state.node.info }
    /// The sum of the cells' free memory in KiB, as the test driver reports it.
    public func nodeFreeMemory() async throws -> UInt64 { state.node.freeMemory }
    /// The maximum number of vCPUs of a guest.
    public func maxVcpus(type: String?) async throws -> Int32 { 32 }
    /// Whether the connection is secure.
    public func isSecure() async throws -> Bool { true }
    /// The host's security model.
    public func securityModel() async throws -> SecurityModel { SecurityModel(model: "testSecurity", doi: "") }

    // MARK: Listing and lookup

    /// The domains matching the filter flags.
    public func listAllDomains(flags: ListAllDomainsFlags) async throws -> [DomainRef] {
        try state.listAll(flags: flags)
    }
    /// The ids of the running domains.
    public func listDomainIDs() async throws -> [Int32] { state.listDomainIDs() }
    /// The names of the inactive domains.
    public func listDefinedDomainNames() async throws -> [String] { state.listDefinedNames() }
    /// The number of running domains.
    public func numberOfDomains() async throws -> Int32 { state.numberOfDomains() }
    /// The number of inactive domains.
    public func numberOfDefinedDomains() async throws -> Int32 { state.numberOfDefinedDomains() }
    /// Finds a domain.
    public func lookupDomain(name: String) async throws -> DomainRef { try state.lookup(name: name) }
    /// Finds a domain.
    public func lookupDomain(id: Int32) async throws -> DomainRef { try state.lookup(id: id) }
    /// Finds a domain.
    public func lookupDomain(uuid: VirtUUID) async throws -> DomainRef { try state.lookup(uuid: uuid) }

    // MARK: Definition

    /// Defines or redefines a persistent domain.
    public func defineXML(_ xml: String, flags: DefineFlags) async throws -> DomainRef {
        try state.define(xml, flags: flags)
    }
    /// Removes a persistent definition.
    public func undefine(_ domain: DomainRef, flags: UndefineFlags) async throws {
        try state.undefine(domain, flags: flags)
    }
    /// Creates and starts a transient domain.
    public func createXML(_ xml: String, flags: CreateFlags) async throws -> DomainRef {
        try state.create(xml, flags: flags)
    }

    // MARK: Lifecycle

    /// Starts an inactive domain.
    public func start(_ domain: DomainRef, flags: CreateFlags) async throws -> DomainRef {
        try state.start(domain, flags: flags)
    }
    /// Stops a domain at once.
    public func destroy(_ domain: DomainRef, flags: DestroyFlags) async throws {
        try state.destroy(domain, flags: flags)
    }
    /// Shuts a domain down.
    public func shutdown(_ domain: DomainRef, flags: ShutdownFlags) async throws {
        try state.shutdown(domain, flags: flags)
    }
    /// Reboots a domain.
    public func reboot(_ domain: DomainRef, flags: ShutdownFlags) async throws {
        try state.reboot(domain, flags: flags)
    }
    /// Resets a domain.
    public func reset(_ domain: DomainRef) async throws { try state.reset(domain) }
    /// Pauses a domain.
    public func suspend(_ domain: DomainRef) async throws { try state.suspend(domain) }
    /// Resumes a paused domain.
    public func resume(_ domain: DomainRef) async throws { try state.resume(domain) }
    /// Saves a running domain to a file and stops it.
    public func save(_ domain: DomainRef, to path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        try state.save(domain, to: path, xml: xml, flags: flags)
    }
    /// Starts a domain from a save file.
    public func restore(from path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        try state.restore(from: path, xml: xml, flags: flags)
    }
    /// Sets what a power-off, reboot or crash does.
    public func setLifecycleAction(_ domain: DomainRef, type: UInt32, action: UInt32, flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in
            try c.setLifecycleAction(domain, type: type, action: action, flags: ModificationImpact(rawValue: flags))
        }
    }
    /// Renames an inactive persistent domain.
    public func renameDomain(_ domain: DomainRef, newName: String, flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in try c.rename(domain, to: newName, flags: flags) }
    }
    /// The domain XML kept in a save image.
    public func saveImageXML(path: String, flags: UInt32) async throws -> String {
        try SaveImage.domainXML(path: path, flags: flags)
    }
    /// Replaces the domain XML kept in a save image.
    public func saveImageDefineXML(path: String, xml: String, flags: UInt32) async throws {
        try SaveImage.defineXML(path: path, xml: xml, flags: flags)
    }
    /// Saves a running domain to its managed image and stops it.
    public func managedSave(_ domain: DomainRef, flags: SaveRestoreFlags) async throws {
        try state.managedSave(domain, flags: flags)
    }
    /// Whether the domain has a managed save image.
    public func hasManagedSaveImage(_ domain: DomainRef) async throws -> Bool {
        try state.hasManagedSaveImage(domain)
    }
    /// Removes the managed save image.
    public func managedSaveRemove(_ domain: DomainRef) async throws { try state.managedSaveRemove(domain) }

    // MARK: Properties

    /// Whether the domain starts with the host.
    public func autostart(_ domain: DomainRef) async throws -> Bool { try state.autostart(domain) }
    /// Sets whether the domain starts with the host.
    public func setAutostart(_ domain: DomainRef, _ enabled: Bool) async throws {
        try state.setAutostart(domain, enabled)
    }
    /// The domain's state, memory, vCPUs and CPU time.
    public func info(_ domain: DomainRef) async throws -> DomainInfo { try state.info(domain) }
    /// The domain's state and reason.
    public func state(_ domain: DomainRef) async throws -> DomainStatus { try state.state(domain) }
    /// The domain XML.
    public func xmlDesc(_ domain: DomainRef, flags: XMLFlags) async throws -> String {
        try state.xmlDesc(domain, flags: flags)
    }
    /// Always "linux", as libvirt's test driver.
    public func osType(_ domain: DomainRef) async throws -> String {
        _ = try state.isActive(domain)
        return "linux"
    }
    /// Whether the domain is running.
    public func isActive(_ domain: DomainRef) async throws -> Bool { try state.isActive(domain) }
    /// Whether the domain is persistent.
    public func isPersistent(_ domain: DomainRef) async throws -> Bool { try state.isPersistent(domain) }
    /// Always false, as libvirt's test driver.
    public func isUpdated(_ domain: DomainRef) async throws -> Bool { false }
    /// The maximum memory in KiB.
    public func maxMemory(_ domain: DomainRef) async throws -> UInt64 { try state.maxMemory(domain) }
    /// Sets the current or maximum memory.
    public func setMemory(_ domain: DomainRef, kib: UInt64, flags: ModificationImpact) async throws {
        try state.setMemory(domain, kib: kib, flags: flags)
    }
    /// The number of vCPUs.
    public func vcpuCount(_ domain: DomainRef, flags: ModificationImpact) async throws -> Int32 {
        try state.vcpuCount(domain, flags: flags)
    }
    /// Sets the number of vCPUs.
    public func setVcpus(_ domain: DomainRef, count: UInt32, flags: ModificationImpact) async throws {
        try state.setVcpus(domain, count: count, flags: flags)
    }
    /// The domain's security labels.
    public func securityLabels(_ domain: DomainRef) async throws -> [SecurityLabel] {
        try state.securityLabels(domain)
    }
    /// Taint and deprecation messages.
    public func messages(_ domain: DomainRef, flags: UInt32) async throws -> [String] {
        try state.messages(domain, flags: flags)
    }
    /// Domain statistics.
    public func allDomainStats(domains: [DomainRef]?, types: StatsTypes, flags: GetAllDomainStatsFlags)
        async throws -> [DomainStatsRecord] {
        try state.allDomainStats(domains: domains, types: types, flags: flags)
    }

    /// Not provided by libvirt 9.0's test driver (NO_SUPPORT from libvirt's domain API).
    public func openConsole(_ domain: DomainRef, device: String?, flags: UInt32) async throws -> any ByteStream {
        throw VirtError.noSupport("virDomainOpenConsole", domain: .domain)
    }

    // MARK: Events

    /// A new subscription to every domain event of this connection's hypervisor; it ends when the connection
    /// closes.
    public func events() -> AsyncStream<DomainEventRecord> {
        if closed.withLock({ $0 }) { return AsyncStream { $0.finish() } }
        return bus.subscribe()
    }
}
