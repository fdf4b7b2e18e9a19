import Virt

/// Attaching to a domain's console (`start --console`, `create --console`). The `console` command itself
/// comes with a later issue; until then attaching reports that it is unsupported.
enum ConsoleSupport {
    @MainActor
    static func attach(_ shell: Shell, _ domain: Domain) async -> Bool {
        shell.error("console access is not supported by this shell yet")
        return false
    }
}
