import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// libvirt 9.0's QEMU driver for the read-outs and settings added with the test driver's (DiagnosticsProcedures,
/// HostPagesProcedures, TuningProcedures' NUMA rows, DOMAIN_RENAME): flags checked as qemu_driver.c checks them,
/// the work in QEMUDomainObject+Diagnostics.swift; host pages from sysfs as libvirt's virNumaGetPages.
extension QEMUDriver {
    // MARK: Host name

    /// libvirt's qemuDomainGetHostname: the agent by default, or (LEASE, 1) the host name of a DHCP lease of the
    /// domain's NICs on virtual networks; "no hostname found" when neither has one.
    public func domainHostname(_ domain: DomainRef, flags: UInt32) async throws -> String {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainGetHostname")
        if flags & 3 == 3 {
            throw VirtError.invalidArg(
                "Flags 'VIR_DOMAIN_GET_HOSTNAME_LEASE' and 'VIR_DOMAIN_GET_HOSTNAME_AGENT' are mutually exclusive",
                domain: .qemu).withoutPrefix
        }
        let obj = try await state.object(domain)
        var hostname: String?
        if flags & 1 == 0 {
            hostname = try await obj.agentHostname()
        } else {
            for nic in try await obj.networkInterfaces() {
                guard let networks = await state.networkDriver else {
                    throw VirtError(.noSupport, domain: .qemu,
                                    "this function is not supported by the connection driver: virNetworkLookupByName")
                }
                let net = try await networks.lookupNetwork(name: nic.network)
                for lease in try await networks.networkDHCPLeases(net, mac: nic.mac, flags: 0) {
                    if hostname == nil, let h = lease.hostname { hostname = h }
                }
            }
        }
        guard let hostname, !hostname.isEmpty else {
            let name = await obj.name
            throw VirtError(.noHostname, domain: .qemu, "no hostname found: no hostname found for domain \(name)",
                            str1: "no hostname found for domain \(name)")
        }
        return hostname
    }

    // MARK: Control, disk errors, signals, launch security

    public func controlInfo(_ domain: DomainRef, flags: UInt32) async throws -> DomainControlInfo {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainGetControlInfo")
        return try await state.object(domain).controlInfo()
    }

    public func diskErrors(_ domain: DomainRef, maxErrors: UInt32, flags: UInt32) async throws
        -> (errors: [DomainDiskError], count: Int32) {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainGetDiskErrors")
        return try await state.object(domain).diskErrors(maxErrors: maxErrors)
    }

    /// virDomainSendProcessSignal: libvirt 9.0's QEMU driver has no such entry (only LXC does), so its public API
    /// answers NO_SUPPORT from the domain's error domain.
    public func sendProcessSignal(_ domain: DomainRef, pid: Int64, signal: UInt32, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSendProcessSignal", domain: .domain)
    }

    /// libvirt's qemuDomainGetLaunchSecurityInfo: parameters only for an SEV guest; no definition here has
    /// `<launchSecurity>` (no SEV on these hosts), so none.
    public func launchSecurityInfo(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        // VIR_TYPED_PARAM_STRING_OKAY (4).
        try Self.checkFlags(flags, allowed: 4, "qemuDomainGetLaunchSecurityInfo")
        _ = try await state.object(domain)
        return []
    }

    // MARK: CPU statistics

    public func cpuStats(_ domain: DomainRef, nparams: UInt32, startCPU: Int32, ncpus: UInt32, flags: UInt32)
        async throws -> (params: [TypedParam], count: Int32) {
        try Self.checkFlags(flags, allowed: 4, "qemuDomainGetCPUStats")
        return try await state.object(domain).cpuStats(nparams: nparams, startCPU: startCPU, ncpus: ncpus)
    }

    // MARK: Lifecycle actions, NUMA, perf

    public func setLifecycleAction(_ domain: DomainRef, type: UInt32, action: UInt32, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainSetLifecycleAction")
        try await state.object(domain).setLifecycleAction(type: type, action: action, flags: flags)
    }

