/// libvirt's `<domainbackup>` (virDomainBackupBegin, backup-dumpxml): push mode (QEMU writes each disk into a
/// target image) or pull mode (an NBD server exports each disk while the job runs), with per-disk settings. The
/// driver fills in what the caller left out (virDomainBackupAlignDisks) before formatting it back.
public struct DomainBackupDefinition: Sendable, Hashable, Codable {
    public enum Mode: String, Sendable, Hashable, Codable { case push, pull }

    public struct Disk: Sendable, Hashable, Codable {
        public var name: String
        /// nil: not said (aligned to yes for a disk with a writable medium).
        public var backup: Bool?
        /// `type='file|block'` of the target (push) or scratch (pull) image.
        public var type: String?
        /// `backupmode='full|incremental'`.
        public var backupMode: String?
        public var incremental: String?
        public var exportName: String?
        public var exportBitmap: String?
        /// The target or scratch image: a file or block device path, and its format.
        public var path: String?
        public var format: String?
        /// The image's node number while the job runs (`index='N'`).
        public var index: Int?
        public init(name: String) { self.name = name }
    }

    public var mode: Mode = .push
    public var incremental: String?
    /// Pull mode's NBD server: transport (tcp, unix), name, port, socket, tls.
    public var server: [String: String] = [:]
    public var disks: [Disk] = []
    /// Whether `<disks>` was given (libvirt then backs up only the disks listed with backup='yes').
    public var disksGiven = false

    public init() {}

    static func schemaError(_ lines: String) -> VirtError {
        let m = "Unable to validate doc against /usr/share/libvirt/schemas/domainbackup.rng\n" + lines + "\n"
        return VirtError(.xmlInvalidSchema, domain: .domain, "XML document failed to validate against schema: \(m)",
                         str1: m)
    }

