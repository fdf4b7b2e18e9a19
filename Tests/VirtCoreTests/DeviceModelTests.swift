import Testing
@testable import VirtCore

/// Unit tests of the typed device model: values the QEMU driver reads, generated data, live-only data.
@Suite struct DeviceModelTests {
    static func devices(_ inner: String, live: Bool = false) throws -> DomainDevices {
        let root = try XMLParser.parse("<devices>\(inner)</devices>")
        return try DomainDevices.parse(root, options: DomainParseOptions(live: live))
    }

    static func format(_ d: DomainDevices, inactive: Bool = true) -> String {
        var w = XMLWriter()
        d.format(into: &w, options: DomainFormatOptions(inactive: inactive))
        return w.output
    }

    @Test func generatedMACIsQEMURange() throws {
        let a = try Self.devices("<interface type='user'/>").interfaces[0].mac
        let b = try Self.devices("<interface type='user'/>").interfaces[0].mac
        #expect(a.bytes.count == 6)
        #expect(Array(a.bytes.prefix(3)) == [0x52, 0x54, 0x00])
        #expect(a.description.hasPrefix("52:54:00:"))
        #expect(a.description.count == 17)
        #expect(!a.isMulticast)
        // 24 random bits: two draws are equal with probability 2^-24.
        #expect(a != b)
    }

    @Test func macParsingAndFormatting() {
        #expect(MACAddress(string: "52:54:0:a:bc:DE")?.description == "52:54:00:0a:bc:de")
        #expect(MACAddress(string: "52-54-00-0a-bc-de")?.description == "52:54:00:0a:bc:de")
        #expect(MACAddress(string: "52:54:00:0a:bc") == nil)
        #expect(MACAddress(string: "52:54:00:0a:bc:xyz") == nil)
        #expect(MACAddress(string: "01:00:00:00:00:00")?.isMulticast == true)
    }

    @Test func typedDiskFields() throws {
        let d = try Self.devices("""
            <disk type='network' device='disk'><driver name='qemu' type='qcow2' cache='writeback' io='io_uring' \
            discard='unmap'/><source protocol='nbd' name='img'><host name='h' port='1'/></source>\
            <target dev='sdb' bus='scsi'/><serial>s1</serial><boot order='2'/></disk>
            """).disks[0]
        #expect(d.type == .network)
        #expect(d.device == .disk)
        #expect(d.driver.format == .qcow2)
        #expect(d.driver.cache == .writeback)
        #expect(d.driver.io == .ioUring)
        #expect(d.driver.discard == .unmap)
        #expect(d.source.networkProtocol == .nbd)
        #expect(d.source.hosts == [DiskHost(name: "h", port: "1")])
        #expect(d.target.bus == .scsi)
        #expect(d.serial == "s1")
        #expect(d.info.bootOrder == 2)
        #expect(d.info.address == .drive(DriveAddress(controller: 0, bus: 0, target: 0, unit: 1)))
    }

    @Test func diskNameIndex() {
        #expect(Disk.nameToIndex("sda") == 0)
        #expect(Disk.nameToIndex("vdz") == 25)
        #expect(Disk.nameToIndex("hdaa") == 26)
        #expect(Disk.nameToIndex("xvdb") == 1)
        #expect(Disk.nameToIndex("sda1") == 0)
        #expect(Disk.nameToIndex("nvme0") == nil)
        #expect(Disk.nameToIndex("sdA") == nil)
    }