    public func numaParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try Self.checkFlags(flags, allowed: 1 | 2 | 4, "qemuDomainGetNumaParameters")
        return try await state.object(domain).numaParameters(nparams: nparams, flags: flags)
    }

    /// libvirt's qemuDomainSetNumaParameters: the parameters' types, the mode's range and a nodeset that is not
    /// empty, before the job.
    public func setNumaParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainSetNumaParameters")
        try TypedParam.validate(params, ["numa_mode": 1, "numa_nodeset": 7])
        let obj = try await state.object(domain)
        let (mode, nodeset) = try NUMATune.parameters(params, domain: .qemu)
        try await obj.setNumaParameters(mode: mode, nodeset: nodeset, flags: flags)
    }

    public func perfEvents(_ domain: DomainRef, flags: UInt32) async throws -> [TypedParam] {
        try Self.checkFlags(flags, allowed: 1 | 2 | 4, "qemuDomainGetPerfEvents")
        return try await state.object(domain).perfEventParams(flags: flags)
    }

    public func setPerfEvents(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainSetPerfEvents")
        try TypedParam.validate(params, Dictionary(uniqueKeysWithValues: DomainDefinition.perfEventNames.map { ($0, 6) }))
        try await state.object(domain).setPerfEvents(params, flags: flags)
    }

    // MARK: Rename

    /// libvirt's qemuDomainRename (a modify job): only a persistent, shut-off domain without managed save image
    /// or snapshots; the new name is free and has no '/'. The definition is written under the new name before
    /// the old file goes (each write atomic); an autostart link follows. UNDEFINED (renamed) with the old name,
    /// then DEFINED (renamed) with the new one.
    public func renameDomain(_ domain: DomainRef, newName: String, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainRename")
        let obj = try await state.object(domain)
        try await obj.beginJob(.modify, owner: "rename")
        let oldRef: DomainRef
        do {
            oldRef = await obj.ref
            let oldName = oldRef.name
            if await obj.isActive { throw VirtError.operationInvalid("cannot rename active domain", domain: .qemu) }
            if await !obj.persistent {
                throw VirtError.operationInvalid("cannot rename a transient domain", domain: .qemu)
            }
            if access(state.paths.managedSaveFile(oldName), F_OK) == 0 {
                throw VirtError.operationInvalid("domain with a managed saved state can't be renamed", domain: .qemu)
            }
            if await obj.snapshotCount() > 0 {
                throw VirtError.operationInvalid("cannot rename domain with snapshots", domain: .qemu)
            }
            if oldName == newName {
                throw VirtError.operationInvalid("Can't rename domain to itself", domain: .domain)
            }
            if newName.contains("/") {
                throw VirtError(.xmlError, domain: .xml, "XML error: name \(newName) cannot contain '/'",
                                str1: "name \(newName) cannot contain '/'")
            }
            if await state.find(name: newName) != nil {
                throw VirtError.operationInvalid("domain with name '\(newName)' already exists", domain: .domain)
            }
            try await obj.renamePersistent(to: newName)
        } catch {
            await obj.endJob()
            throw error
        }
        let newRef = await obj.ref
        await obj.endJob()
        state.bus.emit(DomainEventRecord(domain: oldRef, kind: .lifecycle(.undefined(.renamed))))
        state.bus.emit(DomainEventRecord(domain: newRef, kind: .lifecycle(.defined(.renamed))))
    }

    // MARK: Host pages

    /// The highest NUMA node number of the host (libvirt's virNumaGetMaxNode), 0 without NUMA information.
    static func maxNUMANode() -> Int32 {
        let text = LinuxSys.readFile("/sys/devices/system/node/online") ?? "0"
        let set = (try? CPUSet(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines))) ?? CPUSet([0])
        return Int32(set.cpus.last ?? 0)
    }

    /// The huge page files of `size` KiB for `node` (-1: the whole host), as libvirt's
    /// virNumaGetHugePageInfoPath finds them.
    static func hugePageDir(node: Int32, size: UInt32) throws(VirtError) -> String {
        let base = node == -1 ? "/sys/kernel/mm/hugepages" : "/sys/devices/system/node/node\(node)/hugepages"
        let dir = base + "/hugepages-\(size)kB"
        if access(dir, F_OK) != 0 {
            throw VirtError.operationFailed(node == -1 ? "page size \(size) is not available"
                                                       : "page size \(size) is not available on node \(node)")
        }
        return dir
    }

    static let systemPageKiB = UInt32(max(sysconf(Int32(_SC_PAGESIZE)), 4096) / 1024)

    /// Free pages of `size` KiB on `node` (libvirt's virNumaGetPageInfo): for the system page size the node's
    /// (or host's) MemFree in pages, for huge pages `free_hugepages`.
    static func freePages(node: Int32, size: UInt32) throws(VirtError) -> UInt64 {
        if size == systemPageKiB {
            let file = node == -1 ? "/proc/meminfo" : "/sys/devices/system/node/node\(node)/meminfo"
            guard let text = LinuxSys.readFile(file) else {
                throw VirtError.systemError("unable to read \(file)", errno: errno == 0 ? ENOENT : errno)
            }
            for line in text.split(separator: "\n") where line.contains("MemFree:") {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                if let i = f.firstIndex(where: { $0.hasSuffix("MemFree:") }), i + 1 < f.count, let kb = UInt64(f[i + 1]) {
                    return kb / UInt64(size)
                }
            }
            throw VirtError.internalError("no MemFree in \(file)")
        }
        let dir = try hugePageDir(node: node, size: size)
        guard let v = LinuxSys.readFile(dir + "/free_hugepages").flatMap({
            UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }) else {
            throw VirtError.systemError("unable to read \(dir)/free_hugepages", errno: errno == 0 ? EIO : errno)
        }
        return v
    }

    /// libvirt's qemuNodeGetFreePages (virHostMemGetFreePages): for each cell from `startCell` (-1: the whole
    /// host) up to the last node, each page size's free count.
    public func nodeFreePages(pages: [UInt32], startCell: Int32, cellCount: UInt32, flags: UInt32) async throws
        -> [UInt64] {
        try Self.checkFlags(flags, allowed: 0, "qemuNodeGetFreePages")
        var lastCell = Self.maxNUMANode()
        if startCell > lastCell {
            throw VirtError.internalError("start cell \(startCell) out of range (0-\(lastCell))")
        }
        lastCell = Int32(min(Int64(lastCell), Int64(startCell) + Int64(cellCount) - 1))
        var counts: [UInt64] = []
        if startCell <= lastCell {
            for cell in startCell...lastCell {
                for size in pages { counts.append(try Self.freePages(node: cell, size: size)) }
            }
        }
        if counts.isEmpty { throw VirtError.invalidArg("no suitable info found") }
        return counts
    }

    /// libvirt's qemuNodeAllocPages (virHostMemAllocPages, virNumaSetPagePoolSize): the system page pool cannot
    /// change; a huge page pool is set to (SET, 1) or grown by the count, written only when that changes it, and
    /// read back to see that the kernel allocated it all.
    public func nodeAllocPages(pageSizes: [UInt32], pageCounts: [UInt64], startCell: Int32, cellCount: UInt32,
                               flags: UInt32) async throws -> Int32 {
        try Self.checkFlags(flags, allowed: 1, "qemuNodeAllocPages")
        let add = flags & 1 == 0
        var lastCell = Self.maxNUMANode()
        if startCell < -1 || startCell > lastCell {
            throw VirtError.internalError("start cell \(startCell) out of range (0-\(lastCell))")
        }
        lastCell = Int32(min(Int64(lastCell), Int64(startCell) + Int64(cellCount) - 1))
        var n: Int32 = 0
        if startCell <= lastCell {
            for cell in startCell...lastCell {
                for (size, count) in zip(pageSizes, pageCounts) {
                    try Self.setPagePool(node: cell, size: size, count: count, add: add)
                    n += 1
                }
            }
        }
        return n
    }

    static func setPagePool(node: Int32, size: UInt32, count: UInt64, add: Bool) throws(VirtError) {
        if size == systemPageKiB {
            throw VirtError.operationUnsupported("system pages pool can't be modified", domain: .none)
        }
        let path = try hugePageDir(node: node, size: size) + "/nr_hugepages"
        func current() throws(VirtError) -> UInt64 {
            guard let v = LinuxSys.readFile(path).flatMap({ UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            else { throw VirtError.systemError("Failed to open file '\(path)'", errno: errno == 0 ? EIO : errno) }
            return v
        }
        let now = try current()
        var target = count
        if add {
            if count == 0 { return }
            target = now + count
        } else if now == count {
            return
        }
        do {
            try CgroupV1Backend.write(path, String(target))
        } catch {
            throw VirtError.systemError("Unable to write to: \(path)", errno: error.int1 == 0 ? EIO : error.int1)
        }
        let got = try current()
        if got != target {
            throw VirtError.operationFailed("Unable to allocate \(target) pages. Allocated only \(got)")
        }
    }
}

extension VirtError {
    /// VIR_EXCLUSIVE_FLAGS_RET's error: INVALID_ARG without the "invalid argument: " prefix.
    var withoutPrefix: VirtError {
        var e = self
        let prefix = "invalid argument: "
        if e.message.hasPrefix(prefix) { e.message = String(e.message.dropFirst(prefix.count)) }
        return e
    }
}
