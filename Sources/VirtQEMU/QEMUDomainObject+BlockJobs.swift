import Foundation
import VirtCore

/// One block job of a disk, as libvirt's block job data: what it does, QEMU's job, and what its end changes.
/// Kept in the status file, so a restarted daemon adopts it.
public struct QEMUBlockJob: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable {
        case pull, copy, commit, activeCommit = "active-commit"
        /// `virDomainBlockJobType`.
        var type: Int32 {
            switch self {
            case .pull: 1
            case .copy: 2
            case .commit: 3
            case .activeCommit: 4
            }
        }
    }
    /// The image a copy writes to.
    public struct Mirror: Sendable, Codable, Hashable {
        var path: String
        var format: String
        var index: Int
        var shallow: Bool
        /// The destination is a block device (`<disk type='block'>`, virsh's `--blockdev`).
        var block: Bool?
    }

    public var kind: Kind
    public var disk: String
    public var jobID: String
    public var ready = false
    /// Pull and commit: the node number of the image that becomes the backing of the changed one (nil: none).
    public var baseIndex: Int?
    /// Commit: the node number of the highest image committed.
    public var topIndex: Int?
    public var mirror: Mirror?
    /// Abort asked for (the end is reported as canceled), or pivot.
    public var aborting = false
    public var pivoting = false
    /// Commit with VIR_DOMAIN_BLOCK_COMMIT_DELETE: the committed images are removed once the job completed.
    public var deleteCommitted: Bool?
}

/// Block jobs on a running domain as libvirt 9.0's QEMU driver runs them with -blockdev: block-stream (pull),
/// block-commit (commit, and active commit that waits in the ready state for a pivot), blockdev-mirror (copy),
/// all with auto-dismiss off; their end (JOB_STATUS_CHANGE concluded) changes the disk's chain in the live XML,
/// removes the nodes no longer used, and raises BLOCK_JOB and BLOCK_JOB_2.
extension QEMUDomainObject {
    // MARK: Helpers

    private func jobDisk(_ path: String) throws(VirtError) -> (index: Int, disk: Disk, monitor: QMPMonitor) {
        let m = try requireRunning()
        guard let live = liveDefinition, let i = Self.diskIndex(live, path) else {
            throw VirtError.invalidArg("disk '\(path)' not found in domain", domain: .qemu)
        }
        return (i, live.devices.disks[i], m)
    }

    private func checkNoJob(_ d: Disk) throws(VirtError) {
        if blockJobs[d.target.dev] != nil {
            throw VirtError(VirtError.Code(rawValue: 79), domain: .qemu,
                            "block copy still active: disk '\(d.target.dev)' already in active block job",
                            str1: "disk '\(d.target.dev)' already in active block job")
        }
    }

    /// Bandwidth in bytes/s: MiB/s unless `bytes`.
    static func speed(_ bandwidth: UInt64, bytes: Bool) throws(VirtError) -> UInt64 {
        if bytes { return bandwidth }
        guard bandwidth <= UInt64.max >> 20 else {
            throw VirtError(.overflow, domain: .qemu, "value too large: bandwidth must be less than \(UInt64.max >> 20)",
                            str1: "bandwidth must be less than \(UInt64.max >> 20)")
        }
        return bandwidth << 20
    }

    private func nodeIndex(_ d: Disk) -> Int? {
        d.info.alias.flatMap { hotplug.diskNodes[$0] }.flatMap { Self.nodeNumber($0) }
    }

    /// The chain position of `name` (a path, or `vda[N]`) below or at the disk's top: 0 is the top image.
    private static func chainPosition(_ name: String, _ d: Disk, top: Int?, what: String) throws(VirtError) -> Int {
        let layers = QEMUBackingChain.layers(d)
        if name.hasPrefix(d.target.dev + "["), name.hasSuffix("]"),
           let n = Int(name.dropFirst(d.target.dev.count + 1).dropLast()) {
            if n == top { return 0 }
            if let j = layers.firstIndex(where: { $0.index == n }) { return j + 1 }
            throw VirtError.invalidArg("could not find backing store index '\(n)' in chain for '\(d.target.dev)'",
                                       domain: .qemu)
        }
        if name == d.source.path { return 0 }
        if let j = layers.firstIndex(where: { $0.path == name }) { return j + 1 }
        throw VirtError.invalidArg("could not find image '\(name)' in chain for '\(d.target.dev)'", domain: .qemu)
    }

