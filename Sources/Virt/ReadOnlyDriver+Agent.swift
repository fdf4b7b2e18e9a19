import VirtCore

/// The guest agent on a read-only connection: only leases and ARP entries may be read; everything that asks
/// the guest agent is refused, as libvirt's read-only rules say (issue 11).
extension ReadOnlyDriver {
    /// Addresses from leases or ARP pass; from the agent (source 1) refused.
    public func interfaceAddresses(_ domain: DomainRef, source: UInt32, flags: UInt32) async throws -> [DomainInterface] {
        if source == InterfaceAddressSource.agent { throw Self.denied("virDomainInterfaceAddresses") }
        return try await base.interfaceAddresses(domain, source: source, flags: flags)
    }
    public func guestTime(_ domain: DomainRef, flags: UInt32) async throws -> (seconds: Int64, nseconds: UInt32) {
        throw Self.denied("virDomainGetTime")
    }
    public func setGuestTime(_ domain: DomainRef, seconds: Int64, nseconds: UInt32, flags: UInt32) async throws {
        throw Self.denied("virDomainSetTime")
    }
    public func fsFreeze(_ domain: DomainRef, mountpoints: [String], flags: UInt32) async throws -> Int32 {
        throw Self.denied("virDomainFSFreeze")
    }
    public func fsThaw(_ domain: DomainRef, mountpoints: [String], flags: UInt32) async throws -> Int32 {
        throw Self.denied("virDomainFSThaw")
    }
    public func fsInfo(_ domain: DomainRef, flags: UInt32) async throws -> [DomainFSInfo] {
        throw Self.denied("virDomainGetFSInfo")
    }
    public func guestInfo(_ domain: DomainRef, types: UInt32, flags: UInt32) async throws -> [TypedParam] {
        throw Self.denied("virDomainGetGuestInfo")
    }
    public func setUserPassword(_ domain: DomainRef, user: String?, password: String?, flags: UInt32) async throws {
        throw Self.denied("virDomainSetUserPassword")
    }
    public func qemuAgentCommand(_ domain: DomainRef, command: String, timeout: Int32, flags: UInt32) async throws
        -> String? {
        throw Self.denied("virDomainQemuAgentCommand")
    }
    public func fsTrim(_ domain: DomainRef, mountPoint: String?, minimum: UInt64, flags: UInt32) async throws {
        throw Self.denied("virDomainFSTrim")
    }
    public func authorizedSSHKeys(_ domain: DomainRef, user: String, flags: UInt32) async throws -> [String] {
        throw Self.denied("virDomainAuthorizedSSHKeysGet")
    }
    public func setAuthorizedSSHKeys(_ domain: DomainRef, user: String, keys: [String], flags: UInt32) async throws {
        throw Self.denied("virDomainAuthorizedSSHKeysSet")
    }
}
