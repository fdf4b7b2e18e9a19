import VirtCore

/// Domain snapshots and checkpoints of the test driver, as libvirt 9.0's test driver keeps them: metadata only,
/// in memory, with its revert transitions and events (checked against libvirt's own test driver by
/// `SnapshotDifferentialTests`).
extension TestDriverCore {
    typealias F = SnapshotFlags

    private static func noSnapshot(_ name: String) -> VirtError {
        VirtError(.noDomainSnapshot, domain: .test,
                  "Domain snapshot not found: no domain snapshot with matching name '\(name)'",
                  str1: "no domain snapshot with matching name '\(name)'")
    }

    private static func noCheckpoint(_ name: String) -> VirtError {
        VirtError(.noDomainCheckpoint, domain: .test,
                  "Domain checkpoint not found: no domain checkpoint with matching name '\(name)'",
                  str1: "no domain checkpoint with matching name '\(name)'")
    }

    private func snapshotNode(_ obj: TestDomainObject, _ name: String) throws(VirtError) -> SnapshotTree.Node {
        guard let node = obj.snapshots[name] else { throw Self.noSnapshot(name) }
        return node
    }

    private func checkpointNode(_ obj: TestDomainObject, _ name: String) throws(VirtError)
        -> CheckpointTree.Node {
        guard let node = obj.checkpoints[name] else { throw Self.noCheckpoint(name) }
        return node
    }

    /// libvirt's `virXPathString("string(./x)")`: the text as written, nil when empty.
    static func xpathString(_ el: XMLElement?) -> String? {
        guard let t = el?.text, !t.isEmpty else { return nil }
        return t
    }

    private func emitLifecycle(_ obj: TestDomainObject, _ event: LifecycleEvent) {
        emit(DomainEventRecord(domain: obj.ref, kind: .lifecycle(event)))
    }

    // MARK: Snapshot listing

    func snapshotNames(_ ref: DomainRef, from: String?, flags: UInt32, function: String) throws(VirtError)
        -> [String] {
        try Self.checkFlags(flags, allowed: 0x7FF, function)
        let obj = try table.object(ref)
        if let from { _ = try snapshotNode(obj, from) }
        return obj.snapshots.snapshotNames(from: from, flags: flags)
    }

    func snapshotLookup(_ ref: DomainRef, name: String, flags: UInt32) throws(VirtError) -> String {
        try Self.checkFlags(flags, allowed: 0, "testDomainSnapshotLookupByName")
        return try snapshotNode(table.object(ref), name).name
    }

    func hasCurrentSnapshot(_ ref: DomainRef, flags: UInt32) throws(VirtError) -> Bool {
        try Self.checkFlags(flags, allowed: 0, "testDomainHasCurrentSnapshot")
        return try table.object(ref).snapshots.current != nil
    }

    func snapshotParent(_ ref: DomainRef, name: String, flags: UInt32) throws(VirtError) -> String {
        try Self.checkFlags(flags, allowed: 0, "testDomainSnapshotGetParent")
        let node = try snapshotNode(table.object(ref), name)
        guard let parent = node.parentName else {
            throw VirtError(.noDomainSnapshot, domain: .test,
                            "Domain snapshot not found: snapshot '\(name)' does not have a parent",
                            str1: "snapshot '\(name)' does not have a parent")
        }
        return parent
    }

    func snapshotCurrent(_ ref: DomainRef, flags: UInt32) throws(VirtError) -> String {
        try Self.checkFlags(flags, allowed: 0, "testDomainSnapshotCurrent")
        guard let current = try table.object(ref).snapshots.current else {
            throw VirtError(.noDomainSnapshot, domain: .test,
                            "Domain snapshot not found: the domain does not have a current snapshot",
                            str1: "the domain does not have a current snapshot")
        }
        return current
    }

    func snapshotXML(_ ref: DomainRef, name: String, flags: UInt32) throws(VirtError) -> String {
        try Self.checkFlags(flags, allowed: F.xmlSecure, "testDomainSnapshotGetXMLDesc")
        let obj = try table.object(ref)
        let node = try snapshotNode(obj, name)
        return MomentXML.formatSnapshot(node, domainUUID: ref.uuid, secure: flags & F.xmlSecure != 0)
    }

    func snapshotIsCurrent(_ ref: DomainRef, name: String, flags: UInt32) throws(VirtError) -> Bool {
        try Self.checkFlags(flags, allowed: 0, "testDomainSnapshotIsCurrent")
        let obj = try table.object(ref)
        _ = try snapshotNode(obj, name)
        return obj.snapshots.current == name
    }

