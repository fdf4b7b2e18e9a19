import NIOCore
import Synchronization
import VirtCore

/// libvirt's remote driver in Swift: a `HypervisorDriver` whose every operation is a call to a daemon
/// (virtd or libvirtd) over a unix socket or TCP.
public final class RemoteDriver: HypervisorDriver {
    public let uri: String
    let client: RPCClient
    private let bus = EventBus<DomainEventRecord>()
    /// QEMU_PROC_DOMAIN_MONITOR_EVENT messages, with their callback id (RemoteDriver+QEMUMonitorEvents.swift).
    let qemuMonitorBus = EventBus<(Int32, QEMUMonitorEventRecord)>()
    private let eventState = Mutex<EventState>(EventState())
    /// Secret events (RemoteDriver+Secrets.swift) and whether the daemon has been asked for them.
    let secretBus = EventBus<SecretEventRecord>()
    let secretEventsRegistered = Mutex(false)
    /// Network events (RemoteDriver+Networks.swift) and whether the daemon has been asked for them.
    let networkBus = EventBus<NetworkEventRecord>()
    let networkEventsRegistered = Mutex(false)
    /// Storage pool events (RemoteDriver+Storage.swift) and whether the daemon has been asked for them.
    let storageBus = EventBus<StoragePoolEventRecord>()
    let storageEventsRegistered = Mutex(false)
    /// Node device events (NodeDeviceLifecycleWire.swift) and whether the daemon has been asked for them.
    let nodeDeviceBus = EventBus<NodeDeviceEventRecord>()
    let nodeDeviceEventsRegistered = Mutex(false)
    private let registration = KeyedAsyncLock<Int>()

    private struct EventState {
        var registered = false
        var callbackIDs: [Int32: DomainEventID] = [:]
        /// The registration `events()` started, until it ends: calls wait for it, so that whatever a
        /// caller does after subscribing happens after the daemon knows the callbacks.
        var pending: Task<Void, Never>?
    }

    /// The system daemon's sockets, as libvirt's client computes them (virtd listens there without `--root`).
    public static let defaultSocket = "/var/run/libvirt/libvirt-sock"
    public static let defaultReadOnlySocket = "/var/run/libvirt/libvirt-sock-ro"

    private init(uri: String, client: RPCClient) {
        self.uri = uri
        self.client = client
    }

    /// Connects for a remote URI (`driver+unix:///path?socket=…`, `driver+tcp://host:port/path`) and
    /// performs libvirt's handshake: AUTH_LIST, keepalive feature, CONNECT_OPEN.
    public static func connect(_ uri: ConnectionURI, readOnly: Bool) async throws -> RemoteDriver {
        let endpoint: RPCClient.Endpoint
        switch uri.transport ?? (uri.host == nil ? "unix" : "tls") {
        case "unix":
            endpoint = .unix(uri.queryValue("socket") ?? (readOnly ? defaultReadOnlySocket : defaultSocket))
        case "tcp":
            endpoint = .tcp(host: uri.host ?? "localhost", port: uri.port ?? 16509)
        case "tls":
            endpoint = .tls(try TLSClientSettings(uri: uri))
        case let t:
            throw VirtError(.invalidArg, domain: .remote,
                            "invalid argument: transport '\(t)' is not supported by SwiftVirt's remote driver")
        }
        let client = try await RPCClient.connect(endpoint)
        do {
            let types = try await client.call(RemoteCalls.authList, XDRVoid()).items
            if let t = types.first, t != 0 {
                throw VirtError(.authFailed, domain: .remote,
                                "authentication failed: unsupported authentication type \(t)")
            }
            if try await client.call(RemoteCalls.connectSupportsFeature, DriverFeature.programKeepalive.rawValue) != 0 {
                client.startKeepalive(interval: 5, count: 5)
            }
            let name = Self.serverName(uri)
            _ = try await client.call(RemoteCalls.connectOpen, XDRTuple2(name, UInt32(readOnly ? 1 : 0)))
            let serverURI = (try? await client.call(RemoteCalls.connectGetURI, XDRVoid())) ?? name
            let driver = RemoteDriver(uri: serverURI, client: client)
            client.onMessage { [weak driver] p in driver?.handleMessage(p) }
            return driver
        } catch {
            await client.close()
            throw error
        }
    }

