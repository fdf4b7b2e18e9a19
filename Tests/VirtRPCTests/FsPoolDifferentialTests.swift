import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

struct LoopError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// An image file attached to a loop device (`losetup --find --show`); `detach()` lets it go.
final class LoopImage {
    let image: String
    let device: String

    init(_ image: String, megabytes: Int) throws {
        self.image = image
        let fd = open(image, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw LoopError("cannot create \(image)") }
        let ok = ftruncate(fd, off_t(megabytes) << 20) == 0
        close(fd)
        guard ok else { throw LoopError("cannot size \(image)") }
        let r = try ChildProcess.run(["/usr/sbin/losetup", "--find", "--show", image], timeLimit: 30)
        let dev = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard r.status == 0, dev.hasPrefix("/dev/loop") else {
            throw LoopError("losetup \(image): \(r.stderr)")
        }
        device = dev
    }

    /// Detaches the device (a device still mounted in a namespace that is going away is cleared by the kernel
    /// when the last user lets go).
    func detach() {
        _ = try? ChildProcess.run(["/usr/sbin/losetup", "-d", device], timeLimit: 30)
    }
}

/// `fs` storage pools of `qemu:///system`: the same virsh (and vsh) session on virtd and on Debian's libvirtd 9.0.
/// Each daemon gets an image file of the same size on a loop device of its own; in the daemon's mount namespace a
/// tmpfs over DIR/dev holds a link DIR/dev/disk to that device and a tmpfs over DIR/mnt holds the pool's target,
/// so both pool definitions are the same text. After the same mkfs.ext4 both filesystems have the same size and
/// space: pool capacity, allocation and available are compared as printed. Masked: the loop devices' names (in
/// mount's messages and findmnt), volume timestamps. `findmnt` in each daemon's namespace shows the mount while
/// the pool runs and none after pool-destroy.
@Suite("fs pools: virtd vs libvirtd 9.0", .serialized, .tags(.root, .referenceLibvirtd))
struct FsPoolDifferentialTests {
    static let poolUUID = "3c1e9d2c-3b4f-4c5d-8e6f-102132435465"

    enum Step {
        case virsh([String])
        /// findmnt on the pool's target in each daemon's mount namespace; whether it must show a mount.
        case findmnt(mounted: Bool)
        /// A shell command in each daemon's mount namespace.
        case shell(String)
        /// A process in each daemon's namespace with its working directory in the pool (the mount is busy), and
        /// its end.
        case hold, release
    }

    final class Fixture {
        let dir: String
        var mnt: String { dir + "/mnt" }
        var devDir: String { dir + "/dev" }
        var disk: String { devDir + "/disk" }
        var pool: String { mnt + "/pool" }
        private var loops: [LoopImage] = []

        init() throws {
            dir = try TestPaths.makeTempDir("fspool", mode: 0o755)
            for d in [mnt, devDir] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
            try writeInputs()
        }

        /// One image (64 MiB) per daemon.
        func loop(_ name: String) throws -> LoopImage {
            let l = try LoopImage(dir + "/" + name + ".img", megabytes: 64)
            loops.append(l)
            return l
        }

        /// Detaches the loops and removes the directory; call after the daemons have stopped.
        func cleanup() {
            for l in loops { l.detach() }
            loops = []
            try? FileManager.default.removeItem(atPath: dir)
        }

        deinit { cleanup() }

        /// Shell commands for the daemon's mount namespace: the tmpfs for targets, the link to its loop device.
        func namespaceSetup(_ loop: LoopImage) -> String {
            "mkdir -p /etc/libvirt/storage && mount -t tmpfs tmpfs /etc/libvirt/storage && "
                + "mount -t tmpfs -o size=8m tmpfs '\(mnt)' && mount -t tmpfs -o size=1m tmpfs '\(devDir)' && "
                + "ln -s '\(loop.device)' '\(disk)' &&"
        }

