/// `virDomainSnapshotPtr` on the wire (`remote_nonnull_domain_snapshot`): a snapshot's name and its domain.
public struct DomainSnapshotRef: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var domain: DomainRef
    public init(name: String, domain: DomainRef) {
        self.name = name
        self.domain = domain
    }
    public var description: String { name }
}

/// `virDomainCheckpointPtr` on the wire (`remote_nonnull_domain_checkpoint`).
public struct DomainCheckpointRef: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var domain: DomainRef
    public init(name: String, domain: DomainRef) {
        self.name = name
        self.domain = domain
    }
    public var description: String { name }
}

/// libvirt's snapshot and checkpoint flag values (`virDomainSnapshot*Flags`, `virDomainCheckpoint*Flags`).
public enum SnapshotFlags {
    public static let createRedefine: UInt32 = 1, createCurrent: UInt32 = 2, createNoMetadata: UInt32 = 4
    public static let createHalt: UInt32 = 8, createDiskOnly: UInt32 = 16, createReuseExt: UInt32 = 32
    public static let createQuiesce: UInt32 = 64, createAtomic: UInt32 = 128, createLive: UInt32 = 256
    public static let createValidate: UInt32 = 512
    public static let listRoots: UInt32 = 1, listDescendants: UInt32 = 1, listMetadata: UInt32 = 2
    public static let listLeaves: UInt32 = 4, listNoLeaves: UInt32 = 8, listNoMetadata: UInt32 = 16
    public static let listInactive: UInt32 = 32, listActive: UInt32 = 64, listDiskOnly: UInt32 = 128
    public static let listInternal: UInt32 = 256, listExternal: UInt32 = 512, listTopological: UInt32 = 1024
    public static let revertRunning: UInt32 = 1, revertPaused: UInt32 = 2, revertForce: UInt32 = 4
    public static let deleteChildren: UInt32 = 1, deleteMetadataOnly: UInt32 = 2, deleteChildrenOnly: UInt32 = 4
    public static let xmlSecure: UInt32 = 1

    /// The checks of libvirt's public `virDomainSnapshotCreateXML`, run before the driver's.
    public static func checkCreate(_ flags: UInt32) throws(VirtError) {
        try exclusive(flags, createRedefine, "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE",
                      createNoMetadata, "VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA")
        try exclusive(flags, createRedefine, "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE",
                      createHalt, "VIR_DOMAIN_SNAPSHOT_CREATE_HALT")
        if flags & createCurrent != 0 && flags & createRedefine == 0 {
            throw VirtError(.invalidArg, domain: .domainSnapshot,
                            "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' is required by flag 'VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT'")
        }
    }

    /// The check of libvirt's public `virDomainCheckpointCreateXML`.
    public static func checkCheckpointCreate(_ flags: UInt32) throws(VirtError) {
        if flags & 4 != 0 && flags & 1 == 0 {
            throw VirtError(.invalidArg, domain: .domainCheckpoint,
                            "Flag 'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE' is required by flag 'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE'")
        }
    }

    /// The check of libvirt's public `virDomainRevertToSnapshot`.
    public static func checkRevert(_ flags: UInt32) throws(VirtError) {
        try exclusive(flags, revertRunning, "VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING",
                      revertPaused, "VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED")
    }

    static func exclusive(_ flags: UInt32, _ a: UInt32, _ aName: String, _ b: UInt32, _ bName: String)
        throws(VirtError) {
        if flags & a != 0 && flags & b != 0 {
            throw VirtError(.invalidArg, domain: .domainSnapshot,
                            "Flags '\(aName)' and '\(bName)' are mutually exclusive")
        }
    }
}

