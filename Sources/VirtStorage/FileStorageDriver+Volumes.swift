import Dispatch
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Volumes of `dir` pools: files in the pool's directory, read back from disk (format from the header, sizes,
/// permissions, timestamps) each time they are shown, as libvirt refreshes a volume before its info or XML.
extension FileStorageDriver {
    static func volume(_ o: PoolObject, _ name: String) throws(VirtError) -> StorageVolumeDefinition {
        guard let v = o.volumes.first(where: { $0.name == name }) else {
            throw StorageErrors.noVolume("no storage vol with matching name '\(name)'")
        }
        return v
    }

    /// The pool (active) and the volume, not being built.
    func volumeAndPool(_ vol: StorageVolRef) throws(VirtError) -> (PoolObject, StorageVolumeDefinition) {
        try read { l throws(VirtError) in
            guard let i = l.firstIndex(where: { $0.def.name == vol.pool }) else {
                throw StorageErrors.noPool(name: vol.pool)
            }
            guard l[i].active else {
                throw StorageErrors.operationInvalid("storage pool '\(vol.pool)' is not active")
            }
            if l[i].building.contains(vol.name) {
                throw StorageErrors.operationInvalid("volume '\(vol.name)' is still being allocated.")
            }
            return (l[i], try Self.volume(l[i], vol.name))
        }
    }

    /// Reads the volume's file again and stores what it found.
    @discardableResult
    func refreshVolume(_ vol: StorageVolRef) throws(VirtError) -> (PoolObject, StorageVolumeDefinition) {
        let (o, v) = try volumeAndPool(vol)
        guard let path = v.target.path, let probed = DirPoolBackend.probe(path: path, name: v.name) else {
            throw VirtError.systemError("cannot stat file '\(v.target.path ?? "")'", errno: errno, domain: Self.domain)
        }
        let fresh = DirPoolBackend.merge(v, probed)
        pools.withLock { l in
            guard let i = l.firstIndex(where: { $0.def.name == vol.pool }),
                  let j = l[i].volumes.firstIndex(where: { $0.name == vol.name }) else { return }
            l[i].volumes[j] = fresh
        }
        return (o, fresh)
    }

    public func numOfVolumes(_ pool: StoragePoolRef) async throws -> Int32 {
        try read { l throws(VirtError) in Int32(l[try Self.active(l, pool)].volumes.count) }
    }

    public func listVolumes(_ pool: StoragePoolRef, max: Int32) async throws -> [String] {
        try read { l throws(VirtError) in
            Array(l[try Self.active(l, pool)].volumes.map(\.name).prefix(Swift.max(0, Int(max))))
        }
    }

    public func listAllVolumes(_ pool: StoragePoolRef, flags: UInt32) async throws -> [StorageVolRef] {
        try Self.checkFlags(flags, "storagePoolListAllVolumes")
        return try read { l throws(VirtError) in
            let o = l[try Self.active(l, pool)]
            return o.volumes.map { o.volRef($0) }
        }
    }

    public func lookupVolume(pool: StoragePoolRef, name: String) async throws -> StorageVolRef {
        try read { l throws(VirtError) in
            let o = l[try Self.active(l, pool)]
            return o.volRef(try Self.volume(o, name))
        }
    }

    public func lookupVolume(key: String) async throws -> StorageVolRef {
        let found = pools.withLock { l -> StorageVolRef? in
            for o in l where o.active {
                if let v = o.volumes.first(where: { $0.key == key }) { return o.volRef(v) }
            }
            return nil
        }
        guard let found else { throw StorageErrors.noVolume("no storage vol with matching key \(key)") }
        return found
    }

    public func lookupVolume(path: String) async throws -> StorageVolRef {
        let clean = Self.cleanPath(path)
        let found = pools.withLock { l -> StorageVolRef? in
            for o in l where o.active {
                if let v = o.volumes.first(where: { $0.target.path == clean }) { return o.volRef(v) }
            }
            return nil
        }
        guard let found else { throw StorageErrors.noVolume("no storage vol with matching path '\(path)'") }
        return found
    }

