import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

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
    private var process: ChildProcess?
    var socket: String { dir + "/run/virtd-sock" }
    var readOnlySocket: String { dir + "/run/virtd-sock-ro" }
    var pid: Int32 { process?.pid ?? -1 }

    init(config: String = "", extraArgs: [String] = []) throws {
        dir = try TestPaths.makeTempDir("virtd", mode: 0o755)
        try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
        try ("log_level = 3\n" + config).write(toFile: dir + "/etc/virtd.conf", atomically: true, encoding: .utf8)
        process = try ChildProcess.spawn([TestPaths.virtd, "--root", dir] + extraArgs)
        guard waitFor(path: dir + "/run/virtd.pid") else {
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
    private var process: ChildProcess?
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
    /// `prefix`: words before the daemon's argv (e.g. `ip netns exec NS` to run it in a network namespace).
    init(privateDomainConfig: Bool = false, namespaceSetup: String = "", prefix: [String] = []) throws {
        dir = try TestPaths.makeTempDir("libvirtd", mode: 0o755)
        try ReferenceLibvirtd.writeConfig(dir: dir)
        // A private mount namespace with its own /run/libvirt and /var/lib/libvirt, so that several reference
        // daemons (parallel suites, other test runs) do not fight over libvirtd's driver pid files and state.
        let etc = privateDomainConfig ? "mount -t tmpfs tmpfs /etc/libvirt/qemu && " : ""
        // /run/libvirt may not exist yet on a fresh host (libvirtd creates it 0755).
        let inner = "mkdir -p -m 0755 /run/libvirt && mount -t tmpfs tmpfs /run/libvirt && "
            + "mount -t tmpfs tmpfs /var/lib/libvirt && " + etc + namespaceSetup + " "
            + "exec /usr/bin/tini -s -- "
            + "/usr/sbin/libvirtd -f '\(dir)/libvirtd.conf' -p '\(dir)/pid'"
        process = try ChildProcess.spawn(prefix + ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", inner],
                                         output: .file(dir + "/stderr.log"))
        guard waitFor(path: socket), waitFor(path: dir + "/pid") else {
            stop()
            throw DaemonError.notStarted("libvirtd")
        }
    }

    /// DIR/libvirtd.conf: sockets in DIR without authentication, no TCP, the log in DIR/libvirtd.log.
    static func writeConfig(dir: String) throws {
        let conf = """
        unix_sock_dir = "\(dir)"
        auth_unix_rw = "none"
        auth_unix_ro = "none"
        listen_tcp = 0
        listen_tls = 0
        log_outputs = "3:file:\(dir)/libvirtd.log"

        """
        try conf.write(toFile: dir + "/libvirtd.conf", atomically: true, encoding: .utf8)
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
func virsh(_ uri: String, _ commands: String, timeout: Double = 60) throws -> ChildProcess.Result {
    try ChildProcess.run(["/usr/bin/virsh", "-c", uri, commands], timeLimit: timeout)
}

/// A python3-libvirt client that keeps a connection to `uri` open until it is terminated: the test driver's
/// `test:///default` state lives in virtd (as in libvirtd) only while some client is connected, so a test that
/// runs one virsh process per command holds it with this. Returns once the connection is open.
func connectionHolder(_ uri: String, dir: String) throws -> ChildProcess {
    let out = dir + "/holder-\(UInt32.random(in: 0...UInt32.max)).txt"
    let script = "import libvirt, sys, time\nc = libvirt.open(sys.argv[1])\nprint('ready', flush=True)\n"
        + "while True:\n    time.sleep(3600)\n"
    let p = try ChildProcess.spawn(["/usr/bin/python3", "-c", script, uri], output: .file(out))
    for _ in 0..<400 {
        if ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").contains("ready") { return p }
        usleep(25_000)
    }
    p.terminate()
    throw DaemonError.notStarted("connection holder for \(uri)")
}
