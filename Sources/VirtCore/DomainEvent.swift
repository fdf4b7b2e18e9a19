/// libvirt's `virDomainEventType`.
public enum DomainEventType: Int32, Sendable, CaseIterable {
    case defined = 0, undefined, started, suspended, resumed, stopped, shutdown, pmSuspended, crashed

    /// The label virsh prints in `event` output.
    public var virshLabel: String {
        switch self {
        case .defined: "Defined"
        case .undefined: "Undefined"
        case .started: "Started"
        case .suspended: "Suspended"
        case .resumed: "Resumed"
        case .stopped: "Stopped"
        case .shutdown: "Shutdown"
        case .pmSuspended: "PMSuspended"
        case .crashed: "Crashed"
        }
    }
}

public enum DefinedDetail: Int32, Sendable { case added = 0, updated, renamed, fromSnapshot }
public enum UndefinedDetail: Int32, Sendable { case removed = 0, renamed }
public enum StartedDetail: Int32, Sendable { case booted = 0, migrated, restored, fromSnapshot, wakeup }
public enum SuspendedDetail: Int32, Sendable {
    case paused = 0, migrated, ioError, watchdog, restored, fromSnapshot, apiError, postcopy, postcopyFailed
}
public enum ResumedDetail: Int32, Sendable { case unpaused = 0, migrated, fromSnapshot, postcopy, postcopyFailed }
public enum StoppedDetail: Int32, Sendable {
    case shutdown = 0, destroyed, crashed, migrated, saved, failed, fromSnapshot
}
public enum ShutdownDetail: Int32, Sendable { case finished = 0, guest, host }
public enum PMSuspendedDetail: Int32, Sendable { case memory = 0, disk }
public enum CrashedDetail: Int32, Sendable { case panicked = 0, crashLoaded }

/// A lifecycle event: libvirt's event type and detail numbers.
public struct LifecycleEvent: Sendable, Hashable {
    public var type: DomainEventType
    public var detail: Int32

    public init(_ type: DomainEventType, detail: Int32) {
        self.type = type
        self.detail = detail
    }

    public static func defined(_ d: DefinedDetail) -> Self { .init(.defined, detail: d.rawValue) }
    public static func undefined(_ d: UndefinedDetail) -> Self { .init(.undefined, detail: d.rawValue) }
    public static func started(_ d: StartedDetail) -> Self { .init(.started, detail: d.rawValue) }
    public static func suspended(_ d: SuspendedDetail) -> Self { .init(.suspended, detail: d.rawValue) }
    public static func resumed(_ d: ResumedDetail) -> Self { .init(.resumed, detail: d.rawValue) }
    public static func stopped(_ d: StoppedDetail) -> Self { .init(.stopped, detail: d.rawValue) }
    public static func shutdown(_ d: ShutdownDetail) -> Self { .init(.shutdown, detail: d.rawValue) }
    public static func pmSuspended(_ d: PMSuspendedDetail) -> Self { .init(.pmSuspended, detail: d.rawValue) }
    public static func crashed(_ d: CrashedDetail) -> Self { .init(.crashed, detail: d.rawValue) }

    /// The detail label virsh prints after the event label (`virshDomainEventDetailToString`).
    public var virshDetailLabel: String {
        let table: [String]
        switch type {
        case .defined: table = ["Added", "Updated", "Renamed", "Snapshot"]
        case .undefined: table = ["Removed", "Renamed"]
        case .started: table = ["Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"]
        case .suspended:
            table = ["Paused", "Migrated", "I/O Error", "Watchdog", "Restored", "Snapshot", "API error", "Post-copy",
                     "Post-copy Error"]
        case .resumed: table = ["Unpaused", "Migrated", "Snapshot", "Post-copy", "Post-copy Error"]
        case .stopped: table = ["Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot"]
        case .shutdown: table = ["Finished", "Finished after guest request", "Finished after host request"]
        case .pmSuspended: table = ["Memory", "Disk"]
        case .crashed: table = ["Panicked", "Crashloaded"]
        }
        let i = Int(detail)
        return i >= 0 && i < table.count ? table[i] : "unknown"
    }
}

