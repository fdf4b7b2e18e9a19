import Logging
import NIOCore
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The server side of a call: finds the procedure's row in the table (ProcedureTable), runs it and turns
/// the outcome into a reply. Every failure becomes a `VirtError` sent as `remote_error`.
///
/// Nothing here knows a particular procedure: the rows (Procedures/*.swift) decode, apply libvirt's
/// read-only rule from the catalog, call the driver and encode. A number no row serves is refused: on a
/// read-only connection with OPERATION_DENIED when libvirt's API would refuse it there, otherwise with
/// NO_SUPPORT in libvirt's words.
struct RemoteDispatcher: Sendable {
    let provider: any DriverProvider
    let config: RemoteServerConfig
    let workers: WorkerLimiter
    let callLog: CallLog

    init(provider: any DriverProvider, config: RemoteServerConfig, callLogger: Logger) {
        self.provider = provider
        self.config = config
        workers = WorkerLimiter(limit: config.maxWorkers)
        callLog = CallLog(logger: callLogger)
    }

    static let decodeError = VirtError(.rpc, domain: .rpc, "RPC error : Unable to decode message payload",
                                       str1: "Unable to decode message payload")
    static let notOpen = VirtError(.internalError, domain: .rpc, "internal error: connection not open",
                                   str1: "connection not open")

    /// Runs the call `h` with arguments in `reader` and returns the reply packet. (One async frame per call:
    /// the call log's timing wraps the body here rather than calling it, which would cost a task-frame
    /// allocation per call.)
    func run(_ h: RPCHeader, _ reader: XDRReader, _ session: ClientSession, fds fdRange: Range<Int>? = nil)
        async -> ByteBuffer {
        let started: ContinuousClock.Instant? = callLog.enabled ? ContinuousClock.now : nil
        // The object a call is about is noted only when every call is logged (debug); with failures only, a
        // successful call costs two clock reads and nothing else.
        let record = callLog.debug ? CallRecord() : nil
        var r = reader
        // Big enough for most replies (a domain's XML) without regrowing.
        var w = XDRWriter(capacity: 2048)
        w.uint(0)
        h.reply(status: .ok).write(to: &w)
        var failure: VirtError?
        var received: [Int32] = []
        defer { for fd in received { Glibc.close(fd) } }
        do {
            if let fdRange { received = try await session.receivedFDs.take(fdRange) }
            guard let row = ProcedureTable.row(program: h.program, number: h.procedure) else {
                throw Self.unserved(h, session)
            }
            // The driver and the read-only bit in one look at the session.
            let (open, readOnlyOpen) = session.state.withLock { ($0.driver, $0.readOnlyOpen) }
            let driver: any HypervisorDriver
            if row.needsOpen {
                guard let open else { throw Self.notOpen }
                driver = open
            } else {
                // Served before CONNECT_OPEN too (e.g. CONNECT_SUPPORTS_FEATURE): the open driver when there is one.
                driver = open ?? NotOpenDriver.shared
            }
            var access: SessionAccess?
            if let manager = config.access {
                let (identity, name) = session.state.withLock { ($0.identity, $0.aclDriverName) }
                access = SessionAccess(manager: manager, identity: identity, driverName: name)
            }
            let ctx = CallContext(header: h, session: session, server: self, driver: driver,
                                  readOnly: session.readOnly || readOnlyOpen, record: record, access: access,
                                  fds: received)
            if row.info.priority == .low {
                await workers.acquire()
                defer { workers.release() }
                try await row.handler(&r, &w, ctx)
            } else {
                try await row.handler(&r, &w, ctx)
            }
            let len = w.buffer.writerIndex
            w.buffer.setInteger(UInt32(truncatingIfNeeded: len), at: 0, endianness: .big)
            if len - 4 > RPCLimits.messageMax {
                failure = VirtError(.rpc, domain: .rpc, "RPC error : Unable to encode message payload")
            }
        } catch let e as VirtError {
            failure = e
        } catch is XDRError {
            failure = Self.decodeError
        } catch {
            failure = VirtError.internalError("\(error)", domain: .rpc)
        }
        if let started, record != nil || failure != nil {
            callLog.finished(ProcedureInfo.lookup(program: h.program, number: h.procedure), h, client: session.id,
                             identity: session.state.withLock { $0.identity }, record: record, started: started,
                             error: failure)
        }
        if let row = ProcedureTable.row(program: h.program, number: h.procedure), row.repliesWithFDs {
            let fds = session.state.withLock { $0.replyFDs.removeValue(forKey: h.serial) } ?? []
            if failure != nil || fds.isEmpty {
                for fd in fds { Glibc.close(fd) }
            } else {
                return Self.withFDs(w.buffer, count: fds.count, h, session, fds)
            }
        }
        if let failure { return Self.errorPacket(h, failure) }
        return w.buffer
    }

