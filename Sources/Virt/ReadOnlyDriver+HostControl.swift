import VirtCore

/// On a read-only connection the compression cache size can be read; block thresholds, the dirty rate
/// calculation, the agent timeout, the cache size, launch secrets, SEV information and host suspend are refused,
/// as libvirt's public API refuses them.
extension ReadOnlyDriver {
    public func setBlockThreshold(_ domain: DomainRef, dev: String, threshold: UInt64, flags: UInt32) async throws {
        throw Self.denied("virDomainSetBlockThreshold")
    }
    public func startDirtyRateCalc(_ domain: DomainRef, seconds: Int32, flags: UInt32) async throws {
        throw Self.denied("virDomainStartDirtyRateCalc")
    }
    public func agentSetResponseTimeout(_ domain: DomainRef, timeout: Int32, flags: UInt32) async throws {
        throw Self.denied("virDomainAgentSetResponseTimeout")
    }
    public func migrateCompressionCache(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        try await base.migrateCompressionCache(domain, flags: flags)
    }
    public func setMigrateCompressionCache(_ domain: DomainRef, size: UInt64, flags: UInt32) async throws {
        throw Self.denied("virDomainMigrateSetCompressionCache")
    }
    public func setLaunchSecurityState(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        throw Self.denied("virDomainSetLaunchSecurityState")
    }
    public func nodeSEVInfo(flags: UInt32) async throws -> [TypedParam] {
        throw Self.denied("virNodeGetSEVInfo")
    }
    public func nodeSuspendForDuration(target: UInt32, duration: UInt64, flags: UInt32) async throws {
        throw Self.denied("virNodeSuspendForDuration")
    }
}
