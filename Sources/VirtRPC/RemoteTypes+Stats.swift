import VirtCore

/// Wire forms of the statistics and pinning procedures (remote_protocol.x).

/// `REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX`.
public enum BlockStatsParamsLimit: XDRLimit {
    public static var max: Int { 16 }
    public static var unit: Int { 12 }
}

/// `REMOTE_DOMAIN_MEMORY_STATS_MAX`.
public enum MemoryStatsLimit: XDRLimit {
    public static var max: Int { 1024 }
    public static var unit: Int { 12 }
}

/// `REMOTE_VCPUINFO_MAX`.
public enum VcpuInfoLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 20 }
}

/// `REMOTE_CPUMAPS_MAX`.
public enum CPUMapsLimit: XDRLimit {
    public static var max: Int { 8_388_608 }
    public static var unit: Int { 1 }
}

/// `REMOTE_CPUMAP_MAX`.
public enum CPUMapLimit: XDRLimit {
    public static var max: Int { 2048 }
    public static var unit: Int { 1 }
}

/// `remote_domain_block_stats_ret`.
extension BlockStats: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        self.init(rdReq: try r.hyper(), rdBytes: try r.hyper(), wrReq: try r.hyper(), wrBytes: try r.hyper(),
                  errs: try r.hyper())
    }
    public func encode(xdr w: inout XDRWriter) {
        for v in [rdReq, rdBytes, wrReq, wrBytes, errs] { w.hyper(v) }
    }
}

/// `remote_domain_interface_stats_ret`.
extension InterfaceStats: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        self.init(rxBytes: try r.hyper(), rxPackets: try r.hyper(), rxErrs: try r.hyper(), rxDrop: try r.hyper(),
                  txBytes: try r.hyper(), txPackets: try r.hyper(), txErrs: try r.hyper(), txDrop: try r.hyper())
    }
    public func encode(xdr w: inout XDRWriter) {
        for v in values { w.hyper(v) }
    }
}

/// `remote_domain_memory_stat`.
extension MemoryStat: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        self.init(tag: try r.int(), value: try r.uhyper())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.int(tag)
        w.uhyper(value)
    }
}

/// `remote_domain_get_block_info_ret`: allocation, capacity, physical.
extension BlockInfo: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let allocation = try r.uhyper(), capacity = try r.uhyper(), physical = try r.uhyper()
        self.init(capacity: capacity, allocation: allocation, physical: physical)
    }
    public func encode(xdr w: inout XDRWriter) {
        w.uhyper(allocation)
        w.uhyper(capacity)
        w.uhyper(physical)
    }
}

/// `remote_domain_set_metadata_args`.
struct SetMetadataArgs: XDRCodable {
    var domain: DomainRef
    var type: Int32
    var metadata: String?
    var key: String?
    var uri: String?
    var flags: UInt32

    init(domain: DomainRef, type: Int32, metadata: String?, key: String?, uri: String?, flags: UInt32) {
        self.domain = domain
        self.type = type
        self.metadata = metadata
        self.key = key
        self.uri = uri
        self.flags = flags
    }

    init(xdr r: inout XDRReader) throws(XDRError) {
        domain = try DomainRef(xdr: &r)
        type = try r.int()
        metadata = try String?(xdr: &r)
        key = try String?(xdr: &r)
        uri = try String?(xdr: &r)
        flags = try r.uint()
    }

    func encode(xdr w: inout XDRWriter) {
        domain.encode(xdr: &w)
        w.int(type)
        metadata.encode(xdr: &w)
        key.encode(xdr: &w)
        uri.encode(xdr: &w)
        w.uint(flags)
    }
}

/// `remote_vcpu_info`.
extension VcpuInfo: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        self.init(number: try r.uint(), state: try r.int(), cpuTime: try r.uhyper(), cpu: try r.int())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.uint(number)
        w.int(state)
        w.uhyper(cpuTime)
        w.int(cpu)
    }
}
