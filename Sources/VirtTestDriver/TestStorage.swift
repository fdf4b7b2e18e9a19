import Synchronization
import VirtCore

/// A pool of a node description, with its volumes (`<pool>` with `<volume>` children, or `file='…'` references).
struct NodePool: Sendable {
    var definition: StoragePoolDefinition
    var volumes: [StorageVolumeDefinition]
}

extension NodeFile {
    /// The `<pool>` elements of a node document, as libvirt's `testParseStorage`.
    static func parsePools(_ root: XMLElement, path: String?) throws(VirtError) -> [NodePool] {
        var pools: [NodePool] = []
        for el in root.children("pool") {
            let poolEl = try resolved(el, path: path)
            let def = try StoragePoolDefinition(element: poolEl, namespaces: false)
            var vols: [StorageVolumeDefinition] = []
            for v in poolEl.children("volume") {
                vols.append(try StorageVolumeDefinition(element: try resolved(v, path: path), poolType: def.type))
            }
            pools.append(NodePool(definition: def, volumes: vols))
        }
        return pools
    }

    private static func resolved(_ el: XMLElement, path: String?) throws(VirtError) -> XMLElement {
        guard let file = el.attr("file") else { return el }
        let full = resolve(file, relativeTo: path)
        return try XMLParser.parse(try readTextFile(full), documentName: full)
    }
}

extension DefaultNode {
    /// libvirt's default test node pool.
    static let poolXML = """
        <pool type='dir'>
          <name>default-pool</name>
          <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
          <target>
            <path>/default-pool</path>
          </target>
        </pool>
        """
}

/// One pool of the test driver (`virStoragePoolObj`): its definition, state and volumes.
struct TestPoolObject: Sendable {
    var def: StoragePoolDefinition
    /// A definition given while active, applied when the pool stops.
    var newDef: StoragePoolDefinition?
    var active: Bool
    var autostart = false
    /// libvirt's "config file" (the test driver sets an empty one for persistent pools).
    var persistent: Bool
    var volumes: [StorageVolumeDefinition] = []

    var ref: StoragePoolRef { StoragePoolRef(name: def.name, uuid: def.uuid) }

    func volRef(_ v: StorageVolumeDefinition) -> StorageVolRef {
        StorageVolRef(pool: def.name, name: v.name, key: v.key ?? "")
    }
}

/// The storage half of a test hypervisor, libvirt 9.0's `testStorageDriver`: pools and volumes in memory,
/// capacity 100 GiB per pool, lifecycle and refresh events. All state behind one lock, as the domains'.
final class TestStorageState: Sendable {
    static let defaultCapacity: UInt64 = 107_374_182_400
    static let defaultAllocation: UInt64 = 0
    private static let domain = VirtError.ErrorDomain.test

    private let pools: Mutex<[TestPoolObject]>
    let bus = EventBus<StoragePoolEventRecord>()

    init(nodePools: [NodePool]) throws(VirtError) {
        var list: [TestPoolObject] = []
        for p in nodePools {
            var def = p.definition
            Self.setDefaults(&def)
            if list.contains(where: { $0.def.name == def.name || $0.def.uuid == def.uuid }) {
                throw VirtError.operationFailed("pool '\(def.name)' already exists with uuid \(def.uuid)",
                                                domain: .storage)
            }
            var obj = TestPoolObject(def: def, active: true, persistent: true)
            for var v in p.volumes {
                if v.target.path == nil { v.target.path = "\(def.targetPath ?? "(null)")/\(v.name)" }
                if v.key == nil { v.key = v.target.path }
                obj.volumes.append(v)
                obj.def.allocation &+= v.allocation
                obj.def.available = obj.def.capacity &- obj.def.allocation
            }
            list.append(obj)
        }
        pools = Mutex(list)
    }

    static func setDefaults(_ def: inout StoragePoolDefinition) {
        def.capacity = defaultCapacity
        def.allocation = defaultAllocation
        def.available = defaultCapacity - defaultAllocation
    }

    static func checkFlags(_ flags: UInt32, allowed: UInt32 = 0, _ function: String) throws(VirtError) {
        let bad = flags & ~allowed
        if bad != 0 {
            throw VirtError.unsupportedFlags(UInt64(bad), function: function, domain: domain)
        }
    }

