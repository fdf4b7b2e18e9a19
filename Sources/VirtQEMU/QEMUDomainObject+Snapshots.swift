import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Internal snapshots of a QEMU domain, as libvirt 9.0's QEMU driver takes them: of a running or paused domain
/// with HMP `savevm` (the guest paused around it, as libvirt stops and starts the vCPUs itself), of a shut-off
/// domain with `qemu-img snapshot -c` on each qcow2 disk; deleted with `delvm` or `qemu-img snapshot -d`. The
/// metadata (libvirt's snapshot XML, `<active>1</active>` on the current one) lives in one file per snapshot
/// under the driver's snapshot directory, read when the domain's snapshots are first asked for. A revert to a
/// running or paused snapshot restarts QEMU with `-loadvm`; to a shut-off one it stops the domain and reverts
/// the disks with `qemu-img snapshot -a`. External (disk-only) snapshots are not supported yet.
extension QEMUDomainObject {
    typealias SF = SnapshotFlags

    static func noSnapshot(_ name: String) -> VirtError {
        let detail = "no domain snapshot with matching name '\(name)'"
        return VirtError(.noDomainSnapshot, domain: .qemu, "Domain snapshot not found: \(detail)", str1: detail)
    }

    private var snapshotDirectory: String { paths.snapshotDir(definition.name) }

