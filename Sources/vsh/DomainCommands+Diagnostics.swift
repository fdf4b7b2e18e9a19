import Virt

/// domhostname, domcontrol, domblkerror, send-process-signal, domlaunchsecinfo (virsh-domain.c and
/// virsh-domain-monitor.c of virsh 9.0).
extension DomainCommands {
    /// The Domain Management ones; domcontrol and domblkerror are listed with Domain Monitoring, as virsh lists them.
    /// `--config`, `--live`, `--current` (VIRSH_COMMON_OPT_DOMAIN_CONFIG/LIVE/CURRENT).
    static let configLiveCurrent: [OptionDefinition] = [
        .flag("config", "affect next boot"),
        .flag("live", "affect running domain"),
        .flag("current", "affect current domain"),
    ]

    static let diagnosticsCommands: [CommandDefinition] = [
        domhostname, sendProcessSignal, domlaunchsecinfo, perf, setLifecycleAction, numatune,
        cpuStats,
    ]

    static let domhostname = CommandDefinition(
        "domhostname", summary: "print the domain's hostname",
        options: [.domain(), .string("source", "address source: 'lease' or 'agent'")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok, source) = shell.stringOption(cmd, "source")
        guard ok else { return false }
        var flags: UInt32 = 0
        switch source {
        case nil: break
        case "lease": flags = 1
        case "agent": flags = 2
        case let other?:
            shell.error("Unknown data source '\(other)'")
            return false
        }
        guard let name = await shell.call({ try await dom.hostname(flags: flags) }) else {
            shell.error("failed to get hostname")
            return false
        }
        shell.print("\(name)\n")
        return true
    }

    /// `virDomainControlState` and `virDomainControlErrorReason` as virsh names them.
    static let controlStates = ["ok", "background job", "occupied", "error"]
    static let controlErrorReasons = ["none", "unknown", "monitor failure", "internal (locking) error"]

    static let domcontrol = CommandDefinition(
        "domcontrol", summary: "domain control interface state",
        description: "Returns state of a control interface to the domain.",
        options: [.domain()]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd),
              let info = await shell.call({ try await dom.controlInfo() }) else { return false }
        let state = Int(info.state) < controlStates.count ? controlStates[Int(info.state)] : "unknown"
        if info.state != 0 && info.state != 3 {
            shell.print("\(state) (\(Format.fixed(Double(info.stateTime) / 1000, 3))s)\n")
        } else if info.state == 3 && info.details > 0 {
            let reason = Int(info.details) < controlErrorReasons.count ? controlErrorReasons[Int(info.details)] : "unknown"
            shell.print("\(state): \(reason)\n")
        } else {
            shell.print("\(state)\n")
        }
        return true
    }

    /// `virDomainDiskErrorCode` as virsh names it.
    static let diskErrorNames = ["no error", "unspecified error", "no space"]

    static let domblkerror = CommandDefinition(
        "domblkerror", summary: "Show errors on block devices", description: "Show block device errors",
        options: [.domain()]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd),
              let errors = await shell.call({ try await dom.diskErrors() }) else { return false }
        if errors.isEmpty {
            shell.print("No errors found\n")
            return true
        }
        for e in errors {
            let name = e.error >= 0 && Int(e.error) < diskErrorNames.count ? diskErrorNames[Int(e.error)] : "unknown error"
            shell.print("\(e.disk): \(name)\n")
        }
        return true
    }

    /// `virDomainProcessSignal`'s names, by value: nop, the POSIX signals, then rt0 to rt32.
    static let processSignalNames = ["nop", "hup", "int", "quit", "ill", "trap", "abrt", "bus", "fpe", "kill", "usr1",
                                     "segv", "usr2", "pipe", "alrm", "term", "stkflt", "chld", "cont", "stop", "tstp",
                                     "ttin", "ttou", "urg", "xcpu", "xfsz", "vtalrm", "prof", "winch", "poll", "pwr",
                                     "sys"] + (0...32).map { "rt\($0)" }

    /// virsh's `getSignalNumber`: a number, or a name with or without "sig"/"sig_", any case.
    static func signalNumber(_ name: String) -> Int32? {
        let lower = name.lowercased()
        if let n = Format.parseInt32(lower) { return n }
        var p = Substring(lower)
        if p.hasPrefix("sig_") {
            p = p.dropFirst(4)
        } else if p.hasPrefix("sig") {
            p = p.dropFirst(3)
        }
        return processSignalNames.firstIndex(of: String(p)).map(Int32.init)
    }

    static let sendProcessSignal = CommandDefinition(
        "send-process-signal", summary: "Send signals to processes",
        description: "Send signals to processes in the guest",
        options: [.domain(), .data("pid", "the process ID"), .data("signame", "the signal number or name")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let text = cmd.value("pid") else { return false }
        guard let pid = Format.parseInt64(text) else {
            shell.error("Numeric value '\(text)' for <pid> option is malformed or out of range")
            return false
        }
        let (ok, signame) = shell.stringOption(cmd, "signame")
        guard ok, let signame else { return false }
        guard let signum = signalNumber(signame), signum >= 0 else {
            shell.error("malformed signal name: \(signame)")
            return false
        }
        return await shell.call({ try await dom.sendProcessSignal(pid: pid, signal: UInt32(signum)) }) != nil
    }

    static let domlaunchsecinfo = CommandDefinition(
        "domlaunchsecinfo", summary: "Get domain launch security info",
        description: "Get the launch security parameters for a guest domain",
        options: [.domain()]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let params = await shell.call({ try await dom.launchSecurityInfo() }) else {
            shell.error("Unable to get launch security parameters")
            return false
        }
        for p in params {
            shell.print(Format.padRight(p.field, 15) + ": \(paramValue(p.value))\n")
        }
        return true
    }
}

