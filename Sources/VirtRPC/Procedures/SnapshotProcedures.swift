import VirtCore

/// `remote_nonnull_domain_snapshot`: name, then domain.
extension DomainSnapshotRef: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let name = try r.string()
        self.init(name: name, domain: try r.domain())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.string(name)
        w.domain(domain)
    }
}

/// `remote_nonnull_domain_checkpoint`: name, then domain.
extension DomainCheckpointRef: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let name = try r.string()
        self.init(name: name, domain: try r.domain())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.string(name)
        w.domain(domain)
    }
}

/// `REMOTE_DOMAIN_SNAPSHOT_LIST_MAX` (16384).
public enum SnapshotListLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 4 }
}

/// `REMOTE_DOMAIN_CHECKPOINT_LIST_MAX` (16384).
public enum CheckpointListLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 4 }
}

extension RemoteCalls {
    typealias Snap = DomainSnapshotRef
    typealias Checkpoint = DomainCheckpointRef
    typealias SnapNames = XDRList<String, SnapshotListLimit>
    /// dom, xml_desc, flags → snap.
    static let domainSnapshotCreateXML = RemoteCall<XDRTuple3<D, String, Flags>, Snap>(.domainSnapshotCreateXML)
    static let domainSnapshotGetXMLDesc = RemoteCall<XDRTuple2<Snap, Flags>, String>(.domainSnapshotGetXMLDesc)
    static let domainSnapshotNum = RemoteCall<XDRTuple2<D, Flags>, Int32>(.domainSnapshotNum)
    /// dom, maxnames, flags.
    static let domainSnapshotListNames = RemoteCall<XDRTuple3<D, Int32, Flags>, SnapNames>(.domainSnapshotListNames)
    /// dom, need_results, flags.
    static let domainListAllSnapshots =
        RemoteCall<XDRTuple3<D, Int32, Flags>, XDRCountedList<Snap, SnapshotListLimit>>(.domainListAllSnapshots)
    static let domainSnapshotNumChildren = RemoteCall<XDRTuple2<Snap, Flags>, Int32>(.domainSnapshotNumChildren)
    /// snap, maxnames, flags.
    static let domainSnapshotListChildrenNames =
        RemoteCall<XDRTuple3<Snap, Int32, Flags>, SnapNames>(.domainSnapshotListChildrenNames)
    /// snapshot, need_results, flags.
    static let domainSnapshotListAllChildren =
        RemoteCall<XDRTuple3<Snap, Int32, Flags>, XDRCountedList<Snap, SnapshotListLimit>>(
            .domainSnapshotListAllChildren)
    /// dom, name, flags.
    static let domainSnapshotLookupByName = RemoteCall<XDRTuple3<D, String, Flags>, Snap>(.domainSnapshotLookupByName)
    static let domainHasCurrentSnapshot = RemoteCall<XDRTuple2<D, Flags>, Int32>(.domainHasCurrentSnapshot)
    static let domainSnapshotGetParent = RemoteCall<XDRTuple2<Snap, Flags>, Snap>(.domainSnapshotGetParent)
    static let domainSnapshotCurrent = RemoteCall<XDRTuple2<D, Flags>, Snap>(.domainSnapshotCurrent)
    static let domainSnapshotIsCurrent = RemoteCall<XDRTuple2<Snap, Flags>, Int32>(.domainSnapshotIsCurrent)
    static let domainSnapshotHasMetadata = RemoteCall<XDRTuple2<Snap, Flags>, Int32>(.domainSnapshotHasMetadata)
    static let domainRevertToSnapshot = RemoteCall<XDRTuple2<Snap, Flags>, XDRVoid>(.domainRevertToSnapshot)
    static let domainSnapshotDelete = RemoteCall<XDRTuple2<Snap, Flags>, XDRVoid>(.domainSnapshotDelete)

    /// dom, xml_desc, flags → checkpoint.
    static let domainCheckpointCreateXML =
        RemoteCall<XDRTuple3<D, String, Flags>, Checkpoint>(.domainCheckpointCreateXML)
    static let domainCheckpointGetXMLDesc =
        RemoteCall<XDRTuple2<Checkpoint, Flags>, String>(.domainCheckpointGetXMLDesc)
    /// dom, need_results, flags.
    static let domainListAllCheckpoints =
        RemoteCall<XDRTuple3<D, Int32, Flags>, XDRCountedList<Checkpoint, CheckpointListLimit>>(
            .domainListAllCheckpoints)
    /// checkpoint, need_results, flags.
    static let domainCheckpointListAllChildren =
        RemoteCall<XDRTuple3<Checkpoint, Int32, Flags>, XDRCountedList<Checkpoint, CheckpointListLimit>>(
            .domainCheckpointListAllChildren)
    static let domainCheckpointLookupByName =
        RemoteCall<XDRTuple3<D, String, Flags>, Checkpoint>(.domainCheckpointLookupByName)
    static let domainCheckpointGetParent =
        RemoteCall<XDRTuple2<Checkpoint, Flags>, Checkpoint>(.domainCheckpointGetParent)
    static let domainCheckpointDelete = RemoteCall<XDRTuple2<Checkpoint, Flags>, XDRVoid>(.domainCheckpointDelete)
}

