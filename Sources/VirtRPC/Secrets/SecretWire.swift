import NIOCore
import VirtCore

/// `remote_nonnull_secret`: uuid, usageType, usageID.
extension SecretRef: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let uuid = try r.uuid()
        let type = try r.int()
        self.init(uuid: uuid, usageType: type, usageID: try r.string())
    }

    public func encode(xdr w: inout XDRWriter) {
        w.fixedOpaque(uuid.bytes)
        w.int(usageType)
        w.string(usageID)
    }
}

extension SecretRef: CallSubject {
    var callSubject: String? { "secret '\(uuid)'" }
}

/// `REMOTE_SECRET_LIST_MAX` (16384) UUID strings.
public enum SecretUUIDListLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 4 }
}

/// `REMOTE_SECRET_LIST_MAX` secrets.
public enum SecretListLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 24 }
}

/// `REMOTE_SECRET_VALUE_MAX` (65536) bytes.
public enum SecretValueLimit: XDRLimit {
    public static var max: Int { 65536 }
    public static var unit: Int { 1 }
}

extension RemoteCalls {
    typealias S = SecretRef
    static let connectNumOfSecrets = RemoteCall<XDRVoid, Int32>(.connectNumOfSecrets)
    static let connectListSecrets = RemoteCall<Int32, XDRList<String, SecretUUIDListLimit>>(.connectListSecrets)
    /// need_results, flags.
    static let connectListAllSecrets = RemoteCall<XDRTuple2<Int32, Flags>, XDRCountedList<SecretRef, SecretListLimit>>(.connectListAllSecrets)
    static let secretLookupByUUID = RemoteCall<VirtUUID, S>(.secretLookupByUUID)
    /// usageType, usageID.
    static let secretLookupByUsage = RemoteCall<XDRTuple2<Int32, String>, S>(.secretLookupByUsage)
    static let secretDefineXML = RemoteCall<XDRTuple2<String, Flags>, S>(.secretDefineXML)
    static let secretGetXMLDesc = RemoteCall<XDRTuple2<S, Flags>, String>(.secretGetXMLDesc)
    static let secretSetValue = RemoteCall<XDRTuple3<S, XDROpaque<SecretValueLimit>, Flags>, XDRVoid>(.secretSetValue)
    static let secretGetValue = RemoteCall<XDRTuple2<S, Flags>, XDROpaque<SecretValueLimit>>(.secretGetValue)
    static let secretUndefine = RemoteCall<S, XDRVoid>(.secretUndefine)
    /// eventID, optional secret → callbackID.
    static let connectSecretEventRegisterAny = RemoteCall<XDRTuple2<Int32, S?>, Int32>(.connectSecretEventRegisterAny)
    static let connectSecretEventDeregisterAny = RemoteCall<Int32, XDRVoid>(.connectSecretEventDeregisterAny)
}

/// Secret events as MESSAGE packets (382 lifecycle, 383 value changed), callback id first.
enum SecretEventEncoder {
    static func message(_ ev: SecretEventRecord, callbackID: Int32) -> ByteBuffer {
        let proc: RemoteProcedure
        switch ev.kind {
        case .lifecycle: proc = .secretEventLifecycle
        case .valueChanged: proc = .secretEventValueChanged
        }
        // libvirtd sends serial 1 on event messages.
        return RPCPacket.encode(RPCHeader(program: RPCProgram.remote, procedure: proc.rawValue, type: .message,
                                          serial: 1)) { w in
            w.int(callbackID)
            ev.secret.encode(xdr: &w)
            if case .lifecycle(let event, let detail) = ev.kind {
                w.int(event)
                w.int(detail)
            }
        }
    }

    /// The event of a MESSAGE packet, nil when it is not a secret event.
    static func decode(_ proc: RemoteProcedure, _ r: inout XDRReader) throws(XDRError) -> (callbackID: Int32, SecretEventRecord)? {
        switch proc {
        case .secretEventLifecycle:
            let cb = try r.int()
            let s = try SecretRef(xdr: &r)
            let event = try r.int()
            return (cb, SecretEventRecord(secret: s, kind: .lifecycle(event: event, detail: try r.int())))
        case .secretEventValueChanged:
            let cb = try r.int()
            return (cb, SecretEventRecord(secret: try SecretRef(xdr: &r), kind: .valueChanged))
        default:
            return nil
        }
    }
}
