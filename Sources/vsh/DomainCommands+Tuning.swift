import Virt

/// Resource control commands of virsh-domain.c: schedinfo, memtune, blkiotune, domiftune.
extension DomainCommands {
    static let tuningCommands: [CommandDefinition] = [schedinfo, memtune, blkiotune, domiftune]

    /// virsh's `vshGetTypedParamValue`.
    static func paramValue(_ v: TypedParam.Value) -> String { MonitorCommands.typedValue(v) }

    /// memtune's and blkiotune's two ways: with values given, set them; else the query: the count, then the
    /// parameters, printed `%-15s: %s` (`unlimited` for memory's no-limit value); virsh's messages on failure.
    @MainActor static func setOrPrint(_ shell: Shell, _ what: String, _ params: [TypedParam],
                                      set: @escaping ([TypedParam]) async throws -> Void,
                                      get: @escaping (Int32) async throws -> (params: [TypedParam], nparams: Int32))
        async -> Bool {
        if !params.isEmpty {
            guard await shell.call({ try await set(params) }) != nil else {
                shell.error("Unable to change \(what) parameters")
                shell.reportError()
                return false
            }
            return true
        }
        guard let count = await shell.call({ try await get(0) }) else {
            shell.error("Unable to get number of \(what) parameters")
            shell.reportError()
            return false
        }
        if count.nparams == 0 { return true }
        guard let r = await shell.call({ try await get(count.nparams) }) else {
            shell.error("Unable to get \(what) parameters")
            shell.reportError()
            return false
        }
        for p in r.params {
            let text = what == "memory" && p.value == .ullong(9_007_199_254_740_991) ? "unlimited" : paramValue(p.value)
            shell.print(Format.padRight(p.field, 15) + ": " + text + "\n")
        }
        return true
    }

    @MainActor static func flags(_ shell: Shell, _ cmd: ParsedCommand) -> (ok: Bool, flags: ModificationImpact, any: Bool) {
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config") else { return (false, [], false) }
        var f: ModificationImpact = []
        if cmd.has("config") { f.insert(.config) }
        if cmd.has("live") { f.insert(.live) }
        return (true, f, !f.isEmpty || cmd.has("current"))
    }

    static let schedinfo = CommandDefinition(
        "schedinfo", summary: "show/set scheduler parameters", description: "Show/Set scheduler parameters.",
        options: [
            .domain(),
            .int("weight", "weight for XEN_CREDIT"),
            .int("cap", "cap for XEN_CREDIT"),
            .flag("current", "get/set current scheduler info"),
            .flag("config", "get/set value to be used on next boot"),
            .flag("live", "get/set value from running domain"),
            .argv("set", "parameter=value"),
        ]
    ) { shell, cmd in
        let (ok, flags, withFlags) = Self.flags(shell, cmd)
        guard ok, let dom = await shell.domainOption(cmd) else { return false }
        guard let type = await shell.call({ try await dom.schedulerType() }) else {
            shell.print(Format.padRight("Scheduler", 15) + ": Unknown\n")
            return false
        }
        shell.print(Format.padRight("Scheduler", 15) + ": \(type.type)\n")
        if type.nparams == 0 { return true }
        // Both --live and --config cannot be queried at once: current then.
        let query: ModificationImpact? = withFlags ? (flags == [.live, .config] ? [] : flags) : nil
        guard var params = await shell.call({ try await dom.schedulerParameters(nparams: type.nparams, flags: query) })
        else { return false }
        // The updates: --weight, --cap, then each --set name=value, typed after the parameter of that name.
        var updates: [TypedParam] = []
        var requests: [(String, String)] = []
        for name in ["weight", "cap"] { if let v = cmd.value(name) { requests.append((name, v)) } }
        for s in cmd.values("set") {
            guard let eq = s.firstIndex(of: "=") else {
                shell.error("Invalid syntax for --set, expecting name=value")
                return false
            }
            requests.append((String(s[..<eq]), String(s[s.index(after: eq)...])))
        }
        for (name, text) in requests {
            guard let p = params.first(where: { $0.field == name }) else {
                shell.error("invalid scheduler option: \(name)")
                return false
            }
            let value: TypedParam.Value?
            let typeName: String
            switch p.value {
            case .int: (value, typeName) = (Int32(text).map { .int($0) }, "int")
            case .uint: (value, typeName) = (UInt32(text).map { .uint($0) }, "unsigned int")
            case .llong: (value, typeName) = (Int64(text).map { .llong($0) }, "long long")
            case .ullong: (value, typeName) = (UInt64(text).map { .ullong($0) }, "unsigned long long")
            case .double: (value, typeName) = (Double(text).map { .double($0) }, "double")
            case .boolean: (value, typeName) = (["1", "yes", "true"].contains(text) ? .boolean(true)
                                                 : ["0", "no", "false"].contains(text) ? .boolean(false) : nil, "boolean")
            case .string: (value, typeName) = (.string(text), "string")
            }
            guard let value else {
                shell.lastError = VirtError.invalidArg("Invalid value for field '\(name)': expected \(typeName)")
                shell.reportError()
                return false
            }
            updates.append(TypedParam(name, value))
        }
        if !updates.isEmpty {
            let set: ModificationImpact? = withFlags ? flags : nil
            guard await shell.call({ try await dom.setSchedulerParameters(updates, flags: set) }) != nil,
                  let again = await shell.call({ try await dom.schedulerParameters(nparams: type.nparams, flags: query) })
            else { return false }
            params = again
        } else if flags == [.live, .config] {
            shell.error("cannot query both live and config at once")
            return false
        }
        for p in params { shell.print(Format.padRight(p.field, 15) + ": " + paramValue(p.value) + "\n") }
        return true
    }

