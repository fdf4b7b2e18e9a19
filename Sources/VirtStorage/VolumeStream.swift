import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The file end of `vol-upload` and `vol-download` (libvirt's fdstream on the volume's file): a download reads
/// from `offset` up to `length` bytes (0: to the end of the file); an upload writes from `offset`, refusing bytes
/// past `length` as libvirt does ("cannot write to stream: No space left on device"). `onFinish` runs after an
/// upload ended well (the driver refreshes the pool then, as libvirt's).
final class VolumeStream: ByteStream {
    private struct State {
        var fd: Int32
        var position: UInt64
        var done = 0  // bytes read or written so far
    }

    let path: String
    let upload: Bool
    let length: UInt64
    private let state: Mutex<State>
    private let finished: AsyncStream<Void>
    private let finishedCont: AsyncStream<Void>.Continuation
    private let onFinish: @Sendable () -> Void

    static let chunk = 256 * 1024

    init(path: String, upload: Bool, offset: UInt64, length: UInt64,
         onFinish: @escaping @Sendable () -> Void = {}) throws(VirtError) {
        self.path = path
        self.upload = upload
        self.length = length
        self.onFinish = onFinish
        let fd = open(path, (upload ? O_WRONLY : O_RDONLY) | O_CLOEXEC)
        guard fd >= 0 else {
            throw VirtError.systemError("Unable to open stream for '\(path)'", errno: errno, domain: .storage)
        }
        if offset > 0 && lseek(fd, off_t(offset), SEEK_SET) < 0 {
            let e = errno
            close(fd)
            throw VirtError.systemError("Unable to seek \(path) to \(offset)", errno: e, domain: .storage)
        }
        state = Mutex(State(fd: fd, position: offset))
        (finished, finishedCont) = AsyncStream<Void>.makeStream()
    }

    deinit {
        let fd = state.withLock { $0.fd }
        if fd >= 0 { close(fd) }
    }

    func read() async throws -> [UInt8]? {
        guard !upload else {
            // An upload sends nothing back: wait until it ends.
            for await _ in finished {}
            return nil
        }
        return try state.withLock { s throws(VirtError) -> [UInt8]? in
            guard s.fd >= 0 else { return nil }
            var want = Self.chunk
            if length > 0 {
                let left = length - UInt64(s.done)
                if left == 0 { return nil }
                want = Int(min(UInt64(want), left))
            }
            var buf = [UInt8](repeating: 0, count: want)
            while true {
                let n = buf.withUnsafeMutableBytes { Glibc.read(s.fd, $0.baseAddress, want) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw VirtError.systemError("cannot read from stream", errno: errno, domain: .streams)
                }
                if n == 0 { return nil }
                s.done += n
                s.position += UInt64(n)
                return Array(buf[0..<n])
            }
        }
    }

    func write(_ bytes: [UInt8]) async throws {
        guard upload else {
            throw VirtError(.rpc, domain: .streams, "An error occurred, but the cause is unknown")
        }
        try state.withLock { s throws(VirtError) in
            var count = bytes.count
            if length > 0 {
                let left = length - UInt64(s.done)
                if left == 0 { throw VirtError.systemError("cannot write to stream", errno: ENOSPC, domain: .streams) }
                count = Int(min(UInt64(count), left))
            }
            var off = 0
            while off < count {
                let n = bytes.withUnsafeBytes { Glibc.write(s.fd, $0.baseAddress.map { $0 + off }, count - off) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw VirtError.systemError("cannot write to stream", errno: errno, domain: .streams)
                }
                off += n
            }
            s.done += count
            s.position += UInt64(count)
        }
    }

    func finish() async throws {
        let fd = state.withLock { s -> Int32 in
            let fd = s.fd
            s.fd = -1
            return fd
        }
        if fd >= 0 {
            if upload { fsync(fd) }
            close(fd)
        }
        finishedCont.finish()
        if upload { onFinish() }
    }

    func abort() async {
        let fd = state.withLock { s -> Int32 in
            let fd = s.fd
            s.fd = -1
            return fd
        }
        if fd >= 0 { close(fd) }
        finishedCont.finish()
    }
}

extension FileStorageDriver {
    /// `VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM` (1) is not offered: sparse streams need hole packets.
    public func uploadVolume(_ vol: StorageVolRef, offset: UInt64, length: UInt64,
                             flags: UInt32) async throws -> any ByteStream {
        try Self.checkFlags(flags, "storageVolUpload")
        let (o, v) = try volumeAndPool(vol)
        guard let path = v.target.path else { throw StorageErrors.internalError("volume has no path") }
        let ref = o.ref
        return try VolumeStream(path: path, upload: true, offset: offset, length: length) { [weak self] in
            // As libvirt: the pool is refreshed once the upload completed, with a refresh event.
            guard let self else { return }
            Task { try? await self.refreshStoragePool(ref, flags: 0) }
        }
    }

    public func downloadVolume(_ vol: StorageVolRef, offset: UInt64, length: UInt64,
                               flags: UInt32) async throws -> any ByteStream {
        try Self.checkFlags(flags, "storageVolDownload")
        let (_, v) = try volumeAndPool(vol)
        guard let path = v.target.path else { throw StorageErrors.internalError("volume has no path") }
        return try VolumeStream(path: path, upload: false, offset: offset, length: length)
    }
}
