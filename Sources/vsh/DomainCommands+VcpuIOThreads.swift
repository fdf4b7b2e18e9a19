import Foundation
import Virt

/// iothreadadd, iothreaddel, iothreadpin, iothreadset, setvcpu, guestvcpus, dompmsuspend, dompmwakeup,
/// domxml-to-native and domxml-from-native (virsh-domain.c).
extension DomainCommands {
    static let vcpuIOThreadCommands: [CommandDefinition] = [
        iothreadadd, iothreaddel, iothreadpin, iothreadset, setvcpu, guestvcpus, dompmsuspend, dompmwakeup,
        domxmlToNative, domxmlFromNative, updateMemoryDevice, qemuMonitorEvent,
    ]

    /// --config/--live/--current as virsh reads them (current excludes the other two).
    @MainActor
    private static func impact(_ shell: Shell, _ cmd: ParsedCommand) -> ModificationImpact? {
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config") else { return nil }
        var flags: ModificationImpact = []
        if cmd.has("config") { flags.insert(.config) }
        if cmd.has("live") { flags.insert(.live) }
        return flags
    }

    private static let impactOptions: [OptionDefinition] = [
        .flag("config", "affect next boot"), .flag("live", "affect running domain"),
        .flag("current", "affect current domain"),
    ]

    /// iothreadadd and iothreaddel: `<id>` as an int that must be positive.
    @MainActor
    private static func iothreadID(_ shell: Shell, _ cmd: ParsedCommand) -> UInt32? {
        let (ok, id) = HostCommands.intOption(shell, cmd, "id")
        guard ok else { return nil }
        let v = id ?? 0
        if v <= 0 {
            shell.error("Invalid IOThread id value: '\(v)'")
            return nil
        }
        return UInt32(v)
    }

    static let iothreadadd = CommandDefinition(
        "iothreadadd", summary: "add an IOThread to the guest domain",
        description: "Add an IOThread to the guest domain.",
        options: [.domain(), OptionDefinition(name: "id", kind: .int, required: true,
                                              help: "iothread for the new IOThread")] + impactOptions
    ) { shell, cmd in
        guard let flags = impact(shell, cmd), let dom = await shell.domainOption(cmd),
              let id = iothreadID(shell, cmd) else { return false }
        return await shell.call({ try await dom.addIOThread(id, flags: flags) }) != nil
    }

    static let iothreaddel = CommandDefinition(
        "iothreaddel", summary: "delete an IOThread from the guest domain",
        description: "Delete an IOThread from the guest domain.",
        options: [.domain(), OptionDefinition(name: "id", kind: .int, required: true,
                                              help: "iothread_id for the IOThread to delete")] + impactOptions
    ) { shell, cmd in
        guard let flags = impact(shell, cmd), let dom = await shell.domainOption(cmd),
              let id = iothreadID(shell, cmd) else { return false }
        return await shell.call({ try await dom.deleteIOThread(id, flags: flags) }) != nil
    }

    static let iothreadpin = CommandDefinition(
        "iothreadpin", summary: "control domain IOThread affinity",
        description: "Pin domain IOThreads to host physical CPUs.",
        options: [.domain(), OptionDefinition(name: "iothread", kind: .int, required: true, help: "IOThread ID number"),
                  OptionDefinition(name: "cpulist", kind: .data, required: true, emptyOK: true,
                                   help: "host cpu number(s) to set")] + impactOptions
    ) { shell, cmd in
        guard let flags = impact(shell, cmd), let dom = await shell.domainOption(cmd) else { return false }
        let (ok, id) = HostCommands.uintOption(shell, cmd, "iothread")
        guard ok, let id else { return false }
        let (sok, cpulist) = shell.stringOption(cmd, "cpulist")
        guard sok, let cpulist else { return false }
        guard let maxcpu = await hostCPUCount(shell),
              let set = parseCPUList(shell, cpulist, maxcpu: maxcpu) else { return false }
        return await shell.call({ try await dom.pinIOThread(id, to: set, hostCPUs: maxcpu, flags: flags) }) != nil
    }

