import Foundation
import VirtCore

/// What a running domain's hot-plugged devices need beyond the live XML: each disk's block node names (as
/// libvirt's `libvirt-N-storage`/`libvirt-N-format`, N counting up for every new medium) and the unplugs
/// that QEMU has not confirmed yet. Written to the status file, so a restarted daemon detaches alike.
struct QEMUHotplugState {
    /// Node name prefix (`libvirt-N`) of each disk with a medium, by alias.
    var diskNodes: [String: String] = [:]
    var nextNodeIndex = 1
    /// Those waiting for QEMU's DEVICE_DELETED, by alias.
    var unplugWaiters: [String: CheckedContinuation<Bool, Never>] = [:]
    /// Unplugs the guest refused while their detach waited (its waiter resumed with false).
    var rejected: Set<String> = []

    init() {}

    /// The node names the command line gave the disks (the last disk is 1).
    init(startingFrom live: DomainDefinition) {
        let disks = live.devices.disks
        let indexes = QEMUBackingChain.nodeIndexes(disks)
        for (i, d) in disks.enumerated() where QEMUCommandLine.diskHasSource(d) {
            if let a = d.info.alias { diskNodes[a] = "libvirt-\(indexes[i][0])" }
        }
        nextNodeIndex = (indexes.flatMap { $0 }.max() ?? 0) + 1
    }

    init(status: QEMUDomainStatus, live: DomainDefinition) {
        self.init(startingFrom: live)
        if let nodes = status.diskNodes, let next = status.nextNodeIndex {
            diskNodes = nodes
            nextNodeIndex = next
        }
    }

    mutating func takeNode() -> String {
        defer { nextNodeIndex += 1 }
        return "libvirt-\(nextNodeIndex)"
    }
}

/// Devices, live and persistent (libvirt's qemu_hotplug.c and qemuDomain{Attach,Detach,Update}DeviceFlags):
/// each call is a MODIFY job; the persistent definition is changed on a copy, the live one only once QEMU has
/// confirmed, and the copy is saved last.
extension QEMUDomainObject {
    /// How long a detach waits for QEMU's DEVICE_DELETED before it returns with the removal pending (libvirt's
    /// QEMU_UNPLUG_TIMEOUT).
    static let unplugTimeout: Duration = .seconds(5)

    // MARK: Attach

    func attachDevice(xml: String, flags: UInt32, capabilities: QEMUCapabilities) async throws(VirtError) {
        try await deviceJob("attachDevice", flags: flags) { (def: inout DomainDefinition) throws(VirtError) in
            try Self.attachConfig(try DeviceDefinition.parse(xml), to: &def)
            def = try QEMUCommandLine.completedAtDefine(def, capabilities: capabilities)
        } live: { () async throws(VirtError) in
            try await self.attachLive(try DeviceDefinition.parse(xml), capabilities: capabilities)
        }
    }

    /// The shape of libvirt's device calls: a MODIFY job; the persistent change made on a copy first, then the
    /// live one, then the copy saved.
    private func deviceJob(_ owner: String, flags: UInt32,
                           config: (inout DomainDefinition) throws(VirtError) -> Void,
                           live: () async throws(VirtError) -> Void) async throws(VirtError) {
        try await beginJob(.modify, owner: owner)
        defer { endJob() }
        let t = try targets(flags)
        var newConfig: DomainDefinition?
        if t.config {
            var def = definition
            try config(&def)
            newConfig = def
        }
        if t.live { try await live() }
        if let newConfig {
            definition = newConfig
            try saveConfig()
        }
    }

    /// libvirt's `qemuDomainAttachDeviceConfig` for the kinds handled here.
    static func attachConfig(_ dev: DeviceDefinition, to def: inout DomainDefinition) throws(VirtError) {
        switch dev.kind {
        case "disk":
            guard let disk = dev.disk else { return }
            if def.devices.disks.contains(where: { $0.target.dev == disk.target.dev }) {
                throw VirtError.operationInvalid("target \(disk.target.dev) already exists", domain: .qemu)
            }
            if disk.target.bus == .scsi, case .drive(let a)? = disk.info.address,
               def.devices.disks.contains(where: { $0.target.bus == .scsi && $0.info.address == .drive(a) }) {
                throw VirtError.operationInvalid("Domain already contains a disk with that address", domain: .qemu)
            }
            def.devices.insert(disk: disk)
        case "interface":
            guard let n = dev.interface else { return }
            def.devices.interfaces.append(n)
        case "controller":
            guard let c = dev.controller else { return }
            if c.index >= 0, def.devices.controllers.contains(where: { $0.type == c.type && $0.index == c.index }) {
                throw VirtError.operationInvalid("controller index='\(c.index)' already exists", domain: .qemu)
            }
            def.devices.insert(controller: c)
        case "channel":
            guard let c = dev.devices.channels.first else { return }
            if findChannel(c, in: def.devices.channels) != nil {
                throw VirtError.operationInvalid("chardev already exists", domain: .qemu)
            }
            def.devices.channels.append(c)
        case "rng":
            def.devices.rngs += dev.devices.rngs
        case "watchdog":
            // libvirt 9.0 keeps one watchdog per domain.
            if !def.devices.watchdogs.isEmpty {
                throw VirtError.operationInvalid("domain already has a watchdog", domain: .domain)
            }
            def.devices.watchdogs = dev.devices.watchdogs
        case "console" where isSerialConsole(dev):
            throw VirtError.operationUnsupported("attaching serial console is not supported")
        case "console":
            guard let c = dev.devices.consoles.first else { return }
            try attachConsoleConfig(c, to: &def)
        case "serial":
            guard let c = dev.devices.serials.first else { return }
            if findSerial(c, in: def.devices.serials) != nil {
                throw VirtError.operationInvalid("chardev already exists", domain: .qemu)
            }
            def.devices.insertSerial(c)
        case "memory":
            // libvirt's virDomainMemoryInsert: the total (and the current memory) grow by the device.
            for m in dev.devices.memories {
                def.devices.memories.append(m)
                def.memory &+= m.sizeKiB
                def.currentMemory &+= m.sizeKiB
            }
        default:
            throw VirtError.operationUnsupported("persistent attach of device '\(dev.kind)' is not supported",
                                                 domain: .qemu)
        }
        try Self.checkAddressClash(def.devices)
        try def.devices.postParseAfterChange()
    }

