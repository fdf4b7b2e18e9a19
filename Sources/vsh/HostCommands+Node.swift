#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Virt
import VirtCore

/// Host statistics commands (virsh-host.c): nodecpumap, nodecpustats, nodememstats, freecell, sysinfo,
/// node-memory-tune, cpu-models.
extension HostCommands {
    static let nodeCommands: [CommandDefinition] = [
        nodecpumap, nodecpustats, nodememstats, freecell, sysinfo, nodeMemoryTune, cpuModels,
    ]

    /// `vshCommandOptInt`: absent is nil with ok; a value that does not parse prints virsh's error.
    @MainActor static func intOption(_ shell: Shell, _ cmd: ParsedCommand, _ name: String)
        -> (ok: Bool, value: Int32?) {
        guard let text = cmd.value(name) else { return (true, nil) }
        guard let v = Format.parseInt32(text) else {
            shell.error("Numeric value '\(text)' for <\(name)> option is malformed or out of range")
            return (false, nil)
        }
        return (true, v)
    }

    /// `vshCommandOptUInt`.
    @MainActor static func uintOption(_ shell: Shell, _ cmd: ParsedCommand, _ name: String)
        -> (ok: Bool, value: UInt32?) {
        guard let text = cmd.value(name) else { return (true, nil) }
        guard let v = Format.parseUInt32(text) else {
            shell.error("Numeric value '\(text)' for <\(name)> option is malformed or out of range")
            return (false, nil)
        }
        return (true, v)
    }

