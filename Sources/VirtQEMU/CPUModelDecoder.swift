/// Names a CPU as the closest named model plus feature differences, the way libvirt's x86 CPU driver decodes
/// CPUID data, but with QEMU's own model definitions (their static expansions) instead of libvirt's CPU map.
public enum CPUModelDecoder {
    /// The result: a model, the features to add to it and those to take away.
    public struct Decoded: Sendable, Hashable {
        public var model: String
        public var require: [String]
        public var disable: [String]
    }

    /// Whether a QEMU CPU property is a CPUID feature libvirt would name in a CPU definition (paravirtual
    /// KVM and Hyper-V knobs are not).
    static func isCPUIDFeature(_ name: String) -> Bool {
        !(name.hasPrefix("kvm") || name.hasPrefix("hv-") || name.hasPrefix("x-"))
    }

    /// Features QEMU turns on for every model when it loads one (x86_cpu_load_model), not part of any model's
    /// definition: a model's static expansion shows them, but they belong to the host's side.
    static let loadTimeFeatures: Set<String> = ["hypervisor"]

    /// The named models worth decoding to: no versioned names (`EPYC-v1`), no `host`, `max` or `base`.
    public static func candidates(_ models: [QEMUCapabilities.CPUModel]) -> [QEMUCapabilities.CPUModel] {
        let versioned = Set(models.compactMap(\.aliasOf))
        return models.filter {
            !versioned.contains($0.name) && !isVersionedName($0.name) && !["host", "max", "base"].contains($0.name)
                && !$0.features.isEmpty
        }
    }

    /// `EPYC-v3`: a name ending in `-v` and digits.
    static func isVersionedName(_ name: String) -> Bool {
        guard let r = name.range(of: "-v", options: .backwards) else { return false }
        let tail = name[r.upperBound...]
        return !tail.isEmpty && tail.allSatisfy(\.isNumber)
    }

    /// Whether a model is a generic one rather than a vendor's CPU: its brand string is empty or names QEMU or
    /// KVM ("QEMU Virtual CPU version 2.5+", "Common KVM processor"). libvirt's CPU map gives these no vendor.
    public static func isGeneric(_ m: QEMUCapabilities.CPUModel) -> Bool {
        guard let id = m.modelID else { return false }
        return id.isEmpty || id.contains("QEMU") || id.contains("KVM")
    }

    /// The vendor libvirt names for a model: none ("unknown") for a generic model.
    public static func vendorName(of m: QEMUCapabilities.CPUModel) -> String? {
        isGeneric(m) ? nil : vendorName(m.vendor)
    }

    /// Picks the model needing the fewest changes for the feature set `host`; the features to add and to take
    /// away come in libvirt's order (``CPUFeatureOrder``). With `exact` (the host CPU of
    /// the capabilities XML), only models whose features the host all has are considered. As in libvirt, a
    /// model of another vendor than `hostVendor` (a CPUID vendor string) is not a candidate; generic ones are.
    public static func decode(host: [String], hostVendor: String? = nil, models: [QEMUCapabilities.CPUModel],
                              exact: Bool) -> Decoded? {
        let have = Set(host.filter(isCPUIDFeature))
        var best: Decoded?
        var bestCost = Int.max
        for m in candidates(models) {
            if let hostVendor, !hostVendor.isEmpty, let v = m.vendor, !isGeneric(m), v != hostVendor { continue }
            let modelFeatures = m.features.filter { isCPUIDFeature($0) && !loadTimeFeatures.contains($0) }
            let f = Set(modelFeatures)
            let require = host.filter { have.contains($0) && !f.contains($0) }
            let disable = modelFeatures.filter { !have.contains($0) }
            if exact && !disable.isEmpty { continue }
            // Fewest changes; on a tie, fewest features taken away.
            let cost = (require.count + disable.count) * 1024 + disable.count
            if cost < bestCost {
                bestCost = cost
                best = Decoded(model: m.name, require: CPUFeatureOrder.sortedQEMUNames(require),
                               disable: CPUFeatureOrder.sortedQEMUNames(disable))
            }
        }
        return best
    }

    /// The CPUID vendor string a brand string names ("Intel Core Processor (Haswell)" → GenuineIntel), if any.
    public static func vendor(ofBrand brand: String?) -> String? {
        guard let brand else { return nil }
        for (word, vendor) in [("Intel", "GenuineIntel"), ("AMD", "AuthenticAMD"), ("Hygon", "HygonGenuine")]
        where brand.contains(word) {
            return vendor
        }
        return nil
    }

    /// libvirt's vendor names for CPUID vendor strings.
    public static func vendorName(_ cpuid: String?) -> String? {
        switch cpuid {
        case "GenuineIntel": "Intel"
        case "AuthenticAMD": "AMD"
        case "HygonGenuine": "Hygon"
        case "CentaurHauls": "VIA"
        case nil, "": nil
        case let v?: v
        }
    }

    /// The CPU features libvirt's XML names differently from QEMU (libvirt kept the old spellings).
    static let libvirtFeatureNames: [String: String] = [
        "cmp-legacy": "cmp_legacy", "ds-cpl": "ds_cpl", "fxsr-opt": "fxsr_opt", "lahf-lm": "lahf_lm",
        "nodeid-msr": "nodeid_msr", "perfctr-core": "perfctr_core", "perfctr-nb": "perfctr_nb",
        "tsc-adjust": "tsc_adjust", "pclmulqdq": "pclmuldq",
    ]

    /// A QEMU feature name as libvirt's XML spells it.
    public static func libvirtName(_ qemuName: String) -> String { libvirtFeatureNames[qemuName] ?? qemuName }

    /// Linux flags whose name is not QEMU's feature name with other separators (arch/x86/include/asm/cpufeatures.h).
    static let linuxFlagAliases: [String: String] = [
        "tsc_deadline_timer": "tsc-deadline",
        "nonstop_tsc": "invtsc",
    ]

    /// Linux's /proc/cpuinfo flag names matched to QEMU's feature names (`sse4_1` → `sse4.1`), by comparing
    /// them without case, `_`, `-` or `.`; flags QEMU has no feature for are dropped.
    public static func qemuNames(ofLinuxFlags flags: [String], known: [String]) -> [String] {
        func norm(_ s: String) -> String {
            String(s.lowercased().filter { $0 != "_" && $0 != "-" && $0 != "." })
        }
        var byNorm: [String: String] = [:]
        for k in known where byNorm[norm(k)] == nil { byNorm[norm(k)] = k }
        var seen = Set<String>()
        var out: [String] = []
        for f in flags {
            let name = linuxFlagAliases[f] ?? f
            if let q = byNorm[norm(name)], seen.insert(q).inserted { out.append(q) }
        }
        return out
    }
}
