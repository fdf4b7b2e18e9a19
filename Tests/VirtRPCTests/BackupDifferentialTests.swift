import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Push-mode backups (virDomainBackupBegin, backup-dumpxml) on `qemu:///system`, virtd beside Debian's libvirtd 9.0
/// driven by Debian's virsh (and vsh on virtd): a KVM domain with a qcow2 disk holding 512 MiB of data, a raw disk
/// and an empty CD-ROM. Refusals (inactive domain, XML the schema rejects, unknown disks, no disk selected, an
/// existing target, a drive without media); a backup into named targets slowed down with `blockjob --bandwidth`
/// so that backup-dumpxml, domjobinfo and `blockjob --info` see it running, then aborted (targets removed,
/// Cancelled); a default backup (targets next to the images, their names suffixed with the time) run to its end:
/// domjobinfo --completed, the events, and the targets equal to the disks (`qemu-img compare`). Pull mode: both
/// disks exported over NBD on the caller's socket, read with qemu-img and equal to the disks, until aborted; a
/// backup under way when the domain is destroyed.
@Suite("backups (push and pull): virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .kvm, .root, .referenceLibvirtd))
struct BackupDifferentialTests {
    static func xml(_ name: String, dir: String) -> String {
        """
        <domain type='kvm'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(dir)/vda.qcow2'/>\
        <target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(dir)/vdb.raw'/>\
        <target dev='vdb' bus='virtio'/></disk>
        <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
        <memballoon model='none'/></devices></domain>
        """
    }

    /// Backup definitions the test asks for, by file name (DIR is the daemon's directory).
    static let backups: [String: String] = [
        "named.xml": "<domainbackup><disks><disk name='vda' backup='yes' type='file'><target file='DIR/vda.bak'/></disk>"
            + "<disk name='vdb' type='file'><driver type='raw'/><target file='DIR/vdb.bak'/></disk></disks></domainbackup>",
        "nodisk.xml": "<domainbackup><disks><disk name='vdz' type='file'/></disks></domainbackup>",
        "notype.xml": "<domainbackup><disks><disk name='vda'/></disks></domainbackup>",
        "badtarget.xml": "<domainbackup><disks><disk name='vda' type='block'><target file='DIR/x'/></disk></disks></domainbackup>",
        "mode.xml": "<domainbackup mode='bogus'/>",
        "pullnoserver.xml": "<domainbackup mode='pull'/>",
        "pushserver.xml": "<domainbackup mode='push'><server transport='unix' socket='DIR/nbd'/></domainbackup>",
        "none.xml": "<domainbackup><disks><disk name='vda' backup='no'/><disk name='vdb' backup='no'/></disks></domainbackup>",
        "exists.xml": "<domainbackup><disks><disk name='vdb' type='file'><target file='DIR/vdb.raw'/></disk></disks></domainbackup>",
        "nomedia.xml": "<domainbackup><disks><disk name='sda' type='file'><target file='DIR/sda.bak'/></disk></disks></domainbackup>",
        "twice.xml": "<domainbackup><disks><disk name='vda' type='file'/><disk name='vda' type='file'/></disks></domainbackup>",
        "root.xml": "<backup/>",
        "pull.xml": "<domainbackup mode='pull'><server transport='unix' socket='DIR/nbd/sock'/></domainbackup>",
        "pulltcp.xml": "<domainbackup mode='pull'><server name='localhost'/></domainbackup>",
        "pullraw.xml": "<domainbackup mode='pull'><server transport='unix' socket='DIR/nbd/sock'/><disks>"
            + "<disk name='vdb' type='file'><driver type='raw'/></disk></disks></domainbackup>",
    ]

    static func mask(_ s: String, dir: String, name: String) -> String {
        s.replacingOccurrences(of: dir, with: "DIR").replacingOccurrences(of: name, with: "NAME")
            .replacingOccurrences(of: #"\.[0-9]{10}\b"#, with: ".T", options: .regularExpression)
            .replacingOccurrences(of: #"Time elapsed: +[0-9]+ +ms"#, with: "Time elapsed: T ms", options: .regularExpression)
            .replacingOccurrences(of: #"time_elapsed: [0-9]+"#, with: "time_elapsed: T", options: .regularExpression)
    }

    /// The figures of a running job, which move.
    static func maskRunning(_ s: String) -> String {
        s.replacingOccurrences(of: #"File (processed|remaining): +[0-9.]+ [A-Za-z]+"#, with: "File $1: N",
                               options: .regularExpression)
            .replacingOccurrences(of: #"Backup: \[ *[0-9.]+ %\]"#, with: "Backup: [N %]", options: .regularExpression)
    }

    @Test("backup-begin, backup-dumpxml, domjobinfo, domjobabort and the events as libvirtd's")
    func backupLikeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 16)
        let sides: [(label: String, name: String, dir: String, uri: String)] = [
            ("virtd", "bko" + suffix, ours.dir, ours.uri), ("libvirtd", "bkr" + suffix, ref.dir, ref.uri),
        ]
        defer { for s in sides { _ = try? virsh(s.uri, "destroy \(s.name); undefine \(s.name)") } }
        for s in sides {
            let img = try ChildProcess.run(["/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", s.dir + "/vda.qcow2", "1G"])
            let io = try ChildProcess.run(["/usr/bin/qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 512M",
                                           s.dir + "/vda.qcow2"], timeLimit: 120)
            try #require(img.status == 0 && io.status == 0, "\(img.stderr) \(io.stderr)")
            FileManager.default.createFile(atPath: s.dir + "/vdb.raw", contents: nil)
            truncate(s.dir + "/vdb.raw", 64 << 20)
            try Self.xml(s.name, dir: s.dir).write(toFile: s.dir + "/bk.xml", atomically: true, encoding: .utf8)
            for (f, x) in Self.backups {
                try x.replacingOccurrences(of: "DIR", with: s.dir).write(toFile: s.dir + "/" + f, atomically: true,
                                                                         encoding: .utf8)
            }
            let r = try virsh(s.uri, "define \(s.dir)/bk.xml")
            try #require(r.status == 0, "\(s.label): \(r.stderr)")
        }
        func run(_ command: String, _ i: Int, client: String = "/usr/bin/virsh") throws -> ChildProcess.Result {
            let s = sides[i]
            let c = command.replacingOccurrences(of: "NAME", with: s.name).replacingOccurrences(of: "DIR", with: s.dir)
            return try ChildProcess.run([client, "-c", s.uri, c], timeLimit: 120)
        }
        @discardableResult
        func same(_ command: String, running: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) throws
            -> [ChildProcess.Result] {
            let r = try (0..<2).map { try run(command, $0) }
            func clean(_ t: String, _ i: Int) -> String {
                let m = Self.mask(t, dir: sides[i].dir, name: sides[i].name)
                return running ? Self.maskRunning(m) : m
            }
            #expect(clean(r[0].stdout, 0) == clean(r[1].stdout, 1),
                    "stdout of '\(command)':\n virtd    \(r[0].stdout)\n libvirtd \(r[1].stdout)", sourceLocation: sourceLocation)
            #expect(clean(r[0].stderr, 0) == clean(r[1].stderr, 1),
                    "stderr of '\(command)':\n virtd    \(r[0].stderr)\n libvirtd \(r[1].stderr)", sourceLocation: sourceLocation)
            #expect(r[0].status == r[1].status, "status of '\(command)'", sourceLocation: sourceLocation)
            return r
        }
        func waitNoJob(_ i: Int) {
            _ = eventually(60) { ((try? run("domjobinfo NAME", i).stdout) ?? "").contains("Job type:         None") }
        }

        // Inactive: refused; no job to dump.
        try same("backup-begin NAME; backup-dumpxml NAME; help backup-begin; help backup-dumpxml")
        for i in 0..<2 { try #require(try run("start NAME", i).status == 0) }
        let watchers = try sides.map { s in
            try ChildProcess.spawn(["/usr/bin/virsh", "-c", s.uri, "event", "--domain", s.name, "--all", "--loop"],
                                   output: .file(s.dir + "/events.txt"))
        }
        defer { for w in watchers { w.terminate() } }

        // Refusals.
        try same(["nodisk", "notype", "badtarget", "mode", "pullnoserver", "pushserver", "none", "exists", "nomedia",
                  "twice", "root"]
            .map { "backup-begin NAME --backupxml DIR/\($0).xml" }.joined(separator: "; ") + "; backup-begin NAME --backupxml DIR/missing.xml")
        for i in 0..<2 { #expect(access(sides[i].dir + "/sda.bak", F_OK) != 0) }

        // Named targets, slowed down: the job as it runs, then aborted.
        // (The raw disk's 64 MiB of zeros are done at once.)
        try same("backup-begin NAME --backupxml DIR/named.xml; blockjob NAME vda --bandwidth 1; "
                 + "backup-dumpxml NAME; domjobinfo NAME; blockjob NAME vda --info; backup-dumpxml NAME --wrap",
                 running: true)
        for i in 0..<2 {
            #expect(access(sides[i].dir + "/vda.bak", F_OK) == 0, "\(sides[i].label): no target while the job runs")
        }
        try same("domjobabort NAME")
        for i in 0..<2 { waitNoJob(i) }
        try same("domjobinfo NAME; domjobinfo NAME --completed; backup-dumpxml NAME")
        for i in 0..<2 {
            #expect(access(sides[i].dir + "/vda.bak", F_OK) != 0 && access(sides[i].dir + "/vdb.bak", F_OK) != 0,
                    "\(sides[i].label): a cancelled backup leaves its targets")
        }

        // The default backup, to its end.
        try same("backup-begin NAME")
        for i in 0..<2 { waitNoJob(i) }
        try same("domjobinfo NAME --completed")
        for (i, s) in sides.enumerated() {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: s.dir)) ?? []
            for (disk, fmt) in [("vda.qcow2", "qcow2"), ("vdb.raw", "raw")] {
                let target = try #require(files.first { $0.hasPrefix(disk + ".") && $0.count == disk.count + 11 },
                                          "\(s.label): no target of \(disk) in \(files)")
                let cmp = try ChildProcess.run(["/usr/bin/qemu-img", "compare", "-U", "-f", fmt, "-F", "qcow2",
                                                s.dir + "/" + disk, s.dir + "/" + target], timeLimit: 120)
                #expect(cmp.status == 0 && cmp.stdout.contains("identical"), "\(s.label) \(disk): \(cmp.stdout) \(cmp.stderr)")
                _ = i
            }
        }
        // The events, in each disk's order (the two disks' jobs end in either order).
        let events = (0..<2).map { i -> [String] in
            _ = eventually(10) { ((try? String(contentsOfFile: sides[i].dir + "/events.txt", encoding: .utf8)) ?? "")
                .components(separatedBy: "job-completed").count == 3 }
            let text = (try? String(contentsOfFile: sides[i].dir + "/events.txt", encoding: .utf8)) ?? ""
            // How far the aborted backup got depends on timing.
            return Self.mask(text, dir: sides[i].dir, name: sides[i].name)
                .replacingOccurrences(of: #"disk_(processed|remaining): [1-9][0-9]*"#, with: "disk_$1: N",
                                      options: .regularExpression)
                .split(separator: "\n").map(String.init).sorted()
        }
        #expect(events[0] == events[1], "virtd:\n\(events[0].joined(separator: "\n"))\nlibvirtd:\n\(events[1].joined(separator: "\n"))")
        #expect(events[0].contains { $0.contains("Backup for DIR/vda.qcow2 completed") }, "\(events[0])")

        // Pull mode: the disks exported over NBD on a socket of the caller's as they were when the job began,
        // until the caller aborts it (then it counts as completed, with the cancellation as its message).
        for s in sides {
            try FileManager.default.createDirectory(atPath: s.dir + "/nbd", withIntermediateDirectories: true)
            chmod(s.dir + "/nbd", 0o777)
        }
        try same("backup-begin NAME --backupxml DIR/pulltcp.xml; backup-begin NAME --backupxml DIR/pullraw.xml")
        try same("backup-begin NAME --backupxml DIR/pull.xml; backup-dumpxml NAME; domjobinfo NAME", running: true)
        for s in sides {
            for (disk, fmt) in [("vda", "qcow2"), ("vdb", "raw")] {
                let cmp = try ChildProcess.run(["/usr/bin/qemu-img", "compare", "-U", "-f", fmt, "-F", "raw",
                                                s.dir + "/" + disk + (fmt == "raw" ? ".raw" : ".qcow2"),
                                                "nbd+unix:///\(disk)?socket=\(s.dir)/nbd/sock"], timeLimit: 120)
                #expect(cmp.status == 0 && cmp.stdout.contains("identical"), "\(s.label) \(disk): \(cmp.stdout) \(cmp.stderr)")
            }
        }
        try same("domjobabort NAME")
        for i in 0..<2 { waitNoJob(i) }
        try same("domjobinfo NAME --completed; backup-dumpxml NAME")
        for s in sides {
            let left = ((try? FileManager.default.contentsOfDirectory(atPath: s.dir)) ?? []).filter {
                ($0.hasPrefix("vda.qcow2.") || $0.hasPrefix("vdb.raw.")) && !$0.hasSuffix(".T")
            }
            // The default push backup's two targets stay; the scratch images are gone.
            #expect(left.count == 2, "\(s.label): \(left)")
        }

        // A backup under way when the domain stops ends cancelled, its scratch images removed.
        try same("backup-begin NAME --backupxml DIR/pull.xml; destroy NAME; domjobinfo NAME --completed; "
                 + "backup-dumpxml NAME", running: true)
        for s in sides {
            let left = ((try? FileManager.default.contentsOfDirectory(atPath: s.dir)) ?? []).filter {
                $0.hasPrefix("vda.qcow2.") || $0.hasPrefix("vdb.raw.")
            }
            #expect(left.count == 2, "\(s.label): \(left)")
        }
        for i in 0..<2 { _ = try run("start NAME", i) }

        // vsh as virsh on virtd.
        let script = "backup-dumpxml NAME; backup-begin NAME --backupxml DIR/nodisk.xml; backup-begin NAME --backupxml "
            + "DIR/mode.xml; backup-begin nope; backup-dumpxml nope; help backup-begin"
        let v = try run(script, 0, client: TestPaths.vsh), r = try run(script, 0)
        #expect(v.stdout == r.stdout && v.stderr == r.stderr && v.status == r.status,
                "vsh: \(v.stdout) \(v.stderr)\nvirsh: \(r.stdout) \(r.stderr)")
    }

    @Test("a backup running when virtd is killed is adopted by the next virtd and ends as it would have")
    func backupSurvivesDaemonKill() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let name = "bkk" + String(UInt32.random(in: 0..<UInt32.max), radix: 16)
        let dir = ours.dir
        _ = try ChildProcess.run(["/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", dir + "/vda.qcow2", "1G"])
        _ = try ChildProcess.run(["/usr/bin/qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 512M", dir + "/vda.qcow2"],
                                 timeLimit: 120)
        FileManager.default.createFile(atPath: dir + "/vdb.raw", contents: nil)
        truncate(dir + "/vdb.raw", 64 << 20)
        try Self.xml(name, dir: dir).write(toFile: dir + "/bk.xml", atomically: true, encoding: .utf8)
        for (f, x) in Self.backups {
            try x.replacingOccurrences(of: "DIR", with: dir).write(toFile: dir + "/" + f, atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(atPath: dir + "/nbd", withIntermediateDirectories: true)
        defer { _ = try? ours.virsh("destroy \(name)") }
        let started = try ours.virsh("define \(dir)/bk.xml; start \(name); backup-begin \(name) --backupxml \(dir)/named.xml; "
                                     + "blockjob \(name) vda --bandwidth 1; backup-dumpxml \(name)")
        try #require(started.status == 0, "\(started.stderr)")
        let before = started.stdout.components(separatedBy: "<domainbackup").last ?? ""

        // Killed mid-backup; the next daemon has the job, the definition and QEMU's progress.
        ours.kill9()
        try ours.start()
        let after = try ours.virsh("backup-dumpxml \(name); domjobinfo \(name)")
        #expect(after.status == 0 && after.stdout.contains(before), "\(after.stdout) \(after.stderr)")
        #expect(after.stdout.contains("Operation:        Backup"), "\(after.stdout)")
        // Let it run at full speed to its end: a complete, equal copy.
        let fast = try ours.virsh("blockjob \(name) vda --bandwidth 0")
        #expect(fast.status == 0, "\(fast.stderr)")
        #expect(eventually(60) { ((try? ours.virsh("domjobinfo \(name)").stdout) ?? "").contains("Job type:         None") })
        let done = try ours.virsh("domjobinfo \(name) --completed")
        #expect(done.stdout.contains("Job type:         Completed") && done.stdout.contains("File remaining:   0.000 B"),
                "\(done.stdout)")
        let cmp = try ChildProcess.run(["/usr/bin/qemu-img", "compare", "-U", "-f", "qcow2", "-F", "qcow2",
                                        dir + "/vda.qcow2", dir + "/vda.bak"], timeLimit: 120)
        #expect(cmp.status == 0 && cmp.stdout.contains("identical"), "\(cmp.stdout) \(cmp.stderr)")

        // A pull backup across a restart: the next daemon ends it on abort and removes the scratch images.
        let pull = try ours.virsh("backup-begin \(name) --backupxml \(dir)/pull.xml")
        try #require(pull.status == 0, "\(pull.stderr)")
        ours.kill9()
        try ours.start()
        let abort = try ours.virsh("domjobabort \(name)")
        #expect(abort.status == 0, "\(abort.stderr)")
        #expect(eventually(60) { ((try? ours.virsh("domjobinfo \(name)").stdout) ?? "").contains("Job type:         None") })
        let pulled = try ours.virsh("domjobinfo \(name) --completed")
        #expect(pulled.stdout.contains("Job type:         Completed") && pulled.stdout.contains("Operation canceled"),
                "\(pulled.stdout)")
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
            $0.hasPrefix("vda.qcow2.") || $0.hasPrefix("vdb.raw.")
        }
        #expect(left.isEmpty, "scratch images left: \(left)")
    }
}
