import NIOCore
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The server's dispatch table: decodes a CALL's arguments, calls the client's driver, encodes the result.
/// Every failure becomes a `VirtError` that the caller sends as `remote_error`.
struct RemoteDispatcher: Sendable {
    let provider: any DriverProvider
    let config: RemoteServerConfig
    let locks: KeyedAsyncLock<VirtUUID>

    /// Runs procedure `procNumber` with arguments from `r`, writing the ret into `w`.
    func dispatch(_ procNumber: Int32, _ r: inout XDRReader, _ w: inout XDRWriter,
                  session: ClientSession) async throws {
        guard let proc = RemoteProcedure(rawValue: procNumber) else {
            throw VirtError(.noSupport, domain: .rpc,
                            "this function is not supported by the connection driver: unknown procedure: \(procNumber)",
                            str1: "unknown procedure: \(procNumber)")
        }
        // Procedures allowed before CONNECT_OPEN.
        switch proc {
        case .authList:
            w.uint(1)
            w.int(0) // REMOTE_AUTH_NONE
            return
        case .authPolkit:
            w.int(1)
            return
        case .connectSupportsFeature:
            let feature = try r.int()
            if feature == DriverFeature.programKeepalive.rawValue {
                session.state.withLock { $0.keepaliveEnabled = config.keepaliveInterval > 0 }
            }
            w.int(Self.supports(feature) ? 1 : 0)
            return
        case .connectOpen:
            let name = try r.optionalString()
            let flags = try r.uint()
            try await open(session, name: name, flags: flags)
            return
        case .connectClose:
            await session.shutdown(provider: provider)
            return
        default:
            break
        }
        guard let driver = session.driver else {
            throw VirtError(.internalError, domain: .rpc, "internal error: connection not open",
                            str1: "connection not open")
        }
        if proc.isMutating && (session.readOnly || session.state.withLock({ $0.readOnlyOpen })) {
            throw VirtError(.operationDenied, domain: .domain,
                            "operation forbidden: read only access prevents \(Self.apiName(proc))",
                            str1: Self.apiName(proc))
        }
        try await call(proc, driver, &r, &w, session)
    }

    private func open(_ session: ClientSession, name: String?, flags: UInt32) async throws {
        let already = session.state.withLock { s -> Bool in
            if s.driver != nil || s.opening { return true }
            s.opening = true
            return false
        }
        if already {
            throw VirtError(.internalError, domain: .rpc, "internal error: connection already open",
                            str1: "connection already open")
        }
        let readOnly = session.readOnly || flags & 1 != 0
        do {
            let driver = try await provider.open(uri: name, readOnly: readOnly)
            let closed = session.state.withLock { s -> Bool in
                s.opening = false
                if s.closed { return true }
                s.driver = driver
                s.readOnlyOpen = readOnly
                return false
            }
            if closed { await provider.release(driver) }
        } catch {
            session.state.withLock { $0.opening = false }
            throw error
        }
    }

    static func supports(_ feature: Int32) -> Bool {
        switch DriverFeature(rawValue: feature) {
        case .programKeepalive, .remoteEventCallback, .remoteCloseCallback, .typedParamString, .remote:
            return true
        default:
            return false
        }
    }