    /// Two devices on one PCI slot and function: libvirt's "Attempted double use of PCI Address".
    static func checkAddressClash(_ devices: DomainDevices) throws(VirtError) {
        var seen = Set<[UInt32]>()
        for (_, info) in devices.deviceInfos {
            guard case .pci(let a)? = info.address, !a.isEmpty else { continue }
            let key = [a.domain, a.bus, a.slot, a.function]
            if !seen.insert(key).inserted {
                let text = String(format: "%04x:%02x:%02x.%x", a.domain, a.bus, a.slot, a.function)
                throw VirtError(.xmlError, domain: .domain, "XML error: Attempted double use of PCI Address \(text)",
                                str1: "Attempted double use of PCI Address \(text)")
            }
        }
    }

    /// libvirt's `qemuDomainAttachDeviceLive`: the device (and a controller it needs) added to QEMU, then to
    /// the live definition, then DEVICE_ADDED.
    private func attachLive(_ dev: DeviceDefinition, capabilities: QEMUCapabilities) async throws(VirtError) {
        let mon = try requireRunning()
        guard let live = liveDefinition else {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        switch dev.kind {
        case "disk":
            guard let disk = dev.disk else { return }
            if let i = live.devices.disks.firstIndex(where: { $0.target.dev == disk.target.dev }),
               disk.device == .cdrom || disk.device == .floppy {
                // A CD-ROM or floppy with a target that exists: a media change (libvirt's attach does the same).
                try await changeMedia(at: i, to: disk, force: false, mon: mon)
                return
            }
            // IDE and SATA go to QEMU, which refuses them in its words (as with libvirt 9.0).
            switch disk.target.bus {
            case .virtio?, .scsi?, .usb?, .ide?, .sata?:
                break
            default:
                throw VirtError.operationUnsupported(
                    "disk bus '\(disk.target.bus?.rawValue ?? "")' cannot be hotplugged.", domain: .qemu)
            }
            guard disk.device == .disk || disk.device == .lun || disk.device == .cdrom else {
                throw VirtError.operationUnsupported(
                    "disk device type '\(disk.device.rawValue)' cannot be hotplugged", domain: .qemu)
            }
            if disk.target.bus == .scsi, case .drive(let a)? = disk.info.address,
               live.devices.disks.contains(where: { $0.target.bus == .scsi && $0.info.address == .drive(a) }) {
                throw VirtError.operationInvalid("Domain already contains a disk with that address", domain: .qemu)
            }
            if let p = disk.source.path, disk.type == .file || disk.type == .block, access(p, F_OK) != 0 {
                throw VirtError.systemError("Cannot access storage file '\(p)'", errno: errno, domain: .qemu)
            }
            var next = live
            next.devices.insert(disk: disk)
            try prepareAdded(&next, from: live, capabilities: capabilities)
            guard let added = next.devices.disks.first(where: { $0.target.dev == disk.target.dev }),
                  let alias = added.info.alias else {
                throw VirtError.internalError("no alias for the new disk", domain: .qemu)
            }
            try await plugControllers(from: live, to: next, mon: mon, capabilities: capabilities)
            let cl = QEMUCommandLine(definition: next, capabilities: capabilities)
            // Its backing chain, as at start (libvirt's qemuDomainDetermineDiskChain). libvirt names the backing
            // images once while detecting them and again when it prepares the chain, so as many node numbers as
            // there are backing images go unused before the top image's.
            var layers: [QEMUBackingChain.Layer] = []
            if QEMUCommandLine.diskHasSource(added) {
                var one = [added]
                try QEMUBackingChain.detectChains(&one, numbering: false)
                layers = QEMUBackingChain.layers(one[0])
                for _ in layers { _ = hotplug.takeNode() }
            }
            let node = hotplug.takeNode()
            var blockdevs = try cl.diskBlockdevs(added, node: node)
            if !blockdevs.isEmpty, let k = next.devices.disks.firstIndex(where: { $0.info.alias == alias }) {
                next.devices.disks[k].source.index = Self.nodeNumber(node)
                // The images below the top one numbered after it, added read-only, deepest first, before the
                // top's nodes.
                if !layers.isEmpty {
                    for j in layers.indices { layers[j].index = Self.nodeNumber(hotplug.takeNode()) }
                    QEMUBackingChain.setLayers(layers, of: &next.devices.disks[k])
                    var chain: [QEMUJSONProps] = []
                    for (j, l) in layers.enumerated().reversed() {
                        let below = j + 1 < layers.count ? layers[j + 1].index.map { "libvirt-\($0)-format" } : nil
                        chain += QEMUCommandLine.chainBlockdevs(l, node: "libvirt-\(l.index ?? 0)", backing: below,
                                                               cache: added.driver.cache)
                    }
                    if blockdevs.count == 2, let first = layers[0].index { blockdevs[1].add("backing", "libvirt-\(first)-format") }
                    blockdevs = chain + blockdevs
                }
            }
            let device = try cl.diskDevice(added, drive: blockdevs.isEmpty ? nil : node + "-format", boot: nil)
            try labelDisk(next.devices.disks.first(where: { $0.info.alias == alias }) ?? added, in: next)
            var done: [String] = []
            // An encrypted disk: its passphrase as a secret object (encrypted with the master key of this run)
            // before its nodes, as at start.
            let passphrase = diskPassphrases.removeValue(forKey: added.target.dev)
            var secretID: String?
            if !blockdevs.isEmpty, QEMUDiskEncryption.of(added) != nil {
                guard let passphrase, let key = QEMUMasterKey.read(from: privateDirectory) else {
                    throw VirtError.internalError("missing secret for encrypted disk '\(added.target.dev)'",
                                                  domain: .qemu)
                }
                let id = QEMUDiskEncryption.secretAlias(node: node)
                let props = try QEMUEncryptedSecret(value: passphrase, masterKey: key).props(id: id)
                try await mon.execute("object-add", arguments: try Self.json(props))
                secretID = id
            }
            do {
                for b in blockdevs {
                    try await mon.execute("blockdev-add", arguments: try Self.json(b))
                    if let n = Self.nodeName(b) { done.append(n) }
                }
                try await mon.execute("device_add", arguments: try Self.json(device))
            } catch {
                for n in done.reversed() { _ = try? await mon.execute("blockdev-del", arguments: ["node-name": .string(n)]) }
                if let secretID { _ = try? await mon.execute("object-del", arguments: ["id": .string(secretID)]) }
                throw error
            }
            if !blockdevs.isEmpty { hotplug.diskNodes[alias] = node }
            // Into the live definition as it is now (events may have changed it while QEMU worked).
            if var cur = liveDefinition, let k = next.devices.disks.firstIndex(where: { $0.info.alias == alias }) {
                // The live XML shows the end of its backing chain, as at start (libvirt's qemuDomainDetermineDiskChain).
                var shown = [next.devices.disks[k]]
                QEMUBackingChain.markChainEnds(&shown)
                cur.devices.insert(disk: shown[0])
                liveDefinition = cur
                // What a save image or a migration carries has the device too (without the detected chain).
                var carried = next.devices.disks[k]
                carried.extra.removeAll { $0.name == "backingStore" }
                runDefinition?.devices.insert(disk: carried)
            }
            writeStatus()
            emit(DomainEventRecord(domain: ref, kind: .deviceAdded(alias: alias)))
        case "interface":
            guard var n = dev.interface else { return }
            guard n.type == .user || n.type == .network || n.type == .bridge || n.type == .direct else {
                throw VirtError.operationUnsupported(
                    "live attach of interface type '\(n.type.rawValue)' is not supported by this driver yet", domain: .qemu)
            }
            // A MAC the domain has already is no error (libvirt 9.0 plugs a second NIC with it).
            if n.info.alias == nil {
                // libvirt's qemuAssignDeviceNetAlias: one above the highest netN in use.
                let used = live.devices.interfaces.compactMap { $0.info.alias }.compactMap { a -> Int? in
                    a.hasPrefix("net") ? Int(a.dropFirst(3)) : nil
                }
                n.info.alias = "net\((used.max() ?? -1) + 1)"
            }
            var next = live
            next.devices.interfaces.append(n)
            try prepareAdded(&next, from: live, capabilities: capabilities)
            guard var added = next.devices.interfaces.last, let alias = added.info.alias else { return }
            let cl = QEMUCommandLine(definition: next, capabilities: capabilities)
            var nd = QEMUJSONProps()
            var tapName: String?
            // A NIC of type network gets its network port first (owner: this domain); deleted again when the
            // plug fails.
            var portID: VirtUUID?
            if added.type == .network {
                let (port, bridge) = try await allocateNetworkPort(added, owner: live)
                portID = port
                resolvedNetworkBridges[added.network ?? ""] = bridge
                added.source["portid"] = port.description
            }
            func releasePort() async { if let portID { await releaseNetworkPort(portID) } }
            if added.type == .user {
                nd.add("type", "user")
            } else {
                // libvirt's qemuDomainAttachNetDevice for network and bridge: a tap on the bridge, its descriptor
                // passed to QEMU by name (getfd), then netdev_add with that name.
                let tap: (name: String, fd: Int32, bridge: String?)
                do {
                    if added.type == .direct {
                        let m = try createMacvtap(added)
                        tap = (m.name, m.fd, nil)
                    } else {
                        tap = try createTap(added)
                    }
                } catch {
                    await releasePort()
                    throw error
                }
                tapName = tap.name
                added.targetDev = tap.name
                if added.type == .network, let b = tap.bridge { added.source["bridge"] = b }
                let fdName = "hostnet-fd-" + alias
                do {
                    try await mon.execute("getfd", arguments: ["fdname": .string(fdName)], passing: tap.fd)
                } catch {
                    close(tap.fd)
                    removeTap(tap.name)
                    await releasePort()
                    throw error
                }
                close(tap.fd)
                nd.add("type", "tap")
                nd.add("fd", fdName)
            }
            nd.add("id", "host" + alias)
            var device = QEMUJSONProps()
            device.add("driver", cl.nicDriver(added.model))
            device.add("netdev", "host" + alias)
            device.add("id", alias)
            device.add("mac", added.mac.description)
            cl.address(added.info, &device)
            do {
                try await mon.execute("netdev_add", arguments: try Self.json(nd))
            } catch {
                if let t = tapName {
                    _ = try? await mon.execute("closefd", arguments: ["fdname": .string("hostnet-fd-" + alias)])
                    removeTap(t)
                }
                await releasePort()
                throw error
            }
            do {
                try await mon.execute("device_add", arguments: try Self.json(device))
            } catch {
                _ = try? await mon.execute("netdev_del", arguments: ["id": .string("host" + alias)])
                if let t = tapName { removeTap(t) }
                await releasePort()
                throw error
            }
            if var cur = liveDefinition {
                cur.devices.interfaces.append(added)
                liveDefinition = cur
                // What a save image or a migration carries: the NIC as defined (no tap name, no resolved bridge).
                var defined = added
                if tapName != nil { defined.targetDev = n.targetDev }
                if added.type == .network { defined.source["bridge"] = n.source["bridge"] }
                runDefinition?.devices.interfaces.append(defined)
            }
            writeStatus()
            emit(DomainEventRecord(domain: ref, kind: .deviceAdded(alias: alias)))
        case "controller":
            guard let c = dev.controller else { return }
            // libvirt 9.0 hot-plugs SCSI controllers only.
            guard c.type == .scsi else {
                throw VirtError.operationUnsupported("'\(c.type.rawValue)' controller cannot be hot plugged.", domain: .qemu)
            }
            if c.index >= 0, live.devices.controllers.contains(where: { $0.type == c.type && $0.index == c.index }) {
                throw VirtError.operationFailed("target \(c.type.rawValue):\(c.index) already exists", domain: .qemu)
            }
            var next = live
            next.devices.insert(controller: c)
            try prepareAdded(&next, from: live, capabilities: capabilities)
            try await plugControllers(from: live, to: next, mon: mon, capabilities: capabilities, announce: true)
        case "channel":
            guard let c = dev.devices.channels.first else { return }
            try await attachChannel(c, live: live, mon: mon, capabilities: capabilities)
        case "rng":
            guard let r = dev.devices.rngs.first else { return }
            try await attachRNG(r, live: live, mon: mon, capabilities: capabilities)
        case "watchdog":
            guard let w = dev.devices.watchdogs.first else { return }
            try await attachWatchdog(w, live: live, mon: mon, capabilities: capabilities)
        case "memory":
            guard let m = dev.devices.memories.first else { return }
            try await attachMemory(m, live: live, mon: mon, capabilities: capabilities)
        case "console":
            guard let c = dev.devices.consoles.first else { return }
            try await attachConsole(c, live: live, mon: mon, capabilities: capabilities)
        case "serial":
            guard let c = dev.devices.serials.first else { return }
            try await attachSerial(c, live: live, mon: mon, capabilities: capabilities)
        default:
            throw VirtError.operationUnsupported("live attach of device '\(dev.kind)' is not supported", domain: .qemu)
        }
    }

    /// The new definition completed as at start (implicit controllers, defaults, PCI addresses, aliases);
    /// refused when the addresses clash or would need a controller QEMU cannot hotplug.
    func prepareAdded(_ next: inout DomainDefinition, from live: DomainDefinition,
                              capabilities: QEMUCapabilities) throws(VirtError) {
        try Self.checkAddressClash(next.devices)
        try next.devices.postParseAfterChange()
        QEMUDomainDefaults.applyDiskDrivers(&next.devices.disks)
        QEMUDomainDefaults.apply(to: &next, capabilities: capabilities)
        QEMUPCIAddresses.assign(&next)
        let before = Set(live.devices.controllers.map { "\($0.type.rawValue)\($0.index)" })
        if next.devices.controllers.contains(where: {
            $0.type == .pci && !before.contains("\($0.type.rawValue)\($0.index)")
        }) {
            throw VirtError.internalError("No more available PCI slots", domain: .qemu)
        }
        QEMUAliases.assign(&next)
        try Self.checkAddressClash(next.devices)
        var aliases = Set<String>()
        for (kind, info) in next.devices.deviceInfos where kind != "console" {
            if let a = info.alias, !aliases.insert(a).inserted {
                throw VirtError.operationFailed("non unique alias detected: \(a)", domain: .domain)
            }
        }
    }

    /// Controllers `next` has that `live` has not (a SCSI controller a new disk needs), added to QEMU first.
    /// `announce`: DEVICE_ADDED for them (an attached controller; not one added for a disk, as libvirt).
    func plugControllers(from live: DomainDefinition, to next: DomainDefinition, mon: QMPMonitor,
                                 capabilities: QEMUCapabilities, announce: Bool = false) async throws(VirtError) {
        let before = Set(live.devices.controllers.map { "\($0.type.rawValue)\($0.index)" })
        let cl = QEMUCommandLine(definition: next, capabilities: capabilities)
        for c in next.devices.controllers where !before.contains("\(c.type.rawValue)\(c.index)") {
            guard let props = cl.controllerProps(c) else {
                throw VirtError.operationUnsupported(
                    "'\(c.type.rawValue)' controller cannot be hot plugged.", domain: .qemu)
            }
            try await mon.execute("device_add", arguments: try Self.json(props))
            if var l = liveDefinition {
                l.devices.insert(controller: c)
                liveDefinition = l
                runDefinition?.devices.insert(controller: c)
            }
            writeStatus()
            if announce, let a = c.info.alias { emit(DomainEventRecord(domain: ref, kind: .deviceAdded(alias: a))) }
        }
    }

    /// Labels a new disk's image and its backing images for QEMU's user (given back when QEMU ends).
    private func labelDisk(_ disk: Disk, in def: DomainDefinition) throws(VirtError) {
        guard let path = disk.source.path else { return }
        // A block device must also be allowed by the domain's device cgroup (libvirt's qemuSetupImageCgroup).
        if disk.type == .block, let g = cgroup { try g.setDeviceACL(Self.blockDevices(of: def)) }
        let paths = Set([path] + QEMUBackingChain.layers(disk).map(\.path))
        let targets = SecurityLabelTarget.targets(for: def).filter { paths.contains($0.path) }
        guard !targets.isEmpty else { return }
        try security.setLabels(targets, start: .coldBoot)
        labelled += targets
    }

    static func json(_ p: QEMUJSONProps) throws(VirtError) -> JSONValue {
        do {
            return try JSONValue.parse(p.rendered)
        } catch {
            throw VirtError.internalError("cannot build QMP arguments: \(error)", domain: .qemu)
        }
    }

    /// N of `libvirt-N`.
    static func nodeNumber(_ node: String) -> Int? { Int(node.dropFirst("libvirt-".count)) }

    static func nodeName(_ p: QEMUJSONProps) -> String? {
        (try? JSONValue.parse(p.rendered))?["node-name"]?.stringValue
    }

    // MARK: Detach

    func detachDevice(xml: String, flags: UInt32) async throws(VirtError) {
        try await deviceJob("detachDevice", flags: flags) { (def: inout DomainDefinition) throws(VirtError) in
            try Self.detachConfig(try DeviceDefinition.parse(xml), from: &def)
        } live: { () async throws(VirtError) in
            let dev = try DeviceDefinition.parse(xml)
            guard let live = self.liveDefinition else {
                throw VirtError.operationInvalid("domain is not running", domain: .domain)
            }
            try await self.detachLive(alias: try Self.findLive(dev, in: live))
        }
    }

    func detachDeviceAlias(_ alias: String, flags: UInt32) async throws(VirtError) {
        let missing = VirtError.internalError("no device found with alias \(alias)", domain: .domain)
        try await deviceJob("detachDeviceAlias", flags: flags) { (def: inout DomainDefinition) throws(VirtError) in
            guard Self.removeDevice(alias: alias, from: &def.devices) else { throw missing }
        } live: { () async throws(VirtError) in
            guard let live = self.liveDefinition, live.devices.deviceInfos.contains(where: { $0.1.alias == alias }) else {
                throw missing
            }
            try await self.detachLive(alias: alias)
        }
    }

    /// A `<console>` whose target is a serial port (or not given: an x86 guest's console is its serial port),
    /// which libvirt's qemuDomainChrPreInsert and qemuDomainChrRemove refuse to attach or detach.
    static func isSerialConsole(_ dev: DeviceDefinition) -> Bool {
        guard let c = dev.devices.consoles.first else { return false }
        return c.targetType == nil || c.targetType == "serial"
    }

    /// libvirt's `qemuDomainDetachDeviceConfig` for the kinds handled here.
    static func detachConfig(_ dev: DeviceDefinition, from def: inout DomainDefinition) throws(VirtError) {
        switch dev.kind {
        case "disk":
            guard let disk = dev.disk else { return }
            guard let i = def.devices.disks.firstIndex(where: { $0.target.dev == disk.target.dev }) else {
                throw VirtError(.deviceMissing, domain: .qemu, "device not found: no target device \(disk.target.dev)",
                                str1: "no target device \(disk.target.dev)")
            }
            def.devices.disks.remove(at: i)
        case "interface":
            guard let n = dev.interface else { return }
            let i = try findInterface(n, macSpecified: dev.macSpecified, in: def.devices.interfaces)
            def.devices.interfaces.remove(at: i)
        case "channel":
            guard let c = dev.devices.channels.first else { return }
            guard let i = findChannel(c, in: def.devices.channels) else {
                throw VirtError.invalidArg("device not present in domain configuration", domain: .domain)
            }
            def.devices.channels.remove(at: i)
        case "rng":
            guard let r = dev.devices.rngs.first else { return }
            guard let i = findRNG(r, in: def.devices.rngs) else {
                throw VirtError(.deviceMissing, domain: .domain, "device not found: no matching RNG device was found",
                                str1: "no matching RNG device was found")
            }
            def.devices.rngs.remove(at: i)
        case "watchdog":
            if def.devices.watchdogs.isEmpty {
                throw VirtError(.deviceMissing, domain: .domain, "device not found: domain has no watchdog",
                                str1: "domain has no watchdog")
            }
            def.devices.watchdogs.removeAll()
        case "console" where isSerialConsole(dev):
            throw VirtError.operationInvalid("detaching serial console is not supported", domain: .qemu)
        case "console":
            guard let c = dev.devices.consoles.first else { return }
            guard let i = consoleIndex(c, in: def.devices.consoles, live: false) else {
                throw VirtError.invalidArg("device not present in domain configuration", domain: .domain)
            }
            def.devices.consoles.remove(at: i)
        case "serial":
            guard let c = dev.devices.serials.first else { return }
            guard let i = findSerial(c, in: def.devices.serials) else {
                throw VirtError.invalidArg("device not present in domain configuration", domain: .domain)
            }
            def.devices.removeSerial(at: i)
        case "memory":
            guard let m = dev.devices.memories.first else { return }
            guard let i = QEMUMemoryDevices.find(m, in: def.devices.memories) else {
                let detail = "matching memory device was not found"
                throw Self.deviceMissing(detail)
            }
            let size = def.devices.memories.remove(at: i).sizeKiB
            def.memory = def.memory > size ? def.memory - size : def.memory
            if def.currentMemory > def.memory { def.currentMemory = def.memory }
        default:
            throw VirtError.operationUnsupported("persistent detach of device '\(dev.kind)' is not supported",
                                                 domain: .qemu)
        }
    }

    /// libvirt's `virDomainNetFindIdx`: by MAC when one was given, and by PCI address when one was given.
    static func findInterface(_ n: NetInterface, macSpecified: Bool, in list: [NetInterface]) throws(VirtError) -> Int {
        let matches = list.indices.filter { i in
            if macSpecified && list[i].mac != n.mac { return false }
            if case .pci(let a)? = n.info.address, !a.isEmpty, list[i].info.address != n.info.address { return false }
            return true
        }
        if matches.count == 1, let i = matches.first { return i }
        if matches.isEmpty {
            var addr = "(<null>)"
            if case .pci(let a)? = n.info.address, !a.isEmpty {
                addr = String(format: "%04x:%02x:%02x.%x", a.domain, a.bus, a.slot, a.function)
            }
            let detail = "no device found at address '\(addr)' matching MAC address '\(macSpecified ? n.mac.description : "(<null>)")'"
                + " and alias '\(n.info.alias ?? "(<null>)")'"
            throw VirtError(.deviceMissing, domain: .domain, "device not found: \(detail)", str1: detail)
        }
        let detail = macSpecified ? "multiple devices matching MAC address \(n.mac) found"
            : "multiple matching devices found"
        throw VirtError.operationFailed(detail, domain: .domain)
    }

    /// libvirt's VIR_ERR_DEVICE_MISSING from the QEMU driver: "device not found: <detail>".
    static func deviceMissing(_ detail: String) -> VirtError {
        VirtError(.deviceMissing, domain: .qemu, "device not found: \(detail)", str1: detail)
    }

    /// The alias of the live device `dev` names.
    static func findLive(_ dev: DeviceDefinition, in live: DomainDefinition) throws(VirtError) -> String {
        switch dev.kind {
        case "console":
            // libvirt's virDomainChrFind never matches the serial port's console copy.
            guard !isSerialConsole(dev), let c = dev.devices.consoles.first,
                  let i = consoleIndex(c, in: live.devices.consoles, live: true) else {
                throw Self.deviceMissing("chr type 'console' device not present in domain configuration")
            }
            return live.devices.consoles[i].info.alias ?? ""
        case "disk":
            guard let disk = dev.disk,
                  let found = live.devices.disks.first(where: { $0.target.dev == disk.target.dev }) else {
                let name = dev.disk?.target.dev ?? ""
                throw VirtError(.deviceMissing, domain: .qemu, "device not found: disk \(name) not found",
                                str1: "disk \(name) not found")
            }
            if found.device == .cdrom || found.device == .floppy {
                throw VirtError.operationUnsupported(
                    "disk device type '\(found.device.rawValue)' cannot be detached", domain: .qemu)
            }
            return found.info.alias ?? ""
        case "interface":
            guard let n = dev.interface else { return "" }
            let i = try findInterface(n, macSpecified: dev.macSpecified, in: live.devices.interfaces)
            return live.devices.interfaces[i].info.alias ?? ""
        case "channel":
            guard let c = dev.devices.channels.first else { return "" }
            guard let i = findChannel(c, in: live.devices.channels) else {
                let detail = "chr type 'channel' device not present in domain configuration"
                throw Self.deviceMissing(detail)
            }
            return live.devices.channels[i].info.alias ?? ""
        case "rng":
            guard let r = dev.devices.rngs.first else { return "" }
            guard let i = findRNG(r, in: live.devices.rngs) else {
                let backend = switch r.backend { case .random: "random"; case .egd: "egd"; case .builtin: "builtin" }
                let detail = "model '\(backend)' RNG device not present in domain configuration"
                throw Self.deviceMissing(detail)
            }
            return live.devices.rngs[i].info.alias ?? ""
        case "watchdog":
            guard let w = dev.devices.watchdogs.first else { return "" }
            guard let have = live.devices.watchdogs.first else {
                let detail = "watchdog device not present in domain configuration"
                throw Self.deviceMissing(detail)
            }
            // libvirt 9.0 compares the addresses as given: a watchdog named without its address does not match.
            if have.model != w.model || have.action != w.action || w.info.address != have.info.address {
                let detail = "model '\(w.model.rawValue)' watchdog device not present in domain configuration"
                throw Self.deviceMissing(detail)
            }
            if have.model != .i6300esb {
                throw VirtError.operationUnsupported(
                    "hot unplug of watchdog of model \(have.model.rawValue) is not supported", domain: .qemu)
            }
            return have.info.alias ?? ""
        case "serial":
            guard let c = dev.devices.serials.first else { return "" }
            guard let i = findSerial(c, in: live.devices.serials) else {
                let detail = "chr type 'serial' device not present in domain configuration"
                throw Self.deviceMissing(detail)
            }
            return live.devices.serials[i].info.alias ?? ""
        case "memory":
            // The size as the attach aligned it (libvirt's qemuDomainDetachPrepMemory).
            guard var m = dev.devices.memories.first else { return "" }
            m.sizeKiB = QEMUMemoryDevices.alignedSize(m)
            guard let i = QEMUMemoryDevices.find(m, in: live.devices.memories) else {
                let detail = "model '\(m.model.rawValue)' memory device not present in the domain configuration"
                throw Self.deviceMissing(detail)
            }
            // libvirt 9.0 asks QEMU to unplug a virtio-mem or virtio-pmem too (QEMU refuses).
            return live.devices.memories[i].info.alias ?? ""
        default:
            throw VirtError.operationUnsupported("live detach of device '\(dev.kind)' is not supported", domain: .qemu)
        }
    }

    /// libvirt's unplug: `device_del`, then up to five seconds for DEVICE_DELETED; without it the call returns
    /// and the removal completes when QEMU reports it.
    private func detachLive(alias: String) async throws(VirtError) {
        let mon = try requireRunning()
        if hotplug.unplugWaiters[alias] != nil { return }
        try await mon.execute("device_del", arguments: ["id": .string(alias)])
        let deleted = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            hotplug.unplugWaiters[alias] = c
            Task { [weak self] in
                try? await Task.sleep(for: Self.unplugTimeout)
                await self?.unplugTimedOut(alias)
            }
        }
        if deleted {
            await removeLive(alias: alias)
        } else if hotplug.rejected.remove(alias) != nil {
            // libvirt's qemuDomainWaitForDeviceRemoval when the guest said no in time.
            throw VirtError.operationFailed("unplug of device was rejected by the guest", domain: .qemu)
        }
    }

