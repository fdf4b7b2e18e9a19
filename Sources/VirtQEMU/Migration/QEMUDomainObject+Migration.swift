import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The migration state of one domain: what the phases of libvirt's version 3 protocol pass to each other
/// on this host, and the tunables (`migrate-setmaxdowntime`, `migrate-setspeed`).
struct QEMUMigrationState: Sendable {
    /// libvirt's QEMU_DOMAIN_MIG_BANDWIDTH_MAX: INT64_MAX bytes/s in MiB/s, "unlimited".
    static let unlimitedMiB: UInt64 = 8_796_093_022_207

    var flags: MigrateFlags = []
    var params: [TypedParam] = []
    /// Source: the guest ran when the migration began (resumed if the migration fails).
    var wasRunning = false
    /// QEMU reported `postcopy-active`.
    var postcopyActive = false
    /// The QEMU migration capabilities this QEMU supports, among those libvirt knows (minus `events`).
    var supportedCaps: [String] = []
    /// Wall-clock times of the job (ms since the epoch) for the cookie's statistics.
    var startedAt: UInt64 = 0
    var stoppedAt: UInt64 = 0
    /// The statistics the other side sent (destination: from Perform; source: from Finish).
    var peerStatistics: QEMUMigrationCookie.Statistics?
    /// QEMU's last migration status from its MIGRATION events (asked without the monitor's main loop).
    var lastStatus = ""
    /// How many MIGRATION events came: a wait that started after a query looks again at once when one came
    /// meanwhile (its wake-up would otherwise be lost).
    var eventCount: UInt64 = 0
    /// Destination in post-copy: Finish's `cont` answered (it may wait for pages, see ``contInPostcopy``).
    var contAnswered = false

    /// Storage migration: the disks copied through NBD, the destination's NBD port, the source's mirror jobs.
    var nbdDisks: [QEMUMigrationCookie.NBD.Disk] = []
    var nbdPort: Int?
    var mirrorJobs: [String] = []

    var maxDowntimeMs: UInt64?
    var maxSpeedMiB: UInt64 = unlimitedMiB
    var maxPostcopySpeedMiB: UInt64 = 0
}

/// What a host says about itself in its cookies.
struct QEMUMigrationHost: Sendable {
    var hostname: String
    var hostUUID: VirtUUID
}

/// libvirt's QEMU migration capabilities, in its order (`qemuMigrationCapability`).
enum QEMUMigrationCaps {
    static let known = ["xbzrle", "auto-converge", "rdma-pin-all", "events", "postcopy-ram", "compress",
                        "pause-before-switchover", "late-block-activate", "multifd", "dirty-bitmaps", "return-path",
                        "zero-copy-send"]
}

