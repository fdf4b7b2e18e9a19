@_exported import VirtCore

/// A connection to a hypervisor driver, as libvirt's `virConnectPtr`.
///
/// `Connection.open("test:///default")` picks a local driver or the remote driver from the URI, as libvirt does.
public final class Connection: Sendable {
    /// The driver behind this connection.
    public let driver: any HypervisorDriver

    /// Wraps an already opened driver.
    public init(driver: any HypervisorDriver) {
        self.driver = driver
    }

    /// Opens a connection. With no URI, `LIBVIRT_DEFAULT_URI` is used, then `test:///default`.
    public static func open(_ uri: String? = nil, readOnly: Bool = false) async throws -> Connection {
        let text = uri ?? DriverRegistry.defaultURI()
        let parsed = try ConnectionURI(parsing: text)
        return Connection(driver: try await DriverRegistry.open(parsed, readOnly: readOnly))
    }

    /// The canonical URI of this connection.
    public var uri: String { driver.uri }

    /// Closes the connection.
    public func close() async { await driver.close() }

    // MARK: Host

    public func hypervisorType() async throws -> String { try await driver.hypervisorType() }
    public func hypervisorVersion() async throws -> UInt64 { try await driver.hypervisorVersion() }
    public func hostname() async throws -> String { try await driver.hostname() }
    public func capabilities() async throws -> String { try await driver.capabilities() }
    public func nodeInfo() async throws -> NodeInfo { try await driver.nodeInfo() }
    public func securityModel() async throws -> SecurityModel { try await driver.securityModel() }

    /// The library version (major*1,000,000 + minor*1,000 + micro) reported as libvirt's.
    public static let libraryVersion: UInt64 = 9_000_000

    // MARK: Domains

    /// All domains matching `flags` (no flags: every domain).
    public func listAllDomains(flags: ListAllDomainsFlags = []) async throws -> [Domain] {
        try await driver.listAllDomains(flags: flags).map { Domain(connection: self, ref: $0) }
    }

    public func lookupDomain(name: String) async throws -> Domain {
        Domain(connection: self, ref: try await driver.lookupDomain(name: name))
    }

    public func lookupDomain(id: Int32) async throws -> Domain {
        Domain(connection: self, ref: try await driver.lookupDomain(id: id))
    }

    public func lookupDomain(uuid: VirtUUID) async throws -> Domain {
        Domain(connection: self, ref: try await driver.lookupDomain(uuid: uuid))
    }

    /// Defines (or redefines) a persistent domain from XML.
    public func defineDomain(xml: String, flags: DefineFlags = []) async throws -> Domain {
        Domain(connection: self, ref: try await driver.defineXML(xml, flags: flags))
    }

    /// Creates and starts a transient domain from XML.
    public func createDomain(xml: String, flags: CreateFlags = []) async throws -> Domain {
        Domain(connection: self, ref: try await driver.createXML(xml, flags: flags))
    }

    /// Restores a domain from a save file.
    public func restoreDomain(from path: String, xml: String? = nil, flags: SaveRestoreFlags = []) async throws {
        try await driver.restore(from: path, xml: xml, flags: flags)
    }

    /// Every domain event from now on, as an async sequence.
    public func events() -> AsyncStream<DomainEventRecord> { driver.events() }
}
