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
    /// A download with VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM: holes are reported, not read.
    let sparse: Bool
    private let state: Mutex<State>
    private let finished: AsyncStream<Void>
    private let finishedCont: AsyncStream<Void>.Continuation
    private let onFinish: @Sendable () -> Void

    static let chunk = 256 * 1024
    /// Linux's lseek whences (GNU extensions the Glibc module does not export).
    static let seekData: Int32 = 3
    static let seekHole: Int32 = 4

    init(path: String, upload: Bool, offset: UInt64, length: UInt64, sparse: Bool = false,
         onFinish: @escaping @Sendable () -> Void = {}) throws(VirtError) {
        self.path = path
        self.upload = upload
        self.sparse = sparse && !upload
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
        return try readChunk(max: Self.chunk)
    }

    private func readChunk(max: Int) throws(VirtError) -> [UInt8]? {
        try state.withLock { s throws(VirtError) -> [UInt8]? in
            guard s.fd >= 0 else { return nil }
            var want = max
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

    /// Data up to the next hole, or the hole up to the next data (SEEK_DATA/SEEK_HOLE, as libvirt's
    /// `virFileInData`); a hole that runs to the end of the file is reported as one too.
    func readSparse() async throws -> StreamChunk? {
        let hole = try state.withLock { s throws(VirtError) -> UInt64? in
            guard s.fd >= 0 else { return nil }
            let pos = off_t(s.position)
            var st = stat()
            guard fstat(s.fd, &st) == 0, pos < st.st_size else { return nil }
            let data = lseek(s.fd, pos, Self.seekData)
            let dataStart: off_t = data < 0 ? (errno == ENXIO ? st.st_size : pos) : data
            guard dataStart > pos else {
                _ = lseek(s.fd, pos, SEEK_SET)
                return nil
            }
            var len = UInt64(dataStart - pos)
            if length > 0 { len = min(len, length - UInt64(s.done)) }
            guard len > 0 else { return nil }
            s.position += len
            s.done += Int(len)
            _ = lseek(s.fd, off_t(s.position), SEEK_SET)
            return len
        }
        if let hole { return .hole(hole) }
        // In data: read no further than the next hole.
        let limit = state.withLock { s -> Int in
            guard s.fd >= 0 else { return Self.chunk }
            let h = lseek(s.fd, off_t(s.position), Self.seekHole)
            _ = lseek(s.fd, off_t(s.position), SEEK_SET)
            return h > off_t(s.position) ? Int(min(off_t(Self.chunk), h - off_t(s.position))) : Self.chunk
        }
        return try readChunk(max: limit).map { .data($0) }
    }

    /// A hole of a sparse upload: the file position moves on, and the file is extended when the hole reaches past
    /// its end, so that the zeros read back.
    func writeHole(_ holeLength: UInt64) async throws {
        guard upload else { throw VirtError(.rpc, domain: .streams, "An error occurred, but the cause is unknown") }
        try state.withLock { s throws(VirtError) in
            var len = holeLength
            if length > 0 {
                let left = length - UInt64(s.done)
                if left == 0 { throw VirtError.systemError("cannot write to stream", errno: ENOSPC, domain: .streams) }
                len = min(len, left)
            }
            let end = lseek(s.fd, off_t(len), SEEK_CUR)
            guard end >= 0 else {
                throw VirtError.systemError("unable to seek", errno: errno, domain: .streams)
            }
            var st = stat()
            if fstat(s.fd, &st) == 0, st.st_size < end, ftruncate(s.fd, end) != 0 {
                throw VirtError.systemError("unable to truncate", errno: errno, domain: .streams)
            }
            s.done += Int(len)
            s.position += len
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
    public func uploadVolume(_ vol: StorageVolRef, offset: UInt64, length: UInt64,
                             flags: UInt32) async throws -> any ByteStream {
        // VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM 1: holes come as STREAM_HOLE.
        try Self.checkFlags(flags, allowed: 1, "storageVolUpload")
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
        // VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM 1: holes go out as STREAM_HOLE.
        try Self.checkFlags(flags, allowed: 1, "storageVolDownload")
        let (_, v) = try volumeAndPool(vol)
        guard let path = v.target.path else { throw StorageErrors.internalError("volume has no path") }
        return try VolumeStream(path: path, upload: false, offset: offset, length: length, sparse: flags & 1 != 0)
    }
}
