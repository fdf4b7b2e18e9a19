import VirtCore

/// Block devices of a running domain: resizing an image (QMP block_resize) and I/O throttling
/// (block_set_io_throttle and `<iotune>`), as libvirt 9.0's QEMU driver.
extension QEMUDomainObject {
    // MARK: Resize

    /// libvirt's qemuDomainBlockResize (a modify job): only a running domain; `bytes` already in bytes.
    /// qcow2 and qed images are sized in whole 512-byte sectors, so the size is rounded up for them.
    func blockResize(disk path: String, bytes: UInt64) async throws(VirtError) {
        try await beginJob(.modify, owner: "blockResize")
        defer { endJob() }
        let m = try requireRunning()
        guard let disk = Self.disk(currentDefinition, path) else {
            throw VirtError.invalidArg("disk '\(path)' was not found in the domain config", domain: .qemu)
        }
        var size = bytes
        if disk.driver.format == .qcow2 || disk.driver.format?.rawValue == "qed" {
            size = (size + 511) / 512 * 512
        }
        guard let alias = disk.info.alias, let node = hotplug.diskNodes[alias] else {
            throw VirtError.operationInvalid("disk '\(disk.target.dev)' does not have an active block backend",
                                             domain: .qemu)
        }
        try await m.execute("block_resize", arguments: ["node-name": .string(node + "-format"),
                                                        "size": .int(Int64(clamping: size))])
    }

    // MARK: I/O throttling

    /// libvirt's qemuDomainGetBlockIoTune (a query job): the live values as QEMU reports them, or the
    /// persistent `<iotune>`; without VIR_TYPED_PARAM_STRING_OKAY (4) the group name is left out.
    func blockIoTune(disk path: String?, countOnly: Bool, flags: UInt32) async throws(VirtError) -> [TypedParam] {
        try await beginJob(.query, owner: "blockIoTune")
        defer { endJob() }
        let (def, live) = try oneDefinition(flags & 3)
        let all = QEMUDiskIoTune().params.filter { flags & 4 != 0 || $0.field != "group_name" }
        if countOnly { return all }
        guard let path, let disk = Self.disk(def, path) else {
            throw VirtError.invalidArg("disk '\(path ?? "")' not found in domain", domain: .qemu)
        }
        var tune = disk.ioTune
        if live {
            let m = try requireRunning()
            let blocks = try await m.execute("query-block").arrayValue ?? []
            guard let alias = disk.info.alias, let entry = blocks.first(where: { Self.qdevMatches($0, alias) }) else {
                throw VirtError.internalError("cannot find throttling info for device '\(disk.target.dev)'",
                                              domain: .qemu)
            }
            tune = entry["inserted"].map(QEMUDiskIoTune.init(qmp:)) ?? QEMUDiskIoTune()
        }
        return tune.params.filter { flags & 4 != 0 || $0.field != "group_name" }
    }

    /// The disk device's QOM path as block_set_io_throttle wants it (libvirt's qomName): a virtio disk's block
    /// backend is its `virtio-backend` child.
    static func qomName(_ d: Disk, _ alias: String) -> String {
        d.target.bus == .virtio ? "/machine/peripheral/\(alias)/virtio-backend" : alias
    }

    /// query-block's entry of the device with alias `alias` (`qdev` is its QOM path).
    static func qdevMatches(_ entry: JSONValue, _ alias: String) -> Bool {
        guard let qdev = entry["qdev"]?.stringValue else { return false }
        return qdev == alias || qdev == "/machine/peripheral/" + alias || qdev.hasPrefix("/machine/peripheral/\(alias)/")
    }

