import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Host-wide swtpm settings (qemu.conf's `swtpm_user`, `swtpm_group`, `shared_filesystems`; the binaries and
/// their capabilities; QEMU's user, which gets the control socket; the security driver's TPM hook).
public struct SwtpmHostConfig: Sendable {
    /// The swtpm binary (`/usr/bin/swtpm`).
    public var swtpmBinary: String
    /// The swtpm_setup binary (`/usr/bin/swtpm_setup`).
    public var swtpmSetupBinary: String
    /// The user and group swtpm and swtpm_setup run as (they own the state and the log).
    public var swtpmUID: uid_t
    public var swtpmGID: gid_t
    /// QEMU's user and group: the control socket is given to them.
    public var qemuUID: uid_t
    public var qemuGID: gid_t
    /// qemu.conf's `shared_filesystems`: paths to treat as shared whatever their filesystem.
    public var sharedFilesystems: [String]
    /// What the installed swtpm and swtpm_setup support (``SwtpmCapabilities/cached(swtpm:swtpmSetup:)``).
    public var capabilities: SwtpmCapabilities
    /// The security driver's TPM hook (``NoOpTPMStateLabeler`` for DAC).
    public var labeler: any TPMStateLabeler
    /// The daemon runs as root (libvirt's `privileged`).
    public var privileged: Bool
    /// How long swtpm may take to create its control socket.
    public var socketTimeout: Duration
    /// Where `<encryption secret='UUID'/>` passphrases come from (the daemon's secret driver); nil: encrypted
    /// TPM state cannot start.
    public var secrets: (any SecretDriver)?

    /// Settings as given; ``defaultIDs(user:group:)`` gives libvirt's swtpm user and group.
    public init(swtpmBinary: String = "/usr/bin/swtpm", swtpmSetupBinary: String = "/usr/bin/swtpm_setup",
                swtpmUID: uid_t, swtpmGID: gid_t, qemuUID: uid_t, qemuGID: gid_t, sharedFilesystems: [String] = [],
                capabilities: SwtpmCapabilities, labeler: any TPMStateLabeler = NoOpTPMStateLabeler(),
                privileged: Bool = getuid() == 0, socketTimeout: Duration = .seconds(5),
                secrets: (any SecretDriver)? = nil) {
        self.secrets = secrets
        self.swtpmBinary = swtpmBinary
        self.swtpmSetupBinary = swtpmSetupBinary
        self.swtpmUID = swtpmUID
        self.swtpmGID = swtpmGID
        self.qemuUID = qemuUID
        self.qemuGID = qemuGID
        self.sharedFilesystems = sharedFilesystems
        self.capabilities = capabilities
        self.labeler = labeler
        self.privileged = privileged
        self.socketTimeout = socketTimeout
    }

    /// libvirt's default swtpm user and group: `tss` where that user (group) exists, else root; a configured
    /// name (or `+N`) wins. An unprivileged daemon runs swtpm as itself.
    public static func defaultIDs(user: String? = nil, group: String? = nil) throws(VirtError) -> (uid_t, gid_t) {
        guard getuid() == 0 else { return (getuid(), getgid()) }
        var uid: uid_t = 0
        var gid: gid_t = 0
        if let user {
            guard let (u, g) = QEMUSecurityConfig.lookupUser(user) else {
                throw VirtError(.internalError, domain: .conf, "internal error: Failed to parse user '\(user)'")
            }
            uid = u
            gid = g
        } else if let tss = UserDatabase.user(named: "tss") {
            let (u, g) = (tss.uid, tss.gid)
            uid = u
            gid = g
        }
        if let group {
            guard let g = QEMUSecurityConfig.lookupGroup(group) else {
                throw VirtError(.internalError, domain: .conf, "internal error: Failed to parse group '\(group)'")
            }
            gid = g
        } else if user == nil, let g = UserDatabase.group(named: "tss") {
            gid = g.gid
        }
        return (uid, gid)
    }

    /// A binary in PATH (or the usual system directories), e.g. `swtpm`.
    public static func findBinary(_ name: String) -> String? {
        let env = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = env.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/bin"]
        return dirs.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
    }
}

/// One `<tpm><backend type='emulator'>` of a domain: swtpm run for it as libvirt runs it (state manufactured by
/// swtpm_setup, swtpm started as the swtpm user with its control socket given to QEMU), by the rules of
/// ``SwtpmPlan``.
public actor SwtpmDevice: ExternalDevice {
    /// `swtpm`.
    public nonisolated let type = "swtpm"
    /// The TPM's alias (`tpm0`).
    public nonisolated let alias: String
    /// The domain's name (names the log).
    public nonisolated let vmName: String
    /// The domain's UUID (names the state folder).
    public nonisolated let vmUUID: VirtUUID
    /// The TPM version emulated (libvirt's default applied).
    public nonisolated let version: TPMVersion
    /// The `<backend type='emulator'>` settings.
    public nonisolated let emulator: TPMEmulator
    /// Host-wide settings.
    public nonisolated let config: SwtpmHostConfig
    /// The state directory (`…/swtpm/UUID/tpm2`).
    public nonisolated let statePath: String
    /// The swtpm log (swtpm_setup's output goes there too).
    public nonisolated let logPath: String
    /// The control socket QEMU connects to (`-chardev socket,path=…`).
    public nonisolated let socketPath: String
    /// swtpm's pid file (next to the socket).
    public nonisolated let pidfilePath: String
    /// The directory holding the socket and the pid file.
    public nonisolated let runDir: String

    private var process: QEMUProcess?
    /// The plan of the last start.
    public private(set) var plan: SwtpmPlan?
    /// Whether the state is on shared storage (as judged at start or adoption).
    public private(set) var stateShared = false
    private var canMigrateSharedStorage = false
    /// Labels were set (by a start that got that far, or by the daemon that started an adopted swtpm).
    private var labelled: (state: Bool, log: Bool)?

    /// A device for `tpm` of the domain `name`/`uuid` (with the running domain's `id`), its files where
    /// `paths` puts them.
    public init(tpm: TPM, alias: String? = nil, vmName: String, vmUUID: VirtUUID, arch: String?, domainID: Int32,
                paths: QEMUDriverPaths, config: SwtpmHostConfig) throws(VirtError) {
        guard case .emulator(let e) = tpm.backend else {
            throw VirtError.internalError("swtpm serves only TPMs with an emulator backend", domain: .qemu)
        }
        self.alias = alias ?? tpm.info.alias ?? "tpm0"
        self.vmName = vmName
        self.vmUUID = vmUUID
        self.emulator = e
        self.version = SwtpmPlan.effectiveVersion(of: e, model: tpm.model, arch: arch)
        self.config = config
        self.statePath = paths.swtpmStatePath(uuid: "\(vmUUID)", version: version)
        self.logPath = paths.swtpmLogFile(name: vmName)
        self.socketPath = paths.swtpmSocket(id: domainID, name: vmName)
        self.pidfilePath = paths.swtpmPidFile(id: domainID, name: vmName)
        self.runDir = paths.swtpmRunDir
    }

    /// The devices of every emulated TPM of `def` (libvirt allows one emulator TPM per domain).
    public static func devices(for def: DomainDefinition, domainID: Int32, paths: QEMUDriverPaths,
                               config: SwtpmHostConfig) throws(VirtError) -> [SwtpmDevice] {
        var out: [SwtpmDevice] = []
        for (i, t) in def.devices.tpms.enumerated() {
            guard case .emulator = t.backend else { continue }
            out.append(try SwtpmDevice(tpm: t, alias: t.info.alias ?? "tpm\(i)", vmName: def.name, vmUUID: def.uuid,
                                       arch: def.os.arch, domainID: domainID, paths: paths, config: config))
        }
        return out
    }

    /// The running swtpm's pid.
    public var pid: pid_t? { process?.pid }

    /// The running swtpm for the status file: its pid, socket, and whether it can migrate with shared state.
    public var record: ExternalDeviceRecord? {
        guard let p = process, p.exitWaiter.result == nil else { return nil }
        return ExternalDeviceRecord(type: type, alias: alias, pid: p.pid, details: [
            "socket": socketPath,
            "canMigrateSharedStorage": canMigrateSharedStorage ? "yes" : "no",
            "stateShared": stateShared ? "yes" : "no",
        ])
    }

    /// Whether swtpm was started with `--migration` (libvirt's `<swtpm can_migrate_shared_storage='yes'/>`); an
    /// outgoing migration with shared state is refused when not.
    public var canMigrate: Bool { canMigrateSharedStorage }

    /// Why this swtpm keeps its domain from being saved or migrated out, or nil: its state is on shared storage
    /// and it was not started with `--migration` (libvirt's `qemuTPMHasSharedStorage && !qemuTPMCanMigrateSharedStorage`
    /// in `qemuMigrationSrcIsAllowed`). The save, managed save and outgoing migration paths ask before pausing.
    public var migrationBlocker: VirtError? {
        guard process != nil, stateShared, !canMigrateSharedStorage else { return nil }
        return SwtpmPlan.refusalForSharedOutgoing()
    }

    // MARK: Host preparation

    /// Creates the swtpm log directory (0730, swtpm user) and log (owned by the swtpm user), and the socket
    /// directory (0770, QEMU's user and the swtpm group), as libvirt's `qemuTPMEmulatorPrepareHost`.
    public func prepareHost(_ kind: QEMUStartKind) async throws(VirtError) {
        let c = config
        // The log directory: others may enter (0711 parents), the swtpm user writes (0730).
        let logDir = (logPath as NSString).deletingLastPathComponent
        try LinuxSys.mkdirs(logDir, mode: 0o711)
        try Self.own(logDir, c.swtpmUID, c.swtpmGID, mode: 0o730)
        if access(logPath, F_OK) != 0 {
            let fd = open(logPath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw VirtError.lastSystemError("cannot create swtpm log file '\(logPath)'") }
            close(fd)
        }
        guard chown(logPath, c.swtpmUID, c.swtpmGID) == 0 else {
            throw VirtError.lastSystemError("Could not chown on swtpm logfile \(logPath)", domain: .none)
        }
        // The socket directory: QEMU's user enters, the swtpm group creates the socket there.
        try LinuxSys.mkdirs(runDir, mode: 0o755)
        try Self.own(runDir, c.qemuUID, c.swtpmGID, mode: 0o770)
    }

    // MARK: Start

    /// Ends a leftover swtpm of this domain, plans the start (``SwtpmPlan/make(_:)``: may refuse), creates the
    /// state directory, runs swtpm_setup, labels the state, starts swtpm as the swtpm user, waits for its
    /// socket and gives the socket to QEMU's user. On error, what this start did is undone (swtpm ended, labels
    /// restored, freshly created state removed when its set-up failed).
    public func start(_ kind: QEMUStartKind) async throws(VirtError) {
        await stopLeftover()
        let shared = SharedFilesystem.isShared(path: statePath, configured: config.sharedFilesystems)
        let input = SwtpmPlan.Input(
            vmName: vmName, vmUUID: vmUUID, version: version, emulator: emulator, kind: kind,
            stateInitialized: Self.isInitialized(statePath), stateShared: shared, capabilities: config.capabilities,
            statePath: statePath, logPath: logPath, socketPath: socketPath, swtpmBinary: config.swtpmBinary,
            swtpmSetupBinary: config.swtpmSetupBinary, privileged: config.privileged)
        self.stateShared = shared
        self.plan = nil
        let plan = try SwtpmPlan.make(input)
        self.plan = plan
        passphrase = plan.encrypted ? try await encryptionPassphrase() : nil
        defer { passphrase = nil }

        if plan.createStateDir { try createStorage() }
        do {
            if let a = plan.configFilesArguments { try await runSetup(a, asSwtpmUser: false) }
            if let a = plan.setupArguments { try await runSetup(a, asSwtpmUser: true) }
            if let note = plan.setupSkippedNote { QEMUProcess.appendNote(logPath, note) }
            if let a = plan.reconfigureArguments { try await runSetup(a, asSwtpmUser: true, reconfigure: true) }
        } catch {
            if plan.stateIsFresh { removeDomainStorage() }
            throw error
        }

        try config.labeler.setTPMLabels(statePath: plan.labelStateAtStart ? statePath : nil, logPath: logPath)
        labelled = (plan.labelStateAtStart, true)
        do {
            try await launch(plan)
        } catch {
            if let p = process { _ = await p.terminate(grace: .seconds(1)) }
            process = nil
            unlink(pidfilePath)
            unlink(socketPath)
            config.labeler.restoreTPMLabels(statePath: plan.labelStateAtStart ? statePath : nil, logPath: logPath)
            labelled = nil
            throw error
        }
        canMigrateSharedStorage = plan.canMigrateSharedStorage
    }

    private func launch(_ plan: SwtpmPlan) async throws(VirtError) {
        unlink(socketPath)
        // The state key and the migration key: the same passphrase, each on a pipe of its own.
        let keyFDs = try passphrasePipes(plan.encrypted ? 2 : 0)
        defer { keyFDs.forEach { close($0) } }
        let spec = ProcessLaunchSpec(binary: config.swtpmBinary, arguments: plan.swtpmArguments, logPath: logPath,
                                     pidfilePath: pidfilePath, passFDs: keyFDs, credentials: swtpmCredentials)
        let p = try QEMUProcess.launch(spec)
        process = p
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: config.socketTimeout)
        var delay = Duration.milliseconds(2)
        while !LinuxSys.isListeningUnix(socketPath) {
            if p.exitWaiter.result != nil {
                let out = p.logOutput()
                if out.isEmpty { throw VirtError(.systemError, domain: .none, "swtpm died unexpectedly") }
                throw VirtError.operationFailed("swtpm died and reported: \(Self.tail(out))")
            }
            if clock.now >= deadline {
                let what = access(socketPath, F_OK) == 0 ? "swtpm socket is not listening" : "swtpm socket did not show up"
                throw VirtError(.operationTimeout, domain: .none, "operation timed out: \(what)", str1: what)
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(50))
        }
        // QEMU connects to the socket: it gets it (libvirt's DAC labels the emulator's socket for QEMU).
        guard chown(socketPath, config.qemuUID, config.qemuGID) == 0 else {
            throw VirtError.lastSystemError("cannot give the swtpm socket '\(socketPath)' to QEMU's user")
        }
    }

    /// Runs swtpm_setup (as the swtpm user unless told otherwise); its output goes to the swtpm log.
    private func runSetup(_ arguments: [String], asSwtpmUser: Bool, reconfigure: Bool = false) async throws(VirtError) {
        let keyFDs = try passphrasePipes(arguments.contains("--pwdfile-fd") ? 1 : 0)
        defer { keyFDs.forEach { close($0) } }
        let spec = ProcessLaunchSpec(binary: config.swtpmSetupBinary, arguments: arguments, logPath: logPath,
                                     passFDs: keyFDs, credentials: asSwtpmUser ? swtpmCredentials : nil)
        let p = try QEMUProcess.launch(spec)
        let end = await p.exitWaiter.wait()
        guard end != .exited(0) else { return }
        let status: String
        switch end {
        case .exited(let c): status = "\(c)"
        case .signaled(let s): status = "killed by signal \(s)"
        case .unknown: status = "unknown"
        }
        let what = reconfigure ? "'\(config.swtpmSetupBinary) --reconfigure'" : "'\(config.swtpmSetupBinary)'"
        var detail = "Could not run \(what). exitstatus: \(status); Check error log '\(logPath)' for details."
        let out = Self.tail(p.logOutput())
        if !out.isEmpty { detail += " swtpm_setup said: \(out)" }
        throw VirtError.internalError(detail, domain: .none)
    }

    /// The passphrase of `<encryption secret='UUID'/>` during a start.
    private var passphrase: [UInt8]?

    /// The TPM secret's value, as libvirt's `virSecretGetSecretString` gets it for swtpm: the secret must exist
    /// and be a vTPM secret; a private one is fine (an internal read).
    private func encryptionPassphrase() async throws(VirtError) -> [UInt8] {
        guard let uuidText = emulator.encryptionSecret else { return [] }
        guard let secrets = config.secrets else {
            throw VirtError.configUnsupported(
                "TPM state encryption needs the secret driver of a daemon (virtd's qemu:///system); this connection has none",
                domain: .qemu)
        }
        guard let uuid = VirtUUID(string: uuidText) else {
            throw VirtError.invalidArg("malformed TPM secret uuid '\(uuidText)'", domain: .qemu)
        }
        do {
            let ref = try await secrets.lookupSecret(uuid: uuid)
            if ref.usageType != SecretUsage.vtpm("").type {
                let name = SecretUsage(type: ref.usageType, id: ref.usageID)?.typeName ?? "\(ref.usageType)"
                throw VirtError(.invalidArg, domain: .secret,
                                "invalid argument: secret with uuid \(uuid) is of type '\(name)' not expected 'vtpm' type",
                                str1: "secret with uuid \(uuid) is of type '\(name)' not expected 'vtpm' type")
            }
            return try await secrets.secretValue(ref, flags: 0, internalCall: true)
        } catch let e as VirtError {
            throw e
        } catch {
            throw VirtError.internalError("\(error)", domain: .secret)
        }
    }

    /// `count` pipes each holding the passphrase, their write ends closed: the read ends, for a child's
    /// descriptors 3, 4, … (the passphrase is far smaller than a pipe's buffer).
    private func passphrasePipes(_ count: Int) throws(VirtError) -> [Int32] {
        guard count > 0 else { return [] }
        let value = passphrase ?? []
        var reads: [Int32] = []
        for _ in 0..<count {
            var fds: [Int32] = [-1, -1]
            guard Glibc.pipe(&fds) == 0 else {
                reads.forEach { close($0) }
                throw VirtError.lastSystemError("cannot create a pipe for the TPM passphrase")
            }
            for f in fds { _ = fcntl(f, F_SETFD, FD_CLOEXEC) }
            let ok = LinuxSys.writeAll(fdFile: fds[1], value)
            close(fds[1])
            reads.append(fds[0])
            guard ok else {
                reads.forEach { close($0) }
                throw VirtError.lastSystemError("cannot write the TPM passphrase")
            }
        }
        return reads
    }

    private var swtpmCredentials: ProcessCredentials? {
        if config.swtpmUID == getuid() && config.swtpmGID == getgid() { return nil }
        return ProcessCredentials.forUser(uid: config.swtpmUID, gid: config.swtpmGID)
    }

    /// Creates the state directory (0700, swtpm user and group) and its parent (0711), and gives the files
    /// already in it to the swtpm user (libvirt's `qemuTPMEmulatorCreateStorage`).
    private func createStorage() throws(VirtError) {
        let parent = (statePath as NSString).deletingLastPathComponent
        try LinuxSys.mkdirs((parent as NSString).deletingLastPathComponent, mode: 0o711)
        if mkdir(parent, 0o711) != 0 && errno != EEXIST {
            throw VirtError.lastSystemError("Could not create TPM directory \(parent)", domain: .none)
        }
        if mkdir(statePath, 0o700) != 0 && errno != EEXIST {
            throw VirtError.internalError(
                "Could not create directory \(statePath) as \(config.swtpmUID):\(config.swtpmGID)", domain: .none)
        }
        try Self.own(statePath, config.swtpmUID, config.swtpmGID, mode: 0o700)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: statePath)) ?? []
        for n in names {
            let f = statePath + "/" + n
            var st = stat()
            guard lstat(f, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            if chown(f, config.swtpmUID, config.swtpmGID) != 0 {
                throw VirtError.lastSystemError("cannot chown '\(f)' to (\(config.swtpmUID), \(config.swtpmGID))",
                                                domain: .none)
            }
        }
    }

    /// Removes the domain's whole TPM storage folder (`…/swtpm/UUID`), as libvirt does after a failed set-up.
    private func removeDomainStorage() {
        let dir = (statePath as NSString).deletingLastPathComponent
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Ends a swtpm left over by an earlier run of this domain (its pid file names a live swtpm).
    private func stopLeftover() async {
        if let p = process {
            _ = await p.terminate(grace: .seconds(1))
            process = nil
        }
        if let text = LinuxSys.readFile(pidfilePath), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
           isOurSwtpm(pid) {
            _ = await QEMUProcess.attach(pid: pid, logPath: logPath).terminate(grace: .seconds(1))
        }
        unlink(pidfilePath)
        unlink(socketPath)
    }

    private func isOurSwtpm(_ pid: pid_t) -> Bool {
        guard QEMUProcess.isAlive(pid), let exe = QEMUProcess.executable(of: pid) else { return false }
        let want = realpath(config.swtpmBinary, nil).map { p -> String in
            defer { free(p) }
            return String(cString: p)
        } ?? config.swtpmBinary
        return exe == want
    }

    // MARK: Stop

    /// Ends swtpm (CMD_SHUTDOWN on its socket, then SIGTERM and SIGKILL if it lingers; with `--terminate` it
    /// usually ended when QEMU closed the socket), removes the socket and pid file, and restores labels as
    /// ``SwtpmPlan/restoresStateLabel(on:stateShared:)`` says.
    public func stop(_ kind: QEMUStopKind) async {
        if let p = process {
            if p.exitWaiter.result == nil {
                // swtpm_ioctl -s: a graceful end; then signals if it lingers.
                _ = try? SwtpmControl.send(socketPath, command: SwtpmControl.shutdown, responseLength: 4,
                                           timeout: .seconds(1))
                _ = await p.exitWaiter.wait(timeout: .seconds(2))
                _ = await p.terminate(grace: .seconds(2))
            }
            process = nil
        }
        unlink(socketPath)
        unlink(pidfilePath)
        if labelled != nil {
            let restoreState = SwtpmPlan.restoresStateLabel(on: kind, stateShared: stateShared)
            config.labeler.restoreTPMLabels(statePath: restoreState ? statePath : nil, logPath: logPath)
            labelled = nil
        }
        canMigrateSharedStorage = false
    }

    /// Removes the socket and the pid file when swtpm does not run; the state stays
    /// (``SwtpmStateRemoval`` removes it on undefine).
    public func cleanupHost() async {
        if process == nil {
            unlink(socketPath)
            unlink(pidfilePath)
        }
    }

    // MARK: Reconnect

    /// Takes over the swtpm of `record` after a daemon restart: its pid must still be a live swtpm.
    public func adopt(_ record: ExternalDeviceRecord) async throws(VirtError) {
        guard record.type == type, isOurSwtpm(record.pid) else {
            throw VirtError.operationFailed("swtpm (pid \(record.pid)) of domain '\(vmName)' is no longer running")
        }
        process = QEMUProcess.attach(pid: record.pid, logPath: logPath)
        canMigrateSharedStorage = record.details["canMigrateSharedStorage"] == "yes"
        stateShared = record.details["stateShared"].map { $0 == "yes" }
            ?? SharedFilesystem.isShared(path: statePath, configured: config.sharedFilesystems)
        labelled = (true, true)
    }

    /// Waits until the swtpm process has ended (e.g. after QEMU closed the socket, with `--terminate`).
    public func waitForExit(timeout: Duration) async -> Bool {
        guard let p = process else { return true }
        return await p.exitWaiter.wait(timeout: timeout) != nil
    }

    // MARK: Helpers

    /// The state directory exists and holds something (libvirt runs swtpm_setup when it is missing or empty).
    static func isInitialized(_ path: String) -> Bool {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return false }
        return !names.isEmpty
    }

    static func own(_ path: String, _ uid: uid_t, _ gid: gid_t, mode: mode_t) throws(VirtError) {
        guard chown(path, uid, gid) == 0 else {
            throw VirtError.lastSystemError("cannot chown '\(path)' to (\(uid), \(gid))", domain: .none)
        }
        guard chmod(path, mode) == 0 else {
            throw VirtError.lastSystemError("cannot set mode of '\(path)'", domain: .none)
        }
    }

    /// The last lines of a tool's output, for an error message.
    static func tail(_ text: String, lines: Int = 8) -> String {
        text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}

