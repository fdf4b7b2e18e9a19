import VirtCore

/// `REMOTE_DOMAIN_INTERFACE_MAX`.
public enum DomainInterfaceListLimit: XDRLimit {
    public static var max: Int { 2048 }
    public static var unit: Int { 12 }
}

/// `REMOTE_DOMAIN_IP_ADDR_MAX`.
public enum DomainIPAddressListLimit: XDRLimit {
    public static var max: Int { 2048 }
    public static var unit: Int { 12 }
}

/// `remote_domain_ip_addr`.
extension DomainIPAddress: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let type = try r.int()
        let addr = try r.string()
        self.init(type: type, addr: addr, prefix: try r.uint())
    }

    public func encode(xdr w: inout XDRWriter) {
        w.int(type)
        w.string(addr)
        w.uint(prefix)
    }
}

/// `remote_domain_interface`.
extension DomainInterfaceAddresses: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let name = try r.string()
        let hwaddr = try r.optionalString()
        self.init(name: name, hwaddr: hwaddr, addrs: try XDRList<DomainIPAddress, DomainIPAddressListLimit>(xdr: &r).items)
    }

    public func encode(xdr w: inout XDRWriter) {
        w.string(name)
        hwaddr.encode(xdr: &w)
        XDRList<DomainIPAddress, DomainIPAddressListLimit>(addrs).encode(xdr: &w)
    }
}

extension RemoteCalls {
    /// dom, source, flags → the interfaces.
    static let domainInterfaceAddresses =
        RemoteCall<XDRTuple3<DomainRef, UInt32, UInt32>, XDRList<DomainInterfaceAddresses, DomainInterfaceListLimit>>(
            .domainInterfaceAddresses)
}
