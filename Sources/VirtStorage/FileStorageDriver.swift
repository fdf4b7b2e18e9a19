import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// One pool of the daemon's storage driver (`virStoragePoolObj`).
struct PoolObject: Sendable {
    var def: StoragePoolDefinition
    /// A definition given while active, applied when the pool stops.
    var newDef: StoragePoolDefinition?
    var active = false
    var autostart = false
    /// Whether a config file exists (pool-define); transient pools (pool-create) have none.
    var persistent = false
    var volumes: [StorageVolumeDefinition] = []
    /// Volumes being created (their names are taken; they are not listed yet).
    var building: Set<String> = []

    var ref: StoragePoolRef { StoragePoolRef(name: def.name, uuid: def.uuid) }

    func volRef(_ v: StorageVolumeDefinition) -> StorageVolRef {
        StorageVolRef(pool: def.name, name: v.name, key: v.key ?? v.target.path ?? "")
    }
}

/// libvirt's storage driver for a daemon (`storage_driver.c`) with the `dir` and `fs` backends (`PoolBackend`):
/// pool definitions in
/// `CONFIG/NAME.xml` (written atomically), autostart links in `CONFIG/autostart`, the live definition of each
/// running pool in `STATE/NAME.xml`. At open the driver reloads them: pools that were running (a state file
/// whose directory is still there; for an fs pool, whose source is still mounted on it) are active again, then
/// autostart pools start. One instance serves every
/// `qemu:///system` connection of a daemon.
public final class FileStorageDriver: StorageDriver {
    public let configDir: String
    public let stateDir: String
    var autostartDir: String { configDir + "/autostart" }

    let pools = Mutex<[PoolObject]>([])
    let bus = EventBus<StoragePoolEventRecord>()
    static let domain = VirtError.ErrorDomain.storage

    /// The daemon's secret driver: the passphrases of encrypted volumes (LUKS) come from it.
    private let secretDriver = Mutex<(any SecretDriver)?>(nil)
    public func setSecretDriver(_ s: any SecretDriver) { secretDriver.withLock { $0 = s } }
    var secrets: (any SecretDriver)? { secretDriver.withLock { $0 } }

    /// Problems met while loading (file and reason), for the daemon's log.
    public var loadProblems: [String] { problems.withLock { $0 } }
    private let problems = Mutex<[String]>([])

    public init(configDir: String, stateDir: String) throws(VirtError) {
        self.configDir = configDir
        self.stateDir = stateDir
        for d in [configDir, configDir + "/autostart", stateDir] { try Self.makeDirectory(d) }
        let found = load()
        problems.withLock { $0 = found }
    }

    // MARK: Loading

    private func load() -> [String] {
        var problems: [String] = []
        var list: [PoolObject] = []
        for file in Self.list(configDir).sorted() where file.hasSuffix(".xml") {
            let path = configDir + "/" + file
            guard let text = Self.readText(path) else { continue }
            do {
                let def = try StoragePoolDefinition(xml: text)
                guard file == def.name + ".xml" else {
                    problems.append("Storage pool config filename '\(path)' does not match pool name '\(def.name)'")
                    continue
                }
                var o = PoolObject(def: def)
                o.persistent = true
                o.autostart = access(autostartDir + "/" + file, F_OK) == 0
                list.append(o)
            } catch {
                problems.append("\(path): \(error.message)")
            }
        }
        // Pools that were running: their live definition, active again if the directory is still there.
        for file in Self.list(stateDir).sorted() where file.hasSuffix(".xml") {
            let path = stateDir + "/" + file
            guard let text = Self.readText(path), let def = try? StoragePoolDefinition(xml: text),
                  file == def.name + ".xml" else {
                unlink(path)
                continue
            }
            var i = list.firstIndex { $0.def.name == def.name }
            if i == nil {
                list.append(PoolObject(def: def))
                i = list.count - 1
            }
            guard let i else { continue }
            if list[i].persistent && list[i].def != def { list[i].newDef = list[i].def }
            list[i].def = def
            let backend = try? PoolBackend(def.type)
            if backend?.isStillActive(def) == true, refreshLocked(&list[i]) {
                list[i].active = true
            } else {
                unlink(path)
                if !list[i].persistent { list.remove(at: i) } else { applyNewDef(&list[i]) }
            }
        }
        // Autostart.
        for i in list.indices where list[i].autostart && !list[i].active {
            if (try? startLocked(&list[i])) != nil {
                list[i].active = true
                try? writeState(list[i].def)
            } else {
                problems.append("Failed to autostart storage pool '\(list[i].def.name)'")
            }
        }
        pools.withLock { $0 = list }
        return problems
    }

