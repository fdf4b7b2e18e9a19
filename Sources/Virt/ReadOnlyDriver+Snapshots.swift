import VirtCore

/// Snapshots and checkpoints on a read-only connection: queries pass through, changes are refused (and secure
/// XML), from the procedure catalog's rules.
extension ReadOnlyDriver {
    public func snapshotCreateXML(_ domain: DomainRef, xml: String, flags: UInt32) async throws -> DomainSnapshotRef {
        throw Self.denied("virDomainSnapshotCreateXML")
    }
    public func snapshotXMLDesc(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> String {
        try Self.check(.domainSnapshotGetXMLDesc, flags)
        return try await base.snapshotXMLDesc(snapshot, flags: flags)
    }
    public func snapshotNum(_ domain: DomainRef, flags: UInt32) async throws -> Int32 {
        try await base.snapshotNum(domain, flags: flags)
    }
    public func snapshotListNames(_ domain: DomainRef, max: Int32, flags: UInt32) async throws -> [String] {
        try await base.snapshotListNames(domain, max: max, flags: flags)
    }
    public func listAllSnapshots(_ domain: DomainRef, flags: UInt32) async throws -> [DomainSnapshotRef] {
        try await base.listAllSnapshots(domain, flags: flags)
    }
    public func snapshotNumChildren(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> Int32 {
        try await base.snapshotNumChildren(snapshot, flags: flags)
    }
    public func snapshotListChildrenNames(_ snapshot: DomainSnapshotRef, max: Int32, flags: UInt32) async throws
        -> [String] {
        try await base.snapshotListChildrenNames(snapshot, max: max, flags: flags)
    }
    public func snapshotListAllChildren(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws
        -> [DomainSnapshotRef] {
        try await base.snapshotListAllChildren(snapshot, flags: flags)
    }
    public func snapshotLookup(_ domain: DomainRef, name: String, flags: UInt32) async throws -> DomainSnapshotRef {
        try await base.snapshotLookup(domain, name: name, flags: flags)
    }
    public func hasCurrentSnapshot(_ domain: DomainRef, flags: UInt32) async throws -> Bool {
        try await base.hasCurrentSnapshot(domain, flags: flags)
    }
    public func snapshotParent(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> DomainSnapshotRef {
        try await base.snapshotParent(snapshot, flags: flags)
    }
    public func snapshotCurrent(_ domain: DomainRef, flags: UInt32) async throws -> DomainSnapshotRef {
        try await base.snapshotCurrent(domain, flags: flags)
    }
    public func snapshotIsCurrent(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> Bool {
        try await base.snapshotIsCurrent(snapshot, flags: flags)
    }
    public func snapshotHasMetadata(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> Bool {
        try await base.snapshotHasMetadata(snapshot, flags: flags)
    }
    public func revertToSnapshot(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws {
        throw Self.denied("virDomainRevertToSnapshot")
    }
    public func snapshotDelete(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws {
        throw Self.denied("virDomainSnapshotDelete")
    }
    public func checkpointCreateXML(_ domain: DomainRef, xml: String, flags: UInt32) async throws
        -> DomainCheckpointRef {
        throw Self.denied("virDomainCheckpointCreateXML")
    }
    public func checkpointXMLDesc(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws -> String {
        try Self.check(.domainCheckpointGetXMLDesc, flags)
        return try await base.checkpointXMLDesc(checkpoint, flags: flags)
    }
    public func listAllCheckpoints(_ domain: DomainRef, flags: UInt32) async throws -> [DomainCheckpointRef] {
        try await base.listAllCheckpoints(domain, flags: flags)
    }
    public func checkpointListAllChildren(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws
        -> [DomainCheckpointRef] {
        try await base.checkpointListAllChildren(checkpoint, flags: flags)
    }
    public func checkpointLookup(_ domain: DomainRef, name: String, flags: UInt32) async throws
        -> DomainCheckpointRef {
        try await base.checkpointLookup(domain, name: name, flags: flags)
    }
    public func checkpointParent(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws
        -> DomainCheckpointRef {
        try await base.checkpointParent(checkpoint, flags: flags)
    }
    public func checkpointDelete(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws {
        throw Self.denied("virDomainCheckpointDelete")
    }
}