extension QEMUDomainObject {
    static func nowMs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec / 1_000_000)
    }

    /// The capabilities of QEMU's migration that libvirt knows, without `events` (set once at start).
    private func supportedMigrationCaps(_ mon: QMPMonitor) async throws(VirtError) -> [String] {
        let r = try await mon.execute("query-migrate-capabilities")
        let have = Set((r.arrayValue ?? []).compactMap { $0["capability"]?.stringValue })
        return QEMUMigrationCaps.known.filter { $0 != "events" && have.contains($0) }
    }

    /// `migrate-set-capabilities` with every supported capability, those in `on` true (libvirt's wire form).
    private func setMigrationCaps(_ mon: QMPMonitor, on: Set<String>) async throws(VirtError) {
        let caps = migration.supportedCaps
        guard !caps.isEmpty else { return }
        let list: [JSONValue] = caps.map { .object(["capability": .string($0), "state": .bool(on.contains($0))]) }
        try await mon.execute("migrate-set-capabilities", arguments: ["capabilities": .array(list)])
    }

    /// Every capability back to false (libvirt's reset after a migration).
    func resetMigrationCaps() async {
        guard let mon = monitor else { return }
        try? await setMigrationCaps(mon, on: [])
    }

    func migrationStatistics(_ info: QEMUJobInfo?) -> QEMUMigrationCookie.Statistics {
        var s = QEMUMigrationCookie.Statistics()
        s.started = migration.startedAt
        s.stopped = migration.stoppedAt
        s.sent = Self.nowMs()
        guard let info else { return s }
        var v: [(String, UInt64)] = [("time_elapsed", info.elapsedMs)]
        if let d = info.downtimeMs { v.append(("downtime", d)) }
        if let st = info.setupTimeMs { v.append(("setup_time", st)) }
        v += [("memory_total", info.memoryTotal), ("memory_processed", info.memoryProcessed),
              ("memory_remaining", info.memoryRemaining)]
        if info.memoryBps != 0 { v.append(("memory_bps", info.memoryBps)) }
        v += [("memory_constant", info.memoryConstant), ("memory_normal", info.memoryNormal),
              ("memory_normal_bytes", info.memoryNormalBytes), ("memory_dirty_rate", info.memoryDirtyRate),
              ("memory_iteration", info.memoryIteration), ("memory_postcopy_requests", info.memoryPostcopyRequests)]
        if info.memoryPageSize != 0 { v.append(("memory_page_size", info.memoryPageSize)) }
        s.values = v
        return s
    }

    // MARK: Source

    /// Begin (source): the checks, the outgoing migration job, the migratable definition and cookie A. The job
    /// stays with the domain until Confirm (or a failed Perform) ends it.
    func migrationBegin(flags: MigrateFlags, params: [TypedParam], host: QEMUMigrationHost) async throws(VirtError)
        -> (xml: String, cookie: [UInt8]) {
        guard isActive, let mon = monitor else {
            throw VirtError.operationInvalid("domain is not running", domain: .qemu)
        }
        if flags.contains(.postcopyResume) {
            return try await resumeBegin(flags: flags, params: params, host: host, mon)
        }
        if flags.contains(.postcopy) && flags.contains(.tunnelled) {
            throw VirtError(.argumentUnsupported, domain: .qemu,
                            "argument unsupported: post-copy is not supported with tunnelled migration",
                            str1: "post-copy is not supported with tunnelled migration")
        }
        if flags.contains(.postcopy) && (!flags.contains(.live) || status.state == .paused) {
            throw VirtError(.argumentUnsupported, domain: .qemu,
                            "argument unsupported: post-copy migration is not supported with non-live or paused migration",
                            str1: "post-copy migration is not supported with non-live or paused migration")
        }
        if flags.contains(.offline) {
            throw VirtError.operationInvalid("domain is active; offline migration is for inactive domains",
                                             domain: .qemu)
        }
        if flags.contains(.nonSharedInc) {
            throw VirtError(.argumentUnsupported, domain: .qemu,
                            "argument unsupported: incremental storage migration (--copy-storage-inc) is not supported",
                            str1: "incremental storage migration (--copy-storage-inc) is not supported")
        }
        if flags.contains(.nonSharedDisk) && flags.contains(.tunnelled) {
            throw VirtError(.argumentUnsupported, domain: .qemu,
                            "argument unsupported: NBD storage migration is not supported with tunnelled migration",
                            str1: "NBD storage migration is not supported with tunnelled migration")
        }
        for d in externalDevices {
            if let e = await d.migrationBlocker { throw e }
        }
        // As libvirt: the outgoing job spans Begin to Confirm only with CHANGE_PROTECTION (and peer to peer,
        // where one call runs every phase); otherwise Begin is a plain job and Perform starts the async one.
        let keepJob = flags.contains(.changeProtection) || flags.contains(.peer2peer)
        if keepJob {
            try await beginAsyncJob(.migrationOut, operation: .migrationOut, owner: "migrate")
        } else {
            try await beginJob(.modify, owner: "migrateBegin")
        }
        defer { if !keepJob { endJob() } }
        do throws(VirtError) {
            if keepJob { setJobPhase(.begin3) }
            migration.flags = flags
            migration.params = params
            migration.postcopyActive = false
            migration.wasRunning = status.state == .running
            migration.startedAt = Self.nowMs()
            migration.stoppedAt = 0
            migration.peerStatistics = nil
            migration.supportedCaps = try await supportedMigrationCaps(mon)
            let current = runDefinition ?? definition
            var xml = current.formatXML()
            if let dxml = params.string(MigrateParam.destXML) {
                let other = try DomainDefinition.parse(dxml)
                try Self.checkSameDomain(current, other)
                xml = other.formatXML()
            }
            var cookie = QEMUMigrationCookie(name: current.name, uuid: uuid, hostname: host.hostname,
                                             hostUUID: host.hostUUID)
            let alwaysOn: Set<String> = ["pause-before-switchover"]
            cookie.capabilities = migration.supportedCaps.map { ($0, alwaysOn.contains($0)) }
            migration.nbdDisks = flags.contains(.nonSharedDisk) ? try await disksToCopy(params) : []
            migration.mirrorJobs = []
            if flags.contains(.nonSharedDisk) {
                cookie.nbd = QEMUMigrationCookie.NBD(port: nil, disks: migration.nbdDisks)
            }
            return (xml, cookie.encoded())
        } catch {
            if keepJob { endAsyncJob() }
            throw error
        }
    }

    /// Perform (source): capabilities and parameters, `migrate` to the destination's URI, then wait. At
    /// pre-switchover (the guest is paused) the migration is let go on; returns at `completed`, or at
    /// `postcopy-active` when post-copy was asked for. The guest stays paused until Confirm. On failure the
    /// guest is resumed, the job ends, and the error names the step.
    func migrationPerform(uri: String, cookie: [UInt8], host: QEMUMigrationHost,
                          peerAlive: (@Sendable () async -> Bool)? = nil,
                          tunnel: (any ByteStream)? = nil) async throws(VirtError) -> [UInt8] {
        if jobs.async != .migrationOut {
            // Begin kept no job (no CHANGE_PROTECTION): the outgoing job starts here.
            guard !migration.flags.contains(.changeProtection) else {
                throw VirtError.operationInvalid("domain '\(name)' is not being migrated", domain: .qemu)
            }
            try await beginAsyncJob(.migrationOut, operation: .migrationOut, owner: "migrate")
            migration.wasRunning = status.state == .running
            migration.startedAt = Self.nowMs()
            migration.stoppedAt = 0
        }
        if jobs.phase == .beginResume {
            return try await resumePerform(uri: uri, host: host)
        }
        let flags = migration.flags
        do throws(VirtError) {
            guard let mon = monitor, isActive else {
                throw VirtError.operationInvalid("domain is not running", domain: .qemu)
            }
            let peer = try QEMUMigrationCookie.decode(cookie, expectName: nil, expectUUID: uuid,
                                                      localHostUUID: host.hostUUID)
            setJobPhase(.perform3)
            if !migration.nbdDisks.isEmpty {
                guard let port = peer.nbd?.port else {
                    throw VirtError.internalError("the destination did not export the disks for storage migration",
                                                  domain: .qemu)
                }
                let (_, h, _) = try QEMUDriver.parseMigrationURI(uri)
                try await startMirrors(host: h, port: port)
            }
            var on: Set<String> = ["pause-before-switchover"]
            if flags.contains(.postcopy) { on.insert("postcopy-ram") }
            if !flags.contains(.tunnelled) { on.insert("return-path") }
            if flags.contains(.autoConverge) { on.insert("auto-converge") }
            try await setMigrationCaps(mon, on: on)
            let bw = migration.params.uint64(MigrateParam.bandwidth) ?? migration.maxSpeedMiB
            var p: [String: JSONValue] = ["max-bandwidth": .int(Int64(clamping: min(bw, QEMUMigrationState.unlimitedMiB) * 1_048_576))]
            if let d = migration.maxDowntimeMs { p["downtime-limit"] = .int(Int64(clamping: d)) }
            if let pb = migration.params.uint64(MigrateParam.bandwidthPostcopy) ?? (migration.maxPostcopySpeedMiB > 0 ? migration.maxPostcopySpeedMiB : nil) {
                p["max-postcopy-bandwidth"] = .int(Int64(clamping: pb * 1_048_576))
            }
            try await mon.execute("migrate-set-parameters", arguments: .object(p))
            if !flags.contains(.live) && status.state == .running {
                resumeReason = nil
                try await mon.execute("stop")
            }
            if jobs.abortRequested {
                throw VirtError(.operationAborted, domain: .qemu, "operation aborted: migration out: canceled by client",
                                str1: "migration out: canceled by client")
            }
            var pump: Task<Void, any Error>?
            if let tunnel {
                // QEMU writes into a pipe; its other end goes to the destination daemon as stream packets.
                let p = try QEMUMigrationTunnel.pipe(daemonEndNonBlocking: true)
                do throws(VirtError) {
                    try await mon.execute("getfd", arguments: ["fdname": "migrate"], passing: p.write)
                } catch {
                    close(p.read)
                    close(p.write)
                    throw error
                }
                close(p.write)
                pump = Task { try await QEMUMigrationTunnel.pump(fd: p.read, to: tunnel) }
                try await mon.execute("migrate", arguments: ["uri": "fd:migrate"])
            } else {
                try await mon.execute("migrate", arguments: ["uri": .string(Self.qemuURI(uri))])
            }
            do throws(VirtError) {
                try await waitOutgoing(mon, postcopy: flags.contains(.postcopy), peerAlive: peerAlive)
            } catch {
                pump?.cancel()
                await tunnel?.abort()
                throw error
            }
            if let pump, case .failure(let e) = await pump.result {
                throw VirtError.operationFailed("tunnelled migration stream failed: \((e as? VirtError)?.message ?? "\(e)")",
                                                domain: .qemu)
            }
            setJobPhase(.perform3Done)
            var out = ownCookie(host)
            out.statistics = migrationStatistics(jobs.current)
            if flags.contains(.persistDest) {
                out.features = ["persistent"]
                out.persistentXML = definition.formatXML()
            }
            return out.encoded()
        } catch {
            await migrationFailedOnSource()
            throw error
        }
    }

    /// `tcp:host:port` as QEMU takes it (libvirt's `tcp://host:port` is normalised).
    static func qemuURI(_ uri: String) -> String {
        if uri.hasPrefix("tcp://") { return "tcp:" + uri.dropFirst("tcp://".count) }
        return uri
    }

    /// Waits for the outgoing migration: lets QEMU go on at pre-switchover, returns at `completed` (or at
    /// `postcopy-active` with post-copy).
    private func waitOutgoing(_ mon: QMPMonitor, postcopy: Bool,
                              peerAlive: (@Sendable () async -> Bool)?) async throws(VirtError) {
        var delay = 5
        while true {
            if process == nil {
                throw VirtError.operationFailed("job 'migration out' failed: QEMU ended", domain: .qemu)
            }
            if let peerAlive, await !peerAlive() {
                // Peer to peer, the destination daemon went away (libvirt watches dconn the same way).
                throw VirtError.operationFailed("Lost connection to destination host", domain: .qemu)
            }
            if jobs.abortRequested && !migration.postcopyActive {
                _ = try? await mon.execute("migrate_cancel")
            }
            let q = try await mon.execute("query-migrate")
            jobs.current?.update(fromQueryMigrate: q)
            let elapsed = asyncElapsedMs
            jobs.current?.elapsedMs = elapsed
            switch q["status"]?.stringValue ?? "" {
            case "completed":
                if migration.stoppedAt == 0 { migration.stoppedAt = Self.nowMs() }
                // QEMU 7.2 may report "completed" a moment before it fills in total-time and downtime.
                var tries = 0
                var last = q
                while last["downtime"] == nil && tries < 20 {
                    try? await Task.sleep(for: .milliseconds(1))
                    guard let again = try? await mon.execute("query-migrate") else { break }
                    last = again
                    tries += 1
                }
                jobs.current?.update(fromQueryMigrate: last)
                return
            case "pre-switchover":
                // The guest is paused (its STOP handled): let QEMU switch over.
                if migration.stoppedAt == 0 { migration.stoppedAt = Self.nowMs() }
                if status.state == .running {
                    status = .paused(.migration)
                    raise(.suspended(.migrated))
                    writeStatus()
                }
                // The guest is paused: the disks' mirrors complete (in sync) before QEMU switches over.
                try await completeMirrors()
                try await mon.execute("migrate-continue", arguments: ["state": "pre-switchover"])
            case "postcopy-active", "postcopy-recover":
                if postcopy {
                    markPostcopyOnSource()
                    return
                }
            case "postcopy-paused":
                throw VirtError.operationFailed("job 'migration out' failed in post-copy phase", domain: .qemu)
            case "failed":
                let why = q["error-desc"]?.stringValue
                throw VirtError.operationFailed(why.map { "job 'migration out' failed: \($0)" }
                    ?? "job 'migration out' unexpectedly failed", domain: .qemu)
            case "cancelled":
                throw VirtError(.operationAborted, domain: .qemu,
                                "operation aborted: job 'migration out' canceled by client",
                                str1: "job 'migration out' canceled by client")
            default:
                break
            }
            await waitMigrationEvent(timeout: .milliseconds(delay))
            delay = min(delay * 2, 200)
        }
    }

    /// The source entered post-copy: a guest paused for the migration is paused for post-copy now
    /// (SUSPENDED_POSTCOPY), once.
    func markPostcopyOnSource() {
        guard jobs.async == .migrationOut else { return }
        migration.postcopyActive = true
        if status.state == .paused && status.reason == PausedReason.migration.rawValue {
            status = .paused(.postcopy)
            raise(.suspended(.postcopy))
            writeStatus()
        }
    }

    /// A failed or cancelled outgoing migration before post-copy: the guest runs again if it ran (reason
    /// "migration canceled", RESUMED/MIGRATED), the capabilities are reset, the job ends.
    func migrationFailedOnSource() async {
        guard jobs.async == .migrationOut else { return }
        if migration.postcopyActive {
            // Neither host has the whole guest: nothing is resumed or killed.
            markPostcopyFailedOnSource()
            return
        }
        await cancelMirrors()
        if let mon = monitor, isActive {
            if let q = try? await mon.execute("query-migrate"),
               ["active", "setup", "pre-switchover", "device"].contains(q["status"]?.stringValue ?? "") {
                _ = try? await mon.execute("migrate_cancel")
            }
            if migration.wasRunning && status.state == .paused {
                resumeReason = .migrationCanceled
                if (try? await mon.execute("cont")) != nil {
                    setRunning(.migrationCanceled)
                }
            }
        }
        await resetMigrationCaps()
        var failed = jobs.current ?? QEMUJobInfo(type: .failed, operation: .migrationOut, elapsedMs: 0)
        failed.type = jobs.abortRequested ? .cancelled : .failed
        failed.elapsedMs = asyncElapsedMs
        endAsyncJob(completed: failed)
    }

    /// Post-copy failed on the source (QEMU paused the migration): PAUSED / post-copy failed with
    /// SUSPENDED_POSTCOPY_FAILED, once; the outgoing job stays, in phase postcopy_failed, for a recovery.
    func markPostcopyFailedOnSource() {
        if !(status.state == .paused && status.reason == PausedReason.postcopyFailed.rawValue) {
            status = .paused(.postcopyFailed)
            raise(.suspended(.postcopyFailed))
        }
        setJobPhase(.postcopyFailed)
    }

    /// Confirm (source): after a successful Finish the guest is stopped (STOPPED/MIGRATED), then JOB_COMPLETED;
    /// after a failed one it is resumed.
    func migrationConfirm(cookie: [UInt8], cancelled: Bool, host: QEMUMigrationHost) async throws(VirtError) {
        guard jobs.async == .migrationOut else {
            throw VirtError.operationInvalid("domain '\(name)' is not being migrated", domain: .qemu)
        }
        var failed = cancelled
        if failed, migration.postcopyActive, let mon = monitor,
           let q = try? await mon.execute("query-migrate"), q["status"]?.stringValue == "completed" {
            // As libvirt: post-copy that QEMU completed is a success whatever the destination said.
            failed = false
        }
        if failed {
            setJobPhase(.confirm3Cancelled)
            await migrationFailedOnSource()
            return
        }
        setJobPhase(.confirm3)
        if !cookie.isEmpty, let c = try? QEMUMigrationCookie.decode(cookie, expectUUID: uuid, localHostUUID: nil) {
            migration.peerStatistics = c.statistics
        }
        if migration.postcopyActive, let mon = monitor {
            // Post-copy: the destination's Finish waited for `completed`; the statistics are QEMU's last.
            if let q = try? await mon.execute("query-migrate") { jobs.current?.update(fromQueryMigrate: q) }
        }
        var info = jobs.current ?? QEMUJobInfo(type: .completed, operation: .migrationOut, elapsedMs: 0)
        info.type = .completed
        info.elapsedMs = asyncElapsedMs
        stopReason = (.migrated, .migrated)
        await teardown(.migratedOut(success: true), emitEvent: true)
        emit(DomainEventRecord(domain: ref, kind: .jobCompleted(params: info.params)))
        endAsyncJob(completed: info)
    }

    /// `virDomainMigrateStartPostCopy`: only during an outgoing migration started with the post-copy flag.
    func startPostCopy() async throws(VirtError) {
        try await beginJob(.migrationOp, owner: "migrateStartPostCopy")
        defer { endJob() }
        guard jobs.async == .migrationOut else {
            throw VirtError.operationInvalid("post-copy can only be started while outgoing migration is in progress",
                                             domain: .qemu)
        }
        guard migration.flags.contains(.postcopy) else {
            throw VirtError.operationInvalid(
                "switching to post-copy requires migration to be started with VIR_MIGRATE_POSTCOPY flag", domain: .qemu)
        }
        guard let mon = monitor else { throw VirtError.operationInvalid("domain is not running", domain: .qemu) }
        try await mon.execute("migrate-start-postcopy")
    }

    func setMaxDowntime(_ ms: UInt64) async throws(VirtError) {
        try await beginJob(.migrationOp, owner: "migrateSetMaxDowntime")
        defer { endJob() }
        guard let mon = monitor, isActive else {
            throw VirtError.operationInvalid("domain is not running", domain: .qemu)
        }
        try await mon.execute("migrate-set-parameters", arguments: ["downtime-limit": .int(Int64(clamping: ms))])
        migration.maxDowntimeMs = ms
    }

    func maxDowntime() async throws(VirtError) -> UInt64 {
        guard let mon = monitor, isActive else {
            throw VirtError.operationInvalid("domain is not running", domain: .qemu)
        }
        let r = try await mon.execute("query-migrate-parameters")
        guard let v = r["downtime-limit"]?.uint64Value else {
            throw VirtError.internalError("Querying migration downtime is not supported by QEMU binary", domain: .qemu)
        }
        return v
    }

    func setMaxSpeed(_ mib: UInt64, postcopy: Bool) async throws(VirtError) {
        let limit = QEMUMigrationState.unlimitedMiB
        guard mib <= limit else {
            throw VirtError(.overflow, domain: .qemu, "value too large: bandwidth must be less than \(limit + 1)",
                            str1: "bandwidth must be less than \(limit + 1)")
        }
        if postcopy { migration.maxPostcopySpeedMiB = mib } else { migration.maxSpeedMiB = mib }
        guard let mon = monitor, isActive else { return }
        try await beginJob(.migrationOp, owner: "migrateSetMaxSpeed")
        defer { endJob() }
        let key = postcopy ? "max-postcopy-bandwidth" : "max-bandwidth"
        try await mon.execute("migrate-set-parameters", arguments: [key: .int(Int64(clamping: mib * 1_048_576))])
    }

    func maxSpeed(postcopy: Bool) -> UInt64 {
        postcopy ? migration.maxPostcopySpeedMiB : migration.maxSpeedMiB
    }

    // MARK: Destination

    /// The last phase of an incoming start: capabilities, then `migrate-incoming` on `listen`; the domain is
    /// paused for the migration (STARTED/MIGRATED). Finish waits for the stream.
    func startIncomingStream(listen: String) async throws(VirtError) {
        let mon = try requireMonitorStarting()
        setJobPhase(.prepare)
        migration.startedAt = Self.nowMs()
        migration.supportedCaps = try await supportedMigrationCaps(mon)
        var on: Set<String> = ["late-block-activate"]
        if migration.flags.contains(.postcopy) { on.insert("postcopy-ram") }
        if !migration.flags.contains(.tunnelled) { on.insert("return-path") }
        try await setMigrationCaps(mon, on: on)
        if let port = migration.nbdPort, !migration.nbdDisks.isEmpty {
            let (_, h, _) = try QEMUDriver.parseMigrationURI(listen)
            try await startNBDServer(host: h, port: port)
        }
        if listen == "fd:migrate" {
            // Tunnelled: QEMU reads the stream from the pipe the destination daemon writes.
            guard incomingFD >= 0 else {
                throw VirtError.internalError("tunnelled migration without a stream", domain: .qemu)
            }
            let fd = incomingFD
            incomingFD = -1
            defer { close(fd) }
            try await mon.execute("getfd", arguments: ["fdname": "migrate"], passing: fd)
        }
        try await mon.execute("migrate-incoming", arguments: ["uri": .string(listen)])
        status = .paused(.migration)
        raise(.started(.migrated))
        writeStatus()
    }

    /// Finish (destination): waits for the stream (to `completed`, or `postcopy-active` with post-copy), makes
    /// the domain persistent when asked, runs the guest (RESUMED/MIGRATED, or RESUMED/POSTCOPY and, when
    /// post-copy completes, RESUMED/MIGRATED), and ends the incoming job.
    func migrationFinish(flags: MigrateFlags, cookie: QEMUMigrationCookie?, host: QEMUMigrationHost,
                         persist: (DomainDefinition) async throws(VirtError) -> Void) async throws(VirtError)
        -> [UInt8] {
        guard jobs.async == .migrationIn else {
            throw VirtError.operationInvalid("domain '\(name)' is not processing incoming migration", domain: .qemu)
        }
        if jobs.phase == .prepareResume {
            return try await resumeFinish(host: host)
        }
        setJobPhase(.finish3)
        migration.peerStatistics = cookie?.statistics
        do throws(VirtError) {
            guard let mon = monitor, isActive else {
                throw VirtError.operationFailed("domain is no longer running", domain: .qemu)
            }
            let inPostcopy = try await waitIncoming(mon, postcopy: flags.contains(.postcopy))
            await stopNBDServer()
            if flags.contains(.persistDest) {
                var def = liveDefinitionForPersist()
                if let x = cookie?.persistentXML, let d = try? DomainDefinition.parse(x) { def = d }
                try await persist(def)
            }
            if flags.contains(.paused) {
                status = .paused(.user)
                raise(.suspended(.paused))
                writeStatus()
            } else {
                let reason: RunningReason = inPostcopy ? .postcopy : .migrated
                resumeReason = reason
                if inPostcopy {
                    try await contInPostcopy(mon)
                } else {
                    try await mon.execute("cont")
                }
                setRunning(reason)
            }
            if inPostcopy { _ = try await waitIncoming(mon, postcopy: false) }
            return await completeIncoming(host: host)
        } catch {
            if migration.postcopyActive && isActive {
                // Post-copy failed on the destination: the guest is not killed (RESUMED/POSTCOPY_FAILED).
                if status.state == .running {
                    status = .running(.postcopyFailed)
                    raise(.resumed(.postcopyFailed))
                } else {
                    status = .paused(.postcopyFailed)
                    raise(.suspended(.postcopyFailed))
                }
                setJobPhase(.postcopyFailed)
                throw error
            }
            endAsyncJob()
            await teardown(.failed, emitEvent: true)
            throw error
        }
    }

    /// `cont` on a post-copy destination. Starting the devices reads guest memory, so QEMU answers once the
    /// source sent those pages: no timeout (libvirt has none either), but a post-copy that breaks meanwhile
    /// (MIGRATION postcopy-paused) fails Finish at once, as libvirt's job check does; the late answer is dropped.
    private func contInPostcopy(_ mon: QMPMonitor) async throws(VirtError) {
        migration.contAnswered = false
        let failure = Task { [weak self] () -> VirtError? in
            do {
                try await mon.execute("cont", timeout: .seconds(24 * 3600))
                await self?.postcopyContAnswered()
                return nil
            } catch {
                await self?.postcopyContAnswered()
                return error as? VirtError ?? VirtError.operationFailed("\(error)", domain: .qemu)
            }
        }
        while !migration.contAnswered {
            if migration.lastStatus == "postcopy-paused" {
                throw VirtError.operationFailed("job 'migration in' failed in post-copy phase", domain: .qemu)
            }
            if !isActive {
                throw VirtError.operationFailed("domain is no longer running", domain: .qemu)
            }
            await waitMigrationEvent(timeout: .seconds(1))
        }
        if let error = await failure.value { throw error }
    }

    private func postcopyContAnswered() {
        migration.contAnswered = true
        wakeMigrationWaiters()
    }

    /// The end of an incoming migration (Finish, or Finish of a recovery): a guest that ran in post-copy now
    /// runs as migrated (RESUMED/MIGRATED, libvirt's last event), capabilities reset, the job ends with the
    /// source's statistics (as libvirt's destination keeps them), cookie D.
    func completeIncoming(host: QEMUMigrationHost) async -> [UInt8] {
        if status.state == .running && status.reason != RunningReason.migrated.rawValue {
            status = .running(.migrated)
            raise(.resumed(.migrated))
            writeStatus()
        }
        await resetMigrationCaps()
        var info = jobs.current ?? QEMUJobInfo(type: .completed, operation: .migrationIn, elapsedMs: 0)
        info.type = .completed
        info.elapsedMs = asyncElapsedMs
        if let st = migration.peerStatistics { info.apply(st) }
        var out = ownCookie(host)
        out.statistics = migrationStatistics(info)
        endAsyncJob(completed: info)
        return out.encoded()
    }

    /// A cookie naming this domain and this host.
    func ownCookie(_ host: QEMUMigrationHost) -> QEMUMigrationCookie {
        QEMUMigrationCookie(name: name, uuid: uuid, hostname: host.hostname, hostUUID: host.hostUUID)
    }

    private func liveDefinitionForPersist() -> DomainDefinition { runDefinition ?? definition }

    /// Waits for the incoming stream; returns whether the migration is in post-copy.
    func waitIncoming(_ mon: QMPMonitor, postcopy: Bool) async throws(VirtError) -> Bool {
        var delay = 5
        while true {
            if process == nil {
                throw VirtError.operationFailed("job 'migration in' failed: QEMU ended", domain: .qemu)
            }
            // A post-copy destination whose stream broke may not answer in-band commands (its main loop waits
            // for a page): QEMU's MIGRATION event has told us already.
            if migration.lastStatus == "postcopy-paused" {
                throw VirtError.operationFailed("job 'migration in' failed in post-copy phase", domain: .qemu)
            }
            let q: JSONValue
            do {
                q = try await mon.execute("query-migrate")
            } catch {
                if migration.lastStatus == "postcopy-paused" {
                    throw VirtError.operationFailed("job 'migration in' failed in post-copy phase", domain: .qemu)
                }
                if let p = process, p.exitWaiter.result != nil {
                    let out = p.logOutput()
                    if !out.isEmpty {
                        throw VirtError.internalError("qemu unexpectedly closed the monitor: \(out)", domain: .qemu)
                    }
                }
                throw error
            }
            jobs.current?.update(fromQueryMigrate: q)
            switch q["status"]?.stringValue ?? "" {
            case "completed":
                // Post-copy that QEMU finished before Finish looked: the guest still starts as post-copy.
                return postcopy && migration.postcopyActive
            case "postcopy-active", "postcopy-recover":
                migration.postcopyActive = true
                if postcopy { return true }
            case "postcopy-paused":
                throw VirtError.operationFailed("job 'migration in' failed in post-copy phase", domain: .qemu)
            case "failed":
                let why = q["error-desc"]?.stringValue
                throw VirtError.operationFailed(why.map { "job 'migration in' failed: \($0)" }
                    ?? "job 'migration in' unexpectedly failed", domain: .qemu)
            case "cancelled":
                throw VirtError(.operationAborted, domain: .qemu, "operation aborted: job 'migration in' canceled",
                                str1: "job 'migration in' canceled")
            default:
                break
            }
            await waitMigrationEvent(timeout: .milliseconds(delay))
            delay = min(delay * 2, 200)
        }
    }

    /// The client that prepared this incoming migration left before Finish (libvirt's autodestroy).
    func abandonIncoming() async {
        guard jobs.async == .migrationIn, jobs.phase == .prepare else { return }
        process?.note("the client that prepared the incoming migration has gone; destroying the domain")
        await migrationCancelIncoming()
    }

    /// Finish with `cancelled` (destination): the guest that was being received is stopped (STOPPED/FAILED).
    func migrationCancelIncoming() async {
        guard jobs.async == .migrationIn else { return }
        endAsyncJob()
        await teardown(.failed, emitEvent: true)
    }

    /// An outgoing migration a previous daemon left in flight, recovered from the phase in the status file as
    /// libvirt's `qemuProcessRecoverMigrationOut` does: before the stream completed, QEMU's migration is
    /// cancelled and a guest paused for it runs again; once QEMU completed (perform3_done, confirm3), the guest
    /// stays paused (the destination may run it); in post-copy it is marked failed post-copy.
    func recoverOutgoingMigration(phase: QEMUJobPhase, _ mon: QMPMonitor, _ proc: QEMUProcess) async {
        let q = try? await mon.execute("query-migrate")
        let qs = q?["status"]?.stringValue ?? "none"
        proc.note("reconnect: an outgoing migration was in flight (phase \(phase.rawValue), QEMU \(qs))")
        if qs.hasPrefix("postcopy") || status.reason == PausedReason.postcopy.rawValue && status.state == .paused {
            status = .paused(.postcopyFailed)
            raise(.suspended(.postcopyFailed))
            return
        }
        switch phase {
        case .perform3Done, .confirm3:
            if qs == "completed" {
                proc.note("reconnect: migration finished but the destination's outcome is unknown; the guest stays paused")
                return
            }
            fallthrough
        default:
            if ["active", "setup", "pre-switchover", "device"].contains(qs) {
                _ = try? await mon.execute("migrate_cancel")
            }
            if status.state == .paused && (status.reason == PausedReason.migration.rawValue
                                            || status.reason == PausedReason.unknown.rawValue) {
                resumeReason = .migrationCanceled
                if (try? await mon.execute("cont")) != nil { setRunning(.migrationCanceled) }
            }
        }
    }
}

