import VirtCore

/// The remote driver's guest agent calls (issue 11).
extension RemoteDriver {
    public func interfaceAddresses(_ domain: DomainRef, source: UInt32, flags: UInt32) async throws -> [DomainInterface] {
        try await call(RemoteCalls.domainInterfaceAddresses, XDRTuple3(domain, source, flags)).items
    }
    public func guestTime(_ domain: DomainRef, flags: UInt32) async throws -> (seconds: Int64, nseconds: UInt32) {
        let r = try await call(RemoteCalls.domainGetTime, XDRTuple2(domain, flags))
        return (r.values.0, r.values.1)
    }
    public func setGuestTime(_ domain: DomainRef, seconds: Int64, nseconds: UInt32, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetTime, XDRTuple4(domain, seconds, nseconds, flags))
    }
    public func fsFreeze(_ domain: DomainRef, mountpoints: [String], flags: UInt32) async throws -> Int32 {
        try await call(RemoteCalls.domainFSFreeze, XDRTuple3(domain, XDRList(mountpoints), flags))
    }
    public func fsThaw(_ domain: DomainRef, mountpoints: [String], flags: UInt32) async throws -> Int32 {
        try await call(RemoteCalls.domainFSThaw, XDRTuple3(domain, XDRList(mountpoints), flags))
    }
    public func fsInfo(_ domain: DomainRef, flags: UInt32) async throws -> [DomainFSInfo] {
        try await call(RemoteCalls.domainGetFSInfo, XDRTuple2(domain, flags)).values.0.items
    }
    public func guestInfo(_ domain: DomainRef, types: UInt32, flags: UInt32) async throws -> [TypedParam] {
        try await call(RemoteCalls.domainGetGuestInfo, XDRTuple3(domain, types, flags)).params
    }
    public func setUserPassword(_ domain: DomainRef, user: String?, password: String?, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainSetUserPassword, XDRTuple4(domain, user, password, flags))
    }
    public func fsTrim(_ domain: DomainRef, mountPoint: String?, minimum: UInt64, flags: UInt32) async throws {
        _ = try await call(RemoteCalls.domainFSTrim, XDRTuple4(domain, mountPoint, minimum, flags))
    }
    public func authorizedSSHKeys(_ domain: DomainRef, user: String, flags: UInt32) async throws -> [String] {
        try await call(RemoteCalls.domainAuthorizedSSHKeysGet, XDRTuple3(domain, user, flags)).items
    }
    public func setAuthorizedSSHKeys(_ domain: DomainRef, user: String, keys: [String], flags: UInt32) async throws {
        if keys.count > AuthorizedSSHKeysLimit.max {
            throw VirtError(.rpc, domain: .rpc,
                            "RPC error : Number of keys \(keys.count), which exceeds max limit: \(AuthorizedSSHKeysLimit.max)")
        }
        _ = try await call(RemoteCalls.domainAuthorizedSSHKeysSet, XDRTuple4(domain, user, XDRList(keys), flags))
    }
    /// QEMU_PROC_DOMAIN_AGENT_COMMAND of the QEMU program (what `virsh qemu-agent-command` sends).
    public func qemuAgentCommand(_ domain: DomainRef, command: String, timeout: Int32, flags: UInt32) async throws
        -> String? {
        try await call(RemoteCalls.qemuDomainAgentCommand, XDRTuple4(domain, command, timeout, flags))
    }
}
