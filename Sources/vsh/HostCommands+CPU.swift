import Virt
import VirtCore

/// CPU comparison and baseline (virsh-host.c): cpu-compare, cpu-baseline, hypervisor-cpu-compare,
/// hypervisor-cpu-baseline.
extension HostCommands {
    static let cpuCommands: [CommandDefinition] = [cpuCompare, cpuBaseline, hypervisorCPUCompare, hypervisorCPUBaseline]

    /// The hypervisor options of the hypervisor-cpu-* commands.
    static let hypervisorOptions: [OptionDefinition] = [
        .string("virttype", "virtualization type (/domain/@type)"),
        .string("emulator", "path to emulator binary (/domain/devices/emulator)"),
        .string("arch", "CPU architecture (/domain/os/type/@arch)"),
        .string("machine", "machine type (/domain/os/type/@machine)"),
    ]

    /// The `<cpu>` elements of a file holding CPU definitions, domain XMLs, capabilities XMLs or domain
    /// capabilities XMLs (virsh's vshExtractCPUDefXMLs): a domain capabilities' supported host-model mode
    /// becomes a `<cpu>` without attributes. Nil after printing the error.
    @MainActor
    static func extractCPUs(_ shell: Shell, _ file: String) -> [String]? {
        guard var text = shell.readFile(file) else {
            shell.reportError()
            return nil
        }
        if text.hasPrefix("<?xml"), let end = text.range(of: "?>") { text = String(text[end.upperBound...]) }
        let root: XMLElement
        do {
            root = try XMLParser.parse("<container>\(text)</container>", documentName: file)
        } catch {
            var message = error.message
            if message.hasPrefix("(\(file)):") { message = file + ":" + message.dropFirst(file.count + 3) }
            shell.error(message)
            return nil
        }
        var nodes: [XMLElement] = []
        for e in root.elements {
            switch e.name {
            case "cpu": nodes.append(e)
            case "domain": nodes += e.children("cpu")
            case "capabilities": nodes += e.children("host").flatMap { $0.children("cpu") }
            case "domainCapabilities":
                for mode in e.children("cpu").flatMap({ $0.children("mode") })
                where mode.attr("name") == "host-model" && mode.attr("supported") == "yes" {
                    var cpu = mode
                    cpu.name = "cpu"
                    cpu.attributes = []
                    nodes.append(cpu)
                }
            default: break
            }
        }
        guard !nodes.isEmpty else {
            shell.error("File '\(file)' does not contain any <cpu> element or valid domain XML, host capabilities "
                + "XML, or domain capabilities XML")
            return nil
        }
        return nodes.map { n in
            var w = XMLWriter()
            w.node(n)
            return w.output
        }
    }

    @MainActor
    static func hypervisorValues(_ shell: Shell, _ cmd: ParsedCommand) -> [String: String]? {
        var values: [String: String] = [:]
        for name in ["file", "virttype", "emulator", "arch", "machine"] {
            let (ok, v) = shell.stringOption(cmd, name)
            guard ok else { return nil }
            values[name] = v
        }
        return values
    }

    static func compareFlags(_ cmd: ParsedCommand) -> CompareCPUFlags {
        var flags: CompareCPUFlags = []
        if cmd.has("error") { flags.insert(.failIncompatible) }
        if cmd.has("validate") { flags.insert(.validateXML) }
        return flags
    }

    static func baselineFlags(_ cmd: ParsedCommand) -> BaselineCPUFlags {
        var flags: BaselineCPUFlags = []
        if cmd.has("features") { flags.insert(.expandFeatures) }
        if cmd.has("migratable") { flags.insert(.migratable) }
        return flags
    }

    /// virsh's sentence for a comparison of the CPU in `from` with `other`; false when incompatible or failed.
    @MainActor
    static func report(_ shell: Shell, _ result: CPUCompareResult?, from: String, other: String,
                       supersetSubject: String, failed: String) -> Bool {
        switch result {
        case .incompatible?:
            shell.print("CPU described in \(from) is incompatible with \(other)\n")
            return false
        case .identical?:
            shell.print("CPU described in \(from) is identical to \(other)\n")
        case .superset?:
            shell.print("\(supersetSubject) is a superset of CPU described in \(from)\n")
        case nil:
            shell.error("Failed to compare \(failed) with \(from)")
            return false
        }
        return true
    }

