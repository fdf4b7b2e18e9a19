import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

@Suite struct QEMUProcessTests {
    @Test func terminateEscalatesToSIGKILL() async throws {
        let dir = try TestPaths.makeTempDir("proc")
        defer { TestPaths.removeDir(dir) }
        // A process that ignores SIGTERM (ignored signals stay ignored across exec).
        let p = try QEMUProcess.launch(ProcessLaunchSpec(
            binary: "/bin/sh", arguments: ["-c", "trap '' TERM; echo ready; exec sleep 3600"], logPath: dir + "/log"))
        defer { if p.exitWaiter.result == nil { kill(p.pid, SIGKILL) } }
        for _ in 0..<500 where p.logOutput() != "ready" {
            try await Task.sleep(for: .milliseconds(10))
        }
        try #require(p.logOutput() == "ready")
        #expect(QEMUProcess.isAlive(p.pid))
        let end = await p.terminate(grace: .milliseconds(300))
        #expect(end == .signaled(SIGKILL))
        #expect(!QEMUProcess.isAlive(p.pid))
        #expect(p.exitWaiter.result == .signaled(SIGKILL))
    }

    @Test func terminatePolitely() async throws {
        let dir = try TestPaths.makeTempDir("proc")
        defer { TestPaths.removeDir(dir) }
        let p = try QEMUProcess.launch(ProcessLaunchSpec(
            binary: "/bin/sleep", arguments: ["3600"], logPath: dir + "/log"))
        defer { if p.exitWaiter.result == nil { kill(p.pid, SIGKILL) } }
        #expect(await p.exitWaiter.wait(timeout: .milliseconds(50)) == nil)
        #expect(await p.terminate(grace: .seconds(30)) == .signaled(SIGTERM))
    }

    @Test func logAndEnvironment() async throws {
        let dir = try TestPaths.makeTempDir("proc")
        defer { TestPaths.removeDir(dir) }
        let p = try QEMUProcess.launch(ProcessLaunchSpec(
            binary: "/bin/sh", arguments: ["-c", "echo out; echo err >&2; echo LC_ALL=$LC_ALL; ls /proc/self/fd"],
            logPath: dir + "/log", environment: ["FOO=bar"]))
        defer { if p.exitWaiter.result == nil { kill(p.pid, SIGKILL) } }
        #expect(await p.exitWaiter.wait() == .exited(0))
        let out = p.logOutput()
        #expect(out.hasPrefix("out\nerr\nLC_ALL=C\n"))
        // Only stdin, stdout, stderr and ls's own directory descriptor are open.
        let fds = out.split(separator: "\n").dropFirst(3)
        #expect(fds.count == 4, "\(fds)")
        let log = LinuxSys.readFile(dir + "/log") ?? ""
        #expect(log.contains(": starting up\n"))
        #expect(log.contains("FOO=bar"))
    }

    /// A process started as another user: ids, supplementary groups, capabilities, signal state and umask
    /// are set in the child before exec, and the passed descriptors stay where they were put.
    @Test(.tags(.root)) func startsAsConfiguredUser() async throws {
        let dir = try TestPaths.makeTempDir("proc")
        defer { TestPaths.removeDir(dir) }
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        // The parent ignores SIGPIPE (as the daemon does) and blocks SIGUSR1: neither reaches the child.
        signal(SIGPIPE, SIG_IGN)
        var usr1 = sigset_t()
        sigemptyset(&usr1)
        sigaddset(&usr1, SIGUSR1)
        var old = sigset_t()
        pthread_sigmask(SIG_BLOCK, &usr1, &old)
        let creds = ProcessCredentials(uid: 4242, gid: 4343, groups: [4343, 5001, 5000])
        let launched = Result { () throws(VirtError) -> QEMUProcess in
            try QEMUProcess.launch(ProcessLaunchSpec(
                binary: "/bin/sh",
                arguments: ["-c", "echo passed >&3; ls /proc/self/fd | wc -l; umask; exec sleep 3600"],
                logPath: dir + "/log", passFDs: [fds[1]], credentials: creds, umask: 0o027))
        }
        pthread_sigmask(SIG_SETMASK, &old, nil)
        close(fds[1])
        let p = try launched.get()
        defer { if p.exitWaiter.result == nil { kill(p.pid, SIGKILL) } }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = read(fds[0], &buf, buf.count)
        #expect(n > 0 && String(decoding: buf.prefix(max(n, 0)), as: UTF8.self) == "passed\n")
        for _ in 0..<500 where QEMUProcess.executable(of: p.pid) != "/usr/bin/sleep" {
            try await Task.sleep(for: .milliseconds(10))
        }
        QEMUTestSupport.expectCredentials(of: p.pid, uid: 4242, gid: 4343, groups: [4343, 5000, 5001])
        let st = ProcFS.status(p.pid)
        #expect(st["SigIgn"] == "0000000000000000", "SigIgn: \(st["SigIgn"] ?? "-")")
        #expect(st["SigBlk"] == "0000000000000000", "SigBlk: \(st["SigBlk"] ?? "-")")
        #expect(st["Umask"] == "0027")
        // Its own session; stdin, stdout, stderr, fd 3 and ls's directory are all the shell's child had.
        #expect(getsid(p.pid) == p.pid)
        #expect(p.logOutput() == "5\n0027")
        #expect(await p.terminate(grace: .seconds(30)) == .signaled(SIGTERM))
    }

