import Foundation
import Testing
import Virt
import VirtCore
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// screenshot and send-key on running TCG domains without a guest OS (SeaBIOS waits at its boot menu prompt),
/// through virtd and through Debian's libvirtd 9.0 side by side: Debian's virsh runs the same commands, good and
/// bad, on both; stdout, stderr and status agree. Both screenshots are PNG images (libvirt 9.0 asks QEMU 7.2 for
/// PNG) with the same header (size, depth, colour type),
/// and a key sent with send-key reaches the guest: the ESC key opens SeaBIOS's boot menu, so the screen taken
/// after it differs from the one before. Core dumps (memory only as ELF and kdump, QEMU's stream, with reset and
/// crash) and `domjobinfo` while one runs; IOThread information live and persistent. vsh prints what virsh prints.
@Suite("QEMU screenshot, send-key, dump and iothreadinfo: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUGuestOpsTests {
    /// A VGA domain whose BIOS waits 60 s at "Press ESC for boot menu", its VNC server on a socket in `dir/vnc`.
    static func screenXML(dir: String) -> String {
        """
        <domain type='qemu'><name>scr</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='pc'>hvm</type><bootmenu enable='yes' timeout='60000'/></os>
        <features><acpi/></features><devices>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(dir)/scr.img'/>\
        <target dev='vda' bus='virtio'/></disk>
        <graphics type='vnc' socket='\(dir)/vnc/scr.sock'/>
        <video><model type='vga' vram='16384' heads='1' primary='yes'/></video>
        </devices></domain>
        """
    }

    /// A domain without graphics or video.
    static func headlessXML(dir: String) -> String {
        """
        <domain type='qemu'><name>nov</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(dir)/nov.img'/>\
        <target dev='vda' bus='virtio'/></disk></devices></domain>
        """
    }

    static func setUp(dir: String, _ run: (String) throws -> ChildProcess.Result) throws {
        for name in ["scr.img", "nov.img"] {
            let image = try QEMUDaemonSupport.makeImage(dir + "/" + name, owner: (0, 0))
            chmod(image, 0o666)
        }
        // QEMU (libvirtd runs it as libvirt-qemu) creates the VNC socket here.
        try FileManager.default.createDirectory(atPath: dir + "/vnc", withIntermediateDirectories: true)
        chmod(dir + "/vnc", 0o777)
        try screenXML(dir: dir).write(toFile: dir + "/scr.xml", atomically: true, encoding: .utf8)
        try headlessXML(dir: dir).write(toFile: dir + "/nov.xml", atomically: true, encoding: .utf8)
        let r = try run("define \(dir)/scr.xml; define \(dir)/nov.xml")
        #expect(r.status == 0, "define: \(r.stderr)")
    }

    /// A PNG's signature and image header chunk (IHDR: width, height, depth, colour type) as hex, and the
    /// byte count (libvirt 9.0 asks QEMU 7.2 for PNG).
    static func png(_ path: String) -> (header: String, size: Int)? {
        guard let data = FileManager.default.contents(atPath: path), data.count > 33 else { return nil }
        return (data.prefix(26).map { String(format: "%02x", $0) }.joined(), data.count)
    }

    /// Shut off, then running: screenshots and keys, good and bad, on both daemons.
    static let shutOffCommands = [
        "screenshot scr DIR/off.png",
        "send-key scr KEY_A",
    ]
    static let commands = [
        "screenshot scr DIR/s1.png --screen 1",
        "screenshot scr --file DIR/s2.png --screen 7",
        "screenshot scr DIR/s3.png --screen -1",
        "screenshot nov DIR/nov.png",
        "screenshot scr DIR/missing/x.png",
        "screenshot nosuch DIR/x.png",
        "send-key scr KEY_LEFTSHIFT",
        "send-key scr --codeset xt 30",
        "send-key scr --codeset atset1 0xe01c",
        "send-key scr --codeset atset2 0x1c",
        "send-key scr --codeset atset3 0x1c",
        "send-key scr --codeset xt_kbd 284",
        "send-key scr --codeset usb 4",
        "send-key scr --codeset win32 VK_CONTROL",
        "send-key scr --codeset os_x ANSI_A",
        "send-key scr --codeset qnum 0x9c",
        "send-key scr --codeset rfb 30",
        "send-key scr --holdtime 50 KEY_LEFTCTRL KEY_B",
        "send-key scr FOO",
        "send-key scr --codeset win32 KEY_A",
        "send-key scr --codeset bogus 30",
        "send-key scr 70000",
        "send-key scr -- -1",
        "send-key scr --codeset linux 1023",
        "send-key scr --codeset usb 3",
        "send-key scr --holdtime x KEY_A",
        "send-key scr 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
        "send-key nov KEY_A",
    ]

    @Test("virsh screenshot and send-key on a running TCG domain: libvirtd's output, a PNG of the same size, the key seen by the BIOS")
    func screenshotAndSendKeyLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        try Self.setUp(dir: ours.dir) { try ours.virsh($0) }
        try Self.setUp(dir: ref.dir) { try virsh(ref.uri, $0) }

        func same(_ command: String) throws {
            let o = try ours.virsh(command.replacingOccurrences(of: "DIR", with: ours.dir))
            let r = try virsh(ref.uri, command.replacingOccurrences(of: "DIR", with: ref.dir))
            func clean(_ s: String, _ dir: String) -> String { s.replacingOccurrences(of: dir, with: "DIR") }
            #expect(clean(o.stdout, ours.dir) == clean(r.stdout, ref.dir), "stdout of '\(command)'")
            #expect(clean(o.stderr, ours.dir) == clean(r.stderr, ref.dir), "stderr of '\(command)'")
            #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)")
        }
        for command in Self.shutOffCommands { try same(command) }
        #expect(try ours.virsh("start scr; start nov").status == 0)
        #expect(try virsh(ref.uri, "start scr; start nov").status == 0)

        // The BIOS prompt is on screen (it waits 60 s for ESC); the screen is in text mode.
        sleep(4)
        try same("screenshot scr DIR/before.png")
        let ob = Self.png(ours.dir + "/before.png")
        let rb = Self.png(ref.dir + "/before.png")
        #expect(ob?.header.hasPrefix("89504e470d0a1a0a") == true, "virtd's screenshot: \(String(describing: ob))")
        #expect(ob?.header == rb?.header, "PNG virtd \(String(describing: ob)) libvirtd \(String(describing: rb))")

        // ESC opens the boot menu: the next screenshot differs from the one before, on both daemons.
        try same("send-key scr KEY_ESC")
        sleep(3)
        try same("screenshot scr --file DIR/after.png")
        for dir in [ours.dir, ref.dir] {
            let before = FileManager.default.contents(atPath: dir + "/before.png")
            let after = FileManager.default.contents(atPath: dir + "/after.png")
            #expect(before != nil && after != nil && before != after, "the screen did not change after ESC in \(dir)")
        }
        #expect(Self.png(ours.dir + "/after.png")?.header == Self.png(ref.dir + "/after.png")?.header)
        // The private directory keeps no screendump file.
        let leftovers = (try? FileManager.default.subpathsOfDirectory(atPath: ours.dir + "/lib"))?
            .filter { $0.contains("qemu.screendump") } ?? []
        #expect(leftovers.isEmpty, "\(leftovers)")

        for command in Self.commands { try same(command) }

        // vsh prints what virsh prints (through virtd).
        for command in ["screenshot scr DIR/v.png", "screenshot scr DIR/v.png --screen 1", "screenshot nov DIR/v.png"]
            + Self.commands {
            let line = command.replacingOccurrences(of: "DIR", with: ours.dir)
            let v = try ours.virsh(args: line.split(separator: " ").map(String.init))
            let s = try ours.virsh(args: line.split(separator: " ").map(String.init), client: TestPaths.vsh)
            #expect(s.stdout == v.stdout && s.stderr == v.stderr && s.status == v.status,
                    "vsh '\(command)': \(s.stdout) \(s.stderr) \(s.status) | virsh \(v.stdout) \(v.stderr) \(v.status)")
        }
        #expect(Self.png(ours.dir + "/v.png")?.header == Self.png(ours.dir + "/after.png")?.header)

        // Stopped again: libvirt's refusals.
        #expect(try ours.virsh("destroy scr").status == 0)
        #expect(try virsh(ref.uri, "destroy scr").status == 0)
        for command in Self.shutOffCommands { try same(command) }
        _ = try? ours.virsh("destroy nov")
        _ = try? virsh(ref.uri, "destroy nov")
    }

    /// python3-libvirt's core dump calls that fail in the daemon: results and errors (code, domain, message).
    static let dumpCalls = #"""
    import libvirt, sys, json
    c = libvirt.open(sys.argv[1])
    d = c.lookupByName('scr')
    n = c.lookupByName('nov')
    p = sys.argv[2]
    M = libvirt.VIR_DUMP_MEMORY_ONLY
    out = []
    for name, call in [
        ('missingDir', lambda: d.coreDump(p + '/missing/core', M)),
        ('kdumpNotMemoryOnly', lambda: d.coreDumpWithFormat(p + '/k', libvirt.VIR_DOMAIN_CORE_DUMP_FORMAT_KDUMP_ZLIB, 0)),
        ('badFlags', lambda: d.coreDump(p + '/f', 0x100)),
        ('badFormat', lambda: d.coreDumpWithFormat(p + '/f', 9, M)),
        ('shutOff', lambda: n.coreDump(p + '/n', M)),
    ]:
        try:
            out.append([name, 'ok', call()])
        except libvirt.libvirtError as e:
            out.append([name, e.get_error_code(), e.get_error_domain(), e.get_error_message()])
    print(json.dumps(out).replace(p, 'DIR'))
    """#

    /// Reads a FIFO: the first MiB, then waits for `GO` beside it, then the rest; prints the byte count and the
    /// first 20 bytes in hex.
    static let fifoReader = #"""
    import os, sys, time
    path = sys.argv[1]
    f = open(path, 'rb')
    head = f.read(1 << 20)
    while not os.path.exists(path + '.go'):
        time.sleep(0.1)
    n = len(head)
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        n += len(b)
    print(n, head[:20].hex(), flush=True)
    """#

    /// An ELF core's header: magic, class (64-bit), type (ET_CORE).
    static func isELFCore(_ path: String) -> Bool {
        guard let h = FileManager.default.contents(atPath: path)?.prefix(18), h.count == 18 else { return false }
        let b = [UInt8](h)
        return b[0..<4] == [0x7f, 0x45, 0x4c, 0x46] && b[4] == 2 && b[16] == 4 && b[17] == 0
    }

    /// python3-libvirt's `openGraphicsFD` (what virt-manager asks on a local connection): the descriptor arrives
    /// in a REPLY_WITH_FDS and speaks RFB with QEMU's VNC server (handshake up to ServerInit), with and without
    /// SKIPAUTH; then libvirt's errors.
    static let graphicsFD = #"""
    import libvirt, socket, struct, sys
    c = libvirt.open(sys.argv[1])
    def recv(s, n):
        b = b""
        while len(b) < n:
            chunk = s.recv(n - len(b))
            if not chunk:
                break
            b += chunk
        return b
    def rfb(flags):
        fd = c.lookupByName("scr").openGraphicsFD(0, flags)
        s = socket.socket(fileno=fd)
        s.settimeout(30)
        banner = recv(s, 12)
        s.sendall(b"RFB 003.008\n")
        types = list(recv(s, recv(s, 1)[0]))
        s.sendall(b"\x01")
        result = struct.unpack(">I", recv(s, 4))[0]
        s.sendall(b"\x01")
        w, h = struct.unpack(">HH", recv(s, 4))
        pixel = recv(s, 16)
        name = recv(s, struct.unpack(">I", recv(s, 4))[0])
        s.close()
        return "banner %r types %r result %d screen %s pixel-format %s name %r" % (
            banner, types, result, w > 0 and h > 0, pixel.hex(), name)
    def call(what, f):
        try:
            print(what, f(), flush=True)
        except libvirt.libvirtError as e:
            print(what, "error", e.get_error_code(), e.get_error_domain(), e.get_error_message(), flush=True)
    call("skipauth", lambda: rfb(libvirt.VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH))
    call("plain", lambda: rfb(0))
    call("index 1", lambda: c.lookupByName("scr").openGraphicsFD(1, 0))
    call("flags 2", lambda: c.lookupByName("scr").openGraphicsFD(0, 2))
    call("headless", lambda: c.lookupByName("nov").openGraphicsFD(0, 0))
    c.lookupByName("nov").destroy()
    call("shut off", lambda: c.lookupByName("nov").openGraphicsFD(0, 0))
    """#

    /// The same descriptor through our own client (`import Virt`, REPLY_WITH_FDS read with recvmsg): the RFB
    /// banner with and without SKIPAUTH, an ordinary call on the same connection after it, and libvirt's error
    /// for a graphics index the domain lacks.
    static func swiftClientGraphicsFD(_ uri: String) async throws -> [String] {
        let conn = try await Connection.open(uri)
        var out: [String] = []
        let dom = try await conn.lookupDomain(name: "scr")
        for flags: UInt32 in [1, 0] {
            let fd = try await dom.openGraphicsFD(index: 0, flags: flags)
            var banner: [UInt8] = []
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while banner.count < 12, poll(&p, 1, 30_000) > 0 {
                var chunk = [UInt8](repeating: 0, count: 12 - banner.count)
                let n = read(fd, &chunk, chunk.count)
                if n <= 0 { break }
                banner += chunk[0..<n]
            }
            Glibc.close(fd)
            out.append("flags \(flags): \(String(decoding: banner, as: UTF8.self).debugDescription)")
        }
        out.append("state \(try await dom.info().state)")
        do {
            _ = try await dom.openGraphicsFD(index: 1)
            out.append("index 1: no error")
        } catch let e as VirtError {
            out.append("index 1: error \(e.code.rawValue) \(e.message)")
        }
        out.append("name \(try await conn.lookupDomain(name: "scr").name)")
        await conn.close()
        return out
    }

    @Test("python3-libvirt openGraphicsFD: a descriptor in REPLY_WITH_FDS speaking RFB with QEMU's VNC server; libvirt's errors, as libvirtd")
    func openGraphicsFDLikeLibvirtd() async throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        try Self.setUp(dir: ours.dir) { try ours.virsh($0) }
        try Self.setUp(dir: ref.dir) { try virsh(ref.uri, $0) }
        #expect(try ours.virsh("start scr; start nov").status == 0)
        #expect(try virsh(ref.uri, "start scr; start nov").status == 0)
        try Self.graphicsFD.write(toFile: ours.dir + "/gfd.py", atomically: true, encoding: .utf8)
        let o = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/gfd.py", ours.uri], timeLimit: 120)
        let r = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/gfd.py", ref.uri], timeLimit: 120)
        #expect(o.status == 0 && r.status == 0, "\(o.stderr) \(r.stderr)")
        #expect(o.stdout.contains("banner b'RFB 003.008\\n' types [1] result 0 screen True"), "\(o.stdout)")
        #expect(o.stdout.contains("name b'QEMU (scr)'"), "\(o.stdout)")
        #expect(o.stdout == r.stdout, "virtd:\n\(o.stdout)\nlibvirtd:\n\(r.stdout)")
        // Our client against both daemons.
        let so = try await Self.swiftClientGraphicsFD(ours.uri)
        let sr = try await Self.swiftClientGraphicsFD(ref.uri)
        #expect(so.first == "flags 1: \"RFB 003.008\\n\"", "\(so)")
        #expect(so == sr, "virtd:\n\(so)\nlibvirtd:\n\(sr)")
        #expect(try ours.virsh("destroy scr").status == 0)
        #expect(try virsh(ref.uri, "destroy scr").status == 0)
    }

    @Test("virsh dump --memory-only: an ELF core of the guest's memory, domjobinfo while it runs, libvirt's errors, as libvirtd")
    func memoryOnlyDumpLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        try Self.setUp(dir: ours.dir) { try ours.virsh($0) }
        try Self.setUp(dir: ref.dir) { try virsh(ref.uri, $0) }
        #expect(try ours.virsh("start scr").status == 0)
        #expect(try virsh(ref.uri, "start scr").status == 0)
        // Dumps are written by root (libvirtd's QEMU runs as libvirt-qemu and gets a descriptor).
        for dir in [ours.dir, ref.dir] {
            try FileManager.default.createDirectory(atPath: dir + "/dumps", withIntermediateDirectories: true)
        }

        func same(_ command: String, timeout: Double = 120) throws {
            let o = try ChildProcess.run(["/usr/bin/virsh", "-c", ours.uri, command.replacingOccurrences(of: "DIR", with: ours.dir)],
                                         timeLimit: timeout)
            let r = try ChildProcess.run(["/usr/bin/virsh", "-c", ref.uri, command.replacingOccurrences(of: "DIR", with: ref.dir)],
                                         timeLimit: timeout)
            func clean(_ s: String, _ dir: String) -> String { s.replacingOccurrences(of: dir, with: "DIR") }
            #expect(clean(o.stdout, ours.dir) == clean(r.stdout, ref.dir), "stdout of '\(command)'")
            #expect(clean(o.stderr, ours.dir) == clean(r.stderr, ref.dir), "stderr of '\(command)'")
            #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)")
        }

        // An ELF core of the 128 MiB guest, and the guest runs again afterwards.
        try same("dump scr DIR/dumps/core.elf --memory-only; domstate scr --reason")
        let completed = [try ours.virsh("domjobinfo scr --completed").stdout, try virsh(ref.uri, "domjobinfo scr --completed").stdout]
        var sizes: [UInt64] = []
        for dir in [ours.dir, ref.dir] {
            #expect(Self.isELFCore(dir + "/dumps/core.elf"), "no ELF core in \(dir)")
            let size = ((try? FileManager.default.attributesOfItem(atPath: dir + "/dumps/core.elf"))?[.size] as? UInt64) ?? 0
            sizes.append(size)
        }
        #expect(sizes[0] == sizes[1] && sizes[0] > 128 << 20 && sizes[0] < 160 << 20, "core sizes \(sizes)")
        // A compressed (kdump) memory dump and a live one.
        try same("dump scr DIR/dumps/core.kdump --memory-only --format kdump-zlib --live; domstate scr --reason")
        for dir in [ours.dir, ref.dir] {
            let head = FileManager.default.contents(atPath: dir + "/dumps/core.kdump")?.prefix(8)
            // QEMU writes kdump formats to a descriptor in makedumpfile's flattened format.
            #expect(head.map { String(decoding: $0, as: UTF8.self) } == "makedump", "no kdump file in \(dir)")
        }

        // Errors from the daemon, through python3-libvirt (virsh 9.0 may hang on a dump that fails at once).
        try Self.dumpCalls.write(toFile: ours.dir + "/dump.py", atomically: true, encoding: .utf8)
        let ourPy = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/dump.py", ours.uri, ours.dir], timeLimit: 120)
        let refPy = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/dump.py", ref.uri, ref.dir], timeLimit: 120)
        #expect(ourPy.status == 0 && refPy.status == 0, "\(ourPy.stderr) \(refPy.stderr)")
        #expect(ourPy.stdout == refPy.stdout, "python3-libvirt:\n virtd    \(ourPy.stdout)\n libvirtd \(refPy.stdout)")

        // domjobinfo while a dump runs: QEMU writes into a FIFO whose reader holds back after the first MiB.
        var jobInfo: [String] = []
        for (dir, uri) in [(ours.dir, ours.uri), (ref.dir, ref.uri)] {
            let fifo = dir + "/dumps/fifo"
            #expect(mkfifo(fifo, 0o666) == 0)
            try Self.fifoReader.write(toFile: dir + "/reader.py", atomically: true, encoding: .utf8)
            let reader = try ChildProcess.spawn(["/usr/bin/python3", dir + "/reader.py", fifo], output: .file(dir + "/reader.out"))
            defer { reader.terminate() }
            let dump = try ChildProcess.spawn(["/usr/bin/virsh", "-c", uri, "dump scr \(fifo) --memory-only"],
                                              output: .file(dir + "/dump.out"))
            defer { dump.terminate() }
            var info = ""
            #expect(eventually(60) {
                info = (try? virsh(uri, "domjobinfo scr"))?.stdout ?? ""
                return info.contains("Unbounded")
            }, "no job seen: \(info)")
            jobInfo.append(info)
            FileManager.default.createFile(atPath: fifo + ".go", contents: nil)
            let read = try reader.finish(timeLimit: 120)
            _ = try dump.finish(timeLimit: 120)
            let out = (try? String(contentsOfFile: dir + "/dump.out", encoding: .utf8)) ?? ""
            #expect(out.contains("Domain 'scr' dumped to \(fifo)"), "\(out)")
            let fields = ((try? String(contentsOfFile: dir + "/reader.out", encoding: .utf8)) ?? "").split(separator: " ")
            #expect(fields.count == 2 && fields[1].hasPrefix("7f454c46") && UInt64(fields[0]) == sizes[0],
                    "FIFO read: \(fields) \(read.status)")
        }
        // Same fields; same operation and memory total.
        func fields(_ text: String) -> [String] {
            text.split(separator: "\n").compactMap { line -> String? in
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { return nil }
                return ["Job type", "Operation", "Memory total"].contains(parts[0]) ? parts[0] + ": " + parts[1] : parts[0]
            }
        }
        #expect(fields(completed[0]) == fields(completed[1]),
                "domjobinfo --completed:\n virtd    \(completed[0])\n libvirtd \(completed[1])")
        #expect(jobInfo.count == 2 && fields(jobInfo[0]) == fields(jobInfo[1]),
                "domjobinfo:\n virtd    \(jobInfo.first ?? "")\n libvirtd \(jobInfo.last ?? "")")

        // vsh prints what virsh prints.
        var compared = 0
        for command in ["dump scr DIR/dumps/v.elf --memory-only", "dump scr DIR/dumps/v.elf --format elf",
                        "dump scr DIR/dumps/v.elf --live --reset", "dump scr DIR/dumps/v.elf --memory-only --format bogus"] {
            let line = command.replacingOccurrences(of: "DIR", with: ours.dir)
            // virsh 9.0 may hang on an option error of dump (its job watch misses the end): bounded.
            guard let v = try? ours.virsh(args: line.split(separator: " ").map(String.init), timeout: 20) else { continue }
            let s = try ours.virsh(args: line.split(separator: " ").map(String.init), client: TestPaths.vsh)
            #expect(s.stdout == v.stdout && s.stderr == v.stderr && s.status == v.status,
                    "vsh '\(command)': \(s.stdout) \(s.stderr) \(s.status) | virsh \(v.stdout) \(v.stderr) \(v.status)")
            compared += 1
        }
        #expect(compared >= 2, "virsh hung on \(4 - compared) of 4 dump commands")

        // Not memory only: QEMU's migration stream ("QEVM"); then a reset, and a crash that stops the domain.
        try same("dump scr DIR/dumps/full --live; domstate scr --reason")
        for dir in [ours.dir, ref.dir] {
            let head = FileManager.default.contents(atPath: dir + "/dumps/full")?.prefix(4)
            #expect(head.map { String(decoding: $0, as: UTF8.self) } == "QEVM", "no migration stream in \(dir)")
        }
        try same("dump scr DIR/dumps/r.elf --memory-only --reset; domstate scr --reason")
        try same("dump scr DIR/dumps/c.elf --memory-only --crash; domstate scr --reason; list --all")
        _ = try? ours.virsh("destroy scr")
        _ = try? virsh(ref.uri, "destroy scr")
    }

    /// Two IOThreads, the first pinned to host CPU 0.
    static func iothreadXML(dir: String) -> String {
        """
        <domain type='qemu'><name>iot</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <iothreads>2</iothreads><cputune><iothreadpin iothread='1' cpuset='0'/></cputune>
        <os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(dir)/iot.img'/>\
        <target dev='vda' bus='virtio'/></disk></devices></domain>
        """
    }

    @Test("virsh iothreadinfo (live from QEMU's IOThreads, persistent from the XML): libvirtd's output")
    func iothreadInfoLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        try Self.setUp(dir: ours.dir) { try ours.virsh($0) }
        try Self.setUp(dir: ref.dir) { try virsh(ref.uri, $0) }
        for (dir, run) in [(ours.dir, { (c: String) in try ours.virsh(c) }), (ref.dir, { (c: String) in try virsh(ref.uri, c) })] {
            let image = try QEMUDaemonSupport.makeImage(dir + "/iot.img", owner: (0, 0))
            chmod(image, 0o666)
            try Self.iothreadXML(dir: dir).write(toFile: dir + "/iot.xml", atomically: true, encoding: .utf8)
            #expect(try run("define \(dir)/iot.xml").status == 0)
        }
        func same(_ command: String) throws {
            let o = try ours.virsh(command)
            let r = try virsh(ref.uri, command)
            #expect(o.stdout == r.stdout, "stdout of '\(command)'")
            #expect(o.stderr == r.stderr, "stderr of '\(command)'")
            #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)")
        }
        let commands = ["iothreadinfo iot", "iothreadinfo iot --config", "iothreadinfo iot --live",
                        "iothreadinfo iot --current --live", "iothreadinfo nov", "iothreadinfo nosuch"]
        for command in commands { try same(command) }
        #expect(try ours.virsh("start iot; start nov").status == 0)
        #expect(try virsh(ref.uri, "start iot; start nov").status == 0)
        for command in commands { try same(command) }
        // QEMU runs the two IOThreads, the first on host CPU 0.
        let live = try ours.virsh("iothreadinfo iot").stdout
        #expect(live.contains(" 1             0 ") || live.contains(" 1             0\n"), "\(live)")
        #expect(live.contains(" 2 "), "\(live)")
        for command in commands {
            let words = command.split(separator: " ").map(String.init)
            let v = try ours.virsh(args: words)
            let s = try ours.virsh(args: words, client: TestPaths.vsh)
            #expect(s.stdout == v.stdout && s.stderr == v.stderr && s.status == v.status,
                    "vsh '\(command)': \(s.stdout) \(s.stderr) | virsh \(v.stdout) \(v.stderr)")
        }
        _ = try? ours.virsh("destroy iot; destroy nov")
        _ = try? virsh(ref.uri, "destroy iot; destroy nov")
    }

    @Test("virsh setvcpus --config and --maximum --config, vcpucount, and their refusals: libvirtd's output")
    func setvcpusConfigLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        try Self.setUp(dir: ours.dir) { try ours.virsh($0) }
        try Self.setUp(dir: ref.dir) { try virsh(ref.uri, $0) }
        func vcpuLines(_ xml: String) -> [String] {
            xml.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0.hasPrefix("<vcpu") || $0.hasPrefix("</vcpus") || $0.hasPrefix("<topology") }
        }
        func same(_ command: String) throws {
            let o = try ours.virsh(command)
            let r = try virsh(ref.uri, command)
            #expect(o.stdout == r.stdout, "stdout of '\(command)'")
            #expect(o.stderr == r.stderr, "stderr of '\(command)'")
            #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)")
            let ox = vcpuLines(try ours.virsh("dumpxml nov --inactive").stdout)
            let rx = vcpuLines(try virsh(ref.uri, "dumpxml nov --inactive").stdout)
            #expect(ox == rx, "after '\(command)': virtd \(ox) libvirtd \(rx)")
        }
        let shutOff = [
            "setvcpus nov 2 --config", "setvcpus nov 4 --maximum --config", "vcpucount nov",
            "setvcpus nov 3 --config", "vcpucount nov", "setvcpus nov 5 --config", "setvcpus nov 2",
            "setvcpus nov 1 --maximum --config", "vcpucount nov", "setvcpus nov 0 --config",
            "setvcpus nov 2 --maximum", "setvcpus nov 2 --live", "setvcpus nov 2 --guest --config",
            "setvcpus nov 3 --maximum --config", "setvcpus nov 2 --config --current",
        ]
        for command in shutOff { try same(command) }
        #expect(try ours.virsh("start nov").status == 0)
        #expect(try virsh(ref.uri, "start nov").status == 0)
        let running = [
            "vcpucount nov", "setvcpus nov 4 --maximum --config --live", "setvcpus nov 5 --live",
            "setvcpus nov 4 --config", "setvcpus nov 2 --config", "vcpucount nov", "vcpucount nov --config",
            "setvcpus nov 6 --maximum --config", "vcpucount nov --maximum --config", "vcpucount nov --live",
        ]
        for command in running { try same(command) }
        for command in shutOff + running where !command.contains("--live") && !command.hasPrefix("setvcpus nov 2 --guest") {
            let words = command.split(separator: " ").map(String.init)
            let v = try ours.virsh(args: words)
            let s = try ours.virsh(args: words, client: TestPaths.vsh)
            #expect(s.stdout == v.stdout && s.stderr == v.stderr && s.status == v.status,
                    "vsh '\(command)': \(s.stdout) \(s.stderr) | virsh \(v.stdout) \(v.stderr)")
        }
        _ = try? ours.virsh("destroy nov")
        _ = try? virsh(ref.uri, "destroy nov")
    }

    @Test("virsh setvcpus --live: vCPUs hot-plugged into QEMU, an unplug QEMU refuses without a guest OS, as libvirtd")
    func vcpuHotplugLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        for (dir, run) in [(ours.dir, { (c: String) in try ours.virsh(c) }), (ref.dir, { (c: String) in try virsh(ref.uri, c) })] {
            let image = try QEMUDaemonSupport.makeImage(dir + "/hot.img", owner: (0, 0))
            chmod(image, 0o666)
            let xml = """
                <domain type='qemu'><name>hot</name><memory unit='MiB'>128</memory><vcpu current='1'>3</vcpu>
                <os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
                <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(dir)/hot.img'/>\
                <target dev='vda' bus='virtio'/></disk></devices></domain>
                """
            try xml.write(toFile: dir + "/hot.xml", atomically: true, encoding: .utf8)
            #expect(try run("define \(dir)/hot.xml; start hot").status == 0)
        }
        func same(_ command: String) throws {
            let o = try ours.virsh(command)
            let r = try virsh(ref.uri, command)
            #expect(o.stdout == r.stdout, "stdout of '\(command)'")
            #expect(o.stderr == r.stderr, "stderr of '\(command)'")
            #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)")
        }
        /// The vCPUs QEMU runs.
        func qemuCPUs(_ run: (String) throws -> ChildProcess.Result) throws -> Int {
            let out = try run("qemu-monitor-command hot '{\"execute\":\"query-cpus-fast\"}'").stdout
            let obj = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
            return (obj?["return"] as? [Any])?.count ?? -1
        }
        for command in ["vcpucount hot", "setvcpus hot 4 --live", "setvcpus hot 3 --live", "vcpucount hot",
                        "vcpucount hot --live"] {
            try same(command)
        }
        #expect(try qemuCPUs { try ours.virsh($0) } == 3)
        #expect(try qemuCPUs { try virsh(ref.uri, $0) } == 3)
        // Without a guest OS, QEMU's i440fx stays on legacy CPU hotplug, which cannot unplug: QEMU's refusal.
        try same("setvcpus hot 2 --live")
        try same("vcpucount hot --live")
        try same("setvcpus hot 1 --live --config")
        try same("vcpucount hot")
        // vsh prints what virsh prints.
        for command in ["vcpucount hot", "setvcpus hot 4 --live"] {
            let words = command.split(separator: " ").map(String.init)
            let v = try ours.virsh(args: words)
            let s = try ours.virsh(args: words, client: TestPaths.vsh)
            #expect(s.stdout == v.stdout && s.stderr == v.stderr && s.status == v.status,
                    "vsh '\(command)': \(s.stdout) \(s.stderr) | virsh \(v.stdout) \(v.stderr)")
        }
        _ = try? ours.virsh("destroy hot")
        _ = try? virsh(ref.uri, "destroy hot")
    }

    @Test("the test guest sees a vCPU hot-plugged with virsh setvcpus --live and unplugged again, its thread pinned and in its own cgroup: as libvirtd")
    func guestSeesHotpluggedVcpu() throws {
        let guest = try TestGuest.load()
        // Placing QEMUs in cgroups, as libvirtd does here.
        let ours = try RestartableVirtd(config: """
            cgroup_controllers = [ "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio" ]

            """)
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        /// What one daemon shows: the unplug's outcome and the counts and thread set-up along the way.
        func session(uri: String, dir: String, qemuPIDs: () -> [Int32]) throws -> [String] {
            let virsh = { (c: String) in try VirtRPCTests.virsh(uri, c) }
            let xml = """
                <domain type='qemu'><name>gv</name><memory unit='MiB'>128</memory><vcpu current='1'>2</vcpu>
                <os><type arch='x86_64' machine='pc'>hvm</type><kernel>\(guest.kernel)</kernel>\
                <initrd>\(guest.initrd)</initrd><cmdline>\(guest.cmdline)</cmdline></os>
                <cputune><vcpupin vcpu='1' cpuset='0'/></cputune>
                <features><acpi/></features><devices><serial type='pty'/><console type='pty'/></devices></domain>
                """
            try xml.write(toFile: dir + "/gv.xml", atomically: true, encoding: .utf8)
            var seen: [String] = []
            #expect(try virsh("define \(dir)/gv.xml; start gv").status == 0)
            defer { _ = try? virsh("destroy gv; undefine gv") }
            #expect(try GuestConsole.answers(uri: uri, name: "gv", dir: dir), "the guest never answered")
            // The shell echoes the command with "$(…)" unexpanded; only the answer has the CPU list between the marks.
            let present = "echo SVP-$(cat /sys/devices/system/cpu/present)-END"
            #expect(try GuestConsole.run(uri: uri, name: "gv", command: present, expect: "SVP-0-END", dir: dir))
            let r = try virsh("setvcpus gv 2 --live; vcpucount gv --live")
            seen.append("plug: \(r.status) \(r.stdout) \(r.stderr)")
            #expect(try GuestConsole.run(uri: uri, name: "gv", command: present, expect: "SVP-0-1-END", dir: dir),
                    "the guest did not see the new vCPU")
            // The new vCPU's thread as libvirt's qemuProcessSetupVcpu sets it up: its <vcpupin>, its own cgroup.
            let qemu = try #require(qemuPIDs().first)
            let cpus = try virsh("qemu-monitor-command gv '{\"execute\":\"query-cpus-fast\"}'").stdout
            let list = (try JSONSerialization.jsonObject(with: Data(cpus.utf8)) as? [String: Any])?["return"] as? [[String: Any]]
            let tid = try #require(list?.first { $0["cpu-index"] as? Int == 1 }?["thread-id"] as? Int)
            let status = (try? String(contentsOfFile: "/proc/\(qemu)/task/\(tid)/status", encoding: .utf8)) ?? ""
            seen += status.split(separator: "\n").filter { $0.hasPrefix("Cpus_allowed_list:") }.map(String.init)
            let groups = (try? String(contentsOfFile: "/proc/\(qemu)/task/\(tid)/cgroup", encoding: .utf8)) ?? ""
            // The vCPU's group directories, from the thread's cgroup lines (v1: one per hierarchy, v2: one).
            let vcpu1Dirs = groups.split(separator: "\n").compactMap { line -> String? in
                let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
                guard f.count == 3, f[2].hasSuffix(".libvirt-qemu/vcpu1") else { return nil }
                return f[1].isEmpty ? "/sys/fs/cgroup" + f[2] : "/sys/fs/cgroup/" + f[1] + f[2]
            }
            seen.append("vcpu1 groups: \(vcpu1Dirs.count), present: \(vcpu1Dirs.filter { FileManager.default.fileExists(atPath: $0) }.count)")
            // The guest ejects the (offline) vCPU when asked; under TCG that may take longer than libvirt's five
            // seconds, and then the call reports libvirt's timeout.
            let u = try virsh("setvcpus gv 1 --live")
            let timeout = "error: Timed out during operation: vcpu unplug request timed out. "
                + "Unplug result must be manually inspected in the domain\n"
            #expect(u.status == 0 || u.stderr == timeout, "\(u.stdout) \(u.stderr)")
            #expect(try GuestConsole.run(uri: uri, name: "gv", command: present, expect: "SVP-0-END", dir: dir),
                    "the guest still has the vCPU")
            let after = try virsh("qemu-monitor-command gv '{\"execute\":\"query-cpus-fast\"}'").stdout
            let left = (try JSONSerialization.jsonObject(with: Data(after.utf8)) as? [String: Any])?["return"] as? [Any]
            seen.append("QEMU runs \(left?.count ?? -1) vCPUs; vcpucount --live: \(try virsh("vcpucount gv --live").stdout)")
            return seen
        }
        let mine = try session(uri: ours.uri, dir: ours.dir) { QEMUDaemonSupport.qemuProcesses(under: ours.dir) }
        let theirs = try session(uri: ref.uri, dir: ref.dir) {
            // libvirtd's QEMU: this guest's, not started by virtd (whose QEMUs have their HOME under its dir).
            let mineNow = Set(QEMUDaemonSupport.qemuProcesses(under: ours.dir))
            return ProcFS.qemuProcesses(whose: "cmdline", contains: "guest=gv,").filter { !mineNow.contains($0) }
        }
        #expect(mine == theirs)
        #expect(mine.contains("Cpus_allowed_list:\t0"), "\(mine)")
    }
}
