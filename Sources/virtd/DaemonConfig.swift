import Logging
import VirtCore
import VirtQEMU
import VirtRPC

#if canImport(Glibc)
import Glibc
#endif

/// virtd's configuration: the file (libvirtd.conf syntax: `key = value`, `#` comments, strings in double
/// quotes) and the directory layout, either system paths or everything under `--root DIR`.
struct DaemonConfig {
    var configFile: String
    var stateDir: String
    var runDir: String
    var logDir: String
    var configDir: String

    /// `log_level`, `log_filters`, `log_outputs`.
    var log = LogSettings()
    var logToFile = true
    /// `--listen`: the network listeners the config asks for are opened.
    var listen = false
    var listenTCP = false
    /// `listen_tls` (on by default, as libvirtd's; effective with `--listen`), `tls_port`.
    var listenTLS = true
    var tlsPort = 16514
    /// `ca_file`, `cert_file`, `key_file`, `crl_file` (libvirt's PKI paths when none is set).
    var caFile: String?
    var certFile: String?
    var keyFile: String?
    var crlFile: String?
    /// `tls_no_verify_certificate`, `tls_allowed_dn_list`, `tls_priority`.
    var tlsNoVerify = false
    var tlsAllowedDNList: [String]?
    var tlsPriority: String?
    var listenAddr = "127.0.0.1"
    var tcpPort = 16509
    var authTCP = "sasl"
    var unixSockRWPerms: UInt32 = 0o700
    var unixSockROPerms: UInt32 = 0o777
    /// `unix_sock_group`: the sockets' group (nil: the daemon's own).
    var unixSockGroup: String?
    /// `access_drivers`: "none" (libvirt's default, everything allowed) and "rules" (the rules file).
    var accessDrivers: [String] = []
    /// `access_rules_file`: the `rules` driver's file (default `<config dir>/access.rules`).
    var accessRulesFile: String?
    var keepaliveInterval = 5
    var keepaliveCount = 5
    var maxClients = 5000
    var maxClientRequests = 5
    var maxWorkers = 20
    var minWorkers = 5
    var prioWorkers = 5
    var maxAnonymousClients = 20
    /// `unix_sock_admin_perms`: the admin socket's mode.
    var unixSockAdminPerms: UInt32 = 0o700
    var defaultURI = "test:///default"

    /// The QEMU driver's security settings (qemu.conf's `user`, `group`, `dynamic_ownership`,
    /// `remember_owner`, `security_driver`). The system daemon defaults to the dedicated `libvirt-qemu`
    /// user (and its group) when that user exists, else QEMU runs as the daemon's user (root); a `--root`
    /// daemon defaults to its own user with no owner changes, unless configured.
    var qemuSecurity = QEMUSecurityConfig.embedDefault

    /// `firmware_dirs`: where the QEMU driver reads firmware descriptors (QEMU's firmware.json files), in
    /// override order; nil: QEMU's standard places (/etc/qemu/firmware, /usr/share/qemu/firmware).
    var firmwareDirs: [String]?

    /// Migration: `host_uuid` (libvirtd.conf), `migration_host`, `migration_address`, `migration_port_min`,
    /// `migration_port_max` (qemu.conf).
    var migration = QEMUMigrationConfig()

    /// `unix_sock_dir`: where the sockets go, with libvirt's names (`libvirt-sock`, `libvirt-sock-ro`).
    var unixSockDir: String?
    /// With `--root DIR`: DIR/run/virtd-sock(-ro), unless `unix_sock_dir` says otherwise.
    var rootDir: String?

    /// The read-write socket: libvirt's own path for the system daemon (/run/libvirt/libvirt-sock), so that
    /// `virsh -c qemu:///system` and `qemu+ssh://host/system` reach virtd with no URI parameters.
    var socketPath: String {
        if let d = unixSockDir { return d + "/libvirt-sock" }
        if rootDir != nil { return runDir + "/virtd-sock" }
        return "/run/libvirt/libvirt-sock"
    }
    var readOnlySocketPath: String { socketPath + "-ro" }
    /// The admin socket (virt-admin): libvirt's `libvirt-admin-sock` beside the others.
    var adminSocketPath: String {
        if let d = unixSockDir { return d + "/libvirt-admin-sock" }
        if rootDir != nil { return runDir + "/virtd-admin-sock" }
        return "/run/libvirt/libvirt-admin-sock"
    }
    var pidFile: String { runDir + "/virtd.pid" }
    var logFile: String { logDir + "/virtd.log" }

