import Testing
import VirtCore
@testable import VirtQEMU

/// The set arithmetic of CPU comparison and baseline on a small made-up model map.
@Suite("CPU comparison and baseline: set arithmetic")
struct CPUComparisonTests {
    /// Two generic models and one per vendor.
    static let map = CPUModelMap(models: [
        .init(name: "base64", features: ["fpu", "sse", "sse2", "lm"], vendor: nil),
        .init(name: "intelish", features: ["fpu", "sse", "sse2", "lm", "ssse3", "avx", "avx2"], vendor: "Intel"),
        .init(name: "amdish", features: ["fpu", "sse", "sse2", "lm", "ssse3", "svm", "sse4a"], vendor: "AMD"),
        .init(name: "wide", features: ["fpu", "sse", "sse2", "lm", "ssse3", "avx", "vme"], vendor: nil),
    ], knownFeatures: ["pni", "vme", "x2apic", "avx512f"])

    static func host(_ model: String, _ features: [String], vendor: String? = "AMD") -> CPUSpec {
        CPUSpec(kind: .host, arch: "x86_64", model: model, vendor: vendor, features: features.map { .init($0, nil) })
    }

    static func guest(_ model: String?, _ features: [(String, CPUDefinition.FeaturePolicy)] = [],
                      match: String = "exact", vendor: String? = nil) -> CPUSpec {
        CPUSpec(kind: .guest, mode: "custom", match: match, model: model, vendor: vendor,
                features: features.map { .init($0.0, $0.1) })
    }