        func reference(_ loop: LoopImage) throws -> ReferenceLibvirtd {
            try ReferenceLibvirtd(namespaceSetup: namespaceSetup(loop))
        }

        func ours(_ loop: LoopImage) throws -> RestartableVirtd {
            try RestartableVirtd(prefix: ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                                          namespaceSetup(loop) + " exec \"$@\"", "sh"])
        }

        func writeInputs() throws {
            let files: [String: String] = [
                "pool.xml": """
                    <pool type='fs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'>
                      <name>fp</name>
                      <uuid>\(FsPoolDifferentialTests.poolUUID)</uuid>
                      <source>
                        <device path='\(disk)'/>
                        <format type='ext4'/>
                      </source>
                      <target>
                        <path>\(pool)</path>
                      </target>
                      <fs:mount_opts>
                        <fs:option name='noatime'/>
                      </fs:mount_opts>
                    </pool>
                    """,
                "conflict.xml": "<pool type='fs'><name>other</name><source><device path='\(disk)'/>"
                    + "<format type='ext4'/></source><target><path>\(mnt)/other</path></target></pool>",
                "nodev.xml": "<pool type='fs'><name>nodev</name><uuid>4c1e9d2c-3b4f-4c5d-8e6f-102132435465</uuid>"
                    + "<source><device path='\(devDir)/absent'/><format type='ext4'/></source>"
                    + "<target><path>\(mnt)/nd</path></target></pool>",
                "bogus.xml": "<pool type='fs'><name>bogus</name><source><device path='\(disk)'/>"
                    + "<format type='bogus'/></source><target><path>\(mnt)/b</path></target></pool>",
                "nosrc.xml": "<pool type='fs'><name>nosrc</name><target><path>\(mnt)/ns</path></target></pool>",
                "ext3.xml": "<pool type='fs'><name>e3</name><uuid>5c1e9d2c-3b4f-4c5d-8e6f-102132435465</uuid>"
                    + "<source><device path='\(disk)'/><format type='ext3'/></source>"
                    + "<target><path>\(mnt)/e3</path></target></pool>",
                "transient.xml": "<pool type='fs'><name>tp</name><uuid>6c1e9d2c-3b4f-4c5d-8e6f-102132435465</uuid>"
                    + "<source><device path='\(disk)'/><format type='auto'/></source>"
                    + "<target><path>\(mnt)/tp</path></target></pool>",
            ]
            for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        }

