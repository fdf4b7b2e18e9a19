/// How a storage pool is named across the API and the wire: libvirt's `remote_nonnull_storage_pool`.
public struct StoragePoolRef: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var uuid: VirtUUID

    public init(name: String, uuid: VirtUUID) {
        self.name = name
        self.uuid = uuid
    }

    public var description: String { name }
}

/// How a volume is named: libvirt's `remote_nonnull_storage_vol` (pool name, volume name, key).
public struct StorageVolRef: Sendable, Hashable, CustomStringConvertible {
    public var pool: String
    public var name: String
    public var key: String

    public init(pool: String, name: String, key: String) {
        self.pool = pool
        self.name = name
        self.key = key
    }

    public var description: String { name }
}

/// `virStoragePoolInfo`.
public struct StoragePoolInfo: Sendable, Hashable {
    /// `virStoragePoolState`: 0 inactive, 1 building, 2 running, 3 degraded, 4 inaccessible.
    public var state: Int32
    public var capacity: UInt64
    public var allocation: UInt64
    public var available: UInt64

    public init(state: Int32, capacity: UInt64, allocation: UInt64, available: UInt64) {
        self.state = state
        self.capacity = capacity
        self.allocation = allocation
        self.available = available
    }
}

/// `virStorageVolInfo`.
public struct StorageVolInfo: Sendable, Hashable {
    /// `virStorageVolType`: file, block, dir, network, netdir, ploop.
    public var type: Int32
    public var capacity: UInt64
    public var allocation: UInt64

    public init(type: Int32, capacity: UInt64, allocation: UInt64) {
        self.type = type
        self.capacity = capacity
        self.allocation = allocation
    }
}

/// `virStoragePoolEventID` and the events' payloads.
public struct StoragePoolEventRecord: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// `virStoragePoolEventLifecycleType`: 0 defined, 1 undefined, 2 started, 3 stopped, 4 created, 5 deleted.
        case lifecycle(event: Int32, detail: Int32)
        case refresh
    }

    public var pool: StoragePoolRef
    public var kind: Kind

    public init(pool: StoragePoolRef, kind: Kind) {
        self.pool = pool
        self.kind = kind
    }

    /// `VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE` 0, `VIR_STORAGE_POOL_EVENT_ID_REFRESH` 1.
    public var eventID: Int32 {
        switch kind {
        case .lifecycle: 0
        case .refresh: 1
        }
    }

    public static let defined: Int32 = 0
    public static let undefined: Int32 = 1
    public static let started: Int32 = 2
    public static let stopped: Int32 = 3
    public static let created: Int32 = 4
    public static let deleted: Int32 = 5
}

/// `virConnectListAllStoragePoolsFlags`.
public struct StoragePoolListFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let inactive = StoragePoolListFlags(rawValue: 1 << 0)
    public static let active = StoragePoolListFlags(rawValue: 1 << 1)
    public static let persistent = StoragePoolListFlags(rawValue: 1 << 2)
    public static let transient = StoragePoolListFlags(rawValue: 1 << 3)
    public static let autostart = StoragePoolListFlags(rawValue: 1 << 4)
    public static let noAutostart = StoragePoolListFlags(rawValue: 1 << 5)
    /// The pool-type filters: bit 6 upwards, in libvirt's order (dir, fs, netfs, logical, disk, iscsi, scsi,
    /// mpath, rbd, sheepdog, gluster, zfs, vstorage, iscsi-direct).
    public static let typeOrder: [StoragePoolType] = [.dir, .fs, .netfs, .logical, .disk, .iscsi, .scsi, .mpath, .rbd,
                                                      .sheepdog, .gluster, .zfs, .vstorage, .iscsiDirect]
    public static func type(_ t: StoragePoolType) -> StoragePoolListFlags {
        StoragePoolListFlags(rawValue: 1 << (6 + UInt32(typeOrder.firstIndex(of: t) ?? 0)))
    }
    /// `VIR_CONNECT_LIST_STORAGE_POOLS_FILTERS_ALL`.
    public static let all = StoragePoolListFlags(rawValue: (1 << 20) - 1)

    /// Whether a pool passes the filters, as libvirt's `virStoragePoolObjMatch`.
    public func matches(active isActive: Bool, persistent: Bool, autostart: Bool, type: StoragePoolType) -> Bool {
        if !isDisjoint(with: [.active, .inactive])
            && !((contains(.active) && isActive) || (contains(.inactive) && !isActive)) { return false }
        if !isDisjoint(with: [.persistent, .transient])
            && !((contains(.persistent) && persistent) || (contains(.transient) && !persistent)) { return false }
        if !isDisjoint(with: [.autostart, .noAutostart])
            && !((contains(.autostart) && autostart) || (contains(.noAutostart) && !autostart)) { return false }
        let typeMask = StoragePoolListFlags(rawValue: rawValue & ~((1 << 6) - 1))
        if !typeMask.isEmpty && !typeMask.contains(Self.type(type)) { return false }
        return true
    }
}

