import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// How a domain was started (the start kind travels from the API into process start).
public enum QEMUStartKind: String, Sendable, Codable {
    case coldBoot, restore, incomingMigration
}

/// The runtime state written to the status file on every change.
public struct QEMUDomainStatus: Sendable, Codable, Hashable {
    public var id: Int32
    public var pid: Int32
    public var monitorPath: String
    public var startKind: QEMUStartKind
    public var state: Int32
    public var reason: Int32
    /// The running job, if any (libvirt's job name), e.g. "destroy".
    public var job: String?
}

/// One domain of the QEMU driver: its definitions, its state, and while it runs its QEMU process and monitor.
///
/// Lifecycle operations are jobs: one at a time per domain (libvirt's job model); state queries never wait.
actor QEMUDomainObject {
    let uuid: VirtUUID
    var name: String { definition.name }
    /// The persistent (or, for a transient domain, the only) definition.
    var definition: DomainDefinition
    /// The definition the running QEMU was started from.
    var liveDefinition: DomainDefinition?
    var persistent: Bool
    var status = DomainStatus.shutoff(.unknown)
    var id: Int32 = -1

    let paths: QEMUDriverPaths
    let emit: @Sendable (DomainEventRecord) -> Void
    private let onStopped: @Sendable (QEMUDomainObject) async -> Void
    var process: QEMUProcess?
    var monitor: QMPMonitor?
    private var monitorPath = ""
    private var startKind = QEMUStartKind.coldBoot
    private var eventTask: Task<Void, Never>?
    private var exitTask: Task<Void, Never>?
    /// Why QEMU is going away, when we know (shutdown seen, destroy requested).
    var stopReason: (ShutoffReason, StoppedDetail)?
    /// A reboot was asked for through the API: the next SHUTDOWN restarts the guest (libvirt's fake reboot).
    var fakeReboot = false
    /// After a fake reboot's `cont`, QEMU's STOP (from the shutdown) may still be queued: ignore it until RESUME.
    private var ignoreStop = false
    /// QEMU has exited and the events it sent before are being handled (only SHUTDOWN still matters).
    private var draining = false
    /// ``finishStop`` is under way (it waits for QEMU's last events).
    private var stopping = false
    /// QEMU reported GUEST_PANICKED; the on_crash action runs once the vCPUs have stopped.
    var panicPending = false
    /// The running reason the next RESUME gives a domain that is not running (libvirt's runningReason),
    /// set by a fake reboot.
    var fakeRebootRunningReason: RunningReason?
    private var jobActive: String?
    /// The security driver of the running QEMU and the paths it labelled (restored when QEMU has ended).
    private var security: any SecurityManager = NoOpSecurityManager()
    private var labelled: [SecurityLabelTarget] = []
    private var jobWaiters: [CheckedContinuation<Void, Never>] = []
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    /// The guest agent connection, while the guest has the agent's port open.
    var agent: QEMUGuestAgent?
    /// Those waiting for QEMU's SHUTDOWN or RESET (an agent shutdown in progress).
    var agentEventWaiters: [(String, CheckedContinuation<Void, Never>)] = []
    /// How many SHUTDOWN and RESET events QEMU has reported (an agent shutdown waits for the next one).
    var qemuEventCounts: [String: Int] = [:]
    /// The domain's channel socket directory while it runs (libvirt's channelTargetDir).
    private var channelDir: String?

    init(definition: DomainDefinition, persistent: Bool, paths: QEMUDriverPaths,
         emit: @escaping @Sendable (DomainEventRecord) -> Void,
         onStopped: @escaping @Sendable (QEMUDomainObject) async -> Void) {
        self.uuid = definition.uuid
        self.definition = definition
        self.persistent = persistent
        self.paths = paths
        self.emit = emit
        self.onStopped = onStopped
    }

    var ref: DomainRef { DomainRef(name: definition.name, uuid: uuid, id: id) }
    var isActive: Bool { status.state.isActive }

    func setDefinition(_ def: DomainDefinition, persistent: Bool) {
        definition = def
        self.persistent = persistent
    }

    func makeTransient() { persistent = false }

    // MARK: Jobs

    private func beginJob(_ name: String) async {
        while jobActive != nil {
            await withCheckedContinuation { jobWaiters.append($0) }
        }
        jobActive = name
    }

    private func endJob() {
        jobActive = nil
        let w = jobWaiters
        jobWaiters = []
        for c in w { c.resume() }
    }

    func raise(_ e: LifecycleEvent) {
        emit(DomainEventRecord(domain: ref, kind: .lifecycle(e)))
    }

    // MARK: Start

    func start(id newID: Int32, capabilities: QEMUCapabilities, paused: Bool,
               security: any SecurityManager = NoOpSecurityManager()) async throws(VirtError) {
        await beginJob("start")
        defer { endJob() }
        guard !isActive else { throw VirtError.operationInvalid("domain is already running", domain: .qemu) }
        do {
            try await startNow(id: newID, capabilities: capabilities, paused: paused, security: security)
        } catch {
            // As libvirt: a start that fails leaves the domain shut off with reason "failed".
            if !isActive { status = .shutoff(.failed) }
            throw error
        }
    }

    /// libvirt's check before a start: every local disk image must exist ("Cannot access storage file").
    private static func checkDiskSources(_ def: DomainDefinition) throws(VirtError) {
        for d in def.devices.disks where d.type == .file || d.type == .block {
            guard let path = d.source.path, !path.isEmpty, d.source.startupPolicy != "optional" else { continue }
            if access(path, F_OK) != 0 {
                throw VirtError.systemError("Cannot access storage file '\(path)'", errno: errno, domain: .qemu)
            }
        }
    }

    private func startNow(id newID: Int32, capabilities: QEMUCapabilities, paused: Bool,
                          security: any SecurityManager) async throws(VirtError) {
        let def = definition
        try Self.checkDiskSources(def)
        let libDir = paths.domainLibDir(id: newID, name: def.name)
        try LinuxSys.mkdirs(libDir, mode: 0o750)
        try LinuxSys.mkdirs(paths.stateDir)
        try LinuxSys.mkdirs(paths.logDir)
        monitorPath = libDir + "/monitor.sock"
        // The definition completed as libvirt's QEMU driver does (default devices, aliases, addresses): what
        // the command line is built from and what the live XML shows.
        var prepared = QEMUCommandLine.prepared(def, capabilities: capabilities)
        let chanDir = paths.channelTargetDir(id: newID, name: def.name)
        if Self.assignChannelPaths(&prepared, dir: chanDir) {
            try LinuxSys.mkdirs(chanDir, mode: 0o750)
            channelDir = chanDir
        } else {
            channelDir = nil
        }
        var cl = QEMUCommandLine(definition: prepared, capabilities: capabilities)
        cl.monitorFD = QEMULauncher.monitorFD
        cl.channelTargetDir = chanDir
        let args = try security.processArguments(cl.arguments())
        // Label what QEMU opens as its user (restored when QEMU has ended, or here when the start fails).
        let logFD = open(paths.logFile(def.name), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if logFD >= 0 { close(logFD) }
        let targets = securityTargets(prepared, libDir: libDir)
        try security.setLabels(targets)
        self.security = security
        labelled = targets
        var live = prepared
        // The live XML names the emulator that runs, as libvirt's does.
        if live.devices.emulator == nil { live.devices.emulator = cl.emulator }
        security.addLiveLabel(to: &live)
        do {
            try await launch(def, prepared: live, id: newID, libDir: libDir, cl: cl, args: args,
                             capabilities: capabilities, paused: paused)
        } catch {
            if process == nil {
                unlink(monitorPath)
                unlink(paths.pidFile(def.name))
            }
            restoreSecurityLabels()
            if process == nil { removeStatusFiles(monitorPath: monitorPath) }
            removeChannelDir()
            throw error
        }
    }

    /// Removes the channel socket directory of the last run.
    private func removeChannelDir() {
        guard let dir = channelDir else { return }
        channelDir = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The paths the security driver labels for a QEMU of `def` (its own files included).
    private func securityTargets(_ def: DomainDefinition, libDir: String) -> [SecurityLabelTarget] {
        var extra = [
            SecurityLabelTarget(path: paths.logFile(def.name), kind: .log, required: false),
            SecurityLabelTarget(path: libDir, kind: .privateDir, required: false),
        ]
        if let channelDir { extra.append(SecurityLabelTarget(path: channelDir, kind: .privateDir, required: false)) }
        return SecurityLabelTarget.targets(for: def, extra: extra)
    }

    /// Gives the labelled paths back (once), noting failures in the domain log.
    private func restoreSecurityLabels() {
        guard !labelled.isEmpty else { return }
        let targets = labelled
        labelled = []
        for f in security.restoreLabels(targets.reversed()) {
            QEMUProcess.appendNote(paths.logFile(definition.name), f)
        }
    }

    private func launch(_ def: DomainDefinition, prepared: DomainDefinition, id newID: Int32, libDir: String, cl: QEMUCommandLine,
                        args: [String], capabilities: QEMUCapabilities, paused: Bool) async throws(VirtError) {
        let spec = ProcessLaunchSpec(
            binary: cl.emulator, arguments: args, logPath: paths.logFile(def.name),
            pidfilePath: paths.pidFile(def.name),
            environment: ["HOME=\(libDir)", "XDG_DATA_HOME=\(libDir)/.local/share",
                          "XDG_CACHE_HOME=\(libDir)/.cache", "XDG_CONFIG_HOME=\(libDir)/.config"],
            credentials: try security.processCredentials(), umask: 0o002)
        let (proc, mon) = try await QEMULauncher.start(spec, monitorPath: monitorPath, vmName: def.name)
        process = proc
        monitor = mon
        id = newID
        startKind = .coldBoot
        stopReason = nil
        var live = prepared
        do {
            try await readPTYPaths(mon, into: &live)
            try await refreshChannelStates(mon, into: &live)
        } catch {
            _ = await proc.terminate(grace: .seconds(3))
            process = nil
            monitor = nil
            id = -1
            throw error
        }
        if QEMULifecycleActions.needsRebootShutdownAction(def) {
            // A guest reboot then ends in a SHUTDOWN event (reason guest-reset): the domain shuts off.
            do {
                try await mon.execute("set-action", arguments: ["reboot": "shutdown"])
            } catch {
                _ = await proc.terminate(grace: .seconds(3))
                process = nil
                monitor = nil
                id = -1
                throw error
            }
        }
        liveDefinition = live
        status = .paused(.startingUp)
        watch(proc, mon)
        if let i = Self.agentChannelIndex(live), live.devices.channels[i].targetState == "connected" {
            connectAgent()
        }
        raiseAgentStateAtStart(live)
        writeStatus()
        if !paused {
            do {
                try await mon.execute("cont")
            } catch {
                _ = await proc.terminate(grace: .seconds(3))
                await finishStop(.failed, .failed, emitEvent: false)
                throw error
            }
            setRunning(.booted)
            raise(.started(.booted))
        } else {
            raise(.started(.booted))
            status = .paused(.user)
            raise(.suspended(.paused))
            writeStatus()
        }
    }

    /// The pty QEMU allocated for each pty chardev (`query-chardev`), recorded in the live definition.
    private func readPTYPaths(_ mon: QMPMonitor, into def: inout DomainDefinition) async throws(VirtError) {
        guard def.devices.serials.contains(where: { $0.source.type == .pty }) else { return }
        let list = try await mon.execute("query-chardev")
        var ptys: [String: String] = [:]
        for c in list.arrayValue ?? [] {
            if let label = c["label"]?.stringValue, let f = c["filename"]?.stringValue, f.hasPrefix("pty:") {
                ptys[label] = String(f.dropFirst(4))
            }
        }
        for i in def.devices.serials.indices where def.devices.serials[i].source.type == .pty {
            def.devices.serials[i].source.path = ptys["charserial\(i)"]
        }
    }

    /// A stream on the pty of the console or serial port named `device` (an alias), or of the first one.
    func openConsole(device: String?) throws(VirtError) -> PTYStream {
        guard isActive, let live = liveDefinition else {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        let candidates = live.devices.serials
        let chosen: CharDevice?
        if let device {
            chosen = candidates.first { $0.info.alias == device }
                ?? (device == "console0" ? candidates.first : nil)
        } else {
            chosen = candidates.first
        }
        guard let dev = chosen else {
            throw VirtError(.internalError, domain: .qemu,
                            "internal error: cannot find character device \(device ?? "<null>")")
        }
        guard dev.source.type == .pty, let path = dev.source.path else {
            throw VirtError(.operationUnsupported, domain: .qemu,
                            "Operation not supported: character device \(dev.info.alias ?? "serial0") is not using a PTY")
        }
        return try PTYStream(path: path)
    }

    /// Running after `cont`: RESUMED/UNPAUSED once (the RESUME event may have done it first).
    private func setRunning(_ reason: RunningReason) {
        guard status.state == .paused else { return }
        status = .running(reason)
        raise(.resumed(.unpaused))
        writeStatus()
    }

    private func watch(_ proc: QEMUProcess, _ mon: QMPMonitor) {
        eventTask = Task { [weak self] in
            for await ev in mon.events {
                await self?.handle(ev)
            }
        }
        exitTask = Task { [weak self] in
            await proc.exitWaiter.wait()
            await self?.processExited(proc)
        }
    }

    private func handle(_ ev: QMPEvent) async {
        if draining && ev.name != "SHUTDOWN" { return }
        switch ev.name {
        case "RESUME":
            ignoreStop = false
            if let r = fakeRebootRunningReason {
                // After a fake reboot: a domain that was not running (crashed) runs again with libvirt's
                // running reason; one that was running stays as it was, without an event.
                fakeRebootRunningReason = nil
                if status.state != .running {
                    status = .running(r)
                    raise(.resumed(.unpaused))
                    writeStatus()
                }
                return
            }
            setRunning(status.state == .paused && status.reason == PausedReason.startingUp.rawValue ? .booted : .unpaused)
        case "RESET":
            notifyQEMUEvent("RESET")
            // Every reset QEMU reports (the fake reboot's system_reset, the firmware's own) is a reboot event,
            // as libvirt reports them.
            emit(DomainEventRecord(domain: ref, kind: .reboot))
        case "STOP":
            if status.state == .running && !ignoreStop {
                status = .paused(.unknown)
                raise(.suspended(.paused))
                writeStatus()
            }
            // After a guest panic, the on_crash action runs once QEMU has stopped the vCPUs.
            if panicPending {
                await runCrashAction()
            }
        case "GUEST_PANICKED":
            // With -no-shutdown QEMU pauses the guest (action "pause") and a STOP follows: the domain is
            // crashed now (so that STOP is no SUSPENDED), the on_crash action waits for the STOP.
            await guestPanicked(waitForStop: ev.data["action"]?.stringValue == "pause")
        case "VSERPORT_CHANGE":
            if let id = ev.data["id"]?.stringValue, let open = ev.data["open"]?.boolValue {
                await handleSerialChange(id: id, open: open)
            }
        case "SHUTDOWN":
            // Repeated SHUTDOWNs are ignored, as libvirt does: QEMU reports a second one when we end it after a
            // guest shutdown.
            if status.state == .shutdown { return }
            let guest = ev.data["guest"]?.boolValue == true
            if let (_, detail) = stopReason {
                // Our destroy: QEMU reports the SIGTERM as a host-requested shutdown, which libvirt reports
                // (SHUTDOWN/HOST) before STOPPED/DESTROYED. (After a crash libvirt closes the monitor first.)
                if detail == .destroyed {
                    status = .shutdown(.unknown)
                    raise(.shutdown(guest ? .guest : .host))
                }
                return
            }
            if draining { return }
            notifyQEMUEvent("SHUTDOWN")
            // -no-shutdown keeps QEMU around, paused: its STOP is part of the shutdown.
            ignoreStop = true
            if QEMULifecycleActions.restartsOnShutdown(liveDefinition ?? definition, fakeReboot: fakeReboot) {
                // The reboot API's fake reboot, or on_poweroff restart: as in libvirt the state does not change
                // and no lifecycle event is reported; QEMU's RESET events become reboot events.
                startFakeReboot()
                return
            }
            status = .shutdown(.unknown)  // libvirt: VIR_DOMAIN_SHUTDOWN_UNKNOWN
            raise(.shutdown(guest ? .guest : .host))
            stopReason = (.shutdown, .shutdown)
            writeStatus()
            if let p = process {
                Task { await p.terminate(grace: .seconds(10)) }
            }
        default:
            break
        }
    }

    /// libvirt's fake reboot (`qemuProcessFakeReboot`, run in a thread of its own so that QEMU's RESET and
    /// RESUME are handled meanwhile, in order): `system_reset`, then `cont` with running reason crashed
    /// after a crash, booted otherwise. When it fails QEMU is ended.
    func startFakeReboot() {
        fakeReboot = false
        guard let m = monitor else { return }
        ignoreStop = true
        fakeRebootRunningReason = status.state == .crashed ? .crashed : .booted
        Task {
            do {
                try await m.execute("system_reset")
                try await m.execute("cont")
            } catch {
                self.fakeRebootFailed(error)
            }
        }
    }

    private func fakeRebootFailed(_ error: any Error) {
        process?.note("fake reboot failed: \(error); killing QEMU")
        fakeRebootRunningReason = nil
        if stopReason == nil { stopReason = (.crashed, .failed) }
        if let p = process {
            Task { await p.terminate(grace: .seconds(3)) }
        }
    }

    private func processExited(_ proc: QEMUProcess) async {
        guard process === proc else { return }
        let (reason, detail) = stopReason ?? (.crashed, .failed)
        if stopReason == nil {
            proc.note("QEMU exited unexpectedly: \(proc.exitWaiter.result.map { "\($0)" } ?? "unknown")")
        }
        await finishStop(reason, detail, emitEvent: true)
    }

    private func finishStop(_ reason: ShutoffReason, _ detail: StoppedDetail, emitEvent: Bool) async {
        guard let proc = process else {
            // Another caller (the exit waiter, or a destroy) is stopping the domain: return once it is done.
            if stopping { await withCheckedContinuation { stopWaiters.append($0) } }
            return
        }
        stopping = true
        defer { stopping = false }
        process = nil
        let mon = monitor
        monitor = nil
        // The events QEMU sent before it exited (a destroy's SHUTDOWN) come first, in order; the monitor's
        // stream ends at QEMU's exit. Bounded, in case the socket outlives the process.
        draining = true
        await Self.drain(eventTask, within: .seconds(2))
        draining = false
        await mon?.close()
        eventTask?.cancel()
        proc.note("shutting down, reason=\(DomainStatus.shutoff(reason).reasonStatusString)")
        let oldRef = ref
        status = .shutoff(reason)
        id = -1
        liveDefinition = nil
        restoreSecurityLabels()
        removeStatusFiles(monitorPath: monitorPath)
        removeChannelDir()
        await agent?.close()
        agent = nil
        panicPending = false
        fakeReboot = false
        fakeRebootRunningReason = nil
        notifyQEMUEvent(nil)
        // A transient domain is removed before its STOPPED event is seen.
        await onStopped(self)
        if emitEvent {
            emit(DomainEventRecord(domain: oldRef, kind: .lifecycle(.stopped(detail))))
        }
        let w = stopWaiters
        stopWaiters = []
        for c in w { c.resume() }
    }

    /// Waits up to `limit` for `task` to end, then cancels it.
    private static func drain(_ task: Task<Void, Never>?, within limit: Duration) async {
        guard let task else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await task.value }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            task.cancel()
            group.cancelAll()
        }
    }

    // MARK: Reconnect

    /// Takes over a QEMU that a previous daemon started (after a restart): attaches to the process by pid,
    /// connects the monitor, and reads the state back from QEMU. When QEMU is gone (or not ours any more),
    /// the domain is marked shut off (crashed) and false is returned.
    func reconnect(_ st: QEMUDomainStatus, live: DomainDefinition?,
                   security: any SecurityManager = NoOpSecurityManager()) async -> Bool {
        self.security = security
        let libDir = String(st.monitorPath.prefix(upTo: st.monitorPath.lastIndex(of: "/") ?? st.monitorPath.endIndex))
        labelled = securityTargets(live ?? definition, libDir: libDir)
        let emulator = (live ?? definition).devices.emulator ?? QEMUCommandLine.defaultEmulator
        let logPath = paths.logFile(definition.name)
        let exe = QEMUProcess.executable(of: st.pid)
        guard QEMUProcess.isAlive(st.pid), let exe, exe == emulator || exe.hasPrefix(emulator + " ") else {
            QEMUProcess.appendNote(logPath, "reconnect: QEMU (pid \(st.pid)) is gone; marking the domain shut off")
            restoreSecurityLabels()
            removeStatusFiles(monitorPath: st.monitorPath)
            status = .shutoff(.crashed)
            return false
        }
        let proc = QEMUProcess.attach(pid: st.pid, logPath: logPath)
        do {
            let mon = try await QEMULauncher.reconnect(monitorPath: st.monitorPath, timeout: .seconds(10))
            let qs = try await mon.execute("query-status")
            process = proc
            monitor = mon
            monitorPath = st.monitorPath
            id = st.id
            startKind = st.startKind
            liveDefinition = live ?? definition
            let saved = DomainStatus(DomainState(rawValue: st.state) ?? .running, reason: st.reason)
            if qs["running"]?.boolValue == true {
                status = saved.state == .running ? saved : .running(.unknown)
            } else if saved.state == .paused || saved.state == .crashed {
                status = saved
            } else if qs["status"]?.stringValue == "guest-panicked" {
                // The guest panicked while no daemon watched (libvirt's qemuProcessUpdateState).
                status = .crashed(.panicked)
            } else {
                status = .paused(.unknown)
            }
            proc.note("reconnected to QEMU (pid \(st.pid)), state \(status.state.statusString)")
            let chanDir = paths.channelTargetDir(id: st.id, name: definition.name)
            channelDir = access(chanDir, F_OK) == 0 ? chanDir : nil
            watch(proc, mon)
            if let l = liveDefinition, let i = Self.agentChannelIndex(l),
               l.devices.channels[i].targetState == "connected" {
                connectAgent()
            }
            writeStatus()
            return true
        } catch {
            proc.note("reconnect failed: \(error); killing QEMU")
            await proc.terminate(grace: .seconds(3))
            restoreSecurityLabels()
            removeStatusFiles(monitorPath: st.monitorPath)
            status = .shutoff(.crashed)
            return false
        }
    }

    /// Lets go of the running QEMU without stopping it, as a daemon that dies does (for tests).
    func detach() async {
        let mon = monitor
        process = nil
        monitor = nil
        eventTask?.cancel()
        exitTask?.cancel()
        await mon?.close()
        await agent?.close()
        agent = nil
    }

    /// Removes the status files, the monitor socket and the domain's private directory (as libvirt's
    /// process stop does).
    private func removeStatusFiles(monitorPath: String) {
        unlink(paths.statusFile(definition.name))
        unlink(paths.statusXMLFile(definition.name))
        unlink(paths.pidFile(definition.name))
        guard !monitorPath.isEmpty else { return }
        unlink(monitorPath)
        let dir = String(monitorPath.prefix(upTo: monitorPath.lastIndex(of: "/") ?? monitorPath.startIndex))
        if dir.hasPrefix(paths.libDir + "/domain-") {
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    // MARK: Operations

    func destroy(graceful: Bool) async throws(VirtError) {
        await beginJob("destroy")
        defer { endJob() }
        guard let proc = process else {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        stopReason = (.destroyed, .destroyed)
        writeStatus(job: "destroy")
        if graceful {
            proc.signal(SIGTERM)
            await proc.exitWaiter.wait()
        } else {
            await proc.terminate(grace: .seconds(10))
        }
        await finishStop(.destroyed, .destroyed, emitEvent: true)
    }

    private func requireMonitor() throws(VirtError) -> QMPMonitor {
        guard let m = monitor, isActive else {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        return m
    }

    func suspend() async throws(VirtError) {
        await beginJob("suspend")
        defer { endJob() }
        let m = try requireMonitor()
        if status.state == .paused { return }
        try await m.execute("stop")
        if status.state == .running {
            status = .paused(.user)
            raise(.suspended(.paused))
            writeStatus()
        } else if status.state == .paused {
            status = .paused(.user)
            writeStatus()
        }
    }

    func resume() async throws(VirtError) {
        await beginJob("resume")
        defer { endJob() }
        let m = try requireMonitor()
        guard status.state == .paused else {
            throw VirtError.operationInvalid("domain is not paused", domain: .qemu)
        }
        try await m.execute("cont")
        setRunning(.unpaused)
    }

    func reset() async throws(VirtError) {
        let m = try requireMonitor()
        try await m.execute("system_reset")
    }

    func monitorCommand(_ command: String, hmp: Bool = false) async throws(VirtError) -> String {
        let m = try requireMonitor()
        if hmp {
            let out = try await m.execute("human-monitor-command",
                                          arguments: .object(["command-line": .string(command)]))
            return out.stringValue ?? ""
        }
        return try await m.executeRaw(command)
    }

    /// Returns once the domain is shut off.
    func waitStopped() async {
        if !isActive { return }
        await withCheckedContinuation { stopWaiters.append($0) }
    }

    func xml(inactive: Bool) -> String {
        if !inactive, let live = liveDefinition {
            return live.formatXML(DomainFormatOptions(inactive: false, id: id))
        }
        return definition.formatXML()
    }

    var pid: pid_t? { process?.pid }

    // MARK: Status file

    func writeStatus(job: String? = nil) {
        guard let proc = process else { return }
        let st = QEMUDomainStatus(id: id, pid: proc.pid, monitorPath: monitorPath, startKind: startKind,
                                  state: status.state.rawValue, reason: status.reason, job: job)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        if let data = try? e.encode(st) {
            try? LinuxSys.writeFileAtomically(paths.statusFile(definition.name), String(decoding: data, as: UTF8.self))
        }
        try? LinuxSys.writeFileAtomically(paths.statusXMLFile(definition.name), xml(inactive: false))
    }
}
