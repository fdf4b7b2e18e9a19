import Foundation
import Synchronization
import VirtCore
import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// One network of the daemon's network driver (`virNetworkObj`).
struct NetObject: Sendable {
    /// The live definition while running, else the persistent one.
    var def: NetworkDefinition
    /// A definition given while running, applied when the network stops.
    var newDef: NetworkDefinition?
    var active = false
    var persistent = false
    var autostart = false
    /// The network's ports while it runs (creation order).
    var ports: [NetworkPortDefinition] = []

    var ref: NetworkRef { NetworkRef(def) }
    var persistentDef: NetworkDefinition { newDef ?? def }
}

/// libvirt's network driver for a daemon (`bridge_driver.c`) on Linux: definitions in `CONFIG/NAME.xml`
/// (written atomically), autostart links in `CONFIG/autostart`, the live definition of each running network in
/// `STATE/NAME.xml`, dnsmasq's files in `STATE/dnsmasq`. Forward modes nat, route, open, isolated (no
/// `<forward>`) get a Linux bridge of their own with the network's addresses, dnsmasq for DHCP and DNS, and
/// (nat, route, isolated) an nftables table of their own; bridge mode names an existing host bridge. At open
/// the driver takes over the networks still running from a previous daemon (their bridge still there;
/// dnsmasq restarted if it died), then starts the autostart ones. One instance serves every `qemu:///system`
/// connection of a daemon.
public final class BridgeNetworkDriver: NetworkDriver {
    public let configDir: String
    public let stateDir: String
    var autostartDir: String { configDir + "/autostart" }
    var dnsmasqDir: String { stateDir + "/dnsmasq" }

    let objects = Mutex<[NetObject]>([])
    /// Serialises the operations that change the host (start, stop, update), so two starts cannot pick the
    /// same resources; the object list itself is under ``objects``.
    let hostLock = Mutex<Void>(())
    let bus = EventBus<NetworkEventRecord>()
    static let domain = VirtError.ErrorDomain.network
    static let parseOptions = NetworkParseOptions(dnsmasqNamespace: true)

    public var loadProblems: [String] { problems.withLock { $0 } }
    private let problems = Mutex<[String]>([])

    /// `autostart`: start the autostart networks now (a daemon); false leaves them (tests of the definitions
    /// that must not touch the host).
    public init(configDir: String, stateDir: String, autostart: Bool = true) throws(VirtError) {
        self.configDir = configDir
        self.stateDir = stateDir
        for d in [configDir, configDir + "/autostart", stateDir, stateDir + "/dnsmasq"] { try Self.makeDirectory(d) }
        let found = load(autostart: autostart)
        problems.withLock { $0 = found }
    }

    func files(_ name: String) -> DnsmasqFiles { DnsmasqFiles(dir: dnsmasqDir, name: name) }

    // MARK: Loading

    private func load(autostart: Bool) -> [String] {
        var problems: [String] = []
        var list: [NetObject] = []
        for file in FileStore.list(configDir).sorted() where file.hasSuffix(".xml") {
            let path = configDir + "/" + file
            guard let text = Self.readText(path) else { continue }
            do {
                let def = try NetworkDefinition(xml: text, options: Self.parseOptions)
                guard file == def.name + ".xml" else {
                    problems.append("Network config filename '\(path)' does not match network name '\(def.name)'")
                    continue
                }
                var o = NetObject(def: def)
                o.persistent = true
                o.autostart = access(autostartDir + "/" + file, F_OK) == 0
                list.append(o)
            } catch {
                problems.append("\(path): \(error.message)")
            }
        }
        // Networks that were running: adopted when their bridge is still there.
        for file in FileStore.list(stateDir).sorted() where file.hasSuffix(".xml") {
            let path = stateDir + "/" + file
            guard let text = Self.readText(path),
                  let def = try? NetworkDefinition(xml: text, options: Self.parseOptions),
                  file == def.name + ".xml" else {
                unlink(path)
                continue
            }
            var i = list.firstIndex { $0.def.name == def.name }
            if i == nil {
                list.append(NetObject(def: def))
                i = list.count - 1
            }
            guard let i else { continue }
            let alive = !def.forward.mode.hasBridge || NetworkHost.deviceExists(def.bridge ?? "")
            if alive {
                if list[i].persistent && list[i].def != def { list[i].newDef = list[i].def }
                list[i].def = def
                list[i].active = true
                list[i].ports = loadPorts(def.name)
                do throws(VirtError) {
                    try applyFirewall(def)
                    if Dnsmasq.needed(def) && dnsmasqPID(def) == nil { try startDnsmasq(def) }
                } catch {
                    problems.append("network '\(def.name)': \(error.message)")
                }
            } else {
                // The bridge went away behind our back: what is left of the network is removed.
                teardownHost(def)
                unlink(path)
                removePortFiles(def.name)
                if !list[i].persistent { list.remove(at: i) }
            }
        }
        objects.withLock { $0 = list }
        // Autostart.
        for o in list where autostart && o.autostart && !o.active {
            do {
                try startLocked(o.ref, emit: false)
            } catch {
                problems.append("Failed to autostart network '\(o.def.name)': \((error as? VirtError)?.message ?? "\(error)")")
            }
        }
        return problems
    }

