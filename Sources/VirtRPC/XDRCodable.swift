import VirtCore

/// A value with an XDR form: procedure arguments and results are made of these.
public protocol XDRCodable: Sendable {
    init(xdr r: inout XDRReader) throws(XDRError)
    func encode(xdr w: inout XDRWriter)
}

/// `void`: an argument or result with no bytes.
public struct XDRVoid: XDRCodable, Hashable {
    public init() {}
    public init(xdr r: inout XDRReader) throws(XDRError) {}
    public func encode(xdr w: inout XDRWriter) {}
}

/// Two values one after the other, as rpcgen lays out a struct's members. (Fixed arities rather than a
/// parameter pack: pack types are instantiated at run time, which cost every call a conformance lookup.)
public struct XDRTuple2<A: XDRCodable, B: XDRCodable>: XDRCodable {
    public var values: (A, B)
    public init(_ a: A, _ b: B) { values = (a, b) }
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let a = try A(xdr: &r)
        values = (a, try B(xdr: &r))
    }
    public func encode(xdr w: inout XDRWriter) {
        values.0.encode(xdr: &w)
        values.1.encode(xdr: &w)
    }
}

/// Three values one after the other.
public struct XDRTuple3<A: XDRCodable, B: XDRCodable, C: XDRCodable>: XDRCodable {
    public var values: (A, B, C)
    public init(_ a: A, _ b: B, _ c: C) { values = (a, b, c) }
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let a = try A(xdr: &r)
        let b = try B(xdr: &r)
        values = (a, b, try C(xdr: &r))
    }
    public func encode(xdr w: inout XDRWriter) {
        values.0.encode(xdr: &w)
        values.1.encode(xdr: &w)
        values.2.encode(xdr: &w)
    }
}

/// Four values one after the other.
public struct XDRTuple4<A: XDRCodable, B: XDRCodable, C: XDRCodable, D: XDRCodable>: XDRCodable {
    public var values: (A, B, C, D)
    public init(_ a: A, _ b: B, _ c: C, _ d: D) { values = (a, b, c, d) }
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let a = try A(xdr: &r)
        let b = try B(xdr: &r)
        let c = try C(xdr: &r)
        values = (a, b, c, try D(xdr: &r))
    }
    public func encode(xdr w: inout XDRWriter) {
        values.0.encode(xdr: &w)
        values.1.encode(xdr: &w)
        values.2.encode(xdr: &w)
        values.3.encode(xdr: &w)
    }
}

/// Five values one after the other.
public struct XDRTuple5<A: XDRCodable, B: XDRCodable, C: XDRCodable, D: XDRCodable, E: XDRCodable>: XDRCodable {
    public var values: (A, B, C, D, E)
    public init(_ a: A, _ b: B, _ c: C, _ d: D, _ e: E) { values = (a, b, c, d, e) }
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let a = try A(xdr: &r)
        let b = try B(xdr: &r)
        let c = try C(xdr: &r)
        let d = try D(xdr: &r)
        values = (a, b, c, d, try E(xdr: &r))
    }
    public func encode(xdr w: inout XDRWriter) {
        values.0.encode(xdr: &w)
        values.1.encode(xdr: &w)
        values.2.encode(xdr: &w)
        values.3.encode(xdr: &w)
        values.4.encode(xdr: &w)
    }
}

extension Int32: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) { self = try r.int() }
    public func encode(xdr w: inout XDRWriter) { w.int(self) }
}

extension UInt32: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) { self = try r.uint() }
    public func encode(xdr w: inout XDRWriter) { w.uint(self) }
}

extension Int64: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) { self = try r.hyper() }
    public func encode(xdr w: inout XDRWriter) { w.hyper(self) }
}

extension UInt64: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) { self = try r.uhyper() }
    public func encode(xdr w: inout XDRWriter) { w.uhyper(self) }
}

/// `remote_nonnull_string`.
extension String: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) { self = try r.string() }
    public func encode(xdr w: inout XDRWriter) { w.string(self) }
}

/// rpcgen's optional (`remote_string`, `remote_domain`): a presence flag, then the value.
extension Optional: XDRCodable where Wrapped: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        self = try r.bool() ? try Wrapped(xdr: &r) : nil
    }
    public func encode(xdr w: inout XDRWriter) {
        if let v = self {
            w.int(1)
            v.encode(xdr: &w)
        } else {
            w.int(0)
        }
    }
}

