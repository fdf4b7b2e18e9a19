import Virt

/// Host and hypervisor commands (virsh-host.c): version, uri, hostname, nodeinfo, capabilities,
/// domcapabilities, and the node statistics of HostCommands+Node.swift.
enum HostCommands {
    static let all: [CommandDefinition] = ([capabilities, domcapabilities, hostname, maxvcpus, nodeinfo, uri, version]
        + nodeCommands + cpuCommands + pageCommands + hostControlCommands).sorted { $0.name < $1.name }

    static let version = CommandDefinition(
        "version", summary: "show version",
        description: "Display the system version information.",
        options: [.flag("daemon", "report daemon version too")]
    ) { shell, cmd in
        let lib = Format.version(Connection.libraryVersion)
        shell.print("Compiled against library: libvirt \(lib)\n")
        shell.print("Using library: libvirt \(lib)\n")
        guard let type = await shell.call({ try await shell.conn.hypervisorType() }) else {
            shell.error("failed to get hypervisor type")
            return false
        }
        shell.print("Using API: \(type) \(lib)\n")
        guard let hv = await shell.call({ try await shell.conn.hypervisorVersion() }) else {
            shell.error("failed to get the hypervisor version")
            return false
        }
        if hv == 0 {
            shell.print("Cannot extract running \(type) hypervisor version\n")
        } else {
            shell.print("Running hypervisor: \(type) \(Format.version(hv))\n")
        }
        if cmd.has("daemon") {
            shell.print("Running against daemon: \(Format.version(Connection.libraryVersion))\n")
        }
        return true
    }

    static let uri = CommandDefinition(
        "uri", summary: "print the hypervisor canonical URI"
    ) { shell, _ in
        shell.print("\(shell.conn.uri)\n")
        return true
    }

    static let hostname = CommandDefinition(
        "hostname", summary: "print the hypervisor hostname"
    ) { shell, _ in
        guard let name = await shell.call({ try await shell.conn.hostname() }) else {
            shell.error("failed to get hostname")
            return false
        }
        shell.print("\(name)\n")
        return true
    }

    static let nodeinfo = CommandDefinition(
        "nodeinfo", summary: "node information",
        description: "Returns basic information about the node."
    ) { shell, _ in
        guard let info = await shell.call({ try await shell.conn.nodeInfo() }) else {
            shell.error("failed to get node information")
            return false
        }
        @MainActor func line(_ label: String, _ value: String) {
            shell.print(Format.padRight(label, 20) + " " + value + "\n")
        }
        line("CPU model:", info.model)
        line("CPU(s):", "\(info.cpus)")
        if info.mhz != 0 { line("CPU frequency:", "\(info.mhz) MHz") }
        line("CPU socket(s):", "\(info.sockets)")
        line("Core(s) per socket:", "\(info.cores)")
        line("Thread(s) per core:", "\(info.threads)")
        line("NUMA cell(s):", "\(info.nodes)")
        line("Memory size:", "\(info.memory) KiB")
        return true
    }

    static let capabilities = CommandDefinition(
        "capabilities", summary: "capabilities",
        description: "Returns capabilities of hypervisor/driver."
    ) { shell, _ in
        guard let caps = await shell.call({ try await shell.conn.capabilities() }) else {
            shell.error("failed to get capabilities")
            return false
        }
        shell.print("\(caps)\n")
        return true
    }

    static let domcapabilities = CommandDefinition(
        "domcapabilities", summary: "domain capabilities",
        description: "Returns capabilities of emulator with respect to host and libvirt.",
        options: [
            .string("virttype", "virtualization type (/domain/@type)"),
            .string("emulatorbin", "path to emulator binary (/domain/devices/emulator)"),
            .string("arch", "domain architecture (/domain/os/type/@arch)"),
            .string("machine", "machine type (/domain/os/type/@machine)"),
        ]
    ) { shell, cmd in
        var values: [String: String] = [:]
        for name in ["virttype", "emulatorbin", "arch", "machine"] {
            let (ok, v) = shell.stringOption(cmd, name)
            guard ok else { return false }
            values[name] = v
        }
        guard let caps = await shell.call({
            try await shell.conn.domainCapabilities(emulator: values["emulatorbin"], arch: values["arch"],
                                                    machine: values["machine"], virtType: values["virttype"])
        }) else {
            shell.error("failed to get emulator capabilities")
            return false
        }
        shell.print("\(caps)\n")
        return true
    }
}