/// Domain snapshots and checkpoints (issue 13): the driver keeps them; these rows only carry them.
extension ProcedureTable {
    /// The daemon's check of `maxnames`, then libvirt's API-layer one.
    private static func checkSnapshotMax(_ max: Int32, api: String) throws(VirtError) {
        if max > Int32(SnapshotListLimit.max) {
            throw VirtError(.rpc, domain: .rpc, "RPC error : maxnames > REMOTE_DOMAIN_SNAPSHOT_LIST_MAX")
        }
        if max < 0 {
            let detail = "maxnames in \(api) must be zero or greater"
            throw VirtError(.invalidArg, domain: .domainSnapshot, "invalid argument: \(detail)", str1: detail)
        }
    }

    static let snapshotRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainSnapshotCreateXML) { a, ctx in
            let (d, xml, flags) = a.values
            return try await ctx.driver.snapshotCreateXML(d, xml: xml, flags: flags)
        },
        .serve(RemoteCalls.domainSnapshotGetXMLDesc, readOnlyValue: { $0.values.1 }) { a, ctx in
            let (s, flags) = a.values
            return try await ctx.driver.snapshotXMLDesc(s, flags: flags)
        },
        .serve(RemoteCalls.domainSnapshotNum) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.snapshotNum(d, flags: flags)
        },
        .serve(RemoteCalls.domainSnapshotListNames) { a, ctx in
            let (d, max, flags) = a.values
            try checkSnapshotMax(max, api: "virDomainSnapshotListNames")
            return XDRList(try await ctx.driver.snapshotListNames(d, max: max, flags: flags))
        },
        .serve(RemoteCalls.domainListAllSnapshots) { a, ctx in
            let (d, need, flags) = a.values
            return XDRCountedList(try await ctx.driver.listAllSnapshots(d, flags: flags), needResults: need)
        },
        .serve(RemoteCalls.domainSnapshotNumChildren) { a, ctx in
            let (s, flags) = a.values
            return try await ctx.driver.snapshotNumChildren(s, flags: flags)
        },
        .serve(RemoteCalls.domainSnapshotListChildrenNames) { a, ctx in
            let (s, max, flags) = a.values
            try checkSnapshotMax(max, api: "virDomainSnapshotListChildrenNames")
            return XDRList(try await ctx.driver.snapshotListChildrenNames(s, max: max, flags: flags))
        },
        .serve(RemoteCalls.domainSnapshotListAllChildren) { a, ctx in
            let (s, need, flags) = a.values
            return XDRCountedList(try await ctx.driver.snapshotListAllChildren(s, flags: flags), needResults: need)
        },
        .serve(RemoteCalls.domainSnapshotLookupByName) { a, ctx in
            let (d, name, flags) = a.values
            return try await ctx.driver.snapshotLookup(d, name: name, flags: flags)
        },
        .serve(RemoteCalls.domainHasCurrentSnapshot) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.hasCurrentSnapshot(d, flags: flags) ? 1 : 0
        },
        .serve(RemoteCalls.domainSnapshotGetParent) { a, ctx in
            let (s, flags) = a.values
            return try await ctx.driver.snapshotParent(s, flags: flags)
        },
        .serve(RemoteCalls.domainSnapshotCurrent) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.snapshotCurrent(d, flags: flags)
        },
        .serve(RemoteCalls.domainSnapshotIsCurrent) { a, ctx in
            let (s, flags) = a.values
            return try await ctx.driver.snapshotIsCurrent(s, flags: flags) ? 1 : 0
        },
        .serve(RemoteCalls.domainSnapshotHasMetadata) { a, ctx in
            let (s, flags) = a.values
            return try await ctx.driver.snapshotHasMetadata(s, flags: flags) ? 1 : 0
        },
        .serve(RemoteCalls.domainRevertToSnapshot) { a, ctx in
            let (s, flags) = a.values
            try await ctx.driver.revertToSnapshot(s, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainSnapshotDelete) { a, ctx in
            let (s, flags) = a.values
            try await ctx.driver.snapshotDelete(s, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainCheckpointCreateXML) { a, ctx in
            let (d, xml, flags) = a.values
            return try await ctx.driver.checkpointCreateXML(d, xml: xml, flags: flags)
        },
        .serve(RemoteCalls.domainCheckpointGetXMLDesc, readOnlyValue: { $0.values.1 }) { a, ctx in
            let (c, flags) = a.values
            return try await ctx.driver.checkpointXMLDesc(c, flags: flags)
        },
        .serve(RemoteCalls.domainListAllCheckpoints) { a, ctx in
            let (d, need, flags) = a.values
            return XDRCountedList(try await ctx.driver.listAllCheckpoints(d, flags: flags), needResults: need)
        },
        .serve(RemoteCalls.domainCheckpointListAllChildren) { a, ctx in
            let (c, need, flags) = a.values
            return XDRCountedList(try await ctx.driver.checkpointListAllChildren(c, flags: flags), needResults: need)
        },
        .serve(RemoteCalls.domainCheckpointLookupByName) { a, ctx in
            let (d, name, flags) = a.values
            return try await ctx.driver.checkpointLookup(d, name: name, flags: flags)
        },
        .serve(RemoteCalls.domainCheckpointGetParent) { a, ctx in
            let (c, flags) = a.values
            return try await ctx.driver.checkpointParent(c, flags: flags)
        },
        .serve(RemoteCalls.domainCheckpointDelete) { a, ctx in
            let (c, flags) = a.values
            try await ctx.driver.checkpointDelete(c, flags: flags)
            return XDRVoid()
        },
    ]
}
