import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// Real swtpm and real mounts: these run as root on the build machines (Debian 12, swtpm 0.7.1, bindfs).
@Suite("swtpm on the host", .serialized, .tags(.root))
struct SwtpmDeviceTests {
    /// A driver root that the swtpm user may enter (mkdtemp makes it 0700).
    static func makeRoot(_ tag: String) throws -> String {
        let root = try TestPaths.makeTempDir(tag)
        chmod(root, 0o755)
        return root
    }

    static func owner(_ path: String) -> (uid: uid_t, gid: gid_t, mode: mode_t)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return (st.st_uid, st.st_gid, st.st_mode & 0o7777)
    }

    /// The user QEMU would run as in these tests: not root and not tss, so ownership changes show.
    static var qemuIDs: (uid_t, gid_t) {
        if let pw = TestHost.user("nobody") { return (pw.uid, pw.gid) }
        return (65534, 65534)
    }

    static func config(labeler: any TPMStateLabeler, setupBinary: String? = nil,
                       shared: [String] = []) throws -> SwtpmHostConfig {
        let swtpm = try #require(SwtpmHostConfig.findBinary("swtpm"), "swtpm is not installed")
        let setup = try #require(SwtpmHostConfig.findBinary("swtpm_setup"), "swtpm_setup is not installed")
        let (uid, gid) = try SwtpmHostConfig.defaultIDs()
        let (quid, qgid) = qemuIDs
        return SwtpmHostConfig(swtpmBinary: swtpm, swtpmSetupBinary: setupBinary ?? setup, swtpmUID: uid,
                               swtpmGID: gid, qemuUID: quid, qemuGID: qgid, sharedFilesystems: shared,
                               capabilities: try SwtpmCapabilities.cached(swtpm: swtpm, swtpmSetup: setup),
                               labeler: labeler)
    }

    static func device(root: String, config: SwtpmHostConfig, id: Int32 = 1,
                       uuid: VirtUUID = VirtUUID(string: "5b8ae1c6-63a2-4b5e-9a51-3d0b8e0c0f11") ?? .random())
        throws -> SwtpmDevice {
        var e = TPMEmulator()
        e.version = .v2_0
        return try SwtpmDevice(tpm: TPM(model: .crb, backend: .emulator(e)), vmName: "tpmvm", vmUUID: uuid,
                               arch: "x86_64", domainID: id, paths: QEMUDriverPaths(root: root), config: config)
    }

    /// Live swtpm processes whose command line names `needle`.
    static func swtpmProcesses(mentioning needle: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard QEMUProcess.isAlive(pid), let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return false }
            let cmd = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return cmd.contains("swtpm") && cmd.contains(needle)
        }
    }

    @Test("cold boot: swtpm_setup manufactures state as tss, swtpm runs as tss, socket answers; teardown leaves nothing")
    func coldBoot() async throws {
        #expect(getuid() == 0, "these tests run as root")
        let tss = try #require(TestHost.user("tss"), "user tss is missing (swtpm's package creates it)")
        let (tssUID, tssGID) = (tss.uid, tss.gid)
        let root = try Self.makeRoot("tpm")
        defer { TestPaths.removeDir(root) }
        let labeler = RecordingTPMStateLabeler()
        let config = try Self.config(labeler: labeler)
        #expect(config.swtpmUID == tssUID && config.swtpmGID == tssGID)
        let dev = try Self.device(root: root, config: config)
        var started = false
        defer {
            if started {
                for pid in Self.swtpmProcesses(mentioning: dev.socketPath) { kill(pid, SIGKILL) }
            }
        }

        try await dev.prepareHost(.coldBoot)
        started = true
        try await dev.start(.coldBoot)

        // The state: 0700 tss:tss, manufactured.
        let st = try #require(Self.owner(dev.statePath))
        #expect(st.uid == tssUID && st.gid == tssGID && st.mode == 0o700, "state dir \(st)")
        #expect(FileManager.default.fileExists(atPath: dev.statePath + "/tpm2-00.permall"))
        let perm = try #require(Self.owner(dev.statePath + "/tpm2-00.permall"))
        #expect(perm.uid == tssUID)
        let parent = try #require(Self.owner((dev.statePath as NSString).deletingLastPathComponent))
        #expect(parent.mode == 0o711)
        let plan = try #require(await dev.plan)
        #expect(plan.setupArguments?.first == "--tpm2")
        #expect(plan.swtpmArguments.contains("--terminate"))

        // swtpm runs as tss.
        let pid = try #require(await dev.pid)
        QEMUTestSupport.expectCredentials(of: pid, uid: tssUID, gid: tssGID, groups: [tssGID])
        let record = try #require(await dev.record)
        #expect(record.pid == pid && record.type == "swtpm")
        #expect(record.details["canMigrateSharedStorage"] == "no")

        // The socket is QEMU's and answers a control command; the log stays tss's.
        let (quid, qgid) = Self.qemuIDs
        let sock = try #require(Self.owner(dev.socketPath))
        #expect(sock.uid == quid && sock.gid == qgid, "socket \(sock)")
        #expect(try SwtpmControl.capabilities(dev.socketPath) != 0)
        let log = try #require(Self.owner(dev.logPath))
        #expect(log.uid == tssUID)
        #expect((LinuxSys.readFile(dev.logPath) ?? "").contains("Successfully authored TPM state"))
        let run = try #require(Self.owner(dev.runDir))
        #expect(run.uid == quid && run.gid == tssGID && run.mode == 0o770)

        #expect(labeler.recorded == [.init(path: dev.statePath, action: .set), .init(path: dev.logPath, action: .set)])
        labeler.reset()

        await dev.stop(.destroyed)
        #expect(!QEMUProcess.isAlive(pid))
        #expect(!FileManager.default.fileExists(atPath: dev.socketPath))
        #expect(!FileManager.default.fileExists(atPath: dev.pidfilePath))
        #expect(Self.swtpmProcesses(mentioning: dev.socketPath).isEmpty)
        #expect(labeler.recorded == [.init(path: dev.statePath, action: .restore),
                                     .init(path: dev.logPath, action: .restore)])
        await dev.cleanupHost()

        // A second boot reuses the state: no swtpm_setup.
        try await dev.prepareHost(.coldBoot)
        try await dev.start(.coldBoot)
        #expect(await dev.plan?.setupArguments == nil)
        let pid2 = try #require(await dev.pid)
        await dev.stop(.shutdown)
        #expect(!QEMUProcess.isAlive(pid2))
        #expect(FileManager.default.fileExists(atPath: dev.statePath + "/tpm2-00.permall"))
        #expect(Self.swtpmProcesses(mentioning: dev.socketPath).isEmpty)
    }

    @Test("a restarted daemon adopts the running swtpm and stops it")
    func adopt() async throws {
        let root = try Self.makeRoot("tpma")
        defer { TestPaths.removeDir(root) }
        let config = try Self.config(labeler: RecordingTPMStateLabeler())
        let first = try Self.device(root: root, config: config, id: 4)
        defer { for pid in Self.swtpmProcesses(mentioning: first.socketPath) { kill(pid, SIGKILL) } }
        try await first.prepareHost(.coldBoot)
        try await first.start(.coldBoot)
        let record = try #require(await first.record)
        // The status file's record survives a round trip through JSON.
        let decoded = try JSONDecoder().decode(ExternalDeviceRecord.self, from: JSONEncoder().encode(record))
        #expect(decoded == record)

        let labeler = RecordingTPMStateLabeler()
        let second = try Self.device(root: root, config: try Self.config(labeler: labeler), id: 4)
        try await second.adopt(decoded)
        #expect(await second.pid == record.pid)
        await second.stop(.destroyed)
        #expect(await first.waitForExit(timeout: .seconds(5)))
        #expect(!QEMUProcess.isAlive(record.pid))
        #expect(labeler.recorded.map(\.action) == [.restore, .restore])

        // A record whose process is gone is refused.
        await #expect(throws: VirtError.self) { try await second.adopt(decoded) }
    }

    @Test("swtpm ends by itself when its client goes away (--terminate)")
    func terminates() async throws {
        let root = try Self.makeRoot("tpmt")
        defer { TestPaths.removeDir(root) }
        let dev = try Self.device(root: root, config: try Self.config(labeler: NoOpTPMStateLabeler()), id: 5)
        defer { for pid in Self.swtpmProcesses(mentioning: dev.socketPath) { kill(pid, SIGKILL) } }
        try await dev.prepareHost(.coldBoot)
        try await dev.start(.coldBoot)
        // CMD_SHUTDOWN, as a QEMU would not send it, stands in for the last client leaving.
        _ = try SwtpmControl.send(dev.socketPath, command: SwtpmControl.shutdown, responseLength: 4)
        #expect(await dev.waitForExit(timeout: .seconds(5)))
        await dev.stop(.shutdown)
    }

    @Test("a failing swtpm_setup gives an error naming it and its message, and removes the fresh state")
    func setupFailure() async throws {
        let root = try Self.makeRoot("tpmf")
        defer { TestPaths.removeDir(root) }
        let script = root + "/swtpm_setup"
        try "#!/bin/sh\necho 'swtpm_setup: cannot manufacture: boom' >&2\nexit 1\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let labeler = RecordingTPMStateLabeler()
        let dev = try Self.device(root: root, config: try Self.config(labeler: labeler, setupBinary: script), id: 6)
        try await dev.prepareHost(.coldBoot)
        do {
            try await dev.start(.coldBoot)
            Issue.record("start succeeded although swtpm_setup failed")
        } catch {
            #expect(error.code == .internalError)
            #expect(error.message.contains("Could not run '\(script)'. exitstatus: 1"))
            #expect(error.message.contains("swtpm_setup said:"))
            #expect(error.message.contains("boom"))
        }
        #expect(!FileManager.default.fileExists(atPath: (dev.statePath as NSString).deletingLastPathComponent))
        #expect(await dev.pid == nil)
        #expect(labeler.recorded.isEmpty)
        await dev.stop(.destroyed)
        #expect(labeler.recorded.isEmpty)
    }

    @Test("undefine removes the state unless keep-tpm or persistent_state; --tpm removes it anyway")
    func undefine() throws {
        let root = try Self.makeRoot("tpmu")
        defer { TestPaths.removeDir(root) }
        let paths = QEMUDriverPaths(root: root)
        func def(persistent: Bool?) throws -> DomainDefinition {
            let p = persistent.map { " persistent_state='\($0 ? "yes" : "no")'" } ?? ""
            return try DomainDefinition.parse("""
                <domain type='kvm'><name>u</name><uuid>5b8ae1c6-63a2-4b5e-9a51-3d0b8e0c0f12</uuid>
                <memory>65536</memory><os><type arch='x86_64'>hvm</type></os>
                <devices><tpm model='tpm-crb'><backend type='emulator' version='2.0'\(p)/></tpm></devices></domain>
                """)
        }
        let dir = paths.swtpmDomainStorageDir(uuid: "5b8ae1c6-63a2-4b5e-9a51-3d0b8e0c0f12")
        func fill() throws { try LinuxSys.mkdirs(dir + "/tpm2") }

        try fill()
        #expect(SwtpmStateRemoval.removeState(of: try def(persistent: nil), paths: paths, flags: [.keepTPM]).isEmpty)
        #expect(FileManager.default.fileExists(atPath: dir))
        #expect(SwtpmStateRemoval.removeState(of: try def(persistent: true), paths: paths, flags: []).isEmpty)
        #expect(SwtpmStateRemoval.removeState(of: try def(persistent: true), paths: paths, flags: [.tpm]) == [dir])
        #expect(!FileManager.default.fileExists(atPath: dir))
        try fill()
        #expect(SwtpmStateRemoval.removeState(of: try def(persistent: false), paths: paths, flags: []) == [dir])
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    // MARK: Shared filesystems

    @Test("shared filesystems: a bindfs mount of subtype glusterfs is fuse.glusterfs and shared; local and configured paths")
    func sharedFilesystems() async throws {
        let root = try Self.makeRoot("shfs")
        defer { TestPaths.removeDir(root) }
        let src = root + "/src"
        let dst = root + "/dst"
        try LinuxSys.mkdirs(src)
        try LinuxSys.mkdirs(dst)
        try await Self.withGlusterMount(src, on: dst) {
            let mounts = MountInfo.parse(LinuxSys.readFile("/proc/self/mountinfo") ?? "")
            #expect(mounts.contains { $0.mountPoint == dst && $0.fsType == "fuse.glusterfs" })
            #expect(SharedFilesystem.isShared(path: dst))
            #expect(SharedFilesystem.kind(of: dst + "/not/yet/created") == .glusterfs)
            #expect(SharedFilesystem.isShared(path: dst + "/swtpm/uuid/tpm2"))
            #expect(!SharedFilesystem.isShared(path: src))
            #expect(!SharedFilesystem.isShared(path: root + "/dstx"))
            // qemu.conf's shared_filesystems makes any path shared.
            #expect(SharedFilesystem.isShared(path: src + "/a/b", configured: [src]))
            #expect(SharedFilesystem.isShared(path: src, configured: [src + "/"]))
            #expect(!SharedFilesystem.isShared(path: root + "/srcx", configured: [src]))
            // Through a symbolic link into the mount.
            symlink(dst, root + "/link")
            #expect(SharedFilesystem.isShared(path: root + "/link/x"))
        }
        #expect(!SharedFilesystem.isShared(path: dst), "after unmounting")
    }

    @Test("incoming migration with the state on a shared mount is refused by swtpm 0.7.1, and creates nothing")
    func sharedIncomingRefused() async throws {
        let root = try Self.makeRoot("shin")
        defer { TestPaths.removeDir(root) }
        let backing = root + "/backing"
        let storage = QEMUDriverPaths(root: root).swtpmStorageDir
        try LinuxSys.mkdirs(backing)
        try LinuxSys.mkdirs(storage)
        try await Self.withGlusterMount(backing, on: storage) {
            let labeler = RecordingTPMStateLabeler()
            let config = try Self.config(labeler: labeler)
            #expect(!config.capabilities.canMigrateSharedStorage, "this test expects swtpm 0.7.1")
            let dev = try Self.device(root: root, config: config, id: 7)
            try await dev.prepareHost(.incomingMigration(uri: "tcp:[::]:49152"))
            do {
                try await dev.start(.incomingMigration(uri: "tcp:[::]:49152"))
                Issue.record("incoming migration with shared state started without swtpm --migration")
            } catch let error as VirtError {
                #expect(error.code == .argumentUnsupported)
                #expect(error.message.contains("does not support the --migration option needed for migration with shared storage"))
        }
        #expect(!FileManager.default.fileExists(atPath: dev.statePath))
        #expect(await dev.pid == nil)
        #expect(labeler.recorded.isEmpty)
        #expect(await dev.stateShared)
        }
    }

    /// Runs a tool to its end and returns its exit status. Not Foundation's `Process`: it waits until every
    /// holder of a descriptor it gives the child has closed it, and bindfs's daemon keeps it forever.
    static func run(_ binary: String, _ args: [String]) async throws -> Int32 {
        let p = try QEMUProcess.launch(ProcessLaunchSpec(binary: binary, arguments: args, logPath: "/dev/null"))
        if case .exited(let code) = await p.exitWaiter.wait() { return code }
        return -1
    }

    /// Mounts `src` on `dst` with bindfs as a glusterfs-typed FUSE mount, runs `body`, and unmounts (lazily
    /// when busy) whether `body` succeeded or not.
    static func withGlusterMount(_ src: String, on dst: String, _ body: () async throws -> Void) async throws {
        let bindfs = try #require(SwtpmHostConfig.findBinary("bindfs"),
                                  "bindfs is missing: scripts/install-deps.sh installs it")
        try #require(try await run(bindfs, ["-o", "subtype=glusterfs,allow_other", src, dst]) == 0, "bindfs failed")
        var failure: (any Error)?
        do { try await body() } catch { failure = error }
        if (try? await run("/usr/bin/fusermount", ["-u", dst])) != 0 {
            _ = try? await run("/bin/umount", ["-l", dst])
        }
        if let failure { throw failure }
    }
}
