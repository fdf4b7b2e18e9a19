import NIOCore
import VirtCore

/// `remote_nonnull_storage_pool`: name, uuid.
extension StoragePoolRef: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let name = try r.string()
        self.init(name: name, uuid: try r.uuid())
    }

    public func encode(xdr w: inout XDRWriter) {
        w.string(name)
        w.fixedOpaque(uuid.bytes)
    }
}

/// `remote_nonnull_storage_vol`: pool, name, key.
extension StorageVolRef: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let pool = try r.string()
        let name = try r.string()
        self.init(pool: pool, name: name, key: try r.string())
    }

    public func encode(xdr w: inout XDRWriter) {
        w.string(pool)
        w.string(name)
        w.string(key)
    }
}

extension StoragePoolRef: CallSubject {
    var callSubject: String? { "storage pool '\(name)'" }
}

extension StorageVolRef: CallSubject {
    var callSubject: String? { "storage volume '\(pool)/\(name)'" }
}

/// `remote_storage_pool_get_info_ret`: state (unsigned char, one XDR word), capacity, allocation, available.
extension StoragePoolInfo: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let state = Int32(bitPattern: try r.uint())
        let cap = try r.uhyper()
        let alloc = try r.uhyper()
        self.init(state: state, capacity: cap, allocation: alloc, available: try r.uhyper())
    }

    public func encode(xdr w: inout XDRWriter) {
        w.uint(UInt32(bitPattern: state))
        w.uhyper(capacity)
        w.uhyper(allocation)
        w.uhyper(available)
    }
}

/// `remote_storage_vol_get_info_ret`: type (char, one XDR word), capacity, allocation.
extension StorageVolInfo: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let type = try r.int()
        let cap = try r.uhyper()
        self.init(type: type, capacity: cap, allocation: try r.uhyper())
    }

    public func encode(xdr w: inout XDRWriter) {
        w.int(type)
        w.uhyper(capacity)
        w.uhyper(allocation)
    }
}

/// `REMOTE_STORAGE_POOL_LIST_MAX` (16384) names.
public enum StoragePoolNameListLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 4 }
}

/// `REMOTE_STORAGE_POOL_LIST_MAX` pools.
public enum StoragePoolListLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 20 }
}

/// `REMOTE_STORAGE_VOL_LIST_MAX` (16384) names or volumes.
public enum StorageVolListLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 4 }
}