    private func unplugRejected(_ alias: String) {
        if let w = hotplug.unplugWaiters.removeValue(forKey: alias) {
            hotplug.rejected.insert(alias)
            w.resume(returning: false)
        }
        emit(DomainEventRecord(domain: ref, kind: .deviceRemovalFailed(alias: alias)))
    }

    private func unplugTimedOut(_ alias: String) {
        hotplug.unplugWaiters.removeValue(forKey: alias)?.resume(returning: false)
    }

    /// QEMU's device events: DEVICE_DELETED completes an unplug (the waiting detach, or one that returned
    /// already), DEVICE_UNPLUG_GUEST_ERROR and an ACPI_DEVICE_OST telling that the guest failed to eject a DIMM
    /// are libvirt's DEVICE_REMOVAL_FAILED (and fail a detach still waiting), DEVICE_TRAY_MOVED its tray event.
    func handleDeviceEvent(_ ev: QMPEvent) async {
        let alias = ev.data["device"]?.stringValue ?? ""
        switch ev.name {
        case "DEVICE_DELETED":
            guard !alias.isEmpty else { return }
            if let w = hotplug.unplugWaiters.removeValue(forKey: alias) {
                w.resume(returning: true)
            } else if liveDefinition?.devices.deviceInfos.contains(where: { $0.1.alias == alias }) == true {
                await removeLive(alias: alias)
            } else {
                await vcpuReleasedLate(alias)
            }
        case "DEVICE_UNPLUG_GUEST_ERROR":
            unplugRejected(alias)
        case "ACPI_DEVICE_OST":
            // libvirt's qemuProcessHandleAcpiOstInfo: status 1 for a DIMM is a refused eject.
            let info = ev.data["info"]
            guard info?["slot-type"]?.stringValue == "DIMM", info?["status"]?.intValue == 1,
                  let dimm = info?["device"]?.stringValue else { return }
            unplugRejected(dimm)
        case "DEVICE_TRAY_MOVED":
            // QEMU names the frontend by its QOM id (the alias) in "id", the block backend in "device".
            let id = ev.data["id"]?.stringValue ?? alias
            guard let open = ev.data["tray-open"]?.boolValue, var live = liveDefinition,
                  let i = live.devices.disks.firstIndex(where: { $0.info.alias == id }) else { return }
            // libvirt writes the tray only when it is open.
            live.devices.disks[i].target.tray = open ? "open" : nil
            liveDefinition = live
            writeStatus()
            emit(DomainEventRecord(domain: ref, kind: .trayChange(alias: id, reason: open ? 0 : 1)))
        default:
            break
        }
    }

