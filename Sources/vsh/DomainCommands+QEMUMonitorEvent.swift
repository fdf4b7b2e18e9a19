import Foundation
import Virt

/// qemu-monitor-event (virsh-domain.c, libvirt-qemu's virConnectDomainQemuMonitorEventRegister): the QMP events
/// of one domain or all, by name (exact, `--nocase`, `--regex`), printed as virsh prints them.
extension DomainCommands {
    static let qemuMonitorEvent = CommandDefinition(
        "qemu-monitor-event", summary: "QEMU Monitor Events",
        description: "Listen for QEMU Monitor Events",
        options: [
            .string("domain", "filter by domain name, id or uuid", requiresName: true),
            .string("event", "filter by event name", requiresName: true),
            .flag("pretty", "pretty-print any JSON output"),
            .flag("loop", "loop until timeout or interrupt, rather than one-shot"),
            OptionDefinition(name: "timeout", kind: .int, requiresName: true,
                             help: "timeout seconds"),
            .flag("regex", "treat event as a regex rather than literal filter"),
            .flag("no-case", "treat event case-insensitively"),
            .flag("timestamp", "show timestamp for each printed event"),
        ]
    ) { shell, cmd in
        var flags: UInt32 = 0
        if cmd.has("regex") { flags |= QEMUMonitorEventFilter.regex }
        if cmd.has("no-case") { flags |= QEMUMonitorEventFilter.nocase }
        var timeoutMs: Int?
        if let text = cmd.value("timeout") {
            guard let seconds = Format.parseUInt32(text) else {
                shell.error("Numeric value '\(text)' for <timeout> option is malformed or out of range")
                return false
            }
            guard seconds != 0, seconds <= UInt32(Int32.max / 1000) else {
                shell.error("Numeric value '\(seconds)' for <timeout> option is malformed or out of range")
                return false
            }
            timeoutMs = Int(seconds) * 1000
        }
        let (ok, event) = shell.stringOption(cmd, "event")
        guard ok else { return false }
        var dom: Domain?
        if cmd.has("domain") {
            guard let d = await shell.domainOption(cmd) else { return false }
            dom = d
        }
        guard let stream = await shell.call({ try await shell.conn.qemuMonitorEvents(domain: dom, event: event, flags: flags) })
        else { return false }
        let pretty = cmd.has("pretty"), timestamp = cmd.has("timestamp")
        return await EventCommands.printEvents(shell, stream, timeoutMs: timeoutMs, loop: cmd.has("loop"),
                                               timestamp: timestamp) { r in
            var details = r.details ?? "<null>"
            if pretty, let d = r.details, let p = prettyJSON(d) { details = p }
            if timestamp { return "event \(r.event) for domain '\(r.domain.name)': \(details)\n" }
            let micros = String(r.micros).leftPadded(to: 6)
            return "event \(r.event) at \(r.seconds).\(micros) for domain '\(r.domain.name)': \(details)\n"
        }
    }

    /// libvirt's virJSONValueToString(…, pretty): two-space indentation, `"key": value`, members in order.
    static func prettyJSON(_ text: String) -> String? {
        var out = ""
        var depth = 0, inString = false, escaped = false
        let chars = Array(text)
        var i = 0
        func newline() { out += "\n" + String(repeating: "  ", count: depth) }
        while i < chars.count {
            let c = chars[i]
            if inString {
                out.append(c)
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                i += 1
                continue
            }
            switch c {
            case "\"":
                inString = true
                out.append(c)
            case "{", "[":
                let close: Character = c == "{" ? "}" : "]"
                if i + 1 < chars.count, chars[i + 1] == close {
                    out += String([c, close])
                    i += 2
                    continue
                }
                out.append(c)
                depth += 1
                newline()
            case "}", "]":
                depth -= 1
                newline()
                out.append(c)
            case ",":
                out.append(c)
                newline()
            case ":":
                out += ": "
            case " ", "\n", "\t", "\r":
                break
            default:
                out.append(c)
            }
            i += 1
        }
        // The pretty form ends with a newline of its own.
        return depth == 0 ? out + "\n" : nil
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
