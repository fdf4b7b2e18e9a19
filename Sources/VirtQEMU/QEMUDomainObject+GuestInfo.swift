import Foundation
import VirtCore

/// The guest agent's information and control commands (libvirt's qemuDomainInterfaceAddresses with the agent
/// source, qemuDomainGetTime/SetTime, qemuDomainFSFreeze/FSThaw, qemuDomainGetFSInfo, qemuDomainGetGuestInfo,
/// qemuDomainSetUserPassword, qemuDomainQemuAgentCommand): each a command of the guest's qemu-ga, its reply
/// turned into libvirt's structures and parameter names.
extension QEMUDomainObject {
    /// "Block" (libvirt's default agent timeout, VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_BLOCK): the command waits until
    /// the agent answers or goes away (the guest shuts down, the domain stops); the handshake before it still
    /// gives up after its own 5 s, so an agent that is not there fails at once.
    static let agentBlockTimeout: Duration = .seconds(86400 * 365)

    private func agentRun(_ command: String, _ arguments: JSONValue? = nil) async throws(VirtError) -> JSONValue {
        let agent = try requireAgent()
        return try await agent.execute(command, arguments: arguments, timeout: agentTimeout)
    }

    /// How long an agent command waits for the reply, from virDomainAgentSetResponseTimeout's value.
    var agentTimeout: Duration {
        switch agentResponseTimeout {
        case -2: Self.agentBlockTimeout
        case -1: .seconds(5)
        case 0: .milliseconds(1)
        default: .seconds(Int64(agentResponseTimeout))
        }
    }

    // MARK: Interfaces

