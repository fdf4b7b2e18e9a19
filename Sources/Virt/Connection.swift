@_exported import VirtCore

/// A connection to a hypervisor driver, as libvirt's `virConnectPtr`.
///
/// `Connection.open("test:///default")` picks a local driver or the remote driver from the URI, as libvirt does.
/// Every operation is an async throwing method; failures are ``VirtError``s carrying libvirt's codes and messages.
public final class Connection: Sendable {
    /// The driver behind this connection.
    public let driver: any HypervisorDriver
    /// Whether the connection was opened read-only (`VIR_CONNECT_RO`): the public API refuses what would change
    /// anything before a driver is asked, as libvirt's `virCheckReadOnlyGoto` does.
    public let isReadOnly: Bool

    /// Wraps an already opened driver; a ``ReadOnlyDriver`` makes a read-only connection.
    public init(driver: any HypervisorDriver, readOnly: Bool = false) {
        self.driver = driver
        self.isReadOnly = readOnly || driver is ReadOnlyDriver
    }

    /// Opens a connection. With no URI, `LIBVIRT_DEFAULT_URI` is used, then `test:///default`.
    public static func open(_ uri: String? = nil, readOnly: Bool = false) async throws -> Connection {
        let text = uri ?? DriverRegistry.defaultURI()
        let parsed = try ConnectionURI(parsing: text)
        return Connection(driver: try await DriverRegistry.open(parsed, readOnly: readOnly), readOnly: readOnly)
    }

    /// The canonical URI of this connection.
    public var uri: String { driver.uri }

    /// Closes the connection. Event sequences obtained from it end.
    public func close() async { await driver.close() }

    // MARK: Host

