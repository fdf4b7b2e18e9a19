import Foundation
import Testing
import VirtCore
import VirtRPC
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Helpers of the swtpm tests through the daemons: swtpm processes found by their command line, a
/// `swtpm_setup` wrapper that logs its arguments (first in the daemon's PATH), file owners and modes.
enum TPMTestSupport {
    static let tpmXML = "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>"

    /// The TCG test guest with an emulated TPM 2.0, its serial console in `serialLog`.
    static func guestXML(name: String, serialLog: String) throws -> String {
        try QEMUDaemonSupport.guestXML(name: name,
                                       serial: "<serial type='file'><source path='\(serialLog)'/></serial>" + tpmXML)
    }

    /// A TCG domain that needs no guest (SeaBIOS finds nothing to boot and waits) with an emulated TPM 2.0.
    static func idleXML(name: String) -> String {
        """
        <domain type='qemu'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>\(tpmXML)</devices></domain>
        """
    }

    /// The argument vector of a process.
    static func cmdline(_ pid: pid_t) -> [String] {
        guard let d = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
        return d.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            .dropLast().map { $0 }
    }

    /// Live swtpm processes (the executable is swtpm) whose command line contains `needle`.
    static func swtpmProcesses(mentioning needle: String) -> [pid_t] {
        ProcFS.allPIDs().filter { pid in
            guard ProcFS.isAlive(pid), let exe = ProcFS.executable(of: pid), exe.hasSuffix("/swtpm") else {
                return false
            }
            return cmdline(pid).joined(separator: " ").contains(needle)
        }
    }

    /// Kills (SIGKILL) the swtpm processes that name `needle` (a test's own temp dir) and waits for them to go.
    static func killSwtpms(mentioning needle: String) {
        for pid in swtpmProcesses(mentioning: needle) { kill(pid, SIGKILL) }
        _ = eventually(10) { swtpmProcesses(mentioning: needle).isEmpty }
    }

    struct FileInfo: Equatable, CustomStringConvertible {
        var uid: uid_t
        var gid: gid_t
        var mode: mode_t
        var inode: UInt
        var mtime: Int
        var mtimeNsec: Int
        var description: String { "\(uid):\(gid) \(String(mode, radix: 8))" }
    }

    static func info(_ path: String) -> FileInfo? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return FileInfo(uid: st.st_uid, gid: st.st_gid, mode: st.st_mode & 0o7777, inode: UInt(st.st_ino),
                        mtime: st.st_mtim.tv_sec, mtimeNsec: st.st_mtim.tv_nsec)
    }

    static func userName(_ uid: uid_t) -> String {
        getpwuid(uid).map { String(cString: $0.pointee.pw_name) } ?? "\(uid)"
    }

    static func groupName(_ gid: gid_t) -> String {
        getgrgid(gid).map { String(cString: $0.pointee.gr_name) } ?? "\(gid)"
    }

    /// `user:group mode` of a path, or `absent`.
    static func ownerText(_ path: String) -> String {
        guard let i = info(path) else { return "absent" }
        return "\(userName(i.uid)):\(groupName(i.gid)) \(String(i.mode, radix: 8))"
    }

    /// The uid of `tss` (swtpm's user).
    static func tssIDs() throws -> (uid_t, gid_t) {
        let pw = try #require(TestHost.user("tss"), "user tss is missing (swtpm's package creates it)")
        return (pw.uid, pw.gid)
    }

    /// Writes `dir/swtpm_setup`: logs `uid=N ARGS` of every run but the capability probes to `dir/setup.log`,
    /// then runs the real swtpm_setup, or (when `fail`) says so on stderr and exits 1. Returns the log's path.
    @discardableResult
    static func writeSetupWrapper(in dir: String, fail: Bool = false) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o755)
        let log = dir + "/setup.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        chmod(log, 0o666)
        let tail = fail
            ? "echo 'swtpm_setup (test wrapper): manufacturing refused' >&2\nexit 1\n"
            : "exec /usr/bin/swtpm_setup \"$@\"\n"
        let script = """
        #!/bin/sh
        case "$*" in *--print-capabilities*|*--version*|*--help*) exec /usr/bin/swtpm_setup "$@";; esac
        echo "uid=$(id -u) $*" >> '\(log)'
        \(tail)
        """
        try script.write(toFile: dir + "/swtpm_setup", atomically: true, encoding: .utf8)
        chmod(dir + "/swtpm_setup", 0o755)
        return log
    }

    /// The wrapper's log: one line per swtpm_setup run.
    static func setupRuns(_ log: String) -> [String] {
        (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
    }

    /// The test runner's environment with `dir` first in PATH.
    static func environment(pathFirst dir: String) -> [String: String] {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        return ChildProcess.environment(adding: ["PATH": dir + ":" + path])
    }

    /// Mounts `src` on `dst` with bindfs as a FUSE mount of subtype glusterfs (libvirt counts it as shared).
    /// `nonempty`: over a directory that has files (FUSE refuses that unless told).
    static func mountGluster(_ src: String, on dst: String, nonempty: Bool = false) throws {
        let options = "subtype=glusterfs,allow_other" + (nonempty ? ",nonempty" : "")
        let r = try ChildProcess.spawn(["/usr/bin/bindfs", "-o", options, src, dst],
                                       output: .null)
        // bindfs forks its daemon and the parent exits once the mount is up.
        _ = try? r.finish(timeLimit: 30)
        let mounted = eventually(10) {
            (LinuxMounts.fsType(of: dst)) == "fuse.glusterfs"
        }
        guard mounted else { throw DaemonError.notStarted("bindfs on \(dst)") }
    }

    /// Unmounts a FUSE mount (lazily when busy).
    static func unmount(_ dst: String) {
        if (try? ChildProcess.run(["/usr/bin/fusermount", "-u", dst], timeLimit: 30))?.status != 0 {
            _ = try? ChildProcess.run(["/bin/umount", "-l", dst], timeLimit: 30)
        }
    }
}

