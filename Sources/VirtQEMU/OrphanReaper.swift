import Dispatch
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Reaps the children of a subreaper daemon that nobody else waits for: descendants of QEMU (or of a helper)
/// that were orphaned and re-parented to this process. The children that ``QEMUProcess`` launched are
/// registered in ``managed`` from before their spawn until their own ``ProcessExitWaiter`` has reaped them,
/// so their exits are never stolen: the reaper only collects zombie children whose pid is not registered.
public enum OrphanReaper {
    /// Pids of children whose exit a ``ProcessExitWaiter`` collects itself. ``QEMUProcess/launch(_:)`` holds
    /// this lock across the child's creation, so a child that dies at once is registered before any scan can see it.
    static let managed = Mutex<Set<pid_t>>([])

    private static let source = Mutex<(any DispatchSourceSignal)?>(nil)

    /// Spawns a child whose exit its owner collects (`spawn` returns the pid, or a negative value when it
    /// failed): the pid is registered before any scan can see it, so the reaper leaves it alone until
    /// ``release(_:)``. For code of this process that runs children of its own beside a subreaper driver.
    public static func spawnManaged(_ spawn: () -> pid_t) -> pid_t {
        managed.withLock { set in
            let pid = spawn()
            if pid > 0 { set.insert(pid) }
            return pid
        }
    }

    /// Ends the registration of ``spawnManaged(_:)`` once the owner has reaped the child.
    public static func release(_ pid: pid_t) {
        _ = managed.withLock { $0.remove(pid) }
    }

    /// Makes this process a child subreaper and starts reaping orphans on every SIGCHLD (once at start too,
    /// for zombies that were already there). Idempotent.
    public static func start() throws(VirtError) {
        try QEMUProcess.becomeSubreaper()
        source.withLock { src in
            guard src == nil else { return }
            // A handler (not SIG_IGN, which would make the kernel discard every child's status) is installed
            // by the dispatch source; the signal must not be blocked for it to arrive.
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGCHLD)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            let s = DispatchSource.makeSignalSource(signal: SIGCHLD, queue: .global())
            s.setEventHandler { _ = reapOrphans() }
            s.resume()
            src = s
        }
        _ = reapOrphans()
    }

    /// Reaps every zombie child that is not registered as managed; returns their pids.
    @discardableResult
    public static func reapOrphans() -> [pid_t] {
        var reaped: [pid_t] = []
        for pid in zombieChildren() {
            let mine = managed.withLock { set -> Bool in
                if set.contains(pid) { return false }
                var status: Int32 = 0
                return waitpid(pid, &status, WNOHANG) == pid
            }
            if mine { reaped.append(pid) }
        }
        return reaped
    }

    /// The pids of this process's children that are zombies, from `/proc/self/task/*/children` (a re-parented
    /// orphan may hang below any thread) and each child's state.
    static func zombieChildren() -> [pid_t] {
        var children = Set<pid_t>()
        if let dir = opendir("/proc/self/task") {
            defer { closedir(dir) }
            while let ent = readdir(dir) {
                let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                guard let tid = Int32(name),
                      let text = LinuxSys.readFile("/proc/self/task/\(tid)/children") else { continue }
                for p in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) { if let v = pid_t(p) { children.insert(v) } }
            }
        }
        return children.filter { pid in
            guard let stat = LinuxSys.readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
            return stat[stat.index(after: close)...].drop(while: { $0 == " " }).first == "Z"
        }.sorted()
    }
}