    /// The URI the daemon is asked to open: the scheme without transport, the path, no host or socket.
    static func serverName(_ uri: ConnectionURI) -> String {
        var s = uri.driver + "://" + uri.path
        let extra = uri.query.filter { !["socket", "no_verify", "no_tty", "pkipath", "keyfile", "sshauth",
                                         "name", "command", "netcat", "mode", "proxy", "auth"].contains($0.key) }
        if !extra.isEmpty { s += "?" + extra.map { "\($0.key)=\($0.value)" }.joined(separator: "&") }
        if let name = uri.queryValue("name") { return name }
        return s
    }

    public func close() async {
        _ = try? await client.call(RemoteCalls.connectClose, XDRVoid())
        await client.close()
        bus.finishAll()
        secretBus.finishAll()
        networkBus.finishAll()
        storageBus.finishAll()
        nodeDeviceBus.finishAll()
    }

    /// Calls `c` after any pending event registration, so no event of the caller's own actions is lost.
    func call<A, R>(_ c: RemoteCall<A, R>, _ args: A) async throws -> R {
        await awaitRegistration()
        return try await client.call(c, args)
    }

    func call<R>(_ c: RemoteCall<XDRVoid, R>) async throws -> R {
        try await call(c, XDRVoid())
    }

    /// Opens a stream with a call whose reply is void (volume upload and download).
    func openStream<A>(_ c: RemoteCall<A, XDRVoid>, _ args: A) async throws -> RemoteStream {
        try await client.openStream(program: c.program.number, c.number) { w in args.encode(xdr: &w) }
    }

    /// Opens a stream with a call that returns a value (the screenshot's MIME type).
    func openStreamWithReply<A, R>(_ c: RemoteCall<A, R>, _ args: A) async throws -> (reply: R, stream: RemoteStream) {
        await awaitRegistration()
        let (reply, stream) = try await client.openStreamWithReply(program: c.program.number, c.number) { w in
            args.encode(xdr: &w)
        }
        var r = reply
        return (try R(xdr: &r), stream)
    }

    // MARK: Host

    public func hypervisorType() async throws -> String { try await call(RemoteCalls.connectGetType) }
    public func hypervisorVersion() async throws -> UInt64 { try await call(RemoteCalls.connectGetVersion) }
    /// The daemon's library version.
    public func libraryVersion() async throws -> UInt64 { try await call(RemoteCalls.connectGetLibVersion) }
    public func hostname() async throws -> String { try await call(RemoteCalls.connectGetHostname) }
    public func capabilities() async throws -> String { try await call(RemoteCalls.connectGetCapabilities) }
    public func domainCapabilities(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                   flags: UInt32) async throws -> String {
        try await call(RemoteCalls.connectGetDomainCapabilities, XDRTuple5(emulator, arch, machine, virtType, flags))
    }
    public func nodeInfo() async throws -> NodeInfo { try await call(RemoteCalls.nodeGetInfo) }
    public func nodeFreeMemory() async throws -> UInt64 { try await call(RemoteCalls.nodeGetFreeMemory) }

