import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Real QEMU domains through virtd (`qemu+unix:///system?socket=…`) with clients nobody here wrote: Debian's
/// virsh and python3-libvirt. The expected states, reasons and events are those Debian's libvirtd 9.0 gives
/// for the same actions on the same QEMU (observed with the same guest), which follow
/// reference/libvirt-facts.md section 1b.
@Suite("QEMU domains through virtd with virsh and python3-libvirt", .serialized)
struct QEMUDaemonTests {
    /// The lifecycle events libvirtd reports for: define, start, suspend, resume, reboot (ACPI, the guest
    /// powers off and is restarted by the fake reboot: no lifecycle event), shutdown (ACPI, guest powers off),
    /// start --paused, destroy, undefine.
    static let expectedLifecycle = [
        "Defined Added",
        "Resumed Unpaused", "Started Booted",
        "Suspended Paused", "Resumed Unpaused",
        "Shutdown Finished after guest request", "Stopped Shutdown",
        "Started Booted", "Suspended Paused",
        "Shutdown Finished after host request", "Stopped Destroyed",
        "Undefined Removed",
    ]

    static let ready = "SWIFTVIRT-GUEST-READY"

    @Test("virsh runs the whole lifecycle of a TCG guest; virsh event in another process sees libvirt's events")
    func virshLifecycle() throws {
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let serial = daemon.dir + "/serial.log"
        let xmlPath = daemon.dir + "/lc.xml"
        try QEMUDaemonSupport.guestXML(name: "lc", serialLog: serial).write(toFile: xmlPath, atomically: true,
                                                                             encoding: .utf8)
        let watcher = try VirshEventWatcher(uri: daemon.uri, dir: daemon.dir)
        defer { watcher.stop() }

        func step(_ cmd: [String], _ expect: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws
            -> String {
            let r = try daemon.virsh(args: cmd)
            #expect(r.status == 0, "virsh \(cmd): \(r.stderr)", sourceLocation: sourceLocation)
            if let expect {
                #expect(r.stdout.contains(expect), "virsh \(cmd): \(r.stdout)", sourceLocation: sourceLocation)
            }
            return r.stdout
        }
        func state() -> String {
            ((try? daemon.virsh(args: ["domstate", "--reason", "lc"]))?.stdout ?? "")
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
                     "CPU(s):         1", "Max memory:     131072 KiB", "Persistent:     yes"] {
            #expect(info.contains(line), "\(line) in \(info)")
        }
        #expect(state() == "running (booted)")
        let pid = QEMUDaemonSupport.pidFile(daemon.dir, "lc") ?? -1
        #expect(QEMUDaemonSupport.isAlive(pid))

        // The live XML: the domain id, the machine type QEMU resolved, device aliases as libvirt names them.
        let live = try step(["dumpxml", "lc"])
        #expect(live.contains("<domain type='qemu' id='\(id)'>"), "\(live)")
        #expect(live.contains("machine='pc-q35-"), "\(live)")
        for alias in ["serial0", "balloon0", "usb", "pcie.0"] {
            #expect(live.contains("<alias name='\(alias)'/>"), "alias \(alias) in \(live)")
        }
        #expect(live.contains("<source path='\(serial)'/>"))
        let inactive = try step(["dumpxml", "--inactive", "lc"])
        #expect(!inactive.contains("<alias") && !inactive.contains(" id='"), "\(inactive)")

        #expect(QEMUDaemonSupport.eventually(120) { QEMUDaemonSupport.occurrences(of: Self.ready, in: serial) >= 1 },
                "the guest did not boot: \(String(describing: try? String(contentsOfFile: serial, encoding: .utf8)))")
        _ = try step(["suspend", "lc"], "Domain 'lc' suspended")
        #expect(state() == "paused (user)")
        _ = try step(["resume", "lc"], "Domain 'lc' resumed")
        #expect(state() == "running (unpaused)")

        // Reboot: the guest powers off on the ACPI button, the daemon resets and continues it (fake reboot); the
        // guest boots again (a second marker) in the same QEMU, and the state does not change.
        _ = try step(["reboot", "lc"], "Domain 'lc' is being rebooted")
        #expect(QEMUDaemonSupport.eventually(120) { QEMUDaemonSupport.occurrences(of: Self.ready, in: serial) >= 2 },
                "the guest did not boot again")
        #expect(QEMUDaemonSupport.pidFile(daemon.dir, "lc") == pid)
        #expect(QEMUDaemonSupport.isAlive(pid))
        #expect(state() == "running (unpaused)")
        try watcher.sync()
        #expect(watcher.all("lc").contains("reboot"), "\(watcher.all("lc"))")

        // Shutdown: the guest powers off; QEMU ends and the domain is shut off (shutdown).
        _ = try step(["shutdown", "lc"], "Domain 'lc' is being shutdown")
        #expect(QEMUDaemonSupport.eventually(120) { state() == "shut off (shutdown)" }, "\(state())")
        #expect(QEMUDaemonSupport.eventually(30) { !QEMUDaemonSupport.isAlive(pid) })
        #expect(QEMUDaemonSupport.occurrences(of: "SWIFTVIRT-GUEST-POWEROFF", in: serial) >= 2)

        _ = try step(["start", "--paused", "lc"], "Domain 'lc' started")
        #expect(state() == "paused (user)")
        let pausedList = QEMUDaemonSupport.listRows(try step(["list", "--all"]))
        #expect(pausedList["lc"]?.1 == "paused")
        #expect(pausedList["lc"]?.0 != id, "a new start gets a new id")
        let pid2 = QEMUDaemonSupport.pidFile(daemon.dir, "lc") ?? -1
        _ = try step(["destroy", "lc"], "Domain 'lc' destroyed")
        #expect(state() == "shut off (destroyed)")
        #expect(!QEMUDaemonSupport.isAlive(pid2))
        let off = QEMUDaemonSupport.listRows(try step(["list", "--all"]))
        #expect(off["lc"]?.0 == "-" && off["lc"]?.1 == "shut off", "\(off)")
        _ = try step(["undefine", "lc"], "Domain 'lc' has been undefined")
        #expect(QEMUDaemonSupport.listRows(try step(["list", "--all"]))["lc"] == nil)

        try watcher.sync()
        #expect(watcher.lifecycle("lc") == Self.expectedLifecycle, "\(watcher.all("lc"))")
        #expect(QEMUDaemonSupport.qemuProcesses(under: daemon.dir).isEmpty)
        #expect(QEMUDaemonSupport.zombieChildren(of: daemon.pid).isEmpty)
    }
}
