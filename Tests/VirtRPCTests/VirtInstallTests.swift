import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Debian's libvirtd 9.0 able to run QEMU domains with networks, in a network namespace of the test: under
/// `tini -s` in a private mount namespace (its own /run/libvirt, /var/lib/libvirt, /etc/libvirt/qemu and
/// /etc/libvirt/storage: no definitions leak to the host) with virtlogd beside it. `stop()` destroys its
/// networks, kills the QEMUs and dnsmasqs it started (found in its namespace), ends virtlogd and libvirtd by
/// their pid files and removes the directory.
final class NetReferenceLibvirtd {
    let dir: String
    let ns: String
    private var process: ChildProcess?
    var uri: String { "qemu+unix:///system?socket=\(dir)/libvirt-sock" }

    init(ns: String) throws {
        self.ns = ns
        dir = try TestPaths.makeTempDir("vl", mode: 0o755)
        try ReferenceLibvirtd.writeConfig(dir: dir)
        let inner = "mkdir -p -m 0755 /run/libvirt && mount -t tmpfs tmpfs /run/libvirt && "
            + "mount -t tmpfs tmpfs /var/lib/libvirt && mount -t tmpfs tmpfs /etc/libvirt/qemu && "
            + "mkdir -p /etc/libvirt/storage && mount -t tmpfs tmpfs /etc/libvirt/storage && "
            + "exec /usr/bin/tini -s -- /bin/sh -c "
            + "\"/usr/sbin/virtlogd -p '\(dir)/virtlogd.pid' & exec /usr/sbin/libvirtd -f '\(dir)/libvirtd.conf' -p '\(dir)/pid'\""
        process = try ChildProcess.spawn(["/usr/sbin/ip", "netns", "exec", ns, "/usr/bin/unshare", "-m", "--propagation",
                                          "private", "/bin/sh", "-c", inner], output: .file(dir + "/stderr.log"))
        guard waitFor(path: dir + "/libvirt-sock"), waitFor(path: dir + "/pid"),
              waitFor(path: dir + "/virtlogd.pid") else {
            let log = (try? String(contentsOfFile: dir + "/stderr.log", encoding: .utf8)) ?? ""
            stop()
            throw DaemonError.notStarted("libvirtd: \(log)")
        }
    }

