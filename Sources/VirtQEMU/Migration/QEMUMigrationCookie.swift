import VirtCore

/// libvirt's QEMU migration cookie (`qemu_migration_cookie.c`): a NUL-terminated `<qemu-migration>` XML
/// document passed between the phases. Elements appear in libvirt's order; the ones SwiftVirt has no use for
/// (graphics, lock state, network port data, NBD, CPU, dirty bitmaps) are neither written nor required.
/// It carries no TPM data, as libvirt's does not.
struct QEMUMigrationCookie: Sendable, Equatable {
    var name: String
    var uuid: VirtUUID
    var hostname: String
    var hostUUID: VirtUUID
    /// Mandatory features (`<feature name='persistent'/>`): a receiver that does not know one refuses.
    var features: [String] = []
    /// The persistent definition (Perform's output with PERSIST_DEST), formatted inactive.
    var persistentXML: String?
    var statistics: Statistics?
    /// `<nbd [port]><disk target capacity/></nbd>`: the disks copied through the destination's NBD server.
    var nbd: NBD?

    struct NBD: Sendable, Equatable {
        var port: Int?
        var disks: [Disk] = []

        struct Disk: Sendable, Equatable {
            var target: String
            var capacity: UInt64
        }
    }
    /// QEMU migration capabilities the sender supports, and whether each is always on for its party.
    var capabilities: [(name: String, auto: Bool)]?

    /// The `<statistics>` element: the job's times and memory counters.
    struct Statistics: Sendable, Equatable {
        /// Milliseconds since the epoch.
        var started: UInt64 = 0
        var stopped: UInt64 = 0
        var sent: UInt64 = 0
        var delta: Int64?
        var values: [(String, UInt64)] = []

        static func == (a: Self, b: Self) -> Bool {
            a.started == b.started && a.stopped == b.stopped && a.sent == b.sent && a.delta == b.delta
                && a.values.map(\.0) == b.values.map(\.0) && a.values.map(\.1) == b.values.map(\.1)
        }
    }

    static let knownFeatures: Set<String> = ["lockstate", "persistent", "memory-hotplug", "cpu-hotplug"]

    static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.uuid == b.uuid && a.hostname == b.hostname && a.hostUUID == b.hostUUID
            && a.features == b.features && a.persistentXML == b.persistentXML && a.statistics == b.statistics
            && a.capabilities?.map(\.name) == b.capabilities?.map(\.name)
            && a.capabilities?.map(\.auto) == b.capabilities?.map(\.auto) && a.nbd == b.nbd
    }

    /// The cookie's bytes: the XML and its terminating NUL.
    func encoded() -> [UInt8] {
        var w = XMLWriter()
        w.container("qemu-migration") { w in
            w.text("name", [], name)
            w.text("uuid", [], uuid.description)
            w.text("hostname", [], hostname)
            w.text("hostuuid", [], hostUUID.description)
            for f in features { w.empty("feature", [("name", f)]) }
            if let persistentXML {
                for line in persistentXML.split(separator: "\n", omittingEmptySubsequences: true) {
                    w.raw("  " + line + "\n")
                }
            }
            if let n = nbd {
                w.element("nbd", [("port", n.port.map { "\($0)" })]) { w in
                    for d in n.disks { w.empty("disk", [("target", d.target), ("capacity", "\(d.capacity)")]) }
                }
            }
            if let s = statistics {
                w.container("statistics") { w in
                    w.text("started", [], "\(s.started)")
                    w.text("stopped", [], "\(s.stopped)")
                    w.text("sent", [], "\(s.sent)")
                    if let d = s.delta { w.text("delta", [], "\(d)") }
                    for (k, v) in s.values { w.text(k, [], "\(v)") }
                }
            }
            if let caps = capabilities {
                w.container("capabilities") { w in
                    for c in caps { w.empty("cap", [("name", c.name), ("auto", c.auto ? "yes" : "no")]) }
                }
            }
        }
        return Array(w.output.utf8) + [0]
    }

    /// Parses a cookie received from the other side, with libvirt's checks: NUL-terminated, the expected
    /// domain, a sender that is another host, only known mandatory features.
    static func decode(_ bytes: [UInt8], expectName: String? = nil, expectUUID: VirtUUID? = nil,
                       localHostUUID: VirtUUID?) throws(VirtError) -> QEMUMigrationCookie {
        guard let last = bytes.last, last == 0 else {
            throw VirtError.internalError("Migration cookie was not NULL terminated", domain: .qemu)
        }
        let text = String(decoding: bytes.dropLast(), as: UTF8.self)
        let root = try XMLParser.parse(text, documentName: "qemumigration", errorDomain: .qemu)
        guard root.name == "qemu-migration" else {
            throw VirtError.internalError("missing qemu-migration element in migration data", domain: .qemu)
        }
        guard let name = root.childText("name") else {
            throw VirtError.internalError("missing name element in migration data", domain: .qemu)
        }
        if let expectName, name != expectName {
            throw VirtError.internalError("Incoming cookie data had unexpected name \(name) vs \(expectName)",
                                          domain: .qemu)
        }
        guard let uuidText = root.childText("uuid"), let uuid = VirtUUID(string: uuidText) else {
            throw VirtError.internalError("missing uuid element in migration data", domain: .qemu)
        }
        if let expectUUID, uuid != expectUUID {
            throw VirtError.internalError("Incoming cookie data had unexpected UUID \(uuid) vs \(expectUUID)",
                                          domain: .qemu)
        }
        guard let hostname = root.childText("hostname") else {
            throw VirtError.internalError("missing hostname element in migration data", domain: .qemu)
        }
        guard let hostText = root.childText("hostuuid"), let hostUUID = VirtUUID(string: hostText) else {
            throw VirtError.internalError("missing hostuuid element in migration data", domain: .qemu)
        }
        if let localHostUUID, hostUUID == localHostUUID {
            throw VirtError.internalError("Attempt to migrate guest to the same host \(hostUUID)", domain: .qemu)
        }
        var cookie = QEMUMigrationCookie(name: name, uuid: uuid, hostname: hostname, hostUUID: hostUUID)
        for f in root.children("feature") {
            guard let n = f.attr("name") else { continue }
            guard knownFeatures.contains(n) else {
                throw VirtError.internalError("Unknown migration cookie feature \(n)", domain: .qemu)
            }
            cookie.features.append(n)
        }
        if let dom = root.child("domain") {
            var w = XMLWriter()
            w.node(dom)
            cookie.persistentXML = w.output
        }
        if let n = root.child("nbd") {
            var nbd = NBD(port: n.attr("port").flatMap { Int($0) })
            for d in n.children("disk") {
                guard let t = d.attr("target") else { continue }
                nbd.disks.append(NBD.Disk(target: t, capacity: d.attr("capacity").flatMap { UInt64($0) } ?? 0))
            }
            cookie.nbd = nbd
        }
        if let st = root.child("statistics") {
            var s = Statistics()
            for el in st.elements {
                let v = el.text.trimmingSpaces
                switch el.name {
                case "started": s.started = UInt64(v) ?? 0
                case "stopped": s.stopped = UInt64(v) ?? 0
                case "sent": s.sent = UInt64(v) ?? 0
                case "delta": s.delta = Int64(v)
                default: if let n = UInt64(v) { s.values.append((el.name, n)) }
                }
            }
            cookie.statistics = s
        }
        if let caps = root.child("capabilities") {
            cookie.capabilities = caps.children("cap").compactMap { c in
                c.attr("name").map { ($0, c.attr("auto") == "yes") }
            }
        }
        return cookie
    }
}
