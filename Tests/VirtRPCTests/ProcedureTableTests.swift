import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
import VirtCore
import VirtTestSupport
@testable import VirtRPC

/// The procedure table: the catalog equals libvirt's procedure facts, every served procedure is a
/// catalogued row, and the read-only socket refuses exactly what libvirt refuses.
@Suite("procedure table")
struct ProcedureTableTests {
    /// One row of libvirt's table (Resources/remote_procs_acl_v9.6.0.tsv).
    struct FactRow {
        var program: String
        var number: Int32
        var name: String
        var priority: String
        var acl: String
        var aclFilter: String
        var readOnly: String
        var api: String
    }

    static func facts() throws -> [FactRow] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Resources/remote_procs_acl_v9.6.0.tsv").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line -> FactRow? in
            if line.hasPrefix("#") || line.hasPrefix("program\t") { return nil }
            let c = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard c.count >= 11, let n = Int32(c[1]) else { return nil }
            return FactRow(program: c[0], number: n, name: c[2], priority: c[6], acl: c[7], aclFilter: c[8],
                           readOnly: c[9], api: c[10])
        }
    }

    static func programNumber(_ p: String) -> UInt32 {
        switch p {
        case "qemu": RPCProgram.qemu
        case "lxc": RPCProgram.lxc
        default: RPCProgram.remote
        }
    }

    @Test("the catalog declares all 451 procedures of libvirt 9.6.0 with their read-only rule, ACL, priority and API")
    func catalogMatchesFacts() throws {
        let facts = try Self.facts()
        #expect(facts.count == 451)
        #expect(ProcedureInfo.catalog.count == facts.count)
        for f in facts {
            guard let info = ProcedureInfo.lookup(program: Self.programNumber(f.program), number: f.number) else {
                Issue.record("\(f.name) (\(f.number)) missing from the catalog")
                continue
            }
            #expect(info.name == f.name)
            #expect(info.priority == (f.priority == "high" ? .high : .low), "\(f.name)")
            let acl = info.acl.map(\.description).joined(separator: ";")
            #expect(acl == (f.acl == "none" ? "" : f.acl), "\(f.name)")
            #expect((info.aclFilter?.description ?? "-") == f.aclFilter, "\(f.name)")
            switch f.readOnly {
            case "yes": #expect(info.readOnly == .allowed, "\(f.name)")
            case "no": #expect(info.readOnly == .refused, "\(f.name)")
            case "n/a:event": #expect(info.readOnly == .event, "\(f.name)")
            default:
                #expect(f.readOnly.hasPrefix("partial:"), "\(f.name)")
                switch info.readOnly {
                case .refusedWithFlags, .refusedWhenSource: break
                default: Issue.record("\(f.name): \(info.readOnly) for \(f.readOnly)")
                }
            }
            if let api = info.api {
                #expect(f.api.contains(api + "("), "\(f.name): \(api) not in \(f.api)")
            } else {
                #expect(f.api.hasPrefix("-"), "\(f.name)")
            }
        }
        // Conditional rules carry libvirt's flag values.
        #expect(ProcedureInfo.remote(.domainGetXMLDesc)?.readOnly == .refusedWithFlags(1 | 8))
        #expect(ProcedureInfo.remote(.domainGetVcpusFlags)?.readOnly == .refusedWithFlags(8))
        #expect(ProcedureInfo.remote(.domainInterfaceAddresses)?.readOnly == .refusedWhenSource(1))
        #expect(ProcedureInfo.remote(.domainCreate)?.apiName == "virDomainCreate")
        #expect(ProcedureInfo.remote(.networkCreate)?.apiDomain == VirtError.ErrorDomain(rawValue: 19))
    }

    @Test("every served procedure is a catalogued row, served once, and no event message is served as a call")
    func servedRows() {
        var seen = Set<String>()
        for info in ProcedureTable.served {
            let key = "\(info.program):\(info.number)"
            #expect(!seen.contains(key), "\(info.name) served twice")
            seen.insert(key)
            #expect(!info.name.hasPrefix("UNDECLARED"), "procedure \(info.number) is not in the catalog")
            #expect(info.readOnly != .event, "\(info.name) is an event message")
            #expect(ProcedureTable.row(program: info.program.number, number: info.number) != nil)
        }
        #expect(ProcedureTable.row(program: RPCProgram.remote, number: 9999) == nil)
        #expect(ProcedureTable.row(program: RPCProgram.remote, number: -1) == nil)
    }

    /// Opens a raw client on `socket` (test:///default).
    static func open(_ socket: String, readOnly: Bool) async throws -> RPCClient {
        let c = try await RPCClient.connect(.unix(socket))
        _ = try await c.call(RemoteCalls.connectOpen, XDRTuple2(String?("test:///default"), UInt32(readOnly ? 1 : 0)))
        return c
    }

    /// Calls `proc` with raw argument bytes; the error, if any.
    static func callError(_ c: RPCClient, program: UInt32, _ proc: Int32, _ payload: [UInt8]) async -> VirtError? {
        do {
            _ = try await c.call(program: program, proc) { $0.buffer.writeBytes(payload) }
            return nil
        } catch let e as VirtError {
            return e
        } catch {
            return VirtError.internalError("\(error)")
        }
    }

    @Test("the read-only socket refuses every served procedure libvirt refuses, in libvirt's words, and allows the rest")
    func readOnlyWalk() async throws {
        let d = try VirtdProcess()
        defer { d.stop() }
        let ro = try await Self.open(d.readOnlySocket, readOnly: false)
        let rw = try await Self.open(d.socket, readOnly: false)
        // Zero bytes decode as empty strings, zero numbers, absent optionals and empty lists: valid
        // arguments for every served procedure, with no flag set.
        let zeros = [UInt8](repeating: 0, count: 256)
        var refused = 0
        for info in ProcedureTable.served where ![1, 2].contains(info.number) || info.program != .remote {
            let e = await Self.callError(ro, program: info.program.number, info.number, zeros)
            switch info.readOnly {
            case .refused:
                refused += 1
                #expect(e?.code == .operationDenied, "\(info.name): \(e.map { "\($0)" } ?? "allowed")")
                #expect(e?.message == "operation forbidden: read only access prevents \(info.apiName)", "\(info.name)")
                #expect(e?.domain == info.apiDomain, "\(info.name)")
            default:
                #expect(e?.code != .operationDenied, "\(info.name) refused on the read-only socket")
            }
            // The same call on the read-write socket is never refused for being read-only.
            let w = await Self.callError(rw, program: info.program.number, info.number, zeros)
            #expect(w?.code != .operationDenied, "\(info.name) refused on the read-write socket")
        }
        #expect(refused >= 30)
        // Conditional rules: the secure XML flag, and the guest vCPU count.
        let domainArgs = [UInt8](repeating: 0, count: 24)  // name "", zero uuid, id 0
        let secure = await Self.callError(ro, program: RPCProgram.remote, RemoteProcedure.domainGetXMLDesc.rawValue,
                                          domainArgs + [0, 0, 0, 1])
        #expect(secure?.code == .operationDenied)
        #expect(secure?.message == "operation forbidden: virDomainGetXMLDesc with secure flag")
        let migratable = await Self.callError(ro, program: RPCProgram.remote,
                                              RemoteProcedure.domainGetXMLDesc.rawValue, domainArgs + [0, 0, 0, 8])
        #expect(migratable?.code == .operationDenied)
        let inactive = await Self.callError(ro, program: RPCProgram.remote, RemoteProcedure.domainGetXMLDesc.rawValue,
                                            domainArgs + [0, 0, 0, 2])
        #expect(inactive?.code != .operationDenied)
        let guest = await Self.callError(ro, program: RPCProgram.remote, RemoteProcedure.domainGetVcpusFlags.rawValue,
                                         domainArgs + [0, 0, 0, 8])
        #expect(guest?.message == "operation forbidden: read only access prevents virDomainGetVcpusFlags")
        // A procedure libvirt declares but no row serves: refused when libvirt refuses it on a read-only
        // connection, NO_SUPPORT naming the API otherwise; an undeclared number is unknown.
        let netCreate = await Self.callError(ro, program: RPCProgram.remote, RemoteProcedure.networkCreate.rawValue,
                                             zeros)
        #expect(netCreate?.message == "operation forbidden: read only access prevents virNetworkCreate")
        #expect(netCreate?.domain == VirtError.ErrorDomain(rawValue: 19))
        let filterList = await Self.callError(ro, program: RPCProgram.remote,
                                              RemoteProcedure.connectListAllNWFilters.rawValue, zeros)
        #expect(filterList?.code == .noSupport)
        #expect(filterList?.message == "this function is not supported by the connection driver: virConnectListAllNWFilters")
        let unknown = await Self.callError(ro, program: RPCProgram.remote, 9999, zeros)
        #expect(unknown?.message.hasSuffix("unknown procedure: 9999") == true)
        let event = await Self.callError(ro, program: RPCProgram.remote,
                                         RemoteProcedure.domainEventCallbackLifecycle.rawValue, zeros)
        #expect(event?.code == .noSupport)
        // A client that asked for a read-only connection on the read-write socket is refused alike.
        let roFlag = try await Self.open(d.socket, readOnly: true)
        let e = await Self.callError(roFlag, program: RPCProgram.remote, RemoteProcedure.domainDestroy.rawValue, zeros)
        #expect(e?.message == "operation forbidden: read only access prevents virDomainDestroy")
        await ro.close()
        await rw.close()
        await roFlag.close()
    }
}