    func snapshotHasMetadata(_ ref: DomainRef, name: String, flags: UInt32) throws(VirtError) -> Bool {
        try Self.checkFlags(flags, allowed: 0, "testDomainSnapshotHasMetadata")
        _ = try snapshotNode(table.object(ref), name)
        return true
    }

    // MARK: Snapshot creation

    /// The disks a new snapshot or checkpoint records: every disk of the domain, read-only ones not taken.
    private static func diskTargets(_ def: DomainDefinition) -> [(name: String, taken: Bool)] {
        def.devices.disks.map { ($0.target.dev, !$0.readonly) }
    }

    func snapshotCreate(_ ref: DomainRef, xml: String, flags: UInt32) throws(VirtError) -> String {
        try F.checkCreate(flags)
        try Self.checkFlags(flags, allowed: F.createRedefine | F.createCurrent | F.createHalt | F.createQuiesce
                                | F.createAtomic | F.createLive | F.createValidate, "testDomainSnapshotCreateXML")
        let redefine = flags & F.createRedefine != 0
        var obj = try table.object(ref)
        if !obj.checkpoints.isEmpty {
            throw VirtError.operationUnsupported("cannot create snapshot while checkpoint exists", domain: .test)
        }
        if !obj.persistent && flags & F.createHalt != 0 {
            throw VirtError.operationInvalid("cannot halt after transient domain snapshot", domain: .test)
        }
        let el = try MomentXML.root(xml, root: "domainsnapshot", document: "domain_snapshot",
                                    domain: .domainSnapshot)
        let givenName = Self.xpathString(el.child("name"))
        let description = el.child("description").map(\.text)
        if redefine {
            return try snapshotRedefine(&obj, el, name: givenName, description: description,
                                        current: flags & F.createCurrent != 0)
        }
        // libvirt's virDomainSnapshotAlignDisks for internal snapshots: named disks must exist and stay internal.
        for disk in el.child("disks")?.children("disk") ?? [] {
            let diskName = disk.attr("name") ?? ""
            guard obj.definition.devices.disks.contains(where: { $0.target.dev == diskName }) else {
                throw VirtError.configUnsupported("no disk named '\(diskName)'", domain: .domainSnapshot)
            }
            if let mode = disk.attr("snapshot"), mode != "internal" {
                throw VirtError.configUnsupported("disk '\(diskName)' must use snapshot mode 'internal'",
                                                  domain: .domainSnapshot)
            }
        }
        let created = MomentXML.now()
        let name = givenName ?? "\(created)"
        let state = obj.status.state
        let payload = SnapshotPayload(
            state: state.statusString, memory: state == .shutoff ? "no" : "internal", memoryFile: nil,
            disks: Self.diskTargets(obj.definition).map { ($0.name, $0.taken ? "internal" : "no") },
            domain: obj.definition)
        if obj.snapshots[name] != nil {
            throw VirtError.operationFailed("domain moment \(name) already exists", domain: .domain)
        }
        obj.snapshots.add(.init(name: name, description: description, parentName: obj.snapshots.current,
                                creationTime: created, payload: payload))
        obj.snapshots.current = name
        if flags & F.createHalt != 0 && obj.isActive {
            let before = obj
            table.shutdownState(&obj, reason: .fromSnapshot)
            table.finishStop(obj, before: before)
            emitLifecycle(obj, .stopped(.fromSnapshot))
        } else {
            table.store(obj)
        }
        return name
    }