    /// Reads the metadata files once (parents before children: by creation time, then name).
    func loadSnapshotsIfNeeded() {
        guard !snapshotsLoaded else { return }
        snapshotsLoaded = true
        let dir = snapshotDirectory
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".xml") }
        var loaded: [(node: SnapshotTree.Node, current: Bool)] = []
        for f in files {
            guard let text = LinuxSys.readFile(dir + "/" + f), let s = try? SnapshotMetadata.parse(text) else { continue }
            loaded.append(s)
        }
        loaded.sort { ($0.node.creationTime, $0.node.name) < ($1.node.creationTime, $1.node.name) }
        for s in loaded where snapshots[s.node.name] == nil {
            snapshots.add(s.node)
            if s.current { snapshots.current = s.node.name }
        }
    }

    /// The snapshot named `name`.
    func snapshotNode(_ name: String) throws(VirtError) -> SnapshotTree.Node {
        loadSnapshotsIfNeeded()
        guard let node = snapshots[name] else { throw Self.noSnapshot(name) }
        return node
    }

    func snapshotTree() -> SnapshotTree {
        loadSnapshotsIfNeeded()
        return snapshots
    }

    private func writeSnapshotMetadata(_ name: String) throws(VirtError) {
        guard let node = snapshots[name] else { return }
        try LinuxSys.mkdirs(snapshotDirectory, mode: 0o700)
        let text = SnapshotMetadata.format(node, domainUUID: uuid, current: snapshots.current == name)
        try LinuxSys.writeFileAtomically(snapshotDirectory + "/\(name).xml", text)
    }

    private func removeSnapshotMetadata(_ name: String) {
        unlink(snapshotDirectory + "/\(name).xml")
    }

    /// libvirt's undefine of a domain with snapshots: refused unless their metadata may go too.
    func discardSnapshotsForUndefine(metadataAllowed: Bool) throws(VirtError) {
        loadSnapshotsIfNeeded()
        guard !snapshots.isEmpty, !isActive else { return }
        guard metadataAllowed else {
            throw VirtError.operationInvalid("cannot delete inactive domain with \(snapshots.count) snapshots",
                                             domain: .qemu)
        }
        for name in snapshots.order { removeSnapshotMetadata(name) }
        rmdir(snapshotDirectory)
        snapshots = SnapshotTree()
    }

    // MARK: Create

    /// libvirt's virDomainSnapshotAlignDisks for internal snapshots and qemuSnapshotPrepareDiskInternal: every
    /// disk gets a mode (as named, else `no` for read-only ones, `internal` for the others); internal ones must
    /// be local qcow2 images.
    static func snapshotDisks(_ def: DomainDefinition, requested: XMLElement?) throws(VirtError)
        -> [(disk: Disk, mode: String)] {
        var named: [String: String] = [:]
        for d in requested?.children("disk") ?? [] {
            let name = d.attr("name") ?? ""
            guard def.devices.disks.contains(where: { $0.target.dev == name }) else {
                throw VirtError.configUnsupported("no disk named '\(name)'", domain: .domainSnapshot)
            }
            named[name] = d.attr("snapshot") ?? "internal"
        }
        var out: [(disk: Disk, mode: String)] = []
        for disk in def.devices.disks {
            let mode = named[disk.target.dev] ?? (disk.readonly ? "no" : "internal")
            if mode == "external" || mode == "manual" {
                throw VirtError.configUnsupported("external snapshots are not supported by virtd yet (disk '\(disk.target.dev)')",
                                                  domain: .qemu)
            }
            if mode == "internal" {
                let format = disk.driver.format ?? .raw
                if format != .qcow2 {
                    throw VirtError.configUnsupported(
                        "internal snapshot for disk \(disk.target.dev) unsupported for storage type \(format.rawValue)",
                        domain: .qemu)
                }
            }
            out.append((disk, mode))
        }
        return out
    }

    /// `qemu-img snapshot OP NAME` on each disk (libvirt's qemuDomainSnapshotForEachQcow2); a failed create
    /// removes what it made on the disks before.
    static func qemuImgSnapshot(_ op: String, _ name: String, disks: [Disk]) throws(VirtError) {
        var done: [String] = []
        for disk in disks {
            guard let path = disk.localPath else { continue }
            guard let r = ChildCommand.run(["/usr/bin/qemu-img", "snapshot", op, name, path]) else {
                throw VirtError.internalError("cannot run qemu-img", domain: .qemu)
            }
            if r.status != 0 {
                if op == "-c" {
                    for p in done { _ = ChildCommand.run(["/usr/bin/qemu-img", "snapshot", "-d", name, p]) }
                }
                let err = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
                throw VirtError.operationFailed(
                    "Child process (/usr/bin/qemu-img snapshot \(op) \(name) \(path)) unexpected exit status \(r.status): \(err)",
                    domain: .none)
            }
            done.append(path)
        }
    }

    /// HMP `savevm`/`delvm`: QEMU answers errors in text (libvirt's qemuMonitorTextCreateSnapshot and
    /// qemuMonitorTextDeleteSnapshot).
    private func hmpSnapshot(_ command: String, _ name: String, failure: String) async throws(VirtError) {
        let mon = try requireMonitor()
        let quoted = "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        let reply = try await mon.execute("human-monitor-command",
                                          arguments: ["command-line": .string("\(command) \(quoted)")])
        let text = reply.stringValue ?? ""
        if text.contains("Error") || text.contains("error") || text.contains("No block device") {
            throw VirtError.operationFailed("\(failure): \(text.trimmingCharacters(in: .whitespacesAndNewlines))",
                                            domain: .qemu)
        }
    }

    func createSnapshot(xml: String, flags: UInt32) async throws(VirtError) -> String {
        try SF.checkCreate(flags)
        let supported = SF.createHalt | SF.createLive | SF.createAtomic | SF.createValidate
        if flags & ~supported != 0 {
            throw VirtError.configUnsupported(
                "snapshot flags 0x\(String(flags & ~supported, radix: 16)) (redefine, disk-only, external) are not supported by virtd yet",
                domain: .qemu)
        }
        let el = try MomentXML.root(xml, root: "domainsnapshot", document: "domain_snapshot", domain: .domainSnapshot)
        if !persistent && flags & SF.createHalt != 0 {
            throw VirtError.operationInvalid("cannot halt after transient domain snapshot", domain: .qemu)
        }
        if flags & SF.createLive != 0 {
            throw VirtError.operationUnsupported("live snapshot creation is supported only during full system snapshots",
                                                 domain: .qemu)
        }
        if let mem = el.child("memory")?.attr("snapshot"), mem == "external" {
            throw VirtError.configUnsupported("external snapshots are not supported by virtd yet", domain: .qemu)
        }
        loadSnapshotsIfNeeded()
        let created = MomentXML.now()
        let name = el.childText("name").flatMap { $0.isEmpty ? nil : $0 } ?? "\(created)"
        // The name becomes a metadata file's name: a path separator (or `.`/`..`) would put it elsewhere.
        if name.contains("/") || name == "." || name == ".." {
            throw VirtError(.xmlError, domain: .domainSnapshot, "XML error: invalid snapshot name '\(name)'",
                            str1: "invalid snapshot name '\(name)'")
        }
        if snapshots[name] != nil {
            throw VirtError.operationFailed("domain moment \(name) already exists", domain: .domain)
        }
        try await beginJob(.modify, owner: "snapshot")
        defer { endJob() }
        let active = isActive
        let def = active ? (liveDefinition ?? definition) : definition
        let disks = try Self.snapshotDisks(def, requested: el.child("disks"))
        let stateName: String
        if active {
            let wasRunning = status.state == .running
            stateName = wasRunning ? "running" : status.state.statusString
            let mon = try requireMonitor()
            if wasRunning {
                // As libvirt: the vCPUs stopped and started around savevm, with their events.
                try await mon.execute("stop")
                // QEMU's STOP event may have been handled already (and reported the suspension).
                if status.state == .running { raise(.suspended(.paused)) }
                status = .paused(.snapshot)
                writeStatus()
            }
            do {
                try await hmpSnapshot("savevm", name, failure: "Failed to take snapshot")
            } catch {
                if wasRunning, (try? await mon.execute("cont")) != nil { setRunning(.unpaused) }
                throw error
            }
            if flags & SF.createHalt == 0, wasRunning {
                try await mon.execute("cont")
                setRunning(.unpaused)
            }
        } else {
            stateName = "shutoff"
            try Self.qemuImgSnapshot("-c", name, disks: disks.filter { $0.mode == "internal" }.map(\.disk))
        }
        var payload = SnapshotPayload(state: stateName, memory: active ? "internal" : "no", memoryFile: nil,
                                      disks: disks.map { ($0.disk.target.dev, $0.mode) }, domain: def)
        if active && persistent { payload.inactiveDomain = definition }
        let previous = snapshots.current
        snapshots.add(.init(name: name, description: el.child("description").map(\.text), parentName: previous,
                            creationTime: created, payload: payload))
        snapshots.current = name
        try writeSnapshotMetadata(name)
        if let previous { try? writeSnapshotMetadata(previous) }
        if active && flags & SF.createHalt != 0, let proc = process {
            stopReason = (.fromSnapshot, .fromSnapshot)
            stopKind = .destroyed
            await proc.terminate(grace: .seconds(10))
            await finishStop(.fromSnapshot, .fromSnapshot, emitEvent: true)
        }
        return name
    }

    // MARK: Delete

    /// libvirt's snapshot delete: with CHILDREN (or CHILDREN_ONLY) the descendants go too; the snapshots'
    /// data leaves the disks (`delvm` on a running domain, `qemu-img snapshot -d` otherwise) unless
    /// METADATA_ONLY; children of a deleted snapshot move to its parent, and its parent becomes current if it was.
    func deleteSnapshot(_ name: String, flags: UInt32) async throws(VirtError) {
        let allowed = SF.deleteChildren | SF.deleteMetadataOnly | SF.deleteChildrenOnly
        if flags & ~allowed != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags & ~allowed), function: "qemuDomainSnapshotDelete", domain: .qemu)
        }
        _ = try snapshotNode(name)
        try await beginJob(.modify, owner: "snapshot-delete")
        defer { endJob() }
        let children = flags & SF.deleteChildren != 0, childrenOnly = flags & SF.deleteChildrenOnly != 0
        var doomed = children || childrenOnly ? snapshots.descendants(of: name) : []
        if !childrenOnly { doomed.append(name) }
        if flags & SF.deleteMetadataOnly == 0 {
            for victim in doomed {
                guard let node = snapshots[victim] else { continue }
                if isActive {
                    try await hmpSnapshot("delvm", victim, failure: "Failed to delete snapshot")
                } else {
                    let internalDisks = Set(node.payload.disks.filter { $0.snapshot == "internal" }.map(\.name))
                    try Self.qemuImgSnapshot("-d", victim, disks: definition.devices.disks.filter {
                        internalDisks.contains($0.target.dev)
                    })
                }
            }
        }
        let before = snapshots
        snapshots.delete(name, children: children, childrenOnly: childrenOnly)
        for victim in doomed where snapshots[victim] == nil { removeSnapshotMetadata(victim) }
        // Rewrite what changed: moved children (their parent) and the current marker.
        for n in snapshots.order {
            let was = before[n]
            if was?.parentName != snapshots[n]?.parentName || (before.current == n) != (snapshots.current == n) {
                try? writeSnapshotMetadata(n)
            }
        }
    }
}

