import NIOCore
import VirtCore

/// `remote_nonnull_network`: name, uuid.
extension NetworkRef: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let name = try r.string()
        self.init(name: name, uuid: try r.uuid())
    }

    public func encode(xdr w: inout XDRWriter) {
        w.string(name)
        w.fixedOpaque(uuid.bytes)
    }
}

extension NetworkRef: CallSubject {
    var callSubject: String? { "network '\(name)'" }
}

/// `REMOTE_NETWORK_LIST_MAX` (16384) names.
public enum NetworkNameListLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 4 }
}

/// `REMOTE_NETWORK_LIST_MAX` networks.
public enum NetworkListLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 20 }
}

/// `REMOTE_NETWORK_DHCP_LEASES_MAX` (65536) leases.
public enum NetworkLeaseListLimit: XDRLimit {
    public static var max: Int { 65536 }
    public static var unit: Int { 40 }
}

/// `remote_network_update_args`: net, command, section, parentIndex, xml, flags. libvirt's clients and daemon
/// put the section in the first slot and the command in the second (virsh 9.0 through the remote driver does so,
/// and libvirtd reads them that way); the same order here keeps both ends wire-compatible.
public struct NetworkUpdateArgs: XDRCodable {
    public var net: NetworkRef
    public var command: UInt32
    public var section: UInt32
    public var parentIndex: Int32
    public var xml: String
    public var flags: UInt32
    public init(net: NetworkRef, command: UInt32, section: UInt32, parentIndex: Int32, xml: String, flags: UInt32) {
        self.net = net
        self.command = command
        self.section = section
        self.parentIndex = parentIndex
        self.xml = xml
        self.flags = flags
    }
    public init(xdr r: inout XDRReader) throws(XDRError) {
        net = try NetworkRef(xdr: &r)
        section = try r.uint()
        command = try r.uint()
        parentIndex = try r.int()
        xml = try r.string()
        flags = try r.uint()
    }
    public func encode(xdr w: inout XDRWriter) {
        net.encode(xdr: &w)
        w.uint(section)
        w.uint(command)
        w.int(parentIndex)
        w.string(xml)
        w.uint(flags)
    }
}

/// `remote_network_dhcp_lease`.
extension NetworkDHCPLeaseRecord: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let iface = try r.string()
        let expiry = try r.hyper()
        let type = try r.int()
        let mac = try r.optionalString()
        let iaid = try r.optionalString()
        let ip = try r.string()
        let prefix = try r.uint()
        let host = try r.optionalString()
        self.init(iface: iface, expiryTime: expiry, type: type, mac: mac, iaid: iaid, ipaddr: ip, prefix: prefix,
                  hostname: host, clientID: try r.optionalString())
    }

    public func encode(xdr w: inout XDRWriter) {
        w.string(iface)
        w.hyper(expiryTime)
        w.int(type)
        mac.encode(xdr: &w)
        iaid.encode(xdr: &w)
        w.string(ipaddr)
        w.uint(prefix)
        hostname.encode(xdr: &w)
        clientID.encode(xdr: &w)
    }
}

/// `remote_network_get_dhcp_leases_ret`: the leases (when asked for) and their count.
public struct NetworkLeasesResult: XDRCodable {
    public var leases: [NetworkDHCPLeaseRecord]
    public var count: UInt32
    public init(leases: [NetworkDHCPLeaseRecord], count: UInt32) {
        self.leases = leases
        self.count = count
    }
    public init(xdr r: inout XDRReader) throws(XDRError) {
        leases = try XDRList<NetworkDHCPLeaseRecord, NetworkLeaseListLimit>(xdr: &r).items
        count = try r.uint()
    }
    public func encode(xdr w: inout XDRWriter) {
        XDRList<NetworkDHCPLeaseRecord, NetworkLeaseListLimit>(leases).encode(xdr: &w)
        w.uint(count)
    }
}