/// swtpm's control channel (the `--ctrl type=unixio` socket): a 4-byte big-endian command code, then the
/// response, whose first 4 bytes are the result (0: success). `swtpm_ioctl` speaks it.
public enum SwtpmControl {
    /// `CMD_GET_CAPABILITY`: answers the result and a capability bit mask.
    public static let getCapability: UInt32 = 1
    /// `CMD_SHUTDOWN`: swtpm ends.
    public static let shutdown: UInt32 = 3

    /// Sends `command` (no payload) and reads `responseLength` bytes.
    public static func send(_ socketPath: String, command: UInt32, responseLength: Int,
                            timeout: Duration = .seconds(2)) throws(VirtError) -> [UInt8] {
        let fd = try LinuxSys.connectUnix(socketPath)
        defer { close(fd) }
        let secs = timeout.components.seconds
        var tv = timeval(tv_sec: Int(secs), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let cmd = [UInt8((command >> 24) & 0xff), UInt8((command >> 16) & 0xff), UInt8((command >> 8) & 0xff),
                   UInt8(command & 0xff)]
        guard LinuxSys.writeAll(fd, cmd) else {
            throw VirtError.lastSystemError("cannot send a command to swtpm at '\(socketPath)'")
        }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: max(responseLength, 1))
        while out.count < responseLength {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, responseLength - out.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                throw VirtError.lastSystemError("no answer from swtpm at '\(socketPath)'")
            }
            out += buf[0..<n]
        }
        return out
    }

    /// `CMD_GET_CAPABILITY`: the capability mask, or an error when swtpm answers with a failure.
    public static func capabilities(_ socketPath: String) throws(VirtError) -> UInt32 {
        let r = try send(socketPath, command: getCapability, responseLength: 8)
        let result = r[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard result == 0 else {
            throw VirtError.operationFailed("swtpm answered CMD_GET_CAPABILITY with error \(result)")
        }
        return r[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
}
