import CSpawn
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// libvirt's generated tap names (`virNetDevGenerateName`): vnetN from a counter of the daemon that only goes
/// up, skipping names the host already has.
enum TapNames {
    private static let next = Mutex(0)

    static func generate() -> String {
        next.withLock { n in
            while true {
                let name = "vnet\(n)"
                n = n >= 65535 ? 0 : n + 1
                if access("/sys/class/net/\(name)", F_OK) != 0 { return name }
            }
        }
    }
}

extension QEMUDomainObject {
    /// For every interface of type network or bridge: a tap device (vnetN unless `<target dev>` names one),
    /// its MAC the guest's with the first byte 0xFE (0xFA when the guest's is 0xFE), the bridge's MTU, enslaved
    /// to the bridge and up; the live definition names it (`<target dev>`, and for a network the bridge).
    /// Returns the descriptor numbers QEMU gets, by interface index; the host descriptors wait in
    /// ``tapHostFDs`` for the launch.
    func createTaps(_ def: inout DomainDefinition, firstFD: Int32) throws(VirtError) -> [Int: [Int32]] {
        var numbers: [Int: [Int32]] = [:]
        for i in def.devices.interfaces.indices {
            let n = def.devices.interfaces[i]
            guard n.type == .network || n.type == .bridge || n.type == .ethernet || n.type == .direct else { continue }
            let tap: (name: String, fd: Int32, bridge: String?)
            do throws(VirtError) {
                if n.type == .direct {
                    let m = try createMacvtap(n)
                    tap = (m.name, m.fd, nil)
                } else {
                    tap = try createTap(n)
                }
            } catch {
                // The failed start's qemuProcessStop: virDomainClearNetBandwidth over every interface with a host
                // device name by then (the taps made, the failing one, and later ones named in the definition).
                var named = def.devices.interfaces
                if let t = failedTapName { named[i].targetDev = t }
                clearNetBandwidth(named)
                failedTapName = nil
                throw error
            }
            tapHostFDs.append(tap.fd)
            numbers[i] = [firstFD + Int32(tapHostFDs.count - 1)]
            def.devices.interfaces[i].targetDev = tap.name
            if n.type == .network, let b = tap.bridge {
                if let p = pendingPortIDs[i] { def.devices.interfaces[i].source["portid"] = p.description }
                def.devices.interfaces[i].source["bridge"] = b
            }
        }
        return numbers
    }

    /// One interface's tap device (see ``createTaps(_:firstFD:)``), recorded in ``tapDevices``; the caller owns
    /// the returned descriptor.
    func createTap(_ n: NetInterface) throws(VirtError) -> (name: String, fd: Int32, bridge: String?) {
        var bridge: String?
        if n.type == .network {
            guard let net = n.network, let b = resolvedNetworkBridges[net] else {
                throw VirtError.internalError("network '\(n.network ?? "")' has no bridge for this domain",
                                              domain: .qemu)
            }
            bridge = b
        } else if n.type == .bridge {
            bridge = n.bridge
        }
        let name = n.targetDev.flatMap { $0.isEmpty || $0.contains("%d") ? nil : $0 } ?? TapNames.generate()
        if n.type == .bridge, n.mtu == nil, let b = bridge, access("/sys/class/net/\(b)", F_OK) != 0 {
            // libvirt reads the bridge's MTU first (virNetDevSetMTUFromDevice).
            throw VirtError.systemError("Cannot get interface MTU on '\(b)'", errno: ENODEV, domain: .qemu)
        }
        if let b = bridge, access("/sys/class/net/\(b)", F_OK) != 0 {
            throw VirtError.systemError("Unable to add bridge \(b) port \(name)", errno: ENODEV, domain: .qemu)
        }
        let fd = swiftvirt_tap_open(name)
        if fd < 0 {
            throw VirtError.systemError("Unable to create tap device \(name)", errno: errno, domain: .qemu)
        }
        tapDevices.append(name)
        var mac = n.mac
        mac.bytes[0] = mac.bytes[0] == 0xFE ? 0xFA : 0xFE
        var argv = ["/usr/sbin/ip", "link", "set", "dev", name, "address", mac.description]
        if let mtu = n.mtu {
            argv += ["mtu", String(mtu)]
        } else if let b = bridge, let text = LinuxSys.readFile("/sys/class/net/\(b)/mtu"),
                  let mtu = Int(text.filter { $0.isNumber }) {
            argv += ["mtu", String(mtu)]
        }
        if let b = bridge { argv += ["master", b] }
        if n.linkUp != false { argv += ["up"] }
        if access(argv[0], X_OK) != 0 { argv[0] = "/sbin/ip" }
        let r = ChildCommand.run(argv)
        guard let r, r.status == 0 else {
            close(fd)
            removeTap(name)
            let msg = r?.stderr ?? ""
            throw VirtError.internalError(
                "Unable to add bridge \(bridge ?? "") port \(name): \(msg.split(separator: "\n").first.map(String.init) ?? "")",
                domain: .qemu)
        }
        // libvirt's qemuInterfaceBridgeConnect/EthernetConnect: a noqueue root qdisc on every tap it makes;
        // then qemuBuildInterfaceConnect shapes it with the interface's <bandwidth> (a tap's transmit side
        // carries what the guest receives: swapped).
        NetDevBandwidth.setNoQueue(name)
        do throws(VirtError) {
            try NetDevBandwidth.set(name, actualBandwidth(n), hierarchical: false, swapped: true)
        } catch {
            close(fd)
            failedTapName = name
            removeTap(name)
            throw error
        }
        return (name, fd, bridge)
    }

