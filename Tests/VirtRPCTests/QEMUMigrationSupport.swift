import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Two hosts for migration tests: two network namespaces the test creates, joined by a veth pair, each with
/// a virtd of its own (`--root`, host UUID, `migration_host` = its veth address). The daemons reach each
/// other over their unix sockets (one filesystem); QEMU's stream goes over the veth. `cleanup()` stops both
/// daemons, kills the QEMUs started under their roots and deletes the namespaces (and with them the veth).
final class MigrationHosts {
    let nsA: String
    let nsB: String
    let ipA: String
    let ipB: String
    private(set) var a: RestartableVirtd!
    private(set) var b: RestartableVirtd!
    /// A directory for files both hosts see (the guest's definition, shared disks).
    let shared: String

    /// With `privateDisks`, `diskDir` is one path that each daemon (and its QEMUs) sees as a directory of its
    /// own (`diskDirA`, `diskDirB`: bind mounts in a mount namespace per daemon), so a "local" disk has the
    /// same path on both hosts but different files, as two machines would.
    let diskDir: String
    let diskDirA: String
    let diskDirB: String

    /// A directory for ``init(config:configB:privateDisks:sharedDir:)`` made before the hosts (so that the
    /// configuration can name it).
    static func sharedDir() throws -> String { try TestPaths.makeTempDir("mig", mode: 0o755) }

    init(config: String = "", configB: String? = nil, privateDisks: Bool = false, sharedDir: String? = nil) throws {
        try TestHost.requireRoot()
        let tag = String(format: "%05d", Int.random(in: 0..<100_000))
        nsA = "svm\(tag)a"
        nsB = "svm\(tag)b"
        let net = Int.random(in: 1..<250)
        ipA = "10.231.\(net).1"
        ipB = "10.231.\(net).2"
        self.shared = try sharedDir ?? TestPaths.makeTempDir("mig", mode: 0o755)
        diskDir = shared + "/disk"
        diskDirA = shared + "/disk-a"
        diskDirB = shared + "/disk-b"
        func wrap(_ ns: String, _ own: String) -> [String] {
            var p = ["/usr/sbin/ip", "netns", "exec", ns]
            if privateDisks {
                p += ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                      "mount --bind \(own) \(diskDir) && exec \"$@\"", "sh"]
            }
            return p
        }
        do {
            for d in [diskDir, diskDirA, diskDirB] {
                try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o755])
            }
            try Self.ip(["netns", "add", nsA])
            try Self.ip(["netns", "add", nsB])
            // Made inside the namespaces: the pair never shows in the host's own (where other tests list links).
            try Self.ip(["link", "add", "sv\(tag)a", "netns", nsA, "type", "veth", "peer", "name", "sv\(tag)b",
                 "netns", nsB])
            for (ns, dev, ip) in [(nsA, "sv\(tag)a", ipA), (nsB, "sv\(tag)b", ipB)] {
                try Self.ip(["-n", ns, "addr", "add", ip + "/24", "dev", dev])
                try Self.ip(["-n", ns, "link", "set", dev, "up"])
                try Self.ip(["-n", ns, "link", "set", "lo", "up"])
            }
            a = try RestartableVirtd(config: "migration_host = \"\(ipA)\"\n" + config,
                                     prefix: wrap(nsA, diskDirA))
            b = try RestartableVirtd(config: "migration_host = \"\(ipB)\"\n" + (configB ?? config),
                                     prefix: wrap(nsB, diskDirB))
        } catch {
            cleanup()
            throw error
        }
    }

    static func ip(_ args: [String]) throws {
        let r = try ChildProcess.run(["/usr/sbin/ip"] + args, timeLimit: 30)
        guard r.status == 0 else { throw DaemonError.notStarted("ip \(args.joined(separator: " ")): \(r.stderr)") }
    }

    func cleanup() {
        a?.cleanup()
        b?.cleanup()
        _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", nsA], timeLimit: 30)
        _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", nsB], timeLimit: 30)
        try? FileManager.default.removeItem(atPath: shared)
    }

    deinit { cleanup() }

    /// The test guest (TCG) with a pty console, defined at `path` for `virsh define`.
    func guestXML(name: String, memoryMiB: Int = 128, extraDevices: String = "") throws -> String {
        let guest = try TestGuest.load()
        return """
        <domain type='qemu'>
          <name>\(name)</name>
          <memory unit='MiB'>\(memoryMiB)</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='q35'>hvm</type><kernel>\(guest.kernel)</kernel>\
        <initrd>\(guest.initrd)</initrd><cmdline>\(guest.cmdline)</cmdline></os>
          <features><acpi/></features>
          <devices><serial type='pty'/><console type='pty'/>\(extraDevices)</devices>
        </domain>
        """
    }
}

