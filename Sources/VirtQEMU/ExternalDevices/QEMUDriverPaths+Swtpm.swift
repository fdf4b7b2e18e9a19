import VirtCore

/// Where swtpm's files go under the driver's root, laid out as libvirt's (`/var/lib/libvirt/swtpm`,
/// `/var/log/swtpm/libvirt/qemu`, `/run/libvirt/qemu/swtpm`).
extension QEMUDriverPaths {
    /// Persistent TPM state of every domain: `root/lib/swtpm` (mode 0711).
    public var swtpmStorageDir: String { root + "/lib/swtpm" }
    /// swtpm logs: `root/log/swtpm` (mode 0730, swtpm_user:swtpm_group).
    public var swtpmLogDir: String { root + "/log/swtpm" }
    /// swtpm control sockets and pid files: `root/run/qemu/swtpm` (mode 0770, QEMU's user:swtpm_group).
    public var swtpmRunDir: String { stateDir + "/swtpm" }

    /// A domain's TPM state: `root/lib/swtpm/UUID/tpm2` (or `tpm1.2`).
    public func swtpmStatePath(uuid: String, version: TPMVersion) -> String {
        swtpmStorageDir + "/\(uuid)/" + (version == .v2_0 ? "tpm2" : "tpm1.2")
    }

    /// The per-domain folder holding all its TPM state (removed on undefine): `root/lib/swtpm/UUID`.
    public func swtpmDomainStorageDir(uuid: String) -> String { swtpmStorageDir + "/\(uuid)" }

    /// A domain's swtpm log: `root/log/swtpm/NAME-swtpm.log`.
    public func swtpmLogFile(name: String) -> String { swtpmLogDir + "/\(name)-swtpm.log" }

    /// libvirt's short domain name (`ID-NAME`, the name cut to 20 characters), which names runtime files.
    public static func shortName(id: Int32, name: String) -> String { "\(id)-\(name.prefix(20))" }

    /// A running domain's swtpm control socket: `root/run/qemu/swtpm/ID-NAME-swtpm.sock`.
    public func swtpmSocket(id: Int32, name: String) -> String {
        swtpmRunDir + "/\(Self.shortName(id: id, name: name))-swtpm.sock"
    }

    /// A running domain's swtpm pid file: `root/run/qemu/swtpm/ID-NAME-swtpm.pid`.
    public func swtpmPidFile(id: Int32, name: String) -> String {
        swtpmRunDir + "/\(Self.shortName(id: id, name: name))-swtpm.pid"
    }
}