extension DomainCommands {
    /// virsh's `virshPrintPerfStatus` (informational output: quiet hides it).
    @MainActor static func printPerf(_ shell: Shell, _ params: [TypedParam]) {
        for p in params {
            let on = if case .boolean(true) = p.value { true } else { false }
            shell.printExtra(Format.padRight(p.field, 15) + ": \(on ? "enabled" : "disabled")\n")
        }
    }

    static let perf = CommandDefinition(
        "perf", summary: "Get or set perf event",
        description: "Get or set the current perf events for a guest domain.\n"
            + "    To get the perf events list use following command: \n\n"
            + "    virsh # perf <domain>",
        options: [
            .domain(),
            .string("enable", "perf events which will be enabled", requiresName: true),
            .string("disable", "perf events which will be disabled", requiresName: true),
        ] + configLiveCurrent
    ) { shell, cmd in
        let (ok, flags, _) = DomainCommands.flags(shell, cmd)
        guard ok else { return false }
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (okEnable, enable) = shell.stringOption(cmd, "enable")
        guard okEnable else { return false }
        let (okDisable, disable) = shell.stringOption(cmd, "disable")
        guard okDisable else { return false }
        // virshParseEventStr: comma-separated names, empty ones skipped.
        var params: [TypedParam] = []
        for (list, on) in [(enable, true), (disable, false)] {
            for name in (list ?? "").split(separator: ",", omittingEmptySubsequences: true) {
                params.append(TypedParam(String(name), .boolean(on)))
            }
        }
        if params.isEmpty {
            guard let events = await shell.call({ try await dom.perfEvents(flags: flags) }) else {
                shell.error("Unable to get perf events")
                return false
            }
            printPerf(shell, events)
        } else {
            guard await shell.call({ try await dom.setPerfEvents(params, flags: flags) }) != nil else {
                shell.error("Unable to enable/disable perf events")
                return false
            }
            printPerf(shell, params)
        }
        return true
    }
}

