/// A handle on one storage pool of a connection, as libvirt's `virStoragePoolPtr`.
public struct StoragePool: Sendable, Hashable {
    public let connection: Connection
    public let ref: StoragePoolRef

    public init(connection: Connection, ref: StoragePoolRef) {
        self.connection = connection
        self.ref = ref
    }

    public static func == (a: StoragePool, b: StoragePool) -> Bool { a.connection === b.connection && a.ref == b.ref }
    public func hash(into h: inout Hasher) { h.combine(ref) }

    public var name: String { ref.name }
    public var uuid: VirtUUID { ref.uuid }

    private func driver(_ api: String, modifies: Bool = false) throws -> any StorageDriver {
        if modifies && connection.isReadOnly { throw ReadOnlyDriver.denied(api) }
        return try connection.storageDriver(api)
    }

    public func xmlDesc(flags: UInt32 = 0) async throws -> String {
        try await driver("virStoragePoolGetXMLDesc").storagePoolXML(ref, flags: flags)
    }
    public func info() async throws -> StoragePoolInfo {
        try await driver("virStoragePoolGetInfo").storagePoolInfo(ref)
    }
    public func autostart() async throws -> Bool {
        try await driver("virStoragePoolGetAutostart").storagePoolAutostart(ref)
    }
    public func setAutostart(_ on: Bool) async throws {
        try await driver("virStoragePoolSetAutostart", modifies: true).setStoragePoolAutostart(ref, autostart: on)
    }
    public func isActive() async throws -> Bool { try await driver("virStoragePoolIsActive").storagePoolIsActive(ref) }
    public func isPersistent() async throws -> Bool {
        try await driver("virStoragePoolIsPersistent").storagePoolIsPersistent(ref)
    }
    /// Starts an inactive pool (`virStoragePoolCreate`).
    public func start(flags: UInt32 = 0) async throws {
        try await driver("virStoragePoolCreate", modifies: true).startStoragePool(ref, flags: flags)
    }
    public func build(flags: UInt32 = 0) async throws {
        try await driver("virStoragePoolBuild", modifies: true).buildStoragePool(ref, flags: flags)
    }
    public func destroy() async throws {
        try await driver("virStoragePoolDestroy", modifies: true).destroyStoragePool(ref)
    }
    public func delete(flags: UInt32 = 0) async throws {
        try await driver("virStoragePoolDelete", modifies: true).deleteStoragePool(ref, flags: flags)
    }
    public func undefine() async throws {
        try await driver("virStoragePoolUndefine", modifies: true).undefineStoragePool(ref)
    }
    public func refresh(flags: UInt32 = 0) async throws {
        try await driver("virStoragePoolRefresh", modifies: true).refreshStoragePool(ref, flags: flags)
    }
    public func numOfVolumes() async throws -> Int32 {
        try await driver("virStoragePoolNumOfVolumes").numOfVolumes(ref)
    }
    public func listVolumeNames(max: Int32 = 16384) async throws -> [String] {
        try await driver("virStoragePoolListVolumes").listVolumes(ref, max: max)
    }
    public func listAllVolumes(flags: UInt32 = 0) async throws -> [StorageVolume] {
        try await driver("virStoragePoolListAllVolumes").listAllVolumes(ref, flags: flags)
            .map { StorageVolume(connection: connection, ref: $0) }
    }
    public func lookupVolume(name: String) async throws -> StorageVolume {
        StorageVolume(connection: connection,
                      ref: try await driver("virStorageVolLookupByName").lookupVolume(pool: ref, name: name))
    }
    /// Creates a volume from its XML (`virStorageVolCreateXML`).
    public func createVolume(xml: String, flags: UInt32 = 0) async throws -> StorageVolume {
        StorageVolume(connection: connection, ref: try await driver("virStorageVolCreateXML", modifies: true)
            .createVolume(ref, xml: xml, flags: flags))
    }
    /// Creates a volume from its XML with the contents of `source` (`virStorageVolCreateXMLFrom`).
    public func createVolume(xml: String, from source: StorageVolume, flags: UInt32 = 0) async throws -> StorageVolume {
        StorageVolume(connection: connection, ref: try await driver("virStorageVolCreateXMLFrom", modifies: true)
            .createVolume(ref, xml: xml, from: source.ref, flags: flags))
    }
}