extension RemoteCalls {
    typealias N = NetworkRef
    static let connectNumOfNetworks = RemoteCall<XDRVoid, Int32>(.connectNumOfNetworks)
    static let connectListNetworks = RemoteCall<Int32, XDRList<String, NetworkNameListLimit>>(.connectListNetworks)
    static let connectNumOfDefinedNetworks = RemoteCall<XDRVoid, Int32>(.connectNumOfDefinedNetworks)
    static let connectListDefinedNetworks =
        RemoteCall<Int32, XDRList<String, NetworkNameListLimit>>(.connectListDefinedNetworks)
    /// need_results, flags.
    static let connectListAllNetworks = RemoteCall<XDRTuple2<Int32, Flags>, XDRCountedList<NetworkRef, NetworkListLimit>>(.connectListAllNetworks)
    static let networkLookupByUUID = RemoteCall<VirtUUID, N>(.networkLookupByUUID)
    static let networkLookupByName = RemoteCall<String, N>(.networkLookupByName)
    static let networkCreateXML = RemoteCall<String, N>(.networkCreateXML)
    static let networkCreateXMLFlags = RemoteCall<XDRTuple2<String, Flags>, N>(.networkCreateXMLFlags)
    static let networkDefineXML = RemoteCall<String, N>(.networkDefineXML)
    static let networkDefineXMLFlags = RemoteCall<XDRTuple2<String, Flags>, N>(.networkDefineXMLFlags)
    static let networkUndefine = RemoteCall<N, XDRVoid>(.networkUndefine)
    static let networkCreate = RemoteCall<N, XDRVoid>(.networkCreate)
    static let networkDestroy = RemoteCall<N, XDRVoid>(.networkDestroy)
    static let networkGetXMLDesc = RemoteCall<XDRTuple2<N, Flags>, String>(.networkGetXMLDesc)
    static let networkGetBridgeName = RemoteCall<N, String>(.networkGetBridgeName)
    static let networkGetAutostart = RemoteCall<N, Int32>(.networkGetAutostart)
    static let networkSetAutostart = RemoteCall<XDRTuple2<N, Int32>, XDRVoid>(.networkSetAutostart)
    static let networkIsActive = RemoteCall<N, Int32>(.networkIsActive)
    static let networkIsPersistent = RemoteCall<N, Int32>(.networkIsPersistent)
    static let networkUpdate = RemoteCall<NetworkUpdateArgs, XDRVoid>(.networkUpdate)
    /// net, mac, need_results, flags.
    static let networkGetDHCPLeases =
        RemoteCall<XDRTuple4<N, String?, Int32, Flags>, NetworkLeasesResult>(.networkGetDHCPLeases)
    /// eventID, optional network → callbackID.
    static let connectNetworkEventRegisterAny = RemoteCall<XDRTuple2<Int32, N?>, Int32>(.connectNetworkEventRegisterAny)
    static let connectNetworkEventDeregisterAny = RemoteCall<Int32, XDRVoid>(.connectNetworkEventDeregisterAny)
}

/// Network events as MESSAGE packets (315 lifecycle): callback id, network, event, detail.
enum NetworkEventEncoder {
    static func message(_ ev: NetworkEventRecord, callbackID: Int32) -> ByteBuffer {
        // libvirtd sends serial 1 on event messages.
        RPCPacket.encode(RPCHeader(program: RPCProgram.remote, procedure: RemoteProcedure.networkEventLifecycle.rawValue,
                                   type: .message, serial: 1)) { w in
            w.int(callbackID)
            ev.network.encode(xdr: &w)
            w.int(ev.event.rawValue)
            w.int(ev.detail)
        }
    }

    /// The event of a MESSAGE packet, nil when it is not a network event.
    static func decode(_ proc: RemoteProcedure, _ r: inout XDRReader) throws(XDRError) -> (callbackID: Int32, NetworkEventRecord)? {
        guard proc == .networkEventLifecycle else { return nil }
        let cb = try r.int()
        let net = try NetworkRef(xdr: &r)
        let event = try r.int()
        let detail = try r.int()
        guard let e = NetworkLifecycleEvent(rawValue: event) else { return nil }
        return (cb, NetworkEventRecord(network: net, event: e, detail: detail))
    }
}
