import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Helpers of the suites that drive real QEMU domains through virtd with real clients (Debian's virsh,
/// python3-libvirt): a daemon that can be killed with SIGKILL and started again on the same root, domain
/// XMLs (the TCG test guest, KVM domains that need no guest), an event watcher (`virsh event --all --loop`
/// in a process of its own), and /proc checks (pids, zombies, owners).
enum QEMUDaemonSupport {
    /// The test guest under TCG (the Debian kernel hangs under this machine's KVM), its serial console in a
    /// file (`serialLog`) so the test can wait for its markers. It powers off on an ACPI power-button press.
    static func guestXML(name: String, serialLog: String) throws -> String {
        try guestXML(name: name, serial: "<serial type='file'><source path='\(serialLog)'/></serial>")
    }

    /// The test guest (TCG) with `serial` as its serial device (e.g. `<serial type='pty'/>` for console tests).
    static func guestXML(name: String, serial: String) throws -> String {
        let guest = try TestGuest.load()
        return """
        <domain type='qemu'>
          <name>\(name)</name>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='q35'>hvm</type><kernel>\(guest.kernel)</kernel>\
        <initrd>\(guest.initrd)</initrd><cmdline>\(guest.cmdline)</cmdline></os>
          <features><acpi/></features>
          <devices>\(serial)</devices>
        </domain>
        """
    }

    /// A KVM domain that needs no guest (SeaBIOS finds nothing to boot and waits), optionally with disks.
    static func kvmXML(name: String, machine: String = "q35", memory: String = "<memory unit='MiB'>128</memory>",
                       disks: [String] = []) -> String {
        var devs = ""
        for (i, d) in disks.enumerated() {
            let dev = "vd" + String(UnicodeScalar(UInt8(ascii: "a") + UInt8(i)))
            devs += "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(d)'/>"
                + "<target dev='\(dev)' bus='virtio'/></disk>"
        }
        return """
        <domain type='kvm'><name>\(name)</name>\(memory)<vcpu>1</vcpu>
        <os><type arch='x86_64' machine='\(machine)'>hvm</type></os><devices>\(devs)</devices></domain>
        """
    }

    /// How often `marker` occurs in the file at `path`.
    static func occurrences(of marker: String, in path: String) -> Int {
        guard let d = FileManager.default.contents(atPath: path) else { return 0 }
        return String(decoding: d, as: UTF8.self).components(separatedBy: marker).count - 1
    }

    /// The pid in the domain's pid file under a daemon root.
    static func pidFile(_ root: String, _ name: String) -> Int32? {
        guard let s = try? String(contentsOfFile: root + "/run/qemu/\(name).pid", encoding: .utf8) else { return nil }
        return Int32(s.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Live QEMU processes started for a daemon rooted at `root`: their environment names a private
    /// directory under the root (QEMU's HOME), so a pid that was reused by anything else never matches.
    static func qemuProcesses(under root: String) -> [Int32] {
        ProcFS.qemuProcesses(whose: "environ", contains: "HOME=\(root)/")
    }

    /// The names of the extended attributes of `path` that record an original owner (ours or libvirt's).
    static func ownerRecords(_ path: String) -> [String] {
        // sys/xattr.h is not part of the Glibc module: glibc's listxattr, looked up by name.
        typealias ListFn = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>?, Int) -> Int
        guard let sym = dlsym(dlopen(nil, RTLD_NOW), "listxattr") else { return ["(no listxattr)"] }
        let list = unsafeBitCast(sym, to: ListFn.self)
        var buf = [CChar](repeating: 0, count: 4096)
        let n = list(path, &buf, buf.count)
        guard n > 0 else { return [] }
        let names = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .split(separator: "\0").map(String.init)
        return names.filter { $0.contains("swiftvirt") || $0.contains("libvirt") }
    }

    /// A sparse raw image of 1 MiB owned by `owner`, in a directory QEMU's user can traverse.
    static func makeImage(_ path: String, owner: (uid_t, gid_t)) throws -> String {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw DaemonError.notStarted("cannot create \(path)") }
        ftruncate(fd, 1 << 20)
        close(fd)
        chown(path, owner.0, owner.1)
        return path
    }

    /// Rows of `virsh list --all`: name → (id, state).
    static func listRows(_ text: String) -> [String: (String, String)] {
        var out: [String: (String, String)] = [:]
        for line in text.split(separator: "\n").dropFirst(2) {
            let f = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard f.count == 3 else { continue }
            out[String(f[1])] = (String(f[0]), f[2].trimmingCharacters(in: .whitespaces))
        }
        return out
    }
}

/// virtd under `--root DIR` that a test can kill with SIGKILL and start again on the same root. `cleanup()`
/// stops the daemon, kills the QEMUs started under DIR (found by their environment, never by name) and
/// removes DIR.
final class RestartableVirtd {
    let dir: String
    private(set) var process: ChildProcess?
    var socket: String { dir + "/run/virtd-sock" }
    var uri: String { "qemu+unix:///system?socket=\(socket)" }
    var pid: Int32 { process?.pid ?? -1 }
    /// The daemon's environment (nil: the test runner's), e.g. a PATH with wrapper tools first.
    let environment: [String: String]?

    /// The daemon's argv comes after `prefix` (e.g. `ip netns exec NS`).
    let prefix: [String]

    init(config: String = "", environment: [String: String]? = nil, prefix: [String] = []) throws {
        self.environment = environment
        self.prefix = prefix
        // Short and traversable by QEMU's user (0755), so images and sockets under it work for any user.
        dir = try TestPaths.makeTempDir("qd", mode: 0o755)
        try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
        try ("log_level = 3\n" + config).write(toFile: dir + "/etc/virtd.conf", atomically: true, encoding: .utf8)
        do {
            try start()
        } catch {
            cleanup()
            throw error
        }
    }

    /// Starts virtd on the root (again) and waits for its pid file.
    func start() throws {
        unlink(dir + "/run/virtd.pid")
        let p = try ChildProcess.spawn(prefix + [TestPaths.virtd, "--root", dir], environment: environment,
                                       output: .file(dir + "/virtd.out"))
        process = p
        guard eventually(30, { access(dir + "/run/virtd.pid", F_OK) == 0 || !p.isRunning }),
              p.isRunning else {
            throw DaemonError.notStarted("virtd: \((try? String(contentsOfFile: dir + "/virtd.out", encoding: .utf8)) ?? "")")
        }
    }

    /// SIGKILL, and reaped (it is our child).
    func kill9() {
        process?.kill9()
        process = nil
    }

    func cleanup() {
        process?.terminate()
        process = nil
        for pid in QEMUDaemonSupport.qemuProcesses(under: dir) { kill(pid, SIGKILL) }
        _ = eventually(10) { QEMUDaemonSupport.qemuProcesses(under: dir).isEmpty }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Debian's virsh on this daemon.
    func virsh(_ commands: String, timeout: Double = 120) throws -> ChildProcess.Result {
        try ChildProcess.run(["/usr/bin/virsh", "-c", uri, commands], timeLimit: timeout)
    }

    /// A virsh-compatible client (Debian's virsh by default) with an argument vector (no shell-like splitting).
    func virsh(args: [String], client: String = "/usr/bin/virsh", timeout: Double = 120) throws
        -> ChildProcess.Result {
        try ChildProcess.run([client, "-c", uri] + args, timeLimit: timeout)
    }

    deinit { cleanup() }
}

/// `virsh event --all --loop` in its own process (another client than the one acting), its output in a file.
/// ``sync()`` defines and undefines a marker domain and waits for its events, so every event of an action done
/// before has been printed.
final class VirshEventWatcher {
    let uri: String
    let output: String
    let dir: String
    private var process: ChildProcess?
    private var syncs = 0

    /// `client`: Debian's virsh (default) or our vsh.
    init(uri: String, dir: String, client: String = "/usr/bin/virsh") throws {
        self.uri = uri
        self.dir = dir
        output = dir + "/events-\(UUID().uuidString.prefix(8)).txt"
        process = try ChildProcess.spawn([client, "-c", uri, "event", "--all", "--loop"], output: .file(output))
        // Registered once a marker domain's events show up.
        try sync()
    }

    var text: String {
        (FileManager.default.contents(atPath: output)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    func sync() throws {
        syncs += 1
        let name = "evsync\(syncs)"
        let xml = dir + "/\(name).xml"
        try QEMUDaemonSupport.kvmXML(name: name).write(toFile: xml, atomically: true, encoding: .utf8)
        let seen = eventually(60) {
            guard (try? ChildProcess.run(["/usr/bin/virsh", "-c", uri, "define", xml]))?.status == 0 else {
                return false
            }
            _ = try? ChildProcess.run(["/usr/bin/virsh", "-c", uri, "undefine", name])
            return eventually(2) {
                text.contains("event 'lifecycle' for domain '\(name)': Undefined Removed")
            }
        }
        guard seen else { throw DaemonError.notStarted("virsh event saw no event: \(text)") }
    }

    /// The lifecycle events of domain `name`, as virsh prints them ("Started Booted").
    func lifecycle(_ name: String) -> [String] {
        let prefix = "event 'lifecycle' for domain '\(name)': "
        return text.split(separator: "\n").compactMap { line in
            line.hasPrefix(prefix) ? String(line.dropFirst(prefix.count)) : nil
        }
    }

    /// Every event line of domain `name` ("lifecycle: Started Booted", "reboot").
    func all(_ name: String) -> [String] {
        text.split(separator: "\n").compactMap { line -> String? in
            guard let r = line.range(of: " for domain '\(name)'"), line.hasPrefix("event '") else { return nil }
            let kind = line[line.index(line.startIndex, offsetBy: 7)..<r.lowerBound].dropLast()
            let rest = line[r.upperBound...].drop(while: { $0 == ":" || $0 == " " })
            return rest.isEmpty ? String(kind) : "\(kind): \(rest)"
        }
    }

    func stop() {
        process?.terminate()
        process = nil
    }

    deinit { stop() }
}
