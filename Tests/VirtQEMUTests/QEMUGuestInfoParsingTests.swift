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

    @Test("the ARP source: NICs whose MAC address the host's neighbour table has, by their host device")
    func arp() throws {
        let def = try DomainDefinition.parse("""
        <domain type='qemu'><name>d</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
        <os><type arch='x86_64'>hvm</type></os><devices>
        <interface type='ethernet'><mac address='52:54:00:AA:00:01'/><target dev='tap7'/></interface>
        <interface type='user'><mac address='52:54:00:aa:00:02'/></interface>
        </devices></domain>
        """)
        let table = """
        IP address       HW type     Flags       HW address            Mask     Device
        192.168.7.10     0x1         0x2         52:54:00:aa:00:01     *        tap7
        192.168.7.11     0x1         0x0         00:00:00:00:00:00     *        tap7
        10.1.1.1         0x1         0x2         52:54:00:bb:00:09     *        eth0
        """
        #expect(QEMUDomainObject.arpInterfaces(def, table: table) == [
            DomainInterface(name: "tap7", hwaddr: "52:54:00:aa:00:01", addrs: [DomainIPAddress(type: 0, addr: "192.168.7.10", prefix: 0)]),
        ])
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
