import VirtCore

/// libvirt's `test:///default` mock hypervisor. (Being built out: see issue 2.)
public final class TestDriver: HypervisorDriver {
    public let uri: String

    init(uri: String) {
        self.uri = uri
    }

    /// Opens the test driver for `test:///default` or `test:///path/to/node.xml`.
    public static func open(_ uri: ConnectionURI) async throws -> TestDriver {
        TestDriver(uri: uri.original)
    }
}
