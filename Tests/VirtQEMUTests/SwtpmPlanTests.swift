import Foundation
import Testing
import VirtCore
@testable import VirtQEMU

/// Fixtures shared by the swtpm tests.
enum SwtpmFixtures {
    /// `swtpm socket --print-capabilities` of Debian 12's swtpm 0.7.1 (no `cmdarg-migration`).
    static let swtpm071JSON = """
        { "type": "swtpm", "features": [ "tpm-1.2", "tpm-2.0", "tpm-send-command-header", "flags-opt-startup", \
        "cmdarg-seccomp", "cmdarg-key-fd", "cmdarg-pwd-fd", "cmdarg-print-states", "nvram-backend-dir", \
        "nvram-backend-file" ], "version": "0.7.1" }
        """
    /// `swtpm_setup --print-capabilities` of swtpm-tools 0.7.1.
    static let setup071JSON = """
        { "type": "swtpm_setup", "features": [ "tpm-1.2", "tpm-2.0", "cmdarg-keyfile-fd", "cmdarg-pwdfile-fd", \
        "tpm12-not-need-root", "cmdarg-write-ek-cert-files", "cmdarg-create-config-files", \
        "cmdarg-reconfigure-pcr-banks", "tpm2-rsa-keysize-2048", "tpm2-rsa-keysize-3072" ], "version": "0.7.1" }
        """
    /// A newer swtpm (0.8) that can migrate with shared storage.
    static let swtpmMigrationJSON = """
        { "type": "swtpm", "features": [ "tpm-1.2", "tpm-2.0", "tpm-send-command-header", "flags-opt-startup", \
        "flags-opt-disable-auto-shutdown", "ctrl-opt-terminate", "cmdarg-seccomp", "cmdarg-key-fd", \
        "cmdarg-pwd-fd", "cmdarg-print-states", "cmdarg-chroot", "cmdarg-migration", "nvram-backend-dir", \
        "nvram-backend-file" ], "version": "0.8.0" }
        """

    static func real071() throws -> SwtpmCapabilities {
        try SwtpmCapabilities(swtpmJSON: swtpm071JSON, setupJSON: setup071JSON)
    }

    static func withMigration() throws -> SwtpmCapabilities {
        try SwtpmCapabilities(swtpmJSON: swtpmMigrationJSON, setupJSON: setup071JSON)
    }

    static let uuid = VirtUUID(string: "c7a5fdbd-edaf-9455-926a-d65c16db1809") ?? VirtUUID(high: 1, low: 1)
    static let state = "/var/lib/libvirt/swtpm/c7a5fdbd-edaf-9455-926a-d65c16db1809/tpm2"
    static let log = "/var/log/swtpm/libvirt/qemu/vm1-swtpm.log"
    static let sock = "/run/libvirt/qemu/swtpm/1-vm1-swtpm.sock"

    static func input(_ kind: QEMUStartKind, shared: Bool, initialized: Bool, caps: SwtpmCapabilities,
                      version: TPMVersion = .v2_0, banks: [String]? = nil) -> SwtpmPlan.Input {
        var e = TPMEmulator()
        e.version = version
        e.activePCRBanks = banks
        return SwtpmPlan.Input(vmName: "vm1", vmUUID: uuid, version: version, emulator: e, kind: kind,
                               stateInitialized: initialized, stateShared: shared, capabilities: caps,
                               statePath: state, logPath: log, socketPath: sock)
    }
}

@Suite("swtpm capabilities")
struct SwtpmCapabilitiesTests {
    @Test("swtpm 0.7.1's documents: features and versions, no --migration")
    func real071() throws {
        let c = try SwtpmFixtures.real071()
        #expect(c.swtpmVersion == "0.7.1")
        #expect(c.setupVersion == "0.7.1")
        #expect(c.swtpmFeatures.contains("tpm-2.0"))
        #expect(c.swtpmFeatures.contains("cmdarg-pwd-fd"))
        #expect(!c.canMigrateSharedStorage)
        #expect(c.setupCanReconfigurePCRBanks)
        #expect(c.setupCanCreateConfigFiles)
        #expect(c.setupTPM12NotNeedRoot)
    }

    @Test("a swtpm with cmdarg-migration can migrate shared storage")
    func migration() throws {
        #expect(try SwtpmFixtures.withMigration().canMigrateSharedStorage)
    }

