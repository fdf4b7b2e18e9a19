import VirtCore

/// The guest agent APIs of the QEMU driver (issue 11): flags checked as libvirt's qemu driver checks them,
/// then the domain's agent asked (QEMUDomainObject+GuestInfo).
extension QEMUDriver {
    public func interfaceAddresses(_ domain: DomainRef, source: UInt32, flags: UInt32) async throws -> [DomainInterface] {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainInterfaceAddresses")
        // Leases come from the virtual networks' DHCP servers (the network driver); agent and ARP from the domain.
        if source == InterfaceAddressSource.lease { return try await leaseAddresses(domain) }
        return try await state.object(domain).interfaceAddresses(source: source)
    }

    public func guestTime(_ domain: DomainRef, flags: UInt32) async throws -> (seconds: Int64, nseconds: UInt32) {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainGetTime")
        return try await state.object(domain).guestTime()
    }

    public func setGuestTime(_ domain: DomainRef, seconds: Int64, nseconds: UInt32, flags: UInt32) async throws {
        // VIR_DOMAIN_TIME_SYNC (1).
        try Self.checkFlags(flags, allowed: 1, "qemuDomainSetTime")
        try await state.object(domain).setGuestTime(seconds: seconds, nseconds: nseconds, sync: flags & 1 != 0)
    }

    public func fsFreeze(_ domain: DomainRef, mountpoints: [String], flags: UInt32) async throws -> Int32 {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainFSFreeze")
        return try await state.object(domain).fsFreeze(mountpoints: mountpoints)
    }

    public func fsThaw(_ domain: DomainRef, mountpoints: [String], flags: UInt32) async throws -> Int32 {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainFSThaw")
        if !mountpoints.isEmpty {
            throw VirtError(.argumentUnsupported, domain: .qemu,
                            "argument unsupported: specifying mountpoints is not supported")
        }
        return try await state.object(domain).fsThaw()
    }

    public func fsInfo(_ domain: DomainRef, flags: UInt32) async throws -> [DomainFSInfo] {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainGetFSInfo")
        return try await state.object(domain).fsInfo()
    }

    public func guestInfo(_ domain: DomainRef, types: UInt32, flags: UInt32) async throws -> [TypedParam] {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainGetGuestInfo")
        return try await state.object(domain).guestInfo(types: types & GuestInfoTypes.all)
    }

    public func setUserPassword(_ domain: DomainRef, user: String?, password: String?, flags: UInt32) async throws {
        // VIR_DOMAIN_PASSWORD_ENCRYPTED (1).
        try Self.checkFlags(flags, allowed: 1, "qemuDomainSetUserPassword")
        try await state.object(domain).setUserPassword(user: user ?? "", password: password ?? "",
                                                       encrypted: flags & 1 != 0)
    }

    /// libvirt's qemuDomainFSTrim: no mount point (libvirt's refusal), `guest-fstrim` with the minimum.
    public func fsTrim(_ domain: DomainRef, mountPoint: String?, minimum: UInt64, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainFSTrim")
        if mountPoint != nil {
            throw VirtError(.argumentUnsupported, domain: .qemu,
                            "argument unsupported: Specifying mount point is not supported for now",
                            str1: "Specifying mount point is not supported for now")
        }
        try await state.object(domain).fsTrim(minimum: minimum)
    }

    public func authorizedSSHKeys(_ domain: DomainRef, user: String, flags: UInt32) async throws -> [String] {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainAuthorizedSSHKeysGet")
        return try await state.object(domain).authorizedSSHKeys(user: user)
    }

    public func setAuthorizedSSHKeys(_ domain: DomainRef, user: String, keys: [String], flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 3, "qemuDomainAuthorizedSSHKeysSet")
        try await state.object(domain).setAuthorizedSSHKeys(user: user, keys: keys, append: flags & 1 != 0,
                                                            remove: flags & 2 != 0)
    }

    public func qemuAgentCommand(_ domain: DomainRef, command: String, timeout: Int32, flags: UInt32) async throws
        -> String? {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainQemuAgentCommand")
        return try await state.object(domain).agentCommand(command, timeout: timeout)
    }
}
