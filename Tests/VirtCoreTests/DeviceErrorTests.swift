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
        ("validate-disk-child", "<disk type='file'><source file='/a'/><target dev='vda'/><foo/></disk>", true),
        ("validate-disk-attr", "<disk type='file' foo='1'><source file='/a'/><target dev='vda'/></disk>", true),
        ("validate-interface-child", "<interface type='user'><bogus/></interface>", true),
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
