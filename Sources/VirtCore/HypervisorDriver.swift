/// The seam every driver implements: libvirt's `virHypervisorDriver` table, expressed in Swift.
///
/// Every operation has a default implementation that throws libvirt's NO_SUPPORT error, so a driver implements
/// what it can and the daemon answers NO_SUPPORT on the wire without a special case. Domains are named by
/// ``DomainRef`` (name, uuid, id), as on the wire; drivers look them up by UUID.
public protocol HypervisorDriver: AnyObject, Sendable {
    /// The canonical URI of this connection, e.g. `test:///default`.
    var uri: String { get }

    /// Releases the connection.
    func close() async

    // MARK: Host

    /// The hypervisor type name (`virConnectGetType`), e.g. "Test" or "QEMU".
    func hypervisorType() async throws -> String
    /// The hypervisor version as major*1,000,000 + minor*1,000 + micro.
    func hypervisorVersion() async throws -> UInt64
    func hostname() async throws -> String
    /// The capabilities XML.
    func capabilities() async throws -> String
    func domainCapabilities(emulator: String?, arch: String?, machine: String?, virtType: String?, flags: UInt32)
        async throws -> String
    func nodeInfo() async throws -> NodeInfo
    /// `virNodeGetCPUStats`: CPU times (ns) of CPU `cpu`, or of all CPUs with -1. With `nparams` 0 only the count.
    func nodeCPUStats(cpu: Int32, nparams: Int32, flags: UInt32) async throws -> NodeStatsResult
    /// `virNodeGetMemoryStats`: memory figures (KiB) of NUMA cell `cell`, or of the host with -1. With `nparams` 0
    /// only the count.
    func nodeMemoryStats(cell: Int32, nparams: Int32, flags: UInt32) async throws -> NodeStatsResult
    /// `virNodeGetCellsFreeMemory`: free memory (bytes) of up to `maxCells` cells from `startCell`.
    func nodeCellsFreeMemory(startCell: Int32, maxCells: Int32) async throws -> [UInt64]
    /// `virNodeGetCPUMap`.
    func nodeCPUMap(flags: UInt32) async throws -> NodeCPUMap
    /// `virConnectGetSysinfo`: the host's `<sysinfo>` XML.
    func sysinfo(flags: UInt32) async throws -> String
    /// `virNodeGetMemoryParameters`: the shared-memory (KSM) tunables. With `nparams` 0 only the count.
    func nodeMemoryParameters(nparams: Int32, flags: UInt32) async throws -> (params: [TypedParam], nparams: Int32)
    /// `virConnectGetCPUModelNames`: the CPU models of `arch` (empty: any model is accepted).
    func cpuModelNames(arch: String, flags: UInt32) async throws -> [String]
    /// `virConnectCompareCPU`: the CPU `xml` against the host CPU; libvirt's virCPUCompareResult number.
    func compareCPU(xml: String, flags: UInt32) async throws -> Int32
    /// `virConnectBaselineCPU`: the CPU all of `xmls` provide, as a `<cpu>` document.
    func baselineCPU(xmls: [String], flags: UInt32) async throws -> String
    /// `virConnectCompareHypervisorCPU`: the CPU `xml` against the CPU the hypervisor offers on this host.
    func compareHypervisorCPU(emulator: String?, arch: String?, machine: String?, virtType: String?, xml: String,
                              flags: UInt32) async throws -> Int32
    /// `virConnectBaselineHypervisorCPU`: the baseline of `xmls` that the hypervisor can run.
    func baselineHypervisorCPU(emulator: String?, arch: String?, machine: String?, virtType: String?,
                               xmls: [String], flags: UInt32) async throws -> String
    func nodeFreeMemory() async throws -> UInt64
    /// `virNodeGetFreePages`: for each cell from `startCell`, the free count of each page size (KiB), cell by cell.
    func nodeFreePages(pages: [UInt32], startCell: Int32, cellCount: UInt32, flags: UInt32) async throws -> [UInt64]
    /// `virNodeAllocPages`: sets (flag 1) or adds to (flag 0) the pools of the given page sizes; returns how many
    /// cells were changed.
    func nodeAllocPages(pageSizes: [UInt32], pageCounts: [UInt64], startCell: Int32, cellCount: UInt32,
                        flags: UInt32) async throws -> Int32
    func maxVcpus(type: String?) async throws -> Int32
    /// Whether the connection is encrypted or local.
    func isSecure() async throws -> Bool
    func securityModel() async throws -> SecurityModel

    // MARK: Listing and lookup

    func listAllDomains(flags: ListAllDomainsFlags) async throws -> [DomainRef]
    func listDomainIDs() async throws -> [Int32]
    func listDefinedDomainNames() async throws -> [String]
    func numberOfDomains() async throws -> Int32
    func numberOfDefinedDomains() async throws -> Int32
    func lookupDomain(name: String) async throws -> DomainRef
    func lookupDomain(id: Int32) async throws -> DomainRef
    func lookupDomain(uuid: VirtUUID) async throws -> DomainRef

    // MARK: Definition

    func defineXML(_ xml: String, flags: DefineFlags) async throws -> DomainRef
    func undefine(_ domain: DomainRef, flags: UndefineFlags) async throws
    /// Creates and starts a transient domain.
    func createXML(_ xml: String, flags: CreateFlags) async throws -> DomainRef

    // MARK: Lifecycle

    /// Starts a defined domain; returns its new reference (with the id).
    func start(_ domain: DomainRef, flags: CreateFlags) async throws -> DomainRef
    func destroy(_ domain: DomainRef, flags: DestroyFlags) async throws
    func shutdown(_ domain: DomainRef, flags: ShutdownFlags) async throws
    func reboot(_ domain: DomainRef, flags: ShutdownFlags) async throws
    func reset(_ domain: DomainRef) async throws
    func suspend(_ domain: DomainRef) async throws
    func resume(_ domain: DomainRef) async throws
    func save(_ domain: DomainRef, to path: String, xml: String?, flags: SaveRestoreFlags) async throws
    func restore(from path: String, xml: String?, flags: SaveRestoreFlags) async throws
    func managedSave(_ domain: DomainRef, flags: SaveRestoreFlags) async throws
    func hasManagedSaveImage(_ domain: DomainRef) async throws -> Bool
    func managedSaveRemove(_ domain: DomainRef) async throws

    // MARK: Properties

