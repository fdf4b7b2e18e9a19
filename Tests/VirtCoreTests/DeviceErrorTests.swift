import Foundation
import Testing
@testable import VirtCore

/// Bad device XML gives libvirt 9.0's error (code and message), compared with virsh's.
@Suite struct DeviceErrorTests {
    static let snippets: [(String, String, Bool)] = [
        ("disk-device", "<disk type='file' device='foo'><source file='/a'/><target dev='vda'/></disk>", false),
        ("disk-bus", "<disk type='file'><source file='/a'/><target dev='vda' bus='foo'/></disk>", false),
        ("disk-cache", "<disk type='file'><source file='/a'/><target dev='vda'/><driver cache='foo'/></disk>", false),
        ("disk-io", "<disk type='file'><source file='/a'/><target dev='vda'/><driver io='x'/></disk>", false),
        ("disk-discard", "<disk type='file'><source file='/a'/><target dev='vda'/><driver discard='x'/></disk>", false),
        ("disk-no-target", "<disk type='file'><source file='/a'/></disk>", false),
        ("disk-type", "<disk type='foo'><source file='/a'/><target dev='vda'/></disk>", false),
        ("disk-no-source", "<disk type='file'><source/><target dev='vda'/></disk>", false),
        ("disk-protocol", "<disk type='network'><source protocol='x'/><target dev='vda'/></disk>", false),
        ("disk-name", "<disk type='file'><source file='/a'/><target dev='fdc'/></disk>", false),
        ("disk-duplicate", "<disk type='file'><source file='/a'/><target dev='vda'/></disk><disk type='file'><source file='/b'/><target dev='vda'/></disk>", false),
        ("boot-zero", "<disk type='file'><source file='/a'/><target dev='vda'/><boot order='0'/></disk>", false),
        ("boot-text", "<disk type='file'><source file='/a'/><target dev='vda'/><boot order='x'/></disk>", false),
        ("address-type", "<disk type='file'><source file='/a'/><target dev='vda'/><address type='foo'/></disk>", false),
        ("address-slot", "<disk type='file'><source file='/a'/><target dev='vda'/><address type='pci' slot='zz'/></disk>", false),
        ("address-unit", "<disk type='file'><source file='/a'/><target dev='vda'/><address type='drive' unit='x'/></disk>", false),
        ("controller-index", "<controller type='scsi' index='x'/>", false),
        ("controller-index-negative", "<controller type='scsi' index='-1'/>", false),
        ("controller-type", "<controller type='x'/>", false),
        ("controller-model", "<controller type='scsi' model='x'/>", false),
        ("interface-type", "<interface type='foo'/>", false),
        ("interface-no-source", "<interface type='network'/>", false),
        ("interface-no-network", "<interface type='network'><source/></interface>", false),
        ("interface-no-bridge", "<interface type='bridge'><source/></interface>", false),
        ("interface-mac", "<interface type='network'><source network='default'/><mac address='zz'/></interface>", false),
        ("interface-multicast", "<interface type='user'><mac address='01:00:00:00:00:00'/></interface>", false),
        ("interface-link", "<interface type='user'><link state='x'/></interface>", false),
        ("interface-model", "<interface type='user'><model type='a b'/></interface>", false),
        ("video-model", "<video><model type='foo'/></video>", false),
        ("graphics-port", "<graphics type='vnc' port='x'/>", false),
        ("graphics-type", "<graphics type='x'/>", false),
        ("graphics-listen", "<graphics type='vnc' listen='1.2.3.4'><listen type='address' address='1.2.3.5'/></graphics>", false),
        ("sound-model", "<sound model='x'/>", false),
        ("watchdog-model", "<watchdog model='itco'/>", false),
        ("watchdog-two", "<watchdog model='ib700'/><watchdog model='i6300esb'/>", false),
        ("rng-model", "<rng model='x'/>", false),
        ("memballoon-model", "<memballoon model='x'/>", false),
        ("tpm-model", "<tpm model='x'/>", false),
        ("tpm-backend", "<tpm><backend type='x'/></tpm>", false),
        ("tpm-version", "<tpm><backend type='emulator' version='x'/></tpm>", false),
        ("input-type", "<input type='x'/>", false),
        ("serial-type", "<serial type='x'/>", false),
        ("chardev-reconnect-bind", "<serial type='unix'><source mode='bind' path='/tmp/s'><reconnect enabled='no'/></source></serial>", false),
        ("chardev-no-path", "<serial type='file'/>", false),
        ("memory-no-size", "<memory model='dimm'><target></target></memory>", false),
        ("disk-error-policy", "<disk type='file'><source file='/a'/><target dev='vda'/><driver error_policy='x'/></disk>", false),
        ("disk-format", "<disk type='file'><source file='/a'/><target dev='vda'/><driver type='x'/></disk>", false),
        ("disk-tray", "<disk type='file' device='cdrom'><target dev='hdc' tray='x'/></disk>", false),
        ("disk-snapshot", "<disk type='file' snapshot='x'><source file='/a'/><target dev='vda'/></disk>", false),
        ("disk-floppy-name", "<disk type='file' device='floppy'><source file='/a'/><target dev='hda'/></disk>", false),
        ("disk-host-transport", "<disk type='network'><source protocol='nbd'><host name='a' transport='x'/></source><target dev='vda'/></disk>", false),
        ("address-usb-port", "<input type='tablet' bus='usb'><address type='usb' bus='0' port='a'/></input>", false),
        ("address-pci-function", "<interface type='user'><address type='pci' slot='1' function='9'/></interface>", false),
        ("address-pci-slot", "<interface type='user'><address type='pci' slot='40'/></interface>", false),
        ("address-pci-bus", "<interface type='user'><address type='pci' bus='400'/></interface>", false),
        ("video-ram", "<video><model type='qxl' ram='x'/></video>", false),
        ("controller-vectors", "<controller type='virtio-serial' vectors='x'/>", false),
        ("controller-ports", "<controller type='usb' ports='x'/>", false),
        ("controller-pci-model", "<controller type='pci' index='0' model='x'/>", false),
        ("interface-script-user", "<interface type='direct'><source dev='eth0' mode='x'/></interface>", false),
        ("interface-mtu", "<interface type='user'><mtu size='x'/></interface>", false),
        ("serial-target-type", "<serial type='pty'><target type='x'/></serial>", false),
        ("serial-port", "<serial type='pty'><target port='x'/></serial>", false),
        ("channel-no-target", "<channel type='pty'/>", false),
        ("channel-guestfwd-no-address", "<channel type='pty'><target type='guestfwd' port='1'/></channel>", false),
        ("tcp-no-host", "<serial type='tcp'><source mode='connect' service='1'/></serial>", false),
        ("tcp-protocol", "<serial type='tcp'><source mode='connect' host='a' service='1'/><protocol type='x'/></serial>", false),
        ("input-bus", "<input type='mouse' bus='x'/>", false),
        ("input-no-type", "<input bus='usb'/>", false),
        ("graphics-listen-type", "<graphics type='vnc'><listen type='x'/></graphics>", false),
        ("graphics-websocket", "<graphics type='vnc' websocket='x'/>", false),
        ("video-heads", "<video><model type='vga' heads='x'/></video>", false),
        ("video-vram", "<video><model type='vga' vram='x'/></video>", false),
        ("watchdog-action", "<watchdog model='ib700' action='x'/>", false),
        ("watchdog-no-model", "<watchdog/>", false),
        ("rng-backend", "<rng model='virtio'><backend model='x'/></rng>", false),
        ("rng-no-backend", "<rng model='virtio'/>", false),
        ("memballoon-autodeflate", "<memballoon model='virtio' autodeflate='x'/>", false),
        ("memballoon-two", "<memballoon model='virtio'/><memballoon model='none'/>", false),
        ("tpm-no-backend", "<tpm model='tpm-tis'/>", false),
        ("tpm-pcr-bank", "<tpm><backend type='emulator' version='2.0'><active_pcr_banks><md5/></active_pcr_banks></backend></tpm>", false),
        ("memory-model", "<memory model='x'><target><size>1</size></target></memory>", false),
        ("memory-unit", "<memory model='dimm'><target><size unit='x'>1</size></target></memory>", false),
        ("sound-codec", "<sound model='ich6'><codec type='x'/></sound>", false),
        ("hostdev-mode", "<hostdev mode='x' type='pci'/>", false),
        ("hostdev-type", "<hostdev mode='subsystem' type='x'/>", false),
        ("boot-order-duplicate", "<disk type='file'><source file='/a'/><target dev='vda'/><boot order='1'/></disk><interface type='user'><boot order='1'/></interface>", false),
        ("controller-duplicate", "<controller type='scsi' index='0'/><controller type='scsi' index='0'/>", false),
        ("drive-address-duplicate", "<disk type='file'><source file='/a'/><target dev='sda'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk><disk type='file'><source file='/b'/><target dev='sdb'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>", false),
        ("memory-exceeds", "<memory model='dimm'><target><size unit='GiB'>4</size></target></memory>", false),
        ("memory-equals", "<memory model='dimm'><target><size unit='GiB'>2</size></target></memory>", false),
        ("memory-node-without-numa", "<memory model='dimm'><target><size unit='MiB'>256</size><node>0</node></target></memory>", false),
        ("console-second-serial", "<serial type='pty'/><serial type='pty'/><console type='pty'/><console type='pty'/>", false),
        ("disk-requisite", "<disk type='file'><source file='/a' startupPolicy='requisite'/><target dev='vda'/></disk>", false),
        ("disk-startup-policy", "<disk type='file'><source file='/a' startupPolicy='x'/><target dev='vda'/></disk>", false),
        ("disk-wwn", "<disk type='file' device='disk'><source file='/a'/><target dev='vda'/><wwn>xyz</wwn></disk>", false),
        ("disk-floppy-bus", "<disk type='file' device='floppy'><source file='/a'/><target dev='fda' bus='ide'/></disk>", false),
        ("disk-lun-file", "<disk type='file' device='lun'><source file='/a'/><target dev='sda'/></disk>", false),
        ("video-two-primary", "<video><model type='vga' primary='yes'/></video><video><model type='qxl' primary='yes'/></video>", false),
        ("video-none-not-alone", "<video><model type='none'/></video><video><model type='vga'/></video>", false),
        ("validate-disk-child", "<disk type='file'><source file='/a'/><target dev='vda'/><foo/></disk>", true),
        ("validate-disk-attr", "<disk type='file' foo='1'><source file='/a'/><target dev='vda'/></disk>", true),
        ("validate-interface-child", "<interface type='user'><bogus/></interface>", true),
        ("validate-source-attr", "<disk type='file'><source file='/a' bar='x'/><target dev='vda'/></disk>", true),
        ("validate-address-attr", "<disk type='file'><source file='/a'/><target dev='vda'/><address type='pci' foo='1'/></disk>", true),
        ("validate-unknown-device", "<bogus/>", true),
        ("validate-usb-address", "<input type='tablet' bus='usb'><address type='usb' port='1'/></input>", true),
        ("validate-isa-irq", "<serial type='pty'><address type='isa' iobase='0x3f8' irq='4'/></serial>", true),
        ("validate-virtio-serial-address", "<channel type='pty'><target type='virtio' name='a.b'/><address type='virtio-serial' port='1'/></channel>", true),
        ("validate-pci-function", "<interface type='user'><address type='pci' function='8'/></interface>", true),
        ("validate-serial-text", "<disk type='file'><source file='/tmp/a'/><target dev='vda'/><serial>a:b</serial></disk>", true),
        ("validate-wwn", "<disk type='file'><source file='/tmp/a'/><target dev='vda'/><wwn>xyz</wwn></disk>", true),
        ("validate-relative-file", "<disk type='file'><source file='relative'/><target dev='vda'/></disk>", true),
        ("validate-autoport", "<graphics type='vnc' autoport='x'/>", true),
        ("validate-bad-enum", "<disk type='file' device='foo'><source file='/a'/><target dev='vda'/></disk>", true),
    ]

