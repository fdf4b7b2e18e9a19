import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// A backup job as libvirt 9.0's QEMU driver runs it (qemu_backup.c). Push mode: per disk a target image (created
/// empty by the daemon unless the caller's is reused, then formatted by QEMU's blockdev-create as big as the disk),
/// its nodes added, and one `transaction` of `blockdev-backup` jobs (sync full, auto-dismiss off). Pull mode: per
/// disk a qcow2 scratch image over the disk (QEMU keeps there what the guest overwrites while the job runs), QEMU's
/// NBD server on the caller's socket or port, `blockdev-backup` with sync none and one NBD export per disk (named
/// after the disk) of the point-in-time view; it ends when the caller aborts it. Each job's end (JOB_STATUS_CHANGE
/// concluded) removes its nodes and raises BLOCK_JOB/BLOCK_JOB_2 of type backup; the last one ends the async job
/// (JOB_COMPLETED, `domjobinfo --completed`). Images the daemon created go when a push fails or is cancelled, and
/// scratch images always.
public struct QEMUBackupJob: Sendable, Codable, Hashable {
    enum DiskState: String, Sendable, Codable { case running, cancelling, complete, failed, cancelled }

    struct Disk: Sendable, Codable, Hashable {
        var dev: String
        /// The disk's own image (the BLOCK_JOB event names it).
        var source: String
        var jobID: String
        /// The target's node number (`libvirt-N-…`).
        var node: Int
        var path: String
        var created: Bool
        var state: DiskState = .running
    }

    var definition: DomainBackupDefinition
    var reuse: Bool
    var disks: [Disk] = []
    /// The finished disks' bytes (libvirt's push_total / push_transferred, pull_tmp_total / pull_tmp_used).
    var total: UInt64 = 0
    var transferred: UInt64 = 0
    var errmsg: String?
    var pull: Bool { definition.mode == .pull }
}

extension QEMUDomainObject {
    static let backupReuseExternal: UInt32 = 1

    /// qemuBackupBegin (push mode, full backups).
    func backupBegin(xml: String, checkpointXML: String?, flags: UInt32) async throws(VirtError) {
        var def = try DomainBackupDefinition(xml: xml)
        let reuse = flags & Self.backupReuseExternal != 0
        try await beginAsyncJob(.backup, operation: .backup, owner: "backupBegin")
        do throws(VirtError) {
            guard isActive, let m = monitor, let live = liveDefinition else {
                throw VirtError.operationUnsupported("cannot perform disk backup for inactive domain")
            }
            if backup != nil {
                throw VirtError.operationInvalid("another backup job is already running", domain: .qemu)
            }
            // Checkpoints and incremental backups need persistent dirty bitmaps, which this driver does not keep.
            if checkpointXML != nil {
                throw VirtError.operationUnsupported("creating checkpoint for incremental backup is not supported yet")
            }
            if def.mode == .pull {
                let server = def.server
                if server["transport"] ?? "tcp" == "tcp" && server["port"] == nil {
                    throw VirtError.operationUnsupported("<domainbackup> must specify TCP port for now")
                }
                // libvirt's TLS export needs backup_tls_x509_cert_dir, which virtd.conf does not have.
                if server["tls"] == "yes" {
                    throw VirtError.operationUnsupported("TLS for the backup's NBD server is not supported")
                }
            }
            let suffix = String(Int(Date().timeIntervalSince1970))
            try Self.alignBackupDisks(&def, live, suffix: suffix)
            if def.mode == .pull {
                for i in def.disks.indices where def.disks[i].backup == true {
                    if def.disks[i].format != "qcow2" {
                        throw VirtError.configUnsupported(
                            "pull mode backup for disk '\(def.disks[i].name)' requires qcow2 driver", domain: .qemu)
                    }
                    if def.disks[i].exportName == nil { def.disks[i].exportName = def.disks[i].name }
                }
            }
            if def.disks.contains(where: { $0.backupMode == "incremental" }) {
                throw VirtError.operationUnsupported("incremental backup is not supported yet")
            }
            guard def.disks.contains(where: { $0.backup == true }) else {
                throw VirtError.configUnsupported("no disks selected for backup", domain: .qemu)
            }
            try await startBackup(&def, live: live, reuse: reuse, monitor: m)
        } catch {
            endAsyncJob()
            throw error
        }
    }