    /// A binary that cannot be executed (missing, or not executable by the user) fails the launch with the
    /// reason, and leaves no child behind (not even a zombie).
    @Test(.tags(.root)) func execFailureIsReportedAndReaped() async throws {
        let dir = try TestPaths.makeTempDir("proc")
        defer { TestPaths.removeDir(dir) }
        let rootOnly = dir + "/true"
        #expect(FileManager.default.createFile(atPath: rootOnly, contents: FileManager.default.contents(atPath: "/bin/true")))
        #expect(chmod(rootOnly, 0o700) == 0)
        let creds = ProcessCredentials(uid: 4242, gid: 4343, groups: [4343])
        let cases: [(String, ProcessCredentials?, String)] = [
            (dir + "/missing", nil, "cannot execute binary \(dir)/missing: No such file or directory"),
            (rootOnly, creds, "cannot execute binary \(rootOnly) as 4242:4343: Permission denied"),
        ]
        for (binary, credentials, message) in cases {
            do {
                let p = try QEMUProcess.launch(ProcessLaunchSpec(binary: binary, arguments: [], logPath: dir + "/log",
                                                                 credentials: credentials))
                kill(p.pid, SIGKILL)
                Issue.record("\(binary) started")
            } catch {
                #expect(error.message == message)
            }
        }
        // The same binary runs as root, which may execute it.
        let ok = try QEMUProcess.launch(ProcessLaunchSpec(binary: rootOnly, arguments: [], logPath: dir + "/log"))
        #expect(await ok.exitWaiter.wait() == .exited(0))
        // A failed child would be a zombie that never executed anything: it would still bear our own name.
        // (Children of concurrent tests bear it only for an instant, before their exec.)
        let me = ProcFS.status(getpid())["Name"]
        func leftovers() -> [pid_t] {
            OrphanReaper.zombieChildren().filter { ProcFS.status($0)["Name"] == me }
        }
        var left = leftovers()
        for _ in 0..<5 where !left.isEmpty {
            try await Task.sleep(for: .milliseconds(50))
            left = left.filter(leftovers().contains)
        }
        #expect(left.isEmpty, "zombie children left: \(left)")
    }

    /// The exit of a child that ends at once is collected by its own waiter (registered before the child
    /// can exit), not by the orphan reaper scanning concurrently.
    @Test(.tags(.root)) func immediateExitIsCollectedByItsWaiter() async throws {
        let dir = try TestPaths.makeTempDir("proc")
        defer { TestPaths.removeDir(dir) }
        let creds = ProcessCredentials(uid: 4242, gid: 4343, groups: [4343])
        for i in 0..<20 {
            let p = try QEMUProcess.launch(ProcessLaunchSpec(binary: "/bin/sh", arguments: ["-c", "exit \(i % 3)"],
                                                             logPath: dir + "/log", credentials: creds))
            OrphanReaper.reapOrphans()
            #expect(await p.exitWaiter.wait() == .exited(Int32(i % 3)))
        }
    }

    /// A process that is not our child (after a daemon restart): its end is still awaited (pidfd).
    @Test func attachToForeignProcess() async throws {
        let dir = try TestPaths.makeTempDir("proc")
        defer { TestPaths.removeDir(dir) }
        let parent = try QEMUProcess.launch(ProcessLaunchSpec(
            binary: "/bin/sh", arguments: ["-c", "sleep 3600 & echo $! > \(dir)/child.pid; wait"],
            logPath: dir + "/log"))
        defer { if parent.exitWaiter.result == nil { kill(parent.pid, SIGKILL) } }
        var childPid: pid_t = 0
        for _ in 0..<200 {
            if let s = LinuxSys.readFile(dir + "/child.pid"), let v = pid_t(s.trimmingCharacters(in: .whitespacesAndNewlines)) {
                childPid = v
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(childPid > 0)
        defer { ProcFS.kill(childPid, ifExecutable: "sleep") }
        let foreign = QEMUProcess.attach(pid: childPid, logPath: dir + "/log")
        #expect(foreign.exitWaiter.result == nil)
        kill(childPid, SIGTERM)
        #expect(await foreign.exitWaiter.wait() == .unknown)
        #expect(await parent.exitWaiter.wait() == .exited(0))
    }
}
