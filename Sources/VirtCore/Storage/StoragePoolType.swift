/// `virStoragePoolType` with what libvirt's `poolTypeInfo` table says of each type: which parts of `<source>`
/// it uses, its source formats and its volumes' formats.
public enum StoragePoolType: Int32, Sendable, CaseIterable {
    case dir = 0, fs, netfs, logical, disk, iscsi, iscsiDirect, scsi, mpath, rbd, sheepdog, gluster, zfs, vstorage

    static let names = ["dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath", "rbd",
                        "sheepdog", "gluster", "zfs", "vstorage"]

    public var name: String { Self.names[Int(rawValue)] }

    public init?(name: String) {
        guard let i = Self.names.firstIndex(of: name) else { return nil }
        self.init(rawValue: Int32(i))
    }

    /// The parts of `<source>` a type uses (libvirt's VIR_STORAGE_POOL_SOURCE_* flags).
    struct SourceParts: OptionSet {
        let rawValue: Int
        static let host = SourceParts(rawValue: 1)
        static let device = SourceParts(rawValue: 2)
        static let dir = SourceParts(rawValue: 4)
        static let adapter = SourceParts(rawValue: 8)
        static let name = SourceParts(rawValue: 16)
        static let initiatorIQN = SourceParts(rawValue: 32)
        static let network = SourceParts(rawValue: 64)
    }

    var sourceParts: SourceParts {
        switch self {
        case .logical: [.name, .device]
        case .dir, .mpath: []
        case .fs, .disk: [.device]
        case .netfs: [.host, .dir]
        case .iscsi: [.host, .device, .initiatorIQN]
        case .iscsiDirect: [.host, .device, .network, .initiatorIQN]
        case .scsi: [.adapter]
        case .rbd, .sheepdog: [.host, .network, .name]
        case .gluster: [.host, .network, .name, .dir]
        case .zfs: [.name, .device]
        case .vstorage: [.name]
        }
    }

    /// The source formats (`<source><format type=…>`) and the default one, for the types that have them.
    var sourceFormats: (names: [String], defaultIndex: Int)? {
        switch self {
        case .logical: (["unknown", "lvm2"], 1)
        case .fs: (["auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat", "hfs+", "xfs",
                    "ocfs2", "vmfs"], 0)
        case .netfs: (["auto", "nfs", "glusterfs", "cifs"], 0)
        case .disk: (["unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2"], 0)
        default: nil
        }
    }

    /// `virStorageFileFormat`, the formats of file-based volumes.
    public static let fileFormats = ["none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd",
                                     "ploop", "cow", "qcow", "qcow2", "qed", "vmdk"]
    /// `virStorageVolFormatDisk`, the formats of partitions.
    public static let diskVolumeFormats = ["none", "linux", "fat16", "fat32", "linux-swap", "linux-lvm", "linux-raid",
                                           "extended"]

    /// The volume formats and the default one; "none" is refused for file formats, as libvirt's
    /// `virStorageVolumeFormatFromString`.
    var volumeFormats: (names: [String], defaultIndex: Int, refuseNone: Bool)? {
        switch self {
        case .dir, .fs, .netfs, .rbd, .gluster, .vstorage: (Self.fileFormats, 1, true)
        case .disk: (Self.diskVolumeFormats, 0, false)
        default: nil
        }
    }

    /// `virStorageVolType` of the volumes the test driver gives this type (`testStorageVolumeTypeForPool`).
    public var volumeType: Int32 {
        switch self {
        case .dir, .fs, .netfs, .vstorage: 0
        case .sheepdog, .iscsiDirect, .gluster, .rbd: 3
        default: 1
        }
    }

    /// Whether the pool has a `<target>` (not for network pools).
    var hasTarget: Bool { ![.rbd, .sheepdog, .gluster, .iscsiDirect].contains(self) }
}

/// `virStoragePerms`: a target's `<permissions>`; nil fields are unset.
public struct StoragePermissions: Sendable, Hashable {
    public var mode: UInt32?
    public var owner: UInt32?
    public var group: UInt32?
    public var label: String?

    public init(mode: UInt32? = nil, owner: UInt32? = nil, group: UInt32? = nil, label: String? = nil) {
        self.mode = mode
        self.owner = owner
        self.group = group
        self.label = label
    }

    var isEmpty: Bool { mode == nil && owner == nil && group == nil && label == nil }

