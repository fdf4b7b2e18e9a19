import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// libvirt's QEMU save image: a 92-byte header, the domain XML and a cookie (NUL-terminated, zero
/// padded), then QEMU's migration stream. Files written here restore in libvirt and libvirt's restore here,
/// on the same QEMU.
///
/// Header (host byte order): magic (16 bytes, no NUL), version (2), data length (XML + cookie + padding),
/// was-running (1: resume after restore), compression (0: raw), cookie offset (XML length with its NUL),
/// then 14 unused words. The magic is `LibvirtQemudPart` while QEMU writes the stream and becomes
/// `LibvirtQemudSave` once it is complete.
public struct QEMUSaveImage: Sendable, Equatable {
    public static let headerSize = 92
    public static let finalMagic = Array("LibvirtQemudSave".utf8)
    public static let partialMagic = Array("LibvirtQemudPart".utf8)
    public static let version: UInt32 = 2
    /// Room left after the XML and cookie of a new image, so that `save-image-define` can grow the XML.
    public static let slack = 65536

    public var xml: String
    public var cookie: String
    public var wasRunning: Bool
    /// The compression format (0 raw, 1 gzip, 2 bzip2, 3 xz, 4 lzop); only raw is written here.
    public var compressed: UInt32 = 0
    /// The size of the data area (XML, cookie, padding); the stream starts at `headerSize + dataLength`.
    public var dataLength: Int

    /// A new image's data: the XML and cookie with libvirt's 64 KiB of slack.
    public init(xml: String, cookie: String, wasRunning: Bool) {
        self.xml = xml
        self.cookie = cookie
        self.wasRunning = wasRunning
        dataLength = xml.utf8.count + 1 + cookie.utf8.count + 1 + Self.slack
    }

    init(xml: String, cookie: String, wasRunning: Bool, compressed: UInt32, dataLength: Int) {
        self.xml = xml
        self.cookie = cookie
        self.wasRunning = wasRunning
        self.compressed = compressed
        self.dataLength = dataLength
    }

    /// The offset of QEMU's stream in the file.
    public var streamOffset: Int { Self.headerSize + dataLength }

    /// The header and data area as written to the file (with the partial or the final magic).
    public func encoded(final: Bool) throws(VirtError) -> [UInt8] {
        let x = Array(xml.utf8) + [0]
        let c = Array(cookie.utf8) + [0]
        guard x.count + c.count <= dataLength else {
            throw VirtError.operationFailed("new xml too large to fit in file", domain: .qemu)
        }
        var out = final ? Self.finalMagic : Self.partialMagic
        for v in [Self.version, UInt32(dataLength), wasRunning ? 1 : 0, compressed, UInt32(x.count)] {
            withUnsafeBytes(of: v) { out.append(contentsOf: $0) }
        }
        out.append(contentsOf: [UInt8](repeating: 0, count: 14 * 4))
        out.append(contentsOf: x)
        out.append(contentsOf: c)
        out.append(contentsOf: [UInt8](repeating: 0, count: dataLength - x.count - c.count))
        return out
    }

    /// Reads the header and data area of the image open on `fd` (at offset 0), leaving the descriptor at
    /// the start of QEMU's stream. Errors are libvirt's (`qemuSaveImageOpen`).
    public static func read(fd: Int32) throws(VirtError) -> QEMUSaveImage {
        var header = [UInt8](repeating: 0, count: headerSize)
        guard readFully(fd, &header) else {
            throw VirtError.operationFailed("failed to read qemu header", domain: .qemu)
        }
        let magic = Array(header[0..<16])
        if magic == partialMagic {
            throw VirtError.operationFailed("save image is incomplete", domain: .qemu)
        }
        guard magic == finalMagic else {
            throw VirtError.operationFailed("image magic is incorrect", domain: .qemu)
        }
        func word(_ i: Int) -> UInt32 {
            header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16 + 4 * i, as: UInt32.self) }
        }
        var fields = (0..<5).map(word)
        if fields[0] > version {
            fields = fields.map(\.byteSwapped)  // an image written on a host of the other byte order
            if fields[0] > version {
                throw VirtError.operationFailed("image version is not supported (\(fields[0]) > \(version))",
                                                domain: .qemu)
            }
        }
        let dataLen = Int(fields[1])
        guard dataLen > 0 else {
            throw VirtError.operationFailed("invalid header data length: \(Int32(bitPattern: fields[1]))",
                                            domain: .qemu)
        }
        // A data length past the end of the file is a short read, found before anything is allocated for it
        // (a corrupt header must not make us allocate gigabytes).
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, headerSize + dataLen > Int(st.st_size) {
            throw VirtError.operationFailed("failed to read domain XML", domain: .qemu)
        }
        let cookieOffset = Int(fields[4])
        let xmlLen = cookieOffset > 0 && cookieOffset <= dataLen ? cookieOffset : dataLen
        var xmlBytes = [UInt8](repeating: 0, count: xmlLen)
        guard readFully(fd, &xmlBytes) else {
            throw VirtError.operationFailed("failed to read domain XML", domain: .qemu)
        }
        var cookieBytes = [UInt8](repeating: 0, count: dataLen - xmlLen)
        guard readFully(fd, &cookieBytes) else {
            throw VirtError.operationFailed("failed to read cookie", domain: .qemu)
        }
        func text(_ b: [UInt8]) -> String { String(decoding: b.prefix { $0 != 0 }, as: UTF8.self) }
        return QEMUSaveImage(xml: text(xmlBytes), cookie: text(cookieBytes), wasRunning: fields[2] != 0,
                             compressed: fields[3], dataLength: dataLen)
    }

    /// Reads the image at `path` (header and data only).
    public static func read(path: String) throws(VirtError) -> QEMUSaveImage {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw VirtError.systemError("cannot open file '\(path)'", errno: errno, domain: .qemu)
        }
        defer { close(fd) }
        return try read(fd: fd)
    }

    /// Rewrites the header and data area of the image at `path` in place (the stream is untouched):
    /// `save-image-define` and the final magic once the stream is complete.
    public func rewrite(path: String, final: Bool = true) throws(VirtError) {
        let bytes = try encoded(final: final)
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw VirtError.systemError("cannot open file '\(path)'", errno: errno, domain: .qemu)
        }
        defer { close(fd) }
        let ok = bytes.withUnsafeBytes { p -> Bool in
            var done = 0
            while done < p.count {
                let n = pwrite(fd, p.baseAddress.map { $0 + done }, p.count - done, off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                done += n
            }
            return true
        }
        guard ok, fsync(fd) == 0 else {
            throw VirtError.systemError("failed to write header to domain save file '\(path)'", errno: errno,
                                        domain: .qemu)
        }
    }

    /// The cookie libvirt 9.x writes when it has no CPU or slirp data to record.
    public static let emptyCookie = "<cookie>\n</cookie>\n"

    private static func readFully(_ fd: Int32, _ buf: inout [UInt8]) -> Bool {
        let count = buf.count
        return buf.withUnsafeMutableBytes { p -> Bool in
            var done = 0
            while done < count {
                let n = Glibc.read(fd, p.baseAddress.map { $0 + done }, count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                if n == 0 { return false }
                done += n
            }
            return true
        }
    }
}
