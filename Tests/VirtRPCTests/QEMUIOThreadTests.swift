import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// iothreadadd, iothreaddel, iothreadpin and iothreadset on QEMU domains (TCG, no guest OS needed), through
/// virtd and through Debian's libvirtd 9.0 side by side: Debian's virsh runs the same commands, good and bad,
/// shut off and running, on both; stdout, stderr and status agree, and so do the IOThread parts of the live and
/// persistent XML. QEMU's own view (query-iothreads) follows every live change, and vsh prints what virsh prints.
@Suite("QEMU IOThreads: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUIOThreadTests {
    /// Two IOThreads, the second used by the disk, the first pinned to host CPU 0.
    static func xml(dir: String) -> String {
        """
        <domain type='qemu'><name>iot</name><uuid>4dea22b3-1d52-d8f3-2516-782e98a23fa0</uuid>
        <memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <iothreads>2</iothreads><cputune><iothreadpin iothread='1' cpuset='0'/></cputune>
        <os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
        <disk type='file' device='disk'><driver name='qemu' type='raw' iothread='2'/><source file='\(dir)/iot.img'/>\
        <target dev='vda' bus='virtio'/></disk></devices></domain>
        """
    }

    /// The IOThread lines of a domain XML: `<iothreads>`, `<iothreadids>` and the pins.
    static func iothreadLines(_ xml: String) -> [String] {
        xml.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("<iothread") || $0.hasPrefix("</iothread") }
    }

    /// QEMU's IOThread object ids (query-iothreads through qemu-monitor-command).
    static func qemuIOThreads(_ run: (String) throws -> ChildProcess.Result) throws -> [String] {
        let out = try run("qemu-monitor-command iot '{\"execute\":\"query-iothreads\"}'").stdout
        guard let obj = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
              let list = obj["return"] as? [[String: Any]] else { return [] }
        return list.compactMap { $0["id"] as? String }.sorted()
    }

    static let shutOffCommands = [
        "iothreadadd iot 3", "iothreadadd iot 3", "iothreadadd iot 0", "iothreadadd iot 4 --live",
        "iothreadinfo iot", "iothreadpin iot 3 0", "iothreadpin iot 9 0", "iothreadpin iot 3 0 --live",
        "iothreadset iot 1 --poll-max-ns 100", "iothreadset iot 9 --thread-pool-max 4",
        "iothreadset iot 1 --thread-pool-min 5 --thread-pool-max 4", "iothreadset iot 1 --thread-pool-max 0",
        "iothreadset iot 1 --thread-pool-min -2", "iothreadset iot 1 --thread-pool-max 4",
        "iothreaddel iot 3", "iothreaddel iot 3", "iothreaddel iot 2", "iothreaddel iot 0",
        "iothreadadd iot 3", "iothreadinfo iot",
    ]

    static let runningCommands = [
        "iothreadinfo iot", "iothreadadd iot 5", "iothreadadd iot 5", "iothreadadd iot 1",
        "iothreadpin iot 5 1", "iothreadpin iot 9 1", "iothreadpin iot 5 0 --config", "iothreadinfo iot",
        "iothreadinfo iot --config",
        "iothreadset iot 5 --poll-max-ns 1000 --poll-grow 2 --poll-shrink 3", "iothreadset iot 77 --poll-grow 1",
        "iothreadset iot 5 --poll-max-ns 4294967296", "iothreadset iot 5 --thread-pool-min 1 --thread-pool-max 2",
        "iothreadset iot 3 --thread-pool-max 2 --config",
        "iothreaddel iot 2", "iothreaddel iot 5", "iothreaddel iot 5", "iothreaddel iot 3 --live",
        "iothreadadd iot 6 --live --config", "iothreadinfo iot", "iothreadinfo iot --config",
    ]

    @Test("virsh iothreadadd/del/pin/set, shut off and running: libvirtd's output, XML and QEMU's IOThreads")
    func iothreadChangesLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        let oursRun = { (c: String) in try ours.virsh(c) }
        let refRun = { (c: String) in try virsh(ref.uri, c) }
        for (dir, run) in [(ours.dir, oursRun), (ref.dir, refRun)] {
            let image = try QEMUDaemonSupport.makeImage(dir + "/iot.img", owner: (0, 0))
            chmod(image, 0o666)
            try Self.xml(dir: dir).write(toFile: dir + "/iot.xml", atomically: true, encoding: .utf8)
            #expect(try run("define \(dir)/iot.xml").status == 0)
        }
        func same(_ command: String) throws {
            let o = try ours.virsh(command)
            let r = try virsh(ref.uri, command)
            #expect(o.stdout == r.stdout, "stdout of '\(command)': virtd '\(o.stdout)' libvirtd '\(r.stdout)'")
            #expect(o.stderr == r.stderr, "stderr of '\(command)': virtd '\(o.stderr)' libvirtd '\(r.stderr)'")
            #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)")
        }
        func sameXML(_ flags: String) throws {
            let o = Self.iothreadLines(try ours.virsh("dumpxml iot \(flags)").stdout)
            let r = Self.iothreadLines(try virsh(ref.uri, "dumpxml iot \(flags)").stdout)
            #expect(o == r, "dumpxml \(flags): virtd \(o) libvirtd \(r)")
        }
        for command in Self.shutOffCommands { try same(command) }
        try sameXML("--inactive")
        #expect(try ours.virsh("start iot").status == 0)
        #expect(try virsh(ref.uri, "start iot").status == 0)
        #expect(try Self.qemuIOThreads(oursRun) == ["iothread1", "iothread2", "iothread3"])
        for command in Self.runningCommands {
            try same(command)
            if command == "iothreadadd iot 5" {
                #expect(try Self.qemuIOThreads(oursRun) == ["iothread1", "iothread2", "iothread3", "iothread5"])
                #expect(try Self.qemuIOThreads(oursRun) == Self.qemuIOThreads(refRun))
            }
            if command.hasPrefix("iothreadset iot 5 --poll-max-ns 1000") {
                let o = try ours.virsh("qemu-monitor-command iot '{\"execute\":\"qom-get\",\"arguments\":"
                                       + "{\"path\":\"/objects/iothread5\",\"property\":\"poll-max-ns\"}}'").stdout
                #expect(o.contains("\"return\":1000"), "\(o)")
            }
        }
        try sameXML("")
        try sameXML("--inactive")
        // iothread5 and iothread3 went away in QEMU, iothread6 was added.
        #expect(try Self.qemuIOThreads(oursRun) == ["iothread1", "iothread2", "iothread6"])
        #expect(try Self.qemuIOThreads(oursRun) == Self.qemuIOThreads(refRun))
        // vsh prints what virsh prints on virtd.
        for command in ["iothreadinfo iot", "iothreadpin iot 6 1", "iothreadadd iot 6", "iothreaddel iot 9",
                        "iothreadset iot 6 --poll-grow 4", "iothreadset iot 6", "iothreadinfo iot"] {
            let words = command.split(separator: " ").map(String.init)
            let v = try ours.virsh(args: words)
            let s = try ours.virsh(args: words, client: TestPaths.vsh)
            #expect(s.stdout == v.stdout && s.stderr == v.stderr && s.status == v.status,
                    "vsh '\(command)': \(s.stdout) \(s.stderr) | virsh \(v.stdout) \(v.stderr)")
            if command == "iothreadpin iot 6 1" {
                // Undo through virsh for the next round.
                _ = try ours.virsh("iothreadpin iot 6 0-1")
            }
            if command == "iothreadadd iot 6" { _ = try ours.virsh("iothreaddel iot 6") }
        }
        _ = try? ours.virsh("destroy iot")
        _ = try? virsh(ref.uri, "destroy iot")
        try Self.autofilledIDs(ours: ours, ref: ref)
    }

    /// IOThread ids that came from a bare `<iothreads>3</iothreads>` (libvirt's autofill): written in
    /// `<iothreadids>` only while another id exists, the ids are not 1…N or a pool size is set, live; a
    /// `--config` change works on a copy of the definition, where written ids are given ones.
    static func autofilledIDs(ours: RestartableVirtd, ref: StatsReferenceLibvirtd) throws {
        let xml = """
            <domain type='qemu'><name>iota</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
            <iothreads>3</iothreads><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>
            """
        for (dir, uri) in [(ours.dir, ours.uri), (ref.dir, ref.uri)] {
            try xml.write(toFile: dir + "/iota.xml", atomically: true, encoding: .utf8)
            #expect(try virsh(uri, "define \(dir)/iota.xml").status == 0)
        }
        func compare(_ dumpFlags: String, after command: String) throws {
            let o = try ours.virsh(command)
            let r = try virsh(ref.uri, command)
            #expect(o.status == r.status && o.stderr == r.stderr, "'\(command)': \(o.stderr) | \(r.stderr)")
            let ox = iothreadLines(try ours.virsh("dumpxml iota \(dumpFlags)").stdout)
            let rx = iothreadLines(try virsh(ref.uri, "dumpxml iota \(dumpFlags)").stdout)
            #expect(ox == rx, "after '\(command)': virtd \(ox) libvirtd \(rx)")
        }
        for c in ["iothreadadd iota 4 --config", "iothreaddel iota 4 --config", "iothreaddel iota 2 --config"] {
            try compare("--inactive", after: c)
        }
        #expect(try ours.virsh("undefine iota").status == 0)
        #expect(try virsh(ref.uri, "undefine iota").status == 0)
        for (dir, uri) in [(ours.dir, ours.uri), (ref.dir, ref.uri)] {
            #expect(try virsh(uri, "define \(dir)/iota.xml").status == 0)
            #expect(try virsh(uri, "start iota").status == 0)
        }
        for c in ["iothreadadd iota 4 --live", "iothreaddel iota 4 --live", "iothreadadd iota 5 --live",
                  "iothreaddel iota 5 --live", "iothreaddel iota 2 --live", "iothreadset iota 1 --thread-pool-max 4 --live"] {
            try compare("", after: c)
        }
        for uri in [ours.uri, ref.uri] {
            _ = try? virsh(uri, "destroy iota")
            _ = try? virsh(uri, "undefine iota")
        }
    }
}

