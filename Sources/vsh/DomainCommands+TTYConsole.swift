import Virt
import VirtCore

extension DomainCommands {
    /// `ttyconsole`: the host pty of the domain's first console, from its live XML
    /// (`/domain/devices/console/@tty`). Fails without a message when there is none, as virsh does.
    static let ttyconsole = CommandDefinition(
        "ttyconsole", summary: "tty console",
        description: "Output the device for the TTY console.",
        options: [.domain()]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let xml = await shell.call({ try await dom.xmlDesc() }) else { return false }
        guard let doc = try? XMLParser.parse(xml),
              let tty = doc.child("devices")?.child("console")?.attr("tty"), !tty.isEmpty else {
            return false
        }
        shell.print("\(tty)\n")
        return true
    }
}