extension DomainCommands {
    static let lifecycleTypes = ["poweroff", "reboot", "crash"]
    static let lifecycleActions = ["destroy", "restart", "rename-restart", "preserve", "coredump-destroy",
                                   "coredump-restart"]

    static let setLifecycleAction = CommandDefinition(
        "set-lifecycle-action", summary: "change lifecycle actions",
        description: "Change lifecycle actions for the guest domain.",
        options: [
            .domain(), .data("type", "lifecycle type to modify"), .data("action", "lifecycle action to set"),
        ] + configLiveCurrent
    ) { shell, cmd in
        let (ok, flags, _) = DomainCommands.flags(shell, cmd)
        guard ok else { return false }
        let (okType, typeName) = shell.stringOption(cmd, "type")
        guard okType, let typeName else { return false }
        let (okAction, actionName) = shell.stringOption(cmd, "action")
        guard okAction, let actionName else { return false }
        guard let type = lifecycleTypes.firstIndex(of: typeName) else {
            shell.error("Invalid lifecycle type '\(typeName)'.")
            return false
        }
        guard let action = lifecycleActions.firstIndex(of: actionName) else {
            shell.error("Invalid lifecycle action '\(actionName)'.")
            return false
        }
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard await shell.call({
            try await dom.setLifecycleAction(type: UInt32(type), action: UInt32(action), flags: flags)
        }) != nil else {
            shell.error("Unable to change lifecycle action.")
            return false
        }
        return true
    }
}

extension DomainCommands {
    static let numatune = CommandDefinition(
        "numatune", summary: "Get or set numa parameters",
        description: "Get or set the current numa parameters for a guest domain.\n"
            + "    To get the numa parameters use following command: \n\n"
            + "    virsh # numatune <domain>",
        options: [
            .domain(),
            .string("mode", "NUMA mode, one of strict, preferred and interleave \n"
                    + "or a number from the virDomainNumatuneMemMode enum", requiresName: true),
            .string("nodeset", "NUMA node selections to set", requiresName: true),
        ] + configLiveCurrent
    ) { shell, cmd in
        let (ok, flags, _) = DomainCommands.flags(shell, cmd)
        guard ok else { return false }
        guard let dom = await shell.domainOption(cmd) else { return false }
        var params: [TypedParam] = []
        let (okNodeset, nodeset) = shell.stringOption(cmd, "nodeset")
        guard okNodeset else { return false }
        if let nodeset { params.append(TypedParam("numa_nodeset", .string(nodeset))) }
        let (okMode, mode) = shell.stringOption(cmd, "mode")
        guard okMode else { return false }
        if let mode {
            // A name, or a number in case the server knows newer modes (virStrToLong_i with base 0).
            guard let m = NUMATune.modes.firstIndex(of: mode).map(Int32.init) ?? Format.parseCInt32(mode) else {
                shell.error("Invalid mode: \(mode)")
                return false
            }
            params.append(TypedParam("numa_mode", .int(m)))
        }
        if !params.isEmpty {
            guard await shell.call({ try await dom.setNumaParameters(params, flags: flags) }) != nil else {
                shell.error("Unable to change numa parameters")
                return false
            }
            return true
        }
        guard let count = await shell.call({ try await dom.numaParameters(nparams: 0, flags: flags) })?.nparams else {
            shell.error("Unable to get number of memory parameters")
            return false
        }
        if count == 0 { return true }
        guard let got = await shell.call({ try await dom.numaParameters(nparams: count, flags: flags) }) else {
            shell.error("Unable to get numa parameters")
            return false
        }
        for p in got.params {
            if p.field == "numa_mode", case .int(let m) = p.value {
                let name = m >= 0 && Int(m) < NUMATune.modes.count ? NUMATune.modes[Int(m)] : "(null)"
                shell.print(Format.padRight(p.field, 15) + ": \(name)\n")
            } else {
                shell.print(Format.padRight(p.field, 15) + ": \(paramValue(p.value))\n")
            }
        }
        return true
    }
}

