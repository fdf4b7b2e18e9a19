import NIOCore
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// libvirt's admin program (0x06900690, version 1) on the admin socket, as virt-admin uses it: the daemon's
/// servers ("libvirtd", "admin"), their worker pools and client limits, the connected clients (list, identity,
/// disconnect), and the daemon's logging filters and outputs. Every call is quick and answered on the
/// connection's event loop, in order.
final class AdminService: Sendable {
    static let program: UInt32 = 0x0690_0690

    struct Tunables: Sendable {
        var minWorkers: Int
        var prioWorkers: Int
        var maxClients: Int
        var maxAnonymousClients: Int
    }

    let registry: ClientRegistry
    let workers: WorkerLimiter
    let tunables: Mutex<Tunables>
    let config: RemoteServerConfig
    let tlsEnabled: Bool

    init(registry: ClientRegistry, workers: WorkerLimiter, config: RemoteServerConfig) {
        self.registry = registry
        self.workers = workers
        self.config = config
        tlsEnabled = config.tls != nil
        tunables = Mutex(Tunables(minWorkers: config.minWorkers, prioWorkers: config.prioWorkers,
                                  maxClients: config.maxClients, maxAnonymousClients: config.maxAnonymousClients))
    }

    var maxClients: Int { tunables.withLock { $0.maxClients } }

    // MARK: Calls

    /// Runs admin procedure `number`; the reply's payload is written into `w`.
    func run(_ number: Int32, _ r: inout XDRReader, _ w: inout XDRWriter, opened: inout Bool) throws {
        if number != 1 && !opened {
            throw VirtError(.rpc, domain: .rpc, "RPC error : connection not open")
        }
        switch number {
        case 1:  // CONNECT_OPEN
            try checkFlags(try r.uint(), "adminConnectOpen")
            opened = true
        case 2:  // CONNECT_CLOSE
            opened = false
        case 3:  // CONNECT_GET_LIB_VERSION
            w.uhyper(config.libraryVersion)
        case 4:  // CONNECT_LIST_SERVERS
            let need = try r.uint()
            try checkFlags(try r.uint(), "adminConnectListServers")
            let names = need > 0 ? ClientRegistry.servers : []
            w.uint(UInt32(names.count))
            for n in names { w.string(n) }
            w.uint(UInt32(ClientRegistry.servers.count))
        case 5:  // CONNECT_LOOKUP_SERVER
            let name = try r.string()
            try checkFlags(try r.uint(), "adminConnectLookupServer")
            w.string(try server(name))
        case 6:  // SERVER_GET_THREADPOOL_PARAMETERS
            let srv = try server(try r.string())
            try checkFlags(try r.uint(), "adminServerGetThreadPoolParameters")
            w.typedParams(threadPool(srv))
        case 7:  // SERVER_SET_THREADPOOL_PARAMETERS
            let srv = try server(try r.string())
            let params = try r.typedParams(max: 32)
            try checkFlags(try r.uint(), "adminServerSetThreadPoolParameters")
            try setThreadPool(srv, params)
        case 8:  // SERVER_LIST_CLIENTS
            let srv = try server(try r.string())
            let need = try r.uint()
            try checkFlags(try r.uint(), "adminServerListClients")
            let clients = registry.list(server: srv)
            let shown = need > 0 ? clients : []
            w.uint(UInt32(shown.count))
            for c in shown { Self.encode(c, server: srv, &w) }
            w.uint(UInt32(clients.count))
        case 9:  // SERVER_LOOKUP_CLIENT
            let srv = try server(try r.string())
            let id = try r.uhyper()
            try checkFlags(try r.uint(), "adminServerLookupClient")
            Self.encode(try client(srv, id), server: srv, &w)
        case 10:  // CLIENT_GET_INFO
            let (srv, id) = try Self.decodeClient(&r)
            try checkFlags(try r.uint(), "adminClientGetInfo")
            w.typedParams(Self.info(try client(srv, id)))
        case 11:  // CLIENT_CLOSE
            let (srv, id) = try Self.decodeClient(&r)
            try checkFlags(try r.uint(), "adminClientClose")
            try client(srv, id).channel.close(promise: nil)
        case 12:  // SERVER_GET_CLIENT_LIMITS
            let srv = try server(try r.string())
            try checkFlags(try r.uint(), "adminServerGetClientLimits")
            w.typedParams(clientLimits(srv))
        case 13:  // SERVER_SET_CLIENT_LIMITS
            let srv = try server(try r.string())
            let params = try r.typedParams(max: 32)
            try checkFlags(try r.uint(), "adminServerSetClientLimits")
            _ = srv
            try setClientLimits(params)
        case 14:  // CONNECT_GET_LOGGING_OUTPUTS
            try checkFlags(try r.uint(), "adminConnectGetLoggingOutputs")
            let (text, n) = try delegate().logOutputs()
            w.string(text)
            w.uint(UInt32(n))
        case 15:  // CONNECT_GET_LOGGING_FILTERS
            try checkFlags(try r.uint(), "adminConnectGetLoggingFilters")
            let (text, n) = try delegate().logFilters()
            w.optionalString(n == 0 ? nil : text)
            w.uint(UInt32(n))
        case 16:  // CONNECT_SET_LOGGING_OUTPUTS
            let outputs = try r.optionalString()
            try checkFlags(try r.uint(), "adminConnectSetLoggingOutputs")
            try delegate().setLogOutputs(outputs)
        case 17:  // CONNECT_SET_LOGGING_FILTERS
            let filters = try r.optionalString()
            try checkFlags(try r.uint(), "adminConnectSetLoggingFilters")
            try delegate().setLogFilters(filters)
        case 18:  // SERVER_UPDATE_TLS_FILES
            _ = try server(try r.string())
            try checkFlags(try r.uint(), "adminServerUpdateTlsFiles")
            guard tlsEnabled else {
                throw VirtError.internalError("no tls service found, unable to update tls files", domain: .rpc)
            }
            throw VirtError.noSupport("virAdmServerUpdateTlsFiles")
        case 19:  // CONNECT_SET_DAEMON_TIMEOUT: virtd has no idle timeout.
            throw VirtError.noSupport("virAdmConnectSetDaemonTimeout")
        default:
            throw VirtError(.rpc, domain: .rpc, "RPC error : unknown procedure: \(number)", str1: "unknown procedure: \(number)")
        }
    }

