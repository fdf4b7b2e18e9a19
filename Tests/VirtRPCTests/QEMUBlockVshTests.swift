import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// vsh's block commands (blockresize, blkdeviotune, blockcommit, blockpull, blockcopy, blockjob) against Debian's
/// virsh on the same virtd: the sequences of QEMUBlockTuneTests and QEMUBlockJobTests run once with each client on
/// fresh images; what each printed (stdout, stderr, status; virsh's progress lines aside), the disks' XML, the
/// events and the resulting images must be the same.
@Suite("vsh block commands vs Debian's virsh on virtd", .serialized, .tags(.qemu, .kvm, .root))
struct QEMUBlockVshTests {
    static func subdir(_ dir: String, _ name: String) throws -> String {
        let d = dir + "/" + name
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        chmod(d, 0o755)
        return d
    }

    static func vsh(_ uri: String, _ command: String) throws -> ChildProcess.Result {
        try ChildProcess.run([TestPaths.vsh, "-c", uri, command], timeLimit: 120)
    }

    @Test("blockresize and blkdeviotune: vsh prints what virsh prints")
    func tune() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let v = try QEMUBlockTuneTests.run(uri: ours.uri, dir: try Self.subdir(ours.dir, "virsh")) { try ours.virsh($0) }
        let s = try QEMUBlockTuneTests.run(uri: ours.uri, dir: try Self.subdir(ours.dir, "vsh")) { try Self.vsh(ours.uri, $0) }
        #expect(v.transcript.count == s.transcript.count)
        for (a, b) in zip(s.transcript, v.transcript) where a != b {
            Issue.record("vsh:\n\(a)\nvirsh:\n\(b)")
        }
        #expect(s.liveDisks == v.liveDisks && s.configDisks == v.configDisks)
        #expect(s.events == v.events, "vsh:\n\(s.events)\nvirsh:\n\(v.events)")
        #expect(s.sizes == v.sizes)
    }

    @Test("blockcommit, blockpull, blockcopy and blockjob: vsh prints what virsh prints, progress included")
    func jobs() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let v = try QEMUBlockJobTests.run(uri: ours.uri, dir: try Self.subdir(ours.dir, "virsh")) { try ours.virsh($0) }
        let s = try QEMUBlockJobTests.run(uri: ours.uri, dir: try Self.subdir(ours.dir, "vsh")) { try Self.vsh(ours.uri, $0) }
        #expect(v.transcript.count == s.transcript.count)
        for (a, b) in zip(s.transcript, v.transcript) where a != b {
            Issue.record("vsh:\n\(a)\nvirsh:\n\(b)")
        }
        for (i, (a, b)) in zip(s.xml, v.xml).enumerated() where a != b {
            Issue.record("XML \(i): vsh:\n\(a)\nvirsh:\n\(b)")
        }
        #expect(s.events == v.events, "vsh:\n\(s.events.joined(separator: "\n"))\nvirsh:\n\(v.events.joined(separator: "\n"))")
        #expect(s.chains == v.chains && s.data == v.data, "vsh: \(s.chains) \(s.data)\nvirsh: \(v.chains) \(v.data)")
        #expect(s.progress.contains("Block commit: [100 %]") && s.progress.contains("Block Pull: [100 %]"), "\(s.progress)")
    }
}
