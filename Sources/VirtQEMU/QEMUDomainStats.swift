import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// `virConnectGetAllDomainStats` for QEMU domains: the groups state, cpu-total, balloon, vcpu, interface,
/// block, perf (the counts of the events enabled with perf_event_open), iothread, dirtyrate and vm (memory gives
/// nothing here, as on libvirtd without resctrl), with the field names and typed-parameter types libvirt 9.0 gives (observed against Debian's
/// libvirtd on the same QEMU). Values of a running domain come from /proc (the QEMU process and its vCPU
/// threads; no per-domain cgroups here, as libvirtd without cgroups) and from QMP (query-balloon,
/// query-cpus-fast, query-stats, query-blockstats, query-named-block-nodes, query-iothreads, query-dirty-rate).
enum QEMUDomainStats {
    /// The stats groups this driver answers: every group libvirt 9.0 knows. memory (no resctrl
    /// memory-bandwidth monitoring) gives no fields, as libvirtd's gives none on such a host.
    static let supported: UInt32 = 0x7FF

    /// What a running domain's QEMU tells over QMP for one stats call (each part optional: a command that
    /// fails leaves its fields out, as libvirt does).
    struct Live {
        var pid: pid_t
        var balloonActual: UInt64?
        var vcpuThreads: [Int: Int32] = [:]
        /// query-stats per vCPU index: (name, suffix, value).
        var kvmVcpuStats: [Int: [(String, JSONValue)]] = [:]
        var blockStats: [String: JSONValue] = [:]
        var blockNodes: [String: JSONValue] = [:]
        var balloonLastUpdate: UInt64?
        /// The guest's balloon statistics (libvirt's names, values as libvirt reports them).
        var balloonGuestStats: [(String, UInt64)] = []
        /// query-stats for the VM (provider kvm): (name.suffix, value).
        var kvmVMStats: [(String, JSONValue)] = []
        var dirtyRate: JSONValue?
        var iothreads: [JSONValue]?
        /// The cgroup's cpuacct figures (total, user, system; ns), which libvirt prefers to /proc.
        var cgroupCPU: (total: UInt64, user: UInt64, system: UInt64)?
        /// The counts of the enabled perf events (`perf.NAME`), in libvirt's order.
        var perfCounts: [(String, UInt64)] = []
    }

    // MARK: /proc

    /// utime, stime (ns) and rss (pages) of a process or thread from its stat file.
    static func procStat(_ path: String) -> (user: UInt64, system: UInt64, rss: UInt64)? {
        guard let stat = LinuxSys.readFile(path), let close = stat.lastIndex(of: ")") else { return nil }
        // After the command: field 3 (state) is index 0; utime 14 → 11, stime 15 → 12, rss 24 → 21.
        let f = stat[stat.index(after: close)...].split(separator: " ")
        guard f.count > 21, let u = UInt64(f[11]), let s = UInt64(f[12]) else { return nil }
        let hz = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        return (u * 1_000_000_000 / hz, s * 1_000_000_000 / hz, UInt64(f[21]) ?? 0)
    }

    /// The run delay (ns) of a thread from its schedstat file.
    static func runDelay(_ pid: pid_t, _ tid: Int32) -> UInt64 {
        guard let s = LinuxSys.readFile("/proc/\(pid)/task/\(tid)/schedstat") else { return 0 }
        let f = s.split(whereSeparator: { $0 == " " || $0 == "\n" })
        return f.count > 1 ? UInt64(f[1]) ?? 0 : 0
    }