    /// libvirt's qemuDomainSetBlockIoTune (a modify job). The categories the call names (bytes, iops, their
    /// maxima and burst lengths, size, group) replace the current ones; the others are kept, from the disk or,
    /// when the group is named, from another disk of that group. The live change goes to QEMU
    /// (block_set_io_throttle), every disk of the group takes the new values, and TUNABLE lists what was set.
    func setBlockIoTune(disk path: String, params: [TypedParam], flags: UInt32) async throws(VirtError) {
        var types: [String: Int32] = [:]
        for (name, _) in QEMUDiskIoTune.fields { types[name] = name == "group_name" ? 7 : 4 }
        try TypedParam.validate(params, types)
        var given = QEMUDiskIoTune()
        var named: Set<Int> = []
        var event: [TypedParam] = [TypedParam("blkdeviotune.disk", .string(path))]
        for p in params {
            if let c = QEMUDiskIoTune.categories.firstIndex(where: { $0.contains(p.field) }) { named.insert(c) }
            switch p.value {
            case .ullong(let v):
                if v > QEMUDiskIoTune.maxValue {
                    throw VirtError(.argumentUnsupported, domain: .qemu,
                                    "argument unsupported: block I/O throttle limit value must be no more than "
                                        + "\(QEMUDiskIoTune.maxValue)",
                                    str1: "block I/O throttle limit value must be no more than \(QEMUDiskIoTune.maxValue)")
                }
                given.values[p.field] = v
            case .string(let s):
                given.group = s
            default: break
            }
            event.append(TypedParam("blkdeviotune." + p.field, p.value))
        }
        for (total, what) in [("total_bytes_sec", "bytes_sec"), ("total_iops_sec", "iops_sec"),
                              ("total_bytes_sec_max", "bytes_sec_max"), ("total_iops_sec_max", "iops_sec_max")] {
            let rw = total.replacingOccurrences(of: "total_", with: "")
            if given.value(total) != 0 && (given.value("read_" + rw) != 0 || given.value("write_" + rw) != 0) {
                throw VirtError.invalidArg("total and read/write of \(what) cannot be set at the same time",
                                           domain: .qemu)
            }
        }
        try await beginJob(.modify, owner: "setBlockIoTune")
        defer { endJob() }
        let t = try targets(flags)
        if t.live, var live = liveDefinition {
            let m = try requireRunning()
            guard let i = Self.diskIndex(live, path) else {
                throw VirtError.invalidArg("disk '\(path)' not found in domain", domain: .qemu)
            }
            let tune = Self.merged(given, named: named, disk: i, in: live)
            try Self.checkMaxima(tune)
            guard let alias = live.devices.disks[i].info.alias else {
                throw VirtError.operationInvalid("disk '\(path)' does not have an alias", domain: .qemu)
            }
            try await m.execute("block_set_io_throttle",
                                arguments: tune.qmpArguments(id: Self.qomName(live.devices.disks[i], alias)))
            Self.store(tune, disk: i, in: &live)
            liveDefinition = live
            writeStatus()
            emit(DomainEventRecord(domain: ref, kind: .tunable(params: event)))
        }
        if t.config {
            var def = definition
            guard let i = Self.diskIndex(def, path) else {
                throw VirtError.invalidArg("disk '\(path)' not found in domain", domain: .qemu)
            }
            Self.store(Self.merged(given, named: named, disk: i, in: def), disk: i, in: &def)
            definition = def
            try saveConfig()
        }
    }

    static func diskIndex(_ def: DomainDefinition, _ path: String) -> Int? {
        def.devices.disks.firstIndex { $0.target.dev == path } ?? def.devices.disks.firstIndex { $0.source.path == path }
    }

    /// The new values: the named categories from the call, the others from the group's other disk (when the
    /// call names a group one of them is in) or from the disk itself.
    private static func merged(_ given: QEMUDiskIoTune, named: Set<Int>, disk i: Int, in def: DomainDefinition)
        -> QEMUDiskIoTune {
        let disks = def.devices.disks
        var current = disks[i].ioTune
        if let g = given.group, named.contains(3),
           let other = disks.indices.first(where: { $0 != i && disks[$0].ioTune.group == g }) {
            current = disks[other].ioTune
        }
        var out = current
        for (c, names) in QEMUDiskIoTune.categories.enumerated() where named.contains(c) {
            if c == 3 {
                out.group = given.group
            } else {
                for n in names { out.values[n] = given.value(n) == 0 ? nil : given.value(n) }
            }
        }
        return out
    }

    /// The disk's `<iotune>`, and that of every other disk of its group.
    private static func store(_ tune: QEMUDiskIoTune, disk i: Int, in def: inout DomainDefinition) {
        def.devices.disks[i].ioTune = tune
        guard let g = tune.group else { return }
        for j in def.devices.disks.indices where j != i && def.devices.disks[j].ioTune.group == g {
            def.devices.disks[j].ioTune = tune
        }
    }

    /// A maximum needs its base value and may not be below it (libvirt's checks before a live change).
    private static func checkMaxima(_ t: QEMUDiskIoTune) throws(VirtError) {
        for base in ["total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec",
                     "write_iops_sec"] {
            let max = t.value(base + "_max")
            guard max != 0 else { continue }
            if t.value(base) == 0 {
                throw VirtError.configUnsupported("cannot reset '\(base)' when '\(base)_max' is set", domain: .qemu)
            }
            if max < t.value(base) {
                throw VirtError.configUnsupported("value '\(base)_max' cannot be smaller than '\(base)'", domain: .qemu)
            }
        }
    }

    /// libvirt's qemuProcessSetupDiskThrottling: the `<iotune>` of the started disks to QEMU, once per group.
    func applyDiskThrottlingAtStart(_ m: QMPMonitor) async throws(VirtError) {
        guard let live = liveDefinition else { return }
        var groups: Set<String> = []
        for d in live.devices.disks {
            let tune = d.ioTune
            guard tune.hasAnyLimit, let alias = d.info.alias, hotplug.diskNodes[alias] != nil else { continue }
            if let g = tune.group {
                if groups.contains(g) { continue }
                groups.insert(g)
            }
            try await m.execute("block_set_io_throttle", arguments: tune.qmpArguments(id: Self.qomName(d, alias)))
        }
    }
}
