import Foundation
import Testing
@testable import Virt
@testable import VirtTestDriver

/// Each operation of the test driver: its state/reason afterwards, its events and its errors (codes, error domains
/// and messages as libvirt 9.0's test driver reports them).
@Suite struct LifecycleTests {
    static let u1 = "11111111-2222-3333-4444-000000000001"
    static let u2 = "11111111-2222-3333-4444-000000000002"

    @Test func defineStartStopUndefine() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        var events = EventReader(c.events())
        var d = try await c.defineDomain(xml: Support.domainXML("a", uuid: Self.u1))
        #expect(d.id == -1)
        #expect(try await d.state() == .shutoff(.unknown))
        #expect(await events.next()! == (.defined, 0, "a", -1))
        _ = try await c.defineDomain(xml: Support.domainXML("a", uuid: Self.u1, memory: 2048))
        #expect(await events.next()! == (.defined, 1, "a", -1))
        try await d.start()
        #expect(d.id == 2)
        #expect(try await d.state() == .running(.booted))
        #expect(await events.next()! == (.started, 0, "a", 2))
        #expect(try await c.listDomainIDs() == [1, 2])
        #expect(try await c.numberOfDomains() == 2)
        #expect(try await c.lookupDomain(id: 2).name == "a")
        try await d.destroy()
        #expect(await events.next()! == (.stopped, 1, "a", -1))
        #expect(try await d.state() == .shutoff(.destroyed))
        #expect(try await c.listDefinedDomainNames() == ["a"])
        #expect(try await c.numberOfDefinedDomains() == 1)
        await Support.expectError(.noDomain, .test, "Domain not found") { _ = try await c.lookupDomain(id: 2) }
        try await d.undefine()
        #expect(await events.next()! == (.undefined, 0, "a", -1))
        await Support.expectError(.noDomain, .test, "Domain not found") { _ = try await c.lookupDomain(name: "a") }
        await Support.expectError(
            .noDomain, .test, "Domain not found: no domain with matching uuid '\(Self.u1)' (a)") {
            _ = try await d.state()
        }
    }

    @Test func defineConflicts() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        _ = try await c.defineDomain(xml: Support.domainXML("a", uuid: Self.u1))
        await Support.expectError(.operationFailed, .domain,
                                  "operation failed: domain 'a' already exists with uuid \(Self.u1)") {
            _ = try await c.defineDomain(xml: Support.domainXML("a", uuid: Self.u2))
        }
        await Support.expectError(.operationFailed, .domain,
                                  "operation failed: domain 'a' is already defined with uuid \(Self.u1)") {
            _ = try await c.defineDomain(xml: Support.domainXML("b", uuid: Self.u1))
        }
        await Support.expectError(.invalidArg, .test, "unsupported flags (0x2) in function testDomainDefineXMLFlags") {
            _ = try await c.defineDomain(xml: Support.domainXML("b"), flags: DefineFlags(rawValue: 2))
        }
    }

    @Test func suspendResumeAndTheirErrors() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        var events = EventReader(c.events())
        let t = try await c.lookupDomain(name: "test")
        try await t.suspend()
        #expect(try await t.state() == .paused(.user))
        #expect(await events.next()! == (.suspended, 0, "test", 1))
        await Support.expectError(.internalError, .test, "internal error: domain 'test' not running") {
            try await t.suspend()
        }
        try await t.resume()
        #expect(try await t.state() == .running(.unpaused))
        #expect(await events.next()! == (.resumed, 0, "test", 1))
        await Support.expectError(.internalError, .test, "internal error: domain 'test' not paused") {
            try await t.resume()
        }
        try await t.destroy()
        #expect(await events.next()! == (.stopped, 1, "test", -1))
        await Support.expectError(.operationInvalid, .domain, "Requested operation is not valid: domain is not running") {
            try await t.destroy()
        }
        await Support.expectError(.internalError, .test, "internal error: domain 'test' not running") {
            try await t.shutdown()
        }
        await Support.expectError(.operationInvalid, .domain, "Requested operation is not valid: domain is not running") {
            try await t.reboot()
        }
        await Support.expectError(.operationInvalid, .domain, "Requested operation is not valid: domain is not running") {
            try await t.reset()
        }
    }

    @Test func shutdownRebootAndFlags() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        var events = EventReader(c.events())
        var t = try await c.lookupDomain(name: "test")
        try await t.suspend()
        _ = await events.next()
        // Reboot of a paused domain: running/booted again, without any event.
        try await t.reboot()
        #expect(try await t.state() == .running(.booted))
        try await t.reset()
        try await t.shutdown()
        #expect(await events.next()! == (.stopped, 0, "test", -1))
        #expect(try await t.state() == .shutoff(.shutdown))
        await Support.expectError(.invalidArg, .test, "unsupported flags (0x1) in function testDomainCreateWithFlags") {
            try await t.start(flags: .startPaused)
        }
        try await t.start()
        #expect(t.id == 2)
        await Support.expectError(.internalError, .test, "internal error: Domain 'test' is already running") {
            try await t.start()
        }
        await Support.expectError(.invalidArg, .test, "unsupported flags (0x1) in function testDomainShutdownFlags") {
            try await t.shutdown(flags: .acpiPowerButton)
        }
        await Support.expectError(.invalidArg, .test, "unsupported flags (0x20) in function testDomainReboot") {
            try await t.reboot(flags: ShutdownFlags(rawValue: 0x20))
        }
        await Support.expectError(.invalidArg, .test, "unsupported flags (0x2) in function testDomainDestroyFlags") {
            try await t.destroy(flags: .removeLogs)
        }
        try await t.destroy(flags: .graceful)
    }

    @Test func transientDomainsVanishWhenStopped() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        var events = EventReader(c.events())
        let d = try await c.createDomain(xml: Support.domainXML("tr", uuid: Self.u1))
        #expect(d.id == 2)
        #expect(try await !d.isPersistent())
        #expect(await events.next()! == (.started, 0, "tr", 2))
        await Support.expectError(.operationInvalid, .domain,
                                  "Requested operation is not valid: domain 'tr' is already active") {
            _ = try await c.createDomain(xml: Support.domainXML("tr", uuid: Self.u1))
        }
        await Support.expectError(.operationInvalid, .test,
                                  "Requested operation is not valid: cannot do managed save for transient domain") {
            try await d.managedSave()
        }
        // A transient domain keeps its id in the stopped event, as libvirt's.
        try await d.shutdown()
        #expect(await events.next()! == (.stopped, 0, "tr", 2))
        await Support.expectError(.noDomain, .test, "Domain not found") { _ = try await c.lookupDomain(name: "tr") }
        await Support.expectError(.invalidArg, .test, "unsupported flags (0x1) in function testDomainCreateXML") {
            _ = try await c.createDomain(xml: Support.domainXML("tr"), flags: .startPaused)
        }
    }

    @Test func undefineRunningMakesTransient() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        var events = EventReader(c.events())
        var d = try await c.defineDomain(xml: Support.domainXML("p", uuid: Self.u1, memory: 2048))
        try await d.start()
        _ = try await c.defineDomain(xml: Support.domainXML("p", uuid: Self.u1, memory: 1024))
        #expect(try await d.xmlDesc().contains("<memory unit='KiB'>2048</memory>"))
        #expect(try await d.xmlDesc(flags: .inactive).contains("<memory unit='KiB'>1024</memory>"))
        _ = await events.next()
        _ = await events.next()
        #expect(await events.next()! == (.defined, 1, "p", 2))
        try await d.undefine()
        #expect(await events.next()! == (.undefined, 0, "p", 2))
        #expect(try await !d.isPersistent())
        #expect(try await d.isActive())
        try await d.destroy()
        // The persistent definition it had while running is dropped with the domain: the id was reset.
        #expect(await events.next()! == (.stopped, 1, "p", -1))
        await Support.expectError(.noDomain, .test, "Domain not found") { _ = try await c.lookupDomain(name: "p") }
    }

    @Test func saveAndRestore() async throws {
        try await Support.withTempDir { dir in
            let c = try await Support.freshConnection()
            defer { Task { await c.close() } }
            var events = EventReader(c.events())
            let t = try await c.lookupDomain(name: "test")
            let path = dir.appendingPathComponent("test.save").path
            await Support.expectError(.argumentUnsupported, .test, "argument unsupported: xml modification unsupported") {
                try await t.save(to: path, xml: "<domain/>")
            }
            await Support.expectError(.invalidArg, .test, "unsupported flags (0x4) in function testDomainSaveFlags") {
                try await t.save(to: path, flags: .paused)
            }
            try await t.save(to: path)
            #expect(await events.next()! == (.stopped, 4, "test", -1))
            #expect(try await t.state() == .shutoff(.saved))
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(bytes.prefix(15) == Data("TestGuestMagic\0".utf8))
            let attrs = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attrs[.posixPermissions] as? Int) == 0o600)
            await Support.expectError(.operationInvalid, .domain,
                                      "Requested operation is not valid: domain is not running") {
                try await t.save(to: path)
            }
            try await c.restoreDomain(from: path)
            #expect(await events.next()! == (.started, 2, "test", 2))
            #expect(try await t.state() == .running(.restored))
            await Support.expectError(.operationInvalid, .domain,
                                      "Requested operation is not valid: domain 'test' is already active") {
                try await c.restoreDomain(from: path)
            }
            await Support.expectError(.invalidArg, .test, "unsupported flags (0x4) in function testDomainRestoreFlags") {
                try await c.restoreDomain(from: path, flags: .paused)
            }
            let missing = dir.appendingPathComponent("missing").path
            await Support.expectError(.systemError, .test,
                                      "cannot read domain image '\(missing)': No such file or directory") {
                try await c.restoreDomain(from: missing)
            }
            let bad = dir.appendingPathComponent("nodir/x.save").path
            await Support.expectError(.systemError, .test,
                                      "saving domain 'test' to '\(bad)': open failed: No such file or directory") {
                try await t.save(to: bad)
            }
            // Relative paths are made absolute against the current directory before reaching the driver.
            let cwd = FileManager.default.currentDirectoryPath
            await Support.expectError(.systemError, .test,
                                      "cannot read domain image '\(cwd)/no-such-image.save': No such file or directory") {
                try await c.restoreDomain(from: "no-such-image.save")
            }
            let garbage = dir.appendingPathComponent("garbage").path
            try Data("NotAGuestMagic\0\0\0\0\0".utf8).write(to: URL(fileURLWithPath: garbage))
            await Support.expectError(.internalError, .test, "internal error: mismatched header magic") {
                try await c.restoreDomain(from: garbage)
            }
        }
    }

    @Test func managedSave() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        var events = EventReader(c.events())
        var t = try await c.lookupDomain(name: "test")
        await Support.expectError(.invalidArg, .test, "unsupported flags (0x8) in function testDomainManagedSave") {
            try await t.managedSave(flags: .resetNVRAM)
        }
        try await t.managedSave(flags: .bypassCache)
        #expect(await events.next()! == (.stopped, 4, "test", -1))
        #expect(try await t.state() == .shutoff(.saved))
        #expect(try await t.hasManagedSaveImage())
        #expect(try await c.listAllDomains(flags: .managedSave).map(\.name) == ["test"])
        await Support.expectError(.operationInvalid, .domain, "Requested operation is not valid: domain is not running") {
            try await t.managedSave()
        }
        await Support.expectError(
            .operationInvalid, .test,
            "Requested operation is not valid: Refusing to undefine while domain managed save image exists") {
            try await t.undefine()
        }
        // Starting with a managed save image boots (the test driver keeps no memory state) and drops the image.
        try await t.start()
        #expect(await events.next()! == (.started, 0, "test", 2))
        #expect(try await t.state() == .running(.booted))
        #expect(try await !t.hasManagedSaveImage())
        try await t.managedSave()
        _ = await events.next()
        try await t.managedSaveRemove()
        #expect(try await !t.hasManagedSaveImage())
        try await t.start()
        _ = await events.next()
        try await t.managedSave()
        _ = await events.next()
        await Support.expectError(.invalidArg, .test, "unsupported flags (0x4) in function testDomainUndefineFlags") {
            try await t.undefine(flags: .nvram)
        }
        try await t.undefine(flags: .managedSave)
        #expect(await events.next()! == (.undefined, 0, "test", -1))
    }

    @Test func autostartAndListingFilters() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        var a = try await c.defineDomain(xml: Support.domainXML("a", uuid: Self.u1))
        _ = try await c.defineDomain(xml: Support.domainXML("b", uuid: Self.u2))
        try await a.setAutostart(true)
        #expect(try await a.autostart())
        try await a.start()
        try await a.suspend()
        func names(_ f: ListAllDomainsFlags) async throws -> [String] {
            try await c.listAllDomains(flags: f).map(\.name)
        }
        #expect(try await names([]) == ["test", "a", "b"])
        #expect(try await names(.active) == ["test", "a"])
        #expect(try await names(.inactive) == ["b"])
        #expect(try await names(.autostart) == ["a"])
        #expect(try await names(.noAutostart) == ["test", "b"])
        #expect(try await names(.paused) == ["a"])
        #expect(try await names([.running, .shutoff]) == ["test", "b"])
        #expect(try await names(.transient) == [])
        #expect(try await names(.hasSnapshot) == [])
        #expect(try await names(.noSnapshot) == ["test", "a", "b"])
        await Support.expectError(.invalidArg, .test,
                                  "unsupported flags (0x100000) in function testConnectListAllDomains") {
            _ = try await names(ListAllDomainsFlags(rawValue: 1 << 20))
        }
        await Support.expectError(.invalidArg, .domain,
                                  "invalid argument: id in virDomainLookupByID must be zero or greater") {
            _ = try await c.lookupDomain(id: -1)
        }
    }

    @Test func memoryAndVcpus() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        let d = try await c.defineDomain(xml: Support.domainXML("m", uuid: Self.u1, memory: 4096, vcpus: 4))
        try await d.setMemory(kib: 2048)
        #expect(try await d.info().memory == 2048)
        await Support.expectError(.invalidArg, .test, "invalid argument: cannot set memory higher than max memory") {
            try await d.setMemory(kib: 8192)
        }
        try await d.setMemory(kib: 1024, flags: .maximum)
        #expect(try await d.maxMemory() == 1024)
        #expect(try await d.info().memory == 1024)
        try await d.setVcpus(2)
        #expect(try await d.vcpuCount() == 2)
        #expect(try await d.vcpuCount(flags: .maximum) == 4)
        #expect(try await d.xmlDesc().contains("<vcpu placement='static' current='2'>4</vcpu>"))
        await Support.expectError(.invalidArg, .test, "invalid argument: requested cpu amount exceeds maximum (5 > 4)") {
            try await d.setVcpus(5)
        }
        await Support.expectError(
            .invalidArg, .test,
            "invalid argument: requested cpu amount exceeds maximum supported amount (33 > 32)") {
            try await d.setVcpus(33)
        }
        await Support.expectError(.operationInvalid, .domain, "Requested operation is not valid: domain is not running") {
            try await d.setMemory(kib: 512, flags: .live)
        }
        #expect(try await d.securityLabels() == [SecurityLabel(label: "", enforcing: false)])
        await Support.expectError(.invalidArg, .test, "unsupported flags (0x4) in function testDomainGetMessages") {
            _ = try await d.messages(flags: 4)
        }
    }

    @Test func xmlDescFlags() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        let t = try await c.lookupDomain(name: "test")
        #expect(try await t.xmlDesc(flags: .migratable).hasPrefix("<domain type='test' id='1'>"))
        #expect(try await t.xmlDesc(flags: [.inactive, .secure]).hasPrefix("<domain type='test'>"))
        await Support.expectError(.invalidArg, .test, "unsupported flags (0x10) in function testDomainGetXMLDesc") {
            _ = try await t.xmlDesc(flags: XMLFlags(rawValue: 16))
        }
    }

    /// Many lifecycle operations on one domain at once: each is atomic, so events and final state agree.
    @Test func concurrentOperationsOnOneDomainAreSerialized() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        _ = try await c.defineDomain(xml: Support.domainXML("race", uuid: Self.u1))
        var events = EventReader(c.events())
        let successes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                group.addTask {
                    do {
                        var d = try await c.lookupDomain(name: "race")
                        if i % 2 == 0 { try await d.start() } else { try await d.destroy() }
                        return true
                    } catch {
                        return false
                    }
                }
            }
            var n = 0
            for await ok in group where ok { n += 1 }
            return n
        }
        let sentinel = try await c.defineDomain(xml: Support.domainXML("sentinel", uuid: Self.u2))
        var starts = 0
        var stops = 0
        while let e = await events.next(), e.2 != "sentinel" {
            if e.0 == .started { starts += 1 }
            if e.0 == .stopped { stops += 1 }
        }
        #expect(starts + stops == successes)
        let active = try await c.lookupDomain(name: "race").isActive()
        #expect(starts - stops == (active ? 1 : 0))
        _ = sentinel
    }
}

