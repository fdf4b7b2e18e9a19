import CSpawn
import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// What to launch: a QEMU (or helper) binary, its arguments, where its output goes, and descriptors to pass.
public struct ProcessLaunchSpec: Sendable {
    /// Path of the binary.
    public var binary: String
    /// Arguments, without argv[0].
    public var arguments: [String]
    /// File that receives stdout and stderr (appended). Our own notes go there too.
    public var logPath: String
    /// File that receives the pid, written atomically after the launch.
    public var pidfilePath: String?
    /// Descriptors to pass: each source fd of ours becomes fd 3, 4, … in the child, in this order.
    public var passFDs: [Int32]
    /// Extra environment variables (`NAME=value`), added to a minimal clean environment.
    public var environment: [String]
    /// The user the process runs as (set in the child before exec); nil: the daemon's own.
    public var credentials: ProcessCredentials?
    /// The child's umask; nil: the daemon's.
    public var umask: mode_t?
    /// Whether the child is killed (SIGKILL) when this process ends: for short-lived helpers such as the
    /// capability probe's QEMU, never for a domain's QEMU, which must outlive the daemon.
    public var killedWithParent = false
    /// `cgroup.procs` files the child joins (writes itself into) before it executes.
    public var cgroupProcsFiles: [String] = []
    /// The child's locked-memory limit (RLIMIT_MEMLOCK, soft and hard) in bytes, set before it drops its ids;
    /// `UInt64.max`: unlimited; nil: the daemon's limit is inherited.
    public var maxMemLock: UInt64?

    public init(binary: String, arguments: [String], logPath: String, pidfilePath: String? = nil,
                passFDs: [Int32] = [], environment: [String] = [], credentials: ProcessCredentials? = nil,
                umask: mode_t? = nil) {
        self.binary = binary
        self.arguments = arguments
        self.logPath = logPath
        self.pidfilePath = pidfilePath
        self.passFDs = passFDs
        self.environment = environment
        self.credentials = credentials
        self.umask = umask
    }

    /// The environment the child gets.
    /// A variable of ``environment`` replaces the base one of the same name (getenv returns the first match,
    /// so a duplicate would be ignored).
    public var fullEnvironment: [String] {
        let names = Set(environment.map { $0.prefix { $0 != "=" } })
        let base = ["LC_ALL=C", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/"]
        return base.filter { !names.contains($0.prefix { $0 != "=" }) } + environment
    }
}

/// A QEMU process (or any long-lived helper), launched detached: its own session, stdin from /dev/null,
/// stdout and stderr appended to a log file, so it outlives the daemon that started it. Its exit is awaited
/// by ``ProcessExitWaiter``, never polled.
public final class QEMUProcess: Sendable {
    public let pid: pid_t
    /// Completes when the process ends.
    public let exitWaiter: ProcessExitWaiter
    /// The log file, and its size before this launch (so errors can quote only this run's output).
    public let logPath: String
    public let logOffset: Int

    private init(pid: pid_t, isChild: Bool, logPath: String, logOffset: Int) {
        self.pid = pid
        self.exitWaiter = ProcessExitWaiter(pid: pid, isChild: isChild)
        self.logPath = logPath
        self.logOffset = logOffset
    }

    /// Makes this process a child subreaper, so orphaned descendants are reparented to it (and must be
    /// reaped by it) rather than to PID 1. The daemon calls this once at start.
    public static func becomeSubreaper() throws(VirtError) {
        try LinuxSys.setChildSubreaper()
    }

    /// Takes over a process that is already running and is not our child (after a daemon restart).
    public static func attach(pid: pid_t, logPath: String) -> QEMUProcess {
        QEMUProcess(pid: pid, isChild: false, logPath: logPath, logOffset: fileSize(logPath))
    }

