import Foundation
import Virt
import VirtCore

/// domblkthreshold, domdirtyrate-calc, guest-agent-timeout, migrate-compcache, domsetlaunchsecstate (Domain
/// Management) and nodesevinfo, nodesuspend (Host and Hypervisor), as virsh 9.0 has them.
extension DomainCommands {
    static let hostControlCommands: [CommandDefinition] = [
        domblkthreshold, domdirtyrateCalc, guestAgentTimeout, migrateCompcache, domsetlaunchsecstate,
    ]

    static let domblkthreshold = CommandDefinition(
        "domblkthreshold",
        summary: "set the threshold for block-threshold event for a given block device or it's backing chain element",
        description: "set threshold for block-threshold event for a block device",
        options: [
            .domain(),
            .data("dev", "device to set threshold for"),
            OptionDefinition(name: "threshold", kind: .int, required: true,
                             help: "threshold as a scaled number (by default bytes)"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok, dev) = shell.stringOption(cmd, "dev")
        guard ok, let dev else { return false }
        let text = cmd.value("threshold") ?? ""
        guard let threshold = AgentCommands.scaledBytes(text, defaultScale: 1) else {
            shell.error("Scaled numeric value '\(text)' for <threshold> option is malformed or out of range")
            // virsh's scaled-integer parser reports a unit it does not know as libvirt's error too.
            if let i = text.firstIndex(where: { !$0.isNumber }), i != text.startIndex, UInt64(text[..<i]) != nil,
               AgentCommands.scaledBytes("1" + text[i...], defaultScale: 1) == nil {
                shell.lastError = VirtError(.invalidArg, "invalid argument: unknown suffix '\(text[i...])'")
            }
            return false
        }
        return await shell.call({ try await dom.setBlockThreshold(dev: dev, threshold: threshold) }) != nil
    }

    static let domdirtyrateCalc = CommandDefinition(
        "domdirtyrate-calc", summary: "Calculate a vm's memory dirty rate",
        description: "Calculate memory dirty rate of a domain in order to decide whether it's proper to be migrated "
            + "out or not.\nThe calculated dirty rate information is available by calling 'domstats --dirtyrate'.",
        options: [
            .domain(),
            OptionDefinition(name: "seconds", kind: .int, requiresName: true,
                             help: "calculate memory dirty rate within specified seconds, the supported value range "
                                + "from 1 to 60, default to 1."),
            .string("mode", "dirty page rate calculation mode, either of these 3 options 'page-sampling, "
                + "dirty-bitmap, dirty-ring' can be specified.", requiresName: true),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (secondsOK, seconds) = HostCommands.intOption(shell, cmd, "seconds")
        guard secondsOK else { return false }
        let (modeOK, mode) = shell.stringOption(cmd, "mode")
        guard modeOK else { return false }
        var flags: UInt32 = 0
        switch mode {
        case nil, "page-sampling"?: break
        case "dirty-bitmap"?: flags = 1
        case "dirty-ring"?: flags = 2
        case let other?:
            shell.error("Unknown calculation mode '\(other)'")
            return false
        }
        guard await shell.call({ try await dom.startDirtyRateCalc(seconds: seconds ?? 1, flags: flags) }) != nil else {
            return false
        }
        shell.printExtra("Start to calculate domain's memory dirty rate successfully.\n")
        return true
    }

    static let guestAgentTimeout = CommandDefinition(
        "guest-agent-timeout", summary: "Set the guest agent timeout",
        description: "Set the number of seconds to wait for a response from the guest agent.",
        options: [
            .domain(),
            OptionDefinition(name: "timeout", kind: .int, requiresName: true, help: "timeout seconds."),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok, timeout) = HostCommands.intOption(shell, cmd, "timeout")
        guard ok else { return false }
        // VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_BLOCK unless given.
        return await shell.call({ try await dom.agentSetResponseTimeout(timeout ?? -2) }) != nil
    }

    static let migrateCompcache = CommandDefinition(
        "migrate-compcache", summary: "get/set compression cache size",
        description: "Get/set size of the cache (in bytes) used for compressing repeatedly transferred memory pages "
            + "during live migration.",
        options: [
            .domain(),
            OptionDefinition(name: "size", kind: .int, requiresName: true,
                             help: "requested size of the cache (in bytes) used for compression"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        if let text = cmd.value("size") {
            guard let size = Format.parseUInt64(text) else {
                shell.error("Numeric value '\(text)' for <size> option is malformed or out of range")
                return false
            }
            guard await shell.call({ try await dom.setMigrateCompressionCache(size) }) != nil else { return false }
        }
        guard let size = await shell.call({ try await dom.migrateCompressionCache() }) else { return false }
        shell.print("Compression cache: \(MonitorCommands.prettyCapacity(size))")
        return true
    }

    static let domsetlaunchsecstate = CommandDefinition(
        "domsetlaunchsecstate", summary: "Set domain launch security state",
        description: "Set a secret in the guest domain's memory",
        options: [
            .domain(),
            .string("secrethdr", "path to file containing the secret header", requiresName: true),
            .string("secret", "path to file containing the secret", requiresName: true),
            OptionDefinition(name: "set-address", kind: .int, requiresName: true,
                             help: "physical address within the guest domain's memory to set the secret"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (hdrOK, hdrFile) = shell.stringOption(cmd, "secrethdr")
        let (secOK, secFile) = hdrOK ? shell.stringOption(cmd, "secret") : (false, nil)
        guard hdrOK, secOK else { return false }
        guard let hdrFile, let secFile else {
            shell.error("Both secret and the secret header are required")
            return false
        }
        var params: [TypedParam] = []
        for (field, file) in [("sev-secret-header", hdrFile), ("sev-secret", secFile)] {
            guard let data = FileManager.default.contents(atPath: file) else {
                shell.lastError = VirtError.systemError("Failed to open file '\(file)'", errno: errno == 0 ? ENOENT : errno)
                return false
            }
            params.append(TypedParam(field, .string(String(decoding: data, as: UTF8.self))))
        }
        if let text = cmd.value("set-address") {
            guard let addr = Format.parseUInt64(text) else {
                shell.error("Numeric value '\(text)' for <set-address> option is malformed or out of range")
                return false
            }
            params.append(TypedParam("sev-secret-set-address", .ullong(addr)))
        }
        guard await shell.call({ try await dom.setLaunchSecurityState(params) }) != nil else {
            shell.error("Unable to set launch security state")
            return false
        }
        return true
    }
}

extension HostCommands {
    static let hostControlCommands: [CommandDefinition] = [nodesevinfo, nodesuspend]

    static let nodesevinfo = CommandDefinition(
        "nodesevinfo", summary: "node SEV information",
        description: "Returns basic SEV information about the node.", options: []
    ) { shell, _ in
        guard let params = await shell.call({ try await shell.conn.nodeSEVInfo() }) else {
            shell.error("Unable to get host SEV information")
            return false
        }
        for p in params {
            let field = p.field.count >= 18 ? p.field : p.field + String(repeating: " ", count: 18 - p.field.count)
            shell.print("\(field): \(MonitorCommands.typedValue(p.value))\n")
        }
        return true
    }

    static let nodesuspend = CommandDefinition(
        "nodesuspend", summary: "suspend the host node for a given time duration",
        description: "Suspend the host node for a given time duration and attempt to resume thereafter.",
        options: [
            .data("target", "mem(Suspend-to-RAM), disk(Suspend-to-Disk), hybrid(Hybrid-Suspend)"),
            OptionDefinition(name: "duration", kind: .int, required: true, help: "Suspend duration in seconds, at least 60"),
        ]
    ) { shell, cmd in
        let (ok, target) = shell.stringOption(cmd, "target")
        guard ok, let target else { return false }
        let text = cmd.value("duration") ?? ""
        guard let duration = Format.parseInt64(text) else {
            shell.error("Numeric value '\(text)' for <duration> option is malformed or out of range")
            return false
        }
        guard let t = ["mem", "disk", "hybrid"].firstIndex(of: target) else {
            shell.error("Invalid target")
            return false
        }
        if duration < 0 {
            shell.error("Invalid duration")
            return false
        }
        guard await shell.call({
            try await shell.conn.nodeSuspendForDuration(target: UInt32(t), duration: UInt64(duration))
        }) != nil else {
            shell.error("The host was not suspended")
            return false
        }
        return true
    }
}