    @Test("malformed documents are refused with the program named")
    func malformed() {
        #expect(throws: VirtError.self) {
            try SwtpmCapabilities(swtpmJSON: "{ not json", setupJSON: SwtpmFixtures.setup071JSON)
        }
        do {
            _ = try SwtpmCapabilities(swtpmJSON: SwtpmFixtures.swtpm071JSON, setupJSON: "{\"type\": \"swtpm_setup\"}")
            Issue.record("a document without features was accepted")
        } catch {
            #expect(error.message.contains("swtpm_setup"))
        }
    }

    @Test("the installed swtpm is probed (Debian 12: swtpm 0.7.1)")
    func probe() throws {
        let swtpm = try #require(SwtpmHostConfig.findBinary("swtpm"), "swtpm is not installed")
        let setup = try #require(SwtpmHostConfig.findBinary("swtpm_setup"), "swtpm_setup is not installed")
        let c = try SwtpmCapabilities.probe(swtpm: swtpm, swtpmSetup: setup)
        #expect(c.swtpmFeatures.contains("tpm-2.0"))
        #expect(c.setupFeatures.contains("tpm-2.0"))
        #expect(c.swtpmVersion != nil)
        #expect(try SwtpmCapabilities.cached(swtpm: swtpm, swtpmSetup: setup) == c)
        #expect(try SwtpmCapabilities.cached(swtpm: swtpm, swtpmSetup: setup) == c)
    }
}

@Suite("swtpm plan: libvirt's start-kind and stop-kind tables")
struct SwtpmPlanTests {
    typealias F = SwtpmFixtures

    static let manufacture = ["--tpm2", "--tpm-state", F.state, "--vmid", "vm1:c7a5fdbd-edaf-9455-926a-d65c16db1809",
                              "--logfile", F.log, "--createek", "--create-ek-cert", "--create-platform-cert",
                              "--lock-nvram", "--not-overwrite"]
    static let base = ["socket", "--ctrl", "type=unixio,path=\(F.sock),mode=0600", "--tpmstate",
                       "dir=\(F.state),mode=0600", "--log", "file=\(F.log)", "--terminate", "--tpm2"]

    /// One row of libvirt's start-kind table for swtpm (qemuProcessLaunch, qemuTPMEmulatorStart), for a swtpm that has `--migration`.
    struct Row: Sendable, CustomTestStringConvertible {
        var kind: QEMUStartKind
        var shared: Bool
        var createsDir: Bool
        var setupOnFresh: [String]?
        var reconfigures: Bool
        var labelsState: Bool
        var migration: String?
        var testDescription: String { "\(kind), \(shared ? "shared" : "local") FS" }
    }

    static let rows: [Row] = [
        Row(kind: .coldBoot, shared: false, createsDir: true, setupOnFresh: manufacture, reconfigures: true,
            labelsState: true, migration: nil),
        Row(kind: .coldBoot, shared: true, createsDir: true, setupOnFresh: manufacture, reconfigures: true,
            labelsState: true, migration: "release-lock-outgoing"),
        Row(kind: .restore(QEMURestoreSource(path: "/tmp/x.save", wasRunning: true)), shared: false, createsDir: true, setupOnFresh: manufacture, reconfigures: true,
            labelsState: true, migration: nil),
        Row(kind: .restore(QEMURestoreSource(path: "/tmp/x.save", wasRunning: true)), shared: true, createsDir: true, setupOnFresh: manufacture, reconfigures: true,
            labelsState: true, migration: "release-lock-outgoing"),
        Row(kind: .incomingMigration(uri: "tcp:[::]:49152"), shared: false, createsDir: true,
            setupOnFresh: ["--tpm2", "--tpm-state", F.state, "--logfile", F.log, "--overwrite"], reconfigures: false,
            labelsState: true, migration: nil),
        Row(kind: .incomingMigration(uri: "tcp:[::]:49152"), shared: true, createsDir: false, setupOnFresh: nil, reconfigures: false,
            labelsState: false, migration: "release-lock-outgoing,incoming"),
    ]