    /// Launches `spec`.
    public static func launch(_ spec: ProcessLaunchSpec) throws(VirtError) -> QEMUProcess {
        let logFD = open(spec.logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard logFD >= 0 else { throw VirtError.lastSystemError("cannot open log file '\(spec.logPath)'") }
        defer { close(logFD) }
        let offset = fileSize(spec.logPath)
        let env = spec.fullEnvironment
        let header = "\(timestamp()): starting up\n"
            + (env + [spec.binary] + spec.arguments).map(shellQuote).joined(separator: " \\\n") + "\n"
        _ = LinuxSys.writeAll(fdFile: logFD, Array(header.utf8))

        let nullFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard nullFD >= 0 else { throw VirtError.lastSystemError("cannot open /dev/null") }
        defer { close(nullFD) }
        let pid = try spawn(spec, environment: env, fds: [nullFD, logFD, logFD] + spec.passFDs)
        let process = QEMUProcess(pid: pid, isChild: true, logPath: spec.logPath, logOffset: offset)
        if let pidfile = spec.pidfilePath {
            do {
                // Runtime state, as the status files: no fsync (the process it names does not outlive the host),
                // and an fsync here sat on every start's critical path (8 ms measured during a restore).
                try LinuxSys.writeFileAtomically(pidfile, "\(pid)\n", mode: 0o644, durable: false)
            } catch {
                kill(pid, SIGKILL)
                throw error
            }
        }
        return process
    }

    /// Starts the child (``swiftvirt_spawn``): `fds[i]` becomes its descriptor i, it gets a session of its own
    /// and, when the spec says so, the user's ids. The pid is registered with the orphan reaper under its lock
    /// before the child can be seen exiting, so the reaper never collects this child's exit.
    private static func spawn(_ spec: ProcessLaunchSpec, environment env: [String], fds: [Int32])
        throws(VirtError) -> pid_t {
        let cargv: [UnsafeMutablePointer<CChar>?] = ([spec.binary] + spec.arguments).map { strdup($0) } + [nil]
        let cenv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { for p in cargv + cenv { free(p) } }
        let creds = spec.credentials
        let groups = creds?.groups ?? []
        // The cgroup files are opened here; the child writes into them before exec.
        var cgroupFDs: [Int32] = []
        defer { for fd in cgroupFDs { close(fd) } }
        for f in spec.cgroupProcsFiles {
            let fd = open(f, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw VirtError.systemError("Unable to write to '\(f)'", errno: errno, domain: .cgroup) }
            cgroupFDs.append(fd)
        }
        var pid: pid_t = -1
        var stage: Int32 = 0
        let rc = spec.binary.withCString { path in
            cargv.withUnsafeBufferPointer { argv in
                cenv.withUnsafeBufferPointer { envp in
                    fds.withUnsafeBufferPointer { fdp in
                        groups.withUnsafeBufferPointer { gp in
                            cgroupFDs.withUnsafeBufferPointer { cg in
                                var req = swiftvirt_spawn_request(
                                    path: path, argv: argv.baseAddress, envp: envp.baseAddress,
                                    fds: fdp.baseAddress, nfds: Int32(fds.count), new_session: 1,
                                    change_ids: creds == nil ? 0 : 1, uid: creds?.uid ?? 0, gid: creds?.gid ?? 0,
                                    groups: gp.baseAddress, ngroups: Int32(groups.count),
                                    umask: spec.umask.map { Int32($0) } ?? -1,
                                    parent_death_signal: spec.killedWithParent ? SIGKILL : 0,
                                    cgroup_fds: cg.baseAddress, ncgroup_fds: Int32(cgroupFDs.count),
                                    set_memlock: spec.maxMemLock == nil ? 0 : 1,
                                    memlock_bytes: spec.maxMemLock ?? 0)
                                return OrphanReaper.managed.withLock { set -> Int32 in
                                    let rc = swiftvirt_spawn(&req, &pid, &stage)
                                    if rc == 0 { set.insert(pid) }
                                    return rc
                                }
                            }
                        }
                    }
                }
            }
        }
        guard rc == 0 else { throw spawnError(spec, errno: rc, stage: stage, childPID: pid) }
        return pid
    }

    /// The error for a failed step of the child's set-up, naming the user where one was to be taken.
    static func spawnError(_ spec: ProcessLaunchSpec, errno rc: Int32, stage: Int32, childPID: pid_t = -1) -> VirtError {
        if UInt32(stage) == SWIFTVIRT_SPAWN_RLIMIT.rawValue {
            // libvirt's words, from its child before exec; its figure for "unlimited" is its unlimited memory
            // parameter (VIR_DOMAIN_MEMORY_PARAM_UNLIMITED).
            let limit = spec.maxMemLock.map { $0 == UInt64.max ? "9007199254740991" : String($0) } ?? ""
            let text = "Process exited prior to exec: libvirt:  error : cannot limit locked memory of process "
                + "\(childPID) to \(limit): \(String(cString: strerror(rc)))"
            return VirtError(.internalError, domain: .none, "internal error: " + text, str1: text)
        }
        let who = spec.credentials.map { " as \($0.uid):\($0.gid)" } ?? ""
        let what: String
        switch UInt32(stage) {
        case SWIFTVIRT_SPAWN_SETGROUPS.rawValue:
            what = "cannot set supplementary groups \(spec.credentials?.groups.map(String.init).joined(separator: ",") ?? "")"
                + " for binary \(spec.binary)"
        case SWIFTVIRT_SPAWN_SETGID.rawValue:
            what = "cannot change to group \(spec.credentials?.gid ?? 0) for binary \(spec.binary)"
        case SWIFTVIRT_SPAWN_SETUID.rawValue:
            what = "cannot change to user \(spec.credentials?.uid ?? 0) for binary \(spec.binary)"
        case SWIFTVIRT_SPAWN_EXEC.rawValue:
            what = "cannot execute binary \(spec.binary)\(who)"
        case SWIFTVIRT_SPAWN_SETSID.rawValue:
            what = "cannot start a new session for binary \(spec.binary)"
        case SWIFTVIRT_SPAWN_CGROUP.rawValue:
            what = "cannot join the cgroups of binary \(spec.binary)"
        case SWIFTVIRT_SPAWN_FDS.rawValue:
            what = "cannot pass descriptors to binary \(spec.binary)"
        default:
            what = "cannot fork child process for binary \(spec.binary)"
        }
        return VirtError.systemError(what, errno: rc, domain: .qemu)
    }

    /// Sends `signal`; false when the process is gone.
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        if exitWaiter.result != nil { return false }
        return kill(pid, signal) == 0
    }

