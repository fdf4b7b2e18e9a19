import Foundation
import Testing
import VirtTestSupport

/// Storage pools and volumes of `test:///default` through virtd, against libvirt 9.0's own test driver (the one
/// embedded in Debian's virsh and python3-libvirt): Debian's virsh and vsh through virtd compared with virsh on
/// `test:///default`, and one python3-libvirt script (the storage API and pool event callbacks) on both.
@Suite("storage: virtd's test driver vs libvirt 9.0's", .serialized)
struct StorageDifferentialTests {
    static let files: [String: String] = [
        "pool1.xml": """
            <pool type='dir'>
              <name>p1</name>
              <uuid>11111111-2222-3333-4444-555555555555</uuid>
              <target><path>/tmp/p1</path></target>
            </pool>
            """,
        "netfs.xml": """
            <pool type='netfs'>
              <name>nfs</name>
              <uuid>21111111-2222-3333-4444-555555555555</uuid>
              <source><host name='nfs.example.com'/><dir path='/exports/images/'/><format type='nfs'/></source>
              <target><path>/mnt/nfs</path><permissions><mode>0755</mode></permissions></target>
            </pool>
            """,
        "v1.xml": "<volume><name>v1</name><capacity unit='M'>10</capacity><allocation>1024</allocation><target><format type='qcow2'/></target></volume>",
        "bad.xml": "<pool type='dir'>\n  <name>bad</name>\n  <target>\n</pool>\n",
        "vbad.xml": "<volume><name>vb</name></volume>",
    ]

    static func writeFiles(_ dir: String) throws {
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
    }

    /// One virsh session: every pool and volume command with successes and libvirt's refusals.
    static func commands(_ dir: String) -> String {
        [
            "pool-list --all --details", "pool-info default-pool", "pool-dumpxml default-pool",
            "pool-define \(dir)/pool1.xml", "pool-define \(dir)/netfs.xml", "pool-list --all --details",
            "pool-list --all --name --uuid", "pool-list --type netfs --all", "pool-dumpxml nfs",
            "pool-start p1", "pool-start p1", "pool-autostart p1", "pool-info p1", "pool-autostart p1 --disable",
            "pool-refresh p1", "pool-uuid p1", "pool-name 11111111-2222-3333-4444-555555555555",
            "pool-build default-pool", "pool-delete default-pool", "pool-dumpxml --inactive p1",
            "vol-create p1 \(dir)/v1.xml", "vol-create p1 \(dir)/v1.xml", "vol-create p1 \(dir)/vbad.xml",
            "vol-list p1 --details", "vol-dumpxml v1 --pool p1", "vol-info /tmp/p1/v1", "vol-key v1 --pool p1",
            "vol-path v1 --pool p1", "vol-pool /tmp/p1/v1", "vol-name /tmp/p1/v1",
            "vol-create-as p1 v2 5M --allocation 1M --format raw", "vol-clone v2 v3 --pool p1",
            "vol-create-from p1 \(dir)/v1.xml v2 --inputpool p1", "vol-list p1", "pool-info p1",
            "vol-wipe v2 --pool p1", "vol-wipe v2 --pool p1 --algorithm dod", "vol-info --physical v2 --pool p1",
            "vol-resize v2 1G --pool p1", "vol-delete v3 --pool p1", "vol-info v3 --pool p1",
            "pool-destroy p1", "vol-list p1", "pool-undefine p1", "pool-info p1", "pool-define \(dir)/bad.xml",
            "pool-create \(dir)/pool1.xml", "pool-list --transient", "pool-autostart p1", "pool-destroy p1",
            "pool-create-as tp dir --target /tmp/tp", "pool-list --all", "pool-undefine nfs", "pool-list --all --details",
            "find-storage-pool-sources-as netfs h 22", "find-storage-pool-sources logical", "find-storage-pool-sources dir",
            "find-storage-pool-sources netfs --srcSpec \(dir)/pool1.xml", "find-storage-pool-sources-as netfs",
            "pool-capabilities",
        ].joined(separator: "; ")
    }

    static func run(_ client: String, uri: String, _ dir: String) throws -> ChildProcess.Result {
        try ChildProcess.run([client, "-c", uri, commands(dir)], timeLimit: 120)
    }