    /// The relative name the image above chain position `from` gets for the image at `to`
    /// (virStorageSourceGetRelativeBackingPath), or libvirt's error when one of the names is not relative.
    private static func keptRelativeName(_ d: Disk, from: Int, to: Int) throws(VirtError) -> String {
        guard let path = d.source.path,
              let name = QEMUBackingChain.relativeName(strings: try QEMUBackingChain.backingStrings(path),
                                                       from: from, to: to) else {
            throw VirtError.operationInvalid("can't keep relative backing relationship", domain: .qemu)
        }
        return name
    }

    /// The virtual size of the disk's top image, as QEMU sees it.
    private func topVirtualSize(_ m: QMPMonitor, _ top: Int) async throws(VirtError) -> Int64 {
        let blocks = try await m.execute("query-named-block-nodes", arguments: ["flat": true]).arrayValue ?? []
        return blocks.first { $0["node-name"]?.stringValue == "libvirt-\(top)-format" }?["image"]?["virtual-size"]?
            .intValue ?? 0
    }

    private func common(_ args: inout [String: JSONValue], _ jobID: String, _ speed: UInt64) {
        args["job-id"] = .string(jobID)
        if speed > 0 { args["speed"] = .int(Int64(clamping: speed)) }
        args["auto-finalize"] = .bool(true)
        args["auto-dismiss"] = .bool(false)
    }

    // MARK: Pull

    /// libvirt's qemuDomainBlockPullCommon (a modify job): block-stream into the top image from `base` down.
    func blockPull(disk path: String, base: String?, bandwidth: UInt64, bytes: Bool, relative: Bool = false)
        async throws(VirtError) {
        if relative && base == nil {
            throw VirtError.invalidArg("flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only with non-null base",
                                       domain: .qemu)
        }
        try await beginJob(.modify, owner: "blockPull")
        defer { endJob() }
        let (i, d, m) = try jobDisk(path)
        try checkNoJob(d)
        let speed = try Self.speed(bandwidth, bytes: bytes)
        guard let top = nodeIndex(d) else {
            throw VirtError.operationInvalid("disk '\(d.target.dev)' does not have a block node", domain: .qemu)
        }
        let layers = QEMUBackingChain.layers(d)
        var baseIndex: Int?
        var args: [String: JSONValue] = [:]
        if let base {
            // libvirt looks for the base beneath the top image.
            let pos = try? Self.chainPosition(base, d, top: top, what: "base")
            guard let pos, pos > 0 else {
                throw VirtError.invalidArg("could not find image '\(base)' beneath '\(d.source.path ?? "")' in chain "
                                           + "for '\(d.target.dev)'", domain: .qemu)
            }
            baseIndex = layers[pos - 1].index
            if relative {
                args["backing-file"] = .string(try Self.keptRelativeName(d, from: 1, to: pos))
            }
        }
        let jobID = "pull-\(d.target.dev)-libvirt-\(top)-format"
        args["device"] = .string("libvirt-\(top)-format")
        if let b = baseIndex { args["base-node"] = .string("libvirt-\(b)-format") }
        common(&args, jobID, speed)
        // Registered first: QEMU's events about the job may be handled while the command is under way.
        blockJobs[d.target.dev] = QEMUBlockJob(kind: .pull, disk: d.target.dev, jobID: jobID, baseIndex: baseIndex)
        do {
            try await m.execute("block-stream", arguments: .object(args))
        } catch {
            blockJobs[d.target.dev] = nil
            throw error
        }
        _ = i
        writeStatus()
    }

    // MARK: Commit

