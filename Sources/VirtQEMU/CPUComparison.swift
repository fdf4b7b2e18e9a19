import VirtCore

/// A `<cpu>` element as libvirt's CPU comparison and baseline APIs read it: a host CPU (capabilities-style,
/// with `<arch>`, features without policy) or a guest CPU (domain-style, with mode, match and policies).
public struct CPUSpec: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case host, guest }
    /// How to tell the kind: libvirt's VIR_CPU_TYPE_AUTO (an `<arch>` child makes a host CPU) or forced.
    public enum ParseKind: Sendable { case auto, host }

    public struct Feature: Sendable, Hashable {
        public var name: String
        /// nil for a host CPU's features (libvirt's policy -1, counted as required).
        public var policy: CPUDefinition.FeaturePolicy?
        public init(_ name: String, _ policy: CPUDefinition.FeaturePolicy?) {
            self.name = name
            self.policy = policy
        }
    }

    public var kind: Kind
    public var arch: String?
    /// Guest CPUs: `custom`, `host-model`, `host-passthrough`, `maximum`.
    public var mode: String?
    /// Guest CPUs: `minimum`, `exact`, `strict`.
    public var match: String?
    public var model: String?
    public var fallback: String?
    public var vendor: String?
    public var features: [Feature]

    public init(kind: Kind, arch: String? = nil, mode: String? = nil, match: String? = nil, model: String? = nil,
                fallback: String? = nil, vendor: String? = nil, features: [Feature] = []) {
        self.kind = kind
        self.arch = arch
        self.mode = mode
        self.match = match
        self.model = model
        self.fallback = fallback
        self.vendor = vendor
        self.features = features
    }

    static let modes = ["custom", "host-model", "host-passthrough", "maximum"]
    static let matches = ["minimum", "exact", "strict"]
    /// libvirt's architecture names (virArch).
    static var archs: Set<String> { QEMUDomainCapabilities.knownArchNames }

    static func xmlError(_ detail: String) -> VirtError {
        VirtError(.xmlError, domain: .cpu, "XML error: \(detail)", str1: "XML error: %s", str2: detail)
    }

    /// Parses one CPU definition as libvirt's virCPUDefParseXMLString does, with its checks and messages.
    public static func parse(_ xml: String, as kind: ParseKind) throws(VirtError) -> CPUSpec {
        let root = try XMLParser.parse(xml, documentName: "CPU_definition", errorDomain: .cpu)
        return try parse(root, as: kind)
    }

    public static func parse(_ el: XMLElement, as parseKind: ParseKind) throws(VirtError) -> CPUSpec {
        guard el.name == "cpu" else { throw xmlError("XML does not contain expected 'cpu' element") }
        var spec = CPUSpec(kind: .guest)
        switch parseKind {
        case .host: spec.kind = .host
        case .auto:
            if el.child("arch") != nil {
                if el.attr("match") != nil {
                    throw xmlError("'arch' element cannot be used inside 'cpu' element with 'match' attribute'")
                }
                spec.kind = .host
            }
        }
        if let mode = el.attr("mode") {
            if spec.kind == .host {
                throw VirtError(.configUnsupported, domain: .cpu,
                                "unsupported configuration: Attribute mode is only allowed for guest CPU",
                                str1: "unsupported configuration: %s", str2: "Attribute mode is only allowed for guest CPU")
            }
            guard modes.contains(mode) else {
                throw VirtError.domainConfigUnsupported("Invalid mode attribute '\(mode)'", domain: .cpu)
            }
            spec.mode = mode
        } else if spec.kind == .guest {
            spec.mode = "custom"
        }
        if spec.kind == .guest {
            if let m = el.attr("match") {
                guard matches.contains(m) else {
                    throw xmlError("Invalid value for attribute 'match' in element 'cpu': '\(m)'.")
                }
                spec.match = m
            }
        } else {
            guard let arch = el.childText("arch"), !arch.isEmpty else { throw xmlError("Missing CPU architecture") }
            guard archs.contains(arch) else {
                throw VirtError.domainConfigUnsupported("Unknown architecture \(arch)", domain: .cpu)
            }
            spec.arch = arch
        }
        let model = el.child("model").map { $0.text.trimmingSpaces }
        spec.model = (model?.isEmpty ?? true) ? nil : model
        if spec.model == nil && spec.kind == .host { throw xmlError("Missing CPU model name") }
        spec.fallback = el.child("model")?.attr("fallback")
        if spec.kind == .guest, spec.mode == "custom", spec.match == nil, spec.model != nil { spec.match = "exact" }
        if let v = el.childText("vendor"), !v.isEmpty {
            guard spec.model != nil else { throw xmlError("CPU vendor specified without CPU model") }
            spec.vendor = v
        }
        let features = el.children("feature")
        if !features.isEmpty, spec.model == nil, spec.mode != "host-passthrough", spec.mode != "maximum" {
            throw xmlError("Non-empty feature list specified without CPU model")
        }
        for f in features {
            var policy: CPUDefinition.FeaturePolicy?
            if spec.kind == .guest {
                policy = .require
                if let p = f.attr("policy") {
                    guard let pp = CPUDefinition.FeaturePolicy(rawValue: p) else {
                        throw VirtError.domainConfigUnsupported("Invalid CPU feature policy", domain: .cpu)
                    }
                    policy = pp
                }
            }
            guard let name = f.attr("name"), !name.isEmpty else { throw xmlError("Invalid CPU feature name") }
            if spec.features.contains(where: { $0.name == name }) {
                throw xmlError("CPU feature '\(name)' specified more than once")
            }
            spec.features.append(Feature(name, policy))
        }
        return spec
    }

    /// libvirt's `--validate` of a `<cpu>` document against its cpu.rng, for the problems whose libxml2 report
    /// has been observed with libvirt 9.0: an unknown attribute or child of `<cpu>`, a guest CPU's `<feature>`
    /// without a valid policy or name, a `<model>` with an invalid fallback. Other documents pass (the parser's
    /// own checks still apply).
    public static func validate(_ xml: String) throws(VirtError) {
        let el = try XMLParser.parse(xml, documentName: "CPU_definition", errorDomain: .cpu)
        guard el.name == "cpu" else { return }
        let isHost = el.child("arch") != nil
        let guestTail = ["Expecting an element arch, got nothing", "Invalid sequence in interleave"]
        func invalid(_ lines: [String]) -> VirtError {
            let detail = "Unable to validate doc against /usr/share/libvirt/schemas/cpu.rng\n"
                + lines.map { $0 + "\n" }.joined()
            return VirtError(.xmlInvalidSchema, domain: .xml, "XML document failed to validate against schema: \(detail)",
                             str1: "XML document failed to validate against schema: %s", str2: detail)
        }
        let values: [String: Set<String>] = [
            "mode": Set(modes), "match": Set(matches), "check": ["none", "partial", "full"], "migratable": ["on", "off"],
        ]
        if !isHost {
            for a in el.attributes where values[a.name]?.contains(a.value) != true {
                throw invalid(["Invalid attribute \(a.name) for element cpu"] + guestTail
                    + ["Element cpu failed to validate content"])
            }
        }
        let guestChildren: Set<String> = ["model", "vendor", "topology", "cache", "maxphysaddr", "feature", "numa"]
        let hostChildren: Set<String> = ["arch", "model", "vendor", "microcode", "signature", "counter", "topology",
                                         "maxphysaddr", "feature", "pages", "cache"]
        let repeatable: Set<String> = ["feature", "pages"]
        var seen = Set<String>()
        for c in el.elements {
            if !(isHost ? hostChildren : guestChildren).contains(c.name) {
                throw invalid(isHost ? ["Expecting an element feature, got nothing", "Element cpu has extra content: \(c.name)"]
                    : ["Element cpu has extra content: \(c.name)"] + guestTail + ["Element cpu failed to validate content"])
            }
            let again = !seen.insert(c.name).inserted && !repeatable.contains(c.name)
            if isHost {
                if c.name == "feature", let a = c.attributes.first(where: { $0.name != "name" }) {
                    throw invalid(["Invalid attribute \(a.name) for element feature", "Extra element feature in interleave",
                                   "Element cpu failed to validate content"])
                }
                continue
            }
            let badFeature = c.name == "feature"
                && (CPUDefinition.FeaturePolicy(rawValue: c.attr("policy") ?? "") == nil || (c.attr("name") ?? "").isEmpty)
            let badModel = c.name == "model" && c.attr("fallback").map { !["allow", "forbid"].contains($0) } == true
            let badTopology = c.name == "topology" && ["sockets", "cores", "threads"].contains { c.attr($0) == nil }
            if badFeature || badModel || badTopology || again {
                throw invalid((badFeature ? ["Element feature failed to validate attributes"] : [])
                    + ["Extra element \(c.name) in interleave", "Element cpu failed to validate content"] + guestTail)
            }
        }
    }

    /// The CPU as libvirt formats a computed guest CPU (virCPUDefFormat): mode custom, match exact.
    public func formatXML() -> String {
        var w = XMLWriter()
        w.element("cpu", [("mode", "custom"), ("match", match ?? "exact")]) { w in
            if let model { w.text("model", [("fallback", fallback)], model) }
            w.optionalText("vendor", vendor)
            for f in features { w.empty("feature", [("policy", (f.policy ?? .require).rawValue), ("name", f.name)]) }
        }
        return w.output
    }
}

