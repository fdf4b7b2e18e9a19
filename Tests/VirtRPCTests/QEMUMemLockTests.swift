import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The locked-memory limit a domain's QEMU runs with, as libvirt 9.0 sets it: `<memoryBacking><locked/>` makes
/// QEMU lock all its memory (`-overcommit mem-lock=on`), which a QEMU running as an unprivileged user can only do
/// when the daemon raised its RLIMIT_MEMLOCK before exec: to `<memtune><hard_limit>` where set, else unlimited.
/// Without locking, the daemon's limit is inherited. Both daemons start the same domains; the QEMUs' limits
/// (/proc/PID/limits) must be the same, and the locked domains must start at all.
@Suite("QEMU locked memory: RLIMIT_MEMLOCK as libvirtd 9.0 sets it", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUMemLockTests {
    static let cases: [(name: String, extra: String)] = [
        ("mlk-locked", "<memoryBacking><locked/></memoryBacking>"),
        ("mlk-hard", "<memtune><hard_limit unit='MiB'>512</hard_limit></memtune><memoryBacking><locked/></memoryBacking>"),
        ("mlk-none", ""),
    ]

    static func xml(_ name: String, _ extra: String) -> String {
        "<domain type='qemu'><name>\(name)</name><memory unit='MiB'>64</memory>\(extra)<vcpu>1</vcpu>"
            + "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><memballoon model='none'/></devices></domain>"
    }

    /// The "Max locked memory" line of a process's limits.
    static func memLockLine(_ pid: Int32) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("Max locked memory") }
            .map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
    }

    /// Whether this process may raise its hard RLIMIT_MEMLOCK (CAP_SYS_RESOURCE in its bounding set; the daemons
    /// the test starts inherit it).
    static let canRaiseMemLock: Bool = {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16) else { return false }
        return mask & (1 << 24) != 0
    }()

    @Test("a locked domain's QEMU gets libvirtd's locked-memory limit (unlimited, the hard limit, inherited), or both daemons refuse it alike without CAP_SYS_RESOURCE")
    func memLockLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        for c in Self.cases {
            for dir in [ours.dir, ref.dir] {
                try Self.xml(c.name, c.extra).write(toFile: dir + "/\(c.name).xml", atomically: true, encoding: .utf8)
            }
            let o = try ours.virsh("create \(ours.dir)/\(c.name).xml")
            let r = try virsh(ref.uri, "create \(ref.dir)/\(c.name).xml")
            // Raising the limit needs CAP_SYS_RESOURCE: where the daemons lack it (a container), both refuse the
            // locked domains with libvirt's words; elsewhere both start them.
            // libvirtd appends the tail of QEMU's log to "Process exited prior to exec" only when its read of the
            // log wins a race with the child's write (CI saw both forms); ours always names the cause.
            func norm(_ text: String, _ dir: String) -> String {
                text.replacingOccurrences(of: dir, with: "DIR")
                    .replacingOccurrences(of: #"of process [0-9]+"#, with: "of process PID", options: .regularExpression)
                    .replacingOccurrences(of: #"Process exited prior to exec: [^\n]*"#, with: "Process exited prior to exec",
                                          options: .regularExpression)
            }
            if o.stderr.contains("Process exited prior to exec") {
                #expect(o.stderr.contains("cannot limit locked memory"), "\(c.name): \(o.stderr)")
            }
            #expect(norm(o.stderr, ours.dir) == norm(r.stderr, ref.dir),
                    "\(c.name):\n virtd    \(o.stderr)\n libvirtd \(r.stderr)")
            #expect(o.status == r.status, "\(c.name): virtd \(o.status), libvirtd \(r.status)")
            if c.extra.isEmpty || !Self.canRaiseMemLock {
                #expect(o.status == (c.extra.isEmpty || Self.canRaiseMemLock ? 0 : 1), "\(c.name): \(o.stderr)")
            }
            if o.status == 0 && r.status == 0 {
                let oursPID = QEMUDaemonSupport.pidFile(ours.dir, c.name)
                let all = ProcFS.qemuProcesses(whose: "cmdline", contains: "guest=\(c.name),")
                let refPIDs = all.filter { $0 != oursPID }
                #expect(oursPID != nil && all.contains(oursPID ?? -1), "\(c.name): no QEMU of virtd")
                #expect(refPIDs.count == 1, "\(c.name): QEMUs of libvirtd \(refPIDs)")
                let ol = oursPID.flatMap(Self.memLockLine), rl = refPIDs.first.flatMap(Self.memLockLine)
                #expect(ol != nil && ol == rl, "\(c.name): virtd's QEMU '\(ol ?? "-")', libvirtd's '\(rl ?? "-")'")
                switch c.name {
                case "mlk-locked": #expect(ol == "Max locked memory unlimited unlimited bytes", "\(ol ?? "-")")
                case "mlk-hard": #expect(ol == "Max locked memory 536870912 536870912 bytes", "\(ol ?? "-")")
                default: break
                }
            } else {
                #expect(o.stderr.contains("cannot limit locked memory of process"), "\(c.name): \(o.stderr)")
            }
            _ = try? ours.virsh("destroy \(c.name)")
            _ = try? virsh(ref.uri, "destroy \(c.name)")
        }
    }
}