/// The indexes stay consistent through many domains and lifecycle changes (the daemon benchmark's loop).
@Suite struct ManyDomainsTests {
    @Test func thousandDomains() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        var doms: [Domain] = []
        for i in 0..<1000 {
            doms.append(try await c.defineDomain(xml: Support.domainXML("m\(i)", memory: 1024 + i)))
        }
        #expect(try await c.listAllDomains().count == 1001)
        #expect(try await c.numberOfDefinedDomains() == 1000)
        for i in stride(from: 0, to: 1000, by: 2) { try await doms[i].start() }
        #expect(try await c.numberOfDomains() == 501)
        for (i, d) in doms.enumerated() {
            let byName = try await c.lookupDomain(name: "m\(i)")
            #expect(byName.uuid == d.uuid)
            #expect(try await c.lookupDomain(uuid: d.uuid).name == "m\(i)")
            if i % 2 == 0 {
                #expect(try await c.lookupDomain(id: byName.id).name == "m\(i)")
                #expect(try await d.xmlDesc().contains("<memory unit='KiB'>\(1024 + i)</memory>"))
                try await d.destroy()
            }
            try await d.undefine()
        }
        #expect(try await c.listAllDomains().map(\.name) == ["test"])
        #expect(try await c.listDomainIDs() == [1])
        #expect(try await c.numberOfDefinedDomains() == 0)
    }
}
