import VirtCore

/// Wire forms of the guest agent procedures (remote_protocol.x, qemu_protocol.x).

/// `REMOTE_DOMAIN_INTERFACE_MAX` (an interface: a name, an optional MAC and an address list).
public enum DomainInterfaceLimit: XDRLimit {
    public static var max: Int { 2048 }
    public static var unit: Int { 12 }
}

/// `REMOTE_DOMAIN_IP_ADDR_MAX`.
public enum DomainIPAddrLimit: XDRLimit {
    public static var max: Int { 2048 }
    public static var unit: Int { 12 }
}

/// `REMOTE_DOMAIN_FSINFO_MAX`.
public enum FSInfoLimit: XDRLimit {
    public static var max: Int { 256 }
    public static var unit: Int { 16 }
}

/// `REMOTE_DOMAIN_FSINFO_DISKS_MAX`.
public enum FSInfoDisksLimit: XDRLimit {
    public static var max: Int { 256 }
    public static var unit: Int { 4 }
}

/// `REMOTE_DOMAIN_FSFREEZE_MOUNTPOINTS_MAX`.
public enum FSFreezeMountpointsLimit: XDRLimit {
    public static var max: Int { 256 }
    public static var unit: Int { 4 }
}

/// `REMOTE_DOMAIN_GUEST_INFO_PARAMS_MAX`.
public enum GuestInfoParamsLimit: XDRLimit {
    public static var max: Int { 2048 }
    public static var unit: Int { 12 }
}

/// `remote_domain_ip_addr`.
extension DomainIPAddress: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        self.init(type: try r.int(), addr: try r.string(), prefix: try r.uint())
    }
    public func encode(xdr w: inout XDRWriter) {
        w.int(type)
        w.string(addr)
        w.uint(prefix)
    }
}

/// `remote_domain_interface`.
extension DomainInterface: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let name = try r.string()
        let hwaddr = try String?(xdr: &r)
        let addrs = try XDRList<DomainIPAddress, DomainIPAddrLimit>(xdr: &r).items
        self.init(name: name, hwaddr: hwaddr, addrs: addrs)
    }
    public func encode(xdr w: inout XDRWriter) {
        w.string(name)
        hwaddr.encode(xdr: &w)
        XDRList<DomainIPAddress, DomainIPAddrLimit>(addrs).encode(xdr: &w)
    }
}

/// `remote_domain_fsinfo`.
extension DomainFSInfo: XDRCodable {
    public init(xdr r: inout XDRReader) throws(XDRError) {
        let mountpoint = try r.string()
        let name = try r.string()
        let fstype = try r.string()
        let aliases = try XDRList<String, FSInfoDisksLimit>(xdr: &r).items
        self.init(mountpoint: mountpoint, name: name, fstype: fstype, devAliases: aliases)
    }
    public func encode(xdr w: inout XDRWriter) {
        w.string(mountpoint)
        w.string(name)
        w.string(fstype)
        XDRList<String, FSInfoDisksLimit>(devAliases).encode(xdr: &w)
    }
}
