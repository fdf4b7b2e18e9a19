import Virt

#if canImport(Glibc)
import Glibc
#endif

/// `qemu-attach` and `lxc-enter-namespace`: virsh's commands for a QEMU started outside libvirt and for LXC
/// containers. Neither driver here has them (nor has libvirt's QEMU driver), so they end with the driver's
/// answer, after virsh's own checks of their arguments.
extension DomainCommands {
    static let foreignCommands: [CommandDefinition] = [qemuAttach, lxcEnterNamespace, domFDAssociate]

    static let qemuAttach = CommandDefinition(
        "qemu-attach", summary: "QEMU Attach", description: "QEMU Attach",
        options: [.data("pid", "pid")]
    ) { shell, cmd in
        let (ok, pid) = HostCommands.uintOption(shell, cmd, "pid")
        guard ok, let pid else { return false }
        guard let dom = await shell.call({ try await shell.conn.qemuAttach(pid: pid) }) else {
            shell.error("Failed to attach to pid \(pid)")
            return false
        }
        shell.print("Domain '\(dom.name)' attached to pid \(pid)\n")
        return true
    }

    static let lxcEnterNamespace = CommandDefinition(
        "lxc-enter-namespace", summary: "LXC Guest Enter Namespace",
        description: "Run an arbitrary command in a lxc guest namespace; use at your own risk",
        options: [
            .domain(),
            .flag("noseclabel", "Do not change process security label"),
            .argv("cmd", "command to run", required: true),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        // virsh reads the host's security model and the domain's label first, to run the command under it.
        if !cmd.has("noseclabel") {
            guard await shell.call({ try await shell.conn.securityModel() }) != nil,
                  await shell.call({ try await dom.securityLabels() }) != nil else { return false }
        }
        guard let fds = await shell.call({ try await dom.lxcOpenNamespace() }) else { return false }
        // Entering a container's namespaces needs a container driver; no driver here returns any.
        for fd in fds { close(fd) }
        shell.error("entering a container's namespaces is not supported by vsh")
        return false
    }
}

extension DomainCommands {
    /// virsh's `--pass-fds N,M,...`: descriptor numbers of this process (none when the option is absent or
    /// empty); nil after virsh's error for an item that is not a number.
    @MainActor static func passFDs(_ shell: Shell, _ cmd: ParsedCommand) -> [Int32]? {
        guard let list = cmd.value("pass-fds"), !list.isEmpty else { return [] }
        var fds: [Int32] = []
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            guard let fd = Int32(item) else {
                shell.error("Unable to parse FD number '\(item)'")
                return nil
            }
            fds.append(fd)
        }
        return fds
    }

    /// `dom-fd-associate`: vsh's own descriptors (inherited from its caller, e.g. `3<image`) under a group name
    /// for disks whose source says `fdgroup='NAME'`; they stay associated while this vsh stays connected, so the
    /// domain is started in the same session (`dom-fd-associate d g 3; start d`). Prints nothing.
    static let domFDAssociate = CommandDefinition(
        "dom-fd-associate", summary: "associate a FD with a domain", description: "associate a FD with a domain",
        options: [
            .domain(),
            .data("name", "name of the FD group"),
            .data("pass-fds", "file descriptors N,M,... to associate"),
            .flag("seclabel-writable", "use seclabels allowing writes"),
            .flag("seclabel-restore", "try to restore security label after use if possible"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let name = cmd.value("name") ?? ""
        guard let fds = passFDs(shell, cmd) else { return false }
        var flags: UInt32 = 0
        if cmd.has("seclabel-restore") { flags |= 1 }
        if cmd.has("seclabel-writable") { flags |= 2 }
        return await shell.call({ try await dom.associateFDs(name: name, fds: fds, flags: flags) }) != nil
    }
}
