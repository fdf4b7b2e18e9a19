import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// screenshot and send-key on running TCG domains without a guest OS (SeaBIOS waits at its boot menu prompt),
/// through virtd and through Debian's libvirtd 9.0 side by side: Debian's virsh runs the same commands, good and
/// bad, on both; stdout, stderr and status agree. Both screenshots are PNG images (libvirt 9.0 asks QEMU 7.2 for
/// PNG) with the same header (size, depth, colour type),
/// and a key sent with send-key reaches the guest: the ESC key opens SeaBIOS's boot menu, so the screen taken
/// after it differs from the one before. vsh prints what virsh prints.
@Suite("QEMU screenshot and send-key: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
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
}
