/// How a domain is named across the API and the wire: libvirt's `remote_nonnull_domain`.
///
/// `id` is -1 for an inactive domain.
public struct DomainRef: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var uuid: VirtUUID
    public var id: Int32

    public init(name: String, uuid: VirtUUID, id: Int32 = -1) {
        self.name = name
        self.uuid = uuid
        self.id = id
    }

    public var description: String { name }
}

/// `virDomainInfo`.
public struct DomainInfo: Sendable, Hashable {
    public var state: DomainState
    /// KiB.
    public var maxMemory: UInt64
    /// KiB.
    public var memory: UInt64
    public var vcpus: UInt16
    /// Nanoseconds.
    public var cpuTime: UInt64

    public init(state: DomainState, maxMemory: UInt64, memory: UInt64, vcpus: UInt16, cpuTime: UInt64) {
        self.state = state
        self.maxMemory = maxMemory
        self.memory = memory
        self.vcpus = vcpus
        self.cpuTime = cpuTime
    }
}

/// `virNodeInfo`.
public struct NodeInfo: Sendable, Hashable {
    public var model: String
    /// KiB.
    public var memory: UInt64
    public var cpus: UInt32
    public var mhz: UInt32
    public var nodes: UInt32
    public var sockets: UInt32
    public var cores: UInt32
    public var threads: UInt32

    public init(model: String, memory: UInt64, cpus: UInt32, mhz: UInt32, nodes: UInt32, sockets: UInt32,
                cores: UInt32, threads: UInt32) {
        self.model = model
        self.memory = memory
        self.cpus = cpus
        self.mhz = mhz
        self.nodes = nodes
        self.sockets = sockets
        self.cores = cores
        self.threads = threads
    }
}

/// `virSecurityModel`.
public struct SecurityModel: Sendable, Hashable {
    public var model: String
    public var doi: String
    public init(model: String, doi: String) {
        self.model = model
        self.doi = doi
    }
}

/// `virSecurityLabel`.
public struct SecurityLabel: Sendable, Hashable {
    public var label: String
    public var enforcing: Bool
    public init(label: String, enforcing: Bool) {
        self.label = label
        self.enforcing = enforcing
    }
}

/// A typed parameter (`virTypedParameter`), used by stats, migration and save/restore params.
public struct TypedParam: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case int(Int32)
        case uint(UInt32)
        case llong(Int64)
        case ullong(UInt64)
        case double(Double)
        case boolean(Bool)
        case string(String)

        /// `virTypedParameterType`.
        public var typeCode: Int32 {
            switch self {
            case .int: 1
            case .uint: 2
            case .llong: 3
            case .ullong: 4
            case .double: 5
            case .boolean: 6
            case .string: 7
            }
        }
    }

    public var field: String
    public var value: Value

    public init(_ field: String, _ value: Value) {
        self.field = field
        self.value = value
    }
}

/// One domain's statistics record (`virDomainStatsRecord`).
public struct DomainStatsRecord: Sendable, Hashable {
    public var domain: DomainRef
    public var params: [TypedParam]
    public init(domain: DomainRef, params: [TypedParam]) {
        self.domain = domain
        self.params = params
    }
}
