import NIOCore
import Synchronization
import VirtCore

/// A procedure's argument and result types, with its number: what the client encodes and the server
/// decodes. Its read-only rule, ACL and priority come from the catalog entry of the same number.
public struct RemoteCall<Args: XDRCodable, Ret: XDRCodable>: Sendable {
    public let program: ProcedureProgram
    public let number: Int32

    init(_ procedure: RemoteProcedure) {
        program = .remote
        number = procedure.rawValue
    }

    init(qemu number: Int32) {
        program = .qemu
        self.number = number
    }

    init(lxc number: Int32) {
        program = .lxc
        self.number = number
    }

    /// The catalog entry; a number missing from the catalog gets one that is refused on read-only
    /// connections, so a mistake fails closed.
    var info: ProcedureInfo {
        ProcedureInfo.lookup(program: program.number, number: number)
            ?? ProcedureInfo(program, number, "UNDECLARED_\(number)", .refused, .low, [], filter: nil, api: nil,
                             apiDomain: 0)
    }
}

/// What a served procedure's handler gets besides its arguments.
struct CallContext: Sendable {
    let header: RPCHeader
    let session: ClientSession
    let server: RemoteDispatcher
    /// The client's driver connection (a placeholder for procedures served before CONNECT_OPEN).
    let driver: any HypervisorDriver
    /// The read-only socket, or CONNECT_OPEN with VIR_CONNECT_RO.
    let readOnly: Bool
    /// Where the row notes what the call is about, when calls are logged.
    let record: CallRecord?
    /// The access check of this client's calls; nil when the daemon has no access driver (libvirt's `none`).
    let access: SessionAccess?
    /// Descriptors that came with the call (CALL_WITH_FDS), owned by the dispatcher: closed after the handler,
    /// so a handler keeps a duplicate of what it needs.
    var fds: [Int32] = []
}

/// One row of the server's procedure table: the catalog entry and the handler that decodes the
/// arguments, applies the read-only rule, calls the driver and encodes the result.
struct ServedProcedure: Sendable {
    let info: ProcedureInfo
    /// False for the handshake procedures that run before CONNECT_OPEN.
    let needsOpen: Bool
    let handler: @Sendable (inout XDRReader, inout XDRWriter, CallContext) async throws -> Void
    /// The reply carries the descriptors the handler left in the session (``ProcedureTable/passFDs``).
    var repliesWithFDs = false

    /// A row for `call`. `readOnlyValue` gives the flags (or source) a conditional read-only rule tests;
    /// a conditional rule without it refuses every call on a read-only connection.
    static func serve<A, R>(_ call: RemoteCall<A, R>, needsOpen: Bool = true,
                            readOnlyValue: (@Sendable (A) -> UInt32)? = nil,
                            _ body: @escaping @Sendable (A, CallContext) async throws -> R) -> ServedProcedure {
        let info = call.info
        return ServedProcedure(info: info, needsOpen: needsOpen) { r, w, ctx in
            let args = try A(xdr: &r)
            ctx.record?.note(args)
            if ctx.readOnly {
                try info.checkReadOnly(readOnlyValue.map { $0(args) })
            }
            var pending: AccessCheck.Pending?
            if let access = ctx.access { pending = try await AccessCheck.before(info, args, R.self, ctx, access) }
            let ret = try await body(args, ctx)
            if let pending, let access = ctx.access { try AccessCheck.after(pending, ret, access) }
            ctx.record?.note(ret)
            ret.encode(xdr: &w)
        }
    }
}

extension ServedProcedure {
    /// This row's reply goes out as REPLY_WITH_FDS with the descriptors its handler passed.
    func withFDs() -> ServedProcedure {
        var r = self
        r.repliesWithFDs = true
        return r
    }
}