    @Test func addressesRoundTrip() throws {
        let d = try Self.devices("""
            <interface type='user'><mac address='52:54:00:00:00:01'/>\
            <address type='pci' domain='0x0001' bus='0x02' slot='0x1f' function='0x7' multifunction='on'/></interface>
            """)
        #expect(d.interfaces[0].info.address
                == .pci(PCIAddress(domain: 1, bus: 2, slot: 31, function: 7, multifunction: true)))
        #expect(Self.format(d).contains(
            "<address type='pci' domain='0x0001' bus='0x02' slot='0x1f' function='0x7' multifunction='on'/>"))
        #expect(throws: VirtError.self) {
            _ = try Self.devices("<interface type='user'><address type='pci' slot='1' function='8'/></interface>")
        }
    }

    @Test func aliasesAreLiveOnlyUnlessUserAliases() throws {
        let xml = "<disk type='file'><source file='/a'/><target dev='vda'/><alias name='virtio-disk0'/></disk>"
            + "<disk type='file'><source file='/b'/><target dev='vdb'/><alias name='ua-data'/></disk>"
        let inactiveParse = try Self.devices(xml)
        #expect(inactiveParse.disks[0].info.alias == nil)
        #expect(inactiveParse.disks[1].info.alias == "ua-data")
        let live = try Self.devices(xml, live: true)
        #expect(live.disks[0].info.alias == "virtio-disk0")
        #expect(Self.format(live, inactive: false).contains("<alias name='virtio-disk0'/>"))
        #expect(!Self.format(live, inactive: true).contains("virtio-disk0"))
        #expect(Self.format(live, inactive: true).contains("<alias name='ua-data'/>"))
    }

    @Test func ptyPathIsLiveOnly() throws {
        let xml = "<serial type='pty'><source path='/dev/pts/4'/><target port='0'/></serial>"
        #expect(try Self.devices(xml).serials[0].source.path == nil)
        let live = try Self.devices(xml, live: true)
        #expect(live.serials[0].source.path == "/dev/pts/4")
        #expect(Self.format(live, inactive: false).contains("<source path='/dev/pts/4'/>"))
        #expect(!Self.format(live, inactive: true).contains("/dev/pts/4"))
        #expect(Self.format(live, inactive: false).contains("<console type='pty' tty='/dev/pts/4'>"))
    }

    @Test func formatIsStable() throws {
        let xml = """
            <emulator>/usr/bin/qemu-system-x86_64</emulator>\
            <disk type='file' device='cdrom'><source file='/iso'/><target dev='hdc'/></disk>\
            <interface type='bridge'><mac address='52:54:00:aa:bb:cc'/><source bridge='br0'/><model type='virtio'/></interface>\
            <serial type='pty'/><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>\
            <graphics type='vnc' port='5900' listen='127.0.0.1'/><tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>\
            <rng model='virtio'><backend model='random'/></rng><memballoon model='virtio'/>
            """
        let once = Self.format(try Self.devices(xml))
        let root = try XMLParser.parse(once)
        let twice = Self.format(try DomainDevices.parse(root, options: DomainParseOptions()))
        #expect(once == twice)
    }

    @Test func typedOtherKinds() throws {
        let d = try Self.devices("""
            <controller type='usb' model='qemu-xhci' ports='15'/><input type='tablet'/>\
            <graphics type='vnc' socket='/run/vnc.sock'/><video><model type='virtio'/></video>\
            <sound model='ich9'/><watchdog model='i6300esb' action='dump'/>\
            <tpm model='tpm-crb'><backend type='emulator' version='2.0' persistent_state='yes'/></tpm>\
            <memory model='dimm'><target><size unit='GiB'>1</size><node>0</node></target></memory>
            """)
        #expect(d.controllers[0].type == .usb && d.controllers[0].model == .qemuXHCI && d.controllers[0].index == 0)
        #expect(d.inputs[0].type == .tablet && d.inputs[0].bus == .usb)
        #expect(d.graphics[0].listens == [.socket("/run/vnc.sock")])
        #expect(d.videos[0].model == .virtio && d.videos[0].primary && d.videos[0].heads == 1)
        #expect(d.sounds[0].model == .ich9)
        #expect(d.watchdogs[0].action == .dump)
        guard case .emulator(let e) = d.tpms[0].backend else {
            Issue.record("expected an emulator backend")
            return
        }
        #expect(e.version == .v2_0 && e.persistentState == true)
        #expect(d.memories[0].sizeKiB == 1_048_576 && d.memories[0].node == 0)
    }

    @Test func openvswitchInterfaceIDIsGenerated() throws {
        let d = try Self.devices("""
            <interface type='bridge'><mac address='52:54:00:11:22:33'/><source bridge='br0'/>            <virtualport type='openvswitch'/></interface>
            """)
        let vp = try #require(d.interfaces[0].extra.first { $0.name == "virtualport" })
        let id = try #require(vp.child("parameters")?.attr("interfaceid"))
        #expect(VirtUUID(string: id) != nil)
        let kept = try Self.devices("""
            <interface type='bridge'><mac address='52:54:00:11:22:33'/><source bridge='br0'/>            <virtualport type='openvswitch'><parameters interfaceid='9663b59d-e15d-41ce-9c5e-0d1f166f14d8'/>            </virtualport></interface>
            """)
        #expect(Self.format(kept).contains("<parameters interfaceid='9663b59d-e15d-41ce-9c5e-0d1f166f14d8'/>"))
    }

    @Test func singleDeviceParseAddRemove() throws {
        let disk = try DomainDevice.parse("<disk type='file'><source file='/x.img'/><target dev='sdc'/></disk>")
        #expect(disk.elementName == "disk")
        #expect(disk.formatXML() == """
            <disk type='file' device='disk'>
              <source file='/x.img'/>
              <target dev='sdc' bus='scsi'/>
              <address type='drive' controller='0' bus='0' target='0' unit='2'/>
            </disk>

            """)
        var d = try Self.devices("""
            <disk type='file'><source file='/a'/><target dev='sda'/></disk>            <disk type='file'><source file='/b'/><target dev='sdd'/></disk>            <interface type='user'><mac address='52:54:00:00:00:09'/></interface>
            """)
        d.add(disk)
        #expect(d.disks.map(\.target.dev) == ["sda", "sdc", "sdd"])
        let nic = try DomainDevice.parse("<interface type='user'><mac address='52:54:00:00:00:09'/></interface>")
        #expect(d.remove(nic) != nil)
        #expect(d.interfaces.isEmpty)
        #expect(d.remove(nic) == nil)
        let byTarget = try DomainDevice.parse("<disk type='file'><source file='/other'/><target dev='sdd'/></disk>")
        #expect(d.remove(byTarget) != nil)
        #expect(d.disks.map(\.target.dev) == ["sda", "sdc"])
        #expect(throws: VirtError.self) { _ = try DomainDevice.parse("<bogus/>") }
        #expect(throws: VirtError.self) { _ = try DomainDevice.parse("<disk type='file'><source file='/a'/></disk>") }
    }

    @Test func deviceInfoHookSeesEveryDevice() throws {
        var d = try Self.devices("""
            <disk type='file'><source file='/a'/><target dev='vda'/></disk>            <interface type='user'><mac address='52:54:00:00:00:01'/>            <address type='pci' domain='0' bus='0' slot='3' function='0'/></interface>            <memballoon model='virtio'/><rng model='virtio'><backend model='random'/></rng>
            """)
        #expect(d.deviceInfos.map(\.kind) == ["disk", "interface", "memballoon", "rng"])
        #expect(d.usedPCIAddresses == [PCIAddress(slot: 3)])
        var n: UInt32 = 5
        d.updateDeviceInfos { kind, info in
            if info.address == nil && kind != "disk" {
                info.address = .pci(PCIAddress(slot: n))
                n += 1
            }
            info.alias = "\(kind)\(n)"
        }
        #expect(d.memballoon?.info.address == .pci(PCIAddress(slot: 5)))
        #expect(d.rngs[0].info.address == .pci(PCIAddress(slot: 6)))
        #expect(d.disks[0].info.alias == "disk5")
    }
}
