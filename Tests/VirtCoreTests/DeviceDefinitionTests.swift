import Testing
@testable import VirtCore

/// One device's XML as the device calls take it: the kind, libvirt's per-device defaults, libvirt's errors.
@Suite struct DeviceDefinitionTests {
    @Test func diskGetsBusAndDriveAddressFromItsTarget() throws {
        let d = try DeviceDefinition.parse("<disk type='file' device='disk'><source file='/x.img'/><target dev='sdc'/></disk>")
        #expect(d.kind == "disk")
        #expect(d.disk?.target.bus == .scsi)
        #expect(d.disk?.info.address == .drive(DriveAddress(controller: 0, bus: 0, target: 0, unit: 2)))
        #expect(d.devices.controllers.isEmpty, "implicit controllers come when the disk joins a definition")
    }

    @Test func interfaceRemembersWhetherItsMACWasGiven() throws {
        let given = try DeviceDefinition.parse("<interface type='user'><mac address='52:54:00:00:00:01'/></interface>")
        #expect(given.macSpecified && given.interface?.mac.description == "52:54:00:00:00:01")
        let generated = try DeviceDefinition.parse("<interface type='user'/>")
        #expect(!generated.macSpecified)
    }

    /// libvirt's qemuDomainChrPreInsert and qemuDomainChrRemove: the console copy of a first serial port.
    @Test func firstSerialPortBringsAndTakesItsConsoleCopy() throws {
        var def = try DomainDefinition.parse("""
            <domain type='qemu'><name>d</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
            <os><type arch='x86_64'>hvm</type></os><devices/></domain>
            """)
        let usb = try #require(DeviceDefinition.parse("<serial type='null'><target type='usb-serial'/></serial>")
            .devices.serials.first)
        def.devices.insertSerial(usb)
        #expect(def.devices.consoles.count == 1 && def.devices.consoles[0].targetType == "serial")
        #expect(def.formatXML().contains("<console type='null'>\n      <target type='serial' port='0'/>"),
                "\(def.formatXML())")
        // A second port brings nothing; removing the first takes the copy along.
        def.devices.insertSerial(usb)
        #expect(def.devices.consoles.count == 1 && def.devices.serials.count == 2)
        def.devices.removeSerial(at: 0)
        #expect(def.devices.consoles.isEmpty && def.devices.serials.count == 1)
        // A domain with a console of its own (virtio) gets no copy.
        var other = try DomainDefinition.parse("""
            <domain type='qemu'><name>d</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
            <os><type arch='x86_64'>hvm</type></os><devices><console type='pty'><target type='virtio'/></console></devices></domain>
            """)
        other.devices.insertSerial(usb)
        #expect(other.devices.consoles.count == 1 && other.devices.consoles[0].targetType == "virtio")
        other.devices.removeSerial(at: 0)
        #expect(other.devices.consoles.count == 1 && other.devices.serials.isEmpty)
    }

    @Test func unknownKindsAndBadValuesGetLibvirtsErrors() {
        #expect(throws: VirtError.configUnsupported("unknown device type 'gizmo'", domain: .domain)) {
            try DeviceDefinition.parse("<gizmo/>")
        }
        do {
            _ = try DeviceDefinition.parse("<disk type='file'><source file='/x'/><target dev='vdb' bus='foo'/></disk>")
            Issue.record("a bad bus was accepted")
        } catch {
            #expect(error.code == .xmlError, "\(error)")
        }
        do {
            _ = try DeviceDefinition.parse("<disk type='file' device='disk'><target dev='vdb'/></disk>")
            Issue.record("a disk without a source was accepted")
        } catch {
            #expect(error.message == "missing source information for device vdb", "\(error)")
        }
    }
}