extension QEMUJobInfo {
    /// The memory counters, downtime and setup time of a cookie's `<statistics>`.
    mutating func apply(_ s: QEMUMigrationCookie.Statistics) {
        for (k, v) in s.values {
            switch k {
            case "downtime": downtimeMs = v
            case "setup_time": setupTimeMs = v
            case "memory_total": memoryTotal = v
            case "memory_processed": memoryProcessed = v
            case "memory_remaining": memoryRemaining = v
            case "memory_bps": memoryBps = v
            case "memory_constant": memoryConstant = v
            case "memory_normal": memoryNormal = v
            case "memory_normal_bytes": memoryNormalBytes = v
            case "memory_dirty_rate": memoryDirtyRate = v
            case "memory_iteration": memoryIteration = v
            case "memory_postcopy_requests": memoryPostcopyRequests = v
            case "memory_page_size": memoryPageSize = v
            default: break
            }
        }
    }
}

/// Recovery of a failed post-copy migration (VIR_MIGRATE_POSTCOPY_RESUME with VIR_MIGRATE_POSTCOPY), the same
/// five phases on the same jobs: Begin checks the source is in failed post-copy, Prepare has the destination
/// QEMU listen again (`migrate-recover`), Perform has the source resume (`migrate` with resume), Finish waits
/// for `completed`, Confirm completes as after any migration.
extension QEMUDomainObject {
    private func postcopyPausedCheck(_ mon: QMPMonitor) async throws(VirtError) {
        let q = try await mon.execute("query-migrate")
        guard q["status"]?.stringValue == "postcopy-paused" else {
            throw VirtError.operationInvalid("QEMU reports migration is still running", domain: .qemu)
        }
    }