/// libvirt's storage driver table (`virStorageDriver`): pools and their volumes. Every operation defaults to
/// NO_SUPPORT in libvirt's words; the test driver and the remote driver implement it.
public protocol StorageDriver: AnyObject, Sendable {
    func numOfStoragePools() async throws -> Int32
    func listStoragePools(max: Int32) async throws -> [String]
    func numOfDefinedStoragePools() async throws -> Int32
    func listDefinedStoragePools(max: Int32) async throws -> [String]
    func listAllStoragePools(flags: UInt32) async throws -> [StoragePoolRef]
    /// `virConnectGetStoragePoolCapabilities` (libvirt's test driver has none).
    func storagePoolCapabilities(flags: UInt32) async throws -> String
    /// `virConnectFindStoragePoolSources`: a `<sources>` document for pools of `type`.
    func findStoragePoolSources(type: String, spec: String?, flags: UInt32) async throws -> String
    func lookupStoragePool(name: String) async throws -> StoragePoolRef
    func lookupStoragePool(uuid: VirtUUID) async throws -> StoragePoolRef
    func lookupStoragePool(volume: StorageVolRef) async throws -> StoragePoolRef
    /// `virStoragePoolLookupByTargetPath`: the active pool whose target is `targetPath`.
    func lookupStoragePool(targetPath: String) async throws -> StoragePoolRef
    func createStoragePool(xml: String, flags: UInt32) async throws -> StoragePoolRef
    func defineStoragePool(xml: String, flags: UInt32) async throws -> StoragePoolRef
    func buildStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws
    func undefineStoragePool(_ pool: StoragePoolRef) async throws
    func startStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws
    func destroyStoragePool(_ pool: StoragePoolRef) async throws
    func deleteStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws
    func refreshStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws
    func storagePoolInfo(_ pool: StoragePoolRef) async throws -> StoragePoolInfo
    func storagePoolXML(_ pool: StoragePoolRef, flags: UInt32) async throws -> String
    func storagePoolAutostart(_ pool: StoragePoolRef) async throws -> Bool
    func setStoragePoolAutostart(_ pool: StoragePoolRef, autostart: Bool) async throws
    func storagePoolIsActive(_ pool: StoragePoolRef) async throws -> Bool
    func storagePoolIsPersistent(_ pool: StoragePoolRef) async throws -> Bool
    func numOfVolumes(_ pool: StoragePoolRef) async throws -> Int32
    func listVolumes(_ pool: StoragePoolRef, max: Int32) async throws -> [String]
    func listAllVolumes(_ pool: StoragePoolRef, flags: UInt32) async throws -> [StorageVolRef]
    func lookupVolume(pool: StoragePoolRef, name: String) async throws -> StorageVolRef
    func lookupVolume(key: String) async throws -> StorageVolRef
    func lookupVolume(path: String) async throws -> StorageVolRef
    func createVolume(_ pool: StoragePoolRef, xml: String, flags: UInt32) async throws -> StorageVolRef
    func createVolume(_ pool: StoragePoolRef, xml: String, from: StorageVolRef,
                      flags: UInt32) async throws -> StorageVolRef
    func deleteVolume(_ vol: StorageVolRef, flags: UInt32) async throws
    func wipeVolume(_ vol: StorageVolRef, flags: UInt32) async throws
    /// `virStorageVolWipePattern`: `algorithm` is a `virStorageVolWipeAlgorithm`.
    func wipeVolume(_ vol: StorageVolRef, algorithm: UInt32, flags: UInt32) async throws
    /// `virStorageVolGetInfoFlags` (`VIR_STORAGE_VOL_GET_PHYSICAL` 1).
    func volumeInfo(_ vol: StorageVolRef, flags: UInt32) async throws -> StorageVolInfo
    func volumeInfo(_ vol: StorageVolRef) async throws -> StorageVolInfo
    func volumeXML(_ vol: StorageVolRef, flags: UInt32) async throws -> String
    func volumePath(_ vol: StorageVolRef) async throws -> String
    func resizeVolume(_ vol: StorageVolRef, capacity: UInt64, flags: UInt32) async throws
    /// `virStorageVolUpload`: a stream whose bytes are written into the volume from `offset` (at most `length`
    /// bytes; 0: no limit).
    func uploadVolume(_ vol: StorageVolRef, offset: UInt64, length: UInt64, flags: UInt32) async throws -> any ByteStream
    /// `virStorageVolDownload`: a stream of the volume's bytes from `offset` (at most `length`; 0: to the end).
    func downloadVolume(_ vol: StorageVolRef, offset: UInt64, length: UInt64,
                        flags: UInt32) async throws -> any ByteStream
    /// Every storage pool event from now on.
    func storagePoolEvents() -> AsyncStream<StoragePoolEventRecord>
    /// Makes sure events reach ``storagePoolEvents()`` (a remote driver asks its daemon).
    func registerStoragePoolEvents() async throws
}