    /// libvirt's qemuDomainBlockCommit (a modify job): block-commit of `top` (default: the active image, which
    /// needs VIR_DOMAIN_BLOCK_COMMIT_ACTIVE) down into `base` (default: the deepest image).
    func blockCommit(disk path: String, base: String?, top topName: String?, bandwidth: UInt64, flags: UInt32)
        async throws(VirtError) {
        try await beginJob(.modify, owner: "blockCommit")
        defer { endJob() }
        let (i, d, m) = try jobDisk(path)
        try checkNoJob(d)
        let speed = try Self.speed(bandwidth, bytes: flags & 16 != 0)
        guard let topNode = nodeIndex(d) else {
            throw VirtError.operationInvalid("disk '\(d.target.dev)' does not have a block node", domain: .qemu)
        }
        let layers = QEMUBackingChain.layers(d)
        let topPos = try topName.map { n throws(VirtError) in try Self.chainPosition(n, d, top: topNode, what: "top") } ?? 0
        let active = topPos == 0
        if active && flags & 4 == 0 {
            throw VirtError.invalidArg("commit of '\(d.target.dev)' active layer requires active flag", domain: .qemu)
        }
        if !active && flags & 4 != 0 {
            throw VirtError.invalidArg("active commit requested but '\(topName ?? "")' is not active", domain: .qemu)
        }
        guard topPos < layers.count else {
            throw VirtError.invalidArg("could not find base image in chain for '\(d.target.dev)'", domain: .qemu)
        }
        var basePos = layers.count
        if flags & 1 != 0 { basePos = topPos + 1 }
        if let base {
            let topPath = topPos == 0 ? (d.source.path ?? "") : layers[topPos - 1].path
            let pos = try? Self.chainPosition(base, d, top: topNode, what: "base")
            guard let pos, pos > topPos else {
                throw VirtError.invalidArg("could not find image '\(base)' beneath '\(topPath)' in chain for "
                                           + "'\(d.target.dev)'", domain: .qemu)
            }
            basePos = pos
        }
        // libvirt keeps relative names for a commit below the active image only.
        let relativeName = !active && flags & 8 != 0 ? try Self.keptRelativeName(d, from: topPos, to: basePos) : nil
        let topIndex = topPos == 0 ? topNode : (layers[topPos - 1].index ?? 0)
        guard let baseIndex = layers[basePos - 1].index else {
            throw VirtError.internalError("backing image without a node", domain: .qemu)
        }
        let jobID = "commit-\(d.target.dev)-libvirt-\(baseIndex)-format"
        var args: [String: JSONValue] = ["device": .string("libvirt-\(topNode)-format"),
                                         "base-node": .string("libvirt-\(baseIndex)-format")]
        if !active { args["top-node"] = .string("libvirt-\(topIndex)-format") }
        if let relativeName { args["backing-file"] = .string(relativeName) }
        common(&args, jobID, speed)
        var job = QEMUBlockJob(kind: active ? .activeCommit : .commit, disk: d.target.dev, jobID: jobID,
                               baseIndex: baseIndex, topIndex: topIndex)
        if flags & 2 != 0 { job.deleteCommitted = true }
        if active {
            let b = layers[basePos - 1]
            job.mirror = QEMUBlockJob.Mirror(path: b.path, format: b.format, index: baseIndex, shallow: true)
        }
        // Registered first: QEMU's events about the job may be handled while the command is under way.
        let before = liveDefinition
        blockJobs[d.target.dev] = job
        if active, var live = liveDefinition {
            Self.setMirror(job, ready: false, disk: i, in: &live)
            liveDefinition = live
        }
        do {
            try await m.execute("block-commit", arguments: .object(args))
        } catch {
            blockJobs[d.target.dev] = nil
            liveDefinition = before
            throw error
        }
        writeStatus()
    }

    // MARK: Copy

