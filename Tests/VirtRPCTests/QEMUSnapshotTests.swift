import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Internal snapshots on the QEMU driver, through virtd and through Debian's libvirtd 9.0 side by side: one
/// python3-libvirt script (with its lifecycle events) and Debian's virsh run the same sequence on a TCG domain
/// with a qcow2 disk (SeaBIOS, no guest OS) on each daemon: snapshots of the shut-off and of the running domain,
/// their XML, lists, parents and current one, libvirt's refusals, reverts to running, paused and shut-off
/// snapshots (the disk's data written after a snapshot is gone after the revert: QEMU's own `qemu-io` checks it
/// through the monitor), deletes, HALT, undefine with snapshots, and a raw disk refused. The outputs must be the
/// same, creation times aside (lists are compared sorted: libvirt walks a hash table). The snapshots survive a
/// kill -9 of virtd. Not compared: the `<domain>` inside a snapshot's XML (libvirt stores a migratable copy:
/// implicit controllers after the explicit ones, no DAC label) and a running snapshot's `<cookie>` (the CPU
/// as libvirt's CPU map expands it).
@Suite("QEMU internal snapshots: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUSnapshotTests {
    static let script = #"""
    import libvirt, libvirt_qemu, subprocess, sys, threading, time
    libvirt.virEventRegisterDefaultImpl()
    libvirt.registerErrorHandler(lambda *a: None, None)
    uri, work = sys.argv[1], sys.argv[2]
    disk, raw = work + "/d.qcow2", work + "/r.img"
    XML = f"""<domain type='qemu'><name>sn</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
    <memballoon model='none'/></devices></domain>"""
    c = libvirt.open(uri)
    ev = []
    c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lambda c_, d, e, det, o: ev.append((e, det)), None)
    threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
    def show(what, f):
        try:
            r = f()
            if isinstance(r, str):
                r = "\n".join(l for l in r.replace(work, "W").splitlines() if "creationTime" not in l)
            print(what, "->", r)
        except libvirt.libvirtError as e:
            print(what, "error", e.get_error_code(), e.get_error_domain(), e.get_error_message())
        time.sleep(0.5)
        print("   events", ev, flush=True)
        ev.clear()
    def hmp(dom, cmd):
        return libvirt_qemu.qemuMonitorCommand(dom, cmd, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
    def pattern(dom, p):
        out = hmp(dom, f'qemu-io -d virtio-disk0 "read -P {p} 0 64k"')
        return "pattern %s: %s" % (p, "differs" if "verification failed" in out else "matches")
    def snaplist(dom):
        return sorted((s.getName(), s.isCurrent(), s.numChildren()) for s in dom.listAllSnapshots(0))
    def head(x):
        return x.split("\n  <domain")[0]
    dom = c.defineXML(XML)
    show("snap off", lambda: dom.snapshotCreateXML("<domainsnapshot><name>off1</name><description>d</description></domainsnapshot>", 0).getName())
    show("xml off1", lambda: head(dom.snapshotLookupByName("off1").getXMLDesc(0)))
    show("start", lambda: dom.create())
    show("write ab", lambda: hmp(dom, 'qemu-io -d virtio-disk0 "write -P 0xab 0 64k"') and "written")
    show("snap run", lambda: dom.snapshotCreateXML("<domainsnapshot><name>run1</name></domainsnapshot>", 0).getName())
    show("xml run1", lambda: head(dom.snapshotLookupByName("run1").getXMLDesc(0)))
    show("list", lambda: snaplist(dom))
    show("current", lambda: dom.snapshotCurrent().getName())
    show("parent run1", lambda: dom.snapshotLookupByName("run1").getParent().getName())
    show("parent off1", lambda: dom.snapshotLookupByName("off1").getParent().getName())
    show("children off1", lambda: [s.getName() for s in dom.snapshotLookupByName("off1").listAllChildren(0)])
    show("num", lambda: (dom.snapshotNum(0), dom.snapshotNum(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS), dom.snapshotNum(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE)))
    show("snap live", lambda: dom.snapshotCreateXML("<domainsnapshot><name>l</name></domainsnapshot>", libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_LIVE).getName())
    show("snap dup", lambda: dom.snapshotCreateXML("<domainsnapshot><name>run1</name></domainsnapshot>", 0).getName())
    show("snap nodisk", lambda: dom.snapshotCreateXML("<domainsnapshot><name>n</name><disks><disk name='vdz'/></disks></domainsnapshot>", 0).getName())
    show("lookup", lambda: dom.snapshotLookupByName("nosuch").getName())
    show("write cd", lambda: hmp(dom, 'qemu-io -d virtio-disk0 "write -P 0xcd 0 64k"') and "written")
    show("revert run1", lambda: dom.revertToSnapshot(dom.snapshotLookupByName("run1"), 0))
    show("state", lambda: dom.state())
    show("data", lambda: pattern(dom, "0xab"))
    show("revert run1 paused", lambda: dom.revertToSnapshot(dom.snapshotLookupByName("run1"), libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED))
    show("state", lambda: dom.state())
    show("revert off1", lambda: dom.revertToSnapshot(dom.snapshotLookupByName("off1"), 0))
    show("state", lambda: dom.state())
    show("current", lambda: dom.snapshotCurrent().getName())
    show("revert run1 off", lambda: dom.revertToSnapshot(dom.snapshotLookupByName("run1"), 0))
    show("state", lambda: dom.state())
    show("data", lambda: pattern(dom, "0xab"))
    show("revert both", lambda: dom.revertToSnapshot(dom.snapshotLookupByName("run1"), 3))
    show("delete run1", lambda: dom.snapshotLookupByName("run1").delete(0))
    show("list", lambda: snaplist(dom))
    show("destroy", lambda: dom.destroy())
    show("revert off1 running", lambda: dom.revertToSnapshot(dom.snapshotLookupByName("off1"), libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING))
    show("state", lambda: dom.state())
    show("data", lambda: pattern(dom, "0"))
    show("destroy", lambda: dom.destroy())
    show("delete off1", lambda: dom.snapshotLookupByName("off1").delete(0))
    show("list", lambda: snaplist(dom))
    show("snap halt", lambda: (dom.create(), dom.snapshotCreateXML("<domainsnapshot><name>h</name></domainsnapshot>", libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_HALT).getName()))
    show("state", lambda: dom.state())
    show("snap h2", lambda: dom.snapshotCreateXML("<domainsnapshot><name>h2</name></domainsnapshot>", 0).getName())
    show("delete h children", lambda: dom.snapshotLookupByName("h").delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN))
    show("list", lambda: snaplist(dom))
    show("snap k", lambda: dom.snapshotCreateXML("<domainsnapshot><name>k</name></domainsnapshot>", 0).getName())
    show("undefine", lambda: dom.undefine())
    show("undefine meta", lambda: dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA))
    print("qemu-img", subprocess.run(["qemu-img", "snapshot", "-l", disk], capture_output=True, text=True).stdout.count("\n"), flush=True)
    dom = c.defineXML(XML.replace("type='qcow2'", "type='raw'").replace(disk, raw))
    show("snap raw off", lambda: dom.snapshotCreateXML("<domainsnapshot/>", 0).getName())
    show("undefine raw", lambda: dom.undefine())
    c.close()
    """#

    static func makeDisks(_ dir: String) throws {
        let work = dir + "/snap"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        chmod(work, 0o755)
        for (file, format, size) in [("d.qcow2", "qcow2", "64M"), ("r.img", "raw", "16M")] {
            let r = try ChildProcess.run(["/usr/bin/qemu-img", "create", "-q", "-f", format, work + "/" + file, size],
                                         timeLimit: 60)
            #expect(r.status == 0, "qemu-img create: \(r.stderr)")
            chmod(work + "/" + file, 0o666)
        }
    }

    @Test("snapshot create, list, XML, revert, delete, HALT and undefine on a TCG domain with a qcow2 disk: python3-libvirt's view and events as libvirtd's")
    func snapshotsLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        try Self.makeDisks(ours.dir)
        try Self.makeDisks(ref.dir)
        try Self.script.write(toFile: ours.dir + "/snap.py", atomically: true, encoding: .utf8)
        let o = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/snap.py", ours.uri, ours.dir + "/snap"],
                                     timeLimit: 300)
        let r = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/snap.py", ref.uri, ref.dir + "/snap"],
                                     timeLimit: 300)
        #expect(o.status == 0 && r.status == 0, "\(o.stderr)\n\(r.stderr)")
        let ol = o.stdout.split(separator: "\n"), rl = r.stdout.split(separator: "\n")
        #expect(ol.count == rl.count, "virtd:\n\(o.stdout)\nlibvirtd:\n\(r.stdout)")
        for (a, b) in zip(ol, rl) where a != b {
            Issue.record("virtd: \(a)\nlibvirtd: \(b)")
        }
        // What the sequence must show on virtd itself (not only the same as libvirtd).
        #expect(o.stdout.contains("revert run1 -> 0\n   events [(5, 6), (2, 3), (4, 2), (0, 3)]"), "\(o.stdout)")
        #expect(o.stdout.contains("data -> pattern 0xab: matches"), "\(o.stdout)")
        #expect(o.stdout.contains("data -> pattern 0: matches"), "\(o.stdout)")
        // The disk keeps only k (its metadata went with the undefine): a header, a title and one snapshot line.
        #expect(o.stdout.contains("qemu-img 3"), "\(o.stdout)")
    }

    @Test("snapshots of virtd's QEMU domains survive a kill -9 of virtd and its restart, the current one too")
    func snapshotsSurviveRestart() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        try Self.makeDisks(ours.dir)
        let disk = ours.dir + "/snap/d.qcow2"
        let xml = "<domain type='qemu'><name>sn</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            + "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>"
            + "<driver name='qemu' type='qcow2'/><source file='\(disk)'/><target dev='vda' bus='virtio'/></disk>"
            + "<memballoon model='none'/></devices></domain>"
        try xml.write(toFile: ours.dir + "/sn.xml", atomically: true, encoding: .utf8)
        let setup = try ours.virsh("define \(ours.dir)/sn.xml; snapshot-create-as sn a; start sn; "
                                   + "snapshot-create-as sn b; snapshot-create-as sn c")
        #expect(setup.status == 0, "\(setup.stderr)")
        let before = try ours.virsh("snapshot-list sn --name --topological; snapshot-current sn --name; snapshot-info sn b")
        ours.kill9()
        try ours.start()
        let after = try ours.virsh("snapshot-list sn --name --topological; snapshot-current sn --name; snapshot-info sn b")
        #expect(after.status == 0 && after.stdout == before.stdout, "before:\n\(before.stdout)\nafter:\n\(after.stdout) \(after.stderr)")
        #expect(before.stdout.hasPrefix("a\nb\nc\n"), "\(before.stdout)")
        // A name that would leave the metadata directory is refused, and nothing is written for it.
        let bad = try ours.virsh("snapshot-create-as sn ../../qemu/sn")
        #expect(bad.status != 0 && bad.stderr.contains("invalid snapshot name '../../qemu/sn'"), "\(bad.stderr)")
        #expect(try ours.virsh("snapshot-list sn --name --topological").stdout == "a\nb\nc\n\n")
        let revert = try ours.virsh("snapshot-revert sn b; domstate sn --reason; snapshot-current sn --name")
        #expect(revert.stdout.contains("running (from snapshot)") && revert.stdout.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("\nb"),
                "\(revert.stdout) \(revert.stderr)")
        _ = try? ours.virsh("destroy sn")
    }
}