    /// libvirt's `virStorageDefParsePerms` on the `<permissions>` element (nil: all unset).
    static func parse(_ el: XMLElement?) throws(VirtError) -> StoragePermissions {
        guard let el else { return StoragePermissions() }
        var p = StoragePermissions()
        if let m = el.xpathString("mode") {
            guard let v = Int(m.trimmingSpaces, radix: 8), v >= 0, v & ~0o777 == 0 else {
                throw StorageErrors.xml("malformed octal mode")
            }
            p.mode = UInt32(v)
        }
        func id(_ name: String) throws(VirtError) -> UInt32? {
            guard let e = el.child(name) else { return nil }
            guard let v = Int64(e.text.trimmingSpaces), v == -1 || (v >= 0 && v <= Int64(UInt32.max)) else {
                throw StorageErrors.xml("malformed \(name) element")
            }
            // -1 (or its unsigned form) means unset, as libvirt parses it.
            if v == -1 || v == Int64(UInt32.max) { return nil }
            return UInt32(v)
        }
        p.owner = try id("owner")
        p.group = try id("group")
        p.label = el.xpathString("label")
        return p
    }

    func format(_ w: inout XMLWriter) {
        if isEmpty { return }
        w.container("permissions") { w in
            if let mode { w.text("mode", [], "0" + String(mode, radix: 8)) }
            if let owner { w.text("owner", [], String(Int32(bitPattern: owner))) }
            if let group { w.text("group", [], String(Int32(bitPattern: group))) }
            w.optionalText("label", label)
        }
    }
}

/// `<auth>` of a pool source (`virStorageAuthDef`).
public struct StorageAuth: Sendable, Hashable {
    /// "chap" or "ceph" (nil: none).
    public var type: String?
    public var username: String
    public var secretType: String?
    public var secretUUID: String?
    public var secretUsage: String?

    static func parse(_ el: XMLElement) throws(VirtError) -> StorageAuth {
        guard let user = el.attr("username") else { throw StorageErrors.xml("missing username for auth") }
        var type: String?
        if let t = el.attr("type") {
            guard ["none", "chap", "ceph"].contains(t) else { throw StorageErrors.xml("unknown auth type '\(t)'") }
            type = t == "none" ? nil : t
        }
        guard let secret = el.child("secret") else { throw StorageErrors.xml("Missing <secret> element in auth") }
        let uuid = secret.attr("uuid")
        let usage = secret.attr("usage")
        if let uuid {
            guard VirtUUID(string: uuid) != nil else { throw StorageErrors.xml("invalid secret uuid '\(uuid)'") }
        } else if usage == nil {
            throw StorageErrors.xml("missing uuid or usage attribute in secret")
        }
        return StorageAuth(type: type, username: user, secretType: secret.attr("type"),
                           secretUUID: uuid.flatMap { VirtUUID(string: $0)?.description },
                           secretUsage: uuid == nil ? usage : nil)
    }

    func format(_ w: inout XMLWriter) {
        w.container("auth", [("type", type), ("username", username)]) { w in
            if let secretUUID {
                w.empty("secret", [("type", secretType), ("uuid", secretUUID)])
            } else {
                w.empty("secret", [("type", secretType), ("usage", secretUsage)])
            }
        }
    }
}

extension XMLElement {
    /// libvirt's `virXPathString("string(./NAME)")`: the text of the first child NAME; nil when there is none or
    /// it is empty.
    func xpathString(_ name: String) -> String? {
        guard let t = child(name)?.text, !t.isEmpty else { return nil }
        return t
    }

    /// An attribute as `virXPathString("string(./@NAME)")` gives it: nil when missing or empty.
    func nonEmptyAttr(_ name: String) -> String? {
        guard let v = attr(name), !v.isEmpty else { return nil }
        return v
    }
}

/// libvirt's `virFileSanitizePath`: collapses repeated slashes and drops a trailing one; a leading "//" stays,
/// and URIs are left alone.
func sanitizePath(_ path: String) -> String {
    let chars = Array(path)
    let scheme = (0..<max(0, chars.count - 2)).first {
        chars[$0] == ":" && chars[$0 + 1] == "/" && chars[$0 + 2] == "/"
    }
    if let r = scheme,
       let slash = chars.firstIndex(of: "/"), slash > r {
        return path
    }
    var out: [Character] = []
    var i = 0
    if chars.count >= 3, chars[0] == "/", chars[1] == "/", chars[2] != "/" {
        out = ["/", "/"]
        i = 2
    } else if chars.count == 2, chars[0] == "/", chars[1] == "/" {
        return "//"
    }
    while i < chars.count {
        if chars[i] != "/" {
            out.append(chars[i])
            i += 1
            continue
        }
        while i < chars.count && chars[i] == "/" { i += 1 }
        if !out.isEmpty && i == chars.count { break }
        out.append("/")
    }
    return String(out)
}
