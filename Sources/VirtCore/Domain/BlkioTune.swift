/// `<blkiotune>`: the block I/O weight and per-device weights and throttles.
public struct BlkioTune: Sendable, Hashable {
    public var weight: UInt32?
    public var devices: [Device] = []

    /// One `<device>`: a path and its values (0: not set).
    public struct Device: Sendable, Hashable {
        public var path: String
        public var weight: UInt64 = 0
        public var readIops: UInt64 = 0
        public var writeIops: UInt64 = 0
        public var readBytes: UInt64 = 0
        public var writeBytes: UInt64 = 0

        public init(path: String) { self.path = path }

        public var isEmpty: Bool { weight == 0 && readIops == 0 && writeIops == 0 && readBytes == 0 && writeBytes == 0 }
    }

    public init() {}

    init(element e: XMLElement) {
        weight = e.child("weight").flatMap { UInt32($0.text.trimmingSpaces) }
        for d in e.children("device") {
            guard let path = d.child("path")?.text.trimmingSpaces else { continue }
            var dev = Device(path: path)
            func v(_ n: String) -> UInt64 { d.child(n).flatMap { UInt64($0.text.trimmingSpaces) } ?? 0 }
            dev.weight = v("weight")
            dev.readIops = v("read_iops_sec")
            dev.writeIops = v("write_iops_sec")
            dev.readBytes = v("read_bytes_sec")
            dev.writeBytes = v("write_bytes_sec")
            devices.append(dev)
        }
    }

    var element: XMLElement? {
        var kids: [XMLElement.Child] = []
        if let weight { kids.append(.element(XMLElement(name: "weight", children: [.text(String(weight))]))) }
        for d in devices where !d.isEmpty {
            var dk: [XMLElement.Child] = [.element(XMLElement(name: "path", children: [.text(d.path)]))]
            for (n, v) in [("weight", d.weight), ("read_iops_sec", d.readIops), ("write_iops_sec", d.writeIops),
                           ("read_bytes_sec", d.readBytes), ("write_bytes_sec", d.writeBytes)] where v != 0 {
                dk.append(.element(XMLElement(name: n, children: [.text(String(v))])))
            }
            kids.append(.element(XMLElement(name: "device", children: dk)))
        }
        return kids.isEmpty ? nil : XMLElement(name: "blkiotune", children: kids)
    }
}

extension BlkioTune {
    /// The device parameters of `virDomainGetBlkioParameters`, in libvirt's order.
    public static let deviceFields = ["device_weight", "device_read_iops_sec", "device_write_iops_sec",
                                      "device_read_bytes_sec", "device_write_bytes_sec"]

    private static func keyPath(_ field: String) -> WritableKeyPath<Device, UInt64> {
        switch field {
        case "device_weight": \.weight
        case "device_read_iops_sec": \.readIops
        case "device_write_iops_sec": \.writeIops
        case "device_read_bytes_sec": \.readBytes
        default: \.writeBytes
        }
    }

    /// `path,value,path,value` of the devices with a value of parameter `field`.
    public func devicesString(_ field: String) -> String {
        let k = Self.keyPath(field)
        return devices.compactMap { $0[keyPath: k] == 0 ? nil : "\($0.path),\($0[keyPath: k])" }.joined(separator: ",")
    }

    /// libvirt's virDomainDriverParseBlkioDeviceStr: `path,value,…` of parameter `field`.
    public static func parseDevices(_ field: String, _ text: String) throws(VirtError) -> [(String, UInt64)] {
        let f = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !text.isEmpty, f.count % 2 == 0 else {
            throw VirtError.invalidArg("unable to parse blkio device '\(field)' '\(text)'", domain: .domain)
        }
        var out: [(String, UInt64)] = []
        var i = 0
        while i < f.count {
            guard let v = UInt64(f[i + 1]) else {
                throw VirtError.invalidArg("invalid value '\(f[i + 1])' for parameter '\(field)' of device '\(f[i])'",
                                           domain: .domain)
            }
            out.append((f[i], v))
            i += 2
        }
        return out
    }

    /// Sets parameter `field` of each device (a device not yet listed is added); devices left with no value go.
    public mutating func merge(_ field: String, _ values: [(String, UInt64)]) {
        let k = Self.keyPath(field)
        for (path, v) in values {
            if let i = devices.firstIndex(where: { $0.path == path }) {
                devices[i][keyPath: k] = v
            } else if v != 0 {
                var d = Device(path: path)
                d[keyPath: k] = v
                devices.append(d)
            }
        }
        devices.removeAll { $0.isEmpty }
    }
}

extension DomainDefinition {
    /// `<blkiotune>`.
    public var blkiotune: BlkioTune? {
        get { extraElements.first { $0.name == "blkiotune" }.map(BlkioTune.init(element:)) }
        set {
            let el = newValue?.element
            if let i = extraElements.firstIndex(where: { $0.name == "blkiotune" }) {
                if let el { extraElements[i] = el } else { extraElements.remove(at: i) }
            } else if let el {
                extraElements.append(el)
            }
        }
    }

    /// `<resource><partition>` of the definition, if any.
    public var resourcePartition: String? {
        get { extraElements.first { $0.name == "resource" }?.child("partition")?.text }
        set {
            extraElements.removeAll { $0.name == "resource" }
            if let p = newValue {
                extraElements.append(XMLElement(name: "resource", children: [
                    .element(XMLElement(name: "partition", children: [.text(p)]))]))
            }
        }
    }
}

extension CPUTune {
    /// A numeric child kept in ``other`` (`global_period`, `emulator_quota`, …).
    public func value(_ name: String) -> Int64? {
        other.first { $0.name == name }.flatMap { Int64($0.text.trimmingSpaces) }
    }

    public mutating func setValue(_ name: String, _ v: Int64?) {
        other.removeAll { $0.name == name }
        if let v { other.append(XMLElement(name: name, children: [.text(String(v))])) }
    }
}
