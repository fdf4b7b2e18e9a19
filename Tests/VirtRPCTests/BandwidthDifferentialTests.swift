import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `<bandwidth>` applied with tc, the same session through virtd and through Debian's libvirtd 9.0, each daemon
/// in a network namespace of its own (created and deleted by the test) and a mount namespace in which
/// /usr/sbin/tc is a wrapper that logs every command line and runs the real tc. The kernels these tests run on
/// may lack the sfq qdisc, the fw classifier and the police action (this machine's does); while `stub` exists,
/// the wrapper answers success for a command the kernel refused for that reason only (and logs so), so that
/// both daemons go on through the same session. Compared after each step: virsh's status, stdout and stderr,
/// the tc command lines each daemon ran, and `tc qdisc/class/filter show` of the bridge and the taps.
final class BandwidthHosts {
    let dir: String
    let ns: String
    let refNS: String
    let virtd: RestartableVirtd
    let ref: ReferenceLibvirtd
    var refURI: String { "qemu+unix:///system?socket=\(ref.socket)" }
    let stubFile: String

    static func wrapper(log: String, real: String, stub: String) -> String {
        """
        #!/bin/sh
        echo "tc $*" >> '\(log)'
        out=$('\(real)' "$@" 2>&1); rc=$?
        if [ $rc -ne 0 ] && [ -e '\(stub)' ]; then
          case "$out" in *"kind is unknown"*|*"classifier not found"*|*"Failed to load TC action"*)
            echo "  (not in this kernel, answered 0)" >> '\(log)'; exit 0;; esac
        fi
        [ -n "$out" ] && echo "$out" >&2
        exit $rc
        """
    }

    init() throws {
        try TestHost.requireRoot()
        let tag = String(format: "%05d", Int.random(in: 0..<100_000))
        ns = "svbw\(tag)"
        refNS = "svbw\(tag)r"
        dir = try TestPaths.makeTempDir("bw", mode: 0o755)
        stubFile = dir + "/stub"
        try MigrationHosts.ip(["netns", "add", ns])
        do {
            try MigrationHosts.ip(["netns", "add", refNS])
            for n in [ns, refNS] { try MigrationHosts.ip(["-n", n, "link", "set", "lo", "up"]) }
            try FileManager.default.copyItem(atPath: "/usr/sbin/tc", toPath: dir + "/tc.real")
            FileManager.default.createFile(atPath: dir + "/stub", contents: Data())
            for who in ["ours", "theirs"] {
                let w = dir + "/tc-\(who).sh"
                try Self.wrapper(log: dir + "/tc-\(who).log", real: dir + "/tc.real", stub: dir + "/stub")
                    .write(toFile: w, atomically: true, encoding: .utf8)
                chmod(w, 0o755)
                FileManager.default.createFile(atPath: dir + "/tc-\(who).log", contents: Data())
            }
            // libvirtd logs QEMU's output to files (no virtlogd here), under a private /var/log/libvirt.
            try "stdio_handler = \"file\"\n".write(toFile: dir + "/qemu.conf", atomically: true, encoding: .utf8)
            virtd = try RestartableVirtd(prefix: [
                "/usr/sbin/ip", "netns", "exec", ns, "/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                "mount --bind '\(dir)/tc-ours.sh' /usr/sbin/tc && exec \"$0\" \"$@\"",
            ])
        } catch {
            _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", ns], timeLimit: 30)
            _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", refNS], timeLimit: 30)
            throw error
        }
        do {
            ref = try ReferenceLibvirtd(
                privateDomainConfig: true,
                namespaceSetup: "mount -t tmpfs tmpfs /var/log/libvirt && mkdir -p /var/log/libvirt/qemu && "
                    + "mount --bind '\(dir)/qemu.conf' /etc/libvirt/qemu.conf && "
                    + "mount --bind '\(dir)/tc-theirs.sh' /usr/sbin/tc && ",
                prefix: ["/usr/sbin/ip", "netns", "exec", refNS])
        } catch {
            virtd.cleanup()
            _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", ns], timeLimit: 30)
            _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", refNS], timeLimit: 30)
            throw error
        }
    }

