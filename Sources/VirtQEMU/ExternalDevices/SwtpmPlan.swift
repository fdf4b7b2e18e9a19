import VirtCore

/// What starting and stopping one swtpm involves for a given start kind and state storage: libvirt 9.6's rules
/// (`qemuTPMEmulatorBuildCommand`, `qemuTPMEmulatorStart`, `qemuExtTPMStop`), as a pure function so every
/// case can be tested without running anything.
///
/// | start kind | state dir created | swtpm_setup (fresh state) | `--reconfigure` | state labelled | `--migration` (shared, capable) |
/// |---|---|---|---|---|---|
/// | cold boot / restore | yes | manufacture | when PCR banks are set | yes | `release-lock-outgoing` |
/// | incoming migration, local | yes | `--overwrite` only | no | yes | n/a |
/// | incoming migration, shared | no | no | no | no | `release-lock-outgoing,incoming` (required) |
public struct SwtpmPlan: Sendable, Hashable {
    /// Everything the plan depends on.
    public struct Input: Sendable, Hashable {
        /// The domain's name (in swtpm_setup's `--vmid NAME:UUID`).
        public var vmName: String
        /// The domain's UUID.
        public var vmUUID: VirtUUID
        /// The TPM version swtpm emulates (see ``SwtpmPlan/effectiveVersion(of:model:arch:)``).
        public var version: TPMVersion
        /// The configured emulator (PCR banks, encryption, debug level).
        public var emulator: TPMEmulator
        /// How QEMU is about to start.
        public var kind: QEMUStartKind
        /// The state directory exists and holds files (libvirt treats an empty one as fresh).
        public var stateInitialized: Bool
        /// The state directory is on shared storage (``SharedFilesystem/isShared(path:configured:)``).
        public var stateShared: Bool
        /// What the installed swtpm and swtpm_setup support.
        public var capabilities: SwtpmCapabilities
        /// The state directory (`--tpm-state`, `--tpmstate dir=`).
        public var statePath: String
        /// The swtpm log (`--logfile`, `--log file=`).
        public var logPath: String
        /// The control socket (`--ctrl type=unixio,path=`).
        public var socketPath: String
        /// The swtpm binary, named in errors as libvirt names it.
        public var swtpmBinary: String
        /// The swtpm_setup binary, named in errors.
        public var swtpmSetupBinary: String
        /// The daemon runs as root (libvirt's `privileged`).
        public var privileged: Bool

        /// All inputs; `swtpmBinary` only names the binary in errors.
        public init(vmName: String, vmUUID: VirtUUID, version: TPMVersion, emulator: TPMEmulator,
                    kind: QEMUStartKind, stateInitialized: Bool, stateShared: Bool, capabilities: SwtpmCapabilities,
                    statePath: String, logPath: String, socketPath: String, swtpmBinary: String = "/usr/bin/swtpm",
                    swtpmSetupBinary: String = "/usr/bin/swtpm_setup", privileged: Bool = true) {
            self.swtpmSetupBinary = swtpmSetupBinary
            self.vmName = vmName
            self.vmUUID = vmUUID
            self.version = version
            self.emulator = emulator
            self.kind = kind
            self.stateInitialized = stateInitialized
            self.stateShared = stateShared
            self.capabilities = capabilities
            self.statePath = statePath
            self.logPath = logPath
            self.socketPath = socketPath
            self.swtpmBinary = swtpmBinary
            self.privileged = privileged
        }
    }

    /// Create the state directory if missing (mode 0700, swtpm_user:swtpm_group) and chown its files.
    public var createStateDir: Bool
    /// The state counts as fresh: it is created (or was empty) now. swtpm's state is removed again when the
    /// start fails after this point, as libvirt does.
    public var stateIsFresh: Bool
    /// `swtpm_setup --create-config-files skip-if-exist`, run first (unprivileged daemons only).
    public var configFilesArguments: [String]?
    /// swtpm_setup's arguments when it runs on fresh state (nil: it does not run).
    public var setupArguments: [String]?
    /// When swtpm_setup does not run on fresh state, the note written to the swtpm log instead.
    public var setupSkippedNote: String?
    /// `swtpm_setup … --pcr-banks LIST --reconfigure` (nil: not run).
    public var reconfigureArguments: [String]?
    /// swtpm's arguments (without the binary).
    public var swtpmArguments: [String]
    /// swtpm was given `--migration` (libvirt's `can_migrate_shared_storage`, kept in the status file).
    public var canMigrateSharedStorage: Bool
    /// Label the state for the VM at start (the log is always labelled).
    public var labelStateAtStart: Bool