/// `remote_nonnull_domain`.
extension DomainRef: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) { self = try r.domain() }
    public func encode(xdr w: inout XDRWriter) { w.domain(self) }
}

/// `remote_uuid`.
extension VirtUUID: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) { self = try r.uuid() }
    public func encode(xdr w: inout XDRWriter) { w.fixedOpaque(bytes) }
}

/// The maximum element count of an XDR array (`<N>`) and the least bytes one element takes.
public protocol XDRLimit: Sendable {
    static var max: Int { get }
    static var unit: Int { get }
}

/// `remote_nonnull_domain domains<REMOTE_DOMAIN_LIST_MAX>` and the other lists bounded as libvirt's.
public enum DomainListLimit: XDRLimit {
    public static var max: Int { RPCLimits.domainListMax }
    public static var unit: Int { 24 }
}

/// Lists of ids and names (`REMOTE_DOMAIN_LIST_MAX`).
public enum NameListLimit: XDRLimit {
    public static var max: Int { RPCLimits.domainListMax }
    public static var unit: Int { 4 }
}

/// `remote_auth_type types<REMOTE_AUTH_TYPE_LIST_MAX>`.
public enum AuthListLimit: XDRLimit {
    public static var max: Int { RPCLimits.authTypeListMax }
    public static var unit: Int { 4 }
}

/// `remote_nonnull_string msgs<REMOTE_DOMAIN_MESSAGES_MAX>`.
public enum MessageListLimit: XDRLimit {
    public static var max: Int { RPCLimits.domainMessagesMax }
    public static var unit: Int { 4 }
}

/// A variable-length XDR array bounded by `Limit`.
public struct XDRList<Element: XDRCodable, Limit: XDRLimit>: XDRCodable {
    public var items: [Element]
    public init(_ items: [Element]) { self.items = items }
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let n = try r.count(max: Limit.max, unit: Limit.unit)
        var out = [Element]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try Element(xdr: &r)) }
        items = out
    }
    public func encode(xdr w: inout XDRWriter) {
        w.uint(UInt32(items.count))
        for i in items { i.encode(xdr: &w) }
    }
}

/// `remote_typed_param params<N>`, bounded by `Limit`.
public struct TypedParamList<Limit: XDRLimit>: XDRCodable {
    public var params: [TypedParam]
    public init(_ params: [TypedParam]) { self.params = params }
    public init(xdr r: inout XDRReader) throws(XDRError) { params = try r.typedParams(max: Limit.max) }
    public func encode(xdr w: inout XDRWriter) { w.typedParams(params) }

    /// The string value of parameter `name`, if present.
    public func string(_ name: String) -> String? {
        for p in params where p.field == name {
            if case .string(let s) = p.value { return s }
        }
        return nil
    }
}

/// `REMOTE_DOMAIN_SAVE_PARAMS_MAX` and the like.
public enum TypedParamsLimit: XDRLimit {
    public static var max: Int { RPCLimits.typedParamsMax }
    public static var unit: Int { 12 }
}

/// The per-record limit of CONNECT_GET_ALL_DOMAIN_STATS (`REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX`).
public enum DomainStatsParamsLimit: XDRLimit {
    public static var max: Int { RPCLimits.allDomainStatsMax }
    public static var unit: Int { 12 }
}

/// `remote_node_get_info_ret`: the model as `char model[32]`, then the numbers.
extension NodeInfo: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let model = try r.fixedCharArray(count: 32)
        let modelStr = String(decoding: model.prefix { $0 != 0 }, as: UTF8.self)
        let mem = try r.uhyper()
        self.init(model: modelStr, memory: mem, cpus: try r.uint(), mhz: try r.uint(), nodes: try r.uint(),
                  sockets: try r.uint(), cores: try r.uint(), threads: try r.uint())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.fixedCharArray(Array(model.utf8.prefix(31)), count: 32)
        w.uhyper(memory)
        w.int(Int32(bitPattern: cpus))
        w.int(Int32(bitPattern: mhz))
        w.int(Int32(bitPattern: nodes))
        w.int(Int32(bitPattern: sockets))
        w.int(Int32(bitPattern: cores))
        w.int(Int32(bitPattern: threads))
    }
}

