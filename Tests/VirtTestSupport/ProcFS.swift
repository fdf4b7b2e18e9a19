import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What /proc says about processes: parents, states, zombies, ids, memory.
public enum ProcFS {
    /// The fields of /proc/PID/status (`Uid`, `Gid`, `Groups`, `CapEff`, …), values as the kernel prints them.
    public static func status(_ pid: pid_t) -> [String: String] {
        var out: [String: String] = [:]
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            out[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    /// `(ppid, state)` of a process from /proc/PID/stat, nil when it is gone (reaped).
    public static func parentAndState(_ pid: pid_t) -> (pid_t, Character)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let ppid = pid_t(fields[1]) else { return nil }
        return (ppid, state)
    }

    /// Alive and not a zombie.
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard let (_, s) = parentAndState(pid) else { return false }
        return s != "Z" && s != "X"
    }

    /// The pids of every process.
    public static func allPIDs() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    }

    /// The zombie children of `parent`.
    public static func zombieChildren(of parent: pid_t) -> [pid_t] {
        allPIDs().filter { pid in
            guard let (ppid, state) = parentAndState(pid) else { return false }
            return ppid == parent && state == "Z"
        }
    }

    /// The real uid of a process.
    public static func uid(of pid: pid_t) -> uid_t? {
        status(pid)["Uid"].flatMap { $0.split(whereSeparator: { $0 == "\t" || $0 == " " }).first }
            .flatMap { uid_t($0) }
    }

    /// Resident set size of a process in KiB (-1 when unknown).
    public static func rssKiB(_ pid: pid_t) -> Int {
        status(pid)["VmRSS"].flatMap { Int($0.split(separator: " ").first ?? "") } ?? -1
    }

    /// The path of a process's executable.
    public static func executable(of pid: pid_t) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
    }

    /// Live QEMU processes whose environment (`environ`) or command line (`cmdline`) contains `text`.
    public static func qemuProcesses(whose file: String = "environ", contains text: String) -> [pid_t] {
        allPIDs().filter { pid in
            guard isAlive(pid), let exe = executable(of: pid), exe.contains("qemu-system"),
                  let data = FileManager.default.contents(atPath: "/proc/\(pid)/\(file)") else { return false }
            return String(decoding: data, as: UTF8.self).contains(text)
        }
    }

    /// `(uid, gid)` of a path.
    public static func owner(_ path: String) -> (uid_t, gid_t)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (st.st_uid, st.st_gid)
    }

    /// Sends `signal` to `pid` only while it still runs the executable named (a path fragment such as
    /// "qemu-system"): a test's clean-up must not hit a stranger that reused the pid of a process already
    /// gone (pids wrap quickly on a host whose pid_max is 32768 during a full run).
    public static func kill(_ pid: pid_t, _ signal: Int32 = SIGKILL, ifExecutable name: String) {
        guard pid > 0, isAlive(pid), executable(of: pid)?.contains(name) == true else { return }
        _ = Glibc.kill(pid, signal)
    }
}