    // MARK: Host statistics
    public func nodeCPUStats(cpu: Int32, nparams: Int32, flags: UInt32) async throws -> NodeStatsResult {
        try NodeAPIChecks.cpuStats(cpu: cpu, nparams: nparams)
        let r = try await call(RemoteCalls.nodeGetCPUStats, XDRTuple3(cpu, nparams, flags))
        if nparams != 0 && r.stats.count > Int(nparams) {
            throw VirtError(.rpc, domain: .remote, "remoteNodeGetCPUStats: returned number of stats exceeds limit")
        }
        return r
    }
    public func nodeMemoryStats(cell: Int32, nparams: Int32, flags: UInt32) async throws -> NodeStatsResult {
        try NodeAPIChecks.memoryStats(cell: cell, nparams: nparams)
        let r = try await call(RemoteCalls.nodeGetMemoryStats, XDRTuple3(nparams, cell, flags))
        if nparams != 0 && r.stats.count > Int(nparams) {
            throw VirtError(.rpc, domain: .remote, "remoteNodeGetMemoryStats: returned number of stats exceeds limit")
        }
        return r
    }
    public func nodeCellsFreeMemory(startCell: Int32, maxCells: Int32) async throws -> [UInt64] {
        try NodeAPIChecks.cellsFreeMemory(startCell: startCell, maxCells: maxCells)
        return try await call(RemoteCalls.nodeGetCellsFreeMemory, XDRTuple2(startCell, maxCells)).items
    }
    public func nodeCPUMap(flags: UInt32) async throws -> NodeCPUMap {
        try await call(RemoteCalls.nodeGetCPUMap, XDRTuple3(Int32(1), Int32(1), flags))
    }
    public func sysinfo(flags: UInt32) async throws -> String {
        try await call(RemoteCalls.connectGetSysinfo, flags)
    }
    public func nodeMemoryParameters(nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try NodeAPIChecks.memoryParameters(nparams: nparams)
        // VIR_TYPED_PARAM_STRING_OKAY, as libvirt's public API adds it for a daemon that supports it.
        let r = try await call(RemoteCalls.nodeGetMemoryParameters, XDRTuple2(nparams, flags | 4))
        return (r.values.0.params, r.values.1)
    }
    public func cpuModelNames(arch: String, flags: UInt32) async throws -> [String] {
        try await call(RemoteCalls.connectGetCPUModelNames, XDRTuple3(arch, Int32(1), flags)).values.0.items
    }
    public func maxVcpus(type: String?) async throws -> Int32 { try await call(RemoteCalls.connectGetMaxVcpus, type) }
    public func compareCPU(xml: String, flags: UInt32) async throws -> Int32 {
        try await call(RemoteCalls.connectCompareCPU, XDRTuple2(xml, flags))
    }
    public func baselineCPU(xmls: [String], flags: UInt32) async throws -> String {
        try await call(RemoteCalls.connectBaselineCPU, XDRTuple2(XDRList(xmls), flags))
    }
    public func compareHypervisorCPU(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                     xml: String, flags: UInt32) async throws -> Int32 {
        try await call(RemoteCalls.connectCompareHypervisorCPU,
                       XDRTuple2(XDRTuple4(emulator, arch, machine, virtType), XDRTuple2(xml, flags)))
    }
    public func baselineHypervisorCPU(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                      xmls: [String], flags: UInt32) async throws -> String {
        try await call(RemoteCalls.connectBaselineHypervisorCPU,
                       XDRTuple2(XDRTuple4(emulator, arch, machine, virtType), XDRTuple2(XDRList(xmls), flags)))
    }
    public func isSecure() async throws -> Bool { try await call(RemoteCalls.connectIsSecure) != 0 }
    public func securityModel() async throws -> SecurityModel { try await call(RemoteCalls.nodeGetSecurityModel) }

    // MARK: Listing and lookup

    public func listAllDomains(flags: ListAllDomainsFlags) async throws -> [DomainRef] {
        try await call(RemoteCalls.connectListAllDomains, XDRTuple2(1, flags.rawValue)).items
    }
    public func listDomainIDs() async throws -> [Int32] {
        try await call(RemoteCalls.connectListDomains, Int32(RPCLimits.domainListMax)).items
    }
    public func listDefinedDomainNames() async throws -> [String] {
        try await call(RemoteCalls.connectListDefinedDomains, Int32(RPCLimits.domainListMax)).items
    }
    public func numberOfDomains() async throws -> Int32 { try await call(RemoteCalls.connectNumOfDomains) }
    public func numberOfDefinedDomains() async throws -> Int32 {
        try await call(RemoteCalls.connectNumOfDefinedDomains)
    }
    public func lookupDomain(name: String) async throws -> DomainRef {
        try await call(RemoteCalls.domainLookupByName, name)
    }
    public func lookupDomain(id: Int32) async throws -> DomainRef { try await call(RemoteCalls.domainLookupByID, id) }
    public func lookupDomain(uuid: VirtUUID) async throws -> DomainRef {
        try await call(RemoteCalls.domainLookupByUUID, uuid)
    }

    // MARK: Definition

    public func defineXML(_ xml: String, flags: DefineFlags) async throws -> DomainRef {
        try await call(RemoteCalls.domainDefineXMLFlags, XDRTuple2(xml, flags.rawValue))
    }
    public func undefine(_ domain: DomainRef, flags: UndefineFlags) async throws {
        _ = try await call(RemoteCalls.domainUndefineFlags, XDRTuple2(domain, flags.rawValue))
    }
    public func createXML(_ xml: String, flags: CreateFlags) async throws -> DomainRef {
        try await call(RemoteCalls.domainCreateXML, XDRTuple2(xml, flags.rawValue))
    }

