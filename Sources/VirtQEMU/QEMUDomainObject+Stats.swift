import CSpawn
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Per-domain statistics and pinning, as libvirt 9.0's QEMU driver serves them (issue 11): block counters and
/// sizes from query-blockstats and query-named-block-nodes, NIC counters from the host's tap device, the
/// balloon's statistics (query-balloon and its guest-stats QOM property), vCPU placement and affinity of QEMU's
/// vCPU threads (query-cpus-fast), pinning with sched_setaffinity and `<cputune>`.
extension QEMUDomainObject {
    /// The counters libvirt keeps per disk (`qemuBlockStats`).
    struct BlockCounters {
        var rdReq: Int64 = 0, rdBytes: Int64 = 0, wrReq: Int64 = 0, wrBytes: Int64 = 0
        var rdTotalTimes: Int64 = 0, wrTotalTimes: Int64 = 0, flushReq: Int64 = 0, flushTotalTimes: Int64 = 0
        /// How many counters QEMU reported for one device (libvirt's count for BlockStatsFlags' nparams 0).
        var reported = 0

        mutating func add(_ o: BlockCounters) {
            rdReq &+= o.rdReq
            rdBytes &+= o.rdBytes
            wrReq &+= o.wrReq
            wrBytes &+= o.wrBytes
            rdTotalTimes &+= o.rdTotalTimes
            wrTotalTimes &+= o.wrTotalTimes
            flushReq &+= o.flushReq
            flushTotalTimes &+= o.flushTotalTimes
            reported = max(reported, o.reported)
        }
    }