    private func pid(_ file: String) -> Int32? {
        Int32((try? String(contentsOfFile: dir + "/" + file, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
    }

    func stop() {
        guard let proc = process else { return }
        process = nil
        // libvirtd leaves its networks (and their dnsmasq) running when it stops: destroyed first.
        let names = ((try? virsh(uri, "net-list --name").stdout) ?? "").split(separator: "\n")
        for n in names where !n.trimmingCharacters(in: .whitespaces).isEmpty { _ = try? virsh(uri, "net-destroy \(n)") }
        for q in ProcFS.qemuProcesses(whose: "cmdline", contains: dir + "/") { kill(q, SIGKILL) }
        // What is left in our namespace that libvirtd started: dnsmasq (checked by its command line).
        let inNS = (try? ChildProcess.run(["/usr/sbin/ip", "netns", "pids", ns], timeLimit: 30).stdout) ?? ""
        for p in inNS.split(separator: "\n").compactMap({ Int32($0) }) where NetworkNamespaces.runsDnsmasq(p) {
            kill(p, SIGKILL)
        }
        if let v = pid("virtlogd.pid") { ProcFS.kill(v, SIGTERM, ifExecutable: "virtlogd") }
        proc.terminate(signalPID: pid("pid"))
        try? FileManager.default.removeItem(atPath: dir)
    }

    deinit { stop() }
}

/// virtd and the reference libvirtd side by side, each in a network namespace of the test, each with a NAT
/// network `default` (192.168.122.0/24, bridge virbr0: the namespaces keep them apart), a dir pool `default` in
/// a directory of the test, and the test guest's kernel and initrd in a 0755 directory (libvirtd's QEMU runs as
/// libvirt-qemu). `cleanup()` stops both daemons (the QEMUs and dnsmasqs they started) and deletes both
/// namespaces.
final class VirtInstallHosts {
    let ns: String
    let refNS: String
    let guest: TestGuest
    private(set) var ours: RestartableVirtd!
    private(set) var ref: NetReferenceLibvirtd!
    /// The test's directory on each side: DIR/pool (the pool), DIR/imgs (images given by path), DIR/guest.
    private(set) var ourDir = ""
    private(set) var refDir = ""

    static let networkXML = """
    <network><name>default</name><forward mode='nat'/><bridge name='virbr0'/>\
    <ip address='192.168.122.1' netmask='255.255.255.0'><dhcp><range start='192.168.122.2' end='192.168.122.254'/>\
    </dhcp></ip></network>
    """

    init() throws {
        try TestHost.requireRoot()
        guest = try TestGuest.load(format: 5)
        let tag = String(format: "%05d", Int.random(in: 0..<100_000))
        ns = "svi\(tag)"
        refNS = "svi\(tag)r"
        do {
            for n in [ns, refNS] {
                try MigrationHosts.ip(["netns", "add", n])
                try MigrationHosts.ip(["-n", n, "link", "set", "lo", "up"])
            }
            ours = try RestartableVirtd(prefix: ["/usr/sbin/ip", "netns", "exec", ns])
            ref = try NetReferenceLibvirtd(ns: refNS)
            ourDir = try TestPaths.makeTempDir("vio", mode: 0o755)
            refDir = try TestPaths.makeTempDir("vir", mode: 0o755)
            for (d, uri) in [(ourDir, ours.uri), (refDir, ref.uri)] {
                for sub in ["pool", "imgs", "guest"] {
                    try FileManager.default.createDirectory(atPath: d + "/" + sub, withIntermediateDirectories: true)
                    chmod(d + "/" + sub, 0o755)
                }
                for (from, to) in [(guest.kernel, "vmlinuz"), (guest.initrd, "initrd.img")] {
                    try FileManager.default.copyItem(atPath: from, toPath: d + "/guest/" + to)
                    chmod(d + "/guest/" + to, 0o644)
                }
                try Self.networkXML.write(toFile: d + "/net.xml", atomically: true, encoding: .utf8)
                for cmd in ["net-define \(d)/net.xml", "net-start default", "pool-define-as default dir --target \(d)/pool",
                            "pool-start default"] {
                    let r = try virsh(uri, cmd)
                    guard r.status == 0 else { throw DaemonError.notStarted("\(cmd): \(r.stderr)") }
                }
            }
        } catch {
            cleanup()
            throw error
        }
    }

    func cleanup() {
        // libvirtd leaves its QEMUs running when it stops: destroyed through it first.
        if let ref {
            let names = ((try? virsh(ref.uri, "list --name").stdout) ?? "").split(separator: "\n")
            for n in names where !n.trimmingCharacters(in: .whitespaces).isEmpty { _ = try? virsh(ref.uri, "destroy \(n)") }
        }
        ref?.stop()
        // Our dnsmasq runs apart from virtd: ended by its pid file's PID (checked to be dnsmasq), before the
        // daemon's directory goes.
        if let ours {
            let dnsDir = ours.dir + "/run/networks/dnsmasq"
            for f in (try? FileManager.default.contentsOfDirectory(atPath: dnsDir)) ?? [] where f.hasSuffix(".pid") {
                if let s = try? String(contentsOfFile: dnsDir + "/" + f, encoding: .utf8),
                   let pid = Int32(s.trimmingCharacters(in: .whitespacesAndNewlines)),
                   NetworkNamespaces.runsDnsmasq(pid) {
                    kill(pid, SIGKILL)
                }
            }
        }
        ours?.cleanup()
        // The QEMUs of both daemons, found by the test directories their command lines name (kernel, images).
        for d in [ourDir, refDir] where !d.isEmpty {
            for q in ProcFS.qemuProcesses(whose: "cmdline", contains: d + "/") { kill(q, SIGKILL) }
        }
        for n in [ns, refNS] { _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", n], timeLimit: 30) }
        for d in [ourDir, refDir] where !d.isEmpty { try? FileManager.default.removeItem(atPath: d) }
    }

    deinit { cleanup() }

    /// The virt-install arguments of the test guest (TCG, 128 MiB, serial console, direct kernel boot).
    static func installArgs(uri: String, dir: String, guest: TestGuest, name: String, disk: String,
                            network: String) -> [String] {
        ["/usr/bin/virt-install", "--connect", uri, "--name", name, "--memory", "128", "--vcpus", "1", "--import",
         "--disk", disk, "--network", network, "--osinfo", "detect=on,require=off", "--noautoconsole",
         "--graphics", "none", "--virt-type", "qemu",
         "--boot", "kernel=\(dir)/guest/vmlinuz,initrd=\(dir)/guest/initrd.img,kernel_args=\(guest.cmdline)"]
    }

    /// The same command (argument vector built for each side) on both; returns (ours, theirs).
    func both(_ argv: (String, String) -> [String], timeout: Double = 180) throws
        -> (ChildProcess.Result, ChildProcess.Result) {
        let a = try ChildProcess.run(argv(ours.uri, ourDir), timeLimit: timeout)
        let b = try ChildProcess.run(argv(ref.uri, refDir), timeLimit: timeout)
        return (a, b)
    }

    /// Text with what differs by nature replaced: the test directories, UUIDs, generated MACs, pty numbers,
    /// domain ids, and the tap names.
    func normalise(_ s: String) -> String {
        var t = s.replacingOccurrences(of: ourDir, with: "DIR").replacingOccurrences(of: refDir, with: "DIR")
        for (pattern, with) in [("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID"),
                                ("52:54:00(:[0-9a-f]{2}){3}", "MAC"), ("/dev/pts/[0-9]+", "/dev/pts/N"),
                                ("<domain type='qemu' id='[0-9]+'>", "<domain type='qemu' id='N'>")] {
            t = t.replacingOccurrences(of: pattern, with: with, options: .regularExpression)
        }
        return t
    }
}

/// Debian's virtinst tools, unchanged, through virtd and through Debian's libvirtd 9.0 side by side:
/// virt-install --import with a new volume in the pool (`--disk size=1`) and with an image given by path
/// (virt-install makes a pool of its directory), `--network network=default`; virt-clone --auto-clone (the
/// volume cloned in the pool); virt-xml --edit, --add-device and --remove-device. Exit statuses, the defined
/// XML (UUIDs, MACs and directories masked) and the pools and volumes agree; the guest virtd started boots and
/// gets a lease from our dnsmasq. A second test hot-plugs NICs of type network and bridge into running guests
/// on both daemons (attach-interface, attach-device, detach-interface): virsh's output and the live XML agree,
/// our tap is on the bridge and gone after the unplug, and our guest sees the new NIC and leases an address on it.
@Suite("virt-install, virt-clone, virt-xml and NIC hotplug: virtd vs libvirtd 9.0", .serialized,
       .tags(.qemu, .root, .referenceLibvirtd))
struct VirtInstallTests {
    /// The live XML of a domain minus what libvirtd 9.0 adds at start that virtd does not write yet (README
    /// says so: the CPU features QEMU enabled) and libvirtd's DAC label (its QEMU runs as libvirt-qemu, ours as
    /// root). The network port ids are compared as present (their values are masked with the other UUIDs).
    static func liveComparable(_ xml: String) -> String {
        var t = xml.replacingOccurrences(of: "(?s)\\n  <seclabel type='dynamic' model='dac' relabel='yes'>.*?</seclabel>",
                                         with: "", options: .regularExpression)
        t = t.replacingOccurrences(of: "(?s)<cpu mode='custom' match='exact' check='[a-z]+'>.*?</cpu>", with: "<cpu/>",
                                   options: .regularExpression)
        return t
    }

    @Test("virt-install (new volume and image by path), virt-clone --auto-clone and virt-xml agree with libvirtd; the guest boots")
    func installCloneEdit() throws {
        let h = try VirtInstallHosts()
        defer { h.cleanup() }
        let g = h.guest

        // 1. virt-install with a new 1 GiB volume in the pool 'default' and a NIC on the network 'default'.
        var (a, b) = try h.both { uri, dir in
            VirtInstallHosts.installArgs(uri: uri, dir: dir, guest: g, name: "vi1", disk: "size=1",
                                         network: "network=default,model=virtio")
        }
        #expect(a.status == 0 && b.status == 0, "ours: \(a.stderr)\ntheirs: \(b.stderr)")
        #expect(h.normalise(a.stdout + a.stderr) == h.normalise(b.stdout + b.stderr))
        for args in [["dumpxml", "--inactive", "vi1"], ["vol-list", "default"], ["domstate", "vi1"],
                     ["domiflist", "vi1"], ["domblklist", "vi1"]] {
            (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri] + args }
            #expect(a.status == b.status && h.normalise(a.stdout) == h.normalise(b.stdout), "virsh \(args)")
        }
        (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri, "dumpxml", "vi1"] }
        let live = (Self.liveComparable(h.normalise(a.stdout)), Self.liveComparable(h.normalise(b.stdout)))
        #expect(live.0 == live.1)
        #expect(a.stdout.contains(/<source network='default' portid='[0-9a-f-]{36}' bridge='virbr0'\/>/), "\(a.stdout)")
        let mac = try #require(a.stdout.firstMatch(of: /<mac address='([0-9a-f:]+)'\/>/).map { String($0.1) })

        // Our guest boots and leases an address on its NIC from our dnsmasq.
        #expect(try GuestConsole.answers(uri: h.ours.uri, name: "vi1", dir: h.ourDir))
        var leases = ""
        #expect(eventually(120) {
            leases = (try? h.ours.virsh("net-dhcp-leases default").stdout) ?? ""
            return leases.contains(mac) && leases.contains("192.168.122.")
        }, "\(leases)")

        // 2. virt-install with an image given by path: virt-install makes a pool of its directory.
        for d in [h.ourDir, h.refDir] {
            let r = try ChildProcess.run(["/usr/bin/qemu-img", "create", "-f", "raw", d + "/imgs/d2.img", "64M"])
            #expect(r.status == 0)
        }
        (a, b) = try h.both { uri, dir in
            VirtInstallHosts.installArgs(uri: uri, dir: dir, guest: g, name: "vi2", disk: "path=\(dir)/imgs/d2.img",
                                         network: "network=default")
        }
        #expect(a.status == 0 && b.status == 0, "ours: \(a.stderr)\ntheirs: \(b.stderr)")
        for args in [["dumpxml", "--inactive", "vi2"], ["pool-list", "--all"], ["pool-dumpxml", "imgs"],
                     ["vol-list", "imgs"], ["list", "--all"]] {
            (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri] + args }
            let o = Self.poolComparable(h.normalise(a.stdout)), t = Self.poolComparable(h.normalise(b.stdout))
            #expect(a.status == b.status && o == t, "virsh \(args)")
        }

