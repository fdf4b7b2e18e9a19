import Foundation
import Testing
import VirtCore
@testable import VirtQEMU

/// domblkerror's reading of QMP `query-block` (libvirt's qemuMonitorJSONGetBlockInfo): the entry of each disk
/// found by its QOM name (a virtio disk's `virtio-backend`, other devices by alias, -drive names), and
/// `io-status` as `virDomainDiskErrorCode`. (A real I/O error is not produced on the test hosts.)
@Suite("query-block io-status for domblkerror")
struct QEMUDiskErrorsTests {
    @Test("disks found by QOM name or alias; ok, failed and nospace mapped as libvirt maps them")
    func ioStatus() throws {
        var def = try DomainDefinition.parse("""
        <domain type='qemu'><name>d</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
        <os><type arch='x86_64'>hvm</type></os><devices>
        <disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><source file='/b'/><target dev='sda' bus='sata'/></disk>
        <disk type='file' device='disk'><source file='/c'/><target dev='vdb' bus='virtio'/></disk>
        <disk type='file' device='disk'><source file='/d'/><target dev='vdc' bus='virtio'/></disk>
        </devices></domain>
        """)
        for (i, alias) in ["virtio-disk0", "sata0-0-0", "virtio-disk1", "virtio-disk2"].enumerated() {
            def.devices.disks[i].info.alias = alias
        }
        let table = try JSONValue.parse("""
        [{"device": "", "qdev": "/machine/peripheral/virtio-disk0/virtio-backend", "io-status": "nospace"},
         {"device": "", "qdev": "sata0-0-0", "io-status": "failed"},
         {"device": "", "qdev": "/machine/peripheral/virtio-disk1/virtio-backend", "io-status": "ok"},
         {"device": "drive-virtio-disk9", "io-status": "failed"}]
        """)
        let codes = def.devices.disks.map { disk in
            QEMUDomainObject.blockEntry(for: disk, in: table).map { QEMUDomainObject.diskErrorCode($0["io-status"]?.stringValue) }
        }
        #expect(codes == [2, 1, 0, nil])
        #expect(QEMUDomainObject.diskErrorCode(nil) == 0)
    }
}
