import Foundation
import Testing
import VirtTestSupport

/// python3-libvirt (Debian's, /usr/bin/python3) drives the same API against virtd and libvirtd, including
/// lifecycle event callbacks through libvirt's default event loop; the transcripts must match.
@Suite("python3-libvirt against virtd and libvirtd", .serialized)
struct PythonClientTests {
    static let script = #"""
    import libvirt, sys, threading, time
    uri, savedir = sys.argv[1], sys.argv[2]
    libvirt.virEventRegisterDefaultImpl()
    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()
    conn = libvirt.open(uri)
    events = []
    cond = threading.Condition()
    def cb(c, dom, event, detail, opaque):
        with cond:
            events.append((dom.name(), event, detail))
            cond.notify_all()
    cid = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb, None)
    out = []
    def p(*a):
        out.append(" ".join(repr(x) for x in a))
    xml = """<domain type='test'><name>pydemo</name><uuid>7dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
      <memory unit='KiB'>131072</memory><vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>"""
    p("type", conn.getType(), "version", conn.getVersion(), "lib", conn.getLibVersion())
    p("hostname", conn.getHostname(), "uri", conn.getURI())
    p("nodeinfo", conn.getInfo())
    p("caps", conn.getCapabilities()[:60])
    p("all", sorted(d.name() for d in conn.listAllDomains()))
    p("ids", conn.listDomainsID(), "defined", conn.listDefinedDomains(), conn.numOfDomains(), conn.numOfDefinedDomains())
    d = conn.lookupByName("test")
    p("byid", conn.lookupByID(d.ID()).name(), "byuuid", conn.lookupByUUIDString(d.UUIDString()).name())
    p("info", d.info()[:4], "state", d.state(), "os", d.OSType(), "maxmem", d.maxMemory())
    p("flags", d.isActive(), d.isPersistent(), d.autostart(), d.hasManagedSaveImage(0), d.snapshotNum())
    p("secmodel", conn.getSecurityModel(), "seclabel", d.securityLabel())
    dd = conn.defineXML(xml)
    p("defined", dd.name(), dd.UUIDString(), dd.ID(), dd.isActive())
    dd.create()
    p("started", dd.ID() > 0, dd.state())
    dd.suspend(); p("suspended", dd.state())
    dd.resume(); dd.reboot(0); dd.shutdown(); p("shutdown", dd.state())
    dd.create(); dd.destroy(); p("destroyed", dd.state())
    dd.setAutostart(1); p("autostart", dd.autostart()); dd.setAutostart(0)
    d.save(savedir + "/py.save"); p("saved", d.state())
    conn.restore(savedir + "/py.save"); p("restored", d.state())
    d.managedSave(0); p("managedsave", d.hasManagedSaveImage(0), d.state())
    d.create(); p("fromms", d.state(), d.hasManagedSaveImage(0))
    stats = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL | libvirt.VIR_DOMAIN_STATS_BALLOON)
    p("stats", sorted((s[0].name(), sorted(k for k in s[1].keys())) for s in stats))
    p("statestats", sorted((s[0].name(), s[1].get("state.state"), s[1].get("state.reason")) for s in stats))
    p("xml", dd.XMLDesc(0))
    tr = conn.createXML(xml.replace("pydemo", "pytrans").replace("7dea22b3", "8dea22b3"), 0)
    p("transient", tr.isPersistent(), tr.isActive()); tr.destroy()
    dd.undefine()
    for f in (lambda: conn.lookupByName("nosuch"), lambda: dd.create(), lambda: d.resume()):
        try:
            f()
        except libvirt.libvirtError as e:
            p("err", e.get_error_code(), e.get_error_domain(), e.get_error_level(), e.get_error_message())
    with cond:
        cond.wait_for(lambda: any(e[0] == "pytrans" and e[1] == libvirt.VIR_DOMAIN_EVENT_STOPPED for e in events) and any(e[0] == "pydemo" and e[1] == libvirt.VIR_DOMAIN_EVENT_UNDEFINED for e in events), timeout=30)
        p("events", events)
    conn.domainEventDeregisterAny(cid)
    conn.close()
    print("\n".join(out))
    """#

    func transcript(_ daemon: any TestDaemon) throws -> ChildProcess.Result {
        let dir = try TestPaths.makeTempDir("py", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.script.write(toFile: dir + "/client.py", atomically: true, encoding: .utf8)
        var r = try ChildProcess.run(["/usr/bin/python3", dir + "/client.py", daemon.testURI, dir], timeLimit: 120)
        r.stdout = r.stdout.replacingOccurrences(of: dir, with: "DIR")
            .replacingOccurrences(of: daemon.socket, with: "SOCKET")
            .replacingOccurrences(of: "<devices>\\n  </devices>", with: "<devices/>")
        return r
    }

    @Test("the API script and its event callbacks give libvirtd's transcript", .tags(.qemu, .root, .referenceLibvirtd))
    func sameTranscript() throws {
        let ours = try VirtdProcess()
        defer { ours.stop() }
        let ref = try ReferenceLibvirtd()
        defer { ref.stop() }
        let a = try transcript(ours)
        let b = try transcript(ref)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(b.status == 0, "\(b.stderr)")
        #expect(a.stdout.contains("'events'"))
        let al = a.stdout.split(separator: "\n"), bl = b.stdout.split(separator: "\n")
        for (x, y) in zip(al, bl) where x != y {
            Issue.record("differs:\n  virtd:    \(x)\n  libvirtd: \(y)")
        }
        #expect(al.count == bl.count)
    }
}
