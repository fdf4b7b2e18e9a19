import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Devices, live and persistent, on a running TCG test guest (i440fx, ACPI PCI hotplug), through virtd and
/// through Debian's libvirtd 9.0 side by side: Debian's virsh runs the same attach/detach/change-media sequence
/// (virtio and SCSI disks, a user-mode NIC, --live and --config, and bad input) on both; stdout, stderr and
/// status agree, and so do the aliases, targets and addresses of the live and persistent XML, the block node
/// names and PCI slots QEMU reports, and the device and tray events a python3-libvirt recorder sees. vsh
/// prints what virsh prints. A second test watches the guest's console: a hot-plugged virtio disk appears in
/// /sys/block, survives a SIGKILL of virtd, and disappears when detached after the restart.
@Suite("QEMU device hotplug: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUHotplugTests {
    static let mac = "52:54:00:5a:22:01"
    static let mac2 = "52:54:00:5a:22:02"

    /// `memory`: the memory elements (and a `<cpu>` with NUMA cells when DIMMs are wanted).
    static func domainXML(dir: String, cmdline: String, extraDevices: String = "",
                          memory: String = "<memory unit='MiB'>128</memory>") -> String {
        """
        <domain type='qemu'>
          <name>hp</name>
          \(memory)
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type><kernel>\(dir)/vmlinuz</kernel>\
        <initrd>\(dir)/initrd.img</initrd><cmdline>\(cmdline)</cmdline></os>
          <features><acpi/></features>
          <devices>
            <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(dir)/hp.img'/>\
        <target dev='vda' bus='virtio'/></disk>
            <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='hdc' bus='ide'/>\
        <readonly/></disk>
            <interface type='user'><mac address='\(mac)'/><model type='virtio'/></interface>
            <serial type='unix'><source mode='bind' path='\(dir)/ser.sock'/></serial>
            <memballoon model='virtio'/>\(extraDevices)
          </devices>
        </domain>
        """
    }

    /// The guest's files, images and device XML files under `dir`; the domain defined and started with `run`.
    static func setUp(dir: String, guest: TestGuest, extraDevices: String = "",
                      memory: String = "<memory unit='MiB'>128</memory>",
                      _ run: (String) throws -> ChildProcess.Result) throws {
        for (from, to) in [(guest.kernel, "vmlinuz"), (guest.initrd, "initrd.img")] {
            try FileManager.default.copyItem(atPath: from, toPath: dir + "/" + to)
            chmod(dir + "/" + to, 0o644)
        }
        for name in ["hp.img", "d1.img", "d2.img", "d3.img", "d4.img", "cd.iso", "cd2.iso"] {
            let image = try QEMUDaemonSupport.makeImage(dir + "/" + name, owner: (0, 0))
            chmod(image, 0o666)
        }
        let files = [
            "badbus.xml": "<disk type='file' device='disk'><source file='\(dir)/d4.img'/><target dev='vdd' bus='foo'/></disk>",
            "vdz.xml": "<disk type='file' device='disk'><source file='\(dir)/d4.img'/><target dev='vdz' bus='virtio'/></disk>",
            "clash.xml": "<disk type='file' device='disk'><source file='\(dir)/d4.img'/><target dev='vdd' bus='virtio'/>"
                + "<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></disk>",
            "nosrc.xml": "<disk type='file' device='disk'><source file='\(dir)/missing.img'/><target dev='vdd' bus='virtio'/></disk>",
            "nic-missing.xml": "<interface type='user'><mac address='52:54:00:5a:22:09'/></interface>",
            "unknown.xml": "<gizmo/>",
            "cdupdate.xml": "<disk type='file' device='cdrom'><source file='\(dir)/cd2.iso'/><target dev='hdc' bus='ide'/>"
                + "<readonly/></disk>",
            "usbdisk.xml": "<disk type='file' device='disk'><source file='\(dir)/d4.img'/><target dev='sdb' bus='usb'/></disk>",
            "nic.xml": "<interface type='user'><mac address='\(mac2)'/><model type='virtio'/></interface>",
        ]
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        // Devices may name files in the daemon's directory as DIR/.
        let xml = domainXML(dir: dir, cmdline: guest.cmdline,
                            extraDevices: extraDevices.replacingOccurrences(of: "DIR/", with: dir + "/"), memory: memory)
        try xml.write(toFile: dir + "/hp.xml", atomically: true, encoding: .utf8)
        let r = try run("define \(dir)/hp.xml; start hp")
        #expect(r.status == 0, "define/start: \(r.stderr)")
    }

    /// Waits until the guest's kernel has read its disk, i.e. it runs and will answer ACPI hotplug.
    static func waitForGuest(_ run: (String) throws -> ChildProcess.Result) throws -> Bool {
        let read = try eventually(180) {
            let r = try run("domblkstat hp vda")
            guard let line = r.stdout.split(separator: "\n").first(where: { $0.hasPrefix("vda rd_req ") }),
                  let n = Int(line.split(separator: " ").last ?? "") else { return false }
            return n > 0
        }
        // The guest's userspace (and its ACPI hotplug handling) a little after the first reads.
        sleep(8)
        return read
    }

    /// The lines of a domain XML that say which devices exist and where: disk, interface and controller
    /// elements, targets, sources, aliases and addresses.
    static func deviceLines(_ xml: String) -> [String] {
        xml.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { l in
            ["<disk ", "<target dev=", "<source file=", "<alias ", "<address ", "<interface ", "<controller ",
             "<mac "].contains { l.hasPrefix($0) }
        }
    }

    /// QEMU's named block nodes (node-name, sorted) and the PCI slots and ids of its devices.
    static func qemuView(_ run: (String) throws -> ChildProcess.Result) throws -> [String] {
        let nodes = try run("qemu-monitor-command hp '{\"execute\":\"query-named-block-nodes\",\"arguments\":{\"flat\":true}}'")
        var out: [String] = []
        if let obj = try? JSONSerialization.jsonObject(with: Data(nodes.stdout.utf8)) as? [String: Any],
           let list = obj["return"] as? [[String: Any]] {
            out += list.compactMap { $0["node-name"] as? String }.sorted().map { "node \($0)" }
        }
        let pci = try run("qemu-monitor-command hp '{\"execute\":\"query-pci\"}'")
        if let obj = try? JSONSerialization.jsonObject(with: Data(pci.stdout.utf8)) as? [String: Any],
           let buses = obj["return"] as? [[String: Any]] {
            for b in buses {
                for d in (b["devices"] as? [[String: Any]]) ?? [] {
                    out.append("pci \(d["slot"] ?? "")/\(d["function"] ?? "") \(d["qdev_id"] ?? "")")
                }
            }
        }
        return out
    }

    /// Records DEVICE_ADDED, DEVICE_REMOVED, DEVICE_REMOVAL_FAILED and TRAY_CHANGE of every domain, one line
    /// each, until killed.
    static let recorder = #"""
    import libvirt, sys, time
    libvirt.virEventRegisterDefaultImpl()
    c = libvirt.open(sys.argv[1])
    out = open(sys.argv[2], "w", buffering=1)
    def line(*a):
        out.write(" ".join(str(x) for x in a) + "\n")
    c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                             lambda conn, dom, alias, opaque: line("added", dom.name(), alias), None)
    c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                             lambda conn, dom, alias, opaque: line("removed", dom.name(), alias), None)
    c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
                             lambda conn, dom, alias, opaque: line("removal-failed", dom.name(), alias), None)
    c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_TRAY_CHANGE,
                             lambda conn, dom, alias, reason, opaque: line("tray", dom.name(), alias, reason), None)
    c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE,
                             lambda conn, dom, alias, size, opaque: line("mem-size", dom.name(), alias, size), None)
    line("ready")
    while True:
        libvirt.virEventRunDefaultImpl()
    """#

    /// python3-libvirt's device calls on the shut-off domain: results and errors (code, domain, message).
    static let pythonCalls = #"""
    import libvirt, sys, json
    c = libvirt.open(sys.argv[1])
    d = c.lookupByName('hp')
    disk = "<disk type='file' device='disk'><source file='%s/d4.img'/><target dev='vdg' bus='virtio'/></disk>" % sys.argv[2]
    cd = "<disk type='file' device='cdrom'><source file='%s/cd.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>" % sys.argv[2]
    out = []
    for name, call in [
        ('attachFlagsConfig', lambda: d.attachDeviceFlags(disk, libvirt.VIR_DOMAIN_AFFECT_CONFIG)),
        ('attachAgain', lambda: d.attachDeviceFlags(disk, libvirt.VIR_DOMAIN_AFFECT_CONFIG)),
        ('attachLegacy', lambda: d.attachDevice(disk)),
        ('attachLive', lambda: d.attachDeviceFlags(disk, libvirt.VIR_DOMAIN_AFFECT_LIVE)),
        ('attachBadFlags', lambda: d.attachDeviceFlags(disk, 0x100)),
        ('updateConfig', lambda: d.updateDeviceFlags(cd, libvirt.VIR_DOMAIN_AFFECT_CONFIG)),
        ('updateBadFlags', lambda: d.updateDeviceFlags(cd, 0x100)),
        ('detachAliasMissing', lambda: d.detachDeviceAlias('nosuch', libvirt.VIR_DOMAIN_AFFECT_CONFIG)),
        ('detachFlagsConfig', lambda: d.detachDeviceFlags(disk, libvirt.VIR_DOMAIN_AFFECT_CONFIG)),
        ('detachAgain', lambda: d.detachDeviceFlags(disk, libvirt.VIR_DOMAIN_AFFECT_CONFIG)),
        ('detachLegacy', lambda: d.detachDevice(disk)),
        ('badXML', lambda: d.attachDeviceFlags('<disk', libvirt.VIR_DOMAIN_AFFECT_CONFIG)),
    ]:
        try:
            out.append([name, 'ok', call()])
        except libvirt.libvirtError as e:
            out.append([name, e.get_error_code(), e.get_error_domain(), e.get_error_message()])
    print(json.dumps(out).replace(sys.argv[2], 'DIR'))
    """#

    /// The hotplug sequence both daemons run, with what each step compares.
    static func sequence(_ d: String) -> [String] {
        [
            "attach-disk hp \(d)/d1.img vdb --targetbus virtio --live",
            "attach-disk hp \(d)/d1.img vdb --targetbus virtio --live",
            "attach-disk hp \(d)/d2.img sda --targetbus scsi --live",
            "attach-disk hp \(d)/d3.img vdc --targetbus virtio --config",
            "attach-disk hp \(d)/d3.img vdc --targetbus virtio --config",
            "attach-device hp \(d)/nic.xml --live",
            "attach-interface hp user x --live",
            "attach-device hp \(d)/badbus.xml --live",
            "attach-device hp \(d)/unknown.xml --live",
            "attach-device hp \(d)/clash.xml --live",
            "attach-device hp \(d)/nosrc.xml --live",
            "detach-disk hp vdz",
            "detach-device hp \(d)/vdz.xml --live",
            "detach-device hp \(d)/vdz.xml --config",
            "detach-device hp \(d)/nic-missing.xml --live",
            "detach-device-alias hp nosuch --live",
            "domblklist hp --details",
            "domblklist hp --details --inactive",
            "domiflist hp",
            "change-media hp hdc \(d)/cd.iso --insert",
            "change-media hp hdc \(d)/cd.iso --insert",
            "change-media hp hdc \(d)/cd2.iso --update",
            "change-media hp hdc --eject",
            "change-media hp vdz --eject",
            "update-device hp \(d)/cdupdate.xml",
            "attach-disk hp \(d)/d4.img hdd --targetbus ide --live",
            "detach-disk hp hdc --live",
            "attach-device hp \(d)/usbdisk.xml --persistent",
            "attach-device hp \(d)/usbdisk.xml",
            "domblklist hp --details",
            "domblklist hp --details --inactive",
        ]
    }

    static let detachSequence = [
        "detach-device-alias hp usb-disk1 --live",
        "detach-disk hp sdb --config",
        "detach-disk hp vdb --live",
        "detach-disk hp sda --live",
        "detach-interface hp user --mac \(mac2) --live",
        "detach-disk hp vdc --config",
        "domblklist hp --details",
        "domblklist hp --details --inactive",
        "domiflist hp",
    ]

    @Test("virsh attach/detach/change-media on a running TCG guest: libvirtd's output, XML, QEMU nodes and events")
    func hotplugLikeLibvirtd() throws {
        let guest = try TestGuest.load()
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }

        let pair = try HotplugPair(ours: ours, ref: ref, guest: guest)
        defer { pair.stopRecorders() }
        let events = pair.events, same = pair.same
        func compareState(_ label: String) throws {
            try pair.compareState(label, lines: Self.deviceLines, view: Self.qemuView)
        }

        for command in Self.sequence("DIR") { try same(command) }
        try compareState("after attach")
        // Each guest has seen the new virtio disk (its kernel read the partition table) and had a moment for
        // the NIC before it is asked to let them go: a guest that has not yet handled the hot-add may miss the
        // unplug request (a busy machine runs these TCG guests slowly).
        for run in [{ try ours.virsh($0) }, { try virsh(ref.uri, $0) }] as [(String) throws -> ChildProcess.Result] {
            _ = eventually(120) {
                let r = (try? run("domblkstat hp vdb"))?.stdout ?? ""
                guard let line = r.split(separator: "\n").first(where: { $0.hasPrefix("vdb rd_req ") }),
                      let n = Int(line.split(separator: " ").last ?? "") else { return false }
                return n > 0
            }
        }
        sleep(3)
        for command in Self.detachSequence { try same(command) }
        // A detach the guest completes later ends with DEVICE_REMOVED; give both time.
        _ = eventually(90) { events(ours.dir).filter { $0.hasPrefix("removed") }.count >= 3
            && events(ref.dir).filter { $0.hasPrefix("removed") }.count >= 3 }
        try compareState("after detach")
        #expect(events(ours.dir) == events(ref.dir), "events:\n virtd    \(events(ours.dir))\n libvirtd \(events(ref.dir))")
        #expect(events(ours.dir).contains("added hp virtio-disk1"), "\(events(ours.dir))")
        #expect(events(ours.dir).contains("removed hp virtio-disk1"), "\(events(ours.dir))")

        // setmem/setmaxmem: the balloon target of the running guest, the persistent sizes, libvirt's refusals.
        for command in ["setmem hp 100M --live", "setmem hp 512M --live", "setmem hp 100M --config", "setmaxmem hp 64M --live",
                        "setmaxmem hp 120M --config", "setmem hp 0 --live", "setmem hp 110M"] {
            try same(command)
        }
        for flag in ["", " --inactive"] {
            func memory(_ xml: String) -> [String] {
                xml.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { $0.hasPrefix("<memory") || $0.hasPrefix("<currentMemory") }
            }
            func both() throws -> (ours: [String], ref: [String]) {
                (memory(try ours.virsh("dumpxml hp" + flag).stdout), memory(try virsh(ref.uri, "dumpxml hp" + flag).stdout))
            }
            // The live <currentMemory> follows each guest's balloon (BALLOON_CHANGE), which a guest under load
            // reaches late: compared once both agree, or after 60 s.
            _ = eventually(60) { (try? both()).map { $0.ours == $0.ref } ?? false }
            let m = try both()
            #expect(m.ours == m.ref, "memory in dumpxml\(flag): virtd \(m.ours) libvirtd \(m.ref)")
        }

        // vsh prints what virsh prints: each command through vsh and then through virsh from the same state
        // (the undo through the other client in between).
        let d = ours.dir
        let pairs: [(String, String)] = [
            ("attach-disk hp \(d)/d4.img vde --targetbus virtio --config", "detach-disk hp vde --config"),
            ("attach-device hp \(d)/vdz.xml --config", "detach-device hp \(d)/vdz.xml --config"),
            ("attach-device hp \(d)/nic.xml --config", "detach-interface hp user --mac \(Self.mac2) --config"),
            ("change-media hp hdc --eject", "change-media hp hdc \(d)/cd.iso --insert"),
            ("detach-disk hp vdz", "domblklist hp"),
            ("attach-device hp \(d)/badbus.xml", "domiflist hp"),
            ("detach-device-alias hp nosuch", "domblklist hp --inactive"),
            ("attach-disk hp \(d)/d4.img vde --targetbus virtio --print-xml", "attach-interface hp network default --mac \(Self.mac2) --model virtio --print-xml"),
        ]
        for (command, undo) in pairs {
            let s = try ours.virsh(args: Self.words(command), client: TestPaths.vsh)
            let su = try ours.virsh(Self.quoted(undo))
            let v = try ours.virsh(Self.quoted(command))
            let vu = try ours.virsh(args: Self.words(undo), client: TestPaths.vsh)
            #expect(s.stdout == v.stdout && s.stderr == v.stderr && s.status == v.status,
                    "vsh '\(command)': \(s.stdout) \(s.stderr) | virsh \(v.stdout) \(v.stderr)")
            #expect(su.stdout == vu.stdout && su.stderr == vu.stderr && su.status == vu.status,
                    "vsh '\(undo)': \(vu.stdout) \(vu.stderr) | virsh \(su.stdout) \(su.stderr)")
        }
        // Shut off: --live is refused, --config works, the legacy call acts on the running domain only.
        #expect(try ours.virsh("destroy hp").status == 0)
        #expect(try virsh(ref.uri, "destroy hp").status == 0)
        for command in ["attach-disk hp DIR/d4.img vdf --targetbus virtio --live", "attach-disk hp DIR/d4.img vdf --targetbus virtio",
                        "attach-disk hp DIR/d4.img vdf --targetbus virtio --config", "detach-disk hp vdf --live",
                        "detach-device-alias hp virtio-disk0 --live", "change-media hp hdc DIR/cd.iso --insert --live",
                        "domblklist hp --details", "detach-disk hp vdf", "domblklist hp --details"] {
            try same(command)
        }
        try compareState("shut off")

        // python3-libvirt's device calls on the shut-off domain, on both daemons.
        try Self.pythonCalls.write(toFile: ours.dir + "/calls.py", atomically: true, encoding: .utf8)
        let ourPy = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/calls.py", ours.uri, ours.dir], timeLimit: 120)
        let refPy = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/calls.py", ref.uri, ref.dir], timeLimit: 120)
        #expect(ourPy.status == 0 && refPy.status == 0, "\(ourPy.stderr) \(refPy.stderr)")
        #expect(ourPy.stdout == refPy.stdout, "python3-libvirt:\n virtd    \(ourPy.stdout)\n libvirtd \(refPy.stdout)")
        try compareState("after python3-libvirt")
    }

    /// A TCG domain without a guest OS (SeaBIOS finds nothing to boot): nobody answers the ACPI unplug request.
    static func idleXML(dir: String) -> String {
        """
        <domain type='qemu'><name>idle</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(dir)/hp.img'/>\
        <target dev='vda' bus='virtio'/></disk></devices></domain>
        """
    }

    @Test("a detach the guest never completes: libvirt's 5 s wait, success with the removal pending, as libvirtd")
    func pendingRemoval() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        for (dir, run) in [(ours.dir, { (c: String) in try ours.virsh(c) }), (ref.dir, { (c: String) in try virsh(ref.uri, c) })] {
            for name in ["hp.img", "d1.img"] {
                let image = try QEMUDaemonSupport.makeImage(dir + "/" + name, owner: (0, 0))
                chmod(image, 0o666)
            }
            try Self.idleXML(dir: dir).write(toFile: dir + "/idle.xml", atomically: true, encoding: .utf8)
            let r = try run("define \(dir)/idle.xml; start idle")
            #expect(r.status == 0, "\(r.stderr)")
        }
        var elapsed: [Double] = []
        for command in ["attach-disk idle DIR/d1.img vdb --targetbus virtio --live", "detach-disk idle vdb --live",
                        "domblklist idle", "detach-device-alias idle virtio-disk1 --live", "domblklist idle"] {
            let start = Date()
            let o = try ours.virsh(command.replacingOccurrences(of: "DIR", with: ours.dir))
            if command.hasPrefix("detach-disk") { elapsed.append(Date().timeIntervalSince(start)) }
            let r = try virsh(ref.uri, command.replacingOccurrences(of: "DIR", with: ref.dir))
            func clean(_ s: String, _ dir: String) -> String { s.replacingOccurrences(of: dir, with: "DIR") }
            #expect(clean(o.stdout, ours.dir) == clean(r.stdout, ref.dir), "stdout of '\(command)'")
            #expect(clean(o.stderr, ours.dir) == clean(r.stderr, ref.dir), "stderr of '\(command)'")
            #expect(o.status == r.status, "status of '\(command)'")
        }
        // The detach waited for the guest (about 5 s) before it reported success with the disk still there.
        #expect(elapsed.allSatisfy { $0 >= 4.5 }, "\(elapsed)")
        #expect(try ours.virsh("domblklist idle").stdout.contains("vdb"))
        _ = try? ours.virsh("destroy idle")
        _ = try? virsh(ref.uri, "destroy idle")
    }

    static func words(_ command: String) -> [String] { command.split(separator: " ").map(String.init) }
    static func quoted(_ command: String) -> String { command }

    /// Types into the guest's console (a unix socket) and reports what /sys/block holds while virsh attaches or
    /// detaches a disk: `attach` waits for vdb to appear, `detach` for it to go.
    /// The python prelude of the console drivers: connects to the guest's console socket (argv[1]); `run(cmd)`
    /// types a shell command and returns what it printed (None when the guest did not answer in 30 s).
    static let consolePrelude = #"""
    import socket, subprocess, sys, time
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.settimeout(1)
    buf = b""
    def read_for(seconds):
        global buf
        end = time.time() + seconds
        while time.time() < end:
            try:
                d = s.recv(4096)
                if not d:
                    return
                buf += d
            except socket.timeout:
                pass
    def run(cmd):
        global buf
        buf = b""
        s.sendall(b"echo BEGIN-$((1+1)); " + cmd.encode() + b"; echo END-$((2+2))\n")
        end = time.time() + 30
        while time.time() < end and b"END-4" not in buf:
            read_for(1)
        text = buf.decode("utf-8", "replace")
        i, j = text.find("BEGIN-2"), text.find("END-4")
        return text[i + 7:j].strip() if i >= 0 and j > i else None

    """#

    static let consoleDriver = consolePrelude + #"""
    mode, uri, virsh = sys.argv[2], sys.argv[3], sys.argv[4]
    def blocks():
        out = run("ls /sys/block")
        return out.split() if out is not None else None
    s.sendall(b"\n")
    read_for(2)
    before = blocks()
    print("before", before, flush=True)
    if mode == "attach":
        r = subprocess.run([virsh, "-c", uri, "attach-disk", "hp", sys.argv[5], "vdb", "--targetbus", "virtio", "--live"],
                           capture_output=True, text=True)
    else:
        r = subprocess.run([virsh, "-c", uri, "detach-disk", "hp", "vdb", "--live"], capture_output=True, text=True)
    print("virsh", r.returncode, r.stdout.strip(), r.stderr.strip(), flush=True)
    want = mode == "attach"
    end = time.time() + 60
    after = None
    while time.time() < end:
        after = blocks()
        if after is not None and ("vdb" in after) == want:
            break
        time.sleep(1)
    print("after", after, flush=True)
    print("ok" if after is not None and ("vdb" in after) == want and before is not None and ("vdb" in before) != want
          else "FAIL", flush=True)
    """#

    @Test("the guest sees a hot-plugged virtio disk appear, and go after a SIGKILL and restart of virtd")
    func guestSeesDisk() throws {
        let guest = try TestGuest.load()
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        try Self.setUp(dir: ours.dir, guest: guest) { try ours.virsh($0) }
        #expect(try Self.waitForGuest { try ours.virsh($0) }, "the guest never read its disk")
        try Self.consoleDriver.write(toFile: ours.dir + "/console.py", atomically: true, encoding: .utf8)
        func drive(_ mode: String, client: String) throws -> ChildProcess.Result {
            try ChildProcess.run(["/usr/bin/python3", ours.dir + "/console.py", ours.dir + "/ser.sock", mode, ours.uri,
                                  client, ours.dir + "/d1.img"], timeLimit: 180)
        }
        let attach = try drive("attach", client: TestPaths.vsh)
        #expect(attach.stdout.hasSuffix("ok\n"), "\(attach.stdout) \(attach.stderr)")
        #expect(attach.stdout.contains("virsh 0 Disk attached successfully"), "\(attach.stdout)")

        // virtd killed and started again: the live XML still has the disk, with its alias and address.
        let before = Self.deviceLines(try ours.virsh("dumpxml hp").stdout)
        #expect(before.contains("<alias name='virtio-disk1'/>"), "\(before)")
        ours.kill9()
        try ours.start()
        let after = Self.deviceLines(try ours.virsh("dumpxml hp").stdout)
        #expect(after == before, "after restart:\n \(after)\n before \(before)")

        let events = try VirshEventWatcher(uri: ours.uri, dir: ours.dir)
        defer { events.stop() }
        let vshEvents = try VirshEventWatcher(uri: ours.uri, dir: ours.dir, client: TestPaths.vsh)
        defer { vshEvents.stop() }
        let detach = try drive("detach", client: "/usr/bin/virsh")
        #expect(detach.stdout.hasSuffix("ok\n"), "\(detach.stdout) \(detach.stderr)")
        #expect(detach.stdout.contains("virsh 0 Disk detached successfully"), "\(detach.stdout)")
        let media = try ours.virsh("change-media hp hdc \(ours.dir)/cd.iso --insert; change-media hp hdc --eject")
        #expect(media.status == 0, "\(media.stderr)")
        try events.sync()
        try vshEvents.sync()
        #expect(events.text.contains("event 'device-removed' for domain 'hp': virtio-disk1"), "\(events.text)")
        // virsh and vsh print the same device and tray events.
        func deviceEvents(_ text: String) -> [String] {
            text.split(separator: "\n").map(String.init).filter {
                $0.hasPrefix("event 'device-") || $0.hasPrefix("event 'tray-change'")
            }
        }
        #expect(deviceEvents(events.text).contains("event 'tray-change' for domain 'hp' disk ide0-1-0: opened"),
                "\(events.text)")
        #expect(deviceEvents(vshEvents.text) == deviceEvents(events.text),
                "vsh \(deviceEvents(vshEvents.text)) virsh \(deviceEvents(events.text))")
        let gone = try ours.virsh("domblklist hp")
        #expect(!gone.stdout.contains("vdb"), "\(gone.stdout)")
        // QEMU let go of the disk's block nodes.
        let nodes = try Self.qemuView { try ours.virsh($0) }
        #expect(!nodes.contains { $0.hasPrefix("node libvirt-3") }, "\(nodes)")
        _ = try? ours.virsh("destroy hp")
    }
}

/// virtd and libvirtd each running the hotplug test guest `hp` (set up by ``QEMUHotplugTests/setUp``), a
/// python3-libvirt event recorder on each, and one virsh command compared on both (DIR stands for each
/// daemon's directory).
final class HotplugPair {
    let ours: RestartableVirtd
    let ref: StatsReferenceLibvirtd
    private let recorders: [ChildProcess]

    init(ours: RestartableVirtd, ref: StatsReferenceLibvirtd, guest: TestGuest, extraDevices: String = "",
         memory: String = "<memory unit='MiB'>128</memory>") throws {
        self.ours = ours
        self.ref = ref
        try QEMUHotplugTests.setUp(dir: ours.dir, guest: guest, extraDevices: extraDevices, memory: memory) {
            try ours.virsh($0)
        }
        try QEMUHotplugTests.setUp(dir: ref.dir, guest: guest, extraDevices: extraDevices, memory: memory) {
            try virsh(ref.uri, $0)
        }
        try QEMUHotplugTests.recorder.write(toFile: ours.dir + "/rec.py", atomically: true, encoding: .utf8)
        var started: [ChildProcess] = []
        for (uri, dir) in [(ours.uri, ours.dir), (ref.uri, ref.dir)] {
            started.append(try ChildProcess.spawn(["/usr/bin/python3", ours.dir + "/rec.py", uri, dir + "/events.txt"],
                                                  output: .file(dir + "/rec.log")))
        }
        recorders = started
        #expect(eventually(30) { FileManager.default.contents(atPath: ours.dir + "/events.txt")?.isEmpty == false
            && FileManager.default.contents(atPath: ref.dir + "/events.txt")?.isEmpty == false },
                "the event recorders did not start")
        #expect(try QEMUHotplugTests.waitForGuest { try ours.virsh($0) }, "virtd's guest never read its disk")
        #expect(try QEMUHotplugTests.waitForGuest { try virsh(ref.uri, $0) }, "libvirtd's guest never read its disk")
    }

    func stopRecorders() { for r in recorders { r.terminate() } }

    /// The events one recorder wrote, one line each.
    func events(_ dir: String) -> [String] {
        ((try? String(contentsOfFile: dir + "/events.txt", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init).filter { $0 != "ready" }
    }

    /// The live and persistent XML of `hp` on both daemons through `lines` (DIR for each directory), and what
    /// `view` reads from each QEMU, agree.
    func compareState(_ label: String, lines: (String) -> [String],
                      view: ((String) throws -> ChildProcess.Result) throws -> [String]) throws {
        for flag in ["", " --inactive"] {
            let o = lines(try ours.virsh("dumpxml hp" + flag).stdout.replacingOccurrences(of: ours.dir, with: "DIR"))
            let r = lines(try virsh(ref.uri, "dumpxml hp" + flag).stdout.replacingOccurrences(of: ref.dir, with: "DIR"))
            #expect(o == r, "\(label) dumpxml\(flag):\n virtd    \(o)\n libvirtd \(r)")
        }
        let oq = try view { try self.ours.virsh($0) }
        let rq = try view { try virsh(self.ref.uri, $0) }
        #expect(oq == rq, "\(label) QEMU's view:\n virtd    \(oq)\n libvirtd \(rq)")
    }

    /// `command` through Debian's virsh on both daemons: stdout, stderr and status agree.
    func same(_ command: String) throws {
        let o = try ours.virsh(command.replacingOccurrences(of: "DIR", with: ours.dir))
        let r = try virsh(ref.uri, command.replacingOccurrences(of: "DIR", with: ref.dir))
        func clean(_ s: String, _ dir: String) -> String { s.replacingOccurrences(of: dir, with: "DIR") }
        #expect(clean(o.stdout, ours.dir) == clean(r.stdout, ref.dir), "stdout of '\(command)'")
        #expect(clean(o.stderr, ours.dir) == clean(r.stderr, ref.dir), "stderr of '\(command)'")
        #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)")
    }
}