    /// `VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE`: metadata from a snapshot's XML, as libvirt's parse (REDEFINE) and
    /// `virDomainSnapshotRedefinePrep`.
    private func snapshotRedefine(_ obj: inout TestDomainObject, _ el: XMLElement, name: String?,
                                  description: String?, current: Bool) throws(VirtError) -> String {
        guard let name else {
            throw VirtError(.xmlError, domain: .domainSnapshot, "XML error: a redefined snapshot must have a name",
                            str1: "a redefined snapshot must have a name")
        }
        guard let timeText = el.childText("creationTime"), let created = Int64(timeText) else {
            throw VirtError.internalError("missing creationTime from existing snapshot", domain: .domainSnapshot)
        }
        let parentName = Self.xpathString(el.child("parent")?.child("name"))
        guard let state = el.childText("state") else {
            throw VirtError.internalError("missing state from existing snapshot", domain: .domainSnapshot)
        }
        guard MomentXML.snapshotStates.contains(state), state != "nostate" else {
            throw VirtError.internalError("Invalid state '\(state)' in domain snapshot XML", domain: .domainSnapshot)
        }
        var domain: DomainDefinition?
        if let d = el.child("domain"), d.attr("type") != nil {
            domain = try TestDomainDefaults.parse(d)
        }
        if let parentName {
            if parentName == name {
                throw VirtError.invalidArg("moment \(name) cannot be its own parent", domain: .domain)
            }
            if obj.snapshots[parentName] == nil {
                throw VirtError.invalidArg("parent \(parentName) for moment \(name) not found", domain: .domain)
            }
        }
        guard let domain else {
            throw VirtError.internalError("missing domain in snapshot", domain: .domainSnapshot)
        }
        if domain.uuid != obj.uuid {
            throw VirtError(.invalidArg, domain: .domainSnapshot,
                            "invalid argument: definition for snapshot \(name) must use uuid \(obj.uuid)",
                            str1: "definition for snapshot \(name) must use uuid \(obj.uuid)")
        }
        let memoryEl = el.child("memory")
        let memory = memoryEl?.attr("snapshot") ?? (state == "shutoff" ? "no" : "internal")
        var disks: [(name: String, snapshot: String)] = []
        if let d = el.child("disks") {
            disks = d.children("disk").compactMap { disk in
                disk.attr("name").map { ($0, disk.attr("snapshot") ?? "internal") }
            }
        }
        let payload = SnapshotPayload(state: state, memory: memory, memoryFile: memoryEl?.attr("file"),
                                      disks: disks, domain: domain)
        if obj.snapshots[name] != nil {
            obj.snapshots.replace(name, description: description, creationTime: created, payload: payload)
        } else {
            obj.snapshots.add(.init(name: name, description: description, parentName: parentName,
                                    creationTime: created, payload: payload))
        }
        if current { obj.snapshots.current = name }
        table.store(obj)
        return name
    }

    // MARK: Revert and delete

    /// libvirt 9.0's test-driver revert. A running or paused snapshot restarts the domain (stopped, then started
    /// from the snapshot, paused after if the snapshot was paused or PAUSED is asked and RUNNING is not); a shut
    /// off snapshot stops it, and RUNNING or PAUSED then only emit the started (and suspended) events, leaving it
    /// shut off, as libvirt 9.0 does.
    func revert(_ ref: DomainRef, name: String, flags: UInt32) throws(VirtError) {
        try F.checkRevert(flags)
        try Self.checkFlags(flags, allowed: F.revertRunning | F.revertPaused | F.revertForce,
                            "testDomainRevertToSnapshot")
        var obj = try table.object(ref)
        let node = try snapshotNode(obj, name)
        let state = node.payload.state
        let activeSnapshot = state == "running" || state == "paused"
        let runOrPause = flags & (F.revertRunning | F.revertPaused) != 0
        if !obj.persistent && !activeSnapshot && !runOrPause {
            throw VirtError.operationInvalid(
                "transient domain needs to request run or pause to revert to inactive snapshot", domain: .test)
        }
        guard let config = node.payload.domain else {
            if flags & F.revertForce == 0 {
                throw VirtError(.snapshotRevertRisky, domain: .test,
                                "revert requires force: snapshot '\(name)' lacks domain '\(obj.name)' rollback info",
                                str1: "snapshot '\(name)' lacks domain '\(obj.name)' rollback info")
            }
            throw VirtError.internalError("missing domain in snapshot", domain: .domainSnapshot)
        }
        obj.snapshots.current = nil
        // Each event carries the domain as it was when libvirt made it (a stop has no id, a start the new one; a
        // transient domain keeps its id when stopped, so the snapshot's definition becomes its next one).
        var events: [DomainEventRecord] = []
        func note(_ e: LifecycleEvent) { events.append(DomainEventRecord(domain: obj.ref, kind: .lifecycle(e))) }
        if activeSnapshot {
            if obj.isActive {
                table.shutdownState(&obj, reason: .fromSnapshot)
                note(.stopped(.fromSnapshot))
            }
            _ = obj.assign(config, live: false)
            table.startState(&obj, reason: .fromSnapshot)
            note(.started(.fromSnapshot))
            if flags & F.revertRunning == 0 && (state == "paused" || flags & F.revertPaused != 0) {
                obj.status = .paused(.fromSnapshot)
                note(.suspended(.fromSnapshot))
            }
        } else {
            _ = obj.assign(config, live: false)
            if obj.isActive {
                table.shutdownState(&obj, reason: .fromSnapshot)
                note(.stopped(.fromSnapshot))
            }
            if runOrPause {
                note(.started(.fromSnapshot))
                if flags & F.revertPaused != 0 { note(.suspended(.fromSnapshot)) }
            }
        }
        obj.snapshots.current = name
        table.store(obj)
        for e in events { emit(e) }
    }

