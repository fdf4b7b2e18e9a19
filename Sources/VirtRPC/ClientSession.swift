import NIOCore
import Synchronization
import VirtCore

/// The server's state for one connected client: its driver connection, its event registrations, its
/// keepalive bookkeeping.
final class ClientSession: Sendable {
    struct Callback: Sendable {
        var eventID: Int32
        var domain: VirtUUID?
    }

    /// A registration for events of objects known by name (node devices).
    struct NamedCallback: Sendable {
        var eventID: Int32
        var name: String?
    }

    struct State: Sendable {
        var driver: (any HypervisorDriver)?
        /// The secret driver of this connection, if it has one.
        var secrets: (any SecretDriver)?
        var secretCallbacks: [Int32: Callback] = [:]
        var secretEventTask: Task<Void, Never>?
        /// Who the client is (SO_PEERCRED on unix sockets).
        var identity = ClientIdentity()
        /// The connection's driver as access denials name it ("QEMU", "Test").
        var aclDriverName = ""
        /// The network driver of this connection, if it has one.
        var networks: (any NetworkDriver)?
        var networkCallbacks: [Int32: Callback] = [:]
        var networkEventTask: Task<Void, Never>?
        /// The storage driver of this connection, if it has one (Procedures/StorageProcedures.swift).
        var storage: (any StorageDriver)?
        var storageCallbacks: [Int32: Callback] = [:]
        var storageEventTask: Task<Void, Never>?
        /// The node device and interface drivers of this connection, if it has them
        /// (Procedures/NodeDeviceProcedures.swift).
        var nodeDevices: (any NodeDeviceDriver)?
        var nodeDeviceCallbacks: [Int32: NamedCallback] = [:]
        var nodeDeviceEventTask: Task<Void, Never>?
        var interfaces: (any InterfaceDriver)?
        var opening = false
        var closed = false
        var readOnlyOpen = false
        var nextCallbackID: Int32 = 0
        /// virConnectDomainQemuMonitorEventRegister callbacks: each one's forwarding task.
        var qemuMonitorCallbacks: [Int32: Task<Void, Never>] = [:]
        var callbacks: [Int32: Callback] = [:]
        var legacyEventIDs: Set<Int32> = []
        var legacyLifecycle = false
        var eventTask: Task<Void, Never>?
        var keepaliveEnabled = false
        var closeCallbackRegistered = false
        /// Domains this client prepared for an incoming migration and has not finished: destroyed if the
        /// client leaves first (libvirt's autodestroy of Prepare).
        var incomingMigrations: Set<String> = []
        /// Descriptors a call's reply carries (REPLY_WITH_FDS), by the call's serial, until the reply is sent.
        var replyFDs: [UInt32: [Int32]] = [:]
        /// The client asked CONNECT_SUPPORTS_FEATURE(FD_PASSING): its calls may carry descriptors.
        var fdPassingAsked = false
        /// The client associated descriptors with a domain: the driver lets them go when it leaves.
        var associatedFDs = false
    }

    let channel: any Channel
    let readOnly: Bool
    /// The daemon's access drivers (events are filtered by them).
    let access: AccessManager?
    let state = Mutex(State())
    /// Open streams by the serial of the call that opened them; `started` is false until the reply is queued.
    private let streams = Mutex<[UInt32: ServerStream]>([:])

    /// A number for this client in the daemon's log, counted from 1 per process.
    let id: UInt64
    private static let ids = Atomic<UInt64>(0)

    /// Descriptors that came with this client's calls (CALL_WITH_FDS).
    let receivedFDs = ReceivedDescriptors()

    init(channel: any Channel, readOnly: Bool, access: AccessManager? = nil) {
        self.channel = channel
        self.readOnly = readOnly
        self.access = access
        id = Self.ids.wrappingAdd(1, ordering: .relaxed).newValue
    }

    var driver: (any HypervisorDriver)? { state.withLock { $0.driver } }

    /// True when the client came through the read-only socket or opened with VIR_CONNECT_RO.
    var isReadOnly: Bool { readOnly || state.withLock { $0.readOnlyOpen } }

