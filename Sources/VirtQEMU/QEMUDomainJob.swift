import Foundation
import VirtCore

/// libvirt's synchronous jobs (`virDomainJob`): one at a time per domain; each state-changing call runs as one.
public enum QEMUJob: Int, Sendable, Codable, CaseIterable {
    case none = 0, query, destroy, suspend, modify, abort, migrationOp, modifyMigrationSafe, async, asyncNested

    /// `JOB_MASK(j)`: the bit this job has in an async job's allowed mask.
    public var mask: UInt32 { rawValue == 0 ? 0 : 1 << UInt32(rawValue - 1) }

    /// libvirt's name of the job (`virDomainJobTypeToString`).
    public var name: String {
        switch self {
        case .none: "none"
        case .query: "query"
        case .destroy: "destroy"
        case .suspend: "suspend"
        case .modify: "modify"
        case .abort: "abort"
        case .migrationOp: "migration operation"
        case .modifyMigrationSafe: "modify migration safe"
        case .async: "async"
        case .asyncNested: "async nested"
        }
    }
}

/// libvirt's asynchronous jobs (`virDomainAsyncJob`): long operations during which only the jobs their
/// mask allows may run.
public enum QEMUAsyncJob: Int, Sendable, Codable, CaseIterable {
    case none = 0, migrationOut, migrationIn, save, dump, snapshot, start, backup

    /// The sync jobs allowed alongside (libvirt always adds DESTROY).
    public var allowedMask: UInt32 {
        let m: UInt32
        switch self {
        case .none: m = 0
        case .migrationOut: m = 0x77
        case .migrationIn: m = 0x42
        case .save, .dump: m = 0x13
        case .start, .snapshot: m = 0x2
        case .backup: m = 0x1f
        }
        return m | QEMUJob.destroy.mask
    }

    /// libvirt's name (`virDomainAsyncJobTypeToString`), as in errors ("job 'domain save' …" uses `label`).
    public var name: String {
        switch self {
        case .none: "none"
        case .migrationOut: "migration out"
        case .migrationIn: "migration in"
        case .save: "save"
        case .dump: "dump"
        case .snapshot: "snapshot"
        case .start: "start"
        case .backup: "backup"
        }
    }

    /// The job's name in "operation aborted: job '…' canceled by client" and "job '…' failed".
    public var label: String {
        switch self {
        case .migrationOut: "migration out"
        case .migrationIn: "migration in"
        case .save: "domain save"
        case .dump: "domain core dump"
        case .snapshot: "snapshot"
        case .start: "start"
        case .backup: "backup"
        case .none: "none"
        }
    }
}

/// `virDomainJobOperation`.
public enum QEMUJobOperation: Int32, Sendable, Codable {
    case unknown = 0, start, save, restore, migrationIn, migrationOut, snapshot, snapshotRevert, dump, backup,
         snapshotDelete
}

/// The phase of an async job, recorded in the status file so a restarted daemon knows what was in flight.
public enum QEMUJobPhase: String, Sendable, Codable {
    case none
    /// Save: the guest is being paused.
    case pausing
    /// Save: QEMU writes its state into the image.
    case writing
    /// Restore or incoming start: QEMU is being started.
    case launching
    /// Restore: QEMU reads the image.
    case loading
    /// Incoming migration: waiting for the stream.
    case waitingIncoming
    /// Migration phases (libvirt's `qemuMigrationJobPhase`).
    case begin3, perform3, perform3Done = "perform3_done", confirm3Cancelled = "confirm3_cancelled", confirm3
    case prepare, finish3, postcopyFailed = "postcopy_failed"
    case beginResume = "begin_resume", performResume = "perform_resume", confirmResume = "confirm_resume"
    case prepareResume = "prepare_resume", finishResume = "finish_resume"
}

/// `virDomainJobType` as GET_JOB_INFO reports it.
public enum QEMUJobType: Int32, Sendable {
    case none = 0, bounded, unbounded, completed, failed, cancelled
}

