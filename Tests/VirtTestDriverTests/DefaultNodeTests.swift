import Foundation
import Testing
import VirtTestSupport
@testable import Virt
@testable import VirtTestDriver

@Suite struct DefaultNodeTests {
    @Test func builtInDomainTest() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        let d = try await c.lookupDomain(name: "test")
        #expect(d.id == 1)
        #expect(d.uuid.description == "6695eb01-f6a4-8304-79aa-97f2502e193f")
        #expect(try await d.state() == DomainStatus(.running, reason: 0))
        let info = try await d.info()
        #expect(info.state == .running)
        #expect(info.maxMemory == 8_388_608)
        #expect(info.memory == 2_097_152)
        #expect(info.vcpus == 2)
        #expect(info.cpuTime > 1_700_000_000 * 1_000_000_000)
        #expect(try await d.osType() == "linux")
        #expect(try await d.isActive())
        #expect(try await d.isPersistent())
        #expect(try await !d.isUpdated())
        #expect(try await !d.autostart())
        #expect(try await !d.hasManagedSaveImage())
        #expect(try await d.maxMemory() == 8_388_608)
        #expect(try await d.vcpuCount(flags: [.live, .maximum]) == 2)
        #expect(try await d.securityLabels() == [SecurityLabel(label: "libvirt-test", enforcing: true)])
        #expect(try await d.messages() == [])
        #expect(try await c.lookupDomain(id: 1).name == "test")
        #expect(try await c.lookupDomain(uuid: d.uuid).name == "test")
        let xml = try await d.xmlDesc()
        #expect(xml.hasPrefix("<domain type='test' id='1'>\n  <name>test</name>\n"))
        #expect(try await d.xmlDesc(flags: .inactive).hasPrefix("<domain type='test'>\n"))
    }

    @Test func hostFacts() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        #expect(try await c.hypervisorType() == "TEST")
        #expect(try await c.hypervisorVersion() == 2)
        #expect(try await c.nodeInfo() == NodeInfo(model: "i686", memory: 3_145_728, cpus: 16, mhz: 1400, nodes: 2,
                                                    sockets: 2, cores: 2, threads: 2))
        #expect(try await c.securityModel() == SecurityModel(model: "testSecurity", doi: ""))
        #expect(try await c.maxVcpus() == 32)
        #expect(try await c.nodeFreeMemory() == 3_145_728)
        #expect(try await c.isSecure())
        let reference = try Reference.python("""
            import libvirt, sys
            sys.stdout.write(libvirt.open('test:///default').getHostname())
            """)
        #expect(try await c.hostname() == reference)
    }

    /// The capabilities document equals the reference test driver's, byte for byte.
    @Test func capabilitiesMatchReference() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        let reference = try Reference.python("""
            import libvirt, sys
            sys.stdout.write(libvirt.open('test:///default').getCapabilities())
            """)
        #expect(try await c.capabilities() == reference)
    }

    @Test func domainStatsReportState() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        let all = try await c.domainStats()
        #expect(all.count == 1)
        #expect(all.first?.params == [TypedParam("state.state", .int(1)), TypedParam("state.reason", .int(0))])
        let cpuOnly = try await c.domainStats(types: .cpuTotal)
        #expect(cpuOnly.first?.params == [])
        await Support.expectError(.argumentUnsupported, .test,
                                  "argument unsupported: Stats types bits 0x2 are not supported by this daemon") {
            _ = try await c.domainStats(types: .cpuTotal, flags: .enforceStats)
        }
        #expect(try await c.domainStats(flags: .inactive).isEmpty)
    }

    /// Connections to test:///default share one state (through a private registry here, so that the
    /// process-wide state other suites use is left alone) and see each other's events; the last close frees it.
    @Test func defaultConnectionsShareStateUntilLastClose() async throws {
        let registry = SharedStateRegistry(make: TestDriverState.makeDefault)
        let uri = try ConnectionURI(parsing: "test:///default")
        let a = Connection(driver: try await TestDriver.open(uri, registry: registry))
        let b = Connection(driver: try await TestDriver.open(uri, registry: registry))
        #expect(registry.references == 2)
        var events = EventReader(b.events())
        _ = try await a.defineDomain(xml: Support.domainXML("shared"))
        let e = await events.next()
        #expect(e?.0 == .defined && e?.2 == "shared")
        #expect(try await b.lookupDomain(name: "shared").name == "shared")
        await a.close()
        #expect(registry.references == 1)
        #expect(try await b.lookupDomain(name: "shared").name == "shared")
        await b.close()
        #expect(registry.references == 0)
        let c = Connection(driver: try await TestDriver.open(uri, registry: registry))
        await Support.expectError(.noDomain, .test, "Domain not found") { _ = try await c.lookupDomain(name: "shared") }
        await c.close()
    }

    /// test:///default connections of the process share the registry's state.
    @Test func processWideDefaultIsShared() async throws {
        let uri = try ConnectionURI(parsing: "test:///default")
        let a = try await TestDriver.open(uri)
        let b = try await TestDriver.open(uri)
        #expect(a.state === b.state)
        await a.close()
        await b.close()
    }

    @Test func unsupportedOperations() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        let t = try await c.lookupDomain(name: "test")
        await Support.expectError(.noSupport, .domain,
                                  "this function is not supported by the connection driver: virDomainOpenConsole") {
            _ = try await c.driver.openConsole(t.ref, device: nil, flags: 0)
        }
        await Support.expectError(
            .noSupport, .domain,
            "this function is not supported by the connection driver: virConnectGetDomainCapabilities") {
            _ = try await c.domainCapabilities()
        }
        await Support.expectError(
            .noSupport, .none,
            "this function is not supported by the connection driver: virDomainQemuMonitorCommand") {
            _ = try await c.driver.qemuMonitorCommand(t.ref, command: "{}", flags: 0)
        }
    }

    @Test func openErrors() async throws {
        await Support.expectError(.invalidArg, .test,
                                  "invalid argument: testOpen: supply a path or use test:///default") {
            _ = try await Connection.open("test:///")
        }
    }
}

/// Runs python3-libvirt against the reference libvirt.
enum Reference {
    static func python(_ code: String) throws -> String {
        let r = try ChildProcess.run(["/usr/bin/python3", "-c", code])
        guard r.status == 0 else {
            throw VirtError.internalError("python3 exited with \(r.status)")
        }
        return r.stdout
    }
}

@Suite struct SharedStateRegistryTests {
    /// The shared state lives while connections hold it and starts over after the last one is released.
    @Test func lastReleaseFreesTheState() async throws {
        let registry = SharedStateRegistry(make: TestDriverState.makeDefault)
        let a = try registry.acquire()
        let b = try registry.acquire()
        #expect(a === b)
        #expect(registry.references == 2)
        _ = try await a.define(Support.domainXML("kept"), flags: [])
        registry.release(a)
        #expect(try await registry.acquire().lookup(name: "kept").name == "kept")
        registry.release(a)
        registry.release(b)
        #expect(registry.references == 0)
        let c = try registry.acquire()
        #expect(c !== a)
        await Support.expectError(.noDomain, .test, "Domain not found") { _ = try await c.lookup(name: "kept") }
        #expect(try await c.lookup(name: "test").id == 1)
    }
}
