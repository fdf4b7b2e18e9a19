import Foundation
import Virt

/// Save image definitions and job commands (virsh-domain.c): save-image-dumpxml, save-image-define,
/// managedsave-dumpxml, managedsave-define, domjobinfo, domjobabort.
extension DomainCommands {
    static let saveImageDumpxml = CommandDefinition(
        "save-image-dumpxml", summary: "saved state domain information in XML",
        description: "Dump XML of domain information for a saved state file to stdout.",
        options: [
            .file("saved state file to read"),
            .flag("security-info", "include security sensitive information in XML dump"),
        ]
    ) { shell, cmd in
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file else { return false }
        let flags: UInt32 = cmd.has("security-info") ? 1 : 0
        guard let xml = await shell.call({ try await shell.conn.saveImageXML(file, flags: flags) }) else {
            return false
        }
        shell.print(xml)
        return true
    }

    static let saveImageDefine = CommandDefinition(
        "save-image-define", summary: "redefine the XML for a domain's saved state file",
        description: "Replace the domain XML associated with a saved state file",
        options: [
            .file("saved state file to modify"),
            .data("xml", "filename containing updated XML for the target"),
            .flag("running", "set domain to be running on restore"),
            .flag("paused", "set domain to be paused on restore"),
        ]
    ) { shell, cmd in
        let (ok, file) = shell.stringOption(cmd, "file")
        let (ok2, xmlFile) = shell.stringOption(cmd, "xml")
        guard ok, ok2, let file, let xmlFile else { return false }
        guard let flags = stateFlags(shell, cmd) else { return false }
        guard let xml = shell.readFile(xmlFile) else {
            shell.reportError()
            return false
        }
        if await shell.call({ try await shell.conn.saveImageDefineXML(file, xml: xml, flags: flags) }) == nil {
            shell.error("Failed to update \(file)")
            return false
        }
        shell.printExtra("State file \(file) updated.\n")
        return true
    }