    /// Sends a packet (any thread).
    func send(_ buffer: ByteBuffer) {
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Starts forwarding driver events to this client, once.
    func ensureEventPump(_ driver: any HypervisorDriver) {
        let stream: AsyncStream<DomainEventRecord>? = state.withLock { s in
            if s.eventTask != nil { return nil }
            return driver.events()
        }
        guard let stream else { return }
        let task = Task { [weak self] in
            for await ev in stream {
                guard let self else { return }
                self.deliver(ev)
            }
        }
        let cancelNow = state.withLock { s -> Bool in
            if s.eventTask != nil || s.closed { return true }
            s.eventTask = task
            return false
        }
        if cancelNow { task.cancel() }
    }

    private func deliver(_ ev: DomainEventRecord) {
        let (cbs, legacy, legacyLife) = state.withLock { s in
            (s.callbacks, s.legacyEventIDs, s.legacyLifecycle)
        }
        // Events about domains the client may not getattr are never sent (libvirt's remoteRelay…CheckACL).
        if let manager = access {
            let (identity, _) = state.withLock { ($0.identity, $0.aclDriverName) }
            if !manager.allows(identity, ACLObject(type: "domain", name: ev.domain.name), "getattr") { return }
        }
        let eid = ev.eventID.rawValue
        for (id, cb) in cbs.sorted(by: { $0.key < $1.key }) where cb.eventID == eid {
            if let d = cb.domain, d != ev.domain.uuid { continue }
            if let buf = EventEncoder.callbackMessage(ev, callbackID: id) { send(buf) }
        }
        if legacy.contains(eid) || (legacyLife && ev.eventID == .lifecycle) {
            if let buf = EventEncoder.legacyMessage(ev) { send(buf) }
        }
    }

    /// Starts forwarding secret events to this client, once.
    func ensureSecretEventPump(_ secrets: any SecretDriver) {
        let stream: AsyncStream<SecretEventRecord>? = state.withLock { s in
            s.secretEventTask != nil ? nil : secrets.secretEvents()
        }
        guard let stream else { return }
        let task = Task { [weak self] in
            for await ev in stream {
                guard let self else { return }
                let (cbs, identity) = self.state.withLock { ($0.secretCallbacks, $0.identity) }
                if let m = self.access,
                   !m.allows(identity, ACLObject(type: "secret", name: ev.secret.uuid.description), "getattr") {
                    continue
                }
                for (id, cb) in cbs.sorted(by: { $0.key < $1.key }) where cb.eventID == ev.eventID {
                    if let u = cb.domain, u != ev.secret.uuid { continue }
                    self.send(SecretEventEncoder.message(ev, callbackID: id))
                }
            }
        }
        let cancelNow = state.withLock { s -> Bool in
            if s.secretEventTask != nil || s.closed { return true }
            s.secretEventTask = task
            return false
        }
        if cancelNow { task.cancel() }
    }

    /// Starts forwarding network events to this client, once.
    func ensureNetworkEventPump(_ networks: any NetworkDriver) {
        let stream: AsyncStream<NetworkEventRecord>? = state.withLock { s in
            s.networkEventTask != nil ? nil : networks.networkEvents()
        }
        guard let stream else { return }
        let task = Task { [weak self] in
            for await ev in stream {
                guard let self else { return }
                let (cbs, identity) = self.state.withLock { ($0.networkCallbacks, $0.identity) }
                if let m = self.access,
                   !m.allows(identity, ACLObject(type: "network", name: ev.network.name), "getattr") {
                    continue
                }
                for (id, cb) in cbs.sorted(by: { $0.key < $1.key }) where cb.eventID == ev.eventID {
                    if let u = cb.domain, u != ev.network.uuid { continue }
                    self.send(NetworkEventEncoder.message(ev, callbackID: id))
                }
            }
        }
        let cancelNow = state.withLock { s -> Bool in
            if s.networkEventTask != nil || s.closed { return true }
            s.networkEventTask = task
            return false
        }
        if cancelNow { task.cancel() }
    }

    /// Registers a stream opened by a call.
    func addStream(_ s: ServerStream) {
        streams.withLock { $0[s.serial] = s }
    }

    /// Forgets a stream.
    func removeStream(_ serial: UInt32) {
        _ = streams.withLock { $0.removeValue(forKey: serial) }
    }

    /// The stream of serial `serial`, if open.
    func stream(_ serial: UInt32) -> ServerStream? {
        streams.withLock { $0[serial] }
    }

    /// Tears down: stops events and returns the driver.
    func shutdown(provider: any DriverProvider) async {
        let open = streams.withLock { s -> [ServerStream] in
            let v = Array(s.values)
            s.removeAll()
            return v
        }
        for st in open { await st.close(abort: true, confirm: false) }
        let (task, driver) = state.withLock { s -> (Task<Void, Never>?, (any HypervisorDriver)?) in
            s.closed = true
            for t in s.qemuMonitorCallbacks.values { t.cancel() }
            s.qemuMonitorCallbacks.removeAll()
            let t = s.eventTask
            s.eventTask = nil
            let d = s.driver
            s.driver = nil
            s.callbacks.removeAll()
            s.secretCallbacks.removeAll()
            s.secretEventTask?.cancel()
            s.secretEventTask = nil
            s.secrets = nil
            s.networkCallbacks.removeAll()
            s.networkEventTask?.cancel()
            s.networkEventTask = nil
            s.networks = nil
            s.storageCallbacks.removeAll()
            s.storageEventTask?.cancel()
            s.storageEventTask = nil
            s.storage = nil
            s.nodeDeviceCallbacks.removeAll()
            s.nodeDeviceEventTask?.cancel()
            s.nodeDeviceEventTask = nil
            s.nodeDevices = nil
            s.interfaces = nil
            return (t, d)
        }
        task?.cancel()
        let incoming = state.withLock { s -> [String] in
            let v = Array(s.incomingMigrations)
            s.incomingMigrations.removeAll()
            return v
        }
        if let driver, !incoming.isEmpty { await driver.migrationClientGone(incoming: incoming) }
        if let driver, state.withLock({ $0.associatedFDs }) { await driver.fdOwnerGone(id) }
        if let driver { await provider.release(driver) }
    }
}
