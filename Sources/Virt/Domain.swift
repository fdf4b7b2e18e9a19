/// A handle on one domain of a connection, as libvirt's `virDomainPtr`.
///
/// A handle names its domain by name, UUID and id (as of the lookup or the last lifecycle call made through it);
/// the driver finds the domain by UUID.
public struct Domain: Sendable, Hashable {
    /// The connection this handle belongs to.
    public let connection: Connection
    /// Name, UUID and id (-1 when inactive) as of the last lookup or lifecycle call.
    public private(set) var ref: DomainRef

    /// A handle for `ref` on `connection`.
    public init(connection: Connection, ref: DomainRef) {
        self.connection = connection
        self.ref = ref
    }

    /// Two handles are equal when they belong to the same connection and name the same domain with the same id.
    public static func == (a: Domain, b: Domain) -> Bool { a.connection === b.connection && a.ref == b.ref }
    /// Hashes the domain reference.
    public func hash(into h: inout Hasher) { h.combine(ref) }

    /// The domain's name.
    public var name: String { ref.name }
    /// The domain's UUID.
    public var uuid: VirtUUID { ref.uuid }
    /// The id, or -1 when the domain is not running.
    public var id: Int32 { ref.id }

    private var driver: any HypervisorDriver { connection.driver }

    /// `virDomainRename`: on success this handle takes the new name.
    public mutating func rename(to newName: String, flags: UInt32 = 0) async throws {
        try await connection.driver.renameDomain(ref, newName: newName, flags: flags)
        ref = DomainRef(name: newName, uuid: ref.uuid, id: ref.id)
    }

    /// A handle with the domain's current name and id, looked up again by UUID.
    public func refreshed() async throws -> Domain {
        Domain(connection: connection, ref: try await driver.lookupDomain(uuid: ref.uuid))
    }

    /// This domain's events from now on (matched by UUID), as an async sequence that ends with the connection.
    public func events() -> AsyncFilterSequence<AsyncStream<DomainEventRecord>> {
        let uuid = ref.uuid
        return connection.events().filter { $0.domain.uuid == uuid }
    }

    // MARK: Lifecycle

    /// Starts a defined domain; the handle's id is updated.
    public mutating func start(flags: CreateFlags = []) async throws {
        ref = try await driver.start(ref, flags: flags)
    }

    /// Stops the domain at once (a transient domain disappears).
    public func destroy(flags: DestroyFlags = []) async throws { try await driver.destroy(ref, flags: flags) }
    /// Asks the guest to shut down.
    public func shutdown(flags: ShutdownFlags = []) async throws { try await driver.shutdown(ref, flags: flags) }
    /// Asks the guest to reboot.
    public func reboot(flags: ShutdownFlags = []) async throws { try await driver.reboot(ref, flags: flags) }
    /// Resets the guest (a hardware reset, without a guest shutdown).
    public func reset() async throws { try await driver.reset(ref) }
    /// Opens the domain's console (`virDomainOpenConsole`): `device` is a serial/console alias, nil the first.
    public func openConsole(device: String? = nil, flags: UInt32 = 0) async throws -> any ByteStream {
        try await driver.openConsole(ref, device: device, flags: flags)
    }
    /// Sends `command` to the domain's QEMU monitor (`virDomainQemuMonitorCommand`): a QMP JSON command, or a
    /// human monitor command when `hmp` is set. Returns QEMU's reply (QMP) or its text output (HMP).
    public func qemuMonitorCommand(_ command: String, hmp: Bool = false) async throws -> String {
        try await driver.qemuMonitorCommand(ref, command: command, flags: hmp ? 1 : 0)
    }
    /// `virDomainQemuMonitorCommandWithFiles`: the command with descriptors of the caller's for QEMU (QEMU's
    /// driver takes at most one; the caller keeps its own).
    public func qemuMonitorCommand(_ command: String, hmp: Bool = false, fds: [Int32]) async throws -> String {
        try await driver.qemuMonitorCommand(ref, command: command, fds: fds, flags: hmp ? 1 : 0)
    }
    /// The descriptors of the domain's namespaces (`virDomainLxcOpenNamespace`; only container drivers have them).
    public func lxcOpenNamespace() async throws -> [Int32] {
        try await driver.lxcOpenNamespace(ref, flags: 0)
    }
    /// Pauses the domain.
    public func suspend() async throws { try await driver.suspend(ref) }
    /// Resumes a paused domain.
    public func resume() async throws { try await driver.resume(ref) }
    /// Removes the persistent definition (a running domain becomes transient).
    public func undefine(flags: UndefineFlags = []) async throws { try await driver.undefine(ref, flags: flags) }

