import Foundation
import VirtCore

/// The host's SMBIOS description as libvirt 9.0 builds it on x86 (`virSysinfoReadDMI`): the output of
/// `dmidecode -q -t 0,1,2,3,4,11,17`, read once per process, formatted as `<sysinfo type='smbios'>`. Where
/// dmidecode is missing or fails (no /dev/mem, no DMI tables) there is none, and `virConnectGetSysinfo` fails.
public struct HostSysinfo: Sendable, Hashable {
    public var bios: [String: String]?
    public var system: [String: String]?
    public var baseBoards: [[String: String]] = []
    public var chassis: [String: String]?
    public var processors: [[String: String]] = []
    public var memoryDevices: [[String: String]] = []
    public var oemStrings: [String]?

    static let biosKeys = [("Vendor: ", "vendor"), ("Version: ", "version"), ("Release Date: ", "date"),
                           ("BIOS Revision: ", "release")]
    static let systemKeys = [("Manufacturer: ", "manufacturer"), ("Product Name: ", "product"),
                             ("Version: ", "version"), ("Serial Number: ", "serial"), ("UUID: ", "uuid"),
                             ("SKU Number: ", "sku"), ("Family: ", "family")]
    static let boardKeys = [("Manufacturer: ", "manufacturer"), ("Product Name: ", "product"),
                            ("Version: ", "version"), ("Serial Number: ", "serial"), ("Asset Tag: ", "asset"),
                            ("Location In Chassis: ", "location")]
    static let chassisKeys = [("Manufacturer: ", "manufacturer"), ("Version: ", "version"),
                              ("Serial Number: ", "serial"), ("Asset Tag: ", "asset"), ("SKU Number: ", "sku")]
    static let processorKeys = [("Socket Designation: ", "socket_destination"), ("Type: ", "type"),
                                ("Family: ", "family"), ("Manufacturer: ", "manufacturer"),
                                ("Signature: ", "signature"), ("Version: ", "version"),
                                ("External Clock: ", "external_clock"), ("Max Speed: ", "max_speed"),
                                ("Status: ", "status"), ("Serial Number: ", "serial_number"),
                                ("Part Number: ", "part_number")]
    static let memoryKeys = [("Size: ", "size"), ("Form Factor: ", "form_factor"), ("Locator: ", "locator"),
                             ("Bank Locator: ", "bank_locator"), ("Type: ", "type"), ("Type Detail: ", "type_detail"),
                             ("Speed: ", "speed"), ("Manufacturer: ", "manufacturer"),
                             ("Serial Number: ", "serial_number"), ("Part Number: ", "part_number")]

    public init() {}

    /// The host's sysinfo, read the first time it is asked for (libvirt reads it when the driver starts).
    public static let host: HostSysinfo? = {
        guard let dmidecode = dmidecodePath(), let out = run([dmidecode, "-q", "-t", "0,1,2,3,4,11,17"]),
              out.status == 0 else { return nil }
        return try? parse(out.stdout) { index in
            guard let r = run([dmidecode, "--dump", "--oem-string", "\(index)"]), r.status == 0,
                  r.stderr.isEmpty else { return nil }
            return r.stdout
        }
    }()