    /// The wait time (ns) of a thread from its sched file ("wait_sum", in ms), 0 without schedstats.
    static func waitSum(_ pid: pid_t, _ tid: Int32) -> UInt64 {
        guard let s = LinuxSys.readFile("/proc/\(pid)/task/\(tid)/sched") else { return 0 }
        for line in s.split(separator: "\n") where line.contains("wait_sum") {
            if let v = line.split(separator: ":").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) {
                return UInt64(max(v, 0) * 1_000_000)
            }
        }
        return 0
    }

    /// rx/tx counters of a host network device from /proc/net/dev: 16 numbers (rx bytes, packets, errs, drop,
    /// …, tx bytes, packets, errs, drop, …).
    static func netDev(_ name: String) -> [UInt64]? {
        guard let text = LinuxSys.readFile("/proc/net/dev") else { return nil }
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"),
                  line[..<colon].trimmingCharacters(in: .whitespaces) == name else { continue }
            let nums = line[line.index(after: colon)...].split(separator: " ").compactMap { UInt64($0) }
            return nums.count >= 12 ? nums : nil
        }
        return nil
    }

    /// Size and allocated bytes of a file; for qcow2, the virtual size from its header.
    static func imageSizes(_ path: String) -> (capacity: UInt64, physical: UInt64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        let size = UInt64(max(st.st_size, 0))
        var capacity = size
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            var hdr = [UInt8](repeating: 0, count: 32)
            let n = hdr.withUnsafeMutableBytes { read(fd, $0.baseAddress, 32) }
            close(fd)
            if n == 32, hdr[0] == 0x51, hdr[1] == 0x46, hdr[2] == 0x49, hdr[3] == 0xFB {
                capacity = hdr[24..<32].reduce(0) { $0 << 8 | UInt64($1) }
            }
        }
        return (capacity, size)
    }

    // MARK: QMP

    /// Asks QEMU for everything the wanted groups need.
    static func query(_ mon: QMPMonitor, pid: pid_t, wanted: UInt32, balloonAlias: String?) async -> Live {
        var live = Live(pid: pid)
        if wanted & (StatsTypes.balloon.rawValue | StatsTypes.cpuTotal.rawValue) != 0,
           let b = try? await mon.execute("query-balloon"), let a = b["actual"]?.intValue {
            live.balloonActual = UInt64(max(a, 0))
        }
        if wanted & StatsTypes.balloon.rawValue != 0, let alias = balloonAlias,
           let g = try? await mon.execute("qom-get", arguments: ["path": .string("/machine/peripheral/" + alias),
                                                                  "property": "guest-stats"]),
           let lu = g["last-update"]?.intValue {
            live.balloonLastUpdate = UInt64(max(lu, 0))
            // A value of -1 means the guest does not report it; memory sizes are bytes, reported in KiB.
            let names: [(String, String, UInt64)] = [
                ("stat-swap-in", "swap_in", 1024), ("stat-swap-out", "swap_out", 1024),
                ("stat-major-faults", "major_fault", 1), ("stat-minor-faults", "minor_fault", 1),
                ("stat-free-memory", "unused", 1024), ("stat-total-memory", "available", 1024),
                ("stat-available-memory", "usable", 1024), ("stat-disk-caches", "disk_caches", 1024),
                ("stat-htlb-pgalloc", "hugetlb_pgalloc", 1), ("stat-htlb-pgfail", "hugetlb_pgfail", 1),
            ]
            for (key, name, div) in names {
                if let v = g["stats"]?[key]?.intValue, v >= 0 { live.balloonGuestStats.append((name, UInt64(v) / div)) }
            }
        }
        if wanted & (StatsTypes.vcpu.rawValue | StatsTypes.cpuTotal.rawValue) != 0 {
            var pathToIndex: [String: Int] = [:]
            if let cpus = try? await mon.execute("query-cpus-fast"), let arr = cpus.arrayValue {
                for c in arr {
                    guard let idx = c["cpu-index"]?.intValue else { continue }
                    if let tid = c["thread-id"]?.intValue { live.vcpuThreads[Int(idx)] = Int32(truncatingIfNeeded: tid) }
                    if let p = c["qom-path"]?.stringValue { pathToIndex[p] = Int(idx) }
                }
            }
            for (path, list) in await kvmStats(mon, target: "vcpu") {
                if let idx = pathToIndex[path] { live.kvmVcpuStats[idx] = list }
            }
        }
        if wanted & StatsTypes.vm.rawValue != 0 {
            let vm = await kvmStats(mon, target: "vm")
            live.kvmVMStats = vm.first?.1 ?? []
        }
        if wanted & StatsTypes.dirtyRate.rawValue != 0 {
            live.dirtyRate = try? await mon.execute("query-dirty-rate")
        }
        if wanted & StatsTypes.iothread.rawValue != 0 {
            live.iothreads = (try? await mon.execute("query-iothreads"))?.arrayValue
        }
        if wanted & StatsTypes.block.rawValue != 0 {
            if let bs = try? await mon.execute("query-blockstats"), let arr = bs.arrayValue {
                for e in arr {
                    if let qdev = e["qdev"]?.stringValue { live.blockStats[qdev] = e }
                }
            }
            if let nodes = try? await mon.execute("query-named-block-nodes", arguments: ["flat": true]),
               let arr = nodes.arrayValue {
                for n in arr { if let name = n["node-name"]?.stringValue { live.blockNodes[name] = n } }
            }
        }
        return live
    }

    /// query-stats for a target ("vcpu" or "vm", provider kvm) per qom-path (empty for the VM), named as
    /// libvirt does: NAME.sum (cumulative), NAME.cur (instant), NAME.max (peak); histograms are left out.
    static func kvmStats(_ mon: QMPMonitor, target: String) async -> [(String, [(String, JSONValue)])] {
        guard let schemas = try? await mon.execute("query-stats-schemas"), let sarr = schemas.arrayValue,
              let stats = try? await mon.execute("query-stats",
                                                 arguments: ["target": .string(target), "providers": [["provider": "kvm"]]]),
              let arr = stats.arrayValue else { return [] }
        var kinds: [String: String] = [:]
        for p in sarr where p["provider"]?.stringValue == "kvm" {
            if let t = p["target"]?.stringValue, t != target { continue }
            for s in p["stats"]?.arrayValue ?? [] {
                guard let n = s["name"]?.stringValue, let t = s["type"]?.stringValue else { continue }
                switch t {
                case "cumulative": kinds[n] = "sum"
                case "instant": kinds[n] = "cur"
                case "peak": kinds[n] = "max"
                default: break
                }
            }
        }
        var out: [(String, [(String, JSONValue)])] = []
        for e in arr {
            let path = e["qom-path"]?.stringValue ?? ""
            var list: [(String, JSONValue)] = []
            for s in e["stats"]?.arrayValue ?? [] {
                guard let n = s["name"]?.stringValue, let k = kinds[n], let v = s["value"] else { continue }
                list.append((n + "." + k, v))
            }
            out.append((path, list))
        }
        return out
    }

    // MARK: Records

    /// The stats of one domain: `def` is the live definition of a running domain, else the persistent one.
    static func params(def: DomainDefinition, status: DomainStatus, live: Live?, wanted: UInt32) -> [TypedParam] {
        var p: [TypedParam] = []
        if wanted & StatsTypes.state.rawValue != 0 {
            p.append(TypedParam("state.state", .int(status.state.rawValue)))
            p.append(TypedParam("state.reason", .int(status.reason)))
        }
        if wanted & StatsTypes.cpuTotal.rawValue != 0 { cpu(&p, live: live) }
        if wanted & StatsTypes.balloon.rawValue != 0 {
            let current = live?.balloonActual.map { $0 / 1024 } ?? def.currentMemory
            p.append(TypedParam("balloon.current", .ullong(current)))
            p.append(TypedParam("balloon.maximum", .ullong(def.memory)))
            if let live {
                for (n, v) in live.balloonGuestStats { p.append(TypedParam("balloon.\(n)", .ullong(v))) }
                if let lu = live.balloonLastUpdate { p.append(TypedParam("balloon.last-update", .ullong(lu))) }
                if let st = procStat("/proc/\(live.pid)/stat") {
                    p.append(TypedParam("balloon.rss", .ullong(st.rss * UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 1)) / 1024)))
                }
            }
        }
        if wanted & StatsTypes.vcpu.rawValue != 0 { vcpu(&p, def: def, live: live) }
        if wanted & StatsTypes.interface.rawValue != 0, live != nil { interfaces(&p, def: def) }
        if wanted & StatsTypes.block.rawValue != 0 { block(&p, def: def, live: live) }
        if let live {
            if wanted & StatsTypes.perf.rawValue != 0 {
                for (n, v) in live.perfCounts { p.append(TypedParam("perf.\(n)", .ullong(v))) }
            }
            if wanted & StatsTypes.iothread.rawValue != 0 { iothreads(&p, live.iothreads ?? []) }
            if wanted & StatsTypes.dirtyRate.rawValue != 0, let d = live.dirtyRate { dirtyRate(&p, d) }
            if wanted & StatsTypes.vm.rawValue != 0 { kvm(&p, prefix: "vm", live.kvmVMStats) }
        }
        return p
    }

    private static func cpu(_ p: inout [TypedParam], live: Live?) {
        guard let live else {
            // libvirtd 9.0 reports cpu.* for a shut-off domain too (read from a process that is not the
            // domain's); we give the same fields with zero, the domain having used no CPU.
            p.append(TypedParam("cpu.time", .ullong(0)))
            p.append(TypedParam("cpu.user", .ullong(0)))
            p.append(TypedParam("cpu.system", .ullong(0)))
            return
        }
        // As libvirt's qemuDomainGetStatsCpu: the cgroup's cpuacct when the domain has one, else /proc.
        if let c = live.cgroupCPU {
            p.append(TypedParam("cpu.time", .ullong(c.total)))
            p.append(TypedParam("cpu.user", .ullong(c.user)))
            p.append(TypedParam("cpu.system", .ullong(c.system)))
        } else {
            let st = procStat("/proc/\(live.pid)/stat")
            p.append(TypedParam("cpu.time", .ullong((st?.user ?? 0) + (st?.system ?? 0))))
            p.append(TypedParam("cpu.user", .ullong(st?.user ?? 0)))
            p.append(TypedParam("cpu.system", .ullong(st?.system ?? 0)))
        }
        // No resctrl monitoring groups here.
        p.append(TypedParam("cpu.cache.monitor.count", .uint(0)))
        if !live.kvmVcpuStats.isEmpty {
            var success: UInt64 = 0, fail: UInt64 = 0
            for list in live.kvmVcpuStats.values {
                for (n, v) in list {
                    if n == "halt_poll_success_ns.sum" { success &+= UInt64(max(v.intValue ?? 0, 0)) }
                    if n == "halt_poll_fail_ns.sum" { fail &+= UInt64(max(v.intValue ?? 0, 0)) }
                }
            }
            p.append(TypedParam("cpu.haltpoll.success.time", .ullong(success)))
            p.append(TypedParam("cpu.haltpoll.fail.time", .ullong(fail)))
        }
    }

    private static func vcpu(_ p: inout [TypedParam], def: DomainDefinition, live: Live?) {
        let current = def.currentVcpus ?? def.vcpus
        p.append(TypedParam("vcpu.current", .uint(current)))
        p.append(TypedParam("vcpu.maximum", .uint(def.vcpus)))
        guard let live else { return }
        for i in def.onlineVcpuIDs {
            let tid = live.vcpuThreads[i]
            p.append(TypedParam("vcpu.\(i).state", .int(1)))  // VIR_VCPU_RUNNING: the vCPU is online
            let st = tid.flatMap { procStat("/proc/\(live.pid)/task/\($0)/stat") }
            p.append(TypedParam("vcpu.\(i).time", .ullong((st?.user ?? 0) + (st?.system ?? 0))))
            p.append(TypedParam("vcpu.\(i).wait", .ullong(tid.map { waitSum(live.pid, $0) } ?? 0)))
            p.append(TypedParam("vcpu.\(i).delay", .ullong(tid.map { runDelay(live.pid, $0) } ?? 0)))
            kvm(&p, prefix: "vcpu.\(i)", live.kvmVcpuStats[i] ?? [])
        }
    }

    private static func kvm(_ p: inout [TypedParam], prefix: String, _ list: [(String, JSONValue)]) {
        for (n, v) in list {
            switch v {
            case .bool(let b): p.append(TypedParam("\(prefix).\(n)", .boolean(b)))
            case .int(let x): p.append(TypedParam("\(prefix).\(n)", .ullong(UInt64(bitPattern: x))))
            default: break
            }
        }
    }

    private static func iothreads(_ p: inout [TypedParam], _ list: [JSONValue]) {
        guard !list.isEmpty else { return }
        p.append(TypedParam("iothread.count", .uint(UInt32(list.count))))
        for t in list {
            guard let id = t["id"]?.stringValue, let n = UInt32(id.drop { !$0.isNumber }) else { continue }
            func u(_ k: String) -> Int64 { max(t[k]?.intValue ?? 0, 0) }
            p.append(TypedParam("iothread.\(n).poll-max-ns", .ullong(UInt64(u("poll-max-ns")))))
            p.append(TypedParam("iothread.\(n).poll-grow", .uint(UInt32(truncatingIfNeeded: u("poll-grow")))))
            p.append(TypedParam("iothread.\(n).poll-shrink", .uint(UInt32(truncatingIfNeeded: u("poll-shrink")))))
        }
    }

    /// query-dirty-rate: status unstarted 0, measuring 1, measured 2 (libvirt's virDomainDirtyRateStatus).
    private static func dirtyRate(_ p: inout [TypedParam], _ d: JSONValue) {
        let status: Int32 = switch d["status"]?.stringValue { case "measuring": 1; case "measured": 2; default: 0 }
        p.append(TypedParam("dirtyrate.calc_status", .int(status)))
        p.append(TypedParam("dirtyrate.calc_start_time", .llong(d["start-time"]?.intValue ?? 0)))
        p.append(TypedParam("dirtyrate.calc_period", .int(Int32(truncatingIfNeeded: d["calc-time"]?.intValue ?? 0))))
        if let mode = d["mode"]?.stringValue { p.append(TypedParam("dirtyrate.calc_mode", .string(mode))) }
        if status == 2, let r = d["dirty-rate"]?.intValue {
            p.append(TypedParam("dirtyrate.megabytes_per_second", .llong(r)))
        }
    }

    private static func interfaces(_ p: inout [TypedParam], def: DomainDefinition) {
        let nets = def.devices.interfaces
        p.append(TypedParam("net.count", .uint(UInt32(nets.count))))
        for (i, n) in nets.enumerated() {
            guard let name = n.targetDev, !name.isEmpty else { continue }
            p.append(TypedParam("net.\(i).name", .string(name)))
            guard let c = netDev(name) else { continue }
            // A tap device's host side sees the guest's transmit as receive: swapped, as libvirt does.
            let rx = Array(c[8..<12]), tx = Array(c[0..<4])
            for (k, v) in zip(["bytes", "pkts", "errs", "drop"], rx) { p.append(TypedParam("net.\(i).rx.\(k)", .ullong(v))) }
            for (k, v) in zip(["bytes", "pkts", "errs", "drop"], tx) { p.append(TypedParam("net.\(i).tx.\(k)", .ullong(v))) }
        }
    }

    private static func block(_ p: inout [TypedParam], def: DomainDefinition, live: Live?) {
        let disks = def.devices.disks
        p.append(TypedParam("block.count", .uint(UInt32(disks.count))))
        for (i, d) in disks.enumerated() {
            p.append(TypedParam("block.\(i).name", .string(d.target.dev)))
            if let path = d.source.path, !path.isEmpty { p.append(TypedParam("block.\(i).path", .string(path))) }
            guard let live else {
                if let path = d.source.path, let s = imageSizes(path) {
                    p.append(TypedParam("block.\(i).capacity", .ullong(s.capacity)))
                    p.append(TypedParam("block.\(i).physical", .ullong(s.physical)))
                }
                continue
            }
            guard d.source.path != nil else { continue }
            p.append(TypedParam("block.\(i).backingIndex", .uint(1)))
            let entry = d.info.alias.flatMap { alias in
                live.blockStats.first { $0.key.hasPrefix("/machine/peripheral/\(alias)/") || $0.key == alias }?.value
            }
            if let s = entry?["stats"] {
                func u(_ k: String) -> UInt64 { UInt64(max(s[k]?.intValue ?? 0, 0)) }
                let fields: [(String, String)] = [
                    ("rd.reqs", "rd_operations"), ("rd.bytes", "rd_bytes"), ("rd.times", "rd_total_time_ns"),
                    ("wr.reqs", "wr_operations"), ("wr.bytes", "wr_bytes"), ("wr.times", "wr_total_time_ns"),
                    ("fl.reqs", "flush_operations"), ("fl.times", "flush_total_time_ns"),
                ]
                for (name, key) in fields { p.append(TypedParam("block.\(i).\(name)", .ullong(u(key)))) }
                p.append(TypedParam("block.\(i).allocation", .ullong(u("wr_highest_offset"))))
            }
            let node = entry?["node-name"]?.stringValue.flatMap { live.blockNodes[$0] }
            if let img = node?["image"], let cap = img["virtual-size"]?.intValue {
                p.append(TypedParam("block.\(i).capacity", .ullong(UInt64(max(cap, 0)))))
                p.append(TypedParam("block.\(i).physical", .ullong(UInt64(max(img["actual-size"]?.intValue ?? 0, 0)))))
            } else if let path = d.source.path, let s = imageSizes(path) {
                p.append(TypedParam("block.\(i).capacity", .ullong(s.capacity)))
                p.append(TypedParam("block.\(i).physical", .ullong(s.physical)))
            }
        }
    }
}

