import VirtCore
import VirtRPC

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

    /// libvirt's `virCheckReadOnlyGoto` error for public API `function`, in the words and error domain the
    /// procedure table gives it.
    public static func denied(_ function: String) -> VirtError {
        if let info = ProcedureInfo.forAPI(function) { return info.readOnlyDenied() }
        return VirtError(.operationDenied, domain: .domain, "operation forbidden: read only access prevents \(function)",
                         str1: "read only access prevents \(function)")
    }

    /// Applies the procedure table's conditional read-only rule of `procedure` to `value` (flags or source).
    static func check(_ procedure: RemoteProcedure, _ value: UInt32) throws {
        guard let info = ProcedureInfo.remote(procedure) else { return }
        try info.checkReadOnly(value)
    }

    /// The URI the connection was opened with. Passed to the wrapped driver.
    public var uri: String { base.uri }
    /// Closes the connection. Passed to the wrapped driver.
    public func close() async { await base.close() }
    public func supportsFeature(_ feature: Int32) async -> Bool { await base.supportsFeature(feature) }

    /// The hypervisor type name. Passed to the wrapped driver.
    public func hypervisorType() async throws -> String { try await base.hypervisorType() }
    /// The hypervisor version. Passed to the wrapped driver.
    public func hypervisorVersion() async throws -> UInt64 { try await base.hypervisorVersion() }
    /// The host name. Passed to the wrapped driver.
    public func hostname() async throws -> String { try await base.hostname() }
    /// The capabilities XML. Passed to the wrapped driver.
    public func capabilities() async throws -> String { try await base.capabilities() }
    /// The domain capabilities XML. Passed to the wrapped driver.
    public func domainCapabilities(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                   flags: UInt32) async throws -> String {
        try Self.check(.connectGetDomainCapabilities, flags)
        return try await base.domainCapabilities(emulator: emulator, arch: arch, machine: machine, virtType: virtType,
                                          flags: flags)
    }
    /// Facts about the host. Passed to the wrapped driver.
    public func nodeInfo() async throws -> NodeInfo { try await base.nodeInfo() }
    /// The free memory of the host. Passed to the wrapped driver.
    public func nodeFreeMemory() async throws -> UInt64 { try await base.nodeFreeMemory() }
    /// Host statistics, CPU map, sysinfo, KSM parameters and CPU models: queries, passed to the wrapped driver.
    public func nodeCPUStats(cpu: Int32, nparams: Int32, flags: UInt32) async throws -> NodeStatsResult {
        try await base.nodeCPUStats(cpu: cpu, nparams: nparams, flags: flags)
    }
    public func nodeMemoryStats(cell: Int32, nparams: Int32, flags: UInt32) async throws -> NodeStatsResult {
        try await base.nodeMemoryStats(cell: cell, nparams: nparams, flags: flags)
    }
    public func nodeFreePages(pages: [UInt32], startCell: Int32, cellCount: UInt32, flags: UInt32) async throws
        -> [UInt64] {
        try await base.nodeFreePages(pages: pages, startCell: startCell, cellCount: cellCount, flags: flags)
    }
    /// Refused on a read-only connection.
    public func nodeAllocPages(pageSizes: [UInt32], pageCounts: [UInt64], startCell: Int32, cellCount: UInt32,
                               flags: UInt32) async throws -> Int32 {
        throw Self.denied("virNodeAllocPages")
    }
    public func nodeCellsFreeMemory(startCell: Int32, maxCells: Int32) async throws -> [UInt64] {
        try await base.nodeCellsFreeMemory(startCell: startCell, maxCells: maxCells)
    }
    public func nodeCPUMap(flags: UInt32) async throws -> NodeCPUMap { try await base.nodeCPUMap(flags: flags) }
    public func sysinfo(flags: UInt32) async throws -> String { try await base.sysinfo(flags: flags) }
    public func nodeMemoryParameters(nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try await base.nodeMemoryParameters(nparams: nparams, flags: flags)
    }
    /// CPU comparison and baseline: passed through, or refused as the catalog says (the hypervisor variants
    /// need a read-write connection).
    public func compareCPU(xml: String, flags: UInt32) async throws -> Int32 {
        try Self.check(.connectCompareCPU, flags)
        return try await base.compareCPU(xml: xml, flags: flags)
    }
    public func baselineCPU(xmls: [String], flags: UInt32) async throws -> String {
        try Self.check(.connectBaselineCPU, flags)
        return try await base.baselineCPU(xmls: xmls, flags: flags)
    }
    public func compareHypervisorCPU(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                     xml: String, flags: UInt32) async throws -> Int32 {
        try Self.check(.connectCompareHypervisorCPU, flags)
        return try await base.compareHypervisorCPU(emulator: emulator, arch: arch, machine: machine,
                                                   virtType: virtType, xml: xml, flags: flags)
    }
    public func baselineHypervisorCPU(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                      xmls: [String], flags: UInt32) async throws -> String {
        try Self.check(.connectBaselineHypervisorCPU, flags)
        return try await base.baselineHypervisorCPU(emulator: emulator, arch: arch, machine: machine,
                                                    virtType: virtType, xmls: xmls, flags: flags)
    }
    public func cpuModelNames(arch: String, flags: UInt32) async throws -> [String] {
        try await base.cpuModelNames(arch: arch, flags: flags)
    }
    /// The maximum number of vCPUs of a guest. Passed to the wrapped driver.
    public func maxVcpus(type: String?) async throws -> Int32 { try await base.maxVcpus(type: type) }
    /// Whether the connection is secure. Passed to the wrapped driver.
    public func isSecure() async throws -> Bool { try await base.isSecure() }
    /// The host's security model. Passed to the wrapped driver.
    public func securityModel() async throws -> SecurityModel { try await base.securityModel() }

    /// The domains matching the filter flags. Passed to the wrapped driver.
    public func listAllDomains(flags: ListAllDomainsFlags) async throws -> [DomainRef] {
        try await base.listAllDomains(flags: flags)
    }
    /// The ids of the running domains. Passed to the wrapped driver.
    public func listDomainIDs() async throws -> [Int32] { try await base.listDomainIDs() }
    /// The names of the inactive domains. Passed to the wrapped driver.
    public func listDefinedDomainNames() async throws -> [String] { try await base.listDefinedDomainNames() }
    /// The number of running domains. Passed to the wrapped driver.
    public func numberOfDomains() async throws -> Int32 { try await base.numberOfDomains() }
    /// The number of inactive domains. Passed to the wrapped driver.
    public func numberOfDefinedDomains() async throws -> Int32 { try await base.numberOfDefinedDomains() }
    /// Finds a domain. Passed to the wrapped driver.
    public func lookupDomain(name: String) async throws -> DomainRef { try await base.lookupDomain(name: name) }
    /// Finds a domain. Passed to the wrapped driver.
    public func lookupDomain(id: Int32) async throws -> DomainRef { try await base.lookupDomain(id: id) }
    /// Finds a domain. Passed to the wrapped driver.
    public func lookupDomain(uuid: VirtUUID) async throws -> DomainRef { try await base.lookupDomain(uuid: uuid) }

    /// Defines or redefines a persistent domain. Refused on a read-only connection.
    public func defineXML(_ xml: String, flags: DefineFlags) async throws -> DomainRef {
        throw Self.denied(flags.isEmpty ? "virDomainDefineXML" : "virDomainDefineXMLFlags")
    }
    /// Removes a persistent definition. Refused on a read-only connection.
    public func undefine(_ domain: DomainRef, flags: UndefineFlags) async throws {
        throw Self.denied(flags.isEmpty ? "virDomainUndefine" : "virDomainUndefineFlags")
    }
    /// Creates and starts a transient domain. Refused on a read-only connection.
    public func createXML(_ xml: String, flags: CreateFlags) async throws -> DomainRef {
        throw Self.denied("virDomainCreateXML")
    }
    /// Starts an inactive domain. Refused on a read-only connection.
    public func start(_ domain: DomainRef, flags: CreateFlags) async throws -> DomainRef {
        throw Self.denied(flags.isEmpty ? "virDomainCreate" : "virDomainCreateWithFlags")
    }
    /// Stops a domain at once. Refused on a read-only connection.
    public func destroy(_ domain: DomainRef, flags: DestroyFlags) async throws {
        throw Self.denied(flags.isEmpty ? "virDomainDestroy" : "virDomainDestroyFlags")
    }
    /// Shuts a domain down. Refused on a read-only connection.
    public func shutdown(_ domain: DomainRef, flags: ShutdownFlags) async throws {
        throw Self.denied(flags.isEmpty ? "virDomainShutdown" : "virDomainShutdownFlags")
    }
    /// Reboots a domain. Refused on a read-only connection.
    public func reboot(_ domain: DomainRef, flags: ShutdownFlags) async throws { throw Self.denied("virDomainReboot") }
    /// Resets a domain. Refused on a read-only connection.
    public func reset(_ domain: DomainRef) async throws { throw Self.denied("virDomainReset") }
    /// Pauses a domain. Refused on a read-only connection.
    public func suspend(_ domain: DomainRef) async throws { throw Self.denied("virDomainSuspend") }
    /// Resumes a paused domain. Refused on a read-only connection.
    public func resume(_ domain: DomainRef) async throws { throw Self.denied("virDomainResume") }
    /// Saves a running domain to a file and stops it. Refused on a read-only connection.
    public func save(_ domain: DomainRef, to path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        throw Self.denied(flags.isEmpty && xml == nil ? "virDomainSave" : "virDomainSaveFlags")
    }
    /// Starts a domain from a save file. Refused on a read-only connection.
    public func restore(from path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        throw Self.denied(flags.isEmpty && xml == nil ? "virDomainRestore" : "virDomainRestoreFlags")
    }
    /// Saves a running domain to its managed image and stops it. Refused on a read-only connection.
    public func managedSave(_ domain: DomainRef, flags: SaveRestoreFlags) async throws {
        throw Self.denied("virDomainManagedSave")
    }
    /// Whether the domain has a managed save image. Passed to the wrapped driver.
    public func hasManagedSaveImage(_ domain: DomainRef) async throws -> Bool {
        try await base.hasManagedSaveImage(domain)
    }
    /// Removes the managed save image. Refused on a read-only connection.
    public func managedSaveRemove(_ domain: DomainRef) async throws { throw Self.denied("virDomainManagedSaveRemove") }

    /// Whether the domain starts with the host. Passed to the wrapped driver.
    public func autostart(_ domain: DomainRef) async throws -> Bool { try await base.autostart(domain) }
    /// Sets whether the domain starts with the host. Refused on a read-only connection.
    public func setAutostart(_ domain: DomainRef, _ enabled: Bool) async throws {
        throw Self.denied("virDomainSetAutostart")
    }
    /// The domain's state, memory, vCPUs and CPU time. Passed to the wrapped driver.
    public func info(_ domain: DomainRef) async throws -> DomainInfo { try await base.info(domain) }
    /// The domain's state and reason. Passed to the wrapped driver.
    public func state(_ domain: DomainRef) async throws -> DomainStatus { try await base.state(domain) }
    /// The domain XML. Refused with the secure flag on a read-only connection.
    public func xmlDesc(_ domain: DomainRef, flags: XMLFlags) async throws -> String {
        try Self.check(.domainGetXMLDesc, flags.rawValue)
        return try await base.xmlDesc(domain, flags: flags)
    }
    /// The guest OS type. Passed to the wrapped driver.
    public func osType(_ domain: DomainRef) async throws -> String { try await base.osType(domain) }
    /// Whether the domain is running. Passed to the wrapped driver.
    public func isActive(_ domain: DomainRef) async throws -> Bool { try await base.isActive(domain) }
    /// Whether the domain is persistent. Passed to the wrapped driver.
    public func isPersistent(_ domain: DomainRef) async throws -> Bool { try await base.isPersistent(domain) }
    /// Whether the persistent definition was changed while running. Passed to the wrapped driver.
    public func isUpdated(_ domain: DomainRef) async throws -> Bool { try await base.isUpdated(domain) }
    /// The maximum memory in KiB. Passed to the wrapped driver.
    public func maxMemory(_ domain: DomainRef) async throws -> UInt64 { try await base.maxMemory(domain) }
    /// Sets the current or maximum memory. Refused on a read-only connection.
    public func setMemory(_ domain: DomainRef, kib: UInt64, flags: ModificationImpact) async throws {
        throw Self.denied("virDomainSetMemoryFlags")
    }
    /// The number of vCPUs. Passed to the wrapped driver.
    public func vcpuCount(_ domain: DomainRef, flags: ModificationImpact) async throws -> Int32 {
        try Self.check(.domainGetVcpusFlags, flags.rawValue)
        return try await base.vcpuCount(domain, flags: flags)
    }
    /// Sets the number of vCPUs. Refused on a read-only connection.
    public func setVcpus(_ domain: DomainRef, count: UInt32, flags: ModificationImpact) async throws {
        throw Self.denied("virDomainSetVcpusFlags")
    }
    /// The domain's security labels. Passed to the wrapped driver.
    public func securityLabels(_ domain: DomainRef) async throws -> [SecurityLabel] {
        try await base.securityLabels(domain)
    }
    /// Taint and deprecation messages. Passed to the wrapped driver.
    public func messages(_ domain: DomainRef, flags: UInt32) async throws -> [String] {
        try await base.messages(domain, flags: flags)
    }
    /// Domain statistics. Passed to the wrapped driver.
    public func allDomainStats(domains: [DomainRef]?, types: StatsTypes, flags: GetAllDomainStatsFlags)
        async throws -> [DomainStatsRecord] {
        try await base.allDomainStats(domains: domains, types: types, flags: flags)
    }
    /// A new event subscription. Passed to the wrapped driver.
    public func events() -> AsyncStream<DomainEventRecord> { base.events() }
    /// Opens the domain's console. Refused on a read-only connection.
    public func openConsole(_ domain: DomainRef, device: String?, flags: UInt32) async throws -> any ByteStream {
        throw Self.denied("virDomainOpenConsole")
    }
    /// Sends a QEMU monitor command. Refused on a read-only connection.
    public func qemuMonitorCommand(_ domain: DomainRef, command: String, flags: UInt32) async throws -> String {
        throw Self.denied("virDomainQemuMonitorCommand")
    }
    public func qemuMonitorCommand(_ domain: DomainRef, command: String, fds: [Int32], flags: UInt32) async throws
        -> String {
        throw Self.denied("virDomainQemuMonitorCommandWithFiles")
    }
    public func backupBegin(_ domain: DomainRef, backupXML: String, checkpointXML: String?, flags: UInt32)
        async throws {
        throw Self.denied("virDomainBackupBegin")
    }
    public func backupXML(_ domain: DomainRef, flags: UInt32) async throws -> String {
        try await base.backupXML(domain, flags: flags)
    }
    public func securityLabelList(_ domain: DomainRef) async throws -> [SecurityLabel] {
        try await base.securityLabelList(domain)
    }
    public func qemuAttach(pid: UInt32, flags: UInt32) async throws -> DomainRef {
        throw Self.denied("virDomainQemuAttach")
    }
    public func lxcOpenNamespace(_ domain: DomainRef, flags: UInt32) async throws -> [Int32] {
        throw Self.denied("virDomainLxcOpenNamespace")
    }
    public func associateFDs(_ domain: DomainRef, name: String, fds: [Int32], flags: UInt32, owner: UInt64)
        async throws {
        throw Self.denied("virDomainFDAssociate")
    }
    public func openGraphics(_ domain: DomainRef, index: UInt32, fd: Int32, flags: UInt32) async throws {
        throw Self.denied("virDomainOpenGraphics")
    }

    /// Job statistics. Passed to the wrapped driver.
    public func jobStats(_ domain: DomainRef, completed: Bool, keepCompleted: Bool) async throws
        -> (type: Int32, params: [TypedParam]) {
        try await base.jobStats(domain, completed: completed, keepCompleted: keepCompleted)
    }
    /// Aborting a job: refused on a read-only connection.
    public func abortJob(_ domain: DomainRef, flags: UInt32) async throws {
        throw Self.denied(flags == 0 ? "virDomainAbortJob" : "virDomainAbortJobFlags")
    }

    // MARK: Migration

    /// Begin (source phase 1). Refused on a read-only connection.
    public func migrateBegin3(_ domain: DomainRef, params: [TypedParam], flags: MigrateFlags) async throws
        -> (xml: String, cookie: [UInt8]) {
        throw Self.denied("virDomainMigrateBegin3Params")
    }
    /// Prepare (destination phase 2). Refused on a read-only connection.
    public func migratePrepare3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags) async throws
        -> (uri: String?, cookie: [UInt8]) {
        throw Self.denied("virDomainMigratePrepare3Params")
    }
    /// Tunnelled prepare (destination phase 2). Refused on a read-only connection.
    public func migratePrepareTunnel3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags,
                                      stream: any ByteStream) async throws -> [UInt8] {
        throw Self.denied("virDomainMigratePrepareTunnel3Params")
    }
    /// Perform (source phase 3, or the whole peer-to-peer migration). Refused on a read-only connection.
    public func migratePerform3(_ domain: DomainRef, destinationURI: String?, params: [TypedParam],
                                cookie: [UInt8], flags: MigrateFlags) async throws -> [UInt8] {
        throw Self.denied("virDomainMigratePerform3Params")
    }
    /// Finish (destination phase 4). Refused on a read-only connection.
    public func migrateFinish3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags, cancelled: Bool)
        async throws -> (domain: DomainRef, cookie: [UInt8]) {
        throw Self.denied("virDomainMigrateFinish3Params")
    }
    /// Confirm (source phase 5). Refused on a read-only connection.
    public func migrateConfirm3(_ domain: DomainRef, params: [TypedParam], cookie: [UInt8], flags: MigrateFlags,
                                cancelled: Bool) async throws {
        throw Self.denied("virDomainMigrateConfirm3Params")
    }
    /// Switching a migration to post-copy. Refused on a read-only connection.
    public func migrateStartPostCopy(_ domain: DomainRef, flags: UInt32) async throws {
        throw Self.denied("virDomainMigrateStartPostCopy")
    }
    /// Setting the maximum downtime. Refused on a read-only connection.
    public func migrateSetMaxDowntime(_ domain: DomainRef, milliseconds: UInt64, flags: UInt32) async throws {
        throw Self.denied("virDomainMigrateSetMaxDowntime")
    }
    /// The maximum downtime. Passed to the wrapped driver (libvirt allows it read-only).
    public func migrateMaxDowntime(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        try Self.check(.domainMigrateGetMaxDowntime, flags)
        return try await base.migrateMaxDowntime(domain, flags: flags)
    }
    /// Setting the maximum bandwidth. Refused on a read-only connection.
    public func migrateSetMaxSpeed(_ domain: DomainRef, mibPerSecond: UInt64, flags: UInt32) async throws {
        throw Self.denied("virDomainMigrateSetMaxSpeed")
    }
    /// The maximum bandwidth: refused on a read-only connection, as libvirt's `virDomainMigrateGetMaxSpeed`
    /// does (the procedure table's rule).
    public func migrateMaxSpeed(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        try Self.check(.domainMigrateGetMaxSpeed, flags)
        return try await base.migrateMaxSpeed(domain, flags: flags)
    }

    /// A save image's definition: refused on a read-only connection (as libvirt, even without the secure flag).
    public func saveImageXML(path: String, flags: UInt32) async throws -> String {
        throw Self.denied("virDomainSaveImageGetXMLDesc")
    }
    /// Refused on a read-only connection.
    public func saveImageDefineXML(path: String, xml: String, flags: UInt32) async throws {
        throw Self.denied("virDomainSaveImageDefineXML")
    }
    /// The managed save image's definition; refused with the secure flag on a read-only connection.
    public func managedSaveXML(_ domain: DomainRef, flags: UInt32) async throws -> String {
        try Self.check(.domainManagedSaveGetXMLDesc, flags)
        return try await base.managedSaveXML(domain, flags: flags)
    }
    /// Refused on a read-only connection.
    public func managedSaveDefineXML(_ domain: DomainRef, xml: String?, flags: UInt32) async throws {
        throw Self.denied("virDomainManagedSaveDefineXML")
    }
}