    private func emit(_ ref: StoragePoolRef, _ event: Int32) {
        bus.emit(StoragePoolEventRecord(pool: ref, kind: .lifecycle(event: event, detail: 0)))
    }

    // MARK: Finding pools

    private static func index(_ list: [TestPoolObject], name: String) throws(VirtError) -> Int {
        guard let i = list.firstIndex(where: { $0.def.name == name }) else {
            throw StorageErrors.noPool(name: name, domain: domain)
        }
        return i
    }

    private static func index(_ list: [TestPoolObject], uuid: VirtUUID) throws(VirtError) -> Int {
        guard let i = list.firstIndex(where: { $0.def.uuid == uuid }) else {
            throw StorageErrors.noPool(uuid: uuid, domain: domain)
        }
        return i
    }

    private static func active(_ list: [TestPoolObject], name: String) throws(VirtError) -> Int {
        let i = try index(list, name: name)
        guard list[i].active else {
            throw StorageErrors.operationInvalid("storage pool '\(name)' is not active", domain: domain)
        }
        return i
    }

    private static func inactive(_ list: [TestPoolObject], name: String) throws(VirtError) -> Int {
        let i = try index(list, name: name)
        if list[i].active { throw StorageErrors.operationInvalid("storage pool '\(name)' is active", domain: domain) }
        return i
    }

    private func read<T>(_ body: ([TestPoolObject]) throws(VirtError) -> T) throws(VirtError) -> T {
        try pools.withLock { p throws(VirtError) in try body(p) }
    }

    private func modify<T>(_ body: (inout [TestPoolObject]) throws(VirtError) -> T) throws(VirtError) -> T {
        try pools.withLock { p throws(VirtError) in try body(&p) }
    }

    // MARK: Listing

    func names(active: Bool) -> [String] {
        pools.withLock { $0.filter { $0.active == active }.map(\.def.name) }
    }

    func listAll(flags: UInt32) throws(VirtError) -> [StoragePoolRef] {
        try Self.checkFlags(flags, allowed: StoragePoolListFlags.all.rawValue, "testConnectListAllStoragePools")
        let f = StoragePoolListFlags(rawValue: flags)
        return pools.withLock { list in
            list.filter { f.matches(active: $0.active, persistent: $0.persistent, autostart: $0.autostart,
                                    type: $0.def.type) }.map(\.ref)
        }
    }

    static let logicalSources = """
        <sources>
          <source>
            <device path='/dev/sda20'/>
            <name>testvg1</name>
            <format type='lvm2'/>
          </source>
          <source>
            <device path='/dev/sda21'/>
            <name>testvg2</name>
            <format type='lvm2'/>
          </source>
        </sources>

        """

    /// libvirt 9.0's `testConnectFindStoragePoolSources`, with its quirk: type "dir" (number 0) counts as unknown.
    func findSources(type: String, spec: String?, flags: UInt32) throws(VirtError) -> String {
        try Self.checkFlags(flags, "testConnectFindStoragePoolSources")
        let t = StoragePoolType(name: type)
        if t == .dir { throw VirtError.internalError("unknown storage pool type \(type)", domain: Self.domain) }
        var source: StoragePoolSource?
        if let spec, let t { source = try StoragePoolSource(xml: spec, type: t) }
        switch t {
        case .logical:
            return Self.logicalSources
        case .netfs:
            guard let host = source?.hosts.first?.name else {
                throw VirtError.invalidArg("hostname must be specified for netfs sources", domain: Self.domain)
            }
            return "<sources>\n  <source>\n    <host name='\(host)'/>\n    <dir path='/testshare'/>\n"
                + "    <format type='nfs'/>\n  </source>\n</sources>\n"
        default:
            throw VirtError(.noSupport, domain: Self.domain,
                            "this function is not supported by the connection driver: "
                                + "pool type '\(type)' does not support source discovery")
        }
    }

    func lookup(name: String) throws(VirtError) -> StoragePoolRef {
        try read { l throws(VirtError) in l[try Self.index(l, name: name)].ref }
    }

    func lookup(uuid: VirtUUID) throws(VirtError) -> StoragePoolRef {
        try read { l throws(VirtError) in l[try Self.index(l, uuid: uuid)].ref }
    }