    /// Runs `body` under the domain's job lock.
    private func job<T: Sendable>(_ d: DomainRef, _ body: () async throws -> T) async throws -> T {
        try await locks.withLock(d.uuid, body)
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private func call(_ proc: RemoteProcedure, _ driver: any HypervisorDriver, _ r: inout XDRReader,
                      _ w: inout XDRWriter, _ session: ClientSession) async throws {
        switch proc {
        // MARK: host
        case .connectGetType:
            w.string(try await driver.hypervisorType())
        case .connectGetVersion:
            w.uhyper(try await driver.hypervisorVersion())
        case .connectGetLibVersion:
            w.uhyper(config.libraryVersion)
        case .connectGetHostname:
            w.string(try await driver.hostname())
        case .connectGetURI:
            w.string(driver.uri)
        case .connectGetCapabilities:
            w.string(try await driver.capabilities())
        case .connectGetDomainCapabilities:
            let emu = try r.optionalString()
            let arch = try r.optionalString()
            let machine = try r.optionalString()
            let virt = try r.optionalString()
            let flags = try r.uint()
            w.string(try await driver.domainCapabilities(emulator: emu, arch: arch, machine: machine,
                                                         virtType: virt, flags: flags))
        case .connectGetMaxVcpus:
            let type = try r.optionalString()
            w.int(try await driver.maxVcpus(type: type))
        case .nodeGetInfo:
            let n = try await driver.nodeInfo()
            w.fixedCharArray(Array(n.model.utf8.prefix(31)), count: 32)
            w.uhyper(n.memory)
            w.int(Int32(bitPattern: n.cpus))
            w.int(Int32(bitPattern: n.mhz))
            w.int(Int32(bitPattern: n.nodes))
            w.int(Int32(bitPattern: n.sockets))
            w.int(Int32(bitPattern: n.cores))
            w.int(Int32(bitPattern: n.threads))
        case .nodeGetFreeMemory:
            w.uhyper(try await driver.nodeFreeMemory())
        case .connectIsSecure:
            w.int(try await driver.isSecure() ? 1 : 0)
        case .nodeGetSecurityModel:
            let m = try await driver.securityModel()
            w.charArray(Array(m.model.utf8.prefix(RPCLimits.securityModelMax - 1)) + [0])
            w.charArray(Array(m.doi.utf8.prefix(RPCLimits.securityDOIMax - 1)) + [0])
        case .connectRegisterCloseCallback:
            session.state.withLock { $0.closeCallbackRegistered = true }
        case .connectUnregisterCloseCallback:
            session.state.withLock { $0.closeCallbackRegistered = false }

        // MARK: listing and lookup
        case .connectListAllDomains:
            let need = try r.int()
            let flags = try r.uint()
            let doms = try await driver.listAllDomains(flags: ListAllDomainsFlags(rawValue: flags))
            if doms.count > RPCLimits.domainListMax {
                throw VirtError(.rpc, domain: .rpc, "RPC error: too many domains '\(doms.count)' for limit '\(RPCLimits.domainListMax)'")
            }
            if need != 0 {
                w.uint(UInt32(doms.count))
                for d in doms { w.domain(d) }
            } else {
                w.uint(0)
            }
            w.uint(UInt32(doms.count))
        case .connectListDomains:
            let max = try r.int()
            try Self.checkMax(max)
            let ids = try await driver.listDomainIDs().prefix(Int(max))
            w.uint(UInt32(ids.count))
            for i in ids { w.int(i) }
        case .connectListDefinedDomains:
            let max = try r.int()
            try Self.checkMax(max)
            let names = try await driver.listDefinedDomainNames().prefix(Int(max))
            w.uint(UInt32(names.count))
            for n in names { w.string(n) }
        case .connectNumOfDomains:
            w.int(try await driver.numberOfDomains())
        case .connectNumOfDefinedDomains:
            w.int(try await driver.numberOfDefinedDomains())
        case .domainLookupByID:
            w.domain(try await driver.lookupDomain(id: try r.int()))
        case .domainLookupByName:
            w.domain(try await driver.lookupDomain(name: try r.string()))
        case .domainLookupByUUID:
            w.domain(try await driver.lookupDomain(uuid: try r.uuid()))

        // MARK: definition
        case .domainDefineXML:
            w.domain(try await driver.defineXML(try r.string(), flags: []))
        case .domainDefineXMLFlags:
            let xml = try r.string()
            let flags = try r.uint()
            w.domain(try await driver.defineXML(xml, flags: DefineFlags(rawValue: flags)))
        case .domainUndefine:
            let d = try r.domain()
            try await job(d) { try await driver.undefine(d, flags: []) }
        case .domainUndefineFlags:
            let d = try r.domain()
            let flags = try r.uint()
            try await job(d) { try await driver.undefine(d, flags: UndefineFlags(rawValue: flags)) }
        case .domainCreateXML:
            let xml = try r.string()
            let flags = try r.uint()
            w.domain(try await driver.createXML(xml, flags: CreateFlags(rawValue: flags)))

        // MARK: lifecycle
        case .domainCreate:
            let d = try r.domain()
            _ = try await job(d) { try await driver.start(d, flags: []) }
        case .domainCreateWithFlags:
            let d = try r.domain()
            let flags = try r.uint()
            w.domain(try await job(d) { try await driver.start(d, flags: CreateFlags(rawValue: flags)) })
        case .domainDestroy:
            let d = try r.domain()
            try await job(d) { try await driver.destroy(d, flags: []) }
        case .domainDestroyFlags:
            let d = try r.domain()
            let flags = try r.uint()
            try await job(d) { try await driver.destroy(d, flags: DestroyFlags(rawValue: flags)) }
        case .domainShutdown:
            let d = try r.domain()
            try await job(d) { try await driver.shutdown(d, flags: []) }
        case .domainShutdownFlags:
            let d = try r.domain()
            let flags = try r.uint()
            try await job(d) { try await driver.shutdown(d, flags: ShutdownFlags(rawValue: flags)) }
        case .domainReboot:
            let d = try r.domain()
            let flags = try r.uint()
            try await job(d) { try await driver.reboot(d, flags: ShutdownFlags(rawValue: flags)) }
        case .domainReset:
            let d = try r.domain()
            _ = try r.uint()
            try await job(d) { try await driver.reset(d) }
        case .domainSuspend:
            let d = try r.domain()
            try await job(d) { try await driver.suspend(d) }
        case .domainResume:
            let d = try r.domain()
            try await job(d) { try await driver.resume(d) }
        case .domainSave:
            let d = try r.domain()
            let to = try r.string()
            try await job(d) { try await driver.save(d, to: to, xml: nil, flags: []) }
        case .domainSaveFlags:
            let d = try r.domain()
            let to = try r.string()
            let xml = try r.optionalString()
            let flags = try r.uint()
            try await job(d) { try await driver.save(d, to: to, xml: xml, flags: SaveRestoreFlags(rawValue: flags)) }
        case .domainSaveParams:
            let d = try r.domain()
            let params = try r.typedParams(max: RPCLimits.typedParamsMax)
            let flags = try r.uint()
            guard let file = Self.stringParam(params, "file") else {
                throw VirtError.invalidArg("missing file parameter", domain: .domain)
            }
            let xml = Self.stringParam(params, "dxml")
            try await job(d) { try await driver.save(d, to: file, xml: xml, flags: SaveRestoreFlags(rawValue: flags)) }
        case .domainRestore:
            let from = try r.string()
            try await driver.restore(from: from, xml: nil, flags: [])
        case .domainRestoreFlags:
            let from = try r.string()
            let xml = try r.optionalString()
            let flags = try r.uint()
            try await driver.restore(from: from, xml: xml, flags: SaveRestoreFlags(rawValue: flags))
        case .domainRestoreParams:
            let params = try r.typedParams(max: RPCLimits.typedParamsMax)
            let flags = try r.uint()
            guard let file = Self.stringParam(params, "file") else {
                throw VirtError.invalidArg("missing file parameter", domain: .domain)
            }
            try await driver.restore(from: file, xml: Self.stringParam(params, "dxml"),
                                     flags: SaveRestoreFlags(rawValue: flags))
        case .domainManagedSave:
            let d = try r.domain()
            let flags = try r.uint()
            try await job(d) { try await driver.managedSave(d, flags: SaveRestoreFlags(rawValue: flags)) }
        case .domainHasManagedSaveImage:
            let d = try r.domain()
            _ = try r.uint()
            w.int(try await driver.hasManagedSaveImage(d) ? 1 : 0)
        case .domainManagedSaveRemove:
            let d = try r.domain()
            _ = try r.uint()
            try await job(d) { try await driver.managedSaveRemove(d) }

        // MARK: properties
        case .domainGetAutostart:
            w.int(try await driver.autostart(try r.domain()) ? 1 : 0)
        case .domainSetAutostart:
            let d = try r.domain()
            let on = try r.int()
            try await job(d) { try await driver.setAutostart(d, on != 0) }
        case .domainGetInfo:
            let i = try await driver.info(try r.domain())
            w.int(i.state.rawValue)
            w.uhyper(i.maxMemory)
            w.uhyper(i.memory)
            w.int(Int32(i.vcpus))
            w.uhyper(i.cpuTime)
        case .domainGetState:
            let d = try r.domain()
            _ = try r.uint()
            let s = try await driver.state(d)
            w.int(s.state.rawValue)
            w.int(s.reason)
        case .domainOpenConsole:
            throw VirtError(.internalError, domain: .rpc, "internal error: stream procedure without a stream")
        case .domainGetXMLDesc:
            let d = try r.domain()
            let flags = try r.uint()
            w.string(try await driver.xmlDesc(d, flags: XMLFlags(rawValue: flags)))
        case .domainGetOSType:
            w.string(try await driver.osType(try r.domain()))
        case .domainIsActive:
            w.int(try await driver.isActive(try r.domain()) ? 1 : 0)
        case .domainIsPersistent:
            w.int(try await driver.isPersistent(try r.domain()) ? 1 : 0)
        case .domainIsUpdated:
            w.int(try await driver.isUpdated(try r.domain()) ? 1 : 0)
        case .domainGetMaxMemory:
            w.uhyper(try await driver.maxMemory(try r.domain()))
        case .domainSetMemory:
            let d = try r.domain()
            let kib = try r.uhyper()
            try await job(d) { try await driver.setMemory(d, kib: kib, flags: .live) }
        case .domainSetMemoryFlags:
            let d = try r.domain()
            let kib = try r.uhyper()
            let flags = try r.uint()
            try await job(d) { try await driver.setMemory(d, kib: kib, flags: ModificationImpact(rawValue: flags)) }
        case .domainGetVcpusFlags:
            let d = try r.domain()
            let flags = try r.uint()
            w.int(try await driver.vcpuCount(d, flags: ModificationImpact(rawValue: flags)))
        case .domainSetVcpusFlags:
            let d = try r.domain()
            let n = try r.uint()
            let flags = try r.uint()
            try await job(d) { try await driver.setVcpus(d, count: n, flags: ModificationImpact(rawValue: flags)) }
        case .domainGetSecurityLabel:
            let labels = try await driver.securityLabels(try r.domain())
            let l = labels.first ?? SecurityLabel(label: "", enforcing: false)
            w.charArray(Array(l.label.utf8.prefix(RPCLimits.securityLabelMax - 1)) + [0])
            w.int(l.enforcing ? 1 : 0)
        case .domainGetMessages:
            let d = try r.domain()
            let flags = try r.uint()
            let msgs = try await driver.messages(d, flags: flags)
            w.uint(UInt32(msgs.count))
            for m in msgs { w.string(m) }
        case .domainSnapshotNum:
            let d = try r.domain()
            _ = try r.uint()
            _ = try await driver.lookupDomain(uuid: d.uuid)
            w.int(0)
        case .connectGetAllDomainStats:
            let n = try r.count(max: RPCLimits.domainListMax, unit: 24)
            var doms = [DomainRef]()
            for _ in 0..<n { doms.append(try r.domain()) }
            let stats = try r.uint()
            let flags = try r.uint()
            let recs = try await driver.allDomainStats(domains: n == 0 ? nil : doms,
                                                       types: StatsTypes(rawValue: stats),
                                                       flags: GetAllDomainStatsFlags(rawValue: flags))
            w.uint(UInt32(recs.count))
            for rec in recs {
                w.domain(rec.domain)
                w.typedParams(rec.params)
            }

        // MARK: events
        case .connectDomainEventCallbackRegisterAny:
            let eid = try r.int()
            let dom = try r.optionalDomain()
            guard eid >= 0, eid < RPCLimits.eventIDCount else {
                throw VirtError(.internalError, domain: .rpc, "internal error: unsupported event ID \(eid)",
                                str1: "unsupported event ID \(eid)")
            }
            session.ensureEventPump(driver)
            let id = session.state.withLock { s -> Int32 in
                let id = s.nextCallbackID
                s.nextCallbackID += 1
                s.callbacks[id] = ClientSession.Callback(eventID: eid, domain: dom?.uuid)
                return id
            }
            w.int(id)
        case .connectDomainEventCallbackDeregisterAny:
            let id = try r.int()
            let ok = session.state.withLock { $0.callbacks.removeValue(forKey: id) != nil }
            if !ok {
                throw VirtError(.internalError, domain: .rpc,
                                "internal error: domain event callback \(id) not registered",
                                str1: "domain event callback \(id) not registered")
            }
        case .connectDomainEventRegisterAny:
            let eid = try r.int()
            guard eid >= 0, eid <= DomainEventID.deviceRemoved.rawValue else {
                throw VirtError(.internalError, domain: .rpc, "internal error: unsupported event ID \(eid)",
                                str1: "unsupported event ID \(eid)")
            }
            session.ensureEventPump(driver)
            let dup = session.state.withLock { s -> Bool in
                if s.legacyEventIDs.contains(eid) { return true }
                s.legacyEventIDs.insert(eid)
                return false
            }
            if dup {
                throw VirtError(.internalError, domain: .rpc,
                                "internal error: domain event \(eid) already registered",
                                str1: "domain event \(eid) already registered")
            }
        case .connectDomainEventDeregisterAny:
            let eid = try r.int()
            let ok = session.state.withLock { $0.legacyEventIDs.remove(eid) != nil }
            if !ok {
                throw VirtError(.internalError, domain: .rpc, "internal error: domain event \(eid) not registered",
                                str1: "domain event \(eid) not registered")
            }
        case .connectDomainEventRegister:
            session.ensureEventPump(driver)
            session.state.withLock { $0.legacyLifecycle = true }
            w.int(1)
        case .connectDomainEventDeregister:
            session.state.withLock { $0.legacyLifecycle = false }
            w.int(0)

        default:
            throw VirtError.noSupport("\(proc)", domain: .rpc)
        }
    }

    private static func checkMax(_ max: Int32) throws {
        if max < 0 || max > Int32(RPCLimits.domainListMax) {
            throw VirtError(.rpc, domain: .rpc, "RPC error: maximum list length exceeded",
                            str1: "maximum list length exceeded")
        }
    }

    private static func stringParam(_ ps: [TypedParam], _ name: String) -> String? {
        for p in ps where p.field == name {
            if case .string(let s) = p.value { return s }
        }
        return nil
    }

    /// The public API function name a procedure stands for, as libvirt names it in errors.
    static func apiName(_ proc: RemoteProcedure) -> String {
        switch proc {
        case .domainCreate: "virDomainCreate"
        case .domainCreateWithFlags: "virDomainCreateWithFlags"
        case .domainCreateXML: "virDomainCreateXML"
        case .domainDefineXML: "virDomainDefineXML"
        case .domainDefineXMLFlags: "virDomainDefineXMLFlags"
        case .domainDestroy: "virDomainDestroy"
        case .domainDestroyFlags: "virDomainDestroyFlags"
        case .domainReboot: "virDomainReboot"
        case .domainReset: "virDomainReset"
        case .domainResume: "virDomainResume"
        case .domainSuspend: "virDomainSuspend"
        case .domainShutdown: "virDomainShutdown"
        case .domainShutdownFlags: "virDomainShutdownFlags"
        case .domainUndefine: "virDomainUndefine"
        case .domainUndefineFlags: "virDomainUndefineFlags"
        case .domainSetAutostart: "virDomainSetAutostart"
        case .domainSetMemory: "virDomainSetMemory"
        case .domainSetMemoryFlags: "virDomainSetMemoryFlags"
        case .domainSetVcpusFlags: "virDomainSetVcpusFlags"
        case .domainSave: "virDomainSave"
        case .domainSaveFlags: "virDomainSaveFlags"
        case .domainSaveParams: "virDomainSaveParams"
        case .domainRestore: "virDomainRestore"
        case .domainRestoreFlags: "virDomainRestoreFlags"
        case .domainRestoreParams: "virDomainRestoreParams"
        case .domainManagedSave: "virDomainManagedSave"
        case .domainManagedSaveRemove: "virDomainManagedSaveRemove"
        case .connectGetDomainCapabilities: "virConnectGetDomainCapabilities"
        default: "\(proc)"
        }
    }
}

extension RemoteDispatcher {
    static let decodeError = VirtError(.rpc, domain: .rpc, "RPC error : Unable to decode message payload",
                                       str1: "Unable to decode message payload")

