import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// libvirt's cgroup controllers (`virCgroupController`), by their v1 names.
public enum CgroupController: String, CaseIterable, Sendable, Hashable {
    case cpu, cpuacct, cpuset, memory, devices, freezer, blkio
}

/// Where the host mounts its cgroup hierarchies, read from /proc/self/mountinfo as libvirt's vircgroup reads
/// the mount table: v1 hierarchies (`cgroup`, a controller per mount option) and the unified one (`cgroup2`).
public struct CgroupMounts: Sendable, Hashable {
    /// v1 controller → mount point.
    public var v1: [CgroupController: String] = [:]
    /// The cgroup2 mount point, if any.
    public var unified: String?

    public init(v1: [CgroupController: String] = [:], unified: String? = nil) {
        self.v1 = v1
        self.unified = unified
    }

    /// Parses mountinfo text (`ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPEROPTS`). Later
    /// lines win, as in libvirt (bind mounts repeat a hierarchy).
    public static func parse(mountinfo: String) -> CgroupMounts {
        var m = CgroupMounts()
        for line in mountinfo.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3 else { continue }
            let point = unescape(String(left[4]))
            switch right[0] {
            case "cgroup":
                let opts = right[2].split(separator: ",").map(String.init)
                for c in CgroupController.allCases where opts.contains(c.rawValue) { m.v1[c] = point }
            case "cgroup2":
                m.unified = point
            default:
                continue
            }
        }
        return m
    }

    /// The mounts this process sees.
    public static func detect() -> CgroupMounts {
        parse(mountinfo: LinuxSys.readFile("/proc/self/mountinfo") ?? "")
    }

    /// mountinfo escapes space, tab, newline and backslash as octal.
    private static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out = ""
        var it = Array(s.unicodeScalars)[...]
        while let c = it.popFirst() {
            if c == "\\", it.count >= 3, let v = UInt8(String(String.UnicodeScalarView(it.prefix(3))), radix: 8) {
                out.unicodeScalars.append(UnicodeScalar(v))
                it = it.dropFirst(3)
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// The backends libvirt 9.0 would use, in its order: the unified hierarchy first (it takes the
    /// controllers listed in its root's `cgroup.controllers`, plus `cpuacct`, which v2 folds into `cpu.stat`,
    /// and `devices`, which v2 does with BPF), then v1 for the controllers still free. On a host with v1
    /// controllers and an empty cgroup2 mount (hybrid) this gives v2 cpuacct+devices and v1 for the rest.
    public func backends(wanted: Set<CgroupController>) -> [any CgroupBackend] {
        var out: [any CgroupBackend] = []
        var taken: Set<CgroupController> = []
        if let unified {
            var ctl: Set<CgroupController> = [.cpuacct, .devices]
            let list = (LinuxSys.readFile(unified + "/cgroup.controllers") ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" })
            for name in list {
                switch name {
                case "cpu": ctl.insert(.cpu)
                case "cpuset": ctl.insert(.cpuset)
                case "memory": ctl.insert(.memory)
                case "io": ctl.insert(.blkio)
                default: break
                }
            }
            // With no v1 hierarchy at all, every controller comes from v2 (a pure v2 host).
            ctl = ctl.intersection(wanted)
            if !ctl.isEmpty {
                out.append(CgroupV2Backend(mount: unified, controllers: ctl))
                taken = ctl
            }
        }
        var v1: [CgroupController: String] = [:]
        for (c, p) in self.v1 where wanted.contains(c) && !taken.contains(c) { v1[c] = p }
        if !v1.isEmpty { out.insert(CgroupV1Backend(mounts: v1), at: 0) }
        return out
    }
}

/// One cgroup hierarchy version. Paths given to it are relative to the hierarchy root (`machine/qemu-1-x…`).
public protocol CgroupBackend: Sendable {
    /// The controllers this backend serves.
    var controllers: Set<CgroupController> { get }
    /// The directories of group `rel` (one per mount).
    func directories(_ rel: String) -> [String]
    /// The directory of `rel` for `controller`, if this backend serves it.
    func directory(_ rel: String, for controller: CgroupController) -> String?
    /// Creates `rel` (and its parents) where missing; a `thread` group holds single threads (vCPUs), with
    /// only the CPU controllers.
    func create(_ rel: String, thread: Bool) throws(VirtError)
    /// The files a process writes `0` into to join `rel` itself (before exec).
    func procsFiles(_ rel: String) -> [String]
    /// Moves a whole process (all its threads) into `rel`.
    func addProcess(_ rel: String, pid: pid_t, thread: Bool) throws(VirtError)
    /// Moves one thread into a thread group `rel`.
    func addThread(_ rel: String, tid: pid_t) throws(VirtError)
    /// Removes `rel` and the groups under it (deepest first); false when something stayed.
    @discardableResult
    func remove(_ rel: String) -> Bool
}

extension CgroupBackend {
    static func write(_ path: String, _ value: String) throws(VirtError) {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw VirtError.systemError("Unable to write to '\(path)'", errno: errno, domain: .cgroup) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if n < 0 { throw VirtError.systemError("Unable to write to '\(path)'", errno: errno, domain: .cgroup) }
    }

    static func read(_ path: String) throws(VirtError) -> String {
        guard let s = LinuxSys.readFile(path) else {
            throw VirtError.systemError("Unable to read from '\(path)'", errno: errno == 0 ? ENOENT : errno, domain: .cgroup)
        }
        return s.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func mkdirs(_ path: String) throws(VirtError) -> Bool {
        if access(path, F_OK) == 0 { return false }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw VirtError.systemError("Unable to create cgroup '\(path)'", errno: errno, domain: .cgroup)
        }
        return true
    }

    /// rmdir of `dir` after its sub-directories, as libvirt's virCgroupRemoveRecursively.
    static func removeRecursively(_ dir: String) -> Bool {
        guard let kids = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return access(dir, F_OK) != 0 }
        var ok = true
        for k in kids {
            var st = stat()
            if lstat(dir + "/" + k, &st) == 0, st.st_mode & S_IFMT == S_IFDIR {
                ok = removeRecursively(dir + "/" + k) && ok
            }
        }
        // A cgroup may take a moment to become empty after its last task exited.
        for attempt in 0..<50 {
            if rmdir(dir) == 0 || errno == ENOENT { return ok }
            if errno != EBUSY || attempt == 49 { return false }
            usleep(20_000)
        }
        return false
    }
}

/// cgroup v1: one hierarchy per controller (or a few co-mounted), groups mirrored in each.
public struct CgroupV1Backend: CgroupBackend {
    public let mounts: [CgroupController: String]
    public var controllers: Set<CgroupController> { Set(mounts.keys) }
    /// The controllers thread groups (emulator, vCPUs) are made in.
    static let threadControllers: Set<CgroupController> = [.cpu, .cpuacct, .cpuset]

    public init(mounts: [CgroupController: String]) { self.mounts = mounts }

    /// Mount points, each once (co-mounted controllers share one), in a stable order.
    private func points(thread: Bool) -> [(CgroupController, String)] {
        var seen: Set<String> = []
        var out: [(CgroupController, String)] = []
        for c in CgroupController.allCases {
            guard let p = mounts[c], !thread || Self.threadControllers.contains(c), seen.insert(p).inserted else { continue }
            out.append((c, p))
        }
        return out
    }

    public func directories(_ rel: String) -> [String] { points(thread: false).map { $0.1 + "/" + rel } }

    public func directory(_ rel: String, for controller: CgroupController) -> String? {
        mounts[controller].map { $0 + "/" + rel }
    }

    public func create(_ rel: String, thread: Bool) throws(VirtError) {
        for (c, mount) in points(thread: thread) {
            var path = mount
            var parent = mount
            for part in rel.split(separator: "/") {
                path += "/" + part
                if try Self.mkdirs(path), mounts[.cpuset] == mount {
                    // A new cpuset group starts empty: it takes its parent's CPUs and memory nodes, as libvirt's
                    // virCgroupV1CpuSetInherit does.
                    for key in ["cpuset.cpus", "cpuset.mems", "cpuset.memory_migrate"] {
                        try Self.write(path + "/" + key, try Self.read(parent + "/" + key))
                    }
                }
                if c == .memory || mounts[.memory] == mount,
                   (try? Self.read(path + "/memory.use_hierarchy")) == "0" {
                    try? Self.write(path + "/memory.use_hierarchy", "1")
                }
                parent = path
            }
        }
    }

    public func procsFiles(_ rel: String) -> [String] { directories(rel).map { $0 + "/cgroup.procs" } }

    public func addProcess(_ rel: String, pid: pid_t, thread: Bool) throws(VirtError) {
        for (_, mount) in points(thread: thread) { try Self.write(mount + "/" + rel + "/cgroup.procs", "\(pid)") }
    }

    public func addThread(_ rel: String, tid: pid_t) throws(VirtError) {
        for (_, mount) in points(thread: true) { try Self.write(mount + "/" + rel + "/tasks", "\(tid)") }
    }

    public func remove(_ rel: String) -> Bool {
        var ok = true
        for d in directories(rel) { ok = Self.removeRecursively(d) && ok }
        return ok
    }
}

/// cgroup v2: one hierarchy; controllers enabled for children through `cgroup.subtree_control`; thread groups
/// (vCPUs, emulator) of `cgroup.type` threaded.
public struct CgroupV2Backend: CgroupBackend {
    public let mount: String
    public let controllers: Set<CgroupController>

    public init(mount: String, controllers: Set<CgroupController>) {
        self.mount = mount
        self.controllers = controllers
    }

    public func directories(_ rel: String) -> [String] { [mount + "/" + rel] }

    public func directory(_ rel: String, for controller: CgroupController) -> String? {
        controllers.contains(controller) ? mount + "/" + rel : nil
    }

    /// The v2 names of the controllers a child is given (`+cpu +memory …`); thread groups get the threaded ones.
    func enableList(thread: Bool) -> [String] {
        var out: [String] = []
        if controllers.contains(.cpu) { out.append("cpu") }
        if controllers.contains(.cpuset) { out.append("cpuset") }
        if !thread {
            if controllers.contains(.memory) { out.append("memory") }
            if controllers.contains(.blkio) { out.append("io") }
        }
        return out
    }

    public func create(_ rel: String, thread: Bool) throws(VirtError) {
        var path = mount
        let parts = rel.split(separator: "/")
        for (i, part) in parts.enumerated() {
            let parent = path
            path += "/" + part
            let last = i == parts.count - 1
            let made = try Self.mkdirs(path)
            guard made else { continue }
            if last && thread {
                try Self.write(path + "/cgroup.type", "threaded")
            }
            // The parent hands its controllers down (a v2 group has only what its parent enables).
            for name in enableList(thread: last && thread) {
                try? Self.write(parent + "/cgroup.subtree_control", "+" + name)
            }
        }
    }

    public func procsFiles(_ rel: String) -> [String] { [mount + "/" + rel + "/cgroup.procs"] }

    public func addProcess(_ rel: String, pid: pid_t, thread: Bool) throws(VirtError) {
        // Into a threaded group a whole process moves through cgroup.procs as well.
        try Self.write(mount + "/" + rel + "/cgroup.procs", "\(pid)")
    }

    public func addThread(_ rel: String, tid: pid_t) throws(VirtError) {
        try Self.write(mount + "/" + rel + "/cgroup.threads", "\(tid)")
    }

    public func remove(_ rel: String) -> Bool { Self.removeRecursively(mount + "/" + rel) }
}