    private func applyNewDef(_ o: inout PoolObject) {
        if let n = o.newDef {
            o.def = n
            o.newDef = nil
        }
    }

    /// Starts a pool's backend (an fs pool mounts its source), then reads it; a failed read stops the backend
    /// again, as libvirt's `storagePoolCreate`.
    func startLocked(_ o: inout PoolObject) throws(VirtError) {
        let backend = try PoolBackend(o.def.type)
        try backend.start(o.def)
        do throws(VirtError) {
            try refreshOrThrow(&o)
        } catch {
            try? backend.stop(o.def)
            throw error
        }
    }

    /// Reads the pool's directory: its space and volumes; false when it cannot be read.
    @discardableResult
    func refreshLocked(_ o: inout PoolObject) -> Bool {
        (try? refreshOrThrow(&o)) != nil
    }

    func refreshOrThrow(_ o: inout PoolObject) throws(VirtError) {
        guard let path = o.def.targetPath else { throw StorageErrors.internalError("missing target path") }
        let vols = try DirPoolBackend.scan(o.def)
        let space = try DirPoolBackend.space(path)
        o.volumes = vols
        o.def.capacity = space.capacity
        o.def.allocation = space.allocation
        o.def.available = space.available
        if let p = DirPoolBackend.permissions(path) {
            o.def.targetPermissions.mode = p.mode
            o.def.targetPermissions.owner = p.owner
            o.def.targetPermissions.group = p.group
        }
    }

    // MARK: Files

    func writeConfig(_ def: StoragePoolDefinition) throws(VirtError) {
        try Self.atomicWrite(configDir + "/" + def.name + ".xml", def.xml)
    }

    func writeState(_ def: StoragePoolDefinition) throws(VirtError) {
        try Self.atomicWrite(stateDir + "/" + def.name + ".xml", def.xml)
    }

    func removeState(_ name: String) { unlink(stateDir + "/" + name + ".xml") }

    static func atomicWrite(_ path: String, _ text: String) throws(VirtError) {
        switch FileStore.atomicWrite(path, Array(text.utf8), mode: 0o600) {
        case nil: return
        case .create(let tmp, let e)?: throw VirtError.systemError("cannot create file '\(tmp)'", errno: e, domain: domain)
        case .write(let e)?: throw VirtError.systemError("cannot write config file '\(path)'", errno: e, domain: domain)
        }
    }

    static func makeDirectory(_ path: String) throws(VirtError) {
        var cur = ""
        for comp in path.split(separator: "/") {
            cur += "/" + comp
            mkdir(cur, 0o755)
        }
        guard DirPoolBackend.isDirectory(path) else {
            throw VirtError.systemError("cannot create directory '\(path)'", errno: errno, domain: domain)
        }
    }

    static func list(_ dir: String) -> [String] { FileStore.list(dir) }

