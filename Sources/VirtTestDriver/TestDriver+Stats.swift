import VirtCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Statistics and pinning as libvirt 9.0's test driver serves them (issue 11): block and interface counters
/// made up from the clock, memory statistics derived from the balloon size, fixed block sizes, vCPU
/// information, vCPU and emulator pinning kept in `<cputune>`.
extension TestDriver {
    private func withCore<T: Sendable>(_ body: @Sendable (TestDriverCore) throws(VirtError) -> T) throws(VirtError) -> T {
        try state.core.withLock { c throws(VirtError) in try body(c) }
    }

    /// Counters made up from the clock, as libvirt's test driver.
    public func blockStats(_ domain: DomainRef, path: String) async throws -> BlockStats {
        try withCore { c throws(VirtError) in try c.blockStats(domain, path: path) }
    }
    /// Counters made up from the clock, as libvirt's test driver.
    public func interfaceStats(_ domain: DomainRef, device: String) async throws -> InterfaceStats {
        try withCore { c throws(VirtError) in try c.interfaceStats(domain, device: device) }
    }
    /// Statistics derived from the balloon size, as libvirt's test driver.
    public func memoryStats(_ domain: DomainRef, maxStats: UInt32, flags: UInt32) async throws -> [MemoryStat] {
        try withCore { c throws(VirtError) in try c.memoryStats(domain, maxStats: maxStats, flags: flags) }
    }
    /// Sets the balloon's `<stats period>`.
    public func setMemoryStatsPeriod(_ domain: DomainRef, period: Int32, flags: UInt32) async throws {
        try withCore { c throws(VirtError) in try c.setMemoryStatsPeriod(domain, period: period, flags: flags) }
    }
    /// Fixed sizes (1 TiB), as libvirt's test driver.
    public func blockInfo(_ domain: DomainRef, path: String, flags: UInt32) async throws -> BlockInfo {
        try withCore { c throws(VirtError) in try c.blockInfo(domain, path: path, flags: flags) }
    }
    /// libvirt's testDomainMemoryPeek: bytes counting up from the start address's low byte.
    public func memoryPeek(_ domain: DomainRef, start: UInt64, size: UInt32, flags: UInt32) async throws -> [UInt8] {
        try withCore { c throws(VirtError) in try c.memoryPeek(domain, start: start, size: size, flags: flags) }
    }
    /// The online vCPUs with a CPU time made up from the clock.
    public func vcpuInfo(_ domain: DomainRef, maxInfo: Int32, mapLength: Int32) async throws
        -> (info: [VcpuInfo], cpumaps: [UInt8]) {
        let cpus = Int(state.node.info.maxCPUs)
        return try withCore { c throws(VirtError) in
            try c.vcpuInfo(domain, maxInfo: maxInfo, mapLength: mapLength, hostCPUs: cpus)
        }
    }
    /// The vCPUs' affinity from `<cputune>`.
    public func vcpuPinInfo(_ domain: DomainRef, maps: Int32, mapLength: Int32, flags: UInt32) async throws
        -> (count: Int32, cpumaps: [UInt8]) {
        let cpus = Int(state.node.info.maxCPUs)
        return try withCore { c throws(VirtError) in
            try c.vcpuPinInfo(domain, maps: maps, mapLength: mapLength, flags: flags, hostCPUs: cpus)
        }
    }
    /// Pins a vCPU of a running domain (no flags accepted, as libvirt's test driver).
    public func pinVcpu(_ domain: DomainRef, vcpu: UInt32, cpumap: [UInt8], flags: UInt32?) async throws {
        // virDomainPinVcpu: libvirt's test driver passes no flags.
        let f = flags ?? 0
        try withCore { c throws(VirtError) in try c.pinVcpu(domain, vcpu: vcpu, cpumap: cpumap, flags: f) }
    }
    /// The emulator's affinity from `<cputune>`.
    public func emulatorPinInfo(_ domain: DomainRef, mapLength: Int32, flags: UInt32) async throws
        -> (count: Int32, cpumap: [UInt8]) {
        let cpus = Int(state.node.info.maxCPUs)
        return try withCore { c throws(VirtError) in
            try c.emulatorPinInfo(domain, mapLength: mapLength, flags: flags, hostCPUs: cpus)
        }
    }
    /// Sets the description, title or a metadata element; raises METADATA_CHANGE.
    public func setMetadata(_ domain: DomainRef, type: Int32, value: String?, key: String?, uri: String?,
                            flags: UInt32) async throws {
        try withCore { c throws(VirtError) in
            try c.setMetadata(domain, type: type, value: value, key: key, uri: uri, flags: flags)
        }
    }
    /// The description, title or a metadata element.
    public func metadata(_ domain: DomainRef, type: Int32, uri: String?, flags: UInt32) async throws -> String {
        try withCore { c throws(VirtError) in try c.metadata(domain, type: type, uri: uri, flags: flags) }
    }
    /// Accepted for a running domain, as libvirt's test driver.
    public func injectNMI(_ domain: DomainRef, flags: UInt32) async throws {
        try withCore { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 0, "testDomainInjectNMI")
            try c.requireActive(try c.table.object(domain))
        }
    }
    /// Pins the emulator threads.
    public func pinEmulator(_ domain: DomainRef, cpumap: [UInt8], flags: UInt32) async throws {
        try withCore { c throws(VirtError) in try c.pinEmulator(domain, cpumap: cpumap, flags: flags) }
    }
}

