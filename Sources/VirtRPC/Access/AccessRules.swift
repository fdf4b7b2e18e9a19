import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The object a permission is checked on: libvirt's object type (`connect`, `domain`, `secret`, `network`,
/// `storage_pool`, …) and, for everything but `connect`, its name (a secret's is its UUID).
public struct ACLObject: Sendable, Hashable, CustomStringConvertible {
    public var type: String
    public var name: String?

    public init(type: String, name: String? = nil) {
        self.type = type
        self.name = name
    }

    public var description: String { type + (name.map { " '\($0)'" } ?? "") }
}

/// One access-control driver (libvirt's `access_drivers` entry): allows or denies a permission on an object
/// to an identity.
public protocol AccessDriver: Sendable {
    func allows(_ identity: ClientIdentity, _ object: ACLObject, _ permission: String) -> Bool
}

/// The `rules` access driver: a file of rules, read at start. Each line is
///
///     allow|deny [uid=N] [user=NAME] [gid=N] [group=NAME] [dn=GLOB] [object=TYPE|*] [name=GLOB] [perm=P,Q,…|*]
///
/// The first rule whose every condition holds decides; a condition left out holds for anyone. `uid`/`user`
/// and `gid`/`group` compare the unix peer's credentials (`group` also matches a supplementary group of the
/// user); `dn` is a glob on a TLS client's distinguished name (as `tls_allowed_dn_list`); `object` is
/// libvirt's object type (`connect`, `domain`, `secret`, `network`, `storage_pool`, `storage_vol`,
/// `node_device`, `interface`, `nwfilter`); `name` a glob on the object's name (a secret's UUID; `connect`
/// has no name, so a rule with `name=` never matches it); `perm` libvirt's permission names for that object
/// (`getattr`, `read`, `write`, `start`, …). `#` starts a comment. When no rule matches, root (uid 0) is
/// allowed and everyone else denied.
public struct AccessRules: AccessDriver {
    public enum Action: Sendable, Hashable { case allow, deny }

    public struct Rule: Sendable, Hashable {
        public var action: Action
        public var uid: uid_t?
        public var gid: gid_t?
        public var dn: String?
        public var object: String?
        public var name: String?
        public var permissions: Set<String>?
        public var line: Int
    }

    public var rules: [Rule]

    public init(rules: [Rule]) {
        self.rules = rules
    }

    /// Parses a rules file; errors name the line.
    public init(text: String) throws(AccessRulesError) {
        var rules: [Rule] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let words = Self.words(line)
            guard let first = words.first else { continue }
            let action: Action
            switch first {
            case "allow": action = .allow
            case "deny": action = .deny
            default: throw AccessRulesError(line: n + 1, message: "expected 'allow' or 'deny', not '\(first)'")
            }
            var rule = Rule(action: action, line: n + 1)
            for word in words.dropFirst() {
                guard let eq = word.firstIndex(of: "=") else {
                    throw AccessRulesError(line: n + 1, message: "expected KEY=VALUE, not '\(word)'")
                }
                let key = String(word[..<eq])
                let value = String(word[word.index(after: eq)...])
                switch key {
                case "uid":
                    guard let u = uid_t(value) else { throw AccessRulesError(line: n + 1, message: "uid: not a number: '\(value)'") }
                    rule.uid = u
                case "user":
                    guard let pw = getpwnam(value) else { throw AccessRulesError(line: n + 1, message: "user: no such user '\(value)'") }
                    rule.uid = pw.pointee.pw_uid
                case "gid":
                    guard let g = gid_t(value) else { throw AccessRulesError(line: n + 1, message: "gid: not a number: '\(value)'") }
                    rule.gid = g
                case "group":
                    guard let gr = getgrnam(value) else { throw AccessRulesError(line: n + 1, message: "group: no such group '\(value)'") }
                    rule.gid = gr.pointee.gr_gid
                case "dn": rule.dn = value
                case "object": rule.object = value == "*" ? nil : value
                case "name": rule.name = value
                case "perm":
                    rule.permissions = value == "*" ? nil : Set(value.split(separator: ",").map(String.init))
                default:
                    throw AccessRulesError(line: n + 1, message: "unknown condition '\(key)'")
                }
            }
            rules.append(rule)
        }
        self.rules = rules
    }

    public func allows(_ identity: ClientIdentity, _ object: ACLObject, _ permission: String) -> Bool {
        for r in rules where Self.matches(r, identity, object, permission) {
            return r.action == .allow
        }
        return identity.uid == 0
    }

    static func matches(_ r: Rule, _ id: ClientIdentity, _ object: ACLObject, _ permission: String) -> Bool {
        if let uid = r.uid, id.uid != uid { return false }
        if let gid = r.gid, !Self.inGroup(id, gid) { return false }
        if let dn = r.dn {
            guard let have = id.x509DN, fnmatch(dn, have, 0) == 0 else { return false }
        }
        if let o = r.object, o != object.type { return false }
        if let pattern = r.name {
            guard let name = object.name, fnmatch(pattern, name, 0) == 0 else { return false }
        }
        if let perms = r.permissions, !perms.contains(permission) { return false }
        return true
    }

    /// The peer's primary group, or a supplementary group of its user.
    static func inGroup(_ id: ClientIdentity, _ gid: gid_t) -> Bool {
        if id.gid == gid { return true }
        guard let user = id.userName, let gr = getgrgid(gid), var member = gr.pointee.gr_mem else { return false }
        while let m = member.pointee {
            if String(cString: m) == user { return true }
            member += 1
        }
        return false
    }

    /// Words separated by blanks; a double-quoted word may hold blanks (`dn="C=GB, O=x"`: quotes around a value).
    static func words(_ line: Substring) -> [String] {
        var out: [String] = []
        var cur = ""
        var quoted = false
        var any = false
        for c in line {
            if c == "\"" {
                quoted.toggle()
                any = true
            } else if (c == " " || c == "\t") && !quoted {
                if any { out.append(cur) }
                cur = ""
                any = false
            } else {
                cur.append(c)
                any = true
            }
        }
        if any { out.append(cur) }
        return out
    }
}

public struct AccessRulesError: Error, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "access rules line \(line): \(message)" }
}

/// libvirt's stack of access drivers: a permission is granted only when every driver allows it.
public struct AccessManager: Sendable {
    public var drivers: [any AccessDriver]

    public init(drivers: [any AccessDriver]) {
        self.drivers = drivers
    }

    public func allows(_ identity: ClientIdentity, _ object: ACLObject, _ permission: String) -> Bool {
        drivers.allSatisfy { $0.allows(identity, object, permission) }
    }

    /// libvirt's denial: ACCESS_DENIED (88) from VIR_FROM_ACCESS (55), naming the connection's driver.
    public static func denied(driverName: String) -> VirtError {
        VirtError(.accessDenied, domain: .access, "access denied: '\(driverName)' denied access",
                  str1: "'\(driverName)' denied access")
    }
}