        func script() -> [Step] {
            let f = { (n: String) in self.dir + "/" + n }
            let v = { (a: [String]) in Step.virsh(a) }
            return [
                v(["pool-define", f("pool.xml")]), v(["pool-list", "--all", "--details"]), v(["pool-info", "fp"]),
                v(["pool-dumpxml", "fp"]), v(["pool-list", "--all", "--type", "fs"]),
                // Refused definitions.
                v(["pool-define", f("conflict.xml")]), v(["pool-define", f("bogus.xml")]),
                v(["pool-define", f("nosrc.xml")]),
                // No target directory yet: mount says so.
                v(["pool-start", "fp"]), .findmnt(mounted: false),
                // Build: the directory, then a filesystem on the empty device; a second NO_OVERWRITE refuses.
                v(["pool-build", "fp", "--overwrite", "--no-overwrite"]), v(["pool-build", "fp"]),
                v(["pool-build", "fp", "--no-overwrite"]), v(["pool-build", "fp", "--no-overwrite"]),
                v(["pool-build", "fp", "--overwrite"]),
                // Running: mounted with libvirt's options and the pool's own.
                v(["pool-start", "fp"]), .findmnt(mounted: true), v(["pool-info", "fp"]), v(["pool-dumpxml", "fp"]),
                v(["pool-dumpxml", "--inactive", "fp"]), v(["vol-list", "fp", "--details"]),
                v(["vol-dumpxml", "--pool", "fp", "lost+found"]), v(["vol-info", "--pool", "fp", "lost+found"]),
                v(["vol-create-as", "fp", "a.img", "1M", "--format", "raw"]),
                v(["vol-create-as", "fp", "s.img", "2M", "--allocation", "0"]),
                v(["vol-create-as", "fp", "q.qcow2", "5M", "--format", "qcow2"]),
                v(["vol-create-as", "fp", "big.img", "200M"]),
                v(["vol-list", "fp", "--details"]), v(["pool-refresh", "fp"]), v(["pool-info", "fp"]),
                v(["vol-info", "--pool", "fp", "a.img"]), v(["vol-dumpxml", "--pool", "fp", "q.qcow2"]),
                v(["vol-path", "--pool", "fp", "s.img"]), v(["vol-pool", pool + "/a.img"]),
                v(["vol-resize", "--pool", "fp", "s.img", "3M"]), v(["vol-clone", "--pool", "fp", "a.img", "c.img"]),
                v(["vol-delete", "--pool", "fp", "c.img"]), v(["vol-list", "fp", "--details"]),
                v(["pool-start", "fp"]), v(["pool-build", "fp", "--overwrite"]), v(["pool-delete", "fp"]),
                v(["pool-autostart", "fp"]), v(["pool-list", "--autostart", "--details"]),
                v(["pool-autostart", "--disable", "fp"]),
                // A device that does not exist.
                v(["pool-define", f("nodev.xml")]), v(["pool-build", "nodev"]), v(["pool-start", "nodev"]),
                v(["pool-build", "nodev", "--no-overwrite"]), v(["pool-build", "nodev", "--overwrite"]),
                v(["pool-delete", "nodev"]), v(["pool-undefine", "nodev"]),
                // Source discovery.
                v(["find-storage-pool-sources", "fs"]), v(["find-storage-pool-sources", "dir"]),
                v(["find-storage-pool-sources", "bogus"]),
                // Stopped: unmounted; the volumes are still on the filesystem when it starts again.
                v(["pool-destroy", "fp"]), .findmnt(mounted: false), v(["pool-info", "fp"]),
                v(["vol-list", "fp"]), v(["pool-destroy", "fp"]),
                v(["pool-start", "fp"]), .findmnt(mounted: true), v(["vol-list", "fp"]),
                // A busy mount: umount's refusal; the pool stays active and mounted.
                .hold, v(["pool-destroy", "fp"]), v(["pool-list", "--all"]), .findmnt(mounted: true), .release,
                v(["pool-destroy", "fp"]), .findmnt(mounted: false),
                // Mounted already (by hand, with the same source): start adopts the mount, destroy unmounts it.
                .shell("mount -o nosuid,nodev,noexec,noatime '\(disk)' '\(pool)'"), .findmnt(mounted: true),
                v(["pool-start", "fp"]), .findmnt(mounted: true), v(["vol-list", "fp"]),
                v(["pool-destroy", "fp"]), .findmnt(mounted: false),
                v(["pool-delete", "fp"]), v(["pool-start", "fp"]), v(["pool-undefine", "fp"]),
                v(["pool-list", "--all"]),
                // Another format on the device: NO_OVERWRITE refuses; the pool does not mount as ext3.
                v(["pool-define", f("ext3.xml")]), v(["pool-build", "e3", "--no-overwrite"]), v(["pool-build", "e3"]),
                v(["pool-undefine", "e3"]),
                // A transient pool of format auto, built and mounted at creation (the filesystem is kept).
                v(["pool-create", f("transient.xml"), "--build"]),
                v(["pool-list", "--transient", "--details"]), v(["vol-list", "tp"]), v(["pool-destroy", "tp"]),
                v(["pool-list", "--all"]),
            ]
        }
    }

    /// Volume timestamps differ between the runs; the loop devices' names differ between the daemons.
    static func masked(_ s: String) -> String {
        var out = DirPoolDifferentialTests.masked(s)
        while let r = out.range(of: #"/dev/loop[0-9]+"#, options: .regularExpression) {
            out.replaceSubrange(r, with: "/dev/LOOP")
        }
        return out
    }

    /// The mount on the pool's target in a daemon's namespace, as findmnt prints it (empty: none).
    static func findmnt(_ pid: Int32, _ target: String) throws -> String {
        let r = try ChildProcess.run(["/usr/bin/nsenter", "-t", String(pid), "-m", "--", "/usr/bin/findmnt", "-n",
                                      "-o", "SOURCE,TARGET,FSTYPE,OPTIONS", "--mountpoint", target], timeLimit: 30)
        return r.stdout
    }

    @Test("virsh pool-* and vol-* on an fs pool over a loop device: virtd prints what libvirtd prints")
    func virshScript() throws {
        try runScript(client: "/usr/bin/virsh")
    }

    @Test("vsh pool-* and vol-* on virtd's fs pool print what virsh prints on libvirtd")
    func vshScript() throws {
        try runScript(client: TestPaths.vsh)
    }

    func runScript(client: String) throws {
        let fx = try Fixture()
        defer { fx.cleanup() }
        let refLoop = try fx.loop("ref")
        let ourLoop = try fx.loop("ours")
        let ref = try fx.reference(refLoop)
        defer { ref.stop() }
        let ours = try fx.ours(ourLoop)
        defer { ours.cleanup() }
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"
        var mismatches = 0
        var mountsSeen = 0
        var holders: [ChildProcess] = []
        defer { for h in holders { h.kill9() } }
        for step in fx.script() {
            switch step {
            case .shell(let command):
                for pid in [ref.pid, ours.pid] {
                    let r = try ChildProcess.run(["/usr/bin/nsenter", "-t", String(pid), "-m", "--", "/bin/sh", "-c",
                                                  command], timeLimit: 60)
                    #expect(r.status == 0, "\(command): \(r.stderr)")
                }
            case .hold:
                for pid in [ref.pid, ours.pid] {
                    let h = try ChildProcess.spawn(["/usr/bin/nsenter", "-t", String(pid), "-m", "--", "/bin/sh", "-c",
                                                    "cd '\(fx.pool)' && exec sleep 600"])
                    holders.append(h)
                    // Wait until it sits in the pool (its cwd), so the unmount meets a busy filesystem.
                    var inside = false
                    for _ in 0..<500 where !inside {
                        inside = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(h.pid)/cwd"))
                            == fx.pool
                        if !inside { usleep(10_000) }
                    }
                    #expect(inside)
                }
            case .release:
                for h in holders { h.kill9() }
                holders = []
            case .findmnt(let mounted):
                let r = try Self.findmnt(ref.pid, fx.pool)
                let o = try Self.findmnt(ours.pid, fx.pool)
                #expect(Self.masked(o) == Self.masked(r), "findmnt: \(o) --- libvirtd: \(r)")
                if mounted {
                    mountsSeen += 1
                    let fields = o.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
                    #expect(fields.prefix(3) == [ourLoop.device, fx.pool, "ext4"], "\(o)")
                    #expect(o.contains("nosuid,nodev,noexec,noatime"), "\(o)")
                } else {
                    #expect(o.isEmpty, "\(o)")
                }
            case .virsh(let args):
                let r = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI] + args, timeLimit: 120)
                let o = try ChildProcess.run([client, "-c", ours.uri] + args, timeLimit: 120)
                if ProcessInfo.processInfo.environment["FSPOOL_TRACE"] != nil {
                    print("TRACE \(args) -> \(r.status) [\(r.stdout)] [\(r.stderr)] ours \(o.status) [\(o.stderr)]")
                }
                let same = Self.masked(o.stdout) == Self.masked(r.stdout) && Self.masked(o.stderr) == Self.masked(r.stderr)
                    && o.status == r.status
                if !same { mismatches += 1 }
                #expect(Self.masked(o.stdout) == Self.masked(r.stdout), "\(args): stdout\n\(o.stdout)\n--- libvirtd:\n\(r.stdout)")
                #expect(Self.masked(o.stderr) == Self.masked(r.stderr), "\(args): stderr\n\(o.stderr)\n--- libvirtd:\n\(r.stderr)")
                #expect(o.status == r.status, "\(args): status \(o.status) vs \(r.status)")
            }
        }
        #expect(mismatches == 0)
        #expect(mountsSeen == 5)
    }
}