    // MARK: Pool lifecycle

    /// `virStoragePoolObjListAdd`'s duplicate checks; the index of the existing object with the same UUID.
    private static func duplicate(_ list: [TestPoolObject], _ def: StoragePoolDefinition,
                                  checkActive: Bool) throws(VirtError) -> Int? {
        if let i = list.firstIndex(where: { $0.def.uuid == def.uuid }) {
            if list[i].def.name != def.name {
                throw VirtError.operationFailed("pool '\(list[i].def.name)' is already defined with uuid \(def.uuid)",
                                                domain: .storage)
            }
            if checkActive && list[i].active {
                throw VirtError.operationInvalid("pool is already active as '\(def.name)'", domain: .storage)
            }
            return i
        }
        if let other = list.first(where: { $0.def.name == def.name }) {
            throw VirtError.operationFailed("pool '\(def.name)' already exists with uuid \(other.def.uuid)",
                                            domain: .storage)
        }
        if def.type == .dir,
           let other = list.first(where: { $0.def.type == .dir && $0.def.targetPath == def.targetPath }) {
            throw VirtError.operationFailed("Storage source conflict with pool: '\(other.def.name)'", domain: .storage)
        }
        return nil
    }

    func create(xml: String, flags: UInt32) throws(VirtError) -> StoragePoolRef {
        try Self.checkFlags(flags, "testStoragePoolCreateXML")
        var def = try StoragePoolDefinition(xml: xml, namespaces: false)
        Self.setDefaults(&def)
        let ref = try modify { l throws(VirtError) -> StoragePoolRef in
            if let i = try Self.duplicate(l, def, checkActive: true) {
                l[i].def = def
                l[i].persistent = false
                l[i].active = true
                return l[i].ref
            }
            l.append(TestPoolObject(def: def, active: true, persistent: false))
            return l[l.count - 1].ref
        }
        emit(ref, StoragePoolEventRecord.started)
        return ref
    }

    func define(xml: String, flags: UInt32) throws(VirtError) -> StoragePoolRef {
        try Self.checkFlags(flags, allowed: 1, "testStoragePoolDefineXML")
        var def = try StoragePoolDefinition(xml: xml, namespaces: false)
        Self.setDefaults(&def)
        let ref = try modify { l throws(VirtError) -> StoragePoolRef in
            if let i = try Self.duplicate(l, def, checkActive: false) {
                if l[i].active {
                    l[i].newDef = def
                } else {
                    l[i].def = def
                }
                l[i].persistent = true
                return l[i].ref
            }
            l.append(TestPoolObject(def: def, active: false, persistent: true))
            return l[l.count - 1].ref
        }
        emit(ref, StoragePoolEventRecord.defined)
        return ref
    }

    func undefine(_ pool: StoragePoolRef) throws(VirtError) {
        try modify { l throws(VirtError) in l.remove(at: try Self.inactive(l, name: pool.name)) }
        emit(pool, StoragePoolEventRecord.undefined)
    }

    func build(_ pool: StoragePoolRef, flags: UInt32) throws(VirtError) {
        try Self.checkFlags(flags, "testStoragePoolBuild")
        _ = try read { l throws(VirtError) in try Self.inactive(l, name: pool.name) }
        emit(pool, StoragePoolEventRecord.created)
    }

    func start(_ pool: StoragePoolRef, flags: UInt32) throws(VirtError) {
        try Self.checkFlags(flags, "testStoragePoolCreate")
        try modify { l throws(VirtError) in l[try Self.inactive(l, name: pool.name)].active = true }
        emit(pool, StoragePoolEventRecord.started)
    }

    func destroy(_ pool: StoragePoolRef) throws(VirtError) {
        let ref = try modify { l throws(VirtError) -> StoragePoolRef in
            let i = try Self.active(l, name: pool.name)
            let ref = l[i].ref
            l[i].active = false
            if !l[i].persistent {
                l.remove(at: i)
            } else if let n = l[i].newDef {
                l[i].def = n
                l[i].newDef = nil
            }
            return ref
        }
        emit(ref, StoragePoolEventRecord.stopped)
    }

