import Foundation
import Testing
import VirtTestSupport

/// `virsh nodeinfo` on the QEMU driver: Debian's virsh against virtd (qemu:///system) and against libvirt 9.0's
/// own QEMU driver (virsh's embedded `qemu:///embed`), on this machine. Every field equal but the CPU frequency,
/// which may move between two reads (within 10%).
@Suite("nodeinfo on the QEMU driver: virtd vs libvirt 9.0", .tags(.qemu, .referenceLibvirtd))
struct NodeInfoDifferentialTests {
    static func fields(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let c = line.firstIndex(of: ":") else { continue }
            out[String(line[..<c])] = line[line.index(after: c)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    @Test("virsh nodeinfo through virtd equals libvirt's, CPU frequency within 10%")
    func sameAsLibvirt() throws {
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let ours = try daemon.virsh("nodeinfo")
        #expect(ours.status == 0, "\(ours.stderr)")
        let root = try TestPaths.makeTempDir("nie", mode: 0o755)
        defer { TestPaths.removeDir(root) }
        let theirs = try ChildProcess.run(["/usr/bin/virsh", "-c", "qemu:///embed?root=\(root)", "nodeinfo"],
                                          timeLimit: 120)
        #expect(theirs.status == 0, "\(theirs.stderr)")
        var a = Self.fields(ours.stdout)
        var b = Self.fields(theirs.stdout)
        #expect(a.count == 8, "\(ours.stdout)")
        let mhzA = Double(a.removeValue(forKey: "CPU frequency")?.split(separator: " ").first ?? "") ?? 0
        let mhzB = Double(b.removeValue(forKey: "CPU frequency")?.split(separator: " ").first ?? "") ?? 0
        #expect(a == b, "ours:\n\(ours.stdout)\nlibvirt:\n\(theirs.stdout)")
        #expect(mhzB > 0 && abs(mhzA - mhzB) <= mhzB * 0.1, "\(mhzA) vs \(mhzB)")
    }
}
