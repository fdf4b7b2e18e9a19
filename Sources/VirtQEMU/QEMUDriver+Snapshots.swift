import VirtCore

/// The read side of snapshots on the QEMU driver. virtd cannot take QEMU snapshots yet (`snapshotCreateXML`,
/// revert and delete stay NO_SUPPORT), so every domain has none; these answer as libvirt 9.0's qemu driver
/// answers for a domain without snapshots: its flag checks first, then the domain's lookup, then an empty list,
/// no current snapshot, or libvirt's "not found" errors. virt-manager lists a domain's snapshots when it opens
/// the details window; NO_SUPPORT there made its snapshot page say "Libvirt connection does not support
/// snapshots." where libvirtd's says why this domain's disks cannot have any.
extension QEMUDriver {
    /// `VIR_DOMAIN_SNAPSHOT_LIST_ROOTS | VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL | VIR_DOMAIN_SNAPSHOT_FILTERS_ALL`
    /// (libvirt 9.0 accepts them on the count too).
    static let snapshotListFlags: UInt32 = 0x7FF

    private static func checkSnapshotFlags(_ flags: UInt32, allowed: UInt32, _ function: String) throws(VirtError) {
        let bad = flags & ~allowed
        if bad != 0 { throw VirtError.unsupportedFlags(UInt64(bad), function: function, domain: .qemu) }
    }

    public func snapshotNum(_ domain: DomainRef, flags: UInt32) async throws -> Int32 {
        try Self.checkSnapshotFlags(flags, allowed: Self.snapshotListFlags, "qemuDomainSnapshotNum")
        _ = try await state.object(domain)
        return 0
    }

    public func snapshotListNames(_ domain: DomainRef, max: Int32, flags: UInt32) async throws -> [String] {
        try Self.checkSnapshotFlags(flags, allowed: Self.snapshotListFlags, "qemuDomainSnapshotListNames")
        _ = try await state.object(domain)
        return []
    }

    public func listAllSnapshots(_ domain: DomainRef, flags: UInt32) async throws -> [DomainSnapshotRef] {
        try Self.checkSnapshotFlags(flags, allowed: Self.snapshotListFlags, "qemuDomainListAllSnapshots")
        _ = try await state.object(domain)
        return []
    }

    public func hasCurrentSnapshot(_ domain: DomainRef, flags: UInt32) async throws -> Bool {
        try Self.checkSnapshotFlags(flags, allowed: 0, "qemuDomainHasCurrentSnapshot")
        _ = try await state.object(domain)
        return false
    }

    public func snapshotLookup(_ domain: DomainRef, name: String, flags: UInt32) async throws -> DomainSnapshotRef {
        try Self.checkSnapshotFlags(flags, allowed: 0, "qemuDomainSnapshotLookupByName")
        _ = try await state.object(domain)
        let detail = "no domain snapshot with matching name '\(name)'"
        throw VirtError(.noDomainSnapshot, domain: .qemu, "Domain snapshot not found: \(detail)", str1: detail)
    }

    public func snapshotCurrent(_ domain: DomainRef, flags: UInt32) async throws -> DomainSnapshotRef {
        try Self.checkSnapshotFlags(flags, allowed: 0, "qemuDomainSnapshotCurrent")
        _ = try await state.object(domain)
        let detail = "the domain does not have a current snapshot"
        throw VirtError(.noDomainSnapshot, domain: .qemu, "Domain snapshot not found: \(detail)", str1: detail)
    }
}
