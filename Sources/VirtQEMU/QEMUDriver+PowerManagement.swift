import Foundation
import VirtCore

/// Guest power management and the guest's own vCPUs (libvirt's qemuDomainPMSuspendForDuration,
/// qemuDomainPMWakeup, qemuDomainGetGuestVcpus, qemuDomainSetGuestVcpus): the guest agent suspends the guest
/// (`guest-suspend-ram`, `-disk`, `-hybrid`), QMP `system_wakeup` wakes it; QEMU's SUSPEND, SUSPEND_DISK and
/// WAKEUP events move the domain into and out of the pmsuspended state.
extension QEMUDriver {
    public func pmSuspendForDuration(_ domain: DomainRef, target: UInt32, duration: UInt64, flags: UInt32)
        async throws {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainPMSuspendForDuration")
        if duration != 0 {
            throw VirtError(.argumentUnsupported, domain: .qemu, "argument unsupported: Duration not supported. Use 0 for now",
                            str1: "Duration not supported. Use 0 for now")
        }
        guard target <= 2 else {
            throw VirtError.invalidArg("Unknown suspend target: \(target)", domain: .qemu)
        }
        try await state.object(domain).pmSuspend(target: target)
    }

    public func pmWakeup(_ domain: DomainRef, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainPMWakeup")
        try await state.object(domain).pmWakeup()
    }

    public func guestVcpus(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainGetGuestVcpus")
        return try await state.object(domain).guestVcpus()
    }

    public func setGuestVcpus(_ domain: DomainRef, cpumap: String, state enabled: Int32, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainSetGuestVcpus")
        let map: CPUSet
        do {
            map = try CPUSet(parsing: cpumap)
        } catch {
            throw VirtError.invalidArg("Failed to parse bitmap '\(cpumap)'", domain: .none)
        }
        try await state.object(domain).setGuestVcpus(map, online: enabled != 0)
    }
}

extension QEMUDomainObject {
    /// Whether QEMU's machine can wake up from a suspend (`query-current-machine`'s wakeup-suspend-support).
    private func wakeupSupported(_ m: QMPMonitor) async throws(VirtError) -> Bool {
        try await m.execute("query-current-machine")["wakeup-suspend-support"]?.boolValue ?? false
    }

    func pmSuspend(target: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "pmSuspendForDuration")
        defer { endJob() }
        guard isActive, let m = monitor else {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        if !(try await wakeupSupported(m)) {
            throw VirtError.operationUnsupported("Domain does not have suspend support")
        }
        let pm = (liveDefinition ?? definition).pm
        if (target == 0 || target == 2) && pm?.suspendToMem == false {
            throw VirtError.internalError("S3 state is disabled for this domain", domain: .qemu)
        }
        if target == 1 && pm?.suspendToDisk == false {
            throw VirtError.internalError("S4 state is disabled for this domain", domain: .qemu)
        }
        let agent = try requireAgent()
        let command = ["guest-suspend-ram", "guest-suspend-disk", "guest-suspend-hybrid"][Int(target)]
        // The agent does not answer a suspend that works: it returns with QEMU's SUSPEND (or SUSPEND_DISK, or
        // the end of QEMU for a suspend to disk), as libvirt's agent waits for QEMU_AGENT_EVENT_SUSPEND.
        let event = target == 1 ? "SUSPEND_DISK" : "SUSPEND"
        let seen = qemuEventCounts[event] ?? 0
        try await agent.awaitingEvent(command) { [weak self] in
            await self?.awaitQEMUEvent(event, seen: seen)
        }
    }