/// What is known about one job for `domjobinfo` (GET_JOB_INFO / GET_JOB_STATS).
public struct QEMUJobInfo: Sendable, Equatable {
    public var type: QEMUJobType
    public var operation: QEMUJobOperation
    public var elapsedMs: UInt64
    public var memoryTotal: UInt64 = 0
    public var memoryProcessed: UInt64 = 0
    public var memoryRemaining: UInt64 = 0
    public var memoryBps: UInt64 = 0
    public var memoryConstant: UInt64 = 0
    public var memoryNormal: UInt64 = 0
    public var memoryNormalBytes: UInt64 = 0
    public var memoryDirtyRate: UInt64 = 0
    public var memoryIteration: UInt64 = 0
    public var memoryPageSize: UInt64 = 0
    public var memoryPostcopyRequests: UInt64 = 0
    public var downtimeMs: UInt64?
    public var setupTimeMs: UInt64?
    /// A memory-only dump reports libvirt's MEMDUMP statistics: `query-dump`'s total and completed bytes
    /// (`dumpProgress`, nil before QEMU reported them).
    public var isMemoryDump = false
    public var dumpProgress: DumpProgress?
    /// A backup reports libvirt's disk figures (qemuDomainBackupJobDataToParams) and, once ended, whether it
    /// succeeded and its error.
    public var backup: BackupProgress?
    public var success: Bool?
    public var errmsg: String?

    public struct BackupProgress: Sendable, Equatable {
        public var total: UInt64
        public var transferred: UInt64
        /// Pull mode: the figures are the scratch images' (temporary space used and its total).
        public var pull = false
    }

    public struct DumpProgress: Sendable, Equatable {
        public var total: UInt64
        public var completed: UInt64
    }

    public init(type: QEMUJobType, operation: QEMUJobOperation, elapsedMs: UInt64) {
        self.type = type
        self.operation = operation
        self.elapsedMs = elapsedMs
    }

    /// The typed parameters of `virDomainGetJobStats`, in libvirt's order (save and dump stop after the memory
    /// fields).
    public var params: [TypedParam] {
        var p: [TypedParam] = [TypedParam("operation", .int(operation.rawValue)),
                               TypedParam("time_elapsed", .ullong(elapsedMs))]
        guard type != .none else { return p }
        if operation == .backup {
            if let b = backup, b.total > 0 || b.transferred > 0 {
                if b.pull {
                    p += [TypedParam("disk_temp_used", .ullong(b.transferred)), TypedParam("disk_temp_total", .ullong(b.total))]
                } else {
                    p += [TypedParam("disk_total", .ullong(b.total)), TypedParam("disk_processed", .ullong(b.transferred)),
                          TypedParam("disk_remaining", .ullong(b.total &- b.transferred))]
                }
            }
            if let success { p.append(TypedParam("success", .boolean(success))) }
            if let errmsg { p.append(TypedParam("errmsg", .string(errmsg))) }
            return p
        }
        if isMemoryDump {
            // libvirt's qemuDomainDumpJobDataToParams.
            if let dump = dumpProgress {
                p += [TypedParam("memory_total", .ullong(dump.total)),
                      TypedParam("memory_processed", .ullong(dump.completed)),
                      TypedParam("memory_remaining", .ullong(dump.total &- dump.completed))]
            }
            return p
        }
        if let d = downtimeMs { p.append(TypedParam("downtime", .ullong(d))) }
        if let s = setupTimeMs { p.append(TypedParam("setup_time", .ullong(s))) }
        p += [TypedParam("data_total", .ullong(memoryTotal)), TypedParam("data_processed", .ullong(memoryProcessed)),
              TypedParam("data_remaining", .ullong(memoryRemaining)),
              TypedParam("memory_total", .ullong(memoryTotal)),
              TypedParam("memory_processed", .ullong(memoryProcessed)),
              TypedParam("memory_remaining", .ullong(memoryRemaining))]
        if memoryBps != 0 { p.append(TypedParam("memory_bps", .ullong(memoryBps))) }
        p += [TypedParam("memory_constant", .ullong(memoryConstant)),
              TypedParam("memory_normal", .ullong(memoryNormal)),
              TypedParam("memory_normal_bytes", .ullong(memoryNormalBytes)),
              TypedParam("memory_dirty_rate", .ullong(memoryDirtyRate)),
              TypedParam("memory_iteration", .ullong(memoryIteration)),
              TypedParam("memory_postcopy_requests", .ullong(memoryPostcopyRequests))]
        if memoryPageSize != 0 { p.append(TypedParam("memory_page_size", .ullong(memoryPageSize))) }
        return p
    }

