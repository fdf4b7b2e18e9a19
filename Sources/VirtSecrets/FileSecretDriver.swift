import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// libvirt's secret driver: secrets defined by XML, their values, and events, kept in one directory as libvirtd
/// keeps /etc/libvirt/secrets: `UUID.xml` (the definition) and `UUID.base64` (the value), both 0600 in a 0700
/// directory, written atomically. Ephemeral secrets live in memory only. One instance serves every
/// connection of a daemon (as libvirtd's shared secret driver does).
public final class FileSecretDriver: SecretDriver {
    private struct Entry {
        var def: SecretDefinition
        var value: [UInt8]?
    }

    public let directory: String
    private let table = Mutex<[VirtUUID: Entry]>([:])
    private let bus = EventBus<SecretEventRecord>()

    /// Opens (creating it 0700 if needed) `directory` and loads every secret found there. A definition that
    /// cannot be read is skipped, as libvirtd does, and reported in `skipped`.
    public init(directory: String) throws(VirtError) {
        self.directory = directory
        try Self.makeDirectory(directory)
        var entries: [VirtUUID: Entry] = [:]
        var skipped: [String] = []
        for file in Self.list(directory) where file.hasSuffix(".xml") {
            let path = directory + "/" + file
            guard let text = Self.read(path).map({ String(decoding: $0, as: UTF8.self) }) else { continue }
            do {
                let def = try SecretDefinition(xml: text)
                guard file == def.uuid.description + ".xml" else {
                    skipped.append("\(file): <uuid> does not match secret file name '\(file)'")
                    continue
                }
                var value: [UInt8]?
                if let b64 = Self.read(directory + "/" + def.uuid.description + ".base64") {
                    value = Base64.decode(String(decoding: b64, as: UTF8.self))
                }
                entries[def.uuid] = Entry(def: def, value: value)
            } catch {
                skipped.append("\(file): \(error.message)")
            }
        }
        table.withLock { $0 = entries }
        self.skipped = skipped
    }

    /// Definitions found unreadable at open (file and reason).
    public let skipped: [String]

    // MARK: SecretDriver

    public func numOfSecrets() async throws -> Int32 { Int32(table.withLock { $0.count }) }

    public func listSecretUUIDs(max: Int32) async throws -> [String] {
        Array(table.withLock { $0.keys.sorted() }.prefix(Int(Swift.max(0, max)))).map(\.description)
    }

    public func listAllSecrets(flags: UInt32) async throws -> [SecretRef] {
        try Self.checkFlags(flags, allowed: 0xF, "secretConnectListAllSecrets")
        let f = SecretListFlags(rawValue: flags)
        return table.withLock { t in
            t.values.map(\.def).filter { f.matches($0) }.sorted { $0.uuid < $1.uuid }.map(SecretRef.init)
        }
    }

    public func lookupSecret(uuid: VirtUUID) async throws -> SecretRef {
        guard let def = table.withLock({ $0[uuid]?.def }) else { throw Self.noSecret(uuid) }
        return SecretRef(def)
    }

    public func lookupSecret(usageType: Int32, usageID: String) async throws -> SecretRef {
        let found = table.withLock { t in
            t.values.first { $0.def.usage.type == usageType && usageType != 0 && $0.def.usage.id == usageID }?.def
        }
        guard let found else {
            throw VirtError(.noSecret, domain: .secret, "Secret not found: no secret with matching usage '\(usageID)'",
                            str1: "no secret with matching usage '\(usageID)'")
        }
        return SecretRef(found)
    }

    public func defineSecret(xml: String, flags: UInt32) async throws -> SecretRef {
        try Self.checkFlags(flags, allowed: 1, "secretDefineXML")  // VIR_SECRET_DEFINE_VALIDATE
        let def = try SecretDefinition(xml: xml)
        try table.withLock { t throws(VirtError) in
            let old = t[def.uuid]
            if let old {
                if old.def.usage.id != def.usage.id {
                    throw VirtError.internalError(
                        "a secret with UUID \(def.uuid) is already defined for use with \(old.def.usage.id)", domain: .secret)
                }
                if old.def.isPrivate && !def.isPrivate {
                    throw VirtError.internalError("cannot change private flag on existing secret", domain: .secret)
                }
            } else if def.usage.type != 0,
                      let other = t.values.first(where: { $0.def.usage.type == def.usage.type && $0.def.usage.id == def.usage.id }) {
                throw VirtError.internalError(
                    "a secret with UUID \(other.def.uuid) already defined for use with \(def.usage.id)", domain: .secret)
            }
            let value = old?.value
            if !def.ephemeral {
                if let old, old.def.ephemeral, let value { try write(def.uuid, ".base64", Array(Base64.encode(value).utf8)) }
                try write(def.uuid, ".xml", Array(def.xml.utf8))
            } else if let old, !old.def.ephemeral {
                remove(def.uuid)
            }
            t[def.uuid] = Entry(def: def, value: value)
        }
        let ref = SecretRef(def)
        bus.emit(SecretEventRecord(secret: ref, kind: .lifecycle(event: SecretEventRecord.defined, detail: 0)))
        return ref
    }