    /// Collapses repeated slashes and drops a trailing one (libvirt's `virFileSanitizePath`).
    static func cleanPath(_ p: String) -> String {
        let parts = p.split(separator: "/", omittingEmptySubsequences: true)
        return (p.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    // MARK: Creation

    /// `VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA` 1, `_REFLINK` 2, `_VALIDATE` 4.
    public func createVolume(_ pool: StoragePoolRef, xml: String, flags: UInt32) async throws -> StorageVolRef {
        try Self.checkFlags(flags, allowed: 0x5, "storageVolCreateXML")
        return try await create(pool, xml: xml, from: nil, flags: flags)
    }

    public func createVolume(_ pool: StoragePoolRef, xml: String, from: StorageVolRef,
                             flags: UInt32) async throws -> StorageVolRef {
        try Self.checkFlags(flags, allowed: 0x7, "storageVolCreateXMLFrom")
        return try await create(pool, xml: xml, from: from, flags: flags)
    }

    private func create(_ pool: StoragePoolRef, xml: String, from: StorageVolRef?,
                        flags: UInt32) async throws -> StorageVolRef {
        // The source first: it must be in an active pool and not being built.
        var source: StorageVolumeDefinition?
        if let from {
            let (_, v) = try refreshVolume(from)
            source = v
        }
        let (target, vol) = try modify { l throws(VirtError) -> (String, StorageVolumeDefinition) in
            let i = try Self.active(l, pool)
            if flags & 4 != 0 {
                throw VirtError(.invalidArg, domain: Self.domain,
                                "unsupported flags (0x4) in function virStorageVolDefParseXML")
            }
            var vol = try StorageVolumeDefinition(xml: xml, poolType: l[i].def.type,
                                                  flags: source == nil ? [.optCapacity] : [.noCapacity])
            if l[i].volumes.contains(where: { $0.name == vol.name }) || l[i].building.contains(vol.name) {
                throw VirtError(.storageVolExist, domain: Self.domain, "storage volume '\(vol.name)' exists already",
                                str1: vol.name)
            }
            if vol.name.contains("/") {
                throw StorageErrors.operationInvalid("volume name '\(vol.name)' cannot contain '/'")
            }
            if let source {
                if vol.capacity < source.capacity { vol.capacity = source.capacity }
                if !vol.hasAllocation { vol.allocation = vol.capacity }
            }
            let path = (l[i].def.targetPath ?? "") + "/" + vol.name
            vol.target.path = path
            vol.key = path
            l[i].building.insert(vol.name)
            return (path, vol)
        }
        var made: StorageVolumeDefinition?
        defer {
            let made = made
            pools.withLock { l in
                guard let i = l.firstIndex(where: { $0.def.uuid == pool.uuid }) else { return }
                l[i].building.remove(vol.name)
                if let made {
                    l[i].volumes.append(made)
                    l[i].def.allocation &+= made.allocation
                    l[i].def.available = l[i].def.available >= made.allocation ? l[i].def.available - made.allocation : 0
                }
            }
        }
        // An encrypted volume: libvirt's checks, then the passphrase from the secret driver, handed to qemu-img
        // in a file of its own (0600) that lives only while qemu-img runs.
        var secretFile: String?
        defer { if let secretFile { unlink(secretFile) } }
        if let enc = vol.target.encryption {
            try DirPoolBackend.checkEncryption(vol)
            secretFile = try writeSecretFile(try await passphrase(enc), pool: pool.name, volume: vol.name)
        }
        // An encrypted input volume is read through its own passphrase.
        var inputSecretFile: String?
        defer { if let inputSecretFile { unlink(inputSecretFile) } }
        if let enc = source?.target.encryption, let source {
            guard enc.secrets.count == 1 else {
                throw VirtError.invalidArg("A single <secret type='passphrase'...> element is expected in encryption "
                                           + "description", domain: Self.domain)
            }
            inputSecretFile = try writeSecretFile(try await passphrase(enc), pool: from?.pool ?? pool.name,
                                                  volume: source.name)
        }
        let input = source
        let secret = secretFile
        let inputSecret = inputSecretFile
        try await Self.offload { () throws(VirtError) in
            if let source = input {
                try Self.buildFrom(vol, path: target, source: source, secretFile: secret,
                                   inputSecretFile: inputSecret)
            } else {
                try Self.build(vol, path: target, preallocateMetadata: flags & 1 != 0, secretFile: secret)
            }
        }
        guard let probed = DirPoolBackend.probe(path: target, name: vol.name) else {
            throw VirtError.systemError("cannot stat file '\(target)'", errno: errno, domain: Self.domain)
        }
        made = DirPoolBackend.merge(vol, probed)
        return StorageVolRef(pool: pool.name, name: vol.name, key: target)
    }

    /// libvirt's `virStorageBackendFileSystemVolBuild` without an input volume.
    /// Runs blocking file work (allocation, copies, qemu-img) on a thread of its own, off the cooperative pool,
    /// as libvirt runs it in a worker thread.
    static func offload(_ work: @escaping @Sendable () throws(VirtError) -> Void) async throws(VirtError) {
        let result: Result<Void, VirtError> = await withCheckedContinuation { cont in
            DispatchQueue.global().async {
                do throws(VirtError) {
                    try work()
                    cont.resume(returning: .success(()))
                } catch {
                    cont.resume(returning: .failure(error))
                }
            }
        }
        try result.get()
    }

    static func build(_ vol: StorageVolumeDefinition, path: String, preallocateMetadata: Bool,
                      secretFile: String? = nil) throws(VirtError) {
        if vol.target.encryption != nil && secretFile == nil {
            throw VirtError.configUnsupported("storage pool does not support encrypted volumes", domain: domain)
        }
        switch vol.target.format {
        case DirPoolBackend.formatRaw where vol.target.encryption == nil:
            if preallocateMetadata {
                throw VirtError.configUnsupported("metadata preallocation is not supported for raw volumes",
                                                  domain: domain)
            }
            if vol.backingStore != nil {
                throw VirtError(.noSupport, domain: domain, "this function is not supported by the connection driver: "
                                + "backing storage not supported for raw volumes")
            }
            try DirPoolBackend.createRaw(vol, path: path)
        case DirPoolBackend.formatDir:
            let mode = vol.target.permissions.mode ?? 0o755
            if mkdir(path, mode_t(mode)) != 0 {
                throw VirtError.systemError("cannot create path '\(path)'", errno: errno, domain: domain)
            }
        default:
            var backing: (String, String)?
            if let b = vol.backingStore, let bp = b.path {
                let full = bp.hasPrefix("/") ? bp : path.split(separator: "/").dropLast().joined(separator: "/") + "/" + bp
                if access(bp.hasPrefix("/") ? bp : "/" + full, R_OK) != 0 {
                    throw VirtError.systemError("inaccessible backing store volume \(bp)", errno: errno, domain: domain)
                }
                backing = (bp, DirPoolBackend.formatName(b.format))
            }
            let args = try DirPoolBackend.qemuImgArgs(vol, path: path, backing: backing,
                                                      preallocateMetadata: preallocateMetadata, secretFile: secretFile)
            do {
                _ = try DirPoolBackend.run(args)
                let mode = vol.target.permissions.mode ?? DirPoolBackend.defaultVolumeMode
                try DirPoolBackend.setOwnership(path: path, vol.target.permissions, mode: mode)
            } catch {
                unlink(path)
                throw error
            }
        }
    }

    /// libvirt's build from an input volume: raw to raw is a copy (sparse when the new allocation is below the
    /// source's capacity); anything else goes through `qemu-img convert`.
    static func buildFrom(_ vol: StorageVolumeDefinition, path: String,
                          source: StorageVolumeDefinition, secretFile: String? = nil,
                          inputSecretFile: String? = nil) throws(VirtError) {
        guard let src = source.target.path else { return }
        if vol.target.encryption != nil && secretFile == nil {
            throw VirtError.configUnsupported("storage pool does not support encrypted volumes", domain: domain)
        }
        let mode = vol.target.permissions.mode ?? DirPoolBackend.defaultVolumeMode
        if vol.target.encryption != nil || source.target.encryption != nil {
            _ = try DirPoolBackend.run(try DirPoolBackend.qemuImgArgs(vol, path: path, backing: nil,
                                                                      secretFile: secretFile))
            do {
                _ = try DirPoolBackend.run(DirPoolBackend.convertEncryptedArgs(
                    source: source, sourcePath: src, sourceSecret: inputSecretFile, target: vol, targetPath: path,
                    targetSecret: secretFile))
                try DirPoolBackend.setOwnership(path: path, vol.target.permissions, mode: mode)
            } catch {
                unlink(path)
                throw error
            }
            return
        }
        if vol.target.format == DirPoolBackend.formatRaw && source.target.format == DirPoolBackend.formatRaw {
            try copyRaw(from: src, to: path, vol: vol, sparse: vol.allocation < source.capacity, mode: mode)
            return
        }
        let args = try DirPoolBackend.qemuImgArgs(vol, path: path, backing: nil,
                                                  input: (src, DirPoolBackend.formatName(source.target.format)))
        do {
            _ = try DirPoolBackend.run(args)
            if vol.capacity > source.capacity && vol.target.format == DirPoolBackend.formatRaw
                && vol.target.encryption == nil {
                try DirPoolBackend.resize(try probeOrThrow(path, vol.name), capacity: vol.capacity, allocate: false,
                                          shrink: false)
            }
            try DirPoolBackend.setOwnership(path: path, vol.target.permissions, mode: mode)
        } catch {
            unlink(path)
            throw error
        }
    }

    static func probeOrThrow(_ path: String, _ name: String) throws(VirtError) -> StorageVolumeDefinition {
        guard let v = DirPoolBackend.probe(path: path, name: name) else {
            throw VirtError.systemError("cannot stat file '\(path)'", errno: errno, domain: domain)
        }
        return v
    }

    static func copyRaw(from src: String, to path: String, vol: StorageVolumeDefinition, sparse: Bool,
                        mode: UInt32) throws(VirtError) {
        let inFD = open(src, O_RDONLY | O_CLOEXEC)
        guard inFD >= 0 else { throw VirtError.systemError("could not open input path '\(src)'", errno: errno, domain: domain) }
        defer { close(inFD) }
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw VirtError.systemError("Failed to create file '\(path)'", errno: errno, domain: domain) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(path) }
        }
        try DirPoolBackend.applyOwnership(fd: fd, path: path, vol.target.permissions, mode: mode)
        if ftruncate(fd, off_t(vol.capacity)) != 0 {
            throw VirtError.systemError("cannot extend file '\(path)'", errno: errno, domain: domain)
        }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        var off: off_t = 0
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(inFD, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw VirtError.systemError("failed reading from file '\(src)'", errno: errno, domain: domain)
            }
            if n == 0 { break }
            if !(sparse && buf[0..<n].allSatisfy({ $0 == 0 })) {
                var done = 0
                while done < n {
                    let w = buf.withUnsafeBytes { pwrite(fd, $0.baseAddress.map { $0 + done }, n - done, off + off_t(done)) }
                    if w < 0 {
                        if errno == EINTR { continue }
                        throw VirtError.systemError("cannot write to file '\(path)'", errno: errno, domain: domain)
                    }
                    done += w
                }
            }
            off += off_t(n)
        }
        if fsync(fd) != 0 {
            throw VirtError.systemError("cannot sync data to file '\(path)'", errno: errno, domain: domain)
        }
        ok = true
    }

    // MARK: Volume operations

    public func deleteVolume(_ vol: StorageVolRef, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0x3, "storageVolDelete")
        let (_, v) = try volumeAndPool(vol)
        guard let path = v.target.path else { return }
        let rc = v.type == 2 ? rmdir(path) : unlink(path)
        if rc != 0 && errno != ENOENT {
            throw VirtError.systemError("cannot unlink file '\(path)'", errno: errno, domain: Self.domain)
        }
        pools.withLock { l in
            guard let i = l.firstIndex(where: { $0.def.name == vol.pool }) else { return }
            l[i].volumes.removeAll { $0.name == vol.name }
            l[i].def.allocation = l[i].def.allocation >= v.allocation ? l[i].def.allocation - v.allocation : 0
            l[i].def.available &+= v.allocation
        }
    }

    public func volumeInfo(_ vol: StorageVolRef, flags: UInt32) async throws -> StorageVolInfo {
        try Self.checkFlags(flags, allowed: 1, "storageVolGetInfoFlags")
        let (_, v) = try refreshVolume(vol)
        return StorageVolInfo(type: v.type, capacity: v.capacity,
                              allocation: flags & 1 != 0 ? (v.physical ?? v.allocation) : v.allocation)
    }

    public func volumeInfo(_ vol: StorageVolRef) async throws -> StorageVolInfo {
        try await volumeInfo(vol, flags: 0)
    }

    public func volumeXML(_ vol: StorageVolRef, flags: UInt32) async throws -> String {
        try Self.checkFlags(flags, "storageVolGetXMLDesc")
        let (o, v) = try refreshVolume(vol)
        return v.xml(poolType: o.def.type)
    }

    public func volumePath(_ vol: StorageVolRef) async throws -> String {
        let (_, v) = try volumeAndPool(vol)
        return v.target.path ?? ""
    }

    /// `VIR_STORAGE_VOL_RESIZE_ALLOCATE` 1, `_DELTA` 2, `_SHRINK` 4; libvirt's checks in its order.
    public func resizeVolume(_ vol: StorageVolRef, capacity: UInt64, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0x7, "storageVolResize")
        let (o, v) = try refreshVolume(vol)
        let shrink = flags & 4 != 0
        var target = capacity
        if flags & 2 != 0 {
            target = shrink ? v.capacity - Swift.min(capacity, v.capacity) : v.capacity &+ capacity
        }
        if target < v.allocation {
            throw VirtError.invalidArg("can't shrink capacity below existing allocation", domain: Self.domain)
        }
        if target < v.capacity && !shrink {
            throw VirtError.invalidArg("Can't shrink capacity below current capacity unless shrink flag explicitly "
                                       + "specified", domain: Self.domain)
        }
        let delta = flags & 1 != 0 ? target &- v.allocation : 0
        if delta > o.def.available {
            throw VirtError.operationFailed("Not enough space left in storage pool", domain: Self.domain)
        }
        let newCapacity = target
        try await Self.offload { () throws(VirtError) in
            try DirPoolBackend.resize(v, capacity: newCapacity, allocate: flags & 1 != 0, shrink: shrink)
        }
        try refreshVolume(vol)
        // The pool's figures move by what libvirt assumed would be allocated.
        if flags & 1 != 0 {
            pools.withLock { l in
                guard let i = l.firstIndex(where: { $0.def.name == vol.pool }) else { return }
                l[i].def.allocation &+= delta
                l[i].def.available = l[i].def.available >= delta ? l[i].def.available - delta : 0
            }
        }
    }

    public func wipeVolume(_ vol: StorageVolRef, flags: UInt32) async throws {
        try await wipe(vol, algorithm: 0, flags: flags, function: "storageVolWipe")
    }

    public func wipeVolume(_ vol: StorageVolRef, algorithm: UInt32, flags: UInt32) async throws {
        try await wipe(vol, algorithm: algorithm, flags: flags, function: "storageVolWipePattern")
    }

    /// `virStorageVolWipeAlgorithm`: zero, nnsa, dod, bsi, gutmann, schneier, pfitzner7, pfitzner33, random, trim.
    static let scrubPatterns = ["zero", "nnsa", "dod", "bsi", "gutmann", "schneier", "pfitzner7", "pfitzner33", "random"]

    private func wipe(_ vol: StorageVolRef, algorithm: UInt32, flags: UInt32, function: String) async throws {
        try Self.checkFlags(flags, function)
        if algorithm >= 10 {
            throw VirtError.invalidArg("wiping algorithm \(algorithm) not supported", domain: Self.domain)
        }
        let (_, v) = try refreshVolume(vol)
        if algorithm == 9 {
            throw VirtError(.argumentUnsupported, domain: Self.domain, "argument unsupported: 'trim' algorithm not supported")
        }
        try await Self.offload { () throws(VirtError) in
            if algorithm == 0 {
                try DirPoolBackend.wipeZero(v)
            } else if let path = v.target.path {
                _ = try DirPoolBackend.run(["scrub", "-f", "-p", Self.scrubPatterns[Int(algorithm)], path])
            }
        }
        try refreshVolume(vol)
    }
}