    /// virDomainBackupAlignDisks: the listed disks checked and given their images, the others added (backed up
    /// when nothing was listed and they have a writable medium).
    static func alignBackupDisks(_ def: inout DomainBackupDefinition, _ dom: DomainDefinition, suffix: String)
        throws(VirtError) {
        guard !dom.devices.disks.isEmpty else {
            throw VirtError.configUnsupported("domain must have at least one disk to perform backup", domain: .qemu)
        }
        var seen = Set<String>()
        for i in def.disks.indices {
            let name = def.disks[i].name
            guard let d = dom.devices.disks.first(where: { $0.target.dev == name }) else {
                throw VirtError.configUnsupported("no disk named '\(name)'", domain: .qemu)
            }
            guard seen.insert(name).inserted else {
                throw VirtError.configUnsupported("disk '\(name)' specified twice", domain: .qemu)
            }
            if def.disks[i].backupMode == "incremental" && def.disks[i].incremental == nil && def.incremental == nil {
                throw VirtError.configUnsupported("'incremental' backup mode of disk '\(name)' requires setting "
                                                  + "'incremental' field for disk or backup", domain: .qemu)
            }
            if def.disks[i].backup == nil { def.disks[i].backup = true }
            if def.disks[i].backup == true { try assignBackupStore(&def.disks[i], d, suffix: suffix) }
        }
        let all = def.disks.isEmpty
        for d in dom.devices.disks where !seen.contains(d.target.dev) {
            var b = DomainBackupDefinition.Disk(name: d.target.dev)
            if all && QEMUCommandLine.diskHasSource(d) && !d.readonly && d.device != .cdrom {
                b.backup = true
                try assignBackupStore(&b, d, suffix: suffix)
            } else {
                b.backup = false
            }
            def.disks.append(b)
        }
        for i in def.disks.indices where def.disks[i].backup == true {
            if def.disks[i].backupMode == nil {
                let incremental = def.incremental != nil || def.disks[i].incremental != nil
                def.disks[i].backupMode = incremental ? "incremental" : "full"
            }
            if def.disks[i].incremental == nil && def.disks[i].backupMode == "incremental" {
                def.disks[i].incremental = def.incremental
            }
        }
    }

    /// virDomainBackupDefAssignStore, with the QEMU driver's default format (qcow2).
    private static func assignBackupStore(_ b: inout DomainBackupDefinition.Disk, _ d: VirtCore.Disk, suffix: String)
        throws(VirtError) {
        if !QEMUCommandLine.diskHasSource(d) {
            if b.path != nil { throw VirtError.configUnsupported("disk '\(b.name)' has no media", domain: .qemu) }
            return
        }
        if b.path == nil {
            guard d.type == .file, let src = d.source.path else {
                throw VirtError.configUnsupported("refusing to generate file name for disk '\(b.name)'", domain: .qemu)
            }
            b.path = src + "." + suffix
        }
        if b.type == nil { b.type = "file" }
        if b.format == nil { b.format = "qcow2" }
    }