    /// libvirt's qemuDomainBlockCopyCommon (a modify job): the destination made (unless reused), added as
    /// nodes, and blockdev-mirror to it; ready when in sync, ended by a pivot or an abort.
    func blockCopy(disk path: String, destination: String, format: String?, bandwidth: UInt64, bytes: Bool,
                   shallow: Bool, reuse: Bool, transientJob: Bool, granularity: UInt32?, bufSize: UInt64?,
                   syncWrites: Bool, blockDevice: Bool = false) async throws(VirtError) {
        try await beginJob(.modify, owner: "blockCopy")
        defer { endJob() }
        let (i, d, m) = try jobDisk(path)
        if persistent && !transientJob {
            throw VirtError.operationInvalid("domain is not transient", domain: .qemu)
        }
        try checkNoJob(d)
        let speed = try Self.speed(bandwidth, bytes: bytes)
        guard let top = nodeIndex(d), d.source.path != nil else {
            throw VirtError.operationInvalid("disk '\(d.target.dev)' does not have a block node", domain: .qemu)
        }
        let layers = QEMUBackingChain.layers(d)
        let fmt = format ?? d.driver.format?.rawValue ?? "raw"
        var st = stat()
        let exists = stat(destination, &st) == 0
        let isBlock = exists && st.st_mode & S_IFMT == S_IFBLK
        if blockDevice && exists && !isBlock {
            if st.st_size > 0 && !reuse {
                throw VirtError.configUnsupported("external destination file for disk \(d.target.dev) already exists and "
                                                  + "is not a block device: \(destination)", domain: .qemu)
            }
            throw VirtError.invalidArg("blockdev flag requested for disk \(d.target.dev), but file '\(destination)' "
                                       + "is not a block device", domain: .qemu)
        }
        if blockDevice && !exists {
            throw VirtError.systemError("missing destination file for disk \(d.target.dev): \(destination)",
                                        errno: ENOENT, domain: .qemu)
        }
        if blockDevice {
            // A block device is there already: only a format other than raw is written onto it.
            if !reuse && fmt != "raw" {
                let size = try await topVirtualSize(m, top)
                guard let r = ChildCommand.run(["/usr/bin/qemu-img", "create", "-q", "-f", fmt, destination, String(size)]),
                      r.status == 0 else {
                    throw VirtError.operationFailed("cannot create '\(destination)'", domain: .qemu)
                }
            }
        } else if reuse {
            if access(destination, F_OK) != 0 {
                throw VirtError.systemError("missing destination file for disk \(d.target.dev): \(destination)",
                                            errno: ENOENT, domain: .qemu)
            }
        } else {
            if access(destination, F_OK) == 0 {
                throw VirtError.operationInvalid("destination file '\(destination)' already exists", domain: .qemu)
            }
            let size = try await topVirtualSize(m, top)
            var argv = ["/usr/bin/qemu-img", "create", "-q", "-f", fmt]
            if shallow, let b = layers.first { argv += ["-b", b.path, "-F", b.format] }
            argv += [destination, String(size)]
            guard let r = ChildCommand.run(argv), r.status == 0 else {
                throw VirtError.operationFailed("cannot create '\(destination)'", domain: .qemu)
            }
            // libvirt creates the copy 0600 (qemu-img leaves the umask's 0644).
            _ = chmod(destination, 0o600)
            if let u = try security.processCredentials() { _ = chown(destination, u.uid, u.gid) }
        }
        let node = hotplug.takeNode()
        let index = Self.nodeNumber(node) ?? 0
        let layer = QEMUBackingChain.Layer(path: destination, format: fmt, index: index)
        var nodes = QEMUCommandLine.chainBlockdevs(layer, node: node, backing: nil, cache: d.driver.cache)
        if blockDevice {
            nodes[0] = QEMUJSONProps(nodes[0].items.map { $0.0 == "driver" ? ("driver", .string("host_device")) : $0 })
        }
        var f = QEMUJSONProps()
        for (k, v) in nodes[1].items {
            switch (k, v) {
            case ("read-only", _): f.add("read-only", bool: false)
            case ("backing", _):
                if shallow, let b = layers.first?.index { f.add("backing", "libvirt-\(b)-format") } else { f.addNull("backing") }
            default: f = QEMUJSONProps(f.items + [(k, v)])
            }
        }
        nodes[1] = f
        var added: [String] = []
        do {
            for n in nodes {
                let json = try JSONDecoder().decode(JSONValue.self, from: Data(n.rendered.utf8))
                try await m.execute("blockdev-add", arguments: json)
                if let name = json["node-name"]?.stringValue { added.append(name) }
            }
            let jobID = "copy-\(d.target.dev)-libvirt-\(top)-format"
            var args: [String: JSONValue] = ["device": .string("libvirt-\(top)-format"),
                                             "target": .string(node + "-format"),
                                             "sync": .string(shallow ? "top" : "full")]
            if let granularity { args["granularity"] = .int(Int64(granularity)) }
            if let bufSize { args["buf-size"] = .int(Int64(clamping: bufSize)) }
            if syncWrites { args["copy-mode"] = .string("write-blocking") }
            common(&args, jobID, speed)
            let job = QEMUBlockJob(kind: .copy, disk: d.target.dev, jobID: jobID,
                                   mirror: QEMUBlockJob.Mirror(path: destination, format: fmt, index: index,
                                                               shallow: shallow, block: blockDevice ? true : nil))
            // Registered first: QEMU's events about the job may be handled while the command is under way.
            let before = liveDefinition
            blockJobs[d.target.dev] = job
            if var live = liveDefinition {
                Self.setMirror(job, ready: false, disk: i, in: &live)
                liveDefinition = live
            }
            do {
                try await m.execute("blockdev-mirror", arguments: .object(args))
            } catch {
                blockJobs[d.target.dev] = nil
                liveDefinition = before
                throw error
            }
            writeStatus()
        } catch let e as VirtError {
            for n in added.reversed() { _ = try? await m.execute("blockdev-del", arguments: ["node-name": .string(n)]) }
            if !reuse && !blockDevice { unlink(destination) }
            throw e
        } catch {
            throw VirtError.internalError("\(error)", domain: .qemu)
        }
    }