    @Test("start table, with a swtpm that has --migration", arguments: rows)
    func startRow(_ row: Row) throws {
        let caps = try F.withMigration()
        for initialized in [false, true] {
            let plan = try SwtpmPlan.make(F.input(row.kind, shared: row.shared, initialized: initialized, caps: caps,
                                                  banks: ["sha256", "sha384"]))
            #expect(plan.createStateDir == row.createsDir)
            #expect(plan.stateIsFresh == (row.createsDir && !initialized))
            // swtpm_setup runs only on fresh state, never on state reused over shared storage.
            #expect(plan.setupArguments == (initialized ? nil : row.setupOnFresh), "initialized: \(initialized)")
            #expect(plan.configFilesArguments == nil)
            let reconfigure = ["--tpm2", "--tpm-state", F.state, "--logfile", F.log, "--pcr-banks", "sha256,sha384",
                               "--reconfigure"]
            #expect(plan.reconfigureArguments == (row.reconfigures ? reconfigure : nil))
            #expect(plan.labelStateAtStart == row.labelsState)
            #expect(plan.swtpmArguments == Self.base + (row.migration.map { ["--migration", $0] } ?? []))
            #expect(plan.canMigrateSharedStorage == (row.migration != nil))
        }
    }

    @Test("start table, with swtpm 0.7.1 (no --migration): no --migration anywhere, incoming + shared refused",
          arguments: rows)
    func startRowWithout(_ row: Row) throws {
        let caps = try F.real071()
        let input = F.input(row.kind, shared: row.shared, initialized: false, caps: caps)
        if row.kind == .incomingMigration(uri: "tcp:[::]:49152") && row.shared {
            do {
                _ = try SwtpmPlan.make(input)
                Issue.record("an incoming migration with shared TPM state was accepted without swtpm --migration")
            } catch {
                #expect(error.code == .argumentUnsupported)
                #expect(error.message == "argument unsupported: /usr/bin/swtpm (on destination side) does not "
                    + "support the --migration option needed for migration with shared storage")
            }
            return
        }
        let plan = try SwtpmPlan.make(input)
        #expect(plan.swtpmArguments == Self.base)
        #expect(!plan.canMigrateSharedStorage)
        #expect(plan.setupArguments == row.setupOnFresh)
        #expect(plan.labelStateAtStart == row.labelsState)
    }

    @Test("--reconfigure --pcr-banks only for TPM 2.0 with banks configured and a capable swtpm_setup")
    func reconfigureConditions() throws {
        let caps = try F.real071()
        #expect(try SwtpmPlan.make(F.input(.coldBoot, shared: false, initialized: true, caps: caps))
            .reconfigureArguments == nil)
        #expect(try SwtpmPlan.make(F.input(.coldBoot, shared: false, initialized: true, caps: caps,
                                           version: .v1_2, banks: ["sha1"])).reconfigureArguments == nil)
        var old = caps
        old.setupFeatures.remove("cmdarg-reconfigure-pcr-banks")
        #expect(try SwtpmPlan.make(F.input(.restore(QEMURestoreSource(path: "/tmp/x.save", wasRunning: true)), shared: false, initialized: true, caps: old, banks: ["sha1"]))
            .reconfigureArguments == nil)
        #expect(try SwtpmPlan.make(F.input(.restore(QEMURestoreSource(path: "/tmp/x.save", wasRunning: true)), shared: false, initialized: true, caps: caps, banks: ["sha1"]))
            .reconfigureArguments == ["--tpm2", "--tpm-state", F.state, "--logfile", F.log, "--pcr-banks", "sha1",
                                      "--reconfigure"])
    }

    @Test("TPM 1.2: no --tpm2 for swtpm_setup or swtpm")
    func tpm12() throws {
        let plan = try SwtpmPlan.make(F.input(.coldBoot, shared: false, initialized: false, caps: F.real071(),
                                              version: .v1_2))
        #expect(plan.setupArguments == Array(Self.manufacture.dropFirst()))
        #expect(plan.swtpmArguments == Array(Self.base.dropLast()))
    }

    @Test("an unprivileged daemon creates swtpm_setup's config files first; TPM 1.2 needs root without tpm12-not-need-root")
    func unprivileged() throws {
        var input = F.input(.coldBoot, shared: false, initialized: false, caps: try F.real071())
        input.privileged = false
        #expect(try SwtpmPlan.make(input).configFilesArguments == ["--create-config-files", "skip-if-exist"])
        input.version = .v1_2
        input.capabilities.setupFeatures.remove("tpm12-not-need-root")
        let plan = try SwtpmPlan.make(input)
        #expect(plan.setupArguments == nil)
        #expect(plan.setupSkippedNote?.hasPrefix("Did not create EK and certificates") == true)
    }

    @Test("debug level goes into --log")
    func debugLevel() throws {
        var input = F.input(.coldBoot, shared: false, initialized: true, caps: try F.real071())
        input.emulator.debug = 20
        #expect(try SwtpmPlan.make(input).swtpmArguments.contains("file=\(F.log),level=20"))
    }

    @Test("state encryption: swtpm gets --key and --migration-key on descriptors, swtpm_setup --pwdfile-fd, libvirt's order")
    func encryption() throws {
        var input = F.input(.coldBoot, shared: false, initialized: false, caps: try F.real071(), banks: ["sha256"])
        input.emulator.encryptionSecret = "0a3c1f5e-5a0e-4ae0-9c6f-0a1b2c3d4e5f"
        let plan = try SwtpmPlan.make(input)
        #expect(plan.encrypted)
        #expect(Array(plan.swtpmArguments.suffix(5)) == ["--tpm2", "--key", "pwdfd=3,mode=aes-256-cbc",
                                                         "--migration-key", "pwdfd=4,mode=aes-256-cbc"])
        #expect(plan.setupArguments == ["--tpm2", "--pwdfile-fd", "3", "--cipher", "aes-256-cbc", "--tpm-state", F.state,
                                        "--vmid", "vm1:\(F.uuid)", "--logfile", F.log, "--createek", "--create-ek-cert",
                                        "--create-platform-cert", "--lock-nvram", "--not-overwrite"])
        #expect(plan.reconfigureArguments == ["--tpm2", "--pwdfile-fd", "3", "--cipher", "aes-256-cbc", "--tpm-state",
                                              F.state, "--logfile", F.log, "--pcr-banks", "sha256", "--reconfigure"])
        // Shared storage with a capable swtpm: --migration after the keys.
        var shared = F.input(.coldBoot, shared: true, initialized: true, caps: try F.withMigration())
        shared.emulator.encryptionSecret = input.emulator.encryptionSecret
        #expect(Array(try SwtpmPlan.make(shared).swtpmArguments.suffix(6))
                    == ["--key", "pwdfd=3,mode=aes-256-cbc", "--migration-key", "pwdfd=4,mode=aes-256-cbc", "--migration",
                        "release-lock-outgoing"])
        // Without encryption no key and no descriptors.
        #expect(!(try SwtpmPlan.make(F.input(.coldBoot, shared: false, initialized: true, caps: try F.real071()))).encrypted)
    }

    @Test("state encryption needs descriptor passing: swtpm's and swtpm_setup's refusals in libvirt's words")
    func encryptionRefusals() throws {
        let noFD = try SwtpmCapabilities(swtpmJSON: #"{ "type": "swtpm", "features": [ "tpm-2.0" ] }"#,
                                         setupJSON: SwtpmFixtures.setup071JSON)
        var input = F.input(.coldBoot, shared: false, initialized: true, caps: noFD)
        input.emulator.encryptionSecret = "0a3c1f5e-5a0e-4ae0-9c6f-0a1b2c3d4e5f"
        #expect(throws: VirtError(.argumentUnsupported, domain: .none,
                                  "argument unsupported: /usr/bin/swtpm does not support passing passphrase via file descriptor")) {
            try SwtpmPlan.make(input)
        }
        let setupNoFD = try SwtpmCapabilities(swtpmJSON: SwtpmFixtures.swtpm071JSON,
                                              setupJSON: #"{ "type": "swtpm_setup", "features": [ "tpm-2.0" ] }"#)
        var fresh = F.input(.coldBoot, shared: false, initialized: false, caps: setupNoFD)
        fresh.emulator.encryptionSecret = input.emulator.encryptionSecret
        #expect(throws: VirtError(.argumentUnsupported, domain: .none,
                                  "argument unsupported: /usr/bin/swtpm_setup does not support passing a passphrase using a file descriptor")) {
            try SwtpmPlan.make(fresh)
        }
        // Existing state: swtpm_setup does not run, so its capability does not matter.
        var existing = fresh
        existing.stateInitialized = true
        #expect(try SwtpmPlan.make(existing).encrypted)
    }

    @Test("libvirt's default TPM version: 1.2 for tpm-tis on x86, else 2.0")
    func defaultVersion() {
        let e = TPMEmulator()
        #expect(SwtpmPlan.effectiveVersion(of: e, model: .tis, arch: "x86_64") == .v1_2)
        #expect(SwtpmPlan.effectiveVersion(of: e, model: nil, arch: "x86_64") == .v1_2)
        #expect(SwtpmPlan.effectiveVersion(of: e, model: .crb, arch: "x86_64") == .v2_0)
        #expect(SwtpmPlan.effectiveVersion(of: e, model: .tis, arch: "aarch64") == .v2_0)
        var v = TPMEmulator()
        v.version = .v2_0
        #expect(SwtpmPlan.effectiveVersion(of: v, model: .tis, arch: "x86_64") == .v2_0)
    }

    /// libvirt's stop-kind table for swtpm (qemuExtTPMStop).
    @Test("stop table: the state label is restored except after a successful outgoing migration with shared state")
    func stopTable() {
        let cases: [(QEMUStopKind, Bool, Bool)] = [
            (.destroyed, false, true), (.destroyed, true, true),
            (.shutdown, false, true), (.shutdown, true, true),
            (.crashed, false, true), (.crashed, true, true),
            (.saved, false, true), (.saved, true, true),
            (.migratedOut(success: true), true, false),
            (.migratedOut(success: true), false, true),
            (.migratedOut(success: false), true, true),
            (.migratedOut(success: false), false, true),
        ]
        for (kind, shared, restores) in cases {
            #expect(SwtpmPlan.restoresStateLabel(on: kind, stateShared: shared) == restores, "\(kind) shared=\(shared)")
        }
    }

    @Test("undefine: state removed unless keep-tpm or persistent_state='yes'; --tpm removes it anyway")
    func undefineRules() {
        #expect(SwtpmPlan.removesStateOnUndefine(persistentState: false, removeTPM: false, keepTPM: false))
        #expect(!SwtpmPlan.removesStateOnUndefine(persistentState: false, removeTPM: false, keepTPM: true))
        #expect(!SwtpmPlan.removesStateOnUndefine(persistentState: true, removeTPM: false, keepTPM: false))
        #expect(SwtpmPlan.removesStateOnUndefine(persistentState: true, removeTPM: true, keepTPM: false))
        #expect(!SwtpmPlan.removesStateOnUndefine(persistentState: false, removeTPM: false, keepTPM: false,
                                                  outgoingMigrationShared: true))
    }

    @Test("paths: libvirt's layout under the driver's root")
    func paths() {
        let p = QEMUDriverPaths(root: "/r")
        #expect(p.swtpmStatePath(uuid: "u", version: .v2_0) == "/r/lib/swtpm/u/tpm2")
        #expect(p.swtpmStatePath(uuid: "u", version: .v1_2) == "/r/lib/swtpm/u/tpm1.2")
        #expect(p.swtpmLogFile(name: "vm") == "/r/log/swtpm/vm-swtpm.log")
        #expect(p.swtpmSocket(id: 3, name: "a-very-long-domain-name-indeed") == "/r/run/qemu/swtpm/3-a-very-long-domain-n-swtpm.sock")
    }

    @Test("mountinfo parsing decodes escapes and finds the type after the separator")
    func mountInfo() {
        let text = """
            22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
            108 22 0:46 / /mnt/with\\040space rw,nosuid - fuse.glusterfs /srv/src rw,user_id=0
            109 22 0:47 / /mnt/q rw - fuse.quobyte q@x:/v rw
            """
        let m = MountInfo.parse(text)
        #expect(m.count == 3)
        #expect(m[1].mountPoint == "/mnt/with space")
        #expect(m[1].fsType == "fuse.glusterfs")
        #expect(SharedFilesystem.fuseKind(canonicalPath: "/mnt/with space/a/b", mounts: m) == .glusterfs)
        #expect(SharedFilesystem.fuseKind(canonicalPath: "/mnt/q", mounts: m) == .quobyte)
        #expect(SharedFilesystem.fuseKind(canonicalPath: "/mnt/qq", mounts: m) == nil)
        #expect(SharedFilesystem.isUnder("/a/b", "/a"))
        #expect(!SharedFilesystem.isUnder("/ab", "/a"))
        #expect(SharedFilesystem.isUnder("/a", "/a/"))
    }
}
