/// A driver seen through a read-only connection: queries pass through, every modifying operation fails with
/// libvirt's "operation forbidden: read only access prevents virDomain…" (OPERATION_DENIED), as libvirt's public
/// API refuses them on connections opened with `VIR_CONNECT_RO`.
public final class ReadOnlyDriver: HypervisorDriver {
    /// The driver queries are passed to.
    public let base: any HypervisorDriver

    /// Wraps `base`.
    public init(_ base: any HypervisorDriver) {
        self.base = base
    }

    /// libvirt's `virCheckReadOnlyGoto` error.
    public static func denied(_ function: String) -> VirtError {
        VirtError(.operationDenied, domain: .domain, "operation forbidden: read only access prevents \(function)")
    }

    public var uri: String { base.uri }
    public func close() async { await base.close() }

    public func hypervisorType() async throws -> String { try await base.hypervisorType() }
    public func hypervisorVersion() async throws -> UInt64 { try await base.hypervisorVersion() }
    public func hostname() async throws -> String { try await base.hostname() }
    public func capabilities() async throws -> String { try await base.capabilities() }
    public func domainCapabilities(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                   flags: UInt32) async throws -> String {
        try await base.domainCapabilities(emulator: emulator, arch: arch, machine: machine, virtType: virtType,
                                          flags: flags)
    }
    public func nodeInfo() async throws -> NodeInfo { try await base.nodeInfo() }
    public func nodeFreeMemory() async throws -> UInt64 { try await base.nodeFreeMemory() }
    public func maxVcpus(type: String?) async throws -> Int32 { try await base.maxVcpus(type: type) }
    public func isSecure() async throws -> Bool { try await base.isSecure() }
    public func securityModel() async throws -> SecurityModel { try await base.securityModel() }

    public func listAllDomains(flags: ListAllDomainsFlags) async throws -> [DomainRef] {
        try await base.listAllDomains(flags: flags)
    }
    public func listDomainIDs() async throws -> [Int32] { try await base.listDomainIDs() }
    public func listDefinedDomainNames() async throws -> [String] { try await base.listDefinedDomainNames() }
    public func numberOfDomains() async throws -> Int32 { try await base.numberOfDomains() }
    public func numberOfDefinedDomains() async throws -> Int32 { try await base.numberOfDefinedDomains() }
    public func lookupDomain(name: String) async throws -> DomainRef { try await base.lookupDomain(name: name) }
    public func lookupDomain(id: Int32) async throws -> DomainRef { try await base.lookupDomain(id: id) }
    public func lookupDomain(uuid: VirtUUID) async throws -> DomainRef { try await base.lookupDomain(uuid: uuid) }

    public func defineXML(_ xml: String, flags: DefineFlags) async throws -> DomainRef {
        throw Self.denied(flags.isEmpty ? "virDomainDefineXML" : "virDomainDefineXMLFlags")
    }
    public func undefine(_ domain: DomainRef, flags: UndefineFlags) async throws {
        throw Self.denied(flags.isEmpty ? "virDomainUndefine" : "virDomainUndefineFlags")
    }
    public func createXML(_ xml: String, flags: CreateFlags) async throws -> DomainRef {
        throw Self.denied("virDomainCreateXML")
    }
    public func start(_ domain: DomainRef, flags: CreateFlags) async throws -> DomainRef {
        throw Self.denied(flags.isEmpty ? "virDomainCreate" : "virDomainCreateWithFlags")
    }
    public func destroy(_ domain: DomainRef, flags: DestroyFlags) async throws {
        throw Self.denied(flags.isEmpty ? "virDomainDestroy" : "virDomainDestroyFlags")
    }
    public func shutdown(_ domain: DomainRef, flags: ShutdownFlags) async throws {
        throw Self.denied(flags.isEmpty ? "virDomainShutdown" : "virDomainShutdownFlags")
    }
    public func reboot(_ domain: DomainRef, flags: ShutdownFlags) async throws { throw Self.denied("virDomainReboot") }
    public func reset(_ domain: DomainRef) async throws { throw Self.denied("virDomainReset") }
    public func suspend(_ domain: DomainRef) async throws { throw Self.denied("virDomainSuspend") }
    public func resume(_ domain: DomainRef) async throws { throw Self.denied("virDomainResume") }
    public func save(_ domain: DomainRef, to path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        throw Self.denied(flags.isEmpty && xml == nil ? "virDomainSave" : "virDomainSaveFlags")
    }
    public func restore(from path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        throw Self.denied(flags.isEmpty && xml == nil ? "virDomainRestore" : "virDomainRestoreFlags")
    }
    public func managedSave(_ domain: DomainRef, flags: SaveRestoreFlags) async throws {
        throw Self.denied("virDomainManagedSave")
    }
    public func hasManagedSaveImage(_ domain: DomainRef) async throws -> Bool {
        try await base.hasManagedSaveImage(domain)
    }
    public func managedSaveRemove(_ domain: DomainRef) async throws { throw Self.denied("virDomainManagedSaveRemove") }

