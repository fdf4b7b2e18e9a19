import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Console and guest operations on a running domain (issue 11): libvirt's qemuDomainScreenshot and
/// qemuDomainSendKey.
extension QEMUDomainObject {
    /// libvirt's `qemuDomainScreenshot` (a query job): QMP `screendump` into a new file of the domain's private
    /// directory (given to QEMU's user), opened and removed, then streamed back (PNG, or PPM from a QEMU that writes no PNG).
    func screenshot(screen: UInt32) async throws(VirtError) -> (mime: String, stream: any ByteStream) {
        try await beginJob(.query, owner: "screenshot")
        defer { endJob() }
        let m = try requireRunning()
        let def = liveDefinition ?? definition
        if def.devices.videos.isEmpty {
            throw VirtError.operationInvalid("no screens to take screenshot from", domain: .qemu)
        }
        var videoAlias: String?
        if screen > 0 {
            var left = screen
            for video in def.devices.videos {
                let heads = video.heads ?? 1
                if left < heads {
                    videoAlias = video.info.alias
                    break
                }
                left -= heads
            }
            if videoAlias == nil { throw VirtError.operationInvalid("no such screen ID", domain: .qemu) }
        }
        let path = try Self.makeScreendumpFile(dir: paths.domainLibDir(id: id, name: name),
                                               owner: try? security.processCredentials())
        defer { unlink(path) }
        var args: [String: JSONValue] = ["filename": .string(path)]
        if let videoAlias {
            args["device"] = .string(videoAlias)
            args["head"] = .int(Int64(screen))
        }
        // PNG where QEMU writes it (7.1 and later, libvirt's QEMU_CAPS_SCREENSHOT_FORMAT_PNG), else PPM.
        var mime = "image/png"
        do {
            var png = args
            png["format"] = "png"
            try await m.execute("screendump", arguments: .object(png))
        } catch where error.message.contains("'format'") {
            mime = "image/x-portable-pixmap"
            try await m.execute("screendump", arguments: .object(args))
        }
        // Opened before the file is removed: the stream reads what QEMU wrote.
        let stream = try ReadFileStream(path: path)
        return (mime, stream)
    }

    /// `DIR/qemu.screendump.XXXXXX`, created empty with mode 0600 and given to QEMU's user.
    static func makeScreendumpFile(dir: String, owner: ProcessCredentials?) throws(VirtError) -> String {
        var template = Array((dir + "/qemu.screendump.XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { b -> Int32 in b.baseAddress.map { mkstemp($0) } ?? -1 }
        let path = String(cString: template)
        guard fd >= 0 else {
            throw VirtError.systemError("g_mkstemp(\"\(dir)/qemu.screendump.XXXXXX\") failed", errno: errno,
                                        domain: .qemu)
        }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        if let owner, fchown(fd, owner.uid, owner.gid) != 0 {
            let e = errno
            unlink(path)
            throw VirtError.systemError("unable to set ownership of '\(path)'", errno: e, domain: .security)
        }
        return path
    }

    /// libvirt's `qemuDomainSendKey` (a modify job) after the keys became QEMU's numbers: QMP `send-key`.
    func sendKey(qnums: [UInt32], holdtime: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "sendKey")
        defer { endJob() }
        let m = try requireRunning()
        var args: [String: JSONValue] = [
            "keys": .array(qnums.map { .object(["type": "number", "data": .int(Int64($0))]) }),
        ]
        if holdtime > 0 { args["hold-time"] = .int(Int64(holdtime)) }
        try await m.execute("send-key", arguments: .object(args))
    }
}

/// A file read from start to end as a stream (the screenshot); the descriptor stays open after the file is
/// removed.
final class ReadFileStream: ByteStream {
    private let fd: Int32
    static let chunk = 256 * 1024

    init(path: String) throws(VirtError) {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw VirtError(.operationFailed, domain: .qemu, "operation failed: unable to open stream",
                            str1: "unable to open stream")
        }
    }

    deinit { close(fd) }

    func read() async throws -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: Self.chunk)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, Self.chunk) }
            if n < 0 {
                if errno == EINTR { continue }
                throw VirtError.systemError("cannot read from stream", errno: errno, domain: .streams)
            }
            if n == 0 { return nil }
            return Array(buf[0..<n])
        }
    }

    func write(_ bytes: [UInt8]) async throws {
        throw VirtError(.rpc, domain: .streams, "stream is not open for writing")
    }

    func finish() async throws {}
    func abort() async {}
}
