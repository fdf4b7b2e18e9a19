import VirtCore

/// How the server gets a driver connection for a client's CONNECT_OPEN, and gives it back at CONNECT_CLOSE
/// or disconnect. The daemon decides which URIs it serves and which drivers are shared (the test driver's
/// `test:///default` state lives while a client has it open, as in libvirtd).
public protocol DriverProvider: Sendable {
    /// Opens (or hands out) the driver for `uri` (nil or empty: the daemon's default).
    func open(uri: String?, readOnly: Bool) async throws -> any HypervisorDriver
    /// Returns a driver obtained from ``open(uri:readOnly:)``.
    func release(_ driver: any HypervisorDriver) async
    /// The secret driver that clients of `driver` use (libvirtd gives every QEMU connection its one shared
    /// secret driver); nil: the secret calls answer NO_SUPPORT.
    func secretDriver(for driver: any HypervisorDriver) -> (any SecretDriver)?
    /// The network driver that clients of `driver` use (the test driver is its own); nil: the network calls
    /// answer NO_SUPPORT.
    func networkDriver(for driver: any HypervisorDriver) -> (any NetworkDriver)?
    /// The storage driver that clients of `driver` use; nil: the storage calls answer NO_SUPPORT.
    func storageDriver(for driver: any HypervisorDriver) -> (any StorageDriver)?
    /// The node device driver that clients of `driver` use; nil: those calls answer NO_SUPPORT.
    func nodeDeviceDriver(for driver: any HypervisorDriver) -> (any NodeDeviceDriver)?
    /// The host interface driver that clients of `driver` use; nil: those calls answer NO_SUPPORT.
    func interfaceDriver(for driver: any HypervisorDriver) -> (any InterfaceDriver)?
}

extension DriverProvider {
    public func secretDriver(for driver: any HypervisorDriver) -> (any SecretDriver)? { driver as? any SecretDriver }
    public func networkDriver(for driver: any HypervisorDriver) -> (any NetworkDriver)? { driver as? any NetworkDriver }
    /// The test driver is its own storage driver, as libvirt's.
    public func storageDriver(for driver: any HypervisorDriver) -> (any StorageDriver)? { driver as? any StorageDriver }
    /// The test driver is its own node device and interface driver, as libvirt's.
    public func nodeDeviceDriver(for driver: any HypervisorDriver) -> (any NodeDeviceDriver)? {
        driver as? any NodeDeviceDriver
    }
    public func interfaceDriver(for driver: any HypervisorDriver) -> (any InterfaceDriver)? {
        driver as? any InterfaceDriver
    }
}