/// libvirt's x86 CPU comparison and baseline (cpu_x86.c's x86Compute, x86Baseline, x86Decode and feature
/// expansion), computed on feature sets. The CPU models come from QEMU: each model's static expansion, as
/// probed into ``QEMUCapabilities/cpuModels``, with feature names in libvirt's spelling.
public struct CPUModelMap: Sendable {
    public struct Model: Sendable, Hashable {
        public var name: String
        public var features: Set<String>
        /// libvirt's vendor name (`Intel`, `AMD`); nil for a generic model.
        public var vendor: String?
    }

    /// Candidate models in QEMU's order.
    public var models: [Model]
    /// Every feature name known (libvirt spelling).
    public var knownFeatures: Set<String>
    /// Features a migratable CPU leaves out (QEMU's unmigratable CPUID flags).
    public static let unmigratable: Set<String> = ["invtsc"]
    static let vendors = ["Intel", "AMD", "Hygon"]
    /// CPUID bits the operating system sets (QEMU has no property for them; libvirt knows them).
    static let osControlled: Set<String> = ["osxsave", "ospke"]

    public init(models: [Model], knownFeatures: Set<String>) {
        self.models = models
        self.knownFeatures = knownFeatures.union(models.flatMap(\.features)).union(Self.osControlled)
    }