    /// Where messages go: `log_outputs` when set, else the log file (unless `log_to_file = 0`) and standard
    /// error, at `log_level`.
    var logOutputs: [LogSettings.Output] {
        if let outputs = log.outputs { return outputs }
        return (logToFile ? [LogSettings.Output(level: log.level, destination: .file(logFile))] : [])
            + [LogSettings.Output(level: log.level, destination: .stderr)]
    }

    /// The layout for `--root DIR`, or the system paths.
    init(root: String?) {
        rootDir = root
        if let root {
            configDir = root + "/etc"
            stateDir = root + "/lib"
            runDir = root + "/run"
            logDir = root + "/log"
        } else {
            configDir = "/etc/swiftvirt"
            stateDir = "/var/lib/swiftvirt"
            runDir = "/run/swiftvirt"
            logDir = "/var/log/swiftvirt"
        }
        configFile = configDir + "/virtd.conf"
        if root == nil, getpwnam("libvirt-qemu") != nil {
            qemuSecurity.user = "libvirt-qemu"
        }
        // qemu.conf's `cgroup_controllers`: the system daemon places each QEMU in cgroups of every controller
        // (libvirt's default); a `--root` daemon only when configured, so that test daemons side by side do not
        // share `/machine/qemu-ID-NAME` groups unasked.
        if root == nil { qemuSecurity.cgroupControllers = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio"] }
    }

    /// Applies the settings of a config file's text. Unknown keys are ignored, as libvirtd warns and goes on.
    mutating func apply(text: String) throws {
        for (n, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmingCharacters(in: " \t\r")
            if trimmed.isEmpty { continue }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw ConfigError(line: n + 1, message: "expected 'key = value'")
            }
            let key = trimmed[..<eq].trimmingCharacters(in: " \t")
            var value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: " \t")
            if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            func int() throws -> Int {
                let v: Int?
                if value.hasPrefix("0") && value.count > 1 { v = Int(value.dropFirst(), radix: 8) } else { v = Int(value) }
                guard let v else { throw ConfigError(line: n + 1, message: "\(key): expected a number") }
                return v
            }
            switch key {
            case "log_level":
                // libvirt's levels: 1 debug, 2 info, 3 warning, 4 error; names are accepted too.
                guard let level = LogSettings.level(value) else {
                    throw ConfigError(line: n + 1, message: "log_level: unknown level \(value)")
                }
                log.level = level
            case "log_filters":
                do { log.filters = try LogSettings.parseFilters(value) } catch {
                    throw ConfigError(line: n + 1, message: error.description)
                }
            case "log_outputs":
                do { log.outputs = try LogSettings.parseOutputs(value) } catch {
                    throw ConfigError(line: n + 1, message: error.description)
                }
            case "log_to_file": logToFile = try int() != 0
            case "listen_tcp": listenTCP = try int() != 0
            case "listen_tls": listenTLS = try int() != 0
            case "tls_port": tlsPort = Int(value) ?? tlsPort
            case "ca_file": caFile = value
            case "cert_file": certFile = value
            case "key_file": keyFile = value
            case "crl_file": crlFile = value
            case "tls_no_verify_certificate": tlsNoVerify = try int() != 0
            case "tls_allowed_dn_list": tlsAllowedDNList = try Self.stringList(value, line: n + 1, key: key)
            case "tls_priority":
                // GnuTLS priority strings do not map onto BoringSSL's cipher lists; libvirt's default does.
                guard value == "NORMAL" else {
                    throw ConfigError(line: n + 1, message: "Failed to set TLS session priority to \(value): only NORMAL is supported")
                }
                tlsPriority = value
            case "listen_addr": listenAddr = value
            case "tcp_port": tcpPort = Int(value) ?? tcpPort
            case "auth_tcp": authTCP = value
            case "unix_sock_rw_perms": unixSockRWPerms = UInt32(try int())
            case "unix_sock_ro_perms": unixSockROPerms = UInt32(try int())
            case "unix_sock_admin_perms": unixSockAdminPerms = UInt32(try int())
            case "min_workers": minWorkers = try int()
            case "prio_workers": prioWorkers = try int()
            case "max_anonymous_clients": maxAnonymousClients = try int()
            case "unix_sock_group": unixSockGroup = value
            case "unix_sock_dir": unixSockDir = value
            case "access_drivers": accessDrivers = try Self.stringList(value, line: n + 1, key: key)
            case "access_rules_file": accessRulesFile = value
            case "keepalive_interval": keepaliveInterval = try int()
            case "keepalive_count": keepaliveCount = try int()
            case "max_clients": maxClients = try int()
            case "max_client_requests": maxClientRequests = try int()
            case "max_workers": maxWorkers = try int()
            case "default_uri": defaultURI = value
            case "firmware_dirs": firmwareDirs = try Self.stringList(value, line: n + 1, key: key)
            case "swtpm_user": qemuSecurity.swtpmUser = value
            case "swtpm_group": qemuSecurity.swtpmGroup = value
            case "shared_filesystems": qemuSecurity.sharedFilesystems = try Self.stringList(value, line: n + 1, key: key)
            case "auto_dump_path": qemuSecurity.autoDumpPath = value
            case "user": qemuSecurity.user = value
            case "group": qemuSecurity.group = value
            case "dynamic_ownership": qemuSecurity.dynamicOwnership = try int() != 0
            case "remember_owner": qemuSecurity.rememberOwner = try int() != 0
            case "host_uuid":
                guard let u = VirtUUID(string: value), u != VirtUUID(high: 0, low: 0) else {
                    throw ConfigError(line: n + 1, message: "host_uuid: invalid UUID '\(value)'")
                }
                migration.hostUUID = u
            case "migration_host": migration.migrationHost = value
            case "migration_address": migration.migrationAddress = value
            case "migration_port_min": migration.portMin = try int()
            case "migration_port_max": migration.portMax = try int()
            case "cgroup_controllers": qemuSecurity.cgroupControllers = try Self.stringList(value, line: n + 1, key: key)
            case "security_driver":
                guard value == "dac" || value == "none" else {
                    throw ConfigError(line: n + 1, message: "security_driver: unsupported driver \(value)")
                }
                qemuSecurity.securityDriver = value
            default: break
            }
        }
    }
}

