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
