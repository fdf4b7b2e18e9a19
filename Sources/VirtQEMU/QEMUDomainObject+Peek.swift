import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// virDomainBlockPeek and virDomainMemoryPeek, as libvirt's QEMU driver answers them.
extension QEMUDomainObject {
    /// qemuDomainBlockPeek (no job): the bytes of a raw disk's image file, read by the daemon.
    func blockPeek(path: String, offset: UInt64, size: UInt32) throws(VirtError) -> [UInt8] {
        guard let disk = Self.disk(currentDefinition, path) else {
            throw VirtError.invalidArg("disk '\(path)' not found in domain", domain: .qemu)
        }
        if disk.type == .vhostuser {
            throw VirtError.operationUnsupported("peeking is not supported for vhostuser disk")
        }
        let format = disk.driver.format ?? .raw
        guard format == .raw else {
            throw VirtError.operationUnsupported("peeking is only supported for disk with 'raw' format not '\(format.rawValue)'")
        }
        if disk.source.fdGroup != nil {
            throw VirtError.operationUnsupported("peeking is not supported for FD passed images")
        }
        let local = disk.type == .file || disk.type == .block
            || (disk.type == .volume && disk.source.resolvedVolume != nil)
        guard local, let file = disk.type == .volume ? disk.source.resolvedVolume?.path : disk.source.path else {
            let proto = disk.source.networkProtocol?.rawValue ?? "none"
            throw VirtError.internalError(
                "storage file reading is not supported for storage type \(disk.type.rawValue) (protocol: \(proto))",
                domain: .qemu)
        }
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VirtError.systemError("Failed to open file '\(file)'", errno: errno, domain: .qemu) }
        defer { close(fd) }
        if offset > 0, lseek(fd, off_t(offset), SEEK_SET) == -1 {
            throw VirtError.systemError("cannot seek into '\(file)'", errno: errno, domain: .qemu)
        }
        let (buffer, got) = Self.readUpTo(fd, Int(size), from: nil)
        if got < 0 { throw VirtError.systemError("cannot read header '\(file)'", errno: errno, domain: .qemu) }
        guard got == buffer.count else {
            throw VirtError.invalidArg("'\(path)' starting from \(offset) has only \(got) bytes available", domain: .qemu)
        }
        return buffer
    }

    /// qemuDomainMemoryPeek (a query job): QEMU writes the range to a file in the domain's private directory
    /// (`memsave` for virtual addresses, `pmemsave` for physical ones), the daemon reads it back.
    func memoryPeek(start: UInt64, size: UInt32, physical: Bool) async throws(VirtError) -> [UInt8] {
        try await beginJob(.query, owner: "memoryPeek")
        defer { endJob() }
        let m = try requireRunning()
        var template = Array((privateDirectory + "/qemu.mem.XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { b in b.baseAddress.map { mkstemp($0) } ?? -1 }
        let tmp = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        guard fd >= 0 else {
            throw VirtError.systemError("g_mkstemp(\"\(privateDirectory)/qemu.mem.XXXXXX\") failed", errno: errno,
                                        domain: .qemu)
        }
        defer {
            close(fd)
            unlink(tmp)
        }
        // QEMU writes the file as its own user.
        if let u = try? security.processCredentials() { _ = fchown(fd, u.uid, u.gid) }
        let command = physical ? "pmemsave" : "memsave"
        if let val = Int64(exactly: start) {
            try await m.execute(command, arguments: [
                "val": .int(val), "size": .int(Int64(size)), "filename": .string(tmp),
            ])
        } else {
            // Addresses from 2^63 up (a 64-bit kernel's) do not fit the monitor's signed JSON integers here:
            // the human monitor's command of the same name takes them in hexadecimal.
            let hex = String(start, radix: 16)
            let out = try await m.execute("human-monitor-command",
                                          arguments: ["command-line": .string("\(command) 0x\(hex) \(size) \(tmp)")])
            if let text = out.stringValue, !text.isEmpty {
                throw VirtError.internalError("unable to execute QEMU command '\(command)': \(text)", domain: .qemu)
            }
        }
        let (buffer, got) = Self.readUpTo(fd, Int(size), from: 0)
        if got < 0 {
            throw VirtError.systemError("failed to read temporary file created with template \(tmp)",
                                        errno: errno, domain: .qemu)
        }
        return buffer
    }

    /// Up to `count` bytes (with `read`, or `pread` from `offset`); the count read, -1 on an error (errno set).
    static func readUpTo(_ fd: Int32, _ count: Int, from offset: Int?) -> ([UInt8], Int) {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer.withUnsafeMutableBytes { b -> Int in
                guard let base = b.baseAddress else { return 0 }
                if let offset { return pread(fd, base + got, count - got, off_t(offset + got)) }
                return read(fd, base + got, count - got)
            }
            if n < 0 {
                if errno == EINTR { continue }
                return (buffer, -1)
            }
            if n == 0 { break }
            got += n
        }
        return (buffer, got)
    }
}
