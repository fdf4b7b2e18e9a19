import Foundation
import VirtCore

/// The end of a started disk's backing chain in the live XML: libvirt 9.0 detects each file or block disk's
/// chain at start and writes an empty `<backingStore/>` after the source of an image without a backing file
/// (raw, or qcow2 whose header names none). Images with a backing file are left as they are (the chain itself
/// is not modelled yet).
enum QEMUBackingChain {
    static func markChainEnds(_ disks: inout [Disk]) {
        for i in disks.indices where hasNoBackingFile(disks[i]) {
            disks[i].extra.append(XMLElement(name: "backingStore"))
        }
    }

    static func hasNoBackingFile(_ d: Disk) -> Bool {
        guard d.type == .file || d.type == .block, let path = d.source.path,
              !d.extra.contains(where: { $0.name == "backingStore" }) else { return false }
        switch d.driver.format {
        case .raw?:
            return access(path, F_OK) == 0
        case .qcow2?:
            // The qcow2 header: magic "QFI\xfb", version, then the backing file's offset (0: none).
            guard let h = FileHandle(forReadingAtPath: path) else { return false }
            defer { try? h.close() }
            guard let data = try? h.read(upToCount: 16), data.count == 16,
                  Array(data.prefix(4)) == [0x51, 0x46, 0x49, 0xFB] else { return false }
            return data[8..<16].allSatisfy { $0 == 0 }
        default:
            return false
        }
    }

    /// `def` without the empty chain ends (libvirt formats backing chains only in live XML, never in what a save
    /// image or a persistent definition carries).
    static func withoutChainEnds(_ def: DomainDefinition) -> DomainDefinition {
        var d = def
        for i in d.devices.disks.indices {
            d.devices.disks[i].extra.removeAll {
                $0.name == "backingStore" && ($0.children.isEmpty && $0.attributes.isEmpty || $0.attr("index") != nil)
            }
        }
        return d
    }
}

/// Backing chains of started disks, as libvirt 9.0 models them: each image below a disk's top one is a
/// `<backingStore type='file' index='N'>` (its format, its source, then the next one, ending in an empty
/// `<backingStore/>`) in the live XML, and a pair of `-blockdev` nodes `libvirt-N-storage`/`libvirt-N-format`
/// (read-only) on the command line. Node numbers count up from the last disk, the top image first, then its
/// backing images.
extension QEMUBackingChain {
    struct Layer: Equatable {
        var path: String
        var format: String
        /// N of `libvirt-N` (from the `index` attribute), nil before the numbers are given.
        var index: Int?
    }

    /// The images below the disk's top one, from its `<backingStore>` elements (those with a source).
    static func layers(_ d: Disk) -> [Layer] {
        var out: [Layer] = []
        var cur = d.extra.first { $0.name == "backingStore" }
        while let e = cur, let src = e.child("source")?.attr("file") ?? e.child("source")?.attr("dev") {
            out.append(Layer(path: src, format: e.child("format")?.attr("type") ?? "raw",
                             index: e.attr("index").flatMap { Int($0) }))
            cur = e.child("backingStore")
        }
        return out
    }

    /// The chain as `<backingStore>` elements (the innermost an empty one).
    static func element(_ layers: [Layer]) -> XMLElement {
        var inner = XMLElement(name: "backingStore")
        for l in layers.reversed() {
            var attrs: [(name: String, value: String)] = [("type", "file")]
            if let i = l.index { attrs.append(("index", String(i))) }
            inner = XMLElement(name: "backingStore", attributes: attrs, children: [
                .element(XMLElement(name: "format", attributes: [("type", l.format)])),
                .element(XMLElement(name: "source", attributes: [("file", l.path)])),
                .element(inner),
            ])
        }
        return inner
    }

    static func setLayers(_ layers: [Layer], of d: inout Disk) {
        d.extra.removeAll { $0.name == "backingStore" }
        d.extra.append(element(layers))
    }

    /// Each disk's node numbers: the top image's, then its backing images'. libvirt numbers the top images
    /// first, from the last disk, then the backing images, again from the last disk.
    static func nodeIndexes(_ disks: [Disk]) -> [[Int]] {
        var next = 1
        var out = Array(repeating: [Int](), count: disks.count)
        for i in disks.indices.reversed() {
            out[i] = [next]
            next += 1
        }
        for i in disks.indices.reversed() {
            let n = layers(disks[i]).count
            out[i] += Array(next..<(next + n))
            next += n
        }
        return out
    }

    /// Gives each chain image its node number (the `index` attribute).
    static func numberLayers(_ disks: inout [Disk]) {
        let idx = nodeIndexes(disks)
        for i in disks.indices {
            var ls = layers(disks[i])
            guard !ls.isEmpty else { continue }
            for j in ls.indices { ls[j].index = idx[i][j + 1] }
            setLayers(ls, of: &disks[i])
        }
    }

    /// libvirt's chain detection at start: the backing images of each qcow2 file disk whose header names one
    /// (`qemu-img info --backing-chain`), with their node numbers.
    static func detectChains(_ disks: inout [Disk], numbering: Bool = true) throws(VirtError) {
        for i in disks.indices {
            let d = disks[i]
            // An image passed as descriptors is not probed (libvirt does not look at it by path).
            guard d.type == .file, d.source.fdGroup == nil, d.driver.format == .qcow2, let path = d.source.path,
                  !d.extra.contains(where: { $0.name == "backingStore" }), !hasNoBackingFile(d),
                  access(path, R_OK) == 0 else { continue }
            let ls = try imageChain(path).dropFirst()
            if !ls.isEmpty { setLayers(Array(ls), of: &disks[i]) }
        }
        if numbering { numberLayers(&disks) }
    }

    /// The image and its backing images as qemu-img reads them.
    static func imageChain(_ path: String) throws(VirtError) -> [Layer] {
        guard let r = ChildCommand.run(["/usr/bin/qemu-img", "info", "-U", "--backing-chain", "--output=json", path]),
              r.status == 0,
              let v = try? JSONDecoder().decode(JSONValue.self, from: Data(r.stdout.utf8)),
              let list = v.arrayValue else {
            throw VirtError.internalError("cannot read the backing chain of '\(path)'", domain: .qemu)
        }
        return list.compactMap { e in
            guard let f = e["filename"]?.stringValue else { return nil }
            return Layer(path: f, format: e["format"]?.stringValue ?? "raw")
        }
    }
}