    /// `<mirror>` of a copy or an active commit (ready='yes' once QEMU reports it in sync).
    static func setMirror(_ job: QEMUBlockJob, ready: Bool, disk i: Int, in def: inout DomainDefinition) {
        def.devices.disks[i].extra.removeAll { $0.name == "mirror" }
        guard let mi = job.mirror else { return }
        let block = mi.block == true
        var attrs: [(name: String, value: String)] = [("type", block ? "block" : "file")]
        if job.kind == .copy && !block { attrs += [("file", mi.path), ("format", mi.format)] }
        attrs.append(("job", job.kind == .copy ? "copy" : "active-commit"))
        if ready { attrs.append(("ready", job.pivoting ? "pivot" : job.aborting ? "abort" : "yes")) }
        var kids: [XMLElement.Child] = [
            .element(XMLElement(name: "format", attributes: [("type", mi.format)])),
            .element(XMLElement(name: "source", attributes: [(block ? "dev" : "file", mi.path), ("index", String(mi.index))])),
        ]
        // A full copy's image has no backing image (libvirt shows the empty chain end); a shallow copy's chain is
        // not shown.
        if job.kind == .copy && !mi.shallow {
            kids.append(.element(QEMUBackingChain.element([])))
        }
        def.devices.disks[i].extra.append(XMLElement(name: "mirror", attributes: attrs, children: kids))
    }

    // MARK: Info, speed, abort

