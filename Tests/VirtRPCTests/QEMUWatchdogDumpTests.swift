import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `<watchdog model='i6300esb' action='dump'/>` on virtd and on Debian's libvirtd 9.0, each with its
/// `auto_dump_path` (virtd.conf; libvirtd's qemu.conf) set to a directory of the test: the TCG test guest arms
/// busybox's `watchdog` (through the guest agent) and never feeds it. Both daemons report the same event lines
/// (the watchdog event, the watchdog pause, the resume after the dump), end with the guest running, and leave
/// one dump named `ID-NAME-YYYY-MM-DD-HH:MM:SS` in their directory: an ELF core of the guest's memory, whose
/// loadable segments cover the same guest RAM in both files. When the dump cannot be written, both resume the
/// guest all the same, with the same events.
@Suite("watchdog action dump: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUWatchdogDumpTests {
    /// An ELF64 core's type, machine and the bytes its PT_LOAD segments hold in the file.
    struct ELFCore: Equatable {
        var type: UInt16
        var machine: UInt16
        var loadBytes: UInt64
        var loadSegments: Int
    }

    static func readELFCore(_ path: String) -> ELFCore? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        guard let header = try? h.read(upToCount: 64), header.count == 64,
              header.prefix(4) == Data([0x7f, 0x45, 0x4c, 0x46]), header[4] == 2 else { return nil }
        func u16(_ d: Data, _ o: Int) -> UInt16 { UInt16(d[d.startIndex + o]) | UInt16(d[d.startIndex + o + 1]) << 8 }
        func u32(_ d: Data, _ o: Int) -> UInt32 { UInt32(u16(d, o)) | UInt32(u16(d, o + 2)) << 16 }
        func u64(_ d: Data, _ o: Int) -> UInt64 { UInt64(u32(d, o)) | UInt64(u32(d, o + 4)) << 32 }
        let phoff = u64(header, 32), phentsize = Int(u16(header, 54)), phnum = Int(u16(header, 56))
        guard (try? h.seek(toOffset: phoff)) != nil,
              let table = try? h.read(upToCount: phentsize * phnum), table.count == phentsize * phnum else { return nil }
        var bytes: UInt64 = 0, loads = 0
        for i in 0..<phnum {
            let e = table.subdata(in: i * phentsize..<(i + 1) * phentsize)
            if u32(e, 0) == 1 {
                loads += 1
                bytes += u64(e, 32)
            }
        }
        return ELFCore(type: u16(header, 16), machine: u16(header, 18), loadBytes: bytes, loadSegments: loads)
    }

    /// `dumpFails`: once the daemons run, each auto_dump_path is replaced by a regular file, so that the dump
    /// cannot be written (ENOTDIR); the guest is resumed all the same, as libvirt's processWatchdogEvent does.
    @Test("the guest's watchdog fires with action dump: pause, a memory dump in auto_dump_path (or a failed one), resume, as libvirtd",
          arguments: [false, true])
    func watchdogDump(dumpFails: Bool) throws {
        let guest = try TestGuest.load(format: 8)
        let ourDumps = try TestPaths.makeTempDir("wdd", mode: 0o755)
        defer { TestPaths.removeDir(ourDumps) }
        let refDumps = try TestPaths.makeTempDir("wdr", mode: 0o755)
        defer { TestPaths.removeDir(refDumps) }
        let ours = try RestartableVirtd(config: "auto_dump_path = \"\(ourDumps)\"\n")
        defer { ours.cleanup() }
        let conf = try TestPaths.makeTempDir("wdc", mode: 0o755)
        defer { TestPaths.removeDir(conf) }
        try "stdio_handler = \"file\"\nauto_dump_path = \"\(refDumps)\"\n"
            .write(toFile: conf + "/qemu.conf", atomically: true, encoding: .utf8)
        chmod(conf + "/qemu.conf", 0o644)
        let ref = try ReferenceLibvirtd(privateDomainConfig: true,
                                        namespaceSetup: "mount --bind '\(conf)/qemu.conf' /etc/libvirt/qemu.conf && ")
        defer { ref.stop() }
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"
        defer {
            _ = try? virsh(refURI, "destroy ga; destroy idlech")
            for q in ProcFS.qemuProcesses(whose: "cmdline", contains: ref.dir + "/") { kill(q, SIGKILL) }
        }
        let daemons: [QEMUGuestAgentProofTests.GuestDaemon] = [
            ("virtd", ours.dir, ours.uri, { try ours.virsh($0) }),
            ("libvirtd", ref.dir, refURI, { try virsh(refURI, $0) }),
        ]
        let dumpDirs = [ourDumps, refDumps]
        for d in daemons {
            try QEMUGuestAgentProofTests.setUp(dir: d.dir, guest: guest,
                                               devices: "<watchdog model='i6300esb' action='dump'/>", d.run)
        }
        let watchers = try daemons.map { try VirshEventWatcher(uri: $0.uri, dir: $0.dir) }
        defer { for w in watchers { w.stop() } }
        for d in daemons {
            #expect(eventually(240) { ((try? d.run("domtime ga"))?.status ?? 1) == 0 }, "\(d.label): the agent never answered")
        }
        for d in daemons {
            let x = try d.run("dumpxml ga").stdout
            #expect(x.contains("<watchdog model='i6300esb' action='dump'>"), "\(d.label): \(x)")
        }
        if dumpFails {
            for dir in dumpDirs {
                TestPaths.removeDir(dir)
                #expect(FileManager.default.createFile(atPath: dir, contents: Data("not a directory\n".utf8)))
            }
        }
        // busybox's watchdog arms /dev/watchdog with a 2 s timeout and would feed it every 10 minutes only.
        let exec = #"{"execute":"guest-exec","arguments":{"path":"/bin/watchdog","arg":["-T","2","-t","600","/dev/watchdog"]}}"#
        for d in daemons {
            let r = try ChildProcess.run(["/usr/bin/virsh", "-c", d.uri, "qemu-agent-command", "ga", exec], timeLimit: 60)
            #expect(r.status == 0, "\(d.label): \(r.stderr)")
        }
        // The watchdog fires, the dump is written, the guest runs again.
        for (w, d) in zip(watchers, daemons) {
            #expect(eventually(180) { w.all("ga").contains { $0.hasPrefix("lifecycle: Resumed") } },
                    "\(d.label): \(w.all("ga"))")
        }
        var seen: [[String]] = []
        for w in watchers {
            try w.sync()
            seen.append(w.all("ga").filter { !$0.hasPrefix("lifecycle: Started") && !$0.hasPrefix("lifecycle: Defined")
                && !$0.hasPrefix("agent-lifecycle") })
        }
        #expect(seen[0] == seen[1], "virtd \(seen[0]) libvirtd \(seen[1])")
        #expect(seen[0] == ["watchdog: pause", "lifecycle: Suspended Watchdog", "lifecycle: Resumed Unpaused"], "\(seen[0])")
        for d in daemons {
            let s = try d.run("domstate ga --reason")
            #expect(s.stdout == "running (unpaused)\n\n", "\(d.label): \(s.stdout)\(s.stderr)")
        }
        // The guest runs: its agent answers again.
        for d in daemons {
            #expect(eventually(60) { ((try? d.run("domtime ga"))?.status ?? 1) == 0 }, "\(d.label): the agent never answered")
        }
        if dumpFails {
            for (dir, d) in zip(dumpDirs, daemons) {
                var st = stat()
                #expect(stat(dir, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && st.st_size == 16, "\(d.label): \(dir) changed")
            }
            return
        }
        // One dump in each directory, named NAME-date-time; an ELF core (ET_CORE, x86-64) of the guest's RAM.
        let pattern = #"^[0-9]+-ga-[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}:[0-9]{2}:[0-9]{2}$"#
        var cores: [ELFCore] = []
        var prefixes: [String] = []
        for (dir, d) in zip(dumpDirs, daemons) {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            #expect(files.count == 1, "\(d.label): \(files)")
            guard let f = files.first else { continue }
            #expect(f.range(of: pattern, options: .regularExpression) != nil, "\(d.label): \(f)")
            // ID-NAME: the domain's id as domid reports it.
            let id = try d.run("domid ga").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(f.hasPrefix("\(id)-ga-"), "\(d.label): \(f), domid \(id)")
            prefixes.append(String(f.prefix { $0 != "g" }))
            // Created by the daemon (not QEMU) with mode 0600, as libvirt's doCoreDump.
            var st = stat()
            #expect(stat(dir + "/" + f, &st) == 0 && st.st_mode & 0o777 == 0o600 && st.st_uid == getuid(),
                    "\(d.label): mode \(String(st.st_mode & 0o777, radix: 8)) uid \(st.st_uid)")
            let core = try #require(Self.readELFCore(dir + "/" + f), "\(d.label): \(f) is no ELF64 file")
            #expect(core.type == 4 && core.machine == 62, "\(d.label): \(core)")
            // The guest's 256 MiB of RAM and its BIOS ROM (256 KiB at the top of the first 4 GiB).
            #expect(core.loadBytes >= 256 << 20 && core.loadBytes <= 257 << 20, "\(d.label): \(core)")
            cores.append(core)
        }
        #expect(prefixes.count == 2 && prefixes[0] == prefixes[1], "\(prefixes)")
        if cores.count == 2 { #expect(cores[0] == cores[1], "virtd \(cores[0]) libvirtd \(cores[1])") }
    }
}
