import VirtCore

/// `remote_nonnull_nwfilter`: name and UUID.
extension NWFilterRef: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let name = try r.string()
        self.init(name: name, uuid: try r.uuid())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.string(name)
        w.uuid(uuid)
    }
}

/// `remote_nonnull_nwfilter_binding`: port device and filter name.
extension NWFilterBindingRef: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let dev = try r.string()
        self.init(portDev: dev, filterName: try r.string())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.string(portDev)
        w.string(filterName)
    }
}

/// `REMOTE_NWFILTER_LIST_MAX` (16384) and `REMOTE_NWFILTER_BINDING_LIST_MAX` (16384).
public enum NWFilterListLimit: XDRLimit {
    public static var max: Int { 16384 }
    public static var unit: Int { 4 }
}

extension RemoteCalls {
    typealias NWF = NWFilterRef
    typealias NWB = NWFilterBindingRef
    static let connectNumOfNWFilters = RemoteCall<XDRVoid, Int32>(.connectNumOfNWFilters)
    static let connectListNWFilters = RemoteCall<Int32, XDRList<String, NWFilterListLimit>>(.connectListNWFilters)
    static let connectListAllNWFilters =
        RemoteCall<XDRTuple2<Int32, Flags>, XDRCountedList<NWF, NWFilterListLimit>>(.connectListAllNWFilters)
    static let nwfilterLookupByName = RemoteCall<String, NWF>(.nwfilterLookupByName)
    static let nwfilterLookupByUUID = RemoteCall<VirtUUID, NWF>(.nwfilterLookupByUUID)
    static let nwfilterGetXMLDesc = RemoteCall<XDRTuple2<NWF, Flags>, String>(.nwfilterGetXMLDesc)
    static let nwfilterDefineXML = RemoteCall<String, NWF>(.nwfilterDefineXML)
    static let nwfilterDefineXMLFlags = RemoteCall<XDRTuple2<String, Flags>, NWF>(.nwfilterDefineXMLFlags)
    static let nwfilterUndefine = RemoteCall<NWF, XDRVoid>(.nwfilterUndefine)
    static let connectListAllNWFilterBindings =
        RemoteCall<XDRTuple2<Int32, Flags>, XDRCountedList<NWB, NWFilterListLimit>>(.connectListAllNWFilterBindings)
    static let nwfilterBindingLookupByPortDev = RemoteCall<String, NWB>(.nwfilterBindingLookupByPortDev)
    static let nwfilterBindingGetXMLDesc = RemoteCall<XDRTuple2<NWB, Flags>, String>(.nwfilterBindingGetXMLDesc)
    static let nwfilterBindingCreateXML = RemoteCall<XDRTuple2<String, Flags>, NWB>(.nwfilterBindingCreateXML)
    static let nwfilterBindingDelete = RemoteCall<NWB, XDRVoid>(.nwfilterBindingDelete)
}

/// The remote driver is also the connection's network filter driver: every call goes to the daemon (virtd has no
/// filter driver and answers NO_SUPPORT; libvirtd's answers for real).
extension RemoteDriver: NWFilterDriver {
    public func numOfNWFilters() async throws -> Int32 { try await call(RemoteCalls.connectNumOfNWFilters) }
    public func listNWFilters(max: Int32) async throws -> [String] {
        try await call(RemoteCalls.connectListNWFilters, max).items
    }
    public func listAllNWFilters(flags: UInt32) async throws -> [NWFilterRef] {
        try await call(RemoteCalls.connectListAllNWFilters, XDRTuple2(1, flags)).items
    }
    public func lookupNWFilter(name: String) async throws -> NWFilterRef {
        try await call(RemoteCalls.nwfilterLookupByName, name)
    }
    public func lookupNWFilter(uuid: VirtUUID) async throws -> NWFilterRef {
        try await call(RemoteCalls.nwfilterLookupByUUID, uuid)
    }
    public func nwfilterXML(_ filter: NWFilterRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.nwfilterGetXMLDesc, XDRTuple2(filter, flags))
    }
    public func defineNWFilter(xml: String, flags: UInt32) async throws -> NWFilterRef {
        if flags == 0 { return try await call(RemoteCalls.nwfilterDefineXML, xml) }
        return try await call(RemoteCalls.nwfilterDefineXMLFlags, XDRTuple2(xml, flags))
    }
    public func undefineNWFilter(_ filter: NWFilterRef) async throws {
        _ = try await call(RemoteCalls.nwfilterUndefine, filter)
    }
    public func listAllNWFilterBindings(flags: UInt32) async throws -> [NWFilterBindingRef] {
        try await call(RemoteCalls.connectListAllNWFilterBindings, XDRTuple2(1, flags)).items
    }
    public func lookupNWFilterBinding(portDev: String) async throws -> NWFilterBindingRef {
        try await call(RemoteCalls.nwfilterBindingLookupByPortDev, portDev)
    }
    public func nwfilterBindingXML(_ binding: NWFilterBindingRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.nwfilterBindingGetXMLDesc, XDRTuple2(binding, flags))
    }
    public func createNWFilterBinding(xml: String, flags: UInt32) async throws -> NWFilterBindingRef {
        try await call(RemoteCalls.nwfilterBindingCreateXML, XDRTuple2(xml, flags))
    }
    public func deleteNWFilterBinding(_ binding: NWFilterBindingRef) async throws {
        _ = try await call(RemoteCalls.nwfilterBindingDelete, binding)
    }
}
