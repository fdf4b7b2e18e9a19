import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// The capabilities and domain capabilities documents of the embedded QEMU driver, checked against the probe
/// and the host they come from; the QMP schema query and the CPU model decoder as units.
@Suite(.serialized, .tags(.qemu, .kvm)) struct CapabilitiesXMLTests {
    @Test func schemaQueries() throws {
        let schema = QMPSchema(try JSONValue.parse("""
            [{"name": "query-display-options", "meta-type": "command", "arg-type": "0", "ret-type": "10"},
             {"name": "0", "meta-type": "object", "members": []},
             {"name": "10", "meta-type": "object", "members": [{"name": "type", "type": "11"}],
              "variants": [{"case": "gtk", "type": "12"}]},
             {"name": "11", "meta-type": "enum", "values": ["none", "gtk", "dbus"]},
             {"name": "12", "meta-type": "object", "members": [{"name": "zoom-to-fit", "type": "bool"}]},
             {"name": "object-add", "meta-type": "command", "arg-type": "20", "ret-type": "0"},
             {"name": "20", "meta-type": "object", "members": [{"name": "list", "type": "[11]"}]},
             {"name": "[11]", "meta-type": "array", "element-type": "11"}]
            """))
        #expect(schema.query("query-display-options/ret-type/type/^dbus"))
        #expect(!schema.query("query-display-options/ret-type/type/^sdl"))
        #expect(schema.query("query-display-options/ret-type/+zoom-to-fit"))
        #expect(!schema.query("query-display-options/ret-type/+nothing"))
        #expect(schema.query("object-add/arg-type/list/^gtk"))
        #expect(!schema.query("no-such-command"))
        #expect(!schema.query("query-display-options/arg-type/type"))
    }

    @Test func decoderPicksTheClosestModel() {
        func model(_ name: String, _ features: [String], aliasOf: String? = nil) -> QEMUCapabilities.CPUModel {
            var m = QEMUCapabilities.CPUModel(name: name, typename: nil, unavailableFeatures: [], deprecated: false)
            m.vendor = "GenuineIntel"
            m.features = features
            m.aliasOf = aliasOf
            return m
        }
        let models = [model("small", ["a"]), model("big", ["a", "b", "c", "x"]), model("mid", ["a", "b"]),
                      model("mid-v1", ["a", "b", "c"]), model("alias", ["a", "b", "c"], aliasOf: "mid-v2"),
                      model("mid-v2", ["a", "b", "c"]), model("host", ["a", "b", "c"])]
        let host = ["a", "b", "c", "kvmclock"]
        // Versioned names and host are not candidates; "alias" matches exactly.
        #expect(CPUModelDecoder.decode(host: host, models: models, exact: false)
                == .init(model: "alias", require: [], disable: []))
        let noAlias = models.filter { $0.name != "alias" }
        // "big" costs 1 (disable x) and "mid" 1 (require c): on a tie the one taking nothing away wins.
        #expect(CPUModelDecoder.decode(host: host, models: noAlias, exact: false)?.model == "mid")
        // Without "mid", "big" (1 change) beats "small" (2); exact refuses "big".
        #expect(CPUModelDecoder.decode(host: host, models: noAlias.filter { $0.name != "mid" }, exact: false)
                == .init(model: "big", require: [], disable: ["x"]))
        #expect(CPUModelDecoder.decode(host: host, models: noAlias, exact: true)
                == .init(model: "mid", require: ["c"], disable: []))
        #expect(CPUModelDecoder.qemuNames(ofLinuxFlags: ["sse4_1", "pclmulqdq", "constant_tsc", "lahf_lm"],
                                          known: ["sse4.1", "pclmulqdq", "lahf-lm", "avx"])
                == ["sse4.1", "pclmulqdq", "lahf-lm"])
    }

    /// CPUID's bits named: leaf 1 ECX bit 27 (OSXSAVE, which Linux never lists), leaf 7.0 EBX bit 18 (RDSEED,
    /// which a kernel may hide), an extended leaf; a leaf the CPU lacks gives nothing.
    @Test func cpuidBitsNamed() {
        let regs: [UInt64: [UInt32]] = [
            1 << 32 | 0: [0, 0, 1 << 27 | 1 << 0, 1 << 0],
            7 << 32 | 0: [0, 1 << 18 | 1 << 5, 0, 0],
            0x8000_0001 << 32 | 0: [0, 0, 1 << 0, 1 << 29],
        ]
        let names = HostCPUID.features { leaf, sub in regs[UInt64(leaf) << 32 | UInt64(sub)] }
        #expect(names == ["fpu", "pni", "osxsave", "avx2", "rdseed", "lm", "lahf-lm"])
        // Named as QEMU knows them, next to Linux's flags.
        #expect(CPUModelDecoder.qemuNames(ofLinuxFlags: ["pni", "avx2"] + names, known: ["pni", "avx2", "rdseed", "osxsave", "lahf-lm"])
                == ["pni", "avx2", "osxsave", "rdseed", "lahf-lm"])
        // On this x86 host, CPUID answers and agrees with Linux on a bit it always shows.
        if let host = HostCPUID.hostFeatures(), let cpuinfo = LinuxSys.readFile("/proc/cpuinfo") {
            #expect(host.contains("fpu") == cpuinfo.contains(" fpu "))
        }
    }

    /// A driver on a fresh root; `security` sets QEMU's user and group.
    static func driver(_ dir: String, security: QEMUSecurityConfig? = nil) async throws -> QEMUDriver {
        if let security { return try await QEMUDriver.open(root: dir + "/root", security: security) }
        return try await QEMUDriver.open(root: dir + "/root")
    }

    @Test func capabilitiesComeFromTheProbeAndTheHost() async throws {
        try TestHost.requireKVM()
        let dir = try TestPaths.makeTempDir("capsxml")
        defer { TestPaths.removeDir(dir) }
        let drv = try await Self.driver(dir)
        let doc = try XMLParser.parse(try await drv.capabilities(), documentName: "caps")
        let host = try #require(doc.child("host"))

        var uts = utsname()
        uname(&uts)
        let machine = withUnsafeBytes(of: uts.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        #expect(host.child("cpu")?.childText("arch") == machine)
        // Every online CPU once, in the NUMA cells, with its core from sysfs.
        let cells = host.child("topology")?.child("cells")?.children("cell") ?? []
        let cpus = cells.flatMap { $0.child("cpus")?.children("cpu") ?? [] }
        #expect(cpus.count == sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        for c in cpus {
            let id = c.attr("id") ?? "?"
            let core = try String(contentsOfFile: "/sys/devices/system/cpu/cpu\(id)/topology/core_id", encoding: .utf8)
            #expect(c.attr("core_id") == core.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        // The embedded default runs QEMU as the caller.
        let dac = host.children("secmodel").first { $0.childText("model") == "dac" }
        #expect(dac?.children("baselabel").map(\.text) == ["+\(getuid()):+\(getgid())", "+\(getuid()):+\(getgid())"])

        // The x86_64 guest lists what the probe found: every machine but none, each alias after its machine.
        let caps = try await drv.state.capabilities.capabilities(for: TestHost.qemuBinary)
        let guest = try #require(doc.children("guest").first { $0.child("arch")?.attr("name") == "x86_64" })
        let arch = try #require(guest.child("arch"))
        #expect(arch.childText("emulator") == TestHost.qemuBinary)
        let entries = arch.children("machine")
        let expected = caps.machines.filter { $0.name != "none" }
        #expect(entries.count == expected.count + expected.filter { $0.alias != nil }.count)
        #expect(entries.first?.text == caps.defaultMachine)
        for m in expected {
            #expect(entries.contains { $0.text == m.name && $0.attr("maxCpus") == "\(m.maxCPUs)" })
            if let alias = m.alias {
                let i = entries.firstIndex { $0.text == alias }
                #expect(i.map { entries[$0].attr("canonical") } == m.name)
                #expect(i.map { entries[$0 - 1].text } == m.name)
            }
        }
        #expect(arch.children("domain").compactMap { $0.attr("type") } == ["qemu", "kvm"])
        #expect(guest.child("features")?.elements.map(\.name)
                == ["acpi", "apic", "cpuselection", "deviceboot", "disksnapshot"])
    }

    @Test func dacBaseLabelIsTheConfiguredUser() async throws {
        guard let uid = TestHost.user("libvirt-qemu")?.uid else {
            Issue.record("the libvirt-qemu user is missing (libvirt-daemon-system creates it)")
            return
        }
        let dir = try TestPaths.makeTempDir("capsdac")
        defer { TestPaths.removeDir(dir) }
        let drv = try await Self.driver(dir, security: QEMUSecurityConfig(user: "libvirt-qemu", group: "libvirt-qemu"))
        let doc = try XMLParser.parse(try await drv.capabilities(), documentName: "caps")
        let gid = try #require(TestHost.group("libvirt-qemu"))
        let dac = doc.child("host")?.children("secmodel").first { $0.childText("model") == "dac" }
        #expect(dac?.children("baselabel").first?.text == "+\(uid):+\(gid)")
    }

    @Test func domainCapabilitiesFollowTheProbe() async throws {
        try TestHost.requireKVM()
        let dir = try TestPaths.makeTempDir("domcaps")
        defer { TestPaths.removeDir(dir) }
        let drv = try await Self.driver(dir)
        let caps = try await drv.state.capabilities.capabilities(for: TestHost.qemuBinary)
        for type in ["kvm", "qemu"] {
            let xml = try await drv.domainCapabilities(emulator: nil, arch: "x86_64", machine: "q35", virtType: type,
                                                       flags: 0)
            let doc = try XMLParser.parse(xml, documentName: "domcaps")
            #expect(doc.childText("domain") == type)
            #expect(doc.childText("machine") == caps.canonicalMachine("q35"))
            let q35 = caps.machines.first { $0.alias == "q35" }
            #expect(doc.child("vcpu")?.attr("max") == q35.map { "\($0.maxCPUs)" })
            let modes = doc.child("cpu")?.children("mode") ?? []
            let passthrough = modes.first { $0.attr("name") == "host-passthrough" }
            #expect(passthrough?.attr("supported") == (type == "kvm" ? "yes" : "no"))
            let accel = try #require(caps.accelerator(type))
            let custom = modes.first { $0.attr("name") == "custom" }?.children("model") ?? []
            #expect(!custom.isEmpty)
            for m in custom {
                let usable = accel.unavailableFeatures[m.text]?.isEmpty
                #expect(m.attr("usable") == (usable == true ? "yes" : "no"), "\(type) \(m.text)")
            }
            let host = modes.first { $0.attr("name") == "host-model" }
            #expect(host?.attr("supported") == "yes")
            #expect(custom.contains { $0.text == host?.childText("model") })
        }
    }

    @Test func domainCapabilitiesErrorsAreLibvirts() async throws {
        let dir = try TestPaths.makeTempDir("domcapserr")
        defer { TestPaths.removeDir(dir) }
        let drv = try await Self.driver(dir)
        func error(_ emulator: String? = nil, _ arch: String? = nil, _ machine: String? = nil, _ type: String? = nil,
                   flags: UInt32 = 0) async -> VirtError? {
            do {
                _ = try await drv.domainCapabilities(emulator: emulator, arch: arch, machine: machine, virtType: type,
                                                     flags: flags)
                return nil
            } catch let e as VirtError {
                return e
            } catch {
                return nil
            }
        }
        let bin = TestHost.qemuBinary
        var e = await error(nil, "nonsense")
        #expect(e?.code == .invalidArg && e?.message == "invalid argument: unknown architecture: nonsense")
        e = await error(nil, nil, nil, "bogus")
        #expect(e?.code == .invalidArg && e?.message == "invalid argument: unknown virttype: bogus")
        e = await error(nil, nil, nil, "xen")
        #expect(e?.message == "invalid argument: Emulator '\(bin)' does not support virt type 'xen'")
        e = await error(nil, nil, "nope")
        #expect(e?.message == "invalid argument: the machine 'nope' is not supported by emulator '\(bin)'")
        e = await error(nil, nil, "none")
        #expect(e?.code == .invalidArg)
        e = await error(dir + "/no-qemu")
        #expect(e?.code == .systemError && e?.message.hasPrefix("Cannot check QEMU binary \(dir)/no-qemu") == true)
        e = await error(nil, nil, nil, nil, flags: 1)
        #expect(e?.code == .invalidArg)
        if QEMUGuestArch.named("sparc")?.findEmulator() == nil {
            e = await error(nil, "sparc")
            #expect(e?.code == .configUnsupported
                    && e?.message == "unsupported configuration: unable to find any emulator to serve 'sparc' architecture")
        }
    }

    @Test func cacheEntryOfAnotherHostStateIsProbedAgain() async throws {
        let dir = try TestPaths.makeTempDir("capsfp")
        defer { TestPaths.removeDir(dir) }
        let cache = QEMUCapabilitiesCache(cacheDir: dir + "/cache", runDir: dir + "/run")
        let caps = try await cache.capabilities(for: TestHost.qemuBinary)
        #expect(caps.hostFingerprint == QEMUCapabilitiesCache.hostFingerprint())
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/cache")
        #expect(files.count == 1)
        let file = dir + "/cache/" + (files.first ?? "")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains(caps.hostFingerprint))
        // The same binary and mtime, but probed while the host was different (say /dev/kvm was not usable).
        try text.replacingOccurrences(of: caps.hostFingerprint, with: "kvm=false kernel=0 microcode=0")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let again = QEMUCapabilitiesCache(cacheDir: dir + "/cache", runDir: dir + "/run")
        _ = try await again.capabilities(for: TestHost.qemuBinary)
        #expect(await again.probeCount == 1)
        let third = QEMUCapabilitiesCache(cacheDir: dir + "/cache", runDir: dir + "/run")
        _ = try await third.capabilities(for: TestHost.qemuBinary)
        #expect(await third.probeCount == 0)
    }
}