/// `remote_domain_get_info_ret`.
extension DomainInfo: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let st = try r.int()
        let maxMem = try r.uhyper()
        let mem = try r.uhyper()
        let vcpus = try r.int()
        let cpu = try r.uhyper()
        self.init(state: DomainState(rawValue: st) ?? .noState, maxMemory: maxMem, memory: mem,
                  vcpus: UInt16(truncatingIfNeeded: vcpus), cpuTime: cpu)
    }
    public func encode(xdr w: inout XDRWriter) {
        w.int(state.rawValue)
        w.uhyper(maxMemory)
        w.uhyper(memory)
        w.int(Int32(vcpus))
        w.uhyper(cpuTime)
    }
}

/// `remote_domain_get_state_ret`.
extension DomainStatus: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let st = try r.int()
        self.init(DomainState(rawValue: st) ?? .noState, reason: try r.int())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.int(state.rawValue)
        w.int(reason)
    }
}

private func cString(_ b: [UInt8]) -> String { String(decoding: b.prefix { $0 != 0 }, as: UTF8.self) }

/// `remote_node_get_security_model_ret`: two NUL-terminated `char<>` arrays.
extension SecurityModel: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let m = try r.charArray(max: RPCLimits.securityModelMax)
        let d = try r.charArray(max: RPCLimits.securityDOIMax)
        self.init(model: cString(m), doi: cString(d))
    }
    public func encode(xdr w: inout XDRWriter) {
        w.charArray(Array(model.utf8.prefix(RPCLimits.securityModelMax - 1)) + [0])
        w.charArray(Array(doi.utf8.prefix(RPCLimits.securityDOIMax - 1)) + [0])
    }
}

/// `remote_domain_get_security_label_ret`: an empty label stands for "none".
extension SecurityLabel: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let l = try r.charArray(max: RPCLimits.securityLabelMax)
        self.init(label: cString(l), enforcing: try r.int() != 0)
    }
    public func encode(xdr w: inout XDRWriter) {
        w.charArray(Array(label.utf8.prefix(RPCLimits.securityLabelMax - 1)) + [0])
        w.int(enforcing ? 1 : 0)
    }
}

/// `remote_domain_stats_record`.
extension DomainStatsRecord: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let d = try r.domain()
        self.init(domain: d, params: try r.typedParams(max: RPCLimits.allDomainStatsMax))
    }
    public func encode(xdr w: inout XDRWriter) {
        w.domain(domain)
        w.typedParams(params)
    }
}

/// Variable-length `opaque x<N>`, bounded by `Limit` (bytes).
public struct XDROpaque<Limit: XDRLimit>: XDRCodable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(xdr r: inout XDRReader) throws(XDRError) { bytes = try r.opaque(max: Limit.max) }
    public func encode(xdr w: inout XDRWriter) { w.opaque(bytes) }
}

/// `REMOTE_MIGRATE_COOKIE_MAX`.
public enum MigrateCookieLimit: XDRLimit {
    public static var max: Int { 4_194_304 }
    public static var unit: Int { 1 }
}

/// `REMOTE_DOMAIN_MIGRATE_PARAM_LIST_MAX`.
public enum MigrateParamsLimit: XDRLimit {
    public static var max: Int { 64 }
    public static var unit: Int { 12 }
}

/// The `*_list_all_*_ret` shape (`remote_connect_list_all_domains_ret` and its siblings): the objects, when the
/// caller asked for them, and their count.
public struct XDRCountedList<Element: XDRCodable, Limit: XDRLimit>: XDRCodable {
    public var items: [Element]
    public var count: UInt32
    public init(_ items: [Element], count: UInt32) {
        self.items = items
        self.count = count
    }
    /// The list as the procedures answer it: every item when `needResults` is non-zero, else only the count.
    public init(_ all: [Element], needResults: Int32) {
        self.init(needResults != 0 ? all : [], count: UInt32(all.count))
    }
    public init(xdr r: inout XDRReader) throws(XDRError) {
        items = try XDRList<Element, Limit>(xdr: &r).items
        count = try r.uint()
    }
    public func encode(xdr w: inout XDRWriter) {
        XDRList<Element, Limit>(items).encode(xdr: &w)
        w.uint(count)
    }
}
