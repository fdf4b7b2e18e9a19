#if canImport(Glibc)
import Glibc
#endif

/// Small file helpers shared by the drivers that keep their objects in a directory (secrets, storage pools).
public enum FileStore {
    /// The names in `dir` (no "." or ".."), in the directory's order; empty when it cannot be read.
    public static func list(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    /// The whole file, or nil when it cannot be read.
    public static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    /// Why ``atomicWrite(_:_:mode:)`` failed: the temp file could not be created, or written, synced or renamed.
    public enum WriteFailure: Error, Sendable {
        case create(tmp: String, errno: Int32)
        case write(errno: Int32)
    }

    /// Writes `path` through `path.new` (created with `mode`), fsync and rename; nil when it worked.
    public static func atomicWrite(_ path: String, _ bytes: [UInt8], mode: mode_t) -> WriteFailure? {
        let tmp = path + ".new"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { return .create(tmp: tmp, errno: errno) }
        var off = 0
        var ok = true
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress.map { $0 + off }, bytes.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                ok = false
                break
            }
            off += n
        }
        let e = errno
        if ok && fsync(fd) != 0 { ok = false }
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            let failure = WriteFailure.write(errno: ok ? errno : e)
            unlink(tmp)
            return failure
        }
        return nil
    }
}
