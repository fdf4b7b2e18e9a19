import Foundation
import Testing
import VirtCore
@testable import VirtQEMU

@Suite struct QEMUCommandLineTests {
    static let minimalXML = """
        <domain type='kvm'>
          <name>min</name>
          <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
          <memory unit='MiB'>128</memory>
          <vcpu>2</vcpu>
          <os><type arch='x86_64' machine='q35'>hvm</type><kernel>/k,ern</kernel><initrd>/initrd</initrd>
            <cmdline>console=ttyS0 a=b,c</cmdline></os>
          <devices>
            <emulator>/usr/bin/qemu-system-x86_64</emulator>
            <serial type='pty'/>
            <serial type='file'><source path='/tmp/ser,1.log'/></serial>
            <serial type='unix'><source mode='bind' path='/tmp/ser.sock'/></serial>
            <memballoon model='none'/>
          </devices>
        </domain>
        """

    @Test func escaping() {
        #expect(QEMUCommandLine.escape("/a,b,,c") == "/a,,b,,,,c")
        #expect(QEMUCommandLine.escape("plain") == "plain")
    }

    /// What libvirt 9.0 (`virsh -c qemu:///embed?root=… domxml-to-native qemu-argv`) prints for the same XML
    /// with QEMU 7.2, minus the master-key secret object (built only when a private directory is given) and
    /// the monitor path (ours is a passed descriptor).
    @Test func minimalDomainMatchesLibvirt() throws {
        let def = try DomainDefinition.parse(Self.minimalXML)
        var cl = QEMUCommandLine(definition: def)
        cl.capabilities = nil
        var args = try cl.arguments()
        // Without capabilities the machine alias stays; libvirt resolves it.
        #expect(args[args.firstIndex(of: "-machine").map { $0 + 1 } ?? 0].hasPrefix("q35,"))
        let caps = QEMUCapabilities(
            formatVersion: 1, binaryPath: "/usr/bin/qemu-system-x86_64", binaryMTime: "0",
            version: QEMUVersion(major: 7, minor: 2, micro: 0), package: "", arch: "x86_64", kvmAvailable: true,
            machines: [.init(name: "pc-q35-7.2", alias: "q35", isDefault: false, maxCPUs: 288, deprecated: false),
                       .init(name: "pc-i440fx-7.2", alias: "pc", isDefault: true, maxCPUs: 255, deprecated: false)],
            cpuModels: [], deviceTypes: [], commands: [])
        cl.capabilities = caps
        args = try cl.arguments()
        let expected: [String] = [
            "-name", "guest=min,debug-threads=on",
            "-S",
            "-machine", "pc-q35-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram",
            "-accel", "kvm",
            "-cpu", "qemu64",
            "-m", "128",
            "-object", #"{"qom-type":"memory-backend-ram","id":"pc.ram","size":134217728}"#,
            "-overcommit", "mem-lock=off",
            "-smp", "2,sockets=2,cores=1,threads=1",
            "-uuid", "c7a5fdbd-edaf-9455-926a-d65c16db1809",
            "-display", "none",
            "-no-user-config",
            "-nodefaults",
            "-chardev", "socket,id=charmonitor,fd=3,server=on,wait=off",
            "-mon", "chardev=charmonitor,id=monitor,mode=control",
            "-rtc", "base=utc",
            "-no-shutdown",
            "-no-acpi",
            "-boot", "strict=on",
            "-kernel", "/k,ern",
            "-initrd", "/initrd",
            "-append", "console=ttyS0 a=b,c",
            "-device", #"{"driver":"pcie-root-port","port":8,"chassis":1,"id":"pci.1","bus":"pcie.0","multifunction":true,"addr":"0x1"}"#,
            "-device", #"{"driver":"pcie-root-port","port":9,"chassis":2,"id":"pci.2","bus":"pcie.0","addr":"0x1.0x1"}"#,
            "-device", #"{"driver":"qemu-xhci","id":"usb","bus":"pci.1","addr":"0x0"}"#,
            "-chardev", "pty,id=charserial0",
            "-device", #"{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}"#,
            "-chardev", "file,id=charserial1,path=/tmp/ser,,1.log",
            "-device", #"{"driver":"isa-serial","chardev":"charserial1","id":"serial1","index":1}"#,
            "-chardev", "socket,id=charserial2,path=/tmp/ser.sock,server=on,wait=off",
            "-device", #"{"driver":"isa-serial","chardev":"charserial2","id":"serial2","index":2}"#,
            "-audiodev", #"{"id":"audio1","driver":"none"}"#,
            "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
            "-msg", "timestamp=on",
        ]
        #expect(args == expected)
    }

    @Test func tcgTopologyAndBootOrder() throws {
        let def = try DomainDefinition.parse("""
            <domain type='qemu'><name>t</name><memory>262144</memory><vcpu current='2'>4</vcpu>
            <os><type>hvm</type><boot dev='network'/><boot dev='hd'/><bootmenu enable='yes' timeout='500'/></os>
            <features><acpi/></features>
            <cpu mode='custom'><model>Nehalem</model><topology sockets='1' dies='1' cores='2' threads='2'/></cpu>
            <clock offset='localtime'/></domain>
            """)
        let args = try QEMUCommandLine(definition: def).arguments()
        func value(_ flag: String) -> String? {
            args.firstIndex(of: flag).map { args[$0 + 1] }
        }
        #expect(value("-accel") == "tcg")
        #expect(value("-cpu") == "Nehalem")
        #expect(value("-smp") == "2,maxcpus=4,sockets=1,dies=1,cores=2,threads=2")
        // libvirt turns <boot dev> into per-device bootindex; -boot keeps only menu and strict.
        #expect(value("-boot") == "menu=on,splash-time=500,strict=on")
        #expect(value("-rtc") == "base=localtime")
        #expect(value("-m") == "256")
        #expect(!args.contains("-no-acpi"))
    }

    /// Devices not built yet are refused, never silently left out of the guest.
    @Test func unsupportedDevicesAreRefused() throws {
        let def = try DomainDefinition.parse("""
            <domain type='kvm'><name>n</name><memory>131072</memory><os><type>hvm</type></os>
            <devices><interface type='user'/><disk type='file' device='disk'><source file='/x'/>
            <target dev='vda' bus='virtio'/></disk>
            <hostdev mode='subsystem' type='pci' managed='yes'><source>
              <address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source></hostdev>
            </devices></domain>
            """)
        #expect(throws: VirtError.configUnsupported("devices not supported by the QEMU driver yet: hostdev",
                                                    domain: .qemu)) {
            try QEMUCommandLine(definition: def).arguments()
        }
        var noHostdev = def
        noHostdev.devices.hostdevs = []
        let args = try QEMUCommandLine(definition: noHostdev).arguments()
        #expect(args.contains(#"{"type":"user","id":"hostnet0"}"#))
        #expect(args.contains { $0.hasPrefix(#"{"driver":"virtio-blk-pci","bus":"pci.0","addr":"0x3","drive":"libvirt-1-format","id":"virtio-disk0""#) })
    }
}
