import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// One probe of a QEMU binary through QMP, as libvirt's capabilities probe does: QEMU started with
/// `-machine none` under KVM (when usable) and again under TCG, asked for its version, machines, CPU models
/// and their expansions, devices, commands, QMP schema, TPM and confidential-computing support.
struct QEMUCapabilitiesProbe {
    var binary: String
    var mtime: String
    var runDir: String

    /// A running probe QEMU.
    private struct Session {
        var process: QEMUProcess
        var monitor: QMPMonitor
        var socket: String
        var log: String
    }

    private func start(accel: String) async throws(VirtError) -> Session {
        try LinuxSys.mkdirs(runDir)
        let tag = "probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let sock = runDir + "/\(tag).sock"
        let log = runDir + "/\(tag).log"
        var args = ["-machine", "none", "-accel", accel, "-nodefaults", "-no-user-config", "-display", "none", "-S"]
        args += QEMULauncher.monitorArguments()
        do {
            // The probe's QEMU dies with its prober (a killed client with an embedded driver, a killed daemon).
            var spec = ProcessLaunchSpec(binary: binary, arguments: args, logPath: log)
            spec.killedWithParent = true
            let (process, monitor) = try await QEMULauncher.start(spec, monitorPath: sock)
            return Session(process: process, monitor: monitor, socket: sock, log: log)
        } catch {
            unlink(sock)
            unlink(log)
            throw error
        }
    }

    private func stop(_ s: Session) async {
        _ = try? await s.monitor.execute("quit")
        kill(s.process.pid, SIGKILL)
        await s.process.exitWaiter.wait()
        unlink(s.socket)
        unlink(s.log)
    }

    func run() async throws(VirtError) -> QEMUCapabilities {
        var kvmSession: Session?
        if access("/dev/kvm", R_OK | W_OK) == 0 {
            // A start can fail on a loaded host (no greeting in time): try again before settling for TCG.
            for _ in 0..<3 where kvmSession == nil {
                kvmSession = try? await start(accel: "kvm")
            }
        }
        var caps: QEMUCapabilities
        if let s = kvmSession {
            do {
                caps = try await probeAll(s.monitor)
                let kvmOn = try await s.monitor.execute("query-kvm")["enabled"]?.boolValue == true
                caps.kvmAvailable = kvmOn
                if kvmOn { caps.kvm = try await acceleratorInfo(s.monitor, hostModel: "host", caps: caps) }
                // The models' features; their vendors only under TCG, when it loads (see below).
                await fillModelDetails(s.monitor, &caps, vendors: false)
            } catch {
                await stop(s)
                throw error
            }
            await stop(s)
            // A binary that cannot load its TCG module (e.g. a copy outside its install tree) still serves KVM.
            // A start can also fail on a loaded host (no greeting in time), and what the probe finds is cached:
            // try again, as for KVM, before leaving TCG out.
            var tcgSession: Session?
            for _ in 0..<3 where tcgSession == nil {
                tcgSession = try? await start(accel: "tcg")
            }
            if let t = tcgSession {
                caps.tcg = try? await acceleratorInfo(t.monitor, hostModel: "max", caps: caps)
                await fillModelDetails(t.monitor, &caps)
                await stop(t)
            } else {
                // Under KVM every model reports the host's vendor: name it from the brand string instead.
                for i in caps.cpuModels.indices where !caps.cpuModels[i].features.isEmpty {
                    caps.cpuModels[i].vendor = CPUModelDecoder.vendor(ofBrand: caps.cpuModels[i].modelID)
                }
            }
        } else {
            let t = try await start(accel: "tcg")
            do {
                caps = try await probeAll(t.monitor)
                caps.kvmAvailable = false
                caps.tcg = try await acceleratorInfo(t.monitor, hostModel: "max", caps: caps)
                await fillModelDetails(t.monitor, &caps)
            } catch {
                await stop(t)
                throw error
            }
            await stop(t)
        }
        return caps
    }