    /// The images, their nodes, the one transaction that starts every disk's job, and in pull mode the NBD
    /// server and exports.
    private func startBackup(_ def: inout DomainBackupDefinition, live: DomainDefinition, reuse: Bool,
                             monitor m: QMPMonitor) async throws(VirtError) {
        let pull = def.mode == .pull
        var job = QEMUBackupJob(definition: def, reuse: reuse)
        let nodes = (try await m.execute("query-named-block-nodes", arguments: ["flat": .bool(true)])).arrayValue ?? []
        var added: [String] = []
        var created: [String] = []
        var actions: [JSONValue] = []
        var exports: [JSONValue] = []
        var serverStarted = false
        // Every image's node number first, as libvirt names them all before it prepares any image (a failed
        // begin has used them up too).
        var numbers: [Int: Int] = [:]
        for i in def.disks.indices where def.disks[i].backup == true {
            numbers[i] = Self.nodeNumber(hotplug.takeNode()) ?? 0
        }
        do throws(VirtError) {
            for i in def.disks.indices where def.disks[i].backup == true {
                let b = def.disks[i]
                guard let path = b.path, let disk = live.devices.disks.first(where: { $0.target.dev == b.name }),
                      let top = disk.source.index else { continue }
                if blockJobs[disk.target.dev] != nil {
                    throw VirtError(VirtError.Code(rawValue: 79), domain: .qemu,
                                    "block copy still active: disk '\(disk.target.dev)' already in active block job",
                                    str1: "disk '\(disk.target.dev)' already in active block job")
                }
                let sourceNode = nodes.first { $0["node-name"]?.stringValue == "libvirt-\(top)-format" }
                let size = sourceNode?["image"]?["virtual-size"]?.intValue ?? 0
                let block = b.type == "block"
                var made = false
                if !reuse && !block {
                    if access(path, F_OK) == 0 {
                        throw VirtError.invalidArg("store '\(path)' for backup of '\(b.name)' exists", domain: .qemu)
                    }
                    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                    guard fd >= 0 else {
                        throw VirtError.systemError("failed to create image file '\(path)'", errno: errno, domain: .qemu)
                    }
                    close(fd)
                    made = true
                    created.append(path)
                }
                // QEMU writes the image as its own user.
                if let u = try security.processCredentials() { _ = chown(path, u.uid, u.gid) }
                let node = numbers[i] ?? 0
                let storage = "libvirt-\(node)-storage", format = "libvirt-\(node)-format"
                let fmt = b.format ?? "qcow2"
                if !reuse && fmt == "raw" && !block {
                    try await runCreateJob(m, id: "create-\(storage)", options: [
                        "driver": "file", "filename": .string(path), "size": .int(size),
                    ])
                }
                try await m.execute("blockdev-add", arguments: [
                    "driver": .string(block ? "host_device" : "file"), "filename": .string(path),
                    "node-name": .string(storage), "auto-read-only": .bool(true), "discard": "unmap",
                ])
                added.append(storage)
                if !reuse && fmt != "raw" {
                    var options: [String: JSONValue] = ["driver": .string(fmt), "file": .string(storage), "size": .int(size)]
                    if disk.driver.format == .qcow2, let c = sourceNode?["image"]?["cluster-size"]?.intValue {
                        options["cluster-size"] = .int(c)
                    }
                    // A scratch image sits over the disk: what the guest has not overwritten is read from it.
                    if pull, let src = disk.source.path {
                        options["backing-file"] = .string(src)
                        options["backing-fmt"] = .string(disk.driver.format?.rawValue ?? "raw")
                    }
                    try await runCreateJob(m, id: "create-\(format)", options: .object(options))
                }
                var f: [String: JSONValue] = ["node-name": .string(format), "read-only": .bool(false),
                                              "driver": .string(fmt), "file": .string(storage)]
                if fmt != "raw" { f["backing"] = pull ? .string("libvirt-\(top)-format") : .null }
                try await m.execute("blockdev-add", arguments: .object(f))
                added.append(format)
                let jobID = "backup-\(b.name)-libvirt-\(top)-format"
                actions.append(["type": "blockdev-backup", "data": [
                    "device": .string("libvirt-\(top)-format"), "job-id": .string(jobID), "target": .string(format),
                    "sync": .string(pull ? "none" : "full"), "auto-finalize": .bool(true), "auto-dismiss": .bool(false),
                ]])
                if pull {
                    exports.append(["type": "nbd", "id": .string("libvirt-nbd-\(format)"), "node-name": .string(format),
                                    "writable": .bool(false), "name": .string(b.exportName ?? b.name)])
                }
                def.disks[i].index = node
                job.disks.append(.init(dev: b.name, source: disk.source.path ?? b.name, jobID: jobID, node: node,
                                       path: path, created: made))
            }
            job.definition = def
            if pull {
                let server = def.server
                let addr: JSONValue = server["transport"] == "unix"
                    ? ["type": "unix", "data": ["path": .string(server["socket"] ?? "")]]
                    : ["type": "inet", "data": ["host": .string(server["name"] ?? ""), "port": .string(server["port"] ?? "")]]
                try await m.execute("nbd-server-start", arguments: ["addr": addr])
                serverStarted = true
            }
            // Registered first: the jobs' events may come while the transaction is under way.
            backup = job
            do throws(VirtError) {
                try await m.execute("transaction", arguments: ["actions": .array(actions)])
            } catch {
                backup = nil
                throw error
            }
            for e in exports {
                do throws(VirtError) {
                    try await m.execute("block-export-add", arguments: e)
                } catch {
                    await cancelBackupJobs()
                    throw error
                }
            }
            writeStatus()
        } catch {
            if serverStarted { _ = try? await m.execute("nbd-server-stop") }
            for n in added.reversed() { _ = try? await m.execute("blockdev-del", arguments: ["node-name": .string(n)]) }
            for p in created { unlink(p) }
            throw error
        }
    }