    /// The descriptor swtpm (`--key pwdfd=`) and swtpm_setup (`--pwdfile-fd`) read the state passphrase from.
    public static let encryptionFD: Int32 = 3
    /// The descriptor swtpm reads the migration passphrase from (`--migration-key pwdfd=`): the same secret.
    public static let migrationEncryptionFD: Int32 = 4
    /// The plan encrypts the state: swtpm and swtpm_setup need the passphrase on their descriptors.
    public var encrypted: Bool { swtpmArguments.contains("--key") }

    /// libvirt's `--tpm-state` fresh-manufacture arguments, in libvirt's order.
    public static func manufactureArguments(version: TPMVersion, statePath: String, vmid: String,
                                            logPath: String) -> [String] {
        (version == .v2_0 ? ["--tpm2"] : [])
            + ["--tpm-state", statePath, "--vmid", vmid, "--logfile", logPath, "--createek", "--create-ek-cert",
               "--create-platform-cert", "--lock-nvram", "--not-overwrite"]
    }

    /// The TPM version libvirt 9.6 chooses when `<backend version>` is absent: 1.2 for tpm-tis on x86, else 2.0.
    public static func effectiveVersion(of emulator: TPMEmulator, model: TPMModel?, arch: String?) -> TPMVersion {
        if let v = emulator.version { return v }
        let x86 = arch == nil || arch == "x86_64" || arch == "i686"
        return ((model ?? .tis) == .tis && x86) ? .v1_2 : .v2_0
    }

