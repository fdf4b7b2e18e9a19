/// The command table. Each group of commands lives in its own file and contributes a list of definitions;
/// adding a command is adding a `CommandDefinition` to one of those lists (or a new group here).
struct CommandRegistry: Sendable {
    struct Group: Sendable {
        var name: String
        var keyword: String
        var commands: [CommandDefinition]
        /// List the commands in their given order (virsh's table order) instead of by name.
        var keepOrder = false

        /// The commands as `help` lists them: in virsh's table order (commands virsh does not have, by name,
        /// after them).
        var listed: [CommandDefinition] {
            if keepOrder { return commands }
            let order = CommandRegistry.virshOrder[keyword] ?? []
            let rank = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            return commands.sorted { a, b in
                switch (rank[a.name], rank[b.name]) {
                case let (x?, y?): x < y
                case (.some, nil): true
                case (nil, .some): false
                case (nil, nil): a.name < b.name
                }
            }
        }
    }

    let groups: [Group]
    private let byName: [String: CommandDefinition]

    init(groups: [Group]) {
        self.groups = groups
        var table = [String: CommandDefinition]()
        for group in groups {
            for command in group.commands { table[command.name] = command }
        }
        byName = table
    }

    func command(named name: String) -> CommandDefinition? { byName[name] ?? Self.aliases[name].flatMap { byName[$0] } }

    /// virsh's command aliases (VSH_CMD_FLAG_ALIAS): accepted, never listed.
    static let aliases = ["nodedev-dettach": "nodedev-detach"]

    func group(named name: String) -> Group? {
        groups.first { $0.name == name || $0.keyword == name }
    }

    /// Every group of the shell, in virsh's order.
    static let standard = CommandRegistry(groups: [
        Group(name: "Domain Management", keyword: "domain", commands: DomainCommands.all),
        Group(name: "Domain Monitoring", keyword: "monitor", commands: MonitorCommands.all),
        Group(name: "Domain Events", keyword: "events", commands: EventCommands.all),
        Group(name: "Host and Hypervisor", keyword: "host", commands: HostCommands.all),
        Group(name: "Checkpoint", keyword: "checkpoint", commands: CheckpointCommands.all),
        Group(name: "Interface", keyword: "interface", commands: InterfaceCommands.all),
        Group(name: "Network Filter", keyword: "filter", commands: NWFilterCommands.all, keepOrder: true),
        Group(name: "Networking", keyword: "network", commands: NetworkCommands.all, keepOrder: true),
        Group(name: "Node Device", keyword: "nodedev", commands: NodeDeviceCommands.all, keepOrder: true),
        Group(name: "Secret", keyword: "secret", commands: SecretCommands.all),
        Group(name: "Snapshot", keyword: "snapshot", commands: SnapshotCommands.all),
        Group(name: "Backup", keyword: "backup", commands: BackupCommands.all),
        Group(name: "Storage Pool", keyword: "pool", commands: StoragePoolCommands.all),
        Group(name: "Storage Volume", keyword: "volume", commands: StorageVolumeCommands.all),
        Group(name: "Virsh itself", keyword: "virsh", commands: ShellCommands.all, keepOrder: true),
    ])
}