    // MARK: Lifecycle

    public func start(_ domain: DomainRef, flags: CreateFlags) async throws -> DomainRef {
        try await call(RemoteCalls.domainCreateWithFlags, XDRTuple2(domain, flags.rawValue))
    }
    public func destroy(_ domain: DomainRef, flags: DestroyFlags) async throws {
        _ = try await call(RemoteCalls.domainDestroyFlags, XDRTuple2(domain, flags.rawValue))
    }
    public func shutdown(_ domain: DomainRef, flags: ShutdownFlags) async throws {
        _ = try await call(RemoteCalls.domainShutdownFlags, XDRTuple2(domain, flags.rawValue))
    }
    public func reboot(_ domain: DomainRef, flags: ShutdownFlags) async throws {
        _ = try await call(RemoteCalls.domainReboot, XDRTuple2(domain, flags.rawValue))
    }
    public func reset(_ domain: DomainRef) async throws {
        _ = try await call(RemoteCalls.domainReset, XDRTuple2(domain, UInt32(0)))
    }
    public func suspend(_ domain: DomainRef) async throws { _ = try await call(RemoteCalls.domainSuspend, domain) }
    public func resume(_ domain: DomainRef) async throws { _ = try await call(RemoteCalls.domainResume, domain) }
    public func save(_ domain: DomainRef, to path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        _ = try await call(RemoteCalls.domainSaveFlags, XDRTuple4(domain, path, xml, flags.rawValue))
    }
    public func restore(from path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        _ = try await call(RemoteCalls.domainRestoreFlags, XDRTuple3(path, xml, flags.rawValue))
    }
    public func managedSave(_ domain: DomainRef, flags: SaveRestoreFlags) async throws {
        _ = try await call(RemoteCalls.domainManagedSave, XDRTuple2(domain, flags.rawValue))
    }
    public func hasManagedSaveImage(_ domain: DomainRef) async throws -> Bool {
        try await call(RemoteCalls.domainHasManagedSaveImage, XDRTuple2(domain, UInt32(0))) != 0
    }
    public func managedSaveRemove(_ domain: DomainRef) async throws {
        _ = try await call(RemoteCalls.domainManagedSaveRemove, XDRTuple2(domain, UInt32(0)))
    }

    // MARK: Properties

