import Virt

#if canImport(Glibc)
import Glibc
#endif

/// Secret commands (virsh-secret.c): define, dump, values, list, undefine, events.
enum SecretCommands {
    static let all: [CommandDefinition] = [define, dumpxml, event, getValue, list, setValue, undefine]

    static func secretOption(_ help: String = "secret UUID", name: String = "secret") -> OptionDefinition {
        .data(name, help)
    }

    /// The secret named by `--secret` (`virshCommandOptSecret`): looked up by UUID; on failure the library's
    /// error follows virsh's own line.
    @MainActor
    static func lookup(_ shell: Shell, _ cmd: ParsedCommand, option: String = "secret") async -> Secret? {
        let (ok, value) = shell.stringOption(cmd, option)
        guard ok else { return nil }
        guard let value else {
            shell.error("Failed to get option '\(option)': Mandatory option not present")
            return nil
        }
        guard let secret = await shell.call({ try await shell.conn.lookupSecret(uuidString: value) }) else {
            shell.error("failed to get secret '\(value)'")
            return nil
        }
        return secret
    }

    static let define = CommandDefinition(
        "secret-define", summary: "define or modify a secret from an XML file",
        description: "Define or modify a secret.",
        options: [
            .file("file containing secret attributes in XML"),
            .flag("validate", "validate the XML against the schema"),
        ]
    ) { shell, cmd in
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok else { return false }
        guard let file else {
            shell.error("Failed to get option 'file': Mandatory option not present")
            return false
        }
        guard let xml = shell.readFile(file) else { return false }
        let flags: UInt32 = cmd.has("validate") ? 1 : 0
        guard let secret = await shell.call({ try await shell.conn.defineSecret(xml: xml, flags: flags) }) else {
            shell.error("Failed to set attributes from \(file)")
            return false
        }
        shell.printExtra("Secret \(secret.uuid) created\n")
        return true
    }

    static let dumpxml = CommandDefinition(
        "secret-dumpxml", summary: "secret attributes in XML",
        description: "Output attributes of a secret as an XML dump to stdout.",
        options: [
            secretOption(),
            .string("xpath", "xpath expression to filter the XML document", requiresName: true),
            .flag("wrap", "wrap xpath results in an common root element"),
        ]
    ) { shell, cmd in
        let (ok, xpath) = shell.stringOption(cmd, "xpath")
        guard ok, let secret = await lookup(shell, cmd) else { return false }
        guard let xml = await shell.call({ try await secret.xmlDesc() }) else { return false }
        if xpath != nil {
            shell.error("XPath queries are not supported by this shell yet")
            return false
        }
        shell.print(xml)
        return true
    }

    static let setValue = CommandDefinition(
        "secret-set-value", summary: "set a secret value",
        description: "Set a secret value.",
        options: [
            secretOption(),
            .string("file", "read secret from file", requiresName: true),
            .flag("plain", "read the secret from file without converting from base64"),
            .flag("interactive", "read the secret from the terminal"),
            .string("base64", "base64-encoded secret value"),
        ]
    ) { shell, cmd in
        guard let secret = await lookup(shell, cmd) else { return false }
        for (a, b) in [("file", "base64"), ("plain", "base64"), ("interactive", "base64"), ("interactive", "plain"),
                       ("interactive", "file")] where !shell.exclusive(cmd, a, b) {
            return false
        }
        var plain = cmd.has("plain")
        var input: [UInt8]
        if let b64 = cmd.value("base64") {
            shell.error("Passing secret value as command-line argument is insecure!")
            input = Array(b64.utf8)
            plain = false
        } else if let file = cmd.value("file") {
            guard let text = shell.readFileBytes(file) else {
                shell.error("Failed to read secret file")
                return false
            }
            input = text
        } else if cmd.has("interactive") {
            shell.print("Enter new value for secret:")
            shell.output.flush()
            guard let line = readLine(strippingNewline: true) else {
                shell.error("Failed to read secret")
                return false
            }
            input = Array(line.utf8)
        } else {
            shell.error("Input secret value is missing")
            return false
        }
        let value = plain ? input : Base64.decode(String(decoding: input, as: UTF8.self))
        if value.isEmpty {
            // GLib decodes to NULL, which libvirt refuses before asking the daemon.
            shell.error("Failed to set secret value")
            shell.lastError = VirtError(.invalidArg, domain: .secret, "value in virSecretSetValue must not be NULL")
            return false
        }
        guard await shell.call({ try await secret.setValue(value) }) != nil else {
            shell.error("Failed to set secret value")
            return false
        }
        shell.printExtra("Secret value set\n")
        return true
    }

