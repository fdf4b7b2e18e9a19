import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// libvirt 9.0's QEMU driver for block write thresholds, the dirty page rate calculation, the agent's response
/// timeout, the migration compression cache, SEV and host suspend: flags and arguments checked in qemu_driver.c's
/// order, then the domain's job and QMP (QEMUDomainObject+HostControl.swift).
extension QEMUDriver {
    public func setBlockThreshold(_ domain: DomainRef, dev: String, threshold: UInt64, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainSetBlockThreshold")
        try await state.object(domain).setBlockThreshold(dev: dev, threshold: threshold)
    }

    /// libvirt's qemuDomainStartDirtyRateCalc: flags (1 dirty bitmap, 2 dirty ring), then 1 to 60 seconds.
    public func startDirtyRateCalc(_ domain: DomainRef, seconds: Int32, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainStartDirtyRateCalc")
        if seconds < 1 || seconds > 60 {
            throw VirtError.configUnsupported(
                "seconds=\(seconds) is invalid, please choose value within [1, 60].", domain: .qemu)
        }
        try await state.object(domain).startDirtyRateCalc(seconds: seconds, flags: flags)
    }

    /// libvirt's qemuDomainAgentSetResponseTimeout: -2 (block) at least; kept for the agent, running or not.
    public func agentSetResponseTimeout(_ domain: DomainRef, timeout: Int32, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainAgentSetResponseTimeout")
        if timeout < -2 {
            throw VirtError.invalidArg("guest agent timeout '\(timeout)' is less than the minimum '-2'", domain: .qemu)
        }
        try await state.object(domain).setAgentResponseTimeout(timeout)
    }

    public func migrateCompressionCache(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainMigrateGetCompressionCache")
        return try await state.object(domain).compressionCache()
    }

    public func setMigrateCompressionCache(_ domain: DomainRef, size: UInt64, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainMigrateSetCompressionCache")
        try await state.object(domain).setCompressionCache(size)
    }

    /// libvirt's qemuDomainSetLaunchSecurityState: the parameters' types, then (a modify job) a running SEV
    /// domain, whose secret QEMU injects (`sev-inject-launch-secret`).
    public func setLaunchSecurityState(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 0, "qemuDomainSetLaunchSecurityState")
        try TypedParam.validate(params, ["sev-secret-header": 7, "sev-secret": 7, "sev-secret-set-address": 4])
        try await state.object(domain).setLaunchSecret(params)
    }

    /// Whether this host can run SEV guests (the kvm_amd module's `sev` parameter and /dev/sev), which QEMU's
    /// `query-sev-capabilities` needs; libvirt asks QEMU that only when the host has them.
    static var hostHasSEV: Bool {
        let p = LinuxSys.readFile("/sys/module/kvm_amd/parameters/sev")?.trimmingCharacters(in: .whitespacesAndNewlines)
        return (p == "Y" || p == "1") && access("/dev/sev", F_OK) == 0
    }

    /// libvirt's qemuNodeGetSEVInfo: without SEV on the host, QEMU has no SEV guest capability.
    public func nodeSEVInfo(flags: UInt32) async throws -> [TypedParam] {
        if !Self.hostHasSEV {
            throw VirtError.operationUnsupported("QEMU does not support SEV guest", domain: .qemu)
        }
        // Reading the platform's certificate chain and cbitpos needs an SEV host; none is at hand to check
        // QEMU's answer against libvirt's, so this driver stops here.
        throw VirtError.operationUnsupported("reading SEV host information is not implemented", domain: .qemu)
    }

    /// Whether the host could suspend itself the ways libvirt asks (systemd-logind on a systemd host, or pm-utils'
    /// pm-is-supported). With neither, libvirt's virNodeSuspendGetTargetMask finds no target supported.
    static var hostMaySuspend: Bool {
        if access("/run/systemd/system", F_OK) == 0 { return true }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        return path.split(separator: ":").contains { access("\($0)/pm-is-supported", X_OK) == 0 }
    }

    /// libvirt's virNodeSuspend up to its target checks: flags, then the target against what the host supports.
    /// This driver never suspends the host: where a target could be supported it refuses, saying so.
    public func nodeSuspendForDuration(target: UInt32, duration: UInt64, flags: UInt32) async throws {
        if flags != 0 { throw VirtError.unsupportedFlags(UInt64(flags), function: "virNodeSuspend", domain: .none) }
        let names = ["Suspend-to-RAM", "Suspend-to-Disk", "Hybrid-Suspend"]
        guard Int(target) < names.count else { throw VirtError.invalidArg("Invalid suspend target") }
        if !Self.hostMaySuspend {
            throw VirtError(.argumentUnsupported, "argument unsupported: \(names[Int(target)])",
                            str1: names[Int(target)])
        }
        if duration < 60 { throw VirtError.invalidArg("Suspend duration is too short") }
        throw VirtError.operationUnsupported("suspending the host is not implemented by this daemon", domain: .none)
    }
}
