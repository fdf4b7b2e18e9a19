import CSpawn
import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The driver's cgroup settings (qemu.conf's `cgroup_controllers`): nil or empty, no cgroups.
public struct QEMUCgroupConfig: Sendable, Hashable {
    public var controllers: Set<CgroupController>
    public var mounts: CgroupMounts

    public init(controllers: Set<CgroupController> = Set(CgroupController.allCases), mounts: CgroupMounts = .detect()) {
        self.controllers = controllers
        self.mounts = mounts
    }
}

/// One domain's cgroup, placed as libvirt places it without systemd: `PARTITION/qemu-ID-NAME.libvirt-qemu` in
/// every hierarchy (partition `/machine` unless `<resource>` names another), with sub-groups `emulator` and
/// `vcpuN` in the CPU controllers for QEMU's threads.
struct QEMUCgroup: Sendable {
    let backends: [any CgroupBackend]
    /// The group's path relative to each hierarchy root, without a leading slash.
    let rel: String

    /// libvirt's machine name (virDomainDriverGenerateMachineName without systemd): `qemu-ID-NAME`, the name
    /// reduced to characters valid in a machine name.
    static func machineName(id: Int32, name: String) -> String {
        var out = "qemu-\(id)-"
        var lastHyphen = true
        for c in name.unicodeScalars {
            guard c.isASCII, CharacterSet.alphanumerics.contains(c) || c == "-" || c == "_" || c == "." else { continue }
            if c == "-" && lastHyphen { continue }
            lastHyphen = c == "-"
            out.unicodeScalars.append(c)
            if out.count >= 64 { break }
        }
        while out.hasSuffix("-") || out.hasSuffix(".") { out.removeLast() }
        return out
    }

    /// libvirt's virCgroupPartitionEscape for one path component.
    static func escape(_ s: String) -> String {
        let reserved = CgroupController.allCases.map { $0.rawValue + "." } + ["cgroup.", "tasks", "notify_on_release",
                                                                               "release_agent"]
        if s.hasPrefix("_") || s.hasPrefix(".") || reserved.contains(where: { s.hasPrefix($0) }) { return "_" + s }
        return s
    }

    static func relativePath(partition: String, id: Int32, name: String) -> String {
        let parts = partition.split(separator: "/").map { escape(String($0)) }
        return (parts + [escape(machineName(id: id, name: name) + ".libvirt-qemu")]).joined(separator: "/")
    }

    /// The partition `<resource>` names, else `/machine`.
    static func partition(of def: DomainDefinition) -> String {
        def.extraElements.first { $0.name == "resource" }?.child("partition")?.text ?? "/machine"
    }

    /// Creates the group (and its partition) in every backend.
    static func create(_ config: QEMUCgroupConfig, partition: String, id: Int32, name: String)
        throws(VirtError) -> QEMUCgroup {
        let g = QEMUCgroup(backends: config.mounts.backends(wanted: config.controllers),
                           rel: relativePath(partition: partition, id: id, name: name))
        for b in g.backends { try b.create(g.rel, thread: false) }
        return g
    }

    /// The group a previous daemon made for this QEMU, if its directories are there (reconnect).
    static func adopt(partition: String, id: Int32, name: String, pid: pid_t) -> QEMUCgroup? {
        // Only a group the QEMU is really in.
        let mine = LinuxSys.readFile("/proc/\(pid)/cgroup") ?? ""
        guard let g = located(partition: partition, id: id, name: name), mine.contains("/" + g.rel) else { return nil }
        return g
    }

    /// The group's directories where they exist (the backends of the controllers it was made in).
    static func located(partition: String, id: Int32, name: String) -> QEMUCgroup? {
        let rel = relativePath(partition: partition, id: id, name: name)
        let all = QEMUCgroupConfig()
        var backends: [any CgroupBackend] = []
        for b in all.mounts.backends(wanted: all.controllers) {
            if let v1 = b as? CgroupV1Backend {
                let present = v1.mounts.filter { access($0.value + "/" + rel, F_OK) == 0 }
                if !present.isEmpty { backends.append(CgroupV1Backend(mounts: present)) }
            } else if b.directories(rel).allSatisfy({ access($0, F_OK) == 0 }) {
                backends.append(b)
            }
        }
        return backends.isEmpty ? nil : QEMUCgroup(backends: backends, rel: rel)
    }

