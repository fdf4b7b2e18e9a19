import VirtCore

/// libvirt 9.0's test driver for disk I/O throttling: `<iotune>` of the one definition the flags address, its
/// checks and words; no QEMU behind it, no TUNABLE event (libvirt's builds one and drops it). Resize and block
/// jobs answer NO_SUPPORT there, as in libvirt's (HypervisorDriver+Block.swift).
extension TestDriver {
    public func blockIoTune(_ domain: DomainRef, disk: String?, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2 | 4, "testDomainGetBlockIoTune")
            if nparams == 0 { return ([], 20) }
            let (def, _) = try c.def(try c.table.object(domain), flags & 3)
            guard let disk, let d = Self.disk(def, disk) else {
                throw VirtError.invalidArg("disk '\(disk ?? "")' was not found in the domain config", domain: .test)
            }
            let sent = Array(d.ioTune.params.prefix(Int(max(nparams, 0))))
            return (sent, Int32(sent.count))
        }
    }

    public func setBlockIoTune(_ domain: DomainRef, disk: String, params: [TypedParam], flags: UInt32) async throws {
        try state.core.withLock { c throws(VirtError) in
            try TestDriverCore.checkFlags(flags, allowed: 1 | 2, "testDomainSetBlockIoTune")
            try TypedParam.validate(params, DiskIoTune.paramTypes)
            let obj = try c.table.object(domain)
            var (def, useNew) = try c.def(obj, flags)
            guard let i = def.devices.disks.firstIndex(where: { $0.target.dev == disk })
                ?? def.devices.disks.firstIndex(where: { $0.source.path == disk }) else {
                throw VirtError.invalidArg("missing persistent configuration for disk '\(disk)'", domain: .test)
            }
            var info = def.devices.disks[i].ioTune
            for p in params {
                switch p.value {
                case .ullong(let v):
                    if v > DiskIoTune.maxValue {
                        throw VirtError(.argumentUnsupported, domain: .test,
                                        "argument unsupported: block I/O throttle limit value must be no more than "
                                            + "\(DiskIoTune.maxValue)",
                                        str1: "block I/O throttle limit value must be no more than \(DiskIoTune.maxValue)")
                    }
                    info.values[p.field] = v == 0 ? nil : v
                case .string(let s):
                    info.group = s
                default: break
                }
            }
            for what in ["bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"] {
                if info.value("total_" + what) != 0
                    && (info.value("read_" + what) != 0 || info.value("write_" + what) != 0) {
                    throw VirtError.invalidArg("total and read/write of \(what) cannot be set at the same time",
                                               domain: .test)
                }
            }
            for base in ["total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec",
                         "write_iops_sec"] where info.value(base) > info.value(base + "_max") {
                throw VirtError.invalidArg("\(base) cannot be set higher than \(base)_max ", domain: .test)
            }
            def.devices.disks[i].ioTune = info
            c.store(obj, def, persistent: useNew)
        }
    }

    static func disk(_ def: DomainDefinition, _ path: String) -> Disk? {
        def.devices.disks.first { $0.target.dev == path } ?? def.devices.disks.first { $0.source.path == path }
    }
}
