import CSpawn
import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Resource control through cgroups (issue 11), virtd against Debian's libvirtd 9.0 on the same host: a running
/// KVM domain on each (no guest OS), Debian's virsh driving both with the same commands. Compared: the cgroup
/// directories under every controller while the domain runs (gone after destroy), `schedinfo`, `memtune` and
/// `blkiotune` before and after live and --config changes, out-of-range errors, the values in the cgroup
/// files, and the `<cputune>`/`<memtune>`/`<blkiotune>` of both XMLs. Then virtd is killed with SIGKILL and
/// restarted: it adopts the group (schedinfo reads and sets it) and destroy removes it.
@Suite("QEMU cgroups: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .kvm, .root, .referenceLibvirtd))
struct QEMUCgroupTests {
    static let controllers = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "unified"]

    static func xml(_ name: String) -> String {
        """
        <domain type='kvm'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>2</vcpu>
        <os><type arch='x86_64' machine='q35'>hvm</type></os><devices></devices></domain>
        """
    }

    /// Directories of the domain's group under each controller, relative to the controller's mount, with the
    /// machine name replaced by `qemu-N-NAME`.
    static func groupDirectories(_ name: String) -> [String] {
        var out: [String] = []
        for c in controllers {
            let machine = "/sys/fs/cgroup/\(c)/machine"
            let groups = ((try? FileManager.default.contentsOfDirectory(atPath: machine)) ?? []).filter {
                $0.hasPrefix("qemu-") && $0.hasSuffix("-\(name).libvirt-qemu")
            }
            for g in groups {
                out.append("\(c)/machine/qemu-N-NAME.libvirt-qemu")
                for sub in ((try? FileManager.default.contentsOfDirectory(atPath: machine + "/" + g)) ?? []).sorted() {
                    var st = stat()
                    if stat(machine + "/" + g + "/" + sub, &st) == 0, st.st_mode & S_IFMT == S_IFDIR {
                        out.append("\(c)/machine/qemu-N-NAME.libvirt-qemu/\(sub)")
                    }
                }
            }
        }
        return out.sorted()
    }

    /// virtd (placing QEMUs in cgroups) and libvirtd side by side, each running the domain `xml(name)` under a
    /// name of its own (the two daemons' groups share /machine). Clean-up stops both, then removes any group of
    /// ours a killed QEMU left.
    final class Pair {
        let ours: RestartableVirtd
        let ref: StatsReferenceLibvirtd
        let ourName: String, refName: String

        init(prefix: String, xml: (String) -> String) throws {
            let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 16)
            ourName = prefix + "o" + suffix
            refName = prefix + "r" + suffix
            ours = try RestartableVirtd(config: """
                cgroup_controllers = [ "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio" ]

                """)
            ref = try StatsReferenceLibvirtd()
            try xml(ourName).write(toFile: ours.dir + "/d.xml", atomically: true, encoding: .utf8)
            try xml(refName).write(toFile: ref.dir + "/d.xml", atomically: true, encoding: .utf8)
            let o = try ours.virsh("define \(ours.dir)/d.xml; start \(ourName)")
            let r = try virsh(ref.uri, "define \(ref.dir)/d.xml; start \(refName)")
            try #require(o.status == 0, "virtd start: \(o.stderr)")
            try #require(r.status == 0, "libvirtd start: \(r.stderr)")
        }

        func cleanup() {
            ours.cleanup()
            // libvirtd's QEMUs outlive libvirtd: destroyed first (harmless when a test already did).
            _ = try? virsh(ref.uri, "destroy \(refName)")
            ref.stop()
            QEMUCgroupTests.removeGroups(ourName)
        }

        deinit { cleanup() }
    }

    /// The per-device throttles are set on /dev/loop0 and /dev/loop1 (block devices; nothing is read or written).
    static func requireLoopDevices() throws {
        for p in ["/dev/loop0", "/dev/loop1"] {
            var st = stat()
            try #require(stat(p, &st) == 0 && st.st_mode & S_IFMT == S_IFBLK, "\(p) is not a block device here (loop module)")
        }
    }

    /// rmdir of the domain's groups (sub-groups first), for a clean-up after a failure.
    /// Whether the host's block layer can weigh I/O (a bfq or cfq scheduler is available): without, libvirt
    /// refuses a blkio weight ("blkio device weight is valid only for bfq or cfq scheduler"), and so do we.
    static let hostHasBlkioWeight: Bool = {
        let blocks = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []
        return blocks.contains { b in
            let text = (try? String(contentsOfFile: "/sys/block/\(b)/queue/scheduler", encoding: .utf8)) ?? ""
            return text.split(separator: " ").contains { $0.trimmingCharacters(in: CharacterSet(charactersIn: "[]\n")) == "bfq"
                || $0.trimmingCharacters(in: CharacterSet(charactersIn: "[]\n")) == "cfq" }
        }
    }()

    /// The weight file checks where the host has one.
    static var weightFiles: [(String, String)] { hostHasBlkioWeight ? [("blkio", "blkio.bfq.weight")] : [] }

    static func removeGroups(_ name: String) {
        for c in controllers {
            guard let g = group(c, name) else { continue }
            for sub in (try? FileManager.default.contentsOfDirectory(atPath: g)) ?? [] { rmdir(g + "/" + sub) }
            rmdir(g)
        }
    }

    /// The group's directory under a controller.
    static func group(_ controller: String, _ name: String) -> String? {
        let machine = "/sys/fs/cgroup/\(controller)/machine"
        return ((try? FileManager.default.contentsOfDirectory(atPath: machine)) ?? [])
            .first { $0.hasPrefix("qemu-") && $0.hasSuffix("-\(name).libvirt-qemu") }.map { machine + "/" + $0 }
    }

    static func file(_ controller: String, _ name: String, _ rel: String) -> String? {
        guard let g = group(controller, name) else { return nil }
        return (try? String(contentsOfFile: g + "/" + rel, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The machine name in messages (`qemu-1-NAME`) made neutral.
    static func neutral(_ s: String, _ name: String) -> String {
        s.replacingOccurrences(of: #"qemu-[0-9]+-\#(name)"#, with: "qemu-N-NAME", options: .regularExpression)
            .replacingOccurrences(of: name, with: "NAME")
    }

    /// One element of the XML (`<cputune>…</cputune>`), or "" when absent.
    static func section(_ xml: String, _ tag: String) -> String {
        guard let a = xml.range(of: "<\(tag)>") else { return "" }
        guard let b = xml.range(of: "</\(tag)>", range: a.upperBound..<xml.endIndex) else { return "" }
        return String(xml[a.lowerBound..<b.upperBound])
    }

    static let python = #"""
    import libvirt, sys, json
    c = libvirt.open(sys.argv[1])
    d = c.lookupByName(sys.argv[2])
    out = {}
    out['type'] = d.schedulerType()
    out['sched'] = d.schedulerParameters()
    out['schedLive'] = d.schedulerParametersFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE)
    out['schedConfig'] = d.schedulerParametersFlags(libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    out['mem'] = d.memoryParameters(0)
    out['memConfig'] = d.memoryParameters(libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    try:
        out['blkio'] = d.blkioParameters(0)
    except libvirt.libvirtError as e:
        out['blkio'] = [e.get_error_code(), e.get_error_domain(), e.get_error_message()]
    d.setSchedulerParameters({'cpu_shares': 1234})
    d.setSchedulerParametersFlags({'vcpu_period': 150000}, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    d.setSchedulerParametersFlags({'vcpu_period': 160000}, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    d.setMemoryParameters({'soft_limit': 400000}, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    d.setBlkioParameters({'weight': 250}, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    out['after'] = [d.schedulerParameters(), d.schedulerParametersFlags(libvirt.VIR_DOMAIN_AFFECT_CONFIG),
                    d.memoryParameters(0), d.memoryParameters(libvirt.VIR_DOMAIN_AFFECT_CONFIG),
                    d.blkioParameters(libvirt.VIR_DOMAIN_AFFECT_CONFIG)]
    for name, call in [('badShares', lambda: d.setSchedulerParameters({'cpu_shares': 1})),
                       ('badMem', lambda: d.setMemoryParameters({'min_guarantee': 5}, 0)),
                       ('badBlkio', lambda: d.setBlkioParameters({'device_weight': '/dev/x'}, 0)),
                       ('bothSched', lambda: d.setSchedulerParametersFlags({'cpu_shares': 5}, 3)),
                       ('bothFlags', lambda: d.memoryParameters(libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG))]:
        try:
            out[name] = ['ok', call()]
        except libvirt.libvirtError as e:
            out[name] = [e.get_error_code(), e.get_error_domain(), e.get_error_message()]
        except Exception as e:
            out[name] = ['python', type(e).__name__, str(e)]
    print(json.dumps(out, sort_keys=True))
    """#

    @Test("cgroup layout, schedinfo, memtune, blkiotune, files, XML and errors equal libvirtd's; reconnect adopts")
    func sameAsLibvirtd() throws {
        try TestHost.requireKVM()
        try Self.requireLoopDevices()
        let pair = try Pair(prefix: "cg", xml: Self.xml)
        defer { pair.cleanup() }
        let (ours, ref, ourName, refName) = (pair.ours, pair.ref, pair.ourName, pair.refName)

        // TUNABLE events, as virsh prints them, on both.
        let ourEvents = try VirshEventWatcher(uri: ours.uri, dir: ours.dir)
        defer { ourEvents.stop() }
        let refEvents = try VirshEventWatcher(uri: ref.uri, dir: ref.dir)
        defer { refEvents.stop() }

        // The groups while the domains run.
        let ourDirs = Self.groupDirectories(ourName), refDirs = Self.groupDirectories(refName)
        #expect(!refDirs.isEmpty)
        #expect(ourDirs == refDirs, "cgroup directories: virtd \(ourDirs) libvirtd \(refDirs)")
        // The device ACL: libvirt's BPF program on the v2 group (devices comes from cgroup v2 here).
        let ourProgs = Self.group("unified", ourName).map { swiftvirt_devcg_count($0) }
        let refProgs = Self.group("unified", refName).map { swiftvirt_devcg_count($0) }
        #expect(ourProgs == refProgs, "device programs: virtd \(ourProgs ?? -99) libvirtd \(refProgs ?? -99)")

        func same(_ command: String) throws {
            let o = try ours.virsh(command.replacingOccurrences(of: "DOM", with: ourName))
            let r = try virsh(ref.uri, command.replacingOccurrences(of: "DOM", with: refName))
            #expect(Self.neutral(o.stdout, ourName) == Self.neutral(r.stdout, refName), "stdout of '\(command)'")
            #expect(Self.neutral(o.stderr.replacingOccurrences(of: ours.dir, with: "DIR"), ourName)
                        == Self.neutral(r.stderr.replacingOccurrences(of: ref.dir, with: "DIR"), refName), "stderr of '\(command)'")
            #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)")
        }
        for c in [
            "schedinfo DOM", "schedinfo DOM --config", "memtune DOM", "memtune DOM --config", "blkiotune DOM",
            "schedinfo DOM --set cpu_shares=2048", "schedinfo DOM --set vcpu_quota=50000 --live",
            "schedinfo DOM --set emulator_period=200000 --set emulator_quota=30000",
            "schedinfo DOM --set global_quota=-5", "schedinfo DOM --set cpu_shares=1600 --config",
            "schedinfo DOM --set vcpu_period=500 --config", "schedinfo DOM --set cpu_shares=1",
            "schedinfo DOM --set cpu_shares=300000", "schedinfo DOM --set vcpu_quota=999", "schedinfo DOM --set foo=1",
            "schedinfo DOM --weight 10", "schedinfo DOM --set cpu_shares=abc", "schedinfo DOM --live",
            "schedinfo DOM --config",
            "memtune DOM --hard-limit 1048576", "memtune DOM --soft-limit 524288 --swap-hard-limit 2097152",
            "memtune DOM", "memtune DOM --hard-limit 1024 --config", "memtune DOM --config",
            "memtune DOM --swap-hard-limit 100", "memtune DOM --min-guarantee 100", "memtune DOM --hard-limit -1",
            "memtune DOM --hard-limit abc", "memtune DOM --live --config --hard-limit 5", "memtune DOM --config",
            "blkiotune DOM --weight 500", "blkiotune DOM", "blkiotune DOM --weight 300 --config",
            "blkiotune DOM --config", "blkiotune DOM --weight 1001", "blkiotune DOM --weight abc",
            "blkiotune DOM --device-weights /dev/nonexist,500 --config", "blkiotune DOM --config",
            "blkiotune DOM --device-read-iops-sec /dev/loop0,100",
            "blkiotune DOM --device-write-bytes-sec /dev/loop0,1000,/dev/loop1,2000", "blkiotune DOM",
        ] {
            try same(c)
        }
        try ourEvents.sync()
        try refEvents.sync()
        func tunables(_ text: String, _ name: String) -> [String] {
            Self.neutral(text, name).split(separator: "\n").filter { $0.hasPrefix("event 'tunable'") || $0.hasPrefix("\t") }
                .map(String.init)
        }
        let ot = tunables(ourEvents.text, ourName), rt = tunables(refEvents.text, refName)
        #expect(!rt.isEmpty)
        #expect(ot == rt, "TUNABLE events: virtd \(ot) libvirtd \(rt)")

        // Our vsh prints what Debian's virsh prints, on virtd.
        for c in ["schedinfo DOM", "schedinfo DOM --config", "schedinfo DOM --set cpu_shares=1",
                  "schedinfo DOM --set foo=1", "schedinfo DOM --set cpu_shares=x", "schedinfo DOM --live --config",
                  "memtune DOM", "memtune DOM --config", "memtune DOM --hard-limit 99999999999999999",
                  "memtune DOM --hard-limit abc", "memtune DOM --swap-hard-limit 100", "blkiotune DOM",
                  "blkiotune DOM --config", "blkiotune DOM --weight 0", "blkiotune DOM --weight 1001",
                  "schedinfo nosuch", "memtune nosuch"] {
            let command = c.replacingOccurrences(of: "DOM", with: ourName)
            let v = try ours.virsh(args: [command]), s = try ours.virsh(args: [command], client: TestPaths.vsh)
            #expect(s.stdout == v.stdout, "vsh stdout of '\(c)': \(s.stdout)")
            #expect(s.stderr == v.stderr, "vsh stderr of '\(c)': \(s.stderr)")
            #expect(s.status == v.status, "vsh status of '\(c)'")
        }

        // The values in the cgroup files.
        for (c, rel) in [("cpu", "cpu.shares"), ("cpu", "vcpu0/cpu.cfs_quota_us"), ("cpu", "vcpu1/cpu.cfs_quota_us"),
                         ("cpu", "emulator/cpu.cfs_period_us"), ("cpu", "emulator/cpu.cfs_quota_us"),
                         ("cpu", "cpu.cfs_quota_us"), ("memory", "memory.limit_in_bytes"),
                         ("memory", "memory.soft_limit_in_bytes"), ("memory", "memory.memsw.limit_in_bytes"),
                         ("blkio", "blkio.throttle.read_iops_device"),
                         ("blkio", "blkio.throttle.write_bps_device"), ("cpuset", "emulator/cpuset.cpus")] + Self.weightFiles {
            let o = Self.file(c, ourName, rel), r = Self.file(c, refName, rel)
            #expect(o != nil && o == r, "\(c)/\(rel): virtd \(o ?? "-") libvirtd \(r ?? "-")")
        }
        // domstats' cpu.time is the group's (cgroup v2 cpu.stat here, v1 cpuacct.usage elsewhere), as libvirt's.
        func usage() -> UInt64 {
            let text = Self.file("unified", ourName, "cpu.stat") ?? Self.file("cpuacct", ourName, "cpuacct.usage") ?? ""
            if let l = text.split(separator: "\n").first(where: { $0.hasPrefix("usage_usec ") }) {
                return (UInt64(l.split(separator: " ")[1]) ?? 0) * 1000
            }
            return UInt64(text) ?? 0
        }
        let before = usage()
        let st = try ours.virsh("domstats \(ourName) --cpu-total").stdout
        let after = usage()
        let time = st.split(separator: "\n").first { $0.contains("cpu.time=") }.flatMap { UInt64($0.split(separator: "=")[1]) }
        #expect(time.map { $0 >= before && $0 <= after } == true, "cpu.time \(time ?? 0) not in [\(before), \(after)]")

        // The XMLs, live and persistent.
        for inactive in ["", " --inactive"] {
            let o = try ours.virsh("dumpxml \(ourName)\(inactive)").stdout
            let r = try virsh(ref.uri, "dumpxml \(refName)\(inactive)").stdout
            for tag in ["cputune", "memtune", "blkiotune", "resource"] {
                #expect(Self.section(o, tag) == Self.section(r, tag), "<\(tag)> of dumpxml\(inactive)")
            }
        }

        // python3-libvirt: the same calls, values and errors on both daemons.
        try Self.python.write(toFile: ours.dir + "/cg.py", atomically: true, encoding: .utf8)
        let ourPy = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/cg.py", ours.uri, ourName], timeLimit: 120)
        let refPy = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/cg.py", ref.uri, refName], timeLimit: 120)
        #expect(ourPy.status == 0 && refPy.status == 0, "\(ourPy.stderr) \(refPy.stderr)")
        #expect(Self.neutral(ourPy.stdout, ourName) == Self.neutral(refPy.stdout, refName),
                "python3-libvirt:\n virtd    \(ourPy.stdout)\n libvirtd \(refPy.stdout)")

        // Reconnect: virtd killed and started again adopts the group.
        ours.kill9()
        try ours.start()
        let s = try ours.virsh("schedinfo \(ourName) --set cpu_shares=3000")
        #expect(s.status == 0, "schedinfo after restart: \(s.stderr)")
        #expect(s.stdout.contains("cpu_shares     : 3000"))
        #expect(Self.file("cpu", ourName, "cpu.shares") == "3000")
        let m = try ours.virsh("memtune \(ourName)")
        #expect(m.stdout.contains("hard_limit     : 1048576"), "memtune after restart: \(m.stdout) \(m.stderr)")

        // Destroy removes every group.
        let od = try ours.virsh("destroy \(ourName)"), rd = try virsh(ref.uri, "destroy \(refName)")
        #expect(od.status == 0 && rd.status == 0)
        #expect(Self.groupDirectories(ourName).isEmpty, "left after destroy: \(Self.groupDirectories(ourName))")
        #expect(Self.groupDirectories(refName).isEmpty)
        // Shut off: the persistent values.
        try same("schedinfo DOM")
        try same("memtune DOM")
        try same("blkiotune DOM")
        try same("schedinfo DOM --live")
    }

    /// The weight only where the host can weigh I/O (`tunablesAtStart` checks the refusal elsewhere).
    static func tunedXML(_ name: String) -> String { tunedXML(name, weight: hostHasBlkioWeight) }

    static func tunedXML(_ name: String, weight: Bool) -> String {
        """
        <domain type='kvm'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>2</vcpu>
        <cputune><shares>700</shares><period>200000</period><quota>40000</quota>
        <global_period>300000</global_period><global_quota>90000</global_quota>
        <emulator_period>50000</emulator_period><emulator_quota>10000</emulator_quota></cputune>
        <memtune><soft_limit unit='MiB'>1024</soft_limit></memtune>
        <blkiotune>\(weight ? "<weight>400</weight>" : "")<device><path>/dev/loop0</path><read_iops_sec>77</read_iops_sec></device></blkiotune>
        <os><type arch='x86_64' machine='q35'>hvm</type></os><devices></devices></domain>
        """
    }

    /// The values are consistent (a v1 child may not have more CPU than its parent: global 0.3 CPU, vCPUs and
    /// emulator 0.2 each). No hard_limit: libvirtd 9.0 then also sets QEMU's RLIMIT_MEMLOCK, which this
    /// machine's container refuses ("cannot limit locked memory").
    static func iothreadXML(_ name: String) -> String {
        """
        <domain type='kvm'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>1</vcpu><iothreads>2</iothreads>
        <cputune><iothread_period>100000</iothread_period><iothread_quota>50000</iothread_quota></cputune>
        <os><type arch='x86_64' machine='q35'>hvm</type></os><devices></devices></domain>
        """
    }

    @Test("IOThreads run in iothreadN groups (at start, added, deleted) with the IOThread bandwidth, as libvirtd's")
    func iothreadGroups() throws {
        try TestHost.requireKVM()
        let pair = try Pair(prefix: "io", xml: Self.iothreadXML)
        defer { pair.cleanup() }
        let (ours, ref, ourName, refName) = (pair.ours, pair.ref, pair.ourName, pair.refName)
        func compare(_ label: String, _ ids: [Int]) {
            let o = Self.groupDirectories(ourName), r = Self.groupDirectories(refName)
            #expect(o == r, "\(label): virtd \(o) libvirtd \(r)")
            for id in ids {
                #expect(o.contains("cpu/machine/qemu-N-NAME.libvirt-qemu/iothread\(id)"), "\(label): \(o)")
                for rel in ["iothread\(id)/cpu.cfs_period_us", "iothread\(id)/cpu.cfs_quota_us"] {
                    let a = Self.file("cpu", ourName, rel), b = Self.file("cpu", refName, rel)
                    #expect(a != nil && a == b, "\(label) \(rel): virtd \(a ?? "-") libvirtd \(b ?? "-")")
                }
                // The IOThread's thread is in its group (QEMU names its threads after the object).
                let tasks = Self.file("cpu", ourName, "iothread\(id)/tasks") ?? ""
                #expect(tasks.split(separator: "\n").count == 1, "\(label) iothread\(id)/tasks: \(tasks)")
            }
        }
        compare("at start", [1, 2])
        for (command, ids) in [("iothreadadd NAME 3", [1, 2, 3]),
                               ("schedinfo NAME --live --set iothread_quota=30000", [1, 2, 3]),
                               ("iothreaddel NAME 3", [1, 2]), ("schedinfo NAME", [1, 2])] {
            let o = try ours.virsh(command.replacingOccurrences(of: "NAME", with: ourName))
            let r = try virsh(ref.uri, command.replacingOccurrences(of: "NAME", with: refName))
            #expect(o.stdout == r.stdout && o.stderr == r.stderr && o.status == r.status,
                    "'\(command)': virtd \(o.stdout)\(o.stderr) libvirtd \(r.stdout)\(r.stderr)")
            compare(command, ids)
        }
        #expect(Self.file("cpu", ourName, "iothread1/cpu.cfs_quota_us") == "30000")
    }

    @Test("<cputune>, <memtune> and <blkiotune> of the XML reach the cgroup files at start, as libvirtd's")
    func tunablesAtStart() throws {
        try TestHost.requireKVM()
        try Self.requireLoopDevices()
        let pair = try Pair(prefix: "ct", xml: Self.tunedXML)
        defer { pair.cleanup() }
        let (ours, ref, ourName, refName) = (pair.ours, pair.ref, pair.ourName, pair.refName)
        for (c, rel) in [("cpu", "cpu.shares"), ("cpu", "cpu.cfs_period_us"), ("cpu", "cpu.cfs_quota_us"),
                         ("cpu", "vcpu0/cpu.cfs_period_us"), ("cpu", "vcpu1/cpu.cfs_quota_us"),
                         ("cpu", "emulator/cpu.cfs_period_us"), ("cpu", "emulator/cpu.cfs_quota_us"),
                         ("memory", "memory.soft_limit_in_bytes"),
                         ("blkio", "blkio.throttle.read_iops_device")] + Self.weightFiles {
            let o = Self.file(c, ourName, rel), r = Self.file(c, refName, rel)
            #expect(o != nil && o == r, "\(c)/\(rel): virtd \(o ?? "-") libvirtd \(r ?? "-")")
        }
        for c in ["schedinfo NAME", "memtune NAME", "blkiotune NAME", "schedinfo NAME --config", "memtune NAME --config",
                  "blkiotune NAME --config"] {
            let o = try ours.virsh(c.replacingOccurrences(of: "NAME", with: ourName))
            let r = try virsh(ref.uri, c.replacingOccurrences(of: "NAME", with: refName))
            #expect(o.stdout == r.stdout && o.stderr == r.stderr, "'\(c)': virtd \(o.stdout)\(o.stderr) libvirtd \(r.stdout)\(r.stderr)")
        }
        for inactive in ["", " --inactive"] {
            let o = try ours.virsh("dumpxml \(ourName)\(inactive)").stdout
            let r = try virsh(ref.uri, "dumpxml \(refName)\(inactive)").stdout
            for tag in ["cputune", "memtune", "blkiotune"] {
                #expect(Self.section(o, tag) == Self.section(r, tag), "<\(tag)> of dumpxml\(inactive)")
            }
        }
        #expect(try ours.virsh("destroy \(ourName)").status == 0)
        #expect(try virsh(ref.uri, "destroy \(refName)").status == 0)
        #expect(Self.groupDirectories(ourName).isEmpty)
        if !Self.hostHasBlkioWeight {
            // A weight on a host that cannot weigh I/O: the start fails alike on both, and leaves no group.
            try Self.tunedXML(ourName + "w", weight: true).write(toFile: ours.dir + "/w.xml", atomically: true,
                                                                  encoding: .utf8)
            try Self.tunedXML(refName + "w", weight: true).write(toFile: ref.dir + "/w.xml", atomically: true,
                                                                  encoding: .utf8)
            let o = try ours.virsh("create \(ours.dir)/w.xml")
            let r = try virsh(ref.uri, "create \(ref.dir)/w.xml")
            #expect(o.status != 0 && o.status == r.status, "create with a weight: virtd \(o.status) libvirtd \(r.status)")
            #expect(Self.neutral(o.stderr.replacingOccurrences(of: ours.dir, with: "DIR"), ourName)
                        == Self.neutral(r.stderr.replacingOccurrences(of: ref.dir, with: "DIR"), refName),
                    "create with a weight:\n virtd    \(o.stderr)\n libvirtd \(r.stderr)")
            #expect(o.stderr.contains("blkio device weight is valid only for bfq or cfq scheduler"), "\(o.stderr)")
            #expect(Self.groupDirectories(ourName + "w").isEmpty)
            _ = try? virsh(ref.uri, "destroy \(refName)w")
        }
    }


    @Test("a block device hot-plugged into a domain in its cgroup passes the device ACL (virtd and libvirtd alike)")
    func blockHotplugThroughDeviceACL() throws {
        try TestHost.requireKVM()
        try Self.requireLoopDevices()
        let dir = try TestPaths.makeTempDir("cgblk", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #require(FileManager.default.createFile(atPath: dir + "/disk.img", contents: Data(count: 8 << 20)))
        let lo = try ChildProcess.run(["/usr/sbin/losetup", "-f", "--show", dir + "/disk.img"], timeLimit: 30)
        try #require(lo.status == 0, "losetup: \(lo.stderr)")
        let dev = lo.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? ChildProcess.run(["/usr/sbin/losetup", "-d", dev], timeLimit: 30) }
        let pair = try Pair(prefix: "cb", xml: Self.xml)
        defer { pair.cleanup() }
        // Read-only, so both QEMUs may hold the device at once (QEMU's image locks).
        let attach = "attach-disk DOM \(dev) vdb --sourcetype block --targetbus virtio --mode readonly --live; domblklist DOM"
        let o = try pair.ours.virsh(attach.replacingOccurrences(of: "DOM", with: pair.ourName))
        let r = try virsh(pair.ref.uri, attach.replacingOccurrences(of: "DOM", with: pair.refName))
        #expect(r.status == 0, "libvirtd: \(r.stderr)")
        #expect(o.status == 0, "virtd: \(o.stderr)")
        #expect(o.stdout == r.stdout, "virtd:\n\(o.stdout)\nlibvirtd:\n\(r.stdout)")
        #expect(o.stdout.contains("vdb") && o.stdout.contains(dev))
        // The group's device program was replaced, not stacked: still one, as libvirtd's.
        let ourProgs = Self.group("unified", pair.ourName).map { swiftvirt_devcg_count($0) }
        let refProgs = Self.group("unified", pair.refName).map { swiftvirt_devcg_count($0) }
        #expect(ourProgs == refProgs, "device programs: virtd \(ourProgs ?? -99) libvirtd \(refProgs ?? -99)")
    }
}
