import VirtCore

/// The guest agent APIs of a domain (issue 11).
extension Domain {
    /// `virDomainInterfaceAddresses` (source: ``InterfaceAddressSource``).
    public func interfaceAddresses(source: UInt32, flags: UInt32 = 0) async throws -> [DomainInterface] {
        try await connection.driver.interfaceAddresses(ref, source: source, flags: flags)
    }
    /// `virDomainGetTime`.
    public func guestTime(flags: UInt32 = 0) async throws -> (seconds: Int64, nseconds: UInt32) {
        try await connection.driver.guestTime(ref, flags: flags)
    }
    /// `virDomainSetTime` (flag 1: VIR_DOMAIN_TIME_SYNC).
    public func setGuestTime(seconds: Int64, nseconds: UInt32, flags: UInt32 = 0) async throws {
        try await connection.driver.setGuestTime(ref, seconds: seconds, nseconds: nseconds, flags: flags)
    }
    /// `virDomainFSFreeze`.
    public func fsFreeze(mountpoints: [String] = [], flags: UInt32 = 0) async throws -> Int32 {
        try await connection.driver.fsFreeze(ref, mountpoints: mountpoints, flags: flags)
    }
    /// `virDomainFSThaw`.
    public func fsThaw(mountpoints: [String] = [], flags: UInt32 = 0) async throws -> Int32 {
        try await connection.driver.fsThaw(ref, mountpoints: mountpoints, flags: flags)
    }
    /// `virDomainGetFSInfo`.
    public func fsInfo(flags: UInt32 = 0) async throws -> [DomainFSInfo] {
        try await connection.driver.fsInfo(ref, flags: flags)
    }
    /// `virDomainGetGuestInfo` (types: ``GuestInfoTypes``, 0 for all).
    public func guestInfo(types: UInt32, flags: UInt32 = 0) async throws -> [TypedParam] {
        try await connection.driver.guestInfo(ref, types: types, flags: flags)
    }
    /// `virDomainSetUserPassword` (flag 1: the password is encrypted).
    public func setUserPassword(user: String, password: String, flags: UInt32 = 0) async throws {
        try await connection.driver.setUserPassword(ref, user: user, password: password, flags: flags)
    }
    /// `virDomainFSTrim`.
    public func fsTrim(mountPoint: String? = nil, minimum: UInt64 = 0, flags: UInt32 = 0) async throws {
        try await connection.driver.fsTrim(ref, mountPoint: mountPoint, minimum: minimum, flags: flags)
    }
    /// `virDomainAuthorizedSSHKeysGet`.
    public func authorizedSSHKeys(user: String, flags: UInt32 = 0) async throws -> [String] {
        try await connection.driver.authorizedSSHKeys(ref, user: user, flags: flags)
    }
    /// `virDomainAuthorizedSSHKeysSet` (flags: APPEND 1, REMOVE 2, exclusive as libvirt's API checks).
    public func setAuthorizedSSHKeys(user: String, keys: [String], flags: UInt32 = 0) async throws {
        if flags & 3 == 3 {
            throw VirtError(.invalidArg, domain: .domain,
                            "invalid argument: Flags 'VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_APPEND' and 'VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_REMOVE' are mutually exclusive")
        }
        try await connection.driver.setAuthorizedSSHKeys(ref, user: user, keys: keys, flags: flags)
    }
    /// `virDomainQemuAgentCommand`.
    public func qemuAgentCommand(_ command: String, timeout: Int32, flags: UInt32 = 0) async throws -> String? {
        try await connection.driver.qemuAgentCommand(ref, command: command, timeout: timeout, flags: flags)
    }
}
