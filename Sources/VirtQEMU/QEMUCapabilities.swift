import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// What one QEMU binary offers, probed once through QMP and cached on disk keyed by the binary's path and
/// modification time.
public struct QEMUCapabilities: Sendable, Hashable, Codable {
    /// A machine type (`query-machines`).
    public struct Machine: Sendable, Hashable, Codable {
        public var name: String
        public var alias: String?
        public var isDefault: Bool
        public var maxCPUs: Int
        public var deprecated: Bool
    }

    /// A CPU model (`query-cpu-definitions`).
    public struct CPUModel: Sendable, Hashable, Codable {
        public var name: String
        public var typename: String?
        /// Features the host lacks for this model under the probed accelerator.
        public var unavailableFeatures: [String]
        public var deprecated: Bool
        /// The versioned model this name stands for (`EPYC` → `EPYC-v1`); nil for versioned names themselves.
        public var aliasOf: String? = nil
        /// The CPUID vendor string of the model (`AuthenticAMD`), from its static expansion.
        public var vendor: String? = nil
        /// The CPU features the model enables (`query-cpu-model-expansion` type static), QEMU's names.
        public var features: [String] = []
        /// The model's brand string (`model-id` property), e.g. "AMD EPYC Processor".
        public var modelID: String? = nil
    }

    /// The CPU QEMU offers a guest under one accelerator: `host` under KVM, `max` under TCG.
    public struct HostCPUModel: Sendable, Hashable, Codable {
        public var name: String
        public var vendor: String
        public var family: Int
        public var model: Int
        public var stepping: Int
        /// Enabled features (QEMU's canonical names), sorted.
        public var features: [String]
        /// Every CPU feature name the binary knows (QEMU's canonical names), sorted.
        public var featureNames: [String] = []
        /// The CPU's properties that take a value rather than on/off (`hv-spinlocks`, `hv-vendor-id`, …), sorted.
        public var valueProperties: [String] = []
    }

    /// What the binary reports under one accelerator (libvirt probes KVM and TCG separately).
    public struct AcceleratorInfo: Sendable, Hashable, Codable {
        /// CPU model name → the features the model lacks under this accelerator (`unavailable-features`).
        public var unavailableFeatures: [String: [String]]
        public var hostCPU: HostCPUModel?
    }

    /// Bumped when the probe or this format changes, so old cache files are ignored.
    public static let formatVersion = 5

    public var formatVersion: Int
    public var binaryPath: String
    /// The binary's mtime (seconds.nanoseconds) when probed.
    public var binaryMTime: String
    /// What of the host the probe depends on (``QEMUCapabilitiesCache/hostFingerprint()``): /dev/kvm usable,
    /// kernel release, CPU microcode. A change makes the cache entry stale, as in libvirt.
    public var hostFingerprint: String = ""
    public var version: QEMUVersion
    public var package: String
    /// The architecture the binary emulates (e.g. x86_64).
    public var arch: String
    /// Whether KVM works with this binary (`query-kvm` enabled when started with -accel kvm).
    public var kvmAvailable: Bool
    public var machines: [Machine]
    public var cpuModels: [CPUModel]
    /// Non-abstract device type names (`qom-list-types implements=device`).
    public var deviceTypes: [String]
    /// The names of the QMP commands the binary has (`query-commands`).
    public var commands: [String]
    /// The probe under KVM (nil when KVM is not usable) and under TCG.
    public var kvm: AcceleratorInfo? = nil
    public var tcg: AcceleratorInfo? = nil
    /// `query-tpm-models` and `query-tpm-types`.
    public var tpmModels: [String] = []
    public var tpmTypes: [String] = []
    /// Whether `query-sev-capabilities` / `query-sgx-capabilities` answered (the host has SEV / SGX for KVM).
    public var sevSupported: Bool = false
    public var sgxSupported: Bool = false
    /// The QMP schema queries (``QMPSchema/query(_:)`` syntax) from ``QMPSchema/probedQueries`` that hold.
    public var schemaFacts: [String] = []

    /// Whether the probed QMP schema satisfies `query` (one of ``QMPSchema/probedQueries``).
    public func schemaHas(_ query: String) -> Bool { schemaFacts.contains(query) }
    public func hasCommand(_ name: String) -> Bool { commands.contains(name) }
    /// The probe of one accelerator: `kvm` or `qemu` (TCG).
    public func accelerator(_ virtType: String) -> AcceleratorInfo? { virtType == "kvm" ? kvm : tcg }