    func delete(_ pool: StoragePoolRef, flags: UInt32) throws(VirtError) {
        try Self.checkFlags(flags, "testStoragePoolDelete")
        _ = try read { l throws(VirtError) in try Self.inactive(l, name: pool.name) }
        emit(pool, StoragePoolEventRecord.deleted)
    }

    func refresh(_ pool: StoragePoolRef, flags: UInt32) throws(VirtError) {
        try Self.checkFlags(flags, "testStoragePoolRefresh")
        _ = try read { l throws(VirtError) in try Self.active(l, name: pool.name) }
        bus.emit(StoragePoolEventRecord(pool: pool, kind: .refresh))
    }

    // MARK: Pool queries

    func info(_ pool: StoragePoolRef) throws(VirtError) -> StoragePoolInfo {
        try read { l throws(VirtError) in
            let o = l[try Self.index(l, name: pool.name)]
            return StoragePoolInfo(state: o.active ? 2 : 0, capacity: o.def.capacity, allocation: o.def.allocation,
                                   available: o.def.available)
        }
    }

    func xml(_ pool: StoragePoolRef, flags: UInt32) throws(VirtError) -> String {
        try Self.checkFlags(flags, "testStoragePoolGetXMLDesc")
        return try read { l throws(VirtError) in l[try Self.index(l, name: pool.name)].def.xml }
    }

    func autostart(_ pool: StoragePoolRef) throws(VirtError) -> Bool {
        try read { l throws(VirtError) in
            let o = l[try Self.index(l, name: pool.name)]
            return o.persistent && o.autostart
        }
    }

    func setAutostart(_ pool: StoragePoolRef, _ on: Bool) throws(VirtError) {
        try modify { l throws(VirtError) in
            let i = try Self.index(l, name: pool.name)
            guard l[i].persistent else { throw VirtError.invalidArg("pool has no config file", domain: Self.domain) }
            l[i].autostart = on
        }
    }

    func isActive(_ pool: StoragePoolRef) throws(VirtError) -> Bool {
        try read { l throws(VirtError) in l[try Self.index(l, uuid: pool.uuid)].active }
    }

    func isPersistent(_ pool: StoragePoolRef) throws(VirtError) -> Bool {
        try read { l throws(VirtError) in l[try Self.index(l, uuid: pool.uuid)].persistent }
    }

    // MARK: Volumes

    func volumeNames(_ pool: StoragePoolRef) throws(VirtError) -> [String] {
        try read { l throws(VirtError) in l[try Self.active(l, name: pool.name)].volumes.map(\.name) }
    }

    func listAllVolumes(_ pool: StoragePoolRef, flags: UInt32) throws(VirtError) -> [StorageVolRef] {
        try Self.checkFlags(flags, "testStoragePoolListAllVolumes")
        return try read { l throws(VirtError) in
            let o = l[try Self.index(l, uuid: pool.uuid)]
            guard o.active else {
                throw StorageErrors.operationInvalid("storage pool is not active", domain: Self.domain)
            }
            return o.volumes.map { o.volRef($0) }
        }
    }

    private static func volume(_ o: TestPoolObject, _ name: String) throws(VirtError) -> StorageVolumeDefinition {
        guard let v = o.volumes.first(where: { $0.name == name }) else {
            throw StorageErrors.noVolume("no storage vol with matching name '\(name)'", domain: domain)
        }
        return v
    }

    func lookupVolume(pool: StoragePoolRef, name: String) throws(VirtError) -> StorageVolRef {
        try read { l throws(VirtError) in
            let o = l[try Self.active(l, name: pool.name)]
            return o.volRef(try Self.volume(o, name))
        }
    }

    func lookupVolume(key: String) throws(VirtError) -> StorageVolRef {
        let found = pools.withLock { l -> StorageVolRef? in
            for o in l where o.active {
                if let v = o.volumes.first(where: { $0.key == key }) { return o.volRef(v) }
            }
            return nil
        }
        guard let found else {
            throw StorageErrors.noVolume("no storage vol with matching key '\(key)'", domain: Self.domain)
        }
        return found
    }

    func lookupVolume(path: String) throws(VirtError) -> StorageVolRef {
        let found = pools.withLock { l -> StorageVolRef? in
            for o in l where o.active {
                if let v = o.volumes.first(where: { $0.target.path == path }) { return o.volRef(v) }
            }
            return nil
        }
        guard let found else {
            throw StorageErrors.noVolume("no storage vol with matching path '\(path)'", domain: Self.domain)
        }
        return found
    }

