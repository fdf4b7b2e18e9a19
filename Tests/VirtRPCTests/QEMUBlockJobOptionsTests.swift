import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The remaining block job options, on virtd and on Debian's libvirtd 9.0 in the same test
/// (``QEMUBlockJobTests/onBothDaemons(_:)``), with Debian's virsh: `blockcommit --delete` (the committed images
/// removed once the job completed, for a commit below the active image and for an active commit's pivot),
/// `--keep-relative` for blockcommit and blockpull (the backing strings written into the qcow2 headers stay
/// relative; libvirt's refusals without a base and for a chain named by an absolute path), and
/// `blockcopy --blockdev` onto a loop device (through virDomainBlockCopy with `<disk type='block'>` and through
/// virDomainBlockRebase with COPY_DEV on a transient domain; a qcow2 copy onto a second device). Compared: virsh's output, the disks' live and
/// persistent XML, the block job events, which files are left, the `backing file` lines of `qemu-img info`, and
/// the data read back.
@Suite("QEMU block job options: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .kvm, .root, .referenceLibvirtd))
struct QEMUBlockJobOptionsTests {
    /// ``QEMUBlockJobTests/makeWork(_:)`` plus a fifth disk vde: a1 ← a2 (named by its absolute path) ← a3.
    static func makeWork(_ dir: String) throws -> String {
        let work = try QEMUBlockJobTests.makeWork(dir)
        let img = "/usr/bin/qemu-img"
        _ = try QEMUBlockJobTests.run([img, "create", "-q", "-f", "qcow2", work + "/a1.qcow2", "16M"])
        _ = try QEMUBlockJobTests.run([img, "create", "-q", "-f", "qcow2", "-b", work + "/a1.qcow2", "-F", "qcow2",
                                       work + "/a2.qcow2"])
        _ = try QEMUBlockJobTests.run([img, "create", "-q", "-f", "qcow2", "-b", "a2.qcow2", "-F", "qcow2",
                                       work + "/a3.qcow2"])
        for f in ["a1.qcow2", "a2.qcow2", "a3.qcow2"] { chmod(work + "/" + f, 0o666) }
        let xml = QEMUBlockJobTests.domainXML(work).replacingOccurrences(of: "<memballoon", with: """
            <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(work)/a3.qcow2'/>\
            <target dev='vde' bus='virtio'/></disk>
            <memballoon
            """)
        try xml.write(toFile: work + "/bj.xml", atomically: true, encoding: .utf8)
        return work
    }

    /// `s` with each path of `names` replaced by its name, longest path first (so that /dev/loop1 is not
    /// replaced inside /dev/loop10).
    static func neutral(_ s: String, _ names: [(String, String)]) -> String {
        names.sorted { $0.0.count > $1.0.count }.reduce(s) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }

    /// Runs `steps` (`@xml`: the disks' live and persistent XML (a transient domain's inactive one too); `@info FILE`: its backing strings; `@ready DEV`: until the disk's mirror is ready),
    /// each with its own virsh; the transcript with `work` (and `extra` names) made neutral.
    static func transcript(_ steps: [String], work: String, replacing extra: [(String, String)] = [],
                           _ run: (String) throws -> ChildProcess.Result) throws -> [String] {
        var out: [String] = []
        func neutral(_ s: String) -> String {
            Self.neutral(s.replacingOccurrences(of: work, with: "W"), extra)
        }
        for step in steps {
            if step.hasPrefix("@info ") {
                out += try files(work, [String(step.dropFirst(6))]).dropFirst()
                continue
            }
            if step == "@xml" {
                out.append(neutral(QEMUBlockJobTests.disks(try run("dumpxml bj").stdout) + "\n--- inactive\n"
                                   + QEMUBlockJobTests.disks(try run("dumpxml bj --inactive").stdout)))
                continue
            }
            if step.hasPrefix("@ready ") {
                let dev = String(step.dropFirst(7))
                let ok = eventually(60) {
                    let x = (try? run("dumpxml bj").stdout) ?? ""
                    guard let r = x.range(of: "<target dev='\(dev)'") else { return false }
                    return x[..<r.lowerBound].components(separatedBy: "<disk ").last?.contains("ready='yes'") == true
                }
                #expect(ok, "disk \(dev) not ready")
                continue
            }
            var command = step.replacingOccurrences(of: "W/", with: work + "/")
            // Longest name first ("DEV2" before "DEV").
            for (a, b) in extra.sorted(by: { $0.1.count > $1.1.count }) { command = command.replacingOccurrences(of: b, with: a) }
            let r = try run(command)
            out.append("$ \(step)\n" + neutral(QEMUBlockJobTests.withoutProgress(r.stdout + r.stderr)) + "rc=\(r.status)")
        }
        return out
    }

    /// The files left in the work directory and the backing strings of the images that remain.
    static func files(_ work: String, _ images: [String]) throws -> [String] {
        var out = ["files: " + ((try? FileManager.default.contentsOfDirectory(atPath: work)) ?? [])
            .filter { $0.hasSuffix(".qcow2") }.sorted().joined(separator: " ")]
        for f in images {
            let r = try ChildProcess.run(["/usr/bin/qemu-img", "info", "-U", work + "/" + f], timeLimit: 60)
            let backing = r.stdout.split(separator: "\n").filter { $0.hasPrefix("backing file") }
            out.append("\(f): " + (r.status == 0 ? backing.joined(separator: "; ") : "missing")
                .replacingOccurrences(of: work, with: "W"))
        }
        return out
    }

    static func read(_ path: String, format: String, pattern: String, offset: String) -> String {
        let r = try? ChildProcess.run(["/usr/bin/qemu-io", "-r", "-U", "-f", format, "-c",
                                       "read -P \(pattern) \(offset) 64k", path], timeLimit: 60)
        return "\(pattern)@\(offset): " + (r?.status == 0 && r?.stdout.contains("verification failed") == false ? "ok" : "differs")
    }

    @Test("blockcommit --delete and --keep-relative, blockpull --keep-relative: output, XML, files and backing strings as libvirtd's")
    func deleteAndKeepRelative() throws {
        let results = try QEMUBlockJobTests.onBothDaemons { dir, watcher, run in
            // onBothDaemons made the standard work directory; ours (with vde) goes beside it.
            let work = try Self.makeWork(dir + "/o")
            var out = try Self.transcript([
                "define W/bj.xml", "start bj", "@xml",
                "blockpull bj vdd --keep-relative",
                "blockpull bj vde --base W/a1.qcow2 --keep-relative",
                "blockcommit bj vde --top W/a2.qcow2 --keep-relative",
                "blockcommit bj vda --top W/mid.qcow2 --keep-relative --delete --wait --verbose",
                "@xml",
                "blockpull bj vdd --base W/q1.qcow2 --keep-relative --wait --verbose",
                "@xml", "@info q3.qcow2",
                "blockcommit bj vdd --active --delete --wait --verbose --pivot",
                "@xml",
                "blockcommit bj vdc --active --delete", "@ready vdc", "blockjob bj vdc --abort",
                "@xml",
                "blockcommit bj vdc --active --keep-relative --wait --verbose --pivot",
                "@xml",
                "blockcommit bj vde --top W/a2.qcow2 --delete --wait --verbose",
                "@xml",
                "destroy bj", "undefine bj",
            ], work: work, run)
            try watcher.sync()
            out += ["events:"] + QEMUBlockTuneTests.events(watcher.text, "bj").map { $0.replacingOccurrences(of: work, with: "W") }
            out += try Self.files(work, ["top.qcow2", "base.qcow2", "q3.qcow2", "q2.qcow2", "q1.qcow2", "p.qcow2",
                                         "pbase.qcow2", "a3.qcow2", "a1.qcow2"])
            out += [Self.read(work + "/top.qcow2", format: "qcow2", pattern: "0x22", offset: "64k"),
                    Self.read(work + "/top.qcow2", format: "qcow2", pattern: "0x11", offset: "0"),
                    Self.read(work + "/q1.qcow2", format: "qcow2", pattern: "0x88", offset: "128k"),
                    Self.read(work + "/q1.qcow2", format: "qcow2", pattern: "0x77", offset: "64k")]
            return out
        }
        #expect(results[0] == results[1], "virtd:\n\(results[0].joined(separator: "\n"))\nlibvirtd:\n\(results[1].joined(separator: "\n"))")
        // What virtd must show by itself: mid.qcow2 and q3.qcow2 deleted, relative names kept.
        let o = results[0].joined(separator: "\n")
        #expect(o.contains("top.qcow2: backing file: base.qcow2 (actual path: W/base.qcow2)")
                && o.contains("q3.qcow2: backing file: q1.qcow2 (actual path: W/q1.qcow2)"), "\(o)")
        #expect(o.contains("q3.qcow2: missing") && !o.contains("files: a1.qcow2 a2.qcow2 a3.qcow2 base.qcow2 mid.qcow2"),
                "\(o)")
        #expect(!results[0].contains { $0.hasSuffix("differs") }, "\(o)")
        #expect(o.contains("flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only with non-null base")
                && o.contains("can't keep relative backing relationship"), "\(o)")
        if ProcessInfo.processInfo.environment["SV_PRINT_TRANSCRIPT"] != nil { print(o) }
    }

    @Test("an active commit with --delete survives a kill -9 of virtd: the restarted daemon pivots and deletes the old image")
    func deleteAfterRestart() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let work = try QEMUBlockJobTests.makeWork(ours.dir)
        let start = try ours.virsh("define \(work)/bj.xml; start bj; blockcommit bj vdd --active --delete")
        #expect(start.status == 0, "\(start.stderr)")
        #expect(eventually(60) { (try? ours.virsh("dumpxml bj").stdout)?.contains("ready='yes'") == true })
        ours.kill9()
        try ours.start()
        let pivot = try ours.virsh("blockjob bj vdd --pivot")
        #expect(pivot.status == 0, "\(pivot.stderr)")
        #expect(eventually(30) { access(work + "/q3.qcow2", F_OK) != 0 && access(work + "/q2.qcow2", F_OK) != 0 },
                "the committed images are still there")
        #expect(access(work + "/q1.qcow2", F_OK) == 0)
        let xml = try ours.virsh("dumpxml bj").stdout
        #expect(xml.contains("<source file='\(work)/q1.qcow2' index="), "\(xml)")
        #expect(try ours.virsh("destroy bj").status == 0)
    }

    @Test("vsh: the refusals as Debian's virsh prints them, then blockcommit --delete --keep-relative and blockpull --keep-relative")
    func vshOptions() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let work = try Self.makeWork(ours.dir)
        #expect(try ours.virsh("define \(work)/bj.xml; start bj").status == 0)
        for command in ["blockpull bj vdd --keep-relative", "blockpull bj vde --base \(work)/a1.qcow2 --keep-relative",
                        "blockcommit bj vde --top \(work)/a2.qcow2 --keep-relative",
                        "blockcopy bj vdb \(work)/r.img --blockdev --transient-job",
                        "blockcopy bj vdb \(work)/nodev --blockdev --transient-job"] {
            let args = command.split(separator: " ").map(String.init)
            let v = try ours.virsh(args: args), s = try ours.virsh(args: args, client: TestPaths.vsh)
            #expect(v.status == 1 && s.status == v.status && s.stdout == v.stdout && s.stderr == v.stderr,
                    "\(command)\nvirsh: \(v.stdout)\(v.stderr)\nvsh: \(s.stdout)\(s.stderr)")
        }
        for command in ["blockcommit bj vda --top \(work)/mid.qcow2 --keep-relative --delete --wait",
                        "blockpull bj vdd --base \(work)/q1.qcow2 --keep-relative --wait"] {
            let r = try ours.virsh(args: command.split(separator: " ").map(String.init), client: TestPaths.vsh)
            #expect(r.status == 0, "\(command): \(r.stderr)")
        }
        #expect(access(work + "/mid.qcow2", F_OK) != 0, "mid.qcow2 was not deleted")
        let lines = try Self.files(work, ["top.qcow2", "q3.qcow2"]).joined(separator: "\n")
        #expect(lines.contains("top.qcow2: backing file: base.qcow2 (actual path: W/base.qcow2)")
                && lines.contains("q3.qcow2: backing file: q1.qcow2 (actual path: W/q1.qcow2)"), "\(lines)")
        #expect(try ours.virsh("destroy bj").status == 0)
    }

    /// A loop device on an 8 MiB file of `work`; its node's owner and mode (libvirt's DAC driver gives it to QEMU's
    /// user) and libvirt's remembered-owner attributes are put back, and the device detached, by `release`.
    final class LoopDevice {
        let path: String
        private let owner: (uid_t, gid_t, mode_t)

        init(file: String) throws {
            try #require(FileManager.default.createFile(atPath: file, contents: Data(count: 8 << 20)))
            let lo = try ChildProcess.run(["/usr/sbin/losetup", "-f", "--show", file], timeLimit: 30)
            try #require(lo.status == 0, "losetup: \(lo.stderr)")
            path = lo.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            var st = stat()
            _ = stat(path, &st)
            owner = (st.st_uid, st.st_gid, st.st_mode & 0o7777)
        }

        func release() {
            _ = chown(path, owner.0, owner.1)
            _ = chmod(path, owner.2)
            // sys/xattr.h is not part of the Glibc module: glibc's removexattr, looked up by name.
            typealias RemoveFn = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>) -> Int32
            if let sym = dlsym(dlopen(nil, RTLD_NOW), "removexattr") {
                let remove = unsafeBitCast(sym, to: RemoveFn.self)
                for name in QEMUDaemonSupport.ownerRecords(path) where name.hasPrefix("trusted.libvirt.security") {
                    _ = remove(path, name)
                }
            }
            _ = try? ChildProcess.run(["/usr/sbin/losetup", "-d", path], timeLimit: 30)
        }
    }

    @Test("blockcopy --blockdev onto a loop device (blockCopy and rebase): output, mirror and pivoted XML, data as libvirtd's")
    func copyToBlockDevice() throws {
        let results = try QEMUBlockJobTests.onBothDaemons { work, watcher, run in
            let dev = try LoopDevice(file: work + "/loop.img")
            defer { dev.release() }
            let dev2 = try LoopDevice(file: work + "/loop2.img")
            defer { dev2.release() }
            // The loop devices each daemon's run gets may differ (another test may hold some): every output,
            // the events too, names them by role.
            let map = [(dev2.path, "DEV2"), (dev.path, "DEV")]
            #expect(FileManager.default.createFile(atPath: work + "/empty.img", contents: nil))
            var out = try Self.transcript([
                "define W/bj.xml", "start bj",
                "blockcopy bj vdb DEV --blockdev --wait --finish",
                "blockcopy bj vdb W/r.img --blockdev --transient-job",
                "blockcopy bj vdb W/empty.img --blockdev --transient-job",
                "blockcopy bj vdb W/nodev --blockdev --transient-job",
                "blockcopy bj vdb DEV --blockdev --transient-job --wait --verbose",
                "@ready vdb", "@xml",
                "blockjob bj vdb --pivot",
                "@xml",
                "blockcopy bj vdc DEV2 --blockdev --format qcow2 --transient-job --wait --verbose --pivot",
                "@xml",
                "destroy bj", "undefine bj",
            ], work: work, replacing: map, run)
            out.append("after blockCopy: " + Self.read(dev.path, format: "raw", pattern: "0x44", offset: "0"))
            let info = try ChildProcess.run(["/usr/bin/qemu-img", "info", "-U", dev2.path], timeLimit: 60)
            out.append("DEV2: " + info.stdout.split(separator: "\n").filter {
                $0.hasPrefix("file format") || $0.hasPrefix("virtual size") || $0.hasPrefix("backing file")
            }.joined(separator: "; "))
            out.append("DEV2 " + Self.read(dev2.path, format: "qcow2", pattern: "0x66", offset: "64k"))
            out.append("DEV2 " + Self.read(dev2.path, format: "qcow2", pattern: "0x55", offset: "0"))
            // A transient domain: virsh's rebase path (VIR_DOMAIN_BLOCK_REBASE_COPY_DEV) from a fresh disk image.
            _ = try QEMUBlockJobTests.run(["/usr/bin/qemu-io", "-f", "raw", "-c", "write -P 0x5c 0 64k", work + "/r.img"])
            out += try Self.transcript([
                "create W/bj.xml",
                "blockcopy bj vdb DEV --blockdev --wait --verbose --pivot",
                "@xml",
                "destroy bj",
            ], work: work, replacing: map, run)
            out.append("after rebase: " + Self.read(dev.path, format: "raw", pattern: "0x5c", offset: "0"))
            try watcher.sync()
            out += ["events:"] + QEMUBlockTuneTests.events(watcher.text, "bj").map {
                Self.neutral($0.replacingOccurrences(of: work, with: "W"), map)
            }
            return out
        }
        #expect(results[0] == results[1], "virtd:\n\(results[0].joined(separator: "\n"))\nlibvirtd:\n\(results[1].joined(separator: "\n"))")
        let o = results[0].joined(separator: "\n")
        #expect(o.contains("<disk type='block' device='disk'>") && o.contains("<source dev='DEV' index="), "\(o)")
        #expect(o.contains("after blockCopy: 0x44@0: ok") && o.contains("after rebase: 0x5c@0: ok"), "\(o)")
        // A qcow2 copy onto a device: the format written onto it, the full chain's data in it.
        #expect(o.contains("DEV2: file format: qcow2; virtual size: 32 MiB") && o.contains("DEV2 0x66@64k: ok")
                && o.contains("DEV2 0x55@0: ok"), "\(o)")
    }
}