    /// `cgroup.procs` of every hierarchy: QEMU's child writes `0` into each before it executes.
    var joinFiles: [String] { backends.flatMap { $0.procsFiles(rel) } }

    /// libvirt's qemuProcessSetupEmulator and qemuProcessSetupVcpus: QEMU (all its threads) into `emulator`,
    /// then each vCPU thread into `vcpuN`, in the backends with CPU controllers.
    func placeThreads(pid: pid_t, vcpus: [Int: pid_t]) throws(VirtError) {
        for b in backends where !b.controllers.isDisjoint(with: [.cpu, .cpuacct, .cpuset]) {
            try b.create(rel + "/emulator", thread: true)
            try b.addProcess(rel + "/emulator", pid: pid, thread: true)
            for (i, tid) in vcpus.sorted(by: { $0.key < $1.key }) {
                try b.create(rel + "/vcpu\(i)", thread: true)
                try b.addThread(rel + "/vcpu\(i)", tid: tid)
            }
        }
    }

    /// A vCPU hot-plugged while QEMU runs (libvirt's qemuProcessSetupVcpu): its thread into a `vcpuN` of its own.
    func placeVcpu(_ index: Int, tid: pid_t) throws(VirtError) { try placeThread("vcpu\(index)", tid: tid) }

    /// The `vcpuN` group of an unplugged vCPU goes (libvirt's virCgroupDelThread).
    func removeVcpu(_ index: Int) { removeThreadGroup("vcpu\(index)") }

    /// An IOThread's thread into `iothreadN` (libvirt's qemuProcessSetupIOThread, at start and on iothreadadd).
    func placeIOThread(_ id: UInt32, tid: pid_t) throws(VirtError) { try placeThread("iothread\(id)", tid: tid) }

    /// The `iothreadN` group of a deleted IOThread goes.
    func removeIOThread(_ id: UInt32) { removeThreadGroup("iothread\(id)") }

    /// A thread into a sub-group of its own, in the backends with CPU controllers.
    private func placeThread(_ sub: String, tid: pid_t) throws(VirtError) {
        for b in backends where !b.controllers.isDisjoint(with: [.cpu, .cpuacct, .cpuset]) {
            try b.create(rel + "/" + sub, thread: true)
            try b.addThread(rel + "/" + sub, tid: tid)
        }
    }

    private func removeThreadGroup(_ sub: String) {
        for b in backends where !b.controllers.isDisjoint(with: [.cpu, .cpuacct, .cpuset]) {
            _ = b.remove(rel + "/" + sub)
        }
    }

    /// Removes the group and everything under it (libvirt's virCgroupRemove).
    func remove() {
        for b in backends { b.remove(rel) }
    }

    /// Every directory of the group (tests, logs).
    var directories: [String] { backends.flatMap { $0.directories(rel) } }

    // MARK: Files by controller

    private func backend(_ c: CgroupController) throws(VirtError) -> (any CgroupBackend, String) {
        for b in backends { if let d = b.directory(rel, for: c) { return (b, d) } }
        throw VirtError.operationInvalid("cgroup \(c.rawValue) controller is not mounted", domain: .qemu)
    }

    func has(_ c: CgroupController) -> Bool { backends.contains { $0.controllers.contains(c) } }

    private static func isV2(_ b: any CgroupBackend) -> Bool { b is CgroupV2Backend }

    private func read(_ c: CgroupController, _ sub: String?, _ file: String) throws(VirtError) -> String {
        let (_, d) = try backend(c)
        return try CgroupV1Backend.read(d + (sub.map { "/" + $0 } ?? "") + "/" + file)
    }

    private func write(_ c: CgroupController, _ sub: String?, _ file: String, _ value: String) throws(VirtError) {
        let (_, d) = try backend(c)
        try CgroupV1Backend.write(d + (sub.map { "/" + $0 } ?? "") + "/" + file, value)
    }

    // MARK: CPU