    /// The map of a probed QEMU binary.
    public init(caps: QEMUCapabilities) {
        var known = Set<String>()
        for h in [caps.kvm?.hostCPU, caps.tcg?.hostCPU].compactMap({ $0 }) {
            for f in h.featureNames + h.features where CPUModelDecoder.isCPUIDFeature(f) {
                known.insert(CPUModelDecoder.libvirtName(f))
            }
        }
        let models = CPUModelDecoder.candidates(caps.cpuModels).map { m in
            Model(name: m.name,
                  features: Set(m.features.filter {
                      CPUModelDecoder.isCPUIDFeature($0) && !CPUModelDecoder.loadTimeFeatures.contains($0)
                  }.map(CPUModelDecoder.libvirtName)),
                  vendor: CPUModelDecoder.vendorName(of: m))
        }
        self.init(models: models, knownFeatures: known)
    }

    public func model(_ name: String) -> Model? { models.first { $0.name == name } }

    /// The features of `cpu` with one policy (nil: libvirt's -1, the CPU as a whole: model and required or
    /// forced features, less disabled and forbidden ones), libvirt's x86ModelFromCPU.
    public func features(of cpu: CPUSpec, policy: CPUDefinition.FeaturePolicy?) throws(VirtError) -> Set<String> {
        if cpu.kind == .host, let policy, policy != .require { return [] }
        var set = Set<String>()
        if let name = cpu.model, policy == nil || policy == .require {
            guard let m = model(name) else { throw VirtError.internalError("Unknown CPU model \(name)", domain: .cpu) }
            set = m.features
        }
        for f in cpu.features {
            let fpol = f.policy ?? .require
            if policy == nil ? fpol == .optional : fpol != policy { continue }
            guard knownFeatures.contains(f.name) else {
                throw VirtError.internalError("Unknown CPU feature \(f.name)", domain: .cpu)
            }
            if policy == nil {
                switch fpol {
                case .force, .require: set.insert(f.name)
                case .disable, .forbid: set.remove(f.name)
                case .optional: break
                }
            } else {
                set.insert(f.name)
            }
        }
        return set
    }

