import Foundation
import VirtCore

/// Block write thresholds (`block-set-write-threshold` on a disk's storage node), the dirty page rate
/// calculation (`calc-dirty-rate`), the agent's response timeout, the XBZRLE compression cache
/// (`migrate-set-parameters`) and SEV launch secrets, as libvirt 9.0's QEMU driver does them.
extension QEMUDomainObject {
    /// libvirt's qemuDomainGetStorageSourceByDevstr for the images this driver knows: a disk target, or
    /// `TARGET[INDEX]` where INDEX is the index of its top image (backing images are not tracked by index here).
    func storageNode(_ dev: String) throws(VirtError) -> String {
        var target = dev
        var index: Int?
        if let open = dev.firstIndex(of: "[") {
            guard dev.hasSuffix("]"), let n = Int(dev[dev.index(after: open)..<dev.index(before: dev.endIndex)]),
                  n >= 0 else {
                throw VirtError.invalidArg("failed to parse block device '\(dev)'", domain: .qemu)
            }
            target = String(dev[..<open])
            index = n
        }
        let def = liveDefinition ?? definition
        guard let disk = def.devices.disks.first(where: { $0.target.dev == target }) else {
            throw VirtError.invalidArg("failed to find disk '\(target)'", domain: .qemu)
        }
        if let index, index != 0, index != disk.source.index {
            // A backing image by its index: its own storage node (libvirt's libvirt-N-storage).
            guard QEMUBackingChain.layers(disk).contains(where: { $0.index == index }) else {
                throw VirtError.invalidArg("failed to find disk '\(dev)'", domain: .qemu)
            }
            return "libvirt-\(index)-storage"
        }
        guard let alias = disk.info.alias, let node = hotplug.diskNodes[alias] else {
            throw VirtError.operationInvalid("disk '\(target)' has no block node", domain: .qemu)
        }
        return node + "-storage"
    }

