import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The newest domain procedures on `qemu:///system`, virtd beside Debian's libvirtd 9.0: the same KVM domain
/// (no guest OS; each daemon's under a name of its own, since the two share the host's cgroup partition) driven
/// by Debian's virsh with the same commands, outputs compared with the names made neutral and only what changes
/// between two reads masked (CPU times, free page counts, perf counts, the seconds of domcontrol): domcontrol
/// (ok, occupied while QEMU is stopped with SIGSTOP under a monitor command, job during a save), domblkerror,
/// cpu-stats (totals from the cgroup; the per-CPU refusal of libvirt's cgroup v2 cpuacct), numatune (live through
/// the cpuset cgroup, whose `cpuset.mems` is checked, and --config), set-lifecycle-action, perf (perf_event_open on
/// QEMU, domstats --perf), domlaunchsecinfo, domhostname without an agent, send-process-signal, domrename (with
/// the autostart link and the renamed events), freepages and allocpages (only libvirt's validation errors: the
/// host's huge page pools are never changed), block and memory peeks (the raw disk's bytes, the BIOS's reset
/// vector), and python3-libvirt's flag and argument errors.
@Suite("newest domain procedures on QEMU: virtd vs libvirtd 9.0", .serialized,
       .tags(.qemu, .kvm, .root, .referenceLibvirtd))
struct QEMUNewProceduresTests {
    /// A KVM domain with a raw disk of its own (named after the domain, so the two QEMUs lock different files).
    static func xml(_ name: String, imageDir: String) -> String {
        let image = imageDir + "/\(name).img"
        FileManager.default.createFile(atPath: image, contents: nil)
        truncate(image, 8 << 20)
        chmod(image, 0o666)
        return """
        <domain type='kvm'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>2</vcpu>
        <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(image)'/>\
        <target dev='vda' bus='virtio'/></disk>
        <memballoon model='none'/></devices></domain>
        """
    }

