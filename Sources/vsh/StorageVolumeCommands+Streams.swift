import Virt

#if canImport(Glibc)
import Glibc
#endif

/// `vol-upload` and `vol-download` (virsh-volume.c): a local file sent to or filled from a volume stream.
extension StorageVolumeCommands {
    /// `vshCommandOptULongLong` ("offset") and `vshCommandOptULongLongWrap` ("length").
    @MainActor
    static func offsetAndLength(_ shell: Shell, _ cmd: ParsedCommand) -> (UInt64, UInt64)? {
        var out: [UInt64] = [0, 0]
        for (i, name) in ["offset", "length"].enumerated() {
            guard let text = cmd.value(name) else { continue }
            let v = i == 0 ? Format.parseUInt64(text) : Format.parseUInt64Wrapping(text)
            guard let v else {
                shell.error("Numeric value '\(text)' for <\(name)> option is malformed or out of range")
                return nil
            }
            out[i] = v
        }
        return (out[0], out[1])
    }

    static let upload = CommandDefinition(
        "vol-upload", summary: "upload file contents to a volume",
        description: "Upload file contents to a volume",
        options: [.data("vol", "vol name, key or path"), .file("file"), poolOption,
                  .string("offset", "volume offset to upload to", requiresName: true),
                  .string("length", "amount of data to upload", requiresName: true),
                  .flag("sparse", "preserve sparseness of volume")]
    ) { shell, cmd in
        guard let (offset, length) = offsetAndLength(shell, cmd) else { return false }
        guard let vol = await lookup(shell, cmd) else { return false }
        let name = cmd.value("vol") ?? vol.name
        guard let file = StoragePoolCommands.requiredString(shell, cmd, "file") else { return false }
        if cmd.has("sparse") {
            shell.error("sparse streams are not supported by vsh yet")
            return false
        }
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            shell.error("cannot read \(file)")
            return false
        }
        defer { close(fd) }
        guard let stream = await shell.call({ try await vol.upload(offset: offset, length: length) }) else {
            shell.error("cannot upload to volume \(name)")
            return false
        }
        var buf = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                await stream.abort()
                shell.error("cannot send data to volume \(name)")
                return false
            }
            if n == 0 { break }
            let chunk = Array(buf[0..<n])
            guard await shell.call({ try await stream.write(chunk) }) != nil else {
                await stream.abort()
                shell.error("cannot close volume \(name)")
                return false
            }
        }
        guard await shell.call({ try await stream.finishConfirmed() }) != nil else {
            shell.error("cannot close volume \(name)")
            return false
        }
        return true
    }

    static let download = CommandDefinition(
        "vol-download", summary: "download volume contents to a file",
        description: "Download volume contents to a file.",
        options: [.data("vol", "vol name, key or path"), .file("file"), poolOption,
                  .string("offset", "volume offset to download from", requiresName: true),
                  .string("length", "amount of data to download", requiresName: true),
                  .flag("sparse", "preserve sparseness of volume")]
    ) { shell, cmd in
        guard let (offset, length) = offsetAndLength(shell, cmd) else { return false }
        guard let vol = await lookup(shell, cmd) else { return false }
        let name = cmd.value("vol") ?? vol.name
        guard let file = StoragePoolCommands.requiredString(shell, cmd, "file") else { return false }
        if cmd.has("sparse") {
            shell.error("sparse streams are not supported by vsh yet")
            return false
        }
        var created = true
        var fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        if fd < 0 {
            created = false
            if errno == EEXIST { fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC, 0o666) }
            guard fd >= 0 else {
                shell.error("cannot create \(file)")
                return false
            }
        }
        var ok = false
        defer {
            if fd >= 0 { close(fd) }
            if !ok && created { unlink(file) }
        }
        guard let stream = await shell.call({ try await vol.download(offset: offset, length: length) }) else {
            shell.error("cannot download from volume \(name)")
            return false
        }
        guard await shell.receive(stream, into: fd) else {
            shell.error("cannot receive data from volume \(name)")
            return false
        }
        if close(fd) != 0 {
            fd = -1
            shell.error("Unable to close \(file)")
            return false
        }
        fd = -1
        guard await shell.call({ try await stream.finish() }) != nil else {
            shell.error("cannot close volume \(name)")
            return false
        }
        ok = true
        return true
    }
}
