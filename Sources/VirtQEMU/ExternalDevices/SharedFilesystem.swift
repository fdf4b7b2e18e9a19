import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Whether a path lives on storage that another host sees too (libvirt's `virFileIsSharedFS`): the swtpm
/// state on shared storage is not copied by migration, is not relabelled on the destination and is not
/// removed from the source.
public enum SharedFilesystem {
    /// A shared filesystem kind libvirt knows, with its `statfs` magic number where it has one.
    public enum Kind: String, Sendable, CaseIterable {
        case nfs, gfs2, ocfs2, afs, smb, cifs, ceph, gpfs, quobyte, acfs, glusterfs, beegfs
    }

    /// `statfs` `f_type` values of the shared filesystems (Linux's magic numbers; ACFS and BeeGFS as libvirt
    /// defines them).
    public static let magicNumbers: [Int: Kind] = [
        0x6969: .nfs,
        0x0116_1970: .gfs2,
        0x7461_636f: .ocfs2,
        0x6B41_4653: .afs,
        0x517B: .smb,
        0xFF53_4D42: .cifs,
        0x00C3_6400: .ceph,
        0x4750_4653: .gpfs,
        0x6163_6673: .acfs,
        0x1983_0326: .beegfs,
    ]

    /// `statfs` `f_type` of every FUSE filesystem: the mount table's type (`fuse.SUBTYPE`) then tells.
    public static let fuseMagic = 0x6573_5546

    /// FUSE mount types that are shared filesystems.
    public static let fuseTypes: [String: Kind] = ["fuse.glusterfs": .glusterfs, "fuse.quobyte": .quobyte]

    /// True when `path` is under one of `configured` (qemu.conf's `shared_filesystems`, libvirt 10.3), or is on
    /// a filesystem libvirt treats as shared (NFS, CIFS/SMB, GlusterFS, Ceph, GPFS, OCFS2, GFS2, AFS, BeeGFS,
    /// Quobyte, ACFS; FUSE mounts of type `fuse.glusterfs` or `fuse.quobyte`). A path that does not exist yet
    /// is judged by its deepest existing ancestor. False when nothing can be determined.
    public static func isShared(path: String, configured: [String] = []) -> Bool {
        kind(of: path, configured: configured) != nil || isConfigured(path, configured)
    }

    /// The shared filesystem kind `path` is on, or nil (local, or unknown). `configured` entries are not a
    /// kind; see ``isShared(path:configured:)``.
    public static func kind(of path: String, configured: [String] = []) -> Kind? {
        guard let existing = deepestExistingAncestor(path) else { return nil }
        guard let fType = filesystemType(existing) else { return nil }
        let magic = Int(UInt32(truncatingIfNeeded: fType))
        if magic == fuseMagic {
            guard let canonical = canonicalPath(path), let mounts = LinuxSys.readFile("/proc/self/mountinfo") else {
                return nil
            }
            return fuseKind(canonicalPath: canonical, mounts: MountInfo.parse(mounts))
        }
        return magicNumbers[magic]
    }

    private typealias StatfsFn = @convention(c) (UnsafePointer<CChar>, UnsafeMutableRawPointer) -> Int32

    /// `statfs(path).f_type`. Swift's Glibc module does not import `sys/vfs.h`, so the function is looked up
    /// at run time; `f_type` is the first field (a C `long`) of Linux's `struct statfs` on every architecture,
    /// which is 120 bytes on 64-bit ones (the buffer is larger).
    static func filesystemType(_ path: String) -> Int? {
        guard let sym = dlsym(dlopen(nil, RTLD_NOW), "statfs") else { return nil }
        let fn = unsafeBitCast(sym, to: StatfsFn.self)
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
        defer { buf.deallocate() }
        buf.initializeMemory(as: UInt8.self, repeating: 0, count: 512)
        guard fn(path, buf) == 0 else { return nil }
        return buf.load(as: Int.self)
    }

    /// The kind of a FUSE-mounted path: the type of the mount with the longest mount point containing it.
    static func fuseKind(canonicalPath: String, mounts: [MountInfo]) -> Kind? {
        var best: MountInfo?
        for m in mounts where isUnder(canonicalPath, m.mountPoint) {
            if best == nil || m.mountPoint.count >= (best?.mountPoint.count ?? 0) { best = m }
        }
        guard let best else { return nil }
        return fuseTypes[best.fsType]
    }

    /// True when the canonical `path` is one of the `configured` directories or inside one.
    static func isConfigured(_ path: String, _ configured: [String]) -> Bool {
        guard !configured.isEmpty, let canonical = canonicalPath(path) else { return false }
        return configured.contains { entry in
            guard let c = canonicalPath(entry) else { return false }
            return isUnder(canonical, c)
        }
    }

    /// True when `path` equals `dir` or lies below it (whole components only).
    static func isUnder(_ path: String, _ dir: String) -> Bool {
        if dir == "/" { return path.hasPrefix("/") }
        let d = dir.hasSuffix("/") ? String(dir.dropLast()) : dir
        return path == d || path.hasPrefix(d + "/")
    }

    /// `path` itself when it exists, else its nearest existing parent (an absolute path), or nil.
    static func deepestExistingAncestor(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return nil }
        var p = path
        while true {
            if access(p, F_OK) == 0 { return p }
            if p == "/" { return nil }
            guard let slash = p.lastIndex(of: "/") else { return nil }
            p = slash == p.startIndex ? "/" : String(p[..<slash])
        }
    }

    /// `path` with symbolic links, `.` and `..` resolved in its existing part and the missing rest appended.
    static func canonicalPath(_ path: String) -> String? {
        guard let existing = deepestExistingAncestor(path) else { return nil }
        guard let resolved = realpath(existing, nil) else { return nil }
        defer { free(resolved) }
        let base = String(cString: resolved)
        let rest = path.dropFirst(existing.count).split(separator: "/").filter { $0 != "." }
        var parts = base.split(separator: "/").map(String.init)
        for r in rest {
            if r == ".." { if !parts.isEmpty { parts.removeLast() } } else { parts.append(String(r)) }
        }
        return "/" + parts.joined(separator: "/")
    }
}

/// One line of `/proc/self/mountinfo`: where a filesystem is mounted and its type.
public struct MountInfo: Sendable, Hashable {
    /// The mount point (octal escapes such as `\040` decoded).
    public var mountPoint: String
    /// The filesystem type, e.g. `ext4`, `nfs4`, `fuse.glusterfs`.
    public var fsType: String
    /// The mount source, e.g. `/dev/vda` or `server:/export`.
    public var source: String

    /// A mount table entry.
    public init(mountPoint: String, fsType: String, source: String) {
        self.mountPoint = mountPoint
        self.fsType = fsType
        self.source = source
    }

    /// Parses mountinfo text: `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTS`.
    public static func parse(_ text: String) -> [MountInfo] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 7, let dash = f.firstIndex(of: "-"), dash >= 6, dash + 2 < f.count else { return nil }
            return MountInfo(mountPoint: unescape(f[4]), fsType: unescape(f[dash + 1]), source: unescape(f[dash + 2]))
        }
    }

    /// Decodes the kernel's `\ooo` escapes (space, tab, newline, backslash).
    static func unescape(_ s: Substring) -> String {
        guard s.contains("\\") else { return String(s) }
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 3 < b.count {
                let digits = b[(i + 1)...(i + 3)]
                if digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) {
                    let v = digits.reduce(0) { $0 * 8 + Int($1 - UInt8(ascii: "0")) }
                    out.append(UInt8(truncatingIfNeeded: v))
                    i += 4
                    continue
                }
            }
            out.append(b[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