    @Test("identical, superset, incompatible")
    func compareResults() throws {
        let h = Self.host("base64", ["ssse3", "pni"])
        #expect(try Self.map.compare(host: h, cpu: Self.host("base64", ["pni", "ssse3"])).0 == .identical)
        #expect(try Self.map.compare(host: h, cpu: Self.guest("base64")).0 == .superset)
        // Disabling a feature the host has still leaves a superset; requiring one it lacks does not.
        #expect(try Self.map.compare(host: h, cpu: Self.guest("base64", [("ssse3", .disable), ("pni", .require)])).0
            == .identical)
        let (r, why) = try Self.map.compare(host: h, cpu: Self.guest("intelish", [("x2apic", .require)]))
        #expect(r == .incompatible)
        #expect(why == "Host CPU does not provide required features: x2apic, avx, avx2")
        // Optional and forced features are not required.
        #expect(try Self.map.compare(host: h, cpu: Self.guest("base64", [("avx", .optional), ("x2apic", .force)])).0
            == .superset)
    }

    @Test("forbidden features, strict match, vendor and arch")
    func compareRules() throws {
        let h = Self.host("base64", ["ssse3", "pni"])
        let forbid = try Self.map.compare(host: h, cpu: Self.guest("base64", [("pni", .forbid), ("ssse3", .forbid)]))
        #expect(forbid.0 == .incompatible)
        #expect(forbid.1 == "Host CPU provides forbidden features: pni, ssse3")
        let strict = try Self.map.compare(host: h, cpu: Self.guest("base64", match: "strict"))
        #expect(strict.1 == "Host CPU does not strictly match guest CPU: Extra features: pni, ssse3")
        #expect(try Self.map.compare(host: h, cpu: Self.guest("base64", vendor: "Intel")).1
            == "host CPU vendor does not match required CPU vendor Intel")
        var ppc = Self.host("base64", [])
        ppc.arch = "ppc64"
        #expect(try Self.map.compare(host: h, cpu: ppc).1 == "CPU arch ppc64 does not match host arch")
    }

    @Test("unknown models and features are errors")
    func unknownNames() {
        let h = Self.host("base64", [])
        #expect(throws: VirtError.internalError("Unknown CPU model nope", domain: .cpu)) {
            try Self.map.compare(host: h, cpu: Self.guest("nope"))
        }
        #expect(throws: VirtError.internalError("Unknown CPU feature bogus", domain: .cpu)) {
            try Self.map.compare(host: h, cpu: Self.guest("base64", [("bogus", .disable)]))
        }
    }

    @Test("baseline: the intersection, named as the model it contains with the fewest additions")
    func baseline() throws {
        let a = Self.host("intelish", ["pni", "x2apic"], vendor: nil)
        let b = Self.host("wide", ["pni", "avx2"], vendor: nil)
        let r = try Self.map.baseline([a, b], blockers: nil, migratable: false)
        // Common: fpu sse sse2 lm ssse3 avx avx2 pni. "wide" would disable vme: not a candidate.
        #expect(r.model == "intelish")
        #expect(r.features == [.init("pni", .require)])
        #expect(r.fallback == "allow")
        #expect(r.vendor == nil)
        // One CPU keeps its own model, with fallback forbid and its vendor.
        let one = try Self.map.baseline([Self.host("base64", ["avx512f", "pni"], vendor: "AMD")], blockers: nil,
                                        migratable: false)
        #expect(one.model == "base64" && one.fallback == "forbid" && one.vendor == "AMD")
        #expect(one.features.map(\.name) == ["pni", "avx512f"])   // CPUID order, not the input's
    }

    @Test("baseline: vendors, blockers, incompatible CPUs")
    func baselineRules() throws {
        #expect(throws: VirtError.operationFailed("CPU vendors do not match", domain: .cpu)) {
            try Self.map.baseline([Self.host("intelish", [], vendor: "Intel"), Self.host("amdish", [], vendor: "AMD")],
                                  blockers: nil, migratable: false)
        }
        #expect(throws: VirtError.operationFailed("CPU vendor AMD of model amdish differs from vendor Intel",
                                                  domain: .cpu)) {
            try Self.map.baseline([Self.host("base64", []), Self.host("amdish", [], vendor: "Intel")],
                                  blockers: nil, migratable: false)
        }
        // The hypervisor cannot give intelish its avx2 and ssse3: they are disabled, the explicit extra stays required.
        let r = try Self.map.baseline([Self.guest("intelish", [("avx512f", .require), ("ssse3", .disable)])],
                                      blockers: ["intelish": ["avx2", "ssse3"]], migratable: false)
        #expect(r.model == "intelish")
        #expect(r.features == [.init("avx512f", .require), .init("ssse3", .disable), .init("avx2", .disable)])
        let empty = CPUModelMap(models: [.init(name: "a", features: ["fpu"], vendor: nil),
                                         .init(name: "b", features: ["sse"], vendor: nil)], knownFeatures: [])
        #expect(throws: VirtError.operationFailed("CPUs are incompatible", domain: .cpu)) {
            try empty.baseline([Self.host("a", []), Self.host("b", [])], blockers: nil, migratable: false)
        }
    }

    @Test("migratable drops invtsc; expanding lists the model's features by name")
    func migratableAndExpand() throws {
        let map = CPUModelMap(models: Self.map.models, knownFeatures: ["invtsc", "pni"])
        let r = try map.baseline([Self.host("base64", ["invtsc", "pni"])], blockers: nil, migratable: true)
        #expect(r.features.map(\.name) == ["pni"])
        let e = try map.expandFeatures(Self.guest("base64", [("pni", .require), ("sse", .disable)]))
        #expect(e.features.map { "\($0.name)=\($0.policy?.rawValue ?? "")" }
            == ["fpu=require", "lm=require", "pni=require", "sse=disable", "sse2=require"])
    }

    @Test("parsing: host and guest CPUs, libvirt's XML errors")
    func parsing() throws {
        let h = try CPUSpec.parse("<cpu><arch>x86_64</arch><model>kvm64</model><feature name='vme'/></cpu>", as: .auto)
        #expect(h.kind == .host && h.features == [.init("vme", nil)])
        let g = try CPUSpec.parse("<cpu match='strict'><model>kvm64</model><feature name='vme'/></cpu>", as: .auto)
        #expect(g.kind == .guest && g.match == "strict" && g.features == [.init("vme", .require)])
        #expect(throws: CPUSpec.xmlError("Missing CPU architecture")) {
            try CPUSpec.parse("<cpu><model>kvm64</model></cpu>", as: .host)
        }
        #expect(throws: CPUSpec.xmlError("Non-empty feature list specified without CPU model")) {
            try CPUSpec.parse("<cpu><feature name='vme'/></cpu>", as: .auto)
        }
        #expect(throws: VirtError.self) { try CPUSpec.parse("<cpu mode='custom'><arch>x86_64</arch></cpu>", as: .host) }
        #expect(CPUFeatureOrder.sorted(["zzz", "avx2", "fpu", "invtsc", "pni"]) == ["fpu", "pni", "avx2", "invtsc", "zzz"])
    }
}