/// Snapshot and checkpoint defaults: NO_SUPPORT, as libvirt's drivers without them.
extension HypervisorDriver {
    public func snapshotCreateXML(_ domain: DomainRef, xml: String, flags: UInt32) async throws -> DomainSnapshotRef {
        throw VirtError.noSupport("virDomainSnapshotCreateXML", domain: .domainSnapshot)
    }
    public func snapshotXMLDesc(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virDomainSnapshotGetXMLDesc", domain: .domainSnapshot)
    }
    /// A driver without snapshots has none (the domain must exist).
    public func snapshotNum(_ domain: DomainRef, flags: UInt32) async throws -> Int32 {
        _ = try await lookupDomain(uuid: domain.uuid)
        return 0
    }
    public func snapshotListNames(_ domain: DomainRef, max: Int32, flags: UInt32) async throws -> [String] {
        throw VirtError.noSupport("virDomainSnapshotListNames", domain: .domainSnapshot)
    }
    public func listAllSnapshots(_ domain: DomainRef, flags: UInt32) async throws -> [DomainSnapshotRef] {
        throw VirtError.noSupport("virDomainListAllSnapshots", domain: .domainSnapshot)
    }
    public func snapshotNumChildren(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> Int32 {
        throw VirtError.noSupport("virDomainSnapshotNumChildren", domain: .domainSnapshot)
    }
    public func snapshotListChildrenNames(_ snapshot: DomainSnapshotRef, max: Int32, flags: UInt32) async throws
        -> [String] {
        throw VirtError.noSupport("virDomainSnapshotListChildrenNames", domain: .domainSnapshot)
    }
    public func snapshotListAllChildren(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws
        -> [DomainSnapshotRef] {
        throw VirtError.noSupport("virDomainSnapshotListAllChildren", domain: .domainSnapshot)
    }
    public func snapshotLookup(_ domain: DomainRef, name: String, flags: UInt32) async throws -> DomainSnapshotRef {
        throw VirtError.noSupport("virDomainSnapshotLookupByName", domain: .domainSnapshot)
    }
    public func hasCurrentSnapshot(_ domain: DomainRef, flags: UInt32) async throws -> Bool {
        throw VirtError.noSupport("virDomainHasCurrentSnapshot", domain: .domainSnapshot)
    }
    public func snapshotParent(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> DomainSnapshotRef {
        throw VirtError.noSupport("virDomainSnapshotGetParent", domain: .domainSnapshot)
    }
    public func snapshotCurrent(_ domain: DomainRef, flags: UInt32) async throws -> DomainSnapshotRef {
        throw VirtError.noSupport("virDomainSnapshotCurrent", domain: .domainSnapshot)
    }
    public func snapshotIsCurrent(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> Bool {
        throw VirtError.noSupport("virDomainSnapshotIsCurrent", domain: .domainSnapshot)
    }
    public func snapshotHasMetadata(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws -> Bool {
        throw VirtError.noSupport("virDomainSnapshotHasMetadata", domain: .domainSnapshot)
    }
    public func revertToSnapshot(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainRevertToSnapshot", domain: .domainSnapshot)
    }
    public func snapshotDelete(_ snapshot: DomainSnapshotRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSnapshotDelete", domain: .domainSnapshot)
    }
    public func checkpointCreateXML(_ domain: DomainRef, xml: String, flags: UInt32) async throws
        -> DomainCheckpointRef {
        throw VirtError.noSupport("virDomainCheckpointCreateXML", domain: .domainCheckpoint)
    }
    public func checkpointXMLDesc(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virDomainCheckpointGetXMLDesc", domain: .domainCheckpoint)
    }
    public func listAllCheckpoints(_ domain: DomainRef, flags: UInt32) async throws -> [DomainCheckpointRef] {
        throw VirtError.noSupport("virDomainListAllCheckpoints", domain: .domainCheckpoint)
    }
    public func checkpointListAllChildren(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws
        -> [DomainCheckpointRef] {
        throw VirtError.noSupport("virDomainCheckpointListAllChildren", domain: .domainCheckpoint)
    }
    public func checkpointLookup(_ domain: DomainRef, name: String, flags: UInt32) async throws
        -> DomainCheckpointRef {
        throw VirtError.noSupport("virDomainCheckpointLookupByName", domain: .domainCheckpoint)
    }
    public func checkpointParent(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws
        -> DomainCheckpointRef {
        throw VirtError.noSupport("virDomainCheckpointGetParent", domain: .domainCheckpoint)
    }
    public func checkpointDelete(_ checkpoint: DomainCheckpointRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainCheckpointDelete", domain: .domainCheckpoint)
    }
}
