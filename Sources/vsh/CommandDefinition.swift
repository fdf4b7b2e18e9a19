/// How one option of a command is written and filled, after virsh's `vshCmdOptDef`.
struct OptionDefinition: Sendable {
    enum Kind: Sendable, Equatable {
        /// A flag: `--name`, no value.
        case bool
        /// `--name value`; also filled positionally unless `requiresName`.
        case string
        /// Like `string`, but the help calls the value a number.
        case int
        /// A positional argument (`<name>`), also accepted as `--name value`.
        case data
        /// Takes every remaining positional argument.
        case argv
        /// Another spelling of the option named by the associated value (`"target"` or `"target=value"`).
        case alias(String)
    }

    var name: String
    var kind: Kind
    /// The command fails to parse without this option (virsh's VSH_OFLAG_REQ).
    var required = false
    /// Only accepted as `--name value`, never positionally (VSH_OFLAG_REQ_OPT).
    var requiresName = false
    /// An empty value is accepted (VSH_OFLAG_EMPTY_OK).
    var emptyOK = false
    var help: String

    /// Whether a positional argument can fill this option.
    var takesPositional: Bool {
        switch kind {
        case .bool, .alias: false
        case .string, .int, .data, .argv: !requiresName
        }
    }

    static func flag(_ name: String, _ help: String) -> OptionDefinition {
        OptionDefinition(name: name, kind: .bool, help: help)
    }

    static func string(_ name: String, _ help: String, requiresName: Bool = false) -> OptionDefinition {
        OptionDefinition(name: name, kind: .string, requiresName: requiresName, help: help)
    }

    static func int(_ name: String, _ help: String) -> OptionDefinition {
        OptionDefinition(name: name, kind: .int, help: help)
    }

    static func data(_ name: String, _ help: String) -> OptionDefinition {
        OptionDefinition(name: name, kind: .data, required: true, help: help)
    }

    static func argv(_ name: String, _ help: String, required: Bool = false) -> OptionDefinition {
        OptionDefinition(name: name, kind: .argv, required: required, help: help)
    }

    static func alias(_ name: String, of target: String) -> OptionDefinition {
        OptionDefinition(name: name, kind: .alias(target), help: "")
    }

    /// The `<domain>` argument every domain command takes (VIRSH_COMMON_OPT_DOMAIN_FULL).
    static func domain(_ help: String = "domain name, id or uuid") -> OptionDefinition {
        .data("domain", help)
    }

    /// The `<file>` argument (VIRSH_COMMON_OPT_FILE).
    static func file(_ help: String) -> OptionDefinition {
        .data("file", help)
    }
}

/// A command of the shell: its name, help texts, options and handler.
struct CommandDefinition: Sendable {
    typealias Handler = @MainActor @Sendable (Shell, ParsedCommand) async -> Bool

    var name: String
    /// One-line summary (`help` in virsh's `vshCmdInfo`).
    var summary: String
    /// Longer description; empty for none. Lines are separated by "\n".
    var description: String
    var options: [OptionDefinition]
    /// Runs without a hypervisor connection (VSH_CMD_FLAG_NOCONNECT).
    var needsConnection = true
    var handler: Handler

    init(_ name: String, summary: String, description: String = "", options: [OptionDefinition] = [],
         needsConnection: Bool = true, handler: @escaping Handler) {
        self.name = name
        self.summary = summary
        self.description = description
        self.options = options
        self.needsConnection = needsConnection
        self.handler = handler
    }

    func optionIndex(_ name: String) -> Int? {
        options.firstIndex { $0.name == name }
    }
}

/// A command as parsed from the command line: its definition and the options given, in order.
struct ParsedCommand: Sendable {
    struct Given: Sendable {
        var index: Int
        var name: String
        /// nil for a flag.
        var value: String?
    }

    var definition: CommandDefinition
    var given: [Given]

    var name: String { definition.name }

    /// Whether the option was given (flag or valued).
    func has(_ name: String) -> Bool { given.contains { $0.name == name } }

    /// The value of a valued option, if given.
    func value(_ name: String) -> String? { given.first { $0.name == name }?.value }

    /// Every value given to an argv option, in order.
    func values(_ name: String) -> [String] { given.filter { $0.name == name }.compactMap(\.value) }
}
