import VirtCore

/// The remote driver is also the connection's storage driver: every call goes to the daemon.
extension RemoteDriver: StorageDriver {
    public func numOfStoragePools() async throws -> Int32 { try await call(RemoteCalls.connectNumOfStoragePools) }
    public func listStoragePools(max: Int32) async throws -> [String] {
        try await call(RemoteCalls.connectListStoragePools, max).items
    }
    public func numOfDefinedStoragePools() async throws -> Int32 {
        try await call(RemoteCalls.connectNumOfDefinedStoragePools)
    }
    public func listDefinedStoragePools(max: Int32) async throws -> [String] {
        try await call(RemoteCalls.connectListDefinedStoragePools, max).items
    }
    public func listAllStoragePools(flags: UInt32) async throws -> [StoragePoolRef] {
        try await call(RemoteCalls.connectListAllStoragePools, XDRTuple2(1, flags)).items
    }
    public func storagePoolCapabilities(flags: UInt32) async throws -> String {
        try await call(RemoteCalls.connectGetStoragePoolCapabilities, flags)
    }
    public func findStoragePoolSources(type: String, spec: String?, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.connectFindStoragePoolSources, XDRTuple3(type, spec, flags))
    }
    public func lookupStoragePool(name: String) async throws -> StoragePoolRef {
        try await call(RemoteCalls.storagePoolLookupByName, name)
    }
    public func lookupStoragePool(uuid: VirtUUID) async throws -> StoragePoolRef {
        try await call(RemoteCalls.storagePoolLookupByUUID, uuid)
    }
    public func lookupStoragePool(targetPath: String) async throws -> StoragePoolRef {
        try await call(RemoteCalls.storagePoolLookupByTargetPath, targetPath)
    }
    public func lookupStoragePool(volume: StorageVolRef) async throws -> StoragePoolRef {
        try await call(RemoteCalls.storagePoolLookupByVolume, volume)
    }
    public func createStoragePool(xml: String, flags: UInt32) async throws -> StoragePoolRef {
        try await call(RemoteCalls.storagePoolCreateXML, XDRTuple2(xml, flags))
    }
    public func defineStoragePool(xml: String, flags: UInt32) async throws -> StoragePoolRef {
        try await call(RemoteCalls.storagePoolDefineXML, XDRTuple2(xml, flags))
    }
    public func buildStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.storagePoolBuild, XDRTuple2(pool, flags))
    }
    public func undefineStoragePool(_ pool: StoragePoolRef) async throws {
        _ = try await call(RemoteCalls.storagePoolUndefine, pool)
    }
    public func startStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.storagePoolCreate, XDRTuple2(pool, flags))
    }
    public func destroyStoragePool(_ pool: StoragePoolRef) async throws {
        _ = try await call(RemoteCalls.storagePoolDestroy, pool)
    }
    public func deleteStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.storagePoolDelete, XDRTuple2(pool, flags))
    }
    public func refreshStoragePool(_ pool: StoragePoolRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.storagePoolRefresh, XDRTuple2(pool, flags))
    }
    public func storagePoolInfo(_ pool: StoragePoolRef) async throws -> StoragePoolInfo {
        try await call(RemoteCalls.storagePoolGetInfo, pool)
    }
    public func storagePoolXML(_ pool: StoragePoolRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.storagePoolGetXMLDesc, XDRTuple2(pool, flags))
    }
    public func storagePoolAutostart(_ pool: StoragePoolRef) async throws -> Bool {
        try await call(RemoteCalls.storagePoolGetAutostart, pool) != 0
    }
    public func setStoragePoolAutostart(_ pool: StoragePoolRef, autostart: Bool) async throws {
        _ = try await call(RemoteCalls.storagePoolSetAutostart, XDRTuple2(pool, autostart ? 1 : 0))
    }
    public func storagePoolIsActive(_ pool: StoragePoolRef) async throws -> Bool {
        try await call(RemoteCalls.storagePoolIsActive, pool) != 0
    }
    public func storagePoolIsPersistent(_ pool: StoragePoolRef) async throws -> Bool {
        try await call(RemoteCalls.storagePoolIsPersistent, pool) != 0
    }
    public func numOfVolumes(_ pool: StoragePoolRef) async throws -> Int32 {
        try await call(RemoteCalls.storagePoolNumOfVolumes, pool)
    }
    public func listVolumes(_ pool: StoragePoolRef, max: Int32) async throws -> [String] {
        try await call(RemoteCalls.storagePoolListVolumes, XDRTuple2(pool, max)).items
    }
    public func listAllVolumes(_ pool: StoragePoolRef, flags: UInt32) async throws -> [StorageVolRef] {
        try await call(RemoteCalls.storagePoolListAllVolumes, XDRTuple3(pool, 1, flags)).items
    }
    public func lookupVolume(pool: StoragePoolRef, name: String) async throws -> StorageVolRef {
        try await call(RemoteCalls.storageVolLookupByName, XDRTuple2(pool, name))
    }
    public func lookupVolume(key: String) async throws -> StorageVolRef {
        try await call(RemoteCalls.storageVolLookupByKey, key)
    }
    public func lookupVolume(path: String) async throws -> StorageVolRef {
        try await call(RemoteCalls.storageVolLookupByPath, path)
    }
    public func createVolume(_ pool: StoragePoolRef, xml: String, flags: UInt32) async throws -> StorageVolRef {
        try await call(RemoteCalls.storageVolCreateXML, XDRTuple3(pool, xml, flags))
    }
    public func createVolume(_ pool: StoragePoolRef, xml: String, from: StorageVolRef,
                             flags: UInt32) async throws -> StorageVolRef {
        try await call(RemoteCalls.storageVolCreateXMLFrom, XDRTuple4(pool, xml, from, flags))
    }
    public func deleteVolume(_ vol: StorageVolRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.storageVolDelete, XDRTuple2(vol, flags))
    }
    public func wipeVolume(_ vol: StorageVolRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.storageVolWipe, XDRTuple2(vol, flags))
    }
    public func wipeVolume(_ vol: StorageVolRef, algorithm: UInt32, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.storageVolWipePattern, XDRTuple3(vol, algorithm, flags))
    }
    public func volumeInfo(_ vol: StorageVolRef, flags: UInt32) async throws -> StorageVolInfo {
        try await call(RemoteCalls.storageVolGetInfoFlags, XDRTuple2(vol, flags))
    }
    public func volumeInfo(_ vol: StorageVolRef) async throws -> StorageVolInfo {
        try await call(RemoteCalls.storageVolGetInfo, vol)
    }
    public func volumeXML(_ vol: StorageVolRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.storageVolGetXMLDesc, XDRTuple2(vol, flags))
    }
    public func volumePath(_ vol: StorageVolRef) async throws -> String {
        try await call(RemoteCalls.storageVolGetPath, vol)
    }
    public func resizeVolume(_ vol: StorageVolRef, capacity: UInt64, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.storageVolResize, XDRTuple3(vol, capacity, flags))
    }
    public func uploadVolume(_ vol: StorageVolRef, offset: UInt64, length: UInt64,
                             flags: UInt32) async throws -> any ByteStream {
        try await openStream(RemoteCalls.storageVolUpload, XDRTuple4(vol, offset, length, flags))
    }
    public func downloadVolume(_ vol: StorageVolRef, offset: UInt64, length: UInt64,
                               flags: UInt32) async throws -> any ByteStream {
        try await openStream(RemoteCalls.storageVolDownload, XDRTuple4(vol, offset, length, flags))
    }

    /// Storage pool events; the daemon is asked for them by ``registerStoragePoolEvents()``.
    public func storagePoolEvents() -> AsyncStream<StoragePoolEventRecord> { storageBus.subscribe() }

    /// Registers callbacks for both storage pool events with the daemon, once per connection.
    public func registerStoragePoolEvents() async throws {
        try await registerOnce(storageEventsRegistered) {
            for id: Int32 in [0, 1] {
                _ = try await call(RemoteCalls.connectStoragePoolEventRegisterAny, XDRTuple2(id, StoragePoolRef?.none))
            }
        }
    }
}
