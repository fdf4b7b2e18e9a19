import VirtCore

/// Console and guest operations (issue 11): see `QEMUDomainObject+GuestOps.swift`.
extension QEMUDriver {
    public func screenshot(_ domain: DomainRef, screen: UInt32, flags: UInt32) async throws
        -> (mime: String, stream: any ByteStream) {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainScreenshot")
        return try await state.object(domain).screenshot(screen: screen)
    }

    /// libvirt's `qemuDomainSendKey`: the key codes translated to QEMU's numbers (qnum) first, before the
    /// domain is looked up, as libvirt does.
    public func sendKey(_ domain: DomainRef, codeset: UInt32, holdtime: UInt32, keycodes: [UInt32], flags: UInt32)
        async throws {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainSendKey")
        let set = Int32(exactly: codeset).flatMap(KeycodeSet.init(rawValue:))
        var qnums: [UInt32] = []
        for key in keycodes {
            if set == .qnum {
                qnums.append(key)
                continue
            }
            guard let set, let q = set.translate(key, to: .qnum) else {
                let detail = "cannot translate keycode \(key) of \(set?.name ?? "(null)") codeset to qnum keycode"
                throw VirtError.internalError(detail, domain: .qemu)
            }
            qnums.append(q)
        }
        try await state.object(domain).sendKey(qnums: qnums, holdtime: holdtime)
    }
}

extension QEMUDriver {
    /// libvirt's qemuDomainOpenGraphicsFD: a socket pair, one end given to QEMU's VNC or SPICE server
    /// (`getfd`, `add_client`), the other returned.
    public func openGraphicsFD(_ domain: DomainRef, index: UInt32, flags: UInt32) async throws -> Int32 {
        try Self.checkFlags(flags, allowed: 1, "qemuDomainOpenGraphicsFD")
        return try await state.object(domain).openGraphicsFD(index: index, skipAuth: flags & 1 != 0)
    }

    public func openGraphics(_ domain: DomainRef, index: UInt32, fd: Int32, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1, "qemuDomainOpenGraphics")
        try await state.object(domain).openGraphics(index: index, fd: fd, skipAuth: flags & 1 != 0)
    }

    /// libvirt's qemuDomainFDAssociate: no job, active or not; a name passed again replaces its group.
    public func associateFDs(_ domain: DomainRef, name: String, fds: [Int32], flags: UInt32, owner: UInt64)
        async throws {
        try Self.checkFlags(flags, allowed: 3, "qemuDomainFDAssociate")
        if fds.isEmpty { return }
        try await state.object(domain).associateFDs(name: name, fds: fds, flags: flags, owner: owner)
    }

    public func fdOwnerGone(_ owner: UInt64) async {
        for obj in await state.allObjects() { await obj.dropFDGroups(owner: owner) }
    }

    /// libvirt's qemuDomainCoreDumpWithFormat (virDomainCoreDump is the same with the raw format).
    public func coreDump(_ domain: DomainRef, to path: String, format: UInt32?, flags: UInt32) async throws {
        try CoreDump.check(format: format, flags: flags)
        try Self.checkFlags(flags, allowed: 0x1f, "qemuDomainCoreDumpWithFormat")
        if flags & CoreDump.bypassCache != 0 {
            throw VirtError.operationUnsupported("bypass cache is not supported for QEMU core dumps yet")
        }
        try await state.object(domain).coreDump(to: path, format: format, flags: flags)
    }
}

extension QEMUDriver {
    /// libvirt's qemuDomainGetIOThreadInfo.
    public func iothreadInfo(_ domain: DomainRef, flags: UInt32) async throws -> [IOThreadInfo] {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainGetIOThreadInfo")
        return try await state.object(domain).iothreadInfo(flags: flags)
    }
}

extension QEMUDriver {
    /// `virDomainSetVcpusFlags`: libvirt's public API checks, then qemuDomainSetVcpusFlags for the persistent
    /// definition (the live vCPU hotplug is not done yet).
    public func setVcpus(_ domain: DomainRef, count: UInt32, flags: ModificationImpact) async throws {
        if flags.contains(.maximum) && !flags.contains(.config) {
            throw VirtError(.invalidArg, domain: .domain,
                            "Flag 'VIR_DOMAIN_AFFECT_CONFIG' is required by flag 'VIR_DOMAIN_VCPU_MAXIMUM'")
        }
        if flags.contains(.vcpuGuest) && flags.contains(.config) {
            throw VirtError(.invalidArg, domain: .domain,
                            "Flags 'VIR_DOMAIN_VCPU_GUEST' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive")
        }
        if count == 0 {
            throw VirtError(.invalidArg, domain: .domain, "nvcpus in virDomainSetVcpusFlags must not be zero")
        }
        try Self.checkFlags(flags.rawValue, allowed: 0x1f, "qemuDomainSetVcpusFlags")
        if flags.contains(.vcpuGuest) {
            throw VirtError.operationUnsupported("setting the vCPU count through the guest agent is not supported yet")
        }
        try await state.object(domain).setVcpus(count, flags: flags)
    }

    /// libvirt's qemuDomainSetVcpu: the list parsed as a bitmap, then QEMUDomainObject.setVcpu.
    public func setVcpu(_ domain: DomainRef, cpumap: String, state enabled: Int32, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainSetVcpu")
        let map: CPUSet
        do {
            map = try CPUSet(parsing: cpumap)
        } catch {
            throw VirtError.invalidArg("Failed to parse bitmap '\(cpumap)'", domain: .none)
        }
        try await state.object(domain).setVcpu(map, enable: enabled != 0, flags: flags)
    }
}

extension QEMUDriver {
    public func blockPeek(_ domain: DomainRef, path: String, offset: UInt64, size: UInt32, flags: UInt32)
        async throws -> [UInt8] {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainBlockPeek")
        return try await state.object(domain).blockPeek(path: path, offset: offset, size: size)
    }

    public func memoryPeek(_ domain: DomainRef, start: UInt64, size: UInt32, flags: UInt32) async throws -> [UInt8] {
        try Self.checkFlags(flags, allowed: 3, "qemuDomainMemoryPeek")
        if flags != 1 && flags != 2 {
            throw VirtError(.invalidArg, domain: .qemu,
                            "invalid argument: flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL",
                            str1: "flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL")
        }
        return try await state.object(domain).memoryPeek(start: start, size: size, physical: flags == 2)
    }
}

extension QEMUDriver {
    /// libvirt's qemuDomainBackupBegin (QEMUDomainObject+Backup.swift).
    public func backupBegin(_ domain: DomainRef, backupXML: String, checkpointXML: String?, flags: UInt32)
        async throws {
        try Self.checkFlags(flags, allowed: 1, "qemuDomainBackupBegin")
        try await state.object(domain).backupBegin(xml: backupXML, checkpointXML: checkpointXML, flags: flags)
    }

    public func backupXML(_ domain: DomainRef, flags: UInt32) async throws -> String {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainBackupGetXMLDesc")
        return try await state.object(domain).backupXML()
    }
}