    /// The range libvirt's cgroup backends accept for shares (v1 cpu.shares) or weight (v2 cpu.weight).
    func sharesRange() throws(VirtError) -> ClosedRange<UInt64> {
        Self.isV2(try backend(.cpu).0) ? 1...10_000 : 2...262_144
    }

    func cpuShares() throws(VirtError) -> UInt64 {
        let (b, _) = try backend(.cpu)
        return UInt64(try read(.cpu, nil, Self.isV2(b) ? "cpu.weight" : "cpu.shares")) ?? 0
    }

    func setCPUShares(_ v: UInt64) throws(VirtError) {
        let range = try sharesRange()
        guard range.contains(v) else {
            throw VirtError.invalidArg("shares '\(v)' must be in range [\(range.lowerBound), \(range.upperBound)]",
                                       domain: .cgroup)
        }
        let (b, _) = try backend(.cpu)
        try write(.cpu, nil, Self.isV2(b) ? "cpu.weight" : "cpu.shares", String(v))
    }

    /// CFS period and quota of the group or of a sub-group (`emulator`, `vcpu0`).
    func bandwidth(_ sub: String?) throws(VirtError) -> (period: UInt64, quota: Int64) {
        let (b, _) = try backend(.cpu)
        if Self.isV2(b) {
            let f = try read(.cpu, sub, "cpu.max").split(separator: " ")
            let period = f.count > 1 ? UInt64(f[1]) ?? 0 : 0
            return (period, f.first == "max" ? -1 : Int64(f.first ?? "") ?? -1)
        }
        return (UInt64(try read(.cpu, sub, "cpu.cfs_period_us")) ?? 0, Int64(try read(.cpu, sub, "cpu.cfs_quota_us")) ?? -1)
    }

    func setPeriod(_ sub: String?, _ period: UInt64) throws(VirtError) {
        let (b, _) = try backend(.cpu)
        if Self.isV2(b) {
            let q = try bandwidth(sub).quota
            try write(.cpu, sub, "cpu.max", "\(q < 0 ? "max" : String(q)) \(period)")
        } else {
            try write(.cpu, sub, "cpu.cfs_period_us", String(period))
        }
    }

    func setQuota(_ sub: String?, _ quota: Int64) throws(VirtError) {
        let (b, _) = try backend(.cpu)
        if Self.isV2(b) {
            try write(.cpu, sub, "cpu.max", quota < 0 ? "max" : String(quota))
        } else {
            try write(.cpu, sub, "cpu.cfs_quota_us", String(quota < 0 ? -1 : quota))
        }
    }

    /// The sub-groups of the vCPUs that exist.
    func vcpuGroups() -> [String] { numberedGroups("vcpu") }

    /// The sub-groups of the IOThreads that exist.
    func iothreadGroups() -> [String] { numberedGroups("iothread") }

