import VirtCore
import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// libvirt's `dir` pool backend (`storage_backend_fs.c` with the local helpers of `storage_util.c`): a pool is a
/// directory, its volumes the files in it. Raw files are created here (sparse, or allocated with fallocate);
/// qcow2 images with qemu-img. Every function works on paths only; the driver holds the pool table.
enum DirPoolBackend {
    static let domain = VirtError.ErrorDomain.storage
    /// libvirt's defaults: pool directories 0711, volumes 0600.
    static let defaultPoolMode: UInt32 = 0o711
    static let defaultVolumeMode: UInt32 = 0o600

    static let formatNone = 0
    static let formatRaw = StoragePoolType.fileFormats.firstIndex(of: "raw") ?? 1
    static let formatDir = StoragePoolType.fileFormats.firstIndex(of: "dir") ?? 2
    static let formatQcow2 = StoragePoolType.fileFormats.firstIndex(of: "qcow2") ?? 14

    static func formatName(_ i: Int) -> String {
        i < StoragePoolType.fileFormats.count ? StoragePoolType.fileFormats[i] : "none"
    }

    // MARK: Pool

    /// `statvfs` of the pool's directory: libvirt's capacity, allocation and available. libvirt counts the free
    /// blocks (`f_bfree`, the root-reserved ones included) as available, not `f_bavail`.
    static func space(_ path: String) throws(VirtError) -> (capacity: UInt64, allocation: UInt64, available: UInt64) {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else {
            throw VirtError.systemError("cannot statvfs path '\(path)'", errno: errno, domain: domain)
        }
        // libvirt counts the blocks reserved for root as available (f_bfree, not f_bavail): an ext4 pool shows it.
        let frsize = UInt64(s.f_frsize)
        let capacity = UInt64(s.f_blocks) * frsize, available = UInt64(s.f_bfree) * frsize
        return (capacity, capacity - available, available)
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// `pool-build`: the target directory with the pool's permissions (mode default 0711; owner and group as set,
    /// else left as created). An existing directory is kept and given the permissions.
    static func build(_ def: StoragePoolDefinition, overwrite: Bool, noOverwrite: Bool) throws(VirtError) {
        try checkBuildFlags(overwrite: overwrite, noOverwrite: noOverwrite)
        try makeTarget(def)
        // With either flag libvirt goes on to format the source device, which a dir pool does not have.
        if overwrite || noOverwrite {
            throw VirtError.operationInvalid("No source device specified when formatting pool '\(def.name)'",
                                             domain: domain)
        }
    }

    static func checkBuildFlags(overwrite: Bool, noOverwrite: Bool) throws(VirtError) {
        if overwrite && noOverwrite {
            throw VirtError(.invalidArg, domain: domain,
                            "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and "
                                + "'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive")
        }
    }

    /// The target directory of a dir or fs pool (libvirt's `virStorageBackendBuildLocal`).
    static func makeTarget(_ def: StoragePoolDefinition) throws(VirtError) {
        guard let path = def.targetPath else { throw StorageErrors.internalError("missing target path") }
        // The parent must exist, as libvirt creates only the last component (virDirCreate).
        let parent = path.split(separator: "/").dropLast().joined(separator: "/")
        if !parent.isEmpty && !isDirectory("/" + parent) {
            throw VirtError.systemError("cannot create path '\(path)'", errno: ENOENT, domain: domain)
        }
        let mode = def.targetPermissions.mode ?? defaultPoolMode
        if mkdir(path, mode_t(mode)) != 0 && errno != EEXIST {
            throw VirtError.systemError("cannot create path '\(path)'", errno: errno, domain: domain)
        }
        guard isDirectory(path) else {
            throw VirtError.systemError("cannot create path '\(path)'", errno: ENOTDIR, domain: domain)
        }
        let uid = def.targetPermissions.owner.map { uid_t($0) } ?? uid_t.max
        let gid = def.targetPermissions.group.map { gid_t($0) } ?? gid_t.max
        if (uid != uid_t.max || gid != gid_t.max) && chown(path, uid, gid) != 0 {
            throw VirtError.systemError("cannot chown '\(path)' to (\(Int32(bitPattern: uid)), \(Int32(bitPattern: gid)))",
                                        errno: errno, domain: domain)
        }
        if chmod(path, mode_t(mode)) != 0 {
            throw VirtError.systemError("cannot set mode of '\(path)' to \(String(mode, radix: 8))",
                                        errno: errno, domain: domain)
        }
    }

    /// `pool-delete`: removes the (empty) directory.
    static func delete(_ def: StoragePoolDefinition, flags: UInt32) throws(VirtError) {
        guard let path = def.targetPath else { return }
        if flags != 0 {
            throw VirtError.invalidArg("unsupported flags (0x\(String(flags, radix: 16))) in function "
                                       + "virStorageBackendFileSystemDelete", domain: domain)
        }
        if rmdir(path) != 0 && errno != ENOENT {
            throw VirtError.systemError("failed to remove pool '\(path)'", errno: errno, domain: domain)
        }
    }

    /// The directory's permissions as libvirt shows them for an active pool.
    static func permissions(_ path: String) -> StoragePermissions? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return StoragePermissions(mode: UInt32(st.st_mode & 0o777), owner: st.st_uid, group: st.st_gid)
    }