    static func list(_ s: Set<String>) -> String { CPUFeatureOrder.sorted(s).joined(separator: ", ") }

    /// Compares `cpu` with `host` (libvirt's x86Compute): the result, and for an incompatible CPU the reason.
    public func compare(host: CPUSpec, cpu: CPUSpec) throws(VirtError) -> (CPUCompareResult, String?) {
        if let arch = cpu.arch, !["x86_64", "i686"].contains(arch) {
            return (.incompatible, "CPU arch \(arch) does not match host arch")
        }
        if let v = cpu.vendor, v != host.vendor {
            return (.incompatible, "host CPU vendor does not match required CPU vendor \(v)")
        }
        let hostSet = try features(of: host, policy: nil)
        let force = try features(of: cpu, policy: .force)
        var require = try features(of: cpu, policy: .require)
        let optional = try features(of: cpu, policy: .optional)
        let disable = try features(of: cpu, policy: .disable)
        let forbid = try features(of: cpu, policy: .forbid)

        let provided = forbid.intersection(hostSet)
        if !provided.isEmpty { return (.incompatible, "Host CPU provides forbidden features: \(Self.list(provided))") }
        require.subtract(force)
        require.subtract(optional)
        require.subtract(disable)
        if !require.isSubset(of: hostSet) {
            return (.incompatible, "Host CPU does not provide required features: \(Self.list(require.subtracting(hostSet)))")
        }
        let extra = hostSet.subtracting(optional).subtracting(require).subtracting(disable).subtracting(force)
        if extra.isEmpty { return (.identical, nil) }
        if cpu.kind == .guest && cpu.match == "strict" {
            return (.incompatible, "Host CPU does not strictly match guest CPU: Extra features: \(Self.list(extra))")
        }
        return (.superset, nil)
    }

    /// The model closest to the feature set `data` (libvirt's x86Decode with QEMU's models): the fewest added
    /// and removed features, fewer removed on a tie, the first in QEMU's order after that. `preferred` wins
    /// when it is a candidate. `vendor` excludes other vendors' models. `blockers` (per model: the features
    /// the hypervisor cannot give it) are taken out of the data before it is compared with that model, so they
    /// end up disabled.
    /// With `subsetOnly` (a baseline), a model is a candidate only if every feature it would disable is a
    /// blocker; when no model is, any model is.
    public func decode(_ data: Set<String>, vendor: String?, preferred: String?,
                       blockers: [String: Set<String>]? = nil, subsetOnly: Bool = false)
        -> (model: Model, require: [String], disable: [String])? {
        if subsetOnly, let d = decode(data, vendor: vendor, preferred: preferred, blockers: blockers, only: true) {
            return d
        }
        return decode(data, vendor: vendor, preferred: preferred, blockers: blockers, only: false)
    }

    func decode(_ data: Set<String>, vendor: String?, preferred: String?, blockers: [String: Set<String>]?,
                only subsets: Bool) -> (model: Model, require: [String], disable: [String])? {
        var best: (model: Model, require: Set<String>, disable: Set<String>, cost: Int)?
        for m in models {
            if let vendor, let mv = m.vendor, mv != vendor { continue }
            let blocked = blockers?[m.name] ?? []
            if subsets && !m.features.subtracting(data).subtracting(blocked).isEmpty { continue }
            let copy = data.subtracting(blocked)
            let req = copy.subtracting(m.features)
            let dis = m.features.subtracting(copy)
            if m.name == preferred {
                best = (m, req, dis, -1)
                break
            }
            let cost = (req.count + dis.count) * 1024 + dis.count
            if best == nil || cost < (best?.cost ?? Int.max) { best = (m, req, dis, cost) }
        }
        guard let best else { return nil }
        return (best.model, CPUFeatureOrder.sorted(best.require), CPUFeatureOrder.sorted(best.disable))
    }