    /// `guest-network-get-interfaces` as libvirt reads it: the part of a name before ':' names the interface
    /// (an alias such as eth0:1 adds its addresses to eth0); addresses other than IPv4/IPv6 are an error.
    static func parseInterfaces(_ reply: JSONValue) throws(VirtError) -> [DomainInterface] {
        guard let list = reply.arrayValue else {
            throw VirtError.internalError("qemu agent didn't return an array of interfaces", domain: .qemu)
        }
        var out: [DomainInterface] = []
        for entry in list {
            guard let full = entry["name"]?.stringValue else {
                throw VirtError.internalError("qemu agent didn't provide 'name' field", domain: .qemu)
            }
            let name = String(full.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            var iface: DomainInterface
            let index = out.firstIndex { $0.name == name }
            if let index { iface = out[index] } else {
                iface = DomainInterface(name: name, hwaddr: entry["hardware-address"]?.stringValue, addrs: [])
            }
            for a in entry["ip-addresses"]?.arrayValue ?? [] {
                let typeName = a["ip-address-type"]?.stringValue ?? ""
                let type: Int32
                switch typeName {
                case "ipv4": type = 0
                case "ipv6": type = 1
                default:
                    throw VirtError.internalError("unknown ip address type '\(typeName)'", domain: .qemu)
                }
                guard let addr = a["ip-address"]?.stringValue else {
                    throw VirtError.internalError("qemu agent didn't provide 'ip-address' field", domain: .qemu)
                }
                guard let prefix = a["prefix"]?.intValue else {
                    throw VirtError.internalError("malformed 'prefix' field", domain: .qemu)
                }
                iface.addrs.append(DomainIPAddress(type: type, addr: addr, prefix: UInt32(clamping: prefix)))
            }
            if let index { out[index] = iface } else { out.append(iface) }
        }
        return out
    }

    func interfaceAddresses(source: UInt32) async throws(VirtError) -> [DomainInterface] {
        guard isActive else { throw VirtError.operationInvalid("domain is not running", domain: .domain) }
        switch source {
        case InterfaceAddressSource.agent:
            return try Self.parseInterfaces(try await agentRun("guest-network-get-interfaces"))
        case InterfaceAddressSource.arp:
            return Self.arpInterfaces(liveDefinition ?? definition, table: try NeighbourTable.read())
        default:
            throw VirtError(.argumentUnsupported, domain: .qemu,
                            "argument unsupported: Unknown IP address data source \(source)")
        }
    }

    /// libvirt's ARP source (qemuARPGetInterfaces): for each NIC of the live definition, in order, one interface
    /// per entry of the host's neighbour table with the NIC's MAC address (so a NIC with two addresses is listed
    /// twice), named by its host-side device, with that IPv4 address and prefix 0. Only the entries libvirt's
    /// table keeps count (IPv4, REACHABLE or STALE; see `NeighbourEntry`).
    static func arpInterfaces(_ def: DomainDefinition, table: [NeighbourEntry]) -> [DomainInterface] {
        let entries = table.compactMap(\.arpEntry)
        var out: [DomainInterface] = []
        for net in def.devices.interfaces {
            let mac = net.mac.description.lowercased()
            for e in entries where e.mac == mac {
                out.append(DomainInterface(name: net.targetDev ?? "", hwaddr: mac,
                                           addrs: [DomainIPAddress(type: 0, addr: e.ip, prefix: 0)]))
            }
        }
        return out
    }

    // MARK: Time

    func guestTime() async throws(VirtError) -> (seconds: Int64, nseconds: UInt32) {
        let r = try await agentRun("guest-get-time")
        guard let ns = r.intValue else {
            throw VirtError.internalError("malformed return value", domain: .qemu)
        }
        return (ns / 1_000_000_000, UInt32(ns % 1_000_000_000))
    }

    /// libvirt's qemuDomainSetTime: the agent sets the clock (or, with SYNC, reads the RTC into it), then
    /// QEMU's RTC interrupt reinjection is reset (x86).
    func setGuestTime(seconds: Int64, nseconds: UInt32, sync: Bool) async throws(VirtError) {
        // libvirt asks the QEMU capabilities of the running process first: a shut-off x86 domain has none.
        let arch = (liveDefinition ?? definition).os.arch ?? "x86_64"
        if !isActive, ["x86_64", "i686"].contains(arch) {
            throw VirtError.operationUnsupported("cannot set time: qemu doesn't support rtc-reset-reinjection command")
        }
        var args: JSONValue?
        if !sync {
            if seconds > Int64.max / 1_000_000_000 {
                throw VirtError.invalidArg("Time '\(seconds)' is too big for guest agent", domain: .qemu)
            }
            args = .object(["time": .int(seconds * 1_000_000_000 + Int64(nseconds))])
        }
        _ = try await agentRun("guest-set-time", args)
        if let m = monitor, isActive {
            _ = try await m.execute("rtc-reset-reinjection")
        }
    }

    // MARK: File systems

    func fsFreeze(mountpoints: [String]) async throws(VirtError) -> Int32 {
        let r: JSONValue
        if mountpoints.isEmpty {
            r = try await agentRun("guest-fsfreeze-freeze")
        } else {
            r = try await agentRun("guest-fsfreeze-freeze-list",
                                   .object(["mountpoints": .array(mountpoints.map { .string($0) })]))
        }
        guard let n = r.intValue else { throw VirtError.internalError("malformed return value", domain: .qemu) }
        return Int32(clamping: n)
    }

    func fsThaw() async throws(VirtError) -> Int32 {
        let r = try await agentRun("guest-fsfreeze-thaw")
        guard let n = r.intValue else { throw VirtError.internalError("malformed return value", domain: .qemu) }
        return Int32(clamping: n)
    }

    /// One disk of an agent file system or disk entry.
    struct AgentDisk {
        var busType: String
        var pci: PCIAddress?
        var bus: UInt32
        var target: UInt32
        var unit: UInt32
        var serial: String?
        var device: String?

        init(_ j: JSONValue) {
            busType = j["bus-type"]?.stringValue ?? ""
            if let p = j["pci-controller"] {
                pci = PCIAddress(domain: UInt32(clamping: p["domain"]?.intValue ?? 0),
                                 bus: UInt32(clamping: p["bus"]?.intValue ?? 0),
                                 slot: UInt32(clamping: p["slot"]?.intValue ?? 0),
                                 function: UInt32(clamping: p["function"]?.intValue ?? 0))
            }
            bus = UInt32(clamping: j["bus"]?.intValue ?? 0)
            target = UInt32(clamping: j["target"]?.intValue ?? 0)
            unit = UInt32(clamping: j["unit"]?.intValue ?? 0)
            serial = j["serial"]?.stringValue
            device = j["dev"]?.stringValue
        }
    }

    /// The domain disk an agent disk is (libvirt's virDomainDiskByAddress): a virtio disk by its PCI address,
    /// a disk on an IDE/SCSI/SATA controller by its drive address; else by serial number.
    static func domainDisk(_ d: AgentDisk, in def: DomainDefinition) -> Disk? {
        for disk in def.devices.disks {
            switch disk.info.address {
            case .pci(let a)?:
                if let p = d.pci, disk.target.bus == .virtio, a.domain == p.domain, a.bus == p.bus,
                   a.slot == p.slot, a.function == p.function { return disk }
            case .drive(let a)?:
                if ["ide", "scsi", "sata"].contains(d.busType), disk.target.bus?.rawValue == d.busType,
                   a.bus == d.bus, a.target == d.target, a.unit == d.unit { return disk }
            default:
                break
            }
        }
        if let serial = d.serial { return def.devices.disks.first { $0.serial == serial } }
        return nil
    }

    /// `guest-get-fsinfo`, in mount order (libvirt reverses the agent's list).
    private func agentFilesystems() async throws(VirtError) -> [JSONValue] {
        let r = try await agentRun("guest-get-fsinfo")
        guard let list = r.arrayValue else {
            throw VirtError.internalError("Malformed guest-get-fsinfo data array", domain: .qemu)
        }
        return list.reversed()
    }

    func fsInfo() async throws(VirtError) -> [DomainFSInfo] {
        let list = try await agentFilesystems()
        let def = liveDefinition ?? definition
        return list.map { fs in
            let aliases = (fs["disk"]?.arrayValue ?? []).compactMap { Self.domainDisk(AgentDisk($0), in: def)?.target.dev }
            return DomainFSInfo(mountpoint: fs["mountpoint"]?.stringValue ?? "", name: fs["name"]?.stringValue ?? "",
                                fstype: fs["type"]?.stringValue ?? "", devAliases: aliases)
        }
    }

    // MARK: Guest information

    /// An agent error that means the guest's agent lacks the command (skipped when all groups are asked for).
    private static func isUnsupported(_ e: VirtError) -> Bool {
        e.message.contains("has not been found") || e.message.contains("has been disabled")
            || e.message.contains("not supported")
    }

    func guestInfo(types: UInt32) async throws(VirtError) -> [TypedParam] {
        _ = try requireAgent()
        let all = types == 0
        let want = all ? GuestInfoTypes.all : types
        var out: [TypedParam] = []
        func group(_ bit: UInt32, _ body: () async throws(VirtError) -> Void) async throws(VirtError) {
            guard want & bit != 0 else { return }
            do {
                try await body()
            } catch {
                if !(all && Self.isUnsupported(error)) { throw error }
            }
        }
        try await group(GuestInfoTypes.users) { () throws(VirtError) in
            let users = try await agentRun("guest-get-users").arrayValue ?? []
            out.append(TypedParam("user.count", .uint(UInt32(users.count))))
            for (i, u) in users.enumerated() {
                if let v = u["user"]?.stringValue { out.append(TypedParam("user.\(i).name", .string(v))) }
                if let v = u["domain"]?.stringValue { out.append(TypedParam("user.\(i).domain", .string(v))) }
                if let v = u["login-time"]?.doubleValue {
                    out.append(TypedParam("user.\(i).login-time", .ullong(UInt64(max(0, v * 1000)))))
                }
            }
        }
        try await group(GuestInfoTypes.os) { () throws(VirtError) in
            let os = try await agentRun("guest-get-osinfo")
            for key in ["id", "name", "pretty-name", "version", "version-id", "machine", "variant", "variant-id",
                        "kernel-release", "kernel-version"] {
                if let v = os[key]?.stringValue { out.append(TypedParam("os." + key, .string(v))) }
            }
        }
        try await group(GuestInfoTypes.timezone) { () throws(VirtError) in
            let tz = try await agentRun("guest-get-timezone")
            if let v = tz["zone"]?.stringValue { out.append(TypedParam("timezone.name", .string(v))) }
            if let v = tz["offset"]?.intValue { out.append(TypedParam("timezone.offset", .int(Int32(clamping: v)))) }
        }
        try await group(GuestInfoTypes.hostname) { () throws(VirtError) in
            let h = try await agentRun("guest-get-host-name")
            if let v = h["host-name"]?.stringValue { out.append(TypedParam("hostname", .string(v))) }
        }
        let def = liveDefinition ?? definition
        try await group(GuestInfoTypes.filesystem) { () throws(VirtError) in
            let list = try await agentFilesystems()
            out.append(TypedParam("fs.count", .uint(UInt32(list.count))))
            for (i, fs) in list.enumerated() {
                let p = "fs.\(i)."
                if let v = fs["name"]?.stringValue { out.append(TypedParam(p + "name", .string(v))) }
                if let v = fs["mountpoint"]?.stringValue { out.append(TypedParam(p + "mountpoint", .string(v))) }
                if let v = fs["type"]?.stringValue { out.append(TypedParam(p + "fstype", .string(v))) }
                if let v = fs["total-bytes"]?.intValue {
                    out.append(TypedParam(p + "total-bytes", .ullong(UInt64(clamping: v))))
                }
                if let v = fs["used-bytes"]?.intValue {
                    out.append(TypedParam(p + "used-bytes", .ullong(UInt64(clamping: v))))
                }
                let disks = fs["disk"]?.arrayValue ?? []
                out.append(TypedParam(p + "disk.count", .uint(UInt32(disks.count))))
                for (j, dj) in disks.enumerated() {
                    let d = AgentDisk(dj)
                    let q = p + "disk.\(j)."
                    if let disk = Self.domainDisk(d, in: def) { out.append(TypedParam(q + "alias", .string(disk.target.dev))) }
                    if let v = d.serial { out.append(TypedParam(q + "serial", .string(v))) }
                    if let v = d.device { out.append(TypedParam(q + "device", .string(v))) }
                }
            }
        }
        try await group(GuestInfoTypes.disks) { () throws(VirtError) in
            let list = try await agentRun("guest-get-disks").arrayValue ?? []
            out.append(TypedParam("disk.count", .uint(UInt32(list.count))))
            for (i, d) in list.enumerated() {
                let p = "disk.\(i)."
                if let v = d["name"]?.stringValue { out.append(TypedParam(p + "name", .string(v))) }
                out.append(TypedParam(p + "partition", .boolean(d["partition"]?.boolValue ?? false)))
                let deps = (d["dependencies"]?.arrayValue ?? []).compactMap(\.stringValue)
                if !deps.isEmpty {
                    out.append(TypedParam(p + "dependency.count", .uint(UInt32(deps.count))))
                    for (j, dep) in deps.enumerated() {
                        out.append(TypedParam(p + "dependency.\(j).name", .string(dep)))
                    }
                }
                if let a = d["address"] {
                    let ad = AgentDisk(a)
                    if let v = ad.serial { out.append(TypedParam(p + "serial", .string(v))) }
                    if let disk = Self.domainDisk(ad, in: def) {
                        out.append(TypedParam(p + "alias", .string(disk.target.dev)))
                    }
                }
                if let v = d["alias"]?.stringValue { out.append(TypedParam(p + "guest-alias", .string(v))) }
            }
        }
        try await group(GuestInfoTypes.interfaces) { () throws(VirtError) in
            let ifaces = try Self.parseInterfaces(try await agentRun("guest-network-get-interfaces"))
            out.append(TypedParam("if.count", .uint(UInt32(ifaces.count))))
            for (i, iface) in ifaces.enumerated() {
                let p = "if.\(i)."
                out.append(TypedParam(p + "name", .string(iface.name)))
                if let v = iface.hwaddr { out.append(TypedParam(p + "hwaddr", .string(v))) }
                out.append(TypedParam(p + "addr.count", .uint(UInt32(iface.addrs.count))))
                for (j, a) in iface.addrs.enumerated() {
                    let q = p + "addr.\(j)."
                    out.append(TypedParam(q + "type", .string(a.type == 0 ? "ipv4" : "ipv6")))
                    out.append(TypedParam(q + "addr", .string(a.addr)))
                    out.append(TypedParam(q + "prefix", .uint(a.prefix)))
                }
            }
        }
        return out
    }

    // MARK: Passwords and passthrough

    func setUserPassword(user: String, password: String, encrypted: Bool) async throws(VirtError) {
        let b64 = Data(password.utf8).base64EncodedString()
        _ = try await agentRun("guest-set-user-password", .object([
            "crypted": .bool(encrypted), "username": .string(user), "password": .string(b64),
        ]))
    }

    /// `guest-fstrim` (the agent's per-path results are not libvirt's concern).
    func fsTrim(minimum: UInt64) async throws(VirtError) {
        let agent = try requireAgent()
        _ = try await agent.execute("guest-fstrim", arguments: .object(["minimum": .int(Int64(clamping: minimum))]),
                                    timeout: .seconds(86400))
    }

    /// `guest-ssh-get-authorized-keys`.
    func authorizedSSHKeys(user: String) async throws(VirtError) -> [String] {
        let r = try await agentRun("guest-ssh-get-authorized-keys", .object(["username": .string(user)]))
        guard let keys = r["keys"]?.arrayValue else {
            throw VirtError.internalError("qemu agent didn't return an array of keys", domain: .qemu)
        }
        return keys.compactMap(\.stringValue)
    }

    /// `guest-ssh-remove-authorized-keys`, or `guest-ssh-add-authorized-keys` (replacing them unless `append`).
    func setAuthorizedSSHKeys(user: String, keys: [String], append: Bool, remove: Bool) async throws(VirtError) {
        let list = JSONValue.array(keys.map { .string($0) })
        if remove {
            _ = try await agentRun("guest-ssh-remove-authorized-keys",
                                   .object(["username": .string(user), "keys": list]))
        } else {
            _ = try await agentRun("guest-ssh-add-authorized-keys",
                                   .object(["username": .string(user), "keys": list, "reset": .bool(!append)]))
        }
    }

    /// `timeout`: -2 blocks, -1 takes libvirt's default (5 s), 0 does not wait (libvirt's NOWAIT, `--async`),
    /// else seconds.
    func agentCommand(_ json: String, timeout: Int32) async throws(VirtError) -> String {
        let agent = try requireAgent()
        if timeout < -2 {
            throw VirtError(.invalidArg, domain: .qemu,
                            "invalid argument: guest agent timeout '\(timeout)' is less than the minimum '-2'",
                            str1: "guest agent timeout '\(timeout)' is less than the minimum '-2'")
        }
        let wait: Duration? = switch timeout {
        case -2: nil
        case 0: .zero
        case ...0: .seconds(5)
        default: .seconds(Int64(timeout))
        }
        return try await agent.executeRaw(json, timeout: wait)
    }
}