    /// libvirt's `qemuDomainRemoveDevice`: the backend goes (block nodes, netdev), the device leaves the live
    /// definition, DEVICE_REMOVED.
    private func removeLive(alias: String) async {
        guard let before = liveDefinition else { return }
        // The backend first (QEMU answers in between), then the definitions as they are by then.
        if let disk = before.devices.disks.first(where: { $0.info.alias == alias }) {
            if let node = hotplug.diskNodes.removeValue(forKey: alias), let mon = monitor {
                _ = try? await mon.execute("blockdev-del", arguments: ["node-name": .string(node + "-format")])
                _ = try? await mon.execute("blockdev-del", arguments: ["node-name": .string(node + "-storage")])
                // Then its backing images' nodes, top down.
                for l in QEMUBackingChain.layers(disk) {
                    guard let n = l.index else { continue }
                    _ = try? await mon.execute("blockdev-del", arguments: ["node-name": .string("libvirt-\(n)-format")])
                    _ = try? await mon.execute("blockdev-del", arguments: ["node-name": .string("libvirt-\(n)-storage")])
                }
                if QEMUDiskEncryption.of(disk) != nil {
                    _ = try? await mon.execute("object-del",
                                               arguments: ["id": .string(QEMUDiskEncryption.secretAlias(node: node))])
                }
            }
            restoreDiskLabel(disk)
            runDefinition?.devices.disks.removeAll { $0.target.dev == disk.target.dev }
            if disk.type == .block, let g = cgroup {
                // The device leaves the cgroup's allow list too (libvirt's qemuTeardownImageCgroup).
                var rest = before
                rest.devices.disks.removeAll { $0.info.alias == alias }
                _ = try? g.setDeviceACL(Self.blockDevices(of: rest))
            }
        } else if let n = before.devices.interfaces.first(where: { $0.info.alias == alias }) {
            if let mon = monitor { _ = try? await mon.execute("netdev_del", arguments: ["id": .string("host" + alias)]) }
            // The tap of a network or bridge NIC goes with it (libvirt's qemuDomainRemoveNetDevice).
            if n.type == .network || n.type == .bridge, let t = n.targetDev { removeTap(t) }
            // Its network port goes too (libvirt's virDomainNetReleaseActualDevice).
            if n.type == .network, let p = n.source["portid"].flatMap({ VirtUUID(string: $0) }) {
                await releaseNetworkPort(p)
            }
            runDefinition?.devices.interfaces.removeAll { $0.mac == n.mac }
        } else if let c = before.devices.controllers.first(where: { $0.info.alias == alias }) {
            runDefinition?.devices.controllers.removeAll { $0.type == c.type && $0.index == c.index }
        } else if let i = before.devices.rngs.firstIndex(where: { $0.info.alias == alias }) {
            // The backend object goes after the device, then an EGD backend's character device (libvirt's
            // qemuDomainRemoveRNGDevice).
            if let mon = monitor {
                _ = try? await mon.execute("object-del", arguments: ["id": .string("obj" + alias)])
                if case .egd = before.devices.rngs[i].backend {
                    _ = try? await mon.execute("chardev-remove", arguments: ["id": .string("char" + alias)])
                }
            }
            // The definition as started lists the same rngs in the same order.
            if runDefinition?.devices.rngs.indices.contains(i) == true { runDefinition?.devices.rngs.remove(at: i) }
        } else if let c = before.devices.channels.first(where: { $0.info.alias == alias }) {
            // The host side goes after the port (libvirt's qemuDomainRemoveChrDevice).
            if let mon = monitor { _ = try? await mon.execute("chardev-remove", arguments: ["id": .string("char" + alias)]) }
            runDefinition?.devices.channels.removeAll { $0.targetType == c.targetType && $0.targetName == c.targetName }
        } else if let c = before.devices.consoles.first(where: { $0.info.alias == alias && $0.targetType == "virtio" }) {
            if let mon = monitor { _ = try? await mon.execute("chardev-remove", arguments: ["id": .string("char" + alias)]) }
            runDefinition?.devices.consoles.removeAll { $0.targetType == c.targetType && $0.targetPort == c.targetPort }
        } else if let c = before.devices.serials.first(where: { $0.info.alias == alias }) {
            if let mon = monitor { _ = try? await mon.execute("chardev-remove", arguments: ["id": .string("char" + alias)]) }
            if let i = runDefinition?.devices.serials.firstIndex(where: { $0.targetPort == c.targetPort }) {
                runDefinition?.devices.removeSerial(at: i)
            }
        } else if before.devices.watchdogs.contains(where: { $0.info.alias == alias }) {
            runDefinition?.devices.watchdogs.removeAll()
        } else if let m = before.devices.memories.first(where: { $0.info.alias == alias }) {
            await memoryRemoved(alias: alias, size: m.sizeKiB)
        }
        let wasMemory = before.devices.memories.contains { $0.info.alias == alias }
        guard var live = liveDefinition else { return }
        _ = Self.removeDevice(alias: alias, from: &live.devices)
        liveDefinition = live
        writeStatus()
        emit(DomainEventRecord(domain: ref, kind: .deviceRemoved(alias: alias)))
        if wasMemory, let mon = monitor { await refreshBalloon(mon) }
    }

