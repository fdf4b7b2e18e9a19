import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Save, restore and managed save of the TCG test guest through virtd, with Debian's virsh, our vsh and
/// python3-libvirt, next to Debian's libvirtd 9.0 doing the same on the same QEMU. The expected states,
/// reasons, events and error messages are those libvirtd 9.0 gave for the same steps on the same guest.
/// That the guest survives a restore is shown by an ACPI shutdown after it: the restored guest powers off
/// (its marker on the serial console) and the domain ends "shut off (shutdown)".
enum SaveRestoreSupport {
    static let ready = "SWIFTVIRT-GUEST-READY"
    static let poweroff = "SWIFTVIRT-GUEST-POWEROFF"

    /// The 16-byte magic and the was-running word of a save image.
    static func header(_ path: String) -> (magic: String, wasRunning: UInt32)? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        guard let d = try? h.read(upToCount: 92), d.count == 92 else { return nil }
        let bytes = [UInt8](d)
        let running = UInt32(bytes[24]) | UInt32(bytes[25]) << 8 | UInt32(bytes[26]) << 16 | UInt32(bytes[27]) << 24
        return (String(decoding: bytes[0..<16], as: UTF8.self), running)
    }

    /// Writes the first `count` bytes of `src` to `dst` (a truncated image), or `count` zeros when `src` is nil.
    static func writePrefix(of src: String?, count: Int, to dst: String) throws {
        let data: Data
        if let src {
            data = (FileManager.default.contents(atPath: src) ?? Data()).prefix(count)
        } else {
            data = Data(count: count)
        }
        try data.write(to: URL(fileURLWithPath: dst))
    }

    static func trimmed(_ r: ChildProcess.Result) -> String {
        r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Files under virtd's state directory other than the driver's pid file and hidden ones (status files of
    /// live domains; the reaper's graves are hidden).
    static func statusFiles(_ root: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/run/qemu")) ?? [])
            .filter { $0 != "driver.pid" && !$0.hasPrefix(".") }.sorted()
    }
}

/// Debian's libvirtd 9.0 with its QEMU driver and virtlogd, in a private mount namespace (its own /run/libvirt,
/// /var/lib/libvirt and /etc/libvirt/qemu), under `tini -s`. QEMU runs as Debian's default user libvirt-qemu,
/// with dynamic ownership; libvirtd opens save images and serial logs itself (as root) and passes QEMU the
/// descriptors, so root-owned 0600 images work. `stop()` kills the QEMUs it started (tini's children, found by
/// parent pid), virtlogd and libvirtd, and removes the directory.
final class SaveReferenceLibvirtd {
    let dir: String
    private var process: ChildProcess?
    var uri: String { "qemu+unix:///system?socket=\(dir)/libvirt-sock" }

    init() throws {
        dir = try TestPaths.makeTempDir("sl", mode: 0o755)
        try ReferenceLibvirtd.writeConfig(dir: dir)
        let inner = "mkdir -p -m 0755 /run/libvirt && mount -t tmpfs tmpfs /run/libvirt && "
            + "mount -t tmpfs tmpfs /var/lib/libvirt && mount -t tmpfs tmpfs /etc/libvirt/qemu && "
            + "exec /usr/bin/tini -s -- /bin/sh -c "
            + "\"/usr/sbin/virtlogd -p '\(dir)/virtlogd.pid' & exec /usr/sbin/libvirtd -f '\(dir)/libvirtd.conf' -p '\(dir)/pid'\""
        process = try ChildProcess.spawn(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", inner],
                                         output: .file(dir + "/stderr.log"))
        guard waitFor(path: dir + "/libvirt-sock"), waitFor(path: dir + "/pid"), waitFor(path: dir + "/virtlogd.pid")
        else {
            let err = (try? String(contentsOfFile: dir + "/stderr.log", encoding: .utf8)) ?? ""
            stop()
            throw DaemonError.notStarted("libvirtd: \(err)")
        }
    }

    private func pid(_ file: String) -> Int32? {
        Int32((try? String(contentsOfFile: dir + "/" + file, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
    }

    /// libvirtd's managed save directory, seen through its mount namespace.
    var managedSaveDir: String { "/proc/\(pid("pid") ?? -1)/root/var/lib/libvirt/qemu/save" }

    /// QEMUs libvirtd started: they are daemonized, so their parent is tini (a subreaper, our child).
    func qemuProcesses() -> [Int32] {
        guard let tini = process?.pid else { return [] }
        return ProcFS.allPIDs().filter { p in
            ProcFS.parentAndState(p)?.0 == tini && (ProcFS.executable(of: p) ?? "").contains("qemu-system")
        }
    }

    func virsh(_ commands: String, timeout: Double = 120) throws -> ChildProcess.Result {
        try ChildProcess.run(["/usr/bin/virsh", "-c", uri, commands], timeLimit: timeout)
    }

    func stop() {
        guard let proc = process else { return }
        for q in qemuProcesses() { kill(q, SIGKILL) }
        _ = eventually(10) { qemuProcesses().isEmpty }
        process = nil
        if let v = pid("virtlogd.pid") { ProcFS.kill(v, SIGTERM, ifExecutable: "virtlogd") }
        proc.terminate(signalPID: pid("pid"))
        try? FileManager.default.removeItem(atPath: dir)
    }

    deinit { stop() }
}

@Suite("save, restore and managed save through virtd with Debian's virsh and vsh", .serialized, .tags(.qemu, .root))
struct QEMUSaveRestoreVirshTests {
    enum Client: String, CaseIterable, CustomTestStringConvertible {
        case virsh, vsh
        var path: String { self == .virsh ? "/usr/bin/virsh" : TestPaths.vsh }
        var testDescription: String { rawValue }
    }

    @Test("save/restore running and paused (--paused, --running): states and reasons as libvirtd 9.0; the guest survives",
          arguments: Client.allCases)
    func saveRestore(client: Client) throws {
        try TestHost.requireRoot()
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let d = daemon.dir
        let serial = d + "/serial.log"
        try QEMUDaemonSupport.guestXML(name: "sr", serialLog: serial).write(toFile: d + "/sr.xml", atomically: true,
                                                                               encoding: .utf8)
        func step(_ args: [String], _ expect: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let r = try daemon.virsh(args: args, client: client.path)
            #expect(r.status == 0, "\(args): \(r.stderr)", sourceLocation: sourceLocation)
            if let expect {
                #expect(r.stdout.contains(expect), "\(args): \(r.stdout)", sourceLocation: sourceLocation)
            }
        }
        func state() -> String {
            ((try? daemon.virsh(args: ["domstate", "--reason", "sr"], client: client.path)).map(SaveRestoreSupport.trimmed))
                ?? ""
        }

        try step(["define", d + "/sr.xml"], "Domain 'sr' defined")
        try step(["start", "sr"], "Domain 'sr' started")
        #expect(eventually(120) { QEMUDaemonSupport.occurrences(of: SaveRestoreSupport.ready, in: serial) >= 1 },
                "the guest did not boot")

        // A running domain saved: shut off (saved), the image final and marked running.
        try step(["save", "sr", d + "/a.save"], "Domain 'sr' saved to \(d)/a.save")
        #expect(state() == "shut off (saved)")
        #expect(SaveRestoreSupport.header(d + "/a.save").map { "\($0.magic) \($0.wasRunning)" } == "LibvirtQemudSave 1")
        #expect(QEMUDaemonSupport.qemuProcesses(under: d).isEmpty)
        try step(["restore", d + "/a.save"], "Domain restored from \(d)/a.save")
        #expect(state() == "running (restored)")

        // save --paused: the image restores paused; libvirtd 9.0 gives "paused (migrating)".
        try step(["save", "--paused", "sr", d + "/b.save"], "Domain 'sr' saved to \(d)/b.save")
        #expect(state() == "shut off (saved)")
        #expect(SaveRestoreSupport.header(d + "/b.save")?.wasRunning == 0)
        try step(["restore", d + "/b.save"], "Domain restored from \(d)/b.save")
        let pausedImage = state()
        #expect(pausedImage.hasPrefix("paused ("), "\(pausedImage)")
        #expect(pausedImage == "paused (migrating)")
        try step(["resume", "sr"], "Domain 'sr' resumed")
        #expect(state() == "running (unpaused)")

        // restore --paused of an image saved running.
        try step(["save", "sr", d + "/c.save"])
        try step(["restore", "--paused", d + "/c.save"], "Domain restored from \(d)/c.save")
        let pausedFlag = state()
        #expect(pausedFlag.hasPrefix("paused ("), "\(pausedFlag)")
        #expect(pausedFlag == "paused (migrating)")

        // restore --running of the image saved paused.
        try step(["destroy", "sr"], "Domain 'sr' destroyed")
        try step(["restore", "--running", d + "/b.save"], "Domain restored from \(d)/b.save")
        #expect(state() == "running (restored)")

        // The guest lived through three saves and restores: it still powers off on the ACPI button.
        try step(["shutdown", "sr"], "Domain 'sr' is being shutdown")
        #expect(eventually(120) { state() == "shut off (shutdown)" }, "\(state())")
        #expect(QEMUDaemonSupport.occurrences(of: SaveRestoreSupport.poweroff, in: serial) >= 1)
        #expect(eventually(30) { QEMUDaemonSupport.qemuProcesses(under: d).isEmpty })
        try step(["undefine", "sr"], "Domain 'sr' has been undefined")
        #expect(SaveRestoreSupport.statusFiles(d).isEmpty, "\(SaveRestoreSupport.statusFiles(d))")
        #expect(ProcFS.zombieChildren(of: daemon.pid).isEmpty)
    }

    @Test("managed save: dominfo, start restores and removes it, --force-boot discards it, undefine refused/--managed-save",
          arguments: Client.allCases)
    func managedSave(client: Client) throws {
        try TestHost.requireRoot()
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let d = daemon.dir
        let serial = d + "/serial.log"
        let image = d + "/lib/qemu/save/ms.save"
        try QEMUDaemonSupport.guestXML(name: "ms", serialLog: serial).write(toFile: d + "/ms.xml", atomically: true,
                                                                               encoding: .utf8)
        func run(_ args: [String]) throws -> ChildProcess.Result {
            try daemon.virsh(args: args, client: client.path)
        }
        func step(_ args: [String], _ expect: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let r = try run(args)
            #expect(r.status == 0, "\(args): \(r.stderr)", sourceLocation: sourceLocation)
            if let expect {
                #expect(r.stdout.contains(expect), "\(args): \(r.stdout)", sourceLocation: sourceLocation)
            }
        }
        func state() -> String { ((try? run(["domstate", "--reason", "ms"])).map(SaveRestoreSupport.trimmed)) ?? "" }
        func managedLine() -> String {
            ((try? run(["dominfo", "ms"]))?.stdout ?? "").split(separator: "\n")
                .first { $0.hasPrefix("Managed save:") }.map(String.init) ?? ""
        }

        try step(["define", d + "/ms.xml"], "Domain 'ms' defined")
        try step(["start", "ms"], "Domain 'ms' started")
        #expect(eventually(120) { QEMUDaemonSupport.occurrences(of: SaveRestoreSupport.ready, in: serial) >= 1 })
        #expect(managedLine() == "Managed save:   no")
        try step(["managedsave", "ms"], "Domain 'ms' state saved by libvirt")
        #expect(state() == "shut off (saved)")
        #expect(managedLine() == "Managed save:   yes")
        #expect(SaveRestoreSupport.header(image)?.magic == "LibvirtQemudSave")

        // undefine is refused while the image exists.
        let refused = try run(["undefine", "ms"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("error: Refusing to undefine while domain managed save image exists"),
                "\(refused.stderr)")

        // start restores it and removes it.
        try step(["start", "ms"], "Domain 'ms' started")
        #expect(state() == "running (restored)")
        #expect(access(image, F_OK) != 0)
        #expect(managedLine() == "Managed save:   no")

        // start --force-boot discards it and boots fresh.
        try step(["managedsave", "ms"])
        #expect(access(image, F_OK) == 0)
        truncate(serial, 0)
        try step(["start", "--force-boot", "ms"], "Domain 'ms' started")
        #expect(state() == "running (booted)")
        #expect(access(image, F_OK) != 0)

        // After a fresh boot the guest runs; it survives a managed save and a start again.
        #expect(eventually(120) { QEMUDaemonSupport.occurrences(of: SaveRestoreSupport.ready, in: serial) >= 1 })
        try step(["managedsave", "ms"])
        try step(["start", "ms"])
        #expect(state() == "running (restored)")
        try step(["shutdown", "ms"])
        #expect(eventually(120) { state() == "shut off (shutdown)" }, "\(state())")
        #expect(QEMUDaemonSupport.occurrences(of: SaveRestoreSupport.poweroff, in: serial) >= 1)

        // undefine --managed-save removes the image with the definition.
        try step(["start", "ms"])
        try step(["managedsave", "ms"])
        try step(["undefine", "--managed-save", "ms"], "Domain 'ms' has been undefined")
        #expect(access(image, F_OK) != 0)
        #expect(QEMUDaemonSupport.listRows(try run(["list", "--all"]).stdout)["ms"] == nil)
        #expect(QEMUDaemonSupport.qemuProcesses(under: d).isEmpty)
    }

    @Test("corrupt managed save: a short header is removed with a warning, fresh boot; zeros fail the start, kept")
    func corruptManagedSave() throws {
        try TestHost.requireRoot()
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let d = daemon.dir
        let image = d + "/lib/qemu/save/cm.save"
        try QEMUDaemonSupport.guestXML(name: "cm", serialLog: d + "/serial.log")
            .write(toFile: d + "/cm.xml", atomically: true, encoding: .utf8)
        func state() -> String { ((try? daemon.virsh("domstate --reason cm")).map(SaveRestoreSupport.trimmed)) ?? "" }
        #expect(try daemon.virsh("define \(d)/cm.xml; start cm; managedsave cm").status == 0)
        #expect(access(image, F_OK) == 0)

        // Truncated inside the header (libvirt: "failed to read qemu header", the image is unlinked silently).
        try SaveRestoreSupport.writePrefix(of: image, count: 50, to: image)
        let fresh = try daemon.virsh("start cm")
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(state() == "running (booted)")
        #expect(access(image, F_OK) != 0)
        let log = (try? String(contentsOfFile: d + "/log/qemu/cm.log", encoding: .utf8)) ?? ""
        #expect(log.contains("corrupt managed save image"), "\(log)")

        // The partial magic of an unfinished save ("save image is incomplete"): unlinked too, a fresh boot.
        #expect(try daemon.virsh("managedsave cm").status == 0)
        var bytes = [UInt8](FileManager.default.contents(atPath: image) ?? Data())
        #expect(bytes.count > 92)
        bytes.replaceSubrange(0..<min(16, bytes.count), with: Array("LibvirtQemudPart".utf8))
        try Data(bytes).write(to: URL(fileURLWithPath: image))
        let partial = try daemon.virsh("start cm")
        #expect(partial.status == 0, "\(partial.stderr)")
        #expect(state() == "running (booted)")
        #expect(access(image, F_OK) != 0)

        // Zeros over the header: libvirtd 9.0 fails the start ("image magic is incorrect") and keeps the image.
        #expect(try daemon.virsh("managedsave cm").status == 0)
        let size = (try? FileManager.default.attributesOfItem(atPath: image)[.size] as? Int) ?? 0
        try SaveRestoreSupport.writePrefix(of: nil, count: max(size, 4096), to: image)
        let zeros = try daemon.virsh("start cm")
        #expect(zeros.status == 1)
        #expect(zeros.stderr.contains("error: operation failed: image magic is incorrect"), "\(zeros.stderr)")
        #expect(state() == "shut off (saved)")
        #expect(access(image, F_OK) == 0)
        #expect(QEMUDaemonSupport.qemuProcesses(under: d).isEmpty)
        // --force-boot gets past it.
        #expect(try daemon.virsh("start --force-boot cm").status == 0)
        #expect(state() == "running (booted)")
        #expect(access(image, F_OK) != 0)
        #expect(try daemon.virsh("destroy cm; undefine cm").status == 0)
    }

    @Test("domjobinfo: 'None' on an idle domain; after a save, --completed shows the Save operation, Completed")
    func jobInfo() throws {
        try TestHost.requireRoot()
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let d = daemon.dir
        try QEMUDaemonSupport.guestXML(name: "ji", serialLog: d + "/serial.log")
            .write(toFile: d + "/ji.xml", atomically: true, encoding: .utf8)
        #expect(try daemon.virsh("define \(d)/ji.xml; start ji").status == 0)
        let idle = try daemon.virsh("domjobinfo ji")
        #expect(idle.status == 0)
        #expect(idle.stdout.hasPrefix("Job type:         None"), "\(idle.stdout)")
        #expect(try daemon.virsh("save ji \(d)/ji.save").status == 0)
        let done = try daemon.virsh("domjobinfo --completed ji")
        #expect(done.status == 0, "\(done.stderr)")
        for line in ["Job type:         Completed", "Operation:        Save", "Time elapsed:", "Memory total:",
                     "Memory processed:", "Memory remaining: 0.000 B", "Data total:"] {
            #expect(done.stdout.contains(line), "\(line) in \(done.stdout)")
        }
        // libvirt measures the downtime of a save that paused the guest itself: from the pause to completion,
        // nearly all of the elapsed time (libvirtd 9.0: 298 of 300 ms), not QEMU's final stop-and-copy.
        func ms(_ label: String) -> Int? {
            done.stdout.split(separator: "\n").first { $0.hasPrefix(label) }
                .flatMap { Int($0.dropFirst(label.count).split(separator: " ").first ?? "") }
        }
        let elapsed = ms("Time elapsed:"), downtime = ms("Total downtime:")
        // libvirt's downtime runs from the job's pause to its end: within the elapsed time (how much of it
        // depends on the machine's load, so no ratio is asserted).
        #expect(elapsed != nil && downtime != nil && (downtime ?? 0) <= (elapsed ?? 0), "\(done.stdout)")
        #expect(done.stdout.contains("Postcopy requests: 0"), "\(done.stdout)")
        // --completed clears it (no KEEP_COMPLETED): the next query has no job.
        let again = try daemon.virsh("domjobinfo --completed ji")
        #expect(again.stdout.hasPrefix("Job type:         None"), "\(again.stdout)")
        // A shut-off domain without a job.
        let off = try daemon.virsh("domjobinfo ji")
        #expect(off.stdout.hasPrefix("Job type:         None"), "\(off.stdout) \(off.stderr)")
        #expect(try daemon.virsh("undefine ji").status == 0)
    }

    @Test("bad images given to restore: libvirt's errors, nothing left running, the domain list unchanged")
    func badImages() throws {
        try TestHost.requireRoot()
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let d = daemon.dir
        let serial = d + "/serial.log"
        let disk = try QEMUDaemonSupport.makeImage(d + "/bd.img", owner: (0, 0))
        let guest = try QEMUDaemonSupport.guestXML(name: "bd", serialLog: serial)
            .replacingOccurrences(of: "<devices>", with: "<devices><disk type='file' device='disk'>"
                + "<driver name='qemu' type='raw'/><source file='\(disk)'/><target dev='vda' bus='virtio'/></disk>")
        try guest.write(toFile: d + "/bd.xml", atomically: true, encoding: .utf8)
        #expect(try daemon.virsh("define \(d)/bd.xml; start bd").status == 0)
        #expect(eventually(120) { QEMUDaemonSupport.occurrences(of: SaveRestoreSupport.ready, in: serial) >= 1 })
        let saved = try daemon.virsh("save bd \(d)/good.save")
        #expect(saved.status == 0, "\(saved.stderr)")
        let listBefore = try daemon.virsh("list --all").stdout

        try SaveRestoreSupport.writePrefix(of: d + "/good.save", count: 50, to: d + "/trunc.save")
        try SaveRestoreSupport.writePrefix(of: nil, count: 1 << 20, to: d + "/zeros.save")
        // The header and XML intact, QEMU's stream cut short.
        try SaveRestoreSupport.writePrefix(of: d + "/good.save", count: 1 << 20, to: d + "/short.save")
        let cases: [(String, String)] = [
            ("trunc.save", "error: operation failed: failed to read qemu header"),
            ("zeros.save", "error: operation failed: image magic is incorrect"),
            ("short.save", "error: "),
        ]
        for (file, message) in cases {
            let r = try daemon.virsh("restore \(d)/\(file)")
            #expect(r.status == 1, "\(file): \(r.stdout)")
            #expect(r.stderr.contains("error: Failed to restore domain from \(d)/\(file)"), "\(file): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(file): \(r.stderr)")
            #expect(QEMUDaemonSupport.qemuProcesses(under: d).isEmpty, "\(file)")
            #expect(try daemon.virsh("list --all").stdout == listBefore, "\(file)")
            #expect(SaveRestoreSupport.statusFiles(d).isEmpty, "\(file): \(SaveRestoreSupport.statusFiles(d))")
            // A header error starts nothing; a failed QEMU load stops the domain "failed", as libvirt's
            // qemuProcessStop(VIR_DOMAIN_SHUTOFF_FAILED) does.
            #expect(SaveRestoreSupport.trimmed(try daemon.virsh("domstate --reason bd"))
                        == (file == "short.save" ? "shut off (failed)" : "shut off (saved)"), "\(file)")
        }
        // Which comes first, QEMU's "failed" migration status or its exit, is a race (libvirt waits for the
        // monitor to close): libvirt's words when the exit wins.
        withKnownIssue("QEMU reported the failed load before it exited", isIntermittent: true) {
            let r = try daemon.virsh("restore \(d)/short.save")
            #expect(r.stderr.contains("internal error: qemu unexpectedly closed the monitor:"), "\(r.stderr)")
        }

        // The image's XML names a disk that is gone.
        unlink(disk)
        let missing = try daemon.virsh("restore \(d)/good.save")
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("error: Cannot access storage file '\(disk)': No such file or directory"),
                "\(missing.stderr)")
        #expect(QEMUDaemonSupport.qemuProcesses(under: d).isEmpty)
        #expect(try daemon.virsh("list --all").stdout == listBefore)
        #expect(SaveRestoreSupport.statusFiles(d).isEmpty)
        #expect(try daemon.virsh("undefine bd").status == 0)
        #expect(ProcFS.zombieChildren(of: daemon.pid).isEmpty)
    }
}

/// The same save/restore steps with python3-libvirt against libvirtd 9.0 and against virtd, each step's state
/// and the events it raised (lifecycle, job-completed, migration-iteration callbacks) compared line by line.
@Suite("save and restore events: virtd vs libvirtd 9.0 (python3-libvirt)", .serialized,
       .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUSaveRestoreEventTests {
    /// Prints `LABEL state [state, reason]` and `LABEL events [...]` per step; events of domain "sr" only, a
    /// run of migration-iteration events as one "iterations" (their number depends on QEMU's timing).
    static let script = #"""
    import libvirt, sys, threading, time
    uri, xmlpath, serial, d, marker = sys.argv[1:6]
    libvirt.virEventRegisterDefaultImpl()
    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()
    conn = libvirt.open(uri)
    cond = threading.Condition()
    events = []
    def add(dom, what):
        with cond:
            events.append((dom.name(), what))
            cond.notify_all()
    def lifecycle(c, dom, event, detail, opaque):
        add(dom, "lifecycle %d %d" % (event, detail))
    def jobdone(c, dom, params, opaque):
        add(dom, "job-completed operation=%s" % params.get("operation"))
    def iteration(c, dom, it, opaque):
        add(dom, "iterations")
    ids = [conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, None),
           conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, jobdone, None),
           conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION, iteration, None)]
    syncs = [0]
    seen = [0]
    def sync():
        syncs[0] += 1
        m = conn.defineXML(open(marker).read())
        m.undefine()
        with cond:
            ok = cond.wait_for(lambda: sum(1 for e in events if e == ("evsync", "lifecycle 1 0")) >= syncs[0], timeout=60)
        if not ok:
            print("sync timed out", flush=True)
    def markers(m):
        try:
            return open(serial, errors="replace").read().count(m)
        except OSError:
            return 0
    def until(fn, limit=180):
        end = time.time() + limit
        while time.time() < end:
            if fn():
                return True
            time.sleep(0.05)
        return False
    dom = [None]
    def step(label, fn):
        try:
            extra = fn()
        except libvirt.libvirtError as e:
            extra = "error %d %s" % (e.get_error_code(), e.get_error_message())
        sync()
        with cond:
            mine = [w for (n, w) in events[seen[0]:] if n == "sr"]
            seen[0] = len(events)
        collapsed = []
        for w in mine:
            if not (w == "iterations" and collapsed and collapsed[-1] == "iterations"):
                collapsed.append(w)
        try:
            st = dom[0].state()
        except libvirt.libvirtError as e:
            st = "error %d" % e.get_error_code()
        print(label, "state", st, "" if extra is None else extra, flush=True)
        print(label, "events", collapsed, flush=True)
    def start():
        dom[0] = conn.defineXML(open(xmlpath).read())
        dom[0].create()
        return until(lambda: markers("SWIFTVIRT-GUEST-READY") >= 1)
    step("start", start)
    step("save", lambda: dom[0].save(d + "/a.save"))
    step("jobinfo", lambda: (lambda s: (s.get("type"), s.get("operation")))(
        dom[0].jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)))
    step("restore", lambda: conn.restore(d + "/a.save"))
    step("save-paused", lambda: dom[0].saveFlags(d + "/b.save", None, libvirt.VIR_DOMAIN_SAVE_PAUSED))
    step("restore-paused-image", lambda: conn.restore(d + "/b.save"))
    step("resume", lambda: dom[0].resume())
    step("save-again", lambda: dom[0].save(d + "/c.save"))
    step("restore-flag-paused", lambda: conn.restoreFlags(d + "/c.save", None, libvirt.VIR_DOMAIN_SAVE_PAUSED))
    step("destroy", lambda: dom[0].destroy())
    step("restore-flag-running", lambda: conn.restoreFlags(d + "/b.save", None, libvirt.VIR_DOMAIN_SAVE_RUNNING))
    step("managedsave", lambda: (dom[0].managedSave(0), dom[0].hasManagedSaveImage(0))[1])
    step("start-managed", lambda: (dom[0].create(), dom[0].hasManagedSaveImage(0))[1])
    def shutdown():
        dom[0].shutdown()
        return (until(lambda: dom[0].state()[0] == libvirt.VIR_DOMAIN_SHUTOFF),
                markers("SWIFTVIRT-GUEST-POWEROFF") >= 1)
    step("shutdown", shutdown)
    step("undefine", lambda: dom[0].undefine())
    for i in ids:
        conn.domainEventDeregisterAny(i)
    conn.close()
    """#

    /// Lines where virtd is known to differ from libvirtd 9.0 (see the report of the save branch).
    /// Steps where virtd is known to differ from libvirtd 9.0 (none left).
    static let knownDifferences: [String: String] = [:]

    static func transcript(uri: String, dir: String) throws -> [String] {
        let serial = dir + "/sr-serial.log"
        try QEMUDaemonSupport.guestXML(name: "sr", serialLog: serial)
            .write(toFile: dir + "/sr.xml", atomically: true, encoding: .utf8)
        try QEMUDaemonSupport.kvmXML(name: "evsync").write(toFile: dir + "/evsync.xml", atomically: true, encoding: .utf8)
        try script.write(toFile: dir + "/events.py", atomically: true, encoding: .utf8)
        let r = try ChildProcess.run(["/usr/bin/python3", dir + "/events.py", uri, dir + "/sr.xml", serial, dir,
                                      dir + "/evsync.xml"], timeLimit: 600)
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n").map(String.init)
    }

    @Test("python3-libvirt: states and events of save, restore (running, paused, --paused, --running), managed save")
    func sameEventsAsLibvirtd() throws {
        try TestHost.requireRoot()
        let ref = try SaveReferenceLibvirtd()
        defer { ref.stop() }
        let want = try Self.transcript(uri: ref.uri, dir: ref.dir)
        ref.stop()
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let got = try Self.transcript(uri: ours.uri, dir: ours.dir)

        // libvirtd's own transcript is what the guest and libvirt do: check the parts the test relies on.
        #expect(want.contains("start state [1, 1] True"), "\(want)")
        #expect(want.contains("restore state [1, 3] 0"), "\(want)")
        #expect(want.contains("shutdown state [5, 1] (True, True)"), "\(want)")
        #expect(want.count == 30, "\(want)")
        #expect(got.count == want.count, "virtd:\n\(got.joined(separator: "\n"))\nlibvirtd:\n\(want.joined(separator: "\n"))")

        func key(_ line: String) -> String { line.split(separator: " ").prefix(2).joined(separator: " ") }
        for (g, w) in zip(got, want) {
            let k = key(w)
            if let why = Self.knownDifferences[k] {
                withKnownIssue("\(k): \(why)") {
                    #expect(g == w)
                }
            } else {
                #expect(g == w, "\(k)")
            }
        }
        #expect(QEMUDaemonSupport.qemuProcesses(under: ours.dir).isEmpty)
    }
}

/// Images saved by libvirtd 9.0 restore in virtd and the other way round (same QEMU, the same guest XML). Both
/// daemons open the image as root and hand QEMU the descriptor, so the root-owned 0600 files work for libvirtd's
/// QEMU (libvirt-qemu) too. Serial logs and images live in one directory both can reach.
@Suite("cross-restore: virtd and libvirtd 9.0 restore each other's save images", .serialized,
       .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUSaveCrossRestoreTests {
    @Test("saved by libvirtd, restored by virtd; saved by virtd, restored by libvirtd; the guest powers off after")
    func crossRestore() throws {
        try TestHost.requireRoot()
        let shared = try TestPaths.makeTempDir("xr", mode: 0o755)
        defer { TestPaths.removeDir(shared) }
        let ref = try SaveReferenceLibvirtd()
        defer { ref.stop() }
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }

        func state(_ v: (String) throws -> ChildProcess.Result, _ name: String) -> String {
            ((try? v("domstate --reason \(name)")).map(SaveRestoreSupport.trimmed)) ?? ""
        }
        let daemons: [(String, (String) throws -> ChildProcess.Result)] = [
            ("libvirtd", { try ref.virsh($0) }), ("virtd", { try ours.virsh($0) }),
        ]
        for (from, to) in [(0, 1), (1, 0)] {
            let (fromName, save) = daemons[from]
            let (toName, restore) = daemons[to]
            let name = "x\(fromName)"
            let serial = shared + "/\(name).log"
            try QEMUDaemonSupport.guestXML(name: name, serialLog: serial)
                .write(toFile: shared + "/\(name).xml", atomically: true, encoding: .utf8)
            let image = shared + "/\(name).save"
            let created = try save("create \(shared)/\(name).xml")
            #expect(created.status == 0, "\(fromName): \(created.stderr)")
            #expect(eventually(120) { QEMUDaemonSupport.occurrences(of: SaveRestoreSupport.ready, in: serial) >= 1 },
                    "\(fromName): the guest did not boot")
            let saved = try save("save \(name) \(image)")
            #expect(saved.status == 0, "\(fromName): \(saved.stderr)")
            #expect(SaveRestoreSupport.header(image)?.magic == "LibvirtQemudSave")
            // Transient: gone from the saving daemon.
            #expect(QEMUDaemonSupport.listRows(try save("list --all").stdout)[name] == nil)

            let restored = try restore("restore \(image)")
            #expect(restored.status == 0, "\(fromName) → \(toName): \(restored.stderr)")
            #expect(state(restore, name) == "running (restored)", "\(toName)")
            // The guest runs: the ACPI button powers it off, and the transient domain goes away.
            #expect(try restore("shutdown \(name)").status == 0)
            #expect(eventually(120) { QEMUDaemonSupport.occurrences(of: SaveRestoreSupport.poweroff, in: serial) >= 1 },
                    "\(fromName) → \(toName): the restored guest did not power off")
            #expect(eventually(60) {
                QEMUDaemonSupport.listRows((try? restore("list --all"))?.stdout ?? "")[name] == nil
            }, "\(toName)")
        }
        #expect(QEMUDaemonSupport.qemuProcesses(under: ours.dir).isEmpty)
        #expect(eventually(30) { ref.qemuProcesses().isEmpty })
    }
}