/// A handle on one storage volume, as libvirt's `virStorageVolPtr`.
public struct StorageVolume: Sendable, Hashable {
    public let connection: Connection
    public let ref: StorageVolRef

    public init(connection: Connection, ref: StorageVolRef) {
        self.connection = connection
        self.ref = ref
    }

    public static func == (a: StorageVolume, b: StorageVolume) -> Bool {
        a.connection === b.connection && a.ref == b.ref
    }
    public func hash(into h: inout Hasher) { h.combine(ref) }

    public var name: String { ref.name }
    public var key: String { ref.key }
    public var poolName: String { ref.pool }

    private func driver(_ api: String, modifies: Bool = false) throws -> any StorageDriver {
        if modifies && connection.isReadOnly { throw ReadOnlyDriver.denied(api) }
        return try connection.storageDriver(api)
    }

    public func pool() async throws -> StoragePool {
        StoragePool(connection: connection,
                    ref: try await driver("virStoragePoolLookupByVolume").lookupStoragePool(volume: ref))
    }
    public func info() async throws -> StorageVolInfo { try await driver("virStorageVolGetInfo").volumeInfo(ref) }
    /// `virStorageVolGetInfoFlags`.
    public func info(flags: UInt32) async throws -> StorageVolInfo {
        try await driver("virStorageVolGetInfoFlags").volumeInfo(ref, flags: flags)
    }
    public func xmlDesc(flags: UInt32 = 0) async throws -> String {
        try await driver("virStorageVolGetXMLDesc").volumeXML(ref, flags: flags)
    }
    public func path() async throws -> String { try await driver("virStorageVolGetPath").volumePath(ref) }
    public func delete(flags: UInt32 = 0) async throws {
        try await driver("virStorageVolDelete", modifies: true).deleteVolume(ref, flags: flags)
    }
    public func wipe(flags: UInt32 = 0) async throws {
        try await driver("virStorageVolWipe", modifies: true).wipeVolume(ref, flags: flags)
    }
    /// Wipes with one of libvirt's algorithms (`virStorageVolWipePattern`).
    public func wipe(algorithm: UInt32, flags: UInt32 = 0) async throws {
        try await driver("virStorageVolWipePattern", modifies: true).wipeVolume(ref, algorithm: algorithm, flags: flags)
    }
    public func resize(capacity: UInt64, flags: UInt32 = 0) async throws {
        try await driver("virStorageVolResize", modifies: true).resizeVolume(ref, capacity: capacity, flags: flags)
    }
    /// `virStorageVolUpload`: write what is sent on the returned stream into the volume from `offset` (at most
    /// `length` bytes, 0: no limit); finish the stream to complete it.
    public func upload(offset: UInt64 = 0, length: UInt64 = 0, flags: UInt32 = 0) async throws -> any ByteStream {
        try await driver("virStorageVolUpload", modifies: true).uploadVolume(ref, offset: offset, length: length,
                                                                             flags: flags)
    }
    /// `virStorageVolDownload`: the volume's bytes from `offset` (at most `length`, 0: to the end) on a stream.
    public func download(offset: UInt64 = 0, length: UInt64 = 0, flags: UInt32 = 0) async throws -> any ByteStream {
        try await driver("virStorageVolDownload").downloadVolume(ref, offset: offset, length: length, flags: flags)
    }
}

extension Connection {
    /// This connection's storage driver (the test driver is its own), or NO_SUPPORT naming `api`.
    func storageDriver(_ api: String) throws -> any StorageDriver {
        if let s = driver as? any StorageDriver { return s }
        if let r = driver as? ReadOnlyDriver, let s = r.base as? any StorageDriver { return s }
        throw VirtError.noSupport(api, domain: .storage)
    }

