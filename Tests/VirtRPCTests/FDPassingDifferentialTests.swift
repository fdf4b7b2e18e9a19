import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Descriptors passed with calls (CALL_WITH_FDS) on `qemu:///system`, virtd beside Debian's libvirtd 9.0, driven by
/// Debian's virsh and python3-libvirt (and vsh on virtd): `dom-fd-associate` (virDomainFDAssociate) with a KVM
/// domain whose disk says `<source file=… fdgroup='g1'/>` (the image opened by the client and passed as fd 3; the
/// path in the XML does not exist), started in the same session and refused from another one once the client
/// that passed the descriptor is gone; QEMU's `-add-fd` and `/dev/fdset/0` node. virDomainOpenGraphics: a socket of the client's becomes a VNC client (the VNC
/// banner arrives on its other end). A descriptor with a monitor command (virDomainQemuMonitorCommandWithFiles,
/// `qemu-monitor-command --pass-fds`). The security labels of the running domain (DAC). Errors: flags, no
/// descriptors, read-only, qemu-attach, lxc-enter-namespace.
@Suite("descriptors passed with calls: virtd vs libvirtd 9.0", .serialized,
       .tags(.qemu, .kvm, .root, .referenceLibvirtd))
struct FDPassingDifferentialTests {
    static func xml(_ name: String) -> String {
        """
        <domain type='kvm'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/>\
        <source file='/nonexistent/\(name).img' fdgroup='g1'/><target dev='vda' bus='virtio'/></disk>
        <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
        <memballoon model='none'/></devices></domain>
        """
    }

