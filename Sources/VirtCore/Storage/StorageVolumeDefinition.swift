/// libvirt's `virScaleInteger` units for sizes ("", "b", "KiB", "K", "KB", … "E").
public enum StorageUnits {
    public static func scale(_ unit: String) throws(VirtError) -> UInt64 {
        try StorageVolumeDefinition.unitScale(unit)
    }
}

/// `<encryption>` of a volume (`virStorageEncryption`).
public struct StorageEncryption: Sendable, Hashable {
    public var format: String
    public var engine: String?
    public var secrets: [(type: String, uuid: String?, usage: String?)] = []
    public var cipher: (name: String, size: UInt32, mode: String?, hash: String?)?
    public var ivgen: (name: String, hash: String?)?

    public static func == (a: StorageEncryption, b: StorageEncryption) -> Bool { a.key == b.key }
    public func hash(into h: inout Hasher) { h.combine(key) }
    private var key: String {
        var w = XMLWriter()
        format(&w)
        return w.output
    }

    static let formats = ["default", "qcow", "luks", "luks2"]

    static func parse(_ el: XMLElement) throws(VirtError) -> StorageEncryption {
        guard let f = el.attr("format"), formats.contains(f) else {
            throw StorageErrors.xml("unknown volume encryption format type \(el.attr("format") ?? "(null)")")
        }
        var e = StorageEncryption(format: f)
        if let engine = el.attr("engine") {
            guard ["default", "qemu", "librbd"].contains(engine) else {
                throw StorageErrors.xml("Invalid value for attribute 'engine' in element 'encryption': '\(engine)'.")
            }
            e.engine = engine == "default" ? nil : engine
        }
        for s in el.children("secret") {
            guard let t = s.attr("type") else { throw StorageErrors.xml("missing volume encryption secret type") }
            guard t == "passphrase" else { throw StorageErrors.xml("unknown volume encryption secret type \(t)") }
            let uuid = s.attr("uuid")
            if let uuid {
                guard VirtUUID(string: uuid) != nil else { throw StorageErrors.xml("invalid secret uuid '\(uuid)'") }
            } else if s.attr("usage") == nil {
                throw StorageErrors.xml("missing uuid or usage attribute in secret")
            }
            let canonical = uuid.flatMap { VirtUUID(string: $0)?.description }
            e.secrets.append((t, canonical, uuid == nil ? s.attr("usage") : nil))
        }
        if let c = el.child("cipher") {
            guard let name = c.attr("name") else { throw StorageErrors.xml("cipher element missing name attribute") }
            guard let sizeText = c.attr("size") else {
                throw StorageErrors.xml("cipher element missing size attribute")
            }
            guard let size = UInt32(sizeText) else {
                throw StorageErrors.xml("cannot parse cipher size: '\(sizeText)'")
            }
            e.cipher = (name, size, c.attr("mode"), c.attr("hash"))
        }
        if let i = el.child("ivgen") {
            guard let name = i.attr("name") else { throw StorageErrors.xml("missing ivgen element name attribute") }
            e.ivgen = (name, i.attr("hash"))
        }
        return e
    }

    public init(format: String) { self.format = format }

    func format(_ w: inout XMLWriter) {
        w.container("encryption", [("format", format), ("engine", engine)]) { w in
            for s in secrets {
                if let uuid = s.uuid {
                    w.empty("secret", [("type", s.type), ("uuid", uuid)])
                } else {
                    w.empty("secret", [("type", s.type), ("usage", s.usage)])
                }
            }
            if let c = cipher {
                w.empty("cipher", [("name", c.name), ("size", String(c.size)), ("mode", c.mode), ("hash", c.hash)])
            }
            if let i = ivgen { w.empty("ivgen", [("name", i.name), ("hash", i.hash)]) }
        }
    }
}

/// A file's times as a volume's `<timestamps>` shows them (libvirt's `virStorageTimestamps`: atime, mtime, ctime,
/// and a birth time libvirt 9.0 does not read on Linux, printed as 0).
public struct StorageTimestamps: Sendable, Hashable {
    public var atime: (sec: Int64, nsec: Int64)
    public var ctime: (sec: Int64, nsec: Int64)
    public var mtime: (sec: Int64, nsec: Int64)

    public init(atime: (Int64, Int64), ctime: (Int64, Int64), mtime: (Int64, Int64)) {
        self.atime = atime
        self.ctime = ctime
        self.mtime = mtime
    }

