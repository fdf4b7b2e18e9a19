import Testing

@testable import VirtQEMU

@Suite("PCI ID database")
struct PCIIDDatabaseTests {
    static let sample = """
        # comment
        1af4  Red Hat, Inc.
        \t1000  Virtio network device
        \t\t1af4 0001  Virtio network device
        \t1001  Virtio block device
        8086  Intel Corporation
        \t1237  440FX - 82441FX PMC [Natoma]
        \t7000  82371SB PIIX3 ISA [Natoma/Triton II]
        C 01  Mass storage controller
        \t00  SCSI storage controller
        """

    @Test func vendorAndDeviceNames() {
        let db = PCIIDDatabase(contents: Self.sample)
        #expect(db.names(vendor: "0x8086", device: "0x1237") == ("Intel Corporation", "440FX - 82441FX PMC [Natoma]"))
        #expect(db.names(vendor: "0x1af4", device: "0x1001") == ("Red Hat, Inc.", "Virtio block device"))
        // A subsystem line (two tabs) is not a device of its vendor.
        #expect(db.names(vendor: "0x1af4", device: "0x0001") == ("Red Hat, Inc.", nil))
        // A device of another vendor, an unknown vendor, a class line: no names.
        #expect(db.names(vendor: "0x1af4", device: "0x7000") == ("Red Hat, Inc.", nil))
        #expect(db.names(vendor: "0x10de", device: "0x1237") == (nil, nil))
        #expect(db.names(vendor: "C 01", device: "0x0000") == (nil, nil))
    }

    @Test func hostDatabaseWhenInstalled() throws {
        // The test command installs Debian's pci.ids; every PCI host has an Intel or Red Hat device listed there.
        let db = try #require(PCIIDDatabase())
        #expect(db.names(vendor: "0x8086", device: "0x1237").vendor == "Intel Corporation")
    }
}
