import Foundation
import Testing
import VirtCore
@testable import VirtQEMU

/// How the agent's replies become libvirt's structures: interface aliases merged into their interface, address
/// types, and the agent's disks matched to the domain's by PCI or drive address, then serial. (The whole path
/// against the real qemu-ga and libvirtd 9.0 is QEMUGuestAgentProofTests.)
@Suite("guest agent replies: interfaces and disks")
struct QEMUGuestInfoParsingTests {
    @Test("an alias (eth0:1) adds its addresses to eth0; lo keeps its own; no address list is an empty one")
    func interfaces() throws {
        let reply = try JSONValue.parse("""
        [{"name": "lo", "hardware-address": "00:00:00:00:00:00",
          "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}]},
         {"name": "eth0", "hardware-address": "52:54:00:00:00:01",
          "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "10.0.2.15", "prefix": 24}]},
         {"name": "eth0:1", "ip-addresses": [{"ip-address-type": "ipv6", "ip-address": "fe80::1", "prefix": 64}]},
         {"name": "dummy0"}]
        """)
        let ifaces = try QEMUDomainObject.parseInterfaces(reply)
        #expect(ifaces == [
            DomainInterface(name: "lo", hwaddr: "00:00:00:00:00:00", addrs: [DomainIPAddress(type: 0, addr: "127.0.0.1", prefix: 8)]),
            DomainInterface(name: "eth0", hwaddr: "52:54:00:00:00:01", addrs: [
                DomainIPAddress(type: 0, addr: "10.0.2.15", prefix: 24), DomainIPAddress(type: 1, addr: "fe80::1", prefix: 64),
            ]),
            DomainInterface(name: "dummy0", hwaddr: nil, addrs: []),
        ])
    }

    @Test("an address type other than ipv4/ipv6 is libvirt's internal error")
    func unknownType() throws {
        let reply = try JSONValue.parse(#"[{"name": "x", "ip-addresses": [{"ip-address-type": "ipx", "ip-address": "1", "prefix": 1}]}]"#)
        #expect(throws: VirtError.internalError("unknown ip address type 'ipx'", domain: .qemu)) {
            try QEMUDomainObject.parseInterfaces(reply)
        }
    }

    /// A neighbour dump as the kernel sends it (RTM_NEWNEIGH messages, then NLMSG_DONE in the same buffer, as
    /// Linux 6.x coalesces it), from a table written as `ip neigh` prints it: ADDRESS dev DEV [lladdr MAC] STATE.
    static func neighbourDump(_ table: String, ifindex: [String: Int32]) -> [UInt8] {
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
        func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        func attr(_ type: Int, _ data: [UInt8]) -> [UInt8] {
            let a = le16(4 + data.count) + le16(type) + data
            return a + [UInt8](repeating: 0, count: (4 - a.count % 4) % 4)
        }
        let states: [String: Int] = ["INCOMPLETE": 0x01, "REACHABLE": 0x02, "STALE": 0x04, "DELAY": 0x08,
                                     "PROBE": 0x10, "FAILED": 0x20, "NOARP": 0x40, "PERMANENT": 0x80]
        var out: [UInt8] = []
        var seq = 1
        for line in table.split(separator: "\n") {
            let f = line.split(separator: " ").map(String.init)
            let v6 = f[0].contains(":")
            let dst: [UInt8] = v6 ? [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [UInt8(seq)]
                : f[0].split(separator: ".").compactMap { UInt8($0) }
            var attrs = attr(1, dst)
            if let i = f.firstIndex(of: "lladdr") {
                attrs += attr(2, f[i + 1].split(separator: ":").compactMap { UInt8($0, radix: 16) })
            }
            attrs += attr(3, [UInt8](repeating: 0, count: 16))   // NDA_CACHEINFO
            let nd: [UInt8] = [v6 ? 10 : 2, 0, 0, 0] + le32(Int(ifindex[f[2]] ?? 1)) + le16(states[f.last ?? ""] ?? 0) + [0, 1]
            let body = nd + attrs
            out += le32(16 + body.count) + le16(28) + le16(2) + le32(seq) + le32(0) + body
            seq += 1
        }
        return out + le32(20) + le16(3) + le16(2) + le32(seq) + le32(0) + le32(0)
    }

    @Test("the ARP source: per NIC, one interface per REACHABLE or STALE IPv4 neighbour with its MAC, named by its host device")
    func arp() throws {
        let def = try DomainDefinition.parse("""
        <domain type='qemu'><name>d</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
        <os><type arch='x86_64'>hvm</type></os><devices>
        <interface type='ethernet'><mac address='52:54:00:AA:00:01'/><target dev='tap7'/></interface>
        <interface type='ethernet'><mac address='52:54:00:aa:00:03'/><target dev='tap8'/></interface>
        <interface type='user'><mac address='52:54:00:aa:00:02'/></interface>
        </devices></domain>
        """)
        let table = """
        192.168.8.20 dev tap8 lladdr 52:54:00:aa:00:03 REACHABLE
        192.168.7.10 dev tap7 lladdr 52:54:00:aa:00:01 STALE
        fe80::5054:ff:feaa:1 dev tap7 lladdr 52:54:00:aa:00:01 REACHABLE
        192.168.7.11 dev tap7 INCOMPLETE
        192.168.7.12 dev tap7 lladdr 52:54:00:aa:00:01 DELAY
        192.168.7.13 dev tap7 lladdr 52:54:00:aa:00:01 PROBE
        192.168.7.14 dev tap7 lladdr 52:54:00:aa:00:01 PERMANENT
        192.168.7.15 dev tap7 FAILED
        192.168.7.16 dev tap7 lladdr 52:54:00:aa:00:01 REACHABLE
        10.1.1.1 dev eth0 lladdr 52:54:00:bb:00:09 REACHABLE
        """
        let entries = try NeighbourTable.parse(Self.neighbourDump(table, ifindex: ["tap7": 7, "tap8": 8, "eth0": 2]))
        #expect(entries.count == 10)
        #expect(entries[0] == NeighbourEntry(family: 2, state: 2, ifindex: 8, destination: [192, 168, 8, 20],
                                             linkAddress: [0x52, 0x54, 0, 0xaa, 0, 3]))
        #expect(entries[3].linkAddress == nil && entries[2].family == 10)
        // The NICs in definition order, each with its entries in the table's order; the second address of tap7
        // is a second interface of the same name, as libvirt lists it.
        #expect(QEMUDomainObject.arpInterfaces(def, table: entries) == [
            DomainInterface(name: "tap7", hwaddr: "52:54:00:aa:00:01", addrs: [DomainIPAddress(type: 0, addr: "192.168.7.10", prefix: 0)]),
            DomainInterface(name: "tap7", hwaddr: "52:54:00:aa:00:01", addrs: [DomainIPAddress(type: 0, addr: "192.168.7.16", prefix: 0)]),
            DomainInterface(name: "tap8", hwaddr: "52:54:00:aa:00:03", addrs: [DomainIPAddress(type: 0, addr: "192.168.8.20", prefix: 0)]),
        ])
        // An empty table is just NLMSG_DONE; a message cut short is libvirt's "wrong nlmsg len".
        #expect(try NeighbourTable.parse(Self.neighbourDump("", ifindex: [:])).isEmpty)
        let dump = Self.neighbourDump(table, ifindex: [:])
        #expect(throws: VirtError.internalError("wrong nlmsg len")) { try NeighbourTable.parse(Array(dump.prefix(40))) }
    }

    @Test("virtio disks by PCI address, SCSI disks by drive address, others by serial")
    func disks() throws {
        let def = try DomainDefinition.parse("""
        <domain type='qemu'><name>d</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
        <os><type arch='x86_64'>hvm</type></os><devices>
        <disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/>
          <address type='pci' domain='0x0000' bus='0x00' slot='0x06' function='0x0'/></disk>
        <disk type='file' device='disk'><source file='/b'/><target dev='sda' bus='scsi'/>
          <address type='drive' controller='0' bus='0' target='0' unit='1'/></disk>
        <disk type='file' device='disk'><source file='/c'/><target dev='sdb' bus='usb'/><serial>S1</serial></disk>
        </devices></domain>
        """)
        func match(_ json: String) throws -> String? {
            QEMUDomainObject.domainDisk(QEMUDomainObject.AgentDisk(try JSONValue.parse(json)), in: def)?.target.dev
        }
        #expect(try match(#"{"bus-type": "virtio", "pci-controller": {"domain": 0, "bus": 0, "slot": 6, "function": 0}, "bus": 0, "target": 0, "unit": 0}"#) == "vda")
        #expect(try match(#"{"bus-type": "virtio", "pci-controller": {"domain": 0, "bus": 0, "slot": 7, "function": 0}, "bus": 0, "target": 0, "unit": 0}"#) == nil)
        #expect(try match(#"{"bus-type": "scsi", "bus": 0, "target": 0, "unit": 1}"#) == "sda")
        #expect(try match(#"{"bus-type": "usb", "bus": 0, "target": 0, "unit": 0, "serial": "S1"}"#) == "sdb")
    }
}
