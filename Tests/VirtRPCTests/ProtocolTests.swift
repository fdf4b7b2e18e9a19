import Foundation
import NIOCore
import Synchronization
import Testing
import Virt
@testable import VirtRPC

/// Protocol behaviour of virtd seen through a raw RPC client: handshake rules, errors, legacy events,
/// keepalive from the server side.
@Suite("virtd protocol behaviour")
struct ProtocolTests {
    @Test("calls before CONNECT_OPEN, unknown procedures and a second open get libvirt's errors")
    func errors() async throws {
        let d = try VirtdProcess()
        defer { d.stop() }
        let c = try await RPCClient.connect(.unix(d.socket))
        await #expect(throws: VirtError(.internalError, domain: .rpc, "internal error: connection not open")) {
            _ = try await c.call(RemoteProcedure.connectGetHostname.rawValue)
        }
        var r = try await c.call(RemoteProcedure.authList.rawValue)
        #expect(try r.uint() == 1 && r.int() == 0)
        _ = try await c.call(RemoteProcedure.connectOpen.rawValue) { $0.optionalString("test:///default"); $0.uint(0) }
        await #expect(throws: VirtError(.internalError, domain: .rpc, "internal error: connection already open")) {
            _ = try await c.call(RemoteProcedure.connectOpen.rawValue) { $0.optionalString(nil); $0.uint(0) }
        }
        do {
            _ = try await c.call(999)
            Issue.record("unknown procedure succeeded")
        } catch let e as VirtError {
            #expect(e.code == .noSupport && e.domain == .rpc)
            #expect(e.message.hasSuffix("unknown procedure: 999"))
        }
        // Truncated arguments: an RPC error, and the connection keeps working.
        await #expect(throws: VirtError.self) { _ = try await c.call(RemoteProcedure.domainLookupByName.rawValue) }
        var h = try await c.call(RemoteProcedure.connectGetHostname.rawValue)
        #expect(try !h.string().isEmpty)
        await c.close()
    }

    @Test("legacy CONNECT_DOMAIN_EVENT_REGISTER_ANY delivers DOMAIN_EVENT_LIFECYCLE (107) messages")
    func legacyEvents() async throws {
        let d = try VirtdProcess()
        defer { d.stop() }
        let c = try await RPCClient.connect(.unix(d.socket))
        _ = try await c.call(RemoteProcedure.connectOpen.rawValue) { $0.optionalString("test:///default"); $0.uint(0) }
        let (stream, cont) = AsyncStream<(Int32, Int32, Int32)>.makeStream()
        c.onMessage { p in
            var r = XDRReader(buffer: p.payload)
            guard p.header.procedure == RemoteProcedure.domainEventLifecycle.rawValue,
                  (try? r.domain()) != nil, let ev = try? r.int(), let detail = try? r.int() else { return }
            cont.yield((p.header.procedure, ev, detail))
        }
        _ = try await c.call(RemoteProcedure.connectDomainEventRegisterAny.rawValue) { $0.int(0) }
        await #expect(throws: VirtError.self) {
            _ = try await c.call(RemoteProcedure.connectDomainEventRegisterAny.rawValue) { $0.int(0) }
        }
        let other = try await Connection.open(d.testURI)
        let dom = try await other.lookupDomain(name: "test")
        try await dom.suspend()
        try await dom.resume()
        var got: [(Int32, Int32)] = []
        for await (_, ev, detail) in stream {
            got.append((ev, detail))
            if got.count == 2 { break }
        }
        #expect(got.map(\.0) == [3, 4])
        _ = try await c.call(RemoteProcedure.connectDomainEventDeregisterAny.rawValue) { $0.int(0) }
        await other.close()
        await c.close()
    }

    @Test("the server pings an idle client that asked for keepalive, and drops it when pings go unanswered")
    func serverKeepalive() async throws {
        let d = try VirtdProcess(config: "keepalive_interval = 1\nkeepalive_count = 2\n")
        defer { d.stop() }
        let peer = try #require(RawPeer(path: d.socket))
        let ask = FuzzTests.packet(RPCHeader(program: RPCProgram.remote, procedure: 60, type: .call, serial: 1),
                                   [0, 0, 0, 10])
        #expect(peer.send(ask))
        // Read until the connection is dropped (bounded: at most 30 s), collecting what arrives.
        var bytes = [UInt8]()
        let end = Date().addingTimeInterval(30)
        while !peer.dropped && Date() < end {
            var p = pollfd(fd: peer.fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 200)
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = buf.withUnsafeMutableBytes { recv(peer.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { bytes += buf[0..<n] } else if n == 0 { peer.dropped = true }
        }
        #expect(peer.dropped)
        // The reply to SUPPORTS_FEATURE (supported = 1), then PING messages of the keepalive program.
        let ping: [UInt8] = [0, 0, 0, 0x1c, 0x6b, 0x65, 0x65, 0x70, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2]
        var pings = 0
        var i = 0
        while i + 20 <= bytes.count {
            if Array(bytes[i..<i + 20]) == ping { pings += 1 }
            i += 1
        }
        #expect(pings == 2)
        #expect(Array(bytes.prefix(32).suffix(4)) == [0, 0, 0, 1])
    }

    @Test("SIGTERM: virtd exits 0 and removes its sockets and pid file; the log file has the shutdown")
    func cleanShutdown() async throws {
        let d = try VirtdProcess(config: "log_level = 2\n")
        defer { d.stop() }
        let conn = try await Connection.open(d.testURI)
        #expect(try await conn.hostname().isEmpty == false)
        let status = d.terminateKeepingFiles()
        #expect(status == 0)
        for f in [d.socket, d.readOnlySocket, d.dir + "/run/virtd.pid"] {
            #expect(!FileManager.default.fileExists(atPath: f), "\(f)")
        }
        let log = try String(contentsOfFile: d.dir + "/log/virtd.log", encoding: .utf8)
        #expect(log.contains("shutting down") && log.contains("virtd stopped"))
        await conn.close()
    }
}