    public func autostart(_ domain: DomainRef) async throws -> Bool { try await base.autostart(domain) }
    public func setAutostart(_ domain: DomainRef, _ enabled: Bool) async throws {
        throw Self.denied("virDomainSetAutostart")
    }
    public func info(_ domain: DomainRef) async throws -> DomainInfo { try await base.info(domain) }
    public func state(_ domain: DomainRef) async throws -> DomainStatus { try await base.state(domain) }
    public func xmlDesc(_ domain: DomainRef, flags: XMLFlags) async throws -> String {
        if flags.contains(.secure) {
            throw VirtError(.operationDenied, domain: .domain,
                            "operation forbidden: virDomainGetXMLDesc with secure flag")
        }
        return try await base.xmlDesc(domain, flags: flags)
    }
    public func osType(_ domain: DomainRef) async throws -> String { try await base.osType(domain) }
    public func isActive(_ domain: DomainRef) async throws -> Bool { try await base.isActive(domain) }
    public func isPersistent(_ domain: DomainRef) async throws -> Bool { try await base.isPersistent(domain) }
    public func isUpdated(_ domain: DomainRef) async throws -> Bool { try await base.isUpdated(domain) }
    public func maxMemory(_ domain: DomainRef) async throws -> UInt64 { try await base.maxMemory(domain) }
    public func setMemory(_ domain: DomainRef, kib: UInt64, flags: ModificationImpact) async throws {
        throw Self.denied("virDomainSetMemoryFlags")
    }
    public func vcpuCount(_ domain: DomainRef, flags: ModificationImpact) async throws -> Int32 {
        try await base.vcpuCount(domain, flags: flags)
    }
    public func setVcpus(_ domain: DomainRef, count: UInt32, flags: ModificationImpact) async throws {
        throw Self.denied("virDomainSetVcpusFlags")
    }
    public func securityLabels(_ domain: DomainRef) async throws -> [SecurityLabel] {
        try await base.securityLabels(domain)
    }
    public func messages(_ domain: DomainRef, flags: UInt32) async throws -> [String] {
        try await base.messages(domain, flags: flags)
    }
    public func allDomainStats(domains: [DomainRef]?, types: StatsTypes, flags: GetAllDomainStatsFlags)
        async throws -> [DomainStatsRecord] {
        try await base.allDomainStats(domains: domains, types: types, flags: flags)
    }
    public func events() -> AsyncStream<DomainEventRecord> { base.events() }
    public func openConsole(_ domain: DomainRef, device: String?, flags: UInt32) async throws -> any ByteStream {
        throw Self.denied("virDomainOpenConsole")
    }
    public func qemuMonitorCommand(_ domain: DomainRef, command: String, flags: UInt32) async throws -> String {
        throw Self.denied("virDomainQemuMonitorCommand")
    }
}