    /// Parses the caller's XML, with the checks libvirt's schema makes on its shape.
    public init(xml: String) throws(VirtError) {
        let root = try XMLParser.parse(xml, documentName: "(domain_backup)", errorDomain: .domain)
        guard root.name == "domainbackup" else {
            let m = "expecting root element of 'domainbackup', not '\(root.name)'"
            throw VirtError(.xmlError, domain: .domain, "XML error: \(m)", str1: m)
        }
        for a in root.attributes.map(\.0) where a != "mode" {
            throw Self.schemaError("Invalid attribute \(a) for element domainbackup")
        }
        if let m = root.attr("mode") {
            guard let v = Mode(rawValue: m) else {
                throw Self.schemaError("Invalid attribute mode for element domainbackup")
            }
            mode = v
        }
        let server = root.child("server")
        if mode == .pull && server == nil {
            throw Self.schemaError("Invalid attribute mode for element domainbackup")
        }
        for el in root.elements where !["incremental", "server", "disks"].contains(el.name) || (el.name == "server" && mode == .push) {
            throw Self.schemaError("Extra element \(el.name) in interleave\nElement domainbackup failed to validate content")
        }
        incremental = root.child("incremental")?.text
        if let server {
            self.server = Dictionary(server.attributes.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        }
        if let server, !Self.validServer(server) {
            throw Self.schemaError("Invalid attribute mode for element domainbackup")
        }
        if let disksEl = root.child("disks") {
            disksGiven = true
            let elements = disksEl.children("disk")
            guard !elements.isEmpty, disksEl.elements.count == elements.count,
                  elements.allSatisfy({ Self.validDisk($0, push: mode == .push) }) else {
                // In pull mode the disks share an interleave with the server, which libxml2 then names.
                let named = mode == .pull ? "server" : "disks"
                throw Self.schemaError("Extra element \(named) in interleave\nElement domainbackup failed to validate content")
            }
            for d in elements {
                guard let name = d.attr("name") else { continue }
                var disk = Disk(name: name)
                if let b = d.attr("backup") { disk.backup = b == "yes" }
                disk.type = d.attr("type")
                disk.backupMode = d.attr("backupmode")
                disk.incremental = d.attr("incremental")
                disk.exportName = d.attr("exportname")
                disk.exportBitmap = d.attr("exportbitmap")
                disk.format = d.child("driver")?.attr("type")
                let image = d.child(mode == .push ? "target" : "scratch")
                disk.path = image?.attr("file") ?? image?.attr("dev")
                if disk.type == nil, image?.attr("dev") != nil { disk.type = "block" }
                disks.append(disk)
            }
        }
    }

    /// The schema's `<server>`: tcp (a name, maybe a port) or unix (a socket), maybe tls.
    static func validServer(_ s: XMLElement) -> Bool {
        let attrs = Set(s.attributes.map(\.name))
        guard s.elements.isEmpty, attrs.isSubset(of: ["tls", "transport", "name", "port", "socket"]) else { return false }
        if let tls = s.attr("tls"), tls != "yes" && tls != "no" { return false }
        switch s.attr("transport") {
        case nil, "tcp"?: return s.attr("name") != nil && s.attr("socket") == nil && s.attr("port").map { UInt32($0) != nil } ?? true
        case "unix"?: return s.attr("socket")?.hasPrefix("/") == true && s.attr("name") == nil && s.attr("port") == nil
        default: return false
        }
    }

    /// The schema's `<disk>` of either mode: backup='no' alone, or an image of type file (push: the type is
    /// required) or block, with its target (push) or scratch (pull) and driver.
    static func validDisk(_ d: XMLElement, push: Bool) -> Bool {
        var attrs = Set(d.attributes.map(\.name))
        guard attrs.contains("name") else { return false }
        attrs.remove("name")
        switch d.attr("backupmode") {
        case nil: break
        case "full"?: if d.attr("incremental") != nil { return false }
        case "incremental"?: break
        default: return false
        }
        attrs.subtract(["backupmode", "incremental"])
        if !push { attrs.subtract(["exportname", "exportbitmap"]) }
        if d.attr("backup") == "no" {
            return attrs == ["backup"] && d.elements.isEmpty
        }
        if let b = d.attr("backup"), b != "yes" { return false }
        attrs.remove("backup")
        let image = push ? "target" : "scratch"
        let type = d.attr("type")
        attrs.remove("type")
        guard attrs.isEmpty, d.elements.allSatisfy({ $0.name == image || $0.name == "driver" }),
              d.children(image).count <= 1, d.children("driver").count <= 1 else { return false }
        if let drv = d.child("driver") {
            guard let t = drv.attr("type"), !push ? t == "qcow2" : !t.isEmpty else { return false }
        }
        let img = d.child(image)
        switch type {
        case "file"?:
            return img.map { $0.attr("file")?.hasPrefix("/") == true && $0.attr("dev") == nil } ?? true
        case "block"?:
            guard let img else { return false }
            return img.attr("dev")?.hasPrefix("/") == true && img.attr("file") == nil
        case nil:
            // Pull mode may leave the type out (with no backup attribute either); push mode may not.
            return !push && d.attr("backup") == nil
                && (img.map { $0.attr("file")?.hasPrefix("/") == true && $0.attr("dev") == nil } ?? true)
        default:
            return false
        }
    }

    /// libvirt's virDomainBackupDefFormat.
    public func formatXML() -> String {
        var w = XMLWriter()
        w.container("domainbackup", [("mode", mode.rawValue)]) { w in
            w.optionalText("incremental", incremental)
            if !server.isEmpty {
                // libvirt's order, the transport always named.
                let s = server
                w.empty("server", [("transport", s["transport"] ?? "tcp"), ("name", s["name"]), ("port", s["port"]),
                                   ("socket", s["socket"]), ("tls", s["tls"])])
            }
            w.container("disks") { w in
                for d in disks {
                    guard d.backup == true else {
                        w.empty("disk", [("name", d.name), ("backup", "no")])
                        continue
                    }
                    w.element("disk", [("name", d.name), ("backup", "yes"), ("type", d.type),
                                       ("backupmode", d.backupMode), ("incremental", d.incremental),
                                       ("exportname", d.exportName), ("exportbitmap", d.exportBitmap),
                                       ("index", d.index.map(String.init))]) { w in
                        w.empty("driver", [("type", d.format)])
                        let attr = d.type == "block" ? "dev" : "file"
                        w.empty(mode == .push ? "target" : "scratch", [(attr, d.path)])
                    }
                }
            }
        }
        return w.output
    }
}
