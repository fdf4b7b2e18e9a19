import Foundation
import Testing
@testable import Virt
@testable import VirtTestDriver
import VirtCore

/// Snapshots and checkpoints of the embedded test driver: the moment tree, revert's states and events, delete's
/// reparenting, and libvirt 9.0's errors (the same behaviour is compared with libvirt's own test driver by
/// `SnapshotDifferentialTests`).
@Suite struct TestSnapshotTests {
    @Test func createListRevertDelete() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        var events = EventReader(c.events())
        let d = try await c.lookupDomain(name: "test")
        #expect(try await d.snapshotCount() == 0)
        let s1 = try await d.createSnapshot(xml: "<domainsnapshot><name>s1</name></domainsnapshot>")
        let s2 = try await d.createSnapshot(xml: "<domainsnapshot><name>s2</name></domainsnapshot>")
        #expect(try await s2.parent().name == "s1")
        #expect(try await d.currentSnapshot().name == "s2")
        #expect(try await s1.isCurrent() == false)
        await Support.expectError(.noDomainSnapshot, .test,
                                  "Domain snapshot not found: snapshot 's1' does not have a parent") {
            _ = try await s1.parent()
        }
        await Support.expectError(.operationFailed, .domain, "operation failed: domain moment s2 already exists") {
            _ = try await d.createSnapshot(xml: "<domainsnapshot><name>s2</name></domainsnapshot>")
        }
        await Support.expectError(.invalidArg, .test,
                                  "unsupported flags (0x4) in function testDomainSnapshotCreateXML") {
            _ = try await d.createSnapshot(xml: "<domainsnapshot/>", flags: SnapshotFlags.createNoMetadata)
        }
        try await d.suspend()
        #expect(await events.next()! == (.suspended, 0, "test", 1))
        _ = try await d.createSnapshot(xml: "<domainsnapshot><name>s3</name></domainsnapshot>")
        // HALT on a running (here paused) domain stops it, from the snapshot.
        let s4 = try await d.createSnapshot(xml: "<domainsnapshot><name>s4</name></domainsnapshot>",
                                            flags: SnapshotFlags.createHalt)
        #expect(await events.next()! == (.stopped, 6, "test", -1))
        #expect(try await d.state() == .shutoff(.fromSnapshot))
        let xml = try await s4.xmlDesc()
        #expect(xml.contains("<state>paused</state>") && xml.contains("<parent>\n    <name>s3</name>\n  </parent>"))
        #expect(xml.contains("  <domain type='test'>\n    <name>test</name>"))
        let off = try await d.createSnapshot(xml: "<domainsnapshot><name>off</name></domainsnapshot>")
        #expect(try await off.xmlDesc().contains("<state>shutoff</state>\n"))
        #expect(try await d.snapshotNames(flags: SnapshotFlags.listInactive) == ["off"])
        #expect(try await d.snapshotNames(flags: SnapshotFlags.listRoots) == ["s1"])
        #expect(try await d.snapshotNames(flags: SnapshotFlags.listLeaves) == ["off"])
        #expect(try await d.snapshotNames(flags: SnapshotFlags.listTopological) == ["s1", "s2", "s3", "s4", "off"])
        #expect(try await s2.childrenNames(flags: SnapshotFlags.listDescendants) == ["s3", "s4", "off"])

        // Shut off -> running snapshot: started from the snapshot.
        try await s1.revert()
        #expect(await events.next()! == (.started, 3, "test", 2))
        #expect(try await d.state() == .running(.fromSnapshot))
        // Running -> paused snapshot: stopped, started and suspended, a new id.
        try await d.snapshot(named: "s3").revert()
        #expect(await events.next()! == (.stopped, 6, "test", -1))
        #expect(await events.next()! == (.started, 3, "test", 3))
        #expect(await events.next()! == (.suspended, 5, "test", 3))
        #expect(try await d.state() == .paused(.fromSnapshot))
        // Paused -> shut-off snapshot with RUNNING: stopped, and libvirt 9.0 emits started without starting.
        try await off.revert(flags: SnapshotFlags.revertRunning)
        #expect(await events.next()! == (.stopped, 6, "test", -1))
        #expect(await events.next()! == (.started, 3, "test", -1))
        #expect(try await d.state() == .shutoff(.fromSnapshot))
        #expect(try await d.currentSnapshot().name == "off")
        await Support.expectError(.invalidArg, .domainSnapshot,
            "Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and 'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED' are mutually exclusive") {
            try await s1.revert(flags: 3)
        }

        await Support.expectError(.operationInvalid, .test,
                                  "Requested operation is not valid: cannot delete inactive domain with 5 snapshots") {
            try await d.undefine()
        }
        // Deleting s2 moves s3 under s1.
        try await s2.delete()
        #expect(try await d.snapshot(named: "s3").parent().name == "s1")
        try await s1.delete(flags: SnapshotFlags.deleteChildrenOnly)
        #expect(try await d.snapshotNames() == ["s1"])
        #expect(try await d.currentSnapshot().name == "s1")
        try await s1.delete()
        #expect(try await d.hasCurrentSnapshot() == false)
        await Support.expectError(.noDomainSnapshot, .test,
                                  "Domain snapshot not found: the domain does not have a current snapshot") {
            _ = try await d.currentSnapshot()
        }
        try await d.undefine()
    }

    @Test func checkpoints() async throws {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        let d = try await c.lookupDomain(name: "test")
        let c1 = try await d.createCheckpoint(xml: "<domaincheckpoint><name>c1</name></domaincheckpoint>")
        let c2 = try await d.createCheckpoint(xml: "<domaincheckpoint><name>c2</name></domaincheckpoint>")
        #expect(try await c2.parent().name == "c1")
        let xml = try await c2.xmlDesc(flags: 2)
        #expect(xml.contains("<disk name='vda' checkpoint='bitmap' bitmap='c2'/>") && !xml.contains("<domain type"))
        await Support.expectError(.operationUnsupported, .test,
                                  "Operation not supported: cannot create snapshot while checkpoint exists") {
            _ = try await d.createSnapshot(xml: "<domainsnapshot/>")
        }
        #expect(try await c1.allChildren().map(\.name) == ["c2"])
        try await c1.delete()
        await Support.expectError(.noDomainCheckpoint, .test,
                                  "Domain checkpoint not found: checkpoint 'c2' does not have a parent") {
            _ = try await c2.parent()
        }
        try await c2.delete()
        #expect(try await d.checkpoints().isEmpty)
        try await d.destroy()
        await Support.expectError(.operationUnsupported, .test,
                                  "Operation not supported: cannot create checkpoint for inactive domain") {
            _ = try await d.createCheckpoint(xml: "<domaincheckpoint/>")
        }
    }
}
