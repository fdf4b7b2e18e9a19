/// Commands about the shell itself (vsh.c): help, quit, exit.
enum ShellCommands {
    static let all: [CommandDefinition] = [help, quit, exit]

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
