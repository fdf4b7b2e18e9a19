import Virt

/// vCPU information and pinning commands of virsh-domain.c: vcpuinfo, vcpupin, emulatorpin.
extension DomainCommands {
    static let vcpuCommands: [CommandDefinition] = [vcpuinfo, vcpupin, emulatorpin]

    static let vcpuinfo = CommandDefinition(
        "vcpuinfo", summary: "detailed domain vcpu information",
        description: "Returns basic information about the domain virtual CPUs.",
        options: [.domain(), .flag("pretty", "return human readable output")]
    ) { shell, cmd in
        let pretty = cmd.has("pretty")
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let maxcpu = await hostCPUCount(shell) else { return false }
        guard let info = await shell.call({ try await dom.info() }) else { return false }
        let n = Int32(info.vcpus)
        var rows: [(info: VcpuInfo?, affinity: CPUSet)] = []
        if let vcpus = await shell.call({ try await dom.vcpus(maxInfo: n, hostCPUs: maxcpu) }) {
            rows = vcpus.map { ($0.info, $0.affinity) }
        } else {
            guard info.state == .shutoff else { return false }
            shell.lastError = nil
            // An inactive domain: its pinning from the persistent definition, the rest not available.
            guard let pins = await shell.call({ try await dom.vcpuPinInfo(vcpus: n, hostCPUs: maxcpu, flags: .config) })
            else { return false }
            rows = pins.map { (nil, $0) }
        }
        for (i, row) in rows.enumerated() {
            if i != 0 { shell.print("\n") }
            if let v = row.info {
                shell.print(Format.padRight("VCPU:", 15) + " \(v.number)\n")
                shell.print(Format.padRight("CPU:", 15) + " \(v.cpu)\n")
                shell.print(Format.padRight("State:", 15) + " " + vcpuState(v.state) + "\n")
                if v.cpuTime != 0 {
                    shell.print(Format.padRight("CPU time:", 15) + " "
                                + Format.fixed(Double(v.cpuTime) / 1_000_000_000.0, 1) + "s\n")
                }
            } else {
                shell.print(Format.padRight("VCPU:", 15) + " \(i)\n")
                shell.print(Format.padRight("CPU:", 15) + " N/A\n")
                shell.print(Format.padRight("State:", 15) + " N/A\n")
                shell.print(Format.padRight("CPU time", 15) + " N/A\n")
            }
            shell.print(Format.padRight("CPU Affinity:", 15) + " ")
            if pretty {
                shell.print("\(row.affinity) (out of \(maxcpu))")
            } else {
                let set = Set(row.affinity.cpus)
                shell.print(String((0..<maxcpu).map { set.contains(UInt32($0)) ? "y" : "-" }))
            }
            shell.print("\n")
        }
        return true
    }

