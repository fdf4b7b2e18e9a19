import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Real QEMU domains through virtd (`qemu+unix:///system?socket=…`) with clients nobody here wrote: Debian's
/// virsh and python3-libvirt. The expected states, reasons and events are those Debian's libvirtd 9.0 gives
/// for the same actions on the same QEMU (observed with the same guest).
@Suite("QEMU domains through virtd with Debian's virsh and vsh", .serialized, .tags(.qemu, .kvm))
struct QEMUDaemonTests {
    /// The lifecycle events libvirtd reports for: define, start, suspend, resume, reboot (ACPI, the guest
    /// powers off and is restarted by the fake reboot: no lifecycle event), shutdown (ACPI, guest powers off),
    /// start --paused, destroy, start and a QEMU crash (SIGKILL), undefine.
    static let expectedLifecycle = [
        "Defined Added",
        "Resumed Unpaused", "Started Booted",
        "Suspended Paused", "Resumed Unpaused",
        "Shutdown Finished after guest request", "Stopped Shutdown",
        "Started Booted", "Suspended Paused",
        "Shutdown Finished after host request", "Stopped Destroyed",
        "Resumed Unpaused", "Started Booted", "Stopped Failed",
        "Undefined Removed",
    ]

    static let ready = "SWIFTVIRT-GUEST-READY"

    /// The clients: Debian's virsh, and our vsh (virsh-compatible) against the same daemon.
    enum Client: String, CaseIterable, CustomTestStringConvertible {
        case virsh, vsh
        var path: String { self == .virsh ? "/usr/bin/virsh" : TestPaths.vsh }
        var testDescription: String { rawValue }
    }

    @Test("the whole lifecycle of a TCG guest; `event --all --loop` in another process sees libvirt's events",
          arguments: Client.allCases)
    func virshLifecycle(client: Client) throws {
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let serial = daemon.dir + "/serial.log"
        let xmlPath = daemon.dir + "/lc.xml"
        try QEMUDaemonSupport.guestXML(name: "lc", serialLog: serial).write(toFile: xmlPath, atomically: true,
                                                                             encoding: .utf8)
        let watcher = try VirshEventWatcher(uri: daemon.uri, dir: daemon.dir, client: client.path)
        defer { watcher.stop() }

        func step(_ cmd: [String], _ expect: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws
            -> String {
            let r = try daemon.virsh(args: cmd, client: client.path)
            #expect(r.status == 0, "virsh \(cmd): \(r.stderr)", sourceLocation: sourceLocation)
            if let expect {
                #expect(r.stdout.contains(expect), "virsh \(cmd): \(r.stdout)", sourceLocation: sourceLocation)
            }
            return r.stdout
        }
        func state() -> String {
            ((try? daemon.virsh(args: ["domstate", "--reason", "lc"], client: client.path))?.stdout ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        _ = try step(["define", xmlPath], "Domain 'lc' defined")
        _ = try step(["start", "lc"], "Domain 'lc' started")
        let list = QEMUDaemonSupport.listRows(try step(["list", "--all"]))
        #expect(list["lc"]?.1 == "running", "\(list)")
        let id = list["lc"]?.0 ?? "?"
        #expect(Int(id).map { $0 > 0 } == true)
        let info = try step(["dominfo", "lc"])
        for line in ["Id:             \(id)", "Name:           lc", "OS Type:        hvm", "State:          running",
                     "CPU(s):         1", "Max memory:     131072 KiB", "Persistent:     yes",
                     "Autostart:      disable", "Managed save:   no", "Security model: none", "Security DOI:   0"] {
            #expect(info.contains(line), "\(line) in \(info)")
        }
        #expect(state() == "running (booted)")
        let pid = QEMUDaemonSupport.pidFile(daemon.dir, "lc") ?? -1
        #expect(ProcFS.isAlive(pid))
        // QEMU's HOME is its private directory (set once, not shadowed by another HOME).
        let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ").map {
            String(decoding: $0, as: UTF8.self).split(separator: "\0").map(String.init)
        } ?? []
        #expect(env.filter { $0.hasPrefix("HOME=") } == ["HOME=\(daemon.dir)/lib/qemu/domain-\(id)-lc"], "\(env)")

        // The live XML: the domain id, the machine type QEMU resolved, device aliases as libvirt names them.
        let live = try step(["dumpxml", "lc"])
        #expect(live.contains("<domain type='qemu' id='\(id)'>"), "\(live)")
        #expect(live.contains("machine='pc-q35-"), "\(live)")
        #expect(live.contains("<emulator>/usr/bin/qemu-system-x86_64</emulator>"), "\(live)")
        for alias in ["serial0", "balloon0", "usb", "pcie.0"] {
            #expect(live.contains("<alias name='\(alias)'/>"), "alias \(alias) in \(live)")
        }
        #expect(live.contains("<source path='\(serial)'/>"))
        let inactive = try step(["dumpxml", "--inactive", "lc"])
        // No live ids (the <audio id='1'> backend is part of the definition, as in libvirt's).
        #expect(!inactive.contains("<alias") && !inactive.replacingOccurrences(of: "<audio id='1'", with: "").contains(" id='"),
                "\(inactive)")

        #expect(eventually(120) { QEMUDaemonSupport.occurrences(of: Self.ready, in: serial) >= 1 },
                "the guest did not boot: \(String(describing: try? String(contentsOfFile: serial, encoding: .utf8)))")
        _ = try step(["suspend", "lc"], "Domain 'lc' suspended")
        #expect(state() == "paused (user)")
        _ = try step(["resume", "lc"], "Domain 'lc' resumed")
        #expect(state() == "running (unpaused)")

        // Reboot: the guest powers off on the ACPI button, the daemon resets and continues it (fake reboot); the
        // guest boots again (a second marker) in the same QEMU, and the state does not change.
        _ = try step(["reboot", "lc"], "Domain 'lc' is being rebooted")
        #expect(eventually(120) { QEMUDaemonSupport.occurrences(of: Self.ready, in: serial) >= 2 },
                "the guest did not boot again")
        #expect(QEMUDaemonSupport.pidFile(daemon.dir, "lc") == pid)
        #expect(ProcFS.isAlive(pid))
        #expect(state() == "running (unpaused)")
        try watcher.sync()
        #expect(watcher.all("lc").contains("reboot"), "\(watcher.all("lc"))")