    func createVolume(_ pool: StoragePoolRef, xml: String, from clone: StorageVolRef?,
                      flags: UInt32) throws(VirtError) -> StorageVolRef {
        // VIR_STORAGE_VOL_CREATE_VALIDATE passes the driver's check and reaches the parser, which refuses it.
        try Self.checkFlags(flags, allowed: 4, clone == nil ? "testStorageVolCreateXML" : "testStorageVolCreateXMLFrom")
        return try modify { l throws(VirtError) -> StorageVolRef in
            let i = try Self.active(l, name: pool.name)
            if flags & 4 != 0 {
                throw VirtError(.invalidArg, domain: .storage,
                                "unsupported flags (0x4) in function virStorageVolDefParseXML")
            }
            var vol = try StorageVolumeDefinition(xml: xml, poolType: l[i].def.type)
            if l[i].volumes.contains(where: { $0.name == vol.name }) {
                throw VirtError.operationFailed("storage vol already exists", domain: Self.domain)
            }
            if let clone { _ = try Self.volume(l[i], clone.name) }
            let (total, overflow) = l[i].def.allocation.addingReportingOverflow(vol.allocation)
            if overflow || total > l[i].def.capacity {
                throw VirtError.internalError("Not enough free space in pool for volume '\(vol.name)'",
                                              domain: Self.domain)
            }
            vol.target.path = "\(l[i].def.targetPath ?? "(null)")/\(vol.name)"
            vol.key = vol.target.path
            l[i].volumes.append(vol)
            l[i].def.allocation &+= vol.allocation
            l[i].def.available = l[i].def.capacity &- l[i].def.allocation
            return l[i].volRef(vol)
        }
    }

    func deleteVolume(_ vol: StorageVolRef, flags: UInt32) throws(VirtError) {
        try Self.checkFlags(flags, "testStorageVolDelete")
        try modify { l throws(VirtError) in
            let i = try Self.active(l, name: vol.pool)
            let v = try Self.volume(l[i], vol.name)
            l[i].def.allocation &-= v.allocation
            l[i].def.available = l[i].def.capacity &- l[i].def.allocation
            l[i].volumes.removeAll { $0.name == vol.name }
        }
    }

    func volumeInfo(_ vol: StorageVolRef) throws(VirtError) -> StorageVolInfo {
        try read { l throws(VirtError) in
            let o = l[try Self.active(l, name: vol.pool)]
            let v = try Self.volume(o, vol.name)
            return StorageVolInfo(type: o.def.type.volumeType, capacity: v.capacity, allocation: v.allocation)
        }
    }

    func volumeXML(_ vol: StorageVolRef, flags: UInt32) throws(VirtError) -> String {
        try Self.checkFlags(flags, "testStorageVolGetXMLDesc")
        return try read { l throws(VirtError) in
            let o = l[try Self.active(l, name: vol.pool)]
            return try Self.volume(o, vol.name).xml(poolType: o.def.type)
        }
    }

    func volumePath(_ vol: StorageVolRef) throws(VirtError) -> String {
        try read { l throws(VirtError) in
            let o = l[try Self.active(l, name: vol.pool)]
            return try Self.volume(o, vol.name).target.path ?? ""
        }
    }
}

/// The test driver is its own storage driver, as libvirt's (`testStorageDriver`).
extension TestDriver: StorageDriver {
    var storage: TestStorageState { state.storage }