    /// Builds the plan, or refuses: an incoming migration with the state on shared storage needs a swtpm that
    /// has `--migration`, and state encryption a swtpm (and swtpm_setup) taking the passphrase on a
    /// descriptor (libvirt's words).
    public static func make(_ input: Input) throws(VirtError) -> SwtpmPlan {
        let incoming: Bool
        if case .incomingMigration = input.kind { incoming = true } else { incoming = false }
        let caps = input.capabilities
        // State encryption (`<encryption secret='UUID'/>`): the passphrase reaches swtpm and swtpm_setup through
        // descriptors (``encryptionFD`` and ``migrationEncryptionFD`` in their children), as libvirt passes it.
        let encrypted = input.emulator.encryptionSecret != nil
        if encrypted && !caps.swtpmHasPasswordFD {
            throw VirtError(.argumentUnsupported, domain: .none,
                            "argument unsupported: \(input.swtpmBinary) does not support passing passphrase via file descriptor")
        }
        let setupEncryption = encrypted ? ["--pwdfile-fd", "\(Self.encryptionFD)", "--cipher", "aes-256-cbc"] : []
        // No storage and no swtpm_setup on incoming migration over shared storage: the source's state is used.
        let createState = !(incoming && input.stateShared)
        let fresh = createState && !input.stateInitialized

        var configFiles: [String]?
        var setup: [String]?
        var skipped: String?
        if fresh {
            if !input.privileged && input.version == .v1_2 && !caps.setupTPM12NotNeedRoot {
                skipped = "Did not create EK and certificates since this requires privileged mode for a TPM 1.2\n"
            } else {
                if !input.privileged && caps.setupCanCreateConfigFiles {
                    configFiles = ["--create-config-files", "skip-if-exist"]
                }
                let v2 = input.version == .v2_0 ? ["--tpm2"] : []
                if incoming {
                    setup = v2 + setupEncryption + ["--tpm-state", input.statePath, "--logfile", input.logPath, "--overwrite"]
                } else {
                    let manufacture = manufactureArguments(version: input.version, statePath: input.statePath,
                                                           vmid: "\(input.vmName):\(input.vmUUID)", logPath: input.logPath)
                    setup = v2 + setupEncryption + manufacture.drop(while: { $0 == "--tpm2" })
                }
            }
        }

        var reconfigure: [String]?
        if !incoming, input.version == .v2_0, let banks = input.emulator.activePCRBanks, !banks.isEmpty,
           caps.setupCanReconfigurePCRBanks {
            reconfigure = ["--tpm2"] + setupEncryption + ["--tpm-state", input.statePath, "--logfile", input.logPath,
                                                          "--pcr-banks", banks.joined(separator: ","), "--reconfigure"]
        }
        if encrypted && (setup != nil || reconfigure != nil) && !caps.setupHasPasswordFileFD {
            throw VirtError(.argumentUnsupported, domain: .none,
                            "argument unsupported: \(input.swtpmSetupBinary) does not support passing a passphrase using a file descriptor")
        }

        var args = ["socket", "--ctrl", "type=unixio,path=\(input.socketPath),mode=0600",
                    "--tpmstate", "dir=\(input.statePath),mode=0600"]
        if let level = input.emulator.debug, level != 0 {
            args += ["--log", "file=\(input.logPath),level=\(level)"]
        } else {
            args += ["--log", "file=\(input.logPath)"]
        }
        args.append("--terminate")
        if input.version == .v2_0 { args.append("--tpm2") }
        if encrypted {
            args += ["--key", "pwdfd=\(Self.encryptionFD),mode=aes-256-cbc",
                     "--migration-key", "pwdfd=\(Self.migrationEncryptionFD),mode=aes-256-cbc"]
        }
        var canMigrate = false
        if input.stateShared && caps.canMigrateSharedStorage {
            args += ["--migration", "release-lock-outgoing" + (incoming ? ",incoming" : "")]
            canMigrate = true
        } else if incoming && input.stateShared {
            throw refusalForSharedIncoming(swtpmBinary: input.swtpmBinary)
        }

        return SwtpmPlan(createStateDir: createState, stateIsFresh: fresh, configFilesArguments: configFiles,
                         setupArguments: setup, setupSkippedNote: skipped, reconfigureArguments: reconfigure,
                         swtpmArguments: args, canMigrateSharedStorage: canMigrate,
                         labelStateAtStart: !(incoming && input.stateShared))
    }

    /// libvirt's refusal of an incoming migration with shared TPM state when swtpm lacks `--migration`.
    public static func refusalForSharedIncoming(swtpmBinary: String) -> VirtError {
        let detail = "\(swtpmBinary) (on destination side) does not support the --migration option needed for migration with shared storage"
        return VirtError(.argumentUnsupported, domain: .none, "argument unsupported: \(detail)", str1: detail)
    }

    /// libvirt's refusal (`qemuMigrationSrcIsAllowed`, called by outgoing migration and by save / managed save
    /// alike) of moving a domain's memory away while its TPM state is on shared storage and the running swtpm
    /// was not started with `--migration`.
    public static func refusalForSharedOutgoing() -> VirtError {
        VirtError.noSupport("the running swtpm does not support migration with shared storage", domain: .qemu)
    }

    /// Whether stopping restores the state's label: always, except after a successful outgoing migration with
    /// the state on shared storage (the destination's swtpm uses it now). The log's label is always restored.
    public static func restoresStateLabel(on stop: QEMUStopKind, stateShared: Bool) -> Bool {
        !(stop == .migratedOut(success: true) && stateShared)
    }

    /// Whether the persistent state is to be removed when the domain is undefined (or a transient domain goes
    /// away): with `persistent_state='yes'` only when `--tpm` (VIR_DOMAIN_UNDEFINE_TPM) asks; otherwise unless
    /// `--keep-tpm` (VIR_DOMAIN_UNDEFINE_KEEP_TPM) asks to keep it. Never after an outgoing migration with the
    /// state on shared storage.
    public static func removesStateOnUndefine(persistentState: Bool, removeTPM: Bool, keepTPM: Bool,
                                              outgoingMigrationShared: Bool = false) -> Bool {
        if outgoingMigrationShared { return false }
        return persistentState ? removeTPM : !keepTPM
    }
}
