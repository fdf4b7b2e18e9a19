import VirtCore
import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// The pool-level half of a pool type's backend (libvirt's `virStorageBackend` table: build, start, stop,
/// delete, check). Volumes do not go through it: a `dir` and an `fs` pool both keep their volumes as files in
/// the target directory, so the volume code (`DirPoolBackend`, `FileStorageDriver+Volumes.swift`) serves both.
enum PoolBackend {
    /// libvirt's `dir` backend: the target directory is the pool.
    case dir
    /// libvirt's `fs` backend: a block device (or image file) with a filesystem, mounted on the target directory
    /// while the pool runs.
    case fs

    static let domain = VirtError.ErrorDomain.storage

    /// The backend of a pool type; libvirt without one says so in these words.
    init(_ type: StoragePoolType) throws(VirtError) {
        switch type {
        case .dir: self = .dir
        case .fs: self = .fs
        default:
            throw VirtError.internalError("missing backend for pool type \(type.rawValue) (\(type.name))",
                                          domain: Self.domain)
        }
    }

    /// `pool-build`: the target directory; an fs pool with OVERWRITE or NO_OVERWRITE also gets a filesystem.
    func build(_ def: StoragePoolDefinition, overwrite: Bool, noOverwrite: Bool) throws(VirtError) {
        switch self {
        case .dir:
            try DirPoolBackend.build(def, overwrite: overwrite, noOverwrite: noOverwrite)
        case .fs:
            try DirPoolBackend.checkBuildFlags(overwrite: overwrite, noOverwrite: noOverwrite)
            try DirPoolBackend.makeTarget(def)
            if overwrite || noOverwrite { try FsPoolBackend.makeFileSystem(def, overwrite: overwrite) }
        }
    }

    /// `pool-start` before the first refresh: an fs pool mounts its source.
    func start(_ def: StoragePoolDefinition) throws(VirtError) {
        if self == .fs { try FsPoolBackend.mount(def) }
    }

    /// `pool-destroy`, and a failed start or refresh: an fs pool unmounts its source.
    func stop(_ def: StoragePoolDefinition) throws(VirtError) {
        if self == .fs { try FsPoolBackend.unmount(def) }
    }

    /// At daemon start, whether a pool that was running still is (libvirt's `checkPool`): a dir pool whose
    /// directory exists, an fs pool whose source is mounted on its target.
    func isStillActive(_ def: StoragePoolDefinition) -> Bool {
        switch self {
        case .dir: return def.targetPath.map(DirPoolBackend.isDirectory) ?? false
        case .fs: return (try? FsPoolBackend.isMounted(def)) ?? false
        }
    }

    /// `pool-delete`: both remove the (empty) target directory.
    func delete(_ def: StoragePoolDefinition, flags: UInt32) throws(VirtError) {
        try DirPoolBackend.delete(def, flags: flags)
    }

    /// `virStoragePoolObjSourceFindDuplicate`: whether two pools of the same type use the same storage (dir: the
    /// target path; fs: a source device).
    static func sameStorage(_ a: StoragePoolDefinition, _ b: StoragePoolDefinition) -> Bool {
        guard a.type == b.type else { return false }
        switch a.type {
        case .dir: return a.targetPath == b.targetPath
        case .fs:
            let paths = Set(b.source.devices.map(\.path))
            return a.source.devices.contains { paths.contains($0.path) }
        default: return false
        }
    }
}

/// libvirt's `fs` backend (`storage_backend_fs.c`): `mount -t FORMAT DEVICE TARGET` with libvirt's default
/// options and the pool's `fs:mount_opts`, `umount TARGET`, `mkfs -t FORMAT` when built with OVERWRITE or
/// NO_OVERWRITE (NO_OVERWRITE first probes the device with blkid and refuses a device that has a filesystem).
/// Commands run by the paths libvirt's Debian build names in its messages.
enum FsPoolBackend {
    static let domain = VirtError.ErrorDomain.storage
    static let mountCommand = "/bin/mount"
    static let umountCommand = "/bin/umount"
    static let mkfsCommand = "/sbin/mkfs"
    static let blkidCommand = "/sbin/blkid"
    /// libvirt's `default_mount_opts` on Linux.
    static let defaultMountOptions = "nodev,nosuid,noexec"
    /// VIR_ERR_STORAGE_POOL_BUILT.
    static let poolBuilt = VirtError.Code(rawValue: 76)

    /// The one source device (libvirt's `virStorageBackendFileSystemIsValid`).
    static func device(_ def: StoragePoolDefinition) throws(VirtError) -> String {
        guard def.source.devices.count == 1, let d = def.source.devices.first else {
            throw VirtError.internalError(def.source.devices.isEmpty ? "missing source device"
                                              : "expected exactly 1 device for the storage pool", domain: domain)
        }
        return d.path
    }

