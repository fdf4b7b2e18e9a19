import Foundation
import Testing
import VirtTestSupport

/// Every storage XML input of libvirt's own tests (storagepoolxml2xmlin, storagevolxml2xmlin, kept under
/// VirtCoreTests' resources) defined through vsh and through Debian's virsh on `test:///default`: pools with
/// `pool-define` + `pool-dumpxml`, volumes with `vol-create` + `vol-dumpxml` + `vol-info` in a dir, a logical and a
/// disk pool. Output and errors must be byte for byte the same.
@Suite struct StorageInputsDifferentialTests {
    static let base = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../VirtCoreTests/Resources/conformance/libvirt-9.6.0").standardized

    static func inputs(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: base.appendingPathComponent(dir).path)
            .filter { $0.hasSuffix(".xml") }.sorted()
    }

    /// The first `<name>` of a file (a pool's or volume's name; libvirt takes a logical pool's from its source).
    static func firstName(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let open = text.range(of: "<name>"),
              let close = text.range(of: "</name>", range: open.upperBound..<text.endIndex) else { return "none" }
        return String(text[open.upperBound..<close.lowerBound])
    }

    /// The output with the UUID line of `pool-info` blanked (pools defined without one get a random UUID).
    static func normalized(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("UUID:") ? "UUID:" : String($0) }.joined(separator: "\n")
    }

    static func compare(_ env: VshEnvironment, _ line: String) throws -> String? {
        var a = try ChildProcess.run([env.virsh, "-c", "test:///default", line], timeLimit: 60)
        var b = try ChildProcess.run([env.vsh, "-c", "test:///default", line], timeLimit: 60)
        a.stdout = normalized(a.stdout)
        b.stdout = normalized(b.stdout)
        if a.stdout == b.stdout && a.stderr == b.stderr && a.status == b.status { return nil }
        return "virsh:\n\(a.stdout)\(a.stderr)\nvsh:\n\(b.stdout)\(b.stderr)"
    }

    @Test func poolInputs() throws {
        let env = try VshEnvironment.shared()
        let dir = Self.base.appendingPathComponent("storagepoolxml2xmlin").path
        var differ: [String] = []
        let files = try Self.inputs("storagepoolxml2xmlin")
        for f in files {
            let path = dir + "/" + f
            if let d = try Self.compare(env, "pool-define \(path); pool-dumpxml \(try Self.firstName(path))") {
                differ.append("\(f): \(d)")
            }
        }
        print("storage pool inputs: \(files.count - differ.count)/\(files.count) the same through vsh and virsh")
        #expect(files.count == 39)
        #expect(differ.isEmpty, "\(differ.joined(separator: "\n"))")
    }

    static let pools = [
        "default-pool": "",
        "lv": "pool-define-as lv logical --source-dev /dev/sdz --source-name lv; pool-start lv; ",
        "dk": "pool-define-as dk disk --source-dev /dev/sdy --target /dev; pool-start dk; ",
    ]

    @Test func volumeInputs() throws {
        let env = try VshEnvironment.shared()
        let dir = Self.base.appendingPathComponent("storagevolxml2xmlin").path
        var differ: [String] = []
        let files = try Self.inputs("storagevolxml2xmlin")
        for (pool, setup) in Self.pools.sorted(by: { $0.key < $1.key }) {
            for f in files {
                let path = dir + "/" + f
                let name = try Self.firstName(path)
                let line = setup + "vol-create \(pool) \(path); vol-dumpxml --pool \(pool) \(name); "
                    + "vol-info --pool \(pool) \(name); vol-list \(pool) --details; pool-info \(pool)"
                if let d = try Self.compare(env, line) { differ.append("\(pool) \(f): \(d)") }
            }
        }
        let total = files.count * Self.pools.count
        print("storage volume inputs: \(total - differ.count)/\(total) the same through vsh and virsh")
        #expect(files.count == 26)
        #expect(differ.isEmpty, "\(differ.joined(separator: "\n"))")
    }
}
