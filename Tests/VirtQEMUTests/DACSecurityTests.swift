import Foundation
import Testing
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// The DAC security driver: owners remembered in our xattrs with a refcount, QEMU run as the configured user,
/// images given back at stop and after a failed start.
@Suite struct DACSecurityTests {
    static let imageOwner: (uid_t, gid_t) = (12345, 12345)

    static func owner(_ path: String) -> (uid_t, gid_t)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (st.st_uid, st.st_gid)
    }

    static func hasRecord(_ path: String) -> Bool {
        OwnerRecordStore.getAttr(path, OwnerRecordStore.ownerAttr) != nil
            || OwnerRecordStore.getAttr(path, OwnerRecordStore.refAttr) != nil
            || OwnerRecordStore.getAttr(path, OwnerRecordStore.timestampAttr) != nil
    }

    /// Runs a program to its end; its exit status.
    static func run(_ argv: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// A qcow2 image owned by 12345:12345 in a fresh directory.
    static func makeImage(_ dir: String) throws -> String {
        let img = dir + "/disk.qcow2"
        #expect(try run(["/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", img, "16M"]) == 0)
        #expect(chown(img, imageOwner.0, imageOwner.1) == 0)
        chmod(dir, 0o755)
        return img
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

    /// The real uid and gid of a process, from /proc/PID/status.
    static func processIDs(_ pid: pid_t) -> (uid_t, gid_t)? {
        guard let text = LinuxSys.readFile("/proc/\(pid)/status") else { return nil }
        var uid: uid_t?
        var gid: gid_t?
        for line in text.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            if f.first == "Uid:", f.count > 1 { uid = UInt32(f[1]) }
            if f.first == "Gid:", f.count > 1 { gid = UInt32(f[1]) }
        }
        guard let uid, let gid else { return nil }
        return (uid, gid)
    }

    @Test func configResolvesUsersAndGroups() throws {
        let a = try QEMUSecurityConfig(user: "nobody", group: "nogroup").resolveIDs()
        #expect(a.uid == 65534 && a.gid == 65534)
        let b = try QEMUSecurityConfig(user: "+4242", group: "+4343").resolveIDs()
        #expect(b.uid == 4242 && b.gid == 4343)
        #expect(throws: VirtError.self) { try QEMUSecurityConfig(user: "no-such-user-swiftvirt").resolveIDs() }
        #expect(try QEMUSecurityConfig.embedDefault.makeManager().model == "none")
        let dac = try QEMUSecurityConfig(user: "+4242", group: "+4343").makeManager()
        #expect(dac.model == "dac")
        #expect(try dac.processArguments(["-sandbox", "on,elevateprivileges=deny,spawn=deny"])
                == ["-sandbox", "on,elevateprivileges=allow,spawn=deny", "-runas", "4242:4343"])
        #expect(try QEMUSecurityConfig(user: "+0", group: "+0").makeManager().processArguments(["-S"]) == ["-S"])
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
        let dir = try QEMUTestSupport.makeTempDir("dac")
        defer { QEMUTestSupport.removeDir(dir) }
        let file = dir + "/shared.img"
        #expect(creat(file, 0o644) >= 0)
        #expect(chown(file, Self.imageOwner.0, Self.imageOwner.1) == 0)
        let dac = DACSecurityManager(uid: 4242, gid: 4343)
        let target = [SecurityLabelTarget(path: file, kind: .image)]
        try dac.setLabels(target)
        #expect(Self.owner(file)! == (4242, 4343))
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.ownerAttr) == "+12345:+12345")
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.refAttr) == "1")
        try dac.setLabels(target)
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.ownerAttr) == "+12345:+12345")
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.refAttr) == "2")
        #expect(dac.restoreLabels(target).isEmpty)
        #expect(Self.owner(file)! == (4242, 4343))
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.refAttr) == "1")
        #expect(dac.restoreLabels(target).isEmpty)
        #expect(Self.owner(file)! == Self.imageOwner)
        #expect(!Self.hasRecord(file))

        // A record from an earlier boot is stale: dropped, so the path is labelled as new.
        try dac.setLabels(target)
        #expect(OwnerRecordStore.setAttr(file, OwnerRecordStore.timestampAttr, "1"))
        #expect(OwnerRecordStore.setAttr(file, OwnerRecordStore.ownerAttr, "+7:+7"))
        try dac.setLabels(target)
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.ownerAttr) == "+4242:+4343")
        #expect(OwnerRecordStore.getAttr(file, OwnerRecordStore.refAttr) == "1")
        #expect(dac.restoreLabels(target).isEmpty)
        #expect(Self.owner(file)! == (4242, 4343))
        #expect(!Self.hasRecord(file))

        // No record: given to root:root, as libvirt does.
        #expect(dac.restoreLabels(target).isEmpty)
        #expect(Self.owner(file)! == (0, 0))

        // A missing required path fails and undoes what was labelled before it.
        #expect(chown(file, Self.imageOwner.0, Self.imageOwner.1) == 0)
        #expect(throws: VirtError.self) {
            try dac.setLabels(target + [SecurityLabelTarget(path: dir + "/missing.img", kind: .image)])
        }
        #expect(Self.owner(file)! == Self.imageOwner)
        #expect(!Self.hasRecord(file))
        // A missing optional one is skipped.
        try dac.setLabels([SecurityLabelTarget(path: dir + "/later.log", kind: .chardev, required: false)])
    }

    /// Domains starting and stopping at once on one shared path never record QEMU's user as its owner.
    @Test func concurrentLabelAndRestore() async throws {
        let dir = try QEMUTestSupport.makeTempDir("dac")
        defer { QEMUTestSupport.removeDir(dir) }
        let file = dir + "/shared.img"
        #expect(creat(file, 0o644) >= 0)
        #expect(chown(file, Self.imageOwner.0, Self.imageOwner.1) == 0)
        let dac = DACSecurityManager(uid: 4242, gid: 4343)
        let target = [SecurityLabelTarget(path: file, kind: .image)]
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
        #expect(Self.owner(file)! == Self.imageOwner)
        #expect(!Self.hasRecord(file))
    }

    /// A real KVM QEMU run as nobody:nogroup: the image's owner before, during and after the run.
    @Test func imageOwnerBeforeDuringAfterRun() async throws {
        try QEMUTestSupport.requireKVM()
        let dir = try QEMUTestSupport.makeTempDir("dac")
        defer { QEMUTestSupport.removeDir(dir) }
        let image = try Self.makeImage(dir)
        let root = dir + "/root"
        let driver = try await QEMUDriver.open(root: root,
                                               security: QEMUSecurityConfig(user: "nobody", group: "nogroup"))
        let dom = try await driver.defineXML(Self.diskXML(name: "dac1", image: image), flags: [])
        #expect(Self.owner(image)! == Self.imageOwner)

        do {
            _ = try await driver.start(dom, flags: [])
        } catch {
            Issue.record("start failed: \(error)\n\(LinuxSys.readFile(root + "/log/qemu/dac1.log") ?? "")")
            throw error
        }
        let pid = try await driver.pid(of: dom) ?? 0
        defer { if pid > 0 { kill(pid, SIGKILL) } }
        #expect(pid > 0)
        #expect(Self.owner(image)! == (65534, 65534))
        #expect(OwnerRecordStore.getAttr(image, OwnerRecordStore.ownerAttr) == "+12345:+12345")
        #expect(Self.processIDs(pid).map { $0 == (65534, 65534) } == true)
        let log = root + "/log/qemu/dac1.log"
        #expect(Self.owner(log).map { $0 == (65534, 65534) } == true)
        #expect(try await driver.state(dom).state == .running)
        // The live XML shows libvirt's dynamic DAC label; the inactive one does not.
        let liveXML = try await driver.xmlDesc(dom, flags: [])
        #expect(liveXML.contains("""
          <seclabel type='dynamic' model='dac' relabel='yes'>
            <label>+65534:+65534</label>
            <imagelabel>+65534:+65534</imagelabel>
          </seclabel>
        """), "\(liveXML)")
        #expect(!(try await driver.xmlDesc(dom, flags: .inactive)).contains("seclabel"))
        #expect(OwnerRecordStore.getAttr(image, OwnerRecordStore.timestampAttr) == OwnerRecordStore.bootTime)

        try await driver.destroy(dom, flags: [])
        #expect(!QEMUProcess.isAlive(pid))
        #expect(Self.owner(image)! == Self.imageOwner)
        #expect(!Self.hasRecord(image))
        #expect(Self.owner(log).map { $0 == (0, 0) } == true)
        #expect(!Self.hasRecord(log))
        try await driver.undefine(dom, flags: [])
    }

    /// A start that QEMU refuses (unknown machine type) leaves no process, socket or label behind.
    @Test func failedStartRestoresOwners() async throws {
        try QEMUTestSupport.requireKVM()
        let dir = try QEMUTestSupport.makeTempDir("dac")
        defer { QEMUTestSupport.removeDir(dir) }
        let image = try Self.makeImage(dir)
        let root = dir + "/root"
        let driver = try await QEMUDriver.open(root: root,
                                               security: QEMUSecurityConfig(user: "+4242", group: "+4343"))
        let dom = try await driver.defineXML(Self.diskXML(name: "dac2", image: image, machine: "pc-no-such-machine"),
                                             flags: [])
        // QEMU itself refuses the machine, after the image was labelled and QEMU launched.
        do {
            _ = try await driver.start(dom, flags: [])
            Issue.record("the start succeeded")
        } catch let e as VirtError {
            #expect(e.message.contains("unsupported machine type"), "\(e.message)")
        }
        #expect(!(try await driver.isActive(dom)))
        #expect(Self.owner(image)! == Self.imageOwner)
        #expect(!Self.hasRecord(image))
        let libDirs = (try? FileManager.default.contentsOfDirectory(atPath: root + "/lib/qemu")) ?? []
        for d in libDirs where d.hasPrefix("domain-") {
            #expect(access(root + "/lib/qemu/\(d)/monitor.sock", F_OK) != 0)
            #expect(Self.owner(root + "/lib/qemu/\(d)").map { $0 == (0, 0) } == true)
        }
        #expect(access(root + "/run/qemu/dac2.pid", F_OK) != 0)
        // No QEMU of ours is left with this image on its command line.
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for p in procs where Int32(p) != nil {
            if let cmd = LinuxSys.readFile("/proc/\(p)/cmdline"), cmd.contains(image) {
                Issue.record("a process (pid \(p)) still uses \(image)")
            }
        }
    }

    /// A daemon that dies while its QEMUs run: the next one gives back the images of a QEMU that died
    /// meanwhile at once, and those of a running one when it stops.
    @Test func ownersRestoredAcrossDaemonRestart() async throws {
        try QEMUTestSupport.requireKVM()
        let dir = try QEMUTestSupport.makeTempDir("dac")
        defer { QEMUTestSupport.removeDir(dir) }
        let keepDir = dir + "/keep"
        let diesDir = dir + "/dies"
        #expect(mkdir(keepDir, 0o755) == 0 && mkdir(diesDir, 0o755) == 0)
        let keepImage = try Self.makeImage(keepDir)
        let diesImage = try Self.makeImage(diesDir)
        let root = dir + "/root"
        let dac = try QEMUSecurityConfig(user: "nobody", group: "nogroup").makeManager()
        let first = try await QEMUDriver.openUnshared(root: root, security: dac)
        let keep = try await first.defineXML(Self.diskXML(name: "keep", image: keepImage), flags: [])
        let dies = try await first.defineXML(Self.diskXML(name: "dies", image: diesImage), flags: [])
        _ = try await first.start(keep, flags: [])
        let keepPid = try await first.pid(of: keep) ?? 0
        defer { if keepPid > 0 { kill(keepPid, SIGKILL) } }
        _ = try await first.start(dies, flags: [])
        let diesPid = try await first.pid(of: dies) ?? 0
        defer { if diesPid > 0 { kill(diesPid, SIGKILL) } }
        #expect(keepPid > 0 && diesPid > 0)
        #expect(Self.owner(keepImage)! == (65534, 65534))
        #expect(Self.owner(diesImage)! == (65534, 65534))
        await first.detachAll()
        kill(diesPid, SIGKILL)
        while QEMUProcess.isAlive(diesPid) { try await Task.sleep(for: .milliseconds(5)) }

        let second = try await QEMUDriver.openUnshared(root: root, security: dac)
        #expect(try await second.state(dies).state == .shutoff)
        #expect(Self.owner(diesImage)! == Self.imageOwner)
        #expect(!Self.hasRecord(diesImage))
        #expect(try await second.state(keep).state == .running)
        #expect(Self.owner(keepImage)! == (65534, 65534))
        try await second.destroy(keep, flags: [])
        #expect(Self.owner(keepImage)! == Self.imageOwner)
        #expect(!Self.hasRecord(keepImage))
    }

    /// Two running domains share one read-only image: it is given back only when the second one stops.
    @Test func sharedReadOnlyImageRestoredByTheLastDomain() async throws {
        try QEMUTestSupport.requireKVM()
        let dir = try QEMUTestSupport.makeTempDir("dac")
        defer { QEMUTestSupport.removeDir(dir) }
        let image = dir + "/shared.raw"
        #expect(try Self.run(["/usr/bin/qemu-img", "create", "-q", "-f", "raw", image, "1M"]) == 0)
        #expect(chown(image, Self.imageOwner.0, Self.imageOwner.1) == 0)
        chmod(dir, 0o755)
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
                                               security: QEMUSecurityConfig(user: "+4242", group: "+4343"))
        let a = try await driver.defineXML(xml("sa"), flags: [])
        let b = try await driver.defineXML(xml("sb"), flags: [])
        _ = try await driver.start(a, flags: [])
        let pa = try await driver.pid(of: a) ?? 0
        defer { if pa > 0 { kill(pa, SIGKILL) } }
        _ = try await driver.start(b, flags: [])
        let pb = try await driver.pid(of: b) ?? 0
        defer { if pb > 0 { kill(pb, SIGKILL) } }
        #expect(Self.processIDs(pa).map { $0 == (4242, 4343) } == true)
        #expect(Self.processIDs(pb).map { $0 == (4242, 4343) } == true)
        #expect(Self.owner(image)! == (4242, 4343))
        #expect(OwnerRecordStore.getAttr(image, OwnerRecordStore.refAttr) == "2")
        #expect(OwnerRecordStore.getAttr(image, OwnerRecordStore.ownerAttr) == "+12345:+12345")

        try await driver.destroy(a, flags: [])
        #expect(Self.owner(image)! == (4242, 4343))
        #expect(OwnerRecordStore.getAttr(image, OwnerRecordStore.refAttr) == "1")
        try await driver.destroy(b, flags: [])
        #expect(Self.owner(image)! == Self.imageOwner)
        #expect(!Self.hasRecord(image))
    }
}