    /// libvirt's qemuDomainGetBlockJobInfo (a query job): QEMU's progress of the disk's job, nil without one.
    func blockJobInformation(disk path: String, bytes: Bool) async throws(VirtError) -> BlockJobInfo? {
        try await beginJob(.query, owner: "blockJobInfo")
        defer { endJob() }
        let (_, d, m) = try jobDisk(path)
        guard let job = diskJob(d.target.dev) else { return nil }
        let all = try await m.execute("query-block-jobs").arrayValue ?? []
        guard let e = all.first(where: { $0["device"]?.stringValue == job.id }) else {
            return BlockJobInfo(type: job.type, bandwidth: 0, cur: 1, end: 1)
        }
        let speed = UInt64(max(e["speed"]?.intValue ?? 0, 0))
        var cur = UInt64(max(e["offset"]?.intValue ?? 0, 0))
        var end = UInt64(max(e["len"]?.intValue ?? 0, 0))
        let ready = e["ready"]?.boolValue == true
        if ready && cur == 0 && end == 0 {
            cur = 1
            end = 1
        } else if !ready && cur == end && end > 0 {
            cur -= 1
        }
        // In MiB/s unless asked in bytes, rounded up as libvirt's VIR_DIV_UP (64 KiB/s shows as 1).
        let mib = speed / (1 << 20) + (speed % (1 << 20) == 0 ? 0 : 1)
        return BlockJobInfo(type: job.type, bandwidth: bytes ? speed : mib, cur: cur, end: end)
    }

    /// The disk's block job: its own (pull, commit, copy), or its part of a running backup (type 5).
    private func diskJob(_ dev: String) -> (id: String, type: Int32)? {
        if let j = blockJobs[dev] { return (j.jobID, j.kind.type) }
        if let d = backup?.disks.first(where: { $0.dev == dev && ($0.state == .running || $0.state == .cancelling) }) {
            return (d.jobID, 5)
        }
        return nil
    }

    /// libvirt's qemuDomainBlockJobSetSpeed (a modify job).
    func setBlockJobSpeed(disk path: String, bandwidth: UInt64, bytes: Bool) async throws(VirtError) {
        try await beginJob(.modify, owner: "blockJobSetSpeed")
        defer { endJob() }
        let (_, d, m) = try jobDisk(path)
        let speed = try Self.speed(bandwidth, bytes: bytes)
        guard let job = diskJob(d.target.dev) else {
            throw VirtError.invalidArg("disk \(d.target.dev) does not have an active block job", domain: .qemu)
        }
        try await m.execute("block-job-set-speed", arguments: ["device": .string(job.id),
                                                               "speed": .int(Int64(clamping: speed))])
    }