    /// The baseline of `cpus` (libvirt's virCPUBaseline and x86Baseline): the common features, named as the
    /// closest model. `blockers` (hypervisor-cpu-baseline): per model, the features QEMU cannot give it on this
    /// host (``decode(_:vendor:preferred:blockers:)``).
    public func baseline(_ cpus: [CPUSpec], blockers: [String: Set<String>]?, migratable: Bool) throws(VirtError)
        -> CPUSpec {
        guard !cpus.isEmpty else { throw VirtError(.invalidArg, domain: .cpu, "invalid argument: no CPUs given") }
        for (i, c) in cpus.enumerated() where c.model == nil {
            throw VirtError(.invalidArg, domain: .cpu, "invalid argument: no CPU model specified at index \(i)")
        }
        var base = try features(of: cpus[0], policy: nil)
        var vendor: String?
        if let v = cpus[0].vendor {
            guard Self.vendors.contains(v) else { throw VirtError.operationFailed("Unknown CPU vendor \(v)", domain: .cpu) }
            vendor = v
        }
        var outputVendor = cpus[0].vendor != nil
        for c in cpus.dropFirst() {
            let data = try features(of: c, policy: nil)
            let modelVendor = c.model.flatMap { model($0)?.vendor }
            if let cv = c.vendor, let mv = modelVendor, cv != mv {
                throw VirtError.operationFailed("CPU vendor \(mv) of model \(c.model ?? "") differs from vendor \(cv)",
                                                domain: .cpu)
            }
            if c.vendor == nil { outputVendor = false }
            if let vn = c.vendor ?? modelVendor {
                if let v = vendor {
                    if v != vn { throw VirtError.operationFailed("CPU vendors do not match", domain: .cpu) }
                } else {
                    guard Self.vendors.contains(vn) else {
                        throw VirtError.operationFailed("Unknown CPU vendor \(vn)", domain: .cpu)
                    }
                    vendor = vn
                }
            }
            base.formIntersection(data)
        }
        // A computed CPU does not name the bits the guest's OS sets itself.
        base.subtract(Self.osControlled)
        if migratable { base.subtract(Self.unmigratable) }
        if base.isEmpty { throw VirtError.operationFailed("CPUs are incompatible", domain: .cpu) }
        let names = Set(cpus.compactMap(\.model))
        let preferred = names.count == 1 ? names.first : nil
        // A plain baseline names a model the common features include (libvirt decodes it as a host CPU); the
        // hypervisor's accepts any model, its blockers disabled.
        guard let d = decode(base, vendor: vendor, preferred: preferred, blockers: blockers,
                             subsetOnly: blockers == nil) else {
            throw VirtError.operationFailed("Cannot find suitable CPU model for given data", domain: .cpu)
        }
        return CPUSpec(kind: .guest, mode: "custom", match: "exact", model: d.model.name,
                       fallback: d.model.name == preferred ? "forbid" : "allow", vendor: outputVendor ? vendor : nil,
                       features: d.require.map { .init($0, .require) } + d.disable.map { .init($0, .disable) })
    }

    /// Lists the model's own features explicitly (libvirt's virCPUExpandFeatures), sorted by name.
    public func expandFeatures(_ cpu: CPUSpec) throws(VirtError) -> CPUSpec {
        guard let name = cpu.model, let m = model(name) else {
            throw VirtError.operationFailed("unknown CPU model \(cpu.model ?? "")", domain: .cpu)
        }
        var out = cpu
        var features = m.features.sorted().map { CPUSpec.Feature($0, .require) }
        for f in cpu.features where f.policy == .require || f.policy == .disable {
            if let i = features.firstIndex(where: { $0.name == f.name }) {
                features[i].policy = f.policy
            } else {
                features.append(f)
            }
        }
        out.features = features.sorted { $0.name < $1.name }
        return out
    }
}