extension FsPoolDifferentialTests {
    @Test("python3-libvirt: error codes and domains of fs pool refusals, build flags, info and a volume")
    func python() throws {
        let fx = try Fixture()
        defer { fx.cleanup() }
        let script = fx.dir + "/fs.py"
        try #"""
        import libvirt, sys
        uri, d = sys.argv[1:3]
        c = libvirt.open(uri)
        out = []
        def err(name, f):
            try:
                f()
                out.append("%s: no error" % name)
            except libvirt.libvirtError as e:
                out.append("%s: %d %d %s" % (name, e.get_error_code(), e.get_error_domain(), e.get_error_message()))
        p = c.storagePoolDefineXML(open(d + "/pool.xml").read(), 0)
        err("start unbuilt", lambda: p.create(0))
        err("build both", lambda: p.build(libvirt.VIR_STORAGE_POOL_BUILD_OVERWRITE | libvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE))
        err("build repair", lambda: p.build(libvirt.VIR_STORAGE_POOL_BUILD_REPAIR))
        p.build(libvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE)
        err("build again", lambda: p.build(libvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE))
        err("define conflict", lambda: c.storagePoolDefineXML(open(d + "/conflict.xml").read(), 0))
        err("define bogus", lambda: c.storagePoolDefineXML(open(d + "/bogus.xml").read(), 0))
        err("define nosrc", lambda: c.storagePoolDefineXML(open(d + "/nosrc.xml").read(), 0))
        err("find fs", lambda: c.findStoragePoolSources("fs", None, 0))
        err("find bogus", lambda: c.findStoragePoolSources("bogus", None, 0))
        p.create(0)
        i = p.info()
        out.append("info %d %d %d %d" % tuple(i))
        out.append("capacity = allocation + available: %s" % (i[1] == i[2] + i[3]))
        v = p.createXML("<volume><name>a.img</name><capacity unit='MiB'>1</capacity><target><format type='raw'/></target></volume>", 0)
        out.append("vol %s %s" % (v.name(), v.info()))
        out.append("lookup %s" % c.storageVolLookupByPath(d + "/mnt/pool/a.img").name())
        p.destroy()
        err("vol after destroy", lambda: p.storageVolLookupByName("a.img"))
        n = c.storagePoolDefineXML(open(d + "/nodev.xml").read(), 0)
        n.build(0)
        err("start nodev", lambda: n.create(0))
        err("format nodev", lambda: n.build(libvirt.VIR_STORAGE_POOL_BUILD_OVERWRITE))
        n.delete(0)
        n.undefine()
        p.delete(0)
        p.undefine()
        e = c.storagePoolDefineXML(open(d + "/ext3.xml").read(), 0)
        err("ext3 on ext4", lambda: e.build(libvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE))
        err("create with both", lambda: c.storagePoolCreateXML(open(d + "/transient.xml").read(),
            libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE | libvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE))
        e.undefine()
        print("\n".join(out))
        """#.write(toFile: script, atomically: true, encoding: .utf8)
        let refLoop = try fx.loop("ref")
        let ourLoop = try fx.loop("ours")
        let ref = try fx.reference(refLoop)
        defer { ref.stop() }
        let ours = try fx.ours(ourLoop)
        defer { ours.cleanup() }
        let r = try ChildProcess.run(["/usr/bin/python3", script, "qemu+unix:///system?socket=\(ref.socket)", fx.dir],
                                     timeLimit: 120)
        let o = try ChildProcess.run(["/usr/bin/python3", script, ours.uri, fx.dir], timeLimit: 120)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(o.status == 0, "\(o.stderr)")
        #expect(Self.masked(o.stdout) == Self.masked(r.stdout), "virtd:\n\(o.stdout)\n--- libvirtd:\n\(r.stdout)")
        #expect(r.stdout.contains("build again: 76 18 Storage pool already built"), "\(r.stdout)")
    }
}

/// virtd's fs pools across restarts (libvirt's `checkPool`): a pool whose source is still mounted on its target
/// is running again after kill -9 and a restart, one unmounted while the daemon was down is not, an autostart
/// pool is mounted at start. The daemon runs in a mount namespace that a holder process keeps, so mounts outlive
/// the daemon as they would on a host.
@Suite("fs pools: restart", .serialized, .tags(.root))
struct FsPoolRestartTests {
    @Test("kill -9 and restart: a mounted running pool is adopted, an unmounted one is inactive, autostart mounts")
    func restart() throws {
        let fx = try FsPoolDifferentialTests.Fixture()
        defer { fx.cleanup() }
        let loop = try fx.loop("ours")
        // The namespace holder: the tmpfs and the device link, then it waits.
        let holder = try ChildProcess.spawn(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                                             "mount -t tmpfs -o size=8m tmpfs '\(fx.mnt)' && "
                                                + "mount -t tmpfs -o size=1m tmpfs '\(fx.devDir)' && "
                                                + "ln -s '\(loop.device)' '\(fx.disk)' && exec sleep 100000"])
        defer { holder.kill9() }
        let hpid = String(holder.pid)
        func inHolder(_ argv: [String]) throws -> ChildProcess.Result {
            try ChildProcess.run(["/usr/bin/nsenter", "-t", hpid, "-m", "--"] + argv, timeLimit: 30)
        }
        var linked = false
        for _ in 0..<300 where !linked {
            linked = try inHolder(["/usr/bin/test", "-L", fx.disk]).status == 0
            if !linked { usleep(20_000) }
        }
        #expect(linked)
        let ours = try RestartableVirtd(prefix: ["/usr/bin/nsenter", "-t", hpid, "-m", "--"])
        defer { ours.cleanup() }
        func ok(_ args: [String]) throws {
            let r = try ours.virsh(args: args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
        }
        func state() throws -> String {
            let r = try ours.virsh(args: ["pool-list", "--all"])
            let line = r.stdout.split(separator: "\n").first { $0.split(separator: " ").first == "fp" }
            return line.map { $0.split(separator: " ").dropFirst().joined(separator: " ") } ?? "absent"
        }
        func mounted() throws -> Bool {
            try !FsPoolDifferentialTests.findmnt(holder.pid, fx.pool).isEmpty
        }

        try ok(["pool-define", fx.dir + "/pool.xml"])
        try ok(["pool-build", "fp", "--overwrite"])
        try ok(["pool-start", "fp"])
        try ok(["vol-create-as", "fp", "a.img", "1M"])
        #expect(try mounted())

        // Killed while running: the mount stays; the restarted daemon adopts the pool and its volume.
        ours.kill9()
        #expect(try mounted())
        try ours.start()
        #expect(try state() == "active no")
        let vols = try ours.virsh(args: ["vol-list", "fp"])
        #expect(vols.stdout.contains(fx.pool + "/a.img"), "\(vols.stdout)")
        try ok(["pool-destroy", "fp"])
        #expect(try !mounted())

        // Unmounted behind the daemon's back while it was down: inactive after the restart.
        try ok(["pool-start", "fp"])
        ours.kill9()
        let u = try inHolder(["/bin/umount", fx.pool])
        #expect(u.status == 0, "\(u.stderr)")
        try ours.start()
        #expect(try state() == "inactive no")
        #expect(try !mounted())

        // Autostart: mounted when the daemon starts.
        try ok(["pool-autostart", "fp"])
        ours.kill9()
        try ours.start()
        #expect(try state() == "active yes")
        #expect(try mounted())
        try ok(["pool-destroy", "fp"])
        #expect(try !mounted())
        try ok(["pool-undefine", "fp"])
    }
}
