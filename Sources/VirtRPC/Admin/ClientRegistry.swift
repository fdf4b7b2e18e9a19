import NIOCore
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's connected clients per server ("libvirtd" for the remote program's sockets and listeners,
/// "admin" for the admin socket), as virt-admin lists them: an id counted per server from 1, the time the
/// client connected, its transport, and its session (identity, read-only).
final class ClientRegistry: Sendable {
    /// libvirt's `virClientTransport`.
    enum Transport: UInt32, Sendable {
        case unix = 0, tcp = 1, tls = 2
    }

    struct Entry: Sendable {
        let id: UInt64
        let timestamp: Int64
        let transport: Transport
        let readOnly: Bool
        let session: ClientSession?
        let channel: any Channel
    }

    static let servers = ["libvirtd", "admin"]

    private struct Server {
        var next: UInt64 = 1
        var clients: [UInt64: Entry] = [:]
    }
    private let state = Mutex<[String: Server]>(["libvirtd": Server(), "admin": Server()])

    func add(server: String, channel: any Channel, transport: Transport, readOnly: Bool,
             session: ClientSession?) -> UInt64 {
        state.withLock { s in
            var srv = s[server] ?? Server()
            let id = srv.next
            srv.next += 1
            srv.clients[id] = Entry(id: id, timestamp: Int64(time(nil)), transport: transport, readOnly: readOnly,
                                    session: session, channel: channel)
            s[server] = srv
            return id
        }
    }

    func remove(server: String, id: UInt64) {
        state.withLock { _ = $0[server]?.clients.removeValue(forKey: id) }
    }

    func list(server: String) -> [Entry] {
        state.withLock { ($0[server]?.clients.values).map { Array($0) } ?? [] }.sorted { $0.id < $1.id }
    }

    func lookup(server: String, id: UInt64) -> Entry? {
        state.withLock { $0[server]?.clients[id] }
    }

    func count(server: String) -> Int {
        state.withLock { $0[server]?.clients.count ?? 0 }
    }
}

/// What the admin API asks of the daemon itself: its logging settings, read and changed while it runs.
public protocol AdminDelegate: Sendable {
    /// `log_filters` as libvirt prints them, and their number.
    func logFilters() -> (String, Int)
    func setLogFilters(_ filters: String?) throws(VirtError)
    /// `log_outputs` as libvirt prints them, and their number.
    func logOutputs() -> (String, Int)
    func setLogOutputs(_ outputs: String?) throws(VirtError)
}
