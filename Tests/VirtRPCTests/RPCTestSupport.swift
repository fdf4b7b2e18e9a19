import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the VirtRPC suites: paths, processes, daemons.
enum RPCTestSupport {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The built `virtd` next to the test bundle (SwiftPM puts products in one directory).
    static var virtdPath: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<3 {
            let p = dir.appendingPathComponent("virtd").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
            dir = dir.deletingLastPathComponent()
        }
        return repoRoot.appendingPathComponent(".build/debug/virtd").path
    }

    static func tempDir(_ tag: String) -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvirt-rpc-\(tag)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        return base.path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a command to completion (killed after `timeout` seconds so a hang fails the test, not the run).
    static func run(_ exe: String, _ args: [String], env: [String: String]? = nil, input: String? = nil,
                    timeout: Double = 60) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        if let env {
            var e = ProcessInfo.processInfo.environment
            for (k, v) in env { e[k] = v }
            p.environment = e
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try? inPipe.fileHandleForWriting.close()
        let pid = p.processIdentifier
        let killer = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let outBox = DataBox()
        let g = DispatchGroup()
        g.enter()
        let outHandle = out.fileHandleForReading
        DispatchQueue.global().async {
            outBox.data = outHandle.readDataToEndOfFile()
            g.leave()
        }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        g.wait()
        let outData = outBox.data
        p.waitUntilExit()
        killer.cancel()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Waits for a path to appear (daemon start-up), up to `seconds`.
    static func waitFor(path: String, seconds: Double = 20) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if FileManager.default.fileExists(atPath: path) { return true }
            usleep(20_000)
        }
        return false
    }

    /// Ends a process this test started: SIGTERM to `signalPID`, then SIGKILL after 5 s, and waits for
    /// `process` to exit.
    static func terminate(_ process: Process, signalPID: Int32) {
        guard process.isRunning else { return }
        kill(signalPID, SIGTERM)
        let end = Date().addingTimeInterval(5)
        while process.isRunning && Date() < end { usleep(20_000) }
        if process.isRunning {
            kill(signalPID, SIGKILL)
            if signalPID != process.processIdentifier {
                let end2 = Date().addingTimeInterval(2)
                while process.isRunning && Date() < end2 { usleep(20_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
        }
        process.waitUntilExit()
    }

    /// Resident set size of a process in KiB.
    static func rssKiB(_ pid: Int32) -> Int {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return -1 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
        }
        return -1
    }
}

/// A running daemon (ours or the reference) owned by a test; `stop()` ends exactly the process it started.
protocol TestDaemon: AnyObject {
    var socket: String { get }
    var readOnlySocket: String { get }
    var pid: Int32 { get }
    var dir: String { get }
    func stop()
}

extension TestDaemon {
    /// `test+unix:///default?socket=…`.
    var testURI: String { "test+unix:///default?socket=\(socket)" }
    var readOnlyTestURI: String { "test+unix:///default?socket=\(readOnlySocket)" }
}

/// Our daemon under `--root DIR`.
final class VirtdProcess: TestDaemon {
    let dir: String
    private var process: SpawnedProcess?
    var socket: String { dir + "/run/virtd-sock" }
    var readOnlySocket: String { dir + "/run/virtd-sock-ro" }
    var pid: Int32 { process?.pid ?? -1 }

    init(config: String = "", extraArgs: [String] = []) throws {
        dir = RPCTestSupport.tempDir("virtd")
        try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
        try ("log_level = 3\n" + config).write(toFile: dir + "/etc/virtd.conf", atomically: true, encoding: .utf8)
        process = try SpawnedProcess(RPCTestSupport.virtdPath, ["--root", dir] + extraArgs)
        guard RPCTestSupport.waitFor(path: dir + "/run/virtd.pid") else {
            stop()
            throw DaemonError.notStarted("virtd")
        }
    }

    /// The TCP port from the log ("tcp port N").
    var tcpPort: Int? {
        guard let log = try? String(contentsOfFile: dir + "/log/virtd.log", encoding: .utf8) else { return nil }
        for line in log.split(separator: "\n") {
            if let r = line.range(of: "tcp port ") { return Int(line[r.upperBound...]) }
        }
        return nil
    }

    func stop() {
        process?.terminate()
        process = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// SIGTERM and wait; returns the wait status, and leaves the directory for inspection.
    func terminateKeepingFiles() -> Int32? {
        process?.terminate()
        let s = process?.waitStatus
        process = nil
        return s
    }

    deinit { stop() }
}

/// Debian's libvirtd, under `tini -s`, with its own config and sockets in a temp dir.
final class ReferenceLibvirtd: TestDaemon {
    let dir: String
    private var process: SpawnedProcess?
    var socket: String { dir + "/libvirt-sock" }
    var readOnlySocket: String { dir + "/libvirt-sock-ro" }
    /// libvirtd's own pid (tini's child), from its pid file.
    var pid: Int32 {
        Int32((try? String(contentsOfFile: dir + "/pid", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? (process?.pid ?? -1)
    }

    /// `privateDomainConfig`: a tmpfs over /etc/libvirt/qemu too, for tests that define domains (libvirtd keeps
    /// persistent definitions there).
    /// `namespaceSetup`: shell commands run in the daemon's mount namespace before it starts (each ending
    /// with `;` or `&&`), e.g. mounts that give it other firmware descriptors or another qemu.conf.
    init(privateDomainConfig: Bool = false, namespaceSetup: String = "") throws {
        dir = RPCTestSupport.tempDir("libvirtd")
        let conf = """
        unix_sock_dir = "\(dir)"
        auth_unix_rw = "none"
        auth_unix_ro = "none"
        listen_tcp = 0
        listen_tls = 0
        log_outputs = "3:file:\(dir)/libvirtd.log"

        """
        try conf.write(toFile: dir + "/libvirtd.conf", atomically: true, encoding: .utf8)
        // A private mount namespace with its own /run/libvirt and /var/lib/libvirt, so that several reference
        // daemons (parallel suites, other test runs) do not fight over libvirtd's driver pid files and state.
        let etc = privateDomainConfig ? "mount -t tmpfs tmpfs /etc/libvirt/qemu && " : ""
        // /run/libvirt may not exist yet on a fresh host (libvirtd creates it 0755).
        let inner = "mkdir -p -m 0755 /run/libvirt && mount -t tmpfs tmpfs /run/libvirt && "
            + "mount -t tmpfs tmpfs /var/lib/libvirt && " + etc + namespaceSetup + " "
            + "exec /usr/bin/tini -s -- "
            + "/usr/sbin/libvirtd -f '\(dir)/libvirtd.conf' -p '\(dir)/pid'"
        process = try SpawnedProcess("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", inner],
                                     output: dir + "/stderr.log")
        guard RPCTestSupport.waitFor(path: socket), RPCTestSupport.waitFor(path: dir + "/pid") else {
            stop()
            throw DaemonError.notStarted("libvirtd")
        }
    }

    func stop() {
        // libvirtd is tini's only child; signal it by its own pid (from its pid file), tini then exits.
        process?.terminate(signalPID: pid)
        process = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    deinit { stop() }
}

enum DaemonError: Error {
    case notStarted(String)
}

/// Runs Debian's virsh.
func virsh(_ uri: String, _ commands: String, timeout: Double = 60) throws -> RPCTestSupport.Result {
    try RPCTestSupport.run("/usr/bin/virsh", ["-c", uri, commands], timeout: timeout)
}

final class DataBox: @unchecked Sendable {
    var data = Data()
}