    public func secretXML(_ secret: SecretRef, flags: UInt32) async throws -> String {
        try Self.checkFlags(flags, allowed: 0, "secretGetXMLDesc")
        guard let def = table.withLock({ $0[secret.uuid]?.def }) else { throw Self.noSecret(secret.uuid) }
        return def.xml
    }

    public func setSecretValue(_ secret: SecretRef, value: [UInt8], flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0, "secretSetValue")
        let ref = try table.withLock { t throws(VirtError) -> SecretRef in
            guard var e = t[secret.uuid] else { throw Self.noSecret(secret.uuid) }
            if !e.def.ephemeral { try write(secret.uuid, ".base64", Array(Base64.encode(value).utf8)) }
            e.value = value
            t[secret.uuid] = e
            return SecretRef(e.def)
        }
        bus.emit(SecretEventRecord(secret: ref, kind: .valueChanged))
    }

    public func secretValue(_ secret: SecretRef, flags: UInt32, internalCall: Bool) async throws -> [UInt8] {
        try Self.checkFlags(flags, allowed: 0, "secretGetValue")
        guard let e = table.withLock({ $0[secret.uuid] }) else { throw Self.noSecret(secret.uuid) }
        if e.def.isPrivate && !internalCall {
            throw VirtError(.invalidSecret, domain: .secret, "Invalid secret: secret is private", str1: "secret is private")
        }
        guard let v = e.value else {
            throw VirtError(.noSecret, domain: .secret,
                            "Secret not found: secret '\(secret.uuid)' does not have a value",
                            str1: "secret '\(secret.uuid)' does not have a value")
        }
        return v
    }

    public func undefineSecret(_ secret: SecretRef) async throws {
        let def = try table.withLock { t throws(VirtError) -> SecretDefinition in
            guard let e = t[secret.uuid] else { throw Self.noSecret(secret.uuid) }
            if !e.def.ephemeral {
                let path = directory + "/" + secret.uuid.description + ".xml"
                if unlink(path) != 0 && errno != ENOENT {
                    throw VirtError.systemError("cannot unlink '\(path)'", errno: errno, domain: .secret)
                }
            }
            unlink(directory + "/" + secret.uuid.description + ".base64")
            t.removeValue(forKey: secret.uuid)
            return e.def
        }
        bus.emit(SecretEventRecord(secret: SecretRef(def), kind: .lifecycle(event: SecretEventRecord.undefined, detail: 0)))
    }

    public func secretEvents() -> AsyncStream<SecretEventRecord> { bus.subscribe() }

    // MARK: Files

    static func noSecret(_ uuid: VirtUUID) -> VirtError {
        VirtError(.noSecret, domain: .secret, "Secret not found: no secret with matching uuid '\(uuid)'",
                  str1: "no secret with matching uuid '\(uuid)'")
    }

    static func checkFlags(_ flags: UInt32, allowed: UInt32, _ api: String) throws(VirtError) {
        if flags & ~allowed != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags & ~allowed), function: api, domain: .secret)
        }
    }

    private func remove(_ uuid: VirtUUID) {
        unlink(directory + "/" + uuid.description + ".xml")
        unlink(directory + "/" + uuid.description + ".base64")
    }

    /// Writes DIR/UUID+suffix, 0600, through a temp file, fsync and rename.
    private func write(_ uuid: VirtUUID, _ suffix: String, _ bytes: [UInt8]) throws(VirtError) {
        let path = directory + "/" + uuid.description + suffix
        switch FileStore.atomicWrite(path, bytes, mode: 0o600) {
        case nil: return
        case .create(let tmp, let e)?: throw VirtError.systemError("cannot create '\(tmp)'", errno: e, domain: .secret)
        case .write(let e)?: throw VirtError.systemError("cannot write '\(path)'", errno: e, domain: .secret)
        }
    }

    static func makeDirectory(_ path: String) throws(VirtError) {
        var cur = ""
        for comp in path.split(separator: "/") {
            cur += "/" + comp
            mkdir(cur, cur == path || cur + "/" == path ? 0o700 : 0o755)
        }
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw VirtError.systemError("cannot create secret directory '\(path)'", errno: errno, domain: .secret)
        }
        chmod(path, 0o700)
    }

    static func list(_ dir: String) -> [String] { FileStore.list(dir) }

    static func read(_ path: String) -> [UInt8]? { FileStore.read(path) }
}