    // MARK: Pieces

    private func checkFlags(_ flags: UInt32, _ function: String) throws(VirtError) {
        if flags != 0 { throw VirtError.unsupportedFlags(UInt64(flags), function: function, domain: .admin) }
    }

    private func delegate() throws(VirtError) -> any AdminDelegate {
        guard let d = config.admin else { throw VirtError.noSupport("virAdmConnectGetLoggingOutputs") }
        return d
    }

    private func server(_ name: String) throws(VirtError) -> String {
        guard ClientRegistry.servers.contains(name) else {
            throw VirtError(.noServer, domain: .rpc, "Server not found: No server named '\(name)'", str1: name)
        }
        return name
    }

    private func client(_ server: String, _ id: UInt64) throws(VirtError) -> ClientRegistry.Entry {
        guard let c = registry.lookup(server: server, id: id) else {
            throw VirtError(.noClient, domain: .rpc, "Client not found: No client with matching ID '\(id)'",
                            str1: "No client with matching ID '\(id)'")
        }
        return c
    }

    /// libvirt's pool figures. virtd has no threads per worker: a "worker" is a slot for a low-priority call
    /// (`max_workers`); idle, `minWorkers` of them count as existing, as libvirt's pool starts that many.
    private func threadPool(_ server: String) -> [TypedParam] {
        let t = tunables.withLock { $0 }
        let busy: Int, maxW: Int, waiting: Int
        if server == "admin" {
            // The admin server's own call is the one running.
            (busy, maxW, waiting) = (1, 20, 0)
        } else {
            (busy, maxW, waiting) = (workers.running, workers.limit, workers.waiting)
        }
        let minW = server == "admin" ? 5 : t.minWorkers
        let n = min(maxW, max(minW, busy))
        return [
            TypedParam("minWorkers", .uint(UInt32(minW))),
            TypedParam("maxWorkers", .uint(UInt32(maxW))),
            TypedParam("nWorkers", .uint(UInt32(n))),
            TypedParam("freeWorkers", .uint(UInt32(max(0, n - busy)))),
            TypedParam("prioWorkers", .uint(UInt32(server == "admin" ? 0 : t.prioWorkers))),
            TypedParam("jobQueueDepth", .uint(UInt32(waiting))),
        ]
    }

    private func setThreadPool(_ server: String, _ params: [TypedParam]) throws(VirtError) {
        var minW: Int?, maxW: Int?, prio: Int?
        for p in params {
            guard case .uint(let v) = p.value else {
                throw VirtError.invalidArg("invalid type for parameter '\(p.field)'", domain: .none)
            }
            switch p.field {
            case "minWorkers": minW = Int(v)
            case "maxWorkers": maxW = Int(v)
            case "prioWorkers": prio = Int(v)
            default:
                throw VirtError(.invalidArg, domain: .none, "argument unsupported: parameter '\(p.field)' not supported")
            }
        }
        guard server == "libvirtd" else {
            throw VirtError(.operationUnsupported, domain: .rpc,
                            "Operation not supported: the admin server's worker pool is fixed")
        }
        let curMin = tunables.withLock { $0.minWorkers }
        let newMin = minW ?? curMin, newMax = maxW ?? workers.limit
        if newMin > newMax || newMax == 0 {
            throw VirtError.invalidArg("minWorkers cannot be larger than maxWorkers", domain: .none)
        }
        tunables.withLock {
            $0.minWorkers = newMin
            if let prio { $0.prioWorkers = prio }
        }
        workers.limit = newMax
    }

