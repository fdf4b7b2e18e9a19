import VirtCore

/// A procedure number of libvirt's remote program (`remote_procedure` in remote_protocol.x). Every
/// number has a named constant in ProcedureCatalog.swift, generated from libvirt's procedure table.
public struct RemoteProcedure: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    init(_ rawValue: Int32) { self.rawValue = rawValue }
}

/// The RPC programs whose procedures the catalog declares.
public enum ProcedureProgram: Sendable, Hashable {
    case remote, qemu, lxc

    /// The program number in the packet header.
    public var number: UInt32 {
        switch self {
        case .remote: RPCProgram.remote
        case .qemu: RPCProgram.qemu
        case .lxc: RPCProgram.lxc
        }
    }
}

/// Whether a procedure may run on a read-only connection: libvirt's public API checks
/// (libvirt checks in its public API functions, not in the RPC layer), keyed on the API a procedure maps to.
public enum ReadOnlyRule: Sendable, Hashable {
    /// No check: allowed on a read-only connection.
    case allowed
    /// Always refused on a read-only connection.
    case refused
    /// Refused when the call's flags have any of these bits (the secure-XML and guest-vCPU flags).
    case refusedWithFlags(UInt32)
    /// Refused when the call's `source` argument equals this value (interface addresses from the agent).
    case refusedWhenSource(Int32)
    /// A server-to-client event message: never called.
    case event
}

/// libvirt's `@priority` annotation: high-priority calls never wait for a worker behind slow ones.
public enum ProcedurePriority: Sendable, Hashable {
    case high, low
}

/// One `@acl` (or `@aclfilter`) annotation: object, permission and, for flag-dependent checks, the
/// condition libvirt writes after them (a flag name, or `:field:VALUE`).
public struct ACLPermission: Sendable, Hashable, CustomStringConvertible {
    public let object: String
    public let permission: String
    public let condition: String?

    public init(_ object: String, _ permission: String, _ condition: String?) {
        self.object = object
        self.permission = permission
        self.condition = condition
    }

    public var description: String {
        "\(object):\(permission)" + (condition.map { ":" + $0 } ?? "")
    }
}

/// What libvirt declares about one procedure: the single source for dispatch, the read-only refusal,
/// the API name in errors and (later) access control.
public struct ProcedureInfo: Sendable {
    public let program: ProcedureProgram
    public let number: Int32
    /// libvirt's name, e.g. `REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME`.
    public let name: String
    public let readOnly: ReadOnlyRule
    public let priority: ProcedurePriority
    /// Every `@acl` permission the call can need (flag-dependent ones carry their condition).
    public let acl: [ACLPermission]
    /// The `@aclfilter` permission of listing calls.
    public let aclFilter: ACLPermission?
    /// The public API whose checks apply (`virDomainCreate`), nil for protocol-internal procedures.
    public let api: String?
    /// The error domain of that API's file, for its errors (VIR_FROM_THIS).
    public let apiDomain: VirtError.ErrorDomain

    init(_ program: ProcedureProgram, _ number: Int32, _ name: String, _ readOnly: ReadOnlyRule,
         _ priority: ProcedurePriority, _ acl: [ACLPermission], filter: ACLPermission?, api: String?,
         apiDomain: Int32) {
        self.program = program
        self.number = number
        self.name = name
        self.readOnly = readOnly
        self.priority = priority
        self.acl = acl
        self.aclFilter = filter
        self.api = api
        self.apiDomain = VirtError.ErrorDomain(rawValue: apiDomain)
    }

    /// The API name errors use: the public API, or the procedure's name for internal ones.
    public var apiName: String { api ?? name }

    /// libvirt's OPERATION_DENIED for this procedure on a read-only connection.
    public func readOnlyDenied() -> VirtError {
        if case .refusedWithFlags = readOnly, name.hasSuffix("_XML_DESC") {
            return VirtError(.operationDenied, domain: apiDomain,
                             "operation forbidden: \(apiName) with secure flag", str1: "\(apiName) with secure flag")
        }
        return VirtError(.operationDenied, domain: apiDomain,
                         "operation forbidden: read only access prevents \(apiName)",
                         str1: "read only access prevents \(apiName)")
    }

    /// libvirt's read-only check for a call with `value` (its flags, or its source for a source rule;
    /// nil when unknown): throws OPERATION_DENIED where libvirt's public API would.
    public func checkReadOnly(_ value: UInt32?) throws(VirtError) {
        switch readOnly {
        case .allowed, .event:
            return
        case .refused:
            throw readOnlyDenied()
        case .refusedWithFlags(let mask):
            guard let value, value & mask == 0 else { throw readOnlyDenied() }
        case .refusedWhenSource(let source):
            guard let value, Int32(bitPattern: value) != source else { throw readOnlyDenied() }
        }
    }

    /// The catalog entry whose public API is `api` (`virDomainCreate`).
    public static func forAPI(_ api: String) -> ProcedureInfo? { byAPI[api] }

    private static let byAPI: [String: ProcedureInfo] = {
        var m: [String: ProcedureInfo] = [:]
        for p in catalog { if let a = p.api, m[a] == nil { m[a] = p } }
        return m
    }()

    /// The catalog entry of a procedure, nil for a number libvirt does not declare.
    public static func lookup(program: UInt32, number: Int32) -> ProcedureInfo? {
        switch program {
        case RPCProgram.remote: remoteByNumber.indices.contains(Int(number)) ? remoteByNumber[Int(number)] : nil
        case RPCProgram.qemu: catalog.first { $0.program == .qemu && $0.number == number }
        case RPCProgram.lxc: catalog.first { $0.program == .lxc && $0.number == number }
        default: nil
        }
    }

    /// The remote program's entries indexed by number.
    static let remoteByNumber: [ProcedureInfo?] = {
        let remote = catalog.filter { $0.program == .remote }
        var table = [ProcedureInfo?](repeating: nil, count: Int(remote.map(\.number).max() ?? 0) + 1)
        for p in remote where p.number >= 0 { table[Int(p.number)] = p }
        return table
    }()

    /// The catalog entry for a remote procedure.
    public static func remote(_ p: RemoteProcedure) -> ProcedureInfo? {
        lookup(program: RPCProgram.remote, number: p.rawValue)
    }
}