    /// The volumes found in the directory (libvirt's `virStorageBackendRefreshLocal`): regular files and
    /// subdirectories; anything that cannot be read is skipped.
    static func scan(_ def: StoragePoolDefinition) throws(VirtError) -> [StorageVolumeDefinition] {
        guard let path = def.targetPath else { return [] }
        guard let d = opendir(path) else {
            throw VirtError.systemError("cannot open directory '\(path)'", errno: errno, domain: domain)
        }
        defer { closedir(d) }
        var vols: [StorageVolumeDefinition] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            if let v = probe(path: path + "/" + name, name: name, full: true) { vols.append(v) }
        }
        return vols
    }

    // MARK: Volumes on disk

    /// A volume as libvirt reads it from its file: type, format from the header, capacity, allocation, physical
    /// size, permissions, timestamps and a qcow2's backing store; with `full` (a pool refresh) also a qcow2's
    /// compat, cluster size and features, which libvirt reads only then.
    static func probe(path: String, name: String, full: Bool = false) -> StorageVolumeDefinition? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        let kind = st.st_mode & S_IFMT
        if kind == S_IFLNK {
            guard stat(path, &st) == 0 else { return nil }
        }
        var v = StorageVolumeDefinition(name: name)
        v.key = path
        v.target.path = path
        v.target.permissions = StoragePermissions(mode: UInt32(st.st_mode & 0o777), owner: st.st_uid, group: st.st_gid)
        v.target.timestamps = timestamps(st)
        v.allocation = UInt64(st.st_blocks) * 512
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            // libvirt gives a directory no capacity, no allocation and no physical size (an ext4 directory's
            // blocks are not counted: lost+found shows 0 B).
            v.type = 2
            v.target.format = formatDir
            v.capacity = 0
            v.allocation = 0
            return v
        case S_IFREG:
            v.type = 0
        default:
            return nil
        }
        // libvirt prints a physical size only when it is not zero.
        v.physical = st.st_size > 0 ? UInt64(st.st_size) : nil
        v.capacity = UInt64(st.st_size)
        v.target.format = formatRaw
        guard let header = readHeader(path) else { return v }
        // A LUKS (version 1) container: libvirt shows it as a raw volume with `<encryption format='luks'>`, its
        // capacity the payload after the header (the payload offset counts 512-byte sectors).
        if let payload = luksPayloadOffset(header) {
            v.target.encryption = StorageEncryption(format: "luks")
            let offset = UInt64(payload) * 512
            v.capacity = v.capacity > offset ? v.capacity - offset : 0
            return v
        }
        guard let q = Qcow2Header(header) else { return v }
        v.target.format = formatQcow2
        v.capacity = q.size
        // crypt_method 1 is qcow's own AES, 2 LUKS.
        if q.cryptMethod == 1 { v.target.encryption = StorageEncryption(format: "qcow") }
        if q.cryptMethod == 2 { v.target.encryption = StorageEncryption(format: "luks") }
        if full {
            // libvirt names a compat level only for version 3 (a version 2 image shows none).
            v.target.compat = q.version >= 3 ? "1.1" : nil
            v.target.clusterSize = UInt64(1) << q.clusterBits
            if q.version >= 3 { v.target.features = q.lazyRefcounts ? ["lazy_refcounts"] : [] }
        }
        if let b = q.backingFile {
            let full = b.hasPrefix("/") ? b : path.split(separator: "/").dropLast().joined(separator: "/") + "/" + b
            var bs = StorageVolumeTarget(path: b.hasPrefix("/") ? b : "/" + full)
            bs.format = q.backingFormat.flatMap { StoragePoolType.fileFormats.firstIndex(of: $0) } ?? formatRaw
            var bst = stat()
            if stat(bs.path ?? "", &bst) == 0 {
                bs.permissions = StoragePermissions(mode: UInt32(bst.st_mode & 0o777), owner: bst.st_uid,
                                                    group: bst.st_gid)
                bs.timestamps = timestamps(bst)
            }
            v.backingStore = bs
        }
        return v
    }

    /// What a volume's refresh changes in a known volume (libvirt's `refreshVol`): sizes, permissions, times, and
    /// the backing store's permissions and times; the rest stays as it was defined.
    static func merge(_ known: StorageVolumeDefinition, _ fresh: StorageVolumeDefinition) -> StorageVolumeDefinition {
        var v = known
        v.type = fresh.type
        v.capacity = fresh.capacity
        v.allocation = fresh.allocation
        v.physical = fresh.physical
        v.target.permissions = fresh.target.permissions
        v.target.timestamps = fresh.target.timestamps
        // The encryption as defined (with its secret) stays while the file is still encrypted; a file found
        // encrypted gets the probed one, and one no longer encrypted (wiped) loses it.
        if fresh.target.encryption == nil {
            v.target.encryption = nil
        } else if v.target.encryption == nil {
            v.target.encryption = fresh.target.encryption
        }
        if v.backingStore != nil, let fb = fresh.backingStore {
            v.backingStore?.permissions = fb.permissions
            v.backingStore?.timestamps = fb.timestamps
        } else if v.backingStore == nil {
            v.backingStore = fresh.backingStore
        }
        return v
    }

    static func timestamps(_ st: stat) -> StorageTimestamps {
        StorageTimestamps(atime: (Int64(st.st_atim.tv_sec), Int64(st.st_atim.tv_nsec)),
                          ctime: (Int64(st.st_ctim.tv_sec), Int64(st.st_ctim.tv_nsec)),
                          mtime: (Int64(st.st_mtim.tv_sec), Int64(st.st_mtim.tv_nsec)))
    }

    static func readHeader(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n >= 0 else { return nil }
        return Array(buf[0..<n])
    }

    /// The payload offset (in 512-byte sectors) of a LUKS version 1 header ("LUKS\xba\xbe", version 1 at
    /// offset 6, the payload offset at 104, big-endian); nil for anything else, as libvirt probes only version 1.
    static func luksPayloadOffset(_ h: [UInt8]) -> UInt32? {
        guard h.count >= 108, h[0..<6].elementsEqual([0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE]), h[6] == 0, h[7] == 1 else {
            return nil
        }
        return h[104..<108].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// The fields of a qcow2 header that libvirt reports (QEMU's docs/interop/qcow2.txt).
    struct Qcow2Header {
        var version: UInt32
        /// 0 none, 1 AES (qcow), 2 LUKS.
        var cryptMethod: UInt32
        var size: UInt64
        var clusterBits: UInt32
        var backingFile: String?
        var backingFormat: String?
        var lazyRefcounts = false

        init?(_ h: [UInt8]) {
            guard h.count >= 72, h[0] == 0x51, h[1] == 0x46, h[2] == 0x49, h[3] == 0xfb else { return nil }
            func be(_ off: Int, _ len: Int) -> UInt64 {
                var v: UInt64 = 0
                for i in 0..<len where off + i < h.count { v = v << 8 | UInt64(h[off + i]) }
                return v
            }
            version = UInt32(be(4, 4))
            guard version == 2 || version == 3 else { return nil }
            let backingOffset = Int(be(8, 8))
            let backingSize = Int(be(16, 4))
            clusterBits = UInt32(be(20, 4))
            size = be(24, 8)
            cryptMethod = UInt32(be(32, 4))
            if backingOffset > 0, backingSize > 0, backingOffset + backingSize <= h.count {
                backingFile = String(decoding: h[backingOffset..<(backingOffset + backingSize)], as: UTF8.self)
            }
            var extStart = 72
            if version >= 3, h.count >= 104 {
                lazyRefcounts = be(88, 8) & 1 != 0
                extStart = Int(be(100, 4))
            }
            // Header extensions: 0xE2792ACA is the backing file format name.
            var off = extStart
            while off + 8 <= h.count {
                let type = be(off, 4)
                let len = Int(be(off + 4, 4))
                if type == 0 { break }
                if type == 0xE279_2ACA, off + 8 + len <= h.count {
                    backingFormat = String(decoding: h[(off + 8)..<(off + 8 + len)], as: UTF8.self)
                }
                off += 8 + ((len + 7) & ~7)
            }
        }
    }

    /// A raw file: created with the volume's mode, extended to its capacity, then `allocation` bytes allocated
    /// (fallocate, else written as zeros) as libvirt's `createRawFile`.
    static func createRaw(_ vol: StorageVolumeDefinition, path: String) throws(VirtError) {
        let mode = vol.target.permissions.mode ?? defaultVolumeMode
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else {
            throw VirtError.systemError("cannot create path '\(path)'", errno: errno, domain: domain)
        }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(path) }
        }
        try applyOwnership(fd: fd, path: path, vol.target.permissions, mode: mode)
        if ftruncate(fd, off_t(vol.capacity)) != 0 {
            throw VirtError.systemError("cannot extend file '\(path)'", errno: errno, domain: domain)
        }
        if vol.allocation > 0 {
            let rc = posix_fallocate(fd, 0, off_t(vol.allocation))
            if rc != 0 && rc != ENOSYS && rc != EOPNOTSUPP {
                throw VirtError.systemError("cannot allocate \(vol.allocation) bytes in file '\(path)'",
                                            errno: rc, domain: domain)
            }
        }
        if fsync(fd) != 0 {
            throw VirtError.systemError("cannot sync data to file '\(path)'", errno: errno, domain: domain)
        }
        ok = true
    }

    static func applyOwnership(fd: Int32, path: String, _ p: StoragePermissions, mode: UInt32) throws(VirtError) {
        let uid = p.owner.map { uid_t($0) } ?? uid_t.max
        let gid = p.group.map { gid_t($0) } ?? gid_t.max
        if (uid != uid_t.max || gid != gid_t.max) && fchown(fd, uid, gid) != 0 {
            throw VirtError.systemError("cannot chown '\(path)' to (\(Int32(bitPattern: uid)), \(Int32(bitPattern: gid)))",
                                        errno: errno, domain: domain)
        }
        if fchmod(fd, mode_t(mode)) != 0 {
            throw VirtError.systemError("cannot set mode of '\(path)' to \(String(mode, radix: 8))",
                                        errno: errno, domain: domain)
        }
    }

    static func setOwnership(path: String, _ p: StoragePermissions, mode: UInt32) throws(VirtError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VirtError.systemError("cannot open volume '\(path)'", errno: errno, domain: domain) }
        defer { close(fd) }
        try applyOwnership(fd: fd, path: path, p, mode: mode)
    }

    /// `qemu-img create` (or `convert` from `input`) with libvirt's arguments: `create -f FMT [-b BACKING]
    /// [-o backing_fmt=…,nocow=on,compat=…,lazy_refcounts] PATH SIZEK`; a qcow2 without a compat level in its XML
    /// gets compat=0.10, as libvirt 9.0 asks.
    static func qemuImgArgs(_ vol: StorageVolumeDefinition, path: String, backing: (path: String, format: String)?,
                            input: (path: String, format: String)? = nil,
                            preallocateMetadata: Bool = false,
                            secretFile: String? = nil) throws(VirtError) -> [String] {
        let isQcow2 = vol.target.format == formatQcow2
        if preallocateMetadata && !isQcow2 {
            throw VirtError.configUnsupported("metadata preallocation only available with qcow2", domain: domain)
        }
        if preallocateMetadata && backing != nil {
            throw VirtError.configUnsupported("metadata preallocation conflicts with backing store", domain: domain)
        }
        if vol.target.compat != nil && !isQcow2 {
            throw VirtError.configUnsupported("compatibility option only available with qcow2", domain: domain)
        }
        if vol.target.features != nil && !isQcow2 {
            throw VirtError.configUnsupported("format features only available with qcow2", domain: domain)
        }
        // A raw volume with LUKS encryption is qemu-img's `luks` format; a qcow2 one carries LUKS inside.
        let secretPath = vol.target.encryption != nil ? secretFile : nil
        let outFormat = secretPath != nil && vol.target.format == formatRaw ? "luks" : formatName(vol.target.format)
        let secretID = escapeOption(vol.name) + "_encrypt0"
        var args = [qemuImg]
        if let input {
            args += ["convert", "-f", input.format, "-O", outFormat]
        } else {
            args += ["create", "-f", outFormat]
        }
        if let secretPath { args += ["--object", "secret,id=\(secretID),file=\(escapeOption(secretPath))"] }
        var opts: [String] = []
        if let luks = vol.target.encryption, secretPath != nil {
            let prefix = isQcow2 ? "encrypt." : ""
            if isQcow2 { opts.append("encrypt.format=luks") }
            opts.append("\(prefix)key-secret=\(secretID)")
            if let c = luks.cipher {
                opts.append("\(prefix)cipher-alg=\(c.name)-\(c.size)")
                if let m = c.mode { opts.append("\(prefix)cipher-mode=\(m)") }
                if let h = c.hash { opts.append("\(prefix)hash-alg=\(h)") }
            }
            if let i = luks.ivgen {
                opts.append("\(prefix)ivgen-alg=\(i.name)")
                if let h = i.hash { opts.append("\(prefix)ivgen-hash-alg=\(h)") }
            }
        }
        let backing = input == nil ? backing : nil
        if let backing {
            args += ["-b", backing.path]
            opts.append("backing_fmt=\(backing.format)")
        }
        // libvirt asks for metadata preallocation, or falloc when the whole capacity is to be allocated.
        if preallocateMetadata {
            let allocK = (vol.allocation + 1023) / 1024
            opts.append((vol.capacity + 1023) / 1024 > allocK ? "preallocation=metadata" : "preallocation=falloc")
        }
        if vol.target.nocow { opts.append("nocow=on") }
        let compat = vol.target.compat ?? (isQcow2 ? "0.10" : nil)
        if let compat { opts.append("compat=\(compat)") }
        if isQcow2 {
            if vol.target.clusterSize > 0 { opts.append("cluster_size=\(vol.target.clusterSize)") }
            if let f = vol.target.features {
                if f.contains("lazy_refcounts") {
                    if compat == "0.10" {
                        throw VirtError.configUnsupported("lazy_refcounts not supported with compat level 0.10",
                                                          domain: domain)
                    }
                    opts.append("lazy_refcounts")
                }
                if f.contains("extended_l2") { opts.append("extended_l2=on") }
            }
        }
        if !opts.isEmpty { args += ["-o", opts.joined(separator: ",")] }
        if let input { args.append(input.path) }
        args.append(path)
        let sizeK = (vol.capacity + 1023) / 1024
        if input == nil && (sizeK > 0 || backing == nil) { args.append("\(sizeK)K") }
        return args
    }

    /// libvirt's copy when either side is encrypted: the target made first (`qemu-img create`, encrypted if it is
    /// to be), then `qemu-img convert --image-opts -n --target-image-opts` with a secret object per encrypted
    /// side (its id the volume's name + `_encrypt0`), so that the plaintext is what moves.
    static func convertEncryptedArgs(source: StorageVolumeDefinition, sourcePath: String, sourceSecret: String?,
                                     target: StorageVolumeDefinition, targetPath: String,
                                     targetSecret: String?) -> [String] {
        var args = [qemuImg, "convert", "--image-opts", "-n", "--target-image-opts"]
        func side(_ v: StorageVolumeDefinition, _ path: String, _ secret: String?) -> (object: String?, opts: String) {
            let id = escapeOption(v.name) + "_encrypt0"
            let qcow2 = v.target.format == formatQcow2
            var opts = "driver=" + (secret != nil && !qcow2 ? "luks" : formatName(v.target.format))
            opts += ",file.filename=" + escapeOption(path)
            guard let secret else { return (nil, opts) }
            opts += (qcow2 ? ",encrypt.key-secret=" : ",key-secret=") + id
            return ("secret,id=\(id),file=\(escapeOption(secret))", opts)
        }
        let src = side(source, sourcePath, sourceSecret)
        let dst = side(target, targetPath, targetSecret)
        for o in [dst.object, src.object].compactMap({ $0 }) { args += ["--object", o] }
        return args + [src.opts, dst.opts]
    }

    /// A value inside qemu's `key=value,…` options: commas doubled.
    static func escapeOption(_ s: String) -> String { s.replacingOccurrences(of: ",", with: ",,") }

    /// The checks libvirt makes on a volume's `<encryption>` before it creates the volume with qemu-img: LUKS
    /// only, raw or qcow2 only, exactly one passphrase secret.
    static func checkEncryption(_ vol: StorageVolumeDefinition) throws(VirtError) {
        guard let e = vol.target.encryption else { return }
        let format = vol.target.format
        if format == formatQcow2 {
            if e.format == "default" || e.format == "qcow" {
                throw VirtError.configUnsupported("creation of qcow2 encrypted image is not supported", domain: domain)
            }
            if e.format != "luks" {
                let n = ["default", "qcow", "luks", "luks2"].firstIndex(of: e.format) ?? 0
                throw VirtError.configUnsupported("unsupported volume encryption format \(n)", domain: domain)
            }
        } else if format == formatRaw {
            if e.format != "luks" {
                throw VirtError.internalError("Only luks encryption is supported for raw files", domain: domain)
            }
        } else {
            throw VirtError.configUnsupported("volume encryption unsupported with format \(formatName(format))",
                                              domain: domain)
        }
        if e.secrets.count != 1 {
            throw VirtError.invalidArg("A single <secret type='passphrase'...> element is expected in encryption "
                                       + "description", domain: domain)
        }
    }

    static var qemuImg: String {
        for p in ["/usr/bin/qemu-img", "/usr/local/bin/qemu-img", "/bin/qemu-img"] where access(p, X_OK) == 0 { return p }
        return "/usr/bin/qemu-img"
    }

    /// Runs a command to its end; a failure is libvirt's "internal error: Child process (…) unexpected exit
    /// status N: STDERR".
    static func run(_ argv: [String]) throws(VirtError) -> String {
        guard let r = ChildCommand.run(argv) else {
            throw VirtError.systemError("Cannot find '\(argv.first ?? "")' in path", errno: ENOENT, domain: domain)
        }
        if r.status != 0 {
            let line = argv.joined(separator: " ")
            throw VirtError.internalError("Child process (\(line)) unexpected exit status \(r.status): \(r.stderr)"
                                          .trimmingTrailingNewlines, domain: domain)
        }
        return r.stdout
    }

    /// Resizes a volume's file (libvirt's `virStorageBackendFileSystemVolResize`): raw files by truncation (with
    /// `allocate`, fallocate of the new part), other formats by `qemu-img resize`.
    static func resize(_ vol: StorageVolumeDefinition, capacity: UInt64, allocate: Bool,
                       shrink: Bool) throws(VirtError) {
        guard let path = vol.target.path else { return }
        if vol.target.format == formatRaw {
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { throw VirtError.systemError("Unable to open '\(path)'", errno: errno, domain: domain) }
            defer { close(fd) }
            // libvirt allocates the whole new size, not only the part added.
            if allocate {
                let rc = posix_fallocate(fd, 0, off_t(capacity))
                if rc != 0 {
                    throw VirtError.systemError("Failed to pre-allocate space for file '\(path)'", errno: rc,
                                                domain: domain)
                }
            }
            if ftruncate(fd, off_t(capacity)) != 0 {
                throw VirtError.systemError("Failed to truncate file '\(path)'", errno: errno, domain: domain)
            }
            return
        }
        if allocate {
            throw VirtError(.operationUnsupported, domain: domain,
                            "Operation not supported: preallocate is only supported for raw type volume")
        }
        var args = [qemuImg, "resize"]
        if shrink { args.append("--shrink") }
        args += [path, String(capacity)]
        _ = try run(args)
    }

    /// `vol-wipe` with the zero algorithm (libvirt's `storageBackendWipeLocal`): a sparse file is truncated to
    /// nothing and back; otherwise its bytes are overwritten with zeros.
    static func wipeZero(_ vol: StorageVolumeDefinition) throws(VirtError) {
        guard let path = vol.target.path else { return }
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw VirtError.systemError("Failed to open storage volume with path '\(path)'",
                                                         errno: errno, domain: domain) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw VirtError.systemError("Failed to stat storage volume with path '\(path)'", errno: errno, domain: domain)
        }
        if (st.st_mode & S_IFMT) == S_IFREG && Int64(st.st_blocks) < Int64(st.st_size) / 512 {
            if ftruncate(fd, 0) != 0 || ftruncate(fd, st.st_size) != 0 {
                throw VirtError.systemError("Failed to truncate volume with path '\(path)' to 0 bytes",
                                            errno: errno, domain: domain)
            }
            return
        }
        var remaining = UInt64(vol.allocation)
        if remaining > UInt64(st.st_size) { remaining = UInt64(st.st_size) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var off: off_t = 0
        while remaining > 0 {
            let len = Int(min(remaining, UInt64(zeros.count)))
            let n = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, len, off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw VirtError.systemError("Failed to write \(len) bytes to storage volume with path '\(path)'",
                                            errno: errno, domain: domain)
            }
            off += off_t(n)
            remaining -= UInt64(n)
        }
        if fdatasync(fd) != 0 {
            throw VirtError.systemError("cannot sync data to volume with path '\(path)'", errno: errno, domain: domain)
        }
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}
