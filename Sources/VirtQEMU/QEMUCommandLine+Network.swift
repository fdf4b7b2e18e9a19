import VirtCore

extension QEMUCommandLine {
    /// `-netdev` and the NIC `-device` of every interface (`hostnetN` / `netN`).
    func networkArguments(into a: inout [String], bootIndexes: [String: UInt32]) throws(VirtError) {
        for (i, n) in definition.devices.interfaces.enumerated() {
            let alias = n.info.alias ?? "net\(i)"
            let hostnet = "host" + alias
            var nd = QEMUJSONProps()
            let tap = nativeConversion || [.ethernet, .bridge, .network, .direct].contains(n.type)
            if tap {
                nd.add("type", "tap")
                if nativeConversion {
                    nd.add("fd", String(4 + i))
                } else if let fds = tapFDs[i], !fds.isEmpty {
                    if fds.count == 1 { nd.add("fd", String(fds[0])) } else {
                        nd.add("fds", fds.map(String.init).joined(separator: ":"))
                    }
                } else {
                    throw VirtError.configUnsupported(
                        "interface type '\(n.type.rawValue)' needs a tap device the driver has not opened", domain: .qemu)
                }
            } else {
                switch n.type {
                case .user:
                    nd.add("type", "user")
                case .server, .client, .mcast, .udp:
                    nd.add("type", "socket")
                    let addr = n.source["address"] ?? (n.type == .server ? "" : "127.0.0.1")
                    let port = n.source["port"] ?? "0"
                    let key: String = switch n.type {
                    case .server: "listen"
                    case .client: "connect"
                    case .mcast: "mcast"
                    default: "udp"
                    }
                    nd.add(key, "\(addr):\(port)")
                    if n.type == .udp, let local = n.sourceChildren.first(where: { $0.name == "local" }) {
                        nd.add("localaddr", "\(local.attr("address") ?? ""):\(local.attr("port") ?? "0")")
                    }
                default:
                    throw VirtError.configUnsupported(
                        "interface type '\(n.type.rawValue)' is not supported by this driver yet", domain: .qemu)
                }
            }
            nd.add("id", hostnet)
            a += ["-netdev", nd.rendered]
            var dev = QEMUJSONProps()
            dev.add("driver", nicDriver(n.model))
            dev.add("netdev", hostnet)
            dev.add("id", alias)
            dev.add("mac", n.mac.description)
            // domxml-to-native rebuilds interfaces without their own <boot order> (one from <os><boot> stays).
            if !(nativeConversion && n.info.bootOrder != nil) {
                dev.add("bootindex", int: bootIndexes["net\(i)"].map(Int64.init))
            }
            address(n.info, &dev)
            a += ["-device", dev.rendered]
        }
    }

    func nicDriver(_ model: String?) -> String {
        switch model {
        case "virtio"?: "virtio-net-pci"
        case "virtio-transitional"?: "virtio-net-pci-transitional"
        case "virtio-non-transitional"?: "virtio-net-pci-non-transitional"
        case let m?: m
        case nil: "rtl8139"
        }
    }
}
