import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn with a clean signal state (empty mask, default handlers), so
/// daemons started from the test runner's threads handle SIGTERM/SIGCHLD as they would from a shell.
final class SpawnedProcess {
    let pid: pid_t
    private var exited = false
    /// The raw wait status once reaped.
    private(set) var waitStatus: Int32?

    init(_ path: String, _ args: [String], output: String = "/dev/null") throws {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var p = pid_t()
        let rc = posix_spawn(&p, path, &actions, &attr, argv, environ)
        guard rc == 0 else { throw DaemonError.notStarted("\(path): posix_spawn \(rc)") }
        pid = p
    }

    var isRunning: Bool {
        if exited { return false }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { waitStatus = status }
        if r == pid || r < 0 { exited = true }
        return !exited
    }

    /// SIGTERM to `signalPID` (default: this process), SIGKILL after 5 s, then reaped.
    func terminate(signalPID: pid_t? = nil) {
        guard isRunning else { return }
        let target = signalPID ?? pid
        kill(target, SIGTERM)
        let end = Date().addingTimeInterval(5)
        while isRunning && Date() < end { usleep(10_000) }
        if isRunning {
            kill(target, SIGKILL)
            if target != pid {
                let end2 = Date().addingTimeInterval(2)
                while isRunning && Date() < end2 { usleep(10_000) }
                if isRunning { kill(pid, SIGKILL) }
            }
        }
        if !exited {
            var status: Int32 = 0
            if waitpid(pid, &status, 0) == pid { waitStatus = status }
            exited = true
        }
    }

    deinit { terminate() }
}