/// domxml-to-native and domxml-from-native through virtd and libvirtd 9.0: the same command line (paths under
/// each daemon's root normalised), the same refusals, and vsh's output equal to virsh's.
@Suite("QEMU domxml-to-native: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUDomainXMLNativeTests {
    @Test("virsh domxml-to-native qemu-argv, its refusals and domxml-from-native: libvirtd's output")
    func nativeLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        for dir in [ours.dir, ref.dir] {
            try QEMUIOThreadTests.xml(dir: "/nonexistent").write(toFile: dir + "/iot.xml", atomically: true,
                                                                 encoding: .utf8)
            try "LC_ALL=C /usr/bin/qemu-system-x86_64 -m 64\n".write(toFile: dir + "/native.txt", atomically: true,
                                                                      encoding: .utf8)
            try "<domain".write(toFile: dir + "/bad.xml", atomically: true, encoding: .utf8)
        }
        func normalised(_ s: String, _ dir: String, lib: String) -> String {
            s.replacingOccurrences(of: lib, with: "<LIB>").replacingOccurrences(of: dir, with: "<DIR>")
        }
        for command in ["domxml-to-native qemu-argv --xml DIR/iot.xml", "domxml-to-native bogus --xml DIR/iot.xml",
                        "domxml-to-native qemu-argv --xml DIR/bad.xml", "domxml-from-native qemu-argv DIR/native.txt",
                        "domxml-to-native qemu-argv --xml DIR/missing.xml"] {
            let o = try ours.virsh(command.replacingOccurrences(of: "DIR", with: ours.dir))
            let r = try virsh(ref.uri, command.replacingOccurrences(of: "DIR", with: ref.dir))
            let on = normalised(o.stdout, ours.dir, lib: ours.dir + "/lib/qemu")
            let rn = normalised(r.stdout, ref.dir, lib: "/var/lib/libvirt/qemu")
            #expect(on == rn, "stdout of '\(command)':\nvirtd    \(on)\nlibvirtd \(rn)")
            #expect(normalised(o.stderr, ours.dir, lib: "") == normalised(r.stderr, ref.dir, lib: ""),
                    "stderr of '\(command)': virtd '\(o.stderr)' libvirtd '\(r.stderr)'")
            #expect(o.status == r.status, "status of '\(command)'")
            let words = command.replacingOccurrences(of: "DIR", with: ours.dir).split(separator: " ").map(String.init)
            let s = try ours.virsh(args: words, client: TestPaths.vsh)
            #expect(s.stdout == o.stdout && s.stderr == o.stderr && s.status == o.status,
                    "vsh '\(command)': \(s.stdout) \(s.stderr) | virsh \(o.stdout) \(o.stderr)")
        }
        // A defined domain's XML and the read-only socket's refusal.
        #expect(try ours.virsh("define \(ours.dir)/iot.xml").status == 0)
        let o = try ours.virsh("domxml-to-native qemu-argv --domain iot")
        #expect(o.status == 0 && o.stdout.contains("-object '{\"qom-type\":\"iothread\",\"id\":\"iothread2\"}'"), "\(o.stdout)")
        let ro = try ChildProcess.run(["/usr/bin/virsh", "-r", "-c", ours.uri.replacingOccurrences(of: "virtd-sock", with: "virtd-sock-ro"),
                                       "domxml-to-native qemu-argv --domain iot"])
        #expect(ro.stderr.contains("read only access prevents virConnectDomainXMLToNative"), "\(ro.stderr)")
    }
}

