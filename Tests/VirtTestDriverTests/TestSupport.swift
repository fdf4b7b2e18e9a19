import Foundation
import Testing
import VirtTestSupport
@testable import Virt
@testable import VirtTestDriver

/// Helpers shared by the test driver suites.
enum Support {
    /// A connection on a fresh default state of its own (libvirt's initial test:///default).
    static func freshConnection() async throws -> Connection {
        Connection(driver: try await TestDriver.openPrivateDefault())
    }

    /// Minimal domain XML with a fixed UUID.
    static func domainXML(_ name: String, uuid: String? = nil, memory: Int = 1024, vcpus: Int? = nil) -> String {
        var s = "<domain type='test'><name>\(name)</name>"
        if let uuid { s += "<uuid>\(uuid)</uuid>" }
        s += "<memory>\(memory)</memory>"
        if let vcpus { s += "<vcpu>\(vcpus)</vcpu>" }
        s += "<os><type>hvm</type></os></domain>"
        return s
    }

    /// A unique temporary directory (remove it with `TestPaths.removeDir`).
    static func tempDir() throws -> URL {
        URL(fileURLWithPath: try TestPaths.makeTempDir("td"))
    }

    /// Runs `body` in a fresh directory, removed afterwards whatever happens.
    static func withTempDir<T>(_ body: (URL) async throws -> T) async throws -> T {
        try await TestPaths.withTempDir("td") { try await body(URL(fileURLWithPath: $0)) }
    }

    /// Expects `body` to throw a VirtError with this code, error domain and exact message.
    static func expectError(_ code: VirtError.Code, _ domain: VirtError.ErrorDomain, _ message: String,
                            sourceLocation: SourceLocation = #_sourceLocation,
                            _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected error: \(message)", sourceLocation: sourceLocation)
        } catch let e as VirtError {
            #expect(e.code == code, "code of \(e.message)", sourceLocation: sourceLocation)
            #expect(e.domain == domain, "domain of \(e.message)", sourceLocation: sourceLocation)
            #expect(e.message == message, sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }
}

/// Reads events from a subscription. Drivers emit an operation's events before the operation returns, so
/// after an operation its events are already buffered; "no event" is checked with a later sentinel event.
struct EventReader {
    var iterator: AsyncStream<DomainEventRecord>.Iterator

    init(_ stream: AsyncStream<DomainEventRecord>) {
        iterator = stream.makeAsyncIterator()
    }

    /// The next lifecycle event as (type, detail, domain name, id).
    mutating func next() async -> (DomainEventType, Int32, String, Int32)? {
        while let r = await iterator.next() {
            if case .lifecycle(let e) = r.kind { return (e.type, e.detail, r.domain.name, r.domain.id) }
        }
        return nil
    }
}