/// Priorities: with one worker held by a slow low-priority call, high-priority calls still answer and
/// low-priority ones wait for the worker.
@Suite("procedure priorities")
struct ProcedurePriorityTests {
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
        func wait() async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.open { return true }
                    s.waiters.append(c)
                    return false
                }
                if now { c.resume() }
            }
        }
        var isOpen: Bool { state.withLock { $0.open } }
        func open() {
            let ws = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                s.open = true
                let w = s.waiters
                s.waiters = []
                return w
            }
            for w in ws { w.resume() }
        }
    }

    /// A driver whose start waits for the gate.
    final class SlowDriver: HypervisorDriver {
        let uri = "slow:///"
        let gate = Gate()
        let started = Atomic<Int>(0)
        static let dom = DomainRef(name: "slow", uuid: VirtUUID(bytes: [UInt8](repeating: 1, count: 16))!, id: 1)
        func events() -> AsyncStream<DomainEventRecord> { AsyncStream { _ in } }
        func openConsole(_ domain: DomainRef, device: String?, flags: UInt32) async throws -> any ByteStream {
            throw VirtError.noSupport("virDomainOpenConsole")
        }
        func qemuMonitorCommand(_ domain: DomainRef, command: String, flags: UInt32) async throws -> String {
            throw VirtError.noSupport("virDomainQemuMonitorCommand")
        }
        func hostname() async throws -> String { "slowhost" }
        func lookupDomain(name: String) async throws -> DomainRef { Self.dom }
        func start(_ domain: DomainRef, flags: CreateFlags) async throws -> DomainRef {
            started.add(1, ordering: .sequentiallyConsistent)
            await gate.wait()
            return domain
        }
        func xmlDesc(_ domain: DomainRef, flags: XMLFlags) async throws -> String { "<domain/>" }
    }

    struct Provider: DriverProvider {
        let driver: SlowDriver
        func open(uri: String?, readOnly: Bool) async throws -> any HypervisorDriver { driver }
        func release(_ driver: any HypervisorDriver) async {}
    }

    @Test("max_workers = 1: a slow start holds the worker, GET_HOSTNAME (high) answers, GET_XML_DESC (low) waits")
    func highPriorityBypassesWorkers() async throws {
        let dir = try TestPaths.makeTempDir("prio")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = RemoteServerConfig()
        config.unixSocketPath = dir + "/sock"
        config.maxWorkers = 1
        let driver = SlowDriver()
        let server = RemoteServer(config: config, provider: Provider(driver: driver))
        try await server.start()
        defer { Task { await server.stop() } }
        let a = try await ProcedureTableTests.open(dir + "/sock", readOnly: false)
        let b = try await ProcedureTableTests.open(dir + "/sock", readOnly: false)
        let slow = Task { try await a.call(RemoteCalls.domainCreateWithFlags, XDRTuple2(SlowDriver.dom, UInt32(0))) }
        for _ in 0..<500 where driver.started.load(ordering: .sequentiallyConsistent) == 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(driver.started.load(ordering: .sequentiallyConsistent) == 1)
        #expect(ProcedureInfo.remote(.connectGetHostname)?.priority == .high)
        #expect(try await b.call(RemoteCalls.connectGetHostname, XDRVoid()) == "slowhost")
        let done = Gate()
        let low = Task {
            let x = try await b.call(RemoteCalls.domainGetXMLDesc, XDRTuple2(SlowDriver.dom, UInt32(0)))
            done.open()
            return x
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!done.isOpen, "a low-priority call ran while the only worker was busy")
        driver.gate.open()
        _ = try await slow.value
        #expect(try await low.value == "<domain/>")
        await a.close()
        await b.close()
    }
}
