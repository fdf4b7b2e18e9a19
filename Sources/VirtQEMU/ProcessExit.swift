import Foundation
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// How a process ended.
public enum ProcessTermination: Sendable, Hashable {
    /// Exited with a status code.
    case exited(Int32)
    /// Killed by a signal.
    case signaled(Int32)
    /// Ended, but the status is unknown (the process was not our child, e.g. after a daemon restart).
    case unknown

    init(waitStatus s: Int32) {
        if s & 0x7f == 0 {
            self = .exited((s >> 8) & 0xff)
        } else {
            self = .signaled(s & 0x7f)
        }
    }
}

/// Waits for one process to end, without polling: a dedicated thread blocks in `waitpid` (for a child of
/// ours, which it also reaps) or in `poll` on a pidfd (for any other process). Any number of tasks may
/// await ``wait()``.
public final class ProcessExitWaiter: Sendable {
    private struct State {
        var result: ProcessTermination?
        var waiters: [Int: CheckedContinuation<ProcessTermination?, Never>] = [:]
        var nextWaiter = 0
    }

    /// The process id.
    public let pid: pid_t
    private let state = Mutex(State())

    /// Starts waiting for `pid`. `isChild` selects `waitpid` (reaps the child) rather than a pidfd.
    public init(pid: pid_t, isChild: Bool) {
        self.pid = pid
        Thread.detachNewThread { [self] in
            let result = isChild ? Self.waitChild(pid) : Self.waitForeign(pid)
            self.finish(result)
        }
    }

    private static func waitChild(_ pid: pid_t) -> ProcessTermination {
        // Wait without reaping, then reap and unregister under the orphan reaper's lock, so the pid is never
        // free for reuse while still registered as managed.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
            if errno == EINTR { continue }
            _ = OrphanReaper.managed.withLock { $0.remove(pid) }
            // ECHILD: someone else reaped it (or it was never ours): fall back to the pidfd way.
            return waitForeign(pid)
        }
        let status = OrphanReaper.managed.withLock { set -> Int32? in
            var status: Int32 = 0
            var r: pid_t
            repeat { r = waitpid(pid, &status, WNOHANG) } while r < 0 && errno == EINTR
            set.remove(pid)
            return r == pid ? status : nil
        }
        guard let status else { return .unknown }
        return ProcessTermination(waitStatus: status)
    }

    private static func waitForeign(_ pid: pid_t) -> ProcessTermination {
        let pfd = LinuxSys.pidfdOpen(pid)
        if pfd < 0 {
            return .unknown  // ESRCH: already gone
        }
        defer { close(pfd) }
        var p = pollfd(fd: pfd, events: Int16(POLLIN), revents: 0)
        while poll(&p, 1, -1) < 0 && errno == EINTR {}
        return .unknown
    }

    private func finish(_ result: ProcessTermination) {
        let waiters = state.withLock { s -> [CheckedContinuation<ProcessTermination?, Never>] in
            s.result = result
            let w = Array(s.waiters.values)
            s.waiters = [:]
            return w
        }
        for w in waiters { w.resume(returning: result) }
    }

    /// The termination, once the process has ended.
    public var result: ProcessTermination? { state.withLock { $0.result } }

    /// Returns when the process has ended.
    @discardableResult
    public func wait() async -> ProcessTermination {
        let r: ProcessTermination? = await withCheckedContinuation { c in
            let done = state.withLock { s -> ProcessTermination? in
                if let r = s.result { return r }
                s.nextWaiter += 1
                s.waiters[s.nextWaiter] = c
                return nil
            }
            if let done { c.resume(returning: done) }
        }
        return r ?? .unknown
    }

    /// Waits for the end, or returns nil when the task is cancelled first.
    func waitOrCancel() async -> ProcessTermination? {
        let id = state.withLock { s -> Int in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<ProcessTermination?, Never>) in
                let done = state.withLock { s -> ProcessTermination?? in
                    if let r = s.result { return .some(r) }
                    if Task.isCancelled { return .some(nil) }
                    s.waiters[id] = c
                    return nil
                }
                if let done { c.resume(returning: done) }
            }
        } onCancel: {
            let c = state.withLock { $0.waiters.removeValue(forKey: id) }
            c?.resume(returning: nil)
        }
    }

    /// Waits at most `timeout`; returns nil when the process is still running then.
    public func wait(timeout: Duration) async -> ProcessTermination? {
        if let r = result { return r }
        return await withTaskGroup(of: ProcessTermination?.self) { g in
            g.addTask { await self.waitOrCancel() }
            g.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await g.next() ?? nil
            g.cancelAll()
            return first ?? result
        }
    }
}