    /// virsh's `virshMemtuneGetSize`: KiB by default, a unit suffix scaled, negative means unlimited.
    @MainActor static func memtuneSize(_ shell: Shell, _ cmd: ParsedCommand, _ name: String) -> (ok: Bool, value: UInt64?) {
        guard let text = cmd.value(name) else { return (true, nil) }
        var digits = text
        var suffix = ""
        if let i = text.firstIndex(where: { !$0.isNumber && $0 != "-" && $0 != "+" }) {
            digits = String(text[..<i])
            suffix = String(text[i...])
        }
        guard let n = Int64(digits) else {
            shell.error("Unable to parse integer parameter \(name)")
            return (false, nil)
        }
        if n < 0 { return (true, 9_007_199_254_740_991) }
        let scales: [String: UInt64] = ["": 1024, "b": 1, "byte": 1, "bytes": 1, "k": 1024, "kib": 1024, "kb": 1000,
                                        "m": 1 << 20, "mib": 1 << 20, "mb": 1_000_000, "g": 1 << 30, "gib": 1 << 30,
                                        "gb": 1_000_000_000, "t": 1 << 40, "tib": 1 << 40, "tb": 1_000_000_000_000]
        guard let scale = scales[suffix.lowercased()] else {
            shell.error("Unable to parse integer parameter \(name)")
            return (false, nil)
        }
        let (bytes, overflow) = UInt64(n).multipliedReportingOverflow(by: scale)
        if overflow || bytes > UInt64(Int64.max) {
            shell.lastError = VirtError(.overflow, domain: .none, "numerical overflow: value too large: \(text)")
            shell.error("Unable to parse integer parameter \(name)")
            shell.reportError()
            return (false, nil)
        }
        return (true, (bytes + 1023) / 1024)
    }

    static let memtune = CommandDefinition(
        "memtune", summary: "Get or set memory parameters",
        description: "Get or set the current memory parameters for a guest domain.\n"
            + "    To get the memory parameters use following command: \n\n    virsh # memtune <domain>",
        options: [
            .domain(),
            .int("hard-limit", "Max memory, as scaled integer (default KiB)"),
            .int("soft-limit", "Memory during contention, as scaled integer (default KiB)"),
            .int("swap-hard-limit", "Max memory plus swap, as scaled integer (default KiB)"),
            .int("min-guarantee", "Min guaranteed memory, as scaled integer (default KiB)"),
            .flag("config", "affect next boot"),
            .flag("live", "affect running domain"),
            .flag("current", "affect current domain"),
        ]
    ) { shell, cmd in
        let (ok, flags, _) = Self.flags(shell, cmd)
        guard ok, let dom = await shell.domainOption(cmd) else { return false }
        var params: [TypedParam] = []
        for (opt, field) in [("hard-limit", "hard_limit"), ("soft-limit", "soft_limit"),
                             ("swap-hard-limit", "swap_hard_limit"), ("min-guarantee", "min_guarantee")] {
            let (ok, v) = memtuneSize(shell, cmd, opt)
            guard ok else { return false }
            if let v { params.append(TypedParam(field, .ullong(v))) }
        }
        return await setOrPrint(shell, "memory", params, set: { try await dom.setMemoryParameters($0, flags: flags) },
                                get: { try await dom.memoryParameters(nparams: $0, flags: flags) })
    }

