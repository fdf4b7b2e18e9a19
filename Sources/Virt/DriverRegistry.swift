import VirtQEMU
import VirtRPC
import VirtTestDriver

#if canImport(Glibc)
import Glibc
#endif

/// Picks the driver for a URI, as libvirt's `virConnectOpen` walks its registered drivers.
enum DriverRegistry {
    static func defaultURI() -> String {
        if let env = getenv("LIBVIRT_DEFAULT_URI"), let s = Optional(String(cString: env)), !s.isEmpty {
            return s
        }
        return "test:///default"
    }

    static func open(_ uri: ConnectionURI, readOnly: Bool) async throws -> any HypervisorDriver {
        // qemu:///system is the system daemon's: reached over its unix socket, as libvirt's client does.
        if uri.isRemote || (uri.driver == "qemu" && uri.path == "/system") {
            return try await RemoteDriver.connect(uri, readOnly: readOnly)
        }
        let driver = try await openLocal(uri)
        return readOnly ? ReadOnlyDriver(driver) : driver
    }

    /// The local (in-process) driver for `uri`.
    static func openLocal(_ uri: ConnectionURI) async throws -> any HypervisorDriver {
        switch uri.driver {
        case "test":
            return try await TestDriver.open(uri)
        case "qemu":
            return try await QEMUDriver.open(uri)
        default:
            throw VirtError(.noConnect, "no connection driver available for \(uri.original)")
        }
    }
}