    func autostart(_ domain: DomainRef) async throws -> Bool
    func setAutostart(_ domain: DomainRef, _ enabled: Bool) async throws
    func info(_ domain: DomainRef) async throws -> DomainInfo
    func state(_ domain: DomainRef) async throws -> DomainStatus
    func xmlDesc(_ domain: DomainRef, flags: XMLFlags) async throws -> String
    func osType(_ domain: DomainRef) async throws -> String
    func isActive(_ domain: DomainRef) async throws -> Bool
    func isPersistent(_ domain: DomainRef) async throws -> Bool
    func isUpdated(_ domain: DomainRef) async throws -> Bool
    /// KiB.
    func maxMemory(_ domain: DomainRef) async throws -> UInt64
    func setMemory(_ domain: DomainRef, kib: UInt64, flags: ModificationImpact) async throws
    func vcpuCount(_ domain: DomainRef, flags: ModificationImpact) async throws -> Int32
    func setVcpus(_ domain: DomainRef, count: UInt32, flags: ModificationImpact) async throws
    func securityLabels(_ domain: DomainRef) async throws -> [SecurityLabel]
    /// `virDomainGetSecurityLabelList`: one label per security driver of a running domain, none when shut off.
    func securityLabelList(_ domain: DomainRef) async throws -> [SecurityLabel]
    /// `virDomainGetMessages`: taint and deprecation messages.
    func messages(_ domain: DomainRef, flags: UInt32) async throws -> [String]
    func allDomainStats(domains: [DomainRef]?, types: StatsTypes, flags: GetAllDomainStatsFlags) async throws
        -> [DomainStatsRecord]

    // MARK: Save images

    /// `virDomainSaveImageGetXMLDesc`: the definition stored in the save image at `path`.
    func saveImageXML(path: String, flags: UInt32) async throws -> String
    /// `virDomainSaveImageDefineXML`: replaces the image's definition (same domain) and, with the running
    /// (2) or paused (4) flag, the state it restores to.
    func saveImageDefineXML(path: String, xml: String, flags: UInt32) async throws
    /// `virDomainManagedSaveGetXMLDesc`.
    func managedSaveXML(_ domain: DomainRef, flags: UInt32) async throws -> String
    /// `virDomainManagedSaveDefineXML` (`xml` nil: only the state flags change).
    func managedSaveDefineXML(_ domain: DomainRef, xml: String?, flags: UInt32) async throws

    // MARK: Jobs

    /// `virDomainGetJobStats`: the type of the job in flight (`virDomainJobType`) and its statistics, or with
    /// `completed` those of the last job that ended (cleared unless `keepCompleted`).
    func jobStats(_ domain: DomainRef, completed: Bool, keepCompleted: Bool) async throws
        -> (type: Int32, params: [TypedParam])
    /// `virDomainAbortJobFlags`.
    func abortJob(_ domain: DomainRef, flags: UInt32) async throws

    // MARK: Migration (libvirt's version 3 protocol with parameters)