    /// Runs a command as libvirt's virCommandRun reports it: a failure gives "Child process (ARGV) unexpected
    /// exit status N: STDERR", the command's standard error kept as it printed it, in no error domain
    /// (VIR_FROM_NONE: virCommand's own).
    static func run(_ argv: [String]) throws(VirtError) -> String {
        let line = argv.joined(separator: " ")
        guard let r = ChildCommand.run(argv) else {
            throw VirtError.internalError("Child process (\(line)) unexpected exit status 127", domain: .none)
        }
        if r.status != 0 {
            let err = r.stderr.isEmpty ? "" : ": " + r.stderr
            throw VirtError.internalError("Child process (\(line)) unexpected exit status \(r.status)\(err)",
                                          domain: .none)
        }
        return r.stdout
    }

    static func realPath(_ p: String) -> String {
        guard let r = realpath(p, nil) else { return p }
        defer { free(r) }
        return String(cString: r)
    }

    /// A field of /proc/self/mounts with its octal escapes (`\040` for a space) decoded.
    static func unescape(_ s: Substring) -> String {
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 3 < b.count,
               let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v)
                i += 4
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether the pool's source is mounted on its target (libvirt's `virStorageBackendFileSystemIsMounted`:
    /// both the mount point and the source compared after resolving links).
    static func isMounted(_ def: StoragePoolDefinition) throws(VirtError) -> Bool {
        let src = realPath(try device(def))
        guard let target = def.targetPath.map(realPath) else { return false }
        guard let bytes = FileStore.read("/proc/self/mounts") else {
            throw VirtError.systemError("cannot read mount list '/proc/self/mounts'", errno: errno, domain: domain)
        }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count >= 2 else { continue }
            if realPath(unescape(f[1])) == target && realPath(unescape(f[0])) == src { return true }
        }
        return false
    }

    /// `mount -o OPTIONS -t FORMAT DEVICE TARGET`, unless the source is mounted there already.
    static func mount(_ def: StoragePoolDefinition) throws(VirtError) {
        let dev = try device(def)
        guard let target = def.targetPath else { throw StorageErrors.internalError("missing target path") }
        if try isMounted(def) { return }
        let options = ([defaultMountOptions] + def.mountOptions).filter { !$0.isEmpty }.joined(separator: ",")
        _ = try run([mountCommand, "-o", options, "-t", def.sourceFormatName ?? "auto", dev, target])
    }

    /// `umount TARGET`, when the source is mounted there.
    static func unmount(_ def: StoragePoolDefinition) throws(VirtError) {
        guard let target = def.targetPath else { return }
        guard try isMounted(def) else { return }
        _ = try run([umountCommand, target])
    }

    /// The filesystem type blkid finds on a device (a low-level probe, as libvirt's libblkid one); nil when none.
    static func probeFileSystem(_ device: String) -> String? {
        guard let r = ChildCommand.run([blkidCommand, "-p", "-o", "value", "-s", "TYPE", device]), r.status == 0 else {
            return nil
        }
        let t = r.stdout.trimmingTrailingNewlines
        return t.isEmpty ? nil : t
    }

    /// libvirt's `virStorageBackendMakeFileSystem`: with OVERWRITE mkfs runs; with NO_OVERWRITE only on a device
    /// blkid finds no filesystem on.
    static func makeFileSystem(_ def: StoragePoolDefinition, overwrite: Bool) throws(VirtError) {
        guard let dev = def.source.devices.first?.path else {
            throw VirtError.operationInvalid("No source device specified when formatting pool '\(def.name)'",
                                             domain: domain)
        }
        let format = def.sourceFormatName ?? "auto"
        guard access(dev, F_OK) == 0 else {
            throw VirtError.operationInvalid("Source device does not exist when formatting pool '\(def.name)'",
                                             domain: domain)
        }
        if !overwrite, let found = probeFileSystem(dev) {
            if found == format {
                throw VirtError(poolBuilt, domain: domain,
                                "Storage pool already built: Device '\(dev)' already formatted using '\(format)'")
            }
            throw VirtError(poolBuilt, domain: domain,
                            "Storage pool already built: Format of device '\(dev)' does not match the expected "
                                + "format '\(format)', forced overwrite is necessary")
        }
        var argv = [mkfsCommand, "-t", format]
        switch format {
        case "xfs": argv.append("-f")
        case "ext2", "ext3", "ext4": argv.append("-F")
        case "vfat": argv.append("-I")
        default: break
        }
        argv.append(dev)
        _ = try run(argv)
    }
}
