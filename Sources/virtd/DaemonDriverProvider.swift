import Synchronization
import VirtCore
import Virt
import VirtQEMU
import VirtRPC
import VirtSecrets
import VirtStorage
import VirtNetwork

/// Hands out driver connections to clients. Each `test:///default` client gets a connection of its own to the
/// process's one default test state, which lives while any such connection is open and starts afresh after the
/// last one closes (libvirtd's test driver does the same: libvirt-python's tests rely on it); `qemu:///system` is the QEMU driver on the daemon's root, opened on first use and shared
/// likewise, its QEMUs run with the daemon's QEMU security settings; other URIs get a connection of their own, closed when the client leaves.
final class DaemonDriverProvider: DriverProvider {
    let defaultURI: String
    let qemuRoot: String
    let qemuSecurity: QEMUSecurityConfig
    let firmwareDirs: [String]?
    let migration: QEMUMigrationConfig
    /// libvirtd's shared secret driver: the secrets of every `qemu:///system` client (the test driver has none,
    /// as in libvirtd).
    let secrets: FileSecretDriver
    /// libvirtd's storage driver: the pools of every `qemu:///system` client (`DIR/etc/storage`, `DIR/run/storage`).
    let storage: FileStorageDriver?
    /// The host's node devices and interfaces, for `qemu:///system` clients.
    let hostDevices = HostDeviceDriver()
    /// libvirtd's network driver: the virtual networks of every `qemu:///system` client (`DIR/etc/networks`,
    /// `DIR/run/networks`).
    let network: BridgeNetworkDriver?
    private let qemu = Mutex<(any HypervisorDriver)?>(nil)
    private let qemuOpening = KeyedAsyncLock<Int>()

    init(defaultURI: String, qemuRoot: String, qemuSecurity: QEMUSecurityConfig, firmwareDirs: [String]? = nil,
         migration: QEMUMigrationConfig = QEMUMigrationConfig(), secretsDir: String,
         storageDirs: (config: String, state: String)? = nil,
         networkDirs: (config: String, state: String)? = nil) async throws {
        secrets = try FileSecretDriver(directory: secretsDir)
        storage = try storageDirs.map { try FileStorageDriver(configDir: $0.config, stateDir: $0.state) }
        // Encrypted volumes (LUKS) take their passphrase from the shared secret driver.
        storage?.setSecretDriver(secrets)
        network = try networkDirs.map { try BridgeNetworkDriver(configDir: $0.config, stateDir: $0.state) }
        self.migration = migration
        self.defaultURI = defaultURI
        self.qemuRoot = qemuRoot
        self.qemuSecurity = qemuSecurity
        self.firmwareDirs = firmwareDirs
    }

    func open(uri: String?, readOnly: Bool) async throws -> any HypervisorDriver {
        let name = (uri?.isEmpty ?? true) ? defaultURI : (uri ?? defaultURI)
        let parsed = try ConnectionURI(parsing: name)
        if parsed.isRemote {
            throw VirtError(.noConnect, domain: .remote, "no connection driver available for \(name)")
        }
        if parsed.driver == "qemu" && parsed.path == "/system" { return try await systemQEMU() }
        return try await Connection.open(name, readOnly: readOnly).driver
    }

    /// Opens the QEMU driver now (at daemon start), so that it takes over the QEMUs still running from a
    /// previous daemon and marks those that died meanwhile shut off (crashed) before any client connects.
    func startQEMUDriver() async throws {
        _ = try await systemQEMU()
    }

    /// Starts the QEMU domains marked for autostart (libvirt's qemuAutostartDomains); their failures.
    func autostartQEMUDomains() async -> [String] {
        guard let q = qemu.withLock({ $0 }) as? QEMUDriver else { return [] }
        return await q.autostartDomains()
    }

    private func systemQEMU() async throws -> any HypervisorDriver {
        try await qemuOpening.withLock(0) {
            if let d = qemu.withLock({ $0 }) { return d }
            let q = try await QEMUDriver.open(root: qemuRoot, security: qemuSecurity, firmwareDirs: firmwareDirs)
            await q.setMigrationConfig(migration)
            // Peer-to-peer migration: the source daemon reaches the destination as any client would.
            await q.setPeerOpener(RemotePeerOpener())
            // Emulated TPMs with encrypted state take their passphrase from the shared secret driver.
            await q.setSecretDriver(secrets)
            // Volume disks are resolved through the shared storage driver.
            if let storage { await q.setStorageDriver(storage) }
            // Interfaces of type network find their network's bridge through the shared network driver.
            if let network {
                await q.setNetworkDriver(network)
            }
            let d: any HypervisorDriver = q
            qemu.withLock { $0 = d }
            return d
        }
    }

    func secretDriver(for driver: any HypervisorDriver) -> (any SecretDriver)? {
        if let q = qemu.withLock({ $0 }), q === driver { return secrets }
        return driver as? any SecretDriver
    }

    /// The test driver is its own storage driver, also behind a read-only wrapper (the rows apply libvirt's
    /// read-only rules themselves); `qemu:///system` clients share the daemon's file-backed one.
    func storageDriver(for driver: any HypervisorDriver) -> (any StorageDriver)? {
        if let storage {
            let base = (driver as? ReadOnlyDriver)?.base ?? driver
            if let q = qemu.withLock({ $0 }), q === base { return storage }
        }
        if let r = driver as? ReadOnlyDriver { return r.base as? any StorageDriver }
        return driver as? any StorageDriver
    }

    /// `qemu:///system` clients see the host's devices and interfaces (read from sysfs, as libvirt's udev
    /// backends); the test driver is its own node device and interface driver.
    func nodeDeviceDriver(for driver: any HypervisorDriver) -> (any NodeDeviceDriver)? {
        let base = (driver as? ReadOnlyDriver)?.base ?? driver
        if let q = qemu.withLock({ $0 }), q === base { return hostDevices }
        return base as? any NodeDeviceDriver
    }

    func interfaceDriver(for driver: any HypervisorDriver) -> (any InterfaceDriver)? {
        let base = (driver as? ReadOnlyDriver)?.base ?? driver
        if let q = qemu.withLock({ $0 }), q === base { return hostDevices }
        return base as? any InterfaceDriver
    }

    /// The test driver is its own network driver; `qemu:///system` clients share the daemon's bridge driver.
    func networkDriver(for driver: any HypervisorDriver) -> (any NetworkDriver)? {
        if let network {
            let base = (driver as? ReadOnlyDriver)?.base ?? driver
            if let q = qemu.withLock({ $0 }), q === base { return network }
        }
        if let r = driver as? ReadOnlyDriver { return r.base as? any NetworkDriver }
        return driver as? any NetworkDriver
    }

    func release(_ driver: any HypervisorDriver) async {
        if let q = qemu.withLock({ $0 }), q === driver { return }
        await driver.close()
    }
}

/// Opens another daemon for a peer-to-peer migration: a remote connection, as libvirt's source daemon opens
/// `dconnuri` with `virConnectOpenAuth`.
struct RemotePeerOpener: MigrationPeerOpener {
    func openPeer(uri: String) async throws -> any HypervisorDriver {
        try await Connection.open(uri).driver
    }
}