/// The mount table of this process's namespace.
enum LinuxMounts {
    /// The filesystem type of the mount exactly at `path` (the last one mounted there), from /proc/self/mountinfo.
    static func fsType(of path: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        var found: String?
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count > 8, let dash = f.firstIndex(of: "-"), dash + 1 < f.count else { continue }
            if String(f[4]) == path { found = String(f[dash + 1]) }
        }
        return found
    }
}

/// swtpm run by virtd for a TPM 2.0 of a TCG guest, driven with Debian's virsh: QEMU sees the TPM, swtpm runs
/// as tss with its state 0700 tss:tss, the state survives destroy/start and save/restore (manufactured once),
/// undefine keeps or removes it as asked, a SIGKILLed virtd adopts the running swtpm; a failing swtpm_setup
/// fails the start and leaves nothing behind.
@Suite("swtpm through virtd with Debian's virsh", .serialized, .tags(.qemu, .root))
struct QEMUTPMDaemonTests {
    static let ready = "SWIFTVIRT-GUEST-READY"

    @Test("TPM 2.0: query-tpm, swtpm as tss, state 0700 tss:tss kept across destroy/start and save/restore, SIGKILL of virtd adopts swtpm, undefine --keep-tpm/--tpm")
    func lifecycle() throws {
        let (tssUID, tssGID) = try TPMTestSupport.tssIDs()
        let user = try TestHost.qemuUser()
        let bin = try TestPaths.makeTempDir("tpmbin", mode: 0o755)
        defer { TestPaths.removeDir(bin) }
        let setupLog = try TPMTestSupport.writeSetupWrapper(in: bin)
        let daemon = try RestartableVirtd(config: TestHost.qemuUserConfig,
                                          environment: TPMTestSupport.environment(pathFirst: bin))
        defer {
            daemon.cleanup()
            TPMTestSupport.killSwtpms(mentioning: daemon.dir)
        }
        let serial = daemon.dir + "/serial.log"
        // QEMU runs as libvirt-qemu: the serial file is its.
        FileManager.default.createFile(atPath: serial, contents: nil)
        chown(serial, user.uid, user.gid)
        let xmlPath = daemon.dir + "/tpmvm.xml"
        try TPMTestSupport.guestXML(name: "tpmvm", serialLog: serial).write(toFile: xmlPath, atomically: true,
                                                                              encoding: .utf8)
        let def = try daemon.virsh(args: ["define", xmlPath])
        #expect(def.status == 0, "\(def.stderr)")
        let uuid = try daemon.virsh(args: ["domuuid", "tpmvm"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(uuid.count == 36)
        let domainDir = daemon.dir + "/lib/swtpm/\(uuid)"
        let stateDir = domainDir + "/tpm2"
        let permall = stateDir + "/tpm2-00.permall"
        func swtpms() -> [pid_t] { TPMTestSupport.swtpmProcesses(mentioning: daemon.dir) }

        // First start: swtpm_setup manufactures the state once, as tss.
        let st1 = try daemon.virsh(args: ["start", "tpmvm"])
        #expect(st1.status == 0, "\(st1.stderr)")
        let runs1 = TPMTestSupport.setupRuns(setupLog)
        #expect(runs1.count == 1, "\(runs1)")
        #expect(runs1.first?.hasPrefix("uid=\(tssUID) --tpm2 --tpm-state \(stateDir) --vmid tpmvm:\(uuid)") == true,
                "\(runs1)")
        let q = try daemon.virsh(args: ["qemu-monitor-command", "tpmvm", #"{"execute":"query-tpm"}"#])
        #expect(q.status == 0, "\(q.stderr)")
        #expect(q.stdout.contains(#""model":"tpm-crb""#) && q.stdout.contains(#""type":"emulator""#), "\(q.stdout)")
        #expect(q.stdout.contains(#""id":"tpm-tpm0""#), "\(q.stdout)")
        let pids1 = swtpms()
        #expect(pids1.count == 1, "\(pids1)")
        let swtpm1 = pids1.first ?? -1
        #expect(ProcFS.uid(of: swtpm1) == tssUID, "swtpm's uid \(ProcFS.status(swtpm1)["Uid"] ?? "-")")
        let argv = TPMTestSupport.cmdline(swtpm1)
        #expect(argv.contains("--tpm2") && argv.contains("--terminate") && argv.contains("dir=\(stateDir),mode=0600"),
                "\(argv)")
        let stInfo = try #require(TPMTestSupport.info(stateDir))
        #expect(stInfo.uid == tssUID && stInfo.gid == tssGID && stInfo.mode == 0o700, "\(stInfo)")
        let perm1 = try #require(TPMTestSupport.info(permall), "no tpm2-00.permall after the first start")
        #expect(perm1.uid == tssUID)
        // The control socket QEMU connects to is QEMU's user's.
        let sockets = (try? FileManager.default.contentsOfDirectory(atPath: daemon.dir + "/run/qemu/swtpm")) ?? []
        let sock = try #require(sockets.first { $0.hasSuffix("-tpmvm-swtpm.sock") }, "\(sockets)")
        let sockInfo = try #require(TPMTestSupport.info(daemon.dir + "/run/qemu/swtpm/" + sock))
        #expect(sockInfo.uid == user.uid, "socket \(sockInfo)")
        #expect(argv.contains { $0.hasPrefix("type=unixio,path=\(daemon.dir)/run/qemu/swtpm/\(sock)") }, "\(argv)")
        // The status file records the swtpm.
        let status = (try? String(contentsOfFile: daemon.dir + "/run/qemu/tpmvm.status", encoding: .utf8)) ?? ""
        #expect(status.contains("\(swtpm1)") && status.contains("swtpm"), "\(status)")

        // The guest boots (the Debian kernel finds the CRB TPM; no matter).
        #expect(eventually(120) { QEMUDaemonSupport.occurrences(of: Self.ready, in: serial) >= 1 }, "guest not up")

        // destroy / start: swtpm ends with QEMU and comes back on the same state; no new manufacture.
        let d = try daemon.virsh(args: ["destroy", "tpmvm"])
        #expect(d.status == 0, "\(d.stderr)")
        #expect(eventually(10) { swtpms().isEmpty }, "swtpm still runs after destroy: \(swtpms())")
        #expect(!ProcFS.isAlive(swtpm1))
        let permAfterDestroy = TPMTestSupport.info(permall)
        #expect(permAfterDestroy != nil)
        let st2 = try daemon.virsh(args: ["start", "tpmvm"])
        #expect(st2.status == 0, "\(st2.stderr)")
        #expect(TPMTestSupport.setupRuns(setupLog).count == 1, "swtpm_setup ran again: \(TPMTestSupport.setupRuns(setupLog))")
        // swtpm read the state as it was (it rewrites the file only when the TPM's NV state changes).
        #expect(TPMTestSupport.info(permall).map { $0.inode == permAfterDestroy?.inode && $0.mtime == permAfterDestroy?.mtime } == true,
                "permall \(String(describing: TPMTestSupport.info(permall))) vs \(String(describing: permAfterDestroy))")
        let swtpmLog = (try? String(contentsOfFile: daemon.dir + "/log/swtpm/tpmvm-swtpm.log", encoding: .utf8)) ?? ""
        #expect(swtpmLog.components(separatedBy: "Successfully authored TPM state").count - 1 == 1, "\(swtpmLog)")
        #expect(swtpms().count == 1)
        // QEMU truncated the serial file when it started again.
        #expect(eventually(120) { QEMUDaemonSupport.occurrences(of: Self.ready, in: serial) >= 1 }, "guest not up")

        // save / restore: swtpm stops with the save and starts again for the restore, on the same state.
        let image = daemon.dir + "/tpmvm.save"
        let sv = try daemon.virsh(args: ["save", "tpmvm", image])
        #expect(sv.status == 0, "\(sv.stderr)")
        #expect(eventually(10) { swtpms().isEmpty }, "swtpm still runs after save: \(swtpms())")
        #expect(FileManager.default.fileExists(atPath: permall))
        let rs = try daemon.virsh(args: ["restore", image])
        #expect(rs.status == 0, "\(rs.stderr)")
        #expect(swtpms().count == 1)
        #expect(TPMTestSupport.setupRuns(setupLog).count == 1)
        #expect(try daemon.virsh(args: ["domstate", "--reason", "tpmvm"]).stdout.contains("running (restored)"))
        // The restored guest still runs: it answers the ACPI power button and powers off.
        let sh = try daemon.virsh(args: ["shutdown", "tpmvm"])
        #expect(sh.status == 0, "\(sh.stderr)")
        #expect(eventually(120) {
            (try? daemon.virsh(args: ["domstate", "--reason", "tpmvm"]).stdout)?.contains("shut off (shutdown)") == true
        }, "the restored guest did not power off")
        #expect(QEMUDaemonSupport.occurrences(of: "SWIFTVIRT-GUEST-POWEROFF", in: serial) >= 1)
        #expect(eventually(10) { swtpms().isEmpty }, "swtpm still runs after shutdown: \(swtpms())")

