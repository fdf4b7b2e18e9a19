import VirtCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The test driver's save image, laid out as libvirt's: the magic `TestGuestMagic` with its NUL (15 bytes), the
/// XML length as a native 32-bit integer, then the domain XML (live, with secure data), without a terminator.
enum SaveImage {
    static let magic: [UInt8] = Array("TestGuestMagic".utf8) + [0]
    /// libvirt refuses metadata longer than this when reading an image.
    static let maxXMLLength = 8192

    /// Writes an image at `path` (mode 0600). On failure the partial file is removed.
    static func write(path: String, xml: String, domainName: String) throws(VirtError) {
        let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0o600)
        if fd < 0 {
            throw failure("saving domain '\(domainName)' to '\(path)': open failed", errno)
        }
        var bytes = magic
        let body = Array(xml.utf8)
        withUnsafeBytes(of: Int32(body.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: body)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                Glibc.write(fd, buf.baseAddress.map { $0 + written }, bytes.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                close(fd)
                unlink(path)
                throw failure("saving domain '\(domainName)' to '\(path)': write failed", e)
            }
            written += n
        }
        if close(fd) < 0 {
            let e = errno
            unlink(path)
            throw failure("saving domain '\(domainName)' to '\(path)': write failed", e)
        }
    }

    /// Reads the XML stored in the image at `path`, with libvirt's error messages.
    static func read(path: String) throws(VirtError) -> String {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            throw failure("cannot read domain image '\(path)'", errno)
        }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: magic.count)
        guard readFully(fd, &header) == header.count else {
            throw failure("incomplete save header in '\(path)'", errno)
        }
        guard header == magic else {
            throw VirtError(.internalError, domain: .test, "internal error: mismatched header magic")
        }
        var lenBytes = [UInt8](repeating: 0, count: 4)
        guard readFully(fd, &lenBytes) == 4 else {
            throw failure("failed to read metadata length in '\(path)'", errno)
        }
        let len = Int(Int32(littleEndian: lenBytes.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }))
        guard len >= 1, len <= maxXMLLength else {
            throw VirtError(.internalError, domain: .test, "internal error: length of metadata out of range")
        }
        var body = [UInt8](repeating: 0, count: len)
        guard readFully(fd, &body) == len else {
            throw failure("incomplete metadata in '\(path)'", errno)
        }
        return String(decoding: body, as: UTF8.self)
    }

    private static func readFully(_ fd: Int32, _ buf: inout [UInt8]) -> Int {
        var got = 0
        let count = buf.count
        while got < count {
            let n = buf.withUnsafeMutableBytes { b in
                Glibc.read(fd, b.baseAddress.map { $0 + got }, count - got)
            }
            if n < 0 {
                if errno == EINTR { continue }
                return -1
            }
            if n == 0 { break }
            got += n
        }
        return got
    }

    /// libvirt's `virReportSystemError`: "MESSAGE: strerror" (code SYSTEM_ERROR), or the bare message when errno
    /// is 0 (a short read).
    static func failure(_ message: String, _ err: Int32) -> VirtError {
        if err == 0 {
            return VirtError(.systemError, domain: .test, message)
        }
        return VirtError.systemError(message, errno: err, domain: .test)
    }

    /// The domain XML of the image at `path` (testDomainSaveImageGetXMLDesc): parsed as a definition and
    /// formatted with secure data.
    static func domainXML(path: String, flags: UInt32) throws(VirtError) -> String {
        try TestDriverCore.checkFlags(flags, allowed: 1, "testDomainSaveImageGetXMLDesc")
        let def = try TestDomainDefaults.parse(try read(path: path))
        return def.formatXML(DomainFormatOptions(secure: true, inactive: false))
    }

    /// Replaces the domain XML of the image at `path` (testDomainSaveImageDefineXML). The running/paused
    /// flags are accepted; the test driver's image keeps no such state.
    static func defineXML(path: String, xml: String, flags: UInt32) throws(VirtError) {
        try TestDriverCore.checkFlags(flags, allowed: 2 | 4, "testDomainSaveImageDefineXML")
        _ = try TestDomainDefaults.parse(try read(path: path))
        let def = try TestDomainDefaults.parse(xml)
        try write(path: path, xml: def.formatXML(DomainFormatOptions(secure: true, inactive: false)), domainName: def.name)
    }
}
