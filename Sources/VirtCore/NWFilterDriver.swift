/// `virNWFilterPtr` on the wire (`remote_nonnull_nwfilter`): a network filter's name and UUID.
public struct NWFilterRef: Sendable, Hashable {
    public var name: String
    public var uuid: VirtUUID
    public init(name: String, uuid: VirtUUID) {
        self.name = name
        self.uuid = uuid
    }
}

/// `virNWFilterBindingPtr` on the wire (`remote_nonnull_nwfilter_binding`): the port's device and the filter.
public struct NWFilterBindingRef: Sendable, Hashable {
    public var portDev: String
    public var filterName: String
    public init(portDev: String, filterName: String) {
        self.portDev = portDev
        self.filterName = filterName
    }
}

/// libvirt's network filter driver table (`virNWFilterDriver`). No driver of this project filters traffic: the
/// remote driver forwards the calls to a daemon that has one (libvirtd); every operation defaults to NO_SUPPORT in
/// libvirt's words.
public protocol NWFilterDriver: AnyObject, Sendable {
    func numOfNWFilters() async throws -> Int32
    func listNWFilters(max: Int32) async throws -> [String]
    func listAllNWFilters(flags: UInt32) async throws -> [NWFilterRef]
    func lookupNWFilter(name: String) async throws -> NWFilterRef
    func lookupNWFilter(uuid: VirtUUID) async throws -> NWFilterRef
    func nwfilterXML(_ filter: NWFilterRef, flags: UInt32) async throws -> String
    /// `virNWFilterDefineXMLFlags` (flag 1: validate); without flags `virNWFilterDefineXML`.
    func defineNWFilter(xml: String, flags: UInt32) async throws -> NWFilterRef
    func undefineNWFilter(_ filter: NWFilterRef) async throws
    func listAllNWFilterBindings(flags: UInt32) async throws -> [NWFilterBindingRef]
    func lookupNWFilterBinding(portDev: String) async throws -> NWFilterBindingRef
    func nwfilterBindingXML(_ binding: NWFilterBindingRef, flags: UInt32) async throws -> String
    func createNWFilterBinding(xml: String, flags: UInt32) async throws -> NWFilterBindingRef
    func deleteNWFilterBinding(_ binding: NWFilterBindingRef) async throws
}

extension NWFilterDriver {
    public func numOfNWFilters() async throws -> Int32 { throw VirtError.noSupport("virConnectNumOfNWFilters") }
    public func listNWFilters(max: Int32) async throws -> [String] { throw VirtError.noSupport("virConnectListNWFilters") }
    public func listAllNWFilters(flags: UInt32) async throws -> [NWFilterRef] {
        throw VirtError.noSupport("virConnectListAllNWFilters")
    }
    public func lookupNWFilter(name: String) async throws -> NWFilterRef {
        throw VirtError.noSupport("virNWFilterLookupByName")
    }
    public func lookupNWFilter(uuid: VirtUUID) async throws -> NWFilterRef {
        throw VirtError.noSupport("virNWFilterLookupByUUID")
    }
    public func nwfilterXML(_ filter: NWFilterRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virNWFilterGetXMLDesc")
    }
    public func defineNWFilter(xml: String, flags: UInt32) async throws -> NWFilterRef {
        throw VirtError.noSupport(flags == 0 ? "virNWFilterDefineXML" : "virNWFilterDefineXMLFlags")
    }
    public func undefineNWFilter(_ filter: NWFilterRef) async throws { throw VirtError.noSupport("virNWFilterUndefine") }
    public func listAllNWFilterBindings(flags: UInt32) async throws -> [NWFilterBindingRef] {
        throw VirtError.noSupport("virConnectListAllNWFilterBindings")
    }
    public func lookupNWFilterBinding(portDev: String) async throws -> NWFilterBindingRef {
        throw VirtError.noSupport("virNWFilterBindingLookupByPortDev")
    }
    public func nwfilterBindingXML(_ binding: NWFilterBindingRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virNWFilterBindingGetXMLDesc")
    }
    public func createNWFilterBinding(xml: String, flags: UInt32) async throws -> NWFilterBindingRef {
        throw VirtError.noSupport("virNWFilterBindingCreateXML")
    }
    public func deleteNWFilterBinding(_ binding: NWFilterBindingRef) async throws {
        throw VirtError.noSupport("virNWFilterBindingDelete")
    }
}