    /// The domains and networks of libvirtd destroyed (it leaves them running when it stops), its QEMUs killed
    /// if any is left, both daemons stopped, both namespaces and the directory deleted.
    func cleanup(domains: [String], networks: [String]) {
        for d in domains {
            _ = try? virsh(refURI, "destroy \(d)")
            for pid in ProcFS.qemuProcesses(whose: "cmdline", contains: "guest=\(d),") { kill(pid, SIGKILL) }
        }
        for n in networks { _ = try? virsh(refURI, "net-destroy \(n)") }
        ref.stop()
        virtd.cleanup()
        _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", ns], timeLimit: 30)
        _ = try? ChildProcess.run(["/usr/sbin/ip", "netns", "del", refNS], timeLimit: 30)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The tc command lines a daemon ran since the last call (the log is emptied).
    func takeLog(_ who: String) -> String {
        let path = dir + "/tc-\(who).log"
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        try? "".write(toFile: path, atomically: false, encoding: .utf8)
        return text
    }

    /// What tc shows of a device in a namespace: qdiscs, classes, filters and ingress filters. Kernel-chosen
    /// handles of noqueue qdiscs and packet counters are masked.
    func tcState(_ netns: String, _ dev: String) throws -> String {
        var out = ""
        for args in [["qdisc", "show", "dev", dev], ["class", "show", "dev", dev], ["filter", "show", "dev", dev],
                     ["filter", "show", "dev", dev, "parent", "ffff:"]] {
            let r = try ChildProcess.run(["/usr/sbin/ip", "netns", "exec", netns, dir + "/tc.real"] + args, timeLimit: 30)
            out += "$ tc \(args.joined(separator: " ")) [\(r.status)]\n\(r.stdout)\(r.stderr)"
        }
        for (pattern, with) in [("noqueue [0-9a-f]+:", "noqueue N:"), ("direct_packets_stat [0-9]+", "direct_packets_stat N")] {
            out = out.replacingOccurrences(of: pattern, with: with, options: .regularExpression)
        }
        return out
    }
}

@Suite("bandwidth with tc and domiftune: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct BandwidthDifferentialTests {
    static func networkXML(_ name: String, bridge: String) -> String {
        """
        <network><name>\(name)</name><bridge name='\(bridge)'/>\
        <bandwidth><inbound average='1000' peak='2000' burst='512'/><outbound average='500' peak='1000' burst='256'/></bandwidth>\
        <portgroup name='pg' default='yes'><bandwidth><inbound average='700' burst='70'/></bandwidth></portgroup>\
        </network>
        """
    }

    /// A KVM domain with no guest: a network interface with inbound and outbound QoS, one without (its
    /// network's default portgroup gives it one), a bridge
    /// interface with inbound only and an ethernet one (a tap of its own name) with outbound only.
    static func domainXML(_ name: String, network: String, bridge: String) -> String {
        """
        <domain type='kvm'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
        <interface type='network'><mac address='52:54:00:5b:00:01'/><source network='\(network)'/><model type='virtio'/>
        <bandwidth><inbound average='1000' peak='5000' burst='1024' floor='100'/><outbound average='128' peak='256' burst='256'/></bandwidth>
        </interface>
        <interface type='network'><mac address='52:54:00:5b:00:02'/><source network='\(network)'/><model type='virtio'/></interface>
        <interface type='bridge'><mac address='52:54:00:5b:00:03'/><source bridge='\(bridge)'/><model type='virtio'/>
        <bandwidth><inbound average='2000'/></bandwidth></interface>
        <interface type='ethernet'><mac address='52:54:00:5b:00:05'/><target dev='svbwe0'/><model type='virtio'/>
        <bandwidth><outbound average='900' burst='100'/></bandwidth></interface>
        </devices></domain>
        """
    }

    static func normalise(_ s: String) -> String {
        s.replacingOccurrences(of: "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", with: "UUID",
                               options: .regularExpression)
    }

    @Test("tc commands and state, domiftune get/set live and config, network QoS, and cleanup equal libvirtd's")
    func sameSession() throws {
        let tag = String(format: "%04d", Int.random(in: 0..<10_000))
        let net = "svbwn\(tag)", bridge = "svbwbr\(tag)", dom = "svbwd\(tag)"
        let h = try BandwidthHosts()
        defer { h.cleanup(domains: [dom], networks: [net, net + "b"]) }
        let netFile = h.dir + "/net.xml", net2File = h.dir + "/net2.xml", domFile = h.dir + "/dom.xml"
        try Self.networkXML(net, bridge: bridge).write(toFile: netFile, atomically: true, encoding: .utf8)
        try Self.networkXML(net + "b", bridge: bridge + "b").write(toFile: net2File, atomically: true, encoding: .utf8)
        try Self.domainXML(dom, network: net, bridge: bridge).write(toFile: domFile, atomically: true, encoding: .utf8)
        _ = h.takeLog("ours")
        _ = h.takeLog("theirs")

        var allTheirs = ""
        // After virtd's restart its tap names start again at vnet0 while libvirtd's go on: from then on tap names
        // are masked, and devices are named per daemon.
        var renamed = false
        func mask(_ s: String) -> String {
            let t = Self.normalise(s)
            return renamed ? t.replacingOccurrences(of: "vnet[0-9]+", with: "vnetN", options: .regularExpression) : t
        }
        /// One virsh command on both daemons (Debian's virsh on both; with `vsh`, our vsh on virtd too): its
        /// result, then the tc command lines each ran, then (for the devices named, or each pair of our and
        /// libvirtd's device) what tc shows, all equal.
        func step(_ args: [String], devices: [String] = [], pairs: [(String, String)] = [], vsh: Bool = false) throws {
            let what = "virsh " + args.joined(separator: " ")
            let ours = try h.virtd.virsh(args: args)
            let theirs = try ChildProcess.run(["/usr/bin/virsh", "-c", h.refURI] + args, timeLimit: 120)
            let expected = "\(theirs.status)\n\(mask(theirs.stdout))\(mask(theirs.stderr))"
            #expect("\(ours.status)\n\(mask(ours.stdout))\(mask(ours.stderr))" == expected, "\(what)")
            let theirLog = h.takeLog("theirs")
            allTheirs += theirLog
            #expect(mask(h.takeLog("ours")) == mask(theirLog), "tc commands of \(what)")
            for (d, r) in devices.map({ ($0, $0) }) + pairs {
                #expect(try mask(h.tcState(h.ns, d)) == mask(h.tcState(h.refNS, r)), "tc state of \(d) after \(what)")
            }
            if vsh {
                let mine = try h.virtd.virsh(args: args, client: TestPaths.vsh)
                #expect("\(mine.status)\n\(Self.normalise(mine.stdout))\(Self.normalise(mine.stderr))" == expected,
                        "vsh \(args.joined(separator: " "))")
                #expect(h.takeLog("ours").isEmpty || args.contains("--inbound") || args.contains("--outbound"))
            }
        }

        // The network's QoS on its bridge.
        try step(["net-create", netFile], devices: [bridge])
        // The domain's taps: noqueue everywhere, the QoS of the two interfaces that have one.
        try step(["define", domFile])
        try step(["start", dom], devices: ["vnet0", "vnet1", "vnet2", "svbwe0", bridge])
        try step(["net-port-list", net])
        try step(["domiflist", dom])
        // domiftune: the query, by name and by MAC, live and config, and libvirt's errors.
        for args in [[dom, "vnet0"], [dom, "52:54:00:5b:00:02"], [dom, "vnet2", "--live"],
                     [dom, "52:54:00:5b:00:01", "--config"], [dom, "vnet0", "--config"], [dom, "vnet9"],
                     [dom, "vnet0", "--live", "--config"]] {
            try step(["domiftune"] + args, vsh: true)
        }
        // Setting, live: a direction given replaces that direction, the other is kept; 0 clears it.
        let sets: [[String]] = [
            ["vnet1", "--inbound", "100", "--live"], ["vnet1"],
            ["vnet0", "--outbound", "300,400,500"], ["vnet0"],
            ["vnet0", "--inbound", "0", "--live"], ["vnet0"],
            ["vnet2", "--inbound", "64,128,32", "--outbound", "16"], ["vnet2"],
            ["52:54:00:5b:00:02", "--config", "--inbound", "10,20,30", "--outbound", "40"],
            ["52:54:00:5b:00:02", "--config"],
            ["52:54:00:5b:00:02", "--config", "--inbound", "0"], ["52:54:00:5b:00:02", "--config"],
            ["52:54:00:5b:00:01", "--live", "--config", "--outbound", "77"],
            ["52:54:00:5b:00:01", "--config"], ["52:54:00:5b:00:01", "--live"],
            ["vnet2", "--inbound", "0,0,0,7"],
            // Floors: a class per port on the network's bridge, class 1:2 keeps the rest; libvirt's overcommit check.
            ["vnet1", "--inbound", "100,0,0,300", "--live"], ["vnet1"], ["vnet1", "--inbound", "100,0,0,500"],
            ["vnet1", "--inbound", "0,0,0,5000"], ["vnet1", "--inbound", "0,0,0,200"], ["vnet1"],
            ["vnet1", "--inbound", "0"], ["vnet1", "--inbound", "0,0,0,250"], ["vnet1"],
            ["svbwe0", "--inbound", "50"], ["svbwe0"], ["svbwe0", "--outbound", "0"], ["svbwe0"],
            ["vnet1", "--inbound", "abc"], ["vnet1", "--inbound", "1,2,3,4,5"], ["vnet1", "--inbound", ",5"],
            ["vnet1", "--outbound", "1,2,3,4"], ["vnet1", "--outbound", ",,9"], ["vnet1", "--inbound", "5000000000"],
            ["vnet1", "--current", "--config"],
        ]
        for s in sets {
            // Queries and the refused ones through vsh too (a set through vsh would change the domain twice).
            let query = !s.contains("--inbound") && !s.contains("--outbound")
            let refused = ["abc", "1,2,3,4,5", ",5", "1,2,3,4", ",,9", "5000000000"].contains(s.last ?? "")
            try step(["domiftune", dom] + s, devices: s.count > 1 && !s.contains("--config") ? [s[0], bridge] : [],
                     vsh: query || refused)
        }
        // The network's ports: their bandwidth (the portgroup's where the interface has none) and classID.
        func portXMLs(_ run: (String) throws -> ChildProcess.Result) throws -> [String] {
            let uuids = try run("net-port-list \(net) --uuid").stdout.split(separator: "\n")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return try uuids.map { Self.normalise(try run("net-port-dumpxml \(net) \($0)").stdout) }.sorted()
        }
        let ourPorts = try portXMLs { try h.virtd.virsh($0) }
        let theirPorts = try portXMLs { try virsh(h.refURI, $0) }
        #expect(ourPorts == theirPorts)
        #expect(ourPorts.count == 2 && ourPorts.contains { $0.contains("<bandwidth classID='3'>") })

        // Hot-plug: the new tap gets the noqueue qdisc and its interface's QoS; unplugged, it goes.
        let nicFile = h.dir + "/nic.xml"
        try ("<interface type='network'><mac address='52:54:00:5b:00:04'/><source network='\(net)'/><model type='virtio'/>"
            + "<bandwidth><inbound average='300' burst='40' floor='50'/><outbound average='200'/></bandwidth></interface>")
            .write(toFile: nicFile, atomically: true, encoding: .utf8)
        try step(["attach-device", dom, nicFile, "--live"], devices: ["vnet3", bridge])
        try step(["domiftune", dom, "vnet3"], vsh: true)
        try step(["domiftune", dom, "vnet3", "--inbound", "0", "--outbound", "0"], devices: ["vnet3"])
        try step(["domiftune", dom, "vnet3"])
        // (No guest OS acknowledges the unplug: both daemons give up the same way and the NIC stays.)
        try step(["detach-device", dom, nicFile, "--live"])
        for d in ["vnet0", "vnet1", "vnet2", "svbwe0", bridge] {
            #expect(try h.tcState(h.ns, d) == h.tcState(h.refNS, d), "tc state of \(d) after the domiftune session")
        }
        // virtd killed and started again: it takes the running domain and network back with their shaping.
        h.virtd.kill9()
        try h.virtd.start()
        renamed = true
        try step(["domiftune", dom, "vnet1"], vsh: true)
        try step(["domiftune", dom, "vnet0", "--outbound", "99", "--live"], devices: ["vnet0", bridge])

        // Stopped: the taps are gone with their qdiscs; the network keeps its QoS.
        try step(["destroy", dom], devices: ["vnet0", "vnet1", "vnet2", "vnet3", "svbwe0", bridge])
        try step(["domiftune", dom, "52:54:00:5b:00:01"])
        try step(["domiftune", dom, "52:54:00:5b:00:01", "--live"])
        for d in ["vnet0", "vnet1", "vnet2", "vnet3", "svbwe0"] {
            #expect(try h.tcState(h.ns, d).contains("Cannot find device"), "\(d) is gone")
        }

        // The kernel as it is (no stubbed answers): a live change and a start that need what the kernel may lack
        // fail (or succeed) alike, with the same clean-up.
        try step(["start", dom])
        try step(["domiftune", dom, "52:54:00:5b:00:02"])
        func taps(_ list: String) -> [String] {
            list.split(separator: "\n").dropFirst(2).compactMap { $0.split(separator: " ").first.map(String.init) }
        }
        let ourTaps = taps(try h.virtd.virsh("domiflist \(dom)").stdout)
        let theirTaps = taps(try virsh(h.refURI, "domiflist \(dom)").stdout)
        try #require(ourTaps.count == 4 && theirTaps.count == 4, "taps: \(ourTaps) \(theirTaps)")
        let pairs = Array(zip(ourTaps, theirTaps))
        let macs = ["52:54:00:5b:00:01", "52:54:00:5b:00:02", "52:54:00:5b:00:03"]
        unlink(h.stubFile)
        try step(["domiftune", dom, macs[1], "--inbound", "300", "--live"], pairs: [pairs[1]])
        try step(["domiftune", dom, macs[1]])
        try step(["domiftune", dom, macs[2], "--outbound", "300", "--live"], pairs: [pairs[2]])
        try step(["domiftune", dom, macs[2]])
        try step(["domiftune", dom, macs[0], "--inbound", "0", "--outbound", "0", "--live"], pairs: [pairs[0]])
        try step(["domiftune", dom, macs[0]])
        try step(["destroy", dom], devices: [bridge], pairs: pairs)
        try step(["start", dom], devices: [bridge])
        try step(["domstate", dom])
        try step(["net-destroy", net], devices: [bridge])

        // The session did shape: libvirtd ran the commands this test means to compare.
        for line in ["tc qdisc add dev \(bridge) root handle 1: htb default 2",
                     "tc class add dev \(bridge) parent 1: classid 1:1 htb rate 1000kbps ceil 2000kbps quantum 85",
                     "tc qdisc add dev vnet0 root handle 0: noqueue",
                     "tc class add dev vnet0 parent 1: classid 1:1 htb rate 1000kbps ceil 5000kbps burst 1024kb quantum 85",
                     "police rate 128kbps burst 256kb mtu 64kb drop flowid :1", "tc qdisc del dev vnet2 ingress",
                     "tc class add dev vnet1 parent 1: classid 1:1 htb rate 700kbps burst 70kb quantum 59",
                     "tc class add dev \(bridge) parent 1:1 classid 1:3 htb rate 100kbps ceil 2000kbps quantum 85",
                     "tc filter add dev \(bridge) protocol ip prio 2 handle 800::803 u32 match u16 0x0800 0xffff at -2 "
                        + "match u32 0x005b0002 0xffffffff at -12 match u16 0x5254 0xffff at -14 flowid 1:3",
                     "tc class change dev \(bridge) classid 1:2 htb rate", "tc class del dev \(bridge) classid 1:3"] {
            #expect(allTheirs.contains(line), "libvirtd ran \(line)")
        }

        // A network with QoS on the kernel as it is.
        try step(["net-create", net2File], devices: [bridge + "b"])
        _ = try? h.virtd.virsh("net-destroy \(net)b")
        _ = try? virsh(h.refURI, "net-destroy \(net)b")
    }
}