    public static func == (a: StorageTimestamps, b: StorageTimestamps) -> Bool {
        a.atime == b.atime && a.ctime == b.ctime && a.mtime == b.mtime
    }
    public func hash(into h: inout Hasher) {
        for t in [atime, ctime, mtime] {
            h.combine(t.sec)
            h.combine(t.nsec)
        }
    }

    /// Seconds, then nine digits of nanoseconds when there are any.
    static func text(_ t: (sec: Int64, nsec: Int64)) -> String {
        guard t.nsec != 0 else { return String(t.sec) }
        let n = String(t.nsec)
        return "\(t.sec)." + String(repeating: "0", count: max(0, 9 - n.count)) + n
    }

    func format(_ w: inout XMLWriter) {
        w.container("timestamps") { w in
            w.text("atime", [], Self.text(atime))
            w.text("mtime", [], Self.text(mtime))
            w.text("ctime", [], Self.text(ctime))
            w.text("btime", [], "0")
        }
    }
}

/// A volume's `<target>` or `<backingStore>` (the parts of libvirt's `virStorageSource` a volume uses).
public struct StorageVolumeTarget: Sendable, Hashable {
    public var path: String?
    /// Index into the pool type's volume formats.
    public var format: Int = 0
    public var permissions = StoragePermissions()
    public var encryption: StorageEncryption?
    public var compat: String?
    public var nocow = false
    public var clusterSize: UInt64 = 0
    /// `<features>`: nil when absent; else the set features ("lazy_refcounts", "extended_l2").
    public var features: [String]?
    /// `<timestamps>` of a file seen on disk (output only): seconds and nanoseconds of atime, ctime, mtime.
    public var timestamps: StorageTimestamps?

    public init(path: String? = nil) { self.path = path }

    static let featureNames = ["lazy_refcounts", "extended_l2"]

    func format(_ w: inout XMLWriter, element: String, poolType: StoragePoolType) {
        w.container(element) { w in
            w.optionalText("path", path)
            if let formats = poolType.volumeFormats, format < formats.names.count {
                w.empty("format", [("type", formats.names[format])])
            }
            permissions.format(&w)
            timestamps?.format(&w)
            encryption?.format(&w)
            w.optionalText("compat", compat)
            if clusterSize > 0 { w.text("clusterSize", [("unit", "B")], String(clusterSize)) }
            if let features {
                w.element("features") { w in
                    for f in Self.featureNames where features.contains(f) { w.empty(f) }
                }
            }
        }
    }
}

/// A storage volume's definition: libvirt's `<volume>` XML (`virStorageVolDef`), read in the context of its
/// pool's type.
public struct StorageVolumeDefinition: Sendable, Hashable {
    public static let typeNames = ["file", "block", "dir", "network", "netdir", "ploop"]

    public var name: String
    public var key: String?
    /// `virStorageVolType`.
    public var type: Int32 = 0
    public var capacity: UInt64 = 0
    public var allocation: UInt64 = 0
    public var hasAllocation = false
    /// Bytes the volume takes on its host storage (a file's size), known for volumes read from disk (nil: not shown).
    public var physical: UInt64?
    public var target = StorageVolumeTarget()
    public var backingStore: StorageVolumeTarget?