    /// dmidecode from the search path, else where Debian installs it.
    static func dmidecodePath() -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for dir in dirs + ["/usr/sbin", "/sbin"] where !dir.isEmpty {
            let p = dir + "/dmidecode"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Runs a short command and collects its output (registered with the orphan reaper while it runs, so a
    /// subreaper daemon does not collect its exit first).
    static func run(_ argv: [String]) -> (status: Int32, stdout: String, stderr: String)? {
        ChildCommand.run(argv)
    }

    // MARK: Parsing

    /// The value after the first `key` at or after `from` up to the end of its line, trailing blanks dropped;
    /// nil when absent or empty. libvirt searches the rest of the whole output, not only the section.
    static func value(_ text: String, _ key: String, from: String.Index) -> String? {
        guard let r = text.range(of: key, range: from..<text.endIndex) else { return nil }
        let rest = text[r.upperBound...]
        let line = rest.prefix { $0 != "\n" }
        let trimmed = line.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" }
        return trimmed.isEmpty ? nil : String(trimmed.reversed())
    }

    static func fields(_ text: String, _ keys: [(String, String)], from: String.Index) -> [String: String] {
        var out: [String: String] = [:]
        for (key, name) in keys {
            if let v = value(text, key, from: from) { out[name] = v }
        }
        return out
    }

    /// Parses dmidecode's output as libvirt does; `oemString` fetches string N raw when its text holds a dot
    /// (dmidecode prints newlines as dots).
    public static func parse(_ text: String, oemString: (Int) -> String?) throws(VirtError) -> HostSysinfo {
        var s = HostSysinfo()
        if let r = text.range(of: "BIOS Information") {
            let f = fields(text, biosKeys, from: r.lowerBound)
            s.bios = f.isEmpty ? nil : f
        }
        if let r = text.range(of: "System Information") {
            let f = fields(text, systemKeys, from: r.lowerBound)
            s.system = f.isEmpty ? nil : f
        }
        var start = text.startIndex
        while let r = text.range(of: "Base Board Information", range: start..<text.endIndex) {
            start = r.upperBound
            let f = fields(text, boardKeys, from: start)
            if !f.isEmpty { s.baseBoards.append(f) }
        }
        if let r = text.range(of: "Chassis Information") {
            let f = fields(text, chassisKeys, from: r.lowerBound)
            s.chassis = f.isEmpty ? nil : f
        }
        s.oemStrings = try parseOEMStrings(text, oemString: oemString)
        start = text.startIndex
        while let r = text.range(of: "Processor Information", range: start..<text.endIndex) {
            s.processors.append(fields(text, processorKeys, from: r.lowerBound))
            start = r.upperBound
        }
        start = text.startIndex
        while let r = text.range(of: "Memory Device", range: start..<text.endIndex) {
            start = r.upperBound
            if let size = text.range(of: "Size: ", range: r.lowerBound..<text.endIndex) {
                let line = text[size.upperBound...].prefix { $0 != "\n" }
                if line == "No Module Installed" {
                    s.memoryDevices.append([:])
                    continue
                }
            }
            s.memoryDevices.append(fields(text, memoryKeys, from: r.lowerBound))
        }
        return s
    }

    static func parseOEMStrings(_ text: String, oemString: (Int) -> String?) throws(VirtError) -> [String]? {
        guard let head = text.range(of: "OEM Strings") else { return nil }
        let malformed = VirtError.internalError("Malformed output of dmidecode")
        var values: [String] = []
        var cur = head.lowerBound
        var index = 1
        while let r = text.range(of: "String ", range: cur..<text.endIndex) {
            var p = r.upperBound
            guard let eol = text[p...].firstIndex(of: "\n") else { throw malformed }
            while p < text.endIndex, text[p].isASCII, text[p].isNumber { p = text.index(after: p) }
            guard p < text.endIndex, text[p] == ":" else { throw malformed }
            p = text.index(p, offsetBy: 2, limitedBy: eol) ?? eol
            let raw = text[p..<eol].reversed().drop { $0 == " " || $0 == "\t" }
            cur = eol
            if raw.isEmpty { continue }
            let v = String(raw.reversed())
            if v.contains(".") {
                guard let full = oemString(index) else { throw malformed }
                values.append(full)
            } else {
                values.append(v)
            }
            index += 1
        }
        return values
    }

    // MARK: Formatting

    /// `virSysinfoFormat` for an SMBIOS description.
    public var xml: String {
        var body = ""
        func group(_ tag: String, _ f: [String: String]?, _ keys: [(String, String)], indent: String = "  ") {
            guard let f, !f.isEmpty else { return }
            body += "\(indent)<\(tag)>\n"
            for (_, name) in keys {
                if let v = f[name] { body += "\(indent)  <entry name='\(name)'>\(Self.escape(v))</entry>\n" }
            }
            body += "\(indent)</\(tag)>\n"
        }
        if let bios { body += "  <bios>\n" + entries(bios, Self.biosKeys) + "  </bios>\n" }
        if let system { body += "  <system>\n" + entries(system, Self.systemKeys) + "  </system>\n" }
        for b in baseBoards { body += "  <baseBoard>\n" + entries(b, Self.boardKeys) + "  </baseBoard>\n" }
        if let chassis { body += "  <chassis>\n" + entries(chassis, Self.chassisKeys) + "  </chassis>\n" }
        for p in processors { group("processor", p, Self.processorKeys) }
        for m in memoryDevices { group("memory_device", m, Self.memoryKeys) }
        if let oemStrings {
            body += "  <oemStrings>\n"
            for v in oemStrings { body += "    <entry>\(Self.escape(v))</entry>\n" }
            body += "  </oemStrings>\n"
        }
        if body.isEmpty { return "<sysinfo type='smbios'/>\n" }
        return "<sysinfo type='smbios'>\n" + body + "</sysinfo>\n"
    }

    func entries(_ f: [String: String], _ keys: [(String, String)]) -> String {
        var s = ""
        for (_, name) in keys {
            if let v = f[name] { s += "    <entry name='\(name)'>\(Self.escape(v))</entry>\n" }
        }
        return s
    }

    /// libvirt's `virBufferEscapeString` for XML text and attribute values.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "'": out += "&apos;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    public static func == (a: HostSysinfo, b: HostSysinfo) -> Bool { a.xml == b.xml }
    public func hash(into h: inout Hasher) { h.combine(xml) }
}
