/// The connection's node device and host interface drivers (libvirt's `virNodeDevice*` and `virInterface*`
/// APIs), reached as their driver protocols: callers name the object by ``NodeDeviceRef`` / ``InterfaceRef``.
extension Connection {
    /// The node device driver (read-only local connections use the wrapped driver's), or NO_SUPPORT naming `api`.
    public func nodeDevices(_ api: String, modifying: Bool = false) throws -> any NodeDeviceDriver {
        if modifying && isReadOnly { throw ReadOnlyDriver.denied(api) }
        let d = (driver as? ReadOnlyDriver)?.base ?? driver
        guard let n = d as? any NodeDeviceDriver else { throw VirtError.noSupport(api, domain: .nodeDevice) }
        return n
    }

    /// The host interface driver, or NO_SUPPORT naming `api`.
    public func interfaces(_ api: String, modifying: Bool = false) throws -> any InterfaceDriver {
        if modifying && isReadOnly { throw ReadOnlyDriver.denied(api) }
        let d = (driver as? ReadOnlyDriver)?.base ?? driver
        guard let i = d as? any InterfaceDriver else { throw VirtError.noSupport(api, domain: .interface) }
        return i
    }
}

extension Connection {
    /// The network filter driver (the remote driver's, forwarded to the daemon), or NO_SUPPORT naming `api`.
    public func nwfilters(_ api: String, modifying: Bool = false) throws -> any NWFilterDriver {
        if modifying && isReadOnly { throw ReadOnlyDriver.denied(api) }
        let d = (driver as? ReadOnlyDriver)?.base ?? driver
        guard let n = d as? any NWFilterDriver else { throw VirtError.noSupport(api) }
        return n
    }
}
