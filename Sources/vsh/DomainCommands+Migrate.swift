import Virt

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Migration commands (virsh-domain.c): migrate, migrate-setmaxdowntime, migrate-getmaxdowntime,
/// migrate-setspeed, migrate-getspeed, migrate-postcopy.
extension DomainCommands {
    static let migrationCommands: [CommandDefinition] = [
        migrate, migrateSetMaxDowntime, migrateGetMaxDowntime, migrateSetSpeed, migrateGetSpeed, migratePostcopy,
    ]

    static let migrate = CommandDefinition(
        "migrate", summary: "migrate domain to another host",
        description: "Migrate domain to another host.  Add --live for live migration.",
        options: [
            .domain(),
            .data("desturi",
                  "connection URI of the destination host as seen from the client(normal migration) or source(p2p migration)"),
            .flag("live", "live migration"),
            .flag("offline", "offline migration"),
            .flag("p2p", "peer-2-peer migration"),
            .flag("direct", "direct migration"),
            .alias("tunneled", of: "tunnelled"),
            .flag("tunnelled", "tunnelled migration"),
            .flag("persistent", "persist VM on destination"),
            .flag("undefinesource", "undefine VM on source"),
            .flag("suspend", "do not restart the domain on the destination host"),
            .flag("copy-storage-all", "migration with non-shared storage with full disk copy"),
            .flag("copy-storage-inc",
                  "migration with non-shared storage with incremental copy (same base image shared between source and destination)"),
            .flag("copy-storage-synchronous-writes",
                  "force guest disk writes to be synchronously written to the destination to improve storage migration convergence"),
            .flag("change-protection", "prevent any configuration changes to domain until migration ends"),
            .flag("unsafe", "force migration even if it may be unsafe"),
            .flag("verbose", "display the progress of migration"),
            .flag("compressed", "compress repeated pages during live migration"),
            .flag("auto-converge", "force convergence during live migration"),
            .flag("rdma-pin-all", "pin all memory before starting RDMA live migration"),
            .flag("abort-on-error", "abort on soft errors during migration"),
            .flag("postcopy", "enable post-copy migration; switch to it using migrate-postcopy command"),
            .flag("postcopy-after-precopy", "automatically switch to post-copy migration after one pass of pre-copy"),
            .flag("postcopy-resume", "resume failed post-copy migration"),
            .flag("zerocopy", "use zero-copy mechanism for migrating memory pages"),
            .string("migrateuri", "migration URI, usually can be omitted"),
            .string("graphicsuri", "graphics URI to be used for seamless graphics migration"),
            .string("listen-address", "listen address that destination should bind to for incoming migration"),
            .string("dname", "rename to new name during migration (if supported)"),
            .int("timeout",
                 "run action specified by --timeout-* option (suspend by default) if live migration exceeds timeout (in seconds)"),
            .flag("timeout-suspend", "suspend the guest after timeout"),
            .flag("timeout-postcopy", "switch to post-copy after timeout"),
            .string("xml", "filename containing updated XML for the target"),
            .string("migrate-disks", "comma separated list of disks to be migrated"),
            .int("disks-port", "port to use by target server for incoming disks migration"),
            .string("disks-uri", "URI to use for disks migration (overrides --disks-port)"),
            .string("comp-methods", "comma separated list of compression methods to be used"),
            .int("comp-mt-level", "compress level for multithread compression"),
            .int("comp-mt-threads", "number of compression threads for multithread compression"),
            .int("comp-mt-dthreads", "number of decompression threads for multithread compression"),
            .int("comp-xbzrle-cache", "page cache size for xbzrle compression"),
            .int("auto-converge-initial", "initial CPU throttling rate for auto-convergence"),
            .int("auto-converge-increment", "CPU throttling rate increment for auto-convergence"),
            .string("persistent-xml", "filename containing updated persistent XML for the target"),
            .flag("tls", "use TLS for migration"),
            .int("postcopy-bandwidth", "post-copy migration bandwidth limit in MiB/s"),
            .flag("parallel", "enable parallel migration"),
            .int("parallel-connections", "number of connections for parallel migration"),
            .int("bandwidth", "migration bandwidth limit in MiB/s"),
            .string("tls-destination", "override the destination host name used for TLS verification"),
        ]
    ) { shell, cmd in
        await runMigrate(shell, cmd)
    }