    /// The default machine type, and the canonical name of an alias (`q35` → `pc-q35-7.2`).
    public var defaultMachine: String? { machines.first(where: \.isDefault)?.name }

    /// Resolves a machine alias (`pc`, `q35`) to the versioned machine type libvirt would record.
    public func canonicalMachine(_ name: String) -> String? {
        if let m = machines.first(where: { $0.alias == name }) { return m.name }
        return machines.contains(where: { $0.name == name }) ? name : nil
    }

    public func hasDevice(_ type: String) -> Bool { deviceTypes.contains(type) }
}

/// A QEMU version, e.g. 7.2.22.
public struct QEMUVersion: Sendable, Hashable, Codable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var micro: Int
    public init(major: Int, minor: Int, micro: Int) {
        self.major = major
        self.minor = minor
        self.micro = micro
    }

    /// libvirt's number: major*1,000,000 + minor*1,000 + micro.
    public var number: UInt64 { UInt64(major) * 1_000_000 + UInt64(minor) * 1_000 + UInt64(micro) }
    public var description: String { "\(major).\(minor).\(micro)" }
}

/// Probes QEMU binaries and caches their capabilities (in memory and as JSON files in a cache directory).
public actor QEMUCapabilitiesCache {
    private let cacheDir: String
    private let runDir: String
    private var memory: [String: QEMUCapabilities] = [:]
    /// How many real probes ran (for tests).
    public private(set) var probeCount = 0

    /// `cacheDir` holds the JSON files; `runDir` the probe's temporary monitor socket and log.
    public init(cacheDir: String, runDir: String) {
        self.cacheDir = cacheDir
        self.runDir = runDir
    }

    /// The capabilities of `binary`: from memory, from the cache file when the binary's mtime still matches,
    /// or probed.
    public func capabilities(for binary: String) async throws(VirtError) -> QEMUCapabilities {
        let mtime = try Self.mtime(of: binary)
        let host = Self.hostFingerprint()
        if let c = memory[binary], c.binaryMTime == mtime, c.hostFingerprint == host { return c }
        let file = cacheDir + "/" + binary.replacingOccurrences(of: "/", with: "_") + ".json"
        if let text = LinuxSys.readFile(file),
           let c = try? JSONDecoder().decode(QEMUCapabilities.self, from: Data(text.utf8)),
           c.formatVersion == QEMUCapabilities.formatVersion, c.binaryPath == binary, c.binaryMTime == mtime,
           c.hostFingerprint == host {
            memory[binary] = c
            return c
        }
        var c = try await probe(binary: binary, mtime: mtime)
        c.hostFingerprint = host
        probeCount += 1
        // /dev/kvm is usable but the probe could not run QEMU under KVM: a passing failure, not a fact
        // about the host to remember; the next call probes again.
        if access("/dev/kvm", R_OK | W_OK) == 0 && !c.kvmAvailable { return c }
        try LinuxSys.mkdirs(cacheDir)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        if let data = try? e.encode(c) {
            try LinuxSys.writeFileAtomically(file, String(decoding: data, as: UTF8.self), mode: 0o644)
        }
        memory[binary] = c
        return c
    }

    /// Whether /dev/kvm opens, the kernel release and the CPU microcode revision (the last two read once per
    /// process: they change only with a reboot).
    static func hostFingerprint() -> String {
        "kvm=\(access("/dev/kvm", R_OK | W_OK) == 0) \(staticHostFingerprint)"
    }

    private static let staticHostFingerprint: String = {
        var uts = utsname()
        uname(&uts)
        let release = withUnsafeBytes(of: uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        var microcode = ""
        for line in (LinuxSys.readFile("/proc/cpuinfo") ?? "").split(separator: "\n") where line.hasPrefix("microcode") {
            microcode = line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            break
        }
        return "kernel=\(release) microcode=\(microcode)"
    }()

    static func mtime(of path: String) throws(VirtError) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { throw VirtError.lastSystemError("Cannot check QEMU binary \(path)") }
        return "\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }

    /// A probe whose QEMU stops answering on a starved host (a command with no reply within the monitor's
    /// timeout) is run again with a fresh QEMU, up to three times in all; other errors are final.
    private func probe(binary: String, mtime: String) async throws(VirtError) -> QEMUCapabilities {
        var attempt = 1
        while true {
            do {
                return try await QEMUCapabilitiesProbe(binary: binary, mtime: mtime, runDir: runDir).run()
            } catch where error.code == .operationTimeout && attempt < 3 {
                attempt += 1
            }
        }
    }
}