    static func readText(_ path: String) -> String? {
        FileStore.read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: Helpers

    static func checkFlags(_ flags: UInt32, allowed: UInt32 = 0, _ function: String) throws(VirtError) {
        let bad = flags & ~allowed
        if bad != 0 {
            throw VirtError(.invalidArg, domain: domain,
                            "unsupported flags (0x\(String(bad, radix: 16))) in function \(function)")
        }
    }

    func emit(_ ref: StoragePoolRef, _ event: Int32, detail: Int32 = 0) {
        bus.emit(StoragePoolEventRecord(pool: ref, kind: .lifecycle(event: event, detail: detail)))
    }

    static func index(_ l: [PoolObject], uuid: VirtUUID, name: String) throws(VirtError) -> Int {
        guard let i = l.firstIndex(where: { $0.def.uuid == uuid }) else {
            throw StorageErrors.noPool("no storage pool with matching uuid '\(uuid)' (\(name))")
        }
        return i
    }

    static func index(_ l: [PoolObject], _ pool: StoragePoolRef) throws(VirtError) -> Int {
        try index(l, uuid: pool.uuid, name: pool.name)
    }

    static func active(_ l: [PoolObject], _ pool: StoragePoolRef) throws(VirtError) -> Int {
        let i = try index(l, pool)
        guard l[i].active else {
            throw StorageErrors.operationInvalid("storage pool '\(l[i].def.name)' is not active")
        }
        return i
    }

    func modify<T>(_ body: (inout [PoolObject]) throws(VirtError) -> T) throws(VirtError) -> T {
        try pools.withLock { p throws(VirtError) in try body(&p) }
    }

    func read<T>(_ body: ([PoolObject]) throws(VirtError) -> T) throws(VirtError) -> T {
        try pools.withLock { p throws(VirtError) in try body(p) }
    }

    // MARK: Listing

    func names(active: Bool) -> [String] {
        pools.withLock { $0.filter { $0.active == active }.map(\.def.name) }
    }

    public func numOfStoragePools() async throws -> Int32 { Int32(names(active: true).count) }
    public func listStoragePools(max: Int32) async throws -> [String] {
        Array(names(active: true).prefix(Swift.max(0, Int(max))))
    }
    public func numOfDefinedStoragePools() async throws -> Int32 { Int32(names(active: false).count) }
    public func listDefinedStoragePools(max: Int32) async throws -> [String] {
        Array(names(active: false).prefix(Swift.max(0, Int(max))))
    }

    public func listAllStoragePools(flags: UInt32) async throws -> [StoragePoolRef] {
        try Self.checkFlags(flags, allowed: StoragePoolListFlags.all.rawValue, "storageConnectListAllStoragePools")
        let f = StoragePoolListFlags(rawValue: flags)
        return pools.withLock { l in
            l.filter { f.matches(active: $0.active, persistent: $0.persistent, autostart: $0.autostart,
                                 type: $0.def.type) }.map(\.ref)
        }
    }

    public func lookupStoragePool(name: String) async throws -> StoragePoolRef {
        guard let r = pools.withLock({ $0.first { $0.def.name == name }?.ref }) else {
            throw StorageErrors.noPool(name: name)
        }
        return r
    }

    public func lookupStoragePool(uuid: VirtUUID) async throws -> StoragePoolRef {
        guard let r = pools.withLock({ $0.first { $0.def.uuid == uuid }?.ref }) else {
            throw StorageErrors.noPool(uuid: uuid)
        }
        return r
    }

    /// libvirt's storagePoolLookupByTargetPath: among active pools, the path made canonical as libvirt's
    /// virFileSanitizePath makes it (no repeated or trailing slashes).
    public func lookupStoragePool(targetPath path: String) async throws -> StoragePoolRef {
        let clean = Self.sanitizePath(path)
        if let r = pools.withLock({ $0.first { $0.active && $0.def.targetPath.map(Self.sanitizePath) == clean }?.ref }) {
            return r
        }
        if path == clean {
            throw StorageErrors.noPool("no storage pool with matching target path '\(path)'")
        }
        throw StorageErrors.noPool("no storage pool with matching target path '\(path)' (\(clean))")
    }

    /// virFileSanitizePath's rules: a URI is left alone; a leading "//" (exactly two) is kept, as POSIX allows;
    /// other runs of slashes become one; no trailing slash except for "/" itself.
    static func sanitizePath(_ path: String) -> String {
        if let uri = path.range(of: "://"), let slash = path.firstIndex(of: "/"), slash > uri.lowerBound {
            return path
        }
        var chars = Array(path)
        var out: [Character] = []
        if chars.count >= 2, chars[0] == "/", chars[1] == "/", chars.count == 2 || chars[2] != "/" {
            out = ["/", "/"]
            chars.removeFirst(2)
        }
        var i = 0
        while i < chars.count {
            if chars[i] != "/" {
                out.append(chars[i])
                i += 1
                continue
            }
            while i < chars.count, chars[i] == "/" { i += 1 }
            if !out.isEmpty, i == chars.count { break }
            out.append("/")
        }
        return String(out)
    }

    public func lookupStoragePool(volume: StorageVolRef) async throws -> StoragePoolRef {
        guard let r = pools.withLock({ $0.first { $0.def.name == volume.pool }?.ref }) else {
            throw StorageErrors.noPool(name: volume.pool)
        }
        return r
    }

    // MARK: Pool lifecycle

    /// Only `dir` and `fs` pools have a backend here; libvirt without a backend for a type says so.
    static func checkBackend(_ def: StoragePoolDefinition) throws(VirtError) {
        _ = try PoolBackend(def.type)
    }

    /// `virStoragePoolObjListAdd`'s duplicate checks and `virStoragePoolObjSourceFindDuplicate` (dir pools: the
    /// target path; fs pools: a source device).
    static func duplicate(_ l: [PoolObject], _ def: StoragePoolDefinition, live: Bool) throws(VirtError) -> Int? {
        if let i = l.firstIndex(where: { $0.def.uuid == def.uuid }) {
            if l[i].def.name != def.name {
                throw VirtError.operationFailed("pool '\(l[i].def.name)' is already defined with uuid \(def.uuid)",
                                                domain: domain)
            }
            if live && l[i].active {
                throw VirtError.operationInvalid("pool is already active as '\(def.name)'", domain: domain)
            }
            return i
        }
        if let other = l.first(where: { $0.def.name == def.name }) {
            throw VirtError.operationFailed("pool '\(def.name)' already exists with uuid \(other.def.uuid)",
                                            domain: domain)
        }
        if let other = l.first(where: { PoolBackend.sameStorage($0.def, def) }) {
            throw VirtError.operationFailed("Storage source conflict with pool: '\(other.def.name)'", domain: domain)
        }
        return nil
    }

    static let buildFlags: UInt32 = 0x7  // VIR_STORAGE_POOL_CREATE_WITH_BUILD | _OVERWRITE | _NO_OVERWRITE

    static func buildIfAsked(_ def: StoragePoolDefinition, flags: UInt32) throws(VirtError) {
        let overwrite = flags & 2 != 0
        let noOverwrite = flags & 4 != 0
        if overwrite && noOverwrite {
            throw VirtError(.invalidArg, domain: domain,
                            "Flags 'VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE' and "
                                + "'VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE' are mutually exclusive")
        }
        if flags & buildFlags != 0 {
            try PoolBackend(def.type).build(def, overwrite: overwrite, noOverwrite: noOverwrite)
        }
    }

    public func createStoragePool(xml: String, flags: UInt32) async throws -> StoragePoolRef {
        try Self.checkFlags(flags, allowed: Self.buildFlags, "storagePoolCreateXML")
        let def = try StoragePoolDefinition(xml: xml)
        try Self.checkBackend(def)
        let ref = try modify { l throws(VirtError) -> StoragePoolRef in
            let existing = try Self.duplicate(l, def, live: true)
            try Self.buildIfAsked(def, flags: flags)
            var o = existing.map { l[$0] } ?? PoolObject(def: def)
            o.def = def
            try startLocked(&o)
            o.active = true
            try writeState(o.def)
            if let existing { l[existing] = o } else { l.append(o) }
            return o.ref
        }
        emit(ref, StoragePoolEventRecord.started)
        return ref
    }

    public func defineStoragePool(xml: String, flags: UInt32) async throws -> StoragePoolRef {
        try Self.checkFlags(flags, allowed: 1, "storagePoolDefineXML")
        let def = try StoragePoolDefinition(xml: xml)
        try Self.checkBackend(def)
        let ref = try modify { l throws(VirtError) -> StoragePoolRef in
            try writeConfig(def)
            if let i = try Self.duplicate(l, def, live: false) {
                if l[i].active { l[i].newDef = def } else { l[i].def = def }
                l[i].persistent = true
                return l[i].ref
            }
            var o = PoolObject(def: def)
            o.persistent = true
            l.append(o)
            return o.ref
        }
        emit(ref, StoragePoolEventRecord.defined)
        return ref
    }

    public func undefineStoragePool(_ pool: StoragePoolRef) async throws {
        let ref = try modify { l throws(VirtError) -> StoragePoolRef in
            let i = try Self.index(l, pool)
            if l[i].active {
                throw StorageErrors.operationInvalid("storage pool '\(l[i].def.name)' is still active")
            }
            guard l[i].persistent else {
                throw StorageErrors.operationInvalid("storage pool '\(l[i].def.name)' does not have a config file")
            }
            let name = l[i].def.name
            let cfg = configDir + "/" + name + ".xml"
            if unlink(cfg) != 0 && errno != ENOENT {
                throw VirtError.systemError("cannot remove config file '\(cfg)'", errno: errno, domain: Self.domain)
            }
            unlink(autostartDir + "/" + name + ".xml")
            let ref = l[i].ref
            l.remove(at: i)
            return ref
        }
        emit(ref, StoragePoolEventRecord.undefined)
    }

    public func buildStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        let ref = try modify { l throws(VirtError) -> StoragePoolRef in
            let i = try Self.index(l, pool)
            if l[i].active {
                throw StorageErrors.operationInvalid("storage pool '\(l[i].def.name)' is already active")
            }
            // virStoragePoolBuildFlags: REPAIR 1, RESIZE 2, NO_OVERWRITE 4, OVERWRITE 8; the backend checks them.
            try Self.checkFlags(flags, allowed: 0xC, "virStorageBackendFileSystemBuild")
            try PoolBackend(l[i].def.type).build(l[i].def, overwrite: flags & 8 != 0, noOverwrite: flags & 4 != 0)
            return l[i].ref
        }
        emit(ref, StoragePoolEventRecord.created)
    }

