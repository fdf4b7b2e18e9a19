import Foundation
import VirtQEMU
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The one way the test suites run another program: spawned with `posix_spawn` and a clean signal state, output
/// captured (or appended to a file), a time limit, and always reaped.
///
/// Foundation's `Process` lets the child inherit the test runner's blocked signals (virsh's save and managedsave
/// then never see their job finish, daemons ignore SIGTERM); here the child gets an empty signal mask, default
/// handlers, and only its standard descriptors (every other descriptor is closed in the child, so a pipe of one
/// test never leaks into a process of a concurrent one and holds its reader open).
///
/// - ``run(_:environment:input:timeLimit:)`` runs a program to completion and collects stdout, stderr and the
///   exit status; past the time limit the child is killed and ``Failure`` (`timedOut`) is thrown.
/// - ``spawn(_:environment:input:output:)`` starts a long-lived child (a daemon, a listener); end it with
///   ``terminate(signalPID:grace:)`` (SIGTERM, SIGKILL after the grace period, reaped) or collect it with
///   ``finish(timeLimit:)``. An instance that is dropped terminates its child.
public final class ChildProcess: Sendable {
    /// What the child reads on standard input.
    public enum Input: Sendable {
        /// /dev/null.
        case null
        /// A pipe that stays open and silent while the child runs (virsh watches stdin for Ctrl-C and spins on
        /// end of file); closed by ``finish(timeLimit:)`` or ``terminate(signalPID:grace:)``.
        case open
        /// These bytes, then end of file (empty: end of file at once).
        case data(Data)

        /// The text in UTF-8, then end of file.
        public static func text(_ s: String) -> Input { .data(Data(s.utf8)) }
    }

    /// Where the child's standard output and error go.
    public enum Output: Sendable {
        /// Captured through pipes; collected by ``finish(timeLimit:)``.
        case capture
        /// Both appended to this file (created if needed).
        case file(String)
        /// /dev/null.
        case null
    }

    /// How a run ended.
    public struct Result: Sendable, Equatable {
        public var stdout: String
        public var stderr: String
        /// The exit code, or 128 + the signal number when a signal ended the child (as a shell reports it).
        public var status: Int32
        /// The raw wait status.
        public var waitStatus: Int32
    }