    /// The hypervisor type name (`virConnectGetType`), e.g. "TEST" or "QEMU".
    public func hypervisorType() async throws -> String { try await driver.hypervisorType() }
    /// The hypervisor version as major*1,000,000 + minor*1,000 + micro.
    public func hypervisorVersion() async throws -> UInt64 { try await driver.hypervisorVersion() }
    /// The host name of the hypervisor's machine.
    public func hostname() async throws -> String { try await driver.hostname() }
    /// The capabilities XML document.
    public func capabilities() async throws -> String { try await driver.capabilities() }
    /// The domain capabilities XML document for an emulator, architecture, machine type and virtualization type.
    public func domainCapabilities(emulator: String? = nil, arch: String? = nil, machine: String? = nil,
                                   virtType: String? = nil, flags: UInt32 = 0) async throws -> String {
        try await driver.domainCapabilities(emulator: emulator, arch: arch, machine: machine, virtType: virtType,
                                            flags: flags)
    }
    /// Facts about the host: CPU model, memory, CPU topology.
    public func nodeInfo() async throws -> NodeInfo { try await driver.nodeInfo() }
    /// The free memory of the host, as the driver reports it (`virNodeGetFreeMemory`).
    public func nodeFreeMemory() async throws -> UInt64 { try await driver.nodeFreeMemory() }
    /// `virNodeGetCPUStats` with libvirt's two-call protocol: `nparams` 0 asks only how many values there are.
    public func nodeCPUStats(cpu: Int32 = -1, nparams: Int32, flags: UInt32 = 0) async throws -> NodeStatsResult {
        try await driver.nodeCPUStats(cpu: cpu, nparams: nparams, flags: flags)
    }
    /// The CPU times (ns) of CPU `cpu`, or of all CPUs with -1 ("kernel", "user", "idle", "iowait").
    public func nodeCPUStats(cpu: Int32 = -1) async throws -> [NodeStat] {
        let n = try await driver.nodeCPUStats(cpu: cpu, nparams: 0, flags: 0).nparams
        if n == 0 { return [] }
        return try await driver.nodeCPUStats(cpu: cpu, nparams: n, flags: 0).stats
    }
    /// `virNodeGetMemoryStats` with libvirt's two-call protocol.
    public func nodeMemoryStats(cell: Int32 = -1, nparams: Int32, flags: UInt32 = 0) async throws
        -> NodeStatsResult {
        try await driver.nodeMemoryStats(cell: cell, nparams: nparams, flags: flags)
    }
    /// The memory figures (KiB) of NUMA cell `cell`, or of the host with -1.
    public func nodeMemoryStats(cell: Int32 = -1) async throws -> [NodeStat] {
        let n = try await driver.nodeMemoryStats(cell: cell, nparams: 0, flags: 0).nparams
        if n == 0 { return [] }
        return try await driver.nodeMemoryStats(cell: cell, nparams: n, flags: 0).stats
    }
    /// `virNodeGetFreePages`: the free count of each page size (KiB) in `cellCount` cells from `startCell`, cell
    /// by cell.
    public func nodeFreePages(pages: [UInt32], startCell: Int32, cellCount: UInt32, flags: UInt32 = 0) async throws
        -> [UInt64] {
        // The checks of libvirt's public API.
        if pages.isEmpty { throw Self.nonZero("npages", "virNodeGetFreePages") }
        if cellCount == 0 { throw Self.nonZero("cellCount", "virNodeGetFreePages") }
        if pages.count > Int(Int32.max) / Int(cellCount) {
            throw VirtError(.overflow, "numerical overflow: too many NUMA cells: \(cellCount) > \(Int(Int32.max) / pages.count)")
        }
        return try await driver.nodeFreePages(pages: pages, startCell: startCell, cellCount: cellCount, flags: flags)
    }
    /// `virNodeAllocPages`: sets (flag 1, SET) or adds to (0, ADD) the page pools of `cellCount` cells from
    /// `startCell`.
    @discardableResult
    public func nodeAllocPages(pageSizes: [UInt32], pageCounts: [UInt64], startCell: Int32, cellCount: UInt32,
                               flags: UInt32 = 0) async throws -> Int32 {
        if pageSizes.isEmpty { throw Self.nonZero("npages", "virNodeAllocPages") }
        if cellCount == 0 { throw Self.nonZero("cellCount", "virNodeAllocPages") }
        return try await driver.nodeAllocPages(pageSizes: pageSizes, pageCounts: pageCounts, startCell: startCell,
                                               cellCount: cellCount, flags: flags)
    }
    /// libvirt's virCheckNonZeroArg error.
    static func nonZero(_ argument: String, _ function: String) -> VirtError {
        VirtError(.invalidArg, domain: .none, "\(argument) in \(function) must not be zero",
                  str1: "\(argument) in \(function) must not be zero")
    }
    /// The free memory in bytes of up to `maxCells` NUMA cells from `startCell`.
    public func nodeCellsFreeMemory(startCell: Int32, maxCells: Int32) async throws -> [UInt64] {
        try await driver.nodeCellsFreeMemory(startCell: startCell, maxCells: maxCells)
    }
    /// The host's CPUs: how many are present and which are online.
    public func nodeCPUMap(flags: UInt32 = 0) async throws -> NodeCPUMap { try await driver.nodeCPUMap(flags: flags) }
    /// The host's `<sysinfo>` XML (SMBIOS).
    public func sysinfo(flags: UInt32 = 0) async throws -> String { try await driver.sysinfo(flags: flags) }
    /// `virNodeGetMemoryParameters` with libvirt's two-call protocol.
    public func nodeMemoryParameters(nparams: Int32, flags: UInt32 = 0) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try await driver.nodeMemoryParameters(nparams: nparams, flags: flags)
    }
    /// The CPU models libvirt knows for `arch`; empty when the architecture accepts any model.
    public func cpuModelNames(arch: String, flags: UInt32 = 0) async throws -> [String] {
        try await driver.cpuModelNames(arch: arch, flags: flags)
    }
    /// Compares the CPU described by `xml` (a `<cpu>` element) with the host CPU (`virConnectCompareCPU`).
    public func compareCPU(xml: String, flags: CompareCPUFlags = []) async throws -> CPUCompareResult {
        let r = try await driver.compareCPU(xml: xml, flags: flags.rawValue)
        guard let result = CPUCompareResult(rawValue: r) else {
            throw VirtError.internalError("unexpected CPU comparison result \(r)")
        }
        return result
    }
    /// The CPU every one of `xmls` provides, as a `<cpu>` document (`virConnectBaselineCPU`).
    public func baselineCPU(xmls: [String], flags: BaselineCPUFlags = []) async throws -> String {
        try await driver.baselineCPU(xmls: xmls, flags: flags.rawValue)
    }
    /// Compares `xml` with the CPU the hypervisor offers on this host (`virConnectCompareHypervisorCPU`).
    public func compareHypervisorCPU(emulator: String? = nil, arch: String? = nil, machine: String? = nil,
                                     virtType: String? = nil, xml: String, flags: CompareCPUFlags = []) async throws
        -> CPUCompareResult {
        let r = try await driver.compareHypervisorCPU(emulator: emulator, arch: arch, machine: machine,
                                                      virtType: virtType, xml: xml, flags: flags.rawValue)
        guard let result = CPUCompareResult(rawValue: r) else {
            throw VirtError.internalError("unexpected CPU comparison result \(r)")
        }
        return result
    }
    /// The baseline of `xmls` that the hypervisor can run (`virConnectBaselineHypervisorCPU`).
    public func baselineHypervisorCPU(emulator: String? = nil, arch: String? = nil, machine: String? = nil,
                                      virtType: String? = nil, xmls: [String], flags: BaselineCPUFlags = [])
        async throws -> String {
        try await driver.baselineHypervisorCPU(emulator: emulator, arch: arch, machine: machine, virtType: virtType,
                                               xmls: xmls, flags: flags.rawValue)
    }
    /// The maximum number of vCPUs of a guest of virtualization type `type`.
    public func maxVcpus(type: String? = nil) async throws -> Int32 { try await driver.maxVcpus(type: type) }
    /// Whether the connection is local or encrypted.
    public func isSecure() async throws -> Bool { try await driver.isSecure() }
    /// The security model of the host (model and DOI).
    public func securityModel() async throws -> SecurityModel { try await driver.securityModel() }

    /// The library version (major*1,000,000 + minor*1,000 + micro) reported as libvirt's.
    public static let libraryVersion: UInt64 = 9_000_000

    // MARK: Domains

    /// All domains matching `flags` (no flags: every domain).
    public func listAllDomains(flags: ListAllDomainsFlags = []) async throws -> [Domain] {
        try await driver.listAllDomains(flags: flags).map { Domain(connection: self, ref: $0) }
    }

    /// The ids of the running domains.
    public func listDomainIDs() async throws -> [Int32] { try await driver.listDomainIDs() }
    /// The names of the defined, inactive domains.
    public func listDefinedDomainNames() async throws -> [String] { try await driver.listDefinedDomainNames() }
    /// The number of running domains.
    public func numberOfDomains() async throws -> Int32 { try await driver.numberOfDomains() }
    /// The number of defined, inactive domains.
    public func numberOfDefinedDomains() async throws -> Int32 { try await driver.numberOfDefinedDomains() }

    /// The domain named `name`; throws libvirt's NO_DOMAIN error if there is none.
    /// Adopts a QEMU process started outside the daemon (`virDomainQemuAttach`).
    public func qemuAttach(pid: UInt32) async throws -> Domain {
        Domain(connection: self, ref: try await driver.qemuAttach(pid: pid, flags: 0))
    }

    public func lookupDomain(name: String) async throws -> Domain {
        Domain(connection: self, ref: try await driver.lookupDomain(name: name))
    }

    /// The running domain with id `id`.
    public func lookupDomain(id: Int32) async throws -> Domain {
        Domain(connection: self, ref: try await driver.lookupDomain(id: id))
    }

    /// The domain with UUID `uuid`.
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

    /// Restores a domain from a save file. A relative path is taken from the current directory of this process,
    /// as libvirt's client library does.
    public func restoreDomain(from path: String, xml: String? = nil, flags: SaveRestoreFlags = []) async throws {
        try await driver.restore(from: AbsolutePath.make(path), xml: xml, flags: flags)
    }

    /// The definition stored in the save image at `path`.
    public func saveImageXML(_ path: String, flags: UInt32 = 0) async throws -> String {
        try await driver.saveImageXML(path: AbsolutePath.make(path), flags: flags)
    }

    /// Replaces the save image's definition and, with flags running (2) or paused (4), its state.
    public func saveImageDefineXML(_ path: String, xml: String, flags: UInt32 = 0) async throws {
        try await driver.saveImageDefineXML(path: AbsolutePath.make(path), xml: xml, flags: flags)
    }

    /// Statistics of the domains matching `flags` (or of `domains`, when given), for the `types` groups (none: all
    /// the driver supports).
    public func domainStats(_ domains: [Domain]? = nil, types: StatsTypes = [],
                            flags: GetAllDomainStatsFlags = []) async throws -> [DomainStatsRecord] {
        try await driver.allDomainStats(domains: domains?.map(\.ref), types: types, flags: flags)
    }

    // MARK: Events

    /// Every domain event from now on, as an async sequence. It ends when the connection closes; dropping or
    /// cancelling the iteration unsubscribes.
    public func events() -> AsyncStream<DomainEventRecord> { driver.events() }

    /// The lifecycle events from now on, with the domain handle as of the event (its id at event time).
    public func lifecycleEvents() -> AsyncCompactMapSequence<AsyncStream<DomainEventRecord>, (Domain, LifecycleEvent)> {
        driver.events().compactMap { [self] record in
            if case .lifecycle(let e) = record.kind { return (Domain(connection: self, ref: record.domain), e) }
            return nil
        }
    }
}