    /// libvirt's qemuDomainBlockJobAbort (a modify job): job-cancel, or with PIVOT (2) job-complete of a ready
    /// copy or active commit; waits for the end unless ASYNC (1).
    func abortBlockJob(disk path: String, flags: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "blockJobAbort")
        defer { endJob() }
        let (i, d, m) = try jobDisk(path)
        guard var job = blockJobs[d.target.dev] else {
            throw VirtError.invalidArg("disk \(d.target.dev) does not have an active block job", domain: .qemu)
        }
        let pivot = flags & 2 != 0
        if job.aborting || job.pivoting {
            throw VirtError.operationInvalid("block job on disk '\(d.target.dev)' is still being ended", domain: .qemu)
        }
        if pivot {
            guard job.kind == .copy || job.kind == .activeCommit else {
                throw VirtError.operationInvalid("job type '\(job.kind == .pull ? "pull" : "commit")' does not support pivot",
                                                 domain: .qemu)
            }
            guard job.ready else {
                throw VirtError(VirtError.Code(rawValue: 79), domain: .qemu,
                                "block copy still active: block job '\(job.jobID)' not ready for pivot yet",
                                str1: "block job '\(job.jobID)' not ready for pivot yet")
            }
            job.pivoting = true
        } else {
            job.aborting = true
        }
        // The job's new state first: QEMU's conclusion may be handled while the command is under way.
        let before = (blockJobs[d.target.dev], liveDefinition)
        blockJobs[d.target.dev] = job
        if var live = liveDefinition, job.mirror != nil {
            Self.setMirror(job, ready: job.ready, disk: i, in: &live)
            liveDefinition = live
        }
        do {
            if pivot {
                try await m.execute("job-complete", arguments: ["id": .string(job.jobID)])
            } else {
                try await m.execute("job-cancel", arguments: ["id": .string(job.jobID)])
            }
        } catch {
            if blockJobs[d.target.dev]?.jobID == job.jobID {
                blockJobs[d.target.dev] = before.0
                liveDefinition = before.1
            }
            throw error
        }
        writeStatus()
        if flags & 1 == 0, blockJobs[d.target.dev]?.jobID == job.jobID {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                blockJobWaiters[d.target.dev, default: []].append(c)
            }
        }
    }

    // MARK: QEMU's events

    func handleJobStatusChange(_ ev: QMPEvent) async {
        // A QEMU that is going away (destroy, or a shutdown) cancels its jobs on the way out: libvirt handles job
        // changes in a worker that finds the domain inactive by then and drops them, so no block job event is
        // sent and the next start has no job.
        guard stopReason == nil, status.state != .shutdown else { return }
        if let id = ev.data["id"]?.stringValue, let status = ev.data["status"]?.stringValue,
           await handleBackupJobStatus(id: id, status: status) {
            return
        }
        guard let id = ev.data["id"]?.stringValue, let status = ev.data["status"]?.stringValue,
              let (dev, job) = blockJobs.first(where: { $0.value.jobID == id }).map({ ($0.key, $0.value) }) else { return }
        switch status {
        case "ready":
            blockJobReady(dev, job)
        case "concluded":
            await blockJobConcluded(dev, job)
        default:
            break
        }
    }

    private func blockJobReady(_ dev: String, _ j: QEMUBlockJob) {
        guard !j.ready else { return }
        var job = j
        job.ready = true
        blockJobs[dev] = job
        var path = dev
        if var live = liveDefinition, let i = Self.diskIndex(live, dev) {
            path = live.devices.disks[i].source.path ?? dev
            Self.setMirror(job, ready: true, disk: i, in: &live)
            liveDefinition = live
        }
        writeStatus()
        emit(DomainEventRecord(domain: ref, kind: .blockJob(path: path, type: job.kind.type, status: 3)))
        emit(DomainEventRecord(domain: ref, kind: .blockJob2(disk: dev, type: job.kind.type, status: 3)))
    }

    /// The job's end: its error from query-jobs, job-dismiss, the chain changed in the live XML (and for an
    /// active commit the persistent definition), unused nodes deleted, then the events.
    private func blockJobConcluded(_ dev: String, _ job: QEMUBlockJob) async {
        guard let m = monitor else { return }
        let jobs = (try? await m.execute("query-jobs"))?.arrayValue ?? []
        let error = jobs.first { $0["id"]?.stringValue == job.jobID }?["error"]?.stringValue
        _ = try? await m.execute("job-dismiss", arguments: ["id": .string(job.jobID)])
        let status: Int32 = job.aborting ? 2 : error != nil ? 1 : 0
        var remove: [Int] = []
        var deleteFiles: [String] = []
        var path = dev
        if var live = liveDefinition, let i = Self.diskIndex(live, dev) {
            var d = live.devices.disks[i]
            var layers = QEMUBackingChain.layers(d)
            d.extra.removeAll { $0.name == "mirror" }
            let top = nodeIndex(d)
            if status == 0 {
                switch job.kind {
                case .pull:
                    let keep = job.baseIndex.flatMap { b in layers.firstIndex { $0.index == b } } ?? layers.count
                    remove = layers[..<keep].compactMap(\.index)
                    layers.removeFirst(keep)
                case .commit:
                    let t = layers.firstIndex { $0.index == job.topIndex } ?? 0
                    let b = layers.firstIndex { $0.index == job.baseIndex } ?? layers.count
                    remove = layers[t..<b].compactMap(\.index)
                    if job.deleteCommitted == true { deleteFiles = layers[t..<b].map(\.path) }
                    layers.removeSubrange(t..<b)
                case .activeCommit:
                    let b = layers.firstIndex { $0.index == job.baseIndex } ?? 0
                    remove = (top.map { [$0] } ?? []) + layers[..<b].compactMap(\.index)
                    if job.deleteCommitted == true { deleteFiles = [d.source.path].compactMap { $0 } + layers[..<b].map(\.path) }
                    let base = layers[b]
                    layers.removeFirst(b + 1)
                    pivotPersistent(dev, from: d.source.path, to: base.path, format: base.format, layers: layers)
                    Self.pivot(&d, to: base.path, format: base.format, index: base.index ?? 0, hotplug: &hotplug)
                case .copy:
                    guard let mi = job.mirror else { break }
                    remove = (top.map { [$0] } ?? []) + (mi.shallow ? [] : layers.compactMap(\.index))
                    if !mi.shallow { layers = [] }
                    pivotPersistent(dev, from: d.source.path, to: mi.path, format: mi.format, layers: layers,
                                    block: mi.block == true)
                    Self.pivot(&d, to: mi.path, format: mi.format, index: mi.index, hotplug: &hotplug)
                    d.type = mi.block == true ? .block : .file
                }
            } else if job.kind == .copy, let mi = job.mirror {
                remove = [mi.index]
            }
            QEMUBackingChain.setLayers(layers, of: &d)
            live.devices.disks[i] = d
            liveDefinition = live
            path = d.source.path ?? dev
        }
        for n in remove {
            _ = try? await m.execute("blockdev-del", arguments: ["node-name": .string("libvirt-\(n)-format")])
            _ = try? await m.execute("blockdev-del", arguments: ["node-name": .string("libvirt-\(n)-storage")])
        }
        // VIR_DOMAIN_BLOCK_COMMIT_DELETE (libvirt's qemuBlockJobDeleteImages): the committed files go.
        for f in deleteFiles where unlink(f) != 0 {
            process?.note("Unable to remove snapshot image file '\(f)' (\(String(cString: strerror(errno))))")
        }
        blockJobs[dev] = nil
        writeStatus()
        emit(DomainEventRecord(domain: ref, kind: .blockJob(path: path, type: job.kind.type, status: status)))
        emit(DomainEventRecord(domain: ref, kind: .blockJob2(disk: dev, type: job.kind.type, status: status)))
        for c in blockJobWaiters.removeValue(forKey: dev) ?? [] { c.resume() }
    }

    /// After a pivot the persistent disk that named the old image names the new one, with its chain as libvirt
    /// 9.0 copies it (without node numbers).
    private func pivotPersistent(_ dev: String, from old: String?, to path: String, format: String,
                                 layers: [QEMUBackingChain.Layer], block: Bool = false) {
        guard persistent, let pi = Self.diskIndex(definition, dev), let old,
              definition.devices.disks[pi].source.path == old else { return }
        var pd = definition
        pd.devices.disks[pi].source.path = path
        pd.devices.disks[pi].type = block ? .block : .file
        if let f = DiskFormat(rawValue: format) { pd.devices.disks[pi].driver.format = f }
        QEMUBackingChain.setLayers(layers.map { QEMUBackingChain.Layer(path: $0.path, format: $0.format) },
                                   of: &pd.devices.disks[pi])
        definition = pd
        try? saveConfig()
    }

    private static func pivot(_ d: inout Disk, to path: String, format: String, index: Int,
                              hotplug: inout QEMUHotplugState) {
        d.source.path = path
        if let f = DiskFormat(rawValue: format) { d.driver.format = f }
        d.source.index = index
        if let a = d.info.alias { hotplug.diskNodes[a] = "libvirt-\(index)" }
    }

    /// After a daemon restart: jobs that ended or became ready while nobody listened are handled now.
    func reconcileBlockJobs(_ m: QMPMonitor) async {
        guard !blockJobs.isEmpty else { return }
        let jobs = (try? await m.execute("query-jobs"))?.arrayValue ?? []
        for (dev, job) in blockJobs {
            let st = jobs.first { $0["id"]?.stringValue == job.jobID }?["status"]?.stringValue
            switch st {
            case "ready"?: blockJobReady(dev, job)
            case "concluded"?, nil: await blockJobConcluded(dev, job)
            default: break
            }
        }
    }

    /// The domain stopped: its jobs are gone, their waiters released.
    func endBlockJobs() {
        blockJobs = [:]
        for (_, cs) in blockJobWaiters { for c in cs { c.resume() } }
        blockJobWaiters = [:]
    }
}