    /// Deletes one tap device of this domain (a hot-unplugged NIC's, or one whose attach failed).
    func removeTap(_ name: String) {
        tapDevices.removeAll { $0 == name }
        guard access("/sys/class/net/\(name)", F_OK) == 0 else { return }
        var ip = "/usr/sbin/ip"
        if access(ip, X_OK) != 0 { ip = "/sbin/ip" }
        _ = ChildCommand.run([ip, "link", "del", "dev", name])
    }

    /// Closes the daemon's copies of the tap descriptors (QEMU holds them now, or the start failed).
    func closeTapFDs() {
        for fd in tapHostFDs { close(fd) }
        tapHostFDs = []
        for fd in fdSetHostFDs { close(fd) }
        fdSetHostFDs = []
    }

    /// Removes the tap devices of the QEMU that ran (they also go when their last descriptor closes).
    func removeTaps() {
        closeTapFDs()
        for name in tapDevices where access("/sys/class/net/\(name)", F_OK) == 0 {
            var ip = "/usr/sbin/ip"
            if access(ip, X_OK) != 0 { ip = "/sbin/ip" }
            _ = ChildCommand.run([ip, "link", "del", "dev", name])
        }
        tapDevices = []
    }
}

extension QEMUDomainObject {
    /// The interfaces of the running domain's live definition (`virDomainInterfaceAddresses` needs it running).
    func runningInterfaces() throws(VirtError) -> [NetInterface] {
        guard isActive, let live = liveDefinition else {
            throw VirtError.operationInvalid("domain is not running", domain: .domain)
        }
        return live.devices.interfaces
    }
}

extension QEMUDriver {
    /// `virDomainInterfaceAddresses` with the lease source: the DHCP leases the network driver has for each
    /// `<interface type='network'>`'s MAC address (libvirt's `qemuGetDHCPInterfaces`).
    func leaseAddresses(_ domain: DomainRef) async throws -> [DomainInterface] {
        let obj = try await state.object(domain)
        let ifaces = try await obj.runningInterfaces()
        var out: [DomainInterface] = []
        for n in ifaces where n.type == .network {
            guard let name = n.network else { continue }
            guard let networks = await state.networkDriver else {
                throw VirtError(.noSupport, domain: .qemu,
                                "this function is not supported by the connection driver: virNetworkLookupByName")
            }
            let net = try await networks.lookupNetwork(name: name)
            let leases = try await networks.networkDHCPLeases(net, mac: n.mac.description, flags: 0)
            if leases.isEmpty { continue }
            out.append(DomainInterface(
                name: n.targetDev ?? "", hwaddr: n.mac.description,
                addrs: leases.map { DomainIPAddress(type: $0.type, addr: $0.ipaddr, prefix: $0.prefix) }))
        }
        return out
    }
}