    public func autostart(_ domain: DomainRef) async throws -> Bool {
        try await call(RemoteCalls.domainGetAutostart, domain) != 0
    }
    public func setAutostart(_ domain: DomainRef, _ enabled: Bool) async throws {
        _ = try await call(RemoteCalls.domainSetAutostart, XDRTuple2(domain, Int32(enabled ? 1 : 0)))
    }
    public func info(_ domain: DomainRef) async throws -> DomainInfo { try await call(RemoteCalls.domainGetInfo, domain) }
    public func state(_ domain: DomainRef) async throws -> DomainStatus {
        try await call(RemoteCalls.domainGetState, XDRTuple2(domain, UInt32(0)))
    }
    public func openConsole(_ domain: DomainRef, device: String?, flags: UInt32) async throws -> any ByteStream {
        let c = RemoteCalls.domainOpenConsole
        return try await client.openStream(program: c.program.number, c.number) { w in
            XDRTuple3(domain, device, flags).encode(xdr: &w)
        }
    }
    /// QEMU_PROC_DOMAIN_MONITOR_COMMAND of the QEMU program (what `virsh qemu-monitor-command` sends).
    public func qemuMonitorCommand(_ domain: DomainRef, command: String, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.qemuDomainMonitorCommand, XDRTuple3(domain, command, flags))
    }
    /// QEMU_PROC_DOMAIN_MONITOR_COMMAND_WITH_FILES (`virsh qemu-monitor-command --pass-fds`): libvirt's client
    /// asks whether descriptors can pass first.
    public func qemuMonitorCommand(_ domain: DomainRef, command: String, fds: [Int32], flags: UInt32) async throws
        -> String {
        await awaitRegistration()
        guard try await call(RemoteCalls.connectSupportsFeature, 8) != 0 else {
            throw VirtError(.argumentUnsupported, domain: .none,
                            "argument unsupported: fd passing is not supported by this connection",
                            str1: "fd passing is not supported by this connection")
        }
        return try await client.callSendingFDs(RemoteCalls.qemuDomainMonitorCommandWithFiles,
                                               XDRTuple3(domain, command, flags), fds: fds)
    }
    /// QEMU_PROC_DOMAIN_ATTACH (`virsh qemu-attach`).
    public func qemuAttach(pid: UInt32, flags: UInt32) async throws -> DomainRef {
        try await call(RemoteCalls.qemuDomainAttach, XDRTuple2(pid, flags))
    }
    /// LXC_PROC_DOMAIN_OPEN_NAMESPACE of the LXC program; the descriptors come after the reply.
    public func lxcOpenNamespace(_ domain: DomainRef, flags: UInt32) async throws -> [Int32] {
        await awaitRegistration()
        let (_, fds) = try await client.callReceivingFDs(RemoteCalls.lxcDomainOpenNamespace, XDRTuple2(domain, flags))
        return fds
    }
    public func xmlDesc(_ domain: DomainRef, flags: XMLFlags) async throws -> String {
        try await call(RemoteCalls.domainGetXMLDesc, XDRTuple2(domain, flags.rawValue))
    }
    public func osType(_ domain: DomainRef) async throws -> String { try await call(RemoteCalls.domainGetOSType, domain) }
    public func isActive(_ domain: DomainRef) async throws -> Bool {
        try await call(RemoteCalls.domainIsActive, domain) != 0
    }
    public func isPersistent(_ domain: DomainRef) async throws -> Bool {
        try await call(RemoteCalls.domainIsPersistent, domain) != 0
    }
    public func isUpdated(_ domain: DomainRef) async throws -> Bool {
        try await call(RemoteCalls.domainIsUpdated, domain) != 0
    }
    public func maxMemory(_ domain: DomainRef) async throws -> UInt64 {
        try await call(RemoteCalls.domainGetMaxMemory, domain)
    }
    public func setMemory(_ domain: DomainRef, kib: UInt64, flags: ModificationImpact) async throws {
        _ = try await call(RemoteCalls.domainSetMemoryFlags, XDRTuple3(domain, kib, flags.rawValue))
    }
    public func vcpuCount(_ domain: DomainRef, flags: ModificationImpact) async throws -> Int32 {
        try await call(RemoteCalls.domainGetVcpusFlags, XDRTuple2(domain, flags.rawValue))
    }
    public func setVcpus(_ domain: DomainRef, count: UInt32, flags: ModificationImpact) async throws {
        _ = try await call(RemoteCalls.domainSetVcpusFlags, XDRTuple3(domain, count, flags.rawValue))
    }
    public func securityLabels(_ domain: DomainRef) async throws -> [SecurityLabel] {
        let l = try await call(RemoteCalls.domainGetSecurityLabel, domain)
        return l.label.isEmpty ? [] : [l]
    }
    public func messages(_ domain: DomainRef, flags: UInt32) async throws -> [String] {
        try await call(RemoteCalls.domainGetMessages, XDRTuple2(domain, flags)).items
    }
    public func allDomainStats(domains: [DomainRef]?, types: StatsTypes, flags: GetAllDomainStatsFlags) async throws
        -> [DomainStatsRecord] {
        try await call(RemoteCalls.connectGetAllDomainStats,
                       XDRTuple3(XDRList(domains ?? []), types.rawValue, flags.rawValue)).items
    }

    // MARK: Save images

    public func saveImageXML(path: String, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.domainSaveImageGetXMLDesc, XDRTuple2(path, flags))
    }
    public func saveImageDefineXML(path: String, xml: String, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSaveImageDefineXML, XDRTuple3(path, xml, flags))
    }
    public func managedSaveXML(_ domain: DomainRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.domainManagedSaveGetXMLDesc, XDRTuple2(domain, flags))
    }
    public func managedSaveDefineXML(_ domain: DomainRef, xml: String?, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainManagedSaveDefineXML, XDRTuple3(domain, xml, flags))
    }

    // MARK: Jobs

    public func jobStats(_ domain: DomainRef, completed: Bool, keepCompleted: Bool) async throws
        -> (type: Int32, params: [TypedParam]) {
        let flags: UInt32 = (completed ? 1 : 0) | (keepCompleted ? 2 : 0)
        let r = try await call(RemoteCalls.domainGetJobStats, XDRTuple2(domain, flags))
        return (r.values.0, r.values.1.params)
    }
    public func abortJob(_ domain: DomainRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainAbortJobFlags, XDRTuple2(domain, flags))
    }

    // MARK: Events

    public func events() -> AsyncStream<DomainEventRecord> {
        let stream = bus.subscribe()
        // `events()` cannot wait, so the registration runs as a task; every call made through this driver
        // afterwards waits for it (see `call`), so no event of the caller's own actions is lost. The task is
        // recorded in the same step that marks the registration begun: recorded later, a call could start while
        // only some event ids were registered (a block job's end was lost that way under load).
        eventState.withLock { s in
            if s.registered { return }
            s.registered = true
            s.pending = Task {
                try? await self.registerEvents()
                self.eventState.withLock { $0.pending = nil }
            }
        }
        return stream
    }

    /// Waits for the event registration that `events()` started, if it is still running.
    func awaitRegistration() async {
        if let t = eventState.withLock({ $0.pending }) { await t.value }
    }

    /// Registers the event callbacks with the daemon (idempotent per event id).
    public func registerEvents() async throws {
        try await registration.withLock(0) {
            for id in [DomainEventID.lifecycle, .reboot, .balloonChange, .deviceRemoved, .deviceAdded, .agentLifecycle,
                       .deviceRemovalFailed, .trayChange,
                       .jobCompleted, .migrationIteration, .metadataChange, .tunable, .memoryDeviceSizeChange,
                       .blockThreshold, .ioError, .ioErrorReason, .rtcChange, .watchdog, .blockJob, .blockJob2] {
                let known = eventState.withLock { $0.callbackIDs.values.contains(id) }
                if known { continue }
                let cb = try await client.call(RemoteCalls.connectDomainEventCallbackRegisterAny,
                                               XDRTuple2(id.rawValue, DomainRef?.none))
                eventState.withLock {
                    $0.callbackIDs[cb] = id
                    $0.registered = true
                }
            }
        }
    }

    private func handleMessage(_ p: RPCPacket) {
        if p.header.program == RPCProgram.qemu {
            handleQEMUMessage(p)
            return
        }
        guard p.header.program == RPCProgram.remote else { return }
        let proc = RemoteProcedure(rawValue: p.header.procedure)
        var r = XDRReader(buffer: p.payload)
        if let (_, ev) = try? SecretEventEncoder.decode(proc, &r) {
            secretBus.emit(ev)
            return
        }
        r = XDRReader(buffer: p.payload)
        if let (_, ev) = try? NetworkEventEncoder.decode(proc, &r) {
            networkBus.emit(ev)
            return
        }
        r = XDRReader(buffer: p.payload)
        if let (_, ev) = try? StoragePoolEventEncoder.decode(proc, &r) {
            storageBus.emit(ev)
            return
        }
        r = XDRReader(buffer: p.payload)
        if let ev = try? NodeDeviceEventEncoder.decode(proc, &r) {
            nodeDeviceBus.emit(ev)
            return
        }
        r = XDRReader(buffer: p.payload)
        do {
            let record: DomainEventRecord
            switch proc {
            case .domainEventCallbackLifecycle:
                _ = try r.int()
                let d = try r.domain()
                let type = try r.int()
                let detail = try r.int()
                guard let t = DomainEventType(rawValue: type) else { return }
                record = DomainEventRecord(domain: d, kind: .lifecycle(LifecycleEvent(t, detail: detail)))
            case .domainEventCallbackReboot:
                _ = try r.int()
                record = DomainEventRecord(domain: try r.domain(), kind: .reboot)
            case .domainEventCallbackBalloonChange:
                _ = try r.int()
                let d = try r.domain()
                record = DomainEventRecord(domain: d, kind: .balloonChange(actualKiB: try r.uhyper()))
            case .domainEventCallbackDeviceRemoved:
                _ = try r.int()
                let d = try r.domain()
                record = DomainEventRecord(domain: d, kind: .deviceRemoved(alias: try r.string()))
            case .domainEventCallbackDeviceAdded:
                _ = try r.int()
                let d = try r.domain()
                record = DomainEventRecord(domain: d, kind: .deviceAdded(alias: try r.string()))
            case .domainEventCallbackDeviceRemovalFailed:
                _ = try r.int()
                let d = try r.domain()
                record = DomainEventRecord(domain: d, kind: .deviceRemovalFailed(alias: try r.string()))
            case .domainEventCallbackTrayChange:
                _ = try r.int()
                let d = try r.domain()
                let alias = try r.string()
                record = DomainEventRecord(domain: d, kind: .trayChange(alias: alias, reason: try r.int()))
            case .domainEventCallbackJobCompleted:
                _ = try r.int()
                let d = try r.domain()
                record = DomainEventRecord(domain: d, kind: .jobCompleted(params: try r.typedParams(max: 64)))
            case .domainEventMemoryDeviceSizeChange:
                _ = try r.int()
                let d = try r.domain()
                let alias = try r.string()
                record = DomainEventRecord(domain: d, kind: .memoryDeviceSizeChange(alias: alias, sizeKiB: try r.uhyper()))
            case .domainEventCallbackPMWakeup, .domainEventCallbackPMSuspend, .domainEventCallbackPMSuspendDisk:
                _ = try r.int()
                let reason = try r.int()
                let d = try r.domain()
                let kind: DomainEventRecord.Kind = proc == .domainEventCallbackPMWakeup ? .pmWakeup(reason: reason)
                    : proc == .domainEventCallbackPMSuspend ? .pmSuspend(reason: reason) : .pmSuspendDisk(reason: reason)
                record = DomainEventRecord(domain: d, kind: kind)
            case .domainEventCallbackIoError:
                _ = try r.int()
                let d = try r.domain()
                let path = try r.string()
                let alias = try r.string()
                record = DomainEventRecord(domain: d, kind: .ioError(srcPath: path, devAlias: alias, action: try r.int()))
            case .domainEventCallbackIoErrorReason:
                _ = try r.int()
                let d = try r.domain()
                let path = try r.string()
                let alias = try r.string()
                let action = try r.int()
                record = DomainEventRecord(domain: d, kind: .ioErrorReason(srcPath: path, devAlias: alias, action: action,
                                                                           reason: try r.string()))
            case .domainEventCallbackRTCChange:
                _ = try r.int()
                let d = try r.domain()
                record = DomainEventRecord(domain: d, kind: .rtcChange(utcOffset: try r.hyper()))
            case .domainEventCallbackWatchdog:
                _ = try r.int()
                let d = try r.domain()
                record = DomainEventRecord(domain: d, kind: .watchdog(action: try r.int()))
            case .domainEventBlockThreshold:
                _ = try r.int()
                let d = try r.domain()
                let dev = try r.string()
                let path = try String?(xdr: &r)
                let threshold = try r.uhyper()
                record = DomainEventRecord(domain: d, kind: .blockThreshold(dev: dev, path: path, threshold: threshold,
                                                                            excess: try r.uhyper()))
            case .domainEventCallbackBlockJob, .domainEventBlockJob2:
                _ = try r.int()
                let d = try r.domain()
                let path = try r.string()
                let type = try r.int()
                let status = try r.int()
                record = DomainEventRecord(domain: d, kind: proc == .domainEventBlockJob2
                    ? .blockJob2(disk: path, type: type, status: status)
                    : .blockJob(path: path, type: type, status: status))
            case .domainEventCallbackTunable:
                _ = try r.int()
                let d = try r.domain()
                record = DomainEventRecord(domain: d, kind: .tunable(params: try r.typedParams(max: 2048)))
            case .domainEventCallbackMetadataChange:
                _ = try r.int()
                let d = try r.domain()
                let type = try r.int()
                record = DomainEventRecord(domain: d, kind: .metadataChange(type: type, namespaceURI: try String?(xdr: &r)))
            case .domainEventCallbackMigrationIteration:
                _ = try r.int()
                let d = try r.domain()
                record = DomainEventRecord(domain: d, kind: .migrationIteration(iteration: try r.int()))
            case .domainEventCallbackAgentLifecycle:
                _ = try r.int()
                let d = try r.domain()
                let state = try r.int()
                record = DomainEventRecord(domain: d, kind: .agentLifecycle(state: state, reason: try r.int()))
            default:
                return
            }
            bus.emit(record)
        } catch {
            return
        }
    }
}

