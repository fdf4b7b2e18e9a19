import Foundation
import Virt

/// update-memory-device (virsh-domain.c): virsh's own command over virDomainUpdateDeviceFlags. It picks the
/// domain's `<memory>` device (by `--alias`, by target `--node`, or the only one), sets its `<requested>` size
/// and prints the element as libxml2 serialises a node (double-quoted attributes, the inner lines as they were
/// indented in the domain XML) or sends it to update-device.
extension DomainCommands {
    static let updateMemoryDevice = CommandDefinition(
        "update-memory-device", summary: "update memory device of a domain",
        description: "Update values of a memory device of a domain",
        options: [
            .domain(), .flag("config", "affect next boot"), .flag("live", "affect running domain"),
            .flag("current", "affect current domain"),
            .flag("print-xml", "print updated memory device XML instead of executing the change"),
            .string("alias", "memory device alias", requiresName: true),
            OptionDefinition(name: "node", kind: .int, requiresName: true, help: "memory device target node"),
            OptionDefinition(name: "requested-size", kind: .int, requiresName: true,
                             help: "new value of <requested/> size, as scaled integer (default KiB)"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config"),
              shell.exclusive(cmd, "node", "alias") else { return false }
        var flags: ModificationImpact = []
        if cmd.has("config") { flags.insert(.config) }
        if cmd.has("live") { flags.insert(.live) }
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (aok, alias) = shell.stringOption(cmd, "alias")
        guard aok else { return false }
        let (nok, node) = HostCommands.intOption(shell, cmd, "node")
        guard nok else { return false }
        let xmlFlags: XMLFlags = cmd.has("config") ? .inactive : []
        guard let xml = await shell.call({ try await dom.xmlDesc(flags: xmlFlags) }) else { return false }
        // The memory devices of <devices>, in document order, and which of them match.
        let devices: [XMLElement]
        do throws(VirtError) {
            devices = try XMLParser.parse(xml).child("devices")?.children("memory") ?? []
        } catch {
            shell.lastError = error
            return false
        }
        let matching = devices.indices.filter { i in
            if let alias { return devices[i].child("alias")?.attr("name") == alias }
            if let node { return devices[i].child("target")?.childText("node") == String(node) }
            return true
        }
        if matching.isEmpty {
            shell.error("no memory device found")
            return false
        }
        if matching.count > 1 {
            shell.error("multiple memory devices found, use --alias or --node to select one")
            return false
        }
        guard var text = memoryElementText(xml, index: matching[0]) else {
            shell.error("no memory device found")
            return false
        }
        if let sizeText = cmd.value("requested-size") {
            guard let bytes = AgentCommands.scaledBytes(sizeText, defaultScale: 1024) else {
                shell.error("Scaled numeric value '\(sizeText)' for <requested-size> option is malformed or out of range")
                return false
            }
            guard let open = text.range(of: "<requested"), let close = text.range(of: "</requested>"),
                  let gt = text[open.upperBound...].firstIndex(of: ">"), gt < close.lowerBound else {
                shell.error("virtio-mem device is missing <requested/>")
                return false
            }
            text.replaceSubrange(text.index(after: gt)..<close.lowerBound, with: String((bytes + 1023) / 1024))
        }
        if cmd.has("print-xml") {
            shell.print(text)
            return true
        }
        return await shell.call({ try await dom.updateDevice(xml: text, flags: flags.rawValue) }) != nil
    }

    /// The text of the `index`th `<memory>` element of `<devices>` in libvirt's XML, as libxml2's xmlNodeDump
    /// writes it: from `<memory` to `</memory>` as they stand, with the attributes in double quotes.
    static func memoryElementText(_ xml: String, index: Int) -> String? {
        guard let devices = xml.range(of: "<devices>") else { return nil }
        var from = devices.upperBound
        var k = 0
        while let start = xml.range(of: "<memory ", range: from..<xml.endIndex) {
            guard let end = xml.range(of: "</memory>", range: start.upperBound..<xml.endIndex) else { return nil }
            if k == index { return doubleQuoted(String(xml[start.lowerBound..<end.upperBound])) }
            k += 1
            from = end.upperBound
        }
        return nil
    }

    /// Attribute values in double quotes (libvirt writes them in single quotes), `"` escaped as libxml2 does.
    private static func doubleQuoted(_ text: String) -> String {
        var out = ""
        var inTag = false, inValue = false
        var prev: Character = " "
        for c in text {
            if inValue {
                if c == "'" {
                    inValue = false
                    out.append("\"")
                } else if c == "\"" {
                    out += "&quot;"
                } else {
                    out.append(c)
                }
            } else if inTag && c == "'" && prev == "=" {
                inValue = true
                out.append("\"")
            } else {
                if c == "<" { inTag = true } else if c == ">" { inTag = false }
                out.append(c)
            }
            prev = c
        }
        return out.replacingOccurrences(of: "&apos;", with: "'")
    }
}