    /// virsh's cmdMigrate: the option checks, the domain, the timeout, the post-copy switch on the second
    /// iteration, the destination connection (client-managed migration only), then doMigrate's parameters and
    /// flags and the migration itself, watched as virshWatchJob does.
    @MainActor
    static func runMigrate(_ shell: Shell, _ cmd: ParsedCommand) async -> Bool {
        if let message = MigrateOptions.conflict(cmd) {
            shell.error(message)
            return false
        }
        guard let dom = await shell.domainOption(cmd) else { return false }
        let watch: MigrateOptions.Watch
        switch MigrateOptions.watch(cmd) {
        case .success(let w): watch = w
        case .failure(let f):
            shell.error(f.message)
            return false
        }

        // Registered before anything starts, as virsh does, on the source connection.
        var iterations: Task<Void, Never>?
        if cmd.has("postcopy-after-precopy") {
            let events = dom.events()
            iterations = Task {
                for await record in events {
                    if case .migrationIteration(let iteration) = record.kind, iteration == 2 {
                        try? await dom.migrateStartPostCopy()
                    }
                }
            }
        }
        defer { iterations?.cancel() }

        let viaURI = cmd.has("p2p") || cmd.has("direct")
        var destination: Connection?
        if !viaURI {
            let (ok, desturi) = shell.stringOption(cmd, "desturi")
            guard ok, let desturi else { return false }
            guard let dconn = await shell.call({ try await shell.openOtherConnection(desturi) }) else { return false }
            destination = dconn
        }

        let request: MigrateOptions.Request
        switch MigrateOptions.request(cmd, readFile: { shell.readFile($0) }) {
        case .success(let r): request = r
        case .failure(let f):
            shell.error(f.message)
            await destination?.close()
            return false
        }

        let watcher = MigrationWatcher(shell: shell, dom: dom, verbose: watch.verbose,
                                       timeoutSeconds: watch.timeoutSeconds, action: watch.action)
        let migrated: Bool
        if let destination {
            migrated = await shell.call({
                _ = try await dom.migrate(to: destination, flags: request.flags, params: request.params)
            }) != nil
        } else {
            migrated = await shell.call({
                try await dom.migrateToURI3(request.desturi, flags: request.flags, params: request.params)
            }) != nil
        }
        await watcher.finish(migrated)
        await destination?.close()
        return migrated
    }