extension DaemonConfig {
    /// A list value in libvirt's syntax: `[ "a", "b" ]` (an empty list is `[]`).
    static func stringList(_ value: String, line: Int, key: String) throws -> [String] {
        let v = value.trimmingCharacters(in: " \t")
        guard v.hasPrefix("["), v.hasSuffix("]") else {
            throw ConfigError(line: line, message: "\(key): expected a list [ \"…\", … ]")
        }
        // Quoted strings separated by commas; a comma inside quotes belongs to the string (DNs have them).
        var out: [String] = []
        var cur = ""
        var inQuotes = false
        var expectingComma = false
        for c in v.dropFirst().dropLast() {
            if inQuotes {
                if c == "\"" {
                    inQuotes = false
                    out.append(cur)
                    cur = ""
                    expectingComma = true
                } else {
                    cur.append(c)
                }
            } else if c == "\"" {
                guard !expectingComma else { throw ConfigError(line: line, message: "\(key): expected quoted strings") }
                inQuotes = true
            } else if c == "," {
                guard expectingComma else { throw ConfigError(line: line, message: "\(key): expected quoted strings") }
                expectingComma = false
            } else if c != " " && c != "\t" {
                throw ConfigError(line: line, message: "\(key): expected quoted strings")
            }
        }
        if inQuotes { throw ConfigError(line: line, message: "\(key): expected quoted strings") }
        return out
    }
}

struct ConfigError: Error, CustomStringConvertible {
    var line: Int
    var message: String
    var description: String { "config line \(line): \(message)" }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

extension DaemonConfig {
    /// Whether `listen_addr` is a loopback address.
    var listenAddrIsLoopback: Bool {
        listenAddr == "localhost" || listenAddr == "::1" || listenAddr.hasPrefix("127.")
    }

    /// The TLS listener's settings: explicit `ca_file`/`cert_file`/`key_file` (all three, as libvirt requires),
    /// else libvirt's PKI paths; errors in libvirt's words.
    func tlsSettings() throws(VirtError) -> TLSServerSettings {
        let ca: String, cert: String, key: String, crl: String?
        if caFile != nil || certFile != nil || keyFile != nil {
            guard let c = caFile else {
                throw VirtError.configUnsupported("No CA certificate path set to match server key/cert", domain: .rpc)
            }
            guard let s = certFile else {
                throw VirtError.configUnsupported("No server certificate path set to match server key", domain: .rpc)
            }
            guard let k = keyFile else {
                throw VirtError.configUnsupported("No server key path set to match server cert", domain: .rpc)
            }
            (ca, cert, key, crl) = (c, s, k, crlFile)
        } else {
            (ca, cert, key, crl) = ("/etc/pki/CA/cacert.pem", "/etc/pki/libvirt/servercert.pem",
                                    "/etc/pki/libvirt/private/serverkey.pem", "/etc/pki/CA/cacrl.pem")
        }
        return try TLSServerSettings(host: listenAddr, port: tlsPort, caFile: ca, certFile: cert, keyFile: key,
                                     crlFile: crl, allowedDNs: tlsAllowedDNList, noVerify: tlsNoVerify)
    }
}
