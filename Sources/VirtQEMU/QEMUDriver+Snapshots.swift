import VirtCore

/// Snapshots on the QEMU driver (QEMUDomainObject+Snapshots.swift): internal snapshots created, listed, shown and
/// deleted as libvirt 9.0's QEMU driver does; each call checks its flags first, then looks the domain up.
extension QEMUDriver {
    /// `VIR_DOMAIN_SNAPSHOT_LIST_ROOTS | VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL | VIR_DOMAIN_SNAPSHOT_FILTERS_ALL`
    /// (libvirt 9.0 accepts them on the count too).
    static let snapshotListFlags: UInt32 = 0x7FF

    private static func checkSnapshotFlags(_ flags: UInt32, allowed: UInt32, _ function: String) throws(VirtError) {
        let bad = flags & ~allowed
        if bad != 0 { throw VirtError.unsupportedFlags(UInt64(bad), function: function, domain: .qemu) }
    }

    private func snapshotNames(_ domain: DomainRef, from: String?, flags: UInt32, _ function: String) async throws
        -> [String] {
        try Self.checkSnapshotFlags(flags, allowed: Self.snapshotListFlags, function)
        let obj = try await state.object(domain)
        if let from { _ = try await obj.snapshotNode(from) }
        return await obj.snapshotTree().snapshotNames(from: from, flags: flags)
    }

    public func snapshotCreateXML(_ domain: DomainRef, xml: String, flags: UInt32) async throws -> DomainSnapshotRef {
        let obj = try await state.object(domain)
        let name = try await obj.createSnapshot(xml: xml, flags: flags)
        return DomainSnapshotRef(name: name, domain: await obj.ref)
    }

    public func snapshotXMLDesc(_ s: DomainSnapshotRef, flags: UInt32) async throws -> String {
        try Self.checkSnapshotFlags(flags, allowed: SnapshotFlags.xmlSecure, "qemuDomainSnapshotGetXMLDesc")
        let obj = try await state.object(s.domain)
        let node = try await obj.snapshotNode(s.name)
        return MomentXML.formatSnapshot(node, domainUUID: obj.uuid, secure: flags & SnapshotFlags.xmlSecure != 0)
    }

    public func snapshotNum(_ domain: DomainRef, flags: UInt32) async throws -> Int32 {
        Int32(try await snapshotNames(domain, from: nil, flags: flags, "qemuDomainSnapshotNum").count)
    }

    public func snapshotListNames(_ domain: DomainRef, max: Int32, flags: UInt32) async throws -> [String] {
        Array(try await snapshotNames(domain, from: nil, flags: flags, "qemuDomainSnapshotListNames")
            .prefix(Int(Swift.max(0, max))))
    }

    public func listAllSnapshots(_ domain: DomainRef, flags: UInt32) async throws -> [DomainSnapshotRef] {
        let names = try await snapshotNames(domain, from: nil, flags: flags, "qemuDomainListAllSnapshots")
        let ref = try await state.object(domain).ref
        return names.map { DomainSnapshotRef(name: $0, domain: ref) }
    }

    public func snapshotNumChildren(_ s: DomainSnapshotRef, flags: UInt32) async throws -> Int32 {
        Int32(try await snapshotNames(s.domain, from: s.name, flags: flags, "qemuDomainSnapshotNumChildren").count)
    }

    public func snapshotListChildrenNames(_ s: DomainSnapshotRef, max: Int32, flags: UInt32) async throws -> [String] {
        Array(try await snapshotNames(s.domain, from: s.name, flags: flags, "qemuDomainSnapshotListChildrenNames")
            .prefix(Int(Swift.max(0, max))))
    }

    public func snapshotListAllChildren(_ s: DomainSnapshotRef, flags: UInt32) async throws -> [DomainSnapshotRef] {
        try await snapshotNames(s.domain, from: s.name, flags: flags, "qemuDomainSnapshotListAllChildren")
            .map { DomainSnapshotRef(name: $0, domain: s.domain) }
    }

    public func snapshotLookup(_ domain: DomainRef, name: String, flags: UInt32) async throws -> DomainSnapshotRef {
        try Self.checkSnapshotFlags(flags, allowed: 0, "qemuDomainSnapshotLookupByName")
        let obj = try await state.object(domain)
        _ = try await obj.snapshotNode(name)
        return DomainSnapshotRef(name: name, domain: await obj.ref)
    }

    public func hasCurrentSnapshot(_ domain: DomainRef, flags: UInt32) async throws -> Bool {
        try Self.checkSnapshotFlags(flags, allowed: 0, "qemuDomainHasCurrentSnapshot")
        return await try state.object(domain).snapshotTree().current != nil
    }

    public func snapshotParent(_ s: DomainSnapshotRef, flags: UInt32) async throws -> DomainSnapshotRef {
        try Self.checkSnapshotFlags(flags, allowed: 0, "qemuDomainSnapshotGetParent")
        let node = try await state.object(s.domain).snapshotNode(s.name)
        guard let parent = node.parentName else {
            let detail = "snapshot '\(s.name)' does not have a parent"
            throw VirtError(.noDomainSnapshot, domain: .qemu, "Domain snapshot not found: \(detail)", str1: detail)
        }
        return DomainSnapshotRef(name: parent, domain: s.domain)
    }

    public func snapshotCurrent(_ domain: DomainRef, flags: UInt32) async throws -> DomainSnapshotRef {
        try Self.checkSnapshotFlags(flags, allowed: 0, "qemuDomainSnapshotCurrent")
        let obj = try await state.object(domain)
        guard let current = await obj.snapshotTree().current else {
            let detail = "the domain does not have a current snapshot"
            throw VirtError(.noDomainSnapshot, domain: .qemu, "Domain snapshot not found: \(detail)", str1: detail)
        }
        return DomainSnapshotRef(name: current, domain: await obj.ref)
    }

    public func snapshotIsCurrent(_ s: DomainSnapshotRef, flags: UInt32) async throws -> Bool {
        try Self.checkSnapshotFlags(flags, allowed: 0, "qemuDomainSnapshotIsCurrent")
        let obj = try await state.object(s.domain)
        _ = try await obj.snapshotNode(s.name)
        return await obj.snapshotTree().current == s.name
    }

    public func snapshotHasMetadata(_ s: DomainSnapshotRef, flags: UInt32) async throws -> Bool {
        try Self.checkSnapshotFlags(flags, allowed: 0, "qemuDomainSnapshotHasMetadata")
        _ = try await state.object(s.domain).snapshotNode(s.name)
        return true
    }

    /// libvirt 9.0's revert: the domain stopped if it runs; a running or paused snapshot restarts QEMU from it
    /// (`-loadvm`, paused until the revert decides), a shut-off one reverts the disks (and boots the domain
    /// with RUNNING or PAUSED).
    public func revertToSnapshot(_ s: DomainSnapshotRef, flags: UInt32) async throws {
        let obj = try await state.object(s.domain)
        let start = try await obj.beginRevert(s.name, flags: flags)
        switch start {
        case .none:
            break
        case .loadSnapshot, .boot:
            var create: CreateFlags = []
            if case .loadSnapshot = start { create.insert(.startPaused) }
            if case .boot(let paused) = start, paused { create.insert(.startPaused) }
            do {
                try await startObject(obj, flags: create)
            } catch {
                await obj.clearStartFromSnapshot()
                throw error
            }
        }
        try await obj.finishRevert(s.name, started: start)
    }

    public func snapshotDelete(_ s: DomainSnapshotRef, flags: UInt32) async throws {
        try await state.object(s.domain).deleteSnapshot(s.name, flags: flags)
    }
}
