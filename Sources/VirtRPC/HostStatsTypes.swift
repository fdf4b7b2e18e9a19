import VirtCore

/// Wire types of the host statistics procedures (NODE_GET_CPU_STATS, NODE_GET_MEMORY_STATS,
/// NODE_GET_CELLS_FREE_MEMORY, NODE_GET_CPU_MAP, NODE_GET_MEMORY_PARAMETERS, CONNECT_GET_CPU_MODEL_NAMES).

/// `remote_node_get_cpu_stats` / `remote_node_get_memory_stats`: a field name and an unsigned hyper.
extension NodeStat: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let field = try r.string()
        self.init(field, try r.uhyper())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.string(field)
        w.uhyper(value)
    }
}

/// `REMOTE_NODE_CPU_STATS_MAX` and `REMOTE_NODE_MEMORY_STATS_MAX`.
public enum NodeStatsLimit: XDRLimit {
    public static var max: Int { 16 }
    public static var unit: Int { 12 }
}

/// `REMOTE_NODE_MAX_CELLS`.
public enum NodeCellsLimit: XDRLimit {
    public static var max: Int { 1024 }
    public static var unit: Int { 8 }
}

/// `REMOTE_NODE_MEMORY_PARAMETERS_MAX`.
public enum NodeMemoryParametersLimit: XDRLimit {
    public static var max: Int { 64 }
    public static var unit: Int { 12 }
}

/// `REMOTE_CONNECT_CPU_MODELS_MAX`.
/// `REMOTE_CPU_BASELINE_MAX`: the CPU definitions of one baseline call.
public enum CPUBaselineLimit: XDRLimit {
    public static var max: Int { 256 }
    public static var unit: Int { 4 }
}

public enum CPUModelsLimit: XDRLimit {
    public static var max: Int { 8192 }
    public static var unit: Int { 4 }
}

/// `remote_node_get_cpu_stats_ret` / `remote_node_get_memory_stats_ret`: the values, then nparams.
extension NodeStatsResult: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let stats = try XDRList<NodeStat, NodeStatsLimit>(xdr: &r).items
        self.init(stats: stats, nparams: try r.int())
    }
    public func encode(xdr w: inout XDRWriter) {
        XDRList<NodeStat, NodeStatsLimit>(stats).encode(xdr: &w)
        w.int(nparams)
    }
}

/// `remote_node_get_cpu_map_ret`: cpumap, online, ret (the number of CPUs present).
extension NodeCPUMap: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let map = try r.opaque(max: CPUMapLimit.max)
        let online = try r.uint()
        self.init(cpus: try r.int(), map: map, online: online)
    }
    public func encode(xdr w: inout XDRWriter) {
        w.opaque(map)
        w.uint(online)
        w.int(cpus)
    }
}