    func run(_ h: RPCHeader, _ reader: XDRReader,
                            _ session: ClientSession) async -> ByteBuffer {
        var r = reader
        var w = XDRWriter(capacity: 256)
        w.uint(0)
        h.reply(status: .ok).write(to: &w)
        do {
            if h.procedure == RemoteProcedure.domainOpenConsole.rawValue {
                try await openConsole(h, &r, session)
                return RPCPacket.encode(h.reply(status: .ok))
            }
            if h.program == RPCProgram.qemu {
                try await dispatchQEMU(h.procedure, &r, &w, session: session)
            } else {
                try await dispatch(h.procedure, &r, &w, session: session)
            }
            let len = w.buffer.writerIndex
            w.buffer.setInteger(UInt32(truncatingIfNeeded: len), at: 0, endianness: .big)
            if len - 4 > RPCLimits.messageMax {
                return Self.errorPacket(h, VirtError(.rpc, domain: .rpc, "RPC error : Unable to encode message payload"))
            }
            return w.buffer
        } catch let e as VirtError {
            return Self.errorPacket(h, e)
        } catch is XDRError {
            return Self.errorPacket(h, Self.decodeError)
        } catch {
            return Self.errorPacket(h, VirtError.internalError("\(error)", domain: .rpc))
        }
    }