    private func canResume(_ job: QEMUAsyncJob, flags: MigrateFlags) throws(VirtError) {
        guard flags.contains(.postcopy) else {
            throw VirtError(.argumentUnsupported, domain: .qemu,
                            "argument unsupported: resuming failed post-copy migration requires post-copy to be enabled",
                            str1: "resuming failed post-copy migration requires post-copy to be enabled")
        }
        guard jobs.async == job, migration.postcopyActive else {
            throw VirtError.operationInvalid("migration of domain \(name) is not in post-copy phase", domain: .qemu)
        }
        switch jobs.phase {
        case .postcopyFailed: return
        case .beginResume, .performResume, .prepareResume, .finishResume, .confirmResume:
            throw VirtError.operationInvalid("resuming failed post-copy migration of domain \(name) already in progress",
                                             domain: .qemu)
        default:
            throw VirtError.operationInvalid("post-copy migration of domain \(name) has not failed", domain: .qemu)
        }
    }

    func resumeBegin(flags: MigrateFlags, params: [TypedParam], host: QEMUMigrationHost,
                     _ mon: QMPMonitor) async throws(VirtError) -> (xml: String, cookie: [UInt8]) {
        try canResume(.migrationOut, flags: flags)
        try await postcopyPausedCheck(mon)
        migration.flags = flags
        migration.params = params
        setJobPhase(.beginResume)
        var cookie = ownCookie(host)
        cookie.capabilities = migration.supportedCaps.map { ($0, $0 == "pause-before-switchover") }
        return ((runDefinition ?? definition).formatXML(), cookie.encoded())
    }

