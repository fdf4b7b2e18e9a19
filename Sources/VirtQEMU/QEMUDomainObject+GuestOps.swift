import CSpawn
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

    /// libvirt's qemuDomainOpenGraphicsFD: checks (running, the index, VNC or SPICE), then in a modify job
    /// QEMU gets one end of a new socket pair as a client of its graphics server; the other end is returned.
    func openGraphicsFD(index: UInt32, skipAuth: Bool) async throws(VirtError) -> Int32 {
        _ = try requireRunning()
        let graphics = (liveDefinition ?? definition).devices.graphics
        guard Int(index) < graphics.count else {
            throw VirtError.internalError("No graphics backend with index \(index)", domain: .qemu)
        }
        let type = graphics[Int(index)].type
        guard type == .vnc || type == .spice else {
            throw VirtError.configUnsupported("Can only open VNC or SPICE graphics backends, not \(type.rawValue)",
                                              domain: .qemu)
        }
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw VirtError.systemError("Failed to create socket pair", errno: errno, domain: .qemu)
        }
        defer { close(pair[1]) }
        do throws(VirtError) {
            try await addGraphicsClient(type, fd: pair[1], skipAuth: skipAuth, owner: "openGraphicsFD")
        } catch {
            close(pair[0])
            throw error
        }
        return pair[0]
    }

    /// libvirt's qemuDomainOpenGraphics: the client's own socket (passed with the call) becomes a client of
    /// graphics device `index`; the caller keeps and closes its descriptor.
    func openGraphics(index: UInt32, fd: Int32, skipAuth: Bool) async throws(VirtError) {
        _ = try requireRunning()
        let graphics = (liveDefinition ?? definition).devices.graphics
        guard Int(index) < graphics.count else {
            throw VirtError.internalError("No graphics backend with index \(index)", domain: .qemu)
        }
        let type = graphics[Int(index)].type
        guard type == .vnc || type == .spice else {
            throw VirtError.configUnsupported("Can only open VNC or SPICE graphics backends, not \(type.rawValue)",
                                              domain: .qemu)
        }
        try await addGraphicsClient(type, fd: fd, skipAuth: skipAuth, owner: "openGraphics")
    }

    /// QMP `getfd` with the socket, then `add_client` (the descriptor closed again in QEMU if that fails).
    private func addGraphicsClient(_ type: GraphicsType, fd: Int32, skipAuth: Bool, owner: String)
        async throws(VirtError) {
        try await beginJob(.modify, owner: owner)
        defer { endJob() }
        let m = try requireRunning()
        try await m.execute("getfd", arguments: ["fdname": "graphicsfd"], passing: fd)
        do throws(VirtError) {
            try await m.execute("add_client", arguments: [
                "protocol": .string(type.rawValue), "fdname": "graphicsfd", "skipauth": .bool(skipAuth),
            ])
        } catch {
            _ = try? await m.execute("closefd", arguments: ["fdname": "graphicsfd"])
            throw error
        }
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

/// Core dumps (libvirt's qemuDomainCoreDumpWithFormat and doCoreDump): an async DUMP job.
extension QEMUDomainObject {
    /// The dump into `path`: the guest paused unless `live`, then memory only (`dump-guest-memory` to a
    /// descriptor, detached, its progress from `query-dump`) or QEMU's migration stream; afterwards the domain
    /// crashes (`crash`), is reset (`reset`) or runs again if it ran before.
    func coreDump(to path: String, format: UInt32?, flags: UInt32) async throws(VirtError) {
        try await beginAsyncJob(.dump, operation: .dump, owner: "coreDump")
        let memoryOnly = flags & CoreDump.memoryOnly != 0
        jobs.current?.isMemoryDump = memoryOnly
        var wasRunning = false
        var result: VirtError?
        do throws(VirtError) {
            guard let mon = monitor, isActive else {
                throw VirtError.operationInvalid("domain is not running", domain: .domain)
            }
            wasRunning = status.state == .running
            if flags & CoreDump.live == 0 && wasRunning {
                try await mon.execute("stop")
                if status.state == .running { raise(.suspended(.paused)) }
                status = .paused(.dump)
                writeStatus()
            }
            try await writeCoreDump(mon, to: path, format: format, memoryOnly: memoryOnly)
            if flags & CoreDump.crash != 0 {
                stopReason = (.crashed, .crashed)
                await teardown(.crashed, emitEvent: true)
            } else if flags & CoreDump.reset != 0 {
                try await mon.execute("system_reset")
            }
        } catch {
            result = error
        }
        // As libvirt's endjob: a guest that ran before runs again (a migration to file stops it too). QEMU
        // reports the migration completed before it leaves finish-migrate (a `cont` then fails), and the STOP
        // it sent before may still be on its way to the handler.
        if wasRunning, isActive, !memoryOnly, let mon = monitor {
            await waitMigrationFinalized(mon)
        }
        await catchUpWithEvents()
        if wasRunning, isActive, status.state == .paused, let mon = monitor {
            if (try? await mon.execute("cont")) != nil {
                setRunning(.unpaused)
            } else if result == nil {
                result = VirtError.operationFailed("resuming after dump failed", domain: .qemu)
            }
        }
        // libvirt keeps no statistics of a finished dump (`domjobinfo --completed` stays as it was).
        endAsyncJob()
        if let result { throw result }
    }

    /// Until QEMU's run state leaves finish-migrate (for at most 10 s).
    private func waitMigrationFinalized(_ mon: QMPMonitor) async {
        for _ in 0..<1000 {
            guard let q = try? await mon.execute("query-status"),
                  q["status"]?.stringValue == "finish-migrate" else { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// libvirt's doCoreDump: the file created (0600, as the daemon), written by QEMU, removed on failure.
    func writeCoreDump(_ mon: QMPMonitor, to path: String, format: UInt32?, memoryOnly: Bool)
        async throws(VirtError) {
        if !memoryOnly, let format, format != 0 {
            throw VirtError.operationUnsupported("kdump-compressed format is only supported with memory-only dump")
        }
        // Non-blocking, so that a FIFO without a reader fails instead of holding the call's thread.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0o600)
        guard fd >= 0 else {
            throw VirtError.systemError("Failed to create file '\(path)'", errno: errno, domain: .qemu)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        do throws(VirtError) {
            if memoryOnly {
                try await dumpGuestMemory(mon, fd: fd, format: CoreDump.formatNames[Int(format ?? 0)])
            } else {
                defer { close(fd) }
                try await mon.execute("migrate-set-parameters", arguments: ["max-bandwidth": .int(Self.saveBandwidth)])
                try await mon.execute("getfd", arguments: ["fdname": "migrate"], passing: fd)
                do throws(VirtError) {
                    try await mon.execute("migrate", arguments: ["detach": true, "resume": false, "uri": "fd:migrate"])
                } catch {
                    _ = try? await mon.execute("closefd", arguments: ["fdname": "migrate"])
                    throw error
                }
                try await waitMigration(mon, what: "domain core dump")
            }
        } catch {
            unlink(path)
            throw error
        }
    }

    /// libvirt's qemuDumpToFd: the format checked against QEMU's list, `getfd`, `dump-guest-memory` detached,
    /// then `query-dump` until QEMU is done (the job's statistics follow it).
    private func dumpGuestMemory(_ mon: QMPMonitor, fd: Int32, format: String) async throws(VirtError) {
        defer { close(fd) }
        let caps = try await mon.execute("query-dump-guest-memory-capability")
        let formats = caps["formats"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard formats.contains(format) else {
            throw VirtError.invalidArg("unsupported dumpformat '\(format)' for this QEMU binary", domain: .qemu)
        }
        try await mon.execute("getfd", arguments: ["fdname": "dump"], passing: fd)
        do throws(VirtError) {
            try await mon.execute("dump-guest-memory", arguments: [
                "paging": false, "protocol": "fd:dump", "format": .string(format), "detach": true,
            ])
        } catch {
            _ = try? await mon.execute("closefd", arguments: ["fdname": "dump"])
            throw error
        }
        while true {
            if process == nil {
                throw VirtError.operationFailed("job 'domain core dump' failed: QEMU ended", domain: .qemu)
            }
            let q = try await mon.execute("query-dump")
            let total = q["total"]?.uint64Value ?? 0
            let completed = q["completed"]?.uint64Value ?? 0
            jobs.current?.dumpProgress = .init(total: total, completed: completed)
            let elapsed = asyncElapsedMs
            jobs.current?.elapsedMs = elapsed
            switch q["status"]?.stringValue ?? "" {
            case "completed":
                return
            case "failed":
                throw VirtError.operationFailed("memory-only dump failed for unknown reason", domain: .qemu)
            default:
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}

/// IOThreads (libvirt's qemuDomainGetIOThreadInfo).
extension QEMUDomainObject {
    /// libvirt's qemuProcessSetupIOThreads: each IOThread's `<iothreadpin>`, else `<vcpu cpuset>`, on its thread.
    func applyIOThreadPins(_ def: DomainDefinition, _ apply: (pid_t, CPUSet) -> Void) async {
        guard !def.effectiveIOThreads.isEmpty, let m = monitor,
              let list = (try? await m.execute("query-iothreads"))?.arrayValue else { return }
        for e in list {
            guard let name = e["id"]?.stringValue, let id = UInt32(name.dropFirst("iothread".count)),
                  let tid = e["thread-id"]?.uint64Value,
                  let set = def.cputune?.iothreadPins.first(where: { $0.id == id })?.cpuset ?? def.vcpuCPUSet
            else { continue }
            apply(pid_t(truncatingIfNeeded: tid), set)
        }
    }

    /// The live IOThreads from QEMU (`query-iothreads`, each thread's affinity), or the persistent ones from the
    /// definition (`<iothreadpin>`, else `<vcpu cpuset>`, else every online host CPU).
    func iothreadInfo(flags: UInt32) async throws(VirtError) -> [IOThreadInfo] {
        let (def, live) = try oneDefinition(flags)
        let host = Self.onlineCPUs()
        let length = CPUMap.length(cpus: Int(host.cpus.last ?? 0) + 1)
        guard live else {
            return def.effectiveIOThreads.map { t in
                let set = def.cputune?.iothreadPins.first { $0.id == t.id }?.cpuset ?? def.vcpuCPUSet ?? host
                let needed = CPUMap.length(cpus: Int(set.cpus.last ?? 0) + 1)
                return IOThreadInfo(id: t.id, cpumap: CPUMap.bytes(set, length: max(length, needed)))
            }
        }
        try await beginJob(.query, owner: "getIOThreadInfo")
        defer { endJob() }
        guard let m = monitor, isActive else {
            throw VirtError.operationInvalid("cannot list IOThreads for an inactive domain", domain: .qemu)
        }
        let list = try await m.execute("query-iothreads").arrayValue ?? []
        var out: [IOThreadInfo] = []
        for e in list {
            guard let name = e["id"]?.stringValue, name.hasPrefix("iothread"),
                  let id = UInt32(name.dropFirst("iothread".count)) else {
                throw VirtError.internalError("invalid iothread name '\(e["id"]?.stringValue ?? "")'", domain: .qemu)
            }
            let tid = Int32(truncatingIfNeeded: e["thread-id"]?.uint64Value ?? 0)
            var map = [UInt8](repeating: 0, count: length)
            if swiftvirt_get_affinity(tid, &map, length) != 0 {
                throw VirtError.systemError("cannot get CPU affinity of process \(tid)", errno: errno, domain: .qemu)
            }
            out.append(IOThreadInfo(id: id, cpumap: map))
        }
        return out
    }
}

extension DomainDefinition {
    /// The IOThreads QEMU runs: `<iothreadids>`, or ids 1…N for a bare `<iothreads>N</iothreads>` (libvirt fills
    /// them in without showing them in the XML).
    var effectiveIOThreads: [IOThreadID] {
        let ids = iothreadIDs
        if !ids.isEmpty { return ids }
        return (0..<(iothreads ?? 0)).map { IOThreadID(id: $0 + 1) }
    }
}
