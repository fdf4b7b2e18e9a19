import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The guest agent and balloon commands against the real thing: the TCG test guest runs Debian's qemu-ga and
/// the virtio_balloon driver, and has an ext4 disk mounted on /mnt. The same definition runs under virtd and
/// under Debian's libvirtd 9.0; Debian's virsh runs domifaddr --source agent, domtime, domfsinfo, guestinfo,
/// domfsfreeze/domfsthaw, set-user-password, qemu-agent-command, dommemstat and setmem on both and the outputs
/// agree (times masked). Each value is checked against what the guest itself prints on its console (`ip addr`,
/// `date +%s`, /proc/mounts, /etc/shadow, /proc/meminfo). libvirt's errors for an agent that is not configured,
/// not connected, or a domain that is not running, the same way. vsh prints what virsh prints.
@Suite("guest agent and balloon: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUGuestAgentProofTests {
    static let mac = "52:54:00:5a:33:01"
    static let agentChannel = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"

    /// One daemon of a guest test: its label, directory, URI and Debian's virsh on it.
    typealias GuestDaemon = (label: String, dir: String, uri: String, run: (String) throws -> ChildProcess.Result)

    /// virtd and libvirtd 9.0, in that order, each driven by Debian's virsh.
    static func daemons(_ ours: RestartableVirtd, _ ref: StatsReferenceLibvirtd) -> [GuestDaemon] {
        [("virtd", ours.dir, ours.uri, { try ours.virsh($0) }), ("libvirtd", ref.dir, ref.uri, { try virsh(ref.uri, $0) })]
    }

    /// `clock`: a `<clock>` element, or nothing (libvirt's default, UTC); `devices`: more devices.
    static func domainXML(dir: String, cmdline: String, clock: String = "", devices: String = "") -> String {
        """
        <domain type='qemu'>
          <name>ga</name>
          <memory unit='MiB'>256</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type><kernel>\(dir)/vmlinuz</kernel>\
        <initrd>\(dir)/initrd.img</initrd><cmdline>\(cmdline)</cmdline></os>
          <features><acpi/></features>\(clock)
          <devices>
            <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(dir)/fs.img'/>\
        <target dev='vda' bus='virtio'/><serial>swiftvirt-fs</serial></disk>
            <interface type='user'><mac address='\(mac)'/><model type='virtio'/></interface>
            <serial type='pty'/>
            <console type='pty'/>
            \(agentChannel)
            <memballoon model='virtio'/>\(devices)
          </devices>
        </domain>
        """
    }

    /// SeaBIOS with nothing to boot: running, but no agent ever answers (with `channel`) or none configured.
    /// Its serial log under `dir` puts `dir` on QEMU's command line, where the daemons' cleanup finds it.
    static func idleXML(name: String, channel: Bool, dir: String) -> String {
        """
        <domain type='qemu'><name>\(name)</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\(channel ? agentChannel : "")\
        <serial type='file'><source path='\(dir)/\(name).log'/></serial><memballoon model='none'/></devices></domain>
        """
    }

    /// Copies the guest, makes the ext4 image, defines and starts `ga` with `run`.
    static func setUp(dir: String, guest: TestGuest, clock: String = "", devices: String = "",
                      _ run: (String) throws -> ChildProcess.Result) throws {
        for (from, to) in [(guest.kernel, "vmlinuz"), (guest.initrd, "initrd.img")] {
            try FileManager.default.copyItem(atPath: from, toPath: dir + "/" + to)
            chmod(dir + "/" + to, 0o644)
        }
        let image = dir + "/fs.img"
        #expect(FileManager.default.createFile(atPath: image, contents: nil))
        #expect(truncate(image, 32 << 20) == 0)
        let mkfs = try ChildProcess.run(["/sbin/mkfs.ext4", "-q", "-F", image], timeLimit: 60)
        #expect(mkfs.status == 0, "mkfs.ext4: \(mkfs.stderr)")
        chmod(image, 0o666)
        try domainXML(dir: dir, cmdline: guest.cmdline, clock: clock, devices: devices)
            .write(toFile: dir + "/ga.xml", atomically: true, encoding: .utf8)
        for (name, channel) in [("idle", false), ("idlech", true)] {
            try idleXML(name: name, channel: channel, dir: dir).write(toFile: dir + "/\(name).xml", atomically: true, encoding: .utf8)
        }
        let r = try run("define \(dir)/ga.xml; define \(dir)/idle.xml; define \(dir)/idlech.xml; start ga")
        #expect(r.status == 0, "define/start: \(r.stderr)")
    }

    /// Types `command` on the console of `name` and returns what it printed (between two markers the shell
    /// computes, so the echo of the command line never matches).
    static let consoleScript = #"""
    import libvirt, random, sys, threading, time
    uri, name, command = sys.argv[1:4]
    libvirt.virEventRegisterDefaultImpl()
    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()
    conn = libvirt.open(uri)
    dom = conn.lookupByName(name)
    st = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
    dom.openConsole(None, st, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
    n = random.randint(1000, 9999)
    begin, end = ("SV-BEGIN-%d" % (n + 1)).encode(), ("SV-END-%d" % (n + 2)).encode()
    line = "echo SV-BEGIN-$((%d + 1)); %s; echo SV-END-$((%d + 2))\n" % (n, command, n)
    buf = b""
    deadline = time.time() + 150
    sent = 0
    while time.time() < deadline:
        if time.time() >= sent + 10 and begin not in buf:
            st.send(line.encode())
            sent = time.time()
        try:
            data = st.recv(65536)
        except libvirt.libvirtError:
            data = None
        if data == -2 or data is None:
            time.sleep(0.05)
            continue
        if data == b"" or data == 0:
            break
        buf += data
        i = buf.find(begin)
        if i >= 0 and buf.find(end, i) > 0:
            j = buf.find(end, i)
            sys.stdout.write(buf[i + len(begin):j].decode("utf-8", "replace").replace("\r", ""))
            break
    try:
        st.abort()
    except libvirt.libvirtError:
        pass
    """#

    /// python3-libvirt's agent calls on `ga`: results (the time masked) and errors (code, domain, message).
    static let pythonCalls = #"""
    import libvirt, libvirt_qemu, sys, json
    libvirt.registerErrorHandler(lambda a, b: None, None)
    c = libvirt.open(sys.argv[1])
    d = c.lookupByName('ga')
    out = []
    def typed(params):
        return sorted([k, type(v).__name__, v if 'used-bytes' not in k else 'N'] for k, v in params.items())
    for name, call in [
        ('interfaceAddresses agent', lambda: d.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT)),
        ('interfaceAddresses lease', lambda: d.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE)),
        ('interfaceAddresses 7', lambda: d.interfaceAddresses(7)),
        ('interfaceAddresses flags', lambda: d.interfaceAddresses(1, 4)),
        ('getTime', lambda: sorted(d.getTime().keys())),
        ('getTime flags', lambda: d.getTime(1)),
        ('setTime sync', lambda: d.setTime(flags=libvirt.VIR_DOMAIN_TIME_SYNC)),
        ('setTime flags', lambda: d.setTime({'seconds': 1800000000}, 2)),
        ('fsInfo', lambda: d.fsInfo()),
        ('guestInfo all', lambda: typed(d.guestInfo())),
        ('guestInfo os+disks', lambda: typed(d.guestInfo(libvirt.VIR_DOMAIN_GUEST_INFO_OS | libvirt.VIR_DOMAIN_GUEST_INFO_DISKS))),
        ('fsFreeze list', lambda: d.fsFreeze(['/mnt'])),
        ('fsThaw', lambda: d.fsThaw()),
        ('fsThaw list', lambda: d.fsThaw(['/mnt'])),
        ('setUserPassword', lambda: d.setUserPassword('root', 'pw', 0)),
        ('setUserPassword flags', lambda: d.setUserPassword('root', 'pw', 8)),
        ('agentCommand', lambda: libvirt_qemu.qemuAgentCommand(d, '{"execute":"guest-get-host-name"}', -1, 0)),
        ('agentCommand osinfo', lambda: libvirt_qemu.qemuAgentCommand(d, '{"execute":"guest-get-osinfo"}', 10, 0)),
        ('agentCommand -3', lambda: libvirt_qemu.qemuAgentCommand(d, '{"execute":"guest-ping"}', -3, 0)),
        ('agentCommand flags', lambda: libvirt_qemu.qemuAgentCommand(d, '{"execute":"guest-ping"}', -1, 1)),
        ('fsTrim', lambda: d.fSTrim(None, 0, 0)),
        ('fsTrim flags', lambda: d.fSTrim(None, 0, 1)),
        ('sshkeys set', lambda: d.authorizedSSHKeysSet('root', ['ssh-ed25519 AAAAC3Nz py@test'], 0)),
        ('sshkeys get', lambda: d.authorizedSSHKeysGet('root', 0)),
        ('sshkeys append+remove', lambda: d.authorizedSSHKeysSet('root', ['x'], 3)),
        ('sshkeys flags', lambda: d.authorizedSSHKeysGet('root', 4)),
    ]:
        try:
            out.append([name, 'ok', call()])
        except libvirt.libvirtError as e:
            out.append([name, e.get_error_code(), e.get_error_domain(), e.get_error_message()])
    print(json.dumps(out, indent=1, sort_keys=True))
    """#

    static func console(_ uri: String, _ dir: String, _ command: String) throws -> String {
        let script = dir + "/console-capture.py"
        if access(script, F_OK) != 0 { try consoleScript.write(toFile: script, atomically: true, encoding: .utf8) }
        let r = try ChildProcess.run(["/usr/bin/python3", script, uri, "ga", command], timeLimit: 200)
        return r.stdout
    }

    /// Replaces the numbers after `Time: ` (domtime) with N.
    static func maskTime(_ s: String) -> String {
        s.replacingOccurrences(of: #"Time: [0-9-]+ [0-9:]+"#, with: "Time: T", options: .regularExpression)
            .replacingOccurrences(of: #"Time: [0-9]+"#, with: "Time: N", options: .regularExpression)
    }

    /// The `key : value` lines of guestinfo as a dictionary.
    static func guestInfo(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let r = line.range(of: ": ") else { continue }
            out[line[..<r.lowerBound].trimmingCharacters(in: .whitespaces)] = String(line[r.upperBound...])
        }
        return out
    }

    /// MemTotal of /proc/meminfo, in kB.
    static func memTotal(_ text: String) -> Int? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }) else { return nil }
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }

    @Test("agent commands and the balloon through virsh: libvirtd's output, and what the guest says itself")
    func agentLikeLibvirtd() throws {
        let guest = try TestGuest.load(format: 5)
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        let daemons = Self.daemons(ours, ref)
        for d in daemons { try Self.setUp(dir: d.dir, guest: guest, d.run) }
        // The agent answers once the guest's userspace runs.
        for d in daemons {
            #expect(eventually(240) { ((try? d.run("domtime ga"))?.status ?? 1) == 0 }, "\(d.label): the agent never answered")
        }
        // eth0's link-local IPv6 address comes a little after the link: both guests have settled once it shows.
        for d in daemons {
            #expect(eventually(60) { ((try? d.run("domifaddr ga --source agent"))?.stdout ?? "").contains("fe80::") },
                    "\(d.label): no link-local address on eth0")
        }

        func same(_ command: String, mask: (String) -> String = { $0 }) throws {
            let o = try ours.virsh(command.replacingOccurrences(of: "DIR", with: ours.dir))
            let r = try virsh(ref.uri, command.replacingOccurrences(of: "DIR", with: ref.dir))
            func clean(_ s: String, _ dir: String) -> String { mask(s.replacingOccurrences(of: dir, with: "DIR")) }
            #expect(clean(o.stdout, ours.dir) == clean(r.stdout, ref.dir),
                    "stdout of '\(command)':\n virtd    \(o.stdout)\n libvirtd \(r.stdout)")
            #expect(clean(o.stderr, ours.dir) == clean(r.stderr, ref.dir),
                    "stderr of '\(command)':\n virtd    \(o.stderr)\n libvirtd \(r.stderr)")
            #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)")
        }
        let usedBytes: (String) -> String = {
            $0.replacingOccurrences(of: #"used-bytes(\s*): [0-9]+"#, with: "used-bytes$1: N", options: .regularExpression)
        }
        for command in ["domifaddr ga --source agent", "domifaddr ga --source agent --full",
                        "domifaddr ga --source agent --interface eth0", "domifaddr ga --source agent --interface nosuch",
                        "domifaddr ga", "domifaddr ga --source bogus", "domfsinfo ga",
                        "guestinfo ga --user --os --timezone --hostname --disk --interface",
                        "qemu-agent-command ga '{\"execute\":\"guest-get-host-name\"}'",
                        "qemu-agent-command ga --pretty '{\"execute\":\"guest-get-host-name\"}'",
                        "qemu-agent-command ga '{\"execute\":\"guest-nosuch\"}'",
                        "qemu-agent-command ga --timeout 0 '{\"execute\":\"guest-ping\"}'",
                        "qemu-agent-command ga --async '{\"execute\":\"guest-ping\"}'",
                        "qemu-agent-command ga --block '{\"execute\":\"guest-ping\"}'",
                        "domfsfreeze ga", "domfsfreeze ga", "domfsthaw ga", "domfsthaw ga",
                        "domfsfreeze ga --mountpoint /mnt", "domfsthaw ga --mountpoint /mnt", "domfsthaw ga",
                        "set-user-password ga nobody secret", "set-user-password ga root secret",
                        "domtime ga --now --sync", "domtime ga --sync"] {
            try same(command)
        }
        try same("guestinfo ga", mask: usedBytes)
        try same("guestinfo ga --filesystem", mask: usedBytes)
        try same("domtime ga", mask: Self.maskTime)
        try same("domtime ga --pretty", mask: Self.maskTime)

        // Authorized SSH keys (the guest's /root/.ssh/authorized_keys, written by its agent) and fstrim.
        for d in daemons {
            try "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyOne one@test\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABFakeKeyTwo two@test\n"
                .write(toFile: d.dir + "/keys", atomically: true, encoding: .utf8)
            try "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyThree three@test"
                .write(toFile: d.dir + "/key3", atomically: true, encoding: .utf8)
        }
        for command in ["get-user-sshkeys ga root", "set-user-sshkeys ga root --reset --file DIR/keys",
                        "get-user-sshkeys ga root", "set-user-sshkeys ga root --file DIR/key3", "get-user-sshkeys ga root",
                        "set-user-sshkeys ga root --remove --file DIR/key3", "get-user-sshkeys ga root",
                        "set-user-sshkeys ga root", "set-user-sshkeys ga root --reset --remove",
                        "set-user-sshkeys ga root --file DIR/nosuch", "get-user-sshkeys ga nobody",
                        "set-user-sshkeys ga nobody --file DIR/key3", "set-user-sshkeys ga root --reset",
                        "get-user-sshkeys ga root", "set-user-sshkeys ga root --file DIR/key3",
                        "domfstrim ga", "domfstrim ga --minimum 4096", "domfstrim ga --mountpoint /mnt",
                        "domfstrim ga --minimum x"] {
            try same(command)
        }
        for d in daemons {
            let file = try Self.console(d.uri, d.dir, "cat /root/.ssh/authorized_keys")
            #expect(file.contains("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyThree three@test"), "\(d.label): \(file)")
            #expect(!file.contains("one@test"), "\(d.label): \(file)")
        }

        // The ARP source: a user-mode NIC has no neighbour entry on the host, so no address. (libvirtd 9.0 fails
        // here with "internal error: wrong nlmsg len" reading the host's table over netlink: not compared.)
        let arp = try ours.virsh("domifaddr ga --source arp")
        #expect(arp.status == 0 && arp.stdout == " Name       MAC address          Protocol     Address\n"
                + String(repeating: "-", count: 79) + "\n\n", "\(arp.stdout) \(arp.stderr)")

        // python3-libvirt: the same results and errors from both daemons.
        try Self.pythonCalls.write(toFile: ours.dir + "/calls.py", atomically: true, encoding: .utf8)
        let ourPy = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/calls.py", ours.uri], timeLimit: 300)
        let refPy = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/calls.py", ref.uri], timeLimit: 300)
        #expect(ourPy.status == 0 && refPy.status == 0, "\(ourPy.stderr) \(refPy.stderr)")
        #expect(ourPy.stdout == refPy.stdout, "python3-libvirt:\n virtd    \(ourPy.stdout)\n libvirtd \(refPy.stdout)")
        #expect(ourPy.stdout.contains("\"swiftvirt-guest\""), "\(ourPy.stdout)")

        // What the guests say themselves.
        for d in daemons {
            // Interfaces and addresses: every address domifaddr lists is on the guest's `ip addr`.
            let ipAddr = try Self.console(d.uri, d.dir, "ip -o addr")
            let ifaddr = try d.run("domifaddr ga --source agent --full").stdout
            var listed: [String] = []
            for line in ifaddr.split(separator: "\n").dropFirst(2) {
                let f = line.split(separator: " ")
                guard f.count == 4 else { continue }
                listed.append("\(f[0]) \(f[2] == "ipv4" ? "inet" : "inet6") \(f[3])")
            }
            let guestAddrs = Set(ipAddr.split(separator: "\n").compactMap { line -> String? in
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                guard f.count >= 4 else { return nil }
                return "\(f[1]) \(f[2]) \(f[3])"
            })
            #expect(listed.contains("eth0 inet 10.0.2.15/24"), "\(d.label): \(ifaddr)")
            #expect(listed.contains("lo inet 127.0.0.1/8"), "\(d.label): \(ifaddr)")
            #expect(!listed.isEmpty && listed.allSatisfy { guestAddrs.contains($0) },
                    "\(d.label): domifaddr \(listed) guest \(guestAddrs)")
            #expect(ifaddr.contains(" eth0       \(Self.mac)    ipv4         10.0.2.15/24"), "\(d.label): \(ifaddr)")

            // File systems: /mnt on vda, ext4, as /proc/mounts says.
            let mounts = try Self.console(d.uri, d.dir, "cat /proc/mounts")
            #expect(mounts.contains("/dev/vda /mnt ext4 "), "\(d.label): \(mounts)")
            let fsinfo = try d.run("domfsinfo ga").stdout
            #expect(fsinfo.contains(" /mnt         vda    ext4   vda"), "\(d.label): \(fsinfo)")

            // Host name, OS and kernel from the guest.
            let uname = try Self.console(d.uri, d.dir, "hostname; uname -r; uname -v")
                .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let info = Self.guestInfo(try d.run("guestinfo ga").stdout)
            #expect(uname.count == 3 && info["hostname"] == uname.first && info["os.kernel-release"] == uname[safe: 1]
                    && info["os.kernel-version"] == uname[safe: 2], "\(d.label): \(uname) \(info)")
            #expect(info["fs.0.mountpoint"] == "/mnt" && info["fs.0.fstype"] == "ext4"
                    && info["fs.0.disk.0.alias"] == "vda", "\(d.label): \(info)")

            // Time: domtime is the guest's clock (read after it, so never earlier), then set and read back.
            let before = Int(try Self.console(d.uri, d.dir, "date +%s").trimmingCharacters(in: .whitespacesAndNewlines))
            let t1 = Int(try d.run("domtime ga").stdout.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(before != nil && t1 != nil && t1! >= before! && t1! - before! < 120, "\(d.label): \(String(describing: before)) \(String(describing: t1))")
            #expect(try d.run("domtime ga --time 1800000000").status == 0)
            let set = Int(try Self.console(d.uri, d.dir, "date +%s").trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(set != nil && set! >= 1_800_000_000 && set! < 1_800_000_000 + 300, "\(d.label): \(String(describing: set))")
            #expect(try d.run("domtime ga --now").status == 0)

            // set-user-password: the guest's /etc/shadow has the new (here already encrypted) password.
            let enc = try d.run(["set-user-password", "ga", "root", "$6$swiftvirt$abcdef", "--encrypted"].map { "'\($0)'" }
                .joined(separator: " "))
            #expect(enc.status == 0 && enc.stdout == "Password set successfully for root in ga\n", "\(d.label): \(enc.stderr)")
            let shadow = try Self.console(d.uri, d.dir, "grep ^root: /etc/shadow")
            #expect(shadow.contains("root:$6$swiftvirt$abcdef:"), "\(d.label): \(shadow)")

            // Frozen and thawed again, the file system takes writes.
            #expect(try d.run("domfsfreeze ga").stdout == "Froze 1 filesystem(s)\n\n")
            #expect(try d.run("domfsthaw ga").stdout == "Thawed 1 filesystem(s)\n\n")
            let wrote = try Self.console(d.uri, d.dir, "echo data >/mnt/f && sync && cat /mnt/f")
            #expect(wrote.contains("data"), "\(d.label): \(wrote)")
        }

        // The balloon: dommemstat's keys as libvirtd's, actual is the full memory, then setmem --live shrinks
        // what the guest sees (MemTotal drops by the balloon's 128 MiB) and actual follows.
        try same("dommemstat ga", mask: { $0.replacingOccurrences(of: #" [0-9]+\n"#, with: " N\n", options: .regularExpression) })
        for d in daemons {
            let stat = try d.run("dommemstat ga").stdout
            #expect(stat.hasPrefix("actual 262144\n"), "\(d.label): \(stat)")
            let info = try Self.console(d.uri, d.dir, "cat /proc/meminfo")
            let avail = stat.split(separator: "\n").first { $0.hasPrefix("available ") }.flatMap { Int($0.split(separator: " ")[1]) }
            // The balloon driver's "available" is the guest's total RAM (read at its last statistics update).
            let total = Self.memTotal(info)
            #expect(avail != nil && total != nil && abs(avail! - total!) <= 1024,
                    "\(d.label): available \(String(describing: avail)) meminfo \(info.prefix(80))")
        }
        let totalBefore = try daemons.map { Self.memTotal(try Self.console($0.uri, $0.dir, "cat /proc/meminfo")) }
        for command in ["setmem ga 128M --live", "setmem ga 512M --live", "setmem ga abc", "setmem ga 200M --current --live"] {
            try same(command)
        }
        for (i, d) in daemons.enumerated() {
            var after: Int?
            #expect(eventually(60) {
                after = Self.memTotal((try? Self.console(d.uri, d.dir, "cat /proc/meminfo")) ?? "")
                guard let a = after, let b = totalBefore[i] else { return false }
                return b - a == 131072
            }, "\(d.label): MemTotal before \(String(describing: totalBefore[i])) after \(String(describing: after))")
            #expect(eventually(30) { ((try? d.run("dommemstat ga").stdout) ?? "").hasPrefix("actual 131072\n") },
                    "\(d.label): \((try? d.run("dommemstat ga").stdout) ?? "")")
            // The live XML follows QEMU's BALLOON_CHANGE events (QEMU sends at most one a second).
            var live = ""
            #expect(eventually(15) {
                live = (try? d.run("dumpxml ga").stdout) ?? ""
                return live.contains("<currentMemory unit='KiB'>131072</currentMemory>")
            },
                    "\(d.label): \(live.split(separator: "\n").filter { $0.contains("emory") })")
        }

        // vsh prints what virsh prints on virtd (times and memory figures masked): each command through vsh
        // and then through virsh from the same state (the undo, if any, through the other client in between).
        let pairs: [(String, String?)] = [
            ("domifaddr ga --source agent", nil), ("domifaddr ga --source agent --full", nil),
            ("domifaddr ga --source agent --interface eth0", nil), ("domfsinfo ga", nil),
            ("guestinfo ga --os --hostname --disk --interface --timezone --user", nil), ("domtime ga", nil),
            ("domtime ga --pretty", nil), ("domfsfreeze ga", "domfsthaw ga"), ("domfsthaw ga --mountpoint /mnt", nil),
            ("qemu-agent-command ga {\"execute\":\"guest-get-host-name\"}", nil),
            ("qemu-agent-command ga --pretty {\"execute\":\"guest-get-host-name\"}", nil),
            ("qemu-agent-command ga --pretty {\"execute\":\"guest-ping\"}", nil),
            ("qemu-agent-command ga --timeout 5 {\"execute\":\"guest-nosuch\"}", nil),
            ("qemu-agent-command ga --async {\"execute\":\"guest-ping\"}", nil),
            ("set-user-password ga root secret", nil), ("set-user-password ga nobody secret", nil),
            ("domifaddr ga --source bogus", nil), ("dommemstat ga", nil), ("setmem ga 512M --live", nil),
            ("setmem ga 160M --live", nil), ("domtime ga --sync", nil),
            ("get-user-sshkeys ga root", nil), ("set-user-sshkeys ga root --reset --file \(ours.dir)/keys", nil),
            ("get-user-sshkeys ga root", nil), ("set-user-sshkeys ga root --file \(ours.dir)/key3", nil),
            ("set-user-sshkeys ga root --remove --file \(ours.dir)/keys", nil), ("get-user-sshkeys ga root", nil),
            ("set-user-sshkeys ga root", nil), ("set-user-sshkeys ga root --reset --remove", nil),
            ("set-user-sshkeys ga root --file \(ours.dir)/nosuch", nil), ("get-user-sshkeys ga nobody", nil),
            ("set-user-sshkeys ga root --reset", nil), ("get-user-sshkeys ga root", nil),
            ("domfstrim ga", nil), ("domfstrim ga --minimum 4096", nil), ("domfstrim ga --mountpoint /mnt", nil),
            ("domfstrim ga --minimum x", nil),
        ]
        let mask: (String) -> String = {
            Self.maskTime($0).replacingOccurrences(
                of: #"(swap_in|swap_out|major_fault|minor_fault|unused|available|usable|last_update|disk_caches|rss|actual) [0-9]+"#,
                with: "$1 N", options: .regularExpression)
        }
        for (command, undo) in pairs {
            let args = command.split(separator: " ").map(String.init)
            let undoArgs = undo.map { $0.split(separator: " ").map(String.init) }
            let s = try ours.virsh(args: args, client: TestPaths.vsh)
            let su = try undoArgs.map { try ours.virsh(args: $0) }
            let v = try ours.virsh(args: args)
            let vu = try undoArgs.map { try ours.virsh(args: $0, client: TestPaths.vsh) }
            #expect(mask(s.stdout) == mask(v.stdout) && s.stderr == v.stderr && s.status == v.status,
                    "vsh '\(command)': \(s.stdout) \(s.stderr) | virsh \(v.stdout) \(v.stderr)")
            if let su, let vu, let undo {
                #expect(su.stdout == vu.stdout && su.stderr == vu.stderr && su.status == vu.status,
                        "vsh '\(undo)': \(vu.stdout) \(vu.stderr) | virsh \(su.stdout) \(su.stderr)")
            }
        }

        // No file system on a disk once /mnt is unmounted: virsh's message for an empty list, from both.
        for d in daemons { _ = try Self.console(d.uri, d.dir, "umount /mnt") }
        try same("domfsinfo ga")
        try same("domfsfreeze ga")
        try same("domfsthaw ga")
        let empty = try ours.virsh(args: ["domfsinfo", "ga"], client: TestPaths.vsh)
        let emptyVirsh = try ours.virsh(args: ["domfsinfo", "ga"])
        #expect(empty.stdout == emptyVirsh.stdout && empty.stderr == emptyVirsh.stderr && empty.status == emptyVirsh.status,
                "vsh \(empty.stdout) \(empty.stderr) | virsh \(emptyVirsh.stdout) \(emptyVirsh.stderr)")

        // Errors: an agent not configured or not connected (running domains), a domain that is not running.
        for d in daemons { _ = try d.run("start idle; start idlech") }
        let agentCommands = ["domifaddr DOM --source agent", "domtime DOM", "domtime DOM --now", "domfsinfo DOM",
                             "guestinfo DOM", "domfsfreeze DOM", "domfsthaw DOM", "set-user-password DOM root x",
                             "qemu-agent-command DOM '{\"execute\":\"guest-ping\"}'", "domfstrim DOM",
                             "get-user-sshkeys DOM root", "set-user-sshkeys DOM root --reset"]
        for name in ["idle", "idlech"] {
            for command in agentCommands { try same(command.replacingOccurrences(of: "DOM", with: name)) }
        }
        #expect(try ours.virsh("domtime idlech").stderr
                == "error: Guest agent is not responding: QEMU guest agent is not connected\n")
        for d in daemons { _ = try d.run("destroy idle; destroy idlech; destroy ga") }
        for name in ["idle", "ga"] {
            for command in agentCommands + ["dommemstat DOM", "setmem DOM 100M --live"] {
                try same(command.replacingOccurrences(of: "DOM", with: name))
            }
        }
    }
}

private extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