    static let getValue = CommandDefinition(
        "secret-get-value", summary: "Output a secret value",
        description: "Output a secret value to stdout.",
        options: [
            secretOption(),
            .flag("plain", "get value without converting to base64"),
        ]
    ) { shell, cmd in
        guard let secret = await lookup(shell, cmd) else { return false }
        guard let value = await shell.call({ try await secret.value() }) else { return false }
        if cmd.has("plain") {
            shell.print(String(decoding: value, as: UTF8.self))
        } else {
            shell.print(Base64.encode(value))
        }
        return true
    }

    static let undefine = CommandDefinition(
        "secret-undefine", summary: "undefine a secret",
        description: "Undefine a secret.",
        options: [secretOption()]
    ) { shell, cmd in
        guard let secret = await lookup(shell, cmd) else { return false }
        guard await shell.call({ try await secret.undefine() }) != nil else {
            shell.error("Failed to delete secret \(secret.uuid)")
            return false
        }
        shell.printExtra("Secret \(secret.uuid) deleted\n")
        return true
    }

    static let list = CommandDefinition(
        "secret-list", summary: "list secrets",
        description: "Returns a list of secrets",
        options: [
            .flag("ephemeral", "list ephemeral secrets"),
            .flag("no-ephemeral", "list non-ephemeral secrets"),
            .flag("private", "list private secrets"),
            .flag("no-private", "list non-private secrets"),
        ]
    ) { shell, cmd in
        var flags: SecretListFlags = []
        if cmd.has("ephemeral") { flags.insert(.ephemeral) }
        if cmd.has("no-ephemeral") { flags.insert(.noEphemeral) }
        if cmd.has("private") { flags.insert(.private) }
        if cmd.has("no-private") { flags.insert(.noPrivate) }
        var refs: [SecretRef]
        if let all = await shell.call({ try await shell.conn.listAllSecrets(flags: flags) }) {
            refs = all.map(\.ref)
        } else {
            // virsh falls back to the old API when the new one is not supported, as libvirt's virsh does.
            guard shell.lastError?.code == .noSupport else {
                shell.error("Failed to list secrets")
                return false
            }
            shell.lastError = nil
            if !flags.isEmpty {
                shell.error("Filtering is not supported by this libvirt")
                return false
            }
            guard await shell.call({ try await shell.conn.numOfSecrets() }) != nil else {
                shell.error("Failed to count secrets")
                return false
            }
            guard let uuids = await shell.call({ try await shell.conn.listSecretUUIDs() }) else {
                shell.error("Failed to list secrets")
                return false
            }
            refs = []
            for u in uuids {
                if let s = await shell.call({ try await shell.conn.lookupSecret(uuidString: u) }) { refs.append(s.ref) }
            }
            shell.lastError = nil
        }
        refs.sort { $0.uuid.description < $1.uuid.description }
        var table = Table(header: ["UUID", "Usage"])
        for r in refs {
            let usage = SecretUsage(type: r.usageType, id: r.usageID)
            if let usage, usage != .none {
                table.append([r.uuid.description, "\(usage.typeName) \(r.usageID)"])
            } else {
                table.append([r.uuid.description, "Unused"])
            }
        }
        shell.print(table.render(header: !shell.quiet))
        return true
    }

    /// Secret event names in `virSecretEventID` order.
    static let eventNames = ["lifecycle", "value-changed"]

    static let event = EventCommands.objectEvent(
        "secret-event", summary: "Secret Events", description: "List event types, or wait for secret events to occur",
        object: "secret", objectHelp: "filter by secret name or uuid", eventNames: eventNames,
        lookup: { shell, cmd in await lookup(shell, cmd)?.uuid },
        subscribe: { shell in try await shell.conn.secretEvents() },
        describe: { ev in
            var text = "for secret \(ev.secret.uuid)"
            if case .lifecycle(let e, _) = ev.kind {
                text += ": " + (e == SecretEventRecord.defined ? "Defined" : e == SecretEventRecord.undefined ? "Undefined" : "unknown")
            }
            return EventCommands.ObjectEvent(key: ev.secret.uuid, eventID: ev.eventID, text: text)
        })
}
