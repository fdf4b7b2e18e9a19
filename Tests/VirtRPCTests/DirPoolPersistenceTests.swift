import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// virtd's storage driver on disk: definitions in DIR/etc/storage (atomic writes, autostart links), live state in
/// DIR/run/storage, and what a restart after kill -9 brings back (running pools stay running, as libvirt's).
@Suite("dir pools: files and restart", .serialized, .tags(.root))
struct DirPoolPersistenceTests {
    @Test("kill -9 and restart: running, autostart, inactive and transient pools come back as libvirt's do")
    func restart() throws {
        let dir = try TestPaths.makeTempDir("dirpool-restart", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func pool(_ name: String, uuid: String) -> String {
            "<pool type='dir'><name>\(name)</name><uuid>\(uuid)</uuid><target><path>\(dir)/\(name)</path>"
                + "<permissions><mode>0750</mode></permissions></target></pool>"
        }
        let defs = ["run": "11111111-aaaa-4444-8888-000000000001", "auto": "11111111-aaaa-4444-8888-000000000002",
                    "idle": "11111111-aaaa-4444-8888-000000000003", "gone": "11111111-aaaa-4444-8888-000000000004"]
        for (n, u) in defs { try pool(n, uuid: u).write(toFile: "\(dir)/\(n).xml", atomically: true, encoding: .utf8) }
        try pool("tr", uuid: "11111111-aaaa-4444-8888-000000000005")
            .write(toFile: "\(dir)/tr.xml", atomically: true, encoding: .utf8)
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        func ok(_ args: [String]) throws {
            let r = try ours.virsh(args: args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
        }
        for n in ["run", "auto", "idle", "gone"] { try ok(["pool-define", "\(dir)/\(n).xml"]) }
        for n in ["run", "auto", "gone"] { try ok(["pool-build", n]) }
        try ok(["pool-start", "run"])
        try ok(["pool-start", "gone"])
        try ok(["pool-autostart", "auto"])
        try ok(["pool-create", "\(dir)/tr.xml", "--build"])
        try ok(["vol-create-as", "run", "v.qcow2", "1M", "--format", "qcow2"])

        // The files libvirt keeps: the config, the autostart link, the live state of running pools.
        let store = ours.dir + "/etc/storage"
        let state = ours.dir + "/run/storage"
        let files = Set((try? FileManager.default.contentsOfDirectory(atPath: store)) ?? [])
        #expect(files == ["run.xml", "auto.xml", "idle.xml", "gone.xml", "autostart"], "\(files)")
        let link = try? FileManager.default.destinationOfSymbolicLink(atPath: store + "/autostart/auto.xml")
        #expect(link == store + "/auto.xml")
        let live = Set((try? FileManager.default.contentsOfDirectory(atPath: state)) ?? [])
        #expect(live == ["run.xml", "gone.xml", "tr.xml"], "\(live)")
        var st = stat()
        #expect(stat(dir + "/run", &st) == 0 && st.st_mode & 0o7777 == 0o750)

        ours.kill9()
        // While the daemon is down, one pool's directory goes away.
        try FileManager.default.removeItem(atPath: dir + "/gone")
        try ours.start()
        let list = try ours.virsh(args: ["pool-list", "--all", "--details"])
        func line(_ name: String) -> String {
            list.stdout.split(separator: "\n").first { $0.split(separator: " ").first.map(String.init) == name }
                .map(String.init) ?? ""
        }
        // Name, State, Autostart, Persistent.
        func columns(_ name: String) -> [String] { line(name).split(separator: " ").map(String.init) }
        #expect(Array(columns("run").prefix(4)) == ["run", "running", "no", "yes"], "\(list.stdout)")
        #expect(Array(columns("auto").prefix(4)) == ["auto", "running", "yes", "yes"], "\(list.stdout)")
        #expect(Array(columns("idle").prefix(4)) == ["idle", "inactive", "no", "yes"], "\(list.stdout)")
        #expect(Array(columns("gone").prefix(4)) == ["gone", "inactive", "no", "yes"], "\(list.stdout)")
        #expect(Array(columns("tr").prefix(4)) == ["tr", "running", "no", "no"], "\(list.stdout)")
        let vols = try ours.virsh(args: ["vol-list", "run"])
        #expect(vols.stdout.contains("v.qcow2"), "\(vols.stdout)")
        let info = try ours.virsh(args: ["vol-info", "--pool", "run", "v.qcow2"])
        #expect(info.stdout.contains("Capacity:       1.00 MiB"), "\(info.stdout)")
        #expect(!((try? FileManager.default.contentsOfDirectory(atPath: state)) ?? []).contains("gone.xml"))

        // Undefine removes the config and the link; a destroyed transient pool is gone.
        try ok(["pool-destroy", "auto"])
        try ok(["pool-undefine", "auto"])
        try ok(["pool-destroy", "tr"])
        #expect(access(store + "/auto.xml", F_OK) != 0 && access(store + "/autostart/auto.xml", F_OK) != 0)
        #expect(access(state + "/tr.xml", F_OK) != 0)
        ours.kill9()
        try ours.start()
        let after = try ours.virsh(args: ["pool-list", "--all", "--name"])
        #expect(Set(after.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }) == ["run", "idle", "gone"], "\(after.stdout)")
    }
}

/// `<disk type='volume'>` in a QEMU domain: the QEMU driver resolves the volume through virtd's storage driver at
/// start, and QEMU opens the volume's file.
@Suite("dir pools: volume disks of QEMU domains", .serialized, .tags(.qemu, .kvm, .root))
struct DirPoolVolumeDiskTests {
    @Test("a domain with raw and qcow2 volume disks starts under KVM; QEMU's argv names the volumes' files")
    func volumeDisks() throws {
        let dir = try TestPaths.makeTempDir("dirpool-disk", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        try "<pool type='dir'><name>vp</name><target><path>\(dir)/vp</path><permissions><mode>0755</mode></permissions></target></pool>"
            .write(toFile: dir + "/pool.xml", atomically: true, encoding: .utf8)
        let domXML = """
            <domain type='kvm'><name>voldisk</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
            <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
            <disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='vp' volume='r.img'/>
            <target dev='vda' bus='virtio'/></disk>
            <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='vp' volume='q.qcow2'/>
            <target dev='vdb' bus='virtio'/></disk>
            </devices></domain>
            """
        try domXML.write(toFile: dir + "/dom.xml", atomically: true, encoding: .utf8)
        func run(_ args: [String]) throws -> ChildProcess.Result { try ours.virsh(args: args) }
        for args in [["pool-define", dir + "/pool.xml"], ["pool-build", "vp"], ["pool-start", "vp"],
                     ["vol-create-as", "vp", "r.img", "4M", "--format", "raw", "--allocation", "0"],
                     ["vol-create-as", "vp", "q.qcow2", "8M", "--format", "qcow2"], ["define", dir + "/dom.xml"]] {
            let r = try run(args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
        }
        // With the pool stopped, the start fails on the volume as libvirt's.
        #expect(try run(["pool-destroy", "vp"]).status == 0)
        let refused = try run(["start", "voldisk"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("storage pool 'vp' containing volume 'r.img' is not active"), "\(refused.stderr)")
        #expect(try run(["pool-start", "vp"]).status == 0)
        let started = try run(["start", "voldisk"])
        #expect(started.status == 0, "\(started.stderr)")
        defer { _ = try? run(["destroy", "voldisk"]) }
        let pid = QEMUDaemonSupport.pidFile(ours.dir, "voldisk") ?? -1
        let argv = (FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")).map {
            String(decoding: $0, as: UTF8.self).split(separator: "\0").map(String.init)
        } ?? []
        #expect(argv.contains { $0.contains("\"filename\":\"\(dir)/vp/r.img\"") }, "\(argv)")
        #expect(argv.contains { $0.contains("\"filename\":\"\(dir)/vp/q.qcow2\"") }, "\(argv)")
        #expect(argv.contains { $0.contains("\"driver\":\"qcow2\"") }, "\(argv)")
        // The live XML keeps the volume source, as libvirt's (with the block node's index, as every live source).
        let live = try run(["dumpxml", "voldisk"]).stdout
        for v in ["r.img", "q.qcow2"] {
            #expect(live.range(of: "<source pool='vp' volume='\(v)' index='[0-9]+'/>", options: .regularExpression) != nil,
                    "\(live)")
        }
        #expect(try run(["domstate", "voldisk"]).stdout.hasPrefix("running"))
        #expect(try run(["destroy", "voldisk"]).status == 0)
    }
}
