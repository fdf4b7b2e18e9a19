import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The guest agent side of a domain: the `org.qemu.guest_agent.0` channel, its state in the live XML, the
/// agent connection, and shutdown/reboot through it (libvirt's `qemuDomainShutdownFlags`/`qemuDomainReboot`).
extension QEMUDomainObject {
    /// The name of the guest agent's virtio port.
    static let agentChannelName = "org.qemu.guest_agent.0"

    /// Index of the guest agent channel in `def`, if configured.
    static func agentChannelIndex(_ def: DomainDefinition) -> Int? {
        def.devices.channels.firstIndex { $0.targetType == "virtio" && $0.targetName == agentChannelName }
    }

    /// Unix channels without a path get one in the domain's channel directory (libvirt's
    /// `channel/target/domain-ID-NAME/TARGETNAME`), QEMU listening there. Returns whether any did.
    static func assignChannelPaths(_ def: inout DomainDefinition, dir: String) -> Bool {
        var any = false
        for i in def.devices.channels.indices {
            let c = def.devices.channels[i]
            guard c.targetType == "virtio", c.source.type == .unix, c.source.path == nil, let name = c.targetName
            else { continue }
            def.devices.channels[i].source.path = dir + "/" + name
            def.devices.channels[i].source.listen = true
            any = true
        }
        return any
    }

    /// Reads which virtio ports the guest has open (`query-chardev`'s frontend-open) into the live
    /// definition's `<target state>`.
    func refreshChannelStates(_ mon: QMPMonitor, into def: inout DomainDefinition) async throws(VirtError) {
        guard def.devices.channels.contains(where: { $0.targetType == "virtio" }) else { return }
        let list = try await mon.execute("query-chardev")
        var open: [String: Bool] = [:]
        for c in list.arrayValue ?? [] {
            if let label = c["label"]?.stringValue, let o = c["frontend-open"]?.boolValue { open[label] = o }
        }
        for i in def.devices.channels.indices where def.devices.channels[i].targetType == "virtio" {
            let alias = def.devices.channels[i].info.alias ?? "channel\(i)"
            if let o = open["char" + alias] {
                def.devices.channels[i].targetState = o ? "connected" : "disconnected"
            }
        }
    }

    /// QEMU's VSERPORT_CHANGE: the guest opened or closed a virtio port. For the agent's port, the agent
    /// connection follows (libvirt's `processSerialChangedEvent`).
    func handleSerialChange(id: String, open: Bool) async {
        guard var live = liveDefinition,
              let i = live.devices.channels.firstIndex(where: { $0.info.alias == id }) else { return }
        live.devices.channels[i].targetState = open ? "connected" : "disconnected"
        liveDefinition = live
        if live.devices.channels[i].targetName == Self.agentChannelName {
            // VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, reason "channel event".
            emit(DomainEventRecord(domain: ref, kind: .agentLifecycle(state: open ? 1 : 2, reason: 2)))
            if open {
                connectAgent()
            } else {
                await agent?.close()
                agent = nil
            }
        }
        writeStatus()
    }

    /// The agent's state at start (libvirt's `qemuProcessRefreshChannelVirtioState`): an AGENT_LIFECYCLE
    /// event with reason "domain started", before the domain's RESUMED/STARTED.
    func raiseAgentStateAtStart(_ def: DomainDefinition) {
        guard let i = Self.agentChannelIndex(def), let st = def.devices.channels[i].targetState else { return }
        emit(DomainEventRecord(domain: ref, kind: .agentLifecycle(state: st == "connected" ? 1 : 2, reason: 1)))
    }

    /// Connects to the guest agent's socket (the guest has the port open).
    func connectAgent() {
        guard agent == nil, let live = liveDefinition, let i = Self.agentChannelIndex(live),
              let path = live.devices.channels[i].source.path else { return }
        do {
            agent = try QEMUGuestAgent.connect(path: path)
        } catch {
            process?.note("cannot connect to the guest agent: \(error)")
        }
    }

    /// libvirt's `qemuDomainAgentAvailable` (with reportError): the agent must be configured and connected.
    func requireAgent() throws(VirtError) -> QEMUGuestAgent {
        guard status.state == .running else {
            throw VirtError.operationInvalid("domain is not running", domain: .qemu)
        }
        if let agent { return agent }
        if Self.agentChannelIndex(liveDefinition ?? definition) != nil {
            throw VirtError(.agentUnresponsive, domain: .qemu,
                            "Guest agent is not responding: QEMU guest agent is not connected")
        }
        throw VirtError(.argumentUnsupported, domain: .qemu,
                        "argument unsupported: QEMU guest agent is not configured")
    }

