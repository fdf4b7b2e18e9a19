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
