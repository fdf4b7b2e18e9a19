#if canImport(Glibc)
import Glibc
#endif
import Foundation
import VirtCore

/// Thin wrappers over Linux system calls that Swift's Glibc module does not import (variadic or GNU-only
/// functions, looked up with `dlsym`), and small socket helpers.
enum LinuxSys {
    /// Runs blocking `work` (I/O that waits for the disk, such as an fsync) on a dispatch thread rather than on
    /// the cooperative pool, so that the caller can await something else meanwhile.
    static func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in
            DispatchQueue.global(qos: .userInitiated).async { c.resume(returning: work()) }
        }
    }

    private typealias PrctlFn = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    private typealias PidfdOpenFn = @convention(c) (pid_t, UInt32) -> Int32

    private static let prSetChildSubreaper: Int32 = 36

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        let handle = dlopen(nil, RTLD_NOW)
        return dlsym(handle, name)
    }

    /// Makes the calling process a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER, 1)`).
    static func setChildSubreaper() throws(VirtError) {
        guard let p = symbol("prctl") else { throw VirtError(.systemError, "prctl is unavailable") }
        let fn = unsafeBitCast(p, to: PrctlFn.self)
        if fn(prSetChildSubreaper, 1, 0, 0, 0) != 0 {
            throw VirtError.lastSystemError("cannot set PR_SET_CHILD_SUBREAPER")
        }
    }

    /// `pidfd_open(pid, 0)`; -1 with errno on failure.
    static func pidfdOpen(_ pid: pid_t) -> Int32 {
        guard let p = symbol("pidfd_open") else {
            errno = ENOSYS
            return -1
        }
        return unsafeBitCast(p, to: PidfdOpenFn.self)(pid, 0)
    }

    static func withSockaddrUn<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) throws(VirtError)
        -> T {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else {
            throw VirtError(.internalError, "internal error: UNIX socket path '\(path)' too long")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// A listening unix socket bound at `path` (an old socket file there is removed first).
    static func listenUnix(_ path: String) throws(VirtError) -> Int32 {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw VirtError.lastSystemError("cannot create socket") }
        let rc = try withSockaddrUn(path) { bind(fd, $0, $1) }
        if rc != 0 {
            let e = VirtError.lastSystemError("cannot bind socket to '\(path)'")
            close(fd)
            throw e
        }
        if listen(fd, 8) != 0 {
            let e = VirtError.lastSystemError("cannot listen on '\(path)'")
            close(fd)
            throw e
        }
        return fd
    }

    /// A client unix socket connected to `path`.
    static func connectUnix(_ path: String) throws(VirtError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw VirtError.lastSystemError("cannot create socket") }
        let rc = try withSockaddrUn(path) { connect(fd, $0, $1) }
        if rc != 0 {
            let e = VirtError.lastSystemError("failed to connect to monitor socket '\(path)'")
            close(fd)
            throw e
        }
        return fd
    }

    /// Whether a stream socket bound at `path` is listening, read from /proc/net/unix (flag __SO_ACCEPTCON),
    /// without connecting to it: a peer such as swtpm with `--terminate` may end when a probe connection closes,
    /// and the socket file exists between bind() and listen().
    static func isListeningUnix(_ path: String) -> Bool {
        // Read as bytes and decoded leniently: abstract socket names may hold any byte (a strict UTF-8 read of
        // the whole table fails as soon as one does). Without the table, the socket file's existence must do.
        guard let table = readFile("/proc/net/unix") else { return access(path, F_OK) == 0 }
        for line in table.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 8, f[7] == path, let flags = UInt32(f[3], radix: 16) else { continue }
            if flags & 0x10000 != 0 { return true }
        }
        return false
    }

    /// Writes all of `bytes`, retrying on EINTR and short writes.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                send(fd, raw.baseAddress.map { $0 + off }, bytes.count - off, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            off += n
        }
        return true
    }

    /// Writes `contents` to `path` atomically: a temporary file in the same directory, fsync, rename.
    ///
    /// `durable` false skips the fsync: for runtime state (status files) that describes processes which do
    /// not outlive the host anyway. The rename still makes every reader, and a daemon killed at any moment,
    /// see the old file or the new one, never a torn one. The old file is not freed by the rename but kept as a
    /// hidden hard link that ``retire(_:)``'s reaper unlinks later (see there why).
    static func writeFileAtomically(_ path: String, _ contents: String, mode: mode_t = 0o600,
                                    durable: Bool = true) throws(VirtError) {
        let tmp = path + ".new"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw VirtError.lastSystemError("cannot create '\(tmp)'") }
        let ok = writeAll(fdFile: fd, Array(contents.utf8)) && (!durable || fsync(fd) == 0)
        close(fd)
        guard ok else {
            unlink(tmp)
            throw VirtError.lastSystemError("cannot write '\(tmp)'")
        }
        // A non-durable file replaced soon after it was written still has its data under writeback; freeing it
        // in the rename would wait for that I/O. A second link keeps it alive past the rename.
        var grave = durable ? nil : graveName(path)
        if let g = grave, link(path, g) != 0 { grave = nil }
        if rename(tmp, path) != 0 {
            let e = VirtError.lastSystemError("cannot rename '\(tmp)' to '\(path)'")
            unlink(tmp)
            if let grave { unlink(grave) }
            throw e
        }
        if let grave { Reaper.shared.unlink(grave) }
    }

    /// Removes `path` from its directory at once and frees it later, off the caller's path: the name is
    /// renamed to a hidden one in the same directory (no data is touched), which a background reaper unlinks.
    ///
    /// Why: on ext4 (its default `auto_da_alloc`), replacing a file by rename starts writeback of the new file,
    /// and freeing a file whose pages are under writeback waits for that I/O: 4 ms per status file on this
    /// kind of disk, several times in every save, start and stop, where the run directory is not a tmpfs.
    /// A daemon killed before the reaper ran leaves hidden `.NAME.gone-N` files, swept by ``sweepGraves(in:)``.
    static func retire(_ path: String) {
        let grave = graveName(path)
        if rename(path, grave) == 0 {
            Reaper.shared.unlink(grave)
        } else if errno != ENOENT {
            unlink(path)
        }
    }

    /// Removes what ``retire(_:)`` and ``writeFileAtomically(_:_:mode:durable:)`` left in `dir` when the daemon
    /// ended before its reaper did.
    static func sweepGraves(in dir: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        where name.hasPrefix(".") && name.contains(".gone-") {
            unlink(dir + "/" + name)
        }
    }

    private static func graveName(_ path: String) -> String {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        return "\(dir)/.\(base).gone-\(Reaper.shared.nextNumber())"
    }

    /// Unlinks retired files on a background queue, in order.
    final class Reaper: @unchecked Sendable {
        static let shared = Reaper()
        private let queue = DispatchQueue(label: "swiftvirt.reaper", qos: .utility)
        private let lock = NSLock()
        private var counter: UInt64 = 0

        /// A number unique in this process (with the pid: in this run directory).
        func nextNumber() -> String {
            lock.lock()
            defer { lock.unlock() }
            counter += 1
            return "\(getpid())-\(counter)"
        }

        func unlink(_ path: String) {
            queue.async { _ = Glibc.unlink(path) }
        }

        /// Waits until every unlink asked for so far is done (tests).
        func drain() {
            queue.sync {}
        }
    }

    static func writeAll(fdFile fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress.map { $0 + off }, bytes.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            off += n
        }
        return true
    }

    /// The whole contents of a file, or nil.
    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Creates `path` and its parents (mode 0755 unless given).
    static func mkdirs(_ path: String, mode: mode_t = 0o755) throws(VirtError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw VirtError.lastSystemError("cannot create directory '\(current)'")
            }
        }
    }
}

extension VirtError {
    /// A system error carrying `strerror(errno)`, as libvirt's `virReportSystemError`.
    static func lastSystemError(_ what: String, domain: ErrorDomain = .qemu) -> VirtError {
        .systemError(what, errno: Glibc.errno, domain: domain)
    }
}
