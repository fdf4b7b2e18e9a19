import Foundation
import VirtCore

/// Relative backing names (libvirt's `relPath` of each backing image and virStorageSourceGetRelativeBackingPath),
/// for block commit and block pull with VIR_DOMAIN_BLOCK_COMMIT_RELATIVE / VIR_DOMAIN_BLOCK_REBASE_RELATIVE: the
/// image that ends up above the base gets a backing string relative to it, made from the strings the images'
/// headers hold now.
extension QEMUBackingChain {
    /// The backing string each image's header holds, top image first (nil: none), as `qemu-img info` reads it.
    static func backingStrings(_ path: String) throws(VirtError) -> [String?] {
        guard let r = ChildCommand.run(["/usr/bin/qemu-img", "info", "-U", "--backing-chain", "--output=json", path]),
              r.status == 0,
              let v = try? JSONDecoder().decode(JSONValue.self, from: Data(r.stdout.utf8)),
              let list = v.arrayValue else {
            throw VirtError.internalError("cannot read the backing chain of '\(path)'", domain: .qemu)
        }
        return list.map { $0["backing-filename"]?.stringValue }
    }

    /// The relative name of the image at chain position `to` seen from the image above position `from`
    /// (positions: 0 the top image, 1 its backing image, ...): the relative backing strings of the images
    /// `from`...`to` joined, each taken relative to the directory of the one before. Nil when one of them was
    /// written as an absolute name (libvirt keeps no relative relationship then).
    static func relativeName(strings: [String?], from: Int, to: Int) -> String? {
        guard from >= 1, to >= from, to <= strings.count else { return nil }
        var path = ""
        for pos in from...to {
            // The name of image `pos` is in the header of the image above it.
            guard let rel = strings[pos - 1], !rel.hasPrefix("/"), !rel.contains("://") else {
                return nil
            }
            let dir = path.lastIndex(of: "/").map { String(path[...$0]) } ?? ""
            path = dir + rel
        }
        return path
    }
}
