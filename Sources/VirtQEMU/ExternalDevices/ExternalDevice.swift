import VirtCore

/// What a status file keeps of a running external device, so a restarted daemon can adopt it.
public struct ExternalDeviceRecord: Sendable, Hashable, Codable {
    /// The device type, e.g. `swtpm`.
    public var type: String
    /// The device's alias in the domain (e.g. `tpm0`).
    public var alias: String
    /// The helper process.
    public var pid: Int32
    /// Device-specific facts, e.g. swtpm's socket and `canMigrateSharedStorage`.
    public var details: [String: String]

    /// A record of a running helper.
    public init(type: String, alias: String, pid: Int32, details: [String: String] = [:]) {
        self.type = type
        self.alias = alias
        self.pid = pid
        self.details = details
    }
}

/// A helper process that runs beside QEMU and is started before it (swtpm; later virtiofsd, passt, slirp):
/// libvirt's external devices (`qemu_extdevice.c`). The start path calls, in order:
///
/// 1. ``prepareHost(_:)`` while preparing the host (directories, log files, ownership);
/// 2. ``start(_:)`` after that and before QEMU is launched;
/// 3. ``stop(_:)`` once QEMU has ended (or when a start fails after ``start(_:)``), then ``cleanupHost()``.
///
/// Every step is idempotent, so one teardown can follow a failure at any phase. ``record`` goes into the
/// status file; after a daemon restart ``adopt(_:)`` takes the running helper over again.
public protocol ExternalDevice: Sendable {
    /// The device type, e.g. `swtpm`.
    var type: String { get }

    /// Prepares the host: directories and files the helper needs, with their owners.
    func prepareHost(_ kind: QEMUStartKind) async throws(VirtError)

    /// Starts the helper for a QEMU about to start as `kind`; on error nothing of this start is left running.
    func start(_ kind: QEMUStartKind) async throws(VirtError)

    /// Stops the helper (if it runs) and undoes what start did, as `kind` says; best effort.
    func stop(_ kind: QEMUStopKind) async

    /// Removes what ``prepareHost(_:)`` and ``start(_:)`` left at runtime paths (sockets, pid files); keeps
    /// persistent state.
    func cleanupHost() async

    /// The running helper, for the status file; nil when it does not run.
    var record: ExternalDeviceRecord? { get async }

    /// Takes over a helper started by an earlier daemon (reconnect). Throws when the recorded process is no
    /// longer this device's helper.
    func adopt(_ record: ExternalDeviceRecord) async throws(VirtError)
}