    /// Everything that does not depend on the accelerator.
    private func probeAll(_ m: QMPMonitor) async throws(VirtError) -> QEMUCapabilities {
        let version = try await m.execute("query-version")
        let machines = try await m.execute("query-machines")
        let cpus = try await m.execute("query-cpu-definitions")
        let types = try await m.execute("qom-list-types", arguments: ["implements": "device", "abstract": false])
        let commands = try await m.execute("query-commands")
        let target = try? await m.execute("query-target")
        let schema = QMPSchema(try await m.execute("query-qmp-schema"))
        let commandNames = (commands.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.sorted()

        var models: [QEMUCapabilities.CPUModel] = []
        for c in cpus.arrayValue ?? [] {
            guard let name = c["name"]?.stringValue else { continue }
            var model = QEMUCapabilities.CPUModel(
                name: name, typename: c["typename"]?.stringValue,
                unavailableFeatures: (c["unavailable-features"]?.arrayValue ?? []).compactMap(\.stringValue),
                deprecated: c["deprecated"]?.boolValue == true)
            model.aliasOf = c["alias-of"]?.stringValue
            models.append(model)
        }

        var tpmModels: [String] = []
        var tpmTypes: [String] = []
        if commandNames.contains("query-tpm-models") {
            tpmModels = ((try? await m.execute("query-tpm-models"))?.arrayValue ?? []).compactMap(\.stringValue)
            tpmTypes = ((try? await m.execute("query-tpm-types"))?.arrayValue ?? []).compactMap(\.stringValue)
        }
        var sev = false
        var sgx = false
        if commandNames.contains("query-sev-capabilities") {
            sev = (try? await m.execute("query-sev-capabilities")) != nil
        }
        if commandNames.contains("query-sgx-capabilities") {
            sgx = (try? await m.execute("query-sgx-capabilities")) != nil
        }

        let q = version["qemu"]
        var caps = QEMUCapabilities(
            formatVersion: QEMUCapabilities.formatVersion,
            binaryPath: binary,
            binaryMTime: mtime,
            version: QEMUVersion(major: Int(q?["major"]?.intValue ?? 0), minor: Int(q?["minor"]?.intValue ?? 0),
                                 micro: Int(q?["micro"]?.intValue ?? 0)),
            package: version["package"]?.stringValue ?? "",
            arch: target?["arch"]?.stringValue ?? "x86_64",
            kvmAvailable: false,
            // QEMU's order is kept: libvirt lists machines in it.
            machines: (machines.arrayValue ?? []).compactMap { m in
                guard let name = m["name"]?.stringValue else { return nil }
                return .init(name: name, alias: m["alias"]?.stringValue, isDefault: m["is-default"]?.boolValue == true,
                             maxCPUs: Int(m["cpu-max"]?.intValue ?? 1), deprecated: m["deprecated"]?.boolValue == true)
            },
            cpuModels: models,
            deviceTypes: (types.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.sorted(),
            commands: commandNames)
        caps.tpmModels = tpmModels
        caps.tpmTypes = tpmTypes
        caps.sevSupported = sev
        caps.sgxSupported = sgx
        caps.schemaFacts = QMPSchema.probedQueries.filter { schema.query($0) }
        return caps
    }

    /// Each named model's vendor and features (static expansion). Asked under TCG: under KVM QEMU gives every
    /// model the host's vendor.
    private func fillModelDetails(_ m: QMPMonitor, _ caps: inout QEMUCapabilities, vendors: Bool = true) async {
        for i in caps.cpuModels.indices {
            let name = caps.cpuModels[i].name
            guard !["host", "max", "base"].contains(name),
                  let exp = try? await m.execute("query-cpu-model-expansion",
                                                 arguments: ["type": "static", "model": ["name": .string(name)]]),
                  let props = exp["model"]?["props"]?.objectValue else { continue }
            if vendors { caps.cpuModels[i].vendor = props["vendor"]?.stringValue }
            caps.cpuModels[i].modelID = props["model-id"]?.stringValue
            caps.cpuModels[i].features = props.filter { $0.value.boolValue == true }.map(\.key).sorted()
        }
    }

    /// CPU model usability and the host/max CPU under the accelerator `m` runs with.
    private func acceleratorInfo(_ m: QMPMonitor, hostModel: String, caps: QEMUCapabilities)
        async throws(VirtError) -> QEMUCapabilities.AcceleratorInfo {
        let cpus = try await m.execute("query-cpu-definitions")
        var unavailable: [String: [String]] = [:]
        for c in cpus.arrayValue ?? [] {
            guard let name = c["name"]?.stringValue else { continue }
            unavailable[name] = (c["unavailable-features"]?.arrayValue ?? []).compactMap(\.stringValue)
        }
        var host: QEMUCapabilities.HostCPUModel?
        let model: JSONValue = ["name": .string(hostModel)]
        let unmigratable: JSONValue = ["name": .string(hostModel), "props": ["migratable": false]]
        if let stat = try? await m.execute("query-cpu-model-expansion", arguments: ["type": "static", "model": model]),
           let full = try? await m.execute("query-cpu-model-expansion",
                                           arguments: ["type": "full", "model": unmigratable]),
           let sp = stat["model"]?["props"]?.objectValue, let fp = full["model"]?["props"]?.objectValue {
            // The static expansion names every feature once (QEMU's canonical names); the full one says which
            // are on, including those static leaves out (migratable=off ones such as invtsc).
            let names = sp.keys.filter { sp[$0]?.boolValue != nil }.sorted()
            host = .init(name: hostModel, vendor: fp["vendor"]?.stringValue ?? "",
                         family: Int(fp["family"]?.intValue ?? 0), model: Int(fp["model"]?.intValue ?? 0),
                         stepping: Int(fp["stepping"]?.intValue ?? 0),
                         features: names.filter { fp[$0]?.boolValue == true || sp[$0]?.boolValue == true },
                         featureNames: names,
                         valueProperties: fp.keys.filter { fp[$0]?.boolValue == nil }.sorted())
        }
        return .init(unavailableFeatures: unavailable, hostCPU: host)
    }
}
