import VirtCore

/// libvirt's `virDomainTaintFlags`, in libvirt's order, with the messages `virDomainGetMessages` reports.
enum TestTaint: Int, CaseIterable, Sendable {
    case customArgv = 0, customMonitor, highPrivileges, shellScripts, diskProbing, externalLaunch, hostCPU, hook,
        cdromPassthrough, customDTB, customGACommand, customHypervisorFeature, deprecatedConfig, customDevice

    /// `virDomainTaintMessage`.
    var message: String {
        switch self {
        case .customArgv: "custom configuration parameters specified"
        case .customMonitor: "custom monitor control commands issued"
        case .highPrivileges: "running with undesirable elevated privileges"
        case .shellScripts: "network configuration using opaque shell scripts"
        case .diskProbing: "potentially unsafe disk format probing"
        case .externalLaunch: "managing externally launched configuration"
        case .hostCPU: "potentially unsafe use of host CPU passthrough"
        case .hook: "configuration potentially modified by hook script"
        case .cdromPassthrough: "use of host cdrom passthrough"
        case .customDTB: "custom device tree blob used"
        case .customGACommand: "custom guest agent control commands issued"
        case .customHypervisorFeature: "hypervisor feature autodetection override"
        case .deprecatedConfig: "use of deprecated configuration settings"
        case .customDevice: "custom device configuration"
        }
    }

    /// libvirt's `testDomainObjCheckTaint`, run for the domains of a node description: the taints and the
    /// deprecation messages of a definition.
    static func check(_ def: DomainDefinition) -> (taints: Set<TestTaint>, deprecations: [String]) {
        var taints = Set<TestTaint>()
        var deprecations: [String] = []
        for disk in def.devices.disks {
            if disk.rawio == true { taints.insert(.highPrivileges) }
            if disk.device == .cdrom, disk.type == .block, disk.source.path != nil { taints.insert(.cdromPassthrough) }
        }
        for net in def.devices.interfaces where net.script != nil { taints.insert(.shellScripts) }
        if let cpu = def.cpu, cpu.mode == .custom, cpu.model == "Deprecated-Test" {
            taints.insert(.deprecatedConfig)
            deprecations.append("CPU model Deprecated-Test")
        }
        if def.os.dtb != nil { taints.insert(.customDTB) }
        return (taints, deprecations)
    }

    /// `virDomainObjGetMessages`: taints (flag 2), then deprecations (flag 1); no flags means both.
    static func messages(taints: Set<TestTaint>, deprecations: [String], flags: UInt32) -> [String] {
        let f = flags == 0 ? 3 : flags
        var out: [String] = []
        if f & 2 != 0 {
            for t in allCases where taints.contains(t) { out.append("tainted: \(t.message)") }
        }
        if f & 1 != 0 {
            for d in deprecations { out.append("deprecated configuration: \(d)") }
        }
        return out
    }
}