    /// Saves the running domain's state to a file and stops it. A relative path is taken from the current
    /// directory of this process, as libvirt's client library does.
    public func save(to path: String, xml: String? = nil, flags: SaveRestoreFlags = []) async throws {
        try await driver.save(ref, to: AbsolutePath.make(path), xml: xml, flags: flags)
    }
    /// Saves the running domain's state to a managed image and stops it; the next start restores it.
    public func managedSave(flags: SaveRestoreFlags = []) async throws {
        try await driver.managedSave(ref, flags: flags)
    }
    /// Whether a managed save image exists.
    public func hasManagedSaveImage() async throws -> Bool { try await driver.hasManagedSaveImage(ref) }
    /// Removes the managed save image.
    public func managedSaveRemove() async throws { try await driver.managedSaveRemove(ref) }
    /// The definition stored in the managed save image (`flags`: VIR_DOMAIN_SAVE_IMAGE_XML_SECURE).
    public func managedSaveXML(flags: UInt32 = 0) async throws -> String {
        try await driver.managedSaveXML(ref, flags: flags)
    }
    /// Replaces the managed save image's definition and, with flags running (2) or paused (4), its state.
    public func managedSaveDefineXML(_ xml: String?, flags: UInt32 = 0) async throws {
        try await driver.managedSaveDefineXML(ref, xml: xml, flags: flags)
    }

    // MARK: Jobs

    /// The job in flight (or with `completed` the last one that ended): its `virDomainJobType` and statistics.
    public func jobStats(completed: Bool = false, keepCompleted: Bool = false) async throws
        -> (type: Int32, params: [TypedParam]) {
        try await driver.jobStats(ref, completed: completed, keepCompleted: keepCompleted)
    }
    /// Aborts the job in flight (a save, an outgoing migration).
    public func abortJob(flags: UInt32 = 0) async throws { try await driver.abortJob(ref, flags: flags) }

    // MARK: Properties

    /// Whether the domain starts with the host.
    public func autostart() async throws -> Bool { try await driver.autostart(ref) }
    /// Sets whether the domain starts with the host.
    public func setAutostart(_ enabled: Bool) async throws { try await driver.setAutostart(ref, enabled) }
    /// State, memory, vCPUs and CPU time.
    public func info() async throws -> DomainInfo { try await driver.info(ref) }
    /// The state and its reason.
    public func state() async throws -> DomainStatus { try await driver.state(ref) }
    /// The domain XML (live unless `.inactive`).
    public func xmlDesc(flags: XMLFlags = []) async throws -> String { try await driver.xmlDesc(ref, flags: flags) }
    /// The guest OS type.
    public func osType() async throws -> String { try await driver.osType(ref) }
    /// Whether the domain is running (or paused).
    public func isActive() async throws -> Bool { try await driver.isActive(ref) }
    /// Whether the domain has a persistent definition.
    public func isPersistent() async throws -> Bool { try await driver.isPersistent(ref) }
    /// Whether the persistent definition differs from the running one.
    public func isUpdated() async throws -> Bool { try await driver.isUpdated(ref) }
    /// The maximum memory in KiB.
    public func maxMemory() async throws -> UInt64 { try await driver.maxMemory(ref) }
    /// Sets the current (or, with `.maximum`, the maximum) memory in KiB.
    public func setMemory(kib: UInt64, flags: ModificationImpact = .current) async throws {
        try await driver.setMemory(ref, kib: kib, flags: flags)
    }
    /// The number of vCPUs (current, or the maximum with `.maximum`).
    public func vcpuCount(flags: ModificationImpact = .current) async throws -> Int32 {
        try await driver.vcpuCount(ref, flags: flags)
    }
    /// Sets the number of vCPUs (or, with `.maximum`, the maximum).
    public func setVcpus(_ count: UInt32, flags: ModificationImpact = .current) async throws {
        try await driver.setVcpus(ref, count: count, flags: flags)
    }
    /// The security labels of the running domain.
    public func securityLabels() async throws -> [SecurityLabel] { try await driver.securityLabels(ref) }
    /// Taint and deprecation messages.
    public func messages(flags: UInt32 = 0) async throws -> [String] { try await driver.messages(ref, flags: flags) }
    /// This domain's statistics for the `types` groups (none: all the driver supports).
    public func stats(types: StatsTypes = []) async throws -> DomainStatsRecord? {
        try await driver.allDomainStats(domains: [ref], types: types, flags: []).first
    }
}