/// The server's procedure table: every served row, indexed by program and number.
enum ProcedureTable {
    /// A handler's descriptors for its reply (the row is ``ServedProcedure/withFDs()``); the daemon sends and
    /// then closes them.
    static func passFDs(_ fds: [Int32], _ ctx: CallContext) {
        ctx.session.state.withLock { $0.replyFDs[ctx.header.serial, default: []] += fds }
    }

    /// Every served procedure; each subsystem adds its rows in its own file.
    static let rows: [ServedProcedure] = sessionRows + hostRows + domainRows + migrationRows + eventRows + qemuRows
        + secretRows + domainStatsRows + networkRows + storageRows + tuningRows + nodeDeviceRows + interfaceRows
        + nodeDeviceLifecycleRows
        + deviceHotplugRows + agentRows + guestOpsRows + snapshotRows + diagnosticsRows + hostPagesRows
        + vcpuIOThreadRows + qemuMonitorEventRows
        + hostControlRows + blockRows + fdPassingRows

    private static let remoteIndex: [ServedProcedure?] = index(.remote)
    private static let qemuIndex: [ServedProcedure?] = index(.qemu)

    private static func index(_ program: ProcedureProgram) -> [ServedProcedure?] {
        let mine = rows.filter { $0.info.program == program }
        var table = [ServedProcedure?](repeating: nil, count: Int(mine.map(\.info.number).max() ?? 0) + 1)
        for row in mine where row.info.number >= 0 { table[Int(row.info.number)] = row }
        return table
    }

    /// The row serving `number` of `program`, nil when none does.
    static func row(program: UInt32, number: Int32) -> ServedProcedure? {
        let table: [ServedProcedure?]
        switch program {
        case RPCProgram.remote: table = remoteIndex
        case RPCProgram.qemu: table = qemuIndex
        default: return nil
        }
        return number >= 0 && Int(number) < table.count ? table[Int(number)] : nil
    }

    /// The catalog entries of every served procedure (for tests and documentation).
    static var served: [ProcedureInfo] { rows.map(\.info) }
}

/// The driver slot of procedures served before CONNECT_OPEN: nothing may be asked of it.
final class NotOpenDriver: HypervisorDriver {
    static let shared = NotOpenDriver()
    let uri = ""
    func events() -> AsyncStream<DomainEventRecord> { AsyncStream { $0.finish() } }
    func openConsole(_ domain: DomainRef, device: String?, flags: UInt32) async throws -> any ByteStream {
        throw RemoteDispatcher.notOpen
    }
    func qemuMonitorCommand(_ domain: DomainRef, command: String, flags: UInt32) async throws -> String {
        throw RemoteDispatcher.notOpen
    }
}

/// libvirt's worker pool limit (`max_workers`): at most `limit` low-priority calls run at once across
/// all clients; high-priority calls (`@priority: high`) never wait for a worker.
final class WorkerLimiter: Sendable {
    private struct State {
        var running = 0
        var limit: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(limit: Int) {
        state = Mutex(State(limit: max(1, limit)))
    }

    /// Low-priority calls running now.
    var running: Int { state.withLock { $0.running } }
    /// Calls waiting for a slot.
    var waiting: Int { state.withLock { $0.waiters.count } }
    /// `max_workers`, changeable while the daemon runs (virt-admin server-threadpool-set).
    var limit: Int {
        get { state.withLock { $0.limit } }
        set {
            let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                s.limit = max(1, newValue)
                var w: [CheckedContinuation<Void, Never>] = []
                while s.running < s.limit, !s.waiters.isEmpty {
                    s.running += 1
                    w.append(s.waiters.removeFirst())
                }
                return w
            }
            for c in woken { c.resume() }
        }
    }

    func acquire() async {
        let immediate = state.withLock { s -> Bool in
            if s.running < s.limit {
                s.running += 1
                return true
            }
            return false
        }
        if immediate { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.running < s.limit {
                    s.running += 1
                    return true
                }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty || s.running > s.limit {
                s.running -= 1
                return nil
            }
            return s.waiters.removeFirst()  // the slot passes to the waiter
        }
        next?.resume()
    }
}
