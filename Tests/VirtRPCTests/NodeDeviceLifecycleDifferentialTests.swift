import Foundation
import Testing
import VirtTestSupport

/// nodedev-define, -undefine, -start, -autostart, -detach (and its alias), -reattach, -reset, -event, iface-bridge and
/// iface-unbridge on `qemu:///system`: virtd and Debian's libvirtd 9.0, asked by Debian's virsh, vsh and python3-libvirt, answers
/// compared byte for byte. Only refusals that libvirt makes before it touches a device are asked for: the
/// computer, a network device, block devices and names that do not exist; a PCI device only for
/// nodedev-detach, and only where VFIO is missing (libvirtd refuses before it looks at the device). Nothing is
/// detached, reset or rebound.
@Suite("node device define/start/detach: virtd vs libvirtd 9.0", .serialized, .tags(.root, .referenceLibvirtd))
struct NodeDeviceLifecycleDifferentialTests {
    static let files = [
        "net.xml": "<device><name>net_x</name><parent>computer</parent><capability type='net'><interface>x0</interface>"
            + "<address>52:54:00:00:00:01</address><capability type='80203'/></capability></device>",
        "pci.xml": "<device><name>pci_x</name><parent>computer</parent><capability type='pci'><class>0x020000</class>"
            + "<domain>0</domain><bus>0</bus><slot>9</slot><function>0</function>"
            + "<product id='0x1000'/><vendor id='0x1af4'/></capability></device>",
        "mdev-notype.xml": "<device><parent>computer</parent><capability type='mdev'/></device>",
        "mdev-noparent.xml": "<device><capability type='mdev'><type id='nvidia-11'/></capability></device>",
        "mdev-computer.xml": "<device><parent>computer</parent><capability type='mdev'><type id='nvidia-11'/></capability></device>",
        "mdev-nope.xml": "<device><parent>nope</parent><capability type='mdev'><type id='nvidia-11'/></capability></device>",
        "bogus.xml": "<device><name>x</name><capability type='bogus'/></device>",
        "wrongroot.xml": "<nodedev/>",
        "nocaps.xml": "<device><name>a</name></device>",
    ]

    static func script(dir: String, net: String, block: String?, pci: String?, iface: String) -> String {
        var s = ["net", "pci", "mdev-notype", "mdev-noparent", "mdev-computer", "mdev-nope", "bogus", "wrongroot", "nocaps"]
            .map { "nodedev-define \(dir)/\($0).xml" }.joined(separator: "; ")
        // A mediated device under a PCI device gets as far as mdevctl: asked only where the host has none.
        if pci != nil && !Self.hostHas("mdevctl") { s += "; nodedev-define --file \(dir)/mdev.xml" }
        s += "; nodedev-define --validate \(dir)/net.xml; nodedev-define \(dir)/missing.xml"
        for d in ["computer", net, "nope"] {
            s += "; nodedev-undefine \(d); nodedev-start \(d); nodedev-autostart \(d); nodedev-autostart --disable \(d)"
            s += "; nodedev-detach \(d); nodedev-detach --driver kvm \(d); nodedev-detach \(d) --driver xen"
            s += "; nodedev-detach --driver vfio \(d); nodedev-dettach \(d); nodedev-reattach \(d); nodedev-reset \(d)"
        }
        if let block { s += "; nodedev-start \(block); nodedev-reattach \(block); nodedev-reset \(block)" }
        if let pci { s += "; nodedev-detach \(pci); nodedev-undefine \(pci); nodedev-start \(pci); nodedev-autostart \(pci)" }
        s += "; nodedev-event --event lifecycle --timeout 1; nodedev-event computer update --timeout 1 --loop"
        s += "; nodedev-event --event lifecycle --device nope"
        // iface-bridge and iface-unbridge: the host's interface driver is read-only, so they end at the define.
        s += "; iface-bridge lo br9; iface-bridge lo br9 --no-stp --delay 3 --no-start; iface-bridge lo \(iface)"
        s += "; iface-bridge nope br9; iface-bridge lo br9 --delay x; iface-unbridge \(iface); iface-unbridge nope"
        s += "; iface-unbridge lo --no-start"
        return s
    }