    static let python = #"""
    import libvirt, socket, sys, json
    libvirt.registerErrorHandler(lambda a, b: None, None)
    uri, name, image = sys.argv[1], sys.argv[2], sys.argv[3]
    c = libvirt.open(uri)
    d = c.lookupByName(name)
    out = []
    def call(label, f):
        try:
            out.append([label, 'ok', f()])
        except libvirt.libvirtError as e:
            out.append([label, e.get_error_code(), e.get_error_domain(), e.get_error_message()])
    a, b = socket.socketpair()
    def graphics():
        d.openGraphics(0, b.fileno(), 0)
        b.close()
        a.settimeout(20)
        return a.recv(12).decode()
    call('openGraphics', graphics)
    s = socket.socket(socket.AF_UNIX)
    call('openGraphics index', lambda: d.openGraphics(3, s.fileno(), 0))
    call('openGraphics flags', lambda: d.openGraphics(0, s.fileno(), 4))
    call('openGraphics skipauth', lambda: d.openGraphics(0, s.fileno(), 1))
    f = open(image, 'rb')
    call('FDAssociate flags', lambda: d.FDAssociate('g2', [f.fileno()], 4))
    call('FDAssociate both flags', lambda: d.FDAssociate('g2', [f.fileno()], 3))
    call('FDAssociate two', lambda: d.FDAssociate('g3', [f.fileno(), f.fileno()], 0))
    call('FDAssociate empty name', lambda: d.FDAssociate('', [f.fileno()], 0))
    ro = libvirt.openReadOnly(uri)
    call('FDAssociate read-only', lambda: ro.lookupByName(name).FDAssociate('g4', [f.fileno()], 0))
    call('openGraphics read-only', lambda: ro.lookupByName(name).openGraphics(0, s.fileno(), 0))
    call('blockPeek', lambda: d.blockPeek('vda', 0, 16, 0))
    call('blockInfo', lambda: d.blockInfo('vda', 0))
    call('monitor with files', lambda: __import__('libvirt_qemu').qemuMonitorCommandWithFiles(
        d, '{"execute":"getfd","arguments":{"fdname":"p"}}', [f.fileno()], 0)[0].startswith('{"return":{}'))
    call('monitor with two files', lambda: __import__('libvirt_qemu').qemuMonitorCommandWithFiles(
        d, '{"execute":"query-status"}', [f.fileno(), f.fileno()], 0))
    call('monitor with files flags', lambda: __import__('libvirt_qemu').qemuMonitorCommandWithFiles(
        d, '{"execute":"query-status"}', [f.fileno()], 2))
    call('securityLabelList', lambda: d.securityLabelList())
    call('securityLabel', lambda: d.securityLabel())
    call('qemuAttach', lambda: __import__('libvirt_qemu').qemuAttach(c, 1, 0))
    call('lxcOpenNamespace', lambda: __import__('libvirt_lxc').lxcOpenNamespace(d, 0))
    print(json.dumps(out, indent=1))
    """#

    /// A shell running `client` with the image open read-write as fd 3.
    static func withFD3(_ client: String, _ uri: String, _ commands: String, image: String) throws -> ChildProcess.Result {
        try ChildProcess.run(["/bin/sh", "-c", "exec \"$0\" -c \"$1\" \"$2\" 3<>\"$3\"", client, uri, commands, image],
                             timeLimit: 120)
    }

    /// QEMU's arguments for the disk: `-add-fd` (descriptor number masked) and the storage node.
    static func diskArguments(_ pid: pid_t) -> [String] {
        let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
        let args = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        var out: [String] = []
        for (i, a) in args.enumerated() where i > 0 {
            if args[i - 1] == "-add-fd" {
                out.append(a.replacingOccurrences(of: #"fd=[0-9]+"#, with: "fd=N", options: .regularExpression))
            } else if args[i - 1] == "-blockdev", a.contains("libvirt-1-") {
                out.append(a)
            }
        }
        return out
    }

    @Test("dom-fd-associate, an fdgroup disk and openGraphics as libvirtd's")
    func fdPassingLikeLibvirtd() throws {
        // QEMU runs as libvirt-qemu under DAC, as libvirtd's does (their security labels are compared too).
        let ours = try RestartableVirtd(config: "user = \"libvirt-qemu\"\ngroup = \"libvirt-qemu\"\n")
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 16)
        let sides: [(label: String, name: String, dir: String, uri: String)] = [
            ("virtd", "fdo" + suffix, ours.dir, ours.uri), ("libvirtd", "fdr" + suffix, ref.dir, ref.uri),
        ]
        defer { for s in sides { _ = try? virsh(s.uri, "destroy \(s.name); undefine \(s.name)") } }
        var images: [String] = []
        for s in sides {
            let image = s.dir + "/\(s.name).img"
            FileManager.default.createFile(atPath: image, contents: nil)
            truncate(image, 8 << 20)
            images.append(image)
            try Self.xml(s.name).write(toFile: s.dir + "/fd.xml", atomically: true, encoding: .utf8)
            let r = try virsh(s.uri, "define \(s.dir)/fd.xml")
            try #require(r.status == 0, "\(s.label): \(r.stderr)")
        }
        func clean(_ text: String, _ i: Int) -> String {
            text.replacingOccurrences(of: sides[i].dir, with: "DIR").replacingOccurrences(of: sides[i].name, with: "NAME")
        }
        func same(_ results: [ChildProcess.Result], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(clean(results[0].stdout, 0) == clean(results[1].stdout, 1),
                    "stdout of \(what):\n virtd    \(results[0].stdout)\n libvirtd \(results[1].stdout)",
                    sourceLocation: sourceLocation)
            #expect(clean(results[0].stderr, 0) == clean(results[1].stderr, 1),
                    "stderr of \(what):\n virtd    \(results[0].stderr)\n libvirtd \(results[1].stderr)",
                    sourceLocation: sourceLocation)
            #expect(results[0].status == results[1].status, "status of \(what)", sourceLocation: sourceLocation)
        }

        // Without the group the start is refused; argument errors of dom-fd-associate; then the group and the
        // start in one session.
        same(try sides.map { try virsh($0.uri, "start \($0.name)") }, "start without the group")
        let errors = "dom-fd-associate NAME g1 3,x; dom-fd-associate NAME g1 ''; dom-fd-associate nope g1 3; "
            + "dom-fd-associate NAME g1 3 --seclabel-writable --seclabel-restore; help dom-fd-associate"
        same(try sides.enumerated().map { i, s in
            try Self.withFD3("/usr/bin/virsh", s.uri, errors.replacingOccurrences(of: "NAME", with: s.name), image: images[i])
        }, "dom-fd-associate errors")
        let ourVsh = try Self.withFD3(TestPaths.vsh, ours.uri, errors.replacingOccurrences(of: "NAME", with: sides[0].name),
                                      image: images[0])
        let ourVirsh = try Self.withFD3("/usr/bin/virsh", ours.uri,
                                        errors.replacingOccurrences(of: "NAME", with: sides[0].name), image: images[0])
        #expect(ourVsh.stdout == ourVirsh.stdout && ourVsh.stderr == ourVirsh.stderr && ourVsh.status == ourVirsh.status,
                "vsh: \(ourVsh.stdout) \(ourVsh.stderr)\nvirsh: \(ourVirsh.stdout) \(ourVirsh.stderr)")
        same(try sides.enumerated().map { i, s in
            try Self.withFD3("/usr/bin/virsh", s.uri, "dom-fd-associate \(s.name) g1 3; start \(s.name)", image: images[i])
        }, "dom-fd-associate and start")

        // The live XML keeps the group; QEMU opens the image through fdset 0.
        var args: [[String]] = []
        for (i, s) in sides.enumerated() {
            let live = try virsh(s.uri, "dumpxml \(s.name)").stdout
            #expect(live.contains("<source file='/nonexistent/\(s.name).img' fdgroup='g1' index='1'/>"), "\(s.label): \(live)")
            let pid = try #require(ProcFS.qemuProcesses(whose: "cmdline", contains: "guest=\(s.name),").first)
            args.append(Self.diskArguments(pid))
            _ = i
        }
        #expect(args[0] == args[1], "virtd \(args[0])\nlibvirtd \(args[1])")
        #expect(args[0].first == "set=0,fd=N,opaque=libvirt-1-storage0", "\(args[0])")
        #expect(args[0].contains { $0.contains("\"filename\":\"/dev/fdset/0\"") && $0.contains("\"read-only\":false") },
                "\(args[0])")
        same(try sides.map { try virsh($0.uri, "domblkinfo \($0.name) vda; domblklist \($0.name); domblkinfo \($0.name) --all") },
             "block information of a disk passed as descriptors")
        // QEMU holds the passed file (its path in the XML does not exist).
        for (i, s) in sides.enumerated() {
            let pid = try #require(ProcFS.qemuProcesses(whose: "cmdline", contains: "guest=\(s.name),").first)
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            let targets = fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)") }
            #expect(targets.contains(images[i]), "\(s.label): QEMU's files \(targets)")
        }

        // A descriptor with a monitor command (virDomainQemuMonitorCommandWithFiles): QEMU has it under the name
        // `getfd` gave it, as `closefd` shows; at most one; HMP too.
        let monitor = "qemu-monitor-command NAME --return-value --pass-fds 3 '{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"x\"}}'; "
            + "qemu-monitor-command NAME --return-value '{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"x\"}}'; "
            + "qemu-monitor-command NAME --return-value '{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"x\"}}'; "
            + "qemu-monitor-command NAME --pass-fds 3,3 '{\"execute\":\"query-status\"}'; "
            + "qemu-monitor-command NAME --pass-fds 3,z '{\"execute\":\"query-status\"}'; "
            + "qemu-monitor-command NAME --hmp --pass-fds 3 'getfd y'; qemu-monitor-command NAME --hmp 'closefd y'; "
            + "qemu-monitor-command NAME --hmp 'closefd y'"
        same(try sides.enumerated().map { i, s in
            try Self.withFD3("/usr/bin/virsh", s.uri, monitor.replacingOccurrences(of: "NAME", with: s.name), image: images[i])
        }, "monitor commands with a descriptor")
        let vshMonitor = try Self.withFD3(TestPaths.vsh, ours.uri, monitor.replacingOccurrences(of: "NAME", with: sides[0].name),
                                          image: images[0])
        let virshMonitor = try Self.withFD3("/usr/bin/virsh", ours.uri,
                                            monitor.replacingOccurrences(of: "NAME", with: sides[0].name), image: images[0])
        #expect(vshMonitor.stdout == virshMonitor.stdout && vshMonitor.stderr == virshMonitor.stderr,
                "vsh: \(vshMonitor.stdout) \(vshMonitor.stderr)\nvirsh: \(virshMonitor.stdout) \(virshMonitor.stderr)")
        #expect(virshMonitor.stdout.hasPrefix("{}\n{}\n"), "\(virshMonitor.stdout) \(virshMonitor.stderr)")

        // python3-libvirt: openGraphics through a socket of the client's, and the errors.
        try Self.python.write(toFile: ours.dir + "/fd.py", atomically: true, encoding: .utf8)
        let py = try sides.enumerated().map { i, s in
            try ChildProcess.run(["/usr/bin/python3", ours.dir + "/fd.py", s.uri, s.name, images[i]], timeLimit: 120)
        }
        #expect(py[0].status == 0 && py[1].status == 0, "\(py[0].stderr)\n\(py[1].stderr)")
        #expect(clean(py[0].stdout, 0) == clean(py[1].stdout, 1), "virtd \(py[0].stdout)\nlibvirtd \(py[1].stdout)")
        #expect(py[0].stdout.contains("RFB 003.008"), "\(py[0].stdout)")

        // The group went with the client that passed it: a new session cannot start the domain again.
        same(try sides.map { try virsh($0.uri, "destroy \($0.name); start \($0.name)") }, "start after the client left")

        // qemu-attach and lxc-enter-namespace: the QEMU driver has neither.
        let foreign = "qemu-attach 1; lxc-enter-namespace NAME -- /bin/true; lxc-enter-namespace NAME --noseclabel /bin/true"
        same(try sides.map { try virsh($0.uri, foreign.replacingOccurrences(of: "NAME", with: $0.name)) }, "foreign")
        let vshForeign = try ours.virsh(args: [foreign.replacingOccurrences(of: "NAME", with: sides[0].name)],
                                        client: TestPaths.vsh)
        let virshForeign = try ours.virsh(foreign.replacingOccurrences(of: "NAME", with: sides[0].name))
        #expect(vshForeign.stderr == virshForeign.stderr && vshForeign.status == virshForeign.status,
                "vsh \(vshForeign.stderr)\nvirsh \(virshForeign.stderr)")
    }
}
