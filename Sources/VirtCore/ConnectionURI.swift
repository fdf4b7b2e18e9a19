/// A libvirt connection URI: `driver[+transport]://[user@][host][:port]/path[?key=value&…]`.
public struct ConnectionURI: Sendable, Hashable, CustomStringConvertible {
    /// The whole scheme, e.g. `qemu+unix`.
    public var scheme: String
    /// The driver part of the scheme, e.g. `qemu`.
    public var driver: String
    /// The transport part of the scheme (`unix`, `tcp`, `ssh`, `tls`), if any.
    public var transport: String?
    public var user: String?
    public var host: String?
    public var port: Int?
    /// The path, e.g. `/system`, `/default`, `/embed`, or a file path for `test:///path/node.xml`.
    public var path: String
    /// Query parameters in order, percent-decoded.
    public var query: [(key: String, value: String)]
    /// The original text.
    public let original: String

    public static func == (a: ConnectionURI, b: ConnectionURI) -> Bool { a.original == b.original }
    public func hash(into h: inout Hasher) { h.combine(original) }

    public var description: String { original }

    /// The value of the first query parameter `key`.
    public func queryValue(_ key: String) -> String? { query.first { $0.key == key }?.value }

    /// True when the URI names a server or a transport, so a client must go through the remote driver.
    public var isRemote: Bool { transport != nil || (host.map { !$0.isEmpty } ?? false) }

    public init(parsing text: String) throws(VirtError) {
        original = text
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw VirtError(.invalidArg, domain: .uri, "invalid argument: Unable to parse URI \(text)")
        }
        scheme = String(text[..<schemeEnd.lowerBound])
        if scheme.isEmpty {
            throw VirtError(.invalidArg, domain: .uri, "invalid argument: Unable to parse URI \(text)")
        }
        if let plus = scheme.firstIndex(of: "+") {
            driver = String(scheme[..<plus])
            transport = String(scheme[scheme.index(after: plus)...])
        } else {
            driver = scheme
            transport = nil
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        var queryText: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            queryText = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var authority: Substring
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = String(rest[slash...])
        } else {
            authority = rest
            path = ""
        }
        user = nil
        if let at = authority.lastIndex(of: "@") {
            user = String(authority[..<at])
            authority = authority[authority.index(after: at)...]
        }
        port = nil
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { port = Int(after.dropFirst()) }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]) else {
                throw VirtError(.invalidArg, domain: .uri, "invalid argument: Unable to parse URI \(text)")
            }
            port = p
        } else {
            host = authority.isEmpty ? nil : String(authority)
        }
        query = []
        for pair in queryText.split(separator: "&", omittingEmptySubsequences: true) {
            if let eq = pair.firstIndex(of: "=") {
                query.append((ConnectionURI.percentDecode(pair[..<eq]),
                              ConnectionURI.percentDecode(pair[pair.index(after: eq)...])))
            } else {
                query.append((ConnectionURI.percentDecode(pair), ""))
            }
        }
    }

    static func percentDecode(_ s: Substring) -> String {
        var out = [UInt8]()
        let u = Array(s.utf8)
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 65...70: c - 55
            case 97...102: c - 87
            default: nil
            }
        }
        while i < u.count {
            if u[i] == UInt8(ascii: "%"), i + 2 < u.count, let h = hex(u[i + 1]), let l = hex(u[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(u[i] == UInt8(ascii: "+") ? UInt8(ascii: " ") : u[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
