import Virt
import VirtRPC

/// Hands out driver connections to clients. `test:///default` is one shared driver that lives as long as
/// the daemon; other URIs get a connection of their own, closed when the client leaves.
final class DaemonDriverProvider: DriverProvider {
    let defaultURI: String
    let sharedTest: any HypervisorDriver

    init(defaultURI: String) async throws {
        self.defaultURI = defaultURI
        sharedTest = try await Connection.open("test:///default").driver
    }

    func open(uri: String?, readOnly: Bool) async throws -> any HypervisorDriver {
        let name = (uri?.isEmpty ?? true) ? defaultURI : (uri ?? defaultURI)
        let parsed = try ConnectionURI(parsing: name)
        if parsed.isRemote {
            throw VirtError(.noConnect, domain: .remote, "no connection driver available for \(name)")
        }
        if parsed.driver == "test" && parsed.path == "/default" { return sharedTest }
        return try await Connection.open(name, readOnly: readOnly).driver
    }

    func release(_ driver: any HypervisorDriver) async {
        if driver === sharedTest { return }
        await driver.close()
    }
}