    /// Whether the driver implements a `virDrvFeature` (migration protocols, migratable XML).
    func supportsFeature(_ feature: Int32) async -> Bool
    /// `virConnectIsAlive`: false once a remote connection has been lost.
    func isAlive() async -> Bool
    /// The client that prepared these incoming migrations left before finishing them: they are abandoned.
    func migrationClientGone(incoming names: [String]) async
    /// Source, phase 1: the migratable definition and cookie A; starts the outgoing migration job.
    func migrateBegin3(_ domain: DomainRef, params: [TypedParam], flags: MigrateFlags) async throws
        -> (xml: String, cookie: [UInt8])
    /// Destination, phase 2: starts QEMU waiting for the stream; returns cookie B and the URI to send to.
    func migratePrepare3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags) async throws
        -> (uri: String?, cookie: [UInt8])
    /// Destination, phase 2 of a tunnelled migration: returns cookie B and the stream the source writes the
    /// migration data into (finish at the end, abort on failure).
    func migratePrepareTunnel3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags) async throws
        -> (cookie: [UInt8], stream: any ByteStream)
    /// Source, phase 3: sends the guest; with `destinationURI` (peer to peer) runs every phase itself.
    func migratePerform3(_ domain: DomainRef, destinationURI: String?, params: [TypedParam], cookie: [UInt8],
                         flags: MigrateFlags) async throws -> [UInt8]
    /// Destination, phase 4: runs the guest (or, `cancelled`, removes it).
    func migrateFinish3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags, cancelled: Bool) async throws
        -> (domain: DomainRef, cookie: [UInt8])
    /// Source, phase 5: stops the migrated guest, or resumes it when the migration was `cancelled`.
    func migrateConfirm3(_ domain: DomainRef, params: [TypedParam], cookie: [UInt8], flags: MigrateFlags,
                         cancelled: Bool) async throws
    /// `virDomainMigrateStartPostCopy`.
    func migrateStartPostCopy(_ domain: DomainRef, flags: UInt32) async throws
    /// Milliseconds.
    func migrateSetMaxDowntime(_ domain: DomainRef, milliseconds: UInt64, flags: UInt32) async throws
    func migrateMaxDowntime(_ domain: DomainRef, flags: UInt32) async throws -> UInt64
    /// MiB/s (flag 1: post-copy bandwidth).
    func migrateSetMaxSpeed(_ domain: DomainRef, mibPerSecond: UInt64, flags: UInt32) async throws
    func migrateMaxSpeed(_ domain: DomainRef, flags: UInt32) async throws -> UInt64

    // MARK: Events, console, monitor

    /// A new subscription to every domain event of this connection's driver.
    func events() -> AsyncStream<DomainEventRecord>
    func openConsole(_ domain: DomainRef, device: String?, flags: UInt32) async throws -> any ByteStream
    /// QEMU monitor passthrough (QMP JSON, or HMP with flag 1).
    func qemuMonitorCommand(_ domain: DomainRef, command: String, flags: UInt32) async throws -> String
    /// `virDomainBackupBegin`: a backup job of the running domain's disks (flag 1: reuse external images).
    func backupBegin(_ domain: DomainRef, backupXML: String, checkpointXML: String?, flags: UInt32) async throws
    /// `virDomainBackupGetXMLDesc`: the running backup job's definition as the driver completed it.
    func backupXML(_ domain: DomainRef, flags: UInt32) async throws -> String
    /// `virDomainQemuMonitorCommandWithFiles`: the command with descriptors for QEMU (none come back here).
    func qemuMonitorCommand(_ domain: DomainRef, command: String, fds: [Int32], flags: UInt32) async throws -> String
    /// `virDomainQemuAttach` (QEMU program): adopt a QEMU process libvirt did not start.
    func qemuAttach(pid: UInt32, flags: UInt32) async throws -> DomainRef
    /// `virDomainLxcOpenNamespace` (LXC program): descriptors of a container's namespaces.
    func lxcOpenNamespace(_ domain: DomainRef, flags: UInt32) async throws -> [Int32]
    /// `virDomainFDAssociate`: descriptors (the driver keeps duplicates) under `name` for disks whose source
    /// names that group, as long as the client `owner` stays connected.
    func associateFDs(_ domain: DomainRef, name: String, fds: [Int32], flags: UInt32, owner: UInt64) async throws
    /// The client `owner` left: the descriptors it associated go.
    func fdOwnerGone(_ owner: UInt64) async
    /// `virDomainOpenGraphics`: the client's socket `fd` becomes a client of graphics device `index`.
    func openGraphics(_ domain: DomainRef, index: UInt32, fd: Int32, flags: UInt32) async throws

    // MARK: Statistics, pinning and guest information (issue 11: monitoring)

    /// `virDomainBlockStats`: the counters of disk `path` (target name or source path).
    func blockStats(_ domain: DomainRef, path: String) async throws -> BlockStats
    /// `virDomainBlockStatsFlags`: the same as typed parameters (wr_bytes, rd_operations, …).
    func blockStatsFlags(_ domain: DomainRef, path: String, flags: UInt32) async throws -> [TypedParam]
    /// `virDomainInterfaceStats`: the counters of the NIC named by target name or MAC address.
    func interfaceStats(_ domain: DomainRef, device: String) async throws -> InterfaceStats
    /// `virDomainMemoryStats`: at most `maxStats` balloon and process statistics.
    func memoryStats(_ domain: DomainRef, maxStats: UInt32, flags: UInt32) async throws -> [MemoryStat]
    /// `virDomainSetMemoryStatsPeriod`: seconds between the guest's balloon statistics updates (0: off).
    func setMemoryStatsPeriod(_ domain: DomainRef, period: Int32, flags: UInt32) async throws

    // MARK: Guest agent (issue 11)

    /// `virDomainInterfaceAddresses`: the guest's interfaces and addresses from `source`
    /// (``InterfaceAddressSource``).
    func interfaceAddresses(_ domain: DomainRef, source: UInt32, flags: UInt32) async throws -> [DomainInterface]
    /// `virDomainGetTime`: the guest's clock (through the agent).
    func guestTime(_ domain: DomainRef, flags: UInt32) async throws -> (seconds: Int64, nseconds: UInt32)
    /// `virDomainSetTime`: sets the guest's clock, or (flag SYNC) makes it read its RTC.
    func setGuestTime(_ domain: DomainRef, seconds: Int64, nseconds: UInt32, flags: UInt32) async throws
    /// `virDomainFSFreeze`: freezes the guest's file systems (all, or those mounted on `mountpoints`).
    func fsFreeze(_ domain: DomainRef, mountpoints: [String], flags: UInt32) async throws -> Int32
    /// `virDomainFSThaw`.
    func fsThaw(_ domain: DomainRef, mountpoints: [String], flags: UInt32) async throws -> Int32
    /// `virDomainGetFSInfo`: the guest's mounted file systems and the disks they are on.
    func fsInfo(_ domain: DomainRef, flags: UInt32) async throws -> [DomainFSInfo]
    /// `virDomainGetGuestInfo`: the groups `types` (``GuestInfoTypes``, 0: all) as typed parameters.
    func guestInfo(_ domain: DomainRef, types: UInt32, flags: UInt32) async throws -> [TypedParam]
    /// `virDomainSetUserPassword` (flag 1: the password is already encrypted).
    func setUserPassword(_ domain: DomainRef, user: String?, password: String?, flags: UInt32) async throws
    /// `virDomainFSTrim`: the guest trims its file systems (`minimum`: the smallest free range, bytes).
    func fsTrim(_ domain: DomainRef, mountPoint: String?, minimum: UInt64, flags: UInt32) async throws
    /// `virDomainAuthorizedSSHKeysGet`: the lines of `user`'s authorized_keys in the guest.
    func authorizedSSHKeys(_ domain: DomainRef, user: String, flags: UInt32) async throws -> [String]
    /// `virDomainAuthorizedSSHKeysSet`: replaces, appends to (flag APPEND, 1) or removes from (REMOVE, 2) them.
    func setAuthorizedSSHKeys(_ domain: DomainRef, user: String, keys: [String], flags: UInt32) async throws
    /// `virDomainQemuAgentCommand`: a guest agent command passed through; the agent's reply as JSON text.
    func qemuAgentCommand(_ domain: DomainRef, command: String, timeout: Int32, flags: UInt32) async throws -> String?
    /// `virDomainGetBlockInfo`: capacity, allocation and physical size of disk `path`.
    func blockInfo(_ domain: DomainRef, path: String, flags: UInt32) async throws -> BlockInfo
    /// `virDomainBlockPeek`: `size` bytes of disk `path`'s image file from `offset`.
    func blockPeek(_ domain: DomainRef, path: String, offset: UInt64, size: UInt32, flags: UInt32) async throws
        -> [UInt8]
    /// `virDomainMemoryPeek`: `size` bytes of the guest's memory from `start` (flag 1: virtual addresses,
    /// 2: physical).
    func memoryPeek(_ domain: DomainRef, start: UInt64, size: UInt32, flags: UInt32) async throws -> [UInt8]
    /// `virDomainGetVcpus`: up to `maxInfo` vCPUs of a running domain and their affinity maps, `mapLength`
    /// bytes each (``CPUMap``; the maps cover `maxInfo` vCPUs).
    func vcpuInfo(_ domain: DomainRef, maxInfo: Int32, mapLength: Int32) async throws
        -> (info: [VcpuInfo], cpumaps: [UInt8])
    /// `virDomainGetVcpuPinInfo`: the number of vCPUs and the affinity of the first `maps` of them.
    func vcpuPinInfo(_ domain: DomainRef, maps: Int32, mapLength: Int32, flags: UInt32) async throws
        -> (count: Int32, cpumaps: [UInt8])
    /// `virDomainPinVcpuFlags`, or with nil flags `virDomainPinVcpu` (whose meaning is the driver's: the QEMU
    /// driver pins the running domain, the test driver passes no flags).
    func pinVcpu(_ domain: DomainRef, vcpu: UInt32, cpumap: [UInt8], flags: UInt32?) async throws
    /// `virDomainGetEmulatorPinInfo`: 1 and the emulator threads' affinity map.
    func emulatorPinInfo(_ domain: DomainRef, mapLength: Int32, flags: UInt32) async throws
        -> (count: Int32, cpumap: [UInt8])
    /// `virDomainPinEmulator`.
    func pinEmulator(_ domain: DomainRef, cpumap: [UInt8], flags: UInt32) async throws
    /// `virDomainSetMetadata` (type: `DomainMetadataType`'s raw value); raises METADATA_CHANGE.
    func setMetadata(_ domain: DomainRef, type: Int32, value: String?, key: String?, uri: String?, flags: UInt32)
        async throws
    /// `virDomainGetMetadata`.
    func metadata(_ domain: DomainRef, type: Int32, uri: String?, flags: UInt32) async throws -> String
    /// `virDomainInjectNMI`.
    func injectNMI(_ domain: DomainRef, flags: UInt32) async throws
    /// `virDomainRename`: gives an inactive persistent domain a new name.
    func renameDomain(_ domain: DomainRef, newName: String, flags: UInt32) async throws
    /// `virDomainGetCPUStats`: with `startCPU` -1 the domain's totals; else per host CPU from `startCPU`, `nparams`
    /// parameters for each of `ncpus` CPUs, flat. The count is libvirt's return value: the parameters per CPU
    /// (or in the totals) when `nparams` is 0, the number of host CPUs when `ncpus` is 0, else the parameters
    /// filled per CPU.
    func cpuStats(_ domain: DomainRef, nparams: UInt32, startCPU: Int32, ncpus: UInt32, flags: UInt32) async throws
        -> (params: [TypedParam], count: Int32)
    /// `virDomainGetNumaParameters` with libvirt's two-call protocol (nparams 0: the count).
    func numaParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32)
    /// `virDomainSetNumaParameters`: `numa_mode` (int) and `numa_nodeset` (string).
    func setNumaParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws
    /// `virDomainSetLifecycleAction`: `type` 0 power-off, 1 reboot, 2 crash; `action` a
    /// `virDomainLifecycleAction` (destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart).
    func setLifecycleAction(_ domain: DomainRef, type: UInt32, action: UInt32, flags: UInt32) async throws
    /// `virDomainGetPerfEvents`: every perf event and whether it is enabled.
    func perfEvents(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam]
    /// `virDomainSetPerfEvents`: boolean parameters named after perf events.
    func setPerfEvents(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws
    /// `virDomainGetHostname`.
    func domainHostname(_ domain: DomainRef, flags: UInt32) async throws -> String
    /// `virDomainGetControlInfo`.
    func controlInfo(_ domain: DomainRef, flags: UInt32) async throws -> DomainControlInfo
    /// `virDomainGetDiskErrors`: at most `maxErrors` errors, and the number there are when `maxErrors` is 0
    /// (libvirt's two-call protocol).
    func diskErrors(_ domain: DomainRef, maxErrors: UInt32, flags: UInt32) async throws
        -> (errors: [DomainDiskError], count: Int32)
    /// `virDomainSendProcessSignal`.
    func sendProcessSignal(_ domain: DomainRef, pid: Int64, signal: UInt32, flags: UInt32) async throws
    /// `virDomainGetLaunchSecurityInfo`.
    func launchSecurityInfo(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam]

    // Resource control (cgroups): libvirt's scheduler, memory and block I/O parameters.
    /// `virDomainGetSchedulerType`: the scheduler's name and the number of its parameters.
    func schedulerType(_ domain: DomainRef) async throws -> (type: String, nparams: Int32)
    /// `virDomainGetSchedulerParametersFlags`, or with nil flags `virDomainGetSchedulerParameters`.
    func schedulerParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32?) async throws -> [TypedParam]
    /// `virDomainSetSchedulerParametersFlags`, or with nil flags `virDomainSetSchedulerParameters`.
    func setSchedulerParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32?) async throws
    /// `virDomainGetMemoryParameters` (nparams 0: the count only).
    func memoryParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32)
    /// `virDomainSetMemoryParameters`.
    func setMemoryParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws
    /// `virDomainGetBlkioParameters` (nparams 0: the count only).
    func blkioParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32)
    /// `virDomainSetBlkioParameters`.
    func setBlkioParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws
    /// `virDomainGetInterfaceParameters`: an interface's bandwidth (nparams 0: the count only). `device`: its
    /// MAC address or host device name.
    func interfaceParameters(_ domain: DomainRef, device: String, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32)
    /// `virDomainSetInterfaceParameters`.
    func setInterfaceParameters(_ domain: DomainRef, device: String, params: [TypedParam], flags: UInt32) async throws

    // MARK: Devices, live and persistent (DeviceHotplugDefaults.swift)
    /// `virDomainAttachDeviceFlags`, or with nil flags `virDomainAttachDevice`.
    func attachDevice(_ domain: DomainRef, xml: String, flags: UInt32?) async throws
    /// `virDomainDetachDeviceFlags`, or with nil flags `virDomainDetachDevice`.
    func detachDevice(_ domain: DomainRef, xml: String, flags: UInt32?) async throws
    /// `virDomainUpdateDeviceFlags`.
    func updateDevice(_ domain: DomainRef, xml: String, flags: UInt32) async throws
    /// `virDomainDetachDeviceAlias`.
    func detachDeviceAlias(_ domain: DomainRef, alias: String, flags: UInt32) async throws

    // MARK: Console and guest operations (HypervisorDriver+GuestOps.swift)
    /// `virDomainScreenshot`: the image's MIME type and a stream of its bytes.
    func screenshot(_ domain: DomainRef, screen: UInt32, flags: UInt32) async throws
        -> (mime: String, stream: any ByteStream)
    /// `virDomainOpenGraphicsFD`: a connected socket to the `index`th graphics server (VNC or SPICE) of the
    /// running domain, owned by the caller. `flags`: `VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH` (1).
    func openGraphicsFD(_ domain: DomainRef, index: UInt32, flags: UInt32) async throws -> Int32
    /// `virDomainSendKey`: key codes of `codeset` (`KeycodeSet`'s raw value) pressed for `holdtime` ms.
    func sendKey(_ domain: DomainRef, codeset: UInt32, holdtime: UInt32, keycodes: [UInt32], flags: UInt32)
        async throws
    /// `virDomainCoreDumpWithFormat`, or with nil format `virDomainCoreDump` (the path already absolute).
    func coreDump(_ domain: DomainRef, to path: String, format: UInt32?, flags: UInt32) async throws
    /// `virDomainGetIOThreadInfo`: each IOThread's id and CPU map (live or persistent, by `flags`).
    func iothreadInfo(_ domain: DomainRef, flags: UInt32) async throws -> [IOThreadInfo]
    // MARK: vCPUs, IOThreads, power management, native formats (HypervisorDriver+VcpuIOThreads.swift)
    func addIOThread(_ domain: DomainRef, id: UInt32, flags: UInt32) async throws
    func delIOThread(_ domain: DomainRef, id: UInt32, flags: UInt32) async throws
    func pinIOThread(_ domain: DomainRef, id: UInt32, cpumap: [UInt8], flags: UInt32) async throws
    func setIOThreadParams(_ domain: DomainRef, id: UInt32, params: [TypedParam], flags: UInt32) async throws
    func setVcpu(_ domain: DomainRef, cpumap: String, state: Int32, flags: UInt32) async throws
    func guestVcpus(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam]
    func setGuestVcpus(_ domain: DomainRef, cpumap: String, state: Int32, flags: UInt32) async throws
    func pmSuspendForDuration(_ domain: DomainRef, target: UInt32, duration: UInt64, flags: UInt32) async throws
    func pmWakeup(_ domain: DomainRef, flags: UInt32) async throws
    func domainXMLToNative(format: String, xml: String, flags: UInt32) async throws -> String
    func domainXMLFromNative(format: String, config: String, flags: UInt32) async throws -> String
    func qemuMonitorEvents(domain: DomainRef?, event: String?, flags: UInt32) async throws
        -> AsyncStream<QEMUMonitorEventRecord>

    // MARK: Block devices: resize, I/O throttling, block jobs (HypervisorDriver+Block.swift)
    /// `virDomainBlockResize`: disk `disk` (target or source path) to `size` (KiB, or bytes with flag 1).
    func blockResize(_ domain: DomainRef, disk: String, size: UInt64, flags: UInt32) async throws
    /// `virDomainGetBlockIoTune` (nparams 0: the count only).
    func blockIoTune(_ domain: DomainRef, disk: String?, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32)
    /// `virDomainSetBlockIoTune`.
    func setBlockIoTune(_ domain: DomainRef, disk: String, params: [TypedParam], flags: UInt32) async throws
    /// `virDomainGetBlockJobInfo`: nil when the disk has no job.
    func blockJobInfo(_ domain: DomainRef, disk: String, flags: UInt32) async throws -> BlockJobInfo?
    /// `virDomainBlockJobAbort` (flags: ASYNC 1, PIVOT 2).
    func blockJobAbort(_ domain: DomainRef, disk: String, flags: UInt32) async throws
    /// `virDomainBlockJobSetSpeed` (MiB/s, or bytes/s with flag 1).
    func blockJobSetSpeed(_ domain: DomainRef, disk: String, bandwidth: UInt64, flags: UInt32) async throws
    /// `virDomainBlockRebase`, or with nil base and `pull` `virDomainBlockPull`.
    func blockRebase(_ domain: DomainRef, disk: String, base: String?, bandwidth: UInt64, flags: UInt32, pull: Bool)
        async throws
    /// `virDomainBlockCommit`.
    func blockCommit(_ domain: DomainRef, disk: String, base: String?, top: String?, bandwidth: UInt64, flags: UInt32)
        async throws
    /// `virDomainBlockCopy`.
    func blockCopy(_ domain: DomainRef, disk: String, destXML: String, params: [TypedParam], flags: UInt32) async throws

    // MARK: Snapshots and checkpoints (DomainSnapshot.swift)
    /// `virDomainSnapshotCreateXML`.
    func snapshotCreateXML(_ domain: DomainRef, xml: String, flags: UInt32) async throws -> DomainSnapshotRef
    /// `virDomainSnapshotGetXMLDesc`.
    func snapshotXMLDesc(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> String
    /// `virDomainSnapshotNum`.
    func snapshotNum(_ domain: DomainRef, flags: UInt32) async throws -> Int32
    /// `virDomainSnapshotListNames` (at most `max`).
    func snapshotListNames(_ domain: DomainRef, max: Int32, flags: UInt32) async throws -> [String]
    /// `virDomainListAllSnapshots`.
    func listAllSnapshots(_ domain: DomainRef, flags: UInt32) async throws -> [DomainSnapshotRef]
    /// `virDomainSnapshotNumChildren`.
    func snapshotNumChildren(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> Int32
    /// `virDomainSnapshotListChildrenNames` (at most `max`).
    func snapshotListChildrenNames(_ snapshot: DomainSnapshotRef, max: Int32, flags: UInt32) async throws -> [String]
    /// `virDomainSnapshotListAllChildren`.
    func snapshotListAllChildren(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> [DomainSnapshotRef]
    /// `virDomainSnapshotLookupByName`.
    func snapshotLookup(_ domain: DomainRef, name: String, flags: UInt32) async throws -> DomainSnapshotRef
    /// `virDomainHasCurrentSnapshot`.
    func hasCurrentSnapshot(_ domain: DomainRef, flags: UInt32) async throws -> Bool
    /// `virDomainSnapshotGetParent`.
    func snapshotParent(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> DomainSnapshotRef
    /// `virDomainSnapshotCurrent`.
    func snapshotCurrent(_ domain: DomainRef, flags: UInt32) async throws -> DomainSnapshotRef
    /// `virDomainSnapshotIsCurrent`.
    func snapshotIsCurrent(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> Bool
    /// `virDomainSnapshotHasMetadata`.
    func snapshotHasMetadata(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> Bool
    /// `virDomainRevertToSnapshot`.
    func revertToSnapshot(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws
    /// `virDomainSnapshotDelete`.
    func snapshotDelete(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws
    /// `virDomainCheckpointCreateXML`.
    func checkpointCreateXML(_ domain: DomainRef, xml: String, flags: UInt32) async throws -> DomainCheckpointRef
    /// `virDomainCheckpointGetXMLDesc`.
    func checkpointXMLDesc(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws -> String
    /// `virDomainListAllCheckpoints`.
    func listAllCheckpoints(_ domain: DomainRef, flags: UInt32) async throws -> [DomainCheckpointRef]
    /// `virDomainCheckpointListAllChildren`.
    func checkpointListAllChildren(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws
        -> [DomainCheckpointRef]
    /// `virDomainCheckpointLookupByName`.
    func checkpointLookup(_ domain: DomainRef, name: String, flags: UInt32) async throws -> DomainCheckpointRef
    /// `virDomainCheckpointGetParent`.
    func checkpointParent(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws -> DomainCheckpointRef
    /// `virDomainCheckpointDelete`.
    func checkpointDelete(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws
    // Block thresholds, dirty rate, agent timeout, compression cache, SEV, host suspend (defaults in
    // HypervisorDriver+HostControl.swift).
    /// `virDomainSetBlockThreshold`.
    func setBlockThreshold(_ domain: DomainRef, dev: String, threshold: UInt64, flags: UInt32) async throws
    /// `virDomainStartDirtyRateCalc`.
    func startDirtyRateCalc(_ domain: DomainRef, seconds: Int32, flags: UInt32) async throws
    /// `virDomainAgentSetResponseTimeout`.
    func agentSetResponseTimeout(_ domain: DomainRef, timeout: Int32, flags: UInt32) async throws
    /// `virDomainMigrateGetCompressionCache`.
    func migrateCompressionCache(_ domain: DomainRef, flags: UInt32) async throws -> UInt64
    /// `virDomainMigrateSetCompressionCache`.
    func setMigrateCompressionCache(_ domain: DomainRef, size: UInt64, flags: UInt32) async throws
    /// `virDomainSetLaunchSecurityState`.
    func setLaunchSecurityState(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws
    /// `virNodeGetSEVInfo`.
    func nodeSEVInfo(flags: UInt32) async throws -> [TypedParam]
    /// `virNodeSuspendForDuration`.
    func nodeSuspendForDuration(target: UInt32, duration: UInt64, flags: UInt32) async throws
}

extension HypervisorDriver {
    public func supportsFeature(_ feature: Int32) async -> Bool { false }
    public func isAlive() async -> Bool { true }
    public func migrationClientGone(incoming names: [String]) async {}
    public func migrateBegin3(_ domain: DomainRef, params: [TypedParam], flags: MigrateFlags) async throws
        -> (xml: String, cookie: [UInt8]) {
        throw VirtError.noSupport("virDomainMigrateBegin3Params")
    }
    public func migratePrepare3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags) async throws
        -> (uri: String?, cookie: [UInt8]) {
        throw VirtError.noSupport("virDomainMigratePrepare3Params")
    }
    public func migratePrepareTunnel3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags) async throws
        -> (cookie: [UInt8], stream: any ByteStream) {
        throw VirtError.noSupport("virDomainMigratePrepareTunnel3Params")
    }
    public func migratePerform3(_ domain: DomainRef, destinationURI: String?, params: [TypedParam],
                                cookie: [UInt8], flags: MigrateFlags) async throws -> [UInt8] {
        throw VirtError.noSupport("virDomainMigratePerform3Params")
    }
    public func migrateFinish3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags, cancelled: Bool)
        async throws -> (domain: DomainRef, cookie: [UInt8]) {
        throw VirtError.noSupport("virDomainMigrateFinish3Params")
    }
    public func migrateConfirm3(_ domain: DomainRef, params: [TypedParam], cookie: [UInt8], flags: MigrateFlags,
                                cancelled: Bool) async throws {
        throw VirtError.noSupport("virDomainMigrateConfirm3Params")
    }
    public func migrateStartPostCopy(_ domain: DomainRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainMigrateStartPostCopy")
    }
    public func migrateSetMaxDowntime(_ domain: DomainRef, milliseconds: UInt64, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainMigrateSetMaxDowntime")
    }
    public func migrateMaxDowntime(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        throw VirtError.noSupport("virDomainMigrateGetMaxDowntime")
    }
    public func migrateSetMaxSpeed(_ domain: DomainRef, mibPerSecond: UInt64, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainMigrateSetMaxSpeed")
    }
    public func migrateMaxSpeed(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        throw VirtError.noSupport("virDomainMigrateGetMaxSpeed")
    }
}

extension HypervisorDriver {
    public func close() async {}
    public func saveImageXML(path: String, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virDomainSaveImageGetXMLDesc")
    }
    public func saveImageDefineXML(path: String, xml: String, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSaveImageDefineXML")
    }
    public func managedSaveXML(_ domain: DomainRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virDomainManagedSaveGetXMLDesc")
    }
    public func managedSaveDefineXML(_ domain: DomainRef, xml: String?, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainManagedSaveDefineXML")
    }
    public func jobStats(_ domain: DomainRef, completed: Bool, keepCompleted: Bool) async throws
        -> (type: Int32, params: [TypedParam]) {
        throw VirtError.noSupport("virDomainGetJobStats")
    }
    public func abortJob(_ domain: DomainRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainAbortJobFlags")
    }
    public func hypervisorType() async throws -> String { throw VirtError.noSupport("virConnectGetType") }
    public func hypervisorVersion() async throws -> UInt64 { throw VirtError.noSupport("virConnectGetVersion") }
    public func hostname() async throws -> String { throw VirtError.noSupport("virConnectGetHostname") }
    public func capabilities() async throws -> String { throw VirtError.noSupport("virConnectGetCapabilities") }
    public func domainCapabilities(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                   flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virConnectGetDomainCapabilities")
    }
    public func nodeInfo() async throws -> NodeInfo { throw VirtError.noSupport("virNodeGetInfo") }
    public func nodeCPUStats(cpu: Int32, nparams: Int32, flags: UInt32) async throws -> NodeStatsResult {
        throw VirtError.noSupport("virNodeGetCPUStats", domain: .domain)
    }
    public func nodeMemoryStats(cell: Int32, nparams: Int32, flags: UInt32) async throws -> NodeStatsResult {
        throw VirtError.noSupport("virNodeGetMemoryStats", domain: .domain)
    }
    public func nodeCellsFreeMemory(startCell: Int32, maxCells: Int32) async throws -> [UInt64] {
        throw VirtError.noSupport("virNodeGetCellsFreeMemory", domain: .domain)
    }
    public func nodeCPUMap(flags: UInt32) async throws -> NodeCPUMap {
        throw VirtError.noSupport("virNodeGetCPUMap", domain: .domain)
    }
    public func sysinfo(flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virConnectGetSysinfo", domain: .domain)
    }
    public func nodeMemoryParameters(nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        throw VirtError.noSupport("virNodeGetMemoryParameters", domain: .domain)
    }
    public func compareCPU(xml: String, flags: UInt32) async throws -> Int32 {
        throw VirtError.noSupport("virConnectCompareCPU")
    }
    public func baselineCPU(xmls: [String], flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virConnectBaselineCPU")
    }
    public func compareHypervisorCPU(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                     xml: String, flags: UInt32) async throws -> Int32 {
        throw VirtError.noSupport("virConnectCompareHypervisorCPU")
    }
    public func baselineHypervisorCPU(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                      xmls: [String], flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virConnectBaselineHypervisorCPU")
    }
    public func cpuModelNames(arch: String, flags: UInt32) async throws -> [String] {
        throw VirtError.noSupport("virConnectGetCPUModelNames", domain: .domain)
    }
    public func nodeFreeMemory() async throws -> UInt64 { throw VirtError.noSupport("virNodeGetFreeMemory") }
    public func nodeFreePages(pages: [UInt32], startCell: Int32, cellCount: UInt32, flags: UInt32) async throws
        -> [UInt64] {
        throw VirtError.noSupport("virNodeGetFreePages")
    }
    public func nodeAllocPages(pageSizes: [UInt32], pageCounts: [UInt64], startCell: Int32, cellCount: UInt32,
                               flags: UInt32) async throws -> Int32 {
        throw VirtError.noSupport("virNodeAllocPages")
    }
    public func maxVcpus(type: String?) async throws -> Int32 { throw VirtError.noSupport("virConnectGetMaxVcpus") }
    public func isSecure() async throws -> Bool { true }
    public func securityModel() async throws -> SecurityModel { SecurityModel(model: "", doi: "") }

    public func listAllDomains(flags: ListAllDomainsFlags) async throws -> [DomainRef] {
        throw VirtError.noSupport("virConnectListAllDomains")
    }
    public func listDomainIDs() async throws -> [Int32] {
        try await listAllDomains(flags: .active).map(\.id).sorted()
    }
    public func listDefinedDomainNames() async throws -> [String] {
        try await listAllDomains(flags: .inactive).map(\.name).sorted()
    }
    public func numberOfDomains() async throws -> Int32 { Int32(try await listAllDomains(flags: .active).count) }
    public func numberOfDefinedDomains() async throws -> Int32 {
        Int32(try await listAllDomains(flags: .inactive).count)
    }
    public func lookupDomain(name: String) async throws -> DomainRef { throw VirtError.noSupport("virDomainLookupByName") }
    public func lookupDomain(id: Int32) async throws -> DomainRef { throw VirtError.noSupport("virDomainLookupByID") }
    public func lookupDomain(uuid: VirtUUID) async throws -> DomainRef { throw VirtError.noSupport("virDomainLookupByUUID") }

    public func defineXML(_ xml: String, flags: DefineFlags) async throws -> DomainRef {
        throw VirtError.noSupport("virDomainDefineXMLFlags")
    }
    public func undefine(_ domain: DomainRef, flags: UndefineFlags) async throws {
        throw VirtError.noSupport("virDomainUndefineFlags")
    }
    public func createXML(_ xml: String, flags: CreateFlags) async throws -> DomainRef {
        throw VirtError.noSupport("virDomainCreateXML")
    }
    public func start(_ domain: DomainRef, flags: CreateFlags) async throws -> DomainRef {
        throw VirtError.noSupport("virDomainCreateWithFlags")
    }
    public func destroy(_ domain: DomainRef, flags: DestroyFlags) async throws {
        throw VirtError.noSupport("virDomainDestroyFlags")
    }
    public func shutdown(_ domain: DomainRef, flags: ShutdownFlags) async throws {
        throw VirtError.noSupport("virDomainShutdownFlags")
    }
    public func reboot(_ domain: DomainRef, flags: ShutdownFlags) async throws { throw VirtError.noSupport("virDomainReboot") }
    public func reset(_ domain: DomainRef) async throws { throw VirtError.noSupport("virDomainReset") }
    public func suspend(_ domain: DomainRef) async throws { throw VirtError.noSupport("virDomainSuspend") }
    public func resume(_ domain: DomainRef) async throws { throw VirtError.noSupport("virDomainResume") }
    public func save(_ domain: DomainRef, to path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        throw VirtError.noSupport("virDomainSaveFlags")
    }
    public func restore(from path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        throw VirtError.noSupport("virDomainRestoreFlags")
    }
    public func managedSave(_ domain: DomainRef, flags: SaveRestoreFlags) async throws {
        throw VirtError.noSupport("virDomainManagedSave")
    }
    public func hasManagedSaveImage(_ domain: DomainRef) async throws -> Bool {
        throw VirtError.noSupport("virDomainHasManagedSaveImage")
    }
    public func managedSaveRemove(_ domain: DomainRef) async throws { throw VirtError.noSupport("virDomainManagedSaveRemove") }

    public func autostart(_ domain: DomainRef) async throws -> Bool { throw VirtError.noSupport("virDomainGetAutostart") }
    public func setAutostart(_ domain: DomainRef, _ enabled: Bool) async throws {
        throw VirtError.noSupport("virDomainSetAutostart")
    }
    public func info(_ domain: DomainRef) async throws -> DomainInfo { throw VirtError.noSupport("virDomainGetInfo") }
    public func state(_ domain: DomainRef) async throws -> DomainStatus { throw VirtError.noSupport("virDomainGetState") }
    public func xmlDesc(_ domain: DomainRef, flags: XMLFlags) async throws -> String {
        throw VirtError.noSupport("virDomainGetXMLDesc")
    }
    public func osType(_ domain: DomainRef) async throws -> String { throw VirtError.noSupport("virDomainGetOSType") }
    public func isActive(_ domain: DomainRef) async throws -> Bool { throw VirtError.noSupport("virDomainIsActive") }
    public func isPersistent(_ domain: DomainRef) async throws -> Bool { throw VirtError.noSupport("virDomainIsPersistent") }
    public func isUpdated(_ domain: DomainRef) async throws -> Bool { throw VirtError.noSupport("virDomainIsUpdated") }
    public func maxMemory(_ domain: DomainRef) async throws -> UInt64 { throw VirtError.noSupport("virDomainGetMaxMemory") }
    public func setMemory(_ domain: DomainRef, kib: UInt64, flags: ModificationImpact) async throws {
        throw VirtError.noSupport("virDomainSetMemoryFlags")
    }
    public func vcpuCount(_ domain: DomainRef, flags: ModificationImpact) async throws -> Int32 {
        throw VirtError.noSupport("virDomainGetVcpusFlags")
    }
    public func setVcpus(_ domain: DomainRef, count: UInt32, flags: ModificationImpact) async throws {
        throw VirtError.noSupport("virDomainSetVcpusFlags")
    }
    public func securityLabels(_ domain: DomainRef) async throws -> [SecurityLabel] { [] }
    public func securityLabelList(_ domain: DomainRef) async throws -> [SecurityLabel] {
        throw VirtError.noSupport("virDomainGetSecurityLabelList", domain: .domain)
    }
    public func messages(_ domain: DomainRef, flags: UInt32) async throws -> [String] { [] }
    public func allDomainStats(domains: [DomainRef]?, types: StatsTypes, flags: GetAllDomainStatsFlags) async throws
        -> [DomainStatsRecord] {
        throw VirtError.noSupport("virConnectGetAllDomainStats")
    }
    public func events() -> AsyncStream<DomainEventRecord> { AsyncStream { $0.finish() } }
    public func openConsole(_ domain: DomainRef, device: String?, flags: UInt32) async throws -> any ByteStream {
        throw VirtError.noSupport("virDomainOpenConsole")
    }
    public func qemuMonitorCommand(_ domain: DomainRef, command: String, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virDomainQemuMonitorCommand")
    }
    public func qemuMonitorCommand(_ domain: DomainRef, command: String, fds: [Int32], flags: UInt32) async throws
        -> String {
        throw VirtError.noSupport("virDomainQemuMonitorCommandWithFiles")
    }
    public func backupBegin(_ domain: DomainRef, backupXML: String, checkpointXML: String?, flags: UInt32)
        async throws {
        throw VirtError.noSupport("virDomainBackupBegin", domain: .domain)
    }
    public func backupXML(_ domain: DomainRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virDomainBackupGetXMLDesc", domain: .domain)
    }
    /// No driver here adopts foreign QEMU processes (libvirt's QEMU driver dropped it too).
    public func qemuAttach(pid: UInt32, flags: UInt32) async throws -> DomainRef {
        throw VirtError.noSupport("virDomainQemuAttach")
    }
    /// Only libvirt's LXC driver has container namespaces.
    public func lxcOpenNamespace(_ domain: DomainRef, flags: UInt32) async throws -> [Int32] {
        throw VirtError.noSupport("virDomainLxcOpenNamespace")
    }
    public func associateFDs(_ domain: DomainRef, name: String, fds: [Int32], flags: UInt32, owner: UInt64)
        async throws {
        throw VirtError.noSupport("virDomainFDAssociate")
    }
    public func fdOwnerGone(_ owner: UInt64) async {}
    public func openGraphics(_ domain: DomainRef, index: UInt32, fd: Int32, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainOpenGraphics")
    }

    // MARK: Statistics, pinning and guest information (issue 11: monitoring)

    public func blockStats(_ domain: DomainRef, path: String) async throws -> BlockStats {
        throw VirtError.noSupport("virDomainBlockStats", domain: .domain)
    }
    public func blockStatsFlags(_ domain: DomainRef, path: String, flags: UInt32) async throws -> [TypedParam] {
        throw VirtError.noSupport("virDomainBlockStatsFlags", domain: .domain)
    }
    public func interfaceStats(_ domain: DomainRef, device: String) async throws -> InterfaceStats {
        throw VirtError.noSupport("virDomainInterfaceStats", domain: .domain)
    }
    public func memoryStats(_ domain: DomainRef, maxStats: UInt32, flags: UInt32) async throws -> [MemoryStat] {
        throw VirtError.noSupport("virDomainMemoryStats", domain: .domain)
    }
    public func setMemoryStatsPeriod(_ domain: DomainRef, period: Int32, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetMemoryStatsPeriod", domain: .domain)
    }

    public func interfaceAddresses(_ domain: DomainRef, source: UInt32, flags: UInt32) async throws -> [DomainInterface] {
        throw VirtError.noSupport("virDomainInterfaceAddresses", domain: .domain)
    }
    public func guestTime(_ domain: DomainRef, flags: UInt32) async throws -> (seconds: Int64, nseconds: UInt32) {
        throw VirtError.noSupport("virDomainGetTime", domain: .domain)
    }
    public func setGuestTime(_ domain: DomainRef, seconds: Int64, nseconds: UInt32, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetTime", domain: .domain)
    }
    public func fsFreeze(_ domain: DomainRef, mountpoints: [String], flags: UInt32) async throws -> Int32 {
        throw VirtError.noSupport("virDomainFSFreeze", domain: .domain)
    }
    public func fsThaw(_ domain: DomainRef, mountpoints: [String], flags: UInt32) async throws -> Int32 {
        throw VirtError.noSupport("virDomainFSThaw", domain: .domain)
    }
    public func fsInfo(_ domain: DomainRef, flags: UInt32) async throws -> [DomainFSInfo] {
        throw VirtError.noSupport("virDomainGetFSInfo", domain: .domain)
    }
    public func guestInfo(_ domain: DomainRef, types: UInt32, flags: UInt32) async throws -> [TypedParam] {
        throw VirtError.noSupport("virDomainGetGuestInfo", domain: .domain)
    }
    public func setUserPassword(_ domain: DomainRef, user: String?, password: String?, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetUserPassword", domain: .domain)
    }
    public func qemuAgentCommand(_ domain: DomainRef, command: String, timeout: Int32, flags: UInt32) async throws
        -> String? {
        throw VirtError.noSupport("virDomainQemuAgentCommand", domain: .domain)
    }
    public func fsTrim(_ domain: DomainRef, mountPoint: String?, minimum: UInt64, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainFSTrim", domain: .domain)
    }
    public func authorizedSSHKeys(_ domain: DomainRef, user: String, flags: UInt32) async throws -> [String] {
        throw VirtError.noSupport("virDomainAuthorizedSSHKeysGet", domain: .domain)
    }
    public func setAuthorizedSSHKeys(_ domain: DomainRef, user: String, keys: [String], flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainAuthorizedSSHKeysSet", domain: .domain)
    }
    public func blockPeek(_ domain: DomainRef, path: String, offset: UInt64, size: UInt32, flags: UInt32)
        async throws -> [UInt8] {
        throw VirtError.noSupport("virDomainBlockPeek", domain: .domain)
    }
    public func memoryPeek(_ domain: DomainRef, start: UInt64, size: UInt32, flags: UInt32) async throws -> [UInt8] {
        throw VirtError.noSupport("virDomainMemoryPeek", domain: .domain)
    }
    public func blockInfo(_ domain: DomainRef, path: String, flags: UInt32) async throws -> BlockInfo {
        throw VirtError.noSupport("virDomainGetBlockInfo", domain: .domain)
    }
    public func vcpuInfo(_ domain: DomainRef, maxInfo: Int32, mapLength: Int32) async throws
        -> (info: [VcpuInfo], cpumaps: [UInt8]) {
        throw VirtError.noSupport("virDomainGetVcpus", domain: .domain)
    }
    public func vcpuPinInfo(_ domain: DomainRef, maps: Int32, mapLength: Int32, flags: UInt32) async throws
        -> (count: Int32, cpumaps: [UInt8]) {
        throw VirtError.noSupport("virDomainGetVcpuPinInfo", domain: .domain)
    }
    public func pinVcpu(_ domain: DomainRef, vcpu: UInt32, cpumap: [UInt8], flags: UInt32?) async throws {
        throw VirtError.noSupport(flags == nil ? "virDomainPinVcpu" : "virDomainPinVcpuFlags", domain: .domain)
    }
    public func emulatorPinInfo(_ domain: DomainRef, mapLength: Int32, flags: UInt32) async throws
        -> (count: Int32, cpumap: [UInt8]) {
        throw VirtError.noSupport("virDomainGetEmulatorPinInfo", domain: .domain)
    }
    public func pinEmulator(_ domain: DomainRef, cpumap: [UInt8], flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainPinEmulator", domain: .domain)
    }
    public func setMetadata(_ domain: DomainRef, type: Int32, value: String?, key: String?, uri: String?,
                            flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetMetadata", domain: .domain)
    }
    public func metadata(_ domain: DomainRef, type: Int32, uri: String?, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virDomainGetMetadata", domain: .domain)
    }
    public func renameDomain(_ domain: DomainRef, newName: String, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainRename")
    }
    public func setLifecycleAction(_ domain: DomainRef, type: UInt32, action: UInt32, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetLifecycleAction")
    }
    public func numaParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        throw VirtError.noSupport("virDomainGetNumaParameters")
    }
    public func cpuStats(_ domain: DomainRef, nparams: UInt32, startCPU: Int32, ncpus: UInt32, flags: UInt32)
        async throws -> (params: [TypedParam], count: Int32) {
        throw VirtError.noSupport("virDomainGetCPUStats")
    }
    public func setNumaParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetNumaParameters")
    }
    public func perfEvents(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        throw VirtError.noSupport("virDomainGetPerfEvents")
    }
    public func setPerfEvents(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetPerfEvents")
    }
    public func domainHostname(_ domain: DomainRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virDomainGetHostname")
    }
    public func controlInfo(_ domain: DomainRef, flags: UInt32) async throws -> DomainControlInfo {
        throw VirtError.noSupport("virDomainGetControlInfo")
    }
    public func diskErrors(_ domain: DomainRef, maxErrors: UInt32, flags: UInt32) async throws
        -> (errors: [DomainDiskError], count: Int32) {
        throw VirtError.noSupport("virDomainGetDiskErrors")
    }
    public func sendProcessSignal(_ domain: DomainRef, pid: Int64, signal: UInt32, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSendProcessSignal")
    }
    public func launchSecurityInfo(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        throw VirtError.noSupport("virDomainGetLaunchSecurityInfo")
    }
    public func injectNMI(_ domain: DomainRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainInjectNMI", domain: .domain)
    }
}

/// Resource control defaults: NO_SUPPORT.
extension HypervisorDriver {
    public func schedulerType(_ domain: DomainRef) async throws -> (type: String, nparams: Int32) {
        throw VirtError.noSupport("virDomainGetSchedulerType", domain: .domain)
    }
    public func schedulerParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32?) async throws -> [TypedParam] {
        throw VirtError.noSupport(flags == nil ? "virDomainGetSchedulerParameters" : "virDomainGetSchedulerParametersFlags",
                                  domain: .domain)
    }
    public func setSchedulerParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32?) async throws {
        throw VirtError.noSupport(flags == nil ? "virDomainSetSchedulerParameters" : "virDomainSetSchedulerParametersFlags",
                                  domain: .domain)
    }
    public func memoryParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        throw VirtError.noSupport("virDomainGetMemoryParameters", domain: .domain)
    }
    public func setMemoryParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetMemoryParameters", domain: .domain)
    }
    public func blkioParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        throw VirtError.noSupport("virDomainGetBlkioParameters", domain: .domain)
    }
    public func setBlkioParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetBlkioParameters", domain: .domain)
    }
    public func interfaceParameters(_ domain: DomainRef, device: String, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        throw VirtError.noSupport("virDomainGetInterfaceParameters", domain: .domain)
    }
    public func setInterfaceParameters(_ domain: DomainRef, device: String, params: [TypedParam], flags: UInt32)
        async throws {
        throw VirtError.noSupport("virDomainSetInterfaceParameters", domain: .domain)
    }
}
