#if canImport(Glibc)
import Glibc
#endif

/// What the remote server listens on and how it treats clients.
public struct RemoteServerConfig: Sendable {
    /// Read-write unix socket path.
    public var unixSocketPath: String?
    /// Read-only unix socket path (every mutating call answers OPERATION_DENIED).
    public var readOnlySocketPath: String?
    /// Unix socket permissions (rw, ro).
    public var unixSocketMode: UInt32 = 0o700
    public var readOnlySocketMode: UInt32 = 0o777
    /// Optional TCP listener (auth none): host and port. Off unless set.
    public var tcpHost: String?
    public var tcpPort: Int?
    /// libvirtd.conf `keepalive_interval` (seconds; <= 0 disables) and `keepalive_count`.
    public var keepaliveInterval: Int = 5
    public var keepaliveCount: Int = 5
    /// libvirtd.conf `max_client_requests`: calls in flight per client before the server stops reading.
    public var maxClientRequests: Int = 5
    /// libvirtd.conf `max_workers`: low-priority calls running at once across all clients (high-priority
    /// calls, libvirt's `@priority: high`, never wait for one).
    public var maxWorkers: Int = 20
    /// libvirtd.conf `max_clients`.
    public var maxClients: Int = 5000
    /// libvirtd.conf `access_drivers`: every call's `@acl` permissions are checked against these (nil: libvirt's
    /// `none` driver, everything allowed).
    public var access: AccessManager?
    /// The TLS listener (`listen_tls` with `--listen`); nil: none.
    public var tls: TLSServerSettings?
    /// libvirtd.conf `unix_sock_group`: the group the unix sockets are given to (nil: the daemon's).
    public var unixSocketGroup: gid_t?
    /// libvirtd's admin socket (virt-admin; program 0x06900690) and `unix_sock_admin_perms`; nil: none.
    public var adminSocketPath: String?
    public var adminSocketMode: UInt32 = 0o700
    /// libvirtd.conf `min_workers`, `prio_workers` (reported and set through virt-admin) and
    /// `max_anonymous_clients`.
    public var minWorkers: Int = 5
    public var prioWorkers: Int = 5
    public var maxAnonymousClients: Int = 20
    /// The daemon's part of the admin API (its logging).
    public var admin: (any AdminDelegate)?
    /// The library version reported by CONNECT_GET_LIB_VERSION (major*1e6+minor*1e3+micro).
    public var libraryVersion: UInt64 = 9_000_000

    public init() {}
}