extension RemoteCalls {
    typealias P = StoragePoolRef
    typealias V = StorageVolRef
    typealias PoolNames = XDRList<String, StoragePoolNameListLimit>
    static let connectNumOfStoragePools = RemoteCall<XDRVoid, Int32>(.connectNumOfStoragePools)
    static let connectListStoragePools = RemoteCall<Int32, PoolNames>(.connectListStoragePools)
    static let connectNumOfDefinedStoragePools = RemoteCall<XDRVoid, Int32>(.connectNumOfDefinedStoragePools)
    static let connectListDefinedStoragePools = RemoteCall<Int32, PoolNames>(.connectListDefinedStoragePools)
    /// need_results, flags.
    typealias PoolList = XDRCountedList<P, StoragePoolListLimit>
    typealias VolList = XDRCountedList<V, StorageVolListLimit>
    static let connectListAllStoragePools = RemoteCall<XDRTuple2<Int32, Flags>, PoolList>(.connectListAllStoragePools)
    static let connectGetStoragePoolCapabilities = RemoteCall<Flags, String>(.connectGetStoragePoolCapabilities)
    /// type, optional srcSpec, flags → xml.
    static let connectFindStoragePoolSources =
        RemoteCall<XDRTuple3<String, String?, Flags>, String>(.connectFindStoragePoolSources)
    static let storagePoolLookupByName = RemoteCall<String, P>(.storagePoolLookupByName)
    static let storagePoolLookupByTargetPath = RemoteCall<String, P>(.storagePoolLookupByTargetPath)
    static let storagePoolLookupByUUID = RemoteCall<VirtUUID, P>(.storagePoolLookupByUUID)
    static let storagePoolLookupByVolume = RemoteCall<V, P>(.storagePoolLookupByVolume)
    static let storagePoolCreateXML = RemoteCall<XDRTuple2<String, Flags>, P>(.storagePoolCreateXML)
    static let storagePoolDefineXML = RemoteCall<XDRTuple2<String, Flags>, P>(.storagePoolDefineXML)
    static let storagePoolBuild = RemoteCall<XDRTuple2<P, Flags>, XDRVoid>(.storagePoolBuild)
    static let storagePoolUndefine = RemoteCall<P, XDRVoid>(.storagePoolUndefine)
    static let storagePoolCreate = RemoteCall<XDRTuple2<P, Flags>, XDRVoid>(.storagePoolCreate)
    static let storagePoolDestroy = RemoteCall<P, XDRVoid>(.storagePoolDestroy)
    static let storagePoolDelete = RemoteCall<XDRTuple2<P, Flags>, XDRVoid>(.storagePoolDelete)
    static let storagePoolRefresh = RemoteCall<XDRTuple2<P, Flags>, XDRVoid>(.storagePoolRefresh)
    static let storagePoolGetInfo = RemoteCall<P, StoragePoolInfo>(.storagePoolGetInfo)
    static let storagePoolGetXMLDesc = RemoteCall<XDRTuple2<P, Flags>, String>(.storagePoolGetXMLDesc)
    static let storagePoolGetAutostart = RemoteCall<P, Int32>(.storagePoolGetAutostart)
    static let storagePoolSetAutostart = RemoteCall<XDRTuple2<P, Int32>, XDRVoid>(.storagePoolSetAutostart)
    static let storagePoolIsActive = RemoteCall<P, Int32>(.storagePoolIsActive)
    static let storagePoolIsPersistent = RemoteCall<P, Int32>(.storagePoolIsPersistent)
    static let storagePoolNumOfVolumes = RemoteCall<P, Int32>(.storagePoolNumOfVolumes)
    static let storagePoolListVolumes =
        RemoteCall<XDRTuple2<P, Int32>, XDRList<String, StorageVolListLimit>>(.storagePoolListVolumes)
    /// pool, need_results, flags.
    static let storagePoolListAllVolumes = RemoteCall<XDRTuple3<P, Int32, Flags>, VolList>(.storagePoolListAllVolumes)
    static let storageVolLookupByName = RemoteCall<XDRTuple2<P, String>, V>(.storageVolLookupByName)
    static let storageVolLookupByKey = RemoteCall<String, V>(.storageVolLookupByKey)
    static let storageVolLookupByPath = RemoteCall<String, V>(.storageVolLookupByPath)
    static let storageVolCreateXML = RemoteCall<XDRTuple3<P, String, Flags>, V>(.storageVolCreateXML)
    /// pool, xml, clonevol, flags.
    static let storageVolCreateXMLFrom = RemoteCall<XDRTuple4<P, String, V, Flags>, V>(.storageVolCreateXMLFrom)
    static let storageVolDelete = RemoteCall<XDRTuple2<V, Flags>, XDRVoid>(.storageVolDelete)
    static let storageVolWipe = RemoteCall<XDRTuple2<V, Flags>, XDRVoid>(.storageVolWipe)
    static let storageVolGetInfo = RemoteCall<V, StorageVolInfo>(.storageVolGetInfo)
    static let storageVolGetInfoFlags = RemoteCall<XDRTuple2<V, Flags>, StorageVolInfo>(.storageVolGetInfoFlags)
    /// vol, algorithm, flags.
    static let storageVolWipePattern = RemoteCall<XDRTuple3<V, UInt32, Flags>, XDRVoid>(.storageVolWipePattern)
    static let storageVolGetXMLDesc = RemoteCall<XDRTuple2<V, Flags>, String>(.storageVolGetXMLDesc)
    static let storageVolGetPath = RemoteCall<V, String>(.storageVolGetPath)
    static let storageVolResize = RemoteCall<XDRTuple3<V, UInt64, Flags>, XDRVoid>(.storageVolResize)
    /// Streams: the reply opens a stream on the call's serial (vol, offset, length, flags).
    static let storageVolUpload = RemoteCall<XDRTuple4<V, UInt64, UInt64, Flags>, XDRVoid>(.storageVolUpload)
    static let storageVolDownload = RemoteCall<XDRTuple4<V, UInt64, UInt64, Flags>, XDRVoid>(.storageVolDownload)
    /// eventID, optional pool → callbackID.
    static let connectStoragePoolEventRegisterAny =
        RemoteCall<XDRTuple2<Int32, P?>, Int32>(.connectStoragePoolEventRegisterAny)
    static let connectStoragePoolEventDeregisterAny = RemoteCall<Int32, XDRVoid>(.connectStoragePoolEventDeregisterAny)
}

/// Storage pool events as MESSAGE packets (370 lifecycle, 373 refresh), callback id first.
enum StoragePoolEventEncoder {
    static func message(_ ev: StoragePoolEventRecord, callbackID: Int32) -> ByteBuffer {
        let proc: RemoteProcedure
        switch ev.kind {
        case .lifecycle: proc = .storagePoolEventLifecycle
        case .refresh: proc = .storagePoolEventRefresh
        }
        // libvirtd sends serial 1 on event messages.
        return RPCPacket.encode(RPCHeader(program: RPCProgram.remote, procedure: proc.rawValue, type: .message,
                                          serial: 1)) { w in
            w.int(callbackID)
            ev.pool.encode(xdr: &w)
            if case .lifecycle(let event, let detail) = ev.kind {
                w.int(event)
                w.int(detail)
            }
        }
    }

    /// The event of a MESSAGE packet, nil when it is not a storage pool event.
    static func decode(_ proc: RemoteProcedure,
                       _ r: inout XDRReader) throws(XDRError) -> (callbackID: Int32, StoragePoolEventRecord)? {
        switch proc {
        case .storagePoolEventLifecycle:
            let cb = try r.int()
            let p = try StoragePoolRef(xdr: &r)
            let event = try r.int()
            return (cb, StoragePoolEventRecord(pool: p, kind: .lifecycle(event: event, detail: try r.int())))
        case .storagePoolEventRefresh:
            let cb = try r.int()
            return (cb, StoragePoolEventRecord(pool: try StoragePoolRef(xdr: &r), kind: .refresh))
        default:
            return nil
        }
    }
}
