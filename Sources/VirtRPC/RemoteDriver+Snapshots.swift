import VirtCore

/// The client side of domain snapshots and checkpoints (`SnapshotProcedures.swift`).
extension RemoteDriver {
    public func snapshotCreateXML(_ domain: DomainRef, xml: String, flags: UInt32) async throws -> DomainSnapshotRef {
        // libvirt's public API checks before the call goes out.
        try SnapshotFlags.checkCreate(flags)
        return try await call(RemoteCalls.domainSnapshotCreateXML, XDRTuple3(domain, xml, flags))
    }
    public func snapshotXMLDesc(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.domainSnapshotGetXMLDesc, XDRTuple2(snapshot, flags))
    }
    public func snapshotNum(_ domain: DomainRef, flags: UInt32) async throws -> Int32 {
        try await call(RemoteCalls.domainSnapshotNum, XDRTuple2(domain, flags))
    }
    public func snapshotListNames(_ domain: DomainRef, max: Int32, flags: UInt32) async throws -> [String] {
        try await call(RemoteCalls.domainSnapshotListNames, XDRTuple3(domain, max, flags)).items
    }
    public func listAllSnapshots(_ domain: DomainRef, flags: UInt32) async throws -> [DomainSnapshotRef] {
        try await call(RemoteCalls.domainListAllSnapshots, XDRTuple3(domain, 1, flags)).items
    }
    public func snapshotNumChildren(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> Int32 {
        try await call(RemoteCalls.domainSnapshotNumChildren, XDRTuple2(snapshot, flags))
    }
    public func snapshotListChildrenNames(_ snapshot: DomainSnapshotRef, max: Int32, flags: UInt32) async throws
        -> [String] {
        try await call(RemoteCalls.domainSnapshotListChildrenNames, XDRTuple3(snapshot, max, flags)).items
    }
    public func snapshotListAllChildren(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws
        -> [DomainSnapshotRef] {
        try await call(RemoteCalls.domainSnapshotListAllChildren, XDRTuple3(snapshot, 1, flags)).items
    }
    public func snapshotLookup(_ domain: DomainRef, name: String, flags: UInt32) async throws -> DomainSnapshotRef {
        try await call(RemoteCalls.domainSnapshotLookupByName, XDRTuple3(domain, name, flags))
    }
    public func hasCurrentSnapshot(_ domain: DomainRef, flags: UInt32) async throws -> Bool {
        try await call(RemoteCalls.domainHasCurrentSnapshot, XDRTuple2(domain, flags)) != 0
    }
    public func snapshotParent(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> DomainSnapshotRef {
        try await call(RemoteCalls.domainSnapshotGetParent, XDRTuple2(snapshot, flags))
    }
    public func snapshotCurrent(_ domain: DomainRef, flags: UInt32) async throws -> DomainSnapshotRef {
        try await call(RemoteCalls.domainSnapshotCurrent, XDRTuple2(domain, flags))
    }
    public func snapshotIsCurrent(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> Bool {
        try await call(RemoteCalls.domainSnapshotIsCurrent, XDRTuple2(snapshot, flags)) != 0
    }
    public func snapshotHasMetadata(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> Bool {
        try await call(RemoteCalls.domainSnapshotHasMetadata, XDRTuple2(snapshot, flags)) != 0
    }
    public func revertToSnapshot(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws {
        try SnapshotFlags.checkRevert(flags)
        _ = try await call(RemoteCalls.domainRevertToSnapshot, XDRTuple2(snapshot, flags))
    }
    public func snapshotDelete(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSnapshotDelete, XDRTuple2(snapshot, flags))
    }

    public func checkpointCreateXML(_ domain: DomainRef, xml: String, flags: UInt32) async throws
        -> DomainCheckpointRef {
        try SnapshotFlags.checkCheckpointCreate(flags)
        return try await call(RemoteCalls.domainCheckpointCreateXML, XDRTuple3(domain, xml, flags))
    }
    public func checkpointXMLDesc(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.domainCheckpointGetXMLDesc, XDRTuple2(checkpoint, flags))
    }
    public func listAllCheckpoints(_ domain: DomainRef, flags: UInt32) async throws -> [DomainCheckpointRef] {
        try await call(RemoteCalls.domainListAllCheckpoints, XDRTuple3(domain, 1, flags)).items
    }
    public func checkpointListAllChildren(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws
        -> [DomainCheckpointRef] {
        try await call(RemoteCalls.domainCheckpointListAllChildren, XDRTuple3(checkpoint, 1, flags)).items
    }
    public func checkpointLookup(_ domain: DomainRef, name: String, flags: UInt32) async throws
        -> DomainCheckpointRef {
        try await call(RemoteCalls.domainCheckpointLookupByName, XDRTuple3(domain, name, flags))
    }
    public func checkpointParent(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws
        -> DomainCheckpointRef {
        try await call(RemoteCalls.domainCheckpointGetParent, XDRTuple2(checkpoint, flags))
    }
    public func checkpointDelete(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainCheckpointDelete, XDRTuple2(checkpoint, flags))
    }
}
