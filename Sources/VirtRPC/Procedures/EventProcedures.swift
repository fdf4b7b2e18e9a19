import VirtCore

/// Domain event registration (the events themselves are messages: EventEncoder).
extension ProcedureTable {
    static let eventRows: [ServedProcedure] = [
        .serve(RemoteCalls.connectDomainEventCallbackRegisterAny) { a, ctx in
            let (eid, dom) = a.values
            guard eid >= 0, eid < RPCLimits.eventIDCount else {
                throw VirtError(.internalError, domain: .rpc, "internal error: unsupported event ID \(eid)",
                                str1: "unsupported event ID \(eid)")
            }
            ctx.session.ensureEventPump(ctx.driver)
            return ctx.session.state.withLock { s -> Int32 in
                let id = s.nextCallbackID
                s.nextCallbackID += 1
                s.callbacks[id] = ClientSession.Callback(eventID: eid, domain: dom?.uuid)
                return id
            }
        },
        .serve(RemoteCalls.connectDomainEventCallbackDeregisterAny) { id, ctx in
            let ok = ctx.session.state.withLock { $0.callbacks.removeValue(forKey: id) != nil }
            if !ok {
                throw VirtError(.internalError, domain: .rpc,
                                "internal error: domain event callback \(id) not registered",
                                str1: "domain event callback \(id) not registered")
            }
            return XDRVoid()
        },
        .serve(RemoteCalls.connectDomainEventRegisterAny) { eid, ctx in
            guard eid >= 0, eid <= DomainEventID.deviceRemoved.rawValue else {
                throw VirtError(.internalError, domain: .rpc, "internal error: unsupported event ID \(eid)",
                                str1: "unsupported event ID \(eid)")
            }
            ctx.session.ensureEventPump(ctx.driver)
            let dup = ctx.session.state.withLock { s -> Bool in
                if s.legacyEventIDs.contains(eid) { return true }
                s.legacyEventIDs.insert(eid)
                return false
            }
            if dup {
                throw VirtError(.internalError, domain: .rpc,
                                "internal error: domain event \(eid) already registered",
                                str1: "domain event \(eid) already registered")
            }
            return XDRVoid()
        },
        .serve(RemoteCalls.connectDomainEventDeregisterAny) { eid, ctx in
            let ok = ctx.session.state.withLock { $0.legacyEventIDs.remove(eid) != nil }
            if !ok {
                throw VirtError(.internalError, domain: .rpc, "internal error: domain event \(eid) not registered",
                                str1: "domain event \(eid) not registered")
            }
            return XDRVoid()
        },
        .serve(RemoteCalls.connectDomainEventRegister) { _, ctx in
            ctx.session.ensureEventPump(ctx.driver)
            ctx.session.state.withLock { $0.legacyLifecycle = true }
            return 1
        },
        .serve(RemoteCalls.connectDomainEventDeregister) { _, ctx in
            ctx.session.state.withLock { $0.legacyLifecycle = false }
            return 0
        },
    ]
}