/// libvirt's `virDomainEventID`.
public enum DomainEventID: Int32, Sendable, CaseIterable {
    case lifecycle = 0, reboot, rtcChange, watchdog, ioError, graphics, ioErrorReason, controlError, blockJob,
        diskChange, trayChange, pmWakeup, pmSuspend, balloonChange, pmSuspendDisk, deviceRemoved, blockJob2,
        tunable, agentLifecycle, deviceAdded, migrationIteration, jobCompleted, deviceRemovalFailed,
        metadataChange, blockThreshold, memoryFailure, memoryDeviceSizeChange
}

/// One event raised by a driver for a domain.
public struct DomainEventRecord: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case lifecycle(LifecycleEvent)
        case reboot
        case rtcChange(utcOffset: Int64)
        case watchdog(action: Int32)
        case ioError(srcPath: String, devAlias: String, action: Int32)
        /// The same with its reason: "enospc" when the host ran out of space, else "" (as libvirt's QEMU driver).
        case ioErrorReason(srcPath: String, devAlias: String, action: Int32, reason: String)
        case balloonChange(actualKiB: UInt64)
        case deviceRemoved(alias: String)
        case deviceAdded(alias: String)
        /// QEMU refused a device removal (the guest rejected the unplug).
        case deviceRemovalFailed(alias: String)
        /// A removable disk's tray opened (reason 0) or closed (1).
        case trayChange(alias: String, reason: Int32)
        case metadataChange(type: Int32, namespaceURI: String?)
        /// A job (save, outgoing migration, dump) completed, with its statistics (`virDomainGetJobStats`).
        case jobCompleted(params: [TypedParam])
        case migrationIteration(iteration: Int32)
        /// The guest agent connected or disconnected: `virConnectDomainEventAgentLifecycleState` (1 connected,
        /// 2 disconnected) and `…Reason` (0 unknown, 1 domain started, 2 channel event).
        case agentLifecycle(state: Int32, reason: Int32)
        /// Tuning changed on the running domain (`cputune.vcpupinN`, `cputune.emulatorpin`, …).
        case tunable(params: [TypedParam])
        /// A virtio-mem device's size in the guest changed (its `<current>`, KiB).
        case memoryDeviceSizeChange(alias: String, sizeKiB: UInt64)
        /// The guest woke up from a power management suspend (QMP WAKEUP); reason 0.
        case pmWakeup(reason: Int32)
        /// The guest suspended to memory (QMP SUSPEND); reason 0.
        case pmSuspend(reason: Int32)
        /// The guest suspended to disk (QMP SUSPEND_DISK); reason 0.
        case pmSuspendDisk(reason: Int32)
        /// A write threshold set with virDomainSetBlockThreshold was crossed: the device (`vda` or `vda[N]`), the
        /// image's path, the threshold and how far past it the write went (bytes).
        case blockThreshold(dev: String, path: String?, threshold: UInt64, excess: UInt64)
        /// A block job of disk `path` (its source) ended or is ready: `virDomainBlockJobType`, `…BlockStatus`.
        case blockJob(path: String, type: Int32, status: Int32)
        /// The same, naming the disk by its target (`vda`).
        case blockJob2(disk: String, type: Int32, status: Int32)
    }

    public var domain: DomainRef
    public var kind: Kind

    public init(domain: DomainRef, kind: Kind) {
        self.domain = domain
        self.kind = kind
    }

    /// The event ID this record is delivered under.
    public var eventID: DomainEventID {
        switch kind {
        case .lifecycle: .lifecycle
        case .reboot: .reboot
        case .rtcChange: .rtcChange
        case .watchdog: .watchdog
        case .ioError: .ioError
        case .ioErrorReason: .ioErrorReason
        case .balloonChange: .balloonChange
        case .deviceRemoved: .deviceRemoved
        case .deviceAdded: .deviceAdded
        case .deviceRemovalFailed: .deviceRemovalFailed
        case .trayChange: .trayChange
        case .metadataChange: .metadataChange
        case .jobCompleted: .jobCompleted
        case .migrationIteration: .migrationIteration
        case .agentLifecycle: .agentLifecycle
        case .tunable: .tunable
        case .memoryDeviceSizeChange: .memoryDeviceSizeChange
        case .pmWakeup: .pmWakeup
        case .pmSuspend: .pmSuspend
        case .pmSuspendDisk: .pmSuspendDisk
        case .blockThreshold: .blockThreshold
        case .blockJob: .blockJob
        case .blockJob2: .blockJob2
        }
    }
}