    static let blkiotune = CommandDefinition(
        "blkiotune", summary: "Get or set blkio parameters",
        description: "Get or set the current blkio parameters for a guest domain.\n"
            + "    To get the blkio parameters use following command: \n\n    virsh # blkiotune <domain>",
        options: [
            .domain(),
            .int("weight", "IO Weight"),
            .string("device-weights", "per-device IO Weights, in the form of /path/to/device,weight,..."),
            .string("device-read-iops-sec", "per-device read I/O limit per second, in the form of /path/to/device,read_iops_sec,..."),
            .string("device-write-iops-sec", "per-device write I/O limit per second, in the form of /path/to/device,write_iops_sec,..."),
            .string("device-read-bytes-sec", "per-device bytes read per second, in the form of /path/to/device,read_bytes_sec,..."),
            .string("device-write-bytes-sec", "per-device bytes wrote per second, in the form of /path/to/device,write_bytes_sec,..."),
            .flag("config", "affect next boot"),
            .flag("live", "affect running domain"),
            .flag("current", "affect current domain"),
        ]
    ) { shell, cmd in
        let (ok, flags, _) = Self.flags(shell, cmd)
        guard ok, let dom = await shell.domainOption(cmd) else { return false }
        var params: [TypedParam] = []
        let (wok, weight) = HostCommands.intOption(shell, cmd, "weight")
        guard wok else { return false }
        if let weight {
            guard weight > 0 else {
                shell.error("Invalid value of \(weight) for I/O weight")
                return false
            }
            params.append(TypedParam("weight", .uint(UInt32(weight))))
        }
        for (opt, field) in [("device-weights", "device_weight"), ("device-read-iops-sec", "device_read_iops_sec"),
                             ("device-write-iops-sec", "device_write_iops_sec"),
                             ("device-read-bytes-sec", "device_read_bytes_sec"),
                             ("device-write-bytes-sec", "device_write_bytes_sec")] {
            if let v = cmd.value(opt) { params.append(TypedParam(field, .string(v))) }
        }
        return await setOrPrint(shell, "blkio", params, set: { try await dom.setBlkioParameters($0, flags: flags) },
                                get: { try await dom.blkioParameters(nparams: $0, flags: flags) })
    }

    /// virsh's `virshParseRateStr`: "average,peak,burst,floor", empty fields left at 0.
    @MainActor static func parseRate(_ shell: Shell, _ text: String) -> [UInt64]? {
        let fields = text.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count <= 4 else {
            shell.error("Rate string '\(text)' has too many fields")
            return nil
        }
        var out: [UInt64] = [0, 0, 0, 0]
        for (i, f) in fields.enumerated() where !f.isEmpty {
            guard let v = UInt64(f) else {
                shell.error("field '\(["average", "peak", "burst", "floor"][i])' is malformed")
                return nil
            }
            out[i] = v
        }
        return out
    }

    static let domiftune = CommandDefinition(
        "domiftune", summary: "get/set parameters of a virtual interface",
        description: "Get/set parameters of a domain's virtual interface.",
        options: [
            .domain(),
            .data("interface", "interface device (MAC Address)"),
            .string("inbound", "control domain's incoming traffics"),
            .string("outbound", "control domain's outgoing traffics"),
            .flag("config", "affect next boot"),
            .flag("live", "affect running domain"),
            .flag("current", "affect current domain"),
        ]
    ) { shell, cmd in
        let (ok, flags, _) = Self.flags(shell, cmd)
        guard ok, let dom = await shell.domainOption(cmd) else { return false }
        let (dok, device) = shell.stringOption(cmd, "interface")
        guard dok, let device else { return false }
        var params: [TypedParam] = []
        for dir in ["inbound", "outbound"] {
            guard let text = cmd.value(dir) else { continue }
            guard let r = parseRate(shell, text) else { return false }
            let (average, peak, burst, floor) = (r[0], r[1], r[2], r[3])
            if [average, peak, burst].contains(where: { $0 > UInt64(UInt32.max) }) {
                shell.error("\(dir) rate larger than maximum \(UInt32.max)")
                return false
            }
            if dir == "inbound" {
                if average == 0 && (burst != 0 || peak != 0) && floor == 0 {
                    shell.error("either inbound average or floor is mandatory")
                    return false
                }
            } else {
                if average == 0 && (burst != 0 || peak != 0) {
                    shell.error("outbound average is mandatory")
                    return false
                }
                if floor != 0 {
                    shell.error("outbound floor is unsupported yet")
                    return false
                }
            }
            params.append(TypedParam("\(dir).average", .uint(UInt32(truncatingIfNeeded: average))))
            if peak != 0 { params.append(TypedParam("\(dir).peak", .uint(UInt32(truncatingIfNeeded: peak)))) }
            if burst != 0 { params.append(TypedParam("\(dir).burst", .uint(UInt32(truncatingIfNeeded: burst)))) }
            if floor != 0 { params.append(TypedParam("\(dir).floor", .uint(UInt32(truncatingIfNeeded: floor)))) }
        }
        if !params.isEmpty {
            guard await shell.call({ try await dom.setInterfaceParameters(device: device, params, flags: flags) }) != nil else {
                shell.error("Unable to set interface parameters")
                shell.reportError()
                return false
            }
            return true
        }
        guard let count = await shell.call({ try await dom.interfaceParameters(device: device, nparams: 0, flags: flags) }) else {
            shell.error("Unable to get number of interface parameters")
            shell.reportError()
            return false
        }
        if count.nparams == 0 { return true }
        guard let r = await shell.call({ try await dom.interfaceParameters(device: device, nparams: count.nparams, flags: flags) }) else {
            shell.error("Unable to get interface parameters")
            shell.reportError()
            return false
        }
        for p in r.params { shell.print(Format.padRight(p.field, 15) + ": " + paramValue(p.value) + "\n") }
        return true
    }
}