    /// A child that could not be started, or did not end within its time limit (it was killed then).
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public var timedOut = false
    }

    /// The argument vector (`argv[0]` is the program's path).
    public let argv: [String]
    public let pid: pid_t

    private struct State {
        var stdin: Int32 = -1
        var stdout: Int32 = -1
        var stderr: Int32 = -1
        var waitStatus: Int32?
    }
    private let state: Mutex<State>

    private init(argv: [String], pid: pid_t, state: State) {
        self.argv = argv
        self.pid = pid
        self.state = Mutex(state)
    }

    deinit { terminate() }

    // MARK: Running to completion

    /// Runs `argv` to completion. `environment` nil: the test runner's own. Past `timeLimit` seconds the child
    /// is killed with SIGKILL and ``Failure`` with `timedOut` is thrown, so a hang fails the test, not the run.
    @discardableResult
    public static func run(_ argv: [String], environment: [String: String]? = nil, input: Input = .data(Data()),
                           timeLimit: Double = 60) throws -> Result {
        try spawn(argv, environment: environment, input: input, output: .capture).finish(timeLimit: timeLimit)
    }

    /// The test runner's environment with `adding` set and `removing` taken out.
    public static func environment(adding: [String: String] = [:], removing: [String] = []) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for k in removing { env.removeValue(forKey: k) }
        for (k, v) in adding { env[k] = v }
        return env
    }

    // MARK: Long-lived children

    /// Starts `argv`; see the type's description. `environment` nil: the test runner's own.
    public static func spawn(_ argv: [String], environment: [String: String]? = nil, input: Input = .null,
                             output: Output = .null) throws -> ChildProcess {
        guard let path = argv.first else { throw Failure(description: "empty argument vector") }
        var opened: [Int32] = []
        func makePipe() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [-1, -1]
            guard GNU.pipe2(&fds, O_CLOEXEC) == 0 else {
                let e = errno
                opened.forEach { close($0) }
                throw Failure(description: "pipe failed: \(String(cString: strerror(e)))")
            }
            opened += fds
            return (fds[0], fds[1])
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var st = State()
        var childEnds: [Int32] = []
        switch input {
        case .null:
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .open, .data:
            let p = try makePipe()
            posix_spawn_file_actions_adddup2(&actions, p.read, 0)
            childEnds.append(p.read)
            st.stdin = p.write
        }
        switch output {
        case .capture:
            let o = try makePipe(), e = try makePipe()
            posix_spawn_file_actions_adddup2(&actions, o.write, 1)
            posix_spawn_file_actions_adddup2(&actions, e.write, 2)
            childEnds += [o.write, e.write]
            st.stdout = o.read
            st.stderr = e.read
        case .file(let file):
            posix_spawn_file_actions_addopen(&actions, 1, file, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        case .null:
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        // Nothing but 0, 1 and 2 reaches the child (descriptors of the runner without O_CLOEXEC included).
        GNU.addCloseFrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let env = environment ?? ProcessInfo.processInfo.environment
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        // Registered with the QEMU driver's orphan reaper (the test process can be a subreaper), so that it
        // never collects this child's exit before we do.
        var rc: Int32 = 0
        _ = OrphanReaper.spawnManaged {
            rc = posix_spawn(&pid, path, &actions, &attributes, cArgs, cEnv)
            return rc == 0 ? pid : -1
        }
        childEnds.forEach { close($0) }
        guard rc == 0 else {
            [st.stdin, st.stdout, st.stderr].filter { $0 >= 0 }.forEach { close($0) }
            throw Failure(description: "posix_spawn \(path) failed: \(String(cString: strerror(rc)))")
        }
        if case .data(let bytes) = input {
            let fd = st.stdin
            st.stdin = -1
            writeAndClose(fd, bytes)
        }
        return ChildProcess(argv: argv, pid: pid, state: st)
    }

    /// Writes `bytes` to `fd` on a thread of its own (so a child that answers before it reads cannot block the
    /// test), then closes it. SIGPIPE is blocked on that thread: a child that exits early gives EPIPE.
    private static func writeAndClose(_ fd: Int32, _ bytes: Data) {
        guard !bytes.isEmpty else {
            close(fd)
            return
        }
        Thread.detachNewThread {
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            bytes.withUnsafeBytes { raw in
                var off = 0
                while off < raw.count {
                    let n = write(fd, raw.baseAddress.map { $0 + off }, raw.count - off)
                    if n > 0 { off += n } else if n < 0 && errno == EINTR { continue } else { break }
                }
            }
            close(fd)
        }
    }

    /// Whether the child still runs (not yet exited; an exited child is reaped here).
    public var isRunning: Bool {
        state.withLock { st in
            if st.waitStatus != nil { return false }
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                st.waitStatus = status
            } else if r < 0 && errno == ECHILD {
                st.waitStatus = -1
            }
            return st.waitStatus == nil
        }
    }

    /// The raw wait status once the child is reaped.
    public var waitStatus: Int32? { state.withLock { $0.waitStatus } }

    /// Reads the captured outputs to their end and waits for the exit. Past `timeLimit` seconds the child is
    /// killed with SIGKILL, reaped, and ``Failure`` (`timedOut`) is thrown.
    public func finish(timeLimit: Double = 60) throws -> Result {
        let (stdinFD, outFD, errFD) = state.withLock { st in
            defer { st.stdin = -1; st.stdout = -1; st.stderr = -1 }
            return (st.stdin, st.stdout, st.stderr)
        }
        defer { if stdinFD >= 0 { close(stdinFD) } }
        var out = [UInt8](), err = [UInt8]()
        var fds = [pollfd(fd: outFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)]
        var open = fds.filter { $0.fd >= 0 }.count
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeLimit)
        var timedOut = false
        while open > 0 {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 {
                timedOut = true
                break
            }
            let n = poll(&fds, nfds_t(fds.count), Int32(min(left, 1) * 1000))
            if n < 0 && errno != EINTR { break }
            for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
                let got = buffer.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if got > 0 {
                    if i == 0 { out += buffer[0..<got] } else { err += buffer[0..<got] }
                } else if got == 0 || errno != EINTR {
                    close(fds[i].fd)
                    fds[i].fd = -1
                    open -= 1
                }
            }
        }
        for f in fds where f.fd >= 0 { close(f.fd) }
        if timedOut { kill(pid, SIGKILL) }
        // Without captured output, the time limit bounds the wait for the exit itself.
        while !timedOut && isRunning {
            if deadline.timeIntervalSinceNow <= 0 {
                timedOut = true
                kill(pid, SIGKILL)
                break
            }
            usleep(10_000)
        }
        let status = reap()
        if timedOut {
            throw Failure(description: "\(argv) did not finish within \(timeLimit) s and was killed", timedOut: true)
        }
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self),
                      status: exitCode, waitStatus: status)
    }

    /// Ends the child: SIGTERM to `signalPID` (default: the child itself), SIGKILL after `grace` seconds, and
    /// the child reaped. When `signalPID` is another process (a daemon under `tini`), the child gets SIGKILL
    /// too if it has not exited 2 s after that process got it. Does nothing once the child has been reaped.
    public func terminate(signalPID: pid_t? = nil, grace: Double = 5) {
        defer { closeDescriptors() }
        guard isRunning else { return }
        let target = signalPID ?? pid
        kill(target, SIGTERM)
        let end = Date().addingTimeInterval(grace)
        while isRunning && Date() < end { usleep(10_000) }
        if isRunning {
            kill(target, SIGKILL)
            if target != pid {
                let end2 = Date().addingTimeInterval(2)
                while isRunning && Date() < end2 { usleep(10_000) }
                if isRunning { kill(pid, SIGKILL) }
            }
        }
        _ = reap()
    }

    /// SIGKILL, and reaped.
    public func kill9() {
        if isRunning { kill(pid, SIGKILL) }
        terminate()
    }

    /// Waits for the exit (blocking) unless already reaped; returns the raw wait status.
    private func reap() -> Int32 {
        state.withLock { st in
            if let s = st.waitStatus { return s }
            var status: Int32 = 0
            while true {
                let r = waitpid(pid, &status, 0)
                if r == pid {
                    OrphanReaper.release(pid)
                    break
                }
                if r < 0 && errno == EINTR { continue }
                status = -1
                break
            }
            st.waitStatus = status
            return status
        }
    }

    private func closeDescriptors() {
        state.withLock { st in
            for fd in [st.stdin, st.stdout, st.stderr] where fd >= 0 { close(fd) }
            st.stdin = -1
            st.stdout = -1
            st.stderr = -1
        }
    }
}

/// glibc functions the Glibc module does not import (they need _GNU_SOURCE), looked up by name.
private enum GNU {
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name)
    }

    /// pipe2(2); without it, pipe(2) and FD_CLOEXEC set at once.
    static func pipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32 {
        if let sym = symbol("pipe2") { return unsafeBitCast(sym, to: Pipe2.self)(fds, flags) }
        guard pipe(fds) == 0 else { return -1 }
        for fd in [fds[0], fds[1]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return 0
    }

    /// posix_spawn_file_actions_addclosefrom_np (glibc 2.34); without it, descriptors 3 to 1023 are closed.
    static func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) {
        if let sym = symbol("posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(sym, to: CloseFrom.self)(actions, from)
            return
        }
        for fd in from..<1024 { posix_spawn_file_actions_addclose(actions, fd) }
    }
}