    @Test(arguments: snippets.map(\.0))
    func sameErrorAsVirsh(_ name: String) throws {
        let (_, snippet, validate) = try #require(Self.snippets.first { $0.0 == name })
        let xml = DeviceReference.domainXML(snippet)
        let ref = try DeviceReference.dumpxml(xml, name: "devtest", validate: validate)
        #expect(!ref.ok, "virsh accepted \(name)")
        let expected = DeviceReference.errorMessage(ref.output)
        do {
            var def = try DomainDefinition.parse(xml, options: DomainParseOptions(validate: validate))
            def.applyDefaults(for: .test)
            Issue.record("\(name): SwiftVirt accepted it; virsh said: \(expected ?? ref.output)")
        } catch {
            // virsh prints the first line of multi-line messages on the "error:" line.
            let first = error.message.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init)
            #expect(first == expected, "\(name)")
        }
    }

    @Test func codesAndDomains() throws {
        func err(_ s: String) -> VirtError? {
            do {
                _ = try DomainDefinition.parse(DeviceReference.domainXML(s))
                return nil
            } catch { return error }
        }
        let bad = err("<disk type='file' device='foo'><source file='/a'/><target dev='vda'/></disk>")
        #expect(bad?.code == .xmlError && bad?.domain == .xml)
        let noTarget = err("<disk type='file'><source file='/a'/></disk>")
        #expect(noTarget?.code == .noTarget && noTarget?.domain == .domain)
        let noSource = err("<disk type='file'><target dev='vda'/></disk>")
        #expect(noSource?.code == .noSource)
        let model = err("<video><model type='foo'/></video>")
        #expect(model?.code == .configUnsupported && model?.domain == .domain)
        let mac = err("<interface type='user'><mac address='zz'/></interface>")
        #expect(mac?.code == .xmlError && mac?.domain == .domain)
        var schemaError: VirtError?
        do {
            _ = try DomainDefinition.parse(DeviceReference.domainXML("<disk type='file' foo='1'/>"),
                                           options: DomainParseOptions(validate: true))
        } catch { schemaError = error }
        let schema = try #require(schemaError)
        #expect(schema.code == .xmlInvalidSchema && schema.domain == .xml)
    }
}