// MARK: Encrypted volumes

extension FileStorageDriver {
    /// The passphrase of an encrypted volume: its one `<secret>` by UUID, or by usage (a volume secret with that
    /// usage ID), from the secret driver, with the secret driver's errors (no such secret, no value).
    func passphrase(_ enc: StorageEncryption) async throws -> [UInt8] {
        guard let secrets else {
            throw VirtError.internalError("secret driver is not available", domain: Self.domain)
        }
        guard let s = enc.secrets.first else {
            throw VirtError.invalidArg("A single <secret type='passphrase'...> element is expected in encryption "
                                       + "description", domain: Self.domain)
        }
        return try await secrets.volumePassphrase(uuid: s.uuid, usage: s.usage)
    }

    /// Writes the passphrase to a new file (0600) under the driver's state directory, for qemu-img's secret
    /// object; the caller removes it.
    func writeSecretFile(_ value: [UInt8], pool: String, volume: String) throws(VirtError) -> String {
        var template = Array((stateDir + "/\(pool).\(volume).secret.XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { b -> Int32 in
            guard let p = b.baseAddress else { return -1 }
            return mkstemp(p)
        }
        guard fd >= 0 else {
            throw VirtError.systemError("failed to open secret file for volume '\(volume)'", errno: errno,
                                        domain: Self.domain)
        }
        defer { close(fd) }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        fchmod(fd, 0o600)
        var off = 0
        while off < value.count {
            let n = value.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + off }, value.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                unlink(path)
                throw VirtError.systemError("failed to write secret file for volume '\(volume)'", errno: e,
                                            domain: Self.domain)
            }
            off += n
        }
        return path
    }
}
