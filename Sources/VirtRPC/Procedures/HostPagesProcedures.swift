import VirtCore

/// `REMOTE_NODE_MAX_CELLS` for a list of page sizes.
public enum NodePageSizesLimit: XDRLimit {
    public static var max: Int { 1024 }
    public static var unit: Int { 4 }
}

extension RemoteCalls {
    /// pages, startCell, cellCount, flags → counts.
    static let nodeGetFreePages =
        RemoteCall<XDRTuple4<XDRList<UInt32, NodePageSizesLimit>, Int32, UInt32, Flags>, XDRList<UInt64, NodeCellsLimit>>(
            .nodeGetFreePages)
    /// pageSizes, pageCounts, startCell, cellCount, flags → ret.
    static let nodeAllocPages =
        RemoteCall<XDRTuple5<XDRList<UInt32, NodePageSizesLimit>, XDRList<UInt64, NodeCellsLimit>, Int32, UInt32, Flags>,
                   Int32>(.nodeAllocPages)
}

/// The host's huge page pools: free pages per NUMA cell and page size, and their allocation.
extension ProcedureTable {
    static let hostPagesRows: [ServedProcedure] = [
        .serve(RemoteCalls.nodeGetFreePages) { a, ctx in
            let (pages, start, cellCount, flags) = a.values
            if pages.items.count * Int(cellCount) > NodeCellsLimit.max {
                throw VirtError(.rpc, domain: .rpc, "the result won't fit into REMOTE_NODE_MAX_CELLS")
            }
            return XDRList(try await ctx.driver.nodeFreePages(pages: pages.items, startCell: start,
                                                              cellCount: cellCount, flags: flags))
        },
        .serve(RemoteCalls.nodeAllocPages) { a, ctx in
            let (sizes, counts, start, cellCount, flags) = a.values
            return try await ctx.driver.nodeAllocPages(pageSizes: sizes.items, pageCounts: counts.items,
                                                       startCell: start, cellCount: cellCount, flags: flags)
        },
    ]
}

extension RemoteDriver {
    public func nodeFreePages(pages: [UInt32], startCell: Int32, cellCount: UInt32, flags: UInt32) async throws
        -> [UInt64] {
        try await call(RemoteCalls.nodeGetFreePages, XDRTuple4(XDRList(pages), startCell, cellCount, flags)).items
    }
    public func nodeAllocPages(pageSizes: [UInt32], pageCounts: [UInt64], startCell: Int32, cellCount: UInt32,
                               flags: UInt32) async throws -> Int32 {
        try await call(RemoteCalls.nodeAllocPages,
                       XDRTuple5(XDRList(pageSizes), XDRList(pageCounts), startCell, cellCount, flags))
    }
}
