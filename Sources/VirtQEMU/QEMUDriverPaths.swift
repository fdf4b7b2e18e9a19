/// Where the QEMU driver keeps its files, as libvirt's embed mode lays them out under one root.
public struct QEMUDriverPaths: Sendable, Hashable {
    public var root: String
    /// Persistent domain definitions: `root/etc/qemu/NAME.xml`.
    public var configDir: String { root + "/etc/qemu" }
    /// Status files of running domains: `root/run/qemu/NAME.xml` and `NAME.status`.
    public var stateDir: String { root + "/run/qemu" }
    /// Per-domain logs: `root/log/qemu/NAME.log`.
    public var logDir: String { root + "/log/qemu" }
    /// Capabilities cache.
    public var cacheDir: String { root + "/cache/qemu" }
    /// Per-domain private directories (monitor socket, HOME of QEMU).
    public var libDir: String { root + "/lib/qemu" }

    public init(root: String) {
        self.root = root
    }

    public func configFile(_ name: String) -> String { configDir + "/\(name).xml" }
    /// Autostart links, as libvirt's /etc/libvirt/qemu/autostart/NAME.xml (a symlink to the definition).
    public var autostartDir: String { configDir + "/autostart" }
    public func autostartLink(_ name: String) -> String { autostartDir + "/\(name).xml" }
    public func statusXMLFile(_ name: String) -> String { stateDir + "/\(name).xml" }
    public func statusFile(_ name: String) -> String { stateDir + "/\(name).status" }
    public func pidFile(_ name: String) -> String { stateDir + "/\(name).pid" }
    public func logFile(_ name: String) -> String { logDir + "/\(name).log" }
    /// libvirt's `domain-ID-NAME` private directory.
    public func domainLibDir(id: Int32, name: String) -> String { libDir + "/domain-\(id)-\(name)" }
    /// libvirt's channel socket directory of a running domain: `root/lib/qemu/channel/target/domain-ID-NAME`.
    public func channelTargetDir(id: Int32, name: String) -> String {
        libDir + "/channel/target/domain-\(id)-\(name)"
    }
    /// A running domain's file-backed guest RAM: `root/lib/qemu/ram/<id>-<name>` (libvirt's
    /// `memory_backing_dir` and short name).
    public func memoryBackingDir(id: Int32, name: String) -> String {
        libDir + "/ram/" + Self.shortName(id: id, name: name)
    }
    /// Managed save images: `root/lib/qemu/save/NAME.save` (libvirt's embed layout).
    public var saveDir: String { libDir + "/save" }
    /// A domain's snapshot metadata (libvirt's /var/lib/libvirt/qemu/snapshot/NAME).
    public func snapshotDir(_ name: String) -> String { libDir + "/snapshot/\(name)" }
    public func managedSaveFile(_ name: String) -> String { saveDir + "/\(name).save" }
    /// Where crash dumps go (libvirt's `auto_dump_path`): `root/lib/qemu/dump`.
    public var autoDumpDir: String { libDir + "/dump" }
}