extension QEMUDomainObject {
    /// This domain's stats record for the groups in `wanted` (``QEMUDomainStats``).
    func statsParams(wanted: UInt32) async -> [TypedParam] {
        guard isActive, let mon = monitor, let pid = process?.pid else {
            return QEMUDomainStats.params(def: definition, status: status, live: nil, wanted: wanted)
        }
        let def = liveDefinition ?? definition
        var live = await QEMUDomainStats.query(mon, pid: pid, wanted: wanted,
                                               balloonAlias: def.devices.memballoon?.info.alias)
        live.cgroupCPU = cgroup?.cpuTimes()
        if wanted & StatsTypes.perf.rawValue != 0 { live.perfCounts = perf.counts() }
        // The domain may have stopped while QEMU answered; the record then shows what was read.
        return QEMUDomainStats.params(def: def, status: status, live: live, wanted: wanted)
    }

    /// The balloon's current size (KiB) of a running domain from QMP, or nil.
    func balloonCurrentKiB() async -> UInt64? {
        guard isActive, let mon = monitor,
              let b = try? await mon.execute("query-balloon"), let a = b["actual"]?.intValue else { return nil }
        return UInt64(max(a, 0)) / 1024
    }
}

extension QEMUDriverState {
    /// libvirt's filters (active/inactive, persistent/transient, running/paused/shutoff/other), the stats
    /// mask (0: every supported group) and `enforce` (unsupported groups are an error).
    func allDomainStats(domains refs: [DomainRef]?, types: StatsTypes, flags: GetAllDomainStatsFlags) async throws
        -> [DomainStatsRecord] {
        let allowed: UInt32 = 0xFF | (1 << 29) | (1 << 30) | (1 << 31)
        if flags.rawValue & ~allowed != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags.rawValue & ~allowed), function: "qemuConnectGetAllDomainStats",
                                             domain: .qemu)
        }
        var wanted = types.rawValue
        if wanted == 0 {
            wanted = QEMUDomainStats.supported
        } else if flags.contains(.enforceStats), wanted & ~QEMUDomainStats.supported != 0 {
            throw VirtError(.argumentUnsupported, domain: .qemu,
                            "argument unsupported: Stats types bits 0x\(String(wanted & ~QEMUDomainStats.supported, radix: 16)) are not supported by this daemon or QEMU")
        }
        wanted &= QEMUDomainStats.supported
        var objs: [QEMUDomainObject] = []
        if let refs {
            // Unknown domains are skipped, as libvirt's virDomainObjListConvert does.
            objs = refs.compactMap { find(uuid: $0.uuid) }
        } else {
            var sorted: [(Int32, String, QEMUDomainObject)] = []
            for o in allObjects() { sorted.append((await o.id, await o.name, o)) }
            objs = sorted.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
        }
        let f = flags.rawValue
        var out: [DomainStatsRecord] = []
        for o in objs {
            let active = await o.isActive, persistent = await o.persistent, s = await o.status.state
            if f & 3 == 1 && !active || f & 3 == 2 && active { continue }
            if f & 12 == 4 && !persistent || f & 12 == 8 && persistent { continue }
            let stateBits = f & 0xF0
            if stateBits != 0 {
                let ok = (stateBits & 16 != 0 && s == .running) || (stateBits & 32 != 0 && s == .paused)
                    || (stateBits & 64 != 0 && s == .shutoff)
                    || (stateBits & 128 != 0 && s != .running && s != .paused && s != .shutoff)
                if !ok { continue }
            }
            out.append(DomainStatsRecord(domain: await o.ref, params: await o.statsParams(wanted: wanted)))
        }
        return out
    }
}
