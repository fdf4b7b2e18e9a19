import Foundation
import Testing
import VirtTestSupport

/// Host information on the QEMU driver: libvirt 9.0's own QEMU driver (Debian's virsh on `qemu:///embed`) against
/// virtd (qemu:///system) through Debian's virsh and through vsh, on this machine. Every line must have the
/// same words; numbers that move between two reads (free memory, buffers, CPU times) may differ by 10%, the others
/// (CPU counts and map, memory totals, KSM tunables, model names, sysinfo, errors) must be equal.
@Suite("Host statistics on the QEMU driver: virtd vs libvirt 9.0", .tags(.qemu, .referenceLibvirtd))
struct HostStatsDifferentialTests {
    /// A command and whether its numbers may move between reads.
    struct Case: Sendable, CustomStringConvertible {
        var args: [String]
        var volatile: Bool
        var description: String { args.joined(separator: " ") }
    }

    static let cases: [Case] = [
        Case(args: ["nodecpumap"], volatile: false),
        Case(args: ["nodecpumap", "--pretty"], volatile: false),
        Case(args: ["nodecpustats"], volatile: true),
        Case(args: ["nodecpustats", "--cpu", "0"], volatile: true),
        Case(args: ["nodecpustats", "--cpu", "-1"], volatile: true),
        Case(args: ["nodecpustats", "--cpu", "4096"], volatile: false),
        Case(args: ["nodecpustats", "--cpu", "-2"], volatile: false),
        Case(args: ["nodememstats"], volatile: true),
        Case(args: ["nodememstats", "--cell", "0"], volatile: true),
        Case(args: ["nodememstats", "--cell", "4096"], volatile: false),
        Case(args: ["nodememstats", "--cell", "-2"], volatile: false),
        Case(args: ["freecell"], volatile: true),
        Case(args: ["freecell", "--all"], volatile: true),
        Case(args: ["freecell", "--cellno", "0"], volatile: true),
        Case(args: ["freecell", "--cellno", "4096"], volatile: false),
        Case(args: ["freecell", "--cellno", "-1"], volatile: false),
        Case(args: ["node-memory-tune"], volatile: true),
        Case(args: ["sysinfo"], volatile: false),
        Case(args: ["cpu-models", "x86_64"], volatile: false),
        Case(args: ["cpu-models", "ppc64le"], volatile: false),
        Case(args: ["cpu-models", "aarch64"], volatile: false),
        Case(args: ["cpu-models", "riscv64"], volatile: false),
        Case(args: ["cpu-models", "nosucharch"], volatile: false),
    ]

    /// Lines that must be equal word for word, except that numbers of a volatile command may differ by 10% of
    /// libvirt's (KSM's tunables are compared exactly: only the counters move).
    static func differences(_ ours: String, _ theirs: String, volatile: Bool) -> [String] {
        let a = ours.split(separator: "\n", omittingEmptySubsequences: false)
        let b = theirs.split(separator: "\n", omittingEmptySubsequences: false)
        guard a.count == b.count else { return ["\(a.count) lines vs libvirt's \(b.count)"] }
        var out: [String] = []
        for (la, lb) in zip(a, b) where la != lb {
            let wa = la.split(whereSeparator: \.isWhitespace)
            let wb = lb.split(whereSeparator: \.isWhitespace)
            let tunable = ["shm_pages_to_scan", "shm_sleep_millisecs", "shm_merge_across_nodes"].contains { lb.contains($0) }
            guard volatile, !tunable, wa.count == wb.count else {
                out.append("'\(la)' vs libvirt's '\(lb)'")
                continue
            }
            for (x, y) in zip(wa, wb) where x != y {
                guard let dx = Double(x), let dy = Double(y), abs(dx - dy) <= max(dy * 0.1, 1) else {
                    out.append("'\(la)' vs libvirt's '\(lb)'")
                    break
                }
            }
        }
        return out
    }

    @Test("virsh and vsh through virtd print what libvirt's QEMU driver prints, moving numbers within 10%")
    func sameAsLibvirt() throws {
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let root = try TestPaths.makeTempDir("hse", mode: 0o755)
        defer { TestPaths.removeDir(root) }
        let embed = "qemu:///embed?root=\(root)"
        for c in Self.cases {
            let theirs = try ChildProcess.run(["/usr/bin/virsh", "-c", embed] + c.args, timeLimit: 120)
            let viaVirsh = try daemon.virsh(args: c.args)
            let viaVsh = try daemon.virsh(args: c.args, client: TestPaths.vsh)
            for (who, ours) in [("virsh via virtd", viaVirsh), ("vsh via virtd", viaVsh)] {
                #expect(ours.status == theirs.status, "\(c) \(who): \(ours.stderr) vs libvirt's \(theirs.stderr)")
                #expect(ours.stderr == theirs.stderr, "\(c) \(who)")
                let diff = Self.differences(ours.stdout, theirs.stdout, volatile: c.volatile)
                #expect(diff.isEmpty, "\(c) \(who): \(diff)\nours:\n\(ours.stdout)\nlibvirt:\n\(theirs.stdout)")
            }
        }
    }

    /// python3-libvirt's getCPUMap (what `dom.vcpus()` sizes its maps with), getCPUStats, getMemoryStats,
    /// getMemoryParameters, getCellsFreeMemory and getCPUModelNames: the same keys and fixed values as libvirt's
    /// QEMU driver gives, and the same error codes and domains.
    @Test("python3-libvirt's host calls through virtd answer as libvirt's QEMU driver")
    func pythonAgreesWithLibvirt() throws {
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let root = try TestPaths.makeTempDir("hsp", mode: 0o755)
        defer { TestPaths.removeDir(root) }
        let script = """
            import sys, libvirt
            libvirt.virEventRegisterDefaultImpl()
            libvirt.registerErrorHandler(lambda *a: None, None)
            c = libvirt.open(sys.argv[1])
            print('cpumap', c.getCPUMap())
            print('cpustats', sorted(c.getCPUStats(-1).keys()), sorted(c.getCPUStats(0).keys()))
            m = c.getMemoryStats(-1)
            print('memstats', sorted(m.keys()), m['total'])
            m = c.getMemoryStats(0)
            print('cellstats', sorted(m.keys()), m['total'])
            p = c.getMemoryParameters()
            print('memparams', sorted(p.keys()), p['shm_pages_to_scan'], p['shm_sleep_millisecs'])
            print('cells', len(c.getCellsFreeMemory(0, 64)), c.getFreeMemory() > 0)
            print('models', c.getCPUModelNames('x86_64'), c.getCPUModelNames('s390x'))
            for f in (lambda: c.getCPUStats(4096), lambda: c.getMemoryStats(4096), lambda: c.getSysinfo(),
                      lambda: c.getCellsFreeMemory(4096, 1), lambda: c.getCPUModelNames('nosucharch')):
                try:
                    print('ok', f())
                except libvirt.libvirtError as e:
                    print('error', e.get_error_code(), e.get_error_domain(), e.get_error_message())
            """
        let theirs = try ChildProcess.run(["/usr/bin/python3", "-c", script, "qemu:///embed?root=\(root)"],
                                          timeLimit: 120)
        let ours = try ChildProcess.run(["/usr/bin/python3", "-c", script, daemon.uri], timeLimit: 120)
        #expect(theirs.status == 0, "\(theirs.stderr)")
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(ours.stdout == theirs.stdout, "ours:\n\(ours.stdout)\nlibvirt:\n\(theirs.stdout)")
        #expect(ours.stdout.contains("cpumap ("), "\(ours.stdout)")
    }
}
