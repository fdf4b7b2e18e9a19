import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Where the DAC driver remembers a path's original owner while QEMU has it, with a reference count so that
/// several domains sharing one path (a read-only base image) give it back only when the last one stops.
///
/// The record lives in two extended attributes of the path itself, as libvirt keeps
/// `trusted.libvirt.security.dac` / `ref_dac`, but in our own namespace:
/// - `trusted.swiftvirt.security.dac`: the original owner, `"+uid:+gid"` (libvirt's format);
/// - `trusted.swiftvirt.security.ref_dac`: how many running domains use the path;
/// - `trusted.swiftvirt.security.timestamp_dac`: the host's boot time (`btime` of /proc/stat) when it was
///   written. A record from an earlier boot is stale (no QEMU of then still runs) and is dropped, as libvirt
///   does with its `timestamp_dac`.
///
/// On a filesystem without extended attributes (or without the privilege to write `trusted.*`), the record is
/// kept in this process's memory instead: restoring then works within one daemon's life; after a restart,
/// such a path has no record and is given to root:root, as libvirt does for paths it has no record of.
struct OwnerRecordStore: Sendable {
    static let ownerAttr = "trusted.swiftvirt.security.dac"
    static let refAttr = "trusted.swiftvirt.security.ref_dac"
    static let timestampAttr = "trusted.swiftvirt.security.timestamp_dac"

    /// The host's boot time, as /proc/stat gives it.
    static let bootTime: String? = {
        guard let text = LinuxSys.readFile("/proc/stat") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return String(line.dropFirst("btime ".count)).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }()

    struct Record: Sendable, Hashable {
        var uid: uid_t
        var gid: gid_t
        var refs: Int
    }

    /// Records of paths whose filesystem has no extended attributes.
    private static let memory = Mutex<[String: Record]>([:])
    /// Serializes read-modify-write of records within this process.
    static let lock = Mutex<Void>(())

    /// The record of `path`, nil when there is none.
    func read(_ path: String) -> Record? {
        if let ref = Self.getAttr(path, Self.refAttr), let refs = Int(ref) {
            if let stamp = Self.getAttr(path, Self.timestampAttr), let boot = Self.bootTime, stamp != boot {
                Self.removeAttrs(path)
                return nil
            }
            let owner = Self.getAttr(path, Self.ownerAttr).flatMap(Self.parseOwner)
            return Record(uid: owner?.0 ?? 0, gid: owner?.1 ?? 0, refs: refs)
        }
        return Self.memory.withLock { $0[path] }
    }

    /// Writes the record (in xattrs when possible, else in memory).
    func write(_ path: String, _ r: Record) {
        let okOwner = Self.setAttr(path, Self.ownerAttr, "+\(r.uid):+\(r.gid)")
        let okRef = okOwner && Self.setAttr(path, Self.refAttr, "\(r.refs)")
            && (Self.bootTime.map { Self.setAttr(path, Self.timestampAttr, $0) } ?? true)
        if okOwner && okRef {
            Self.memory.withLock { _ = $0.removeValue(forKey: path) }
        } else {
            Self.removeAttrs(path)
            Self.memory.withLock { $0[path] = r }
        }
    }

    /// Forgets the record.
    func remove(_ path: String) {
        Self.removeAttrs(path)
        Self.memory.withLock { _ = $0.removeValue(forKey: path) }
    }

    static func parseOwner(_ s: String) -> (uid_t, gid_t)? {
        let parts = s.split(separator: ":")
        guard parts.count == 2, let u = QEMUSecurityConfig.numeric(String(parts[0])),
              let g = QEMUSecurityConfig.numeric(String(parts[1])) else { return nil }
        return (u, g)
    }

    // glibc's xattr functions (sys/xattr.h is not part of the Glibc module), looked up once.
    private typealias GetFn = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?,
                                              Int) -> Int
    private typealias SetFn = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer?, Int,
                                              Int32) -> Int32
    private typealias RemoveFn = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>) -> Int32

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        dlsym(dlopen(nil, RTLD_NOW), name)
    }

    private static let getFn: GetFn? = symbol("getxattr").map { unsafeBitCast($0, to: GetFn.self) }
    private static let setFn: SetFn? = symbol("setxattr").map { unsafeBitCast($0, to: SetFn.self) }
    private static let removeFn: RemoveFn? = symbol("removexattr").map { unsafeBitCast($0, to: RemoveFn.self) }

    static func getAttr(_ path: String, _ name: String) -> String? {
        guard let getFn else { return nil }
        var buf = [UInt8](repeating: 0, count: 128)
        let n = buf.withUnsafeMutableBytes { getFn(path, name, $0.baseAddress, $0.count) }
        guard n >= 0 else { return nil }
        return String(decoding: buf[0..<n], as: UTF8.self)
    }

    static func setAttr(_ path: String, _ name: String, _ value: String) -> Bool {
        guard let setFn else { return false }
        let bytes = Array(value.utf8)
        return bytes.withUnsafeBytes { setFn(path, name, $0.baseAddress, $0.count, 0) } == 0
    }

    static func removeAttrs(_ path: String) {
        guard let removeFn else { return }
        _ = removeFn(path, ownerAttr)
        _ = removeFn(path, refAttr)
        _ = removeFn(path, timestampAttr)
    }
}
