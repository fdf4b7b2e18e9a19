import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `<rng>` (random, builtin and EGD backends), `<watchdog>`, virtio `<channel>` and `<console>`, and `<serial>` (PCI, USB) devices, live and persistent, on the running TCG test guest of the hotplug tests,
/// through virtd and through Debian's libvirtd 9.0 side by side: the same virsh sequence (attach, the refusals,
/// detach the guest completes) on both; stdout, stderr and status agree, and so do the rng/watchdog lines of
/// the live and persistent XML, the devices QEMU reports on its PCI bus and the events python3-libvirt sees.
@Suite("QEMU rng, watchdog and channel hotplug: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUDeviceKindsHotplugTests {
    static let files = [
        "rng.xml": "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
        "rng2.xml": "<rng model='virtio'><rate bytes='1024' period='2000'/><backend model='builtin'/></rng>",
        // A null character device: QEMU as libvirtd runs it may not create files in the test's directory.
        "rng-egd.xml": "<rng model='virtio'><backend model='egd' type='null'/></rng>",
        "ser-pci.xml": "<serial type='null'><target type='pci-serial'/></serial>",
        "ser-pci-port1.xml": "<serial type='null'><target type='pci-serial' port='1'/></serial>",
        "ser-usb.xml": "<serial type='null'><target type='usb-serial'/></serial>",
        "ser-usb-port2.xml": "<serial type='null'><target type='usb-serial' port='2'/></serial>",
        "ser-isa.xml": "<serial type='null'/>",
        "ser-usb-port0.xml": "<serial type='null'><target type='usb-serial' port='0'/></serial>",
        "ser-isa-port0.xml": "<serial type='null'><target type='isa-serial' port='0'/></serial>",
        "con-serial.xml": "<console type='pty'><target type='serial' port='0'/></console>",
        // A domain without serial ports and consoles (SeaBIOS with nothing to boot; its USB controller is
        // libvirt's default one).
        "nc.xml": "<domain type='qemu'><name>nc</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            + "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><memballoon model='none'/></devices></domain>",
        "rng-missing.xml": "<rng model='virtio'><backend model='random'>/dev/random</backend></rng>",
        "wd.xml": "<watchdog model='i6300esb' action='poweroff'/>",
        "wd-addr.xml": "<watchdog model='i6300esb' action='poweroff'>"
            + "<address type='pci' domain='0x0000' bus='0x00' slot='0x08' function='0x0'/></watchdog>",
        "wd-other.xml": "<watchdog model='i6300esb' action='reset'/>",
        "wd-ib.xml": "<watchdog model='ib700' action='reset'/>",
        "ch-unix.xml": "<channel type='unix'><source mode='bind' path='DIR/ch1.sock'/>"
            + "<target type='virtio' name='org.example.one'/></channel>",
        "vser.xml": "<controller type='virtio-serial' index='1'/>",
        "ch-pty.xml": "<channel type='pty'><target type='virtio' name='org.example.two'/></channel>",
        "ch-missing.xml": "<channel type='pty'><target type='virtio' name='org.example.nope'/></channel>",
        "con-virtio.xml": "<console type='null'><target type='virtio'/></console>",
        "con-virtio-port1.xml": "<console type='null'><target type='virtio' port='1'/></console>",
        "con-virtio-pty.xml": "<console type='pty'><target type='virtio'/></console>",
    ]

    static let attach = [
        "attach-device hp DIR/rng.xml --live",
        "attach-device hp DIR/rng2.xml --live --config",
        "attach-device hp DIR/wd.xml --live",
        "attach-device hp DIR/wd.xml --live",
        "attach-device hp DIR/wd-ib.xml --config",
        "attach-device hp DIR/wd-ib.xml --config",
        // After the watchdog, which keeps the PCI slot wd-addr.xml names.
        "attach-device hp DIR/rng-egd.xml --live",
        // libvirt 9.0 hot-plugs no virtio-serial controller; the domain was started with one.
        "attach-device hp DIR/vser.xml --live",
        "attach-device hp DIR/ch-unix.xml --live",
        "attach-device hp DIR/ch-unix.xml --live",
        "attach-device hp DIR/ch-pty.xml --live --config",
        "attach-device hp DIR/ch-pty.xml --config",
        // Virtio consoles (virtconsole on the virtio-serial bus), live and persistent, and the same one again.
        "attach-device hp DIR/con-virtio.xml --live --config",
        "attach-device hp DIR/con-virtio-port1.xml --live",
        "attach-device hp DIR/con-virtio-pty.xml --live",
        // Serial ports last (their PCI slot after the others'): PCI, USB (also persistent), ISA (not hot-pluggable).
        "attach-device hp DIR/ser-pci.xml --live",
        "attach-device hp DIR/ser-usb.xml --live --config",
        "attach-device hp DIR/ser-isa.xml --live",
    ]

    static let detach = [
        "detach-device hp DIR/rng-missing.xml --live",
        "detach-device hp DIR/rng-missing.xml --config",
        "detach-device hp DIR/wd-other.xml --live",
        "detach-device hp DIR/rng.xml --live",
        "detach-device hp DIR/rng2.xml --config",
        "detach-device hp DIR/rng-egd.xml --live",
        // libvirt 9.0 matches a watchdog with its address as given: without one it is "not present".
        "detach-device hp DIR/wd.xml --live",
        "detach-device hp DIR/wd-addr.xml --live",
        "detach-device hp DIR/wd-addr.xml --live",
        "detach-device hp DIR/wd-ib.xml --config",
        "detach-device hp DIR/wd-ib.xml --config",
        "attach-device hp DIR/wd-ib.xml --live",
        "detach-device hp DIR/ch-missing.xml --live",
        "detach-device hp DIR/ch-missing.xml --config",
        "detach-device hp DIR/ch-unix.xml --live",
        "detach-device hp DIR/ch-pty.xml --config",
        // A pty channel named without the path it got does not match (libvirt 9.0 compares the source).
        "detach-device hp DIR/ch-pty.xml --live",
        // A console named without its port does not match; with it, it goes from both definitions.
        "detach-device hp DIR/con-virtio.xml --live",
        "detach-device hp DIR/con-virtio.xml --config",
        "detach-device hp DIR/con-virtio-port1.xml --live --config",
        "detach-device hp DIR/con-virtio-port1.xml --config",
        // Named without its port a serial port does not match; with it, it goes.
        "detach-device hp DIR/ser-pci.xml --live",
        "detach-device hp DIR/ser-pci-port1.xml --live",
        "detach-device hp DIR/ser-usb-port2.xml --config",
        "detach-device hp DIR/ser-usb-port2.xml --config",
        "detach-device hp DIR/ser-usb-port2.xml --live",
    ]

    /// The rng and watchdog lines of a domain XML with their aliases and addresses.
    static func lines(_ xml: String) -> [String] {
        var out: [String] = []
        var inside = false
        for raw in xml.split(separator: "\n") {
            let l = raw.trimmingCharacters(in: .whitespaces)
            if l.hasPrefix("<rng") || l.hasPrefix("<watchdog") || l.hasPrefix("<channel") || l.hasPrefix("<serial")
                || l.hasPrefix("<console") {
                inside = true
            }
            if l.hasPrefix("<controller type='virtio-serial'") { out.append(l) }
            if inside {
                out.append(l.replacingOccurrences(of: "/dev/pts/[0-9]+", with: "/dev/pts/N", options: .regularExpression))
            }
            if l.hasPrefix("</rng") || l.hasPrefix("</watchdog") || l.hasPrefix("</channel") || l.hasPrefix("</serial")
                || l.hasPrefix("</console") || (l.hasPrefix("<watchdog") && l.hasSuffix("/>")) {
                inside = false
            }
        }
        return out
    }

    /// The first serial port of a domain without any, live (USB) and persistent (ISA): its console copy comes
    /// with it and goes with it (libvirt's qemuDomainChrPreInsert and qemuDomainChrRemove).
    static let consoleCopy: [(command: String, compare: Bool)] = [
        ("define DIR/nc.xml", false), ("start nc", true),
        // A console on the serial port cannot be attached, nor detached once the copy is there (each in
        // libvirt's words: live attach, persistent attach, persistent detach and live detach differ).
        ("attach-device nc DIR/con-serial.xml --live", false), ("attach-device nc DIR/con-serial.xml --config", false),
        ("attach-device nc DIR/ser-usb.xml --live --config", true),
        ("detach-device nc DIR/con-serial.xml --config", false), ("detach-device nc DIR/con-serial.xml --live", false),
        ("detach-device nc DIR/ser-usb-port0.xml --live --config", true),
        ("attach-device nc DIR/ser-isa.xml --config", true),
        ("attach-device nc DIR/ser-usb.xml --config", true),
        ("detach-device nc DIR/ser-isa-port0.xml --config", true),
        // Two USB ports on the UHCI: the third USB serial port finds none (libvirt adds no hub on hot-plug).
        ("attach-device nc DIR/ser-usb.xml --live", false), ("attach-device nc DIR/ser-usb.xml --live", false),
        ("attach-device nc DIR/ser-usb.xml --live", true),
        ("destroy nc", false), ("undefine nc", false),
    ]

    /// The serial and console elements of a domain XML.
    static func consoleLines(_ xml: String) -> [String] {
        var out: [String] = []
        var inside = false
        for raw in xml.split(separator: "\n") {
            let l = raw.trimmingCharacters(in: .whitespaces)
            if l.hasPrefix("<serial") || l.hasPrefix("<console") { inside = true }
            if inside { out.append(l) }
            if l.hasPrefix("</serial") || l.hasPrefix("</console") { inside = false }
        }
        return out
    }

    /// The ids of QEMU's PCI devices and its QOM objects named obj*.
    static func qemuView(_ run: (String) throws -> ChildProcess.Result) throws -> [String] {
        var out: [String] = []
        let pci = try run("qemu-monitor-command hp '{\"execute\":\"query-pci\"}'")
        if let obj = try? JSONSerialization.jsonObject(with: Data(pci.stdout.utf8)) as? [String: Any],
           let buses = obj["return"] as? [[String: Any]] {
            for b in buses {
                for d in (b["devices"] as? [[String: Any]]) ?? [] {
                    out.append("pci \(d["slot"] ?? "")/\(d["function"] ?? "") \(d["qdev_id"] ?? "")")
                }
            }
        }
        let chardevs = try run("qemu-monitor-command hp '{\"execute\":\"query-chardev\"}'")
        if let obj = try? JSONSerialization.jsonObject(with: Data(chardevs.stdout.utf8)) as? [String: Any],
           let list = obj["return"] as? [[String: Any]] {
            out += list.compactMap { $0["label"] as? String }.filter { $0.hasPrefix("charchannel") || $0.hasPrefix("charrng") || $0.hasPrefix("charserial")
                || $0.hasPrefix("charconsole") }.sorted()
                .map { "chardev \($0)" }
        }
        let objs = try run("qemu-monitor-command hp '{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/objects\"}}'")
        if let obj = try? JSONSerialization.jsonObject(with: Data(objs.stdout.utf8)) as? [String: Any],
           let list = obj["return"] as? [[String: Any]] {
            out += list.compactMap { $0["name"] as? String }.filter { $0.hasPrefix("obj") }.sorted().map { "object \($0)" }
        }
        return out
    }

    @Test("virsh attach-device/detach-device of rng, watchdog and channel on a running TCG guest: libvirtd's output, XML, QEMU and events")
    func rngAndWatchdogLikeLibvirtd() throws {
        let guest = try TestGuest.load()
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        let pair = try HotplugPair(ours: ours, ref: ref, guest: guest,
                                   extraDevices: "<controller type='virtio-serial' index='0'/>")
        defer { pair.stopRecorders() }
        let events = pair.events, same = pair.same
        for dir in [ours.dir, ref.dir] {
            for (name, text) in Self.files {
                try text.replacingOccurrences(of: "DIR", with: dir).write(toFile: dir + "/" + name, atomically: true,
                                                                         encoding: .utf8)
            }
        }
        func compareState(_ label: String) throws {
            try pair.compareState(label, lines: Self.lines, view: Self.qemuView)
        }
        for command in Self.attach { try same(command) }
        try compareState("after attach")
        #expect(Self.lines(try ours.virsh("dumpxml hp").stdout).contains("<alias name='rng0'/>"))
        sleep(3)
        for command in Self.detach { try same(command) }
        // rng0, the EGD rng2, channel0, watchdog0 and the serial ports go (PCI ones when the guest has let them go).
        // Each daemon's removals come when its guest lets the devices go, in the order the guest handles them (the
        // watchdog's driver unbinds at its own pace), so the removals are compared as sets once both have them all
        // (or after 120 s); the additions in order.
        func inOrder(_ dir: String) -> [String] {
            let e = events(dir)
            return e.filter { !$0.hasPrefix("removed") } + e.filter { $0.hasPrefix("removed") }.sorted()
        }
        _ = eventually(120) { events(ours.dir).filter { $0.hasPrefix("removed") }.count >= 7
            && inOrder(ours.dir) == inOrder(ref.dir) }
        try compareState("after detach")
        #expect(inOrder(ours.dir) == inOrder(ref.dir), "events:\n virtd    \(events(ours.dir))\n libvirtd \(events(ref.dir))")
        #expect(events(ours.dir).contains("added hp rng0"), "\(events(ours.dir))")
        #expect(events(ours.dir).contains("removed hp rng2"), "\(events(ours.dir))")
        #expect(events(ours.dir).contains("added hp serial1") && events(ours.dir).contains("removed hp serial2"),
                "\(events(ours.dir))")
        #expect(events(ours.dir).contains("removed hp watchdog0"), "\(events(ours.dir))")
        #expect(events(ours.dir).contains("added hp console1") && events(ours.dir).contains("removed hp console2"),
                "\(events(ours.dir))")

        // The console copy of a first serial port, on a second domain of each daemon.
        var seen: [[String]] = []
        for (command, compare) in Self.consoleCopy {
            try same(command)
            guard compare else { continue }
            for flag in ["", " --inactive"] {
                let o = Self.consoleLines(try ours.virsh("dumpxml nc" + flag).stdout)
                let r = Self.consoleLines(try virsh(ref.uri, "dumpxml nc" + flag).stdout)
                #expect(o == r, "after \(command), dumpxml\(flag):\n virtd    \(o)\n libvirtd \(r)")
                seen.append(o)
            }
        }
        // After the live and persistent attach: a console in both definitions; after the detach, none.
        #expect(seen.count >= 12 && seen[2].contains("<target type='serial' port='0'/>")
                && seen[3].contains("<target type='serial' port='0'/>") && !seen[4].contains { $0.hasPrefix("<console") },
                "\(seen)")
        _ = try? ours.virsh("destroy nc")
        _ = try? virsh(ref.uri, "destroy nc")
        _ = try? ours.virsh("destroy hp")
        _ = try? virsh(ref.uri, "destroy hp")
    }
}