    private func clientLimits(_ server: String) -> [TypedParam] {
        let t = tunables.withLock { $0 }
        let (maxC, maxU) = server == "admin" ? (5000, 20) : (t.maxClients, t.maxAnonymousClients)
        return [
            TypedParam("nclients_max", .uint(UInt32(maxC))),
            TypedParam("nclients", .uint(UInt32(registry.count(server: server)))),
            TypedParam("nclients_unauth_max", .uint(UInt32(maxU))),
            TypedParam("nclients_unauth", .uint(0)),
        ]
    }

    private func setClientLimits(_ params: [TypedParam]) throws(VirtError) {
        var maxC: Int?, maxU: Int?
        for p in params {
            guard case .uint(let v) = p.value else {
                throw VirtError.invalidArg("invalid type for parameter '\(p.field)'", domain: .rpc)
            }
            switch p.field {
            case "nclients_max": maxC = Int(v)
            case "nclients_unauth_max": maxU = Int(v)
            default:
                throw VirtError(.invalidArg, domain: .rpc, "argument unsupported: parameter '\(p.field)' not supported")
            }
        }
        try tunables.withLock { t throws(VirtError) in
            let c = maxC ?? t.maxClients, u = maxU ?? t.maxAnonymousClients
            if u > c {
                throw VirtError.invalidArg("""
                    The overall maximum number of clients waiting for authentication must not be less than the \
                    overall maximum number of clients
                    """, domain: .rpc)
            }
            t.maxClients = c
            t.maxAnonymousClients = u
        }
    }

    static func encode(_ c: ClientRegistry.Entry, server: String, _ w: inout XDRWriter) {
        w.string(server)
        w.uhyper(c.id)
        w.hyper(c.timestamp)
        w.uint(c.transport.rawValue)
    }

    static func decodeClient(_ r: inout XDRReader) throws -> (String, UInt64) {
        let srv = try r.string()
        let id = try r.uhyper()
        _ = try r.hyper()
        _ = try r.uint()
        return (srv, id)
    }

    /// A client's identity as libvirt's adminClientGetInfo lists it.
    static func info(_ c: ClientRegistry.Entry) -> [TypedParam] {
        var p = [TypedParam("readonly", .boolean(c.readOnly))]
        let id = c.session?.state.withLock { $0.identity } ?? ClientIdentity()
        if c.transport != .unix, let addr = c.channel.remoteAddress, let ip = addr.ipAddress, let port = addr.port {
            p.append(TypedParam("sock_addr", .string("\(ip);\(port)")))
        }
        if let uid = id.uid { p.append(TypedParam("unix_user_id", .int(Int32(bitPattern: uid)))) }
        if let n = id.userName { p.append(TypedParam("unix_user_name", .string(n))) }
        if let gid = id.gid { p.append(TypedParam("unix_group_id", .int(Int32(bitPattern: gid)))) }
        if let n = id.groupName { p.append(TypedParam("unix_group_name", .string(n))) }
        if let pid = id.pid { p.append(TypedParam("unix_process_id", .int(pid))) }
        if let dn = id.x509DN { p.append(TypedParam("tls_x509_dname", .string(dn))) }
        return p
    }
}

/// One virt-admin connection on the admin socket: header checks as on the remote sockets, keepalive answered,
/// each CALL of the admin program run by ``AdminService`` and answered in order.
final class AdminConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let service: AdminService
    private var opened = false
    private var id: UInt64?

    init(service: AdminService) {
        self.service = service
    }

    func channelActive(context: ChannelHandlerContext) {
        id = service.registry.add(server: "admin", channel: context.channel, transport: .unix, readOnly: false,
                                  session: nil)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let id { service.registry.remove(server: "admin", id: id) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let packet = try? RPCPacket.decode(unwrapInboundIn(data)) else {
            context.close(promise: nil)
            return
        }
        let h = packet.header
        if h.program == RPCProgram.keepalive {
            if h.procedure == KeepaliveProcedure.ping.rawValue && h.type == RPCMessageType.message.rawValue {
                context.writeAndFlush(wrapOutboundOut(RPCPacket.encode(
                    RPCHeader(program: RPCProgram.keepalive, procedure: KeepaliveProcedure.pong.rawValue,
                              type: .message, serial: 0))), promise: nil)
            }
            return
        }
        guard h.type == RPCMessageType.call.rawValue else { return }
        guard h.program == AdminService.program, h.version == 1 else {
            let msg = "Cannot find program \(h.program) version \(h.version)"
            context.writeAndFlush(wrapOutboundOut(RemoteDispatcher.errorPacket(
                h, VirtError(.rpc, domain: .rpc, "RPC error : \(msg)", str1: msg))), promise: nil)
            return
        }
        var r = XDRReader(buffer: packet.payload)
        var w = XDRWriter(capacity: 256)
        let reply: ByteBuffer
        do {
            try service.run(h.procedure, &r, &w, opened: &opened)
            let body = w.buffer
            reply = RPCPacket.encode(h.reply(status: .ok)) { $0.buffer.writeImmutableBuffer(body) }
        } catch let e as VirtError {
            reply = RemoteDispatcher.errorPacket(h, e)
        } catch {
            reply = RemoteDispatcher.errorPacket(h, RemoteDispatcher.decodeError)
        }
        context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