    /// Fills the memory fields from a `query-migrate` reply.
    mutating func update(fromQueryMigrate q: JSONValue) {
        if let ram = q["ram"] {
            memoryTotal = ram["total"]?.uint64Value ?? memoryTotal
            memoryProcessed = ram["transferred"]?.uint64Value ?? memoryProcessed
            memoryRemaining = ram["remaining"]?.uint64Value ?? memoryRemaining
            memoryConstant = ram["duplicate"]?.uint64Value ?? memoryConstant
            memoryNormal = ram["normal"]?.uint64Value ?? memoryNormal
            memoryNormalBytes = ram["normal-bytes"]?.uint64Value ?? memoryNormalBytes
            memoryDirtyRate = ram["dirty-pages-rate"]?.uint64Value ?? memoryDirtyRate
            memoryIteration = ram["dirty-sync-count"]?.uint64Value ?? memoryIteration
            memoryPageSize = ram["page-size"]?.uint64Value ?? memoryPageSize
            memoryPostcopyRequests = ram["postcopy-requests"]?.uint64Value ?? memoryPostcopyRequests
            let mbps = ram["mbps"]?.doubleValue ?? 0
            memoryBps = UInt64(max(0, mbps) * 1_000_000 / 8)
        }
        if let d = q["downtime"]?.uint64Value { downtimeMs = d }
        if let s = q["setup-time"]?.uint64Value { setupTimeMs = s }
    }
}

/// The job state of one domain: libvirt's job object (the sync job, the async job with its mask and phase,
/// their owners, and the waiters).
struct QEMUJobState: Sendable {
    /// How long a job waits for another to end before OPERATION_TIMEOUT (libvirt's VIR_JOB_WAIT_TIME).
    static let waitTime: Duration = .seconds(30)

    var active: QEMUJob = .none
    var activeOwner = ""
    var async: QEMUAsyncJob = .none
    var asyncOwner = ""
    var asyncOperation: QEMUJobOperation = .unknown
    var phase: QEMUJobPhase = .none
    var asyncStarted: ContinuousClock.Instant?
    var asyncStartedWall = Date()
    /// Set by ABORT: the async job stops at its next step.
    var abortRequested = false
    /// The last completed async job's statistics (`domjobinfo --completed`).
    var completed: QEMUJobInfo?
    /// Live statistics of the running async job.
    var current: QEMUJobInfo?

    /// Whether `job` may start now.
    func allows(_ job: QEMUJob) -> Bool {
        if active != .none { return false }
        if async != .none && async.allowedMask & job.mask == 0 { return false }
        return true
    }

    /// The error of a job that waited `waitTime` in vain (libvirt's words).
    func timeoutError() -> VirtError {
        let owner = async != .none && active == .none ? asyncOwner : activeOwner
        let text = owner.isEmpty ? "cannot acquire state change lock"
            : "cannot acquire state change lock (held by monitor=\(owner))"
        return VirtError(.operationTimeout, domain: .qemu, "Timed out during operation: \(text)", str1: text)
    }
}

