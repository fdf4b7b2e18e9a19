import VirtCore

/// The remote driver is also the connection's node device driver: every call goes to the daemon.
extension RemoteDriver: NodeDeviceDriver {
    public func numOfNodeDevices(cap: String?, flags: UInt32) async throws -> Int32 {
        try await call(RemoteCalls.nodeNumOfDevices, XDRTuple2(cap, flags))
    }
    public func listNodeDevices(cap: String?, max: Int32, flags: UInt32) async throws -> [String] {
        try await call(RemoteCalls.nodeListDevices, XDRTuple3(cap, max, flags)).items
    }
    public func listAllNodeDevices(flags: UInt32) async throws -> [NodeDeviceRef] {
        try await call(RemoteCalls.connectListAllNodeDevices, XDRTuple2(1, flags)).items
    }
    public func lookupNodeDevice(name: String) async throws -> NodeDeviceRef {
        try await call(RemoteCalls.nodeDeviceLookupByName, name)
    }
    public func lookupSCSIHost(wwnn: String, wwpn: String, flags: UInt32) async throws -> NodeDeviceRef {
        try await call(RemoteCalls.nodeDeviceLookupSCSIHostByWWN, XDRTuple3(wwnn, wwpn, flags))
    }
    public func nodeDeviceXML(_ dev: NodeDeviceRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.nodeDeviceGetXMLDesc, XDRTuple2(dev.name, flags))
    }
    public func nodeDeviceParent(_ dev: NodeDeviceRef) async throws -> String? {
        try await call(RemoteCalls.nodeDeviceGetParent, dev.name)
    }
    public func nodeDeviceCapabilities(_ dev: NodeDeviceRef) async throws -> [String] {
        let n = try await call(RemoteCalls.nodeDeviceNumOfCaps, dev.name)
        return try await call(RemoteCalls.nodeDeviceListCaps, XDRTuple2(dev.name, n)).items
    }
    public func createNodeDevice(xml: String, flags: UInt32) async throws -> NodeDeviceRef {
        try await call(RemoteCalls.nodeDeviceCreateXML, XDRTuple2(xml, flags))
    }
    public func destroyNodeDevice(_ dev: NodeDeviceRef) async throws {
        _ = try await call(RemoteCalls.nodeDeviceDestroy, dev.name)
    }
    public func nodeDeviceIsActive(_ dev: NodeDeviceRef) async throws -> Bool {
        try await call(RemoteCalls.nodeDeviceIsActive, dev.name) != 0
    }
    public func nodeDeviceIsPersistent(_ dev: NodeDeviceRef) async throws -> Bool {
        try await call(RemoteCalls.nodeDeviceIsPersistent, dev.name) != 0
    }
    public func nodeDeviceAutostart(_ dev: NodeDeviceRef) async throws -> Bool {
        try await call(RemoteCalls.nodeDeviceGetAutostart, dev.name) != 0
    }
}

/// The remote driver is also the connection's interface driver.
extension RemoteDriver: InterfaceDriver {
    public func numOfInterfaces() async throws -> Int32 { try await call(RemoteCalls.connectNumOfInterfaces) }
    public func listInterfaces(max: Int32) async throws -> [String] {
        try await call(RemoteCalls.connectListInterfaces, max).items
    }
    public func numOfDefinedInterfaces() async throws -> Int32 {
        try await call(RemoteCalls.connectNumOfDefinedInterfaces)
    }
    public func listDefinedInterfaces(max: Int32) async throws -> [String] {
        try await call(RemoteCalls.connectListDefinedInterfaces, max).items
    }
    public func listAllInterfaces(flags: UInt32) async throws -> [InterfaceRef] {
        try await call(RemoteCalls.connectListAllInterfaces, XDRTuple2(1, flags)).items
    }
    public func lookupInterface(name: String) async throws -> InterfaceRef {
        try await call(RemoteCalls.interfaceLookupByName, name)
    }
    public func lookupInterface(mac: String) async throws -> InterfaceRef {
        try await call(RemoteCalls.interfaceLookupByMACString, mac)
    }
    public func interfaceXML(_ iface: InterfaceRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.interfaceGetXMLDesc, XDRTuple2(iface, flags))
    }
    public func defineInterface(xml: String, flags: UInt32) async throws -> InterfaceRef {
        try await call(RemoteCalls.interfaceDefineXML, XDRTuple2(xml, flags))
    }
    public func undefineInterface(_ iface: InterfaceRef) async throws {
        _ = try await call(RemoteCalls.interfaceUndefine, iface)
    }
    public func startInterface(_ iface: InterfaceRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.interfaceCreate, XDRTuple2(iface, flags))
    }
    public func destroyInterface(_ iface: InterfaceRef, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.interfaceDestroy, XDRTuple2(iface, flags))
    }
    public func interfaceIsActive(_ iface: InterfaceRef) async throws -> Bool {
        try await call(RemoteCalls.interfaceIsActive, iface) != 0
    }
    public func interfaceChangeBegin(flags: UInt32) async throws {
        _ = try await call(RemoteCalls.interfaceChangeBegin, flags)
    }
    public func interfaceChangeCommit(flags: UInt32) async throws {
        _ = try await call(RemoteCalls.interfaceChangeCommit, flags)
    }
    public func interfaceChangeRollback(flags: UInt32) async throws {
        _ = try await call(RemoteCalls.interfaceChangeRollback, flags)
    }
}
