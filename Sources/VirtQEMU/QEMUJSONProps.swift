/// An ordered JSON object for `-device`/`-blockdev`/`-object`/`-netdev` values, rendered compactly in
/// insertion order as libvirt prints them.
struct QEMUJSONProps: Sendable {
    enum Value: Sendable {
        case string(String)
        case int(Int64)
        case uint(UInt64)
        case bool(Bool)
        case object(QEMUJSONProps)
        case uints([UInt64])
        case null
    }

    private(set) var items: [(String, Value)] = []

    init() {}

    init(_ items: [(String, Value)]) { self.items = items }

    mutating func add(_ key: String, _ v: String?) { if let v { items.append((key, .string(v))) } }
    mutating func add(_ key: String, int v: Int64?) { if let v { items.append((key, .int(v))) } }
    mutating func add(_ key: String, uint v: UInt64?) { if let v { items.append((key, .uint(v))) } }
    mutating func add(_ key: String, bool v: Bool?) { if let v { items.append((key, .bool(v))) } }
    mutating func add(_ key: String, object v: QEMUJSONProps) { items.append((key, .object(v))) }
    mutating func add(_ key: String, uints v: [UInt64]) { items.append((key, .uints(v))) }
    mutating func addNull(_ key: String) { items.append((key, .null)) }

    var rendered: String {
        var s = "{"
        for (i, (k, v)) in items.enumerated() {
            if i > 0 { s += "," }
            Self.quote(k, into: &s)
            s += ":"
            switch v {
            case .string(let x): Self.quote(x, into: &s)
            case .int(let x): s += String(x)
            case .uint(let x): s += String(x)
            case .bool(let x): s += x ? "true" : "false"
            case .object(let o): s += o.rendered
            case .uints(let xs): s += "[" + xs.map(String.init).joined(separator: ",") + "]"
            case .null: s += "null"
            }
        }
        return s + "}"
    }

    static func quote(_ str: String, into s: inout String) {
        s += "\""
        for u in str.unicodeScalars {
            switch u {
            case "\"": s += "\\\""
            case "\\": s += "\\\\"
            case "\n": s += "\\n"
            case "\r": s += "\\r"
            case "\t": s += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    s += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    s.unicodeScalars.append(u)
                }
            }
        }
        s += "\""
    }
}
