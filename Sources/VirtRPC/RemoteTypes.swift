import NIOCore
import VirtCore

/// XDR coding of the remote protocol's shared structures.
extension XDRWriter {
    /// `remote_nonnull_domain { string name; opaque uuid[16]; int id }`.
    public mutating func domain(_ d: DomainRef) {
        string(d.name)
        uuid(d.uuid)
        int(d.id)
    }

    /// `remote_uuid` (`opaque[16]`): the 16 bytes, most significant first.
    public mutating func uuid(_ u: VirtUUID) {
        uhyper(u.high)
        uhyper(u.low)
    }

    /// `remote_domain`: optional `remote_nonnull_domain`.
    public mutating func optionalDomain(_ d: DomainRef?) {
        if let d {
            int(1)
            domain(d)
        } else {
            int(0)
        }
    }

    /// `remote_error` / `virNetMessageError`.
    public mutating func error(_ e: VirtError) {
        int(e.code.rawValue)
        int(e.domain.rawValue)
        optionalString(e.message)
        int(e.level.rawValue)
        int(0) // dom
        optionalString(e.str1)
        optionalString(e.str2)
        optionalString(e.str3)
        int(e.int1)
        int(e.int2)
        int(0) // net
    }

    /// `remote_typed_param`.
    public mutating func typedParam(_ p: TypedParam) {
        string(p.field)
        int(p.value.typeCode)
        switch p.value {
        case .int(let v): int(v)
        case .uint(let v): uint(v)
        case .llong(let v): hyper(v)
        case .ullong(let v): uhyper(v)
        case .double(let v): double(v)
        case .boolean(let v): int(v ? 1 : 0)
        case .string(let v): string(v)
        }
    }

    /// `remote_typed_param params<N>`.
    public mutating func typedParams(_ ps: [TypedParam]) {
        uint(UInt32(ps.count))
        for p in ps { typedParam(p) }
    }
}

extension XDRReader {
    /// `remote_nonnull_domain`.
    public mutating func domain() throws(XDRError) -> DomainRef {
        let name = try string()
        let uuid = try uuid()
        return DomainRef(name: name, uuid: uuid, id: try int())
    }

    /// `remote_domain`.
    public mutating func optionalDomain() throws(XDRError) -> DomainRef? {
        try bool() ? try domain() : nil
    }

    /// `remote_uuid`.
    public mutating func uuid() throws(XDRError) -> VirtUUID {
        // opaque[16] needs no padding; the two halves are big-endian 64-bit words.
        guard buffer.readableBytes >= 16 else { throw .truncated }
        let high = try uhyper()
        return VirtUUID(high: high, low: try uhyper())
    }

    /// `remote_error` / `virNetMessageError`.
    public mutating func error() throws(XDRError) -> VirtError {
        let code = try int()
        let domain = try int()
        let message = try optionalString()
        let level = try int()
        if try bool() { _ = try self.domain() }
        let s1 = try optionalString()
        let s2 = try optionalString()
        let s3 = try optionalString()
        let i1 = try int()
        let i2 = try int()
        if try bool() {
            _ = try string()
            _ = try uuid()
        }
        return VirtError(VirtError.Code(rawValue: code), domain: VirtError.ErrorDomain(rawValue: domain),
                         message ?? "", level: VirtError.Level(rawValue: level) ?? .error,
                         str1: s1, str2: s2, str3: s3, int1: i1, int2: i2)
    }

    /// `remote_typed_param`.
    public mutating func typedParam() throws(XDRError) -> TypedParam {
        let field = try string(max: 80)
        let value: TypedParam.Value
        switch try int() {
        case 1: value = .int(try int())
        case 2: value = .uint(try uint())
        case 3: value = .llong(try hyper())
        case 4: value = .ullong(try uhyper())
        case 5: value = .double(try double())
        case 6: value = .boolean(try int() != 0)
        case 7: value = .string(try string())
        case let t: throw .invalidValue("typed param type \(t)")
        }
        return TypedParam(field, value)
    }

    /// `remote_typed_param params<max>`.
    public mutating func typedParams(max: Int) throws(XDRError) -> [TypedParam] {
        let n = try count(max: max, unit: 12)
        var out = [TypedParam]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try typedParam()) }
        return out
    }
}
