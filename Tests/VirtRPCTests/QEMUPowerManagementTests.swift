import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// dompmsuspend, dompmwakeup and guestvcpus on the TCG test guest (2 vCPUs, its qemu-guest-agent), through
/// virtd and through Debian's libvirtd 9.0 side by side: Debian's virsh runs the same commands on both, the
/// refusals (shut off, a duration, no agent, `<suspend-to-mem enabled='no'/>`, a guest that is not suspended,
/// a vCPU that cannot go offline or does not exist) and the real thing: the guest suspends to RAM (QEMU's
/// SUSPEND: pmsuspended, pm-suspend and PMSuspended events) and wakes up (system_wakeup: WAKEUP, running
/// (event wakeup)); vCPU 1 goes offline and online again, which the guest itself shows in
/// /sys/devices/system/cpu/online (read with guest-exec). vsh prints what virsh prints.
@Suite("QEMU guest power management and guest vCPUs: virtd vs libvirtd 9.0", .serialized,
       .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUPowerManagementTests {
    static func xml(name: String, agent: Bool, pm: String = "") throws -> String {
        let guest = try TestGuest.load(format: 3)
        let channel = agent ? "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>" : ""
        return """
            <domain type='qemu'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>2</vcpu>
            <os><type arch='x86_64' machine='q35'>hvm</type><kernel>\(guest.kernel)</kernel>\
            <initrd>\(guest.initrd)</initrd><cmdline>\(guest.cmdline)</cmdline></os>
            <features><acpi/></features>\(pm)<devices>\(channel)</devices></domain>
            """
    }

    /// The guest's own /sys/devices/system/cpu/online, through guest-exec and guest-exec-status.
    static func guestOnlineCPUs(_ run: (String) throws -> ChildProcess.Result) throws -> String? {
        let exec = #"{"execute":"guest-exec","arguments":{"path":"/bin/cat","arg":["/sys/devices/system/cpu/online"],"capture-output":true}}"#
        let r = try run("qemu-agent-command pm '\(exec)'").stdout
        guard let obj = try? JSONSerialization.jsonObject(with: Data(r.utf8)) as? [String: Any],
              let pid = (obj["return"] as? [String: Any])?["pid"] as? Int else { return nil }
        var out: String?
        _ = eventually(30) {
            let s = (try? run("qemu-agent-command pm '{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":\(pid)}}'"))?.stdout ?? ""
            guard let o = try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any],
                  let ret = o["return"] as? [String: Any], ret["exited"] as? Bool == true,
                  let data = ret["out-data"] as? String, let bytes = Data(base64Encoded: data) else { return false }
            out = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return true
        }
        return out
    }

    static let shutOffCommands = ["dompmsuspend pm mem", "dompmwakeup pm", "guestvcpus pm",
                                  "guestvcpus pm --cpulist 1 --disable"]
    static let refusals = [
        "dompmsuspend pm mem --duration 5", "dompmsuspend noag mem", "dompmsuspend nos3 mem",
        "dompmsuspend nos3 hybrid", "dompmsuspend pm bogus", "dompmwakeup pm", "guestvcpus noag",
        "guestvcpus pm", "guestvcpus pm --cpulist 0 --disable", "guestvcpus pm --cpulist 3 --enable",
        "guestvcpus pm --cpulist x --enable", "dompmwakeup nosuch",
    ]

    @Test("dompmsuspend/dompmwakeup and guestvcpus on the test guest: libvirtd's output, states and events")
    func powerManagementLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        let oursRun = { (c: String) in try ours.virsh(c) }
        let refRun = { (c: String) in try virsh(ref.uri, c) }
        for (dir, run) in [(ours.dir, oursRun), (ref.dir, refRun)] {
            try Self.xml(name: "pm", agent: true).write(toFile: dir + "/pm.xml", atomically: true, encoding: .utf8)
            try Self.xml(name: "noag", agent: false).write(toFile: dir + "/noag.xml", atomically: true, encoding: .utf8)
            try Self.xml(name: "nos3", agent: true, pm: "<pm><suspend-to-mem enabled='no'/></pm>")
                .write(toFile: dir + "/nos3.xml", atomically: true, encoding: .utf8)
            #expect(try run("define \(dir)/pm.xml; define \(dir)/noag.xml; define \(dir)/nos3.xml").status == 0)
        }
        func same(_ command: String) throws {
            let o = try ours.virsh(command)
            let r = try virsh(ref.uri, command)
            #expect(o.stdout == r.stdout, "stdout of '\(command)': virtd '\(o.stdout)' libvirtd '\(r.stdout)'")
            #expect(o.stderr == r.stderr, "stderr of '\(command)': virtd '\(o.stderr)' libvirtd '\(r.stderr)'")
            #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)")
        }
        for command in Self.shutOffCommands { try same(command) }
        let oursEvents = try VirshEventWatcher(uri: ours.uri, dir: ours.dir)
        defer { oursEvents.stop() }
        let refEvents = try VirshEventWatcher(uri: ref.uri, dir: ref.dir)
        defer { refEvents.stop() }
        for run in [oursRun, refRun] {
            #expect(try run("start pm; start noag; start nos3").status == 0)
        }
        // Both guests boot (TCG) and their agents answer.
        for run in [oursRun, refRun] {
            #expect(eventually(240) { (try? run("guestvcpus pm"))?.status == 0 && (try? run("guestvcpus nos3"))?.status == 0 },
                    "the guest agent did not come up")
        }
        for command in Self.refusals { try same(command) }
        // vCPU 1 offline, then online again: the agent's view on both daemons and the guest's own.
        try same("guestvcpus pm --cpulist 1 --disable")
        try same("guestvcpus pm")
        #expect(try Self.guestOnlineCPUs(oursRun) == "0")
        try same("guestvcpus pm --cpulist 1 --enable")
        try same("guestvcpus pm")
        #expect(try Self.guestOnlineCPUs(oursRun) == "0-1")
        // Suspend to RAM and wake up.
        try same("dompmsuspend pm mem")
        for run in [oursRun, refRun] {
            #expect(eventually(60) { (try? run("domstate pm --reason"))?.stdout == "pmsuspended (unknown)\n\n" })
        }
        try same("domstate pm --reason")
        try same("dompmsuspend pm mem")
        try same("dompmwakeup pm")
        for run in [oursRun, refRun] {
            #expect(eventually(60) { (try? run("domstate pm --reason"))?.stdout == "running (event wakeup)\n\n" })
        }
        try same("domstate pm --reason")
        try oursEvents.sync()
        try refEvents.sync()
        // The agent's own disconnect/connect around the suspend may come before or after the PM events.
        let mine = oursEvents.all("pm").filter { !$0.hasPrefix("agent-lifecycle") }
        let theirs = refEvents.all("pm").filter { !$0.hasPrefix("agent-lifecycle") }
        #expect(mine == theirs, "events: virtd \(mine) libvirtd \(theirs)")
        #expect(mine.contains("pm-suspend") && mine.contains("pm-wakeup") && mine.contains("lifecycle: PMSuspended Memory"))
        // vsh prints what virsh prints on virtd.
        for command in Self.refusals + ["guestvcpus pm"] {
            let words = command.split(separator: " ").map(String.init)
            let v = try ours.virsh(args: words)
            let s = try ours.virsh(args: words, client: TestPaths.vsh)
            #expect(s.stdout == v.stdout && s.stderr == v.stderr && s.status == v.status,
                    "vsh '\(command)': \(s.stdout) \(s.stderr) | virsh \(v.stdout) \(v.stderr)")
        }
        _ = try? ours.virsh("destroy pm; destroy noag; destroy nos3")
        _ = try? virsh(ref.uri, "destroy pm; destroy noag; destroy nos3")
    }

    @Test("a pmsuspended guest stays pmsuspended across a virtd restart (SIGKILL) and wakes up after it")
    func pmSuspendedAcrossRestart() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        try Self.xml(name: "pm", agent: true).write(toFile: ours.dir + "/pm.xml", atomically: true, encoding: .utf8)
        #expect(try ours.virsh("define \(ours.dir)/pm.xml; start pm").status == 0)
        #expect(eventually(240) { (try? ours.virsh("guestvcpus pm"))?.status == 0 }, "the guest agent did not come up")
        #expect(try ours.virsh("dompmsuspend pm mem").status == 0)
        #expect(eventually(60) { (try? ours.virsh("domstate pm --reason"))?.stdout == "pmsuspended (unknown)\n\n" })
        ours.kill9()
        try ours.start()
        #expect(try ours.virsh("domstate pm --reason").stdout == "pmsuspended (unknown)\n\n")
        #expect(try ours.virsh("dompmwakeup pm").status == 0)
        #expect(eventually(60) { (try? ours.virsh("domstate pm --reason"))?.stdout == "running (event wakeup)\n\n" })
        _ = try? ours.virsh("destroy pm")
    }
}
