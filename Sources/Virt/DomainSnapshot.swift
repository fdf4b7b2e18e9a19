import VirtCore

/// A handle on one snapshot of a domain (libvirt's `virDomainSnapshotPtr`).
public struct DomainSnapshot: Sendable {
    /// The snapshot's domain.
    public let domain: Domain
    /// The snapshot's name.
    public let name: String

    var ref: DomainSnapshotRef { DomainSnapshotRef(name: name, domain: domain.ref) }
    private var driver: any HypervisorDriver { domain.connection.driver }
    private func handle(_ r: DomainSnapshotRef) -> DomainSnapshot { DomainSnapshot(domain: domain, name: r.name) }

    /// `virDomainSnapshotGetXMLDesc` (flag 1: secure).
    public func xmlDesc(flags: UInt32 = 0) async throws -> String { try await driver.snapshotXMLDesc(ref, flags: flags) }
    /// `virDomainSnapshotGetParent`.
    public func parent() async throws -> DomainSnapshot { handle(try await driver.snapshotParent(ref, flags: 0)) }
    /// `virDomainSnapshotIsCurrent`.
    public func isCurrent() async throws -> Bool { try await driver.snapshotIsCurrent(ref, flags: 0) }
    /// `virDomainSnapshotHasMetadata`.
    public func hasMetadata() async throws -> Bool { try await driver.snapshotHasMetadata(ref, flags: 0) }
    /// `virDomainSnapshotNumChildren`.
    public func numChildren(flags: UInt32 = 0) async throws -> Int32 {
        try await driver.snapshotNumChildren(ref, flags: flags)
    }
    /// `virDomainSnapshotListChildrenNames`.
    public func childrenNames(max: Int32 = Int32(Int16.max), flags: UInt32 = 0) async throws -> [String] {
        try await driver.snapshotListChildrenNames(ref, max: max, flags: flags)
    }
    /// `virDomainSnapshotListAllChildren`.
    public func allChildren(flags: UInt32 = 0) async throws -> [DomainSnapshot] {
        try await driver.snapshotListAllChildren(ref, flags: flags).map(handle)
    }
    /// `virDomainRevertToSnapshot`.
    public func revert(flags: UInt32 = 0) async throws { try await driver.revertToSnapshot(ref, flags: flags) }
    /// `virDomainSnapshotDelete`.
    public func delete(flags: UInt32 = 0) async throws { try await driver.snapshotDelete(ref, flags: flags) }
}

/// A handle on one checkpoint of a domain (libvirt's `virDomainCheckpointPtr`).
public struct DomainCheckpoint: Sendable {
    public let domain: Domain
    public let name: String

    var ref: DomainCheckpointRef { DomainCheckpointRef(name: name, domain: domain.ref) }
    private var driver: any HypervisorDriver { domain.connection.driver }
    private func handle(_ r: DomainCheckpointRef) -> DomainCheckpoint { DomainCheckpoint(domain: domain, name: r.name) }

    /// `virDomainCheckpointGetXMLDesc` (flags: 1 secure, 2 no domain, 4 size).
    public func xmlDesc(flags: UInt32 = 0) async throws -> String {
        try await driver.checkpointXMLDesc(ref, flags: flags)
    }
    /// `virDomainCheckpointGetParent`.
    public func parent() async throws -> DomainCheckpoint { handle(try await driver.checkpointParent(ref, flags: 0)) }
    /// `virDomainCheckpointListAllChildren`.
    public func allChildren(flags: UInt32 = 0) async throws -> [DomainCheckpoint] {
        try await driver.checkpointListAllChildren(ref, flags: flags).map(handle)
    }
    /// `virDomainCheckpointDelete`.
    public func delete(flags: UInt32 = 0) async throws { try await driver.checkpointDelete(ref, flags: flags) }
}

extension Domain {
    private var drv: any HypervisorDriver { connection.driver }

    /// `virDomainSnapshotCreateXML`.
    public func createSnapshot(xml: String, flags: UInt32 = 0) async throws -> DomainSnapshot {
        DomainSnapshot(domain: self, name: try await drv.snapshotCreateXML(ref, xml: xml, flags: flags).name)
    }
    /// `virDomainSnapshotNum`.
    public func snapshotCount(flags: UInt32 = 0) async throws -> Int32 { try await drv.snapshotNum(ref, flags: flags) }
    /// `virDomainSnapshotListNames`.
    public func snapshotNames(max: Int32 = Int32(Int16.max), flags: UInt32 = 0) async throws -> [String] {
        try await drv.snapshotListNames(ref, max: max, flags: flags)
    }
    /// `virDomainListAllSnapshots`.
    public func snapshots(flags: UInt32 = 0) async throws -> [DomainSnapshot] {
        try await drv.listAllSnapshots(ref, flags: flags).map { DomainSnapshot(domain: self, name: $0.name) }
    }
    /// `virDomainSnapshotLookupByName`.
    public func snapshot(named name: String) async throws -> DomainSnapshot {
        DomainSnapshot(domain: self, name: try await drv.snapshotLookup(ref, name: name, flags: 0).name)
    }
    /// `virDomainHasCurrentSnapshot`.
    public func hasCurrentSnapshot() async throws -> Bool { try await drv.hasCurrentSnapshot(ref, flags: 0) }
    /// `virDomainSnapshotCurrent`.
    public func currentSnapshot() async throws -> DomainSnapshot {
        DomainSnapshot(domain: self, name: try await drv.snapshotCurrent(ref, flags: 0).name)
    }
    /// `virDomainCheckpointCreateXML`.
    public func createCheckpoint(xml: String, flags: UInt32 = 0) async throws -> DomainCheckpoint {
        DomainCheckpoint(domain: self, name: try await drv.checkpointCreateXML(ref, xml: xml, flags: flags).name)
    }
    /// `virDomainListAllCheckpoints`.
    public func checkpoints(flags: UInt32 = 0) async throws -> [DomainCheckpoint] {
        try await drv.listAllCheckpoints(ref, flags: flags).map { DomainCheckpoint(domain: self, name: $0.name) }
    }
    /// `virDomainCheckpointLookupByName`.
    public func checkpoint(named name: String) async throws -> DomainCheckpoint {
        DomainCheckpoint(domain: self, name: try await drv.checkpointLookup(ref, name: name, flags: 0).name)
    }
}