    static func hostHas(_ tool: String) -> Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }

    static let python = #"""
        import libvirt, sys
        libvirt.registerErrorHandler(lambda *a: None, None)
        c = libvirt.open(sys.argv[1])
        d = sys.argv[2]
        out = []
        def call(label, f):
            try:
                out.append("%s %r" % (label, f()))
            except libvirt.libvirtError as e:
                out.append("%s error %d %d %s" % (label, e.get_error_code(), e.get_error_domain(), e.get_error_message()))
        comp = c.nodeDeviceLookupByName("computer")
        call("define", lambda: c.nodeDeviceDefineXML(open(d + "/net.xml").read(), 0))
        call("define flags", lambda: c.nodeDeviceDefineXML(open(d + "/net.xml").read(), 2))
        call("define validate", lambda: c.nodeDeviceDefineXML(open(d + "/net.xml").read(), 1))
        call("define mdev parent", lambda: c.nodeDeviceDefineXML(open(d + "/mdev-computer.xml").read(), 0))
        call("define mdev nope", lambda: c.nodeDeviceDefineXML(open(d + "/mdev-nope.xml").read(), 0))
        call("define root", lambda: c.nodeDeviceDefineXML(open(d + "/wrongroot.xml").read(), 0))
        call("undefine", lambda: comp.undefine(0))
        call("undefine flags", lambda: comp.undefine(1))
        call("create", lambda: comp.create(0))
        call("create flags", lambda: comp.create(1))
        call("autostart on", lambda: comp.setAutostart(1))
        call("autostart off", lambda: comp.setAutostart(0))
        call("dettach", lambda: comp.dettach())
        call("detach flags", lambda: comp.detachFlags(None, 1))
        call("detach xen", lambda: comp.detachFlags("xen", 0))
        call("detach kvm", lambda: comp.detachFlags("kvm", 0))
        call("reattach", lambda: comp.reAttach())
        call("reset", lambda: comp.reset())
        ro = libvirt.openReadOnly(sys.argv[1])
        rcomp = ro.nodeDeviceLookupByName("computer")
        call("ro define", lambda: ro.nodeDeviceDefineXML(open(d + "/net.xml").read(), 0))
        call("ro undefine", lambda: rcomp.undefine(0))
        call("ro create", lambda: rcomp.create(0))
        call("ro autostart", lambda: rcomp.setAutostart(1))
        call("ro dettach", lambda: rcomp.dettach())
        call("ro detach", lambda: rcomp.detachFlags("vfio", 0))
        call("ro reattach", lambda: rcomp.reAttach())
        call("ro reset", lambda: rcomp.reset())
        print("\n".join(out))
        """#

    @Test("virsh, vsh and python3-libvirt: the same refusals from virtd as from libvirtd")
    func sameAnswers() throws {
        let dir = try TestPaths.makeTempDir("nodedev-life", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (n, t) in Self.files { try t.write(toFile: dir + "/" + n, atomically: true, encoding: .utf8) }
        try Self.python.write(toFile: dir + "/api.py", atomically: true, encoding: .utf8)

        let ref = try ReferenceLibvirtd()
        defer { ref.stop() }
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }

        let devices = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "nodedev-list"], timeLimit: 60).stdout
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        let net = try #require(devices.first { $0.hasPrefix("net_") })
        let block = devices.first { $0.hasPrefix("block_") }
        // Without VFIO libvirtd refuses a PCI detach before it looks at the device; with it, it would detach.
        let vfio = FileManager.default.fileExists(atPath: "/dev/vfio/vfio")
        let pci = vfio ? nil : devices.first { $0.hasPrefix("pci_") }
        if let pci {
            try "<device><parent>\(pci)</parent><capability type='mdev'><type id='nvidia-11'/></capability></device>"
                .write(toFile: dir + "/mdev.xml", atomically: true, encoding: .utf8)
        }
        let iface = try #require(try FileManager.default.contentsOfDirectory(atPath: "/sys/class/net").sorted()
            .first { $0 != "lo" })
        let script = Self.script(dir: dir, net: net, block: block, pci: pci, iface: iface)
        let r = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, script], timeLimit: 120)
        #expect(r.stderr.contains("Unsupported device type"))
        for client in ["/usr/bin/virsh", TestPaths.vsh] {
            let o = try ChildProcess.run([client, "-c", ours.uri, script], timeLimit: 120)
            #expect(o.stdout == r.stdout, "\(client) stdout\n\(o.stdout)\n--- libvirtd:\n\(r.stdout)")
            #expect(o.stderr == r.stderr, "\(client) stderr\n\(o.stderr)\n--- libvirtd:\n\(r.stderr)")
            #expect(o.status == r.status)
        }
        let pr = try ChildProcess.run(["/usr/bin/python3", dir + "/api.py", refURI, dir], timeLimit: 60)
        let po = try ChildProcess.run(["/usr/bin/python3", dir + "/api.py", ours.uri, dir], timeLimit: 60)
        #expect(pr.status == 0 && po.status == 0, "\(pr.stderr)\n\(po.stderr)")
        let a = po.stdout.split(separator: "\n"), b = pr.stdout.split(separator: "\n")
        for (x, y) in zip(a, b) where x != y { Issue.record("python: virtd \(x)\nlibvirtd: \(y)") }
        #expect(a.count == b.count)
        #expect(b.count == 26)
    }
}