/// python3-libvirt clients on both hosts, registered for lifecycle, job-completed and migration-iteration
/// events of every domain, printing `HOST KIND DOMAIN DETAIL` lines as they arrive (a process of its own).
final class MigrationEventRecorder {
    static let script = #"""
    import libvirt, sys, threading, time
    libvirt.virEventRegisterDefaultImpl()
    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()
    conns = {}
    for arg in sys.argv[1:]:
        host, uri = arg.split("=", 1)
        conns[host] = libvirt.open(uri)
    def out(line):
        print(line, flush=True)
    for host, c in conns.items():
        c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            lambda c, d, e, det, h: out("%s lifecycle %s %d %d" % (h, d.name(), e, det)), host)
        c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
            lambda c, d, p, h: out("%s job-completed %s operation=%s" % (h, d.name(), p.get("operation"))), host)
        c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
            lambda c, d, it, h: out("%s iteration %s %d" % (h, d.name(), it)), host)
    out("READY")
    while True:
        time.sleep(1)
    """#

    let output: String
    private var process: ChildProcess?

    init(hosts: [(String, String)], dir: String) throws {
        output = dir + "/events-\(UUID().uuidString.prefix(8)).txt"
        let script = dir + "/recorder.py"
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        process = try ChildProcess.spawn(["/usr/bin/python3", script] + hosts.map { "\($0.0)=\($0.1)" },
                                         output: .file(output))
        guard eventually(30, { text.contains("READY") }) else {
            throw DaemonError.notStarted("event recorder: \(text)")
        }
    }

    var text: String {
        FileManager.default.contents(atPath: output).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// The events of `domain` on `host` ("lifecycle 3 1", "job-completed operation=5"), iterations left out.
    func events(_ host: String, _ domain: String) -> [String] {
        text.split(separator: "\n").compactMap { line -> String? in
            let f = line.split(separator: " ", maxSplits: 3).map(String.init)
            guard f.count == 4, f[0] == host, f[2] == domain, f[1] != "iteration" else { return nil }
            return "\(f[1]) \(f[3])"
        }
    }

    /// The MIGRATION_ITERATION numbers of `domain` on `host`.
    func iterations(_ host: String, _ domain: String) -> [Int] {
        text.split(separator: "\n").compactMap { line -> Int? in
            let f = line.split(separator: " ").map(String.init)
            guard f.count == 4, f[0] == host, f[1] == "iteration", f[2] == domain else { return nil }
            return Int(f[3])
        }
    }

    /// Waits until `host` has seen `event` for `domain` (at least `count` times).
    @discardableResult
    func wait(_ host: String, _ domain: String, _ event: String, count: Int = 1, timeout: Double = 60) -> Bool {
        eventually(timeout) { events(host, domain).filter { $0 == event }.count >= count }
    }

    func stop() {
        process?.terminate()
        process = nil
    }

    deinit { stop() }
}

/// The guest's console through python3-libvirt (a stream on the host that runs it): types a command and
/// waits for its answer.
enum GuestConsole {
    static let script = #"""
    import libvirt, sys, threading, time
    uri, name, command, expect = sys.argv[1:5]
    libvirt.virEventRegisterDefaultImpl()
    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()
    conn = libvirt.open(uri)
    dom = conn.lookupByName(name)
    st = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
    dom.openConsole(None, st, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
    buf = b""
    end = time.time() + 120
    sent = 0
    while time.time() < end:
        if time.time() >= sent + 3:
            st.send((command + "\n").encode())
            sent = time.time()
        try:
            data = st.recv(4096)
        except libvirt.libvirtError:
            data = None
        if data == -2 or data is None:
            time.sleep(0.05)
            continue
        if data == b"" or data == 0:
            break
        buf += data
        if expect.encode() in buf:
            print("ANSWERED", flush=True)
            break
    try:
        st.abort()
    except libvirt.libvirtError:
        pass
    """#

    /// Whether the guest `name` on `uri` answers `echo` on its console.
    static func answers(uri: String, name: String, dir: String) throws -> Bool {
        let script = dir + "/console.py"
        if access(script, F_OK) != 0 { try Self.script.write(toFile: script, atomically: true, encoding: .utf8) }
        let n = Int.random(in: 1000..<9999)
        // The shell echoes the command line itself; the answer has the sum, which the command does not.
        let r = try ChildProcess.run(["/usr/bin/python3", script, uri, name, "echo SV-ANSWER-$((\(n) + 1))",
                                      "SV-ANSWER-\(n + 1)"], timeLimit: 180)
        return r.stdout.contains("ANSWERED")
    }

    /// Types `command` on the console of `name` (again every 3 s) until `expect` shows on it.
    static func run(uri: String, name: String, command: String, expect: String, dir: String) throws -> Bool {
        let script = dir + "/console.py"
        if access(script, F_OK) != 0 { try Self.script.write(toFile: script, atomically: true, encoding: .utf8) }
        let r = try ChildProcess.run(["/usr/bin/python3", script, uri, name, command, expect], timeLimit: 180)
        return r.stdout.contains("ANSWERED")
    }

    /// Types `command` on the console of `name` (no answer awaited beyond the shell's echo of it).
    static func type(uri: String, name: String, command: String, dir: String) throws {
        let script = dir + "/console.py"
        if access(script, F_OK) != 0 { try Self.script.write(toFile: script, atomically: true, encoding: .utf8) }
        let sep = command.hasSuffix("&") ? " " : "; "
        _ = try ChildProcess.run(["/usr/bin/python3", script, uri, name, command + sep + "echo SV-TYPED-$((1+1))",
                                  "SV-TYPED-2"], timeLimit: 180)
    }
}
