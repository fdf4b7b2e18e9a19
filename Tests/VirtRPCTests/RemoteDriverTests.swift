import Foundation
import Testing
import Virt
@testable import VirtRPC

/// The Swift remote driver (`Connection.open` with a remote URI) against virtd, over unix and TCP.
@Suite("Remote driver against virtd")
struct RemoteDriverTests {
    static let xml = """
    <domain type='test'><name>rd</name><uuid>9dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
    <memory unit='KiB'>131072</memory><vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>
    """

    func exercise(_ conn: Connection) async throws {
        #expect(try await conn.hypervisorType() == "TEST")
        #expect(try await conn.listAllDomains().map(\.name) == ["test"])
        let events = conn.events()
        if let remote = conn.driver as? RemoteDriver { try await remote.registerEvents() }
        var dom = try await conn.defineDomain(xml: Self.xml)
        #expect(dom.id == -1)
        try await dom.start()
        #expect(dom.id > 0)
        #expect(try await dom.state().state == .running)
        try await dom.suspend()
        try await dom.resume()
        try await dom.destroy()
        try await dom.undefine()
        var seen: [String] = []
        for await ev in events {
            if case .lifecycle(let l) = ev.kind, ev.domain.name == "rd" {
                seen.append("\(l.type.virshLabel) \(l.virshDetailLabel)")
                if l.type == .undefined { break }
            }
        }
        #expect(seen == ["Defined Added", "Started Booted", "Suspended Paused", "Resumed Unpaused",
                         "Stopped Destroyed", "Undefined Removed"])
        do {
            _ = try await conn.lookupDomain(name: "nosuch")
            Issue.record("lookup of a missing domain succeeded")
        } catch let e as VirtError {
            #expect(e.code == .noDomain)
            #expect(e.message.hasPrefix("Domain not found"))
        }
    }

    @Test("events() alone: calls made right after it wait for the registration, so none of their events is lost")
    func eventsWithoutExplicitRegistration() async throws {
        let d = try VirtdProcess()
        defer { d.stop() }
        for round in 0..<10 {
            let conn = try await Connection.open(d.testURI)
            let events = conn.events()
            // No registerEvents(): the define is sent as soon as the subscription exists.
            let dom = try await conn.defineDomain(xml: Self.xml)
            try await dom.undefine()
            var seen: [String] = []
            for await ev in events {
                if case .lifecycle(let l) = ev.kind, ev.domain.name == "rd" {
                    seen.append("\(l.type.virshLabel) \(l.virshDetailLabel)")
                    if l.type == .undefined { break }
                }
            }
            #expect(seen == ["Defined Added", "Undefined Removed"], "round \(round)")
            await conn.close()
        }
    }

    @Test("test+unix:///default?socket=PATH: lifecycle, events, errors")
    func unixSocket() async throws {
        let d = try VirtdProcess()
        defer { d.stop() }
        let conn = try await Connection.open(d.testURI)
        try await exercise(conn)
        #expect(conn.uri == "test:///default")
        await conn.close()
    }

    @Test("test+tcp://127.0.0.1:PORT/default when the daemon listens (--listen) on TCP with auth none")
    func tcp() async throws {
        let d = try VirtdProcess(config: "listen_tls = 0\nlisten_tcp = 1\nauth_tcp = \"none\"\ntcp_port = 0\nlog_level = 2\n",
                                 extraArgs: ["--listen"])
        defer { d.stop() }
        let port = try #require(d.tcpPort)
        let conn = try await Connection.open("test+tcp://127.0.0.1:\(port)/default")
        try await exercise(conn)
        await conn.close()
        // Debian's virsh reaches the same listener.
        let r = try virsh("test+tcp://127.0.0.1:\(port)/default", "list --all --name")
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "test")
    }

    @Test("read-only socket: queries work, changes are denied with OPERATION_DENIED")
    func readOnly() async throws {
        let d = try VirtdProcess()
        defer { d.stop() }
        let conn = try await Connection.open(d.readOnlyTestURI)
        #expect(try await conn.listAllDomains().count == 1)
        let dom = try await conn.lookupDomain(name: "test")
        await #expect(throws: VirtError.self) { try await dom.destroy() }
        do {
            try await dom.suspend()
        } catch let e as VirtError {
            #expect(e.code == .operationDenied)
        }
        await conn.close()
    }

    @Test("fifty clients at once, racing starts and destroys of one domain: every answer is a success or the test driver's state error")
    func manyClients() async throws {
        let d = try VirtdProcess()
        defer { d.stop() }
        let uri = d.testURI
        let outcomes = try await withThrowingTaskGroup(of: [String].self) { g in
            for i in 0..<50 {
                g.addTask {
                    let conn = try await Connection.open(uri)
                    var out: [String] = []
                    for j in 0..<10 {
                        _ = try await conn.hostname()
                        var dom = try await conn.lookupDomain(name: "test")
                        do {
                            if (i + j) % 2 == 0 { try await dom.destroy() } else { try await dom.start() }
                            out.append("ok")
                        } catch let e as VirtError {
                            // libvirt's test driver: "domain is not running" (OPERATION_INVALID) on destroy,
                            // "Domain 'test' is already running" (INTERNAL_ERROR) on start.
                            let expected = e.code == .operationInvalid
                                || (e.code == .internalError && e.message.contains("is already running"))
                            out.append(expected ? "invalid" : "unexpected \(e)")
                        }
                    }
                    await conn.close()
                    return out
                }
            }
            var all: [String] = []
            for try await o in g { all += o }
            return all
        }
        #expect(outcomes.count == 500)
        #expect(outcomes.allSatisfy { $0 == "ok" || $0 == "invalid" }, "\(outcomes.filter { $0.hasPrefix("unexpected") }.prefix(2))")
        #expect(outcomes.contains("ok"))
        let state = try virsh(uri, "domstate test").stdout
        #expect(state.contains("running") || state.contains("shut off"))
    }
}
