import Virt

extension EventCommands {
    /// One event of a non-domain object as the `*-event` commands print it.
    struct ObjectEvent<Key: Equatable & Sendable>: Sendable {
        /// What the object option filters on: the UUID of a network, pool or secret, a node device's name.
        var key: Key
        /// The event ID (index into the command's event names).
        var eventID: Int32
        /// What follows "event 'NAME' " on the line, e.g. "for network default: Started".
        var text: String
    }

    /// `net-event`, `pool-event`, `secret-event`, `nodedev-event` (virsh's `cmdNetworkEvent` and its siblings):
    /// list the event names, or wait for events of one kind (optionally of one object) with `--loop`, `--timeout`,
    /// `--timestamp`. `positional`: the object and event options may be given without their names (nodedev-event).
    static func objectEvent<R: Sendable, Key: Equatable & Sendable>(
        _ name: String, summary: String, description: String, object: String, objectHelp: String,
        eventNames: [String], positional: Bool = false,
        lookup: @escaping @MainActor @Sendable (Shell, ParsedCommand) async -> Key?,
        subscribe: @escaping @MainActor @Sendable (Shell) async throws -> AsyncStream<R>,
        describe: @escaping @Sendable (R) -> ObjectEvent<Key>
    ) -> CommandDefinition {
        CommandDefinition(
            name, summary: summary, description: description,
            options: [
                .string(object, objectHelp, requiresName: !positional),
                .string("event", "which event type to wait for", requiresName: !positional),
                .flag("loop", "loop until timeout or interrupt, rather than one-shot"),
                .int("timeout", "timeout seconds"),
                .flag("list", "list valid event types"),
                .flag("timestamp", "show timestamp for each printed event"),
            ]
        ) { shell, cmd in
            if cmd.has("list") {
                for n in eventNames { shell.print("\(n)\n") }
                return true
            }
            let (ok, eventName) = shell.stringOption(cmd, "event")
            guard ok else { return false }
            guard let eventName else {
                shell.error("either --list or --event <type> is required")
                return false
            }
            guard let wanted = eventNames.firstIndex(of: eventName).map(Int32.init) else {
                shell.error("unknown event type \(eventName)")
                return false
            }
            var timeoutMs: Int?
            if let text = cmd.value("timeout") {
                guard let seconds = Format.parseUInt32(text), seconds != 0, seconds <= UInt32(Int32.max / 1000) else {
                    shell.error("Numeric value '\(text)' for <timeout> option is malformed or out of range")
                    return false
                }
                timeoutMs = Int(seconds) * 1000
            }
            var filter: Key?
            if cmd.has(object) {
                guard let u = await lookup(shell, cmd) else { return false }
                filter = u
            }
            guard let stream = await shell.call({ try await subscribe(shell) }) else { return false }
            return await printEvents(shell, stream, timeoutMs: timeoutMs, loop: cmd.has("loop"),
                                     timestamp: cmd.has("timestamp")) { record in
                let ev = describe(record)
                if let filter, ev.key != filter { return nil }
                return ev.eventID == wanted ? "event '\(eventName)' \(ev.text)\n" : nil
            }
        }
    }

    /// The name of lifecycle event `e` in `names`, or "unknown".
    static func lifecycleName(_ e: Int32, _ names: [String]) -> String {
        e >= 0 && Int(e) < names.count ? names[Int(e)] : "unknown"
    }
}