        // SIGKILL of virtd while the domain runs: the restarted virtd adopts the same swtpm; destroy ends it.
        let st3 = try daemon.virsh(args: ["start", "tpmvm"])
        #expect(st3.status == 0, "\(st3.stderr)")
        let swtpm3 = swtpms().first ?? -1
        let qemu3 = QEMUDaemonSupport.pidFile(daemon.dir, "tpmvm") ?? -1
        #expect(ProcFS.isAlive(swtpm3) && ProcFS.isAlive(qemu3))
        daemon.kill9()
        #expect(ProcFS.isAlive(swtpm3), "swtpm died with virtd")
        try daemon.start()
        #expect(eventually(30) {
            (try? daemon.virsh(args: ["domstate", "tpmvm"]).stdout)?.contains("running") == true
        })
        #expect(swtpms() == [swtpm3], "\(swtpms()) vs \(swtpm3)")
        let q2 = try daemon.virsh(args: ["qemu-monitor-command", "tpmvm", #"{"execute":"query-tpm"}"#])
        #expect(q2.stdout.contains(#""model":"tpm-crb""#), "\(q2.stdout) \(q2.stderr)")
        let d2 = try daemon.virsh(args: ["destroy", "tpmvm"])
        #expect(d2.status == 0, "\(d2.stderr)")
        #expect(eventually(10) { !ProcFS.isAlive(swtpm3) && swtpms().isEmpty }, "swtpm survives destroy: \(swtpms())")
        #expect(!ProcFS.isAlive(qemu3))
        #expect(TPMTestSupport.setupRuns(setupLog).count == 1)

        // undefine --keep-tpm keeps the state; defined again and undefined with --tpm, it is removed.
        let inactive = try daemon.virsh(args: ["dumpxml", "--inactive", "tpmvm"]).stdout
        try inactive.write(toFile: xmlPath, atomically: true, encoding: .utf8)
        let u1 = try daemon.virsh(args: ["undefine", "--keep-tpm", "tpmvm"])
        #expect(u1.status == 0, "\(u1.stderr)")
        #expect(FileManager.default.fileExists(atPath: permall), "--keep-tpm removed the state")
        #expect(try daemon.virsh(args: ["define", xmlPath]).status == 0)
        let u2 = try daemon.virsh(args: ["undefine", "--tpm", "tpmvm"])
        #expect(u2.status == 0, "\(u2.stderr)")
        #expect(!FileManager.default.fileExists(atPath: domainDir), "--tpm left \(domainDir)")
        #expect(QEMUDaemonSupport.qemuProcesses(under: daemon.dir).isEmpty)
    }

    @Test("a failing swtpm_setup: start fails naming swtpm_setup and its exit status; no QEMU, no swtpm, no status file, no fresh state")
    func setupFails() throws {
        let bin = try TestPaths.makeTempDir("tpmbad", mode: 0o755)
        defer { TestPaths.removeDir(bin) }
        let setupLog = try TPMTestSupport.writeSetupWrapper(in: bin, fail: true)
        let daemon = try RestartableVirtd(config: TestHost.qemuUserConfig,
                                          environment: TPMTestSupport.environment(pathFirst: bin))
        defer {
            daemon.cleanup()
            TPMTestSupport.killSwtpms(mentioning: daemon.dir)
        }
        let xmlPath = daemon.dir + "/bad.xml"
        try TPMTestSupport.idleXML(name: "tpmbad").write(toFile: xmlPath, atomically: true, encoding: .utf8)
        #expect(try daemon.virsh(args: ["define", xmlPath]).status == 0)
        let uuid = try daemon.virsh(args: ["domuuid", "tpmbad"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let r = try daemon.virsh(args: ["start", "tpmbad"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("Could not run '\(bin)/swtpm_setup'. exitstatus: 1"), "\(r.stderr)")
        #expect(r.stderr.contains("manufacturing refused"), "\(r.stderr)")
        #expect(TPMTestSupport.setupRuns(setupLog).count == 1)
        #expect(QEMUDaemonSupport.qemuProcesses(under: daemon.dir).isEmpty)
        #expect(TPMTestSupport.swtpmProcesses(mentioning: daemon.dir).isEmpty)
        #expect(access(daemon.dir + "/run/qemu/tpmbad.status", F_OK) != 0, "status file left")
        #expect(access(daemon.dir + "/run/qemu/tpmbad.pid", F_OK) != 0, "pid file left")
        #expect(access(daemon.dir + "/lib/swtpm/\(uuid)", F_OK) != 0, "fresh state left")
        let sockets = (try? FileManager.default.contentsOfDirectory(atPath: daemon.dir + "/run/qemu/swtpm")) ?? []
        #expect(sockets.isEmpty, "\(sockets)")
        #expect(try daemon.virsh(args: ["domstate", "--reason", "tpmbad"]).stdout.contains("shut off (failed)"))
        // The daemon is fine: with swtpm_setup working, the domain starts.
        try TPMTestSupport.writeSetupWrapper(in: bin)
        let ok = try daemon.virsh(args: ["start", "tpmbad"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(TPMTestSupport.swtpmProcesses(mentioning: daemon.dir).count == 1)
        #expect(try daemon.virsh(args: ["destroy", "tpmbad"]).status == 0)
        #expect(eventually(10) { TPMTestSupport.swtpmProcesses(mentioning: daemon.dir).isEmpty })
    }
}

/// The start-kind table, virtd against Debian's libvirtd 9.0, measured the same way on both: a TCG domain
/// (no guest needed) with a TPM 2.0, started cold, restored from a save file, started from a managed save and
/// started as an incoming migration fed from a save image, its TPM state local, on a bindfs mount of subtype
/// glusterfs (fuse.glusterfs: shared for libvirt), or saved local and moved onto such a mount before the restore. For
/// each: whether swtpm_setup ran and with which arguments (a wrapper first in the daemon's PATH), swtpm's
/// argv (/proc), the state's owner and mode, the outcome.
@Suite("swtpm start kinds, virtd against libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUTPMStartKindDifferentialTests {
    struct Cell: CustomStringConvertible {
        var setup: String
        var swtpm: String
        var owner: String
        var outcome: String
        var description: String { "setup: \(setup) | swtpm: \(swtpm) | state: \(owner) | \(outcome)" }
    }

    /// One daemon as the scenario sees it.
    struct Target {
        var label: String
        var uri: String
        /// The daemon's socket (for the raw migration calls).
        var socket: String
        var setupLog: String
        /// The swtpm storage directory, as this process reaches it.
        var storage: String
        /// Where save files go.
        var saveDir: String
    }

    /// Paths and ids made comparable between the daemons.
    static func normalize(_ s: String, uuid: String, name: String) -> String {
        var out = s
        let rules: [(String, String)] = [
            (#"[^ ,=]*/swtpm/"# + uuid + "/tpm2", "STATE"),
            (#"path=[^ ,]*\.sock"#, "path=SOCK"),
            (#"file=[^ ,]*\.log"#, "file=LOG"),
            (#"--logfile [^ ]*"#, "--logfile LOG"),
        ]
        for (pattern, repl) in rules {
            out = out.replacingOccurrences(of: pattern, with: repl, options: .regularExpression)
        }
        return out.replacingOccurrences(of: "\(name):\(uuid)", with: "NAME:UUID")
    }

    /// `beforeRestore`: run between the save and the restore, with the domain's UUID (moves the state onto a
    /// shared mount for the "saved local, restored shared" case); then only save and restore are run.
    static func runScenarios(_ t: Target, storageKind: String,
                             beforeRestore: ((String) throws -> Void)? = nil) async throws -> [(String, Cell)] {
        let name = "tk\(storageKind.prefix(1))\(UUID().uuidString.prefix(6).lowercased())"
        func virsh(_ args: [String]) throws -> ChildProcess.Result {
            try ChildProcess.run(["/usr/bin/virsh", "-c", t.uri] + args, timeLimit: 120)
        }
        let xml = t.saveDir + "/\(name).xml"
        try TPMTestSupport.idleXML(name: name).write(toFile: xml, atomically: true, encoding: .utf8)
        let def = try virsh(["define", xml])
        #expect(def.status == 0, "\(t.label): \(def.stderr)")
        let uuid = try virsh(["domuuid", name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer {
            _ = try? virsh(["destroy", name])
            _ = try? virsh(["undefine", "--managed-save", "--tpm", name])
            for pid in ProcFS.qemuProcesses(whose: "cmdline", contains: "guest=\(name),") { kill(pid, SIGKILL) }
            TPMTestSupport.killSwtpms(mentioning: uuid)
        }
        let state = t.storage + "/\(uuid)/tpm2"
        var seen = TPMTestSupport.setupRuns(t.setupLog).count
        func cell(_ r: ChildProcess.Result) throws -> Cell { try cell(status: r.status, stderr: r.stderr) }
        func cell(status: Int32, stderr: String) throws -> Cell {
            let runs = TPMTestSupport.setupRuns(t.setupLog)
            let new = runs.dropFirst(seen)
            seen = runs.count
            let setup = new.isEmpty ? "not run"
                : new.map { normalize($0, uuid: uuid, name: name) }.joined(separator: "; ")
            let pids = TPMTestSupport.swtpmProcesses(mentioning: uuid)
            let swtpm = pids.first.map {
                normalize(TPMTestSupport.cmdline($0).dropFirst().joined(separator: " "), uuid: uuid, name: name)
                    + " (uid \(TPMTestSupport.userName(ProcFS.uid(of: $0) ?? 0)))"
            } ?? "not running"
            let outcome: String
            if status == 0 {
                outcome = "ok: " + (try virsh(["domstate", "--reason", name]).stdout
                    .trimmingCharacters(in: .whitespacesAndNewlines))
            } else {
                let lines = stderr.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
                let err = lines.first { $0.hasPrefix("error: ") && !$0.hasPrefix("error: Failed to") }
                    ?? lines.joined(separator: " / ")
                outcome = "refused: " + err.replacingOccurrences(of: "error: ", with: "")
            }
            return Cell(setup: setup, swtpm: swtpm, owner: TPMTestSupport.ownerText(state), outcome: outcome)
        }
        var cells: [(String, Cell)] = []
        cells.append(("cold boot", try cell(try virsh(["start", name]))))
        let image = t.saveDir + "/\(name).save"
        let sv = try virsh(["save", name, image])
        cells.append(("save", try cell(sv)))
        if sv.status != 0 { _ = try virsh(["destroy", name]); _ = try virsh(["start", name]); _ = try cell(sv) }
        // An incoming migration fed from a save image: libvirt's destination side (Prepare3 with the image's
        // XML, QEMU's stream sent to the port, Finish3), as a source would drive it.
        func incoming(from image: String) async throws {
            _ = try virsh(["destroy", name])
            let xml = try virsh(["save-image-dumpxml", "--security-info", image]).stdout
            let r = await IncomingMigration.run(socket: t.socket, xml: xml, image: image, name: name, uuid: uuid)
            if let error = r.error {
                cells.append(("incoming migration", try cell(status: 1, stderr: error)))
                return
            }
            // QEMU has the whole stream: what the migration's destination looks like now.
            // (libvirtd's Prepare holds the domain's job until Finish: no monitor command gets through.)
            usleep(500_000)
            var c = try cell(status: 0, stderr: "")
            c.outcome = "prepared, \(r.fed); " + c.outcome
            cells.append(("incoming migration", c))
            _ = try virsh(["destroy", name])
            await r.client?.close()
        }
        if let beforeRestore {
            try beforeRestore(uuid)
            cells.append(("restore", try cell(try virsh(["restore", image]))))
            try await incoming(from: image)
            return cells
        }
        let restored = try virsh(["restore", image])
        cells.append(("restore", try cell(restored)))
        if restored.status != 0 { _ = try virsh(["start", name]) }
        let ms = try virsh(["managedsave", name])
        cells.append(("managed save", try cell(ms)))
        if ms.status != 0 { _ = try virsh(["destroy", name]) }
        cells.append(("managed save + start", try cell(try virsh(["start", name]))))
        if (try virsh(["domstate", name])).stdout.contains("running") {
            let again = t.saveDir + "/\(name)-2.save"
            if try virsh(["save", name, again]).status == 0 { try await incoming(from: again) }
        }
        return cells
    }

    @Test("cold boot, save/restore, managed save + start, incoming migration from a save stream; TPM state local, shared, saved local/restored shared: swtpm_setup, swtpm argv, state owner, outcome")
    func table() async throws {
        let user = try TestHost.qemuUser()
        _ = user
        let bin = try TestPaths.makeTempDir("tkbin", mode: 0o755)
        defer { TestPaths.removeDir(bin) }
        let setupLog = try TPMTestSupport.writeSetupWrapper(in: bin)
        var ours: [String: [(String, Cell)]] = [:]
        var theirs: [String: [(String, Cell)]] = [:]

        let kinds = ["local", "shared", "saved local, restored shared"]
        for storageKind in kinds {
            // Ours: the storage under the daemon's root, a glusterfs-typed bindfs mount when shared.
            let daemon = try RestartableVirtd(config: TestHost.qemuUserConfig,
                                              environment: TPMTestSupport.environment(pathFirst: bin))
            let storage = daemon.dir + "/lib/swtpm"
            let backing = daemon.dir + "/backing"
            var mounted = false
            defer {
                daemon.kill9()
                TPMTestSupport.killSwtpms(mentioning: daemon.dir)
                if mounted { TPMTestSupport.unmount(storage) }
                daemon.cleanup()
            }
            if storageKind == "shared" {
                try FileManager.default.createDirectory(atPath: backing, withIntermediateDirectories: true)
                try FileManager.default.createDirectory(atPath: storage, withIntermediateDirectories: true)
                chmod(backing, 0o711)
                try TPMTestSupport.mountGluster(backing, on: storage)
                mounted = true
            }
            var hook: ((String) throws -> Void)?
            if storageKind == kinds[2] {
                // The saved domain's state moves onto a shared mount before the restore.
                hook = { _ in
                    try FileManager.default.createDirectory(atPath: backing, withIntermediateDirectories: true)
                    chmod(backing, 0o711)
                    let cp = try ChildProcess.run(["/bin/cp", "-a", storage + "/.", backing + "/"])
                    #expect(cp.status == 0, "\(cp.stderr)")
                    try TPMTestSupport.mountGluster(backing, on: storage, nonempty: true)
                    mounted = true
                }
            }
            ours[storageKind] = try await Self.runScenarios(
                Target(label: "virtd", uri: daemon.uri, socket: daemon.socket, setupLog: setupLog,
                       storage: storageKind == kinds[2] ? backing : storage, saveDir: daemon.dir),
                storageKind: storageKind, beforeRestore: hook)
        }

        for storageKind in kinds {
            // libvirtd: its storage is /var/lib/libvirt/swtpm in its mount namespace (a tmpfs there); when shared,
            // a glusterfs-typed bindfs mount of a directory of ours, made in that namespace.
            let backing = try TestPaths.makeTempDir("tkref", mode: 0o711)
            // QEMU's output to a file (no virtlogd here); logs on tmpfs, so nothing leaks to the host's /var/log.
            let qemuConf = bin + "/qemu.conf"
            try "stdio_handler = \"file\"\n".write(toFile: qemuConf, atomically: true, encoding: .utf8)
            var setup = "export PATH='\(bin)':\"$PATH\" && mount --bind '\(qemuConf)' /etc/libvirt/qemu.conf && "
                + "mkdir -p /var/log/swtpm /var/log/libvirt && mount -t tmpfs -o mode=0755 tmpfs /var/log/swtpm && "
                + "mount -t tmpfs -o mode=0755 tmpfs /var/log/libvirt && "
            if storageKind == "shared" {
                setup += "mkdir -p /var/lib/libvirt/swtpm && "
                    + "/usr/bin/bindfs -o subtype=glusterfs,allow_other '\(backing)' /var/lib/libvirt/swtpm && "
            }
            let ref = try ReferenceLibvirtd(privateDomainConfig: true, namespaceSetup: setup)
            defer {
                ref.stop()
                // bindfs's daemon lives in libvirtd's namespace: it is ours, found by its source directory.
                let fuse = ProcFS.allPIDs().filter {
                    ProcFS.executable(of: $0)?.hasSuffix("/bindfs") == true
                        && TPMTestSupport.cmdline($0).contains(backing)
                }
                for pid in fuse { kill(pid, SIGTERM) }
                if !eventually(10, { fuse.allSatisfy { !ProcFS.isAlive($0) } }) {
                    for pid in fuse { kill(pid, SIGKILL) }
                }
                TestPaths.removeDir(backing)
            }
            let local = "/proc/\(ref.pid)/root/var/lib/libvirt/swtpm"
            var hook: ((String) throws -> Void)?
            if storageKind == kinds[2] {
                // The same move in libvirtd's namespace: the state copied to our directory, mounted there.
                hook = { _ in
                    let cp = try ChildProcess.run(["/bin/cp", "-a", local + "/.", backing + "/"])
                    #expect(cp.status == 0, "\(cp.stderr)")
                    let m = try ChildProcess.spawn(["/usr/bin/nsenter", "-t", "\(ref.pid)", "-m", "/usr/bin/bindfs", "-o",
                                                    "subtype=glusterfs,allow_other,nonempty", backing,
                                                    "/var/lib/libvirt/swtpm"])
                    _ = try? m.finish(timeLimit: 30)
                    let mi = (try? String(contentsOfFile: "/proc/\(ref.pid)/mountinfo", encoding: .utf8)) ?? ""
                    #expect(mi.contains("/var/lib/libvirt/swtpm") && mi.contains("fuse.glusterfs"), "\(mi)")
                }
            }
            theirs[storageKind] = try await Self.runScenarios(
                Target(label: "libvirtd", uri: "qemu+unix:///system?socket=\(ref.socket)", socket: ref.socket,
                       setupLog: setupLog,
                       storage: storageKind == "local" ? local : backing, saveDir: ref.dir),
                storageKind: storageKind, beforeRestore: hook)
        }

        print("swtpm start kinds: virtd (ours) | libvirtd 9.0")
        for storageKind in kinds {
            for (i, (kind, cell)) in (ours[storageKind] ?? []).enumerated() {
                let ref = theirs[storageKind].map { $0.count > i ? "\($0[i].1)" : "-" } ?? "-"
                print("| \(kind), \(storageKind) | ours: \(cell) |")
                print("| \(kind), \(storageKind) | libvirtd: \(ref) |")
            }
        }

        func cells(_ table: [String: [(String, Cell)]], _ storage: String, _ kind: String) -> Cell? {
            table[storage]?.first { $0.0 == kind }?.1
        }
        func same(_ storage: String, _ kind: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let a = cells(ours, storage, kind).map { "\($0)" }
            let b = cells(theirs, storage, kind).map { "\($0)" }
            #expect(a != nil && a == b, "\(kind), \(storage):\n ours:     \(a ?? "-")\n libvirtd: \(b ?? "-")",
                    sourceLocation: sourceLocation)
        }
        // Local state: the same swtpm_setup, swtpm argv, owner and outcome for every kind.
        for kind in ["cold boot", "save", "restore", "managed save", "managed save + start"] { same("local", kind) }
        let manufacture = "uid=\(try TPMTestSupport.tssIDs().0) --tpm2 --tpm-state STATE --vmid NAME:UUID --logfile LOG "
            + "--createek --create-ek-cert --create-platform-cert --lock-nvram --not-overwrite"
        #expect(cells(ours, "local", "cold boot")?.setup == manufacture)
        #expect(cells(ours, "local", "restore")?.setup == "not run")
        #expect(cells(ours, "local", "cold boot")?.owner == "tss:tss 700")
        // Shared state: cold boot alike (swtpm 0.7.1 has no --migration, so no such argument).
        same("shared", "cold boot")
        #expect(cells(ours, "shared", "cold boot")?.swtpm.contains("--migration") == false)
        // libvirt refuses to save a domain whose TPM state is shared when its swtpm cannot migrate
        // (qemuMigrationSrcIsAllowed, also called by the save path). virtd differs on purpose: a save and a
        // restore on the same host need no lock hand-over (the TPM state travels in QEMU's stream), and the
        // refusal breaks managed saves at host shutdown; so virtd saves it, and it restores (below).
        let cannotMigrate = "the running swtpm does not support migration with shared storage"
        #expect(cells(theirs, "shared", "save")?.outcome.contains(cannotMigrate) == true)
        #expect(cells(theirs, "shared", "managed save")?.outcome.contains(cannotMigrate) == true)
        #expect(cells(ours, "shared", "save")?.outcome.hasPrefix("ok") == true,
                "\(String(describing: cells(ours, "shared", "save")))")
        #expect(cells(ours, "shared", "managed save")?.outcome.hasPrefix("ok") == true,
                "\(String(describing: cells(ours, "shared", "managed save")))")
        // Saved with local state, restored with it shared: libvirtd 9.0 still treats a restore as an incoming
        // migration for swtpm (the bug libvirt 9.1 fixed, commit 5c4007dd) and refuses it since swtpm 0.7.1 has
        // no --migration; virtd follows libvirt 9.6: a restore is not an incoming migration.
        let refusal = "does not support the --migration option needed for migration with shared storage"
        #expect(cells(theirs, kinds[2], "restore")?.outcome.contains(refusal) == true,
                "\(String(describing: cells(theirs, kinds[2], "restore")))")
        #expect(cells(ours, kinds[2], "restore")?.outcome == "ok: running (restored)",
                "\(String(describing: cells(ours, kinds[2], "restore")))")
        #expect(cells(ours, kinds[2], "restore")?.owner == "tss:tss 700")
        // libvirtd's incoming migration from a save stream: local state exists, so no swtpm_setup, and swtpm runs
        // without --migration; with the state shared, swtpm 0.7.1 is refused (virtd's side: the embedded-driver
        // suite, as virtd has no migration calls yet).
        let inLocal = cells(theirs, "local", "incoming migration")
        #expect(inLocal?.setup == "not run" && inLocal?.outcome.hasPrefix("prepared, stream sent") == true,
                "\(String(describing: inLocal))")
        #expect(inLocal?.swtpm.hasPrefix("socket --ctrl type=unixio,path=SOCK,mode=0600 --tpmstate dir=STATE,mode=0600 "
                                        + "--log file=LOG --terminate --tpm2") == true, "\(String(describing: inLocal))")
        #expect(cells(theirs, kinds[2], "incoming migration")?.outcome.contains(refusal) == true)
    }
}

/// The destination side of a live migration driven by hand over libvirt's remote protocol, fed from a save
/// image instead of a source QEMU: DOMAIN_MIGRATE_PREPARE3_PARAMS (the image's XML, `tcp:127.0.0.1:PORT`),
/// QEMU's migration stream (the image past its header) written to that port, DOMAIN_MIGRATE_FINISH3_PARAMS.
enum IncomingMigration {
    static let authList: Int32 = 66
    static let connectOpen: Int32 = 1
    static let prepare3Params: Int32 = 303
    static let typedParamString: Int32 = 7
    static let migrateLive: UInt32 = 1

    static func writeParams(_ w: inout XDRWriter, _ params: [(String, String)]) {
        w.uint(UInt32(params.count))
        for (k, v) in params {
            w.string(k)
            w.int(typedParamString)
            w.string(v)
        }
    }

    static func message(_ error: any Error) -> String {
        (error as? VirtError)?.message ?? "\(error)"
    }

    /// Prepares the migration and sends the stream (no Finish: the test looks at the destination, then
    /// destroys it). `error`: the Prepare's error (as virsh prints it after "error: "); `fed`: how the stream went;
    /// `client`: the connection, to be closed by the caller once done (libvirtd destroys an incoming domain
    /// whose preparing connection closes).
    static func run(socket: String, xml: String, image: String, name: String,
                    uuid: String) async -> (error: String?, fed: String, client: RPCClient?) {
        let port = Int.random(in: 49300...49900)
        let uri = "tcp:127.0.0.1:\(port)"
        let client: RPCClient
        do {
            client = try await RPCClient.connect(.unix(socket))
            _ = try await client.call(authList)
            _ = try await client.call(connectOpen) { w in
                w.optionalString("qemu:///system")
                w.uint(0)
            }
        } catch {
            return ("error: cannot connect: \(message(error))", "", nil)
        }
        let params = [("destination_xml", xml), ("migrate_uri", uri)]
        // The source's cookie (NUL-terminated XML): another host. (Without a cookie, libvirtd 9.0's process was
        // gone after the Prepare and the connection closed.)
        let cookie = Array(("<qemu-migration><name>\(name)</name><uuid>\(uuid)</uuid>"
            + "<hostname>tpmtest-source</hostname><hostuuid>\(UUID().uuidString.lowercased())</hostuuid>"
            + "<capabilities></capabilities></qemu-migration>").utf8) + [0]
        do {
            _ = try await client.call(prepare3Params) { w in
                writeParams(&w, params)
                cookie.withUnsafeBytes { w.opaque($0) }
                w.uint(migrateLive)
            }
        } catch {
            await client.close()
            return ("error: " + message(error), "", nil)
        }
        // The stream: the image past its header (92 bytes, data length at offset 20, host byte order) and data.
        guard let data = FileManager.default.contents(atPath: image), data.count > 92 else {
            return (nil, "no stream", client)
        }
        let len = data[20..<24].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        return (nil, send(data.subdata(in: (92 + len)..<data.count), port: port), client)
    }

    /// Writes `data` to 127.0.0.1:`port` (retrying the connection for a few seconds).
    static func send(_ data: Data, port: Int) -> String {
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return "socket failed" }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            if !ok {
                close(fd)
                usleep(50_000)
                continue
            }
            var sent = 0
            data.withUnsafeBytes { (b: UnsafeRawBufferPointer) in
                guard let base = b.baseAddress else { return }
                while sent < b.count {
                    let n = write(fd, base + sent, b.count - sent)
                    if n <= 0 { break }
                    sent += n
                }
            }
            close(fd)
            return sent == data.count ? "stream sent" : "stream cut at \(sent) of \(data.count)"
        }
        return "nobody listens on port \(port)"
    }
}