// MARK: Migration
extension RemoteDriver {
    public func isAlive() async -> Bool { !client.isClosed }

    public func supportsFeature(_ feature: Int32) async -> Bool {
        (try? await call(RemoteCalls.connectSupportsFeature, feature)) == 1
    }

    public func migrateBegin3(_ domain: DomainRef, params: [TypedParam], flags: MigrateFlags) async throws
        -> (xml: String, cookie: [UInt8]) {
        let r = try await call(RemoteCalls.domainMigrateBegin3Params,
                               XDRTuple3(domain, TypedParamList(params), flags.rawValue))
        return (r.values.1, r.values.0.bytes)
    }

    public func migratePrepare3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags) async throws
        -> (uri: String?, cookie: [UInt8]) {
        let r = try await call(RemoteCalls.domainMigratePrepare3Params,
                               XDRTuple3(TypedParamList(params), XDROpaque(cookie), flags.rawValue))
        return (r.values.1, r.values.0.bytes)
    }

    public func migratePrepareTunnel3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags) async throws
        -> (cookie: [UInt8], stream: any ByteStream) {
        let c = RemoteCalls.domainMigratePrepareTunnel3Params
        var (reply, stream) = try await client.openStreamWithReply(program: c.program.number, c.number) { w in
            XDRTuple3(TypedParamList<MigrateParamsLimit>(params), XDROpaque<MigrateCookieLimit>(cookie),
                      flags.rawValue).encode(xdr: &w)
        }
        let out = try XDROpaque<MigrateCookieLimit>(xdr: &reply)
        return (out.bytes, stream)
    }

    public func migratePerform3(_ domain: DomainRef, destinationURI: String?, params: [TypedParam],
                                cookie: [UInt8], flags: MigrateFlags) async throws -> [UInt8] {
        try await call(RemoteCalls.domainMigratePerform3Params,
                       XDRTuple5(domain, destinationURI, TypedParamList(params), XDROpaque(cookie),
                                 flags.rawValue)).bytes
    }

    public func migrateFinish3(params: [TypedParam], cookie: [UInt8], flags: MigrateFlags, cancelled: Bool)
        async throws -> (domain: DomainRef, cookie: [UInt8]) {
        let r = try await call(RemoteCalls.domainMigrateFinish3Params,
                               XDRTuple4(TypedParamList(params), XDROpaque(cookie), flags.rawValue,
                                         Int32(cancelled ? 1 : 0)))
        return (r.values.0, r.values.1.bytes)
    }

    public func migrateConfirm3(_ domain: DomainRef, params: [TypedParam], cookie: [UInt8], flags: MigrateFlags,
                                cancelled: Bool) async throws {
        _ = try await call(RemoteCalls.domainMigrateConfirm3Params,
                           XDRTuple5(domain, TypedParamList(params), XDROpaque(cookie), flags.rawValue,
                                     Int32(cancelled ? 1 : 0)))
    }

    public func migrateStartPostCopy(_ domain: DomainRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainMigrateStartPostCopy, XDRTuple2(domain, flags))
    }

    public func migrateSetMaxDowntime(_ domain: DomainRef, milliseconds: UInt64, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainMigrateSetMaxDowntime, XDRTuple3(domain, milliseconds, flags))
    }

    public func migrateMaxDowntime(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        try await call(RemoteCalls.domainMigrateGetMaxDowntime, XDRTuple2(domain, flags))
    }

    public func migrateSetMaxSpeed(_ domain: DomainRef, mibPerSecond: UInt64, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainMigrateSetMaxSpeed, XDRTuple3(domain, mibPerSecond, flags))
    }

    public func migrateMaxSpeed(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        try await call(RemoteCalls.domainMigrateGetMaxSpeed, XDRTuple2(domain, flags))
    }
}

extension RemoteDriver {
    /// Runs `register` (asking the daemon for one kind of object events) once per connection; a registration
    /// that failed may be tried again.
    func registerOnce(_ flag: borrowing Mutex<Bool>, _ register: () async throws -> Void) async throws {
        let first = flag.withLock { r -> Bool in
            if r { return false }
            r = true
            return true
        }
        guard first else { return }
        do {
            try await register()
        } catch {
            flag.withLock { $0 = false }
            throw error
        }
    }
}
