import CSpawn
import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Save to a file in libvirt's QEMU save image format (`QEMUSaveImage`), as libvirt's QEMU driver does it:
/// an async SAVE job; the guest paused; the header (partial magic) and XML written; QEMU's migration stream
/// sent into the file through a descriptor passed with `getfd`; the final magic; QEMU stopped (STOPPED/SAVED).
extension QEMUDomainObject {
    /// libvirt's "max-bandwidth" for saves: INT64_MAX / 1 MiB MiB, in bytes.
    static let saveBandwidth: Int64 = 9_223_372_036_853_727_232

    /// Saves the running domain to `path` (`xml`: libvirt's `dxml`, a replacement definition with the same
    /// ABI). `flags` may force the state the image restores to (running or paused).
    func save(to path: String, xml dxml: String?, flags: SaveRestoreFlags, managed: Bool) async throws(VirtError) {
        // The status file says a save is in flight from here on (a restarted daemon cancels it and resumes the
        // guest, whatever its phase, so the phases below are not written out again).
        try await beginAsyncJob(.save, operation: .save, owner: managed ? "managedsave" : "save", phase: .pausing)
        var created = false
        var pausedHere = false
        // When this save paused the guest: libvirt's downtime is the time from the pause to completion.
        var stoppedAt: ContinuousClock.Instant?
        do throws(VirtError) {
            guard let mon = monitor, isActive else {
                throw VirtError.operationInvalid("domain is not running", domain: .domain)
            }
            let wasRunning = status.state == .running
            // The pause and the save's bandwidth go in one round trip (the parameter is harmless if the pause
            // fails), as do `getfd` and `migrate` below (with no descriptor, `migrate` fails and starts nothing).
            let bandwidth = QMPCommand("migrate-set-parameters", arguments: ["max-bandwidth": .int(Self.saveBandwidth)])
            if wasRunning {
                let replies = await mon.executeInOrder([QMPCommand("stop"), bandwidth])
                try replies[0].get()
                stoppedAt = .now
                pausedHere = true
                if status.state == .running { raise(.suspended(.paused)) }
                // QEMU's STOP event, handled before this reply as a rule, already recorded this state. The status
                // file is not rewritten for it: it says a save is in flight, and a daemon that restarts resumes
                // a guest paused by a save (job recovery).
                status = .paused(.save)
                try replies[1].get()
            } else {
                try await mon.execute(bandwidth.name, arguments: bandwidth.arguments)
            }
            let running = flags.contains(.running) ? true : flags.contains(.paused) ? false : wasRunning
            let image = QEMUSaveImage(xml: try saveXML(dxml), cookie: QEMUSaveImage.emptyCookie, wasRunning: running)
            let existed = access(path, F_OK) == 0
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw VirtError.systemError("Failed to create domain save file '\(path)'", errno: errno, domain: .qemu)
            }
            created = !existed
            do throws(VirtError) {
                let header = try image.encoded(final: false)
                guard LinuxSys.writeAll(fdFile: fd, header) else {
                    throw VirtError.systemError("failed to write header to domain save file '\(path)'", errno: errno,
                                                domain: .qemu)
                }
            } catch {
                close(fd)
                throw error
            }
            jobs.phase = .writing
            migration.lastStatus = ""
            let replies = await mon.executeInOrder([
                QMPCommand("getfd", arguments: ["fdname": "migrate"], passing: fd),
                QMPCommand("migrate", arguments: ["detach": true, "resume": false, "uri": "fd:migrate"]),
            ])
            // The image is fsynced once final; meanwhile the kernel is asked every 10 ms to start writing back
            // what QEMU has written so far, so that the final fsync waits only for the tail.
            let writeback = Self.startWriteback(dup(fd))
            close(fd)
            defer { writeback.cancel() }
            try replies[0].get()
            do throws(VirtError) {
                try replies[1].get()
            } catch {
                _ = try? await mon.execute("closefd", arguments: ["fdname": "migrate"])
                throw error
            }
            // QEMU's MIGRATION event "completed" ends the wait: the image is whole. Its final header and fsync
            // then run on another thread while QEMU is asked for the job's final statistics.
            try await waitMigration(mon, what: "domain save", completedByEvent: true)
            writeback.cancel()
            async let durable = LinuxSys.offload {
                Result { () throws(VirtError) in try image.rewrite(path: path, final: true) }
            }
            if let q = try? await mon.execute("query-migrate") {
                jobs.current?.update(fromQueryMigrate: q)
            }
            var info = jobs.current ?? QEMUJobInfo(type: .completed, operation: .save, elapsedMs: 0)
            info.type = .completed
            info.elapsedMs = asyncElapsedMs
            if let stoppedAt {
                // As qemuDomainJobDataUpdateDowntime: the guest was stopped by this job, so the downtime is
                // measured here (QEMU's own "downtime" counts only its final stop-and-copy).
                let d = ContinuousClock.now - stoppedAt
                info.downtimeMs = UInt64(max(0, d.components.seconds)) * 1000
                    + UInt64(max(0, d.components.attoseconds)) / 1_000_000_000_000_000
            }
            try await durable.get()
            // As libvirt: JOB_COMPLETED with the job's statistics, then the domain stops.
            emit(DomainEventRecord(domain: ref, kind: .jobCompleted(params: info.params)))
            // As libvirt: QEMU is stopped (not asked to quit), and the domain is shut off (saved).
            stopReason = (.saved, .saved)
            await teardown(.saved, emitEvent: true)
            endAsyncJob(completed: info)
        } catch {
            if created { unlink(path) }
            if pausedHere, let mon = monitor, process != nil, status.state == .paused {
                // libvirt resumes the guest it paused: RESUMED/UNPAUSED with reason "save canceled".
                resumeReason = .saveCanceled
                if (try? await mon.execute("cont")) != nil {
                    setRunning(.saveCanceled)
                } else {
                    status = .paused(.apiError)
                    raise(.suspended(.apiError))
                    writeStatus()
                }
            }
            var failed = jobs.current ?? QEMUJobInfo(type: .failed, operation: .save, elapsedMs: 0)
            failed.type = error.code == .operationAborted ? .cancelled : .failed
            failed.elapsedMs = asyncElapsedMs
            endAsyncJob(completed: failed)
            throw error
        }
    }

    /// Starts writeback of the save file's dirty pages every 10 ms (sync_file_range, SYNC_FILE_RANGE_WRITE) until
    /// cancelled; the descriptor is closed at the end. The pages stay in the page cache, so a restore right
    /// after reads them from memory. (POSIX_FADV_DONTNEED, used before, also starts writeback but drops the
    /// pages already written: a restore of a 98 MiB image then read it from disk, 45 ms more than bare QEMU.)
    static func startWriteback(_ fd: Int32) -> Task<Void, Never> {
        Task.detached {
            defer { if fd >= 0 { close(fd) } }
            guard fd >= 0 else { return }
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(10))
                _ = swiftvirt_start_writeback(fd)
            }
        }
    }

    /// The XML a save image carries: the definition QEMU runs (inactive form), or the caller's replacement,
    /// which must describe the same domain.
    private func saveXML(_ dxml: String?) throws(VirtError) -> String {
        let current = runDefinition ?? definition
        guard let dxml else { return current.formatXML() }
        let other = try DomainDefinition.parse(dxml)
        try Self.checkSameDomain(current, other)
        return other.formatXML()
    }

    /// libvirt's ABI check, as far as names go: a replacement definition names the same domain.
    static func checkSameDomain(_ a: DomainDefinition, _ b: DomainDefinition) throws(VirtError) {
        if a.name != b.name {
            throw VirtError.configUnsupported("Target domain name '\(b.name)' does not match source '\(a.name)'",
                                              domain: .domain)
        }
        if a.uuid != b.uuid {
            throw VirtError.configUnsupported("Target domain uuid \(b.uuid) does not match source \(a.uuid)",
                                              domain: .domain)
        }
    }

    /// The running domain's job statistics (`domjobinfo`): the async job in flight, or none.
    func jobInfo() async -> QEMUJobInfo {
        guard jobs.async != .none, var info = jobs.current else {
            return QEMUJobInfo(type: .none, operation: .unknown, elapsedMs: 0)
        }
        if jobs.async == .save || jobs.async == .migrationOut, let mon = monitor,
           let q = try? await mon.execute("query-migrate") {
            info.update(fromQueryMigrate: q)
            jobs.current = info
        }
        if jobs.async == .backup { await backupJobStats(&info) }
        if jobs.async == .dump, info.isMemoryDump, let mon = monitor, let q = try? await mon.execute("query-dump") {
            // As libvirt's qemuDomainGetJobInfoDumpStats: QEMU's progress at the time of the call.
            info.dumpProgress = .init(total: q["total"]?.uint64Value ?? 0, completed: q["completed"]?.uint64Value ?? 0)
            jobs.current = info
        }
        info.elapsedMs = asyncElapsedMs
        return info
    }

    /// The last completed job's statistics (`domjobinfo --completed`); cleared unless `keep`.
    func completedJobInfo(keep: Bool) -> QEMUJobInfo {
        let c = jobs.completed ?? QEMUJobInfo(type: .none, operation: .unknown, elapsedMs: 0)
        if !keep { jobs.completed = nil }
        return c
    }

    /// `domjobabort`: cancels the async job in flight (save, outgoing migration), as libvirt's ABORT job.
    func abortJob(postcopy: Bool = false) async throws(VirtError) {
        try await beginJob(.abort, owner: "abortJob")
        defer { endJob() }
        let inPostcopy = jobs.async == .migrationOut && migration.postcopyActive
        if postcopy {
            // VIR_DOMAIN_ABORT_JOB_POSTCOPY: pause a post-copy migration (it can be resumed with POSTCOPY_RESUME).
            guard inPostcopy, let mon = monitor else {
                throw VirtError.operationInvalid("current job is not outgoing migration in post-copy mode",
                                                 domain: .qemu)
            }
            try await mon.executeOutOfBand("migrate-pause")
            return
        }
        if inPostcopy {
            throw VirtError.operationInvalid("cannot abort migration in post-copy mode", domain: .qemu)
        }
        switch jobs.async {
        case .none:
            throw VirtError.operationInvalid("no job is active on the domain", domain: .qemu)
        case .start:
            throw VirtError.operationInvalid("cannot abort VM start; use virDomainDestroy instead", domain: .qemu)
        case .migrationIn:
            throw VirtError.operationInvalid("cannot abort incoming migration; use virDomainDestroy instead",
                                             domain: .qemu)
        case .dump where jobs.current?.isMemoryDump == true:
            throw VirtError.operationInvalid("cannot abort memory-only dump", domain: .qemu)
        case .backup:
            await abortBackup()
        default:
            jobs.abortRequested = true
            if let mon = monitor { _ = try? await mon.execute("migrate_cancel") }
        }
    }
}
