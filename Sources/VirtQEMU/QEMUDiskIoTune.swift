import VirtCore

/// A disk's `<iotune>` as libvirt's `virDomainBlockIoTuneInfo`: the 19 limits (0: none) and the throttle group.
struct QEMUDiskIoTune: Equatable {
    /// libvirt's parameter names (also the `<iotune>` children, in libvirt's order) with QMP's names.
    static let fields: [(name: String, qmp: String)] = [
        ("total_bytes_sec", "bps"), ("read_bytes_sec", "bps_rd"), ("write_bytes_sec", "bps_wr"),
        ("total_iops_sec", "iops"), ("read_iops_sec", "iops_rd"), ("write_iops_sec", "iops_wr"),
        ("total_bytes_sec_max", "bps_max"), ("read_bytes_sec_max", "bps_rd_max"),
        ("write_bytes_sec_max", "bps_wr_max"), ("total_iops_sec_max", "iops_max"),
        ("read_iops_sec_max", "iops_rd_max"), ("write_iops_sec_max", "iops_wr_max"),
        ("size_iops_sec", "iops_size"), ("group_name", "group"),
        ("total_bytes_sec_max_length", "bps_max_length"), ("read_bytes_sec_max_length", "bps_rd_max_length"),
        ("write_bytes_sec_max_length", "bps_wr_max_length"), ("total_iops_sec_max_length", "iops_max_length"),
        ("read_iops_sec_max_length", "iops_rd_max_length"), ("write_iops_sec_max_length", "iops_wr_max_length"),
    ]
    /// libvirt's QEMU_BLOCK_IOTUNE_MAX.
    static let maxValue: UInt64 = 1_000_000_000_000_000

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

    var values: [String: UInt64] = [:]
    var group: String?

    init() {}

    init(element: XMLElement?) {
        guard let e = element else { return }
        for (name, _) in Self.fields where name != "group_name" {
            if let t = e.childText(name), let v = UInt64(t), v != 0 { values[name] = v }
        }
        group = e.childText("group_name")
    }

    /// QEMU's view (an `inserted` entry of query-block).
    init(qmp inserted: JSONValue) {
        for (name, key) in Self.fields where name != "group_name" {
            if let v = inserted[key]?.intValue, v > 0 { values[name] = UInt64(v) }
        }
        group = inserted["group"]?.stringValue
    }

    func value(_ name: String) -> UInt64 { values[name] ?? 0 }

    var hasAnyLimit: Bool { values.values.contains { $0 != 0 } }

    /// `<iotune>` with the limits set and the group (nil when there is nothing to write).
    var element: XMLElement? {
        var kids: [XMLElement.Child] = []
        for (name, _) in Self.fields {
            if name == "group_name" {
                if let group { kids.append(.element(XMLElement(name: name, children: [.text(group)]))) }
            } else if let v = values[name], v != 0 {
                kids.append(.element(XMLElement(name: name, children: [.text(String(v))])))
            }
        }
        return kids.isEmpty ? nil : XMLElement(name: "iotune", children: kids)
    }

    /// The 20 typed parameters of virDomainGetBlockIoTune.
    var params: [TypedParam] {
        Self.fields.map { f in
            f.name == "group_name" ? TypedParam(f.name, .string(group ?? "")) : TypedParam(f.name, .ullong(value(f.name)))
        }
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

extension Disk {
    var ioTune: QEMUDiskIoTune {
        get { QEMUDiskIoTune(element: extra.first { $0.name == "iotune" }) }
        set {
            let e = newValue.element
            if let i = extra.firstIndex(where: { $0.name == "iotune" }) {
                if let e { extra[i] = e } else { extra.remove(at: i) }
            } else if let e {
                extra.append(e)
            }
        }
    }
}