/// qemu-monitor-event through virtd and libvirtd 9.0 on the same running domain: watchers with an event name,
/// a case-insensitive regular expression and `--pretty` see the QMP events of start, suspend, resume and destroy
/// (times normalised); vsh's watcher on virtd prints what virsh's prints.
@Suite("QEMU qemu-monitor-event: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUMonitorEventTests {
    static let watches = [
        ["--domain", "iot", "--event", "STOP", "--loop", "--timeout", "25"],
        ["--event", "^(stop|resume)$", "--regex", "--no-case", "--loop", "--timeout", "25"],
        ["--domain", "iot", "--event", "shutdown", "--no-case", "--pretty", "--timeout", "25"],
        ["--domain", "iot", "--event", "RESUME", "--timeout", "25"],
    ]

    static func normalised(_ text: String) -> String {
        text.replacingOccurrences(of: #"at [0-9]+\.[0-9]{6} "#, with: "at T ", options: .regularExpression)
    }

    @Test("virsh qemu-monitor-event --event/--regex/--no-case/--pretty/--loop/--timeout: libvirtd's output")
    func monitorEventsLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        for (dir, uri) in [(ours.dir, ours.uri), (ref.dir, ref.uri)] {
            let image = try QEMUDaemonSupport.makeImage(dir + "/iot.img", owner: (0, 0))
            chmod(image, 0o666)
            try QEMUIOThreadTests.xml(dir: dir).write(toFile: dir + "/iot.xml", atomically: true, encoding: .utf8)
            #expect(try virsh(uri, "define \(dir)/iot.xml").status == 0)
        }
        var watchers: [(ChildProcess, String)] = []
        for (i, w) in Self.watches.enumerated() {
            for (name, uri, dir, client) in [("ours", ours.uri, ours.dir, "/usr/bin/virsh"),
                                             ("ref", ref.uri, ref.dir, "/usr/bin/virsh"),
                                             ("vsh", ours.uri, ours.dir, TestPaths.vsh)] {
                let out = dir + "/watch-\(name)-\(i).txt"
                watchers.append((try ChildProcess.spawn([client, "-c", uri, "qemu-monitor-event"] + w, output: .file(out)), out))
            }
        }
        defer { for (p, _) in watchers { p.terminate() } }
        Thread.sleep(forTimeInterval: 3)
        for uri in [ours.uri, ref.uri] {
            #expect(try virsh(uri, "start iot").status == 0)
            #expect(try virsh(uri, "suspend iot; resume iot; destroy iot").status == 0)
        }
        #expect(eventually(60) { watchers.allSatisfy { !$0.0.isRunning } })
        func text(_ path: String) -> String {
            Self.normalised((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
        }
        for i in Self.watches.indices {
            let o = text(ours.dir + "/watch-ours-\(i).txt"), r = text(ref.dir + "/watch-ref-\(i).txt")
            let s = text(ours.dir + "/watch-vsh-\(i).txt")
            #expect(o == r, "watch \(Self.watches[i]): virtd\n\(o)\nlibvirtd\n\(r)")
            #expect(s == o, "vsh watch \(Self.watches[i]): vsh\n\(s)\nvirsh\n\(o)")
            #expect(o.contains("events received: ") && !o.contains("events received: 0"), "\(o)")
        }
    }
}