    /// Waits until QEMU has reported `event` (SHUTDOWN or RESET) more than `seen` times, or the domain stops.
    func awaitQEMUEvent(_ event: String, seen: Int) async {
        if !isActive || (qemuEventCounts[event] ?? 0) > seen { return }
        await withCheckedContinuation { agentEventWaiters.append((event, $0)) }
    }

    /// Wakes those waiting for `event` (nil: all, the domain stopped).
    func notifyQEMUEvent(_ event: String?) {
        if let event { qemuEventCounts[event, default: 0] += 1 }
        var keep: [(String, CheckedContinuation<Void, Never>)] = []
        for w in agentEventWaiters {
            if event == nil || w.0 == event { w.1.resume() } else { keep.append(w) }
        }
        agentEventWaiters = keep
    }

    /// Shuts the guest down through the agent: `guest-shutdown` (mode powerdown, or reboot when `isReboot`),
    /// returning once QEMU reports the SHUTDOWN (or RESET).
    func agentShutdown(isReboot: Bool) async throws(VirtError) {
        let agent = try requireAgent()
        fakeReboot = false
        let event = isReboot ? "RESET" : "SHUTDOWN"
        // Counted before the command goes out, so an event handled before the wait begins is not missed.
        let seen = qemuEventCounts[event] ?? 0
        try await agent.shutdown(mode: isReboot ? "reboot" : "powerdown") { [weak self] in
            await self?.awaitQEMUEvent(event, seen: seen)
        }
    }

    /// The flags libvirt's shutdown and reboot accept.
    private static let modeFlags: ShutdownFlags = [.acpiPowerButton, .guestAgent]

    /// `virDomainShutdownFlags`: the agent when asked for, or by default when it is connected; ACPI otherwise
    /// or when the agent failed and ACPI is allowed. A domain whose on_poweroff is restart is rebooted.
    func shutdown(flags: ShutdownFlags) async throws(VirtError) {
        try await shutdownOrReboot(flags: flags, function: "qemuDomainShutdownFlags",
                                   isReboot: (liveDefinition ?? definition).onPoweroff == .restart)
    }

    /// `virDomainReboot`: as shutdown, but the guest reboots (a fake reboot through ACPI), unless on_reboot
    /// is destroy, where it shuts down.
    func reboot(flags: ShutdownFlags) async throws(VirtError) {
        try await shutdownOrReboot(flags: flags, function: "qemuDomainReboot",
                                   isReboot: (liveDefinition ?? definition).onReboot != .destroy)
    }

    private func shutdownOrReboot(flags: ShutdownFlags, function: String, isReboot: Bool) async throws(VirtError) {
        try await beginJob(.modify, owner: isReboot ? "reboot" : "shutdown")
        defer { endJob() }
        let unsupported = flags.subtracting(Self.modeFlags)
        if !unsupported.isEmpty {
            throw VirtError.unsupportedFlags(UInt64(unsupported.rawValue), function: function, domain: .qemu)
        }
        guard isActive else { throw VirtError.operationInvalid("domain is not running", domain: .qemu) }
        let agentRequested = flags.contains(.guestAgent)
        let acpiRequested = flags.contains(.acpiPowerButton)
        let useAgent = agentRequested || (flags.isEmpty && agent != nil)
        let agentForced = agentRequested && !acpiRequested
        var agentError: VirtError?
        if useAgent {
            do {
                try await agentShutdown(isReboot: isReboot)
                return
            } catch {
                if agentForced { throw error }
                agentError = error
            }
        }
        if !useAgent || (agentError != nil && (acpiRequested || flags.isEmpty)) {
            try await acpiShutdown(isReboot: isReboot)
            return
        }
        if let agentError { throw agentError }
    }

    /// ACPI power button (`system_powerdown`); with `isReboot`, the SHUTDOWN that follows restarts the guest.
    func acpiShutdown(isReboot: Bool) async throws(VirtError) {
        guard let m = monitor, status.state == .running else {
            throw VirtError.operationInvalid("domain is not running", domain: .qemu)
        }
        fakeReboot = isReboot
        do {
            try await m.execute("system_powerdown")
        } catch {
            fakeReboot = false
            throw error
        }
    }
}
