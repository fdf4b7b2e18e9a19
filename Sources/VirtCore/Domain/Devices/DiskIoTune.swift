/// A disk's `<iotune>` as libvirt's `virDomainBlockIoTuneInfo`: the 19 limits (0: none) and the throttle group.
public struct DiskIoTune: Equatable, Sendable {
    /// libvirt's parameter names, also the `<iotune>` children, in libvirt's order.
    public static let fieldNames = [
        "total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec",
        "total_bytes_sec_max", "read_bytes_sec_max", "write_bytes_sec_max", "total_iops_sec_max",
        "read_iops_sec_max", "write_iops_sec_max", "size_iops_sec", "group_name", "total_bytes_sec_max_length",
        "read_bytes_sec_max_length", "write_bytes_sec_max_length", "total_iops_sec_max_length",
        "read_iops_sec_max_length", "write_iops_sec_max_length",
    ]
    /// libvirt's QEMU_BLOCK_IOTUNE_MAX (and the test driver's).
    public static let maxValue: UInt64 = 1_000_000_000_000_000

    public var values: [String: UInt64] = [:]
    public var group: String?

    public init() {}

    public init(element: XMLElement?) {
        guard let e = element else { return }
        for name in Self.fieldNames where name != "group_name" {
            if let t = e.childText(name), let v = UInt64(t), v != 0 { values[name] = v }
        }
        group = e.childText("group_name")
    }

    public func value(_ name: String) -> UInt64 { values[name] ?? 0 }

    public var hasAnyLimit: Bool { values.values.contains { $0 != 0 } }

    /// `<iotune>` with the limits set and the group (nil when there is nothing to write).
    public var element: XMLElement? {
        var kids: [XMLElement.Child] = []
        for name in Self.fieldNames {
            if name == "group_name" {
                if let group { kids.append(.element(XMLElement(name: name, children: [.text(group)]))) }
            } else if let v = values[name], v != 0 {
                kids.append(.element(XMLElement(name: name, children: [.text(String(v))])))
            }
        }
        return kids.isEmpty ? nil : XMLElement(name: "iotune", children: kids)
    }

    /// The 20 typed parameters of virDomainGetBlockIoTune.
    public var params: [TypedParam] {
        Self.fieldNames.map { f in
            f == "group_name" ? TypedParam(f, .string(group ?? "")) : TypedParam(f, .ullong(value(f)))
        }
    }

    /// virTypedParamsValidate's table for virDomainSetBlockIoTune (group_name a string, the rest ullong).
    public static var paramTypes: [String: Int32] {
        var t: [String: Int32] = [:]
        for n in fieldNames { t[n] = n == "group_name" ? 7 : 4 }
        return t
    }
}

extension Disk {
    /// The disk's `<iotune>`.
    public var ioTune: DiskIoTune {
        get { DiskIoTune(element: extra.first { $0.name == "iotune" }) }
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