    /// A blockdev-create job until QEMU concluded it (its error, if any, is the call's), then dismissed.
    private func runCreateJob(_ m: QMPMonitor, id: String, options: JSONValue) async throws(VirtError) {
        try await m.execute("blockdev-create", arguments: ["job-id": .string(id), "options": options])
        var error: String?
        while true {
            let jobs = (try await m.execute("query-jobs")).arrayValue ?? []
            guard let j = jobs.first(where: { $0["id"]?.stringValue == id }) else { break }
            if j["status"]?.stringValue == "concluded" {
                error = j["error"]?.stringValue
                break
            }
            try? await Task.sleep(for: .milliseconds(2))
        }
        _ = try? await m.execute("job-dismiss", arguments: ["id": .string(id)])
        if let error { throw VirtError.operationFailed("unable to create image: \(error)", domain: .qemu) }
    }

    /// The running backup's definition (backup-dumpxml).
    func backupXML() throws(VirtError) -> String {
        guard let backup else {
            throw VirtError(.noDomainBackup, domain: .qemu,
                            "Domain backup job id not found: no domain backup job present",
                            str1: "no domain backup job present")
        }
        return backup.definition.formatXML()
    }

    /// JOB_STATUS_CHANGE of one of the backup's jobs; true when it was one.
    func handleBackupJobStatus(id: String, status: String) async -> Bool {
        guard let i = backup?.disks.firstIndex(where: { $0.jobID == id }) else { return false }
        if status == "concluded" { await backupDiskConcluded(i) }
        return true
    }

    /// qemuBackupNotifyBlockjobEnd: the job's figures and error, its nodes removed, the others cancelled after a
    /// failure, the backup ended when none runs; then this disk's block job events.
    func backupDiskConcluded(_ i: Int) async {
        guard let m = monitor, backup != nil else { return }
        let info = ((try? await m.execute("query-jobs"))?.arrayValue ?? []).first {
            $0["id"]?.stringValue == backup?.disks[i].jobID
        }
        // The figures and the state change at once, before the next wait: domjobinfo may run in between.
        guard var job = backup else { return }
        let d = job.disks[i]
        let error = info?["error"]?.stringValue
        job.transferred += info?["current-progress"]?.uint64Value ?? 0
        job.total += info?["total-progress"]?.uint64Value ?? 0
        if job.errmsg == nil { job.errmsg = error }
        let state: QEMUBackupJob.DiskState = d.state == .cancelling ? .cancelled : error != nil ? .failed : .complete
        job.disks[i].state = state
        backup = job
        writeStatus()
        _ = try? await m.execute("job-dismiss", arguments: ["id": .string(d.jobID)])
        // Pull mode: the exports go with the server (libvirt stops it at every disk's end, the later ones fail).
        if job.pull { _ = try? await m.execute("nbd-server-stop") }
        _ = try? await m.execute("blockdev-del", arguments: ["node-name": .string("libvirt-\(d.node)-format")])
        _ = try? await m.execute("blockdev-del", arguments: ["node-name": .string("libvirt-\(d.node)-storage")])
        guard let current = backup else { return }
        job = current
        let running = job.disks.contains { $0.state == .running }
        let cancelling = job.disks.contains { $0.state == .cancelling }
        let failed = job.disks.contains { $0.state == .failed }
        let cancelled = job.disks.contains { $0.state == .cancelled }
        if running && (failed || cancelled) {
            await cancelBackupJobs()
        } else if !running && !cancelling {
            // A pull backup's end is always its cancellation: it counts as completed unless a job failed.
            terminateBackup(failed ? .failed : cancelled && !job.pull ? .cancelled : .completed)
        }
        let status: Int32 = state == .complete ? 0 : state == .cancelled ? 2 : 1
        emit(DomainEventRecord(domain: ref, kind: .blockJob(path: d.source, type: 5, status: status)))
        emit(DomainEventRecord(domain: ref, kind: .blockJob2(disk: d.dev, type: 5, status: status)))
    }

    /// block-job-cancel (forced) of every disk whose job runs.
    /// The state is changed on the live record before each wait (the jobs' ends are handled meanwhile).
    func cancelBackupJobs() async {
        guard let m = monitor, let ids = backup?.disks.map(\.jobID) else { return }
        for (i, id) in ids.enumerated() where backup?.disks[i].state == .running {
            backup?.disks[i].state = .cancelling
            if (try? await m.execute("block-job-cancel", arguments: ["device": .string(id), "force": .bool(true)])) == nil,
               backup?.disks[i].jobID == id, backup?.disks[i].state == .cancelling {
                backup?.disks[i].state = .running
            }
        }
        writeStatus()
    }

