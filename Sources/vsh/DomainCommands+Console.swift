import Virt

extension DomainCommands {
    /// `console`: connects to the guest's serial console (virsh's `cmdConsole`).
    static let console = CommandDefinition(
        "console", summary: "connect to the guest console",
        description: "Connect the virtual serial console for the guest",
        options: [
            .domain(),
            .string("devname", "character device name"),
            .flag("force", "force console connection (disconnect already connected sessions)"),
            .flag("safe", "only connect if safe console handling is supported"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        var flags: UInt32 = 0
        if cmd.has("force") { flags |= 1 }
        if cmd.has("safe") { flags |= 2 }
        return await ConsoleSupport.attach(shell, dom, device: cmd.value("devname"), flags: flags)
    }
}
