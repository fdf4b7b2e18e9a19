import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// The DAC security driver: owners remembered in our xattrs with a refcount, QEMU run as the configured user,
/// images given back at stop and after a failed start.
@Suite(.tags(.root)) struct DACSecurityTests {
    static let imageOwner: (uid_t, gid_t) = (12345, 12345)


    static func hasRecord(_ path: String) -> Bool {
        OwnerRecordStore.getAttr(path, OwnerRecordStore.ownerAttr) != nil
            || OwnerRecordStore.getAttr(path, OwnerRecordStore.refAttr) != nil
            || OwnerRecordStore.getAttr(path, OwnerRecordStore.timestampAttr) != nil
    }

    /// Runs a program to its end; its exit status.
    static func run(_ argv: [String]) throws -> Int32 {
        let r = try ChildProcess.run(argv)
        if !r.stderr.isEmpty { print(r.stderr, terminator: "") }
        return r.status
    }

    /// An image owned by ``imageOwner`` in `dir` (made searchable: QEMU opens it as its user).
    static func makeImage(_ dir: String, format: String = "qcow2", name: String = "disk.qcow2",
                          size: String = "16M") throws -> String {
        let img = dir + "/" + name
        #expect(try run(["/usr/bin/qemu-img", "create", "-q", "-f", format, img, size]) == 0)
        #expect(chown(img, imageOwner.0, imageOwner.1) == 0)
        chmod(dir, 0o755)
        return img
    }

    /// An empty file owned by ``imageOwner``, labelled for a DAC manager of 4242:4343 (the unit tests').
    static func makeOwnedFile(_ path: String) -> [SecurityLabelTarget] {
        let fd = creat(path, 0o644)
        #expect(fd >= 0)
        close(fd)
        #expect(chown(path, imageOwner.0, imageOwner.1) == 0)
        return [SecurityLabelTarget(path: path, kind: .image)]
    }

    static func diskXML(name: String, image: String, machine: String = "pc") -> String {
        """
        <domain type='kvm'>
          <name>\(name)</name>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='\(machine)'>hvm</type></os>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='\(image)'/>
              <target dev='hda' bus='ide'/>
            </disk>
          </devices>
        </domain>
        """
    }

    /// Starts `dom` (quoting the domain log when that fails); QEMU's pid.
    static func start(_ driver: QEMUDriver, _ dom: DomainRef, root: String) async throws -> pid_t {
        do {
            _ = try await driver.start(dom, flags: [])
        } catch {
            Issue.record("start failed: \(error)\n\(LinuxSys.readFile(root + "/log/qemu/\(dom.name).log") ?? "")")
            throw error
        }
        let pid = try await driver.pid(of: dom) ?? 0
        #expect(pid > 0)
        return pid
    }

    /// QEMU's command line as the kernel has it.
    static func commandLine(_ pid: pid_t) -> [String] {
        (LinuxSys.readFile("/proc/\(pid)/cmdline") ?? "").split(separator: "\0").map(String.init)
    }

    @Test func configResolvesUsersAndGroups() throws {
        let a = try QEMUSecurityConfig(user: "nobody", group: "nogroup").resolveIDs()
        #expect(a.uid == 65534 && a.gid == 65534)
        let b = try QEMUSecurityConfig(user: "+4242", group: "+4343").resolveIDs()
        #expect(b.uid == 4242 && b.gid == 4343)
        #expect(throws: VirtError.self) { try QEMUSecurityConfig(user: "no-such-user-swiftvirt").resolveIDs() }
        #expect(try QEMUSecurityConfig.embedDefault.makeManager().model == "none")
        #expect(try QEMUSecurityConfig.embedDefault.makeManager().processCredentials() == nil)
        let dac = try QEMUSecurityConfig(user: "+4242", group: "+4343").makeManager()
        #expect(dac.model == "dac")
        // The command line stays libvirt's: the sandbox denies privilege changes and there is no -runas.
        let sandbox = ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
        #expect(try dac.processArguments(sandbox) == sandbox)
        // A uid without a name has only its group.
        #expect(try dac.processCredentials() == ProcessCredentials(uid: 4242, gid: 4343, groups: [4343]))
        let root = try QEMUSecurityConfig(user: "+0", group: "+0").makeManager()
        #expect(try root.processArguments(["-S"]) == ["-S"])
        #expect(try root.processCredentials() == nil)
        #expect(throws: VirtError.self) {
            try QEMUSecurityConfig(user: "+0", group: "+4343").makeManager().processArguments(["-S"])
        }
        // A named user gets its groups from the group database, plus the configured group.
        let user = try TestHost.qemuUser()
        let kvm = try TestHost.groupID("kvm")
        let named = try QEMUSecurityConfig(user: user.name, group: "+4343").makeManager().processCredentials()
        #expect(named?.uid == user.uid && named?.gid == 4343)
        #expect(named.map { Set($0.groups).isSuperset(of: [user.gid, kvm, 4343]) } == true, "\(String(describing: named))")
    }

    @Test func targetsOfADefinition() throws {
        let xml = """
        <domain type='kvm'><name>t</name><memory>131072</memory>
          <os><type arch='x86_64' machine='pc'>hvm</type><kernel>/k</kernel><initrd>/i</initrd></os>
          <devices>
            <disk type='file' device='disk'><source file='/a.img'/><target dev='hda' bus='ide'/></disk>
            <disk type='file' device='disk'><source file='/b.img'><seclabel model='dac' relabel='no'/></source>
              <target dev='hdb' bus='ide'/></disk>
            <disk type='network' device='disk'><source protocol='nbd' name='x'><host name='h'/></source>
              <target dev='hdc' bus='ide'/></disk>
            <serial type='file'><source path='/s.log'/><target port='0'/></serial>
          </devices></domain>
        """
        let def = try DomainDefinition.parse(xml)
        let t = SecurityLabelTarget.targets(for: def)
        #expect(t.map(\.path) == ["/a.img", "/k", "/i", "/s.log"])
        #expect(t.last?.required == false)
    }

    /// Two domains sharing one image: labelled once with a refcount, given back when the last one stops.
    @Test func rememberedOwnerWithRefcount() throws {
        let dir = try TestPaths.makeTempDir("dac")
        defer { TestPaths.removeDir(dir) }
        let file = dir + "/shared.img"
        let target = Self.makeOwnedFile(file)
        let dac = DACSecurityManager(uid: 4242, gid: 4343)
        try dac.setLabels(target)
        #expect(ProcFS.owner(file)! == (4242, 4343))
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.ownerAttr) == "+12345:+12345")
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.refAttr) == "1")
        try dac.setLabels(target)
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.ownerAttr) == "+12345:+12345")
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.refAttr) == "2")
        #expect(dac.restoreLabels(target).isEmpty)
        #expect(ProcFS.owner(file)! == (4242, 4343))
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.refAttr) == "1")
        #expect(dac.restoreLabels(target).isEmpty)
        #expect(ProcFS.owner(file)! == Self.imageOwner)
        #expect(!Self.hasRecord(file))

        // A record from an earlier boot is stale: dropped, so the path is labelled as new.
        try dac.setLabels(target)
        #expect(OwnerRecordStore.setAttr(file, OwnerRecordStore.timestampAttr, "1"))
        #expect(OwnerRecordStore.setAttr(file, OwnerRecordStore.ownerAttr, "+7:+7"))
        try dac.setLabels(target)
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.ownerAttr) == "+4242:+4343")
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.refAttr) == "1")
        #expect(dac.restoreLabels(target).isEmpty)
        #expect(ProcFS.owner(file)! == (4242, 4343))
        #expect(!Self.hasRecord(file))

        // No record: given to root:root, as libvirt does.
        #expect(dac.restoreLabels(target).isEmpty)
        #expect(ProcFS.owner(file)! == (0, 0))

        // A missing required path fails and undoes what was labelled before it.
        #expect(chown(file, Self.imageOwner.0, Self.imageOwner.1) == 0)
        #expect(throws: VirtError.self) {
            try dac.setLabels(target + [SecurityLabelTarget(path: dir + "/missing.img", kind: .image)])
        }
        #expect(ProcFS.owner(file)! == Self.imageOwner)
        #expect(!Self.hasRecord(file))
        // A missing optional one is skipped.
        try dac.setLabels([SecurityLabelTarget(path: dir + "/later.log", kind: .chardev, required: false)])
    }

    /// The security driver is told the start and stop kinds: every start kind labels (as libvirt's DAC), and
    /// after a successful outgoing migration the paths on shared storage keep QEMU's label while local ones
    /// (and everything after a failed migration or another stop) are given back.
    @Test func startAndStopKinds() throws {
        let dir = try TestPaths.makeTempDir("dac")
        defer { TestPaths.removeDir(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/shared", withIntermediateDirectories: true)
        let local = Self.makeOwnedFile(dir + "/local.img")
        let shared = Self.makeOwnedFile(dir + "/shared/disk.img")
        let dac = DACSecurityManager(uid: 4242, gid: 4343, sharedFilesystems: [dir + "/shared"])
        let restoreFD = QEMUStartKind.restore(QEMURestoreSource(path: dir + "/save.img", wasRunning: true))
        for start in [QEMUStartKind.coldBoot, restoreFD, .incomingMigration(uri: "tcp:0.0.0.0:49152")] {
            try dac.setLabels(local + shared, start: start)
            #expect(ProcFS.owner(dir + "/local.img")! == (4242, 4343), "\(start)")
            #expect(ProcFS.owner(dir + "/shared/disk.img")! == (4242, 4343), "\(start)")
            dac.restoreLabels(local + shared, stop: .destroyed)
            #expect(ProcFS.owner(dir + "/local.img")! == Self.imageOwner)
            #expect(ProcFS.owner(dir + "/shared/disk.img")! == Self.imageOwner)
        }
        for stop in [QEMUStopKind.migratedOut(success: false), .saved, .shutdown, .crashed] {
            try dac.setLabels(local + shared, start: .coldBoot)
            dac.restoreLabels(local + shared, stop: stop)
            #expect(ProcFS.owner(dir + "/shared/disk.img")! == Self.imageOwner, "\(stop)")
        }
        try dac.setLabels(local + shared, start: .coldBoot)
        dac.restoreLabels(local + shared, stop: .migratedOut(success: true))
        #expect(ProcFS.owner(dir + "/local.img")! == Self.imageOwner)
        #expect(ProcFS.owner(dir + "/shared/disk.img")! == (4242, 4343))
    }

    /// Domains starting and stopping at once on one shared path never record QEMU's user as its owner.
    @Test func concurrentLabelAndRestore() async throws {
        let dir = try TestPaths.makeTempDir("dac")
        defer { TestPaths.removeDir(dir) }
        let file = dir + "/shared.img"
        let target = Self.makeOwnedFile(file)
        let dac = DACSecurityManager(uid: 4242, gid: 4343)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<50 {
                        try dac.setLabels(target)
                        dac.restoreLabels(target)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(ProcFS.owner(file)! == Self.imageOwner)
        #expect(!Self.hasRecord(file))
    }

    /// A real KVM QEMU run as libvirt-qemu with the group libvirt-qemu: it reaches /dev/kvm through its
    /// supplementary group kvm only. The image's owner before, during and after the run.
    @Test(.tags(.qemu, .kvm)) func imageOwnerBeforeDuringAfterRun() async throws {
        try TestHost.requireKVM()
        let user = try TestHost.qemuUser()
        let gid = try TestHost.groupID("libvirt-qemu")
        let kvm = try TestHost.groupID("kvm")
        let dir = try TestPaths.makeTempDir("dac")
        defer { TestPaths.removeDir(dir) }
        let image = try Self.makeImage(dir)
        let root = dir + "/root"
        let driver = try await QEMUDriver.open(root: root,
                                               security: QEMUSecurityConfig(user: user.name, group: "libvirt-qemu"))
        let dom = try await driver.defineXML(Self.diskXML(name: "dac1", image: image), flags: [])
        #expect(ProcFS.owner(image)! == Self.imageOwner)

        let pid = try await Self.start(driver, dom, root: root)
        defer { ProcFS.kill(pid, ifExecutable: "qemu-system") }
        #expect(ProcFS.owner(image)! == (user.uid, gid))
        #expect(OwnerRecordStore.getAttr(image, OwnerRecordStore.ownerAttr) == "+12345:+12345")
        // QEMU was started as the user (no -runas), under libvirt's full sandbox.
        QEMUTestSupport.expectCredentials(of: pid, uid: user.uid, gid: gid, groups: [kvm, gid])
        let status = ProcFS.status(pid)
        #expect(status["Umask"] == "0002")  // libvirt's umask for QEMU
        #expect(status["Seccomp"] == "2" && status["NoNewPrivs"] == "1")  // QEMU's sandbox is in force
        let argv = Self.commandLine(pid)
        #expect(!argv.contains("-runas"))
        #expect(argv.contains("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"), "\(argv)")
        let log = root + "/log/qemu/dac1.log"
        #expect(ProcFS.owner(log).map { $0 == (user.uid, gid) } == true)
        #expect(try await driver.state(dom).state == .running)
        // The live XML shows libvirt's dynamic DAC label; the inactive one does not.
        let liveXML = try await driver.xmlDesc(dom, flags: [])
        #expect(liveXML.contains("""
          <seclabel type='dynamic' model='dac' relabel='yes'>
            <label>+\(user.uid):+\(gid)</label>
            <imagelabel>+\(user.uid):+\(gid)</imagelabel>
          </seclabel>
        """), "\(liveXML)")
        #expect(!(try await driver.xmlDesc(dom, flags: .inactive)).contains("seclabel"))
        #expect(OwnerRecordStore.getAttr(image, OwnerRecordStore.timestampAttr) == OwnerRecordStore.bootTime)

        try await driver.destroy(dom, flags: [])
        #expect(!QEMUProcess.isAlive(pid))
        #expect(ProcFS.owner(image)! == Self.imageOwner)
        #expect(!Self.hasRecord(image))
        #expect(ProcFS.owner(log).map { $0 == (0, 0) } == true)
        #expect(!Self.hasRecord(log))
        try await driver.undefine(dom, flags: [])
    }

    /// Starts `dom`, which must fail with an error whose message satisfies `check`; then nothing may be left
    /// behind: the domain still defined and inactive, the image's owner given back without a record, no
    /// monitor socket or pid file, the private directory back to root, no process using the image.
    static func expectFailedStart(_ driver: QEMUDriver, _ dom: DomainRef, image: String, root: String,
                                  sourceLocation: SourceLocation = #_sourceLocation,
                                  _ check: (String) -> Bool) async throws {
        do {
            _ = try await driver.start(dom, flags: [])
            Issue.record("the start succeeded", sourceLocation: sourceLocation)
        } catch let e as VirtError {
            #expect(check(e.message), "\(e.message)", sourceLocation: sourceLocation)
        }
        #expect(!(try await driver.isActive(dom)), sourceLocation: sourceLocation)
        #expect(try await driver.lookupDomain(name: dom.name).name == dom.name, sourceLocation: sourceLocation)
        #expect(ProcFS.owner(image)! == imageOwner, sourceLocation: sourceLocation)
        #expect(!hasRecord(image), sourceLocation: sourceLocation)
        let libDirs = (try? FileManager.default.contentsOfDirectory(atPath: root + "/lib/qemu")) ?? []
        for d in libDirs where d.hasPrefix("domain-") {
            #expect(access(root + "/lib/qemu/\(d)/monitor.sock", F_OK) != 0, sourceLocation: sourceLocation)
            #expect(ProcFS.owner(root + "/lib/qemu/\(d)").map { $0 == (0, 0) } == true, sourceLocation: sourceLocation)
        }
        #expect(access(root + "/run/qemu/\(dom.name).pid", F_OK) != 0, sourceLocation: sourceLocation)
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for p in procs where Int32(p) != nil {
            if let cmd = LinuxSys.readFile("/proc/\(p)/cmdline"), cmd.contains(image) {
                Issue.record("a process (pid \(p)) still uses \(image)", sourceLocation: sourceLocation)
            }
        }
    }

    /// An emulator the configured user may not execute (QEMU is started as that user): the start fails with
    /// the reason and leaves nothing behind.
    @Test(.tags(.qemu, .kvm)) func emulatorNotExecutableByTheUser() async throws {
        try TestHost.requireKVM()
        let kvm = try TestHost.groupID("kvm")
        let dir = try TestPaths.makeTempDir("dac")
        defer { TestPaths.removeDir(dir) }
        let image = try Self.makeImage(dir)
        let emulator = dir + "/qemu-system-x86_64"
        try FileManager.default.copyItem(atPath: TestHost.qemuBinary, toPath: emulator)
        #expect(chmod(emulator, 0o700) == 0)
        let root = dir + "/root"
        let driver = try await QEMUDriver.open(root: root,
                                               security: QEMUSecurityConfig(user: "+4242", group: "kvm"))
        let xml = Self.diskXML(name: "noexec", image: image)
            .replacingOccurrences(of: "<devices>", with: "<devices><emulator>\(emulator)</emulator>")
        let dom = try await driver.defineXML(xml, flags: [])
        try await Self.expectFailedStart(driver, dom, image: image, root: root) {
            $0 == "cannot execute binary \(emulator) as 4242:\(kvm): Permission denied"
        }
    }

    /// A start that QEMU refuses (unknown machine type) leaves nothing behind.
    @Test(.tags(.qemu, .kvm)) func failedStartRestoresOwners() async throws {
        try TestHost.requireKVM()
        let dir = try TestPaths.makeTempDir("dac")
        defer { TestPaths.removeDir(dir) }
        let image = try Self.makeImage(dir)
        let root = dir + "/root"
        let driver = try await QEMUDriver.open(root: root,
                                               security: QEMUSecurityConfig(user: "+4242", group: "kvm"))
        let dom = try await driver.defineXML(Self.diskXML(name: "dac2", image: image, machine: "pc-no-such-machine"),
                                             flags: [])
        // QEMU itself refuses the machine, after the image was labelled and QEMU launched.
        try await Self.expectFailedStart(driver, dom, image: image, root: root) {
            $0.contains("unsupported machine type")
        }
    }

    /// A daemon that dies while its QEMUs run: the next one gives back the images of a QEMU that died
    /// meanwhile at once, and those of a running one when it stops.
    @Test(.tags(.qemu, .kvm)) func ownersRestoredAcrossDaemonRestart() async throws {
        try TestHost.requireKVM()
        let user = try TestHost.qemuUser()
        let qemuOwner = (user.uid, user.gid)
        let dir = try TestPaths.makeTempDir("dac")
        defer { TestPaths.removeDir(dir) }
        let keepDir = dir + "/keep"
        let diesDir = dir + "/dies"
        #expect(mkdir(keepDir, 0o755) == 0 && mkdir(diesDir, 0o755) == 0)
        chmod(dir, 0o755)  // QEMU opens the images as its user
        let keepImage = try Self.makeImage(keepDir)
        let diesImage = try Self.makeImage(diesDir)
        let root = dir + "/root"
        let dac = try QEMUSecurityConfig(user: user.name).makeManager()
        let first = try await QEMUDriver.openUnshared(root: root, security: dac)
        let keep = try await first.defineXML(Self.diskXML(name: "keep", image: keepImage), flags: [])
        let dies = try await first.defineXML(Self.diskXML(name: "dies", image: diesImage), flags: [])
        let keepPid = try await Self.start(first, keep, root: root)
        defer { ProcFS.kill(keepPid, ifExecutable: "qemu-system") }
        let diesPid = try await Self.start(first, dies, root: root)
        defer { ProcFS.kill(diesPid, ifExecutable: "qemu-system") }
        #expect(ProcFS.owner(keepImage)! == qemuOwner)
        #expect(ProcFS.owner(diesImage)! == qemuOwner)
        await first.detachAll()
        kill(diesPid, SIGKILL)
        while QEMUProcess.isAlive(diesPid) { try await Task.sleep(for: .milliseconds(5)) }

        let second = try await QEMUDriver.openUnshared(root: root, security: dac)
        #expect(try await second.state(dies).state == .shutoff)
        #expect(ProcFS.owner(diesImage)! == Self.imageOwner)
        #expect(!Self.hasRecord(diesImage))
        #expect(try await second.state(keep).state == .running)
        #expect(ProcFS.owner(keepImage)! == qemuOwner)
        try await second.destroy(keep, flags: [])
        #expect(ProcFS.owner(keepImage)! == Self.imageOwner)
        #expect(!Self.hasRecord(keepImage))
    }

    /// Two running domains share one read-only image: it is given back only when the second one stops.
    @Test(.tags(.qemu, .kvm)) func sharedReadOnlyImageRestoredByTheLastDomain() async throws {
        try TestHost.requireKVM()
        let kvm = try TestHost.groupID("kvm")
        let dir = try TestPaths.makeTempDir("dac")
        defer { TestPaths.removeDir(dir) }
        let image = try Self.makeImage(dir, format: "raw", name: "shared.raw", size: "1M")
        func xml(_ name: String) -> String {
            """
            <domain type='kvm'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
              <os><type arch='x86_64' machine='pc'>hvm</type></os>
              <devices>
                <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='\(image)'/>
                  <target dev='hdc' bus='ide'/><readonly/></disk>
              </devices>
            </domain>
            """
        }
        let driver = try await QEMUDriver.open(root: dir + "/root",
                                               security: QEMUSecurityConfig(user: "+4242", group: "kvm"))
        let a = try await driver.defineXML(xml("sa"), flags: [])
        let b = try await driver.defineXML(xml("sb"), flags: [])
        let pa = try await Self.start(driver, a, root: dir + "/root")
        defer { ProcFS.kill(pa, ifExecutable: "qemu-system") }
        let pb = try await Self.start(driver, b, root: dir + "/root")
        defer { ProcFS.kill(pb, ifExecutable: "qemu-system") }
        // A uid without a name: its only group is the configured one, which opens /dev/kvm.
        QEMUTestSupport.expectCredentials(of: pa, uid: 4242, gid: kvm, groups: [kvm])
        QEMUTestSupport.expectCredentials(of: pb, uid: 4242, gid: kvm, groups: [kvm])
        #expect(ProcFS.owner(image)! == (4242, kvm))
        #expect(OwnerRecordStore.getAttr(image, OwnerRecordStore.refAttr) == "2")
        #expect(OwnerRecordStore.getAttr(image, OwnerRecordStore.ownerAttr) == "+12345:+12345")

        try await driver.destroy(a, flags: [])
        #expect(ProcFS.owner(image)! == (4242, kvm))
        #expect(OwnerRecordStore.getAttr(image, OwnerRecordStore.refAttr) == "1")
        try await driver.destroy(b, flags: [])
        #expect(ProcFS.owner(image)! == Self.imageOwner)
        #expect(!Self.hasRecord(image))
    }
}
