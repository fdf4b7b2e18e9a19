import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Domain autostart on `qemu:///system`: Debian's virsh marks and unmarks domains through virtd and through
/// libvirtd 9.0 with the same output (`autostart`, `dominfo`, `list --autostart`, the transient refusal,
/// undefine taking the mark along); then virtd, killed and started again, boots the marked shut-off domain by
/// itself and logs libvirt's line for a marked domain that cannot start.
@Suite("QEMU domain autostart: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUAutostartTests {
    static func xml(_ name: String, disk: String? = nil) -> String {
        let d = disk.map { "<disk type='file' device='disk'><source file='\($0)'/><target dev='vda' bus='virtio'/></disk>" } ?? ""
        let uuid = ["as1": "a0000000-0000-4000-8000-000000000001", "as2": "a0000000-0000-4000-8000-000000000002",
                    "tr": "a0000000-0000-4000-8000-000000000003"][name] ?? "a0000000-0000-4000-8000-000000000009"
        return "<domain type='qemu'><name>\(name)</name><uuid>\(uuid)</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            + "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\(d)<memballoon model='none'/></devices></domain>"
    }

    @Test("virsh autostart, dominfo and list --autostart as libvirtd's; virtd boots marked domains when it starts")
    func autostartLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        for dir in [ours.dir, ref.dir] {
            try Self.xml("as1").write(toFile: dir + "/as1.xml", atomically: true, encoding: .utf8)
            try Self.xml("as2").write(toFile: dir + "/as2.xml", atomically: true, encoding: .utf8)
            try Self.xml("tr").write(toFile: dir + "/tr.xml", atomically: true, encoding: .utf8)
        }
        func same(_ command: String) throws {
            var o = try ours.virsh(command.replacingOccurrences(of: "DIR", with: ours.dir))
            var r = try virsh(ref.uri, command.replacingOccurrences(of: "DIR", with: ref.dir))
            o.stdout = o.stdout.replacingOccurrences(of: ours.dir, with: "DIR")
            r.stdout = r.stdout.replacingOccurrences(of: ref.dir, with: "DIR")
            #expect(o.stdout == r.stdout, "stdout of '\(command)':\n virtd    \(o.stdout)\n libvirtd \(r.stdout)")
            #expect(o.stderr == r.stderr, "stderr of '\(command)':\n virtd    \(o.stderr)\n libvirtd \(r.stderr)")
            #expect(o.status == r.status, "status of '\(command)'")
        }
        try same("define DIR/as1.xml; define DIR/as2.xml")
        try same("autostart as1")
        try same("autostart as1")
        try same("list --all --autostart")
        try same("list --all --no-autostart")
        try same("dominfo as1")
        try same("dominfo as2")
        try same("autostart as2; autostart --disable as2; autostart --disable as2")
        try same("list --all --autostart --name")
        try same("create DIR/tr.xml; autostart tr")
        try same("destroy tr")
        try same("autostart nosuch")
        try same("undefine as2")
        try same("list --all --autostart --name")
        #expect(access(ours.dir + "/etc/qemu/autostart/as1.xml", F_OK) == 0, "no autostart link")

        // A marked domain whose disk is gone cannot start: virtd logs it and boots the other one.
        let gone = ours.dir + "/gone.img"
        try Self.xml("bad", disk: gone).write(toFile: ours.dir + "/bad.xml", atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: gone, contents: Data(count: 1 << 20))
        #expect(try ours.virsh("define \(ours.dir)/bad.xml; autostart bad").status == 0)
        unlink(gone)
        ours.kill9()
        try ours.start()
        #expect(eventually(60) { ((try? ours.virsh("domstate as1 --reason").stdout) ?? "").contains("running (booted)") },
                "as1 was not started: \((try? ours.virsh("list --all").stdout) ?? "")")
        #expect(try ours.virsh("domstate bad").stdout.contains("shut off"))
        func log() -> String { (try? String(contentsOfFile: ours.dir + "/virtd.out", encoding: .utf8)) ?? "" }
        #expect(eventually(30) { log().contains("Failed to autostart VM 'bad': Cannot access storage file '\(gone)'") },
                "virtd's log:\n\(log())")
        // A daemon restarted while the domain runs leaves it running (no second start).
        ours.kill9()
        try ours.start()
        #expect(try ours.virsh("domstate as1 --reason").stdout.contains("running (booted)"))
        _ = try? ours.virsh("destroy as1")
        _ = try? virsh(ref.uri, "undefine as1")
    }
}