    static let vcpupin = CommandDefinition(
        "vcpupin", summary: "control or query domain vcpu affinity",
        description: "Pin domain VCPUs to host physical CPUs.",
        options: [
            .domain(),
            .int("vcpu", "vcpu number"),
            OptionDefinition(name: "cpulist", kind: .string, emptyOK: true,
                             help: "host cpu number(s) to set, or omit option to query"),
            .flag("config", "affect next boot"),
            .flag("live", "affect running domain"),
            .flag("current", "affect current domain"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config") else { return false }
        var flags: ModificationImpact = []
        if cmd.has("config") { flags.insert(.config) }
        if cmd.has("live") { flags.insert(.live) }
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok, cpulist) = shell.stringOption(cmd, "cpulist")
        guard ok else { return false }
        if cpulist == nil { guard shell.exclusive(cmd, "live", "config") else { return false } }
        var vcpu: UInt32?
        if let text = cmd.value("vcpu") {
            guard let v = Format.parseUInt32(text) else {
                shell.error("Numeric value '\(text)' for <vcpu> option is malformed or out of range")
                return false
            }
            vcpu = v
        }
        if cpulist != nil && vcpu == nil {
            shell.error("vcpupin: Missing vCPU number in pin mode.")
            return false
        }
        guard let maxcpu = await hostCPUCount(shell) else { return false }
        guard let cpulist, let vcpu else {
            return await vcpuPinQuery(shell, dom, vcpu: vcpu, maxcpu: maxcpu, flags: flags)
        }
        guard let set = parseCPUList(shell, cpulist, maxcpu: maxcpu) else { return false }
        // Without --live/--config/--current, virsh uses virDomainPinVcpu (no flags).
        let pinFlags: ModificationImpact? = flags.isEmpty && !cmd.has("current") ? nil : flags
        return await shell.call({ try await dom.pinVcpu(vcpu, to: set, hostCPUs: maxcpu, flags: pinFlags) }) != nil
    }

    static let emulatorpin = CommandDefinition(
        "emulatorpin", summary: "control or query domain emulator affinity",
        description: "Pin domain emulator threads to host physical CPUs.",
        options: [
            .domain(),
            OptionDefinition(name: "cpulist", kind: .string, emptyOK: true,
                             help: "host cpu number(s) to set, or omit option to query"),
            .flag("config", "affect next boot"),
            .flag("live", "affect running domain"),
            .flag("current", "affect current domain"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config") else { return false }
        var flags: ModificationImpact = []
        if cmd.has("config") { flags.insert(.config) }
        if cmd.has("live") { flags.insert(.live) }
        let none = !cmd.has("current") && !cmd.has("live") && !cmd.has("config")
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok, cpulist) = shell.stringOption(cmd, "cpulist")
        guard ok else { return false }
        guard let maxcpu = await hostCPUCount(shell) else { return false }
        guard let cpulist else {
            guard let set = await shell.call({ try await dom.emulatorPinInfo(hostCPUs: maxcpu, flags: flags) }) else {
                return false
            }
            shell.printExtra("emulator: CPU Affinity\n")
            shell.printExtra("----------------------------------\n")
            shell.printExtra("       *: ")
            shell.print("\(set ?? CPUSet([]))\n")
            return true
        }
        guard let set = parseCPUList(shell, cpulist, maxcpu: maxcpu) else { return false }
        // Without --live/--config/--current, virsh pins the running domain.
        return await shell.call({
            try await dom.pinEmulator(to: set, hostCPUs: maxcpu, flags: none ? .live : flags)
        }) != nil
    }

    // MARK: Helpers

    /// virsh's `virshNodeGetCPUCount`: the host CPUs a CPU map covers. virsh asks virNodeGetCPUMap first and
    /// falls back to the node information; the connection API has only the latter so far.
    @MainActor
    static func hostCPUCount(_ shell: Shell) async -> Int? {
        // virsh's virshNodeGetCPUCount: the node CPU map's count, node info only when that call fails.
        if let map = await shell.call({ try await shell.conn.nodeCPUMap() }) { return Int(map.cpus) }
        shell.lastError = nil
        guard let info = await shell.call({ try await shell.conn.nodeInfo() }) else { return nil }
        return Int(info.maxCPUs)
    }

    /// virsh's `virshParseCPUList`: `r` for every host CPU, else a CPU list within the host's CPUs.
    @MainActor
    static func parseCPUList(_ shell: Shell, _ text: String, maxcpu: Int) -> CPUSet? {
        if text.hasPrefix("r") { return CPUSet(0..<UInt32(maxcpu)) }
        let set: CPUSet
        do {
            set = try CPUSet(parsing: text)
        } catch {
            shell.lastError = error
            shell.error("Invalid cpulist '\(text)'")
            return nil
        }
        guard let last = set.cpus.last, last < 1024 else {
            shell.error("Invalid cpulist '\(text)'")
            return nil
        }
        if Int(last) >= maxcpu {
            shell.error("CPU \(last) in cpulist '\(text)' exceed the maxcpu \(maxcpu)")
            return nil
        }
        return set
    }

    /// virsh's `virshVcpuPinQuery`.
    @MainActor
    static func vcpuPinQuery(_ shell: Shell, _ dom: Domain, vcpu: UInt32?, maxcpu: Int, flags: ModificationImpact)
        async -> Bool {
        // virshCPUCountCollect: the maximum vCPU count of the addressed definition.
        if flags.contains(.live), await shell.call({ try await dom.isActive() }) != true {
            shell.lastError = nil
            shell.error("cannot get vcpupin for offline domain")
            return false
        }
        if flags.contains(.config), await shell.call({ try await dom.isPersistent() }) != true {
            shell.lastError = nil
            shell.error("cannot get vcpupin for transient domain")
            return false
        }
        guard let count = await shell.call({ try await dom.vcpuCount(flags: flags.union(.maximum)) }) else {
            return false
        }
        if let vcpu, vcpu >= count {
            var live = flags.contains(.live)
            if !live && !flags.contains(.config) { live = await shell.call({ try await dom.isActive() }) == true }
            shell.lastError = nil
            shell.error("vcpu \(vcpu) is out of range of \(live ? "live" : "persistent") cpu count \(count)")
            return false
        }
        guard let pins = await shell.call({ try await dom.vcpuPinInfo(vcpus: count, hostCPUs: maxcpu, flags: flags) })
        else { return false }
        var table = Table(header: ["VCPU", "CPU Affinity"])
        for (i, set) in pins.enumerated() {
            if let vcpu, UInt32(i) != vcpu { continue }
            table.append(["\(i)", "\(set)"])
        }
        shell.print(table.render(header: !shell.quiet))
        return true
    }

    static func vcpuState(_ state: Int32) -> String {
        switch state {
        case 0: "offline"
        case 1: "running"
        case 2: "blocked"
        default: "no state"
        }
    }
}
