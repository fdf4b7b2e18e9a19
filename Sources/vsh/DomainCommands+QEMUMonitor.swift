import Virt
import VirtQEMU

extension DomainCommands {
    /// `qemu-monitor-command`: QMP (or, with `--hmp`, a human monitor command) passed to the domain's QEMU
    /// (virDomainQemuMonitorCommand). A QMP command that is not JSON is written as virsh does: the first word
    /// is `execute`, the other words are `key=value` arguments (a value that parses as JSON is used as such).
    static let qemuMonitorCommand = CommandDefinition(
        "qemu-monitor-command", summary: "QEMU Monitor Command",
        description: "QEMU Monitor Command",
        options: [
            .domain(),
            .flag("hmp", "command is in human monitor protocol"),
            .flag("pretty", "pretty-print any qemu monitor protocol output"),
            .flag("return-value", "extract the value of the 'return' key from the returned string"),
            .string("pass-fds", "pass file descriptors N,M,... along with the command", requiresName: true),
            .argv("cmd", "command", required: true),
        ]
    ) { shell, cmd in
        let hmp = cmd.has("hmp")
        if hmp && cmd.has("pretty") {
            shell.error("Options --hmp and --pretty are mutually exclusive")
            return false
        }
        if hmp && cmd.has("return-value") {
            shell.error("Options --hmp and --return-value are mutually exclusive")
            return false
        }
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let fds = passFDs(shell, cmd) else { return false }
        let words = cmd.values("cmd")
        var command = words.joined(separator: " ")
        if !hmp, let first = words.first, !first.hasPrefix("{") {
            guard let wrapped = wrapQMP(words) else {
                let args = words.dropFirst().joined(separator: " ")
                shell.error("failed to wrap arguments '\(args)' into a QMP command wrapper")
                shell.error("internal error: cannot parse json {\(args)}")
                return false
            }
            command = wrapped
        }
        guard let result = await shell.call({
            fds.isEmpty ? try await dom.qemuMonitorCommand(command, hmp: hmp)
                : try await dom.qemuMonitorCommand(command, hmp: hmp, fds: fds)
        }) else {
            return false
        }
        guard cmd.has("pretty") || cmd.has("return-value") else {
            shell.print(result + "\n")
            return true
        }
        // Worked on the reply's text, so QEMU's member order is kept as virsh keeps it.
        let compact = compactJSON(Array(result.utf8))
        var text = String(decoding: compact, as: UTF8.self)
        if cmd.has("return-value") {
            guard let ret = topLevelMember(compact, "return") else {
                shell.error("'return' member missing")
                return false
            }
            text = ret
        }
        // virsh prints these without a newline of its own.
        shell.print(cmd.has("pretty") ? prettyJSON(text) : text)
        return true
    }

    /// JSON text without the whitespace outside strings.
    static func compactJSON(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var inString = false
        var escaped = false
        for b in bytes {
            if inString {
                out.append(b)
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { continue }
            if b == UInt8(ascii: "\"") { inString = true }
            out.append(b)
        }
        return out
    }

    /// The text of member `key` of a compact JSON object, or nil.
    static func topLevelMember(_ json: [UInt8], _ key: [UInt8]) -> [UInt8]? {
        guard json.first == UInt8(ascii: "{") else { return nil }
        var i = 1
        while i < json.count {
            guard json[i] == UInt8(ascii: "\""), let keyEnd = stringEnd(json, i) else { return nil }
            let name = Array(json[(i + 1)..<(keyEnd - 1)])
            i = keyEnd
            guard i < json.count, json[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            let valueStart = i
            guard let valueEnd = valueEnd(json, i) else { return nil }
            if name == key { return Array(json[valueStart..<valueEnd]) }
            i = valueEnd
            guard i < json.count, json[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
        return nil
    }

    static func topLevelMember(_ json: [UInt8], _ key: String) -> String? {
        topLevelMember(json, Array(key.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The index just past the string starting at `start` (a quote).
    private static func stringEnd(_ json: [UInt8], _ start: Int) -> Int? {
        var i = start + 1
        while i < json.count {
            if json[i] == UInt8(ascii: "\\") {
                i += 2
                continue
            }
            if json[i] == UInt8(ascii: "\"") { return i + 1 }
            i += 1
        }
        return nil
    }

    /// The index just past the value starting at `start` in compact JSON.
    private static func valueEnd(_ json: [UInt8], _ start: Int) -> Int? {
        var depth = 0
        var i = start
        while i < json.count {
            let b = json[i]
            if b == UInt8(ascii: "\"") {
                guard let e = stringEnd(json, i) else { return nil }
                i = e
                if depth == 0 { return i }
                continue
            }
            if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                depth += 1
            } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                if depth == 0 { return i }
                depth -= 1
                if depth == 0 { return i + 1 }
            } else if depth == 0 && b == UInt8(ascii: ",") {
                return i
            }
            i += 1
        }
        return depth == 0 ? i : nil
    }

    /// Compact JSON pretty-printed as libvirt does: two-space indentation, one member or element per line,
    /// `"key": value`, members in their order.
    static func prettyJSON(_ compact: String) -> String {
        let json = Array(compact.utf8)
        var out: [UInt8] = []
        var level = 0
        var i = 0
        func newline() {
            out.append(0x0A)
            out.append(contentsOf: [UInt8](repeating: 0x20, count: 2 * level))
        }
        while i < json.count {
            let b = json[i]
            switch b {
            case UInt8(ascii: "\""):
                let e = stringEnd(json, i) ?? json.count
                out.append(contentsOf: json[i..<e])
                i = e
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = b == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if i + 1 < json.count && json[i + 1] == close {
                    out.append(contentsOf: [b, close])
                    i += 2
                    continue
                }
                out.append(b)
                level += 1
                newline()
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                level -= 1
                newline()
                out.append(b)
            case UInt8(ascii: ","):
                out.append(b)
                newline()
            case UInt8(ascii: ":"):
                out.append(contentsOf: [b, 0x20])
            default:
                out.append(b)
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `execute MEMBERS...` as a QMP JSON command, as virsh writes it: the words after the command name are
    /// the members of its `arguments` object, one per word (`'"path":"/machine"' '"property":"type"'`).
    static func wrapQMP(_ words: [String]) -> String? {
        guard let execute = words.first else { return nil }
        let rest = words.dropFirst().joined(separator: ",")
        if rest.isEmpty { return JSONValue.object(["execute": .string(execute)]).jsonString }
        guard (try? JSONValue.parse("{" + rest + "}")) != nil else { return nil }
        return "{\"execute\":" + JSONValue.string(execute).jsonString + ",\"arguments\":{" + rest + "}}"
    }
}
