import Foundation
import Testing
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

@Suite struct QEMUProcessTests {
    @Test func terminateEscalatesToSIGKILL() async throws {
        let dir = try QEMUTestSupport.makeTempDir("proc")
        defer { QEMUTestSupport.removeDir(dir) }
        // A process that ignores SIGTERM (ignored signals stay ignored across exec).
        let p = try QEMUProcess.launch(ProcessLaunchSpec(
            binary: "/bin/sh", arguments: ["-c", "trap '' TERM; echo ready; exec sleep 300"], logPath: dir + "/log"))
        defer { kill(p.pid, SIGKILL) }
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
        let dir = try QEMUTestSupport.makeTempDir("proc")
        defer { QEMUTestSupport.removeDir(dir) }
        let p = try QEMUProcess.launch(ProcessLaunchSpec(
            binary: "/bin/sleep", arguments: ["300"], logPath: dir + "/log"))
        defer { kill(p.pid, SIGKILL) }
        #expect(await p.exitWaiter.wait(timeout: .milliseconds(50)) == nil)
        #expect(await p.terminate(grace: .seconds(30)) == .signaled(SIGTERM))
    }

    @Test func logAndEnvironment() async throws {
        let dir = try QEMUTestSupport.makeTempDir("proc")
        defer { QEMUTestSupport.removeDir(dir) }
        let p = try QEMUProcess.launch(ProcessLaunchSpec(
            binary: "/bin/sh", arguments: ["-c", "echo out; echo err >&2; echo LC_ALL=$LC_ALL; ls /proc/self/fd"],
            logPath: dir + "/log", environment: ["FOO=bar"]))
        defer { kill(p.pid, SIGKILL) }
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

    /// A process that is not our child (after a daemon restart): its end is still awaited (pidfd).
    @Test func attachToForeignProcess() async throws {
        let dir = try QEMUTestSupport.makeTempDir("proc")
        defer { QEMUTestSupport.removeDir(dir) }
        let parent = try QEMUProcess.launch(ProcessLaunchSpec(
            binary: "/bin/sh", arguments: ["-c", "sleep 300 & echo $! > \(dir)/child.pid; wait"],
            logPath: dir + "/log"))
        defer { kill(parent.pid, SIGKILL) }
        var childPid: pid_t = 0
        for _ in 0..<200 {
            if let s = LinuxSys.readFile(dir + "/child.pid"), let v = pid_t(s.trimmingCharacters(in: .whitespacesAndNewlines)) {
                childPid = v
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(childPid > 0)
        defer { kill(childPid, SIGKILL) }
        let foreign = QEMUProcess.attach(pid: childPid, logPath: dir + "/log")
        #expect(foreign.exitWaiter.result == nil)
        kill(childPid, SIGTERM)
        #expect(await foreign.exitWaiter.wait() == .unknown)
        #expect(await parent.exitWaiter.wait() == .exited(0))
    }
}
