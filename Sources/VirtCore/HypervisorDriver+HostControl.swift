/// Defaults (NO_SUPPORT naming libvirt's API) of the block threshold, dirty rate, agent timeout, migration
/// compression cache, SEV and host suspend operations; libvirt 9.0's test driver implements none of them.
extension HypervisorDriver {
    public func setBlockThreshold(_ domain: DomainRef, dev: String, threshold: UInt64, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetBlockThreshold", domain: .domain)
    }
    public func startDirtyRateCalc(_ domain: DomainRef, seconds: Int32, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainStartDirtyRateCalc", domain: .domain)
    }
    public func agentSetResponseTimeout(_ domain: DomainRef, timeout: Int32, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainAgentSetResponseTimeout", domain: .domain)
    }
    public func migrateCompressionCache(_ domain: DomainRef, flags: UInt32) async throws -> UInt64 {
        throw VirtError.noSupport("virDomainMigrateGetCompressionCache", domain: .domain)
    }
    public func setMigrateCompressionCache(_ domain: DomainRef, size: UInt64, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainMigrateSetCompressionCache", domain: .domain)
    }
    public func setLaunchSecurityState(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetLaunchSecurityState", domain: .domain)
    }
    public func nodeSEVInfo(flags: UInt32) async throws -> [TypedParam] {
        throw VirtError.noSupport("virNodeGetSEVInfo", domain: .domain)
    }
    public func nodeSuspendForDuration(target: UInt32, duration: UInt64, flags: UInt32) async throws {
        throw VirtError.noSupport("virNodeSuspendForDuration", domain: .domain)
    }
}
