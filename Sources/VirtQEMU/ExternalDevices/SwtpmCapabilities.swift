import Foundation
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// What the installed swtpm and swtpm_setup can do, from their `--print-capabilities` JSON
/// (`{ "type": "swtpm", "features": [ … ], "version": "0.7.1" }`), as libvirt's `virTPMSwtpmCapsGet` and
/// `virTPMSwtpmSetupCapsGet` read them.
public struct SwtpmCapabilities: Sendable, Hashable {
    /// `swtpm socket --print-capabilities` features, e.g. `cmdarg-migration`, `cmdarg-pwd-fd`.
    public var swtpmFeatures: Set<String>
    /// swtpm's version string, when it prints one.
    public var swtpmVersion: String?
    /// `swtpm_setup --print-capabilities` features, e.g. `cmdarg-reconfigure-pcr-banks`.
    public var setupFeatures: Set<String>
    /// swtpm_setup's version string, when it prints one.
    public var setupVersion: String?

    /// Capabilities given directly (tests, fixtures).
    public init(swtpmFeatures: Set<String>, swtpmVersion: String? = nil, setupFeatures: Set<String>,
                setupVersion: String? = nil) {
        self.swtpmFeatures = swtpmFeatures
        self.swtpmVersion = swtpmVersion
        self.setupFeatures = setupFeatures
        self.setupVersion = setupVersion
    }

    /// Parses the two `--print-capabilities` documents (the fixture init).
    public init(swtpmJSON: String, setupJSON: String) throws(VirtError) {
        let s = try Self.parse(swtpmJSON, program: "swtpm")
        let t = try Self.parse(setupJSON, program: "swtpm_setup")
        self.init(swtpmFeatures: s.features, swtpmVersion: s.version, setupFeatures: t.features,
                  setupVersion: t.version)
    }

    /// swtpm accepts `--migration release-lock-outgoing[,incoming]` (libvirt's `cmdarg-migration`).
    public var canMigrateSharedStorage: Bool { swtpmFeatures.contains("cmdarg-migration") }
    /// swtpm accepts `--key pwdfd=N` (state encryption).
    public var swtpmHasPasswordFD: Bool { swtpmFeatures.contains("cmdarg-pwd-fd") }
    /// swtpm_setup accepts `--reconfigure --pcr-banks`.
    public var setupCanReconfigurePCRBanks: Bool { setupFeatures.contains("cmdarg-reconfigure-pcr-banks") }
    /// swtpm_setup accepts `--create-config-files skip-if-exist`.
    public var setupCanCreateConfigFiles: Bool { setupFeatures.contains("cmdarg-create-config-files") }
    /// swtpm_setup can set up a TPM 1.2 without root.
    public var setupTPM12NotNeedRoot: Bool { setupFeatures.contains("tpm12-not-need-root") }
    /// swtpm_setup accepts `--pwdfile-fd`.
    public var setupHasPasswordFileFD: Bool { setupFeatures.contains("cmdarg-pwdfile-fd") }

    /// The features and version of one `--print-capabilities` document.
    static func parse(_ json: String, program: String) throws(VirtError) -> (features: Set<String>, version: String?) {
        let value: JSONValue
        do {
            value = try JSONValue.parse(json)
        } catch {
            throw VirtError.internalError("Could not parse the capabilities of \(program): \(error)", domain: .tpm)
        }
        guard let list = value["features"]?.arrayValue else {
            throw VirtError.internalError("The capabilities of \(program) have no 'features' list", domain: .tpm)
        }
        return (Set(list.compactMap(\.stringValue)), value["version"]?.stringValue)
    }

    /// Runs `swtpm socket --print-capabilities` and `swtpm_setup --print-capabilities`.
    public static func probe(swtpm: String, swtpmSetup: String) throws(VirtError) -> SwtpmCapabilities {
        let s = try run(swtpm, ["socket", "--print-capabilities"])
        let t = try run(swtpmSetup, ["--print-capabilities"])
        return try SwtpmCapabilities(swtpmJSON: s, setupJSON: t)
    }

    private struct CacheKey: Hashable {
        var swtpm: String
        var swtpmSetup: String
        var mtimes: [Int]
    }

    private static let cache = Mutex<[CacheKey: SwtpmCapabilities]>([:])

    /// ``probe(swtpm:swtpmSetup:)`` once per pair of binaries, probed again when either binary's modification
    /// time changes (an upgraded swtpm), as libvirt's `virTPMEmulatorInit` does.
    public static func cached(swtpm: String, swtpmSetup: String) throws(VirtError) -> SwtpmCapabilities {
        func mtime(_ p: String) -> Int {
            var st = stat()
            return stat(p, &st) == 0 ? Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec) : -1
        }
        let key = CacheKey(swtpm: swtpm, swtpmSetup: swtpmSetup, mtimes: [mtime(swtpm), mtime(swtpmSetup)])
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let caps = try probe(swtpm: swtpm, swtpmSetup: swtpmSetup)
        cache.withLock { c in
            c = c.filter { $0.key.swtpm != swtpm || $0.key.swtpmSetup != swtpmSetup }
            c[key] = caps
        }
        return caps
    }

    /// The standard output of a short command (the capability probes print a line of JSON). The child is
    /// registered with the orphan reaper while it runs: in a subreaper daemon the reaper would otherwise
    /// collect its exit status first (Foundation's `Process` then waits for an exit it never sees).
    static func run(_ binary: String, _ arguments: [String]) throws(VirtError) -> String {
        guard access(binary, X_OK) == 0 else {
            throw VirtError(.operationFailed, domain: .tpm, "Unable to find '\(binary)' binary")
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            throw VirtError.systemError("cannot create a pipe for '\(binary)'", errno: errno, domain: .tpm)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        posix_spawn_file_actions_addclose(&actions, pipeFDs[1])
        let argv = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        var rc: Int32 = 0
        _ = OrphanReaper.spawnManaged {
            rc = posix_spawn(&pid, binary, &actions, nil, argv, environ)
            return rc == 0 ? pid : -1
        }
        close(pipeFDs[1])
        guard rc == 0 else {
            close(pipeFDs[0])
            throw VirtError(.operationFailed, domain: .tpm,
                            "Could not run '\(binary)': \(String(cString: strerror(rc)))")
        }
        var output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
            if n > 0 {
                output.append(contentsOf: chunk[0..<n])
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        close(pipeFDs[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        OrphanReaper.release(pid)
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw VirtError(.operationFailed, domain: .tpm,
                            "'\(binary) \(arguments.joined(separator: " "))' failed with exit status \(exited ? code : 128 + (status & 0x7f))")
        }
        return String(decoding: output, as: UTF8.self)
    }
}
