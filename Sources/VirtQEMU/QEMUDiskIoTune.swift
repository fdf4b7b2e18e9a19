import VirtCore

/// QEMU's side of `<iotune>`: block_set_io_throttle's argument names and the merging categories of libvirt's
/// qemuDomainSetBlockIoTune.
typealias QEMUDiskIoTune = DiskIoTune

extension DiskIoTune {
    /// libvirt's parameter names with QMP's names.
    static let fields: [(name: String, qmp: String)] = zip(fieldNames, [
        "bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr", "bps_max", "bps_rd_max", "bps_wr_max", "iops_max",
        "iops_rd_max", "iops_wr_max", "iops_size", "group", "bps_max_length", "bps_rd_max_length",
        "bps_wr_max_length", "iops_max_length", "iops_rd_max_length", "iops_wr_max_length",
    ]).map { ($0, $1) }

    /// The categories libvirt's qemuDomainSetBlockIoTune tracks (`QEMU_BLOCK_IOTUNE_SET_*`): a category the caller
    /// names is taken from the call, the others are kept from the current values.
    static let categories: [[String]] = [
        ["total_bytes_sec", "read_bytes_sec", "write_bytes_sec"],
        ["total_iops_sec", "read_iops_sec", "write_iops_sec"],
        ["size_iops_sec"],
        ["group_name"],
        ["total_bytes_sec_max", "read_bytes_sec_max", "write_bytes_sec_max"],
        ["total_iops_sec_max", "read_iops_sec_max", "write_iops_sec_max"],
        ["total_bytes_sec_max_length", "read_bytes_sec_max_length", "write_bytes_sec_max_length"],
        ["total_iops_sec_max_length", "read_iops_sec_max_length", "write_iops_sec_max_length"],
    ]

    /// QEMU's view (an `inserted` entry of query-block).
    init(qmp inserted: JSONValue) {
        self.init()
        for (name, key) in Self.fields where name != "group_name" {
            if let v = inserted[key]?.intValue, v > 0 { values[name] = UInt64(v) }
        }
        group = inserted["group"]?.stringValue
    }

    /// block_set_io_throttle's arguments for device `id`.
    func qmpArguments(id: String) -> JSONValue {
        var o: [String: JSONValue] = ["id": .string(id)]
        for (i, (name, key)) in Self.fields.enumerated() {
            if name == "group_name" {
                if let group { o[key] = .string(group) }
            } else if i < 6 || value(name) != 0 {
                // The six base limits are mandatory; the others are left out when 0 (QEMU refuses a 0 burst length).
                o[key] = .int(Int64(value(name)))
            }
        }
        return .object(o)
    }
}
