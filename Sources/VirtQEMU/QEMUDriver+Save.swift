import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Save, restore and managed save on the QEMU driver (images in libvirt's format, `QEMUSaveImage`), and
/// the job queries that follow them (`domjobinfo`, `domjobabort`).
extension QEMUDriver {
    public func save(_ domain: DomainRef, to path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        try Self.checkSaveFlags(flags, function: "qemuDomainSaveFlags")
        let obj = try await state.object(domain)
        try await obj.save(to: Self.absolute(path), xml: xml, flags: flags, managed: false)
    }

    public func restore(from path: String, xml: String?, flags: SaveRestoreFlags) async throws {
        try Self.checkSaveFlags(flags.subtracting(.resetNVRAM), function: "qemuDomainRestoreFlags")
        try await restoreImage(Self.absolute(path), xml: xml, flags: flags, into: nil)
    }

    /// Opens image `path`, checks it as libvirt does, and starts its domain from it (`into`: the domain a
    /// managed save belongs to). The image's descriptor is handed to QEMU and closed here either way.
    func restoreImage(_ path: String, xml dxml: String?, flags: SaveRestoreFlags,
                      into target: QEMUDomainObject?) async throws {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw VirtError.systemError("cannot open file '\(path)'", errno: errno, domain: .qemu)
        }
        defer { Glibc.close(fd) }
        let image = try QEMUSaveImage.read(fd: fd)
        if image.compressed != 0 {
            throw VirtError.operationUnsupported(
                "save image '\(path)' is compressed (format \(image.compressed)); only raw images are supported")
        }
        var def = try await parse(image.xml, validate: false)
        if let dxml {
            let other = try await parse(dxml, validate: false)
            try QEMUDomainObject.checkSameDomain(def, other)
            def = other
        }
        let obj: QEMUDomainObject
        var added = false
        if let target {
            let (tn, tu) = (await target.name, target.uuid)
            if tn != def.name || tu != def.uuid {
                throw VirtError.operationInvalid(
                    "cannot restore domain '\(tn)' uuid \(tu) from a file which belongs to domain '\(def.name)' uuid \(def.uuid)",
                    domain: .qemu)
            }
            obj = target
            // The image's definition runs (it may carry hot-plugged devices); the persistent one stays.
            await target.setNextRun(def)
        } else {
            let (o, updated) = try await state.addOrUpdate(def, persistent: false, live: true)
            obj = o
            added = !updated
        }
        let wasRunning = flags.contains(.running) ? true : flags.contains(.paused) ? false : image.wasRunning
        let source = QEMURestoreSource(path: path, fd: fd, wasRunning: wasRunning, managed: target != nil)
        var create: CreateFlags = []
        if flags.contains(.paused) { create.insert(.startPaused) }
        do {
            try await startObject(obj, flags: create, kind: .restore(source))
        } catch {
            if added, await !obj.persistent { await state.remove(obj.uuid) }
            throw error
        }
    }

    /// `virDomainCreate` with a managed save image: restore from it and remove it; with FORCE_BOOT remove it
    /// and boot fresh. An incomplete or unreadable image is removed with a warning and the domain boots
    /// fresh, as libvirt does. Returns true when the domain was restored.
    func startFromManagedSave(_ obj: QEMUDomainObject, flags: CreateFlags) async throws -> Bool {
        let path = state.paths.managedSaveFile(await obj.name)
        guard access(path, F_OK) == 0 else { return false }
        if flags.contains(.forceBoot) {
            unlink(path)
            return false
        }
        do {
            var sr: SaveRestoreFlags = []
            if flags.contains(.startPaused) { sr.insert(.paused) }
            try await restoreImage(path, xml: nil, flags: sr, into: obj)
        } catch let e as VirtError where Self.isCorruptImage(e) {
            QEMUProcess.appendNote(state.paths.logFile(await obj.name),
                                   "warning: removing corrupt managed save image \(path): \(e.message)")
            if unlink(path) != 0 {
                throw VirtError.systemError("cannot remove corrupt file: \(path)", errno: errno, domain: .qemu)
            }
            return false
        }
        unlink(path)
        return true
    }

    /// The image errors after which libvirt discards a managed save image (short header, partial image).
    /// Any other error (e.g. "image magic is incorrect" for a file of zeros) fails the start and keeps the
    /// image, as libvirtd 9.0 does (`qemuSaveImageOpen` returns -3 only for these two).
    static func isCorruptImage(_ e: VirtError) -> Bool {
        e.message.hasSuffix("failed to read qemu header") || e.message.hasSuffix("save image is incomplete")
    }

    public func managedSave(_ domain: DomainRef, flags: SaveRestoreFlags) async throws {
        try Self.checkSaveFlags(flags, function: "qemuDomainManagedSave")
        let obj = try await state.object(domain)
        guard await obj.persistent else {
            throw VirtError.operationInvalid("cannot do managed save for transient domain", domain: .qemu)
        }
        try LinuxSys.mkdirs(state.paths.saveDir, mode: 0o700)
        try await obj.save(to: state.paths.managedSaveFile(await obj.name), xml: nil, flags: flags, managed: true)
    }

    public func hasManagedSaveImage(_ domain: DomainRef) async throws -> Bool {
        let obj = try await state.object(domain)
        return access(state.paths.managedSaveFile(await obj.name), F_OK) == 0
    }

    public func managedSaveRemove(_ domain: DomainRef) async throws {
        let obj = try await state.object(domain)
        let path = state.paths.managedSaveFile(await obj.name)
        if access(path, F_OK) == 0, unlink(path) != 0 {
            throw VirtError.systemError("Failed to remove managed save file '\(path)'", errno: errno, domain: .qemu)
        }
    }

    // MARK: Jobs

    /// `virDomainGetJobStats`: the async job in flight, or with `completed` the last one that ended.
    public func jobStats(_ domain: DomainRef, completed: Bool, keepCompleted: Bool) async throws
        -> (type: Int32, params: [TypedParam]) {
        let obj = try await state.object(domain)
        let info = completed ? await obj.completedJobInfo(keep: keepCompleted) : await obj.jobInfo()
        return (info.type.rawValue, info.type == .none ? [] : info.params)
    }

    /// `virDomainAbortJob`.
    public func abortJob(_ domain: DomainRef, flags: UInt32) async throws {
        guard flags & ~UInt32(1) == 0 else {
            throw VirtError.unsupportedFlags(UInt64(flags & ~UInt32(1)), function: "qemuDomainAbortJobFlags", domain: .qemu)
        }
        try await state.object(domain).abortJob(postcopy: flags & 1 != 0)
    }

    private static func checkSaveFlags(_ flags: SaveRestoreFlags, function: String) throws {
        let known: SaveRestoreFlags = [.bypassCache, .running, .paused]
        let unknown = flags.subtracting(known)
        if !unknown.isEmpty {
            throw VirtError.unsupportedFlags(UInt64(unknown.rawValue), function: function, domain: .qemu)
        }
        if flags.contains(.running) && flags.contains(.paused) {
            throw VirtError.invalidArg("flags 'running' and 'paused' are mutually exclusive", domain: .qemu)
        }
        if flags.contains(.bypassCache) {
            throw VirtError.operationUnsupported("bypass cache is not supported for QEMU save images yet")
        }
    }

    /// libvirt makes relative save paths absolute against the daemon's working directory.
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
