import NIOCore
import Synchronization
import VirtCore

/// libvirt's remote driver in Swift: a `HypervisorDriver` whose every operation is a call to a daemon
/// (virtd or libvirtd) over a unix socket or TCP.
public final class RemoteDriver: HypervisorDriver {
    public let uri: String
    private let client: RPCClient
    private let bus = EventBus<DomainEventRecord>()
    private let eventState = Mutex<EventState>(EventState())
    private let registration = KeyedAsyncLock<Int>()

    private struct EventState {
        var registered = false
        var callbackIDs: [Int32: DomainEventID] = [:]
        /// The registration `events()` started, until it ends: calls wait for it, so that whatever a
        /// caller does after subscribing happens after the daemon knows the callbacks.
        var pending: Task<Void, Never>?
    }

    /// System socket paths of virtd.
    public static let defaultSocket = "/run/swiftvirt/virtd-sock"
    public static let defaultReadOnlySocket = "/run/swiftvirt/virtd-sock-ro"

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
        case let t:
            throw VirtError(.invalidArg, domain: .remote,
                            "invalid argument: transport '\(t)' is not supported by SwiftVirt's remote driver")
        }
        let client = try await RPCClient.connect(endpoint)
        do {
            var r = try await client.call(RemoteProcedure.authList.rawValue)
            let n = try r.count(max: RPCLimits.authTypeListMax)
            var types = [Int32]()
            for _ in 0..<n { types.append(try r.int()) }
            if let t = types.first, t != 0 {
                throw VirtError(.authFailed, domain: .remote,
                                "authentication failed: unsupported authentication type \(t)")
            }
            r = try await client.call(RemoteProcedure.connectSupportsFeature.rawValue) {
                $0.int(DriverFeature.programKeepalive.rawValue)
            }
            if try r.int() != 0 { client.startKeepalive(interval: 5, count: 5) }
            let name = Self.serverName(uri)
            _ = try await client.call(RemoteProcedure.connectOpen.rawValue) {
                $0.optionalString(name)
                $0.uint(readOnly ? 1 : 0)
            }
            var u = try await client.call(RemoteProcedure.connectGetURI.rawValue)
            let serverURI = (try? u.string()) ?? name
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
        _ = try? await client.call(RemoteProcedure.connectClose.rawValue)
        await client.close()
        bus.finishAll()
    }

    private func call(_ p: RemoteProcedure, _ args: (inout XDRWriter) -> Void = { _ in }) async throws -> XDRReader {
        await awaitRegistration()
        return try await client.call(p.rawValue, args)
    }

    private func domCall(_ p: RemoteProcedure, _ d: DomainRef, flags: UInt32? = nil) async throws -> XDRReader {
        await awaitRegistration()
        return try await client.call(p.rawValue) { w in
            w.domain(d)
            if let flags { w.uint(flags) }
        }
    }

    // MARK: Host

    public func hypervisorType() async throws -> String { var r = try await call(.connectGetType); return try r.string() }
    public func hypervisorVersion() async throws -> UInt64 {
        var r = try await call(.connectGetVersion)
        return try r.uhyper()
    }
    /// The daemon's library version.
    public func libraryVersion() async throws -> UInt64 {
        var r = try await call(.connectGetLibVersion)
        return try r.uhyper()
    }
    public func hostname() async throws -> String { var r = try await call(.connectGetHostname); return try r.string() }
    public func capabilities() async throws -> String {
        var r = try await call(.connectGetCapabilities)
        return try r.string()
    }
    public func domainCapabilities(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                   flags: UInt32) async throws -> String {
        var r = try await call(.connectGetDomainCapabilities) { w in
            w.optionalString(emulator)
            w.optionalString(arch)
            w.optionalString(machine)
            w.optionalString(virtType)
            w.uint(flags)
        }
        return try r.string()
    }
    public func nodeInfo() async throws -> NodeInfo {
        var r = try await call(.nodeGetInfo)
        let model = try r.fixedCharArray(count: 32)
        let modelStr = String(decoding: model.prefix { $0 != 0 }, as: UTF8.self)
        let mem = try r.uhyper()
        return NodeInfo(model: modelStr, memory: mem, cpus: try r.uint(), mhz: try r.uint(), nodes: try r.uint(),
                        sockets: try r.uint(), cores: try r.uint(), threads: try r.uint())
    }
    public func nodeFreeMemory() async throws -> UInt64 { var r = try await call(.nodeGetFreeMemory); return try r.uhyper() }
    public func maxVcpus(type: String?) async throws -> Int32 {
        var r = try await call(.connectGetMaxVcpus) { $0.optionalString(type) }
        return try r.int()
    }
    public func isSecure() async throws -> Bool { var r = try await call(.connectIsSecure); return try r.int() != 0 }
    public func securityModel() async throws -> SecurityModel {
        var r = try await call(.nodeGetSecurityModel)
        let m = try r.charArray(max: RPCLimits.securityModelMax)
        let d = try r.charArray(max: RPCLimits.securityDOIMax)
        return SecurityModel(model: Self.cString(m), doi: Self.cString(d))
    }

    private static func cString(_ b: [UInt8]) -> String { String(decoding: b.prefix { $0 != 0 }, as: UTF8.self) }

    // MARK: Listing and lookup

    public func listAllDomains(flags: ListAllDomainsFlags) async throws -> [DomainRef] {
        var r = try await call(.connectListAllDomains) { w in
            w.int(1)
            w.uint(flags.rawValue)
        }
        let n = try r.count(max: RPCLimits.domainListMax, unit: 24)
        var out = [DomainRef]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try r.domain()) }
        return out
    }
    public func listDomainIDs() async throws -> [Int32] {
        var r = try await call(.connectListDomains) { $0.int(Int32(RPCLimits.domainListMax)) }
        let n = try r.count(max: RPCLimits.domainListMax)
        return try (0..<n).map { _ in try r.int() }
    }
    public func listDefinedDomainNames() async throws -> [String] {
        var r = try await call(.connectListDefinedDomains) { $0.int(Int32(RPCLimits.domainListMax)) }
        let n = try r.count(max: RPCLimits.domainListMax)
        return try (0..<n).map { _ in try r.string() }
    }
    public func numberOfDomains() async throws -> Int32 { var r = try await call(.connectNumOfDomains); return try r.int() }
    public func numberOfDefinedDomains() async throws -> Int32 {
        var r = try await call(.connectNumOfDefinedDomains)
        return try r.int()
    }
    public func lookupDomain(name: String) async throws -> DomainRef {
        var r = try await call(.domainLookupByName) { $0.string(name) }
        return try r.domain()
    }
    public func lookupDomain(id: Int32) async throws -> DomainRef {
        var r = try await call(.domainLookupByID) { $0.int(id) }
        return try r.domain()
    }
    public func lookupDomain(uuid: VirtUUID) async throws -> DomainRef {
        var r = try await call(.domainLookupByUUID) { $0.fixedOpaque(uuid.bytes) }
        return try r.domain()
    }

    // MARK: Definition

    public func defineXML(_ xml: String, flags: DefineFlags) async throws -> DomainRef {
        var r = try await call(.domainDefineXMLFlags) { w in
            w.string(xml)
            w.uint(flags.rawValue)
        }
        return try r.domain()
    }
    public func undefine(_ domain: DomainRef, flags: UndefineFlags) async throws {
        _ = try await domCall(.domainUndefineFlags, domain, flags: flags.rawValue)
    }
    public func createXML(_ xml: String, flags: CreateFlags) async throws -> DomainRef {
        var r = try await call(.domainCreateXML) { w in
            w.string(xml)
            w.uint(flags.rawValue)
        }
        return try r.domain()
    }

    // MARK: Lifecycle

    public func start(_ domain: DomainRef, flags: CreateFlags) async throws -> DomainRef {
        var r = try await domCall(.domainCreateWithFlags, domain, flags: flags.rawValue)
        return try r.domain()
    }
    public func destroy(_ domain: DomainRef, flags: DestroyFlags) async throws {
        _ = try await domCall(.domainDestroyFlags, domain, flags: flags.rawValue)
    }
    public func shutdown(_ domain: DomainRef, flags: ShutdownFlags) async throws {
        _ = try await domCall(.domainShutdownFlags, domain, flags: flags.rawValue)
    }
    public func reboot(_ domain: DomainRef, flags: ShutdownFlags) async throws {
        _ = try await domCall(.domainReboot, domain, flags: flags.rawValue)
    }
    public func reset(_ domain: DomainRef) async throws { _ = try await domCall(.domainReset, domain, flags: 0) }
    public func suspend(_ domain: DomainRef) async throws { _ = try await domCall(.domainSuspend, domain) }
    public func resume(_ domain: DomainRef) async throws { _ = try await domCall(.domainResume, domain) }
    public func save(_ domain: DomainRef, to path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        _ = try await call(.domainSaveFlags) { w in
            w.domain(domain)
            w.string(path)
            w.optionalString(xml)
            w.uint(flags.rawValue)
        }
    }
    public func restore(from path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        _ = try await call(.domainRestoreFlags) { w in
            w.string(path)
            w.optionalString(xml)
            w.uint(flags.rawValue)
        }
    }
    public func managedSave(_ domain: DomainRef, flags: SaveRestoreFlags) async throws {
        _ = try await domCall(.domainManagedSave, domain, flags: flags.rawValue)
    }
    public func hasManagedSaveImage(_ domain: DomainRef) async throws -> Bool {
        var r = try await domCall(.domainHasManagedSaveImage, domain, flags: 0)
        return try r.int() != 0
    }
    public func managedSaveRemove(_ domain: DomainRef) async throws {
        _ = try await domCall(.domainManagedSaveRemove, domain, flags: 0)
    }

    // MARK: Properties

    public func autostart(_ domain: DomainRef) async throws -> Bool {
        var r = try await domCall(.domainGetAutostart, domain)
        return try r.int() != 0
    }
    public func setAutostart(_ domain: DomainRef, _ enabled: Bool) async throws {
        _ = try await call(.domainSetAutostart) { w in
            w.domain(domain)
            w.int(enabled ? 1 : 0)
        }
    }
    public func info(_ domain: DomainRef) async throws -> DomainInfo {
        var r = try await domCall(.domainGetInfo, domain)
        let st = try r.int()
        let maxMem = try r.uhyper()
        let mem = try r.uhyper()
        let vcpus = try r.int()
        let cpu = try r.uhyper()
        return DomainInfo(state: DomainState(rawValue: st) ?? .noState, maxMemory: maxMem, memory: mem,
                          vcpus: UInt16(truncatingIfNeeded: vcpus), cpuTime: cpu)
    }
    public func state(_ domain: DomainRef) async throws -> DomainStatus {
        var r = try await domCall(.domainGetState, domain, flags: 0)
        let st = try r.int()
        return DomainStatus(DomainState(rawValue: st) ?? .noState, reason: try r.int())
    }
    public func openConsole(_ domain: DomainRef, device: String?, flags: UInt32) async throws -> any ByteStream {
        try await client.openStream(RemoteProcedure.domainOpenConsole.rawValue) { w in
            w.domain(domain)
            w.optionalString(device)
            w.uint(flags)
        }
    }
    /// QEMU_PROC_DOMAIN_MONITOR_COMMAND of the QEMU program (what `virsh qemu-monitor-command` sends).
    public func qemuMonitorCommand(_ domain: DomainRef, command: String, flags: UInt32) async throws -> String {
        await awaitRegistration()
        var r = try await client.call(program: RPCProgram.qemu, 1) { w in
            w.domain(domain)
            w.string(command)
            w.uint(flags)
        }
        return try r.string()
    }
    public func xmlDesc(_ domain: DomainRef, flags: XMLFlags) async throws -> String {
        var r = try await domCall(.domainGetXMLDesc, domain, flags: flags.rawValue)
        return try r.string()
    }
    public func osType(_ domain: DomainRef) async throws -> String {
        var r = try await domCall(.domainGetOSType, domain)
        return try r.string()
    }
    public func isActive(_ domain: DomainRef) async throws -> Bool {
        var r = try await domCall(.domainIsActive, domain)
        return try r.int() != 0
    }
    public func isPersistent(_ domain: DomainRef) async throws -> Bool {
        var r = try await domCall(.domainIsPersistent, domain)
        return try r.int() != 0
    }
    public func isUpdated(_ domain: DomainRef) async throws -> Bool {
        var r = try await domCall(.domainIsUpdated, domain)
        return try r.int() != 0
    }
    public func maxMemory(_ domain: DomainRef) async throws -> UInt64 {
        var r = try await domCall(.domainGetMaxMemory, domain)
        return try r.uhyper()
    }
    public func setMemory(_ domain: DomainRef, kib: UInt64, flags: ModificationImpact) async throws {
        _ = try await call(.domainSetMemoryFlags) { w in
            w.domain(domain)
            w.uhyper(kib)
            w.uint(flags.rawValue)
        }
    }
    public func vcpuCount(_ domain: DomainRef, flags: ModificationImpact) async throws -> Int32 {
        var r = try await domCall(.domainGetVcpusFlags, domain, flags: flags.rawValue)
        return try r.int()
    }
    public func setVcpus(_ domain: DomainRef, count: UInt32, flags: ModificationImpact) async throws {
        _ = try await call(.domainSetVcpusFlags) { w in
            w.domain(domain)
            w.uint(count)
            w.uint(flags.rawValue)
        }
    }
    public func securityLabels(_ domain: DomainRef) async throws -> [SecurityLabel] {
        var r = try await domCall(.domainGetSecurityLabel, domain)
        let l = try r.charArray(max: RPCLimits.securityLabelMax)
        let enforcing = try r.int() != 0
        let label = Self.cString(l)
        return label.isEmpty ? [] : [SecurityLabel(label: label, enforcing: enforcing)]
    }
    public func messages(_ domain: DomainRef, flags: UInt32) async throws -> [String] {
        var r = try await domCall(.domainGetMessages, domain, flags: flags)
        let n = try r.count(max: RPCLimits.domainMessagesMax)
        return try (0..<n).map { _ in try r.string() }
    }
    public func allDomainStats(domains: [DomainRef]?, types: StatsTypes, flags: GetAllDomainStatsFlags) async throws
        -> [DomainStatsRecord] {
        var r = try await call(.connectGetAllDomainStats) { w in
            let ds = domains ?? []
            w.uint(UInt32(ds.count))
            for d in ds { w.domain(d) }
            w.uint(types.rawValue)
            w.uint(flags.rawValue)
        }
        let n = try r.count(max: RPCLimits.domainListMax, unit: 28)
        var out = [DomainStatsRecord]()
        for _ in 0..<n {
            let d = try r.domain()
            out.append(DomainStatsRecord(domain: d, params: try r.typedParams(max: RPCLimits.allDomainStatsMax)))
        }
        return out
    }

    // MARK: Events

    public func events() -> AsyncStream<DomainEventRecord> {
        let stream = bus.subscribe()
        let first = eventState.withLock { s -> Bool in
            if s.registered { return false }
            s.registered = true
            return true
        }
        if first {
            // `events()` cannot wait, so the registration runs as a task; every call made through this
            // driver afterwards waits for it (see `call`), so no event of the caller's own actions is lost.
            let task = Task {
                try? await self.registerEvents()
                self.eventState.withLock { $0.pending = nil }
            }
            eventState.withLock { s in
                if s.registered && s.callbackIDs.isEmpty { s.pending = task }
            }
        }
        return stream
    }

    /// Waits for the event registration that `events()` started, if it is still running.
    private func awaitRegistration() async {
        if let t = eventState.withLock({ $0.pending }) { await t.value }
    }

    /// Registers the event callbacks with the daemon (idempotent per event id).
    public func registerEvents() async throws {
        try await registration.withLock(0) {
            for id in [DomainEventID.lifecycle, .reboot, .balloonChange, .deviceRemoved, .deviceAdded, .agentLifecycle] {
                let known = eventState.withLock { $0.callbackIDs.values.contains(id) }
                if known { continue }
                var r = try await client.call(RemoteProcedure.connectDomainEventCallbackRegisterAny.rawValue) { w in
                    w.int(id.rawValue)
                    w.optionalDomain(nil)
                }
                let cb = try r.int()
                eventState.withLock {
                    $0.callbackIDs[cb] = id
                    $0.registered = true
                }
            }
        }
    }

    private func handleMessage(_ p: RPCPacket) {
        guard p.header.program == RPCProgram.remote, let proc = RemoteProcedure(rawValue: p.header.procedure) else {
            return
        }
        var r = XDRReader(buffer: p.payload)
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
