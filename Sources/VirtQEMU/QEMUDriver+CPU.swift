import VirtCore

/// CPU comparison and baseline (`virConnectCompareCPU`, `virConnectBaselineCPU` and their hypervisor
/// variants), as libvirt's QEMU driver serves them, on ``CPUModelMap`` (QEMU's model definitions).
extension QEMUDriver {
    static let compareFlags: UInt32 = 0x1 | 0x2    // FAIL_INCOMPATIBLE, VALIDATE_XML
    static let baselineFlags: UInt32 = 0x1 | 0x2   // EXPAND_FEATURES, MIGRATABLE

    public func compareCPU(xml: String, flags: UInt32) async throws -> Int32 {
        try Self.check(flags, Self.compareFlags, "qemuConnectCompareCPU")
        let (host, map) = try await state.hostCPUSpec()
        if flags & 0x2 != 0 { try CPUSpec.validate(xml) }
        let cpu = try CPUSpec.parse(xml, as: .auto)
        return try Self.compare(host: host, cpu: cpu, map: map, failIncompatible: flags & 0x1 != 0)
    }

    public func baselineCPU(xmls: [String], flags: UInt32) async throws -> String {
        try Self.check(flags, Self.baselineFlags, "qemuConnectBaselineCPU")
        let cpus = try Self.parseList(xmls, as: .host)
        let map = try await state.hostCPUSpec().1
        var cpu = try map.baseline(cpus, blockers: nil, migratable: flags & 0x2 != 0)
        if flags & 0x1 != 0 { cpu = try map.expandFeatures(cpu) }
        return cpu.formatXML()
    }

    public func compareHypervisorCPU(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                     xml: String, flags: UInt32) async throws -> Int32 {
        try Self.check(flags, Self.compareFlags, "qemuConnectCompareHypervisorCPU")
        let hv = try await state.hypervisorCPU(emulator: emulator, arch: arch, machine: machine, virtType: virtType)
        guard let host = hv.hostModel else {
            throw VirtError(.operationUnsupported, domain: .qemu,
                            "Operation not supported: QEMU '\(hv.binary)' does not support reporting CPU model for "
                                + "virttype '\(hv.virtType)'")
        }
        guard hv.isX86 else {
            throw VirtError(.operationUnsupported, domain: .qemu, "Operation not supported: comparing with the "
                + "hypervisor CPU is not supported for arch \(hv.arch)")
        }
        if flags & 0x2 != 0 { try CPUSpec.validate(xml) }
        let cpu = try CPUSpec.parse(xml, as: .auto)
        return try Self.compare(host: host, cpu: cpu, map: hv.map, failIncompatible: flags & 0x1 != 0)
    }

    public func baselineHypervisorCPU(emulator: String?, arch: String?, machine: String?, virtType: String?,
                                      xmls: [String], flags: UInt32) async throws -> String {
        try Self.check(flags, Self.baselineFlags, "qemuConnectBaselineHypervisorCPU")
        let cpus = try Self.parseList(xmls, as: .auto)
        let hv = try await state.hypervisorCPU(emulator: emulator, arch: arch, machine: machine, virtType: virtType)
        guard !hv.map.models.isEmpty else {
            throw VirtError(.operationUnsupported, domain: .qemu,
                            "Operation not supported: QEMU '\(hv.binary)' does not support any CPU models for "
                                + "virttype '\(hv.virtType)'")
        }
        guard hv.isX86 else {
            throw VirtError(.operationUnsupported, domain: .qemu, "Operation not supported: computing baseline "
                + "hypervisor CPU is not supported for arch \(hv.arch)")
        }
        let migratable = flags & 0x2 != 0
        var cpu = try hv.map.baseline(cpus, blockers: hv.blockers, migratable: migratable)
        cpu.fallback = "forbid"
        if flags & 0x1 != 0 { cpu = try hv.map.expandFeatures(cpu) }
        return cpu.formatXML()
    }

