import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// virtd as a child subreaper: orphans of the QEMUs it starts are re-parented to it and reaped, while the
/// QEMUs' own exits still reach the driver (start and destroy work as usual).
@Suite("virtd reaps orphans", .serialized, .tags(.qemu, .kvm, .root))
struct DaemonReaperTests {
    /// Whether `pid` is still a `sleep 600` left by the test's wrapper.
    static func isOurSleep(_ pid: Int32) -> Bool {
        guard let d = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return d == Data("/bin/sleep\u{0}600\u{0}".utf8)
    }

    @Test("an orphan of a QEMU's wrapper is re-parented to virtd and reaped when it dies; no zombie is left")
    func orphansAreReaped() throws {
        let daemon = try VirtdProcess()
        defer { daemon.stop() }
        let dir = daemon.dir
        let orphans = dir + "/orphans"
        // The domain's emulator: a wrapper that leaves a background `sleep` behind (its subshell exits at
        // once, so the sleep is orphaned), then becomes QEMU.
        let wrapper = dir + "/qemu-wrapper"
        try """
        #!/bin/sh
        ( /bin/sleep 600 & echo $! >> '\(orphans)' )
        exec /usr/bin/qemu-system-x86_64 "$@"
        """.write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)
        let xml = """
        <domain type='kvm'><name>reaper</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='q35'>hvm</type></os>
        <devices><emulator>\(wrapper)</emulator></devices></domain>
        """
        try xml.write(toFile: dir + "/reaper.xml", atomically: true, encoding: .utf8)
        let uri = "qemu+unix:///system?socket=\(daemon.socket)"
        var orphanPIDs: [Int32] = []
        // Only a pid that is still the wrapper's `sleep` is killed (a reaped pid may have been reused).
        defer { for p in orphanPIDs where Self.isOurSleep(p) { kill(p, SIGKILL) } }

        let started = try virsh(uri, "define \(dir)/reaper.xml; start reaper; domstate reaper")
        #expect(started.status == 0, "\(started.stderr)")
        #expect(started.stdout.contains("running"))
        orphanPIDs = ((try? String(contentsOfFile: orphans, encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { Int32($0) }
        #expect(!orphanPIDs.isEmpty, "the wrapper left no orphan")

        for pid in orphanPIDs {
            // Re-parented to the daemon (a child subreaper), not to PID 1.
            let adopted = eventually(20) { ProcFS.parentAndState(pid)?.0 == daemon.pid }
            #expect(adopted, "orphan \(pid) not adopted")
            if !adopted {
                if Self.isOurSleep(pid) { kill(pid, SIGKILL) }
                continue
            }
            kill(pid, SIGKILL)
            // Reaped: the pid disappears instead of staying a zombie of the daemon.
            #expect(eventually(20) { ProcFS.parentAndState(pid) == nil }, "orphan \(pid) left as a zombie")
        }

        // The QEMU's own exit still reaches the driver: destroy completes and the domain is shut off.
        let stopped = try virsh(uri, "destroy reaper; domstate reaper; start reaper; destroy reaper; undefine reaper")
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(stopped.stdout.contains("shut off"))
        #expect(eventually(20) { ProcFS.zombieChildren(of: daemon.pid).isEmpty },
                "zombies left: \(ProcFS.zombieChildren(of: daemon.pid))")
        // The second start's orphan too.
        let all = ((try? String(contentsOfFile: orphans, encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { Int32($0) }
        for pid in all where !orphanPIDs.contains(pid) {
            orphanPIDs.append(pid)
            let adopted = eventually(20) { ProcFS.parentAndState(pid)?.0 == daemon.pid }
            #expect(adopted, "orphan \(pid) not adopted")
            if !adopted {
                if Self.isOurSleep(pid) { kill(pid, SIGKILL) }
                continue
            }
            kill(pid, SIGKILL)
            #expect(eventually(20) { ProcFS.parentAndState(pid) == nil }, "orphan \(pid) left as a zombie")
        }
    }

    @Test("QEMU security keys of virtd.conf reach the driver: an unknown user stops the daemon at start")
    func securityConfigIsApplied() throws {
        for conf in ["user = \"no-such-user-swiftvirt\"\n", "security_driver = \"selinux\"\n"] {
            let dir = try TestPaths.makeTempDir("virtd-badsec", mode: 0o755)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
            try conf.write(toFile: dir + "/etc/virtd.conf", atomically: true, encoding: .utf8)
            let p = try ChildProcess.spawn([TestPaths.virtd, "--root", dir])
            defer { p.terminate() }
            #expect(eventually(20) { !p.isRunning }, "virtd kept running with \(conf)")
            #expect(p.waitStatus.map { $0 != 0 } == true, "\(conf)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/run/virtd.pid"))
        }
        // A valid user: the domain's QEMU is started as that user (DAC driver on), visible in /proc. Debian's
        // libvirt-qemu (libvirt-daemon-system) reaches /dev/kvm through its group kvm.
        let qemuUID = try #require(TestHost.user("libvirt-qemu")?.uid, "no libvirt-qemu user")
        let daemon = try VirtdProcess(config: "user = \"libvirt-qemu\"\ndynamic_ownership = 0\n")
        defer { daemon.stop() }
        let xml = """
        <domain type='kvm'><name>asuser</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='q35'>hvm</type></os></domain>
        """
        try xml.write(toFile: daemon.dir + "/asuser.xml", atomically: true, encoding: .utf8)
        let uri = "qemu+unix:///system?socket=\(daemon.socket)"
        let r = try virsh(uri, "create \(daemon.dir)/asuser.xml; domstate asuser")
        defer { _ = try? virsh(uri, "destroy asuser") }
        #expect(r.status == 0, "\(r.stderr)")
        guard let pidText = try? String(contentsOfFile: daemon.dir + "/run/qemu/asuser.pid", encoding: .utf8),
              let pid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            Issue.record("no pid file for asuser under \(daemon.dir)/run/qemu")
            return
        }
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let uidLine = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map(String.init) ?? ""
        #expect(uidLine.split(separator: "\t").dropFirst().first == "\(qemuUID)", "\(uidLine)")
    }
}
