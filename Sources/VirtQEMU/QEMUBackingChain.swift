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
            d.devices.disks[i].extra.removeAll { $0.name == "backingStore" && $0.children.isEmpty && $0.attributes.isEmpty }
        }
        return d
    }
}