    func snapshotDelete(_ ref: DomainRef, name: String, flags: UInt32) throws(VirtError) {
        try Self.checkFlags(flags, allowed: F.deleteChildren | F.deleteChildrenOnly, "testDomainSnapshotDelete")
        var obj = try table.object(ref)
        _ = try snapshotNode(obj, name)
        obj.snapshots.delete(name, children: flags & F.deleteChildren != 0,
                             childrenOnly: flags & F.deleteChildrenOnly != 0)
        table.store(obj)
    }

    // MARK: Checkpoints

    func checkpointCreate(_ ref: DomainRef, xml: String, flags: UInt32) throws(VirtError) -> String {
        try F.checkCheckpointCreate(flags)
        try Self.checkFlags(flags, allowed: 1 | 2, "testDomainCheckpointCreateXML")
        let redefine = flags & 1 != 0
        var obj = try table.object(ref)
        if !obj.snapshots.isEmpty {
            throw VirtError.operationUnsupported("cannot create checkpoint while snapshot exists", domain: .test)
        }
        if !obj.isActive {
            throw VirtError.operationUnsupported("cannot create checkpoint for inactive domain", domain: .test)
        }
        let el = try MomentXML.root(xml, root: "domaincheckpoint", document: "domain_checkpoint",
                                    domain: .domainCheckpoint)
        let description = el.child("description").map(\.text)
        if redefine {
            guard let name = Self.xpathString(el.child("name")) else {
                throw VirtError(.xmlError, domain: .domainCheckpoint,
                                "XML error: checkpoint name must be provided in redefine mode",
                                str1: "checkpoint name must be provided in redefine mode")
            }
            guard let t = el.childText("creationTime"), let created = Int64(t) else {
                throw VirtError(.xmlError, domain: .domainCheckpoint,
                                "XML error: missing creationTime from existing checkpoint",
                                str1: "missing creationTime from existing checkpoint")
            }
            let parentName = Self.xpathString(el.child("parent")?.child("name"))
            var domain: DomainDefinition?
            if let d = el.child("domain"), d.attr("type") != nil { domain = try TestDomainDefaults.parse(d) }
            var disks: [(name: String, checkpoint: String, bitmap: String?)] = []
            if let d = el.child("disks") {
                disks = d.children("disk").compactMap { disk in
                    disk.attr("name").map { ($0, disk.attr("checkpoint") ?? "bitmap", disk.attr("bitmap")) }
                }
            }
            if let parentName, obj.checkpoints[parentName] == nil {
                throw VirtError.invalidArg("parent \(parentName) for moment \(name) not found", domain: .domain)
            }
            let payload = CheckpointPayload(disks: disks, domain: domain)
            if obj.checkpoints[name] != nil {
                obj.checkpoints.replace(name, description: description, creationTime: created, payload: payload)
            } else {
                obj.checkpoints.add(.init(name: name, description: description, parentName: parentName,
                                          creationTime: created, payload: payload))
            }
            table.store(obj)
            return name
        }
        let created = MomentXML.now()
        let name = Self.xpathString(el.child("name")) ?? "\(created)"
        if obj.checkpoints[name] != nil {
            throw VirtError.operationFailed("domain moment \(name) already exists", domain: .domain)
        }
        let disks = Self.diskTargets(obj.definition).map { d in
            (name: d.name, checkpoint: d.taken ? "bitmap" : "no", bitmap: d.taken ? Optional(name) : nil)
        }
        obj.checkpoints.add(.init(name: name, description: description, parentName: obj.checkpoints.current,
                                  creationTime: created,
                                  payload: CheckpointPayload(disks: disks, domain: obj.definition)))
        obj.checkpoints.current = name
        table.store(obj)
        return name
    }

    func checkpointNames(_ ref: DomainRef, from: String?, flags: UInt32, function: String) throws(VirtError)
        -> [String] {
        try Self.checkFlags(flags, allowed: 1 | 2 | 4 | 8, function)
        let obj = try table.object(ref)
        if let from { _ = try checkpointNode(obj, from) }
        var moment = flags
        if from == nil { moment ^= 1 }
        return obj.checkpoints.names(from: from, descendants: moment & 1 != 0, topological: moment & 2 != 0,
                                     leaves: moment & 4 != 0, noLeaves: moment & 8 != 0) { _ in true }
    }

