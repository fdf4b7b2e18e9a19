import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The per-domain monitoring calls (block, interface and memory statistics, block info, vCPU information,
/// vCPU and emulator pinning) on a running TCG test guest with a virtio disk, a user-mode NIC and a balloon,
/// through virtd and through Debian's libvirtd 9.0 side by side: Debian's virsh prints the same fields, labels,
/// errors and pins for both; virtd's counters are QEMU's (query-blockstats) and its pins reach QEMU's threads;
/// python3-libvirt sees the same shapes (its pinning calls size their maps with virNodeGetCPUMap, which virtd
/// does not serve yet, so pinning is checked through virsh); vsh prints what virsh prints.
@Suite("QEMU monitoring calls: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct QEMUDomainMonitoringTests {
    static let mac = "52:54:00:5a:11:01"

    static func domainXML(dir: String) -> String {
        """
        <domain type='qemu'>
          <name>mon</name>
          <memory unit='MiB'>128</memory>
          <vcpu>2</vcpu>
          <os><type arch='x86_64' machine='q35'>hvm</type><kernel>\(dir)/vmlinuz</kernel>\
        <initrd>\(dir)/initrd.img</initrd><cmdline>CMDLINE</cmdline></os>
          <features><acpi/></features>
          <devices>
            <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(dir)/mon.img'/>\
        <target dev='vda' bus='virtio'/></disk>
            <interface type='user'><mac address='\(mac)'/><model type='virtio'/></interface>
            <serial type='pty'/>
            <memballoon model='virtio'/>
          </devices>
        </domain>
        """
    }

    /// The guest's files and image under `dir`, the domain defined and started with `run`.
    static func setUp(dir: String, guest: TestGuest, _ run: (String) throws -> ChildProcess.Result) throws {
        for (from, to) in [(guest.kernel, "vmlinuz"), (guest.initrd, "initrd.img")] {
            try FileManager.default.copyItem(atPath: from, toPath: dir + "/" + to)
            chmod(dir + "/" + to, 0o644)
        }
        let image = try QEMUDaemonSupport.makeImage(dir + "/mon.img", owner: (0, 0))
        chmod(image, 0o666)
        let xml = domainXML(dir: dir).replacingOccurrences(of: "CMDLINE", with: guest.cmdline)
        try xml.write(toFile: dir + "/mon.xml", atomically: true, encoding: .utf8)
        let r = try run("define \(dir)/mon.xml; start mon")
        #expect(r.status == 0, "define/start: \(r.stderr)")
    }

    /// Waits until the guest's kernel has read its disk (the partition scan), so the counters are not zero.
    static func waitForDiskReads(_ run: (String) throws -> ChildProcess.Result) throws -> Bool {
        try eventually(180) {
            let r = try run("domblkstat mon vda")
            guard let line = r.stdout.split(separator: "\n").first(where: { $0.hasPrefix("vda rd_req ") }),
                  let n = Int(line.split(separator: " ").last ?? "") else { return false }
            return n > 0
        }
    }

    /// Output with every number after a field name replaced (counters differ between two guests). vcpuinfo's
    /// "CPU time:" line is dropped: virsh prints it only for a vCPU whose thread has used time, and an idle
    /// second vCPU under TCG may have used less than a clock tick in one guest and more in the other (seen in CI).
    static func shape(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("CPU time:") }
            .map { line -> String in
            var words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            if let last = words.last, Int64(last) != nil || last.hasSuffix("s") && Double(last.dropLast()) != nil {
                words[words.count - 1] = "<n>"
            }
            return words.joined(separator: " ")
        }.joined(separator: "\n")
    }

    /// stdout, stderr and status of a command on both daemons must agree after `normalize`.
    static func same(_ command: String, ours: RestartableVirtd, refURI: String, normalize: (String) -> String = { $0 },
                     dirs: (String, String)) throws {
        let o = try ours.virsh(command)
        let r = try virsh(refURI, command)
        func clean(_ s: String, _ dir: String) -> String { normalize(s.replacingOccurrences(of: dir, with: "DIR")) }
        #expect(clean(o.stdout, dirs.0) == clean(r.stdout, dirs.1), "stdout of '\(command)'")
        #expect(clean(o.stderr, dirs.0) == clean(r.stderr, dirs.1), "stderr of '\(command)'")
        #expect(o.status == r.status, "status of '\(command)': virtd \(o.status) libvirtd \(r.status)")
    }

    /// The allowed-CPU list of each thread of `pid`, by thread name.
    static func threadAffinity(_ pid: Int32) -> [String: String] {
        var out: [String: String] = [:]
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for t in tasks {
            guard let comm = try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/comm", encoding: .utf8),
                  let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/status", encoding: .utf8)
            else { continue }
            for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
                // The main thread by its own name; other threads by their names (vCPU threads are unique).
                out[t == String(pid) ? "main" : comm.trimmingCharacters(in: .whitespacesAndNewlines)] =
                    line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces)
            }
        }
        return out
    }

    static let python = #"""
    import libvirt, sys, json, threading, time
    libvirt.virEventRegisterDefaultImpl()
    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()
    c = libvirt.open(sys.argv[1])
    d = c.lookupByName('mon')
    out = {}
    bs = d.blockStats('vda')
    out['blockStats'] = [len(bs), bs[4], bs[0] > 0, bs[1] > 0]
    out['blockStatsFlags'] = sorted((k, type(v).__name__) for k, v in d.blockStatsFlags('vda').items())
    out['blockStatsFlagsTotal'] = sorted(d.blockStatsFlags('').keys())
    out['memoryStats'] = sorted(d.memoryStats().keys())
    # Allocation is the image's allocated bytes; libvirtd's image carries its remember_owner xattrs in an extra
    # block, virtd's none, so the allocation is compared with the file's own.
    import os
    bi = d.blockInfo('vda')
    out['blockInfo'] = [bi[0], bi[1] == os.stat(sys.argv[3]).st_blocks * 512, bi[2]]
    out['vcpusFlags'] = [d.vcpusFlags(0), d.vcpusFlags(libvirt.VIR_DOMAIN_VCPU_MAXIMUM)]
    for name, call in [('interfaceStats', lambda: d.interfaceStats(sys.argv[2])),
                       ('unknownInterface', lambda: d.interfaceStats('vnet9')),
                       ('unknownDisk', lambda: d.blockStats('hda')),
                       ('blockInfoUnknown', lambda: d.blockInfo('hda'))]:
        try:
            out[name] = ['ok', call()]
        except libvirt.libvirtError as e:
            out[name] = [e.get_error_code(), e.get_error_domain(), e.get_error_message()]
    # METADATA_CHANGE for a description, a title and an element (type, namespace URI).
    seen = []
    c.domainEventRegisterAny(d, libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                             lambda conn, dom, mtype, nsuri, opaque: seen.append([dom.name(), mtype, nsuri]), None)
    d.setMetadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, 'from python', None, None, 0)
    d.setMetadata(libvirt.VIR_DOMAIN_METADATA_TITLE, 'T', None, None, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    d.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, '<app v="1"/>', 'app', 'http://example.org/app', 0)
    for i in range(100):
        if len(seen) >= 3: break
        time.sleep(0.1)
    out['metadataEvents'] = seen
    out['metadata'] = [d.metadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, None, 0),
                       d.metadata(libvirt.VIR_DOMAIN_METADATA_TITLE, None, libvirt.VIR_DOMAIN_AFFECT_CONFIG),
                       d.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, 'http://example.org/app', 0)]
    try:
        d.metadata(libvirt.VIR_DOMAIN_METADATA_TITLE, None, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    except libvirt.libvirtError as e:
        out['noLiveTitle'] = [e.get_error_code(), e.get_error_domain(), e.get_error_message()]
    print(json.dumps(out, sort_keys=True))
    """#

    @Test("virsh, python3-libvirt and vsh on a running TCG guest: libvirtd's fields, errors and pins; QEMU's counters")
    func monitoringLikeLibvirtd() throws {
        let guest = try TestGuest.load()
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        let dirs = (ours.dir, ref.dir)

        try Self.setUp(dir: ours.dir, guest: guest) { try ours.virsh($0) }
        try Self.setUp(dir: ref.dir, guest: guest) { try virsh(ref.uri, $0) }
        #expect(try Self.waitForDiskReads { try ours.virsh($0) }, "virtd's guest never read its disk")
        #expect(try Self.waitForDiskReads { try virsh(ref.uri, $0) }, "libvirtd's guest never read its disk")
        // The guest's balloon driver (test guest format 5) reports its statistics a little after boot: both
        // guests have once dommemstat lists them.
        for run in [{ (c: String) in try ours.virsh(c) }, { (c: String) in try virsh(ref.uri, c) }] {
            #expect(eventually(120) { ((try? run("dommemstat mon"))?.stdout ?? "").contains("\nusable ") },
                    "no balloon statistics from the guest")
        }

        // Same fields, labels and errors; counters differ between the two guests.
        for command in ["domblkstat mon vda", "domblkstat mon vda --human", "domblkstat mon", "domblkstat mon hda",
                        "domblkstat mon --human", "dommemstat mon", "vcpuinfo mon", "vcpuinfo mon --pretty"] {
            try Self.same(command, ours: ours, refURI: ref.uri, normalize: Self.shape, dirs: dirs)
        }
        // Same output exactly.
        for command in ["domifstat mon \(Self.mac)", "domifstat mon vnet9", "domblkinfo mon hda", "domblklist mon --details",
                        "domiflist mon", "vcpupin mon", "vcpupin mon 1", "vcpupin mon --config", "emulatorpin mon",
                        "emulatorpin mon --config", "vcpucount mon", "vcpupin mon 5 0", "vcpupin mon 0 7",
                        "dommemstat mon --period -1", "inject-nmi mon"] {
            try Self.same(command, ours: ours, refURI: ref.uri, dirs: dirs)
        }

        // Block sizes: capacity and physical as libvirtd's; the allocation is the image's allocated bytes
        // (libvirtd's image also holds its remember_owner xattrs in an extra block, so it is compared with stat).
        for (uri, dir) in [(ours.uri, ours.dir), (ref.uri, ref.dir)] {
            let info = try virsh(uri, "domblkinfo mon vda")
            var st = stat()
            stat(dir + "/mon.img", &st)
            let expected = "Capacity:       1048576\nAllocation:     \(st.st_blocks * 512)\nPhysical:       1048576\n\n"
            #expect(info.stdout == expected, "\(info.stdout) \(info.stderr)")
        }

        // The counters are QEMU's: one virsh process reads domblkstat and query-blockstats back to back.
        let pair = try ours.virsh("domblkstat mon vda; qemu-monitor-command mon '{\"execute\":\"query-blockstats\"}'")
        #expect(pair.status == 0, "\(pair.stderr)")
        let lines = pair.stdout.split(separator: "\n")
        func counter(_ name: String) -> String? {
            lines.first { $0.hasPrefix("vda \(name) ") }.map { String($0.split(separator: " ").last ?? "") }
        }
        if let json = lines.last(where: { $0.hasPrefix("{") }),
           let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
           let entries = obj["return"] as? [[String: Any]],
           let vda = entries.first(where: { ($0["qdev"] as? String)?.contains("virtio-disk0") == true }),
           let stats = vda["stats"] as? [String: Any] {
            #expect(counter("rd_req") == "\(stats["rd_operations"] ?? "")")
            #expect(counter("rd_bytes") == "\(stats["rd_bytes"] ?? "")")
            #expect(counter("wr_req") == "\(stats["wr_operations"] ?? "")")
            #expect(counter("rd_total_times") == "\(stats["rd_total_time_ns"] ?? "")")
        } else {
            Issue.record("no query-blockstats entry for the disk: \(pair.stdout)")
        }

        // Pinning, live and persistent: the same tables and XML; the threads of virtd's QEMU follow. The same
        // TUNABLE and METADATA_CHANGE events reach a virsh watching each daemon.
        let ourEvents = try VirshEventWatcher(uri: ours.uri, dir: ours.dir)
        defer { ourEvents.stop() }
        let refEvents = try VirshEventWatcher(uri: ref.uri, dir: ref.dir)
        defer { refEvents.stop() }
        for command in ["vcpupin mon 1 0; vcpupin mon; vcpuinfo mon --pretty", "emulatorpin mon 1; emulatorpin mon",
                        "vcpupin mon 0 1 --config; emulatorpin mon 0 --config; vcpupin mon --config; emulatorpin mon --config",
                        "dommemstat mon --period 2; dommemstat mon --period 3 --config",
                        "desc mon; desc mon --new-desc 'a b'; desc mon; desc mon --title --new-desc T --config; desc mon --title; desc mon --title --config",
                        "metadata mon http://x/ --key k --set '<a><b c=\"1\">t</b></a>'; metadata mon http://x/; metadata mon http://x/ --config; metadata mon http://x/ --key k --set '<c/>' --config; metadata mon http://x/ --config; metadata mon http://x/ --remove --live; metadata mon http://x/"] {
            try Self.same(command, ours: ours, refURI: ref.uri, normalize: Self.shape, dirs: dirs)
        }
        try ourEvents.sync()
        try refEvents.sync()
        func events(_ text: String) -> [String] {
            text.split(separator: "\n").map(String.init).filter {
                $0.hasPrefix("\tcputune.") || $0.hasPrefix("event 'tunable' for domain 'mon'")
                    || $0.hasPrefix("event 'metadata-change' for domain 'mon'")
            }
        }
        #expect(events(ourEvents.text) == events(refEvents.text),
                "events:\n virtd \(events(ourEvents.text))\n libvirtd \(events(refEvents.text))")
        #expect(events(ourEvents.text).contains("\tcputune.vcpupin1: 0"), "\(ourEvents.text)")
        #expect(events(ourEvents.text).contains("\tcputune.emulatorpin: 1"), "\(ourEvents.text)")
        func tuning(_ xml: String) -> [String] {
            var inMetadata = false
            return xml.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { line in
                if line.hasPrefix("<metadata") { inMetadata = !line.hasSuffix("/>") && !line.hasSuffix("</metadata>") }
                let keep = inMetadata || line.hasPrefix("</metadata>") || line.hasPrefix("<metadata")
                if line.hasPrefix("</metadata>") { inMetadata = false }
                return keep || line.contains("pin ") || line.contains("cputune") || line.hasPrefix("<stats ")
                    || line.hasPrefix("<title>") || line.hasPrefix("<description>")
            }
        }
        let ourLive = try ours.virsh("dumpxml mon").stdout, refLive = try virsh(ref.uri, "dumpxml mon").stdout
        #expect(tuning(ourLive) == tuning(refLive))
        #expect(tuning(ourLive).contains("<stats period='2'/>"), "\(tuning(ourLive))")
        let ourConf = try ours.virsh("dumpxml mon --inactive").stdout
        let refConf = try virsh(ref.uri, "dumpxml mon --inactive").stdout
        #expect(tuning(ourConf) == tuning(refConf))
        #expect(tuning(ourConf).contains("<vcpupin vcpu='0' cpuset='1'/>"), "\(tuning(ourConf))")
        let pid = Int32((try? String(contentsOfFile: ours.dir + "/run/qemu/mon.pid", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
        let affinity = Self.threadAffinity(pid)
        #expect(affinity["CPU 1/TCG"] == "0", "\(affinity)")
        #expect(affinity["CPU 0/TCG"] == "0-1", "\(affinity)")
        #expect(affinity["main"] == "1", "\(affinity)")

        // vsh prints what virsh prints on virtd.
        for command in ["domblkstat mon vda", "domblkstat mon vda --human", "domblkstat mon", "domifstat mon \(Self.mac)",
                        "dommemstat mon", "domblkinfo mon vda", "domblkinfo mon --all", "domblklist mon --details",
                        "domiflist mon", "vcpupin mon", "vcpupin mon --config", "emulatorpin mon", "vcpuinfo mon",
                        "vcpupin mon 0 0-1; vcpupin mon 0", "emulatorpin mon 0-1 --live; emulatorpin mon"] {
            let v = try ours.virsh(command)
            let s = try ours.virsh(args: [command], client: TestPaths.vsh)
            #expect(Self.shape(s.stdout) == Self.shape(v.stdout), "vsh stdout of '\(command)'")
            #expect(s.stderr == v.stderr, "vsh stderr of '\(command)'")
            #expect(s.status == v.status, "vsh status of '\(command)'")
        }

        // python3-libvirt: the same shapes, values and errors on both daemons.
        try Self.python.write(toFile: ours.dir + "/mon.py", atomically: true, encoding: .utf8)
        let script = ours.dir + "/mon.py"
        let ourPy = try ChildProcess.run(["/usr/bin/python3", script, ours.uri, Self.mac, ours.dir + "/mon.img"],
                                         timeLimit: 120)
        let refPy = try ChildProcess.run(["/usr/bin/python3", script, ref.uri, Self.mac, ref.dir + "/mon.img"],
                                         timeLimit: 120)
        #expect(ourPy.status == 0 && refPy.status == 0, "\(ourPy.stderr) \(refPy.stderr)")
        #expect(ourPy.stdout == refPy.stdout, "python3-libvirt:\n virtd    \(ourPy.stdout)\n libvirtd \(refPy.stdout)")

        // Shut off: the same errors, the vCPU table from the persistent definition, pinning of the definition.
        #expect(try ours.virsh("destroy mon").status == 0)
        #expect(try virsh(ref.uri, "destroy mon").status == 0)
        for command in ["domblkstat mon vda", "domifstat mon \(Self.mac)", "dommemstat mon", "vcpuinfo mon", "inject-nmi mon",
                        "vcpupin mon", "emulatorpin mon", "emulatorpin mon 1", "vcpupin mon 1 1; vcpupin mon 1",
                        "emulatorpin mon 0 --config; emulatorpin mon", "dommemstat mon --period 4",
                        "domblkinfo mon vda", "domblkinfo mon --all", "vcpucount mon"] {
            try Self.same(command, ours: ours, refURI: ref.uri, normalize: Self.shape, dirs: dirs)
        }
        let ourOff = try ours.virsh("dumpxml mon").stdout, refOff = try virsh(ref.uri, "dumpxml mon").stdout
        #expect(tuning(ourOff) == tuning(refOff))

        // Started again: the persistent pins (vCPU 0 on CPU 1, the emulator on CPU 0) are applied to the threads.
        #expect(try ours.virsh("start mon").status == 0)
        let newPID = Int32((try? String(contentsOfFile: ours.dir + "/run/qemu/mon.pid", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
        let started = Self.threadAffinity(newPID)
        #expect(started["CPU 0/TCG"] == "1" && started["CPU 1/TCG"] == "0-1" && started["main"] == "0", "\(started)")
        _ = try? ours.virsh("destroy mon")
    }

    /// Debian's prometheus-libvirt-exporter (libvirt-go: domain info, block and interface statistics) against
    /// virtd: the guest's metrics, with virsh's block counters.
    @Test("prometheus-libvirt-exporter exports a running guest of virtd")
    func prometheusExporter() throws {
        let exporter = "/usr/bin/prometheus-libvirt-exporter"
        guard access(exporter, X_OK) == 0 else {
            Issue.record("Debian's prometheus-libvirt-exporter is required (scripts/install-deps.sh installs it)")
            return
        }
        let guest = try TestGuest.load()
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        try Self.setUp(dir: ours.dir, guest: guest) { try ours.virsh($0) }
        #expect(try Self.waitForDiskReads { try ours.virsh($0) }, "the guest never read its disk")
        let fetch = """
        import socket, sys, time, urllib.request
        s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()
        print(port)
        """
        let port = try ChildProcess.run(["/usr/bin/python3", "-c", fetch]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let proc = try ChildProcess.spawn([exporter, "--web.listen-address=127.0.0.1:\(port)",
                                           "--libvirt.uri=\(ours.uri)"], output: .file(ours.dir + "/exporter.log"))
        defer { proc.terminate() }
        let get = """
        import sys, time, urllib.request
        for i in range(100):
            try:
                print(urllib.request.urlopen('http://127.0.0.1:' + sys.argv[1] + '/metrics', timeout=30).read().decode())
                break
            except Exception:
                time.sleep(0.2)
        """
        let metrics = try ChildProcess.run(["/usr/bin/python3", "-c", get, port], timeLimit: 120).stdout
        let stat = try ours.virsh("domblkstat mon vda").stdout
        let readBytes = stat.split(separator: "\n").first { $0.hasPrefix("vda rd_bytes ") }?.split(separator: " ").last
        let lines = metrics.split(separator: "\n").filter { !$0.hasPrefix("#") }
        func value(_ prefix: String) -> String? {
            lines.first { $0.hasPrefix(prefix) }.flatMap { $0.split(separator: " ").last.map(String.init) }
        }
        #expect(value("libvirt_up") == "1", "\(metrics)")
        #expect(value("libvirt_domains_number") == "1")
        #expect(value("libvirt_domain_state_code{domain=\"mon\"") == "1")
        #expect(value("libvirt_domain_info_virtual_cpus{domain=\"mon\"") == "2")
        #expect(readBytes != nil && value("libvirt_domain_block_stats_read_bytes_total{domain=\"mon\"") == readBytes.map(String.init),
                "\(metrics) \(stat)")
        _ = try? ours.virsh("destroy mon")
    }

    /// Debian's collectd with its virt plugin against virtd: block, memory, state and vCPU affinity values
    /// reach its CSV files (the plugin disables, as on libvirtd without them, the selectors whose calls virtd
    /// does not serve: pcpu, fs_info, disk_err).
    @Test("collectd's virt plugin reads a running guest of virtd")
    func collectdVirtPlugin() throws {
        let collectd = "/usr/sbin/collectd"
        guard access(collectd, X_OK) == 0 else {
            Issue.record("Debian's collectd-core is required (scripts/install-deps.sh installs it)")
            return
        }
        let guest = try TestGuest.load()
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        try Self.setUp(dir: ours.dir, guest: guest) { try ours.virsh($0) }
        #expect(try Self.waitForDiskReads { try ours.virsh($0) }, "the guest never read its disk")
        let base = ours.dir + "/collectd"
        try FileManager.default.createDirectory(atPath: base + "/csv", withIntermediateDirectories: true)
        let conf = """
        Interval 1
        BaseDir "\(base)"
        PIDFile "\(base)/collectd.pid"
        LoadPlugin logfile
        <Plugin logfile>
          LogLevel info
          File "\(base)/collectd.log"
        </Plugin>
        LoadPlugin csv
        <Plugin csv>
          DataDir "\(base)/csv"
        </Plugin>
        LoadPlugin virt
        <Plugin virt>
          Connection "\(ours.uri)"
          RefreshInterval 1
          HostnameFormat name
          ExtraStats "disk domain_state vcpupin disk_physical disk_allocation disk_capacity memory"
        </Plugin>

        """
        try conf.write(toFile: base + "/collectd.conf", atomically: true, encoding: .utf8)
        let proc = try ChildProcess.spawn([collectd, "-f", "-C", base + "/collectd.conf"],
                                          output: .file(base + "/out.log"))
        defer { proc.terminate() }
        let wanted = ["disk_octets-vda", "disk_ops-vda", "disk_capacity-vda", "memory-actual_balloon", "memory-rss",
                      "domain_state", "cpu_affinity-vcpu_0-cpu_0", "cpu_affinity-vcpu_1-cpu_1"]
        func present() -> [String] {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: base + "/csv/mon/virt")) ?? []
            return wanted.filter { w in files.contains { $0.hasPrefix(w + "-") } }
        }
        let complete = eventually(60) { present().count == wanted.count }
        let log = (try? String(contentsOfFile: base + "/collectd.log", encoding: .utf8)) ?? ""
        #expect(complete, "collectd wrote \(present()) of \(wanted); log:\n\(log)")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: base + "/csv/mon/virt")) ?? []
        if let cap = files.first(where: { $0.hasPrefix("disk_capacity-vda-") }) {
            // The header comes first and the values with the next flush (late under load).
            func text() -> String { (try? String(contentsOfFile: base + "/csv/mon/virt/" + cap, encoding: .utf8)) ?? "" }
            _ = eventually(60) { text().split(separator: "\n").count >= 2 }
            // epoch,value: the raw image's 1 MiB.
            #expect(text().split(separator: "\n").dropFirst().first?.hasSuffix(",1048576.000000") == true, "\(text())")
        }
        _ = try? ours.virsh("destroy mon")
    }
}