    /// `VIR_VOL_XML_PARSE_*`.
    public struct ParseFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Capacity may be missing.
        public static let noCapacity = ParseFlags(rawValue: 1)
        /// Capacity may be missing when there is a backing store.
        public static let optCapacity = ParseFlags(rawValue: 2)
    }

    public init(name: String) { self.name = name }

    /// Parses a `<volume>` document for a pool of `poolType` (libvirt's `virStorageVolDefParseString`).
    public init(xml: String, poolType: StoragePoolType, flags: ParseFlags = []) throws(VirtError) {
        let root = try XMLParser.parse(xml, documentName: "storage_volume_definition", errorDomain: .storage)
        try self.init(element: root, poolType: poolType, flags: flags)
    }

    public init(element root: XMLElement, poolType: StoragePoolType, flags: ParseFlags = []) throws(VirtError) {
        guard root.name == "volume" else {
            throw StorageErrors.xml("expecting root element of 'volume', not '\(root.name)'")
        }
        guard let name = root.xpathString("name") else { throw StorageErrors.xml("missing volume name element") }
        self.name = name
        key = root.xpathString("key")
        if let t = root.nonEmptyAttr("type") {
            guard let i = Self.typeNames.firstIndex(of: t) else {
                throw StorageErrors.unsupported("unknown volume type '\(t)'")
            }
            type = Int32(i)
        }
        let formats = poolType.volumeFormats
        func parseFormat(_ el: XMLElement?) throws(VirtError) -> Int {
            guard let formats else { return 0 }
            guard let f = el?.child("format")?.nonEmptyAttr("type") else { return formats.defaultIndex }
            guard let i = formats.names.firstIndex(of: f), !(formats.refuseNone && i == 0) else {
                throw StorageErrors.unsupported("unknown volume format type \(f)")
            }
            return i
        }
        if let b = root.child("backingStore"), let path = b.xpathString("path") {
            var bs = StorageVolumeTarget(path: path)
            bs.format = try parseFormat(b)
            bs.permissions = try StoragePermissions.parse(b.child("permissions"))
            backingStore = bs
        }
        if let c = root.child("capacity"), !c.text.isEmpty {
            capacity = try Self.size(c.text, unit: c.nonEmptyAttr("unit"))
        } else if !flags.contains(.noCapacity) && !(flags.contains(.optCapacity) && backingStore != nil) {
            throw StorageErrors.xml("missing capacity element")
        }
        if let a = root.child("allocation"), !a.text.isEmpty {
            allocation = try Self.size(a.text, unit: a.nonEmptyAttr("unit"))
            hasAllocation = true
        } else {
            allocation = capacity
        }
        let t = root.child("target")
        target.path = t?.xpathString("path")
        target.format = try parseFormat(t)
        target.permissions = try StoragePermissions.parse(t?.child("permissions"))
        if let e = t?.child("encryption") { target.encryption = try StorageEncryption.parse(e) }
        target.compat = t?.xpathString("compat")
        if let compat = target.compat {
            let parts = compat.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count < 2 || UInt32(parts[0]) == nil || UInt32(parts[1]) == nil {
                throw StorageErrors.xml("forbidden characters in 'compat' attribute")
            }
        }
        target.nocow = t?.child("nocow") != nil
        if let cs = t?.child("clusterSize") {
            target.clusterSize = try Self.size(cs.text, unit: cs.nonEmptyAttr("unit"), what: "clusterSize")
        }
        if let f = t?.child("features") {
            if target.compat == nil { target.compat = "1.1" }
            var set: [String] = []
            for el in f.elements {
                guard StorageVolumeTarget.featureNames.contains(el.name) else {
                    throw StorageErrors.unsupported("unsupported feature \(el.name)")
                }
                set.append(el.name)
            }
            target.features = set
        }
    }

    /// libvirt's `virStorageSize`/`virScaleInteger`: a number with an optional unit, in bytes.
    static func size(_ text: String, unit: String?, what: String = "capacity") throws(VirtError) -> UInt64 {
        guard let v = UInt64(text.trimmingSpaces) else { throw StorageErrors.xml("malformed \(what) element") }
        let scale = try unitScale(unit)
        let limit = UInt64(Int64.max)
        if v > limit / scale {
            throw VirtError(.overflow, domain: .storage, "value too large: \(v)\(unit ?? "")")
        }
        return v * scale
    }

    static func unitScale(_ unit: String?) throws(VirtError) -> UInt64 {
        guard let unit, !unit.isEmpty else { return 1 }
        let lower = unit.lowercased()
        if ["b", "byte", "bytes"].contains(lower) { return 1 }
        let chars = Array(unit)
        let base: UInt64
        if chars.count == 1 || String(chars.dropFirst()).lowercased() == "ib" {
            base = 1024
        } else if chars.count == 2 && (chars[1] == "b" || chars[1] == "B") {
            base = 1000
        } else {
            throw VirtError(.invalidArg, domain: .storage, "invalid argument: unknown suffix '\(unit)'",
                            str1: "unknown suffix '\(unit)'")
        }
        guard let power = ["k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6][String(chars[0]).lowercased()] else {
            throw VirtError(.invalidArg, domain: .storage, "invalid argument: unknown suffix '\(unit)'",
                            str1: "unknown suffix '\(unit)'")
        }
        var s: UInt64 = 1
        for _ in 0..<power { s *= base }
        return s
    }

    /// libvirt's `virStorageVolDefFormat` for a volume of a pool of `poolType`.
    public func xml(poolType: StoragePoolType) -> String {
        var w = XMLWriter()
        w.container("volume", [("type", Self.typeNames[Int(type)])]) { w in
            w.text("name", [], name)
            w.optionalText("key", key)
            w.text("capacity", [("unit", "bytes")], String(capacity))
            w.text("allocation", [("unit", "bytes")], String(allocation))
            if let physical { w.text("physical", [("unit", "bytes")], String(physical)) }
            target.format(&w, element: "target", poolType: poolType)
            backingStore?.format(&w, element: "backingStore", poolType: poolType)
        }
        return w.output
    }
}