    func checkpointLookup(_ ref: DomainRef, name: String, flags: UInt32) throws(VirtError) -> String {
        try Self.checkFlags(flags, allowed: 0, "testDomainCheckpointLookupByName")
        return try checkpointNode(table.object(ref), name).name
    }

    func checkpointParent(_ ref: DomainRef, name: String, flags: UInt32) throws(VirtError) -> String {
        try Self.checkFlags(flags, allowed: 0, "testDomainCheckpointGetParent")
        let node = try checkpointNode(table.object(ref), name)
        guard let parent = node.parentName else {
            throw VirtError(.noDomainCheckpoint, domain: .test,
                            "Domain checkpoint not found: checkpoint '\(name)' does not have a parent",
                            str1: "checkpoint '\(name)' does not have a parent")
        }
        return parent
    }

    func checkpointXML(_ ref: DomainRef, name: String, flags: UInt32) throws(VirtError) -> String {
        try Self.checkFlags(flags, allowed: 1 | 2 | 4, "testDomainCheckpointGetXMLDesc")
        let obj = try table.object(ref)
        let node = try checkpointNode(obj, name)
        if flags & 4 != 0 && !obj.isActive {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        // libvirt's test driver sets a size on each bitmap but never marks it valid: none is formatted.
        return MomentXML.formatCheckpoint(node, secure: flags & 1 != 0, noDomain: flags & 2 != 0)
    }

    func checkpointDelete(_ ref: DomainRef, name: String, flags: UInt32) throws(VirtError) {
        try Self.checkFlags(flags, allowed: 1 | 2 | 4, "testDomainCheckpointDelete")
        var obj = try table.object(ref)
        _ = try checkpointNode(obj, name)
        obj.checkpoints.delete(name, children: flags & 1 != 0, childrenOnly: flags & 4 != 0)
        table.store(obj)
    }
}

/// The driver's entry points (`HypervisorDriver`).
extension TestDriver {
    private func snap(_ d: DomainRef, _ name: String) -> DomainSnapshotRef { DomainSnapshotRef(name: name, domain: d) }