extension TestDriverCore {
    /// `g_get_real_time()`: microseconds since the epoch.
    private static func realTimeMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec / 1000)
    }

    /// libvirt's `virDomainDiskByName`: by target name, else by source path.
    static func disk(_ def: DomainDefinition, _ path: String) -> Disk? {
        def.devices.disks.first { $0.target.dev == path } ?? def.devices.disks.first { $0.source.path == path }
    }

    /// libvirt's `virDomainNetFind`: by MAC address when `device` is one, else by target device name.
    static func net(_ def: DomainDefinition, _ device: String) throws(VirtError) -> NetInterface {
        let found: NetInterface?
        if let mac = MACAddress(string: device) {
            found = def.devices.interfaces.first { $0.mac == mac }
        } else {
            found = def.devices.interfaces.first { $0.targetDev == device }
        }
        guard let found else { throw VirtError.invalidArg("'\(device)' is not a known interface", domain: .domain) }
        return found
    }

    /// The definition `flags` address (live or persistent) and whether it is the persistent one of a running
    /// domain.
    func def(_ obj: TestDomainObject, _ flags: UInt32) throws(VirtError) -> (DomainDefinition, Bool) {
        let (useNew, _) = try oneDef(obj, ModificationImpact(rawValue: flags))
        return (useNew ? (obj.newDefinition ?? obj.definition) : obj.definition, useNew)
    }

    func store(_ obj: TestDomainObject, _ def: DomainDefinition, persistent useNew: Bool) {
        var obj = obj
        if useNew { obj.newDefinition = def } else { obj.definition = def }
        table.store(obj)
    }

    func blockStats(_ ref: DomainRef, path: String) throws(VirtError) -> BlockStats {
        if path.isEmpty { throw VirtError.operationUnsupported("summary statistics are not supported yet", domain: .test) }
        let obj = try table.object(ref)
        try requireActive(obj)
        guard Self.disk(obj.definition, path) != nil else {
            throw VirtError.invalidArg("invalid path: \(path)", domain: .test)
        }
        let base = Self.realTimeMicros(), seconds = base / 1_000_000
        return BlockStats(rdReq: base / 10, rdBytes: base / 20, wrReq: base / 30, wrBytes: base / 40, errs: seconds / 2)
    }

    func interfaceStats(_ ref: DomainRef, device: String) throws(VirtError) -> InterfaceStats {
        let obj = try table.object(ref)
        try requireActive(obj)
        _ = try Self.net(obj.definition, device)
        let base = Self.realTimeMicros(), s = base / 1_000_000
        return InterfaceStats(rxBytes: base / 10, rxPackets: base / 100, rxErrs: s, rxDrop: s / 2,
                              txBytes: base / 20, txPackets: base / 110, txErrs: s / 3, txDrop: s / 4)
    }

    func memoryStats(_ ref: DomainRef, maxStats: UInt32, flags: UInt32) throws(VirtError) -> [MemoryStat] {
        try Self.checkFlags(flags, allowed: 0, "testDomainMemoryStats")
        let obj = try table.object(ref)
        try requireActive(obj)
        guard let balloon = obj.definition.devices.memballoon, balloon.model != .none else { return [] }
        let cur = obj.definition.currentMemory
        let stats: [(Int32, UInt64)] = [
            (MemoryStat.actualBalloon, cur), (MemoryStat.swapIn, 0), (MemoryStat.swapOut, 0),
            (MemoryStat.majorFault, 0), (MemoryStat.minorFault, 0), (MemoryStat.unused, cur / 2),
            (MemoryStat.available, cur), (MemoryStat.usable, cur / 2), (MemoryStat.lastUpdate, 627_319_920),
            (MemoryStat.diskCaches, cur / 8), (MemoryStat.hugetlbPgalloc, 0), (MemoryStat.hugetlbPgfail, 0),
            (MemoryStat.rss, cur / 2),
        ]
        return stats.prefix(Int(maxStats)).map { MemoryStat(tag: $0.0, value: $0.1) }
    }

    func setMemoryStatsPeriod(_ ref: DomainRef, period: Int32, flags: UInt32) throws(VirtError) {
        try Self.checkFlags(flags, allowed: 1 | 2, "testDomainSetMemoryStatsPeriod")
        let obj = try table.object(ref)
        var (def, useNew) = try def(obj, flags)
        guard var balloon = def.devices.memballoon, balloon.model != .none else {
            throw VirtError.internalError("No memory balloon device configured, can not set the collection period",
                                          domain: .test)
        }
        balloon.statsPeriod = period == 0 ? nil : period
        def.devices.memballoon = balloon
        store(obj, def, persistent: useNew)
    }

    func memoryPeek(_ ref: DomainRef, start: UInt64, size: UInt32, flags: UInt32) throws(VirtError) -> [UInt8] {
        try Self.checkFlags(flags, allowed: 3, "testDomainMemoryPeek")
        if flags != 1 && flags != 2 {
            throw VirtError(.invalidArg, domain: .test,
                            "invalid argument: flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL",
                            str1: "flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL")
        }
        let obj = try table.object(ref)
        try requireActive(obj)
        return (0..<UInt64(size)).map { UInt8(truncatingIfNeeded: start &+ $0) }
    }

    func blockInfo(_ ref: DomainRef, path: String, flags: UInt32) throws(VirtError) -> BlockInfo {
        try Self.checkFlags(flags, allowed: 0, "testDomainGetBlockInfo")
        let obj = try table.object(ref)
        guard let disk = Self.disk(obj.definition, path) else {
            throw VirtError.invalidArg("invalid path \(path) not assigned to domain", domain: .test)
        }
        if disk.source.path == nil && disk.source.name == nil {
            throw VirtError.invalidArg("disk '\(path)' does not currently have a source assigned", domain: .test)
        }
        return BlockInfo(capacity: 1_099_506_450_432, allocation: 1_099_511_627_776, physical: 1_099_511_627_776)
    }

    /// libvirt's `virDomainDefGetVcpuPinInfoHelper` order: the vCPU's pin, the `<vcpu cpuset>`, every host CPU.
    private static func affinity(_ def: DomainDefinition, vcpu: UInt32, hostCPUs: Int) -> CPUSet {
        if let pin = def.cputune?.vcpuPins.first(where: { $0.id == vcpu }) { return pin.cpuset }
        if let set = def.vcpuCPUSet { return set }
        return CPUSet(0..<UInt32(hostCPUs))
    }

    func vcpuInfo(_ ref: DomainRef, maxInfo: Int32, mapLength: Int32, hostCPUs: Int) throws(VirtError)
        -> (info: [VcpuInfo], cpumaps: [UInt8]) {
        let obj = try table.object(ref)
        if !obj.isActive {
            throw VirtError.operationInvalid("cannot list vcpus for an inactive domain", domain: .test)
        }
        let def = obj.definition
        let count = min(Int(max(maxInfo, 0)), Int(def.currentVcpus ?? def.vcpus))
        let len = Int(max(mapLength, 0))
        let time = UInt64(Self.realTimeMicros() / 10)
        var info: [VcpuInfo] = [], maps: [UInt8] = []
        for i in 0..<count {
            let set = Self.affinity(def, vcpu: UInt32(i), hostCPUs: hostCPUs)
            maps += CPUMap.bytes(set, length: len)
            info.append(VcpuInfo(number: UInt32(i), state: 1, cpuTime: time, cpu: Int32(set.cpus.last ?? 0)))
        }
        return (info, maps)
    }

    func vcpuPinInfo(_ ref: DomainRef, maps: Int32, mapLength: Int32, flags: UInt32, hostCPUs: Int)
        throws(VirtError) -> (count: Int32, cpumaps: [UInt8]) {
        try Self.checkFlags(flags, allowed: 1 | 2, "testDomainGetVcpuPinInfo")
        let obj = try table.object(ref)
        let (def, _) = try def(obj, flags)
        let len = Int(max(mapLength, 0))
        var out: [UInt8] = []
        for i in 0..<min(Int(def.vcpus), Int(max(maps, 0))) {
            out += CPUMap.bytes(Self.affinity(def, vcpu: UInt32(i), hostCPUs: hostCPUs), length: len)
        }
        return (Int32(def.vcpus), out)
    }

    func pinVcpu(_ ref: DomainRef, vcpu: UInt32, cpumap: [UInt8], flags: UInt32) throws(VirtError) {
        try Self.checkFlags(flags, allowed: 0, "testDomainPinVcpuFlags")
        var obj = try table.object(ref)
        if !obj.isActive {
            throw VirtError.operationInvalid("cannot pin vcpus on an inactive domain", domain: .test)
        }
        var def = obj.definition
        guard vcpu < def.currentVcpus ?? def.vcpus else {
            throw VirtError.invalidArg("requested vcpu '\(vcpu)' is not present in the domain", domain: .test)
        }
        var tune = def.cputune ?? CPUTune()
        tune.vcpuPins.removeAll { $0.id == vcpu }
        tune.vcpuPins.append(CPUTune.Pin(id: vcpu, cpuset: CPUMap.set(cpumap)))
        tune.vcpuPins.sort { $0.id < $1.id }
        def.cputune = tune
        obj.definition = def
        table.store(obj)
    }

    func emulatorPinInfo(_ ref: DomainRef, mapLength: Int32, flags: UInt32, hostCPUs: Int) throws(VirtError)
        -> (count: Int32, cpumap: [UInt8]) {
        try Self.checkFlags(flags, allowed: 1 | 2, "testDomainGetEmulatorPinInfo")
        let obj = try table.object(ref)
        let (def, _) = try def(obj, flags)
        let set = def.cputune?.emulatorPin ?? def.vcpuCPUSet ?? CPUSet(0..<UInt32(hostCPUs))
        return (1, CPUMap.bytes(set, length: Int(max(mapLength, 0))))
    }

    /// libvirt's `virDomainObjSetMetadata`: the live and/or persistent definition, then the event.
    func setMetadata(_ ref: DomainRef, type: Int32, value: String?, key: String?, uri: String?, flags: UInt32)
        throws(VirtError) {
        try Self.checkFlags(flags, allowed: 1 | 2, "testDomainSetMetadata")
        let t = try DomainMetadataType.checked(type)
        var obj = try table.object(ref)
        var live = flags & 1 != 0, config = flags & 2 != 0
        if !live && !config {
            if obj.isActive { live = true } else { config = true }
        }
        if live && !obj.isActive { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
        if config && !obj.persistent {
            throw VirtError.operationInvalid("transient domains do not have any persistent config", domain: .domain)
        }
        if live {
            var d = obj.definition
            try d.setMetadata(t, value: value, key: key, uri: uri)
            obj.definition = d
        }
        if config {
            if obj.isActive {
                var d = obj.newDefinition ?? obj.definition
                try d.setMetadata(t, value: value, key: key, uri: uri)
                obj.newDefinition = d
            } else {
                var d = obj.definition
                try d.setMetadata(t, value: value, key: key, uri: uri)
                obj.definition = d
            }
        }
        table.store(obj)
        emit(DomainEventRecord(domain: obj.ref, kind: .metadataChange(type: type, namespaceURI: uri)))
    }

    func metadata(_ ref: DomainRef, type: Int32, uri: String?, flags: UInt32) throws(VirtError) -> String {
        try Self.checkFlags(flags, allowed: 1 | 2, "testDomainGetMetadata")
        let t = try DomainMetadataType.checked(type)
        let obj = try table.object(ref)
        let (def, _) = try def(obj, flags)
        return try def.metadataValue(t, uri: uri)
    }

    func pinEmulator(_ ref: DomainRef, cpumap: [UInt8], flags: UInt32) throws(VirtError) {
        try Self.checkFlags(flags, allowed: 1 | 2, "testDomainPinEmulator")
        let obj = try table.object(ref)
        var (def, useNew) = try def(obj, flags)
        let set = CPUMap.set(cpumap)
        if set.isEmpty { throw VirtError.invalidArg("Empty cpu list for pinning", domain: .test) }
        var tune = def.cputune ?? CPUTune()
        tune.emulatorPin = set
        def.cputune = tune
        store(obj, def, persistent: useNew)
    }
}