        // Shutdown: the guest powers off; QEMU ends and the domain is shut off (shutdown).
        _ = try step(["shutdown", "lc"], "Domain 'lc' is being shutdown")
        #expect(eventually(120) { state() == "shut off (shutdown)" }, "\(state())")
        #expect(eventually(30) { !ProcFS.isAlive(pid) })
        #expect(QEMUDaemonSupport.occurrences(of: "SWIFTVIRT-GUEST-POWEROFF", in: serial) >= 2)

        _ = try step(["start", "--paused", "lc"], "Domain 'lc' started")
        #expect(state() == "paused (user)")
        let pausedList = QEMUDaemonSupport.listRows(try step(["list", "--all"]))
        #expect(pausedList["lc"]?.1 == "paused")
        #expect(pausedList["lc"]?.0 != id, "a new start gets a new id")
        let pid2 = QEMUDaemonSupport.pidFile(daemon.dir, "lc") ?? -1
        _ = try step(["destroy", "lc"], "Domain 'lc' destroyed")
        #expect(state() == "shut off (destroyed)")
        #expect(!ProcFS.isAlive(pid2))
        let off = QEMUDaemonSupport.listRows(try step(["list", "--all"]))
        #expect(off["lc"]?.0 == "-" && off["lc"]?.1 == "shut off", "\(off)")
        // QEMU killed behind the daemon's back: shut off (crashed).
        _ = try step(["start", "lc"], "Domain 'lc' started")
        let pid3 = QEMUDaemonSupport.pidFile(daemon.dir, "lc") ?? -1
        #expect(QEMUDaemonSupport.qemuProcesses(under: daemon.dir) == [pid3])
        if QEMUDaemonSupport.qemuProcesses(under: daemon.dir).contains(pid3) { kill(pid3, SIGKILL) }
        #expect(eventually(60) { state() == "shut off (crashed)" }, "\(state())")
        _ = try step(["undefine", "lc"], "Domain 'lc' has been undefined")
        #expect(QEMUDaemonSupport.listRows(try step(["list", "--all"]))["lc"] == nil)