    func pmWakeup() async throws(VirtError) {
        try await beginJob(.modify, owner: "pmWakeup")
        defer { endJob() }
        guard isActive, let m = monitor else {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        if !(try await wakeupSupported(m)) {
            throw VirtError.operationUnsupported("Domain does not have suspend support")
        }
        _ = try await m.execute("system_wakeup")
    }

    /// QMP SUSPEND / SUSPEND_DISK (libvirt's qemuProcessHandlePMSuspend(Disk)): the PM event, then, for a
    /// running domain, the pmsuspended state and its lifecycle event.
    func handlePMSuspend(disk: Bool) {
        emit(DomainEventRecord(domain: ref, kind: disk ? .pmSuspendDisk(reason: 0) : .pmSuspend(reason: 0)))
        guard status.state == .running else { return }
        status = DomainStatus(.pmSuspended, reason: 0)
        raise(.pmSuspended(disk ? .disk : .memory))
        writeStatus()
    }

    /// QMP WAKEUP (libvirt's qemuProcessHandlePMWakeup): the PM event, and a pmsuspended domain runs again
    /// (running/wakeup, STARTED/WAKEUP).
    func handlePMWakeup() {
        emit(DomainEventRecord(domain: ref, kind: .pmWakeup(reason: 0)))
        guard status.state == .pmSuspended else { return }
        status = .running(.wakeup)
        raise(.started(.wakeup))
        writeStatus()
    }

    /// `guest-get-vcpus` as libvirt's qemuDomainGetGuestVcpusParams reports it: `vcpus`, `online`, `offlinable`
    /// as CPU lists.
    func guestVcpus() async throws(VirtError) -> [TypedParam] {
        let info = try await agentVcpus()
        let all = CPUSet(info.map(\.id)), online = CPUSet(info.filter(\.online).map(\.id))
        let offlinable = CPUSet(info.filter(\.offlinable).map(\.id))
        return [TypedParam("vcpus", .string(all.description)), TypedParam("online", .string(online.description)),
                TypedParam("offlinable", .string(offlinable.description))]
    }

    private struct AgentVcpu {
        var id: UInt32
        var online: Bool
        var offlinable: Bool
    }

    private func agentVcpus() async throws(VirtError) -> [AgentVcpu] {
        let agent = try requireAgent()
        let r = try await agent.execute("guest-get-vcpus", timeout: agentTimeout)
        guard let list = r.arrayValue else {
            throw VirtError.internalError("guest-get-vcpus return information was not an array", domain: .qemu)
        }
        var out: [AgentVcpu] = []
        for e in list {
            guard let id = e["logical-id"]?.intValue else {
                throw VirtError.internalError("'logical-id' missing in reply of guest-get-vcpus", domain: .qemu)
            }
            guard let online = e["online"]?.boolValue else {
                throw VirtError.internalError("'online' missing in reply of guest-get-vcpus", domain: .qemu)
            }
            out.append(AgentVcpu(id: UInt32(clamping: id), online: online,
                                 offlinable: e["can-offline"]?.boolValue ?? false))
        }
        return out
    }

    /// libvirt's qemuDomainSetGuestVcpus: every vCPU of `map` must exist in the guest and, to go offline, be
    /// offlinable; then `guest-set-vcpus` with the changed ones.
    func setGuestVcpus(_ map: CPUSet, online: Bool) async throws(VirtError) {
        try await beginJob(.modify, owner: "setGuestVcpus")
        defer { endJob() }
        var info = try await agentVcpus()
        var missing = map
        var changed: [JSONValue] = []
        for i in info.indices where map.cpus.contains(info[i].id) {
            if !online && !info[i].offlinable {
                throw VirtError.operationUnsupported("vCPU '\(info[i].id)' is not offlinable")
            }
            info[i].online = online
            missing = CPUSet(missing.cpus.filter { $0 != info[i].id })
            changed.append(.object(["logical-id": .int(Int64(info[i].id)), "online": .bool(online)]))
        }
        if !missing.isEmpty {
            throw VirtError.invalidArg("guest is missing vCPUs '\(missing.description)'", domain: .qemu)
        }
        let agent = try requireAgent()
        var rest = changed
        while !rest.isEmpty {
            let done = try await agent.execute("guest-set-vcpus", arguments: .object(["vcpus": .array(rest)]),
                                               timeout: agentTimeout).intValue ?? -1
            if done <= 0 || Int(done) > rest.count {
                throw VirtError.internalError("guest agent returned malformed or invalid return value", domain: .qemu)
            }
            rest.removeFirst(Int(done))
        }
    }
}