    /// libvirt's qemuDomainSetBlockThreshold (a modify job).
    func setBlockThreshold(dev: String, threshold: UInt64) async throws(VirtError) {
        try await beginJob(.modify, owner: "setBlockThreshold")
        defer { endJob() }
        guard isActive else { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
        let node = try storageNode(dev)
        try await requireMonitor().execute("block-set-write-threshold",
                                           arguments: ["node-name": .string(node), "write-threshold": .int(Int64(clamping: threshold))])
        blockThresholdWithIndex[node] = dev.contains("[")
    }

    /// libvirt's qemuDomainStartDirtyRateCalc (a modify job): the dirty ring mode needs `<kvm><dirty-ring
    /// state='on'/>`.
    func startDirtyRateCalc(seconds: Int32, flags: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "startDirtyRateCalc")
        defer { endJob() }
        guard isActive else { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
        var args: [String: JSONValue] = ["calc-time": .int(Int64(seconds))]
        if flags & 1 != 0 {
            args["mode"] = "dirty-bitmap"
        } else if flags & 2 != 0 {
            let xml = (liveDefinition ?? definition).formatXML()
            guard xml.contains("<dirty-ring state='on'") else {
                throw VirtError.operationUnsupported("dirty-ring calculation mode requires dirty-ring feature enabled.")
            }
            args["mode"] = "dirty-ring"
        }
        try await requireMonitor().execute("calc-dirty-rate", arguments: .object(args))
    }

    /// Kept for the agent and, while the domain runs, in the status file (a restarted daemon reads it back).
    func setAgentResponseTimeout(_ timeout: Int32) {
        agentResponseTimeout = timeout
        writeStatus()
    }

    /// The XBZRLE capability QEMU offers (libvirt's qemuMigrationCapsGet for XBZRLE).
    private func requireXBZRLE(_ mon: QMPMonitor) async throws(VirtError) {
        let caps = try await mon.execute("query-migrate-capabilities")
        if !(caps.arrayValue ?? []).contains(where: { $0["capability"]?.stringValue == "xbzrle" }) {
            throw VirtError.operationUnsupported("Compressed migration is not supported by QEMU binary")
        }
    }

    /// libvirt's qemuDomainMigrateGetCompressionCache (a query job): `xbzrle-cache-size` of the migration
    /// parameters.
    func compressionCache() async throws(VirtError) -> UInt64 {
        try await beginJob(.query, owner: "migrateGetCompressionCache")
        defer { endJob() }
        let mon = try requireMonitor()
        try await requireXBZRLE(mon)
        let p = try await mon.execute("query-migrate-parameters")
        guard let size = p["xbzrle-cache-size"]?.intValue else {
            throw VirtError.internalError("missing 'xbzrle-cache-size' in query-migrate-parameters reply", domain: .qemu)
        }
        return UInt64(max(size, 0))
    }

    /// libvirt's qemuDomainMigrateSetCompressionCache (a modify job).
    func setCompressionCache(_ size: UInt64) async throws(VirtError) {
        try await beginJob(.modify, owner: "migrateSetCompressionCache")
        defer { endJob() }
        let mon = try requireMonitor()
        try await requireXBZRLE(mon)
        try await mon.execute("migrate-set-parameters", arguments: ["xbzrle-cache-size": .int(Int64(clamping: size))])
    }

    /// libvirt's qemuDomainSetLaunchSecurityState (a modify job): only a running SEV domain takes a secret.
    func setLaunchSecret(_ params: [TypedParam]) async throws(VirtError) {
        try await beginJob(.modify, owner: "setLaunchSecurityState")
        defer { endJob() }
        // libvirtd 9.0 refuses a domain without SEV before it looks at its state.
        let def = liveDefinition ?? definition
        guard def.extraElements.contains(where: { $0.name == "launchSecurity" && $0.attr("type") == "sev" }) else {
            throw VirtError.operationUnsupported("setting a launch secret is only supported in SEV-enabled domains")
        }
        guard isActive else { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
        var header: String?, secret: String?, address: UInt64?
        for p in params {
            switch (p.field, p.value) {
            case ("sev-secret-header", .string(let s)): header = s
            case ("sev-secret", .string(let s)): secret = s
            case ("sev-secret-set-address", .ullong(let a)): address = a
            default: break
            }
        }
        guard let header, let secret else {
            throw VirtError.invalidArg("Both secret and the secret header are required", domain: .qemu)
        }
        var args: [String: JSONValue] = ["packet-header": .string(header), "secret": .string(secret)]
        if let address { args["gpa"] = .int(Int64(clamping: address)) }
        try await requireMonitor().execute("sev-inject-launch-secret", arguments: .object(args))
    }
}

extension QEMUDomainObject {
    /// QEMU's BLOCK_WRITE_THRESHOLD (the threshold is then cleared): libvirt's BLOCK_THRESHOLD for the disk whose
    /// storage node it names, its device written as it was set (`vda`, or `vda[N]` with the image's index).
    func blockWriteThresholdReached(_ data: JSONValue) {
        guard let node = data["node-name"]?.stringValue else { return }
        let withIndex = blockThresholdWithIndex.removeValue(forKey: node) ?? false
        let def = liveDefinition ?? definition
        let threshold = UInt64(max(data["write-threshold"]?.intValue ?? 0, 0))
        let excess = UInt64(max(data["amount-exceeded"]?.intValue ?? 0, 0))
        guard let disk = def.devices.disks.first(where: { d in
            d.info.alias.flatMap { hotplug.diskNodes[$0] }.map { $0 + "-storage" } == node
        }) else {
            // A backing image's node: reported by its index only, with its path (libvirt's
            // qemuProcessHandleBlockThreshold for a source other than the disk's top).
            for d in def.devices.disks {
                guard let l = QEMUBackingChain.layers(d).first(where: { $0.index.map { "libvirt-\($0)-storage" } == node }),
                      let index = l.index else { continue }
                emit(DomainEventRecord(domain: ref, kind: .blockThreshold(dev: "\(d.target.dev)[\(index)]", path: l.path,
                                                                          threshold: threshold, excess: excess)))
                return
            }
            return
        }
        // As libvirtd 9.0 reports it: a threshold set on the target fires for the target and for the image by
        // its index; one set with an index only for the index.
        var devs = withIndex ? [] : [disk.target.dev]
        if let index = disk.source.index { devs.append("\(disk.target.dev)[\(index)]") }
        for dev in devs {
            emit(DomainEventRecord(domain: ref, kind: .blockThreshold(dev: dev, path: disk.source.path,
                                                                      threshold: threshold, excess: excess)))
        }
    }
}

extension QEMUDomainObject {
    /// QEMU's BLOCK_IO_ERROR (libvirt's qemuProcessHandleIOError): with the "stop" policy a running domain is
    /// paused for an I/O error (SUSPENDED/IOERROR) before QEMU's STOP arrives; the IO_ERROR event names the
    /// image and the disk's alias with the action (0 none, 1 pause, 2 report).
    func blockIOError(_ data: JSONValue) {
        let action: Int32
        switch data["action"]?.stringValue {
        case "stop": action = 1
        case "report": action = 2
        default: action = 0
        }
        let node = data["node-name"]?.stringValue ?? ""
        let def = liveDefinition ?? definition
        let disk = def.devices.disks.first { d in
            d.info.alias.flatMap { hotplug.diskNodes[$0] }.map { node.hasPrefix($0 + "-") } == true
        }
        // libvirt queues IO_ERROR and IO_ERROR_REASON ("enospc" when QEMU says nospace) before the SUSPENDED
        // lifecycle event.
        let path = disk?.source.path ?? "", alias = disk?.info.alias ?? ""
        emit(DomainEventRecord(domain: ref, kind: .ioError(srcPath: path, devAlias: alias, action: action)))
        let reason = data["nospace"]?.boolValue == true ? "enospc" : ""
        emit(DomainEventRecord(domain: ref, kind: .ioErrorReason(srcPath: path, devAlias: alias, action: action,
                                                                 reason: reason)))
        if action == 1 && status.state == .running {
            status = .paused(.ioError)
            raise(.suspended(.ioError))
            writeStatus()
        }
    }
}

extension QEMUDomainObject {
    /// QEMU's RTC_CHANGE (libvirt's qemuProcessHandleRTCChange): the guest set its clock. With a variable clock
    /// offset QEMU's figure counts from the offset the domain started with, so the new adjustment is that start
    /// adjustment plus QEMU's offset; it goes into the live XML and the status file, and the event carries it.
    /// Other offsets pass QEMU's figure on as it is.
    func rtcChanged(_ data: JSONValue) {
        guard var offset = data["offset"]?.intValue else { return }
        if var live = liveDefinition, live.clock.offset == .variable {
            offset += clockAdjustment0 ?? 0
            live.clock.adjustment = offset
            liveDefinition = live
            writeStatus()
        }
        emit(DomainEventRecord(domain: ref, kind: .rtcChange(utcOffset: offset)))
    }
}

extension QEMUDomainObject {
    /// QEMU's WATCHDOG (libvirt's qemuProcessHandleWatchdog): the guest's watchdog fired and QEMU took its action.
    /// The WATCHDOG event carries the action (virDomainEventWatchdogAction: none, pause, reset, poweroff, shutdown,
    /// debug, inject-nmi); with "pause" a running domain is paused for the watchdog (SUSPENDED/WATCHDOG) before
    /// QEMU's STOP arrives. (`action='dump'` runs QEMU with "pause"; the guest is then dumped and resumed:
    /// QEMUDomainObject+WatchdogDump.swift.)
    func watchdogFired(_ data: JSONValue) {
        let actions = ["none", "pause", "reset", "poweroff", "shutdown", "debug", "inject-nmi"]
        let action = data["action"]?.stringValue.flatMap { actions.firstIndex(of: $0) }.map(Int32.init) ?? 0
        emit(DomainEventRecord(domain: ref, kind: .watchdog(action: action)))
        if action == 1 && status.state == .running {
            status = .paused(.watchdog)
            raise(.suspended(.watchdog))
            writeStatus()
        }
        if watchdogWantsDump {
            Task { await self.watchdogDump() }
        }
    }
}