    private func restoreDiskLabel(_ disk: Disk) {
        guard let path = disk.source.path else { return }
        let paths = Set([path] + QEMUBackingChain.layers(disk).map(\.path))
        let mine = labelled.filter { paths.contains($0.path) }
        guard !mine.isEmpty else { return }
        labelled.removeAll { paths.contains($0.path) }
        _ = security.restoreLabels(mine, stop: .destroyed)
    }

    /// Removes the device with this alias from a device list (disks, NICs, controllers, others by kind).
    static func removeDevice(alias: String, from d: inout DomainDevices) -> Bool {
        if let i = d.disks.firstIndex(where: { $0.info.alias == alias }) { d.disks.remove(at: i); return true }
        if let i = d.interfaces.firstIndex(where: { $0.info.alias == alias }) { d.interfaces.remove(at: i); return true }
        if let i = d.controllers.firstIndex(where: { $0.info.alias == alias }) { d.controllers.remove(at: i); return true }
        if let i = d.rngs.firstIndex(where: { $0.info.alias == alias }) { d.rngs.remove(at: i); return true }
        if let i = d.watchdogs.firstIndex(where: { $0.info.alias == alias }) { d.watchdogs.remove(at: i); return true }
        if let i = d.serials.firstIndex(where: { $0.info.alias == alias }) { d.removeSerial(at: i); return true }
        if let i = d.channels.firstIndex(where: { $0.info.alias == alias }) { d.channels.remove(at: i); return true }
        if let i = d.consoles.firstIndex(where: { $0.info.alias == alias }) { d.consoles.remove(at: i); return true }
        if let i = d.memories.firstIndex(where: { $0.info.alias == alias }) { d.memories.remove(at: i); return true }
        return false
    }

