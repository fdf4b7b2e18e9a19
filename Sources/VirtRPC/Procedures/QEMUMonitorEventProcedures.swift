import NIOCore
import VirtCore

extension RemoteCalls {
    /// QEMU_PROC_CONNECT_DOMAIN_MONITOR_EVENT_REGISTER: dom (optional), event (optional), flags → callbackID.
    static let qemuConnectDomainMonitorEventRegister =
        RemoteCall<XDRTuple3<DomainRef?, String?, Flags>, Int32>(qemu: 4)
    /// QEMU_PROC_CONNECT_DOMAIN_MONITOR_EVENT_DEREGISTER: callbackID.
    static let qemuConnectDomainMonitorEventDeregister = RemoteCall<Int32, XDRVoid>(qemu: 5)
}

/// `qemu_domain_monitor_event_msg` (QEMU_PROC_DOMAIN_MONITOR_EVENT, 6): callbackID, dom, event, seconds,
/// micros, details.
enum QEMUMonitorEventMessage {
    static let procedure: Int32 = 6

    static func encode(_ r: QEMUMonitorEventRecord, callbackID: Int32) -> ByteBuffer {
        RPCPacket.encode(RPCHeader(program: RPCProgram.qemu, procedure: procedure, type: .message, serial: 1)) { w in
            w.int(callbackID)
            w.domain(r.domain)
            w.string(r.event)
            w.hyper(r.seconds)
            w.uint(r.micros)
            r.details.encode(xdr: &w)
        }
    }

    static func decode(_ r: inout XDRReader) throws(XDRError) -> (Int32, QEMUMonitorEventRecord) {
        let id = try r.int()
        let d = try r.domain()
        let event = try r.string()
        let seconds = try r.hyper()
        let micros = try r.uint()
        let details = try String?(xdr: &r)
        return (id, QEMUMonitorEventRecord(domain: d, event: event, seconds: seconds, micros: micros, details: details))
    }
}

/// libvirt-qemu's monitor events on the wire: each registration forwards the driver's matching QMP events to
/// its client as QEMU program messages until it is deregistered or the client leaves.
extension ProcedureTable {
    static let qemuMonitorEventRows: [ServedProcedure] = [
        .serve(RemoteCalls.qemuConnectDomainMonitorEventRegister) { a, ctx in
            let (dom, event, flags) = a.values
            let stream = try await ctx.driver.qemuMonitorEvents(domain: dom, event: event, flags: flags)
            let session = ctx.session
            return session.state.withLock { s -> Int32 in
                let id = s.nextCallbackID
                s.nextCallbackID += 1
                s.qemuMonitorCallbacks[id] = Task { [weak session] in
                    for await r in stream {
                        guard let session else { return }
                        session.send(QEMUMonitorEventMessage.encode(r, callbackID: id))
                    }
                }
                return id
            }
        },
        .serve(RemoteCalls.qemuConnectDomainMonitorEventDeregister) { id, ctx in
            guard let task = ctx.session.state.withLock({ $0.qemuMonitorCallbacks.removeValue(forKey: id) }) else {
                throw VirtError(.internalError, domain: .rpc,
                                "internal error: qemu monitor event callback \(id) not registered",
                                str1: "qemu monitor event callback \(id) not registered")
            }
            task.cancel()
            return XDRVoid()
        },
    ]
}

extension RemoteDriver {
    /// Registers on the server and yields the events of this registration; dropping the stream deregisters.
    public func qemuMonitorEvents(domain: DomainRef?, event: String?, flags: UInt32) async throws
        -> AsyncStream<QEMUMonitorEventRecord> {
        let source = qemuMonitorBus.subscribe()
        let id = try await call(RemoteCalls.qemuConnectDomainMonitorEventRegister, XDRTuple3(domain, event, flags))
        return AsyncStream { c in
            let task = Task {
                for await (cb, r) in source where cb == id { c.yield(r) }
                c.finish()
            }
            c.onTermination = { [weak self] _ in
                task.cancel()
                Task { _ = try? await self?.call(RemoteCalls.qemuConnectDomainMonitorEventDeregister, id) }
            }
        }
    }

    func handleQEMUMessage(_ p: RPCPacket) {
        guard p.header.procedure == QEMUMonitorEventMessage.procedure else { return }
        var r = XDRReader(buffer: p.payload)
        guard let ev = try? QEMUMonitorEventMessage.decode(&r) else { return }
        qemuMonitorBus.emit(ev)
    }
}