extension DomainCommands {
    /// One statistic of cpu-stats: times in seconds, anything else as virsh prints a typed parameter.
    @MainActor static func printCPUStat(_ shell: Shell, _ p: TypedParam, times: Set<String>) {
        if case .ullong(let ns) = p.value, times.contains(p.field) {
            shell.print("\t" + Format.padRight(p.field, 12) + " " + HostCommands.cDouble("%19.9lf", Double(ns) / 1e9)
                        + " seconds\n")
        } else {
            shell.print("\t" + Format.padRight(p.field, 12) + " \(paramValue(p.value))\n")
        }
    }

    static let cpuStats = CommandDefinition(
        "cpu-stats", summary: "show domain cpu statistics",
        description: "Display per-CPU and total statistics about the domain's CPUs",
        options: [
            .domain(),
            .flag("total", "Show total statistics only"),
            .int("start", "Show statistics from this CPU"),
            .int("count", "Number of shown CPUs at most"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        var showTotal = cmd.has("total")
        var showPerCPU = false
        var start: Int32 = 0
        var count: Int32 = -1
        let (okStart, startValue) = HostCommands.intOption(shell, cmd, "start")
        guard okStart else { return false }
        if let startValue {
            if startValue < 0 {
                shell.error("Invalid value for start CPU")
                return false
            }
            start = startValue
            showPerCPU = true
        }
        let (okCount, countValue) = HostCommands.intOption(shell, cmd, "count")
        guard okCount else { return false }
        if let countValue {
            if countValue < 0 {
                shell.error("Invalid value for number of CPUs to show")
                return false
            }
            count = countValue
            showPerCPU = true
        }
        if !showTotal && !showPerCPU {
            showTotal = true
            showPerCPU = true
        }
        let failed = { @MainActor () -> Bool in
            shell.error("Failed to retrieve CPU statistics for domain '\(dom.name)'")
            return false
        }
        if showPerCPU {
            guard let maxID = await shell.call({ try await dom.cpuStats(nparams: 0, startCPU: 0, ncpus: 0) })?.count else {
                return failed()
            }
            if start >= maxID {
                shell.error("Start CPU \(start) is out of range (min: 0, max: \(maxID - 1))")
                return false
            }
            if count < 0 || count > maxID - start {
                if count > maxID { shell.print("Only \(maxID) CPUs available to show\n") }
                count = maxID - start
            }
            guard let nparams = await shell.call({ try await dom.cpuStats(nparams: 0, startCPU: start, ncpus: 1) })?.count
            else { return failed() }
            var cpu = start
            while count > 0 {
                let ncpus = min(count, 128)
                guard let got = await shell.call({
                    try await dom.cpuStats(nparams: UInt32(nparams), startCPU: cpu, ncpus: UInt32(ncpus))
                }) else { return failed() }
                let per = Int(nparams)
                for i in 0..<Int(ncpus) where per > 0 && i * per < got.params.count {
                    shell.print("CPU\(Int(cpu) + i):\n")
                    for p in got.params[(i * per)..<min(got.params.count, (i + 1) * per)] {
                        printCPUStat(shell, p, times: ["cpu_time", "vcpu_time"])
                    }
                }
                cpu += ncpus
                count -= ncpus
            }
            if !showTotal { return true }
        }
        guard let totalCount = await shell.call({ try await dom.cpuStats(nparams: 0, startCPU: -1, ncpus: 1) })?.count,
              let totals = await shell.call({
                  try await dom.cpuStats(nparams: UInt32(max(totalCount, 0)), startCPU: -1, ncpus: 1)
              }) else { return failed() }
        shell.print("Total:\n")
        for p in totals.params.prefix(Int(max(totals.count, 0))) {
            printCPUStat(shell, p, times: ["cpu_time", "user_time", "system_time"])
        }
        return true
    }
}