    static func check(_ flags: UInt32, _ allowed: UInt32, _ function: String) throws(VirtError) {
        if flags & ~allowed != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags & ~allowed), function: function, domain: .qemu)
        }
    }

    /// libvirt's virCPUDefListParse.
    static func parseList(_ xmls: [String], as kind: CPUSpec.ParseKind) throws(VirtError) -> [CPUSpec] {
        guard !xmls.isEmpty else { throw VirtError(.invalidArg, domain: .cpu, "invalid argument: no CPUs given") }
        var out: [CPUSpec] = []
        for x in xmls { out.append(try CPUSpec.parse(x, as: kind)) }
        return out
    }

    /// libvirt's virCPUx86Compare: an incompatible CPU is an error with its reason when asked to fail.
    static func compare(host: CPUSpec, cpu: CPUSpec, map: CPUModelMap, failIncompatible: Bool) throws(VirtError)
        -> Int32 {
        let (result, message) = try map.compare(host: host, cpu: cpu)
        if result == .incompatible && failIncompatible {
            let text = "the CPU is incompatible with host CPU" + (message.map { ": " + $0 } ?? "")
            throw VirtError(Self.cpuIncompatible, domain: .cpu, text, str1: text, str2: message)
        }
        return result.rawValue
    }

    /// VIR_ERR_CPU_INCOMPATIBLE.
    static let cpuIncompatible = VirtError.Code(rawValue: 91)
}

/// What the hypervisor-CPU APIs need of one QEMU binary and virt type.
struct HypervisorCPU {
    var binary: String
    var virtType: String
    var arch: String
    var map: CPUModelMap
    var isX86: Bool { arch == "x86_64" || arch == "i686" }
    /// The host-model CPU of domcapabilities (nil when QEMU reports none for the virt type).
    var hostModel: CPUSpec?
    /// Per model, the features QEMU cannot give it under the virt type (`unavailable-features`), libvirt's names.
    var blockers: [String: Set<String>]
}

extension QEMUDriverState {
    /// The host CPU of the capabilities XML, and the model map of the host's QEMU.
    func hostCPUSpec() async throws -> (CPUSpec, CPUModelMap) {
        let host = HostCapabilities.read()
        guard let arch = QEMUGuestArch.named(host.arch), let bin = arch.findEmulator(),
              let caps = try? await capabilities.capabilities(for: bin),
              let decoded = QEMUCapabilitiesXML.hostCPU(host, probe: caps) else {
            throw VirtError(.operationInvalid, domain: .cpu, "cannot get host CPU capabilities")
        }
        let spec = CPUSpec(kind: .host, arch: host.arch, model: decoded.model,
                           vendor: CPUModelDecoder.vendorName(host.cpuinfo["vendor_id"]),
                           features: decoded.require.map { .init(CPUModelDecoder.libvirtName($0), nil) }
                               + (host.flags.contains("xsave") && !decoded.require.contains("osxsave")
                                  ? [.init("osxsave", nil)] : []))
        return (spec, CPUModelMap(caps: caps))
    }

    /// The QEMU binary and virt type the arguments name (as domcapabilities resolves them, except that any virt
    /// type libvirt knows is accepted: one other than kvm gets TCG's CPU, as in libvirt) and its CPU facts.
    func hypervisorCPU(emulator: String?, arch: String?, machine: String?, virtType: String?) async throws
        -> HypervisorCPU {
        let host = HostCapabilities.read()
        let cache = capabilities
        let (caps, guestArch, _, type) = try await QEMUDomainCapabilities.resolve(
            emulator: emulator, arch: arch, machine: machine, virtType: virtType, hostArch: host.arch,
            kvmUsable: Self.kvmUsable, checkVirtType: false, probe: { bin in try await cache.capabilities(for: bin) })
        let map = CPUModelMap(caps: caps)
        var hostModel: CPUSpec?
        var blockers: [String: Set<String>] = [:]
        for (model, missing) in caps.accelerator(type)?.unavailableFeatures ?? [:] {
            blockers[model] = Set(missing.map(CPUModelDecoder.libvirtName))
        }
        if let h = caps.accelerator(type)?.hostCPU {
            if let d = CPUModelDecoder.decode(host: h.features, hostVendor: h.vendor, models: caps.cpuModels,
                                              exact: false) {
                hostModel = CPUSpec(kind: .guest, mode: "custom", match: "exact", model: d.model, fallback: "forbid",
                                    vendor: CPUModelDecoder.vendorName(h.vendor),
                                    features: d.require.map { .init(CPUModelDecoder.libvirtName($0), .require) }
                                        + d.disable.map { .init(CPUModelDecoder.libvirtName($0), .disable) })
            }
        }
        return HypervisorCPU(binary: caps.binaryPath, virtType: type, arch: guestArch.name, map: map,
                             hostModel: hostModel, blockers: blockers)
    }
}