    /// printf's `%*.*f`-style formatting of one double (glibc's "-nan" and "inf" included).
    static func cDouble(_ format: String, _ value: Double) -> String {
        var buf = [CChar](repeating: 0, count: 64)
        let n = withVaList([value]) { args in
            buf.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, 64, format, args) }
        }
        let count = max(0, min(Int(n), 63))
        return String(decoding: buf[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `%20llu`.
    static func padLeft(_ text: String, _ width: Int) -> String {
        let n = text.utf8.count
        return n >= width ? text : String(repeating: " ", count: width - n) + text
    }

    /// `virBitmapDataFormat`: "0-3,5".
    static func ranges(_ map: NodeCPUMap) -> String {
        var parts: [String] = []
        var cpu = 0
        let bits = map.map.count * 8
        while cpu < bits {
            guard map.isOnline(cpu) else {
                cpu += 1
                continue
            }
            var end = cpu
            while end + 1 < bits && map.isOnline(end + 1) { end += 1 }
            parts.append(end == cpu ? "\(cpu)" : "\(cpu)-\(end)")
            cpu = end + 1
        }
        return parts.joined(separator: ",")
    }

    static let nodecpumap = CommandDefinition(
        "nodecpumap", summary: "node cpu map",
        description: "Displays the node's total number of CPUs, the number of online CPUs and the list of online CPUs.",
        options: [.flag("pretty", "return human readable output")]
    ) { shell, cmd in
        guard let map = await shell.call({ try await shell.conn.nodeCPUMap() }) else {
            shell.error("Unable to get cpu map")
            return false
        }
        shell.print(Format.padRight("CPUs present:", 15) + " \(map.cpus)\n")
        shell.print(Format.padRight("CPUs online:", 15) + " \(map.online)\n")
        var line = Format.padRight("CPU map:", 15) + " "
        if cmd.has("pretty") {
            line += ranges(map)
        } else {
            for cpu in 0..<Int(max(map.cpus, 0)) { line += map.isOnline(cpu) ? "y" : "-" }
        }
        shell.print(line + "\n")
        return true
    }

    static let nodecpustats = CommandDefinition(
        "nodecpustats", summary: "Prints cpu stats of the node.",
        description: "Returns cpu stats of the node, in nanoseconds.",
        options: [
            .int("cpu", "prints specified cpu statistics only."),
            .flag("percent", "prints by percentage during 1 second."),
        ]
    ) { shell, cmd in
        let percent = cmd.has("percent")
        let (ok, cpuOpt) = intOption(shell, cmd, "cpu")
        guard ok else { return false }
        let cpu = cpuOpt ?? -1
        guard let count = await shell.call({ try await shell.conn.nodeCPUStats(cpu: cpu, nparams: 0) }) else {
            shell.error("Unable to get number of cpu stats")
            return false
        }
        if count.nparams == 0 { return true }
        // virsh's order: user, system (kernel), idle, iowait, intr, usage (utilization).
        let fields = ["user", "kernel", "idle", "iowait", "intr", "utilization"]
        var values = [UInt64](repeating: 0, count: fields.count)
        var present = [Bool](repeating: false, count: fields.count)
        for round in 0..<2 {
            guard let r = await shell.call({ try await shell.conn.nodeCPUStats(cpu: cpu, nparams: count.nparams) })
            else {
                shell.error("Unable to get node cpu stats")
                return false
            }
            for stat in r.stats {
                guard let i = fields.firstIndex(of: stat.field) else { continue }
                if round == 0 {
                    values[i] = stat.value
                    present[i] = true
                } else if present[i] {
                    values[i] = stat.value &- values[i]
                }
            }
            if present[5] || !percent { break }
            sleep(1)
        }
        let labels = ["user:", "system:", "idle:", "iowait:", "intr:"]
        if !percent {
            for i in 0..<5 where present[i] {
                shell.print(Format.padRight(labels[i], 15) + " " + padLeft("\(values[i])", 20) + "\n")
            }
        } else if present[5] {
            shell.print(Format.padRight("usage:", 15) + " " + padLeft("\(values[5])", 5) + "%\n")
            shell.print(Format.padRight("idle:", 15) + " " + padLeft("\(100 &- values[5])", 5) + "%\n")
        } else {
            let total = values[0..<5].reduce(0.0) { $0 + Double($1) }
            // C's x / 0.0 * 100: the default NaN of 0/0 carries the sign bit (glibc prints "-nan").
            func share(_ x: Double) -> Double {
                if total == 0 { return x == 0 ? -Double.nan : .infinity }
                return x / total * 100
            }
            shell.print(Format.padRight("usage:", 15) + " "
                        + cDouble("%5.1f", share(Double(values[0]) + Double(values[1]))) + "%\n")
            for i in 0..<5 where present[i] {
                shell.print(Format.padRight(labels[i], 15) + " " + cDouble("%5.1f", share(Double(values[i]))) + "%\n")
            }
        }
        return true
    }

    static let nodememstats = CommandDefinition(
        "nodememstats", summary: "Prints memory stats of the node.",
        description: "Returns memory stats of the node, in kilobytes.",
        options: [.int("cell", "prints specified cell statistics only.")]
    ) { shell, cmd in
        let (ok, cellOpt) = intOption(shell, cmd, "cell")
        guard ok else { return false }
        let cell = cellOpt ?? -1
        guard let count = await shell.call({ try await shell.conn.nodeMemoryStats(cell: cell, nparams: 0) }) else {
            shell.error("Unable to get number of memory stats")
            return false
        }
        if count.nparams == 0 { return true }
        guard let r = await shell.call({ try await shell.conn.nodeMemoryStats(cell: cell, nparams: count.nparams) })
        else {
            shell.error("Unable to get memory stats")
            return false
        }
        for stat in r.stats {
            shell.print(Format.padRight(stat.field, 7) + ": " + padLeft("\(stat.value)", 20) + " KiB\n")
        }
        return true
    }

    static let freecell = CommandDefinition(
        "freecell", summary: "NUMA free memory",
        description: "display available free memory for the NUMA cell.",
        options: [
            .int("cellno", "NUMA cell number"),
            .flag("all", "show free memory for all NUMA cells"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "all", "cellno") else { return false }
        let (ok, cellOpt) = intOption(shell, cmd, "cellno")
        guard ok else { return false }
        if cmd.has("all") {
            guard let caps = await shell.call({ try await shell.conn.capabilities() }),
                  let doc = try? XMLParser.parse(caps, documentName: "(capabilities)") else {
                shell.error("unable to get node capabilities")
                return false
            }
            let cells = doc.child("host")?.child("topology")?.child("cells")?.children("cell") ?? []
            var rows: [(id: UInt64, free: UInt64)] = []
            for cell in cells {
                guard let id = cell.attr("id").flatMap({ Format.parseUInt64($0) }) else {
                    shell.error("conversion from string failed")
                    return false
                }
                let free = await shell.call({
                    try await shell.conn.nodeCellsFreeMemory(startCell: Int32(truncatingIfNeeded: id), maxCells: 1)
                })
                guard let free, free.count == 1 else {
                    shell.error("failed to get free memory for NUMA node number: \(id)")
                    return false
                }
                rows.append((id, free[0]))
            }
            var total: UInt64 = 0
            for row in rows {
                shell.print(padLeft("\(row.id)", 5) + ": " + padLeft("\(row.free / 1024)", 10) + " KiB\n")
                total &+= row.free
            }
            shell.printExtra("--------------------\n")
            shell.printExtra(padLeft("Total", 5) + ": " + padLeft("\(total / 1024)", 10) + " KiB\n")
        } else if let cell = cellOpt {
            let free = await shell.call({ try await shell.conn.nodeCellsFreeMemory(startCell: cell, maxCells: 1) })
            guard let free,
                  free.count == 1 else { return false }
            shell.print("\(cell): \(free[0] / 1024) KiB\n")
        } else {
            guard let free = await shell.call({ try await shell.conn.nodeFreeMemory() }) else { return false }
            if free == 0 {
                shell.error("An error occurred, but the cause is unknown")
                return false
            }
            shell.print("Total: \(free / 1024) KiB\n")
        }
        return true
    }

    static let sysinfo = CommandDefinition(
        "sysinfo", summary: "print the hypervisor sysinfo",
        description: "output an XML string for the hypervisor sysinfo, if available"
    ) { shell, _ in
        guard let xml = await shell.call({ try await shell.conn.sysinfo() }) else {
            shell.error("failed to get sysinfo")
            return false
        }
        shell.print(xml)
        return true
    }

    static let nodeMemoryTune = CommandDefinition(
        "node-memory-tune", summary: "Get or set node memory parameters",
        description: "Get or set node memory parameters\n    To get the memory parameters, use following command: \n\n"
            + "    virsh # node-memory-tune",
        options: [
            .int("shm-pages-to-scan", "number of pages to scan before the shared memory service goes to sleep"),
            .int("shm-sleep-millisecs", "number of millisecs the shared memory service should sleep before next scan"),
            .int("shm-merge-across-nodes", "Specifies if pages from different numa nodes can be merged"),
        ]
    ) { shell, cmd in
        var toSet = 0
        for name in ["shm-pages-to-scan", "shm-sleep-millisecs", "shm-merge-across-nodes"] {
            let (ok, v) = uintOption(shell, cmd, name)
            guard ok else { return false }
            if v != nil { toSet += 1 }
        }
        if toSet > 0 {
            // Setting (virNodeSetMemoryParameters) is not served yet.
            shell.lastError = VirtError.noSupport("virNodeSetMemoryParameters", domain: .domain)
            shell.error("Unable to change memory parameters")
            return false
        }
        guard let count = await shell.call({ try await shell.conn.nodeMemoryParameters(nparams: 0) }) else {
            shell.error("Unable to get number of memory parameters")
            return false
        }
        if count.nparams == 0 { return true }
        guard let r = await shell.call({ try await shell.conn.nodeMemoryParameters(nparams: count.nparams) }) else {
            shell.error("Unable to get memory parameters")
            return false
        }
        shell.print("Shared memory:\n")
        for p in r.params {
            let value: String
            switch p.value {
            case .int(let v): value = "\(v)"
            case .uint(let v): value = "\(v)"
            case .llong(let v): value = "\(v)"
            case .ullong(let v): value = "\(v)"
            case .double(let v): value = cDouble("%f", v)
            case .boolean(let v): value = v ? "yes" : "no"
            case .string(let v): value = v
            }
            shell.print("\t" + Format.padRight(p.field, 15) + " " + value + "\n")
        }
        return true
    }

    static let cpuModels = CommandDefinition(
        "cpu-models", summary: "CPU models",
        description: "Get the CPU models for an arch.",
        options: [.data("arch", "architecture")]
    ) { shell, cmd in
        let (ok, arch) = shell.stringOption(cmd, "arch")
        guard ok, let arch else { return false }
        guard let models = await shell.call({ try await shell.conn.cpuModelNames(arch: arch) }) else {
            shell.error("failed to get CPU model names")
            return false
        }
        if models.isEmpty {
            shell.printExtra("all CPU models are accepted\n")
        } else {
            for m in models { shell.print(m + "\n") }
        }
        return true
    }
}