extension StorageDriver {
    public func lookupStoragePool(targetPath: String) async throws -> StoragePoolRef {
        throw VirtError.noSupport("virStoragePoolLookupByTargetPath", domain: .storage)
    }
    public func numOfStoragePools() async throws -> Int32 {
        throw VirtError.noSupport("virConnectNumOfStoragePools", domain: .storage)
    }
    public func listStoragePools(max: Int32) async throws -> [String] {
        throw VirtError.noSupport("virConnectListStoragePools", domain: .storage)
    }
    public func numOfDefinedStoragePools() async throws -> Int32 {
        throw VirtError.noSupport("virConnectNumOfDefinedStoragePools", domain: .storage)
    }
    public func listDefinedStoragePools(max: Int32) async throws -> [String] {
        throw VirtError.noSupport("virConnectListDefinedStoragePools", domain: .storage)
    }
    public func listAllStoragePools(flags: UInt32) async throws -> [StoragePoolRef] {
        throw VirtError.noSupport("virConnectListAllStoragePools", domain: .storage)
    }
    public func storagePoolCapabilities(flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virConnectGetStoragePoolCapabilities", domain: .storage)
    }
    public func findStoragePoolSources(type: String, spec: String?, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virConnectFindStoragePoolSources", domain: .storage)
    }
    public func lookupStoragePool(name: String) async throws -> StoragePoolRef {
        throw VirtError.noSupport("virStoragePoolLookupByName", domain: .storage)
    }
    public func lookupStoragePool(uuid: VirtUUID) async throws -> StoragePoolRef {
        throw VirtError.noSupport("virStoragePoolLookupByUUID", domain: .storage)
    }
    public func lookupStoragePool(volume: StorageVolRef) async throws -> StoragePoolRef {
        throw VirtError.noSupport("virStoragePoolLookupByVolume", domain: .storage)
    }
    public func createStoragePool(xml: String, flags: UInt32) async throws -> StoragePoolRef {
        throw VirtError.noSupport("virStoragePoolCreateXML", domain: .storage)
    }
    public func defineStoragePool(xml: String, flags: UInt32) async throws -> StoragePoolRef {
        throw VirtError.noSupport("virStoragePoolDefineXML", domain: .storage)
    }
    public func buildStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virStoragePoolBuild", domain: .storage)
    }
    public func undefineStoragePool(_ pool: StoragePoolRef) async throws {
        throw VirtError.noSupport("virStoragePoolUndefine", domain: .storage)
    }
    public func startStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virStoragePoolCreate", domain: .storage)
    }
    public func destroyStoragePool(_ pool: StoragePoolRef) async throws {
        throw VirtError.noSupport("virStoragePoolDestroy", domain: .storage)
    }
    public func deleteStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virStoragePoolDelete", domain: .storage)
    }
    public func refreshStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virStoragePoolRefresh", domain: .storage)
    }
    public func storagePoolInfo(_ pool: StoragePoolRef) async throws -> StoragePoolInfo {
        throw VirtError.noSupport("virStoragePoolGetInfo", domain: .storage)
    }
    public func storagePoolXML(_ pool: StoragePoolRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virStoragePoolGetXMLDesc", domain: .storage)
    }
    public func storagePoolAutostart(_ pool: StoragePoolRef) async throws -> Bool {
        throw VirtError.noSupport("virStoragePoolGetAutostart", domain: .storage)
    }
    public func setStoragePoolAutostart(_ pool: StoragePoolRef, autostart: Bool) async throws {
        throw VirtError.noSupport("virStoragePoolSetAutostart", domain: .storage)
    }
    public func storagePoolIsActive(_ pool: StoragePoolRef) async throws -> Bool {
        throw VirtError.noSupport("virStoragePoolIsActive", domain: .storage)
    }
    public func storagePoolIsPersistent(_ pool: StoragePoolRef) async throws -> Bool {
        throw VirtError.noSupport("virStoragePoolIsPersistent", domain: .storage)
    }
    public func numOfVolumes(_ pool: StoragePoolRef) async throws -> Int32 {
        throw VirtError.noSupport("virStoragePoolNumOfVolumes", domain: .storage)
    }
    public func listVolumes(_ pool: StoragePoolRef, max: Int32) async throws -> [String] {
        throw VirtError.noSupport("virStoragePoolListVolumes", domain: .storage)
    }
    public func listAllVolumes(_ pool: StoragePoolRef, flags: UInt32) async throws -> [StorageVolRef] {
        throw VirtError.noSupport("virStoragePoolListAllVolumes", domain: .storage)
    }
    public func lookupVolume(pool: StoragePoolRef, name: String) async throws -> StorageVolRef {
        throw VirtError.noSupport("virStorageVolLookupByName", domain: .storage)
    }
    public func lookupVolume(key: String) async throws -> StorageVolRef {
        throw VirtError.noSupport("virStorageVolLookupByKey", domain: .storage)
    }
    public func lookupVolume(path: String) async throws -> StorageVolRef {
        throw VirtError.noSupport("virStorageVolLookupByPath", domain: .storage)
    }
    public func createVolume(_ pool: StoragePoolRef, xml: String, flags: UInt32) async throws -> StorageVolRef {
        throw VirtError.noSupport("virStorageVolCreateXML", domain: .storage)
    }
    public func createVolume(_ pool: StoragePoolRef, xml: String, from: StorageVolRef,
                             flags: UInt32) async throws -> StorageVolRef {
        throw VirtError.noSupport("virStorageVolCreateXMLFrom", domain: .storage)
    }
    public func deleteVolume(_ vol: StorageVolRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virStorageVolDelete", domain: .storage)
    }
    public func wipeVolume(_ vol: StorageVolRef, flags: UInt32) async throws {
        throw VirtError.noSupport("virStorageVolWipe", domain: .storage)
    }
    public func wipeVolume(_ vol: StorageVolRef, algorithm: UInt32, flags: UInt32) async throws {
        throw VirtError.noSupport("virStorageVolWipePattern", domain: .storage)
    }
    public func volumeInfo(_ vol: StorageVolRef, flags: UInt32) async throws -> StorageVolInfo {
        throw VirtError.noSupport("virStorageVolGetInfoFlags", domain: .storage)
    }
    public func volumeInfo(_ vol: StorageVolRef) async throws -> StorageVolInfo {
        throw VirtError.noSupport("virStorageVolGetInfo", domain: .storage)
    }
    public func volumeXML(_ vol: StorageVolRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virStorageVolGetXMLDesc", domain: .storage)
    }
    public func volumePath(_ vol: StorageVolRef) async throws -> String {
        throw VirtError.noSupport("virStorageVolGetPath", domain: .storage)
    }
    public func resizeVolume(_ vol: StorageVolRef, capacity: UInt64, flags: UInt32) async throws {
        throw VirtError.noSupport("virStorageVolResize", domain: .storage)
    }
    public func uploadVolume(_ vol: StorageVolRef, offset: UInt64, length: UInt64,
                             flags: UInt32) async throws -> any ByteStream {
        throw VirtError.noSupport("virStorageVolUpload", domain: .storage)
    }
    public func downloadVolume(_ vol: StorageVolRef, offset: UInt64, length: UInt64,
                               flags: UInt32) async throws -> any ByteStream {
        throw VirtError.noSupport("virStorageVolDownload", domain: .storage)
    }
    public func storagePoolEvents() -> AsyncStream<StoragePoolEventRecord> { AsyncStream { $0.finish() } }
    public func registerStoragePoolEvents() async throws {}
}