    /// Prepare (destination) of a recovery: QEMU listens for the source again on `listen`.
    func resumePrepare(flags: MigrateFlags, listen: String) async throws(VirtError) {
        guard let mon = monitor, isActive else {
            throw VirtError.operationInvalid("domain is not running", domain: .qemu)
        }
        try canResume(.migrationIn, flags: flags)
        // The destination's main loop may be blocked on a page that never came: the status comes from QEMU's
        // events and `migrate-recover` goes out of band, as libvirt does.
        guard migration.lastStatus == "postcopy-paused" else {
            throw VirtError.operationInvalid("QEMU reports migration is still running", domain: .qemu)
        }
        setJobPhase(.prepareResume)
        do throws(VirtError) {
            try await mon.executeOutOfBand("migrate-recover", arguments: ["uri": .string(listen)])
        } catch {
            setJobPhase(.postcopyFailed)
            throw error
        }
    }

    func resumePerform(uri: String, host: QEMUMigrationHost) async throws(VirtError) -> [UInt8] {
        guard let mon = monitor, isActive else {
            throw VirtError.operationInvalid("domain is not running", domain: .qemu)
        }
        setJobPhase(.performResume)
        do throws(VirtError) {
            if let pb = migration.params.uint64(MigrateParam.bandwidthPostcopy) {
                try await mon.execute("migrate-set-parameters",
                                      arguments: ["max-postcopy-bandwidth": .int(Int64(clamping: pb * 1_048_576))])
            }
            try await mon.execute("migrate", arguments: ["uri": .string(Self.qemuURI(uri)), "resume": true])
        } catch {
            setJobPhase(.postcopyFailed)
            throw error
        }
        var out = ownCookie(host)
        out.statistics = migrationStatistics(jobs.current)
        return out.encoded()
    }

    func resumeFinish(host: QEMUMigrationHost) async throws(VirtError) -> [UInt8] {
        guard let mon = monitor, isActive else {
            throw VirtError.operationInvalid("domain is not running", domain: .qemu)
        }
        setJobPhase(.finishResume)
        do throws(VirtError) {
            _ = try await waitIncoming(mon, postcopy: false)
        } catch {
            setJobPhase(.postcopyFailed)
            throw error
        }
        return await completeIncoming(host: host)
    }
}