    public func numOfStoragePools() async throws -> Int32 {
        try await storageDriver("virConnectNumOfStoragePools").numOfStoragePools()
    }
    public func listStoragePoolNames(max: Int32 = 16384) async throws -> [String] {
        try await storageDriver("virConnectListStoragePools").listStoragePools(max: max)
    }
    public func numOfDefinedStoragePools() async throws -> Int32 {
        try await storageDriver("virConnectNumOfDefinedStoragePools").numOfDefinedStoragePools()
    }
    public func listDefinedStoragePoolNames(max: Int32 = 16384) async throws -> [String] {
        try await storageDriver("virConnectListDefinedStoragePools").listDefinedStoragePools(max: max)
    }
    /// The storage pool capabilities document (`virConnectGetStoragePoolCapabilities`).
    public func storagePoolCapabilities(flags: UInt32 = 0) async throws -> String {
        try await storageDriver("virConnectGetStoragePoolCapabilities").storagePoolCapabilities(flags: flags)
    }

    /// Potential pool sources of `type` (`virConnectFindStoragePoolSources`).
    public func findStoragePoolSources(type: String, spec: String? = nil, flags: UInt32 = 0) async throws -> String {
        if isReadOnly { throw ReadOnlyDriver.denied("virConnectFindStoragePoolSources") }
        let s = try storageDriver("virConnectFindStoragePoolSources")
        return try await s.findStoragePoolSources(type: type, spec: spec, flags: flags)
    }

    /// Every pool passing `flags` (`virConnectListAllStoragePools`).
    public func listAllStoragePools(flags: StoragePoolListFlags = []) async throws -> [StoragePool] {
        try await storageDriver("virConnectListAllStoragePools").listAllStoragePools(flags: flags.rawValue)
            .map { StoragePool(connection: self, ref: $0) }
    }
    public func lookupStoragePool(name: String) async throws -> StoragePool {
        StoragePool(connection: self,
                    ref: try await storageDriver("virStoragePoolLookupByName").lookupStoragePool(name: name))
    }
    public func lookupStoragePool(uuid: VirtUUID) async throws -> StoragePool {
        StoragePool(connection: self,
                    ref: try await storageDriver("virStoragePoolLookupByUUID").lookupStoragePool(uuid: uuid))
    }
    /// The pool of a UUID string, with libvirt's error for a malformed one.
    public func lookupStoragePool(uuidString: String) async throws -> StoragePool {
        guard let u = VirtUUID(string: uuidString) else {
            throw VirtError(.invalidArg, "uuidstr in virStoragePoolLookupByUUIDString must be a valid UUID")
        }
        return try await lookupStoragePool(uuid: u)
    }
    public func createStoragePool(xml: String, flags: UInt32 = 0) async throws -> StoragePool {
        if isReadOnly { throw ReadOnlyDriver.denied("virStoragePoolCreateXML") }
        return StoragePool(connection: self, ref: try await storageDriver("virStoragePoolCreateXML")
            .createStoragePool(xml: xml, flags: flags))
    }
    public func defineStoragePool(xml: String, flags: UInt32 = 0) async throws -> StoragePool {
        if isReadOnly { throw ReadOnlyDriver.denied("virStoragePoolDefineXML") }
        return StoragePool(connection: self, ref: try await storageDriver("virStoragePoolDefineXML")
            .defineStoragePool(xml: xml, flags: flags))
    }
    public func lookupStorageVolume(key: String) async throws -> StorageVolume {
        StorageVolume(connection: self, ref: try await storageDriver("virStorageVolLookupByKey").lookupVolume(key: key))
    }
    public func lookupStorageVolume(path: String) async throws -> StorageVolume {
        StorageVolume(connection: self,
                      ref: try await storageDriver("virStorageVolLookupByPath").lookupVolume(path: path))
    }
    /// Storage pool events from now on (`virConnectStoragePoolEventRegisterAny` for both event ids).
    public func storagePoolEvents() async throws -> AsyncStream<StoragePoolEventRecord> {
        let s = try storageDriver("virConnectStoragePoolEventRegisterAny")
        let stream = s.storagePoolEvents()
        try await s.registerStoragePoolEvents()
        return stream
    }
}