extension QEMUDomainObject {
    /// What a revert does after ``beginRevert(_:flags:)``: start QEMU from the snapshot (`loadvm`), start it
    /// fresh (a shut-off snapshot with RUNNING or PAUSED), or nothing more; `paused`: leave it paused.
    enum RevertStart: Sendable { case none, loadSnapshot(paused: Bool), boot(paused: Bool) }

    /// libvirt 9.0's revert, first half: checks, the domain stopped (STOPPED from-snapshot) when it runs, the
    /// disks of a shut-off snapshot reverted, the definitions the snapshot recorded put in place.
    func beginRevert(_ name: String, flags: UInt32) async throws(VirtError) -> RevertStart {
        try SF.checkRevert(flags)
        let allowed = SF.revertRunning | SF.revertPaused | SF.revertForce
        if flags & ~allowed != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags & ~allowed), function: "qemuDomainRevertToSnapshot",
                                             domain: .qemu)
        }
        let node = try snapshotNode(name)
        let state = node.payload.state
        let activeSnapshot = state == "running" || state == "paused"
        let runOrPause = flags & (SF.revertRunning | SF.revertPaused) != 0
        if !persistent && !activeSnapshot && !runOrPause {
            throw VirtError.operationInvalid(
                "transient domain needs to request run or pause to revert to inactive snapshot", domain: .qemu)
        }
        guard let config = node.payload.domain else {
            throw VirtError(.snapshotRevertRisky, domain: .qemu,
                            "revert requires force: snapshot '\(name)' lacks domain '\(definition.name)' rollback info",
                            str1: "snapshot '\(name)' lacks domain '\(definition.name)' rollback info")
        }
        try await beginJob(.modify, owner: "snapshot-revert")
        defer { endJob() }
        if let proc = process {
            stopReason = (.fromSnapshot, .fromSnapshot)
            stopKind = .destroyed
            await proc.terminate(grace: .seconds(10))
            await finishStop(.fromSnapshot, .fromSnapshot, emitEvent: true)
        }
        if activeSnapshot {
            if persistent { definition = node.payload.inactiveDomain ?? config }
            nextRunDefinition = config
            startFromSnapshot = name
            revertStarting = true
            let paused = flags & SF.revertPaused != 0 || (state == "paused" && flags & SF.revertRunning == 0)
            return .loadSnapshot(paused: paused)
        }
        let internalDisks = Set(node.payload.disks.filter { $0.snapshot == "internal" }.map(\.name))
        try Self.qemuImgSnapshot("-a", name, disks: config.devices.disks.filter { internalDisks.contains($0.target.dev) })
        if persistent { definition = config } else { nextRunDefinition = config }
        status = .shutoff(.fromSnapshot)
        // With RUNNING or PAUSED the domain boots afresh, reported as started from the snapshot (libvirt 9.0).
        if runOrPause { bootDetail = .fromSnapshot }
        return runOrPause ? .boot(paused: flags & SF.revertPaused != 0) : .none
    }

    /// The revert's second half, after the driver started QEMU (paused) or not: STARTED from-snapshot, the
    /// guest run (RESUMED from-snapshot) or left paused (SUSPENDED from-snapshot), the snapshot current, the
    /// persistent definition saved (DEFINED from-snapshot).
    func finishRevert(_ name: String, started: RevertStart) async throws(VirtError) {
        startFromSnapshot = nil
        revertStarting = false
        switch started {
        case .none, .boot:
            break
        case .loadSnapshot(let paused):
            raise(.started(.fromSnapshot))
            if paused {
                status = .paused(.fromSnapshot)
                raise(.suspended(.fromSnapshot))
                writeStatus()
            } else {
                let mon = try requireMonitor()
                resumeReason = .fromSnapshot
                try await mon.execute("cont")
                setRunning(.fromSnapshot)
            }
        }
        let previous = snapshots.current
        snapshots.current = name
        try? writeSnapshotMetadata(name)
        if let previous, previous != name { try? writeSnapshotMetadata(previous) }
        if persistent {
            try LinuxSys.writeFileAtomically(paths.configFile(definition.name), definition.formatXML())
            raise(.defined(.fromSnapshot))
        }
    }
}

extension QEMUDomainObject {
    func clearStartFromSnapshot() {
        startFromSnapshot = nil
        revertStarting = false
        bootDetail = .booted
    }
}
