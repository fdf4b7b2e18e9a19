import Foundation
import Testing
import VirtTestSupport
@testable import VirtCore

/// Runs Debian's virsh against libvirt's test driver to get the reference `<devices>` output for a snippet.
enum DeviceReference {
    static let virsh = "/usr/bin/virsh"

    /// A minimal domain around `devices` (the inner XML of `<devices>`).
    static func domainXML(_ devices: String, name: String = "devtest") -> String {
        """
        <domain type='test'>
          <name>\(name)</name>
          <memory>2097152</memory>
          <os><type>hvm</type></os>
          <devices>
        \(devices)
          </devices>
        </domain>
        """
    }

    /// Defines `xml` on a private test:///default connection and returns `dumpxml --inactive`, or the error
    /// text virsh printed.
    static func dumpxml(_ xml: String, name: String, validate: Bool = false) throws -> (ok: Bool, output: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvirt-dev-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("d.xml")
        try xml.write(to: file, atomically: true, encoding: .utf8)
        let define = validate ? "define --validate \(file.path)" : "define \(file.path)"
        let r = try ChildProcess.run([virsh, "-q", "-c", "test:///default", "\(define); dumpxml \(name) --inactive"])
        let stdout = r.stdout
        let stderr = r.stderr
        if stdout.contains("<domain") { return (true, stdout) }
        return (false, stderr)
    }

    /// The `<devices>…</devices>` lines of a dumpxml output (two-space indented), with the test driver's own
    /// interface names (`<target dev='testnetN'/>`, assigned at define time by the test driver, not by the
    /// XML parser) removed.
    static func devicesSection(_ xml: String) -> String {
        var lines: [Substring] = []
        var inside = false
        for l in xml.split(separator: "\n", omittingEmptySubsequences: false) {
            if l == "  <devices>" || l == "  <devices/>" { inside = true }
            if inside {
                if !(l.hasPrefix("      <target dev='testnet") && l.hasSuffix("'/>")) { lines.append(l) }
            }
            if l == "  </devices>" || l == "  <devices/>" { break }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Our `<devices>` output for the same document, at the same indentation.
    static func ours(_ xml: String, options: DomainParseOptions = .init()) throws(VirtError) -> String {
        let root = try XMLParser.parse(xml)
        guard let d = root.child("devices") else { return "" }
        let devices = try DomainDevices.parse(d, options: options)
        var w = XMLWriter(indent: 2)
        devices.format(into: &w, options: DomainFormatOptions())
        return w.output
    }

    /// The first libvirt error line ("error: …") that is not virsh's own wrapper.
    static func errorMessage(_ stderr: String) -> String? {
        for l in stderr.split(separator: "\n") where l.hasPrefix("error: ") {
            if l.hasPrefix("error: Failed to define") || l.hasPrefix("error: failed to get domain") { continue }
            return String(l.dropFirst(7))
        }
        return nil
    }
}