    // MARK: Files

    static func atomicWrite(_ path: String, _ text: String, mode: mode_t = 0o600) throws(VirtError) {
        switch FileStore.atomicWrite(path, Array(text.utf8), mode: mode) {
        case nil: return
        case .create(let tmp, let e)?: throw VirtError.systemError("cannot create file '\(tmp)'", errno: e, domain: domain)
        case .write(let e)?: throw VirtError.systemError("cannot write config file '\(path)'", errno: e, domain: domain)
        }
    }

    static func makeDirectory(_ path: String) throws(VirtError) {
        var cur = ""
        for comp in path.split(separator: "/") {
            cur += "/" + comp
            mkdir(cur, 0o755)
        }
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw VirtError.systemError("cannot create directory '\(path)'", errno: errno, domain: domain)
        }
    }

    static func readText(_ path: String) -> String? {
        FileStore.read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    func writeConfig(_ def: NetworkDefinition) throws(VirtError) {
        try Self.atomicWrite(configDir + "/" + def.name + ".xml", def.xml(inactive: true))
    }

    func writeState(_ def: NetworkDefinition) throws(VirtError) {
        try Self.atomicWrite(stateDir + "/" + def.name + ".xml", def.xml())
    }

    // MARK: Objects

    func modify<T>(_ body: (inout [NetObject]) throws(VirtError) -> T) throws(VirtError) -> T {
        try objects.withLock { l throws(VirtError) in try body(&l) }
    }

    func mutate<T>(_ body: (inout [NetObject]) -> T) -> T {
        objects.withLock { l in body(&l) }
    }

    static func find(_ l: [NetObject], _ ref: NetworkRef) throws(VirtError) -> Int {
        guard let i = l.firstIndex(where: { $0.def.uuid == ref.uuid }) else {
            throw NetworkErrors.noNetwork(uuid: ref.uuid, domain: domain)
        }
        return i
    }

    func object(_ ref: NetworkRef) throws(VirtError) -> NetObject {
        try modify { l throws(VirtError) in l[try Self.find(l, ref)] }
    }

    func emit(_ ref: NetworkRef, _ e: NetworkLifecycleEvent) { bus.emit(NetworkEventRecord(network: ref, event: e)) }

    static func checkFlags(_ flags: UInt32, allowed: UInt32, _ function: String) throws(VirtError) {
        let bad = flags & ~allowed
        if bad != 0 { throw VirtError.unsupportedFlags(UInt64(bad), function: function, domain: domain) }
    }

    /// Whether another network (by name) uses `bridge` in its live or persistent definition
    /// (`virNetworkObjBridgeInUse`).
    static func bridgeInUse(_ l: [NetObject], _ bridge: String, except name: String) -> Bool {
        l.contains { o in
            o.def.name != name && (o.def.bridge == bridge || o.newDef?.bridge == bridge)
        }
    }

    /// `networkValidate`: the bridge name (picked as virbrN when absent or a template), the bridge's MAC
    /// (generated 52:54:00:xx:xx:xx), and what the bridge-less modes refuse.
    static func validate(_ def: inout NetworkDefinition, _ l: [NetObject]) throws(VirtError) {
        if def.name.contains("\n") {
            throw VirtError.xmlDetail("name '\(def.name)' cannot contain '\\n'", domain: domain)
        }
        let mode = def.forward.mode
        switch mode {
        case .none, .nat, .route, .open:
            if let b = def.bridge, !b.contains("%d") {
                if bridgeInUse(l, b, except: def.name) {
                    throw VirtError.internalError("bridge name '\(b)' already in use.", domain: domain)
                }
            } else {
                var templ = "virbr%d"
                if let b = def.bridge, b.components(separatedBy: "%").count == 2 { templ = b }
                var picked: String?
                for id in 0...256 {
                    let name = templ.replacingOccurrences(of: "%d", with: String(id))
                    if !bridgeInUse(l, name, except: def.name) && !NetworkHost.deviceExists(name) {
                        picked = name
                        break
                    }
                }
                guard let picked else {
                    throw VirtError.internalError("Bridge generation exceeded max id 256", domain: domain)
                }
                def.bridge = picked
            }
            if def.mac == nil {
                var m = MACAddress.generateQEMU()
                m.bytes[0] = 0x52
                m.bytes[1] = 0x54
                m.bytes[2] = 0x00
                def.mac = m
            }
        case .bridge, .private, .vepa, .passthrough, .hostdev:
            func unsupported(_ what: String) -> VirtError {
                VirtError.configUnsupported("Unsupported \(what) element in network \(def.name) with forward mode='\(mode.name)'",
                                            domain: domain)
            }
            if def.mac != nil { throw unsupported("<mac>") }
            if !def.ips.isEmpty { throw unsupported("<ip>") }
            if !def.dns.txts.isEmpty || !def.dns.hosts.isEmpty || !def.dns.srvs.isEmpty { throw unsupported("<dns>") }
            if def.domainName != nil { throw unsupported("<domain>") }
            if mode != .bridge {
                throw VirtError.configUnsupported("forward mode '\(mode.name)' is not supported by this network driver",
                                                  domain: domain)
            }
            if def.bridge == nil {
                throw VirtError.configUnsupported("forward mode 'bridge' needs a <bridge name='…'/> of the host",
                                                  domain: domain)
            }
        }
        var v4 = false
        for ip in def.ips where ip.address.isIPv4 && (!ip.ranges.isEmpty || !ip.hosts.isEmpty) {
            if v4 {
                throw VirtError.configUnsupported(
                    "Multiple IPv4 dhcp sections found -- dhcp is supported only for a single IPv4 address on each network",
                    domain: domain)
            }
            v4 = true
        }
    }

    /// `virNetworkObjAssignDef`.
    static func assign(_ l: inout [NetObject], _ def: NetworkDefinition, live: Bool) throws(VirtError) -> (Int, Bool) {
        if let i = l.firstIndex(where: { $0.def.uuid == def.uuid }) {
            let o = l[i]
            if o.def.name != def.name {
                throw VirtError.operationFailed("network '\(o.def.name)' is already defined with uuid \(o.def.uuid)",
                                                domain: domain)
            }
            if live {
                if o.active {
                    throw VirtError.operationInvalid("network is already active as '\(o.def.name)'", domain: domain)
                }
                if o.persistent && l[i].newDef == nil { l[i].newDef = o.def }
                l[i].def = def
            } else if o.active {
                l[i].newDef = def
            } else {
                l[i].def = def
                l[i].newDef = nil
            }
            if !live { l[i].persistent = true }
            return (i, false)
        }
        if let o = l.first(where: { $0.def.name == def.name }) {
            throw VirtError.operationFailed("network '\(def.name)' already exists with uuid \(o.def.uuid)", domain: domain)
        }
        l.append(NetObject(def: def, persistent: !live))
        return (l.count - 1, true)
    }

    // MARK: Listing and lookup

    func names(active: Bool) -> [String] {
        objects.withLock { l in l.filter { $0.active == active }.map(\.def.name).sorted() }
    }

    public func numOfNetworks() async throws -> Int32 { Int32(names(active: true).count) }
    public func listNetworks(max: Int32) async throws -> [String] {
        Array(names(active: true).prefix(Int(Swift.max(0, max))))
    }
    public func numOfDefinedNetworks() async throws -> Int32 { Int32(names(active: false).count) }
    public func listDefinedNetworks(max: Int32) async throws -> [String] {
        Array(names(active: false).prefix(Int(Swift.max(0, max))))
    }

    public func listAllNetworks(flags: UInt32) async throws -> [NetworkRef] {
        try Self.checkFlags(flags, allowed: 0x3F, "networkConnectListAllNetworks")
        let f = NetworkListFlags(rawValue: flags)
        return objects.withLock { l in
            l.filter { f.matches(active: $0.active, persistent: $0.persistent, autostart: $0.autostart) }
                .map(\.ref).sorted { $0.name < $1.name }
        }
    }

    public func lookupNetwork(uuid: VirtUUID) async throws -> NetworkRef {
        try modify { l throws(VirtError) in
            guard let o = l.first(where: { $0.def.uuid == uuid }) else {
                throw NetworkErrors.noNetwork(uuid: uuid, domain: Self.domain)
            }
            return o.ref
        }
    }

    public func lookupNetwork(name: String) async throws -> NetworkRef {
        try modify { l throws(VirtError) in
            guard let o = l.first(where: { $0.def.name == name }) else {
                throw NetworkErrors.noNetwork(name: name, domain: Self.domain)
            }
            return o.ref
        }
    }

    // MARK: Lifecycle

    public func defineNetwork(xml: String, flags: UInt32) async throws -> NetworkRef {
        try Self.checkFlags(flags, allowed: 1, flags == 0 ? "networkDefineXML" : "networkDefineXMLFlags")
        var def = try NetworkDefinition(xml: xml, options: Self.parseOptions)
        let ref = try hostLock.withLock { _ throws(VirtError) -> NetworkRef in
            try modify { l throws(VirtError) -> NetworkRef in
                try Self.validate(&def, l)
                let saved = l
                let (i, _) = try Self.assign(&l, def, live: false)
                do throws(VirtError) {
                    try writeConfig(def)
                } catch {
                    l = saved
                    throw error
                }
                return l[i].ref
            }
        }
        emit(ref, .defined)
        return ref
    }

    public func undefineNetwork(_ net: NetworkRef) async throws {
        let ref = try modify { l throws(VirtError) -> NetworkRef in
            let i = try Self.find(l, net)
            guard l[i].persistent else {
                throw VirtError.operationInvalid("can't undefine transient network", domain: Self.domain)
            }
            let name = l[i].def.name
            if unlink(configDir + "/" + name + ".xml") != 0 && errno != ENOENT {
                throw VirtError.systemError("cannot remove config file '\(configDir)/\(name).xml'", errno: errno,
                                            domain: Self.domain)
            }
            unlink(autostartDir + "/" + name + ".xml")
            let r = l[i].ref
            if l[i].active {
                l[i].persistent = false
                l[i].autostart = false
                l[i].newDef = nil
            } else {
                unlink(files(name).leases)
                l.remove(at: i)
            }
            return r
        }
        emit(ref, .undefined)
    }

    public func createNetwork(xml: String, flags: UInt32) async throws -> NetworkRef {
        try Self.checkFlags(flags, allowed: 1, flags == 0 ? "networkCreateXML" : "networkCreateXMLFlags")
        var def = try NetworkDefinition(xml: xml, options: Self.parseOptions)
        let ref = try hostLock.withLock { _ throws(VirtError) -> NetworkRef in
            let (ref, isNew, saved) = try modify { l throws(VirtError) -> (NetworkRef, Bool, [NetObject]) in
                try Self.validate(&def, l)
                def = Self.liveDefinition(def)
                let saved = l
                let (i, isNew) = try Self.assign(&l, def, live: true)
                return (l[i].ref, isNew, saved)
            }
            do throws(VirtError) {
                try startHost(def)
            } catch {
                mutate { l in l = isNew ? l.filter { $0.def.uuid != def.uuid } : saved }
                throw error
            }
            mutate { l in
                if let i = l.firstIndex(where: { $0.def.uuid == def.uuid }) { l[i].active = true }
            }
            return ref
        }
        emit(ref, .started)
        return ref
    }

    public func startNetwork(_ net: NetworkRef) async throws {
        try hostLock.withLock { _ throws(VirtError) in try startLocked(net, emit: true) }
    }

    /// Starts a defined network (the caller holds ``hostLock``, or runs before any client).
    func startLocked(_ net: NetworkRef, emit: Bool) throws(VirtError) {
        let def = try modify { l throws(VirtError) -> NetworkDefinition in
            let i = try Self.find(l, net)
            if l[i].active { throw VirtError.operationInvalid("network is already active", domain: Self.domain) }
            return l[i].def
        }
        let live = Self.liveDefinition(def)
        try startHost(live)
        let ref = mutate { l -> NetworkRef in
            let i = l.firstIndex { $0.def.uuid == def.uuid }
            if let i {
                // The persistent definition waits in newDef while the live one runs (virNetworkObjSetDefTransient).
                if l[i].persistent && l[i].newDef == nil { l[i].newDef = l[i].def }
                l[i].def = live
                l[i].active = true
            }
            return net
        }
        if emit { self.emit(ref, .started) }
    }

    public func destroyNetwork(_ net: NetworkRef) async throws {
        let ref = try hostLock.withLock { _ throws(VirtError) -> NetworkRef in
            let o = try object(net)
            guard o.active else {
                throw VirtError.operationInvalid("network '\(o.def.name)' is not active", domain: Self.domain)
            }
            teardownHost(o.def)
            unlink(stateDir + "/" + o.def.name + ".xml")
            removePortFiles(o.def.name)
            return mutate { l -> NetworkRef in
                guard let i = l.firstIndex(where: { $0.def.uuid == o.def.uuid }) else { return net }
                l[i].active = false
                l[i].ports = []
                let r = l[i].ref
                if !l[i].persistent {
                    unlink(files(o.def.name).leases)
                    l.remove(at: i)
                } else if let n = l[i].newDef {
                    l[i].def = n
                    l[i].newDef = nil
                }
                return r
            }
        }
        emit(ref, .stopped)
    }

    /// The live definition of a network being started: libvirt fills in NAT's default port range.
    static func liveDefinition(_ def: NetworkDefinition) -> NetworkDefinition {
        var d = def
        if d.forward.mode == .nat && d.forward.natPortStart == 0 && d.forward.natPortEnd == 0 {
            d.forward.natPortStart = 1024
            d.forward.natPortEnd = 65535
        }
        return d
    }

    // MARK: Host resources

    /// Brings the network up on the host (`networkStartNetworkVirtual`); on failure everything made so far is
    /// removed again. The live definition is written to the state directory.
    func startHost(_ def: NetworkDefinition) throws(VirtError) {
        let mode = def.forward.mode
        if mode == .bridge {
            // As libvirt's networkStartNetworkBridge: nothing is made or checked; a domain's tap finds out.
            try writeState(def)
            return
        }
        guard let bridge = def.bridge else {
            throw VirtError.internalError("network '\(def.name)' does not have a bridge name.", domain: Self.domain)
        }
        try NetworkHost.checkRouteCollision(def, bridge: bridge)
        try NetworkHost.createBridge(def, bridge)
        do throws(VirtError) {
            let hasIPv6 = def.ips.contains { !$0.address.isIPv4 }
            try NetworkHost.setIPv6Sysctls(bridge, enable: hasIPv6)
            for ip in def.ips { try NetworkHost.addAddress(bridge, ip) }
            try NetworkHost.setUp(bridge)
            for r in def.routes { try NetworkHost.addRoute(bridge, r) }
            if mode == .nat || mode == .route {
                if def.ips.contains(where: { $0.address.isIPv4 }) { try NetworkHost.enableIPForwarding() }
                if hasIPv6 { try NetworkHost.enableIPv6Forwarding() }
            }
            try applyFirewall(def)
            if Dnsmasq.needed(def) { try startDnsmasq(def) }
            // The network's own QoS on its bridge: hierarchical, inbound on the bridge's transmit side.
            try NetDevBandwidth.set(bridge, def.bandwidth.map { NetBandwidth($0) }, hierarchical: true, swapped: true)
            try writeState(def)
        } catch {
            teardownHost(def)
            throw error
        }
    }

    /// Removes what ``startHost(_:)`` made: dnsmasq (by its PID), the firewall table, the bridge.
    func teardownHost(_ def: NetworkDefinition) {
        stopDnsmasq(def)
        if let b = def.bridge {
            if def.bandwidth != nil && def.forward.mode.hasBridge { NetDevBandwidth.clear(b) }
            NetworkHost.runQuietly(["nft", "delete", "table", "inet", NetworkFirewall.tableName(b)])
            unlink("\(stateDir)/\(def.name).nft")
            if def.forward.mode.hasBridge { NetworkHost.deleteLink(b) }
        }
    }

    /// Loads the network's nftables table, replacing one of the same name atomically.
    func applyFirewall(_ def: NetworkDefinition) throws(VirtError) {
        guard let b = def.bridge, let rules = NetworkFirewall.ruleset(def, bridge: b) else { return }
        let table = NetworkFirewall.tableName(b)
        let text = "table inet \(table) {}\ndelete table inet \(table)\n" + rules
        let path = "\(stateDir)/\(def.name).nft"
        try Self.atomicWrite(path, text)
        try NetworkHost.run(["nft", "-f", path], "failed to apply firewall rules for network '\(def.name)'")
    }

    func dnsmasqPID(_ def: NetworkDefinition) -> pid_t? {
        let f = files(def.name)
        guard let pid = NetworkHost.readPID(f.pidFile), NetworkHost.processRuns(pid, mentioning: f.conf) else {
            return nil
        }
        return pid
    }

    func writeDnsmasqHosts(_ def: NetworkDefinition) throws(VirtError) {
        let f = files(def.name)
        // dnsmasq re-reads these after dropping its privileges.
        try Self.atomicWrite(f.hostsFile, Dnsmasq.hostsFile(def), mode: 0o644)
        try Self.atomicWrite(f.addnHosts, Dnsmasq.addnHosts(def), mode: 0o644)
    }

    func startDnsmasq(_ def: NetworkDefinition) throws(VirtError) {
        guard let bridge = def.bridge else { return }
        let f = files(def.name)
        stopDnsmasq(def)
        try writeDnsmasqHosts(def)
        try Self.atomicWrite(f.conf, try Dnsmasq.config(def, bridge: bridge, files: f), mode: 0o644)
        unlink(f.pidFile)
        // dnsmasq daemonizes once it is ready (its parent exits with the start's status); its output goes to a
        // log file of the network so that it holds none of our pipes.
        let q = { (s: String) in "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let cmd = "exec \(q(NetworkHost.tool("dnsmasq"))) \(q("--conf-file=" + f.conf)) >>\(q(f.log)) 2>&1"
        guard let r = ChildCommand.run(["/bin/sh", "-c", cmd], defaultSignals: true)?.status else {
            throw VirtError.systemError("Cannot run dnsmasq", errno: errno, domain: Self.domain)
        }
        if r != 0 {
            let log = Self.readText(f.log)?.split(separator: "\n").last.map(String.init) ?? ""
            throw VirtError.internalError("Child process (dnsmasq --conf-file=\(f.conf)) unexpected exit status \(r): \(log)",
                                          domain: Self.domain)
        }
        guard dnsmasqPID(def) != nil else {
            throw VirtError.internalError("dnsmasq for network '\(def.name)' did not write its pid file", domain: Self.domain)
        }
    }

    func stopDnsmasq(_ def: NetworkDefinition) {
        let f = files(def.name)
        if let pid = NetworkHost.readPID(f.pidFile) { NetworkHost.terminate(pid, mentioning: f.conf) }
        for p in [f.pidFile, f.conf, f.hostsFile, f.addnHosts] { unlink(p) }
    }

    // MARK: Information

    public func networkXML(_ net: NetworkRef, flags: UInt32) async throws -> String {
        try Self.checkFlags(flags, allowed: 1, "networkGetXMLDesc")
        let o = try object(net)
        // VIR_NETWORK_XML_INACTIVE: the persistent definition.
        if flags & 1 != 0 { return o.persistentDef.xml(inactive: true) }
        var live = o.def
        // libvirt's `connections`: the network's ports.
        if o.active { live.connections = Int32(o.ports.count) }
        return live.xml()
    }

    public func networkBridgeName(_ net: NetworkRef) async throws -> String {
        let def = try object(net).def
        guard let b = def.bridge else {
            throw VirtError.internalError("network '\(def.name)' does not have a bridge name.", domain: Self.domain)
        }
        return b
    }

    public func networkAutostart(_ net: NetworkRef) async throws -> Bool { try object(net).autostart }

    public func setNetworkAutostart(_ net: NetworkRef, _ enabled: Bool) async throws {
        try modify { l throws(VirtError) in
            let i = try Self.find(l, net)
            guard l[i].persistent else {
                throw VirtError.operationInvalid("cannot set autostart for transient network", domain: Self.domain)
            }
            let link = autostartDir + "/" + l[i].def.name + ".xml"
            if enabled {
                if l[i].autostart { return }
                if symlink(configDir + "/" + l[i].def.name + ".xml", link) != 0 && errno != EEXIST {
                    throw VirtError.systemError("Failed to create symlink '\(link)' to '\(configDir)/\(l[i].def.name).xml'",
                                                errno: errno, domain: Self.domain)
                }
            } else if unlink(link) != 0 && errno != ENOENT {
                throw VirtError.systemError("Failed to delete symlink '\(link)'", errno: errno, domain: Self.domain)
            }
            l[i].autostart = enabled
        }
    }

    public func networkIsActive(_ net: NetworkRef) async throws -> Bool { try object(net).active }
    public func networkIsPersistent(_ net: NetworkRef) async throws -> Bool { try object(net).persistent }

    /// `networkUpdate`: "current" is live when running, else config. A live change of the DHCP hosts rewrites
    /// dnsmasq's hosts file and tells dnsmasq to re-read it (SIGHUP); other live sections restart dnsmasq.
    public func updateNetwork(_ net: NetworkRef, command: UInt32, section: UInt32, parentIndex: Int32, xml: String,
                              flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 3, "networkUpdate")
        try hostLock.withLock { _ throws(VirtError) in
            let o = try object(net)
            var f = NetworkUpdateFlags(rawValue: flags)
            if f.isDisjoint(with: [.live, .config]) { f.insert(o.active ? .live : .config) }
            if !o.active && f.contains(.live) {
                throw VirtError.operationInvalid("network is not running", domain: Self.domain)
            }
            if f.contains(.config) && !o.persistent {
                throw VirtError.operationInvalid("cannot change persistent config of a transient network", domain: Self.domain)
            }
            var live: NetworkDefinition?
            var config: NetworkDefinition?
            if f.contains(.live) {
                var d = o.def
                try d.update(command: command, section: section, parentIndex: parentIndex, xml: xml)
                live = d
            }
            if f.contains(.config) {
                var d = o.persistentDef
                try d.update(command: command, section: section, parentIndex: parentIndex, xml: xml)
                config = d
            }
            if let config { try writeConfig(config) }
            if let live {
                let sec = NetworkUpdateSection(rawValue: section)
                if Dnsmasq.needed(live) {
                    if sec == .ipDHCPHost || sec == .dnsHost, let pid = dnsmasqPID(live) {
                        try writeDnsmasqHosts(live)
                        kill(pid, SIGHUP)
                    } else if [.ipDHCPRange, .dnsTxt, .dnsSrv, .ipDHCPHost, .dnsHost].contains(sec) {
                        try startDnsmasq(live)
                    }
                }
                try writeState(live)
            }
            mutate { l in
                guard let i = l.firstIndex(where: { $0.def.uuid == o.def.uuid }) else { return }
                if let config {
                    if l[i].active { l[i].newDef = config } else { l[i].def = config }
                }
                if let live { l[i].def = live }
            }
        }
    }

    public func networkDHCPLeases(_ net: NetworkRef, mac: String?, flags: UInt32) async throws -> [NetworkDHCPLeaseRecord] {
        try Self.checkFlags(flags, allowed: 0, "networkGetDHCPLeases")
        let o = try object(net)
        guard o.active, let bridge = o.def.bridge else { return [] }
        let now = Int64(time(nil))
        let text = Self.readText(files(o.def.name).leases) ?? ""
        return Dnsmasq.leases(text, bridge: bridge, def: o.def, mac: mac).filter { $0.expiryTime == 0 || $0.expiryTime > now }
    }

    public func networkEvents() -> AsyncStream<NetworkEventRecord> { bus.subscribe() }

    /// Stops every running network (tests; a daemon leaves them running, as libvirtd does).
    public func destroyAll() async {
        for r in (try? await listAllNetworks(flags: NetworkListFlags.active.rawValue)) ?? [] {
            try? await destroyNetwork(r)
        }
    }
}
