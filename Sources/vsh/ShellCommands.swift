#if canImport(Glibc)
import Glibc
#endif
import Virt
import VirtCore

/// Commands about the shell itself (vsh.c): help, quit, exit, echo, pwd, cd; connect (virsh.c).
enum ShellCommands {
    /// In virsh's order: vsh.c's own commands by name, then virsh.c's connect.
    static let all: [CommandDefinition] = [cd, echo, exit, help, pwd, quit, connect]

    /// virBufferEscapeShell: as is when nothing in it needs quoting, else in single quotes (a quote as '\'').
    static func shellEscaped(_ s: String) -> String {
        let special = Set("\r\t\n !\"#$&'()*;<>?[\\]^`{|}~")
        if !s.isEmpty && !s.contains(where: { special.contains($0) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// virsh's vshStringToArray: split on ',', with ',,' standing for a comma.
    static func splitCommas(_ s: String) -> [String] {
        var parts: [String] = []
        var cur = ""
        var it = Array(s)
        var i = 0
        while i < it.count {
            if it[i] == "," {
                if i + 1 < it.count && it[i + 1] == "," {
                    cur.append(",")
                    i += 2
                    continue
                }
                parts.append(cur)
                cur = ""
            } else {
                cur.append(it[i])
            }
            i += 1
        }
        parts.append(cur)
        it.removeAll()
        return parts
    }

    static let echo = CommandDefinition(
        "echo", summary: "echo arguments. Used for internal testing.",
        description: "Echo back arguments, possibly with quoting. Used for internal testing.",
        options: [
            .flag("shell", "escape for shell use"),
            .flag("xml", "escape for XML use"),
            .flag("split", "split each argument on ','; ',,' is an escape sequence"),
            .flag("err", "output to stderr"),
            .argv("string", "arguments to echo"),
        ],
        needsConnection: false
    ) { shell, cmd in
        guard shell.exclusive(cmd, "shell", "xml") else { return false }
        var words: [String] = []
        for arg in cmd.values("string") {
            let pieces = (cmd.has("split") ? splitCommas(arg) : [arg]).map { p -> String in
                let x = cmd.has("xml") ? XMLWriter.escape(p) : p
                return cmd.has("shell") ? shellEscaped(x) : x
            }
            // With --split, each piece ends its line.
            words.append(cmd.has("split") ? pieces.map { $0 + "\n" }.joined() : pieces.joined())
        }
        let text = words.joined(separator: " ")
        // virsh adds no newline of its own (the shell ends the command's output with one).
        if cmd.has("err") { shell.error(text) } else { shell.print(text) }
        return true
    }

    static let pwd = CommandDefinition(
        "pwd", summary: "print the current directory",
        description: "Print the current directory.",
        needsConnection: false
    ) { shell, _ in
        guard let dir = FileManagerCWD.current() else {
            shell.error("pwd: cannot get current directory")
            return false
        }
        shell.print(dir + "\n")
        return true
    }

    static let cd = CommandDefinition(
        "cd", summary: "change the current directory",
        description: "Change the current directory.",
        options: [.string("dir", "directory to switch to (default: home or else root)")],
        needsConnection: false
    ) { shell, cmd in
        guard shell.interactive else {
            shell.error("cd: command valid only in interactive mode")
            return false
        }
        let dir = cmd.value("dir") ?? (getenv("HOME").map { String(cString: $0) } ?? "/")
        guard chdir(dir) == 0 else {
            shell.error("cd: \(String(cString: strerror(errno))): \(dir)")
            return false
        }
        return true
    }

    static let help = CommandDefinition(
        "help", summary: "print help",
        description: "Prints global help, command specific help, or help for a\n    group of related commands",
        options: [
            .string("command",
                    "Prints global help, command specific help, or help for a group of related commands"),
        ],
        needsConnection: false
    ) { shell, cmd in
        guard let name = cmd.value("command") else {
            shell.print("Grouped commands:\n\n")
            for group in shell.registry.groups {
                printGroup(shell, group)
                shell.print("\n")
            }
            return true
        }
        if let def = shell.registry.command(named: name) {
            printCommandHelp(shell, def)
            return true
        }
        if let group = shell.registry.group(named: name) {
            printGroup(shell, group)
            return true
        }
        shell.error("command or command group '\(name)' doesn't exist")
        return false
    }

    static let quit = CommandDefinition(
        "quit", summary: "quit this interactive terminal", needsConnection: false
    ) { _, _ in true }

    static let exit = CommandDefinition(
        "exit", summary: "quit this interactive terminal", needsConnection: false
    ) { _, _ in true }

    @MainActor
    static func printGroup(_ shell: Shell, _ group: CommandRegistry.Group) {
        shell.print(" \(group.name) (help keyword '\(group.keyword)'):\n")
        for command in group.listed {
            shell.print("    " + Format.padRight(command.name, 30) + " " + command.summary + "\n")
        }
    }

    /// The NAME / SYNOPSIS / DESCRIPTION / OPTIONS page virsh prints for `help COMMAND`.
    @MainActor
    static func printCommandHelp(_ shell: Shell, _ def: CommandDefinition) {
        var out = "  NAME\n    \(def.name) - \(def.summary)\n\n  SYNOPSIS\n    \(def.name)"
        var shortOption = false
        for option in def.options {
            switch option.kind {
            case .bool:
                out += " [--\(option.name)]"
            case .int:
                out += option.required ? " <\(option.name)>" : " [--\(option.name) <number>]"
                if !option.requiresName { shortOption = true }
            case .string:
                out += " [--\(option.name) <string>]"
                if !option.requiresName { shortOption = true }
            case .data:
                out += option.required ? " <\(option.name)>" : " [<\(option.name)>]"
                if !option.requiresName { shortOption = true }
            case .argv:
                if shortOption {
                    out += option.required ? " {[--\(option.name)] <string>}..." : " [[--\(option.name)] <string>]..."
                } else {
                    out += option.required ? " <\(option.name)>..." : " [<\(option.name)>]..."
                }
            case .alias:
                continue
            }
        }
        out += "\n"
        if !def.description.isEmpty {
            out += "\n  DESCRIPTION\n    \(def.description)\n"
        }
        let documented = def.options.filter { if case .alias = $0.kind { false } else { true } }
        if !documented.isEmpty {
            out += "\n  OPTIONS\n"
            for option in documented {
                let label: String
                switch option.kind {
                case .bool: label = "--\(option.name)"
                case .int: label = option.required ? "[--\(option.name)] <number>" : "--\(option.name) <number>"
                case .string: label = "--\(option.name) <string>"
                case .data: label = "[--\(option.name)] <string>"
                case .argv: label = shortOption ? "[--\(option.name)] <string>" : "<\(option.name)>"
                case .alias: continue
                }
                out += "    " + Format.padRight(label, 15) + "  " + option.help + "\n"
            }
        }
        out += "\n"
        shell.print(out)
    }
}

/// The process's current directory (getcwd).
enum FileManagerCWD {
    static func current() -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return nil }
        return String(cString: buf)
    }
}

extension ShellCommands {
    /// virsh's `connect` (`virshReconnect` forced): the old connection closed, a new one opened. Without a URI
    /// it reopens the shell's own, keeping its read-only mode; on failure the shell keeps its URI and mode and
    /// the next command connects again.
    static let connect = CommandDefinition(
        "connect", summary: "(re)connect to hypervisor",
        description: "Connect to local hypervisor. This is built-in command after shell start up.",
        options: [
            OptionDefinition(name: "name", kind: .string, emptyOK: true, help: "hypervisor connection URI"),
            .flag("readonly", "read-only connection"),
        ],
        needsConnection: false
    ) { shell, cmd in
        let (ok, name) = shell.stringOption(cmd, "name")
        guard ok else { return false }
        let readOnly = cmd.has("readonly") || (name == nil && shell.readOnly)
        if let old = shell.connection {
            shell.connection = nil
            await old.close()
        }
        // libvirt takes an empty name for the default URI.
        let uri = name.flatMap { $0.isEmpty ? nil : $0 }
        guard let conn = await shell.call({ try await Connection.open(uri ?? shell.connectURI, readOnly: readOnly) }) else {
            shell.error("failed to connect to the hypervisor")
            return false
        }
        if name != nil { shell.connectURI = uri }
        shell.readOnly = readOnly
        shell.connection = conn
        return true
    }
}