    // MARK: Update (media change)

    func updateDevice(xml: String, flags: UInt32) async throws(VirtError) {
        let force = flags & DeviceModifyFlags.force != 0
        try await deviceJob("updateDevice", flags: flags & 3) { (def: inout DomainDefinition) throws(VirtError) in
            let dev = try DeviceDefinition.parse(xml)
            if let net = dev.interface {
                // An interface's link state (virsh domif-setlink), found by its MAC.
                guard let i = def.devices.interfaces.firstIndex(where: { $0.mac == net.mac }) else {
                    throw VirtError(.deviceMissing, domain: .domain,
                                    "device not found: no device matching MAC address \(net.mac) found")
                }
                def.devices.interfaces[i].linkUp = net.linkUp
                return
            }
            if dev.kind == "memory", let m = dev.devices.memories.first {
                try Self.changeMemoryConfig(m, in: &def)
                return
            }
            guard let disk = dev.disk, disk.device == .cdrom || disk.device == .floppy else {
                throw VirtError.operationUnsupported("persistent update of device '\(dev.kind)' is not supported",
                                                     domain: .qemu)
            }
            guard let i = def.devices.disks.firstIndex(where: { $0.target.dev == disk.target.dev }) else {
                throw VirtError.invalidArg("target \(disk.target.dev) doesn't exist.", domain: .qemu)
            }
            def.devices.disks[i].type = disk.type
            def.devices.disks[i].source = disk.source
            if disk.driver.format != nil { def.devices.disks[i].driver.format = disk.driver.format }
        } live: { () async throws(VirtError) in
            let mon = try self.requireRunning()
            let dev = try DeviceDefinition.parse(xml)
            if let net = dev.interface {
                try await self.setLinkState(net, mon: mon)
                return
            }
            if dev.kind == "memory" {
                // libvirt reads the alias the device names: it finds the live device by it.
                let named = try DeviceDefinition.parse(xml, options: DomainParseOptions(live: true))
                if let m = named.devices.memories.first { try await self.changeMemoryLive(m, mon: mon) }
                return
            }
            guard let disk = dev.disk, disk.device == .cdrom || disk.device == .floppy else {
                throw VirtError.operationUnsupported("live update of device '\(dev.kind)' is not supported",
                                                     domain: .qemu)
            }
            guard let i = self.liveDefinition?.devices.disks.firstIndex(where: { $0.target.dev == disk.target.dev }) else {
                throw VirtError.invalidArg("disk '\(disk.target.dev)' not found", domain: .qemu)
            }
            try await self.changeMedia(at: i, to: disk, force: force, mon: mon)
        }
    }