    public func numOfStoragePools() async throws -> Int32 { Int32(storage.names(active: true).count) }
    public func listStoragePools(max: Int32) async throws -> [String] {
        Array(storage.names(active: true).prefix(Swift.max(0, Int(max))))
    }
    public func numOfDefinedStoragePools() async throws -> Int32 { Int32(storage.names(active: false).count) }
    public func listDefinedStoragePools(max: Int32) async throws -> [String] {
        Array(storage.names(active: false).prefix(Swift.max(0, Int(max))))
    }
    public func listAllStoragePools(flags: UInt32) async throws -> [StoragePoolRef] {
        try storage.listAll(flags: flags)
    }
    public func findStoragePoolSources(type: String, spec: String?, flags: UInt32) async throws -> String {
        try storage.findSources(type: type, spec: spec, flags: flags)
    }
    public func lookupStoragePool(name: String) async throws -> StoragePoolRef { try storage.lookup(name: name) }
    public func lookupStoragePool(uuid: VirtUUID) async throws -> StoragePoolRef { try storage.lookup(uuid: uuid) }
    public func lookupStoragePool(volume: StorageVolRef) async throws -> StoragePoolRef {
        try storage.lookup(name: volume.pool)
    }
    public func createStoragePool(xml: String, flags: UInt32) async throws -> StoragePoolRef {
        try storage.create(xml: xml, flags: flags)
    }
    public func defineStoragePool(xml: String, flags: UInt32) async throws -> StoragePoolRef {
        try storage.define(xml: xml, flags: flags)
    }
    public func buildStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        try storage.build(pool, flags: flags)
    }
    public func undefineStoragePool(_ pool: StoragePoolRef) async throws { try storage.undefine(pool) }
    public func startStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        try storage.start(pool, flags: flags)
    }
    public func destroyStoragePool(_ pool: StoragePoolRef) async throws { try storage.destroy(pool) }
    public func deleteStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        try storage.delete(pool, flags: flags)
    }
    public func refreshStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        try storage.refresh(pool, flags: flags)
    }
    public func storagePoolInfo(_ pool: StoragePoolRef) async throws -> StoragePoolInfo { try storage.info(pool) }
    public func storagePoolXML(_ pool: StoragePoolRef, flags: UInt32) async throws -> String {
        try storage.xml(pool, flags: flags)
    }
    public func storagePoolAutostart(_ pool: StoragePoolRef) async throws -> Bool { try storage.autostart(pool) }
    public func setStoragePoolAutostart(_ pool: StoragePoolRef, autostart: Bool) async throws {
        try storage.setAutostart(pool, autostart)
    }
    public func storagePoolIsActive(_ pool: StoragePoolRef) async throws -> Bool { try storage.isActive(pool) }
    public func storagePoolIsPersistent(_ pool: StoragePoolRef) async throws -> Bool {
        try storage.isPersistent(pool)
    }
    public func numOfVolumes(_ pool: StoragePoolRef) async throws -> Int32 {
        Int32(try storage.volumeNames(pool).count)
    }
    public func listVolumes(_ pool: StoragePoolRef, max: Int32) async throws -> [String] {
        Array(try storage.volumeNames(pool).prefix(Swift.max(0, Int(max))))
    }
    public func listAllVolumes(_ pool: StoragePoolRef, flags: UInt32) async throws -> [StorageVolRef] {
        try storage.listAllVolumes(pool, flags: flags)
    }
    public func lookupVolume(pool: StoragePoolRef, name: String) async throws -> StorageVolRef {
        try storage.lookupVolume(pool: pool, name: name)
    }
    public func lookupVolume(key: String) async throws -> StorageVolRef { try storage.lookupVolume(key: key) }
    public func lookupVolume(path: String) async throws -> StorageVolRef { try storage.lookupVolume(path: path) }
    public func createVolume(_ pool: StoragePoolRef, xml: String, flags: UInt32) async throws -> StorageVolRef {
        try storage.createVolume(pool, xml: xml, from: nil, flags: flags)
    }
    public func createVolume(_ pool: StoragePoolRef, xml: String, from: StorageVolRef,
                             flags: UInt32) async throws -> StorageVolRef {
        try storage.createVolume(pool, xml: xml, from: from, flags: flags)
    }
    public func deleteVolume(_ vol: StorageVolRef, flags: UInt32) async throws {
        try storage.deleteVolume(vol, flags: flags)
    }
    public func volumeInfo(_ vol: StorageVolRef) async throws -> StorageVolInfo { try storage.volumeInfo(vol) }
    public func volumeXML(_ vol: StorageVolRef, flags: UInt32) async throws -> String {
        try storage.volumeXML(vol, flags: flags)
    }
    public func volumePath(_ vol: StorageVolRef) async throws -> String { try storage.volumePath(vol) }
    public func storagePoolEvents() -> AsyncStream<StoragePoolEventRecord> { storage.bus.subscribe() }
}
