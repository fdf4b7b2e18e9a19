import Foundation
import VirtCore
import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// The host side of a virtual network: Linux bridges and addresses (iproute2's `ip`), the firewall (`nft`),
/// dnsmasq, sysctls. Every command runs to its end; a failure becomes libvirt's error for the step.
enum NetworkHost {
    static let domain = VirtError.ErrorDomain.network

    /// The absolute path of a host tool (the daemon may run with a short PATH).
    static func tool(_ name: String) -> String {
        for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"] {
            let p = dir + "/" + name
            if access(p, X_OK) == 0 { return p }
        }
        return "/usr/sbin/" + name
    }

    /// Runs `argv` (its first word a tool name); throws `what: stderr` as an internal error when it fails.
    @discardableResult
    static func run(_ argv: [String], _ what: @autoclosure () -> String) throws(VirtError) -> String {
        var a = argv
        a[0] = tool(a[0])
        guard let r = ChildCommand.run(a) else {
            throw VirtError.systemError("Cannot run '\(a[0])'", errno: errno, domain: domain)
        }
        if r.status != 0 {
            let msg = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw VirtError.internalError(msg.isEmpty ? what() : "\(what()): \(msg)", domain: domain)
        }
        return r.stdout
    }

    /// Runs `argv`, ignoring failures (clean-up).
    static func runQuietly(_ argv: [String]) {
        var a = argv
        a[0] = tool(a[0])
        _ = ChildCommand.run(a)
    }

    static func deviceExists(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("/") && access("/sys/class/net/\(name)", F_OK) == 0
    }

    // MARK: Bridges

    /// Creates the bridge of a network (libvirt's `virNetDevBridgeCreate`, then the STP delay, STP, MTU).
    static func createBridge(_ def: NetworkDefinition, _ name: String) throws(VirtError) {
        var add = ["ip", "link", "add", "name", name]
        if let mac = def.mac { add += ["address", mac.description] }
        // forward_delay in centiseconds, set before STP is turned on (the kernel refuses a short delay with STP).
        add += ["type", "bridge", "forward_delay", String(def.delay * 100)]
        try run(add, "error creating bridge interface \(name)")
        do throws(VirtError) {
            try run(["ip", "link", "set", "dev", name, "type", "bridge", "stp_state", def.stp ? "1" : "0"],
                    "failed to set STP on bridge '\(name)'")
            if def.mtu > 0 {
                try run(["ip", "link", "set", "dev", name, "mtu", String(def.mtu)],
                        "cannot set interface MTU on '\(name)'")
            }
        } catch {
            deleteLink(name)
            throw error
        }
    }

    static func addAddress(_ bridge: String, _ ip: NetworkIP) throws(VirtError) {
        let prefix = ip.effectivePrefix
        guard prefix >= 0 else {
            throw VirtError.internalError("bridge '\(bridge)' has an invalid netmask or IP address", domain: domain)
        }
        var argv = ["ip", "addr", "add", "\(ip.address)/\(prefix)"]
        if ip.address.isIPv4 { argv += ["broadcast", "+"] }
        argv += ["dev", bridge]
        try run(argv, "Failed to add IP address \(ip.address)/\(prefix) to \(bridge)")
    }

    static func setUp(_ name: String) throws(VirtError) {
        try run(["ip", "link", "set", "dev", name, "up"], "failed to set interface '\(name)' up")
    }

    static func addRoute(_ bridge: String, _ r: NetworkRoute) throws(VirtError) {
        let prefix = r.prefix.map(Int.init) ?? r.netmask?.netmaskBits ?? (r.address.isIPv4 ? 32 : 128)
        var argv = ["ip", "route", "add", "\(r.address)/\(prefix)", "via", r.gateway.description, "dev", bridge]
        if let m = r.metric { argv += ["metric", String(m)] }
        try run(argv, "Failed to add route to \(r.address)/\(prefix) via \(r.gateway)")
    }

    static func deleteLink(_ name: String) {
        guard deviceExists(name) else { return }
        runQuietly(["ip", "link", "del", "dev", name])
    }

    /// `networkCheckRouteCollision`: an IPv4 network of `def` that a route of another interface already covers.
    static func checkRouteCollision(_ def: NetworkDefinition, bridge: String) throws(VirtError) {
        guard let text = FileStore.read("/proc/net/route").map({ String(decoding: $0, as: UTF8.self) }) else { return }
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 8, let dest = UInt32(f[1], radix: 16), let mask = UInt32(f[7], radix: 16) else { continue }
            let iface = String(f[0])
            // Only the network's own routes (not the default route, not host routes through a gateway).
            if iface == bridge || mask == 0 { continue }
            // /proc/net/route prints addresses in host (little-endian) order of network-order words.
            let d = withUnsafeBytes(of: dest.littleEndian) { Array($0) }
            let m = withUnsafeBytes(of: mask.littleEndian) { Array($0) }
            for ip in def.ips where ip.address.isIPv4 {
                let p = ip.effectivePrefix
                guard p >= 0 else { continue }
                let net = ip.address.masked(p).bytes
                let ourMask = NetworkAddress(bytes: [255, 255, 255, 255]).masked(p).bytes
                let theirs = zip(d, m).map { $0 & $1 }
                if net == theirs && ourMask == m {
                    throw VirtError.internalError("Network is already in use by interface \(iface)", domain: domain)
                }
            }
        }
    }

    /// Writes `value` to the sysctl file at `path`.
    static func writeSysctl(_ path: String, _ value: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let text = value + "\n"
        return write(fd, text, text.utf8.count) == text.utf8.count
    }

    /// `networkSetIPv6Sysctls`: IPv6 on the bridge only when the network has an IPv6 address; never router
    /// advertisements from guests (accept_ra) nor autoconfiguration (autoconf) on a gateway.
    static func setIPv6Sysctls(_ bridge: String, enable: Bool) throws(VirtError) {
        let base = "/proc/sys/net/ipv6/conf/\(bridge)/"
        // No such file: IPv6 is off in this kernel or namespace.
        if access(base + "disable_ipv6", W_OK) != 0 && errno == ENOENT { return }
        guard writeSysctl(base + "disable_ipv6", enable ? "0" : "1") else {
            throw VirtError.systemError("cannot write to '\(base)disable_ipv6' to enable/disable IPv6 on bridge '\(bridge)'",
                                        errno: errno, domain: domain)
        }
        for key in ["accept_ra", "autoconf"] where !writeSysctl(base + key, "0") {
            throw VirtError.systemError("cannot disable \(base)\(key)", errno: errno, domain: domain)
        }
    }

    /// IPv6 forwarding for a routed or NATed network with IPv6 addresses (`networkEnableIPForwarding`).
    static func enableIPv6Forwarding() throws(VirtError) {
        let path = "/proc/sys/net/ipv6/conf/all/forwarding"
        guard writeSysctl(path, "1") else {
            throw VirtError.systemError("cannot enable \(path)", errno: errno, domain: domain)
        }
    }

    static func enableIPForwarding() throws(VirtError) {
        let fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw VirtError.systemError("cannot enable /proc/sys/net/ipv4/ip_forward", errno: errno, domain: domain)
        }
        defer { close(fd) }
        if write(fd, "1\n", 2) != 2 {
            throw VirtError.systemError("cannot enable /proc/sys/net/ipv4/ip_forward", errno: errno, domain: domain)
        }
    }

    // MARK: Processes

    /// Whether `pid` runs `binary` (its /proc/PID/cmdline names it) and is not a zombie.
    static func processRuns(_ pid: pid_t, mentioning needle: String) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 else { return false }
        if let stat = FileStore.read("/proc/\(pid)/stat").map({ String(decoding: $0, as: UTF8.self) }),
           let close = stat.lastIndex(of: ")") {
            let rest = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces)
            if rest.hasPrefix("Z") || rest.hasPrefix("X") { return false }
        }
        guard let cmd = FileStore.read("/proc/\(pid)/cmdline") else { return false }
        let text = String(decoding: cmd.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        return text.contains(needle)
    }

    static func readPID(_ path: String) -> pid_t? {
        guard let b = FileStore.read(path) else { return nil }
        return pid_t(String(decoding: b, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Ends `pid` (SIGTERM, then SIGKILL if it lingers about 2 s).
    static func terminate(_ pid: pid_t, mentioning needle: String) {
        guard processRuns(pid, mentioning: needle) else { return }
        kill(pid, SIGTERM)
        for _ in 0..<200 {
            if !processRuns(pid, mentioning: needle) { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        for _ in 0..<100 {
            if !processRuns(pid, mentioning: needle) { return }
            usleep(10_000)
        }
    }
}