    /// `PREFIXN` sub-groups in the order of N.
    private func numberedGroups(_ prefix: String) -> [String] {
        guard let (_, d) = try? backend(.cpu) else { return [] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []
        return names.filter { $0.hasPrefix(prefix) && Int($0.dropFirst(prefix.count)) != nil }.sorted {
            Int($0.dropFirst(prefix.count)) ?? 0 < Int($1.dropFirst(prefix.count)) ?? 0
        }
    }

    func hasSubgroup(_ sub: String) -> Bool {
        guard let (_, d) = try? backend(.cpu) else { return false }
        return access(d + "/" + sub, F_OK) == 0
    }

    /// cpuacct: total, user and system CPU time in nanoseconds (v1 cpuacct.usage and cpuacct.stat in ticks;
    /// v2 cpu.stat in microseconds).
    func cpuTimes() -> (total: UInt64, user: UInt64, system: UInt64)? {
        guard let (b, d) = try? backend(.cpuacct) else { return nil }
        if Self.isV2(b) {
            guard let text = LinuxSys.readFile(d + "/cpu.stat") else { return nil }
            var v: [String: UInt64] = [:]
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count == 2 { v[String(f[0])] = UInt64(f[1]) }
            }
            guard let u = v["usage_usec"] else { return nil }
            return (u * 1000, (v["user_usec"] ?? 0) * 1000, (v["system_usec"] ?? 0) * 1000)
        }
        guard let total = LinuxSys.readFile(d + "/cpuacct.usage").flatMap({ UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }),
              let stat = LinuxSys.readFile(d + "/cpuacct.stat") else { return nil }
        let hz = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        var user: UInt64 = 0, system: UInt64 = 0
        for line in stat.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 2, let n = UInt64(f[1]) else { continue }
            if f[0] == "user" { user = n * 1_000_000_000 / hz }
            if f[0] == "system" { system = n * 1_000_000_000 / hz }
        }
        return (total, user, system)
    }

    // MARK: Memory

    /// `VIR_DOMAIN_MEMORY_PARAM_UNLIMITED`.
    static let unlimitedKiB: UInt64 = 9_007_199_254_740_991

    enum MemoryLimit: String { case hard, soft, swap }

    private func memoryFile(_ l: MemoryLimit, v2: Bool) -> String {
        switch l {
        case .hard: v2 ? "memory.max" : "memory.limit_in_bytes"
        case .soft: v2 ? "memory.high" : "memory.soft_limit_in_bytes"
        case .swap: v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes"
        }
    }

    /// A limit in KiB, ``unlimitedKiB`` for none (v1's page-rounded maximum counts as none, as libvirt's).
    func memoryLimit(_ l: MemoryLimit) throws(VirtError) -> UInt64 {
        let (b, _) = try backend(.memory)
        let text = try read(.memory, nil, memoryFile(l, v2: Self.isV2(b)))
        guard text != "max", let bytes = UInt64(text) else { return Self.unlimitedKiB }
        let kib = bytes >> 10
        return kib >= 9_007_199_254_740_988 ? Self.unlimitedKiB : kib
    }

    func setMemoryLimit(_ l: MemoryLimit, kib: UInt64) throws(VirtError) {
        let (b, _) = try backend(.memory)
        let v2 = Self.isV2(b)
        let value = kib >= Self.unlimitedKiB ? (v2 ? "max" : "-1") : String(kib << 10)
        try write(.memory, nil, memoryFile(l, v2: v2), value)
    }

    // MARK: Block I/O

    /// The weight file: BFQ's where the kernel has it (`blkio.bfq.weight`, `io.bfq.weight`), else CFQ's; with
    /// neither (no bfq or cfq I/O scheduler) libvirt's refusal.
    private func weightFile() throws(VirtError) -> (String, v2: Bool) {
        let (b, d) = try backend(.blkio)
        let v2 = Self.isV2(b)
        let bfq = v2 ? "io.bfq.weight" : "blkio.bfq.weight"
        if access(d + "/" + bfq, F_OK) == 0 { return (bfq, v2) }
        let cfq = v2 ? "io.weight" : "blkio.weight"
        if access(d + "/" + cfq, F_OK) == 0 { return (cfq, v2) }
        throw VirtError.operationInvalid("blkio device weight is valid only for bfq or cfq scheduler", domain: .cgroup)
    }

    func blkioWeight() throws(VirtError) -> UInt32 {
        let (file, _) = try weightFile()
        let text = try read(.blkio, nil, file)
        // v2 writes "default N" (and per-device lines).
        let first = text.split(separator: "\n").first.map(String.init) ?? text
        return UInt32(first.split(separator: " ").last ?? "") ?? 0
    }

    func setBlkioWeight(_ w: UInt32) throws(VirtError) {
        let (file, v2) = try weightFile()
        try write(.blkio, nil, file, v2 && file == "io.weight" ? "default \(w)" : String(w))
    }

    enum DeviceLimit: CaseIterable { case weight, readIops, writeIops, readBytes, writeBytes }

    /// Sets one per-device value ("MAJ:MIN value"; v2 io.max keys).
    func setDevice(_ kind: DeviceLimit, path: String, value: UInt64) throws(VirtError) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw VirtError.systemError("Unable to stat '\(path)'", errno: errno, domain: .cgroup)
        }
        guard st.st_mode & S_IFMT == S_IFBLK else {
            throw VirtError.invalidArg("Path '\(path)' must be a block device", domain: .cgroup)
        }
        let dev = "\(major(st.st_rdev)):\(minor(st.st_rdev))"
        let (b, d) = try backend(.blkio)
        if Self.isV2(b) {
            if kind == .weight {
                try write(.blkio, nil, "io.weight", "\(dev) \(value)")
                return
            }
            let key = [DeviceLimit.readIops: "riops", .writeIops: "wiops", .readBytes: "rbps", .writeBytes: "wbps"][kind] ?? ""
            try write(.blkio, nil, "io.max", "\(dev) \(key)=\(value == 0 ? "max" : String(value))")
            return
        }
        let file: String
        switch kind {
        case .weight:
            file = "blkio.weight_device"
            if access(d + "/" + file, F_OK) != 0 {
                throw VirtError.operationInvalid("blkio device weight is valid only for cfq scheduler", domain: .cgroup)
            }
        case .readIops: file = "blkio.throttle.read_iops_device"
        case .writeIops: file = "blkio.throttle.write_iops_device"
        case .readBytes: file = "blkio.throttle.read_bps_device"
        case .writeBytes: file = "blkio.throttle.write_bps_device"
        }
        try write(.blkio, nil, file, "\(dev) \(value)")
    }

    // MARK: Devices

    /// libvirt's default `cgroup_device_acl` (qemu.conf).
    static let defaultDeviceACL = ["/dev/null", "/dev/full", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/ptmx",
                                   "/dev/kvm"]

    /// libvirt's qemuSetupDevicesCgroup: everything denied, then the default ACL, PTYs (`c 136:* rw`) and the
    /// domain's block devices allowed. v1: `devices.deny a`, then `devices.allow` lines; v2 (the devices
    /// controller of this kind of host): a BPF device program attached to the group, as libvirt's
    /// vircgroupv2devices. False when no backend has the devices controller.
    @discardableResult
    func setDeviceACL(_ paths: [(path: String, readOnly: Bool)]) throws(VirtError) -> Bool {
        guard let b = backends.first(where: { $0.controllers.contains(.devices) }),
              let d = b.directory(rel, for: .devices) else { return false }
        var rules: [swiftvirt_dev_rule] = []
        for (path, ro) in Self.defaultDeviceACL.map({ ($0, false) }) + paths {
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            let kind = st.st_mode & S_IFMT
            guard kind == S_IFCHR || kind == S_IFBLK else { continue }
            rules.append(swiftvirt_dev_rule(type: CChar(UInt8(ascii: kind == S_IFCHR ? "c" : "b")),
                                            major: Int32(major(st.st_rdev)), minor: Int32(minor(st.st_rdev)),
                                            access: ro ? 2 : 6))
        }
        rules.append(swiftvirt_dev_rule(type: CChar(UInt8(ascii: "c")), major: 136, minor: -1, access: 6))
        if Self.isV2(b) {
            let rc = rules.withUnsafeBufferPointer { swiftvirt_devcg_attach(d, $0.baseAddress, Int32($0.count)) }
            if rc != 0 {
                throw VirtError.systemError("failed to attach cgroup BPF prog to '\(d)'", errno: rc, domain: .cgroup)
            }
            return true
        }
        try CgroupV1Backend.write(d + "/devices.deny", "a")
        for r in rules {
            let minor = r.minor < 0 ? "*" : String(r.minor)
            let line = "\(r.type == CChar(UInt8(ascii: "c")) ? "c" : "b") \(r.major):\(minor) \(r.access == 2 ? "r" : "rw")"
            try CgroupV1Backend.write(d + "/devices.allow", line)
        }
        return true
    }

    /// Device programs attached to the group's v2 directory (0 without a v2 devices controller).
    func devicePrograms() -> Int {
        guard let b = backends.first(where: { $0.controllers.contains(.devices) }), Self.isV2(b),
              let d = b.directory(rel, for: .devices) else { return 0 }
        return Int(swiftvirt_devcg_count(d))
    }

    private func major(_ d: dev_t) -> UInt32 { UInt32((d >> 8) & 0xfff) | UInt32((d >> 32) & ~0xfff) }
    private func minor(_ d: dev_t) -> UInt32 { UInt32(d & 0xff) | UInt32((d >> 12) & ~0xff) }
}