        try watcher.sync()
        #expect(watcher.lifecycle("lc") == Self.expectedLifecycle, "\(watcher.all("lc"))")
        #expect(QEMUDaemonSupport.qemuProcesses(under: daemon.dir).isEmpty)
        #expect(ProcFS.zombieChildren(of: daemon.pid).isEmpty)
    }
}

/// python3-libvirt (Debian's, /usr/bin/python3) drives the lifecycle of a TCG guest through virtd, with
/// lifecycle and reboot callbacks on libvirt's default event loop.
@Suite("QEMU domains through virtd with python3-libvirt", .serialized, .tags(.qemu, .kvm))
struct QEMUDaemonPythonTests {
    /// Prints one line per step (`label value…`); `events` lists the lifecycle callbacks of the domain as
    /// (event, detail) numbers.
    static let script = #"""
    import libvirt, sys, threading, time
    uri, xmlpath, serial = sys.argv[1], sys.argv[2], sys.argv[3]
    libvirt.virEventRegisterDefaultImpl()
    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()
    conn = libvirt.open(uri)
    events, reboots = [], []
    cond = threading.Condition()
    def lifecycle(c, dom, event, detail, opaque):
        with cond:
            if dom.name() == "pylc":
                events.append((event, detail))
            cond.notify_all()
    def reboot(c, dom, opaque):
        with cond:
            if dom.name() == "pylc":
                reboots.append(dom.name())
            cond.notify_all()
    ids = [conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, None),
           conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, reboot, None)]
    out = []
    def p(label, *a):
        print(label, *(repr(x) for x in a), flush=True)
    def until(cond_fn, limit=180):
        end = time.time() + limit
        while time.time() < end:
            if cond_fn():
                return True
            time.sleep(0.05)
        return False
    def markers(m):
        try:
            return open(serial, errors="replace").read().count(m)
        except OSError:
            return 0
    def wait_events(n):
        with cond:
            return cond.wait_for(lambda: len(events) >= n, timeout=60)
    d = conn.defineXML(open(xmlpath).read())
    p("defined", d.name(), d.isActive(), d.isPersistent(), d.state())
    d.create()
    p("started", d.ID() > 0, d.isActive(), d.state(), d.info()[0])
    p("lookup", conn.lookupByID(d.ID()).name(), [x.name() for x in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)])
    p("livexml", "<alias name='serial0'/>" in d.XMLDesc(0), "<alias" in d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    p("booted", until(lambda: markers("SWIFTVIRT-GUEST-READY") >= 1))
    d.suspend(); p("suspended", d.state(), d.info()[0])
    d.resume(); p("resumed", d.state())
    d.reboot(0)
    p("rebooted", until(lambda: markers("SWIFTVIRT-GUEST-READY") >= 2), d.state())
    with cond:
        p("reboot-event", cond.wait_for(lambda: len(reboots) >= 1, timeout=60))
    d.shutdown()
    p("shutdown", until(lambda: d.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF), d.state(), d.ID(), d.isActive())
    d.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED); p("paused-start", d.state())
    d.destroy(); p("destroyed", d.state(), d.isActive())
    try:
        d.resume()
    except libvirt.libvirtError as e:
        p("resume-error", e.get_error_code(), e.get_error_domain(), e.get_error_message())
    d.undefine()
    p("undefined", [x.name() for x in conn.listAllDomains(0)].count("pylc"))
    wait_events(12)
    time.sleep(0.5)
    with cond:
        p("events", events)
    for i in ids:
        conn.domainEventDeregisterAny(i)
    conn.close()
    """#

    /// The transcript libvirtd 9.0 gives for the same script on the same QEMU and guest.
    static let expected = [
        "defined 'pylc' 0 1 [5, 0]",
        "started True 1 [1, 1] 1",
        "lookup 'pylc' ['pylc']",
        "livexml True False",
        "booted True",
        "suspended [3, 1] 3",
        "resumed [1, 5]",
        "rebooted True [1, 5]",
        "reboot-event True",
        // The id is the one the client's domain object was made with (libvirt caches it).
        "shutdown True [5, 1] 1 0",
        "paused-start [3, 1]",
        "destroyed [5, 2] 0",
        "resume-error 55 20 'Requested operation is not valid: domain is not running'",
        "undefined 0",
        // DEFINED/ADDED; RESUMED/UNPAUSED, STARTED/BOOTED; SUSPENDED/PAUSED; RESUMED/UNPAUSED; (reboot: none);
        // SHUTDOWN/GUEST, STOPPED/SHUTDOWN; STARTED/BOOTED, SUSPENDED/PAUSED; SHUTDOWN/HOST, STOPPED/DESTROYED;
        // UNDEFINED/REMOVED.
        "events [(0, 0), (4, 0), (2, 0), (3, 0), (4, 0), (6, 1), (5, 0), (2, 0), (3, 0), (6, 2), (5, 1), (1, 0)]",
    ]

    @Test("python3-libvirt: lifecycle of a TCG guest, states, reasons and event callbacks as libvirtd gives them")
    func pythonLifecycle() throws {
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let serial = daemon.dir + "/serial.log"
        try QEMUDaemonSupport.guestXML(name: "pylc", serialLog: serial)
            .write(toFile: daemon.dir + "/pylc.xml", atomically: true, encoding: .utf8)
        try Self.script.write(toFile: daemon.dir + "/lifecycle.py", atomically: true, encoding: .utf8)
        let r = try ChildProcess.run(["/usr/bin/python3", daemon.dir + "/lifecycle.py", daemon.uri,
                                                            daemon.dir + "/pylc.xml", serial], timeLimit: 600)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        for (got, want) in zip(lines, Self.expected) where got != want {
            Issue.record("transcript differs:\n  got:  \(got)\n  want: \(want)")
        }
        #expect(lines.count == Self.expected.count, "\(r.stdout)\n\(r.stderr)")
        #expect(QEMUDaemonSupport.qemuProcesses(under: daemon.dir).isEmpty)
    }
}

/// virtd killed with SIGKILL while three KVM domains run (no guest needed): the QEMUs outlive it, one of them
/// dies meanwhile, and the next virtd on the same root takes the survivors over (same ids, fully managed) and
/// marks the dead one shut off (crashed). QEMU runs as a configured user, so image owners are checked too.
@Suite("virtd killed with SIGKILL and started again", .serialized, .tags(.qemu, .kvm, .root))
struct QEMUDaemonRestartTests {
    static let imageOwner: (uid_t, gid_t) = (12345, 12345)

    @Test("three running VMs survive a SIGKILL of virtd; the restarted virtd reconnects, one dead VM is crashed")
    func killNineWithThreeVMs() throws {
        try TestHost.requireKVM()
        let user = try TestHost.qemuUser()
        let qemuUser = (user.uid, user.ownGroup)
        let daemon = try RestartableVirtd(config: TestHost.qemuUserConfig)
        defer { daemon.cleanup() }
        let names = ["sva", "svb", "svc"]
        var images: [String: String] = [:]
        var inactive: [String: String] = [:]
        for n in names {
            images[n] = try QEMUDaemonSupport.makeImage(daemon.dir + "/\(n).img", owner: Self.imageOwner)
            let xml = daemon.dir + "/\(n).xml"
            try QEMUDaemonSupport.kvmXML(name: n, disks: [images[n] ?? ""]).write(toFile: xml, atomically: true,
                                                                                  encoding: .utf8)
            let r = try daemon.virsh(args: ["define", xml])
            #expect(r.status == 0, "\(r.stderr)")
            inactive[n] = try daemon.virsh(args: ["dumpxml", "--inactive", n]).stdout
        }
        let started = try daemon.virsh("start sva; start svb; start svc")
        #expect(started.status == 0, "\(started.stderr)")
        let before = QEMUDaemonSupport.listRows(try daemon.virsh("list --all").stdout)
        var pids: [String: Int32] = [:]
        for n in names {
            #expect(before[n]?.1 == "running", "\(n): \(before)")
            pids[n] = QEMUDaemonSupport.pidFile(daemon.dir, n) ?? -1
            #expect(ProcFS.isAlive(pids[n] ?? -1), "\(n)")
            #expect(ProcFS.owner(images[n] ?? "").map { $0 == qemuUser } == true, "\(n)")
        }
        let oldPID = daemon.pid

        daemon.kill9()
        #expect(!ProcFS.isAlive(oldPID))
        for n in names {
            #expect(ProcFS.isAlive(pids[n] ?? -1), "\(n)'s QEMU died with virtd")
        }
        // Meanwhile one QEMU dies (only a pid that is still one of this daemon's QEMUs is killed).
        let dead = pids["svb"] ?? -1
        #expect(QEMUDaemonSupport.qemuProcesses(under: daemon.dir).contains(dead))
        if QEMUDaemonSupport.qemuProcesses(under: daemon.dir).contains(dead) { kill(dead, SIGKILL) }
        #expect(eventually(30) { !ProcFS.isAlive(dead) })

        try daemon.start()
        // The new daemon takes the domains over when it starts, before any client connects: the dead VM's
        // image is given back and its status files are removed.
        #expect(eventually(30) {
            ProcFS.owner(images["svb"] ?? "").map { $0 == Self.imageOwner } == true
                && access(daemon.dir + "/run/qemu/svb.status", F_OK) != 0
        }, "not taken over at start")
        let after = QEMUDaemonSupport.listRows(try daemon.virsh("list --all").stdout)
        for n in ["sva", "svc"] {
            #expect(after[n]?.0 == before[n]?.0 && after[n]?.1 == "running", "\(n): \(after) vs \(before)")
            #expect(QEMUDaemonSupport.pidFile(daemon.dir, n) == pids[n])
            #expect(ProcFS.owner(images[n] ?? "").map { $0 == qemuUser } == true, "\(n)")
        }
        #expect(after["svb"]?.0 == "-" && after["svb"]?.1 == "shut off", "\(after)")
        #expect(try daemon.virsh("domstate --reason svb").stdout.contains("shut off (crashed)"))
        #expect(try daemon.virsh("domstate --reason sva").stdout.contains("running (booted)"))
        // The dead VM's image is given back at once; its status files are gone.
        #expect(ProcFS.owner(images["svb"] ?? "").map { $0 == Self.imageOwner } == true)
        #expect(QEMUDaemonSupport.ownerRecords(images["svb"] ?? "").isEmpty)
        #expect(access(daemon.dir + "/run/qemu/svb.status", F_OK) != 0)
        #expect(access(daemon.dir + "/run/qemu/svb.pid", F_OK) != 0)

        // The survivors are fully managed by the new daemon, events included.
        let watcher = try VirshEventWatcher(uri: daemon.uri, dir: daemon.dir)
        defer { watcher.stop() }
        let ops = try daemon.virsh("suspend sva; domstate --reason sva; resume sva; domstate --reason sva; "
            + "suspend svc; domstate --reason svc; destroy svc; domstate --reason svc; destroy sva; domstate --reason sva")
        #expect(ops.status == 0, "\(ops.stderr)")
        #expect(ops.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("paused") || $0.hasPrefix("running")
            || $0.hasPrefix("shut off") } == ["paused (user)", "running (unpaused)", "paused (user)",
                                              "shut off (destroyed)", "shut off (destroyed)"], "\(ops.stdout)")
        try watcher.sync()
        #expect(watcher.lifecycle("sva") == ["Suspended Paused", "Resumed Unpaused",
                                             "Shutdown Finished after host request", "Stopped Destroyed"],
                "\(watcher.all("sva"))")
        #expect(watcher.lifecycle("svc") == ["Suspended Paused", "Shutdown Finished after host request",
                                             "Stopped Destroyed"], "\(watcher.all("svc"))")
        for n in ["sva", "svc"] {
            #expect(!ProcFS.isAlive(pids[n] ?? -1), "\(n) still runs")
            #expect(ProcFS.owner(images[n] ?? "").map { $0 == Self.imageOwner } == true, "\(n)")
            #expect(QEMUDaemonSupport.ownerRecords(images[n] ?? "").isEmpty)
        }
        // Definitions intact.
        for n in names {
            #expect(try daemon.virsh(args: ["dumpxml", "--inactive", n]).stdout == inactive[n], "\(n)")
        }
        // The crashed one starts again, with an id above the ones used before.
        let again = try daemon.virsh("start svb; domid svb; destroy svb")
        #expect(again.status == 0, "\(again.stderr)")
        let newID = again.stdout.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.first
        let oldIDs = names.compactMap { before[$0].flatMap { Int($0.0) } }
        #expect(newID.map { id in oldIDs.allSatisfy { id > $0 } } == true, "\(again.stdout) vs \(oldIDs)")
        let final = QEMUDaemonSupport.listRows(try daemon.virsh("list --all").stdout)
        #expect(names.allSatisfy { final[$0]?.1 == "shut off" }, "\(final)")
        #expect(QEMUDaemonSupport.qemuProcesses(under: daemon.dir).isEmpty)
        #expect(eventually(10) { ProcFS.zombieChildren(of: daemon.pid).isEmpty },
                "\(ProcFS.zombieChildren(of: daemon.pid))")
    }
}

/// The DAC driver through virtd (user and group from virtd.conf, as libvirtd's qemu.conf): a disk image's
/// owner before, during and after runs ended by destroy and by a QEMU crash; and starts that QEMU or the
/// driver refuses (unknown machine type, missing disk, impossible memory) fail with a clear error and leave
/// nothing behind.
@Suite("QEMU security and bad input through virtd", .serialized, .tags(.qemu, .kvm, .root))
struct QEMUDaemonSecurityTests {
    static let imageOwner: (uid_t, gid_t) = (12345, 12345)

    @Test("a disk image's owner before, during and after a run (destroy, crash) through virtd")
    func imageOwnerThroughDaemon() throws {
        try TestHost.requireKVM()
        let user = try TestHost.qemuUser()
        let qemuUser = (user.uid, user.ownGroup)
        let daemon = try RestartableVirtd(config: TestHost.qemuUserConfig)
        defer { daemon.cleanup() }
        let image = try QEMUDaemonSupport.makeImage(daemon.dir + "/own.img", owner: Self.imageOwner)
        let xml = daemon.dir + "/own.xml"
        try QEMUDaemonSupport.kvmXML(name: "own", disks: [image]).write(toFile: xml, atomically: true, encoding: .utf8)
        let log = daemon.dir + "/log/qemu/own.log"
        func owner(_ p: String) -> String {
            ProcFS.owner(p).map { "\($0.0):\($0.1)" } ?? "missing"
        }
        let original = "\(Self.imageOwner.0):\(Self.imageOwner.1)"
        let running = "\(qemuUser.0):\(qemuUser.1)"

        #expect(try daemon.virsh(args: ["define", xml]).status == 0)
        #expect(owner(image) == original, "defining changes no owner")
        for ending in ["destroy", "crash"] {
            let r = try daemon.virsh("start own")
            #expect(r.status == 0, "\(r.stderr)")
            let pid = QEMUDaemonSupport.pidFile(daemon.dir, "own") ?? -1
            #expect(ProcFS.isAlive(pid))
            #expect(owner(image) == running, "\(ending)")
            #expect(!QEMUDaemonSupport.ownerRecords(image).isEmpty, "the original owner is remembered")
            #expect(owner(log) == running)
            #expect(ProcFS.uid(of: pid) == qemuUser.0)
            let live = try daemon.virsh("dumpxml own").stdout
            #expect(live.contains("<label>+\(qemuUser.0):+\(qemuUser.1)</label>"), "\(live)")
            #expect(live.contains("<imagelabel>+\(qemuUser.0):+\(qemuUser.1)</imagelabel>"))
            if ending == "destroy" {
                let d = try daemon.virsh("destroy own; domstate --reason own")
                #expect(d.stdout.contains("shut off (destroyed)"), "\(d.stdout) \(d.stderr)")
            } else {
                if QEMUDaemonSupport.qemuProcesses(under: daemon.dir).contains(pid) { kill(pid, SIGKILL) }
                #expect(eventually(30) {
                    (try? daemon.virsh("domstate --reason own"))?.stdout.contains("shut off (crashed)") == true
                })
            }
            #expect(owner(image) == original, "\(ending)")
            #expect(QEMUDaemonSupport.ownerRecords(image).isEmpty, "\(ending)")
            #expect(owner(log) == "0:0", "\(ending)")
        }
        #expect(try daemon.virsh("undefine own").status == 0)
        #expect(owner(image) == original)
        #expect(QEMUDaemonSupport.qemuProcesses(under: daemon.dir).isEmpty)
    }

    struct BadCase {
        var name: String
        var xml: (String, String) -> String  // (image, missing path) → domain XML
        var message: String
    }

    @Test("unknown machine type, missing disk, impossible memory: start fails clearly and leaves nothing behind")
    func badInputFailsAtStart() throws {
        try TestHost.requireKVM()
        let daemon = try RestartableVirtd(config: TestHost.qemuUserConfig)
        defer { daemon.cleanup() }
        let watcher = try VirshEventWatcher(uri: daemon.uri, dir: daemon.dir)
        defer { watcher.stop() }
        let missing = daemon.dir + "/missing.img"
        let cases = [
            // libvirtd rejects an unknown machine at define ("No PCI buses available"); we define it and QEMU's
            // own message says what is wrong.
            BadCase(name: "badmach", xml: { img, _ in
                        QEMUDaemonSupport.kvmXML(name: "badmach", machine: "pc-no-such-machine", disks: [img])
                    },
                    message: "qemu-system-x86_64: unsupported machine type"),
            // libvirtd's words, checked before QEMU runs.
            BadCase(name: "nodisk", xml: { QEMUDaemonSupport.kvmXML(name: "nodisk", disks: [$0, $1]) },
                    message: "error: Cannot access storage file '\(missing)': No such file or directory"),
            // More than a process can map (the user address space is 128 TiB): QEMU refuses, as under libvirtd.
            BadCase(name: "hugemem", xml: { img, _ in
                        QEMUDaemonSupport.kvmXML(name: "hugemem", memory: "<memory unit='TiB'>1024</memory>",
                                                 disks: [img])
                    },
                    message: "qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory"),
        ]
        for c in cases {
            let image = try QEMUDaemonSupport.makeImage(daemon.dir + "/\(c.name).img", owner: Self.imageOwner)
            let xml = daemon.dir + "/\(c.name).xml"
            try c.xml(image, missing).write(toFile: xml, atomically: true, encoding: .utf8)
            #expect(try daemon.virsh(args: ["define", xml]).status == 0, "\(c.name)")
            let before = try daemon.virsh(args: ["dumpxml", "--inactive", c.name]).stdout
            let r = try daemon.virsh(args: ["start", c.name])
            #expect(r.status != 0, "\(c.name) started")
            #expect(r.stderr.contains("error: Failed to start domain '\(c.name)'"), "\(c.name): \(r.stderr)")
            #expect(r.stderr.contains(c.message), "\(c.name): \(r.stderr)")
            if c.name != "nodisk" {
                // libvirtd 9.0's words for a QEMU that ends before its monitor answers.
                #expect(r.stderr.contains("error: internal error: qemu unexpectedly closed the monitor: "),
                        "\(c.name): \(r.stderr)")
            }
            // Still defined, shut off (failed), definition unchanged.
            #expect(try daemon.virsh(args: ["domstate", "--reason", c.name]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines) == "shut off (failed)", "\(c.name)")
            #expect(QEMUDaemonSupport.listRows(try daemon.virsh("list --all").stdout)[c.name]?.1 == "shut off")
            #expect(try daemon.virsh(args: ["dumpxml", "--inactive", c.name]).stdout == before, "\(c.name)")
            // No process, socket, pid or status file, changed owner or owner record left.
            #expect(QEMUDaemonSupport.qemuProcesses(under: daemon.dir).isEmpty, "\(c.name)")
            for suffix in ["pid", "status", "xml"] {
                #expect(access(daemon.dir + "/run/qemu/\(c.name).\(suffix)", F_OK) != 0, "\(c.name).\(suffix)")
            }
            let sockets = (FileManager.default.enumerator(atPath: daemon.dir + "/lib")?.allObjects as? [String] ?? [])
                .filter { $0.hasSuffix(".sock") }
            #expect(sockets.isEmpty, "\(c.name): \(sockets)")
            #expect(ProcFS.owner(image).map { $0 == Self.imageOwner } == true, "\(c.name)")
            #expect(QEMUDaemonSupport.ownerRecords(image).isEmpty, "\(c.name)")
            let log = daemon.dir + "/log/qemu/\(c.name).log"
            #expect(ProcFS.owner(log).map { $0 == (0, 0) } ?? true, "\(c.name)")
            #expect(QEMUDaemonSupport.ownerRecords(log).isEmpty, "\(c.name)")
        }
        #expect(access(missing, F_OK) != 0)
        #expect(eventually(10) { ProcFS.zombieChildren(of: daemon.pid).isEmpty })
        // A start that fails raises no lifecycle event (libvirtd 9.0 neither).
        try watcher.sync()
        for c in cases {
            #expect(watcher.lifecycle(c.name) == ["Defined Added"], "\(c.name): \(watcher.all(c.name))")
        }
    }
}
