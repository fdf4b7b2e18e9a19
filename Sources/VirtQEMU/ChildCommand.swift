import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs a short child process to its end with both outputs collected (drained together, so a child filling one
/// pipe cannot block), registered with the daemon's orphan reaper while it runs.
public enum ChildCommand {
    /// The exit status (128+signal when killed), standard output and standard error; nil when it could not start.
    ///
    /// `defaultSignals`: the child starts with no blocked signal and every signal's default action (as
    /// libvirt's virCommand gives its children), for daemons it leaves running (dnsmasq must see SIGHUP and
    /// SIGTERM, which the daemon's threads block).
    public static func run(_ argv: [String], defaultSignals: Bool = false) -> (status: Int32, stdout: String, stderr: String)? {
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard pipe(&out) == 0 else { return nil }
        guard pipe(&err) == 0 else {
            close(out[0])
            close(out[1])
            return nil
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        for fd in out + err { posix_spawn_file_actions_addclose(&actions, fd) }
        let cargv = argv.map { strdup($0) } + [nil]
        defer { for a in cargv { free(a) } }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        if defaultSignals {
            var none = sigset_t()
            sigemptyset(&none)
            var all = sigset_t()
            sigfillset(&all)
            posix_spawnattr_setsigmask(&attr, &none)
            posix_spawnattr_setsigdefault(&attr, &all)
            posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        }
        var pid: pid_t = 0
        var rc: Int32 = 0
        _ = OrphanReaper.spawnManaged {
            rc = posix_spawn(&pid, argv[0], &actions, &attr, cargv, environ)
            return rc == 0 ? pid : -1
        }
        close(out[1])
        close(err[1])
        defer {
            close(out[0])
            close(err[0])
        }
        guard rc == 0 else { return nil }
        // Both pipes drained together, so a child filling one while we read the other cannot block.
        var bufs: [[UInt8]] = [[], []]
        var open = [true, true]
        var chunk = [UInt8](repeating: 0, count: 4096)
        while open[0] || open[1] {
            var fds = [pollfd(fd: open[0] ? out[0] : -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: open[1] ? err[0] : -1, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for i in 0..<2 where open[i] && fds[i].revents != 0 {
                let n = chunk.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    bufs[i].append(contentsOf: chunk[0..<n])
                } else if !(n < 0 && errno == EINTR) {
                    open[i] = false
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        OrphanReaper.release(pid)
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), String(decoding: bufs[0], as: UTF8.self),
                String(decoding: bufs[1], as: UTF8.self))
    }
}
