import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion and collects its output, spawned with `posix_spawn` and a clean signal state.
///
/// Foundation's `Process` lets the child inherit the test runner's blocked signals; virsh's save and managedsave
/// then never see their job finish. Here the child gets an empty signal mask and default handlers. Standard input
/// is a pipe that stays open and silent while the child runs (virsh watches it for Ctrl-C and spins on end of
/// file). A child still running after the time limit is killed (by its pid) and reported as an error.
enum ChildProcess {
    struct Result {
        var stdout: String
        var stderr: String
        var status: Int32
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        var timedOut = false
    }

    static func run(_ argv: [String], environment: [String: String], timeLimitSeconds: Int) throws -> Result {
        try spawn(argv, environment: environment).finish(timeLimitSeconds: timeLimitSeconds)
    }

    /// Starts the program; collect its output and status with `finish`, or end it with `terminate`.
    static func spawn(_ argv: [String], environment: [String: String]) throws -> Running {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw Failure(description: "pipe failed: \(errno)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in inPipe + outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }

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

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        close(inPipe[0])
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1])
            close(outPipe[0])
            close(errPipe[0])
            throw Failure(description: "posix_spawn \(argv[0]) failed: \(rc)")
        }
        return Running(argv: argv, pid: pid, stdin: inPipe[1], stdout: outPipe[0], stderr: errPipe[0])
    }

    /// A started child.
    final class Running {
        let argv: [String]
        let pid: pid_t
        private let stdin: Int32
        private let stdout: Int32
        private let stderr: Int32
        private var finished = false
        private var exitStatus: Int32?

        /// Whether the child has exited (it is reaped then; `finish` still collects the output).
        func hasExited() -> Bool {
            if exitStatus != nil { return true }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                exitStatus = status
                return true
            }
            return false
        }

        init(argv: [String], pid: pid_t, stdin: Int32, stdout: Int32, stderr: Int32) {
            self.argv = argv
            self.pid = pid
            self.stdin = stdin
            self.stdout = stdout
            self.stderr = stderr
        }

        /// Sends SIGTERM and collects what is left.
        func terminate() {
            guard !finished else { return }
            kill(pid, SIGTERM)
            _ = try? finish(timeLimitSeconds: 10)
        }

        /// Reads both outputs to their end and waits for the exit (killing the child past the limit).
        func finish(timeLimitSeconds: Int) throws -> Result {
            defer { close(stdin) }
            finished = true
            var out = [UInt8](), err = [UInt8]()
            var fds = [pollfd(fd: stdout, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stderr, events: Int16(POLLIN), revents: 0)]
            var open = 2
            var buffer = [UInt8](repeating: 0, count: 65536)
            let deadline = Date().addingTimeInterval(TimeInterval(timeLimitSeconds))
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
                    let got = buffer.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, 65536) }
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
            var status: Int32 = exitStatus ?? 0
            if exitStatus == nil {
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            }
            if timedOut {
                throw Failure(description: "\(argv) did not finish within \(timeLimitSeconds) s and was killed",
                              timedOut: true)
            }
            let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            return Result(stdout: String(decoding: out, as: UTF8.self),
                          stderr: String(decoding: err, as: UTF8.self), status: exitCode)
        }
    }
}