    static let managedsaveDumpxml = CommandDefinition(
        "managedsave-dumpxml", summary: "Domain information of managed save state file in XML",
        description: "Dump XML of domain information for a managed save state file to stdout.",
        options: [
            .domain(),
            .flag("security-info", "include security sensitive information in XML dump"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let flags: UInt32 = cmd.has("security-info") ? 1 : 0
        guard let xml = await shell.call({ try await dom.managedSaveXML(flags: flags) }) else { return false }
        shell.print(xml)
        return true
    }

    static let managedsaveDefine = CommandDefinition(
        "managedsave-define", summary: "redefine the XML for a domain's managed save state file",
        description: "Replace the domain XML associated with a managed save state file",
        options: [
            .domain(),
            .data("xml", "filename containing updated XML for the target"),
            .flag("running", "set domain to be running on start"),
            .flag("paused", "set domain to be paused on start"),
        ]
    ) { shell, cmd in
        guard let name = cmd.value("domain"), let dom = await shell.domainOption(cmd) else { return false }
        let (ok, xmlFile) = shell.stringOption(cmd, "xml")
        guard ok, let xmlFile else { return false }
        guard let flags = stateFlags(shell, cmd) else { return false }
        guard let xml = shell.readFile(xmlFile) else {
            shell.reportError()
            return false
        }
        if await shell.call({ try await dom.managedSaveDefineXML(xml, flags: flags) }) == nil {
            shell.error("Failed to update XML configuration of managed save state file of domain '\(name)'")
            return false
        }
        shell.printExtra("Managed save state file of domain '\(name)' updated.\n")
        return true
    }

    /// --running / --paused as VIR_DOMAIN_SAVE_RUNNING (2) / VIR_DOMAIN_SAVE_PAUSED (4).
    @MainActor private static func stateFlags(_ shell: Shell, _ cmd: ParsedCommand) -> UInt32? {
        if cmd.has("running") && cmd.has("paused") {
            shell.error("Options --running and --paused are mutually exclusive")
            return nil
        }
        return (cmd.has("running") ? 2 : 0) | (cmd.has("paused") ? 4 : 0)
    }

    static let domjobinfo = CommandDefinition(
        "domjobinfo", summary: "domain job information",
        description: "Returns information about jobs running on a domain.",
        options: [
            .domain(),
            .flag("completed", "return statistics of a recently completed job"),
            .flag("keep-completed", "don't destroy statistics of a recently completed job when reading"),
            .flag("anystats", "print statistics for any kind of job (even failed ones)"),
            .flag("rawstats", "print the raw data returned by libvirt"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let completed = cmd.has("completed")
        guard let stats = await shell.call({
            try await dom.jobStats(completed: completed, keepCompleted: cmd.has("keep-completed"))
        }) else { return false }
        shell.print(JobInfoFormat.render(type: stats.type, params: stats.params, raw: cmd.has("rawstats"),
                                         anystats: cmd.has("anystats")))
        return true
    }

    static let domjobabort = CommandDefinition(
        "domjobabort", summary: "abort active domain job",
        description: "Aborts the currently running domain job",
        options: [
            .domain(),
            .flag("postcopy", "interrupt post-copy migration"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let flags: UInt32 = cmd.has("postcopy") ? 1 : 0
        return await shell.call({ try await dom.abortJob(flags: flags) }) != nil
    }
}

/// virsh's `domjobinfo` output.
enum JobInfoFormat {
    static let types = ["None", "Bounded", "Unbounded", "Completed", "Failed", "Cancelled"]
    static let operations = ["Unknown", "Start", "Save", "Restore", "Incoming migration", "Outgoing migration",
                             "Snapshot", "Snapshot revert", "Dump", "Backup", "Snapshot delete"]

    /// virsh's vshPrettyCapacity: the value in B, KiB, MiB, … with three decimals.
    static func capacity(_ v: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(v)
        var i = 0
        while value >= 1024 && i < units.count - 1 {
            value /= 1024
            i += 1
        }
        return String(format: "%.3f %@", value, units[i])
    }

    static func line(_ label: String, _ value: String) -> String {
        label.padding(toLength: max(17, label.count), withPad: " ", startingAt: 0) + " " + value + "\n"
    }

    static func pad12(_ s: String) -> String { s.count >= 12 ? s : s.padding(toLength: 12, withPad: " ", startingAt: 0) }

    static func render(type: Int32, params: [TypedParam], raw: Bool, anystats: Bool) -> String {
        var values: [String: TypedParam.Value] = [:]
        for p in params { values[p.field] = p.value }
        func u(_ k: String) -> UInt64? {
            switch values[k] {
            case .ullong(let v): v
            case .llong(let v): UInt64(max(0, v))
            case .int(let v): UInt64(max(0, v))
            case .uint(let v): UInt64(v)
            default: nil
            }
        }
        let typeName = type >= 0 && Int(type) < types.count ? types[Int(type)] : "Unknown"
        var out = line("Job type:", pad12(typeName))
        if type == 0 || (type == 4 && !anystats) { return out }
        if let op = u("operation"), Int(op) < operations.count {
            out += line("Operation:", pad12(operations[Int(op)]))
        }
        if raw {
            for p in params {
                let v: String
                switch p.value {
                case .int(let x): v = "\(x)"
                case .uint(let x): v = "\(x)"
                case .llong(let x): v = "\(x)"
                case .ullong(let x): v = "\(x)"
                case .double(let x): v = String(format: "%f", x)
                case .boolean(let x): v = x ? "yes" : "no"
                case .string(let x): v = x
                }
                out += "\(p.field)=\(v)\n"
            }
            return out
        }
        out += line("Time elapsed:", pad12("\(u("time_elapsed") ?? 0)") + " ms")
        if let v = u("time_elapsed_net") { out += line("Time elapsed w/o network:", pad12("\(v)") + " ms") }
        if type == 1, let v = u("time_remaining") { out += line("Time remaining:", pad12("\(v)") + " ms") }
        let dp = u("data_processed") ?? 0, dr = u("data_remaining") ?? 0, dt = u("data_total") ?? 0
        if dp != 0 || dr != 0 || dt != 0 {
            out += line("Data processed:", capacity(dp))
            out += line("Data remaining:", capacity(dr))
            out += line("Data total:", capacity(dt))
        }
        let mp = u("memory_processed") ?? 0, mr = u("memory_remaining") ?? 0, mt = u("memory_total") ?? 0
        if mp != 0 || mr != 0 || mt != 0 {
            out += line("Memory processed:", capacity(mp))
            out += line("Memory remaining:", capacity(mr))
            out += line("Memory total:", capacity(mt))
        }
        if let v = u("memory_bps"), v != 0 { out += line("Memory bandwidth:", capacity(v) + "/s") }
        if let v = u("memory_dirty_rate") { out += line("Dirty rate:", pad12("\(v)") + " pages/s") }
        if let v = u("memory_page_size") { out += line("Page size:", pad12("\(v)") + " bytes") }
        if let v = u("memory_iteration") { out += line("Iteration:", pad12("\(v)")) }
        if let v = u("memory_postcopy_requests") { out += line("Postcopy requests:", pad12("\(v)")) }
        if let v = u("memory_constant") { out += line("Constant pages:", pad12("\(v)")) }
        if let v = u("memory_normal") { out += line("Normal pages:", pad12("\(v)")) }
        if let v = u("memory_normal_bytes") { out += line("Normal data:", capacity(v)) }
        if let v = u("downtime") { out += line("Total downtime:", pad12("\(v)") + " ms") }
        if let v = u("downtime_net") { out += line("Downtime w/o network:", pad12("\(v)") + " ms") }
        if let v = u("setup_time") { out += line("Setup time:", pad12("\(v)") + " ms") }
        return out
    }
}

/// virsh's `--verbose` progress of a job (save, managed save): "\rSave: [ 45 %]" on standard error, polled
/// from the domain's job statistics while the call runs, and "\rSave: [100 %]" when it succeeded.
@MainActor
final class JobProgress {
    private let shell: Shell
    private let label: String
    private var poller: Task<Void, Never>?

    init(shell: Shell, dom: Domain, label: String) {
        self.shell = shell
        self.label = label
        poller = Task { @MainActor [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                if Task.isCancelled { return }
                guard let stats = try? await dom.jobStats(), stats.type == 2 else { continue }
                var total: UInt64 = 0
                var remaining: UInt64 = 0
                for p in stats.params {
                    if case .ullong(let v) = p.value {
                        if p.field == "data_total" { total = v }
                        if p.field == "data_remaining" { remaining = v }
                    }
                }
                guard total > 0 else { continue }
                // virsh never shows 100 % before the job has ended.
                let pct = min(99, Int(100 - remaining * 100 / total))
                self?.show(pct)
            }
        }
    }

    private func show(_ pct: Int) {
        let n = String(pct)
        shell.output.err("\r\(label): [" + String(repeating: " ", count: max(0, 3 - n.count)) + n + " %]")
    }

    func finish(_ ok: Bool) async {
        poller?.cancel()
        poller = nil
        if ok { show(100) }
    }
}

extension DomainCommands {
    @MainActor static func startProgress(_ shell: Shell, _ dom: Domain, label: String) -> JobProgress {
        JobProgress(shell: shell, dom: dom, label: label)
    }
}