        // 3. virt-clone --auto-clone of the stopped vi1: a new domain and its volume cloned in the pool.
        (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri, "destroy", "vi1"] }
        #expect(a.status == 0 && b.status == 0)
        (a, b) = try h.both { uri, _ in ["/usr/bin/virt-clone", "--connect", uri, "--original", "vi1", "--auto-clone"] }
        #expect(a.status == 0 && b.status == 0, "ours: \(a.stderr)\ntheirs: \(b.stderr)")
        #expect(h.normalise(a.stdout + a.stderr) == h.normalise(b.stdout + b.stderr))
        for args in [["dumpxml", "--inactive", "vi1-clone"], ["vol-list", "default"], ["list", "--all"],
                     ["vol-info", "--pool", "default", "vi1-clone.qcow2"]] {
            (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri] + args }
            #expect(a.status == b.status && h.normalise(a.stdout) == h.normalise(b.stdout), "virsh \(args)")
        }
        let info = try ChildProcess.run(["/usr/bin/qemu-img", "info", "--output=json", h.ourDir + "/pool/vi1-clone.qcow2"])
        #expect(info.stdout.contains("\"format\": \"qcow2\""), "\(info.stdout)")

        // 4. virt-xml: memory edited, a NIC added, then removed; and an error both print alike.
        let edits: [[String]] = [
            ["vi1-clone", "--edit", "--memory", "256"],
            ["vi1-clone", "--add-device", "--network", "network=default,model=virtio"],
            ["vi1-clone", "--remove-device", "--network", "1"],
            ["vi1-clone", "--edit", "--vcpus", "2"],
            ["nosuch", "--edit", "--memory", "256"],
        ]
        for e in edits {
            (a, b) = try h.both { uri, _ in ["/usr/bin/virt-xml", "--connect", uri] + e }
            #expect(a.status == b.status, "virt-xml \(e): \(a.stderr) vs \(b.stderr)")
            #expect(h.normalise(a.stdout + a.stderr) == h.normalise(b.stdout + b.stderr), "virt-xml \(e)")
            (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri, "dumpxml", "--inactive", "vi1-clone"] }
            #expect(h.normalise(a.stdout) == h.normalise(b.stdout), "after virt-xml \(e)")
        }
        #expect(a.stdout.contains("<memory unit='KiB'>262144</memory>"))

        // 5. The clone starts and boots.
        (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri, "start", "vi1-clone"] }
        #expect(a.status == 0 && b.status == 0, "ours: \(a.stderr)\ntheirs: \(b.stderr)")
        #expect(try GuestConsole.answers(uri: h.ours.uri, name: "vi1-clone", dir: h.ourDir))
    }

    /// A pool's XML minus its sizes (the two file systems differ).
    static func poolComparable(_ s: String) -> String {
        s.replacingOccurrences(of: "<(capacity|allocation|available) unit='bytes'>[0-9]+<", with: "<$1 unit='bytes'>N<",
                               options: .regularExpression)
    }

    static func domainXML(dir: String, cmdline: String) -> String {
        """
        <domain type='qemu'>
          <name>hp</name>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type><kernel>\(dir)/guest/vmlinuz</kernel>\
        <initrd>\(dir)/guest/initrd.img</initrd><cmdline>\(cmdline)</cmdline></os>
          <features><acpi/></features>
          <devices>
            <serial type='pty'/><console type='pty'/>
            <memballoon model='none'/>
          </devices>
        </domain>
        """
    }

    /// The interface lines of a domain XML (type, MAC, source, target, model, alias, address).
    static func interfaceLines(_ xml: String) -> [String] {
        guard let start = xml.range(of: "<interface"), let end = xml.range(of: "</interface>", options: .backwards) else {
            return []
        }
        return xml[start.lowerBound..<end.upperBound].split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }

    @Test("attach-interface and attach-device of network and bridge NICs, detach-interface: virsh and live XML agree; the guest sees the NIC and leases an address")
    func nicHotplug() throws {
        let h = try VirtInstallHosts()
        defer { h.cleanup() }
        for (d, uri) in [(h.ourDir, h.ours.uri), (h.refDir, h.ref.uri)] {
            try Self.domainXML(dir: d, cmdline: h.guest.cmdline).write(toFile: d + "/hp.xml", atomically: true,
                                                                        encoding: .utf8)
            try """
            <interface type='network'><mac address='52:54:00:7a:00:03'/><source network='default'/>\
            <model type='virtio'/></interface>
            """.write(toFile: d + "/nic.xml", atomically: true, encoding: .utf8)
            let r = try virsh(uri, "define \(d)/hp.xml; start hp")
            #expect(r.status == 0, "\(r.stderr)")
        }
        // Both guests up (ACPI hotplug needs the guest's kernel, and an unplug its answer).
        #expect(try GuestConsole.answers(uri: h.ours.uri, name: "hp", dir: h.ourDir))
        #expect(try GuestConsole.answers(uri: h.ref.uri, name: "hp", dir: h.refDir))

        let steps: [[String]] = [
            ["attach-interface", "hp", "network", "default", "--model", "virtio", "--mac", "52:54:00:7a:00:01"],
            ["attach-interface", "hp", "bridge", "virbr0", "--model", "virtio", "--mac", "52:54:00:7a:00:02", "--live"],
            ["attach-device", "hp", "DIR/nic.xml"],
            ["attach-interface", "hp", "network", "nosuch", "--model", "virtio"],
            ["attach-interface", "hp", "bridge", "nosuchbr", "--model", "virtio"],
            ["domiflist", "hp"],
        ]
        var a: ChildProcess.Result, b: ChildProcess.Result
        for step in steps {
            (a, b) = try h.both { uri, dir in
                ["/usr/bin/virsh", "-c", uri] + step.map { $0.replacingOccurrences(of: "DIR/", with: dir + "/") }
            }
            #expect(a.status == b.status, "virsh \(step): \(a.stderr) vs \(b.stderr)")
            #expect(h.normalise(a.stdout + a.stderr) == h.normalise(b.stdout + b.stderr), "virsh \(step)")
        }
        (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri, "dumpxml", "hp"] }
        #expect(Self.interfaceLines(Self.liveComparable(h.normalise(a.stdout)))
                == Self.interfaceLines(Self.liveComparable(h.normalise(b.stdout))))
        let ourLive = a.stdout
        (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri, "dumpxml", "--inactive", "hp"] }
        #expect(h.normalise(a.stdout) == h.normalise(b.stdout))
        #expect(!a.stdout.contains("<interface"))

        // Our taps: on the bridge, named as the live XML says.
        let taps = ourLive.matches(of: /<target dev='(vnet[0-9]+)'\/>/).map { String($0.1) }
        #expect(taps.count == 3, "\(ourLive)")
        for t in taps {
            let link = try ChildProcess.run(["/usr/sbin/ip", "-n", h.ns, "-o", "link", "show", "dev", t])
            #expect(link.status == 0 && link.stdout.contains("master virbr0"), "\(t): \(link.stdout) \(link.stderr)")
        }

        // The guest sees three NICs and leases an address on the first from our dnsmasq.
        #expect(try GuestConsole.run(uri: h.ours.uri, name: "hp", command: "echo NICS-$(ls /sys/class/net | tr '\\n' -)",
                                     expect: "NICS-eth0-eth1-eth2-lo-", dir: h.ourDir))
        try GuestConsole.type(uri: h.ours.uri, name: "hp",
                              command: "ip link set eth0 up; udhcpc -i eth0 -s /etc/udhcpc.script -f -t 5 -T 2 -A 2 >/dev/null 2>&1 &",
                              dir: h.ourDir)
        var leases = ""
        #expect(eventually(120) {
            leases = (try? h.ours.virsh("net-dhcp-leases default").stdout) ?? ""
            return leases.contains("52:54:00:7a:00:01") && leases.contains("192.168.122.")
        }, "\(leases)")

        // Unplug: by MAC; the tap goes, the guest's NIC too.
        let unplug: [[String]] = [
            ["detach-interface", "hp", "network", "--mac", "52:54:00:7a:00:01"],
            ["detach-interface", "hp", "bridge", "--mac", "52:54:00:7a:00:02", "--live"],
            ["detach-interface", "hp", "bridge", "--mac", "52:54:00:7a:00:09"],
            ["domiflist", "hp"],
        ]
        for step in unplug {
            (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri] + step }
            #expect(a.status == b.status, "virsh \(step): \(a.stderr) vs \(b.stderr)")
            #expect(h.normalise(a.stdout + a.stderr) == h.normalise(b.stdout + b.stderr), "virsh \(step)")
        }
        (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri, "dumpxml", "hp"] }
        #expect(Self.interfaceLines(Self.liveComparable(h.normalise(a.stdout)))
                == Self.interfaceLines(Self.liveComparable(h.normalise(b.stdout))))
        let left = a.stdout.matches(of: /<target dev='(vnet[0-9]+)'\/>/).map { String($0.1) }
        #expect(left.count == 1, "\(a.stdout)")
        for t in taps {
            let gone = try ChildProcess.run(["/usr/sbin/ip", "-n", h.ns, "link", "show", "dev", t]).status != 0
            #expect(gone == !left.contains(t), "tap \(t)")
        }
        #expect(try GuestConsole.run(uri: h.ours.uri, name: "hp", command: "echo NICS-$(ls /sys/class/net | tr '\\n' -)",
                                     expect: "NICS-eth2-lo-", dir: h.ourDir))

        // vsh (over the wire) plugs and unplugs alike and prints what Debian's virsh prints on libvirtd.
        for step in [["attach-interface", "hp", "bridge", "virbr0", "--model", "virtio", "--mac", "52:54:00:7a:00:04"],
                     ["domiflist", "hp"], ["detach-interface", "hp", "bridge", "--mac", "52:54:00:7a:00:04"],
                     ["attach-interface", "hp", "network", "nosuch"], ["domiflist", "hp"]] {
            let mine = try h.ours.virsh(args: step, client: TestPaths.vsh)
            let theirs = try Self.plainVirsh(step, uri: h.ref.uri)
            #expect(mine.status == theirs.status, "vsh \(step): \(mine.stderr) vs \(theirs.stderr)")
            #expect(h.normalise(mine.stdout + mine.stderr) == h.normalise(theirs.stdout + theirs.stderr), "vsh \(step)")
        }

        // virt-xml --update: a NIC added to the definition and plugged into the running guest, then removed from
        // both (virt-xml matches the live NIC by the MAC of the persistent one).
        for e in [["hp", "--add-device", "--network", "network=default,model=virtio", "--update"],
                  ["hp", "--remove-device", "--network", "1", "--update"]] {
            (a, b) = try h.both { uri, _ in ["/usr/bin/virt-xml", "--connect", uri] + e }
            #expect(a.status == 0 && b.status == 0, "virt-xml \(e): \(a.stderr) vs \(b.stderr)")
            #expect(h.normalise(a.stdout + a.stderr) == h.normalise(b.stdout + b.stderr), "virt-xml \(e)")
            for args in [["domiflist", "hp"], ["dumpxml", "--inactive", "hp"]] {
                (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri] + args }
                #expect(h.normalise(a.stdout) == h.normalise(b.stdout), "virsh \(args) after virt-xml \(e)")
            }
        }

        // A disk plugged beside the NICs; then the whole live XML of both.
        for d in [h.ourDir, h.refDir] {
            let r = try ChildProcess.run(["/usr/bin/qemu-img", "create", "-f", "raw", d + "/imgs/hd.img", "16M"])
            #expect(r.status == 0)
            chmod(d + "/imgs/hd.img", 0o666)
        }
        (a, b) = try h.both { uri, dir in
            ["/usr/bin/virsh", "-c", uri, "attach-disk", "hp", dir + "/imgs/hd.img", "vdb", "--subdriver", "raw"]
        }
        #expect(a.status == 0 && b.status == 0 && h.normalise(a.stdout) == h.normalise(b.stdout),
                "attach-disk: \(a.stderr) vs \(b.stderr)")
        (a, b) = try h.both { uri, _ in ["/usr/bin/virsh", "-c", uri, "dumpxml", "hp"] }
        #expect(Self.liveComparable(h.normalise(a.stdout)) == Self.liveComparable(h.normalise(b.stdout)))
        #expect(a.stdout.contains("<backingStore/>"), "\(a.stdout)")
    }

    static func plainVirsh(_ args: [String], uri: String) throws -> ChildProcess.Result {
        try ChildProcess.run(["/usr/bin/virsh", "-c", uri] + args, timeLimit: 120)
    }
}
