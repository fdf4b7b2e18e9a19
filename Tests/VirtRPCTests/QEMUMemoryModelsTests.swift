import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Memory devices beyond plain DIMMs on the running TCG test guest of the hotplug tests, through virtd and
/// Debian's libvirtd 9.0 side by side with Debian's virsh: file-backed DIMMs (`<memoryBacking>` with a file
/// source and shared access, a DIMM's own access and discard), NVDIMMs and virtio-pmem at start and hot-plugged,
/// virtio-mem at start, hot-plugged and resized (the guest's virtio_mem driver plugs the memory; QEMU's
/// MEMORY_DEVICE_SIZE_CHANGE becomes libvirt's event and `<current>`). Each step compares virsh's output, the
/// memory lines of the live and persistent XML, QEMU's memory devices and the type and properties of its
/// memory backend objects, and the events python3-libvirt sees.
@Suite("QEMU memory models (file-backed DIMM, NVDIMM, virtio-pmem, virtio-mem): virtd vs libvirtd 9.0",
       .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUMemoryModelsTests {
    /// One NUMA cell; the guest RAM a shared file in the domain's memory backing directory.
    static let fileBackedMemory = "<maxMemory slots='5' unit='MiB'>2048</maxMemory><memory unit='MiB'>512</memory>"
        + "<memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>"
        + "<cpu><numa><cell id='0' cpus='0' memory='256' unit='MiB'/></numa></cpu>"
    static let fileBackedDevices = "<memory model='dimm' discard='yes'><target><size unit='MiB'>128</size>"
        + "<node>0</node></target></memory>"
        + "<memory model='nvdimm'><source><path>DIR/nv0.img</path></source><target><size unit='MiB'>128</size>"
        + "<node>0</node><label><size unit='KiB'>128</size></label></target></memory>"

    static let fileBackedFiles = [
        "dimm-private.xml": "<memory model='dimm' access='private'><target><size unit='MiB'>128</size>"
            + "<node>0</node></target></memory>",
        "nvdimm1.xml": "<memory model='nvdimm'><source><path>DIR/nv1.img</path><pmem/></source>"
            + "<target><size unit='KiB'>129000</size><node>0</node><readonly/><label><size unit='KiB'>256</size>"
            + "</label></target></memory>",
        "pmem.xml": "<memory model='virtio-pmem'><source><path>DIR/pmem.img</path></source>"
            + "<target><size unit='MiB'>64</size></target></memory>",
        "nvdimm-nopath.xml": "<memory model='nvdimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>",
        "nvdimm-discard.xml": "<memory model='nvdimm' discard='yes'><source><path>DIR/nv2.img</path></source>"
            + "<target><size unit='MiB'>128</size><node>0</node></target></memory>",
        "pmem-node.xml": "<memory model='virtio-pmem'><source><path>DIR/pmem2.img</path></source>"
            + "<target><size unit='MiB'>64</size><node>0</node></target></memory>",
        "nvdimm-missing.xml": "<memory model='nvdimm'><source><path>DIR/missing.img</path></source>"
            + "<target><size unit='MiB'>128</size><node>0</node></target></memory>",
        "pmem-private.xml": "<memory model='virtio-pmem' access='private'><source><path>DIR/pmem2.img</path></source>"
            + "<target><size unit='MiB'>64</size></target></memory>",
    ]

    static let fileBackedCommands = [
        "attach-device hp DIR/nvdimm-nopath.xml --live",
        "attach-device hp DIR/nvdimm-discard.xml --live",
        "attach-device hp DIR/pmem-node.xml --live",
        "attach-device hp DIR/pmem-private.xml --live",
        "attach-device hp DIR/nvdimm-missing.xml --live",
        "attach-device hp DIR/dimm-private.xml --live",
        "attach-device hp DIR/nvdimm1.xml --live",
        "attach-device hp DIR/pmem.xml --live",
        "attach-device hp DIR/pmem.xml --config",
    ]
    static let fileBackedDetach = [
        // libvirt 9.0 asks QEMU, which does not unplug virtio-pmem.
        "detach-device hp DIR/pmem.xml --live",
        "detach-device hp DIR/pmem.xml --config",
        // As libvirt's virDomainMemoryFindByDef, the access mode does not tell DIMMs apart: the boot DIMM of
        // the same size and node goes (the guest has not onlined it: it lets it go).
        "detach-device hp DIR/dimm-private.xml --live",
    ]

    /// One NUMA cell and a virtio-mem device of 256 MiB with nothing requested yet.
    static let virtioMemMemory = "<maxMemory slots='4' unit='MiB'>2048</maxMemory><memory unit='MiB'>512</memory>"
        + "<cpu><numa><cell id='0' cpus='0' memory='256' unit='MiB'/></numa></cpu>"
    static let virtioMemDevices = "<memory model='virtio-mem'><target><size unit='MiB'>256</size><node>0</node>"
        + "<block unit='MiB'>2</block><requested unit='KiB'>0</requested></target></memory>"
    static let virtioMemFiles = [
        "vmem1.xml": "<memory model='virtio-mem'><target><size unit='MiB'>128</size><node>0</node>"
            + "<block unit='MiB'>2</block><requested unit='MiB'>64</requested></target></memory>",
        "vmem-badblock.xml": "<memory model='virtio-mem'><target><size unit='MiB'>128</size><node>0</node>"
            + "<block unit='KiB'>3000</block></target></memory>",
        "vmem-toobig.xml": "<memory model='virtio-mem'><target><size unit='MiB'>128</size><node>0</node>"
            + "<block unit='MiB'>2</block><requested unit='MiB'>256</requested></target></memory>",
        "vmem0-size.xml": "<memory model='virtio-mem'><target><size unit='MiB'>512</size><node>0</node>"
            + "<block unit='MiB'>2</block><requested unit='MiB'>64</requested></target><alias name='virtiomem0'/>"
            + "</memory>",
    ]

    /// The memory lines of a domain XML (those of the DIMM tests: sizes, cells, each memory device with its
    /// source, target, alias and address), then the `<memoryBacking>` element's.
    static func lines(_ xml: String) -> [String] {
        var backing: [String] = []
        var inside = false
        for raw in xml.split(separator: "\n") {
            let l = raw.trimmingCharacters(in: .whitespaces)
            if l.hasPrefix("<memoryBacking") { inside = true }
            if inside { backing.append(l) }
            if l.hasPrefix("</memoryBacking>") { inside = false }
        }
        return QEMUMemoryHotplugTests.lines(xml) + backing
    }

    /// Where each daemon keeps file-backed guest RAM (its memory backing directory, RAMDIR) and the device
    /// files in its own directory (DIR), so that the paths compare.
    static func normalisePath(_ s: String) -> String {
        guard s.hasPrefix("/") else { return s }
        if s.hasPrefix("/var/lib/libvirt/qemu/ram/") {
            return "RAMDIR/" + s.dropFirst("/var/lib/libvirt/qemu/ram/".count)
        }
        if let r = s.range(of: "/lib/qemu/ram/") { return "RAMDIR/" + s[r.upperBound...] }
        return "DIR/" + (s.split(separator: "/").last ?? "")
    }

    /// QEMU's memory devices (all their data) and its memory backend objects with their type and properties.
    static func qemuView(_ run: (String) throws -> ChildProcess.Result) throws -> [String] {
        func qmp(_ cmd: String, _ args: String? = nil) throws -> Any? {
            let body = args.map { "{\"execute\":\"\(cmd)\",\"arguments\":\($0)}" } ?? "{\"execute\":\"\(cmd)\"}"
            let r = try run("qemu-monitor-command hp '\(body)'")
            let obj = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return obj?["return"]
        }
        var out: [String] = []
        for d in (try qmp("query-memory-devices") as? [[String: Any]]) ?? [] {
            let data = d["data"] as? [String: Any] ?? [:]
            out.append("\(d["type"] ?? "") " + data.keys.sorted().map { "\($0)=\(data[$0] ?? "")" }.joined(separator: " "))
        }
        let objects = (try qmp("qom-list", #"{"path":"/objects"}"#) as? [[String: Any]]) ?? []
        for o in objects.sorted(by: { "\($0["name"] ?? "")" < "\($1["name"] ?? "")" }) {
            guard let name = o["name"] as? String, let type = o["type"] as? String,
                  type.contains("memory-backend") else { continue }
            var line = "object \(name) \(type)"
            for prop in ["size", "share", "prealloc", "mem-path", "discard-data", "pmem", "align", "reserve"] {
                let v = try qmp("qom-get", "{\"path\":\"/objects/\(name)\",\"property\":\"\(prop)\"}")
                if let v { line += " \(prop)=\(normalisePath("\(v)"))" }
            }
            out.append(line)
        }
        return out
    }

    static func writeFiles(_ files: [String: String], dirs: [String]) throws {
        for dir in dirs {
            for (name, text) in files {
                try text.replacingOccurrences(of: "DIR", with: dir).write(toFile: dir + "/" + name, atomically: true,
                                                                         encoding: .utf8)
            }
        }
    }

    /// Memory devices at define: libvirt's refusals in its words, and the persistent XML of what it accepts
    /// (sizes in KiB, each model's own source and target children only, virtio-pmem's shared access).
    static let defineCases: [(name: String, devices: String)] = {
        let t = "<target><size unit='MiB'>128</size><node>0</node>"
        return [
            ("nvdimm-nopath", "<memory model='nvdimm'>\(t)</target></memory>"),
            ("nvdimm-label-small", "<memory model='nvdimm'><source><path>/tmp/nv</path></source>\(t)"
                + "<label><size unit='KiB'>64</size></label></target></memory>"),
            ("nvdimm-label-big", "<memory model='nvdimm'><source><path>/tmp/nv</path></source>\(t)"
                + "<label><size unit='MiB'>128</size></label></target></memory>"),
            ("nvdimm-discard", "<memory model='nvdimm' discard='yes'><source><path>/tmp/nv</path></source>\(t)"
                + "</target></memory>"),
            ("nvdimm-nonode", "<memory model='nvdimm'><source><path>/tmp/nv</path></source>"
                + "<target><size unit='MiB'>128</size></target></memory>"),
            ("pmem-node", "<memory model='virtio-pmem'><source><path>/tmp/pm</path></source>\(t)</target></memory>"),
            ("pmem-private", "<memory model='virtio-pmem' access='private'><source><path>/tmp/pm</path></source>"
                + "<target><size unit='MiB'>64</size></target></memory>"),
            ("pmem-nopath", "<memory model='virtio-pmem'><target><size unit='MiB'>64</size></target></memory>"),
            ("vmem-noblock", "<memory model='virtio-mem'>\(t)</target></memory>"),
            ("vmem-block-small", "<memory model='virtio-mem'>\(t)<block unit='KiB'>1024</block></target></memory>"),
            ("vmem-requested", "<memory model='virtio-mem'>\(t)<block unit='MiB'>2</block>"
                + "<requested unit='KiB'>1024</requested></target></memory>"),
            ("vmem-requested-big", "<memory model='virtio-mem'>\(t)<block unit='MiB'>2</block>"
                + "<requested unit='MiB'>256</requested></target></memory>"),
            ("vmem-dimm-address", "<memory model='virtio-mem'>\(t)<block unit='MiB'>2</block></target>"
                + "<address type='dimm' slot='0'/></memory>"),
            ("sgx", "<memory model='sgx-epc'><target><size unit='MiB'>64</size></target></memory>"),
            ("dimm-access", "<memory model='dimm' access='weird'>\(t)</target></memory>"),
            ("dimm-same-slot", "<memory model='dimm'>\(t)</target><address type='dimm' slot='1'/></memory>"
                + "<memory model='nvdimm'><source><path>/tmp/nv</path></source>\(t)</target>"
                + "<address type='dimm' slot='1'/></memory>"),
            ("accepted", "<memory model='dimm' access='shared' discard='no'><source><path>/tmp/ignored</path>"
                + "<pagesize unit='KiB'>4</pagesize></source>\(t)<block unit='MiB'>2</block></target></memory>"
                + "<memory model='nvdimm'><source><path>/tmp/nv</path><alignsize unit='MiB'>2</alignsize><pmem/>"
                + "<nodemask>0</nodemask></source>\(t)<readonly/><label><size unit='MiB'>1</size></label></target></memory>"
                + "<memory model='virtio-pmem'><source><path>/tmp/pm</path></source>"
                + "<target><size unit='GiB'>1</size></target></memory>"
                + "<memory model='virtio-mem'><source><nodemask>0</nodemask></source>\(t)<block unit='MiB'>4</block>"
                + "<requested unit='MiB'>64</requested><current unit='MiB'>8</current></target></memory>"),
        ]
    }()

    @Test("memory devices at define: libvirt's refusals in its words, the persistent XML of the accepted ones")
    func defineLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        for c in Self.defineCases {
            let xml = "<domain type='qemu'><name>m-\(c.name)</name>\(Self.virtioMemMemory)<vcpu>1</vcpu>"
                + "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\(c.devices)</devices></domain>"
            var out: [(String, String, Int32, [String])] = []
            for (dir, run) in [(ours.dir, { try ours.virsh($0) }), (ref.dir, { try virsh(ref.uri, $0) })]
                as [(String, (String) throws -> ChildProcess.Result)] {
                try xml.write(toFile: dir + "/m.xml", atomically: true, encoding: .utf8)
                let r = try run("define \(dir)/m.xml")
                let xmlLines = r.status == 0 ? Self.lines(try run("dumpxml m-\(c.name) --inactive").stdout) : []
                out.append((r.stdout.replacingOccurrences(of: dir, with: "DIR"),
                            r.stderr.replacingOccurrences(of: dir, with: "DIR"), r.status, xmlLines))
                if r.status == 0 { _ = try run("undefine m-\(c.name)") }
            }
            #expect(out[0].1 == out[1].1, "\(c.name): stderr\n virtd    \(out[0].1)\n libvirtd \(out[1].1)")
            #expect(out[0].2 == out[1].2, "\(c.name): status virtd \(out[0].2) libvirtd \(out[1].2)")
            #expect(out[0].3 == out[1].3, "\(c.name): XML\n virtd    \(out[0].3)\n libvirtd \(out[1].3)")
            #expect(c.name == "accepted" ? out[0].2 == 0 : out[0].2 != 0, "\(c.name)")
        }
    }

    @Test("file-backed DIMMs, NVDIMMs and virtio-pmem at start and hot-plugged: libvirtd's output, XML, QEMU objects and events")
    func fileBackedLikeLibvirtd() throws {
        let guest = try TestGuest.load()
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        // The NVDIMM and virtio-pmem files exist before (libvirt refuses a missing one).
        for dir in [ours.dir, ref.dir] {
            for name in ["nv0.img", "nv1.img", "pmem.img"] {
                #expect(FileManager.default.createFile(atPath: dir + "/" + name, contents: nil,
                                                       attributes: [.posixPermissions: 0o666]))
            }
        }
        // Each daemon's domain names its own directory's NVDIMM file (DIR/).
        let devices = Self.fileBackedDevices
        let pair = try HotplugPair(ours: ours, ref: ref, guest: guest, extraDevices: devices,
                                   memory: Self.fileBackedMemory)
        defer { pair.stopRecorders() }
        let events = pair.events, same = pair.same
        try Self.writeFiles(Self.fileBackedFiles, dirs: [ours.dir, ref.dir])
        func compare(_ label: String) throws { try pair.compareState(label, lines: Self.lines, view: Self.qemuView) }
        try compare("after start")
        let view = try Self.qemuView { try ours.virsh($0) }
        // The guest RAM and the DIMM are shared files in the domain's directory; the NVDIMM its own file.
        #expect(view.contains { $0.hasPrefix("object ram-node0 child<memory-backend-file>") && $0.contains("share=1")
            && $0.contains("mem-path=RAMDIR/1-hp/ram-node0") }, "\(view)")
        #expect(view.contains { $0.hasPrefix("object memdimm0 child<memory-backend-file>")
            && $0.contains("discard-data=1") }, "\(view)")
        #expect(view.contains { $0.hasPrefix("object memnvdimm1 child<memory-backend-file>")
            && $0.contains("prealloc=1") && $0.contains("mem-path=DIR/nv0.img") }, "\(view)")
        for command in Self.fileBackedCommands { try same(command) }
        try compare("after attach")
        let afterAttach = try Self.qemuView { try ours.virsh($0) }
        #expect(afterAttach.contains { $0.hasPrefix("virtio-pmem ") }, "\(afterAttach)")
        #expect(afterAttach.contains { $0.hasPrefix("nvdimm ") && $0.contains("id=nvdimm3") }, "\(afterAttach)")
        for command in Self.fileBackedDetach { try same(command) }
        _ = eventually(30) { events(ours.dir).contains { $0.hasPrefix("removed") }
            && events(ref.dir).contains { $0.hasPrefix("removed") } }
        try compare("after detach")
        #expect(events(ours.dir) == events(ref.dir), "events:\n virtd    \(events(ours.dir))\n libvirtd \(events(ref.dir))")
        #expect(events(ours.dir).contains("removed hp dimm0"), "\(events(ours.dir))")
        // virtd killed and started again takes the domain over with its memory devices and backing directory.
        pair.stopRecorders()
        #expect(access(ours.dir + "/lib/qemu/ram/1-hp", F_OK) == 0)
        ours.kill9()
        try ours.start()
        try compare("after a virtd restart")
        _ = try? ours.virsh("destroy hp")
        _ = try? virsh(ref.uri, "destroy hp")
        // The memory backing directory goes with the domain.
        #expect(access(ours.dir + "/lib/qemu/ram/1-hp", F_OK) != 0)
    }

    @Test("virtio-mem at start and hot-plugged, resized with update-memory-device: the guest plugs the memory, <current> and the event as libvirtd's")
    func virtioMemLikeLibvirtd() throws {
        let guest = try TestGuest.load(format: 7)
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        let pair = try HotplugPair(ours: ours, ref: ref, guest: guest, extraDevices: Self.virtioMemDevices,
                                   memory: Self.virtioMemMemory)
        defer { pair.stopRecorders() }
        let events = pair.events, same = pair.same
        try Self.writeFiles(Self.virtioMemFiles, dirs: [ours.dir, ref.dir])
        /// The live <currentMemory> follows each guest's balloon (BALLOON_CHANGE), which a busy guest reports
        /// late after virtio-mem plugs or unplugs: compared once both daemons agree on it, or after 60 s.
        func compare(_ label: String) throws {
            func current(_ xml: String) -> [String] { Self.lines(xml).filter { $0.hasPrefix("<currentMemory") } }
            _ = eventually(60) {
                guard let o = try? ours.virsh("dumpxml hp").stdout, let r = try? virsh(ref.uri, "dumpxml hp").stdout else { return false }
                return current(o) == current(r)
            }
            try pair.compareState(label, lines: Self.lines, view: Self.qemuView)
        }
        /// The size the guest's driver has plugged into a virtio-mem device, from QEMU.
        func plugged(_ run: (String) throws -> ChildProcess.Result, _ id: String) throws -> Int? {
            let r = try run("qemu-monitor-command hp '{\"execute\":\"query-memory-devices\"}'")
            let obj = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            for d in obj?["return"] as? [[String: Any]] ?? [] {
                let data = d["data"] as? [String: Any] ?? [:]
                if data["id"] as? String == id { return data["size"] as? Int }
            }
            return nil
        }
        try compare("after start")
        for command in ["attach-device hp DIR/vmem-badblock.xml --live", "attach-device hp DIR/vmem-toobig.xml --live",
                        "attach-device hp DIR/vmem1.xml --live"] {
            try same(command)
        }
        // The guest plugs what the hot-added device requests.
        for run in [{ try ours.virsh($0) }, { try virsh(ref.uri, $0) }] as [(String) throws -> ChildProcess.Result] {
            let done = try eventually(120) { try plugged(run, "virtiomem1") == 64 << 20 }
            let size = try plugged(run, "virtiomem1") ?? -1
            #expect(done, "the guest did not plug virtiomem1: \(size)")
        }
        try same("update-memory-device hp --alias virtiomem0 --requested-size 128MiB --live")
        for run in [{ try ours.virsh($0) }, { try virsh(ref.uri, $0) }] as [(String) throws -> ChildProcess.Result] {
            let done = try eventually(120) { try plugged(run, "virtiomem0") == 128 << 20 }
            let size = try plugged(run, "virtiomem0") ?? -1
            #expect(done, "the guest did not plug virtiomem0: \(size)")
        }
        _ = eventually(30) {
            events(ours.dir).contains("mem-size hp virtiomem0 131072")
                && events(ref.dir).contains("mem-size hp virtiomem0 131072")
        }
        #expect(events(ours.dir).contains("mem-size hp virtiomem0 131072"), "\(events(ours.dir))")
        try compare("after resize")
        #expect(Self.lines(try ours.virsh("dumpxml hp").stdout).contains("<current unit='KiB'>131072</current>"),
                "events: \(events(ours.dir))")
        // What libvirt refuses: a device it does not find (no address), a requested size that is no multiple
        // of the block; QEMU does not unplug a virtio-mem.
        for command in ["update-device hp DIR/vmem0-size.xml --live", "detach-device hp DIR/vmem1.xml --live",
                        "update-memory-device hp --alias virtiomem0 --requested-size 3MiB --live"] {
            try same(command)
        }
        // The persistent definition's requested size (found by its address), and one without an address.
        for command in ["update-memory-device hp --alias virtiomem0 --requested-size 16MiB --config",
                        "update-device hp DIR/vmem0-size.xml --config"] {
            try same(command)
        }
        // Back down: the guest unplugs.
        try same("update-memory-device hp --alias virtiomem0 --requested-size 32MiB --live")
        for run in [{ try ours.virsh($0) }, { try virsh(ref.uri, $0) }] as [(String) throws -> ChildProcess.Result] {
            _ = try eventually(120) { try plugged(run, "virtiomem0") == 32 << 20 }
        }
        _ = eventually(30) {
            events(ours.dir).contains("mem-size hp virtiomem0 32768") && events(ref.dir).contains("mem-size hp virtiomem0 32768")
        }
        try compare("after shrinking")
        let sizeEvents = { (dir: String) in events(dir).filter { $0.hasPrefix("mem-size hp virtiomem0") }.last }
        #expect(sizeEvents(ours.dir) == sizeEvents(ref.dir), "\(events(ours.dir)) \(events(ref.dir))")
        #expect(events(ours.dir).filter { !$0.hasPrefix("mem-size") } == events(ref.dir).filter { !$0.hasPrefix("mem-size") },
                "events:\n virtd    \(events(ours.dir))\n libvirtd \(events(ref.dir))")
        // virtd killed and started again: the requested and current sizes stay, and the device still resizes.
        pair.stopRecorders()
        ours.kill9()
        try ours.start()
        try compare("after a virtd restart")
        try same("update-memory-device hp --alias virtiomem0 --requested-size 64MiB --live")
        for run in [{ try ours.virsh($0) }, { try virsh(ref.uri, $0) }] as [(String) throws -> ChildProcess.Result] {
            _ = try eventually(120) { try plugged(run, "virtiomem0") == 64 << 20 }
        }
        _ = try eventually(30) {
            Self.lines(try ours.virsh("dumpxml hp").stdout).contains("<current unit='KiB'>65536</current>")
        }
        try compare("after a resize by the restarted virtd")
        _ = try? ours.virsh("destroy hp")
        _ = try? virsh(ref.uri, "destroy hp")
    }

    /// Types into the guest's console: counts its memory blocks and reads MemTotal, asks for 128 MiB more on the
    /// virtio-mem device through virsh, waits for the guest's virtio_mem driver to add the blocks, onlines
    /// them (movable) and reads MemTotal again; then asks for nothing and waits for the blocks to go.
    static let virtioMemConsole = QEMUMemoryHotplugTests.memoryConsolePrelude + #"""
    uri, virsh = sys.argv[2], sys.argv[3]
    def resize(size):
        r = subprocess.run([virsh, "-c", uri, "update-memory-device", "hp", "--alias", "virtiomem0",
                            "--requested-size", size, "--live"], capture_output=True, text=True)
        print("resize", size, r.returncode, r.stderr.strip(), flush=True)
    s.sendall(b"\n")
    read_for(2)
    before = blocks()
    total_before = memtotal()
    print("blocks before", len(before), "memtotal", total_before, flush=True)
    resize("128MiB")
    after = wait_blocks(lambda b: len(b) > len(before))
    new = [b for b in after if b not in before]
    print("new blocks", new, flush=True)
    for b in new:
        run("echo online_movable > /sys/devices/system/memory/%s/state 2>/dev/null" % b)
    total_after = memtotal()
    print("memtotal after online", total_after, flush=True)
    resize("0")
    gone = wait_blocks(lambda b: len(b) == len(before))
    print("blocks after shrinking", len(gone), "memtotal", memtotal(), flush=True)
    ok = len(new) > 0 and total_after - total_before >= 120 * 1024 and len(gone) == len(before)
    print("ok" if ok else "FAIL", flush=True)
    """#

    @Test("the guest sees a virtio-mem resize: its virtio_mem driver adds memory blocks, MemTotal grows once they are online, and they go when the request goes")
    func guestSeesVirtioMemResize() throws {
        let guest = try TestGuest.load(format: 7)
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        try QEMUHotplugTests.setUp(dir: ours.dir, guest: guest, extraDevices: Self.virtioMemDevices,
                                   memory: Self.virtioMemMemory) { try ours.virsh($0) }
        #expect(try QEMUHotplugTests.waitForGuest { try ours.virsh($0) }, "the guest never read its disk")
        try Self.virtioMemConsole.write(toFile: ours.dir + "/console.py", atomically: true, encoding: .utf8)
        let events = try VirshEventWatcher(uri: ours.uri, dir: ours.dir)
        defer { events.stop() }
        let r = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/console.py", ours.dir + "/ser.sock", ours.uri,
                                      "/usr/bin/virsh"], timeLimit: 400)
        #expect(r.stdout.hasSuffix("ok\n"), "\(r.stdout) \(r.stderr)")
        try events.sync()
        // Debian's virsh prints the event as libvirt's MEMORY_DEVICE_SIZE_CHANGE.
        #expect(events.text.contains("event 'memory-device-size-change' for domain 'hp':\nalias: virtiomem0\nsize: 131072"),
                "\(events.text)")
        _ = try? ours.virsh("destroy hp")
    }
}