    /// The QEMU program (`qemu_protocol.x`, 0x20008087): procedure 1 is QEMU_PROC_DOMAIN_MONITOR_COMMAND
    /// (domain, command, flags → result), the only one served; the others answer libvirt's unknown procedure.
    private func dispatchQEMU(_ procNumber: Int32, _ r: inout XDRReader, _ w: inout XDRWriter,
                              session: ClientSession) async throws {
        guard procNumber == 1 else {
            throw VirtError(.noSupport, domain: .rpc,
                            "this function is not supported by the connection driver: unknown procedure: \(procNumber)",
                            str1: "unknown procedure: \(procNumber)")
        }
        guard let driver = session.driver else {
            throw VirtError(.internalError, domain: .rpc, "internal error: connection not open",
                            str1: "connection not open")
        }
        if session.readOnly || session.state.withLock({ $0.readOnlyOpen }) {
            throw VirtError(.operationDenied, domain: .domain,
                            "operation forbidden: read only access prevents virDomainQemuMonitorCommand",
                            str1: "virDomainQemuMonitorCommand")
        }
        let d = try r.domain()
        let command = try r.string()
        let flags = try r.uint()
        let result = try await job(d) { try await driver.qemuMonitorCommand(d, command: command, flags: flags) }
        w.string(result)
    }

    static func errorPacket(_ h: RPCHeader, _ e: VirtError) -> ByteBuffer {
        RPCPacket.encode(h.reply(status: .error)) { $0.error(e) }
    }

    /// DOMAIN_OPEN_CONSOLE: opens the driver's console stream and registers it under the call's serial;
    /// the connection handler starts pumping it once the reply is queued.
    private func openConsole(_ h: RPCHeader, _ r: inout XDRReader, _ session: ClientSession) async throws {
        let d = try r.domain()
        let dev = try r.optionalString()
        let flags = try r.uint()
        guard let driver = session.driver else {
            throw VirtError(.internalError, domain: .rpc, "internal error: connection not open",
                            str1: "connection not open")
        }
        if session.readOnly || session.state.withLock({ $0.readOnlyOpen }) {
            throw VirtError(.operationDenied, domain: .domain,
                            "operation forbidden: read only access prevents virDomainOpenConsole",
                            str1: "virDomainOpenConsole")
        }
        let stream = try await driver.openConsole(d, device: dev, flags: flags)
        session.addStream(ServerStream(header: h, stream: stream, session: session))
    }
}
