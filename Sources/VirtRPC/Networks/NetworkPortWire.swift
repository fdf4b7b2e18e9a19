import VirtCore

/// `remote_nonnull_network_port`: the network, the port's uuid.
extension NetworkPortRef: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let net = try NetworkRef(xdr: &r)
        self.init(network: net, uuid: try r.uuid())
    }

    public func encode(xdr w: inout XDRWriter) {
        network.encode(xdr: &w)
        w.fixedOpaque(uuid.bytes)
    }
}

extension NetworkPortRef: CallSubject {
    var callSubject: String? { "network port '\(uuid)'" }
}

/// `REMOTE_NETWORK_PORT_LIST_MAX` (16384) ports.
public enum NetworkPortListLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 36 }
}

/// `REMOTE_NETWORK_PORT_PARAMETERS_MAX` (16).
public enum NetworkPortParamsLimit: XDRLimit {
    public static var max: Int { 16 }
    public static var unit: Int { 12 }
}

extension RemoteCalls {
    typealias NP = NetworkPortRef
    typealias NetworkPortParams = TypedParamList<NetworkPortParamsLimit>
    /// network, need_results, flags.
    static let networkListAllPorts =
        RemoteCall<XDRTuple3<N, Int32, Flags>, XDRCountedList<NP, NetworkPortListLimit>>(.networkListAllPorts)
    static let networkPortLookupByUUID = RemoteCall<XDRTuple2<N, VirtUUID>, NP>(.networkPortLookupByUUID)
    static let networkPortCreateXML = RemoteCall<XDRTuple3<N, String, Flags>, NP>(.networkPortCreateXML)
    /// port, nparams, flags → params, nparams.
    static let networkPortGetParameters =
        RemoteCall<XDRTuple3<NP, Int32, Flags>, XDRTuple2<NetworkPortParams, Int32>>(.networkPortGetParameters)
    static let networkPortSetParameters =
        RemoteCall<XDRTuple3<NP, NetworkPortParams, Flags>, XDRVoid>(.networkPortSetParameters)
    static let networkPortGetXMLDesc = RemoteCall<XDRTuple2<NP, Flags>, String>(.networkPortGetXMLDesc)
    static let networkPortDelete = RemoteCall<XDRTuple2<NP, Flags>, XDRVoid>(.networkPortDelete)
}

/// The remote driver's network port calls (virsh's net-port-* and python's virNetworkPort over the wire).
extension RemoteDriver {
    public func listAllNetworkPorts(_ net: NetworkRef, flags: UInt32) async throws -> [VirtUUID] {
        try await call(RemoteCalls.networkListAllPorts, XDRTuple3(net, 1, flags)).items.map(\.uuid)
    }
    public func lookupNetworkPort(_ net: NetworkRef, uuid: VirtUUID) async throws -> VirtUUID {
        try await call(RemoteCalls.networkPortLookupByUUID, XDRTuple2(net, uuid)).uuid
    }
    public func createNetworkPort(_ net: NetworkRef, xml: String, flags: UInt32) async throws -> VirtUUID {
        try await call(RemoteCalls.networkPortCreateXML, XDRTuple3(net, xml, flags)).uuid
    }
    public func networkPortXML(_ net: NetworkRef, port: VirtUUID, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.networkPortGetXMLDesc, XDRTuple2(NetworkPortRef(network: net, uuid: port), flags))
    }
    public func networkPortParameters(_ net: NetworkRef, port: VirtUUID, flags: UInt32) async throws -> [TypedParam] {
        let r = try await call(RemoteCalls.networkPortGetParameters,
                               XDRTuple3(NetworkPortRef(network: net, uuid: port), Int32(0), flags))
        return r.values.0.params
    }
    public func setNetworkPortParameters(_ net: NetworkRef, port: VirtUUID, params: [TypedParam],
                                         flags: UInt32) async throws {
        _ = try await call(RemoteCalls.networkPortSetParameters,
                           XDRTuple3(NetworkPortRef(network: net, uuid: port), TypedParamList(params), flags))
    }
    public func deleteNetworkPort(_ net: NetworkRef, port: VirtUUID, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.networkPortDelete, XDRTuple2(NetworkPortRef(network: net, uuid: port), flags))
    }
}