    public func startStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: Self.buildFlags, "storagePoolCreate")
        let ref = try modify { l throws(VirtError) -> StoragePoolRef in
            let i = try Self.index(l, pool)
            if l[i].active {
                throw StorageErrors.operationInvalid("storage pool '\(l[i].def.name)' is already active")
            }
            try Self.buildIfAsked(l[i].def, flags: flags)
            var o = l[i]
            try startLocked(&o)
            o.active = true
            try writeState(o.def)
            l[i] = o
            return o.ref
        }
        emit(ref, StoragePoolEventRecord.started)
    }

    public func destroyStoragePool(_ pool: StoragePoolRef) async throws {
        let ref = try modify { l throws(VirtError) -> StoragePoolRef in
            let i = try Self.active(l, pool)
            if !l[i].building.isEmpty {
                throw StorageErrors.operationInvalid("pool '\(l[i].def.name)' has asynchronous jobs running.")
            }
            let ref = l[i].ref
            // An fs pool unmounts first; if that fails the pool stays active, as libvirt's.
            try PoolBackend(l[i].def.type).stop(l[i].def)
            removeState(l[i].def.name)
            l[i].active = false
            l[i].volumes = []
            if !l[i].persistent {
                l.remove(at: i)
            } else {
                applyNewDef(&l[i])
            }
            return ref
        }
        emit(ref, StoragePoolEventRecord.stopped)
    }

    public func deleteStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        let ref = try modify { l throws(VirtError) -> StoragePoolRef in
            let i = try Self.index(l, pool)
            if l[i].active {
                throw StorageErrors.operationInvalid("storage pool '\(l[i].def.name)' is still active")
            }
            try PoolBackend(l[i].def.type).delete(l[i].def, flags: flags)
            return l[i].ref
        }
        emit(ref, StoragePoolEventRecord.deleted)
    }

    public func refreshStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        try Self.checkFlags(flags, "storagePoolRefresh")
        var stopped = false
        let ref = try modify { l throws(VirtError) -> StoragePoolRef in
            let i = try Self.active(l, pool)
            if !l[i].building.isEmpty {
                throw StorageErrors.operationInvalid("pool '\(l[i].def.name)' has asynchronous jobs running.")
            }
            let ref = l[i].ref
            do throws(VirtError) {
                try refreshOrThrow(&l[i])
            } catch {
                // A pool whose directory went away stops (an fs pool unmounts), as libvirt's.
                try? PoolBackend(l[i].def.type).stop(l[i].def)
                removeState(l[i].def.name)
                l[i].active = false
                l[i].volumes = []
                if !l[i].persistent { l.remove(at: i) } else { applyNewDef(&l[i]) }
                stopped = true
                throw error
            }
            return ref
        }
        if stopped { emit(pool, StoragePoolEventRecord.stopped) }
        bus.emit(StoragePoolEventRecord(pool: ref, kind: .refresh))
    }

    // MARK: Pool queries

    public func storagePoolInfo(_ pool: StoragePoolRef) async throws -> StoragePoolInfo {
        try read { l throws(VirtError) in
            let o = l[try Self.index(l, pool)]
            return StoragePoolInfo(state: o.active ? 2 : 0, capacity: o.def.capacity, allocation: o.def.allocation,
                                   available: o.def.available)
        }
    }

    public func storagePoolXML(_ pool: StoragePoolRef, flags: UInt32) async throws -> String {
        try Self.checkFlags(flags, allowed: 1, "storagePoolGetXMLDesc")
        return try read { l throws(VirtError) in
            let o = l[try Self.index(l, pool)]
            // VIR_STORAGE_XML_INACTIVE: the definition the pool gets when it stops.
            if flags & 1 != 0, let n = o.newDef { return n.xml }
            return o.def.xml
        }
    }

    public func storagePoolAutostart(_ pool: StoragePoolRef) async throws -> Bool {
        try read { l throws(VirtError) in
            let o = l[try Self.index(l, pool)]
            return o.persistent && o.autostart
        }
    }

    public func setStoragePoolAutostart(_ pool: StoragePoolRef, autostart: Bool) async throws {
        try modify { l throws(VirtError) in
            let i = try Self.index(l, pool)
            guard l[i].persistent else { throw VirtError.internalError("pool has no config file", domain: Self.domain) }
            let link = autostartDir + "/" + l[i].def.name + ".xml"
            let target = configDir + "/" + l[i].def.name + ".xml"
            if autostart != l[i].autostart {
                if autostart {
                    if symlink(target, link) != 0 && errno != EEXIST {
                        throw VirtError.systemError("Failed to create symlink '\(link)' to '\(target)'",
                                                    errno: errno, domain: Self.domain)
                    }
                } else if unlink(link) != 0 && errno != ENOENT {
                    throw VirtError.systemError("Failed to delete symlink '\(link)'", errno: errno, domain: Self.domain)
                }
            }
            l[i].autostart = autostart
        }
    }

    public func storagePoolIsActive(_ pool: StoragePoolRef) async throws -> Bool {
        try read { l throws(VirtError) in l[try Self.index(l, pool)].active }
    }

    public func storagePoolIsPersistent(_ pool: StoragePoolRef) async throws -> Bool {
        try read { l throws(VirtError) in l[try Self.index(l, pool)].persistent }
    }

    public func storagePoolEvents() -> AsyncStream<StoragePoolEventRecord> { bus.subscribe() }

    /// `find-storage-pool-sources`: neither the dir nor the fs backend discovers sources (libvirt's words).
    public func findStoragePoolSources(type: String, spec: String?, flags: UInt32) async throws -> String {
        try Self.checkFlags(flags, "storageConnectFindStoragePoolSources")
        guard let t = StoragePoolType(name: type) else {
            throw VirtError.internalError("unknown storage pool type \(type)", domain: Self.domain)
        }
        _ = try PoolBackend(t)
        throw VirtError.noSupport("pool type '\(type)' does not support source discovery", domain: Self.domain)
    }
}
