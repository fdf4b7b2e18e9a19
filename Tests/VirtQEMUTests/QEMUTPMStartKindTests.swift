import Foundation
import Testing
import VirtTestSupport
import Virt
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// The start-kind table of libvirt 9.6 (`qemuExtDevicesStart`'s incoming flag, `qemuTPMEmulatorStart`'s state
/// label, `qemuExtTPMStop`'s restore) seen through the embedded driver with real QEMU (TCG, no guest needed)
/// and real swtpm 0.7.1, with the recording TPM labeler: cold boot, restore, managed save + start and an
/// incoming migration, each with the TPM state local and on a shared (fuse.glusterfs) mount.
@Suite("swtpm start kinds on the embedded driver", .serialized, .tags(.qemu, .root))
struct QEMUTPMStartKindTests {
    static func xml(name: String) -> String {
        """
        <domain type='qemu'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='q35'>hvm</type></os>
        <devices><tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm></devices></domain>
        """
    }

    /// The labeler's calls, with the state directory and the log named as such.
    static func describe(_ entries: [RecordingTPMStateLabeler.Entry], state: String, log: String) -> String {
        if entries.isEmpty { return "none" }
        return entries.map { e in
            let what = e.path == state ? "state" : e.path == log ? "log" : e.path
            return "\(e.action.rawValue)(\(what))"
        }.joined(separator: " ")
    }

    static func swtpms(_ needle: String) -> [pid_t] { SwtpmDeviceTests.swtpmProcesses(mentioning: needle) }

