import Foundation
import Testing
import VirtTestSupport

/// The host's node devices and network interfaces on `qemu:///system` (issue 13): virtd and Debian's
/// libvirtd 9.0 on the same machine, asked the same questions by Debian's virsh (and vsh) and python3-libvirt,
/// answers compared byte for byte. Every device libvirtd lists is asked for by name, so a device type virtd
/// does not read (USB, SCSI, DRM, …) would show as a difference. The host's networking is only read.
@Suite("host node devices and interfaces: virtd vs libvirtd 9.0", .serialized, .tags(.root, .referenceLibvirtd))
struct HostDeviceDifferentialTests {
    static func script(devices: [String], interfaces: [String], dir: String) -> String {
        var s = "nodedev-list; nodedev-list --tree; nodedev-list --cap net,pci; nodedev-list --cap storage; "
            + "nodedev-list --cap system; nodedev-list --inactive; nodedev-list --all"
        for d in devices { s += "; nodedev-dumpxml \(d); nodedev-info \(d)" }
        s += "; iface-list --all; iface-list; iface-list --inactive"
        for i in interfaces { s += "; iface-dumpxml \(i); iface-dumpxml \(i) --inactive; iface-mac \(i)" }
        s += "; iface-dumpxml nope; iface-name 00:11:22:33:44:55; nodedev-dumpxml nope; nodedev-info nope; "
            + "iface-define \(dir)/iface.xml; iface-begin; iface-commit; iface-rollback; nodedev-create \(dir)/vhba.xml; "
            + "nodedev-create \(dir)/vhba-noparent.xml; nodedev-create \(dir)/notfc.xml; nodedev-create \(dir)/nocaps.xml; "
            + "nodedev-destroy computer"
        if let i = interfaces.first { s += "; iface-start \(i); iface-destroy \(i); iface-undefine \(i)" }
        return s
    }

    static let python = #"""
        import libvirt, sys
        libvirt.registerErrorHandler(lambda *a: None, None)
        c = libvirt.open(sys.argv[1])
        out = []
        def call(label, f):
            try:
                out.append("%s %r" % (label, f()))
            except libvirt.libvirtError as e:
                out.append("%s error %d %d %s" % (label, e.get_error_code(), e.get_error_domain(), e.get_error_message()))
        call("num", lambda: (c.numOfDevices(None, 0), c.numOfDevices("net", 0), c.numOfDevices("pci", 0)))
        call("names", lambda: (sorted(c.listDevices(None, 0)), sorted(c.listDevices("storage", 0))))
        for flags in [0, libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_NET, libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV,
                      libvirt.VIR_CONNECT_LIST_NODE_DEVICES_ACTIVE, libvirt.VIR_CONNECT_LIST_NODE_DEVICES_INACTIVE]:
            call("all %x" % flags, lambda: sorted(d.name() for d in c.listAllDevices(flags)))
        for d in sorted(c.listAllDevices(0), key=lambda d: d.name()):
            call(d.name(), lambda: (d.parent(), d.numOfCaps(), d.listCaps(), d.isActive(), d.isPersistent(), d.autostart()))
        call("ifaces", lambda: (c.numOfInterfaces(), sorted(c.listInterfaces()), c.numOfDefinedInterfaces(),
                                sorted(c.listDefinedInterfaces())))
        for i in sorted(c.listAllInterfaces(0), key=lambda i: i.name()):
            call(i.name(), lambda: (i.MACString(), i.isActive(), c.interfaceLookupByMACString(i.MACString()).name()))
        call("no iface", lambda: c.interfaceLookupByName("nope"))
        call("iface flags", lambda: c.listAllInterfaces(4))
        print("\n".join(out))
        """#

    @Test("virsh, vsh and python3-libvirt: the same devices, XML, interfaces and errors from virtd as from libvirtd")
    func sameAnswers() throws {
        let dir = try TestPaths.makeTempDir("hostdev", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = [
            "iface.xml": "<interface type='ethernet' name='x0'><mac address='52:54:00:11:22:33'/></interface>",
            "vhba.xml": "<device><parent>scsi_host1</parent><capability type='scsi_host'><capability type='fc_host'>"
                + "<wwnn>2000000012345678</wwnn><wwpn>1000000012345678</wwpn></capability></capability></device>",
            "vhba-noparent.xml": "<device><capability type='scsi_host'><capability type='fc_host'>"
                + "<wwnn>2000000012345678</wwnn><wwpn>1000000012345678</wwpn></capability></capability></device>",
            "notfc.xml": "<device><parent>computer</parent><capability type='scsi_host'/></device>",
            "nocaps.xml": "<device><name>a</name></device>",
        ]
        for (n, t) in files { try t.write(toFile: dir + "/" + n, atomically: true, encoding: .utf8) }
        try Self.python.write(toFile: dir + "/api.py", atomically: true, encoding: .utf8)

        let ref = try ReferenceLibvirtd()
        defer { ref.stop() }
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }

        let devices = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "nodedev-list"], timeLimit: 60).stdout
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        #expect(devices.contains("computer"))
        let interfaces = try FileManager.default.contentsOfDirectory(atPath: "/sys/class/net").sorted()
        let script = Self.script(devices: devices, interfaces: interfaces, dir: dir)
        let r = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, script], timeLimit: 120)
        for client in ["/usr/bin/virsh", TestPaths.vsh] {
            let o = try ChildProcess.run([client, "-c", ours.uri, script], timeLimit: 120)
            let mine = o.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let theirs = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            for (n, (a, b)) in zip(mine, theirs).enumerated() where a != b {
                Issue.record("\(client) stdout line \(n + 1): virtd '\(a)' libvirtd '\(b)'")
                break
            }
            #expect(mine.count == theirs.count, "\(client): \(mine.count) vs \(theirs.count) lines")
            #expect(o.stderr == r.stderr, "\(client) stderr\n\(o.stderr)\n--- libvirtd:\n\(r.stderr)")
            #expect(o.status == r.status)
        }
        let pr = try ChildProcess.run(["/usr/bin/python3", dir + "/api.py", refURI], timeLimit: 60)
        let po = try ChildProcess.run(["/usr/bin/python3", dir + "/api.py", ours.uri], timeLimit: 60)
        #expect(pr.status == 0 && po.status == 0, "\(pr.stderr)\n\(po.stderr)")
        let a = po.stdout.split(separator: "\n"), b = pr.stdout.split(separator: "\n")
        for (x, y) in zip(a, b) where x != y { Issue.record("python: virtd \(x)\nlibvirtd: \(y)") }
        #expect(a.count == b.count)
    }
}
