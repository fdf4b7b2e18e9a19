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
    }

    /// Bumped when the probe or this format changes, so old cache files are ignored.
    public static let formatVersion = 1

    public var formatVersion: Int
    public var binaryPath: String
    /// The binary's mtime (seconds.nanoseconds) when probed.
    public var binaryMTime: String
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
        if let c = memory[binary], c.binaryMTime == mtime { return c }
        let file = cacheDir + "/" + binary.replacingOccurrences(of: "/", with: "_") + ".json"
        if let text = LinuxSys.readFile(file),
           let c = try? JSONDecoder().decode(QEMUCapabilities.self, from: Data(text.utf8)),
           c.formatVersion == QEMUCapabilities.formatVersion, c.binaryPath == binary, c.binaryMTime == mtime {
            memory[binary] = c
            return c
        }
        let c = try await probe(binary: binary, mtime: mtime)
        probeCount += 1
        try LinuxSys.mkdirs(cacheDir)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        if let data = try? e.encode(c) {
            try LinuxSys.writeFileAtomically(file, String(decoding: data, as: UTF8.self), mode: 0o644)
        }
        memory[binary] = c
        return c
    }

    static func mtime(of path: String) throws(VirtError) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { throw VirtError.lastSystemError("Cannot check QEMU binary \(path)") }
        return "\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }

    private func probe(binary: String, mtime: String) async throws(VirtError) -> QEMUCapabilities {
        try LinuxSys.mkdirs(runDir)
        let tag = "probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let sock = runDir + "/\(tag).sock"
        let log = runDir + "/\(tag).log"
        defer {
            unlink(sock)
            unlink(log)
        }
        let hasKVM = access("/dev/kvm", R_OK | W_OK) == 0
        var args = ["-machine", "none"]
        if hasKVM { args += ["-accel", "kvm"] }
        args += ["-accel", "tcg", "-nodefaults", "-no-user-config", "-display", "none", "-S"]
        args += QEMULauncher.monitorArguments()
        let (process, monitor) = try await QEMULauncher.start(
            ProcessLaunchSpec(binary: binary, arguments: args, logPath: log), monitorPath: sock)
        defer { kill(process.pid, SIGKILL) }

        let version = try await monitor.execute("query-version")
        let kvm = try await monitor.execute("query-kvm")
        let machines = try await monitor.execute("query-machines")
        let cpus = try await monitor.execute("query-cpu-definitions")
        let types = try await monitor.execute("qom-list-types", arguments: ["implements": "device", "abstract": false])
        let commands = try await monitor.execute("query-commands")
        let target = try? await monitor.execute("query-target")
        _ = try? await monitor.execute("quit")
        await process.exitWaiter.wait()

        let q = version["qemu"]
        return QEMUCapabilities(
            formatVersion: QEMUCapabilities.formatVersion,
            binaryPath: binary,
            binaryMTime: mtime,
            version: QEMUVersion(major: Int(q?["major"]?.intValue ?? 0), minor: Int(q?["minor"]?.intValue ?? 0),
                                 micro: Int(q?["micro"]?.intValue ?? 0)),
            package: version["package"]?.stringValue ?? "",
            arch: target?["arch"]?.stringValue ?? "x86_64",
            kvmAvailable: kvm["enabled"]?.boolValue == true,
            machines: (machines.arrayValue ?? []).compactMap { m in
                guard let name = m["name"]?.stringValue else { return nil }
                return .init(name: name, alias: m["alias"]?.stringValue, isDefault: m["is-default"]?.boolValue == true,
                             maxCPUs: Int(m["cpu-max"]?.intValue ?? 1), deprecated: m["deprecated"]?.boolValue == true)
            }.sorted { $0.name < $1.name },
            cpuModels: (cpus.arrayValue ?? []).compactMap { c in
                guard let name = c["name"]?.stringValue else { return nil }
                return .init(name: name, typename: c["typename"]?.stringValue,
                             unavailableFeatures: (c["unavailable-features"]?.arrayValue ?? []).compactMap(\.stringValue),
                             deprecated: c["deprecated"]?.boolValue == true)
            }.sorted { $0.name < $1.name },
            deviceTypes: (types.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.sorted(),
            commands: (commands.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.sorted())
    }
}
