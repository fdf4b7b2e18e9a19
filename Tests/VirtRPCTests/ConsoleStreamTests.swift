import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// DOMAIN_OPEN_CONSOLE through virtd: Debian's virsh attaches to a TCG test guest's pty serial console over
/// the daemon's socket (driven through a pty by python3's `pty` module), sees the guest's boot marker, types
/// a command and reads its output, then leaves with ^].
@Suite(.serialized, .tags(.qemu)) struct ConsoleStreamTests {
    /// Runs `client -c URI console NAME` on a pty: waits for the banner, resumes the paused guest (argument 4
    /// "resume"; otherwise presses Enter on the running guest), waits for
    /// the marker, runs a command, sends ^]. Prints one `step ok|FAIL` line per step and the transcript.
    static let driver = #"""
    import os, pty, select, subprocess, sys, time
    uri, client, name, resume = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "resume"
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(client, [client, "-c", uri, "console", name])
    buf = b""
    seen = 0
    def until(marker, limit=120):
        # Looks for `marker` after the previous match, including output already read (one read may carry the
        # guest's marker and its prompt together).
        global buf, seen
        end = time.time() + limit
        while True:
            i = buf.find(marker, seen)
            if i >= 0:
                seen = i + len(marker)
                return True
            if time.time() >= end:
                return False
            r, _, _ = select.select([fd], [], [], 1)
            if r:
                try:
                    d = os.read(fd, 4096)
                except OSError:
                    return False
                if not d:
                    return False
                buf += d
    def step(label, ok):
        print(label, "ok" if ok else "FAIL", flush=True)
    step("banner", until(b"Escape character is ^] (Ctrl + ])"))
    if resume:
        subprocess.run([client, "-q", "-c", uri, "resume", name], check=False)
    else:
        os.write(fd, b"\r")
    step("ready", until(b"SWIFTVIRT-GUEST-READY"))
    step("prompt", until(b"# "))
    os.write(fd, b"echo SV-$((40+2))\r")
    step("echo", until(b"SV-42\r\n"))
    os.write(fd, b"\x1d")
    end = time.time() + 30
    status = None
    while time.time() < end:
        p, s = os.waitpid(pid, os.WNOHANG)
        if p == pid:
            status = s
            break
        time.sleep(0.2)
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    step("exit", status == 0)
    sys.stdout.write(buf.decode("utf-8", "replace"))
    """#

    static func guestXML(name: String) throws -> String {
        try QEMUDaemonSupport.guestXML(name: name, serial: "<serial type='pty'/>")
    }

    /// The pids in QEMU pid files under the daemon's root (to kill leftovers by PID).
    static func qemuPIDs(under root: String) -> [Int32] {
        guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [Int32] = []
        for case let rel as String in e where rel.hasSuffix(".pid") && !rel.hasSuffix("virtd.pid") {
            if let s = try? String(contentsOfFile: root + "/" + rel, encoding: .utf8),
               let p = Int32(s.trimmingCharacters(in: .whitespacesAndNewlines)), p > 0 {
                out.append(p)
            }
        }
        return out
    }

    @Test func virshConsoleThroughDaemon() async throws {
        try await Self.consoleThroughDaemon(client: "/usr/bin/virsh")
    }

    @Test func vshConsoleThroughDaemon() async throws {
        try await Self.consoleThroughDaemon(client: TestPaths.vsh)
    }

    static func consoleThroughDaemon(client: String) async throws {
        let xml = try Self.guestXML(name: "svcons")
        let daemon = try VirtdProcess()
        var qemu: [Int32] = []
        defer {
            for p in qemu + Self.qemuPIDs(under: daemon.dir) { kill(p, SIGKILL) }
            daemon.stop()
        }
        let uri = "qemu+unix:///system?socket=\(daemon.socket)"
        try xml.write(toFile: daemon.dir + "/g.xml", atomically: true, encoding: .utf8)
        try Self.driver.write(toFile: daemon.dir + "/console.py", atomically: true, encoding: .utf8)
        let def = try ChildProcess.run(["/usr/bin/virsh", "-c", uri, "define", daemon.dir + "/g.xml"])
        #expect(def.status == 0, "\(def.stderr)")
        let start = try ChildProcess.run(["/usr/bin/virsh", "-c", uri, "start", "--paused", "svcons"])
        #expect(start.status == 0, "\(start.stderr)")
        qemu = Self.qemuPIDs(under: daemon.dir)
        let r = try ChildProcess.run(["/usr/bin/python3", daemon.dir + "/console.py", uri, client, "svcons", "resume"],
                                     timeLimit: 300)
        for step in ["banner", "ready", "prompt", "echo", "exit"] {
            #expect(r.stdout.contains("\(step) ok"), "\(step): \(r.stdout) \(r.stderr)")
        }
        #expect(r.stdout.contains("Connected to domain 'svcons'"))
        let destroy = try ChildProcess.run(["/usr/bin/virsh", "-c", uri, "destroy", "svcons"])
        #expect(destroy.status == 0, "\(destroy.stderr)")
    }

    /// `vsh -c qemu:///embed?root=DIR console`: the local (embedded) driver, no daemon. The guest runs
    /// before the console attaches; the pty keeps its boot output.
    @Test func vshConsoleEmbedded() async throws {
        let xml = try Self.guestXML(name: "svlocal")
        let dir = try TestPaths.makeTempDir("embed", mode: 0o755)
        defer {
            for p in Self.qemuPIDs(under: dir) { kill(p, SIGKILL) }
            try? FileManager.default.removeItem(atPath: dir)
        }
        let uri = "qemu:///embed?root=\(dir)"
        try xml.write(toFile: dir + "/g.xml", atomically: true, encoding: .utf8)
        try Self.driver.write(toFile: dir + "/console.py", atomically: true, encoding: .utf8)
        // define probes the emulator's capabilities (a fresh root has no cache): generous on a loaded host.
        let def = try ChildProcess.run([TestPaths.vsh, "-c", uri, "define", dir + "/g.xml"], timeLimit: 240)
        #expect(def.status == 0, "\(def.stderr)")
        let start = try ChildProcess.run([TestPaths.vsh, "-c", uri, "start", "svlocal"], timeLimit: 240)
        #expect(start.status == 0, "\(start.stderr)")
        let r = try ChildProcess.run(["/usr/bin/python3", dir + "/console.py", uri, TestPaths.vsh, "svlocal", "running"],
                                     timeLimit: 300)
        for step in ["banner", "prompt", "echo", "exit"] {
            #expect(r.stdout.contains("\(step) ok"), "\(step): \(r.stdout) \(r.stderr)")
        }
        #expect(r.stdout.contains("Connected to domain 'svlocal'"))
        let destroy = try ChildProcess.run([TestPaths.vsh, "-c", uri, "destroy", "svlocal"])
        #expect(destroy.status == 0, "\(destroy.stderr)")
    }
}