    public func snapshotCreateXML(_ domain: DomainRef, xml: String, flags: UInt32) async throws -> DomainSnapshotRef {
        snap(domain, try state.core.withLock { c throws(VirtError) in try c.snapshotCreate(domain, xml: xml, flags: flags) })
    }
    public func snapshotXMLDesc(_ s: DomainSnapshotRef, flags: UInt32) async throws -> String {
        try state.core.withLock { c throws(VirtError) in try c.snapshotXML(s.domain, name: s.name, flags: flags) }
    }
    public func snapshotNum(_ domain: DomainRef, flags: UInt32) async throws -> Int32 {
        Int32(try state.core.withLock { c throws(VirtError) in
            try c.snapshotNames(domain, from: nil, flags: flags, function: "testDomainSnapshotNum")
        }.count)
    }
    public func snapshotListNames(_ domain: DomainRef, max: Int32, flags: UInt32) async throws -> [String] {
        Array(try state.core.withLock { c throws(VirtError) in
            try c.snapshotNames(domain, from: nil, flags: flags, function: "testDomainSnapshotListNames")
        }.prefix(Int(Swift.max(0, max))))
    }
    public func listAllSnapshots(_ domain: DomainRef, flags: UInt32) async throws -> [DomainSnapshotRef] {
        try state.core.withLock { c throws(VirtError) in
            try c.snapshotNames(domain, from: nil, flags: flags, function: "testDomainListAllSnapshots")
        }.map { snap(domain, $0) }
    }
    public func snapshotNumChildren(_ s: DomainSnapshotRef, flags: UInt32) async throws -> Int32 {
        Int32(try state.core.withLock { c throws(VirtError) in
            try c.snapshotNames(s.domain, from: s.name, flags: flags, function: "testDomainSnapshotNumChildren")
        }.count)
    }
    public func snapshotListChildrenNames(_ s: DomainSnapshotRef, max: Int32, flags: UInt32) async throws
        -> [String] {
        Array(try state.core.withLock { c throws(VirtError) in
            try c.snapshotNames(s.domain, from: s.name, flags: flags,
                                function: "testDomainSnapshotListChildrenNames")
        }.prefix(Int(Swift.max(0, max))))
    }
    public func snapshotListAllChildren(_ s: DomainSnapshotRef, flags: UInt32) async throws -> [DomainSnapshotRef] {
        try state.core.withLock { c throws(VirtError) in
            try c.snapshotNames(s.domain, from: s.name, flags: flags, function: "testDomainSnapshotListAllChildren")
        }.map { snap(s.domain, $0) }
    }
    public func snapshotLookup(_ domain: DomainRef, name: String, flags: UInt32) async throws -> DomainSnapshotRef {
        snap(domain, try state.core.withLock { c throws(VirtError) in try c.snapshotLookup(domain, name: name, flags: flags) })
    }
    public func hasCurrentSnapshot(_ domain: DomainRef, flags: UInt32) async throws -> Bool {
        try state.core.withLock { c throws(VirtError) in try c.hasCurrentSnapshot(domain, flags: flags) }
    }
    public func snapshotParent(_ s: DomainSnapshotRef, flags: UInt32) async throws -> DomainSnapshotRef {
        snap(s.domain, try state.core.withLock { c throws(VirtError) in
            try c.snapshotParent(s.domain, name: s.name, flags: flags)
        })
    }
    public func snapshotCurrent(_ domain: DomainRef, flags: UInt32) async throws -> DomainSnapshotRef {
        snap(domain, try state.core.withLock { c throws(VirtError) in try c.snapshotCurrent(domain, flags: flags) })
    }
    public func snapshotIsCurrent(_ s: DomainSnapshotRef, flags: UInt32) async throws -> Bool {
        try state.core.withLock { c throws(VirtError) in try c.snapshotIsCurrent(s.domain, name: s.name, flags: flags) }
    }
    public func snapshotHasMetadata(_ s: DomainSnapshotRef, flags: UInt32) async throws -> Bool {
        try state.core.withLock { c throws(VirtError) in try c.snapshotHasMetadata(s.domain, name: s.name, flags: flags) }
    }
    public func revertToSnapshot(_ s: DomainSnapshotRef, flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in try c.revert(s.domain, name: s.name, flags: flags) }
    }
    public func snapshotDelete(_ s: DomainSnapshotRef, flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in try c.snapshotDelete(s.domain, name: s.name, flags: flags) }
    }

    private func checkpoint(_ d: DomainRef, _ name: String) -> DomainCheckpointRef {
        DomainCheckpointRef(name: name, domain: d)
    }

    public func checkpointCreateXML(_ domain: DomainRef, xml: String, flags: UInt32) async throws
        -> DomainCheckpointRef {
        checkpoint(domain, try state.core.withLock { c throws(VirtError) in
            try c.checkpointCreate(domain, xml: xml, flags: flags)
        })
    }
    public func checkpointXMLDesc(_ cp: DomainCheckpointRef, flags: UInt32) async throws -> String {
        try state.core.withLock { c throws(VirtError) in try c.checkpointXML(cp.domain, name: cp.name, flags: flags) }
    }
    public func listAllCheckpoints(_ domain: DomainRef, flags: UInt32) async throws -> [DomainCheckpointRef] {
        try state.core.withLock { c throws(VirtError) in
            try c.checkpointNames(domain, from: nil, flags: flags, function: "testDomainListAllCheckpoints")
        }.map { checkpoint(domain, $0) }
    }
    public func checkpointListAllChildren(_ cp: DomainCheckpointRef, flags: UInt32) async throws
        -> [DomainCheckpointRef] {
        try state.core.withLock { c throws(VirtError) in
            try c.checkpointNames(cp.domain, from: cp.name, flags: flags,
                                  function: "testDomainCheckpointListAllChildren")
        }.map { checkpoint(cp.domain, $0) }
    }
    public func checkpointLookup(_ domain: DomainRef, name: String, flags: UInt32) async throws
        -> DomainCheckpointRef {
        checkpoint(domain, try state.core.withLock { c throws(VirtError) in
            try c.checkpointLookup(domain, name: name, flags: flags)
        })
    }
    public func checkpointParent(_ cp: DomainCheckpointRef, flags: UInt32) async throws -> DomainCheckpointRef {
        checkpoint(cp.domain, try state.core.withLock { c throws(VirtError) in
            try c.checkpointParent(cp.domain, name: cp.name, flags: flags)
        })
    }
    public func checkpointDelete(_ cp: DomainCheckpointRef, flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in try c.checkpointDelete(cp.domain, name: cp.name, flags: flags) }
    }
}
