/// A handle on one domain of a connection, as libvirt's `virDomainPtr`.
public struct Domain: Sendable, Hashable {
    public let connection: Connection
    /// Name, UUID and id (-1 when inactive) as of the last lookup or lifecycle call.
    public private(set) var ref: DomainRef

    public init(connection: Connection, ref: DomainRef) {
        self.connection = connection
        self.ref = ref
    }

    public static func == (a: Domain, b: Domain) -> Bool { a.connection === b.connection && a.ref == b.ref }
    public func hash(into h: inout Hasher) { h.combine(ref) }

    public var name: String { ref.name }
    public var uuid: VirtUUID { ref.uuid }
    /// The id, or -1 when the domain is not running.
    public var id: Int32 { ref.id }

    private var driver: any HypervisorDriver { connection.driver }

    /// Starts a defined domain; the handle's id is updated.
    public mutating func start(flags: CreateFlags = []) async throws {
        ref = try await driver.start(ref, flags: flags)
    }

    public func destroy(flags: DestroyFlags = []) async throws { try await driver.destroy(ref, flags: flags) }
    public func shutdown(flags: ShutdownFlags = []) async throws { try await driver.shutdown(ref, flags: flags) }
    public func reboot(flags: ShutdownFlags = []) async throws { try await driver.reboot(ref, flags: flags) }
    public func reset() async throws { try await driver.reset(ref) }
    public func suspend() async throws { try await driver.suspend(ref) }
    public func resume() async throws { try await driver.resume(ref) }
    public func undefine(flags: UndefineFlags = []) async throws { try await driver.undefine(ref, flags: flags) }

    public func save(to path: String, xml: String? = nil, flags: SaveRestoreFlags = []) async throws {
        try await driver.save(ref, to: path, xml: xml, flags: flags)
    }
    public func managedSave(flags: SaveRestoreFlags = []) async throws {
        try await driver.managedSave(ref, flags: flags)
    }
    public func hasManagedSaveImage() async throws -> Bool { try await driver.hasManagedSaveImage(ref) }
    public func managedSaveRemove() async throws { try await driver.managedSaveRemove(ref) }

    public func autostart() async throws -> Bool { try await driver.autostart(ref) }
    public func setAutostart(_ enabled: Bool) async throws { try await driver.setAutostart(ref, enabled) }
    public func info() async throws -> DomainInfo { try await driver.info(ref) }
    public func state() async throws -> DomainStatus { try await driver.state(ref) }
    public func xmlDesc(flags: XMLFlags = []) async throws -> String { try await driver.xmlDesc(ref, flags: flags) }
    public func osType() async throws -> String { try await driver.osType(ref) }
    public func isActive() async throws -> Bool { try await driver.isActive(ref) }
    public func isPersistent() async throws -> Bool { try await driver.isPersistent(ref) }
    public func securityLabels() async throws -> [SecurityLabel] { try await driver.securityLabels(ref) }
    public func messages() async throws -> [String] { try await driver.messages(ref, flags: 0) }
}