    /// libvirt's REPLY_WITH_FDS: the header's type changed, the number of descriptors before the payload; the
    /// descriptors wait in the session until the connection has written the reply
    /// (``ServerConnectionHandler``).
    private static func withFDs(_ reply: ByteBuffer, count: Int, _ h: RPCHeader, _ session: ClientSession,
                                _ fds: [Int32]) -> ByteBuffer {
        let headerEnd = 4 + 24
        var w = XDRWriter(capacity: reply.readableBytes + 4)
        w.uint(0)
        var header = h.reply(status: .ok)
        header.type = RPCMessageType.replyWithFDs.rawValue
        header.write(to: &w)
        w.uint(UInt32(count))
        if let body = reply.getSlice(at: headerEnd, length: reply.writerIndex - headerEnd) {
            var b = body
            w.buffer.writeBuffer(&b)
        }
        w.buffer.setInteger(UInt32(truncatingIfNeeded: w.buffer.writerIndex), at: 0, endianness: .big)
        session.state.withLock { $0.replyFDs[h.serial] = fds }
        return w.buffer
    }

    /// The error for a procedure no row serves: libvirt's read-only refusal for a declared procedure whose
    /// API refuses read-only callers, NO_SUPPORT naming the API for the other declared ones, and "unknown
    /// procedure" for numbers libvirt does not declare.
    static func unserved(_ h: RPCHeader, _ session: ClientSession) -> VirtError {
        guard let info = ProcedureInfo.lookup(program: h.program, number: h.procedure), info.readOnly != .event else {
            return VirtError(.noSupport, domain: .rpc,
                             "this function is not supported by the connection driver: unknown procedure: \(h.procedure)",
                             str1: "unknown procedure: \(h.procedure)")
        }
        if session.driver == nil { return notOpen }
        if session.isReadOnly {
            switch info.readOnly {
            case .allowed, .event: break
            default: return info.readOnlyDenied()
            }
        }
        return VirtError.noSupport(info.apiName, domain: info.apiDomain)
    }

    static func errorPacket(_ h: RPCHeader, _ e: VirtError) -> ByteBuffer {
        RPCPacket.encode(h.reply(status: .error)) { $0.error(e) }
    }

    /// `virDrvFeature` values answered yes by CONNECT_SUPPORTS_FEATURE.
    static func supports(_ feature: Int32) -> Bool {
        switch DriverFeature(rawValue: feature) {
        case .programKeepalive, .remoteEventCallback, .remoteCloseCallback, .typedParamString, .remote, .fdPassing:
            return true
        default:
            return false
        }
    }
}

/// `virDrvFeature` values that clients ask about with CONNECT_SUPPORTS_FEATURE.
public enum DriverFeature: Int32, Sendable {
    case migrationV1 = 1, remote, migrationV2, migrationP2P, migrationDirect, migrationV3, migrateChangeProtection
    case fdPassing = 8, typedParamString, programKeepalive, xmlMigratable, migrationOffline, migrationParams
    case remoteEventCallback = 14, remoteCloseCallback, networkUpdateHasCorrectOrder
}
