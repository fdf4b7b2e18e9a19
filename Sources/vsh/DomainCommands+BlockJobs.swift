import Foundation
import Virt

/// virsh-domain.c's block job commands: blockpull, blockcommit, blockcopy, blockjob, and the wait for a job's
/// end (virshBlockJobWait: BLOCK_JOB/BLOCK_JOB_2 events, progress on standard error every half second).
extension DomainCommands {
    static let blockJobCommands: [CommandDefinition] = [blockcommit, blockcopy, blockjob, blockpull]

    /// virsh's VIR_ENUM of block job types for messages.
    static func blockJobLabel(_ type: Int32) -> String {
        let names = ["Unknown job", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit", "Backup"]
        return type >= 0 && Int(type) < names.count ? names[Int(type)] : "Unknown job"
    }

    /// virshPrintJobProgress.
    @MainActor static func printProgress(_ shell: Shell, _ label: String, remaining: UInt64, total: UInt64) {
        var progress = 100
        if remaining != 0 {
            progress = min(Int(100.0 - Double(remaining) * 100.0 / Double(total)), 99)
        }
        shell.output.flush()
        shell.output.err("\r\(label): [\(HostCommands.padLeft(String(progress), 3)) %]")
    }

    /// The latest BLOCK_JOB/BLOCK_JOB_2 status seen for one disk.
    @MainActor final class JobStatusBox {
        var status: Int32?
    }

    /// virshBlockJobWaitInit + virshBlockJobWait: the job's end status (0 completed, 1 failed, 2 canceled,
    /// 3 ready) or nil after an error.
    @MainActor static func waitForJob(_ shell: Shell, _ dom: Domain, disk: String, label: String, verbose: Bool,
                                      timeoutMs: Int, async: Bool, box: JobStatusBox) async -> Int32? {
        let start = DispatchTime.now().uptimeNanoseconds
        var last: (UInt64, UInt64) = (0, 0)
        var result: Int32?
        while true {
            guard let info = await shell.call({ try await dom.blockJobInfo(disk: disk) }) else {
                shell.error("failed to query job for disk \(disk)")
                return nil
            }
            if let s = box.status {
                result = s
                break
            }
            if verbose, let info, info.cur != last.0 || info.end != last.1 {
                printProgress(shell, label, remaining: info.end - info.cur, total: info.end)
            }
            if let info { last = (info.cur, info.end) }
            let elapsed = (DispatchTime.now().uptimeNanoseconds - start) / 1_000_000
            if timeoutMs > 0 && elapsed > UInt64(timeoutMs) {
                guard await shell.call({ try await dom.blockJobAbort(disk: disk, flags: async ? 1 : 0) }) != nil else {
                    shell.error("failed to abort job for disk '\(disk)'")
                    return nil
                }
                result = 2
                break
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
        if verbose, result == 0 || result == 3 { printProgress(shell, label, remaining: 0, total: 1) }
        return result
    }

    /// Listens for the disk's block job events (registered before the job starts, as virsh does).
    @MainActor static func listen(_ dom: Domain, disk: String) -> (JobStatusBox, Task<Void, Never>) {
        let box = JobStatusBox()
        let stream = dom.events()
        let task = Task { @MainActor in
            for await ev in stream {
                switch ev.kind {
                case .blockJob(let path, _, let status), .blockJob2(let path, _, let status):
                    if path == disk { box.status = status }
                default: break
                }
            }
        }
        return (box, task)
    }

    /// vshCommandOptTimeoutToMs.
    @MainActor static func timeoutMs(_ shell: Shell, _ cmd: ParsedCommand) -> Int? {
        guard let text = cmd.value("timeout") else { return 0 }
        guard let t = Int32(text) else {
            shell.error("Numeric value '\(text)' for <timeout> option is malformed or out of range")
            return nil
        }
        if t < 1 {
            shell.error("invalid timeout")
            return nil
        }
        if t > Int32.max / 1000 {
            shell.error("timeout is too big")
            return nil
        }
        return Int(t) * 1000
    }

    /// virshBlockJobOptionBandwidth: MiB/s, or a scaled value in bytes with --bytes; nil after an error.
    @MainActor static func bandwidthOption(_ shell: Shell, _ cmd: ParsedCommand, bytes: Bool) -> UInt64? {
        guard let text = cmd.value("bandwidth") else { return 0 }
        if bytes {
            guard let v = AgentCommands.scaledBytes(text, defaultScale: 1) else {
                shell.error("Scaled numeric value '\(text)' for <bandwidth> option is malformed or out of range")
                return nil
            }
            return v
        }
        guard let v = UInt64(text) else {
            shell.error("Numeric value '\(text)' for <bandwidth> option is malformed or out of range")
            return nil
        }
        return v
    }

    static let blockpull = CommandDefinition(
        "blockpull", summary: "Populate a disk from its backing image.",
        description: "Populate a disk from its backing image.",
        options: [
            .domain(),
            .data("path", "fully-qualified path of disk"),
            .int("bandwidth", "bandwidth limit in MiB/s"),
            .string("base", "path of backing file in chain for a partial pull"),
            .flag("wait", "wait for job to finish"),
            .flag("verbose", "with --wait, display the progress"),
            .int("timeout", "with --wait, abort if pull exceeds timeout (in seconds)"),
            .flag("async", "with --wait, don't wait for cancel to finish"),
            .flag("keep-relative", "keep the backing chain relatively referenced"),
            .flag("bytes", "the bandwidth limit is in bytes/s rather than MiB/s"),
        ]
    ) { shell, cmd in
        let blocking = cmd.has("wait"), verbose = cmd.has("verbose"), async = cmd.has("async"), bytes = cmd.has("bytes")
        for o in ["verbose", "async"] where cmd.has(o) && !blocking {
            shell.error("Option --wait is required by option --\(o)")
            return false
        }
        let path = cmd.value("path") ?? ""
        let (bok, base) = shell.stringOption(cmd, "base")
        guard bok, let bandwidth = bandwidthOption(shell, cmd, bytes: bytes), let timeout = timeoutMs(shell, cmd),
              let dom = await shell.domainOption(cmd) else { return false }
        var flags: UInt32 = cmd.has("keep-relative") ? 16 : 0
        let listening = blocking ? listen(dom, disk: path) : nil
        defer { listening?.1.cancel() }
        let started: Void?
        if base != nil || flags != 0 {
            if bytes { flags |= 64 }
            started = await shell.call { try await dom.blockRebase(disk: path, base: base, bandwidth: bandwidth, flags: flags) }
        } else {
            if bytes { flags |= 0x40 }
            started = await shell.call { try await dom.blockPull(disk: path, bandwidth: bandwidth, flags: flags) }
        }
        guard started != nil else { return false }
        guard let (box, _) = listening else {
            shell.printExtra("Block Pull started")
            return true
        }
        switch await waitForJob(shell, dom, disk: path, label: "Block Pull", verbose: verbose, timeoutMs: timeout,
                                async: async, box: box) {
        case nil: return false
        case 2?:
            shell.printExtra("\nPull aborted")
            return false
        case 1?:
            shell.error("\nPull failed")
            return false
        default:
            shell.printExtra("\nPull complete")
            return true
        }
    }

    static let blockcommit = CommandDefinition(
        "blockcommit", summary: "Start a block commit operation.",
        description: "Commit changes from a snapshot down to its backing image.",
        options: [
            .domain(),
            .data("path", "fully-qualified path of disk"),
            .int("bandwidth", "bandwidth limit in MiB/s"),
            .string("base", "path of base file to commit into (default bottom of chain)"),
            .flag("shallow", "use backing file of top as base"),
            .string("top", "path of top file to commit from (default top of chain)"),
            .flag("active", "trigger two-stage active commit of top file"),
            .flag("delete", "delete files that were successfully committed"),
            .flag("wait", "wait for job to complete (with --active, wait for job to sync)"),
            .flag("verbose", "with --wait, display the progress"),
            .int("timeout", "implies --wait, abort if copy exceeds timeout (in seconds)"),
            .flag("pivot", "implies --active --wait, pivot when commit is synced"),
            .flag("keep-overlay", "implies --active --wait, quit when commit is synced"),
            .flag("async", "with --wait, don't wait for cancel to finish"),
            .flag("keep-relative", "keep the backing chain relatively referenced"),
            .flag("bytes", "the bandwidth limit is in bytes/s rather than MiB/s"),
        ]
    ) { shell, cmd in
        let verbose = cmd.has("verbose"), pivot = cmd.has("pivot"), finish = cmd.has("keep-overlay")
        let active = cmd.has("active") || pivot || finish
        var blocking = cmd.has("wait") || pivot || finish
        let async = cmd.has("async"), bytes = cmd.has("bytes")
        guard shell.exclusive(cmd, "pivot", "keep-overlay") else { return false }
        let path = cmd.value("path") ?? ""
        let (bok, base) = shell.stringOption(cmd, "base")
        let (tok, top) = shell.stringOption(cmd, "top")
        guard bok, tok, let bandwidth = bandwidthOption(shell, cmd, bytes: bytes) else { return false }
        var flags: UInt32 = 0
        if bytes { flags |= 16 }
        if cmd.has("shallow") { flags |= 1 }
        if cmd.has("delete") { flags |= 2 }
        if active { flags |= 4 }
        if cmd.has("keep-relative") { flags |= 8 }
        guard let timeout = timeoutMs(shell, cmd) else { return false }
        if timeout > 0 { blocking = true }
        if !blocking {
            for o in ["verbose", "async"] where cmd.has(o) {
                shell.error("--\(o) requires at least one of --timeout, --wait, --pivot, or --keep-overlay")
                return false
            }
        }
        guard let dom = await shell.domainOption(cmd) else { return false }
        let listening = blocking ? listen(dom, disk: path) : nil
        defer { listening?.1.cancel() }
        guard await shell.call({ try await dom.blockCommit(disk: path, base: base, top: top, bandwidth: bandwidth,
                                                           flags: flags) }) != nil else { return false }
        guard let (box, _) = listening else {
            shell.printExtra(active ? "Active Block Commit started" : "Block Commit started")
            return true
        }
        switch await waitForJob(shell, dom, disk: path, label: "Block commit", verbose: verbose, timeoutMs: timeout,
                                async: async, box: box) {
        case nil: return false
        case 2?:
            shell.printExtra("\nCommit aborted")
            return false
        case 1?:
            shell.error("\nCommit failed")
            return false
        default: break
        }
        if !active {
            shell.printExtra("\nCommit complete")
            return true
        }
        return await endReadyJob(shell, dom, path: path, pivot: pivot, finish: finish, async: async,
                                 finished: "Commit complete, overlay image kept", phase: "Now in synchronized phase")
    }

    static let blockcopy = CommandDefinition(
        "blockcopy", summary: "Start a block copy operation.", description: "Copy a disk backing image chain to dest.",
        options: [
            .domain(),
            .data("path", "fully-qualified path of source disk"),
            .string("dest", "path of the copy to create"),
            .int("bandwidth", "bandwidth limit in MiB/s"),
            .flag("shallow", "make the copy share a backing chain"),
            .flag("reuse-external", "reuse existing destination"),
            .alias("raw", of: "format=raw"),
            .flag("blockdev", "copy destination is block device instead of regular file"),
            .flag("wait", "wait for job to reach mirroring phase"),
            .flag("verbose", "with --wait, display the progress"),
            .int("timeout", "implies --wait, abort if copy exceeds timeout (in seconds)"),
            .flag("pivot", "implies --wait, pivot when mirroring starts"),
            .flag("finish", "implies --wait, quit when mirroring starts"),
            .flag("async", "with --wait, don't wait for cancel to finish"),
            .string("xml", "filename containing XML description of the copy destination"),
            .string("format", "format of the destination file"),
            .int("granularity", "power-of-two granularity to use during the copy"),
            .int("buf-size", "maximum amount of in-flight data during the copy"),
            .flag("bytes", "the bandwidth limit is in bytes/s rather than MiB/s"),
            .flag("transient-job", "the copy job is not persisted if VM is turned off"),
            .flag("synchronous-writes",
                  "the copy job forces guest writes to be synchronously written to the destination"),
            .flag("print-xml", "print the XML used to start the copy job instead of starting the job"),
        ]
    ) { shell, cmd in
        let verbose = cmd.has("verbose"), pivot = cmd.has("pivot"), finish = cmd.has("finish")
        let blockdev = cmd.has("blockdev"), async = cmd.has("async"), bytes = cmd.has("bytes")
        let transient = cmd.has("transient-job"), syncWrites = cmd.has("synchronous-writes")
        var blocking = cmd.has("wait") || finish || pivot
        let path = cmd.value("path") ?? ""
        let (dok, dest) = shell.stringOption(cmd, "dest")
        let (xok, xml) = shell.stringOption(cmd, "xml")
        let (fok, format) = shell.stringOption(cmd, "format")
        guard dok, xok, fok, let bandwidth = bandwidthOption(shell, cmd, bytes: bytes) else { return false }
        var granularity: UInt32 = 0
        if let g = cmd.value("granularity") {
            guard let v = UInt32(g) else {
                shell.error("Numeric value '\(g)' for <granularity> option is malformed or out of range")
                return false
            }
            granularity = v
        }
        var bufSize: UInt64 = 0
        if let b = cmd.value("buf-size") {
            guard let v = UInt64(b) else {
                shell.error("Numeric value '\(b)' for <buf-size> option is malformed or out of range")
                return false
            }
            bufSize = v
        }
        var flags: UInt32 = 0
        if cmd.has("shallow") { flags |= 1 }
        if cmd.has("reuse-external") { flags |= 2 }
        if transient { flags |= 4 }
        if syncWrites { flags |= 8 }
        guard let timeout = timeoutMs(shell, cmd) else { return false }
        if timeout > 0 { blocking = true }
        for (a, b) in [("dest", "xml"), ("format", "xml"), ("blockdev", "xml"), ("pivot", "finish")] {
            guard shell.exclusive(cmd, a, b) else { return false }
        }
        guard dest != nil || xml != nil else {
            shell.error("need either --dest or --xml")
            return false
        }
        if !blocking {
            for o in ["verbose", "async"] where cmd.has(o) {
                shell.error("--\(o) requires at least one of --timeout, --wait, --pivot, or --finish")
                return false
            }
        }
        var xmlText: String?
        if let xml {
            guard let data = FileManager.default.contents(atPath: xml) else {
                shell.error("Failed to open file '\(xml)': No such file or directory")
                return false
            }
            xmlText = String(decoding: data, as: UTF8.self)
        }
        let newAPI = granularity != 0 || bufSize != 0 || (format != nil && format != "raw") || xmlText != nil
            || transient || syncWrites
        if newAPI && xmlText == nil {
            var x = "<disk type='\(blockdev ? "block" : "file")'>\n"
            x += "  <source \(blockdev ? "dev" : "file")='\(XMLWriter.escapeAttr(dest ?? ""))'/>\n"
            if let format { x += "  <driver type='\(XMLWriter.escapeAttr(format))'/>\n" }
            x += "</disk>\n"
            xmlText = x
        }
        if cmd.has("print-xml") {
            shell.print(xmlText ?? "")
            return true
        }
        guard let dom = await shell.domainOption(cmd) else { return false }
        let listening = blocking ? listen(dom, disk: path) : nil
        defer { listening?.1.cancel() }
        if newAPI, let xmlText {
            var params: [TypedParam] = []
            if bandwidth != 0 {
                var bw = bandwidth
                if !bytes {
                    let limit = UInt64.max >> 20
                    guard bw <= limit else {
                        shell.error("bandwidth must be less than \(limit)")
                        return false
                    }
                    bw <<= 20
                }
                params.append(TypedParam("bandwidth", .ullong(bw)))
            }
            if granularity != 0 { params.append(TypedParam("granularity", .uint(granularity))) }
            if bufSize != 0 { params.append(TypedParam("buf-size", .ullong(bufSize))) }
            guard await shell.call({ try await dom.blockCopy(disk: path, destXML: xmlText, params: params, flags: flags) })
                != nil else { return false }
        } else {
            flags |= 8
            if blockdev { flags |= 32 }
            if format == "raw" { flags |= 4 }
            if bytes { flags |= 64 }
            guard await shell.call({ try await dom.blockRebase(disk: path, base: dest, bandwidth: bandwidth, flags: flags) })
                != nil else { return false }
        }
        guard let (box, _) = listening else {
            shell.printExtra("Block Copy started")
            return true
        }
        switch await waitForJob(shell, dom, disk: path, label: "Block Copy", verbose: verbose, timeoutMs: timeout,
                                async: async, box: box) {
        case nil: return false
        case 2?:
            shell.printExtra("\nCopy aborted")
            return false
        case 1?:
            shell.error("\nCopy failed")
            return false
        default: break
        }
        return await endReadyJob(shell, dom, path: path, pivot: pivot, finish: finish, async: async,
                                 finished: "Successfully copied", phase: "Now in mirroring phase")
    }

    /// The end of an active commit or a copy that reached its ready phase, as virsh ends it: `--pivot` pivots,
    /// `--finish` completes the job keeping the source, neither leaves it running and says which phase it is in.
    @MainActor static func endReadyJob(_ shell: Shell, _ dom: Domain, path: String, pivot: Bool, finish: Bool,
                                       async: Bool, finished: String, phase: String) async -> Bool {
        if pivot {
            guard await shell.call({ try await dom.blockJobAbort(disk: path, flags: (async ? 1 : 0) | 2) }) != nil else {
                shell.error("failed to pivot job for disk \(path)")
                return false
            }
            shell.printExtra("\nSuccessfully pivoted")
        } else if finish {
            guard await shell.call({ try await dom.blockJobAbort(disk: path, flags: async ? 1 : 0) }) != nil else {
                shell.error("failed to finish job for disk \(path)")
                return false
            }
            shell.printExtra("\n\(finished)")
        } else {
            shell.printExtra("\n\(phase)")
        }
        return true
    }

    static let blockjob = CommandDefinition(
        "blockjob", summary: "Manage active block operations",
        description: "Query, adjust speed, or cancel active block operations.",
        options: [
            .domain(),
            .data("path", "fully-qualified path of disk"),
            .flag("abort", "abort the active job on the specified disk"),
            .flag("async", "implies --abort; request but don't wait for job end"),
            .flag("pivot", "implies --abort; conclude and pivot a copy or commit job"),
            .flag("info", "get active job information for the specified disk"),
            .flag("bytes", "get/set bandwidth in bytes rather than MiB/s"),
            .flag("raw", "implies --info; output details rather than human summary"),
            .int("bandwidth", "set the bandwidth limit in MiB/s"),
        ]
    ) { shell, cmd in
        let raw = cmd.has("raw"), bytes = cmd.has("bytes"), pivot = cmd.has("pivot"), async = cmd.has("async")
        for (a, b) in [("raw", "abort"), ("raw", "pivot"), ("raw", "async"), ("raw", "bandwidth"),
                       ("info", "abort"), ("info", "pivot"), ("info", "async"), ("info", "bandwidth"),
                       ("bytes", "abort"), ("bytes", "pivot"), ("bytes", "async")] {
            guard shell.exclusive(cmd, a, b) else { return false }
        }
        guard let dom = await shell.domainOption(cmd) else { return false }
        let path = cmd.value("path") ?? ""
        if cmd.has("bandwidth") {
            guard let bw = bandwidthOption(shell, cmd, bytes: bytes) else { return false }
            return await shell.call({ try await dom.blockJobSetSpeed(disk: path, bandwidth: bw, flags: bytes ? 1 : 0) })
                != nil
        }
        if cmd.has("abort") || pivot || async {
            return await shell.call({
                try await dom.blockJobAbort(disk: path, flags: (async ? 1 : 0) | (pivot ? 2 : 0))
            }) != nil
        }
        // virshBlockJobInfo: bytes/s first unless raw, then MiB/s.
        var info: BlockJobInfo?
        var speed: UInt64 = 0
        if bytes || !raw {
            guard let r = await shell.call({ try await dom.blockJobInfo(disk: path, flags: 1) }) else {
                return false
            }
            info = r
            speed = r?.bandwidth ?? 0
        } else {
            guard let r = await shell.call({ try await dom.blockJobInfo(disk: path, flags: 0) }) else {
                return false
            }
            info = r
            speed = r?.bandwidth ?? 0
        }
        guard let info else {
            if !raw { shell.printExtra("No current block job for \(path)") }
            return true
        }
        if raw {
            shell.print(" type=\(blockJobLabel(info.type))\n bandwidth=\(info.bandwidth)\n cur=\(info.cur)\n end=\(info.end)\n")
        } else {
            printProgress(shell, blockJobLabel(info.type), remaining: info.end - info.cur, total: info.end)
            if speed != 0 {
                shell.print("    Bandwidth limit: \(speed) bytes/s (\(MonitorCommands.prettyCapacity(speed))/s)")
            }
            shell.print("\n")
        }
        return true
    }
}