    static let iothreadset = CommandDefinition(
        "iothreadset", summary: "modifies an existing IOThread of the guest domain",
        description: "Modifies an existing IOThread of the guest domain.",
        options: [
            .domain(), OptionDefinition(name: "id", kind: .int, required: true, help: "iothread id of existing IOThread"),
            OptionDefinition(name: "poll-max-ns", kind: .int, requiresName: true,
                             help: "set the maximum IOThread polling time in ns"),
            OptionDefinition(name: "poll-grow", kind: .int, requiresName: true,
                             help: "set the value to increase the IOThread polling time"),
            OptionDefinition(name: "poll-shrink", kind: .int, requiresName: true,
                             help: "set the value for reduction of the IOThread polling time"),
            OptionDefinition(name: "thread-pool-min", kind: .int, requiresName: true,
                             help: "lower boundary for worker thread pool"),
            OptionDefinition(name: "thread-pool-max", kind: .int, requiresName: true,
                             help: "upper boundary for worker thread pool"),
        ] + impactOptions
    ) { shell, cmd in
        guard let flags = impact(shell, cmd), let dom = await shell.domainOption(cmd) else { return false }
        let (ok, id) = HostCommands.intOption(shell, cmd, "id")
        guard ok, let id else { return false }
        var params: [TypedParam] = []
        if let text = cmd.value("poll-max-ns") {
            guard let v = Format.parseUInt64(text) else {
                shell.error("Numeric value '\(text)' for <poll-max-ns> option is malformed or out of range")
                return false
            }
            params.append(TypedParam(IOThreadParam.pollMaxNs, .ullong(v)))
        }
        for (option, field) in [("poll-grow", IOThreadParam.pollGrow), ("poll-shrink", IOThreadParam.pollShrink)] {
            let (ok, v) = HostCommands.uintOption(shell, cmd, option)
            guard ok else { return false }
            if let v { params.append(TypedParam(field, .uint(v))) }
        }
        for (option, field) in [("thread-pool-min", IOThreadParam.threadPoolMin),
                                ("thread-pool-max", IOThreadParam.threadPoolMax)] {
            let (ok, v) = HostCommands.intOption(shell, cmd, option)
            guard ok else { return false }
            if let v { params.append(TypedParam(field, .int(v))) }
        }
        if params.isEmpty {
            shell.error("Not enough arguments passed, nothing to set")
            return false
        }
        return await shell.call({
            try await dom.setIOThreadParams(UInt32(bitPattern: id), params, flags: flags)
        }) != nil
    }

    static let setvcpu = CommandDefinition(
        "setvcpu", summary: "attach/detach vcpu or groups of threads",
        description: "Add or remove vcpus",
        options: [.domain(), OptionDefinition(name: "vcpulist", kind: .data, required: true,
                                              help: "ids of vcpus to manipulate"),
                  .flag("enable", "enable cpus specified by cpumap"), .flag("disable", "disable cpus specified by cpumap"),
        ] + impactOptions
    ) { shell, cmd in
        guard let flags = impact(shell, cmd), shell.exclusive(cmd, "enable", "disable") else { return false }
        let enable = cmd.has("enable")
        if !enable && !cmd.has("disable") {
            shell.error("one of --enable, --disable is required")
            return false
        }
        let (ok, list) = shell.stringOption(cmd, "vcpulist")
        guard ok, let list, let dom = await shell.domainOption(cmd) else { return false }
        return await shell.call({ try await dom.setVcpu(list, enabled: enable, flags: flags) }) != nil
    }