    static let migrateSetMaxDowntime = CommandDefinition(
        "migrate-setmaxdowntime", summary: "set maximum tolerable downtime",
        description: "Set maximum tolerable downtime of a domain which is being live-migrated to another host.",
        options: [
            .domain(),
            OptionDefinition(name: "downtime", kind: .int, required: true,
                             help: "maximum tolerable downtime (in milliseconds) for migration"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let text = cmd.value("downtime") ?? ""
        guard let downtime = Format.parseUInt64(text) else {
            shell.error(MigrateOptions.malformed(text, "downtime"))
            return false
        }
        if downtime < 1 {
            shell.error("migrate: Invalid downtime")
            return false
        }
        return await shell.call({ try await dom.setMaxDowntime(downtime) }) != nil
    }

    static let migrateGetMaxDowntime = CommandDefinition(
        "migrate-getmaxdowntime", summary: "get maximum tolerable downtime",
        description: "Get maximum tolerable downtime of a domain which is being live-migrated to another host.",
        options: [.domain()]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let downtime = await shell.call({ try await dom.maxDowntime() }) else { return false }
        shell.print("\(downtime)\n")
        return true
    }

    static let migrateSetSpeed = CommandDefinition(
        "migrate-setspeed", summary: "Set the maximum migration bandwidth",
        description: "Set the maximum migration bandwidth (in MiB/s) for a domain which is being migrated to another host.",
        options: [
            .domain(),
            OptionDefinition(name: "bandwidth", kind: .int, required: true, help: "migration bandwidth limit in MiB/s"),
            .flag("postcopy", "set post-copy migration bandwidth"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let text = cmd.value("bandwidth") ?? ""
        // vshCommandOptULWrap: a negative number wraps around, as strtoul does.
        guard let bandwidth = Format.parseUInt64Wrapping(text) else {
            shell.error(MigrateOptions.malformed(text, "bandwidth"))
            return false
        }
        let postcopy = cmd.has("postcopy")
        return await shell.call({ try await dom.setMaxSpeed(bandwidth, postcopy: postcopy) }) != nil
    }

    static let migrateGetSpeed = CommandDefinition(
        "migrate-getspeed", summary: "Get the maximum migration bandwidth",
        description: "Get the maximum migration bandwidth (in MiB/s) for a domain.",
        options: [
            .domain(),
            .flag("postcopy", "get post-copy migration bandwidth"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let postcopy = cmd.has("postcopy")
        guard let bandwidth = await shell.call({ try await dom.maxSpeed(postcopy: postcopy) }) else { return false }
        shell.print("\(bandwidth)\n")
        return true
    }

    static let migratePostcopy = CommandDefinition(
        "migrate-postcopy", summary: "Switch running migration from pre-copy to post-copy",
        description: "Switch running migration from pre-copy to post-copy. The migration must have been started with --postcopy option.",
        options: [.domain()]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        return await shell.call({ try await dom.migrateStartPostCopy() }) != nil
    }
}

/// What `migrate`'s options ask for, worked out as virsh's cmdMigrate and doMigrate do; no I/O but reading the
/// XML files, so that the mapping can be checked on its own.
enum MigrateOptions {
    /// A `vshError` line (a library error may also be pending, e.g. from reading a file).
    struct Failure: Error, Equatable {
        var message: String
    }

    /// The action when a live migration outlasts `--timeout` (virshMigrateTimeoutAction).
    enum TimeoutAction: Equatable, Sendable {
        case suspend, postcopy
    }

    /// How the migration is watched while it runs.
    struct Watch: Equatable {
        var verbose = false
        /// 0: no timeout.
        var timeoutSeconds: UInt32 = 0
        var action: TimeoutAction?
    }

    /// The migration call: flags, typed parameters and the destination URI as given.
    struct Request: Equatable {
        var desturi: String
        var flags: MigrateFlags = []
        var params: [TypedParam] = []
    }

    /// The option pairs virsh checks before anything else (VSH_EXCLUSIVE_OPTIONS, VSH_REQUIRE_OPTION).
    static func conflict(_ cmd: ParsedCommand) -> String? {
        for (a, b) in [("live", "offline"), ("timeout-suspend", "timeout-postcopy")] where cmd.has(a) && cmd.has(b) {
            return "Options --\(a) and --\(b) are mutually exclusive"
        }
        let requirements = [("postcopy-after-precopy", "postcopy"), ("timeout-postcopy", "postcopy"),
                            ("persistent-xml", "persistent"), ("tls-destination", "tls")]
        for (a, b) in requirements where cmd.has(a) && !cmd.has(b) {
            return "Option --\(b) is required by option --\(a)"
        }
        return nil
    }

    /// `--verbose`, `--timeout` and its action, with cmdMigrate's checks.
    static func watch(_ cmd: ParsedCommand) -> Result<Watch, Failure> {
        var w = Watch(verbose: cmd.has("verbose"))
        if let text = cmd.value("timeout") {
            guard let seconds = Format.parseUInt32(text) else { return .failure(Failure(message: malformed(text, "timeout"))) }
            w.timeoutSeconds = seconds
        }
        if w.timeoutSeconds > 0 && !cmd.has("live") {
            return .failure(Failure(message: "migrate: Unexpected timeout for offline migration"))
        }
        if cmd.has("timeout-suspend") { w.action = .suspend }
        if cmd.has("timeout-postcopy") { w.action = .postcopy }
        if w.timeoutSeconds > 0 {
            if w.action == nil { w.action = .suspend }
        } else if w.action != nil {
            return .failure(Failure(message: "migrate: Unexpected --timeout-* option without --timeout"))
        }
        return .success(w)
    }

    /// doMigrate: the typed parameters in virsh's order, then the flags. `readFile` reads `--xml` and
    /// `--persistent-xml` (nil on failure, with the library error left to the caller).
    static func request(_ cmd: ParsedCommand, readFile: (String) -> String?) -> Result<Request, Failure> {
        do {
            return .success(try build(cmd, readFile: readFile))
        } catch {
            return .failure(error)
        }
    }

    private static func build(_ cmd: ParsedCommand, readFile: (String) -> String?) throws(Failure) -> Request {
        var r = Request(desturi: try string(cmd, "desturi") ?? "")
        func add(_ name: String, _ value: TypedParam.Value) { r.params.append(TypedParam(name, value)) }

        if let v = try string(cmd, "migrateuri") { add(MigrateParam.uri, .string(v)) }
        if let v = try string(cmd, "graphicsuri") { add(MigrateParam.graphicsURI, .string(v)) }
        if let v = try string(cmd, "listen-address") { add(MigrateParam.listenAddress, .string(v)) }
        if let v = try int(cmd, "disks-port"), v != 0 { add(MigrateParam.disksPort, .int(v)) }
        if let v = try string(cmd, "disks-uri") { add(MigrateParam.disksURI, .string(v)) }
        if let v = try string(cmd, "dname") { add(MigrateParam.destName, .string(v)) }
        // g_strsplit: every comma separates, empty items are kept.
        if let v = try string(cmd, "migrate-disks") {
            for disk in v.split(separator: ",", omittingEmptySubsequences: false) {
                add(MigrateParam.migrateDisks, .string(String(disk)))
            }
        }
        if let v = try string(cmd, "comp-methods") {
            for method in v.split(separator: ",", omittingEmptySubsequences: false) {
                add(MigrateParam.compression, .string(String(method)))
            }
        }
        if let v = try int(cmd, "comp-mt-level") { add(Keys.compressionMTLevel, .int(v)) }
        if let v = try int(cmd, "comp-mt-threads") { add(Keys.compressionMTThreads, .int(v)) }
        if let v = try int(cmd, "comp-mt-dthreads") { add(Keys.compressionMTDThreads, .int(v)) }
        if let v = try ullong(cmd, "comp-xbzrle-cache") { add(Keys.compressionXBZRLECache, .ullong(v)) }
        if let path = try string(cmd, "xml") {
            guard let xml = readFile(path) else { throw Failure(message: "cannot read file '\(path)'") }
            add(MigrateParam.destXML, .string(xml))
        }
        if let path = try string(cmd, "persistent-xml") {
            guard let xml = readFile(path) else { throw Failure(message: "cannot read file '\(path)'") }
            add(MigrateParam.persistXML, .string(xml))
        }
        if let v = try int(cmd, "auto-converge-initial") { add(Keys.autoConvergeInitial, .int(v)) }
        if let v = try int(cmd, "auto-converge-increment") { add(Keys.autoConvergeIncrement, .int(v)) }
        if let v = try ullong(cmd, "postcopy-bandwidth") { add(MigrateParam.bandwidthPostcopy, .ullong(v)) }
        if let v = try int(cmd, "parallel-connections") { add(MigrateParam.parallelConnections, .int(v)) }
        if let v = try ullong(cmd, "bandwidth") { add(MigrateParam.bandwidth, .ullong(v)) }
        if let v = try string(cmd, "tls-destination") { add(MigrateParam.tlsDestination, .string(v)) }

        let simple: [(String, MigrateFlags)] = [
            ("live", .live), ("p2p", .peer2peer), ("tunnelled", .tunnelled), ("persistent", .persistDest),
            ("undefinesource", .undefineSource), ("suspend", .paused), ("copy-storage-all", .nonSharedDisk),
            ("copy-storage-inc", .nonSharedInc),
        ]
        for (option, flag) in simple where cmd.has(option) { r.flags.insert(flag) }
        if cmd.has("copy-storage-synchronous-writes") {
            if !r.flags.contains(.nonSharedDisk) && !r.flags.contains(.nonSharedInc) {
                throw Failure(message: "'--copy-storage-synchronous-writes' requires one of '--copy-storage-all', 'copy-storage-inc'")
            }
            r.flags.insert(.nonSharedSynchronousWrites)
        }
        let more: [(String, MigrateFlags)] = [
            ("change-protection", .changeProtection), ("unsafe", .unsafe), ("compressed", .compressed),
            ("auto-converge", .autoConverge), ("rdma-pin-all", .rdmaPinAll), ("offline", .offline),
            ("abort-on-error", .abortOnError), ("postcopy", .postcopy), ("postcopy-resume", .postcopyResume),
            ("zerocopy", .zerocopy), ("tls", .tls), ("parallel", .parallel),
        ]
        for (option, flag) in more where cmd.has(option) { r.flags.insert(flag) }
        return r
    }

    /// Parameter names without a constant in ``MigrateParam``.
    enum Keys {
        static let compressionMTLevel = "compression.mt.level"
        static let compressionMTThreads = "compression.mt.threads"
        static let compressionMTDThreads = "compression.mt.dthreads"
        static let compressionXBZRLECache = "compression.xbzrle.cache"
        static let autoConvergeInitial = "auto_converge.initial"
        static let autoConvergeIncrement = "auto_converge.increment"
    }

    /// virsh's message for a numeric option it cannot parse.
    static func malformed(_ text: String, _ option: String) -> String {
        "Numeric value '\(text)' for <\(option)> option is malformed or out of range"
    }

    /// vshCommandOptStringReq: an empty value is an error.
    private static func string(_ cmd: ParsedCommand, _ name: String) throws(Failure) -> String? {
        guard let value = cmd.value(name) else { return nil }
        if value.isEmpty { throw Failure(message: "Failed to get option '\(name)': Option argument is empty") }
        return value
    }

    /// vshCommandOptInt (virStrToLong_i).
    private static func int(_ cmd: ParsedCommand, _ name: String) throws(Failure) -> Int32? {
        guard let text = cmd.value(name) else { return nil }
        guard let v = Format.parseInt32(text) else { throw Failure(message: malformed(text, name)) }
        return v
    }

    /// vshCommandOptULongLong (virStrToLong_ullp: no sign).
    private static func ullong(_ cmd: ParsedCommand, _ name: String) throws(Failure) -> UInt64? {
        guard let text = cmd.value(name) else { return nil }
        guard let v = Format.parseUInt64(text) else { throw Failure(message: malformed(text, name)) }
        return v
    }
}

/// virshWatchJob for a migration: the progress on standard error with `--verbose`, the `--timeout` action
/// (suspend, or switch to post-copy) once the time has passed, and an interrupt (SIGINT) aborting the job.
@MainActor
final class MigrationWatcher {
    private let progress: JobProgress?
    private var timer: Task<Void, Never>?
    private var interrupts: Task<Void, Never>?
    private let signals: SignalWatcher

    init(shell: Shell, dom: Domain, verbose: Bool, timeoutSeconds: UInt32, action: MigrateOptions.TimeoutAction?) {
        progress = verbose ? JobProgress(shell: shell, dom: dom, label: "Migration") : nil
        if timeoutSeconds > 0, let action {
            timer = Task {
                try? await Task.sleep(for: .seconds(Int(timeoutSeconds)))
                if Task.isCancelled { return }
                switch action {
                case .suspend: try? await dom.suspend()
                case .postcopy: try? await dom.migrateStartPostCopy()
                }
            }
        }
        let signals = SignalWatcher(SIGINT)
        self.signals = signals
        interrupts = Task {
            for await _ in signals.stream {
                try? await dom.abortJob()
            }
        }
    }

    /// Stops watching; with `ok` and `--verbose`, prints the final "[100 %]".
    func finish(_ ok: Bool) async {
        timer?.cancel()
        interrupts?.cancel()
        signals.stop()
        await progress?.finish(ok)
    }
}