    @Test("Debian's virsh and vsh through virtd print what virsh prints on libvirt's test:///default")
    func virshAndVsh() throws {
        let dir = try TestPaths.makeTempDir("storage", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeFiles(dir)
        let reference = try Self.run("/usr/bin/virsh", uri: "test:///default", dir)
        for client in ["/usr/bin/virsh", TestPaths.vsh] {
            let daemon = try VirtdProcess()
            defer { daemon.stop() }
            let ours = try Self.run(client, uri: daemon.testURI, dir)
            #expect(ours.stdout == reference.stdout, "\(client) stdout differs")
            #expect(ours.stderr == reference.stderr, "\(client) stderr differs")
            #expect(ours.status == reference.status)
        }
    }

    static let script = #"""
    import libvirt, sys, threading
    uri = sys.argv[1]
    libvirt.virEventRegisterDefaultImpl()
    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()
    conn = libvirt.open(uri)
    events = []
    cond = threading.Condition()
    def life(c, pool, event, detail, opaque):
        with cond:
            events.append(("lifecycle", pool.name(), event, detail))
            cond.notify_all()
    def refresh(c, pool, opaque):
        with cond:
            events.append(("refresh", pool.name()))
            cond.notify_all()
    c1 = conn.storagePoolEventRegisterAny(None, libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, life, None)
    c2 = conn.storagePoolEventRegisterAny(None, libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH, refresh, None)
    out = []
    def p(*a):
        out.append(" ".join(repr(x) for x in a))
    def err(f):
        try:
            f()
            p("no error")
        except libvirt.libvirtError as e:
            p("err", e.get_error_code(), e.get_error_domain(), e.get_error_message())
    p("num", conn.numOfStoragePools(), conn.numOfDefinedStoragePools(), conn.listStoragePools(), conn.listDefinedStoragePools())
    p("all", sorted(x.name() for x in conn.listAllStoragePools()))
    d = conn.storagePoolLookupByName("default-pool")
    p("default", d.UUIDString(), d.info(), d.isActive(), d.isPersistent(), d.autostart(), d.numOfVolumes(), d.listVolumes())
    p("byuuid", conn.storagePoolLookupByUUIDString(d.UUIDString()).name())
    p("xml", d.XMLDesc(0))
    xml = "<pool type='dir'><name>py</name><uuid>11111111-2222-3333-4444-555555555555</uuid><target><path>/py</path></target></pool>"
    q = conn.storagePoolDefineXML(xml, 0)
    p("defined", q.name(), q.isActive(), q.isPersistent(), q.info())
    p("inactive", [x.name() for x in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE)])
    p("dir", sorted(x.name() for x in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_DIR)))
    err(lambda: q.listAllVolumes(0))
    err(lambda: q.numOfVolumes())
    q.build(0); q.create(0); q.refresh(0); q.setAutostart(1)
    p("started", q.isActive(), q.autostart(), q.info())
    v = q.createXML("<volume><name>a</name><capacity unit='G'>1</capacity><allocation unit='M'>5</allocation></volume>", 0)
    p("vol", v.name(), v.key(), v.path(), v.info(), v.storagePoolLookupByVolume().name())
    p("volxml", v.XMLDesc(0))
    w = q.createXMLFrom("<volume><name>b</name><capacity>4096</capacity></volume>", v, 0)
    p("vols", sorted(x.name() for x in q.listAllVolumes(0)), sorted(q.listVolumes()), q.numOfVolumes(), q.info())
    p("bykey", conn.storageVolLookupByKey("/py/b").name(), "bypath", conn.storageVolLookupByPath("/py/a").name())
    err(lambda: conn.storageVolLookupByKey("nope"))
    err(lambda: conn.storageVolLookupByPath("/nope"))
    err(lambda: q.storageVolLookupByName("nope"))
    err(lambda: v.wipe(0))
    err(lambda: v.resize(1, 0))
    err(lambda: q.createXML("<volume><name>a</name><capacity>1</capacity></volume>", 0))
    err(lambda: q.createXML("<volume><name>big</name><capacity unit='T'>1</capacity></volume>", 0))
    err(lambda: q.createXML("<volume><name>c</name></volume>", 0))
    err(lambda: q.createXML("<volume><name>c</name><capacity>1</capacity></volume>", 1))
    w.delete(0)
    p("afterdelete", sorted(q.listVolumes()), q.info())
    err(lambda: q.undefine())
    err(lambda: q.create(0))
    err(lambda: q.setAutostart(1) or q.build(0))
    q.destroy(); q.delete(0); q.undefine()
    err(lambda: conn.storagePoolLookupByName("py"))
    err(lambda: conn.storagePoolLookupByUUIDString("11111111-2222-3333-4444-555555555555"))
    err(lambda: conn.storagePoolDefineXML("<pool type='dir'><name>x</name></pool>", 0))
    err(lambda: conn.storagePoolDefineXML("<pool type='dir'>\n<name>x</name>\n<target>\n</pool>", 0))
    err(lambda: conn.storagePoolDefineXML(xml.replace("py", "default-pool"), 0))
    t = conn.storagePoolCreateXML(xml.replace("py", "tr"), 0)
    p("transient", t.name(), t.isActive(), t.isPersistent(), t.autostart())
    err(lambda: t.setAutostart(1))
    t.destroy()
    err(lambda: t.info())
    with cond:
        cond.wait_for(lambda: any(e[1] == "tr" and e[2] == libvirt.VIR_STORAGE_POOL_EVENT_STOPPED for e in events if e[0] == "lifecycle"), timeout=30)
        p("events", events)
    conn.storagePoolEventDeregisterAny(c1)
    conn.storagePoolEventDeregisterAny(c2)
    conn.close()
    print("\n".join(out))
    """#

    static func transcript(_ uri: String) throws -> ChildProcess.Result {
        let dir = try TestPaths.makeTempDir("pystorage", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try script.write(toFile: dir + "/client.py", atomically: true, encoding: .utf8)
        return try ChildProcess.run(["/usr/bin/python3", dir + "/client.py", uri], timeLimit: 120)
    }

    @Test("python3-libvirt's storage API and pool events through virtd give libvirt's test driver transcript")
    func python() throws {
        let reference = try Self.transcript("test:///default")
        let daemon = try VirtdProcess()
        defer { daemon.stop() }
        let ours = try Self.transcript(daemon.testURI)
        #expect(reference.status == 0, "\(reference.stderr)")
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(ours.stdout.contains("'events'"))
        let a = ours.stdout.split(separator: "\n"), b = reference.stdout.split(separator: "\n")
        for (x, y) in zip(a, b) where x != y {
            Issue.record("differs:\n  virtd:   \(x)\n  libvirt: \(y)")
        }
        #expect(a.count == b.count)
    }
}