/// One waiter for the job lock: resumed when the job may be tried again, or with false at the deadline.
final class QEMUJobWaiter: Sendable {
    let continuation: CheckedContinuation<Bool, Never>
    init(_ c: CheckedContinuation<Bool, Never>) { continuation = c }
}

extension QEMUDomainObject {
    /// Begins sync job `job` for API `owner`, waiting up to 30 s for the running job (or an async job whose
    /// mask excludes it) to end.
    func beginJob(_ job: QEMUJob, owner: String) async throws(VirtError) {
        let deadline = ContinuousClock.now + QEMUJobState.waitTime
        while !jobs.allows(job) {
            if ContinuousClock.now >= deadline { throw jobs.timeoutError() }
            await waitForJobChange(until: deadline)
        }
        jobs.active = job
        jobs.activeOwner = owner
        if job == .destroy { writeStatus() }
    }

    /// Ends the sync job and wakes the waiters.
    func endJob() {
        jobs.active = .none
        jobs.activeOwner = ""
        wakeJobWaiters()
    }

    /// Runs `body` as sync job `job`.
    func withJob<T: Sendable>(_ job: QEMUJob, _ owner: String,
                              _ body: () async throws(VirtError) -> T) async throws(VirtError) -> T {
        try await beginJob(job, owner: owner)
        defer { endJob() }
        return try await body()
    }

    /// Begins async job `job` (no other async job, no sync job may run), recorded in the status file.
    func beginAsyncJob(_ job: QEMUAsyncJob, operation: QEMUJobOperation, owner: String,
                       phase: QEMUJobPhase = .none) async throws(VirtError) {
        let deadline = ContinuousClock.now + QEMUJobState.waitTime
        while jobs.active != .none || jobs.async != .none {
            if ContinuousClock.now >= deadline { throw jobs.timeoutError() }
            await waitForJobChange(until: deadline)
        }
        jobs.async = job
        jobs.asyncOwner = owner
        jobs.asyncOperation = operation
        jobs.phase = phase
        jobs.abortRequested = false
        jobs.asyncStarted = .now
        jobs.asyncStartedWall = Date()
        jobs.current = QEMUJobInfo(type: .unbounded, operation: operation, elapsedMs: 0)
        writeStatus()
    }

    /// Sets the async job's phase (written to the status file).
    func setJobPhase(_ phase: QEMUJobPhase) {
        jobs.phase = phase
        writeStatus()
    }

    /// Ends the async job; `completed` becomes what `domjobinfo --completed` reports.
    func endAsyncJob(completed: QEMUJobInfo? = nil) {
        if let completed { jobs.completed = completed }
        jobs.async = .none
        jobs.asyncOwner = ""
        jobs.asyncOperation = .unknown
        jobs.phase = .none
        jobs.abortRequested = false
        jobs.asyncStarted = nil
        jobs.current = nil
        writeStatus()
        wakeJobWaiters()
    }

    /// Milliseconds since the async job began.
    var asyncElapsedMs: UInt64 {
        guard let s = jobs.asyncStarted else { return 0 }
        let d = ContinuousClock.now - s
        return UInt64(d.components.seconds) * 1000 + UInt64(d.components.attoseconds / 1_000_000_000_000_000)
    }

    private func waitForJobChange(until deadline: ContinuousClock.Instant) async {
        let id = UUID()
        _ = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            jobWaiters[id] = QEMUJobWaiter(c)
            Task { [weak self] in
                try? await Task.sleep(until: deadline, clock: .continuous)
                await self?.expireJobWaiter(id)
            }
        }
    }

    private func expireJobWaiter(_ id: UUID) {
        jobWaiters.removeValue(forKey: id)?.continuation.resume(returning: false)
    }

    func wakeJobWaiters() {
        let w = jobWaiters
        jobWaiters = [:]
        for (_, waiter) in w { waiter.continuation.resume(returning: true) }
    }
}