    /// libvirt's `qemuDomainChangeNet` for a link state change: QMP `set_link` on the NIC, the live definition
    /// updated.
    private func setLinkState(_ net: NetInterface, mon: QMPMonitor) async throws(VirtError) {
        guard var live = liveDefinition, let i = live.devices.interfaces.firstIndex(where: { $0.mac == net.mac }) else {
            throw VirtError(.deviceMissing, domain: .domain,
                            "device not found: no device matching MAC address \(net.mac) found")
        }
        let up = net.linkUp ?? true
        if (live.devices.interfaces[i].linkUp ?? true) != up, let alias = live.devices.interfaces[i].info.alias {
            try await mon.execute("set_link", arguments: ["name": .string(alias), "up": .bool(up)])
        }
        live.devices.interfaces[i].linkUp = net.linkUp
        liveDefinition = live
        writeStatus()
    }

    /// libvirt's `qemuDomainChangeMediaBlockdev`: open the tray (forced when asked), remove the medium, insert
    /// the new one (new block nodes) and close the tray; an empty source only ejects.
    private func changeMedia(at i: Int, to disk: Disk, force: Bool, mon: QMPMonitor) async throws(VirtError) {
        guard let live = liveDefinition, let alias = live.devices.disks[i].info.alias else { return }
        var old = live.devices.disks[i]
        guard old.device == .cdrom || old.device == .floppy else {
            throw VirtError.operationUnsupported("disk device type '\(old.device.rawValue)' cannot be updated",
                                                 domain: .qemu)
        }
        if let p = disk.source.path, access(p, F_OK) != 0 {
            throw VirtError.systemError("Cannot access storage file '\(p)'", errno: errno, domain: .qemu)
        }
        try await mon.execute("blockdev-open-tray", arguments: ["id": .string(alias), "force": .bool(force)])
        try await mon.execute("blockdev-remove-medium", arguments: ["id": .string(alias)])
        if let node = hotplug.diskNodes.removeValue(forKey: alias) {
            _ = try? await mon.execute("blockdev-del", arguments: ["node-name": .string(node + "-format")])
            _ = try? await mon.execute("blockdev-del", arguments: ["node-name": .string(node + "-storage")])
        }
        restoreDiskLabel(old)
        old.type = disk.type
        old.source = disk.source
        if disk.driver.format != nil { old.driver.format = disk.driver.format }
        if QEMUCommandLine.diskHasSource(old) {
            let cl = QEMUCommandLine(definition: live, capabilities: nil)
            let node = hotplug.takeNode()
            var withOld = live
            withOld.devices.disks[i] = old
            try labelDisk(old, in: withOld)
            for b in try cl.diskBlockdevs(old, node: node) {
                try await mon.execute("blockdev-add", arguments: try Self.json(b))
            }
            try await mon.execute("blockdev-insert-medium",
                                  arguments: ["id": .string(alias), "node-name": .string(node + "-format")])
            hotplug.diskNodes[alias] = node
            old.source.index = Self.nodeNumber(node)
        } else {
            // libvirt numbers the empty medium too (no node is made for it).
            _ = hotplug.takeNode()
        }
        // As libvirt: the tray is closed again, also after an eject.
        try await mon.execute("blockdev-close-tray", arguments: ["id": .string(alias)])
        // The live definition as it is now (QEMU's tray events changed it meanwhile): only the medium changes.
        if var cur = liveDefinition, let k = cur.devices.disks.firstIndex(where: { $0.info.alias == alias }) {
            old.target.tray = cur.devices.disks[k].target.tray
            cur.devices.disks[k] = old
            liveDefinition = cur
        }
        if var run = runDefinition, let k = run.devices.disks.firstIndex(where: { $0.target.dev == old.target.dev }) {
            run.devices.disks[k].type = old.type
            run.devices.disks[k].source = old.source
            runDefinition = run
        }
        writeStatus()
    }
}