    static let guestvcpus = CommandDefinition(
        "guestvcpus", summary: "query or modify state of vcpu in the guest (via agent)",
        description: "Use the guest agent to query or set cpu state from guest's point of view",
        options: [.domain(), .string("cpulist", "list of cpus to enable or disable", requiresName: true),
                  .flag("enable", "enable cpus specified by cpulist"),
                  .flag("disable", "disable cpus specified by cpulist")]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "enable", "disable") else { return false }
        for option in ["enable", "disable"] where cmd.has(option) && cmd.value("cpulist") == nil {
            shell.error("Option --cpulist is required by option --\(option)")
            return false
        }
        let (ok, cpulist) = shell.stringOption(cmd, "cpulist")
        guard ok else { return false }
        let enable = cmd.has("enable")
        if cpulist != nil && !enable && !cmd.has("disable") {
            shell.error("One of options --enable or --disable is required by option --cpulist")
            return false
        }
        guard let dom = await shell.domainOption(cmd) else { return false }
        if let cpulist {
            return await shell.call({ try await dom.setGuestVcpus(cpulist, enabled: enable) }) != nil
        }
        guard let params = await shell.call({ try await dom.guestVcpus() }) else { return false }
        for p in params {
            let name = p.field.padding(toLength: max(15, p.field.count), withPad: " ", startingAt: 0)
            shell.print("\(name): \(paramValue(p.value))\n")
        }
        return true
    }

    static let dompmsuspend = CommandDefinition(
        "dompmsuspend", summary: "suspend a domain gracefully using power management functions",
        description: "Suspends a running domain using guest OS's power management. (Note: This requires a guest "
            + "agent configured and running in the guest OS).",
        options: [.domain(), .data("target", "mem(Suspend-to-RAM), disk(Suspend-to-Disk), hybrid(Hybrid-Suspend)"),
                  .int("duration", "duration in seconds")]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        var duration: UInt64 = 0
        if let text = cmd.value("duration") {
            guard let v = Format.parseUInt64(text) else {
                shell.error("Numeric value '\(text)' for <duration> option is malformed or out of range")
                return false
            }
            duration = v
        }
        let (ok, target) = shell.stringOption(cmd, "target")
        guard ok, let target else { return false }
        guard let t = ["mem": PMSuspendTarget.mem, "disk": .disk, "hybrid": .hybrid][target] else {
            shell.error("Invalid target")
            return false
        }
        let name = dom.name
        if await shell.call({ try await dom.pmSuspend(target: t, duration: duration) }) == nil {
            shell.error("Domain '\(name)' could not be suspended")
            return false
        }
        shell.printExtra("Domain '\(name)' successfully suspended")
        return true
    }

    static let dompmwakeup = CommandDefinition(
        "dompmwakeup", summary: "wakeup a domain from pmsuspended state",
        description: "Wakeup a domain that was previously suspended by power management.",
        options: [.domain()]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let name = dom.name
        if await shell.call({ try await dom.pmWakeup() }) == nil {
            shell.error("Domain '\(name)' could not be woken up")
            return false
        }
        shell.printExtra("Domain '\(name)' successfully woken up")
        return true
    }

    static let domxmlToNative = CommandDefinition(
        "domxml-to-native", summary: "Convert domain XML to native config",
        description: "Convert domain XML config to a native guest configuration format.",
        options: [.data("format", "target config data type format"),
                  .string("domain", "domain name, id or uuid", requiresName: true),
                  .string("xml", "xml data file to export from", requiresName: true)]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "domain", "xml") else { return false }
        let (fok, format) = shell.stringOption(cmd, "format")
        let (xok, file) = shell.stringOption(cmd, "xml")
        guard fok, xok, let format else { return false }
        let xml: String
        if cmd.has("domain") {
            guard let dom = await shell.domainOption(cmd),
                  let text = await shell.call({ try await dom.xmlDesc() }) else { return false }
            xml = text
        } else if let file {
            guard let text = shell.readFile(file) else { return false }
            xml = text
        } else {
            shell.error("need either domain or domain XML")
            return false
        }
        guard let native = await shell.call({ try await shell.conn.domainXMLToNative(format: format, xml: xml) })
        else { return false }
        shell.print(native)
        return true
    }

    static let domxmlFromNative = CommandDefinition(
        "domxml-from-native", summary: "Convert native config to domain XML",
        description: "Convert native guest configuration format to domain XML format.",
        options: [.data("format", "source config data format"), .data("config", "config data file to import from")]
    ) { shell, cmd in
        let (fok, format) = shell.stringOption(cmd, "format")
        let (cok, file) = shell.stringOption(cmd, "config")
        guard fok, cok, let format, let file, let config = shell.readFile(file) else { return false }
        guard let xml = await shell.call({ try await shell.conn.domainXMLFromNative(format: format, config: config) })
        else { return false }
        shell.print(xml)
        return true
    }
}