    static func argv(_ pid: pid_t) -> [String] {
        guard let d = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
        return d.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    struct Row {
        var kind: String
        var storage: String
        var labels: String
        var outcome: String
    }

    /// Runs every start kind on `root` (its swtpm storage local, or already a shared mount) and returns the rows.
    static func run(root: String, storage: String) async throws -> [Row] {
        let driver = try await QEMUDriver.open(root: root)
        let labeler = RecordingTPMStateLabeler()
        await driver.state.setTPMLabeler(labeler)
        let name = "tk" + storage
        let dom = try await driver.defineXML(xml(name: name), flags: [])
        let paths = QEMUDriverPaths(root: root)
        let state = paths.swtpmStatePath(uuid: "\(dom.uuid)", version: .v2_0)
        let log = paths.swtpmLogFile(name: name)
        defer {
            for pid in swtpms(root) { kill(pid, SIGKILL) }
            for pid in ProcFS.qemuProcesses(whose: "cmdline", contains: "guest=\(name),") { kill(pid, SIGKILL) }
        }
        var rows: [Row] = []
        func take() -> String {
            defer { labeler.reset() }
            return describe(labeler.recorded, state: state, log: log)
        }
        func swtpmArgs() -> String {
            guard let pid = swtpms(state).first else { return "no swtpm" }
            return argv(pid).dropFirst().joined(separator: " ").replacingOccurrences(of: root, with: "ROOT")
                .replacingOccurrences(of: "\(dom.uuid)", with: "UUID")
        }

        func stateText() async throws -> String {
            let s = try await driver.state(dom)
            return s.state == .running && s.reason == 3 ? "running (restored)" : "\(s)"
        }

        // Cold boot, then destroy.
        _ = try await driver.start(dom, flags: [])
        rows.append(Row(kind: "cold boot", storage: storage, labels: take(), outcome: "running; swtpm \(swtpmArgs())"))
        #expect(FileManager.default.fileExists(atPath: state + "/tpm2-00.permall"))
        // Whether the running swtpm lets the domain be saved or migrated out (libvirt's qemuMigrationSrcIsAllowed).
        var blocker: VirtError?
        if let d = await (try await driver.state.object(dom)).externalDevices.first { blocker = await d.migrationBlocker }
        rows.append(Row(kind: "save / migrate out allowed", storage: storage, labels: "-",
                        outcome: blocker.map { "refused: \($0.message)" } ?? "allowed"))
        try await driver.destroy(dom, flags: [])
        rows.append(Row(kind: "destroy", storage: storage, labels: take(), outcome: "stopped"))

        // Save and restore.
        _ = try await driver.start(dom, flags: [])
        _ = take()
        let image = root + "/\(name).save"
        try await driver.save(dom, to: image, xml: nil, flags: [])
        rows.append(Row(kind: "save", storage: storage, labels: take(), outcome: "saved"))
        try await driver.restore(from: image, xml: nil, flags: [])
        rows.append(Row(kind: "restore", storage: storage, labels: take(),
                        outcome: "\(try await stateText()); swtpm \(swtpmArgs())"))

        // Managed save, then start.
        try await driver.managedSave(dom, flags: [])
        rows.append(Row(kind: "managed save", storage: storage, labels: take(), outcome: "saved"))
        _ = try await driver.start(dom, flags: [])
        rows.append(Row(kind: "managed save + start", storage: storage, labels: take(),
                        outcome: "\(try await stateText()); swtpm \(swtpmArgs())"))
        try await driver.destroy(dom, flags: [])
        _ = take()

        // An incoming migration: every phase runs, the last one leaves QEMU waiting for the stream (paused,
        // reason migration); a destroy then gives the labels back. Refused starts say why.
        let obj = try await driver.state.object(dom)
        do {
            try await driver.startObject(obj, flags: [], kind: .incomingMigration(uri: "tcp:127.0.0.1:0"))
            let s = try await driver.state(dom)
            rows.append(Row(kind: "incoming migration (full start)", storage: storage, labels: take(),
                            outcome: "waiting: \(s.state == .paused && s.reason == 2 ? "paused (migration)" : "\(s)"); "
                                + "swtpm \(swtpmArgs())"))
            try await driver.destroy(dom, flags: [])
            rows.append(Row(kind: "incoming: destroyed while waiting", storage: storage, labels: take(),
                            outcome: "stopped"))
        } catch let e as VirtError {
            rows.append(Row(kind: "incoming migration (full start)", storage: storage, labels: take(),
                            outcome: "refused: \(e.message)"))
        }
        #expect(swtpms(state).isEmpty)
        #expect(ProcFS.qemuProcesses(whose: "cmdline", contains: "guest=\(name),").isEmpty)
        #expect(access(paths.stateDir + "/\(name).status", F_OK) != 0)

        // The device alone for an incoming migration (existing state): swtpm's argv and setup.
        let config = try await driver.state.swtpmHostConfig()
        let def = try DomainDefinition.parse(xml(name: name).replacingOccurrences(
            of: "<name>", with: "<uuid>\(dom.uuid)</uuid><name>"))
        let dev = try #require(try SwtpmDevice.devices(for: def, domainID: 90, paths: paths, config: config).first)
        let incoming = QEMUStartKind.incomingMigration(uri: "tcp:127.0.0.1:0")
        try await dev.prepareHost(incoming)
        do {
            try await dev.start(incoming)
            let plan = await dev.plan
            rows.append(Row(kind: "incoming migration (device)", storage: storage, labels: take(),
                            outcome: "swtpm_setup \(plan?.setupArguments.map { $0.joined(separator: " ") } ?? "not run"); "
                                + "swtpm \(swtpmArgs())"))
            await dev.stop(.destroyed)
            rows.append(Row(kind: "incoming: stop (destroy)", storage: storage, labels: take(), outcome: "stopped"))
        } catch {
            rows.append(Row(kind: "incoming migration (device)", storage: storage, labels: take(),
                            outcome: "refused: \(error.message)"))
        }
        await dev.cleanupHost()
        try await driver.undefine(dom, flags: [.tpm])
        return rows
    }

    @Test("cold boot, restore, managed save + start, incoming migration; state local and shared: labels, swtpm argv, refusal of shared incoming with swtpm 0.7.1")
    func startKinds() async throws {
        let local = try SwtpmDeviceTests.makeRoot("tkl")
        defer { TestPaths.removeDir(local) }
        let localRows = try await Self.run(root: local, storage: "local")

        let shared = try SwtpmDeviceTests.makeRoot("tks")
        defer { TestPaths.removeDir(shared) }
        let backing = shared + "/backing"
        let storage = QEMUDriverPaths(root: shared).swtpmStorageDir
        try LinuxSys.mkdirs(backing)
        try LinuxSys.mkdirs(storage)
        var sharedRows: [Row] = []
        try await SwtpmDeviceTests.withGlusterMount(backing, on: storage) {
            #expect(SharedFilesystem.isShared(path: storage))
            sharedRows = try await Self.run(root: shared, storage: "shared")
        }

        print("swtpm start kinds, ours (embedded driver, recording labeler):")
        for r in localRows + sharedRows {
            print("| \(r.kind) | \(r.storage) | \(r.labels) | \(r.outcome) |")
        }
        func row(_ rows: [Row], _ kind: String) -> Row? { rows.first { $0.kind == kind } }

        // libvirt 9.6: the state is labelled at every start but a shared incoming migration, and its label is
        // restored at every stop (save included).
        for rows in [localRows, sharedRows] {
            #expect(row(rows, "cold boot")?.labels == "set(state) set(log)")
            #expect(row(rows, "destroy")?.labels == "restore(state) restore(log)")
            #expect(row(rows, "save")?.labels == "restore(state) restore(log)")
            #expect(row(rows, "restore")?.labels == "set(state) set(log)")
            #expect(row(rows, "managed save")?.labels == "restore(state) restore(log)")
            #expect(row(rows, "managed save + start")?.labels == "set(state) set(log)")
            #expect(row(rows, "restore")?.outcome.hasPrefix("running (restored)") == true, "\(rows)")
            #expect(row(rows, "managed save + start")?.outcome.hasPrefix("running (restored)") == true, "\(rows)")
            // swtpm 0.7.1 has no --migration: never given.
            for r in rows where r.outcome.contains("swtpm socket") {
                #expect(!r.outcome.contains("--migration") && r.outcome.contains("--terminate --tpm2"), "\(r)")
            }
        }
        // libvirtd 9.0 refuses to save (and to migrate) a domain whose TPM state is shared when its swtpm lacks
        // --migration, with these words; the device says so (the save path does not ask it yet).
        #expect(row(localRows, "save / migrate out allowed")?.outcome == "allowed")
        #expect(row(sharedRows, "save / migrate out allowed")?.outcome == "refused: this function is not supported by "
                + "the connection driver: the running swtpm does not support migration with shared storage")
        // Local incoming: labelled like a cold boot, swtpm_setup not run on existing state; QEMU waits for the
        // stream, and a destroy gives the labels back.
        #expect(row(localRows, "incoming migration (full start)")?.labels == "set(state) set(log)")
        #expect(row(localRows, "incoming migration (full start)")?.outcome
                    .hasPrefix("waiting: paused (migration); swtpm socket") == true)
        #expect(row(localRows, "incoming: destroyed while waiting")?.labels == "restore(state) restore(log)")
        #expect(row(localRows, "incoming migration (device)")?.outcome.hasPrefix("swtpm_setup not run; swtpm socket") == true)
        #expect(row(localRows, "incoming migration (device)")?.labels == "set(state) set(log)")
        // Shared incoming: refused before anything is touched, with libvirt's error (swtpm lacks --migration).
        let refusal = "does not support the --migration option needed for migration with shared storage"
        #expect(row(sharedRows, "incoming migration (full start)")?.labels == "none")
        #expect(row(sharedRows, "incoming migration (full start)")?.outcome.contains(refusal) == true)
        #expect(row(sharedRows, "incoming migration (full start)")?.outcome
                    .hasPrefix("refused: argument unsupported: ") == true)
        #expect(row(sharedRows, "incoming migration (device)")?.outcome.contains(refusal) == true)
        #expect(row(sharedRows, "incoming migration (device)")?.labels == "none")
    }

    @Test("incoming migration on fresh local state: swtpm_setup --overwrite only (no EK), state 0700 tss:tss")
    func incomingFreshState() async throws {
        let root = try SwtpmDeviceTests.makeRoot("tkf")
        defer { TestPaths.removeDir(root) }
        let labeler = RecordingTPMStateLabeler()
        let config = try SwtpmDeviceTests.config(labeler: labeler)
        let dev = try SwtpmDeviceTests.device(root: root, config: config, id: 91)
        defer { for pid in Self.swtpms(dev.socketPath) { kill(pid, SIGKILL) } }
        let incoming = QEMUStartKind.incomingMigration(uri: "tcp:127.0.0.1:0")
        try await dev.prepareHost(incoming)
        try await dev.start(incoming)
        let plan = try #require(await dev.plan)
        #expect(plan.setupArguments == ["--tpm2", "--tpm-state", dev.statePath, "--logfile", dev.logPath, "--overwrite"])
        #expect(plan.reconfigureArguments == nil)
        let pid = try #require(await dev.pid)
        let args = Self.argv(pid)
        #expect(!args.contains("--migration"), "\(args)")
        let tss = try #require(TestHost.user("tss"))
        let st = try #require(SwtpmDeviceTests.owner(dev.statePath))
        #expect(st.uid == tss.uid && st.mode == 0o700)
        #expect(FileManager.default.fileExists(atPath: dev.statePath + "/tpm2-00.permall"))
        #expect(labeler.recorded == [.init(path: dev.statePath, action: .set), .init(path: dev.logPath, action: .set)])
        print("incoming migration, fresh local state: swtpm_setup \(plan.setupArguments ?? []); swtpm \(args.dropFirst())")
        await dev.stop(.destroyed)
        #expect(!QEMUProcess.isAlive(pid))
    }
}
