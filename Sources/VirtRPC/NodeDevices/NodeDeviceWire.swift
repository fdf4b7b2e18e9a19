import NIOCore
import VirtCore

/// `remote_nonnull_node_device`: its name.
extension NodeDeviceRef: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) { self.init(name: try r.string()) }
    public func encode(xdr w: inout XDRWriter) { w.string(name) }
}

extension NodeDeviceRef: CallSubject {
    var callSubject: String? { "node device '\(name)'" }
}

/// `remote_nonnull_interface`: name and MAC string.
extension InterfaceRef: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let name = try r.string()
        self.init(name: name, mac: try r.string())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.string(name)
        w.string(mac)
    }
}

extension InterfaceRef: CallSubject {
    var callSubject: String? { "interface '\(name)'" }
}

/// `REMOTE_NODE_DEVICE_LIST_MAX` (65536) names or devices; `REMOTE_NODE_DEVICE_CAPS_LIST_MAX` (65536) caps.
public enum NodeDeviceListLimit: XDRLimit {
    public static var max: Int { 65536 }
    public static var unit: Int { 4 }
}

/// `REMOTE_INTERFACE_LIST_MAX` (16384) names or interfaces.
public enum InterfaceListLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 4 }
}

extension RemoteCalls {
    typealias ND = NodeDeviceRef
    typealias NDNames = XDRList<String, NodeDeviceListLimit>
    /// cap, flags.
    static let nodeNumOfDevices = RemoteCall<XDRTuple2<String?, Flags>, Int32>(.nodeNumOfDevices)
    /// cap, maxnames, flags.
    static let nodeListDevices = RemoteCall<XDRTuple3<String?, Int32, Flags>, NDNames>(.nodeListDevices)
    static let nodeDeviceLookupByName = RemoteCall<String, ND>(.nodeDeviceLookupByName)
    /// wwnn, wwpn, flags.
    static let nodeDeviceLookupSCSIHostByWWN =
        RemoteCall<XDRTuple3<String, String, Flags>, ND>(.nodeDeviceLookupSCSIHostByWWN)
    static let nodeDeviceGetXMLDesc = RemoteCall<XDRTuple2<String, Flags>, String>(.nodeDeviceGetXMLDesc)
    static let nodeDeviceGetParent = RemoteCall<String, String?>(.nodeDeviceGetParent)
    static let nodeDeviceNumOfCaps = RemoteCall<String, Int32>(.nodeDeviceNumOfCaps)
    static let nodeDeviceListCaps = RemoteCall<XDRTuple2<String, Int32>, NDNames>(.nodeDeviceListCaps)
    static let nodeDeviceCreateXML = RemoteCall<XDRTuple2<String, Flags>, ND>(.nodeDeviceCreateXML)
    static let nodeDeviceDestroy = RemoteCall<String, XDRVoid>(.nodeDeviceDestroy)
    static let nodeDeviceIsActive = RemoteCall<String, Int32>(.nodeDeviceIsActive)
    static let nodeDeviceIsPersistent = RemoteCall<String, Int32>(.nodeDeviceIsPersistent)
    static let nodeDeviceGetAutostart = RemoteCall<String, Int32>(.nodeDeviceGetAutostart)
    /// need_results, flags.
    static let connectListAllNodeDevices =
        RemoteCall<XDRTuple2<Int32, Flags>, XDRCountedList<ND, NodeDeviceListLimit>>(.connectListAllNodeDevices)
    /// eventID, optional device → callbackID.
    static let connectNodeDeviceEventRegisterAny =
        RemoteCall<XDRTuple2<Int32, ND?>, Int32>(.connectNodeDeviceEventRegisterAny)
    static let connectNodeDeviceEventDeregisterAny =
        RemoteCall<Int32, XDRVoid>(.connectNodeDeviceEventDeregisterAny)

    typealias IF = InterfaceRef
    typealias IFNames = XDRList<String, InterfaceListLimit>
    static let connectNumOfInterfaces = RemoteCall<XDRVoid, Int32>(.connectNumOfInterfaces)
    static let connectListInterfaces = RemoteCall<Int32, IFNames>(.connectListInterfaces)
    static let connectNumOfDefinedInterfaces = RemoteCall<XDRVoid, Int32>(.connectNumOfDefinedInterfaces)
    static let connectListDefinedInterfaces = RemoteCall<Int32, IFNames>(.connectListDefinedInterfaces)
    static let connectListAllInterfaces =
        RemoteCall<XDRTuple2<Int32, Flags>, XDRCountedList<IF, InterfaceListLimit>>(.connectListAllInterfaces)
    static let interfaceLookupByName = RemoteCall<String, IF>(.interfaceLookupByName)
    static let interfaceLookupByMACString = RemoteCall<String, IF>(.interfaceLookupByMACString)
    static let interfaceGetXMLDesc = RemoteCall<XDRTuple2<IF, Flags>, String>(.interfaceGetXMLDesc)
    static let interfaceDefineXML = RemoteCall<XDRTuple2<String, Flags>, IF>(.interfaceDefineXML)
    static let interfaceUndefine = RemoteCall<IF, XDRVoid>(.interfaceUndefine)
    static let interfaceCreate = RemoteCall<XDRTuple2<IF, Flags>, XDRVoid>(.interfaceCreate)
    static let interfaceDestroy = RemoteCall<XDRTuple2<IF, Flags>, XDRVoid>(.interfaceDestroy)
    static let interfaceIsActive = RemoteCall<IF, Int32>(.interfaceIsActive)
    static let interfaceChangeBegin = RemoteCall<Flags, XDRVoid>(.interfaceChangeBegin)
    static let interfaceChangeCommit = RemoteCall<Flags, XDRVoid>(.interfaceChangeCommit)
    static let interfaceChangeRollback = RemoteCall<Flags, XDRVoid>(.interfaceChangeRollback)
}

/// Node device events as MESSAGE packets (376 lifecycle: device, event, detail; 377 update: device), callback id
/// first.
enum NodeDeviceEventEncoder {
    static func message(_ ev: NodeDeviceEventRecord, callbackID: Int32) -> ByteBuffer {
        let proc: RemoteProcedure = ev.lifecycle == nil ? .nodeDeviceEventUpdate : .nodeDeviceEventLifecycle
        // libvirtd sends serial 1 on event messages.
        return RPCPacket.encode(RPCHeader(program: RPCProgram.remote, procedure: proc.rawValue, type: .message,
                                          serial: 1)) { w in
            w.int(callbackID)
            ev.device.encode(xdr: &w)
            if let lifecycle = ev.lifecycle {
                w.int(lifecycle.rawValue)
                w.int(ev.detail)
            }
        }
    }
}
