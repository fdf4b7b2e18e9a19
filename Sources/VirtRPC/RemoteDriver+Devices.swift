import VirtCore

/// The remote driver's device calls (attach, detach, update, detach by alias).
extension RemoteDriver {
    public func attachDevice(_ domain: DomainRef, xml: String, flags: UInt32?) async throws {
        if let flags {
            _ = try await call(RemoteCalls.domainAttachDeviceFlags, XDRTuple3(domain, xml, flags))
        } else {
            _ = try await call(RemoteCalls.domainAttachDevice, XDRTuple2(domain, xml))
        }
    }
    public func detachDevice(_ domain: DomainRef, xml: String, flags: UInt32?) async throws {
        if let flags {
            _ = try await call(RemoteCalls.domainDetachDeviceFlags, XDRTuple3(domain, xml, flags))
        } else {
            _ = try await call(RemoteCalls.domainDetachDevice, XDRTuple2(domain, xml))
        }
    }
    public func updateDevice(_ domain: DomainRef, xml: String, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainUpdateDeviceFlags, XDRTuple3(domain, xml, flags))
    }
    public func detachDeviceAlias(_ domain: DomainRef, alias: String, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainDetachDeviceAlias, XDRTuple3(domain, alias, flags))
    }
}
