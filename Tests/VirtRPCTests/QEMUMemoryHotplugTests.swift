import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// DIMM memory devices, at start and hot-plugged, on the running TCG test guest of the hotplug tests (one NUMA
/// cell, `<maxMemory slots='4'>`, one DIMM from the start), through virtd and Debian's libvirtd 9.0 side by
/// side: the same virsh sequence (attach, libvirt's refusals, config changes, detach) with the same output;
/// the memory lines of the live and persistent XML, dominfo's memory figures, QEMU's memory devices and
/// objects, and the events python3-libvirt sees all agree. A second test shows the guest itself gets the memory.
@Suite("QEMU memory (DIMM) hotplug: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUMemoryHotplugTests {
    static let memoryXML = "<maxMemory slots='4' unit='MiB'>1024</maxMemory><memory unit='MiB'>384</memory>"
        + "<cpu><numa><cell id='0' cpus='0' memory='256' unit='MiB'/></numa></cpu>"
    static let bootDIMM = "<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>"

    static let files = [
        "dimm.xml": bootDIMM,
        "dimm-odd.xml": "<memory model='dimm'><target><size unit='KiB'>130049</size><node>0</node></target></memory>",
        "dimm-nonode.xml": "<memory model='dimm'><target><size unit='MiB'>128</size></target></memory>",
        "dimm-big.xml": "<memory model='dimm'><target><size unit='MiB'>1024</size><node>0</node></target></memory>",
        "dimm-badslot.xml": "<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target>"
            + "<address type='dimm' slot='7'/></memory>",
        "dimm-missing.xml": "<memory model='dimm'><target><size unit='MiB'>64</size><node>0</node></target></memory>",
        "dimm-slot1.xml": "<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target>"
            + "<address type='dimm' slot='1'/></memory>",
        "dimm-256.xml": "<memory model='dimm'><target><size unit='MiB'>256</size><node>0</node></target></memory>",
    ]

    static let commands = [
        "attach-device hp DIR/dimm-256.xml --live",
        "attach-device hp DIR/dimm-nonode.xml --live",
        "attach-device hp DIR/dimm-big.xml --live",
        "attach-device hp DIR/dimm-badslot.xml --live",
        "attach-device hp DIR/dimm-odd.xml --live --config",
        "attach-device hp DIR/dimm.xml --live",
        // All four slots taken.
        "attach-device hp DIR/dimm.xml --live",
        "detach-device hp DIR/dimm-missing.xml --live",
        "detach-device hp DIR/dimm-missing.xml --config",
        "detach-device hp DIR/dimm-odd.xml --config",
        "detach-device hp DIR/dimm-odd.xml --config",
        // Without the base address QEMU gave it, the address does not match (libvirt compares it whole).
        "detach-device hp DIR/dimm-slot1.xml --live",
        // The hot-added DIMM in slot 1, by its size (the guest has not onlined it: it lets it go).
        "detach-device hp DIR/dimm-256.xml --live",
    ]

    /// The memory lines of a domain XML: the sizes, and each memory device with its target, alias and address.
    static func lines(_ xml: String) -> [String] {
        var out: [String] = []
        var inside = false
        for raw in xml.split(separator: "\n") {
            let l = raw.trimmingCharacters(in: .whitespaces)
            if l.hasPrefix("<maxMemory") || l.hasPrefix("<memory unit") || l.hasPrefix("<currentMemory")
                || l.hasPrefix("<cell ") { out.append(l) }
            if l.hasPrefix("<memory model") { inside = true }
            if inside { out.append(l) }
            if l.hasPrefix("</memory>") { inside = false }
        }
        return out
    }

    /// QEMU's memory devices (id, slot, address, size, node) and its memory backend objects.
    static func qemuView(_ run: (String) throws -> ChildProcess.Result) throws -> [String] {
        var out: [String] = []
        let devs = try run("qemu-monitor-command hp '{\"execute\":\"query-memory-devices\"}'")
        if let obj = try? JSONSerialization.jsonObject(with: Data(devs.stdout.utf8)) as? [String: Any],
           let list = obj["return"] as? [[String: Any]] {
            for d in list {
                let data = d["data"] as? [String: Any] ?? [:]
                out.append("\(d["type"] ?? "") \(data["id"] ?? "") slot \(data["slot"] ?? "") addr \(data["addr"] ?? "") "
                    + "size \(data["size"] ?? "") node \(data["node"] ?? "")")
            }
        }
        let objs = try run("qemu-monitor-command hp '{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/objects\"}}'")
        if let obj = try? JSONSerialization.jsonObject(with: Data(objs.stdout.utf8)) as? [String: Any],
           let list = obj["return"] as? [[String: Any]] {
            out += list.compactMap { $0["name"] as? String }.filter { $0.hasPrefix("mem") || $0.hasPrefix("ram") }
                .sorted().map { "object \($0)" }
        }
        return out
    }

    /// dominfo's memory lines.
    static func memoryInfo(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.hasPrefix("Max memory") || $0.hasPrefix("Used memory") }
    }

    @Test("virsh attach-device/detach-device of DIMMs on a running TCG guest: libvirtd's output, XML, dominfo, QEMU and events")
    func dimmsLikeLibvirtd() throws {
        let guest = try TestGuest.load()
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        let pair = try HotplugPair(ours: ours, ref: ref, guest: guest, extraDevices: Self.bootDIMM,
                                   memory: Self.memoryXML)
        defer { pair.stopRecorders() }
        let events = pair.events, same = pair.same
        for dir in [ours.dir, ref.dir] {
            for (name, text) in Self.files {
                try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            }
        }
        func compareState(_ label: String) throws {
            try pair.compareState(label, lines: Self.lines, view: Self.qemuView)
            let o = Self.memoryInfo(try ours.virsh("dominfo hp").stdout)
            let r = Self.memoryInfo(try virsh(ref.uri, "dominfo hp").stdout)
            #expect(o == r, "\(label) dominfo:\n virtd    \(o)\n libvirtd \(r)")
        }
        try compareState("after start")
        // The boot DIMM has its base address from QEMU in the live XML.
        #expect(Self.lines(try ours.virsh("dumpxml hp").stdout).contains { $0.hasPrefix("<address type='dimm' slot='0' base='0x") })
        for command in Self.commands.prefix(7) { try same(command) }
        try compareState("after attach")
        // Each guest first handles the insertion of every hot-plugged DIMM (its ACPI _OST: source 1, insert), so
        // that the eject does not reach a guest still busy with it. virtd's guest must; libvirtd's is waited for
        // (its guest was seen not to report the insertions, and then not to release the DIMM, see below).
        for (label, run) in [("virtd", { (c: String) in try ours.virsh(c) }), ("libvirtd", { try virsh(ref.uri, $0) })] {
            let inserted = eventually(label == "virtd" ? 240 : 60) {
                let r = (try? run("qemu-monitor-command hp '{\"execute\":\"query-acpi-ospm-status\"}'"))?.stdout ?? ""
                guard let obj = try? JSONSerialization.jsonObject(with: Data(r.utf8)) as? [String: Any],
                      let list = obj["return"] as? [[String: Any]] else { return false }
                let hotplugged = list.filter { ($0["device"] as? String).map { $0 != "dimm0" } ?? false }
                return hotplugged.count >= 3 && hotplugged.allSatisfy { ($0["source"] as? Int) == 1 }
            }
            if label == "virtd" { #expect(inserted, "\(label): the guest did not handle the DIMM insertions") }
        }
        #expect(Self.lines(try ours.virsh("dumpxml hp").stdout).contains("<alias name='dimm3'/>"))
        for command in Self.commands.dropFirst(7) { try same(command) }
        // A TCG guest under CI load can take minutes to release a DIMM (libvirtd's did not within 30 s once).
        _ = eventually(240) { events(ours.dir).contains { $0.hasPrefix("removed") } }
        _ = eventually(60) { events(ref.dir).contains { $0.hasPrefix("removed") } }
        // libvirtd's TCG guest sometimes never releases the DIMM (CI, and once here with only two tests running; ours
        // did each time): then the comparison after the detach is a known, intermittent difference of the guest.
        func compareAfterDetach() throws {
            try compareState("after detach")
            #expect(events(ours.dir) == events(ref.dir), "events:\n virtd    \(events(ours.dir))\n libvirtd \(events(ref.dir))")
        }
        if events(ref.dir).contains(where: { $0.hasPrefix("removed") }) {
            try compareAfterDetach()
        } else {
            withKnownIssue("libvirtd's guest did not release the DIMM", isIntermittent: true) { try compareAfterDetach() }
        }
        #expect(events(ours.dir).contains("removed hp dimm1"), "\(events(ours.dir))")
        _ = try? ours.virsh("destroy hp")
        _ = try? virsh(ref.uri, "destroy hp")
    }

    /// Types into the guest's console: counts its memory blocks, waits for the hot-plugged ones, onlines them
    /// (movable) and reads MemTotal (256 MiB more), then detaches: the guest's kernel offlines and ejects them,
    /// and the blocks go.
    /// The console prelude with the guest's memory blocks, its MemTotal and a wait for the blocks to change.
    static let memoryConsolePrelude = QEMUHotplugTests.consolePrelude + #"""
    def blocks():
        out = run("ls /sys/devices/system/memory")
        return sorted(x for x in (out or "").split() if x.startswith("memory"))
    def memtotal():
        out = run("grep MemTotal /proc/meminfo") or ""
        parts = out.split()
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    def wait_blocks(pred):
        end = time.time() + 120
        while time.time() < end:
            b = blocks()
            if pred(b):
                return b
            time.sleep(1)
        return blocks()

    """#

    static let consoleDriver = memoryConsolePrelude + #"""
    uri, virsh, dimm = sys.argv[2], sys.argv[3], sys.argv[4]
    s.sendall(b"\n")
    read_for(2)
    before = blocks()
    total_before = memtotal()
    print("blocks before", len(before), "memtotal", total_before, flush=True)
    r = subprocess.run([virsh, "-c", uri, "attach-device", "hp", dimm, "--live"], capture_output=True, text=True)
    print("attach", r.returncode, r.stdout.strip(), r.stderr.strip(), flush=True)
    after = wait_blocks(lambda b: len(b) > len(before))
    new = [b for b in after if b not in before]
    print("new blocks", new, flush=True)
    for b in new:
        run("echo online_movable > /sys/devices/system/memory/%s/state" % b)
    total_after = memtotal()
    print("memtotal after online", total_after, flush=True)
    r = subprocess.run([virsh, "-c", uri, "detach-device", "hp", dimm, "--live"], capture_output=True, text=True)
    print("detach", r.returncode, r.stdout.strip(), r.stderr.strip(), flush=True)
    gone = wait_blocks(lambda b: len(b) == len(before))
    ok = len(new) > 0 and total_after - total_before >= 250 * 1024 and len(gone) == len(before)
    print("ok" if ok else "FAIL", flush=True)
    """#

    @Test("the guest sees a hot-plugged DIMM: new memory blocks, MemTotal grows once they are online; the unplug takes them away")
    func guestSeesDIMM() throws {
        let guest = try TestGuest.load()
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        try QEMUHotplugTests.setUp(dir: ours.dir, guest: guest, extraDevices: Self.bootDIMM, memory: Self.memoryXML) {
            try ours.virsh($0)
        }
        #expect(try QEMUHotplugTests.waitForGuest { try ours.virsh($0) }, "the guest never read its disk")
        try Self.consoleDriver.write(toFile: ours.dir + "/console.py", atomically: true, encoding: .utf8)
        try (Self.files["dimm-256.xml"] ?? "").write(toFile: ours.dir + "/dimm-256.xml", atomically: true,
                                                       encoding: .utf8)
        let events = try VirshEventWatcher(uri: ours.uri, dir: ours.dir)
        defer { events.stop() }
        let r = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/console.py", ours.dir + "/ser.sock", ours.uri,
                                      "/usr/bin/virsh", ours.dir + "/dimm-256.xml"], timeLimit: 300)
        #expect(r.stdout.hasSuffix("ok\n"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("attach 0 Device attached successfully"), "\(r.stdout)")
        try events.sync()
        #expect(events.text.contains("event 'device-added' for domain 'hp': memdimm1"), "\(events.text)")
        #expect(events.text.contains("event 'device-removed' for domain 'hp': dimm1"), "\(events.text)")
        let xml = try ours.virsh("dumpxml hp").stdout
        #expect(!xml.contains("<alias name='dimm1'/>"), "\(Self.lines(xml))")
        _ = try? ours.virsh("destroy hp")
    }
}