    /// python3-libvirt's calls whose errors virsh does not show (flags, exclusive flags, page sizes).
    static let pythonCalls = #"""
    import libvirt, sys, json
    libvirt.registerErrorHandler(lambda a, b: None, None)
    c = libvirt.open(sys.argv[1])
    d = c.lookupByName(sys.argv[2])
    out = []
    for name, call in [
        ('hostname', lambda: d.hostname()),
        ('hostname lease', lambda: d.hostname(libvirt.VIR_DOMAIN_GET_HOSTNAME_LEASE)),
        ('hostname lease+agent', lambda: d.hostname(3)),
        ('hostname flags', lambda: d.hostname(4)),
        ('controlInfo', lambda: d.controlInfo()),
        ('controlInfo flags', lambda: d.controlInfo(1)),
        ('diskErrors', lambda: d.diskErrors()),
        ('launchSecurityInfo', lambda: d.launchSecurityInfo()),
        ('getCPUStats total keys', lambda: sorted(d.getCPUStats(True)[0].keys())),
        ('getCPUStats flags', lambda: d.getCPUStats(True, 1)),
        ('getCPUStats per cpu', lambda: d.getCPUStats(False)),
        ('blockPeek', lambda: d.blockPeek('vda', 4096, 16, 0).hex()),
        ('blockPeek end', lambda: d.blockPeek('vda', 8388600, 16, 0)),
        ('blockPeek nope', lambda: d.blockPeek('vdz', 0, 16, 0)),
        ('blockPeek flags', lambda: d.blockPeek('vda', 0, 16, 1)),
        ('memoryPeek physical', lambda: d.memoryPeek(0xffff0, 8, libvirt.VIR_MEMORY_PHYSICAL).hex()),
        ('memoryPeek virtual', lambda: d.memoryPeek(0xffff0, 8, libvirt.VIR_MEMORY_VIRTUAL).hex()),
        ('memoryPeek none', lambda: d.memoryPeek(0, 4, 0)),
        ('memoryPeek unknown', lambda: d.memoryPeek(0, 4, 4)),
        ('maxVcpus', lambda: d.maxVcpus()),
        ('setMaxMemory running', lambda: d.setMaxMemory(262144)),
        ('pool by target path', lambda: c.storagePoolLookupByTargetPath('/nonexistent//x/./y/')),
        ('numaParameters', lambda: d.numaParameters()),
        ('numaParameters config', lambda: d.numaParameters(libvirt.VIR_DOMAIN_AFFECT_CONFIG)),
        ('numaParameters flags', lambda: d.numaParameters(8)),
        ('numaParameters both', lambda: d.numaParameters(3)),
        ('setNumaParameters mode', lambda: d.setNumaParameters({'numa_mode': 7}, 0)),
        ('setNumaParameters flags', lambda: d.setNumaParameters({'numa_mode': 0}, 4)),
        ('perfEvents flags', lambda: d.perfEvents(8)),
        ('setPerfEvents flags', lambda: d.setPerfEvents({'cpu_clock': True}, 4)),
        ('setLifecycleAction type', lambda: d.setLifecycleAction(5, 0)),
        ('setLifecycleAction action', lambda: d.setLifecycleAction(0, 9)),
        ('setLifecycleAction coredump', lambda: d.setLifecycleAction(0, 4)),
        ('setLifecycleAction flags', lambda: d.setLifecycleAction(2, 0, 4)),
        ('rename flags', lambda: d.rename('x', 1)),
        ('rename running', lambda: d.rename('x', 0)),
        ('sendProcessSignal', lambda: d.sendProcessSignal(1, 0)),
        ('getFreePages', lambda: sorted(c.getFreePages([2048, 1048576], 0, 1)[0].items())),
        ('getFreePages all cells', lambda: sorted(c.getFreePages([2048], 0, 5).keys())),
        ('getFreePages host', lambda: sorted(c.getFreePages([2048], -1, 1).keys())),
        ('getFreePages cell', lambda: c.getFreePages([4], 7, 1)),
        ('getFreePages size', lambda: c.getFreePages([8], 0, 1)),
        ('getFreePages flags', lambda: c.getFreePages([4], 0, 1, 1)),
        ('allocPages system', lambda: c.allocPages({4: 1}, 0, 1, 0)),
        ('allocPages system host', lambda: c.allocPages({4: 1}, -1, 1, 0)),
        ('allocPages cell', lambda: c.allocPages({2048: 1}, 7, 1, 0)),
        ('allocPages size', lambda: c.allocPages({8: 1}, 0, 1, 0)),
        ('allocPages flags', lambda: c.allocPages({2048: 1}, 0, 1, 4)),
    ]:
        try:
            out.append([name, 'ok', call()])
        except libvirt.libvirtError as e:
            out.append([name, e.get_error_code(), e.get_error_domain(), e.get_error_message()])
    print(json.dumps(out, indent=1, sort_keys=True))
    """#

    /// Numbers that differ between two reads: times in seconds (cpu-stats), counts (perf, free 4 KiB pages),
    /// domcontrol's seconds.
    static func mask(_ s: String) -> String {
        s.replacingOccurrences(of: #"[0-9]+\.[0-9]+ seconds"#, with: "T seconds", options: .regularExpression)
            .replacingOccurrences(of: #"perf\.([a-z_]+)=[0-9]+"#, with: "perf.$1=N", options: .regularExpression)
            .replacingOccurrences(of: #"4KiB: [0-9]+"#, with: "4KiB: N", options: .regularExpression)
            .replacingOccurrences(of: #"\([0-9]+\.[0-9]+s\)"#, with: "(Ts)", options: .regularExpression)
            .replacingOccurrences(of: #"UUID: +[0-9a-f-]+"#, with: "UUID: U", options: .regularExpression)
    }

    /// The QEMU process of a domain (its `-name guest=NAME,` on the command line).
    static func qemuPID(_ name: String) -> pid_t? {
        ProcFS.qemuProcesses(whose: "cmdline", contains: "guest=\(name),").first
    }

    @Test("virsh on the new procedures as libvirtd's: read-outs, settings, cgroup files, errors, rename")
    func newProceduresLikeLibvirtd() throws {
        let images = try TestPaths.makeTempDir("qi", mode: 0o755)
        defer { TestPaths.removeDir(images) }
        let pair = try QEMUCgroupTests.Pair(prefix: "np") { Self.xml($0, imageDir: images) }
        defer { pair.cleanup() }
        let ours = pair.ours, ref = pair.ref
        let on: [(label: String, name: String, dir: String, uri: String, run: (String) throws -> ChildProcess.Result)] = [
            ("virtd", pair.ourName, ours.dir, ours.uri, { try ours.virsh($0) }),
            ("libvirtd", pair.refName, ref.dir, ref.uri, { try virsh(ref.uri, $0) }),
        ]
        func clean(_ s: String, _ d: (label: String, name: String, dir: String, uri: String,
                                      run: (String) throws -> ChildProcess.Result)) -> String {
            Self.mask(QEMUCgroupTests.neutral(s, d.name)
                .replacingOccurrences(of: d.dir, with: "DIR")
                .replacingOccurrences(of: d.name, with: "NAME"))
        }
        @discardableResult
        func same(_ command: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
            let o = try on[0].run(command.replacingOccurrences(of: "NAME", with: on[0].name))
            let r = try on[1].run(command.replacingOccurrences(of: "NAME", with: on[1].name))
            #expect(clean(o.stdout, on[0]) == clean(r.stdout, on[1]),
                    "stdout of '\(command)':\n virtd    \(o.stdout)\n libvirtd \(r.stdout)", sourceLocation: sourceLocation)
            #expect(clean(o.stderr, on[0]) == clean(r.stderr, on[1]),
                    "stderr of '\(command)':\n virtd    \(o.stderr)\n libvirtd \(r.stderr)", sourceLocation: sourceLocation)
            #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)",
                    sourceLocation: sourceLocation)
            return clean(o.stdout, on[0])
        }
        // Read-outs of the running domain.
        for command in ["domcontrol NAME", "domblkerror NAME", "cpu-stats NAME --total", "cpu-stats NAME",
                        "cpu-stats NAME --start 1 --count 1", "cpu-stats NAME --start 9", "domlaunchsecinfo NAME",
                        "domhostname NAME", "domhostname NAME --source lease", "domhostname NAME --source agent",
                        "domhostname NAME --source bogus", "send-process-signal NAME 1 0", "domcontrol nosuch"] {
            try same(command)
        }
        let total = try on[0].run("cpu-stats \(on[0].name) --total").stdout
        #expect(total.contains("cpu_time") && !total.contains("cpu_time             0.000000000 seconds"), "\(total)")

        // NUMA memory placement: live through cpuset.mems, and the persistent definition.
        for command in ["numatune NAME", "numatune NAME --mode interleave --live", "numatune NAME --nodeset 0 --live",
                        "numatune NAME", "numatune NAME --nodeset 1 --live", "numatune NAME --mode strict --nodeset 0 --live",
                        "numatune NAME --nodeset 0 --live", "numatune NAME --mode strict --live",
                        "numatune NAME --mode 7 --live", "numatune NAME --nodeset 3-2 --config",
                        "numatune NAME --mode interleave --nodeset 0 --config", "numatune NAME --config",
                        "numatune NAME --live --config", "numatune NAME --current"] {
            try same(command)
        }
        for (i, d) in on.enumerated() {
            for sub in ["emulator", "vcpu0", "vcpu1"] {
                #expect(QEMUCgroupTests.file("cpuset", d.name, sub + "/cpuset.mems") == "0", "\(d.label) \(sub)")
            }
            let live = try d.run("dumpxml \(d.name)").stdout, persistent = try d.run("dumpxml \(d.name) --inactive").stdout
            #expect(live.contains("<memory mode='strict' nodeset='0'/>"), "\(d.label): \(live)")
            #expect(persistent.contains("<memory mode='interleave' nodeset='0'/>"), "\(d.label): \(persistent)")
            _ = i
        }

        // Lifecycle actions live and persistent, with libvirt's checks.
        for command in ["set-lifecycle-action NAME reboot destroy", "set-lifecycle-action NAME poweroff restart --live",
                        "set-lifecycle-action NAME crash preserve --live", "set-lifecycle-action NAME reboot rename-restart",
                        "set-lifecycle-action NAME poweroff coredump-destroy", "set-lifecycle-action NAME crash coredump-restart --config",
                        "set-lifecycle-action NAME reboot restart --live --config", "set-lifecycle-action NAME reboot destroy --live"] {
            try same(command)
        }
        for d in on {
            let live = try d.run("dumpxml \(d.name)").stdout, persistent = try d.run("dumpxml \(d.name) --inactive").stdout
            #expect(live.contains("<on_reboot>destroy</on_reboot>") && live.contains("<on_crash>preserve</on_crash>"),
                    "\(d.label): \(live)")
            #expect(persistent.contains("<on_reboot>restart</on_reboot>")
                    && persistent.contains("<on_crash>coredump-restart</on_crash>"), "\(d.label): \(persistent)")
        }

        // Perf events on QEMU's process: software events open, hardware ones fail as the host's PMU says.
        for command in ["perf NAME", "perf NAME --enable cpu_clock,task_clock,page_faults,context_switches,cpu_migrations",
                        "perf NAME", "domstats NAME --perf", "perf NAME --enable cpu_cycles", "perf NAME --enable cmt",
                        "perf NAME --disable cpu_clock", "domstats NAME --perf", "perf NAME --config --enable page_faults",
                        "perf NAME --config", "perf NAME --live"] {
            try same(command)
        }
        for d in on {
            let persistent = try d.run("dumpxml \(d.name) --inactive").stdout
            #expect(persistent.contains("<event name='page_faults' enabled='yes'/>"), "\(d.label): \(persistent)")
        }
        // virtd's counters count: QEMU takes page faults and CPU time while it runs (slowly on a loaded machine).
        #expect(eventually(60) {
            let s = (try? on[0].run("domstats \(on[0].name) --perf").stdout) ?? ""
            return s.range(of: #"perf.task_clock=[1-9]"#, options: .regularExpression) != nil
        }, "virtd's task_clock stays 0")

        // python3-libvirt: flags and argument errors.
        try Self.pythonCalls.write(toFile: ours.dir + "/calls.py", atomically: true, encoding: .utf8)
        let ourPy = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/calls.py", ours.uri, on[0].name], timeLimit: 120)
        let refPy = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/calls.py", ref.uri, on[1].name], timeLimit: 120)
        #expect(ourPy.status == 0 && refPy.status == 0, "\(ourPy.stderr) \(refPy.stderr)")
        #expect(clean(ourPy.stdout, on[0]) == clean(refPy.stdout, on[1]),
                "python3-libvirt:\n virtd    \(ourPy.stdout)\n libvirtd \(refPy.stdout)")

        // Host pages: counts (the 4 KiB ones masked) and the validation errors; no pool is changed.
        for command in ["freepages --all", "freepages --cellno 0 --pagesize 4", "freepages --cellno 0 --pagesize 2048",
                        "freepages --cellno 0 --pagesize 1G", "freepages --cellno 0 --pagesize 8",
                        "freepages --cellno 5 --pagesize 4", "freepages --pagesize 2M", "allocpages 4 10 --cellno 0",
                        "allocpages 8 10 --cellno 0", "allocpages 2M 10 --cellno 5", "allocpages 3M 1", "allocpages 4 1"] {
            try same(command)
        }

        // domcontrol while QEMU cannot answer: a monitor command waits (occupied), then a save waits (job).
        for d in on {
            let pid = try #require(Self.qemuPID(d.name), "\(d.label): no QEMU")
            kill(pid, SIGSTOP)
            let waiting = try ChildProcess.spawn(["/usr/bin/virsh", "-c", d.uri, "qemu-monitor-command", d.name,
                                                  "{\"execute\":\"query-status\"}"], output: .file(d.dir + "/qmc.out"))
            var control = ""
            #expect(eventually(20) {
                control = (try? d.run("domcontrol \(d.name)").stdout) ?? ""
                return control.hasPrefix("occupied (")
            }, "\(d.label): \(control)")
            kill(pid, SIGCONT)
            _ = try waiting.finish(timeLimit: 60)
            #expect(eventually(10) { ((try? d.run("domcontrol \(d.name)").stdout) ?? "") == "ok\n\n" })
            kill(pid, SIGSTOP)
            let save = try ChildProcess.spawn(["/usr/bin/virsh", "-c", d.uri, "save", d.name, d.dir + "/saved"],
                                              output: .file(d.dir + "/save.out"))
            #expect(eventually(20) {
                control = (try? d.run("domcontrol \(d.name)").stdout) ?? ""
                return control.hasPrefix("background job (")
            }, "\(d.label): \(control)")
            kill(pid, SIGCONT)
            let saved = try save.finish(timeLimit: 120)
            #expect(saved.status == 0, "\(d.label): save \(saved.stderr)")
        }
        try same("domcontrol NAME")
        try same("domblkerror NAME")
        try same("cpu-stats NAME --total")
        try same("numatune NAME")
        try same("perf NAME")

        // Rename: the autostart link follows; refused for itself, a taken name, '/', transient and running domains.
        let watchers = try on.map { try VirshEventWatcher(uri: $0.uri, dir: $0.dir) }
        defer { for w in watchers { w.stop() } }
        for command in ["autostart NAME", "domrename NAME NAME", "domrename NAME NAMEx", "dominfo NAMEx",
                        "list --all --name --autostart", "domrename NAMEx a/b", "domrename NAMEx NAME",
                        "numatune NAME", "domrename nosuch x"] {
            try same(command)
        }
        for (i, d) in on.enumerated() {
            try watchers[i].sync()
            #expect(watchers[i].lifecycle(d.name) == ["Undefined Renamed", "Defined Renamed"],
                    "\(d.label): \(watchers[i].lifecycle(d.name))")
            #expect(watchers[i].lifecycle(d.name + "x") == ["Defined Renamed", "Undefined Renamed"],
                    "\(d.label): \(watchers[i].lifecycle(d.name + "x"))")
        }
        #expect(access(ours.dir + "/etc/qemu/\(on[0].name).xml", F_OK) == 0)
        #expect(access(ours.dir + "/etc/qemu/\(on[0].name)x.xml", F_OK) != 0)
        #expect(access(ours.dir + "/etc/qemu/autostart/\(on[0].name).xml", F_OK) == 0)
        for d in on { _ = try d.run("autostart --disable \(d.name)") }
    }
    @Test("block thresholds (and the event), dirty rate, agent timeout, compression cache, SEV, host suspend as libvirtd's")
    func hostControlLikeLibvirtd() throws {
        let images = try TestPaths.makeTempDir("qi", mode: 0o755)
        defer { TestPaths.removeDir(images) }
        let pair = try QEMUCgroupTests.Pair(prefix: "hc") { Self.xml($0, imageDir: images) }
        defer { pair.cleanup() }
        let ours = pair.ours, ref = pair.ref
        let on: [(label: String, name: String, dir: String, uri: String)] = [
            ("virtd", pair.ourName, ours.dir, ours.uri), ("libvirtd", pair.refName, ref.dir, ref.uri),
        ]
        func run(_ d: (label: String, name: String, dir: String, uri: String), _ args: [String]) throws -> ChildProcess.Result {
            try ChildProcess.run(["/usr/bin/virsh", "-c", d.uri] + args.map { $0.replacingOccurrences(of: "NAME", with: d.name)
                .replacingOccurrences(of: "DIR", with: d.dir) }, timeLimit: 120)
        }
        func clean(_ s: String, _ d: (label: String, name: String, dir: String, uri: String)) -> String {
            Self.mask(s.replacingOccurrences(of: d.dir, with: "DIR").replacingOccurrences(of: d.name, with: "NAME"))
                .replacingOccurrences(of: #"calc_start_time=[0-9]+"#, with: "calc_start_time=T", options: .regularExpression)
                .replacingOccurrences(of: #"megabytes_per_second=[0-9]+"#, with: "megabytes_per_second=N", options: .regularExpression)
        }
        func same(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
            let o = try run(on[0], args), r = try run(on[1], args)
            let command = args.joined(separator: " ")
            #expect(clean(o.stdout, on[0]) == clean(r.stdout, on[1]),
                    "stdout of '\(command)':\n virtd    \(o.stdout)\n libvirtd \(r.stdout)", sourceLocation: sourceLocation)
            #expect(clean(o.stderr, on[0]) == clean(r.stderr, on[1]),
                    "stderr of '\(command)':\n virtd    \(o.stderr)\n libvirtd \(r.stderr)", sourceLocation: sourceLocation)
            #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)",
                    sourceLocation: sourceLocation)
        }
        for d in on {
            try "c2V2LWhlYWRlcgo=\n".write(toFile: d.dir + "/hdr", atomically: true, encoding: .utf8)
            try "c2V2LXNlY3JldAo=\n".write(toFile: d.dir + "/sec", atomically: true, encoding: .utf8)
        }
        let watchers = try on.map { try VirshEventWatcher(uri: $0.uri, dir: $0.dir) }
        defer { for w in watchers { w.stop() } }
        for command in ["domblkthreshold NAME vda 1M", "domblkthreshold NAME vda[1] 1M", "domblkthreshold NAME vda[2] 1",
                        "domblkthreshold NAME vda[x] 1", "domblkthreshold NAME vdb 1", "domblkthreshold NAME vda -5",
                        "domblkthreshold NAME vda 1M",
                        "domdirtyrate-calc NAME --seconds 0", "domdirtyrate-calc NAME --seconds 61",
                        "domdirtyrate-calc NAME --mode bogus", "domdirtyrate-calc NAME --mode dirty-ring",
                        "guest-agent-timeout NAME", "guest-agent-timeout NAME --timeout 10",
                        "guest-agent-timeout NAME --timeout -3", "guest-agent-timeout NAME --timeout -1",
                        "migrate-compcache NAME", "migrate-compcache NAME --size 1000000",
                        "migrate-compcache NAME --size 134217728", "migrate-compcache NAME", "nodesevinfo",
                        "domsetlaunchsecstate NAME --secrethdr DIR/hdr --secret DIR/sec",
                        "domsetlaunchsecstate NAME --secrethdr DIR/hdr --secret DIR/sec --set-address 4096",
                        "domsetlaunchsecstate NAME --secrethdr DIR/hdr --secret DIR/nosuch", "domsetlaunchsecstate NAME",
                        "nodesuspend bogus 60", "nodesuspend mem 30", "nodesuspend disk 30", "nodesuspend mem -1"] {
            try same(command.split(separator: " ").map(String.init))
        }
        // A calculation of five seconds, and a second one refused by QEMU while it runs; then the result.
        try same(["domdirtyrate-calc", "NAME", "--seconds", "5"])
        try same(["domdirtyrate-calc", "NAME", "--mode", "dirty-bitmap"])
        Thread.sleep(forTimeInterval: 6)
        try same(["domstats", "NAME", "--dirtyrate"])

        // QEMU writes 2 MiB into vda (HMP qemu-io on the disk's own device): the threshold of 1 MiB fires once.
        for (i, d) in on.enumerated() {
            let w = try run(d, ["qemu-monitor-command", "NAME", "--hmp", "qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend \"write 0 2M\""])
            #expect(w.status == 0, "\(d.label): \(w.stderr)")
            try watchers[i].sync()
        }
        let events = on.indices.map { i in
            watchers[i].all(on[i].name).filter { $0.hasPrefix("block-threshold") }
                .map { $0.replacingOccurrences(of: on[i].name, with: "NAME") }
        }
        #expect(events[0] == events[1], "virtd \(events[0]) libvirtd \(events[1])")
        #expect(events[0] == ["block-threshold: dev: vda(\(images)/NAME.img) 1048576 1048576",
                              "block-threshold: dev: vda[1](\(images)/NAME.img) 1048576 1048576"], "\(events[0])")

        // A shut-off domain.
        for d in on { _ = try run(d, ["destroy", "NAME"]) }
        for command in ["domblkthreshold NAME vda 1M", "domdirtyrate-calc NAME", "migrate-compcache NAME",
                        "guest-agent-timeout NAME --timeout 5",
                        "domsetlaunchsecstate NAME --secrethdr DIR/hdr --secret DIR/sec"] {
            try same(command.split(separator: " ").map(String.init))
        }
    }
    @Test("domhostname through the test guest's agent: libvirtd's output, and the guest's own hostname")
    func hostnameFromAgent() throws {
        let guest = try TestGuest.load(format: 5)
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        // libvirtd's QEMUs get their serial files as descriptors, so its clean-up cannot find them by directory:
        // they are destroyed through libvirtd first (and their cgroups with them).
        defer { _ = try? virsh(ref.uri, "destroy ga; destroy idlech") }
        let daemons = QEMUGuestAgentProofTests.daemons(ours, ref)
        for d in daemons { try QEMUGuestAgentProofTests.setUp(dir: d.dir, guest: guest, d.run) }
        for d in daemons {
            #expect(eventually(240) { ((try? d.run("domtime ga"))?.status ?? 1) == 0 }, "\(d.label): the agent never answered")
        }
        func same(_ command: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let o = try ours.virsh(command), r = try virsh(ref.uri, command)
            #expect(o.stdout == r.stdout, "stdout of '\(command)':\n virtd    \(o.stdout)\n libvirtd \(r.stdout)",
                    sourceLocation: sourceLocation)
            #expect(o.stderr == r.stderr, "stderr of '\(command)':\n virtd    \(o.stderr)\n libvirtd \(r.stderr)",
                    sourceLocation: sourceLocation)
            #expect(o.status == r.status, "status of '\(command)'", sourceLocation: sourceLocation)
        }
        for command in ["domhostname ga", "domhostname ga --source agent", "domhostname ga --source lease",
                        "domhostname idlech", "start idlech", "domhostname idlech", "domhostname idle",
                        "guest-agent-timeout ga --timeout 30", "domhostname ga", "guest-agent-timeout ga",
                        "domcontrol ga", "domblkerror ga", "domlaunchsecinfo ga"] {
            try same(command)
        }
        for d in daemons {
            let own = try QEMUGuestAgentProofTests.console(d.uri, d.dir, "hostname")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let told = try d.run("domhostname ga").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!own.isEmpty && own == told, "\(d.label): guest says '\(own)', domhostname '\(told)'")
        }
        // vsh prints what virsh prints on virtd.
        for command in ["domhostname ga", "domhostname ga --source lease", "domhostname idle", "domcontrol ga",
                        "domblkerror ga", "guest-agent-timeout ga --timeout 20", "migrate-compcache ga"] {
            let v = try ours.virsh(args: [command], client: TestPaths.vsh)
            let o = try ours.virsh(command)
            #expect(v.stdout == o.stdout && v.stderr == o.stderr && v.status == o.status,
                    "'\(command)':\n vsh   \(v.stdout)\(v.stderr)\n virsh \(o.stdout)\(o.stderr)")
        }
        // The agent timeout is in the status file and survives a virtd restart (libvirt's <agentTimeout>).
        func status() -> String { (try? String(contentsOfFile: ours.dir + "/run/qemu/ga.status", encoding: .utf8)) ?? "" }
        #expect(status().contains("\"agentTimeout\" : 20"), "\(status())")
        ours.kill9()
        try ours.start()
        #expect(eventually(30) { ((try? ours.virsh("domhostname ga"))?.status ?? 1) == 0 })
        _ = try ours.virsh("domcontrol ga")
        #expect(status().contains("\"agentTimeout\" : 20"), "\(status())")
    }
    @Test("the guest sets its RTC (rtc-change, variable clock adjustment), then a real ENOSPC: io-error, io-error-reason and domblkerror as libvirtd")
    func diskErrorFromGuest() throws {
        let guest = try TestGuest.load(format: 5)
        // A 2 MiB tmpfs holding two sparse 8 MiB images: mounted before libvirtd starts (its private mount
        // namespace copies it), unmounted at the end.
        let full = try TestPaths.makeTempDir("qf", mode: 0o777)
        let mount = try ChildProcess.run(["/usr/bin/mount", "-t", "tmpfs", "-o", "size=2m,mode=0777", "tmpfs", full])
        try #require(mount.status == 0, "mount: \(mount.stderr)")
        defer {
            _ = try? ChildProcess.run(["/usr/bin/umount", "-l", full])
            TestPaths.removeDir(full)
        }
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        defer { _ = try? virsh(ref.uri, "destroy ga; destroy idlech") }
        let daemons = QEMUGuestAgentProofTests.daemons(ours, ref)
        for (i, d) in daemons.enumerated() {
            let image = full + "/full\(i).img"
            FileManager.default.createFile(atPath: image, contents: nil)
            truncate(image, 8 << 20)
            chmod(image, 0o666)
            try "<disk type='file' device='disk'><driver name='qemu' type='raw' error_policy='stop'/><source file='\(image)'/><target dev='vdb' bus='virtio'/></disk>"
                .write(toFile: d.dir + "/vdb.xml", atomically: true, encoding: .utf8)
            // A variable clock 100 s ahead: QEMU's RTC_CHANGE counts from there, the event and the XML from UTC.
            try QEMUGuestAgentProofTests.setUp(dir: d.dir, guest: guest,
                                               clock: "<clock offset='variable' adjustment='100' basis='utc'/>", d.run)
        }
        let watchers = try daemons.map { try VirshEventWatcher(uri: $0.uri, dir: $0.dir) }
        defer { for w in watchers { w.stop() } }
        for d in daemons {
            #expect(eventually(240) { ((try? d.run("domtime ga"))?.status ?? 1) == 0 }, "\(d.label): the agent never answered")
            let a = try d.run("attach-device ga \(d.dir)/vdb.xml --live")
            #expect(a.status == 0, "\(d.label): \(a.stderr)")
        }
        // The guest sets its clock an hour ahead of the host's and writes it to the RTC (busybox hwclock): both
        // daemons report an rtc-change of about 3600 s and keep it as the live XML's adjustment.
        for d in daemons {
            let now = Int(Date().timeIntervalSince1970)
            let setClock = #"{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","date -s @\#(now + 3600) && hwclock -w -u"]}}"#
            let r = try ChildProcess.run(["/usr/bin/virsh", "-c", d.uri, "qemu-agent-command", "ga", setClock], timeLimit: 60)
            #expect(r.status == 0, "\(d.label): \(r.stderr)")
        }
        func nearHour(_ text: String?) -> Bool { text.flatMap { Int($0) }.map { abs($0 - 3600) <= 10 } ?? false }
        for (i, d) in daemons.enumerated() {
            #expect(eventually(60) { watchers[i].all("ga").contains { $0.hasPrefix("rtc-change: ") } },
                    "\(d.label): no rtc-change in \(watchers[i].all("ga"))")
            let offsets = watchers[i].all("ga").filter { $0.hasPrefix("rtc-change: ") }.map { String($0.dropFirst(12)) }
            #expect(offsets.count == 1 && nearHour(offsets.first), "\(d.label): \(offsets)")
            let xml = try d.run("dumpxml ga").stdout
            let clock = xml.split(separator: "\n").first { $0.contains("<clock ") }.map(String.init) ?? ""
            let adjustment = clock.components(separatedBy: "adjustment='").dropFirst().first?.prefix { $0 != "'" }
            #expect(clock.contains("offset='variable'") && clock.contains("basis='utc'") && nearHour(adjustment.map(String.init)),
                    "\(d.label): \(clock)")
        }
        // The guest writes 4 MiB into vdb (once its kernel has the device): the host runs out of space.
        let exec = #"{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","while [ ! -b /dev/vdb ]; do sleep 1; done; dd if=/dev/zero of=/dev/vdb bs=1M count=4 conv=fsync"]}}"#
        for d in daemons {
            let r = try ChildProcess.run(["/usr/bin/virsh", "-c", d.uri, "qemu-agent-command", "ga", exec], timeLimit: 60)
            #expect(r.status == 0, "\(d.label): \(r.stderr)")
        }
        for d in daemons {
            #expect(eventually(120) { ((try? d.run("domstate ga --reason"))?.stdout ?? "").contains("paused (I/O error)") },
                    "\(d.label): \((try? d.run("domstate ga --reason").stdout) ?? "")")
        }
        for command in ["domblkerror ga", "domstate ga --reason"] {
            let o = try ours.virsh(command), r = try virsh(ref.uri, command)
            #expect(o.stdout == r.stdout && o.stderr == r.stderr && o.status == r.status,
                    "'\(command)':\n virtd    \(o.stdout)\(o.stderr)\n libvirtd \(r.stdout)\(r.stderr)")
        }
        #expect(try ours.virsh("domblkerror ga").stdout == "vdb: no space\n\n")
        // The events as virsh prints them: io-error with the image and alias, then suspended for the I/O error.
        // (Each failed request of the guest gives an io-error, so how many follow depends on timing: each distinct
        // line is taken once, in the order it first came.)
        var seen: [[String]] = []
        for (i, d) in daemons.enumerated() {
            try watchers[i].sync()
            var lines: [String] = []
            for l in watchers[i].all("ga") where l.hasPrefix("io-error") || l == "lifecycle: Suspended I/O Error" {
                let line = l.replacingOccurrences(of: full + "/full\(i).img", with: "IMG")
                if !lines.contains(line) { lines.append(line) }
            }
            seen.append(lines)
            _ = d
        }
        #expect(seen[0] == seen[1], "virtd \(seen[0]) libvirtd \(seen[1])")
        #expect(seen[0] == ["io-error: IMG (virtio-disk1) pause", "io-error-reason: IMG (virtio-disk1) pause due to enospc",
                            "lifecycle: Suspended I/O Error"], "\(seen[0])")
        let v = try ours.virsh(args: ["domblkerror ga"], client: TestPaths.vsh)
        #expect(v.stdout == "vdb: no space\n\n", "vsh: \(v.stdout)\(v.stderr)")
    }

    @Test("the guest's i6300esb watchdog fires with action pause: watchdog event, paused (watchdog), as libvirtd")
    func watchdogFires() throws {
        let guest = try TestGuest.load(format: 8)
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        defer { _ = try? virsh(ref.uri, "destroy ga; destroy idlech") }
        let daemons = QEMUGuestAgentProofTests.daemons(ours, ref)
        for d in daemons {
            try QEMUGuestAgentProofTests.setUp(dir: d.dir, guest: guest,
                                               devices: "<watchdog model='i6300esb' action='pause'/>", d.run)
        }
        let watchers = try daemons.map { try VirshEventWatcher(uri: $0.uri, dir: $0.dir) }
        defer { for w in watchers { w.stop() } }
        for d in daemons {
            #expect(eventually(240) { ((try? d.run("domtime ga"))?.status ?? 1) == 0 }, "\(d.label): the agent never answered")
        }
        // busybox's watchdog arms /dev/watchdog with a 2 s timeout and would feed it every 10 minutes only.
        let exec = #"{"execute":"guest-exec","arguments":{"path":"/bin/watchdog","arg":["-T","2","-t","600","/dev/watchdog"]}}"#
        for d in daemons {
            let r = try ChildProcess.run(["/usr/bin/virsh", "-c", d.uri, "qemu-agent-command", "ga", exec], timeLimit: 60)
            #expect(r.status == 0, "\(d.label): \(r.stderr)")
        }
        for d in daemons {
            #expect(eventually(120) { ((try? d.run("domstate ga --reason"))?.stdout ?? "").contains("paused (watchdog)") },
                    "\(d.label): \((try? d.run("domstate ga --reason").stdout) ?? "")")
        }
        let o = try ours.virsh("domstate ga --reason"), r = try virsh(ref.uri, "domstate ga --reason")
        #expect(o.stdout == r.stdout && o.status == r.status, "virtd \(o.stdout) libvirtd \(r.stdout)")
        var seen: [[String]] = []
        for w in watchers {
            try w.sync()
            var lines: [String] = []
            for l in w.all("ga") where l.hasPrefix("watchdog") || l.hasPrefix("lifecycle: Suspended") {
                if !lines.contains(l) { lines.append(l) }
            }
            seen.append(lines)
        }
        #expect(seen[0] == seen[1], "virtd \(seen[0]) libvirtd \(seen[1])")
        #expect(seen[0] == ["watchdog: pause", "lifecycle: Suspended Watchdog"], "\(seen[0])")
    }
}