    /// Ends the process: SIGTERM, up to `grace` for it to exit, then SIGKILL; returns once it has exited.
    @discardableResult
    public func terminate(grace: Duration = .seconds(10)) async -> ProcessTermination {
        if let r = exitWaiter.result { return r }
        signal(SIGTERM)
        if let r = await exitWaiter.wait(timeout: grace) { return r }
        signal(SIGKILL)
        return await exitWaiter.wait()
    }

    /// This run's output in the log file (after our header), trimmed.
    public func logOutput() -> String {
        guard let all = LinuxSys.readFile(logPath) else { return "" }
        let bytes = Array(all.utf8)
        let mine = bytes.count > logOffset ? String(decoding: bytes[logOffset...], as: UTF8.self) : ""
        // Drop our own header (everything up to and including the command line's last line).
        var lines = mine.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let first = lines.first, first.hasSuffix(": starting up") {
            lines.removeFirst()
            while let l = lines.first, l.hasSuffix(" \\") { lines.removeFirst() }
            if !lines.isEmpty { lines.removeFirst() }
        }
        // libvirt leaves out QEMU's notes about pty chardevs (qemuProcessReadLog).
        lines.removeAll { $0.hasPrefix("char device redirected to") }
        return lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Appends a note to the log file.
    public func note(_ text: String) {
        Self.appendNote(logPath, text)
    }

    /// Appends a timestamped line to a log file.
    public static func appendNote(_ logPath: String, _ text: String) {
        let fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        _ = LinuxSys.writeAll(fdFile: fd, Array("\(timestamp()): \(text)\n".utf8))
        close(fd)
    }

    /// True when `pid` exists and is not a zombie (a zombie answers `kill(pid, 0)` but is dead).
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard pid > 0, let stat = LinuxSys.readFile("/proc/\(pid)/stat") else { return false }
        guard let close = stat.lastIndex(of: ")") else { return false }
        let rest = stat[stat.index(after: close)...].drop(while: { $0 == " " })
        guard let state = rest.first else { return false }
        return state != "Z" && state != "X"
    }

    /// The CPU time the process has used (user + system), in nanoseconds; 0 when it is gone.
    public static func cpuTimeNanoseconds(of pid: pid_t) -> UInt64 {
        guard let stat = LinuxSys.readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return 0 }
        // Fields after the command: state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let u = UInt64(fields[11]), let s = UInt64(fields[12]) else { return 0 }
        let hz = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        return (u + s) * 1_000_000_000 / hz
    }

    /// The executable path of a running process, for checking that a pid still names our QEMU.
    public static func executable(of pid: pid_t) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d.%03d+0000", Int(tmv.tm_year) + 1900, Int(tmv.tm_mon) + 1,
                      Int(tmv.tm_mday), Int(tmv.tm_hour), Int(tmv.tm_min), Int(tmv.tm_sec), Int(tv.tv_usec / 1000))
    }

    static func shellQuote(_ s: String) -> String {
        let safe = s.allSatisfy { $0.isLetter || $0.isNumber || "-_=/.,:@+%".contains($0) }
        if safe && !s.isEmpty { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
