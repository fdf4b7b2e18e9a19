import Foundation
import Testing
import VirtTestSupport
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// The cgroup seam without a kernel: mount detection from mountinfo text, libvirt's choice of backends, the
/// group's path, and the v2 backend's files over a fake directory tree (the v1 backend runs for real in
/// QEMUCgroupTests).
@Suite("Cgroup layout")
struct CgroupLayoutTests {
    static let hybrid = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
        38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """

    @Test("mountinfo: v1 controllers by mount option, the cgroup2 mount")
    func parse() {
        let m = CgroupMounts.parse(mountinfo: Self.hybrid)
        #expect(m.v1[.cpu] == "/sys/fs/cgroup/cpu")
        #expect(m.v1[.blkio] == "/sys/fs/cgroup/blkio")
        #expect(m.v1[.freezer] == nil)
        #expect(m.unified == "/sys/fs/cgroup/unified")
        let comounted = CgroupMounts.parse(mountinfo:
            "25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct")
        #expect(comounted.v1[.cpu] == "/sys/fs/cgroup/cpu,cpuacct" && comounted.v1[.cpuacct] == comounted.v1[.cpu])
        let v2 = CgroupMounts.parse(mountinfo: "26 24 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate")
        #expect(v2.v1.isEmpty && v2.unified == "/sys/fs/cgroup")
    }

    @Test("hybrid host: v2 takes cpuacct and devices (as libvirt 9.0), v1 the rest; pure v2 takes all")
    func backends() throws {
        let dir = try TestPaths.makeTempDir("cg")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/unified", withIntermediateDirectories: true)
        try "hugetlb\n".write(toFile: dir + "/unified/cgroup.controllers", atomically: true, encoding: .utf8)
        var m = CgroupMounts.parse(mountinfo: Self.hybrid)
        m.unified = dir + "/unified"
        let b = m.backends(wanted: Set(CgroupController.allCases))
        let v1 = try #require(b.first { $0 is CgroupV1Backend })
        let v2 = try #require(b.first { $0 is CgroupV2Backend })
        #expect(v1.controllers == [.cpu, .cpuset, .memory, .blkio])
        #expect(v2.controllers == [.cpuacct, .devices])
        try "cpuset cpu io memory pids\n".write(toFile: dir + "/unified/cgroup.controllers", atomically: true, encoding: .utf8)
        let pure = CgroupMounts(unified: dir + "/unified").backends(wanted: Set(CgroupController.allCases))
        #expect(pure.count == 1 && pure[0].controllers == [.cpu, .cpuacct, .cpuset, .memory, .devices, .blkio])
    }

    @Test("machine name and path as libvirt's without systemd")
    func names() {
        #expect(QEMUCgroup.relativePath(partition: "/machine", id: 3, name: "web") == "machine/qemu-3-web.libvirt-qemu")
        #expect(QEMUCgroup.machineName(id: 1, name: "a b--c") == "qemu-1-ab-c")
        #expect(QEMUCgroup.escape("cpu.x") == "_cpu.x")
        #expect(QEMUCgroup.escape(".hidden") == "_.hidden")
    }

    @Test("v2 backend over a fake tree: groups, threaded sub-groups, cpu.weight, cpu.max, memory.*, io.weight")
    func v2Files() throws {
        let root = try TestPaths.makeTempDir("cg2")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let b = CgroupV2Backend(mount: root, controllers: [.cpu, .cpuacct, .memory, .blkio])
        FileManager.default.createFile(atPath: root + "/cgroup.subtree_control", contents: nil)
        try b.create("machine/qemu-1-x.libvirt-qemu", thread: false)
        let g = root + "/machine/qemu-1-x.libvirt-qemu"
        #expect(access(g, F_OK) == 0)
        // The root hands its controllers down (the last write of the fake file stays).
        #expect((try? String(contentsOfFile: root + "/cgroup.subtree_control", encoding: .utf8)) == "+io")
        for f in ["cpu.weight", "cpu.max", "memory.max", "memory.high", "memory.swap.max", "io.weight", "cpu.stat",
                  "cgroup.subtree_control"] {
            FileManager.default.createFile(atPath: g + "/" + f, contents: nil)
        }
        // A thread group is made threaded: its cgroup.type is written right after mkdir (a fake tree has none).
        #expect(throws: Error.self) { try b.create("machine/qemu-1-x.libvirt-qemu/vcpu0", thread: true) }
        let cg = QEMUCgroup(backends: [b], rel: "machine/qemu-1-x.libvirt-qemu")
        #expect(cg.joinFiles == [g + "/cgroup.procs"])
        #expect(try cg.sharesRange() == 1...10_000)
        try cg.setCPUShares(500)
        #expect(try String(contentsOfFile: g + "/cpu.weight", encoding: .utf8) == "500")
        #expect(throws: Error.self) { try cg.setCPUShares(20_000) }
        try cg.setQuota(nil, 50_000)
        #expect(try String(contentsOfFile: g + "/cpu.max", encoding: .utf8) == "50000")
        try "50000 100000\n".write(toFile: g + "/cpu.max", atomically: false, encoding: .utf8)
        #expect(try cg.bandwidth(nil) == (100_000, 50_000))
        try cg.setPeriod(nil, 200_000)
        #expect(try String(contentsOfFile: g + "/cpu.max", encoding: .utf8) == "50000 200000")
        try cg.setMemoryLimit(.hard, kib: 1024)
        #expect(try String(contentsOfFile: g + "/memory.max", encoding: .utf8) == "1048576")
        try cg.setMemoryLimit(.soft, kib: QEMUCgroup.unlimitedKiB)
        #expect(try String(contentsOfFile: g + "/memory.high", encoding: .utf8) == "max")
        #expect(try cg.memoryLimit(.soft) == QEMUCgroup.unlimitedKiB)
        try cg.setBlkioWeight(300)
        #expect(try String(contentsOfFile: g + "/io.weight", encoding: .utf8) == "default 300")
        #expect(try cg.blkioWeight() == 300)
        try "usage_usec 10\nuser_usec 7\nsystem_usec 3\n".write(toFile: g + "/cpu.stat", atomically: false, encoding: .utf8)
        #expect(cg.cpuTimes().map { [$0.total, $0.user, $0.system] } == [10_000, 7_000, 3_000])
        // cgroupfs lets rmdir remove a group with its control files; a fake tree needs them gone first.
        for f in (try? FileManager.default.contentsOfDirectory(atPath: g)) ?? [] { unlink(g + "/" + f) }
        cg.remove()
        #expect(access(g, F_OK) != 0)
    }
}

extension CgroupLayoutTests {
    @Test("v1 devices: deny all, then libvirt's default ACL and PTYs; nothing without a devices controller")
    func deviceACL() throws {
        let root = try TestPaths.makeTempDir("cgd")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let b = CgroupV1Backend(mounts: [.devices: root])
        try b.create("machine/qemu-1-x.libvirt-qemu", thread: false)
        let g = root + "/machine/qemu-1-x.libvirt-qemu"
        // A fake file keeps only the last write: the deny file shows "a", the allow file its last entry (the
        // whole list is read back from the kernel in the next test).
        for f in ["devices.deny", "devices.allow"] { FileManager.default.createFile(atPath: g + "/" + f, contents: nil) }
        let cg = QEMUCgroup(backends: [b], rel: "machine/qemu-1-x.libvirt-qemu")
        #expect(try cg.setDeviceACL([]))
        #expect(try String(contentsOfFile: g + "/devices.deny", encoding: .utf8) == "a")
        #expect(try String(contentsOfFile: g + "/devices.allow", encoding: .utf8) == "c 136:* rw")
        #expect(try QEMUCgroup(backends: [CgroupV1Backend(mounts: [.cpu: root])], rel: "machine").setDeviceACL([]) == false)
    }
}

extension CgroupLayoutTests {
    @Test("v1 devices for real: the kernel's devices.list of a group after the ACL", .tags(.root))
    func deviceACLForReal() throws {
        try TestHost.requireRoot()
        let mounts = CgroupMounts.detect()
        let mount = try #require(mounts.v1[.devices], "no v1 devices hierarchy on this host")
        let rel = "swiftvirt-test-\(getpid())"
        let b = CgroupV1Backend(mounts: [.devices: mount])
        try b.create(rel, thread: false)
        defer { b.remove(rel) }
        #expect(try QEMUCgroup(backends: [b], rel: rel).setDeviceACL([]))
        let list = try String(contentsOfFile: mount + "/" + rel + "/devices.list", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        // /dev/null is 1:3, /dev/kvm 10:232 where it exists; PTYs by their major.
        #expect(list.contains("c 1:3 rw") && list.contains("c 136:* rw") && !list.contains("a *:* rwm"), "\(list)")
        if access("/dev/kvm", F_OK) == 0 { #expect(list.contains("c 10:232 rw")) }
    }
}

extension CgroupLayoutTests {
    @Test("v2 devices for real: a BPF program on the group lets its processes open /dev/zero, not /dev/loop0",
          .tags(.root))
    func deviceProgramForReal() throws {
        try TestHost.requireRoot()
        let unified = try #require(CgroupMounts.detect().unified, "no cgroup2 mount on this host")
        var st = stat()
        try #require(stat("/dev/loop0", &st) == 0 && st.st_mode & S_IFMT == S_IFBLK, "/dev/loop0 is not a block device")
        let rel = "swiftvirt-test-\(getpid())"
        let b = CgroupV2Backend(mount: unified, controllers: [.devices])
        try b.create(rel, thread: false)
        defer { b.remove(rel) }
        let g = QEMUCgroup(backends: [b], rel: rel)
        #expect(g.devicePrograms() == 0)
        #expect(try g.setDeviceACL([]))
        #expect(g.devicePrograms() == 1)
        // A shell that joins the group, then opens an allowed and a denied device.
        let r = try ChildProcess.run(["/bin/sh", "-c", "echo $$ > \(unified)/\(rel)/cgroup.procs && "
            + "head -c 1 /dev/zero > /dev/null && echo zero-ok; head -c 1 /dev/loop0 > /dev/null && echo loop-ok; true"],
            timeLimit: 20)
        #expect(r.stdout.contains("zero-ok"), "\(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains("loop-ok") && r.stderr.contains("Operation not permitted"), "\(r.stdout) \(r.stderr)")
    }
}