    static let cpuCompare = CommandDefinition(
        "cpu-compare", summary: "compare host CPU with a CPU described by an XML file",
        description: "compare CPU with host CPU",
        options: [
            .file("file containing an XML CPU description"),
            .flag("error", "report error if CPUs are incompatible"),
            .flag("validate", "validate the XML document against schema"),
        ]
    ) { shell, cmd in
        let flags = compareFlags(cmd)
        let (ok, from) = shell.stringOption(cmd, "file")
        guard ok, let from, let cpus = extractCPUs(shell, from), let first = cpus.first else { return false }
        let result = await shell.call({ try await shell.conn.compareCPU(xml: first, flags: flags) })
        return report(shell, result, from: from, other: "host CPU", supersetSubject: "Host CPU", failed: "host CPU")
    }

    static let cpuBaseline = CommandDefinition(
        "cpu-baseline", summary: "compute baseline CPU",
        description: "Compute baseline CPU for a set of given CPUs.",
        options: [
            .file("file containing XML CPU descriptions"),
            .flag("features", "Show features that are part of the CPU model type"),
            .flag("migratable", "Do not include features that block migration"),
        ]
    ) { shell, cmd in
        let flags = baselineFlags(cmd)
        let (ok, from) = shell.stringOption(cmd, "file")
        guard ok, let from, let cpus = extractCPUs(shell, from) else { return false }
        guard let result = await shell.call({ try await shell.conn.baselineCPU(xmls: cpus, flags: flags) }) else {
            return false
        }
        shell.print(result)
        return true
    }

    static let hypervisorCPUCompare = CommandDefinition(
        "hypervisor-cpu-compare", summary: "compare a CPU with the CPU created by a hypervisor on the host",
        description: "compare CPU with hypervisor CPU",
        options: [.file("file containing an XML CPU description")] + hypervisorOptions + [
            .flag("error", "report error if CPUs are incompatible"),
            .flag("validate", "validate the XML document against schema"),
        ]
    ) { shell, cmd in
        let flags = compareFlags(cmd)
        guard let v = hypervisorValues(shell, cmd), let from = v["file"], let cpus = extractCPUs(shell, from),
              let first = cpus.first else { return false }
        let result = await shell.call({
            try await shell.conn.compareHypervisorCPU(emulator: v["emulator"], arch: v["arch"], machine: v["machine"],
                                                      virtType: v["virttype"], xml: first, flags: flags)
        })
        return report(shell, result, from: from, other: "the CPU provided by hypervisor on the host",
                      supersetSubject: "The CPU provided by hypervisor on the host", failed: "hypervisor CPU")
    }

    static let hypervisorCPUBaseline = CommandDefinition(
        "hypervisor-cpu-baseline", summary: "compute baseline CPU usable by a specific hypervisor",
        description: "Compute baseline CPU for a set of given CPUs. The result will be tailored to the specified "
            + "hypervisor.",
        options: [.string("file", "file containing XML CPU descriptions")] + hypervisorOptions + [
            .flag("features", "Show features that are part of the CPU model type"),
            .flag("migratable", "Do not include features that block migration"),
            .string("model", "Shortcut for calling the command with a single CPU model and no additional features"),
        ]
    ) { shell, cmd in
        let flags = baselineFlags(cmd)
        guard var v = hypervisorValues(shell, cmd) else { return false }
        let (ok, model) = shell.stringOption(cmd, "model")
        guard ok, shell.exclusive(cmd, "file", "model") else { return false }
        v["model"] = model
        let cpus: [String]
        if let from = v["file"] {
            guard let list = extractCPUs(shell, from) else { return false }
            cpus = list
        } else if let model {
            // As virsh, the name goes into the XML as it is.
            cpus = ["<cpu><model>\(model)</model></cpu>"]
        } else {
            shell.error("Either --file or --model must be provided")
            return false
        }
        let result = await shell.call({
            try await shell.conn.baselineHypervisorCPU(emulator: v["emulator"], arch: v["arch"], machine: v["machine"],
                                                       virtType: v["virttype"], xmls: cpus, flags: flags)
        })
        guard let result else { return false }
        shell.print(result)
        return true
    }
}
