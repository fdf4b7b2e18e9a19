import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Block jobs on a KVM domain without a guest OS, through virtd and through Debian's libvirtd 9.0 side by side:
/// qcow2 chains made with qemu-img, data written into each image with qemu-io before the jobs, then Debian's
/// virsh runs blockcommit (an intermediate image; the active image with `--wait --pivot`), blockpull,
/// blockcopy (`--transient-job`, `--wait --finish`, a pivot through `blockjob --pivot`, an abort), blockjob
/// (info, `--raw`, `--bandwidth`, `--abort`, `--pivot`) and their refusals, one virsh per command; stdout,
/// stderr and status must be the same (paths normalised, virsh's progress lines dropped), so must the disks'
/// live and persistent XML after each job (`<backingStore>` chains, `<mirror>`), the BLOCK_JOB and BLOCK_JOB_2
/// events `virsh event --all --loop` printed, and the resulting chains (`qemu-img info --backing-chain`). The
/// data is read back with qemu-io from the images the jobs left.
@Suite("QEMU block jobs: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .kvm, .root, .referenceLibvirtd))
struct QEMUBlockJobTests {
    static func domainXML(_ work: String) -> String {
        """
        <domain type='kvm'><name>bj</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(work)/top.qcow2'/><target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(work)/r.img'/><target dev='vdb' bus='virtio'/></disk>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(work)/p.qcow2'/><target dev='vdc' bus='virtio'/></disk>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(work)/q3.qcow2'/><target dev='vdd' bus='virtio'/></disk>
        <memballoon model='none'/></devices></domain>
        """
    }

    static func run(_ argv: [String]) throws -> ChildProcess.Result {
        let r = try ChildProcess.run(argv, timeLimit: 60)
        #expect(r.status == 0, "\(argv): \(r.stderr)")
        return r
    }

    /// base ← mid ← top (0x11 at 0, 0x22 at 64k, 0x33 at 128k), pbase ← p (0x55 at 0, 0x66 at 64k), r.img (0x44).
    static func makeWork(_ dir: String) throws -> String {
        let work = dir + "/bj"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        chmod(work, 0o755)
        let img = "/usr/bin/qemu-img", io = "/usr/bin/qemu-io"
        _ = try run([img, "create", "-q", "-f", "qcow2", work + "/base.qcow2", "64M"])
        _ = try run([io, "-c", "write -P 0x11 0 64k", work + "/base.qcow2"])
        _ = try run([img, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", work + "/mid.qcow2"])
        _ = try run([io, "-c", "write -P 0x22 64k 64k", work + "/mid.qcow2"])
        _ = try run([img, "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", work + "/top.qcow2"])
        _ = try run([io, "-c", "write -P 0x33 128k 64k", work + "/top.qcow2"])
        _ = try run([img, "create", "-q", "-f", "qcow2", work + "/pbase.qcow2", "32M"])
        _ = try run([io, "-c", "write -P 0x55 0 64k", work + "/pbase.qcow2"])
        _ = try run([img, "create", "-q", "-f", "qcow2", "-b", "pbase.qcow2", "-F", "qcow2", work + "/p.qcow2"])
        _ = try run([io, "-c", "write -P 0x66 64k 64k", work + "/p.qcow2"])
        _ = try run([img, "create", "-q", "-f", "raw", work + "/r.img", "8M"])
        _ = try run([io, "-f", "raw", "-c", "write -P 0x44 0 64k", work + "/r.img"])
        _ = try run([img, "create", "-q", "-f", "raw", work + "/reuse.img", "8M"])
        // q1 ← q2 ← q3 (0x99 at 0, 0x77 at 64k, 0x88 at 128k): a partial pull, then a shallow active commit.
        _ = try run([img, "create", "-q", "-f", "qcow2", work + "/q1.qcow2", "16M"])
        _ = try run([io, "-c", "write -P 0x99 0 64k", work + "/q1.qcow2"])
        _ = try run([img, "create", "-q", "-f", "qcow2", "-b", "q1.qcow2", "-F", "qcow2", work + "/q2.qcow2"])
        _ = try run([io, "-c", "write -P 0x77 64k 64k", work + "/q2.qcow2"])
        _ = try run([img, "create", "-q", "-f", "qcow2", "-b", "q2.qcow2", "-F", "qcow2", work + "/q3.qcow2"])
        _ = try run([io, "-c", "write -P 0x88 128k 64k", work + "/q3.qcow2"])
        for f in ["base.qcow2", "mid.qcow2", "top.qcow2", "pbase.qcow2", "p.qcow2", "r.img", "reuse.img", "q1.qcow2",
                  "q2.qcow2", "q3.qcow2"] {
            chmod(work + "/" + f, 0o666)
        }
        try domainXML(work).write(toFile: work + "/bj.xml", atomically: true, encoding: .utf8)
        return work
    }

    /// The commands, each run by its own virsh (`W` the work directory). `@ready DISK` waits until the disk's
    /// `<mirror>` says ready; `@xml` records the disks' live and persistent XML.
    static let steps: [String] = [
        "define W/bj.xml",
        "start bj",
        "@xml",
        "blockjob bj vda",
        "blockjob bj vda --abort",
        "blockpull bj vdz",
        "blockcommit bj vda",
        "blockcommit bj vda --active --top W/mid.qcow2",
        "blockcommit bj vda --top W/nosuch.qcow2",
        "blockcommit bj vda --top vda[9]",
        "blockcommit bj vda --top W/base.qcow2",
        "blockcommit bj vda --top W/mid.qcow2 --base W/top.qcow2",
        "blockcopy bj vdb W/copy.img",
        "blockcommit bj vda --top W/mid.qcow2 --wait --verbose",
        "@xml",
        "blockcommit bj vda --active",
        "@ready vda",
        "@xml",
        "blockjob bj vda --raw",
        "blockjob bj vda --bandwidth 10",
        "blockjob bj vda --raw",
        "blockjob bj vda --bytes",
        "blockcommit bj vda --active",
        "connect U --readonly; blockjob bj vda --pivot",
        "connect U --readonly; blockjob bj vda --bandwidth 1",
        "connect U --readonly; blockjob bj vda --raw",
        "blockjob bj vda --pivot",
        "@xml",
        "blockjob bj vda",
        "connect U --readonly; blockpull bj vdc",
        "connect U --readonly; blockcommit bj vdc --active",
        "connect U --readonly; blockcopy bj vdc W/x.img --transient-job",
        "blockcopy bj vdc W/shallow.qcow2 --transient-job --shallow --wait --verbose",
        "@ready vdc",
        "@xml",
        "blockjob bj vdc --abort",
        "blockcopy bj vdb W/reuse.img --transient-job --reuse-external --wait --finish",
        "blockcopy bj vdb W/missing.img --transient-job --reuse-external",
        "blockpull bj vdc --wait --verbose",
        "blockpull bj vdd --base W/q1.qcow2 --bandwidth 1 --wait",
        "@xml",
        "blockpull bj vdd --base W/q3.qcow2",
        "blockcommit bj vdd --active --shallow --pivot --bandwidth 1048576 --bytes",
        "@xml",
        "@xml",
        "blockcopy bj vdb W/copy.img --transient-job --wait --verbose --finish",
        "@xml",
        "blockcopy bj vdb W/copy2.img --transient-job",
        "@ready vdb",
        "@xml",
        "blockjob bj vdb --raw",
        "blockjob bj vdb --pivot",
        "@xml",
        "blockcopy bj vdb W/copy3.img --transient-job --wait --verbose",
        "@ready vdb",
        "blockjob bj vdb --abort",
        "@xml",
        "blockcommit bj vda --active --wait --verbose --pivot",
        "blockcopy bj vdb W/copy4.img --transient-job --wait --verbose --pivot",
        "@xml",
        "destroy bj",
        "blockjob bj vda",
        "undefine bj",
    ]

    static func disks(_ xml: String) -> String { QEMUBlockTuneTests.disks(xml) }

    /// virsh's progress (`Block Commit: [ 42 %]`, rewritten with carriage returns) taken out.
    static func withoutProgress(_ s: String) -> String {
        s.replacingOccurrences(of: #"[\r\n]?Block [A-Za-z ]+: \[ *[0-9]+ %\]"#, with: "", options: .regularExpression)
    }

    struct Run {
        var transcript: [String] = []
        var xml: [String] = []
        var events: [String] = []
        var chains: [String] = []
        var data: [String] = []
        var progress = ""
    }

    static func run(uri: String, dir: String, virsh: (String) throws -> ChildProcess.Result) throws -> Run {
        let work = try makeWork(dir)
        let watcher = try VirshEventWatcher(uri: uri, dir: dir)
        defer { watcher.stop() }
        var out = Run()
        for step in steps {
            if step == "@xml" {
                out.xml.append(disks(try virsh("dumpxml bj").stdout) + "\n--- inactive\n"
                               + disks(try virsh("dumpxml bj --inactive").stdout))
                continue
            }
            if step.hasPrefix("@ready ") {
                let dev = String(step.dropFirst(7))
                let ok = eventually(60) {
                    let x = (try? virsh("dumpxml bj").stdout) ?? ""
                    guard let r = x.range(of: "<target dev='\(dev)'") else { return false }
                    return x[..<r.lowerBound].components(separatedBy: "<disk ").last?.contains("ready='yes'") == true
                }
                #expect(ok, "disk \(dev) not ready")
                continue
            }
            let r = try virsh(step.replacingOccurrences(of: "W/", with: work + "/")
                .replacingOccurrences(of: "connect U ", with: "connect \(uri) "))
            out.progress += r.stderr
            out.transcript.append("$ \(step)\n\(withoutProgress(r.stdout))\(withoutProgress(r.stderr))rc=\(r.status)")
        }
        out.xml = out.xml.map { $0.replacingOccurrences(of: work, with: "W") }
        out.transcript = out.transcript.map {
            $0.replacingOccurrences(of: work, with: "W").replacingOccurrences(of: uri, with: "U")
        }
        try watcher.sync()
        out.events = QEMUBlockTuneTests.events(watcher.text, "bj").map { $0.replacingOccurrences(of: work, with: "W") }
        for f in ["top.qcow2", "base.qcow2", "p.qcow2", "copy.img", "copy2.img", "copy4.img", "shallow.qcow2", "reuse.img",
                  "q1.qcow2", "q3.qcow2"] {
            let r = try ChildProcess.run(["/usr/bin/qemu-img", "info", "-U", "--backing-chain", work + "/" + f],
                                         timeLimit: 60)
            out.chains.append(r.stdout.split(separator: "\n").filter {
                $0.hasPrefix("image:") || $0.hasPrefix("backing file") || $0.hasPrefix("file format")
                    || $0.hasPrefix("virtual size")
            }.joined(separator: "\n").replacingOccurrences(of: work, with: "W"))
        }
        // The copies' file modes (libvirt creates a new copy 0600).
        for f in ["copy.img", "copy2.img", "copy4.img", "shallow.qcow2"] {
            var st = stat()
            let mode = stat(work + "/" + f, &st) == 0 ? String(st.st_mode & 0o7777, radix: 8) : "missing"
            out.chains.append("\(f) mode \(mode)")
        }
        // The data each job must have carried: the active commit put all three layers into base.qcow2, the
        // pull both layers into p.qcow2, the copies r.img's data.
        for (f, fmt, pattern, offset) in [("base.qcow2", "qcow2", "0x11", "0"), ("base.qcow2", "qcow2", "0x22", "64k"),
                                          ("base.qcow2", "qcow2", "0x33", "128k"), ("p.qcow2", "qcow2", "0x55", "0"),
                                          ("p.qcow2", "qcow2", "0x66", "64k"), ("copy.img", "raw", "0x44", "0"),
                                          ("copy2.img", "raw", "0x44", "0"), ("copy4.img", "raw", "0x44", "0"),
                                          ("reuse.img", "raw", "0x44", "0"), ("shallow.qcow2", "qcow2", "0x66", "64k"),
                                          ("shallow.qcow2", "qcow2", "0x55", "0"), ("q1.qcow2", "qcow2", "0x99", "0"),
                                          ("q1.qcow2", "qcow2", "0x77", "64k"), ("q1.qcow2", "qcow2", "0x88", "128k")] {
            let r = try ChildProcess.run(["/usr/bin/qemu-io", "-r", "-U", "-f", fmt, "-c",
                                          "read -P \(pattern) \(offset) 64k", work + "/" + f], timeLimit: 60)
            out.data.append("\(f) \(pattern)@\(offset): "
                            + (r.status == 0 && !r.stdout.contains("verification failed") ? "ok" : "differs"))
        }
        return out
    }

    @Test("blockcommit, blockpull, blockcopy and blockjob: virsh's output, the disks' XML, events and chains as libvirtd's")
    func likeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        let o = try Self.run(uri: ours.uri, dir: ours.dir) { try ours.virsh($0) }
        let r = try Self.run(uri: ref.uri, dir: ref.dir) { try virsh(ref.uri, $0, timeout: 120) }
        #expect(o.transcript.count == r.transcript.count)
        for (a, b) in zip(o.transcript, r.transcript) where a != b {
            Issue.record("virtd:\n\(a)\nlibvirtd:\n\(b)")
        }
        #expect(o.xml.count == r.xml.count)
        for (i, (a, b)) in zip(o.xml, r.xml).enumerated() where a != b {
            Issue.record("XML \(i): virtd:\n\(a)\nlibvirtd:\n\(b)")
        }
        #expect(o.events == r.events, "virtd:\n\(o.events.joined(separator: "\n"))\nlibvirtd:\n\(r.events.joined(separator: "\n"))")
        #expect(o.chains == r.chains, "virtd:\n\(o.chains)\nlibvirtd:\n\(r.chains)")
        #expect(o.data == r.data, "virtd: \(o.data)\nlibvirtd: \(r.data)")
        // What virtd must show by itself.
        #expect(!o.data.contains { $0.hasSuffix("differs") }, "\(o.data)")
        #expect(o.progress.contains("[100 %]"), "\(o.progress)")
        #expect(o.events.contains("event 'block-job-2' for domain 'bj': Active Block Commit for vda ready"), "\(o.events)")
        #expect(o.transcript.contains { $0.contains("Successfully pivoted") }, "\(o.transcript)")
    }

    @Test("a pull that ends while virtd is down (kill -9) is concluded by the restarted daemon: no job left, the chain updated")
    func jobEndsWhileDaemonIsDown() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let work = try Self.makeWork(ours.dir)
        // 1 MiB in the backing image, pulled at 256 KiB/s: a few seconds.
        _ = try Self.run(["/usr/bin/qemu-io", "-c", "write -P 0x5a 1M 1M", work + "/pbase.qcow2"])
        let start = try ours.virsh("define \(work)/bj.xml; start bj; blockpull bj vdc --bandwidth 262144 --bytes")
        #expect(start.status == 0, "\(start.stderr)")
        let during = try ours.virsh("blockjob bj vdc --raw")
        ours.kill9()
        #expect(during.stdout.contains("type=Block Pull"), "\(during.stdout) \(during.stderr)")
        Thread.sleep(forTimeInterval: 8)
        try ours.start()
        let after = try ours.virsh("blockjob bj vdc; dumpxml bj")
        #expect(after.status == 0 && after.stdout.contains("No current block job for vdc"), "\(after.stdout) \(after.stderr)")
        #expect(!after.stdout.contains("pbase.qcow2"), "\(after.stdout)")
        // QEMU flushes its qcow2 metadata when it ends; the image is read after that.
        #expect(try ours.virsh("destroy bj").status == 0)
        let r = try ChildProcess.run(["/usr/bin/qemu-img", "info", "-U", work + "/p.qcow2"], timeLimit: 60)
        #expect(!r.stdout.contains("backing file"), "\(r.stdout)")
        let data = try ChildProcess.run(["/usr/bin/qemu-io", "-r", "-U", "-c", "read -P 0x5a 1M 1M", work + "/p.qcow2"],
                                        timeLimit: 60)
        #expect(data.status == 0 && !data.stdout.contains("verification failed"), "\(data.stdout)")
    }

    @Test("an active commit waiting for its pivot survives a kill -9 of virtd: the restarted daemon adopts the job")
    func jobSurvivesRestart() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let work = try Self.makeWork(ours.dir)
        let start = try ours.virsh("define \(work)/bj.xml; start bj; blockcommit bj vda --active")
        #expect(start.status == 0, "\(start.stderr)")
        #expect(eventually(60) { (try? ours.virsh("dumpxml bj").stdout)?.contains("ready='yes'") == true })
        let before = try ours.virsh("blockjob bj vda --raw")
        ours.kill9()
        try ours.start()
        let after = try ours.virsh("blockjob bj vda --raw")
        #expect(after.status == 0 && after.stdout == before.stdout && before.stdout.contains("type=Active Block Commit"),
                "before: \(before.stdout)\nafter: \(after.stdout) \(after.stderr)")
        #expect(try ours.virsh("dumpxml bj").stdout.contains("<mirror type='file' job='active-commit' ready='yes'>"))
        let pivot = try ours.virsh("blockjob bj vda --pivot; dumpxml bj")
        #expect(pivot.status == 0 && pivot.stdout.contains("<source file='\(work)/base.qcow2' index="),
                "\(pivot.stdout) \(pivot.stderr)")
        #expect(try ours.virsh("destroy bj").status == 0)
        let r = try ChildProcess.run(["/usr/bin/qemu-io", "-r", "-U", "-c", "read -P 0x33 128k 64k", work + "/base.qcow2"],
                                     timeLimit: 60)
        #expect(r.status == 0 && !r.stdout.contains("verification failed"), "\(r.stdout)")
    }

    /// `body` on virtd, then on libvirtd 9.0, each with a work directory of its own (``makeWork(_:)``), a
    /// `virsh event --all --loop` watcher and Debian's virsh; the lines each returned.
    static func onBothDaemons(oursConfig: String = "",
                              _ body: (_ work: String, _ watcher: VirshEventWatcher,
                                       _ run: (String) throws -> ChildProcess.Result) throws -> [String]) throws -> [[String]] {
        let ours = try RestartableVirtd(config: oursConfig)
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        var results: [[String]] = []
        for (uri, dir, run) in [(ours.uri, ours.dir, { (c: String) in try ours.virsh(c) }),
                                (ref.uri, ref.dir, { (c: String) in try virsh(ref.uri, c, timeout: 120) })] {
            let work = try makeWork(dir)
            let watcher = try VirshEventWatcher(uri: uri, dir: dir)
            defer { watcher.stop() }
            results.append(try body(work, watcher, run))
        }
        return results
    }

    /// A slow pull (64 KiB/s, shown as 1 MiB/s as libvirt rounds up) and an active commit in its ready state when
    /// the domain is destroyed: no block job event (QEMU cancels its jobs on the way out; libvirt drops them),
    /// no job after the next start.
    @Test("block jobs of a domain that is destroyed: no events, no job after the next start, as libvirtd's")
    func jobsOfAStoppedDomain() throws {
        let results = try Self.onBothDaemons { work, watcher, run in
            _ = try Self.run(["/usr/bin/qemu-io", "-c", "write -P 0x5a 1M 1M", work + "/pbase.qcow2"])
            var transcript: [String] = []
            for step in ["define W/bj.xml", "start bj", "blockpull bj vdc --bandwidth 65536 --bytes",
                         "blockcommit bj vda --active", "@ready vda", "blockjob bj vdc --raw", "destroy bj",
                         "start bj", "blockjob bj vdc", "blockjob bj vda", "destroy bj", "undefine bj"] {
                if step == "@ready vda" {
                    let ok = eventually(60) { (try? run("dumpxml bj").stdout)?.contains("ready='yes'") == true }
                    #expect(ok, "not ready")
                    continue
                }
                let r = try run(step.replacingOccurrences(of: "W/", with: work + "/"))
                var out = r.stdout + r.stderr
                if step.hasPrefix("blockjob bj vdc --raw") {
                    out = out.replacingOccurrences(of: #"cur=[0-9]+"#, with: "cur=N", options: .regularExpression)
                }
                transcript.append("$ \(step)\n\(out.replacingOccurrences(of: work, with: "W"))rc=\(r.status)")
            }
            try watcher.sync()
            let events = QEMUBlockTuneTests.events(watcher.text, "bj").map { $0.replacingOccurrences(of: work, with: "W") }
            return transcript + ["events:"] + events
        }
        #expect(results[0] == results[1], "virtd:\n\(results[0].joined(separator: "\n"))\nlibvirtd:\n\(results[1].joined(separator: "\n"))")
    }

    /// libvirt's thin-provisioning case: a write threshold on a backing image by its index (`vda[N]`), crossed by
    /// the active commit that writes the upper layers into it.
    @Test("domblkthreshold on a backing image by index, crossed by an active commit: the event as libvirtd's")
    func thresholdOnBackingImage() throws {
        let results = try Self.onBothDaemons { work, watcher, run in
            let start = try run("define \(work)/bj.xml; start bj")
            #expect(start.status == 0, "\(start.stderr)")
            // base.qcow2's index in the live XML.
            let xml = try run("dumpxml bj").stdout
            let base = xml.components(separatedBy: "<backingStore type='file' index='").dropFirst()
                .first { $0.contains("<source file='\(work)/base.qcow2'") }?.prefix { $0.isNumber }
            let index = try #require(base.map(String.init), "no index for base.qcow2 in \(xml)")
            var transcript: [String] = []
            for step in ["domblkthreshold bj vda[99] 1", "domblkthreshold bj vda[\(index)] 1",
                         "blockcommit bj vda --active --wait --pivot", "destroy bj", "undefine bj"] {
                let r = try run(step)
                transcript.append("$ \(step.replacingOccurrences(of: "[\(index)]", with: "[BASE]"))\n"
                                  + Self.withoutProgress(r.stdout + r.stderr) + "rc=\(r.status)")
            }
            try watcher.sync()
            let events = QEMUBlockTuneTests.events(watcher.text, "bj").filter { $0.contains("'block-threshold'") }
                .map { $0.replacingOccurrences(of: work, with: "W").replacingOccurrences(of: "[\(index)]", with: "[BASE]") }
            return transcript + ["events:"] + events
        }
        #expect(results[0] == results[1], "virtd:\n\(results[0].joined(separator: "\n"))\nlibvirtd:\n\(results[1].joined(separator: "\n"))")
        #expect(results[0].contains { $0.hasPrefix("event 'block-threshold' for domain 'bj': dev: vda[BASE](W/base.qcow2) 1 ") },
                "\(results[0])")
    }
}