    /// domjobabort of a backup: its jobs cancelled (the backup ends when QEMU concluded them).
    func abortBackup() async {
        await cancelBackupJobs()
        if let job = backup, !job.disks.contains(where: { $0.state == .running || $0.state == .cancelling }) {
            terminateBackup(.cancelled)
        }
    }

    /// qemuBackupJobTerminate: images the daemon made go unless the push completed; the completed job's
    /// statistics, JOB_COMPLETED, the async job's end.
    func terminateBackup(_ result: QEMUJobType) {
        guard let job = backup else { return }
        for d in job.disks where d.created && (result != .completed || job.pull) { unlink(d.path) }
        var info = jobs.current ?? QEMUJobInfo(type: result, operation: .backup, elapsedMs: 0)
        info.type = result
        info.elapsedMs = asyncElapsedMs
        info.backup = .init(total: job.total, transferred: job.transferred, pull: job.pull)
        info.success = result == .completed
        info.errmsg = job.errmsg
        backup = nil
        if jobs.async == .backup {
            endAsyncJob(completed: info)
        } else {
            jobs.completed = info
        }
        emit(DomainEventRecord(domain: ref, kind: .jobCompleted(params: info.params)))
    }

    /// The running backup's figures (domjobinfo): finished disks' bytes plus QEMU's progress of the others.
    func backupJobStats(_ info: inout QEMUJobInfo) async {
        guard let job = backup else { return }
        var total = job.total, done = job.transferred
        if let m = monitor, let list = (try? await m.execute("query-jobs"))?.arrayValue {
            for d in job.disks where d.state == .running || d.state == .cancelling {
                guard let j = list.first(where: { $0["id"]?.stringValue == d.jobID }) else { continue }
                total += j["total-progress"]?.uint64Value ?? 0
                done += j["current-progress"]?.uint64Value ?? 0
            }
        }
        info.backup = .init(total: total, transferred: done, pull: job.pull)
    }
}

extension QEMUDomainObject {
    /// A backup a previous daemon left running (in the status file, as libvirt keeps it in its status XML): the
    /// async job again, and each disk's job as QEMU has it now; one that ended meanwhile is handled as its event
    /// would have been, one QEMU no longer has counts as failed.
    func adoptBackup(_ b: QEMUBackupJob, _ m: QMPMonitor) async {
        backup = b
        jobs.async = .backup
        jobs.asyncOwner = "backupBegin"
        jobs.asyncOperation = .backup
        jobs.asyncStarted = .now
        jobs.current = QEMUJobInfo(type: .unbounded, operation: .backup, elapsedMs: 0)
        process?.note("reconnect: a backup job was running; adopted")
        let list = (try? await m.execute("query-jobs"))?.arrayValue ?? []
        // A job whose end the previous daemon recorded but did not finish handling: dismissed, its nodes removed.
        for d in b.disks where d.state != .running && d.state != .cancelling
            && list.contains(where: { $0["id"]?.stringValue == d.jobID }) {
            _ = try? await m.execute("job-dismiss", arguments: ["id": .string(d.jobID)])
            _ = try? await m.execute("blockdev-del", arguments: ["node-name": .string("libvirt-\(d.node)-format")])
            _ = try? await m.execute("blockdev-del", arguments: ["node-name": .string("libvirt-\(d.node)-storage")])
        }
        for (i, d) in b.disks.enumerated() where d.state == .running || d.state == .cancelling {
            guard let j = list.first(where: { $0["id"]?.stringValue == d.jobID }) else {
                backup?.disks[i].state = .failed
                if backup?.errmsg == nil { backup?.errmsg = "job '\(d.jobID)' is gone" }
                continue
            }
            if j["status"]?.stringValue == "concluded" { await backupDiskConcluded(i) }
        }
        if let job = backup, !job.disks.contains(where: { $0.state == .running || $0.state == .cancelling }) {
            let failed = job.disks.contains { $0.state == .failed }
            let cancelled = job.disks.contains { $0.state == .cancelled }
            terminateBackup(failed ? .failed : cancelled && !job.pull ? .cancelled : .completed)
        }
    }
}
