import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// A disk's `<encryption format='luks'><secret type='passphrase' uuid='…'/></encryption>` (in `<source>`, or
/// directly in `<disk>` as older XML has it): QEMU opens the image itself (the `luks` format driver, or qcow2's
/// `encrypt`), with the passphrase passed as a secret object encrypted with the domain's master key.
public struct QEMUDiskEncryption: Sendable, Hashable {
    public var format: String
    public var secretUUID: String?
    public var secretUsage: String?

    /// The encryption of `d`, nil when it has none.
    public static func of(_ d: Disk) -> QEMUDiskEncryption? {
        let el = d.source.extraChildren.first { $0.name == "encryption" } ?? d.extra.first { $0.name == "encryption" }
        guard let el else { return nil }
        let s = el.child("secret")
        return QEMUDiskEncryption(format: el.attr("format") ?? "default", secretUUID: s?.attr("uuid"),
                                  secretUsage: s?.attr("usage"))
    }

    /// libvirt's checks of a disk's encryption when a definition is parsed (qemuDomainValidateStorageSource):
    /// LUKS only (the old qcow encryption is gone, LUKS2 is not QEMU's), on raw or qcow2 images only.
    public static func validate(_ d: Disk) throws(VirtError) {
        guard let enc = of(d) else { return }
        if enc.format == "qcow" || enc.format == "default" {
            throw VirtError.configUnsupported("old qcow/qcow2 encryption is not supported", domain: .qemu)
        }
        if enc.format == "luks2" {
            throw VirtError.configUnsupported("luks2 is currently not supported by the qemu encryption engine",
                                              domain: .qemu)
        }
        let fmt = d.driver.format ?? .raw
        if d.type != .volume, fmt != .raw && fmt != .qcow2 {
            throw VirtError.configUnsupported("encryption is supported only with 'raw' and 'qcow2' image format",
                                              domain: .qemu)
        }
    }

    /// The id of the secret object of the disk whose format node is `NODE-format`.
    public static func secretAlias(node: String) -> String { node + "-format-encryption-secret0" }
}

/// A secret value as QEMU's `secret` object takes it from libvirt: AES-256-CBC with the master key, base64.
public struct QEMUEncryptedSecret: Sendable, Hashable {
    public var data: String
    public var iv: String

    public init(value: [UInt8], masterKey: [UInt8]) throws(VirtError) {
        guard let iv = QEMUSecretCipher.randomBytes(16) else {
            throw VirtError.systemError("failed to generate random bytes", errno: EIO, domain: .qemu)
        }
        data = Base64.encode(QEMUSecretCipher.encryptCBC(value, key: masterKey, iv: iv))
        self.iv = Base64.encode(iv)
    }

    /// The `-object`/`object-add` properties of the secret `id`.
    func props(id: String) -> QEMUJSONProps {
        var p = QEMUJSONProps()
        p.add("qom-type", "secret"); p.add("id", id); p.add("data", data); p.add("keyid", "masterKey0")
        p.add("iv", iv); p.add("format", "base64")
        return p
    }
}

/// The per-domain master key (libvirt's `master-key.aes`): 32 random bytes in the domain's private directory,
/// readable by QEMU's user only, for the life of the QEMU process.
public enum QEMUMasterKey {
    public static let fileName = "master-key.aes"

    /// Makes a new key and writes it to `dir`/master-key.aes, owned by `owner` (QEMU's user) with mode 0600.
    public static func create(in dir: String, owner: ProcessCredentials?) throws(VirtError) -> [UInt8] {
        guard let key = QEMUSecretCipher.randomBytes(32) else {
            throw VirtError.systemError("failed to generate master key", errno: EIO, domain: .qemu)
        }
        let path = dir + "/" + fileName
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw VirtError.systemError("failed to open domain master key file for write", errno: errno, domain: .qemu)
        }
        defer { close(fd) }
        let n = key.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == key.count else {
            throw VirtError.systemError("failed to write master key file for domain", errno: errno, domain: .qemu)
        }
        if let owner, fchown(fd, owner.uid, owner.gid) != 0 {
            throw VirtError.systemError("failed to set owner of the master key file", errno: errno, domain: .qemu)
        }
        return key
    }

    /// The key of a running domain, read back from its private directory (hotplug after a daemon restart).
    public static func read(from dir: String) -> [UInt8]? {
        let fd = open(dir + "/" + fileName, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var key = [UInt8](repeating: 0, count: 32)
        let n = key.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 32) }
        return n == 32 ? key : nil
    }
}