    func requireRunning() throws(VirtError) -> QMPMonitor {
        guard let m = monitor, isActive else {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        return m
    }

    /// The live definition of a running domain, else the persistent one.
    /// The live definition of a running domain, else the persistent one.
    var currentDefinition: DomainDefinition { liveDefinition ?? definition }

    /// query-blockstats keyed by device: the QOM path of the frontend (`/machine/peripheral/ALIAS/…`) and the
    /// device alias.
    private static func blockStatsEntry(_ all: [JSONValue], alias: String) -> JSONValue? {
        all.first { e in
            let qdev = e["qdev"]?.stringValue ?? ""
            return qdev.hasPrefix("/machine/peripheral/\(alias)/") || qdev == "/machine/peripheral/\(alias)"
                || qdev == alias || e["device"]?.stringValue == alias || e["device"]?.stringValue == "drive-" + alias
        }
    }

    private static func counters(_ entry: JSONValue) -> BlockCounters {
        var c = BlockCounters()
        guard let s = entry["stats"] else { return c }
        func v(_ k: String) -> Int64 {
            guard let x = s[k]?.intValue else { return 0 }
            c.reported += 1
            return x
        }
        c.rdBytes = v("rd_bytes")
        c.wrBytes = v("wr_bytes")
        c.rdReq = v("rd_operations")
        c.wrReq = v("wr_operations")
        c.rdTotalTimes = v("rd_total_time_ns")
        c.wrTotalTimes = v("wr_total_time_ns")
        c.flushReq = v("flush_operations")
        c.flushTotalTimes = v("flush_total_time_ns")
        return c
    }

    /// libvirt's `qemuDomainBlocksStatsGather` under a query job: one disk's counters, or (empty `path`) the
    /// sum over all disks.
    func blockCounters(path: String) async throws(VirtError) -> BlockCounters {
        try await beginJob(.query, owner: "blockStats")
        defer { endJob() }
        let m = try requireRunning()
        let def = currentDefinition
        var disks: [Disk] = def.devices.disks
        if !path.isEmpty {
            guard let d = Self.disk(def, path) else { throw VirtError.invalidArg("invalid path: \(path)", domain: .qemu) }
            disks = [d]
        }
        let all = try await m.execute("query-blockstats").arrayValue ?? []
        var total = BlockCounters()
        for d in disks {
            guard let alias = d.info.alias else {
                if !path.isEmpty {
                    throw VirtError.internalError("missing disk device alias name for \(d.target.dev)", domain: .qemu)
                }
                continue
            }
            guard let entry = Self.blockStatsEntry(all, alias: alias) else {
                throw VirtError.internalError("cannot find statistics for device '\(alias)'", domain: .qemu)
            }
            total.add(Self.counters(entry))
        }
        return total
    }

    /// libvirt's `virDomainDiskByName`: by target name, else by source path.
    static func disk(_ def: DomainDefinition, _ path: String) -> Disk? {
        def.devices.disks.first { $0.target.dev == path } ?? def.devices.disks.first { $0.source.path == path }
    }

    /// `virDomainInterfaceStats` (no job, as libvirt): the counters of the tap device behind the NIC, swapped
    /// into the guest's view.
    func interfaceCounters(device: String) throws(VirtError) -> InterfaceStats {
        _ = try requireRunning()
        let def = currentDefinition
        let found: NetInterface?
        if let mac = MACAddress(string: device) {
            found = def.devices.interfaces.first { $0.mac == mac }
        } else {
            found = def.devices.interfaces.first { $0.targetDev == device }
        }
        guard let net = found else {
            throw VirtError.invalidArg("'\(device)' is not a known interface", domain: .domain)
        }
        // A user-mode NIC has no host device: libvirt's virNetDevTapInterfaceStats gets no name.
        guard let ifname = net.targetDev, !ifname.isEmpty else {
            throw VirtError.internalError("Interface name not provided", domain: .none)
        }
        guard let c = QEMUDomainStats.netDev(ifname) else {
            throw VirtError.internalError("/proc/net/dev: Interface not found", domain: .none)
        }
        func i(_ n: Int) -> Int64 { Int64(truncatingIfNeeded: c[n]) }
        // A macvtap device shares the guest's view (libvirt's virDomainNetTypeSharesHostView): not swapped.
        if net.type == .direct {
            return InterfaceStats(rxBytes: i(0), rxPackets: i(1), rxErrs: i(2), rxDrop: i(3),
                                  txBytes: i(8), txPackets: i(9), txErrs: i(10), txDrop: i(11))
        }
        // The tap's host side: what the guest sends is received here (libvirt swaps for tap NICs).
        return InterfaceStats(rxBytes: i(8), rxPackets: i(9), rxErrs: i(10), rxDrop: i(11),
                              txBytes: i(0), txPackets: i(1), txErrs: i(2), txDrop: i(3))
    }

    /// libvirt's `qemuDomainMemoryStatsInternal` under a query job: the balloon's size and the guest's
    /// statistics (when a balloon exists), then QEMU's resident set size.
    func memoryStatistics(max count: Int) async throws(VirtError) -> [MemoryStat] {
        try await beginJob(.query, owner: "memoryStats")
        defer { endJob() }
        let m = try requireRunning()
        var out: [MemoryStat] = []
        let def = currentDefinition
        if let balloon = def.devices.memballoon, balloon.model != .none {
            if let b = try? await m.execute("query-balloon"), let a = b["actual"]?.intValue {
                out.append(MemoryStat(tag: MemoryStat.actualBalloon, value: UInt64(max(a, 0)) / 1024))
            }
            if let alias = balloon.info.alias,
               let g = try? await m.execute("qom-get", arguments: ["path": .string("/machine/peripheral/" + alias),
                                                                    "property": "guest-stats"]),
               let stats = g["stats"] {
                // -1: not collected; sizes are bytes, reported in KiB.
                func add(_ v: JSONValue?, _ tag: Int32, _ divisor: UInt64) {
                    guard let x = v?.intValue, x != -1 else { return }
                    out.append(MemoryStat(tag: tag, value: UInt64(bitPattern: x) / divisor))
                }
                add(stats["stat-swap-in"], MemoryStat.swapIn, 1024)
                add(stats["stat-swap-out"], MemoryStat.swapOut, 1024)
                add(stats["stat-major-faults"], MemoryStat.majorFault, 1)
                add(stats["stat-minor-faults"], MemoryStat.minorFault, 1)
                add(stats["stat-free-memory"], MemoryStat.unused, 1024)
                add(stats["stat-total-memory"], MemoryStat.available, 1024)
                add(stats["stat-available-memory"], MemoryStat.usable, 1024)
                add(g["last-update"], MemoryStat.lastUpdate, 1)
                add(stats["stat-disk-caches"], MemoryStat.diskCaches, 1024)
                add(stats["stat-htlb-pgalloc"], MemoryStat.hugetlbPgalloc, 1)
                add(stats["stat-htlb-pgfail"], MemoryStat.hugetlbPgfail, 1)
            }
        }
        if out.count < count, let pid = process?.pid, let st = QEMUDomainStats.procStat("/proc/\(pid)/stat") {
            let page = UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 1))
            out.append(MemoryStat(tag: MemoryStat.rss, value: st.rss * page / 1024))
        }
        return Array(out.prefix(count))
    }

    /// libvirt's `virDomainObjGetDefs`: which definitions `flags` (live 1, config 2) address.
    func targets(_ flags: UInt32) throws(VirtError) -> (live: Bool, config: Bool) {
        var live = flags & 1 != 0, config = flags & 2 != 0
        if !live && !config {
            if isActive { live = true } else { config = true }
        }
        if live && !isActive { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
        if config && !persistent {
            throw VirtError.operationInvalid("transient domains do not have any persistent config", domain: .domain)
        }
        return (live, config)
    }

    /// libvirt's `virDomainObjGetOneDefState`: one definition, the live one or the persistent one.
    func oneDefinition(_ flags: UInt32) throws(VirtError) -> (def: DomainDefinition, live: Bool) {
        if flags & 3 == 3 {
            throw VirtError.invalidArg(
                "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive", domain: .domain)
        }
        let t = try targets(flags)
        return t.live ? (currentDefinition, true) : (definition, false)
    }

    func saveConfig() throws(VirtError) {
        try LinuxSys.writeFileAtomically(paths.configFile(definition.name), definition.formatXML())
    }

    /// The current or (flag 4) maximum vCPU count of the definition `flags` address.
    func vcpuCount(flags: UInt32) throws(VirtError) -> Int32 {
        let (def, _) = try oneDefinition(flags & 3)
        return Int32(flags & 4 != 0 ? def.vcpus : def.currentVcpus ?? def.vcpus)
    }

    /// libvirt's `qemuDomainSetMetadata` (a modify job): the live and/or persistent definition, saved, then
    /// METADATA_CHANGE.
    func setMetadata(_ type: DomainMetadataType, value: String?, key: String?, uri: String?, flags: UInt32)
        async throws(VirtError) {
        try await beginJob(.modify, owner: "setMetadata")
        defer { endJob() }
        let t = try targets(flags)
        if t.live, var live = liveDefinition {
            try live.setMetadata(type, value: value, key: key, uri: uri)
            liveDefinition = live
            writeStatus()
        }
        if t.config {
            var def = definition
            try def.setMetadata(type, value: value, key: key, uri: uri)
            definition = def
            try saveConfig()
        }
        emit(DomainEventRecord(domain: ref, kind: .metadataChange(type: type.rawValue, namespaceURI: uri)))
    }

    /// libvirt's `qemuDomainInjectNMI` (a modify job): QMP inject-nmi.
    func injectNMI() async throws(VirtError) {
        try await beginJob(.modify, owner: "injectNMI")
        defer { endJob() }
        let m = try requireRunning()
        try await m.execute("inject-nmi")
    }

    /// libvirt's `qemuDomainGetMetadata`.
    func metadata(_ type: DomainMetadataType, uri: String?, flags: UInt32) throws(VirtError) -> String {
        try oneDefinition(flags).def.metadataValue(type, uri: uri)
    }

    /// libvirt's `qemuDomainSetMemoryStatsPeriod` (a modify job).
    func setMemoryStatsPeriod(_ period: Int32, flags: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "setMemoryStatsPeriod")
        defer { endJob() }
        let t = try targets(flags)
        if t.live {
            let m = try requireRunning()
            guard var live = liveDefinition, var balloon = live.devices.memballoon, balloon.model != .none,
                  let alias = balloon.info.alias else {
                throw VirtError.operationInvalid("Active domain doesn't have balloon device", domain: .qemu)
            }
            do {
                try await m.execute("qom-set", arguments: ["path": .string("/machine/peripheral/" + alias),
                                                           "property": "guest-stats-polling-interval",
                                                           "value": .int(Int64(period))])
            } catch {
                throw VirtError.operationInvalid("unable to set balloon driver collection period", domain: .qemu)
            }
            balloon.statsPeriod = period == 0 ? nil : period
            live.devices.memballoon = balloon
            liveDefinition = live
            writeStatus()
        }
        if t.config {
            guard var balloon = definition.devices.memballoon, balloon.model != .none else {
                throw VirtError.operationInvalid("Inactive domain doesn't have balloon device", domain: .qemu)
            }
            balloon.statsPeriod = period == 0 ? nil : period
            definition.devices.memballoon = balloon
            try saveConfig()
        }
    }

    /// libvirt's `qemuDomainGetBlockInfo` (a query job): the image's virtual size, allocated bytes and file size.
    func blockInformation(path: String) async throws(VirtError) -> BlockInfo {
        try await beginJob(.query, owner: "blockInfo")
        defer { endJob() }
        let def = currentDefinition
        guard let disk = Self.disk(def, path) else {
            throw VirtError.invalidArg("invalid path \(path) not assigned to domain", domain: .qemu)
        }
        guard let source = disk.source.path, !source.isEmpty else {
            throw VirtError.invalidArg("disk '\(path)' does not currently have a source assigned", domain: .qemu)
        }
        if disk.source.fdGroup != nil {
            throw VirtError(.operationUnsupported, domain: .qemu,
                            "Operation not supported: block info is not supported for FD passed disk image",
                            str1: "block info is not supported for FD passed disk image")
        }
        let fileSizes = Self.fileSizes(source)
        guard isActive, let m = monitor else {
            // An inactive domain: the file itself (a qcow2's virtual size from its header).
            guard let f = fileSizes else {
                throw VirtError.systemError("cannot stat file '\(source)'", errno: ENOENT, domain: .qemu)
            }
            let capacity = QEMUDomainStats.imageSizes(source)?.capacity ?? f.size
            return BlockInfo(capacity: capacity, allocation: f.allocated, physical: f.size)
        }
        let all = try await m.execute("query-blockstats").arrayValue ?? []
        guard let alias = disk.info.alias, let entry = Self.blockStatsEntry(all, alias: alias) else {
            throw VirtError.internalError("failed to gather stats for disk '\(disk.target.dev)'", domain: .qemu)
        }
        let nodes = try await m.execute("query-named-block-nodes", arguments: ["flat": true]).arrayValue ?? []
        let nodeName = entry["node-name"]?.stringValue
        let node = nodes.first { $0["node-name"]?.stringValue == nodeName }
        let capacity = node?["image"]?["virtual-size"]?.intValue.map { UInt64(max($0, 0)) }
            ?? QEMUDomainStats.imageSizes(source)?.capacity ?? 0
        let allocated = node?["image"]?["actual-size"]?.intValue.map { UInt64(max($0, 0)) } ?? fileSizes?.allocated ?? 0
        return BlockInfo(capacity: capacity, allocation: allocated, physical: fileSizes?.size ?? capacity)
    }

    /// A file's size and allocated bytes.
    static func fileSizes(_ path: String) -> (size: UInt64, allocated: UInt64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt64(max(st.st_size, 0)), UInt64(max(st.st_blocks, 0)) * 512)
    }

    // MARK: vCPUs and pinning

    /// The thread id of each vCPU (query-cpus-fast).
    func vcpuThreads(_ m: QMPMonitor) async throws(VirtError) -> [Int: pid_t] {
        var out: [Int: pid_t] = [:]
        for c in try await m.execute("query-cpus-fast").arrayValue ?? [] {
            if let i = c["cpu-index"]?.intValue, let t = c["thread-id"]?.intValue {
                out[Int(i)] = pid_t(truncatingIfNeeded: t)
            }
        }
        return out
    }

    /// utime + stime (ns) and the CPU it last ran on, from a thread's stat file (libvirt's qemuGetProcessInfo).
    static func threadInfo(pid: pid_t, tid: pid_t) -> (time: UInt64, cpu: Int32)? {
        guard let stat = LinuxSys.readFile("/proc/\(pid)/task/\(tid)/stat"), let close = stat.lastIndex(of: ")") else {
            return nil
        }
        // After the command, field 3 (state) is index 0: utime 14 → 11, stime 15 → 12, processor 39 → 36.
        let f = stat[stat.index(after: close)...].split(separator: " ")
        guard f.count > 36, let u = UInt64(f[11]), let s = UInt64(f[12]), let cpu = Int32(f[36]) else { return nil }
        let hz = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        return ((u + s) * 1_000_000_000 / hz, cpu)
    }

    /// libvirt's `qemuDomainGetVcpus`: the online vCPUs of a running domain, their CPU time, last CPU and
    /// thread affinity. Taken under a query job here (libvirt reads vCPU thread ids it cached at start).
    func vcpuInformation(maxInfo: Int, mapLength: Int) async throws(VirtError) -> ([VcpuInfo], [UInt8]) {
        guard isActive else {
            throw VirtError.operationInvalid("cannot retrieve vcpu information for inactive domain", domain: .qemu)
        }
        try await beginJob(.query, owner: "getVcpus")
        defer { endJob() }
        let m = try requireRunning()
        guard let pid = process?.pid else { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
        let threads = try await vcpuThreads(m)
        if threads.isEmpty { throw VirtError.operationInvalid("cpu affinity is not supported", domain: .qemu) }
        let def = currentDefinition
        var info: [VcpuInfo] = [], maps: [UInt8] = []
        for i in def.onlineVcpuIDs where info.count < maxInfo {
            guard let tid = threads[i], let t = Self.threadInfo(pid: pid, tid: tid) else {
                throw VirtError.systemError("cannot get vCPU placement & pCPU time", errno: ESRCH, domain: .qemu)
            }
            info.append(VcpuInfo(number: UInt32(i), state: 1, cpuTime: t.time, cpu: t.cpu))
            var map = [UInt8](repeating: 0, count: mapLength)
            if mapLength > 0, swiftvirt_get_affinity(tid, &map, mapLength) != 0 {
                throw VirtError.systemError("cannot get CPU affinity of process \(tid)", errno: errno, domain: .qemu)
            }
            maps += map
        }
        return (info, maps)
    }

    /// The host's online CPUs (libvirt's `virHostCPUGetAvailableCPUsBitmap`).
    static func onlineCPUs() -> CPUSet {
        if let text = LinuxSys.readFile("/sys/devices/system/cpu/online"),
           let set = try? CPUSet(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            return set
        }
        return CPUSet(0..<UInt32(max(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 1)))
    }

    /// libvirt's `qemuDomainGetVcpuPinInfo`: each vCPU's pin, else `<vcpu cpuset>`, else the online host CPUs.
    func vcpuPinInformation(maps: Int, mapLength: Int, flags: UInt32) throws(VirtError) -> (Int32, [UInt8]) {
        let (def, _) = try oneDefinition(flags)
        let host = Self.onlineCPUs()
        var out: [UInt8] = []
        for i in 0..<min(Int(def.vcpus), maps) {
            let set = def.cputune?.vcpuPins.first { $0.id == UInt32(i) }?.cpuset ?? def.vcpuCPUSet ?? host
            out += CPUMap.bytes(set, length: mapLength)
        }
        return (Int32(def.vcpus), out)
    }

    /// libvirt's `qemuDomainPinVcpuFlags` (a modify job): the vCPU thread's affinity, then `<cputune>`.
    func pinVcpu(_ vcpu: UInt32, cpumap: [UInt8], flags: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "pinVcpu")
        defer { endJob() }
        let t = try targets(flags)
        let set = CPUMap.set(cpumap)
        if set.isEmpty { throw VirtError.invalidArg("Empty cpu list for pinning", domain: .qemu) }
        if t.live, var live = liveDefinition {
            let m = try requireRunning()
            let threads = try await vcpuThreads(m)
            if threads.isEmpty { throw VirtError.operationInvalid("cpu affinity is not supported", domain: .qemu) }
            guard vcpu < live.vcpus else {
                throw VirtError.invalidArg("vcpu \(vcpu) is out of range of live cpu count \(live.vcpus)", domain: .qemu)
            }
            if vcpu < live.currentVcpus ?? live.vcpus, let tid = threads[Int(vcpu)] {
                try Self.setAffinity(tid, set)
            }
            Self.setVcpuPin(&live, vcpu, set)
            liveDefinition = live
            writeStatus()
            emit(DomainEventRecord(domain: ref, kind: .tunable(params: [
                TypedParam("cputune.vcpupin\(vcpu)", .string(set.description))])))
        }
        if t.config {
            guard vcpu < definition.vcpus else {
                throw VirtError.invalidArg(
                    "vcpu \(vcpu) is out of range of persistent cpu count \(definition.currentVcpus ?? definition.vcpus)",
                    domain: .qemu)
            }
            Self.setVcpuPin(&definition, vcpu, set)
            try saveConfig()
        }
    }

    private static func setVcpuPin(_ def: inout DomainDefinition, _ vcpu: UInt32, _ set: CPUSet) {
        var tune = def.cputune ?? CPUTune()
        tune.vcpuPins.removeAll { $0.id == vcpu }
        tune.vcpuPins.append(CPUTune.Pin(id: vcpu, cpuset: set))
        tune.vcpuPins.sort { $0.id < $1.id }
        def.cputune = tune
    }

    static func setAffinity(_ tid: pid_t, _ set: CPUSet) throws(VirtError) {
        let map = CPUMap.bytes(set, length: CPUMap.length(cpus: Int(set.cpus.last ?? 0) + 1))
        if swiftvirt_set_affinity(tid, map, map.count) != 0 {
            throw VirtError.systemError("cannot set CPU affinity on process \(tid)", errno: errno, domain: .qemu)
        }
    }

    /// libvirt's `qemuDomainGetEmulatorPinInfo`: `<emulatorpin>`, else `<vcpu cpuset>`, else the online CPUs.
    func emulatorPinInformation(mapLength: Int, flags: UInt32) throws(VirtError) -> [UInt8] {
        let (def, _) = try oneDefinition(flags)
        let set = def.cputune?.emulatorPin ?? def.vcpuCPUSet ?? Self.onlineCPUs()
        return CPUMap.bytes(set, length: mapLength)
    }

    /// libvirt's `qemuDomainPinEmulator` (a modify job): QEMU's main thread's affinity, then `<cputune>`.
    func pinEmulator(cpumap: [UInt8], flags: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "pinEmulator")
        defer { endJob() }
        let t = try targets(flags)
        let set = CPUMap.set(cpumap)
        if set.isEmpty { throw VirtError.invalidArg("Empty cpu list for pinning", domain: .qemu) }
        if t.live, var live = liveDefinition, let pid = process?.pid {
            try Self.setAffinity(pid, set)
            var tune = live.cputune ?? CPUTune()
            tune.emulatorPin = set
            live.cputune = tune
            liveDefinition = live
            writeStatus()
            emit(DomainEventRecord(domain: ref, kind: .tunable(params: [
                TypedParam("cputune.emulatorpin", .string(set.description))])))
        }
        if t.config {
            var tune = definition.cputune ?? CPUTune()
            tune.emulatorPin = set
            definition.cputune = tune
            try saveConfig()
        }
    }

    /// What libvirt applies once QEMU runs (qemuProcessSetupVcpus, qemuProcessSetupEmulator,
    /// qemuProcessSetupBalloon): `<cputune>` pins on the vCPU threads and QEMU's main thread, and the balloon's
    /// statistics period. Failures are noted in the domain log and do not stop the start (libvirt fails it).
    func applyTuningAfterLaunch() async {
        guard let m = monitor, let proc = process, let def = liveDefinition else { return }
        func apply(_ tid: pid_t, _ set: CPUSet) {
            do {
                try Self.setAffinity(tid, set)
            } catch {
                proc.note("cannot apply <cputune> to thread \(tid): \(error.message)")
            }
        }
        let tune = def.cputune
        if !(tune?.vcpuPins.isEmpty ?? true) || def.vcpuCPUSet != nil {
            for (i, tid) in (try? await vcpuThreads(m)) ?? [:] {
                if let set = tune?.vcpuPins.first(where: { $0.id == UInt32(i) })?.cpuset ?? def.vcpuCPUSet { apply(tid, set) }
            }
        }
        if let set = tune?.emulatorPin ?? def.vcpuCPUSet { apply(proc.pid, set) }
        await applyIOThreadPins(def, apply)
        if let balloon = def.devices.memballoon, balloon.model != .none, let period = balloon.statsPeriod,
           let alias = balloon.info.alias {
            do {
                try await m.execute("qom-set", arguments: ["path": .string("/machine/peripheral/" + alias),
                                                           "property": "guest-stats-polling-interval",
                                                           "value": .int(Int64(period))])
            } catch {
                proc.note("cannot set the balloon statistics period: \(error.message)")
            }
        }
    }
}
