import VirtCore

/// Block write thresholds, the dirty page rate calculation, the guest agent's response timeout, the migration
/// compression cache and SEV launch secrets of a domain.
extension Domain {
    /// `virDomainSetBlockThreshold`: BLOCK_THRESHOLD fires once the guest writes past `threshold` bytes of `dev`
    /// (a target such as `vda`, or `vda[N]` for the image with index N of its chain).
    public func setBlockThreshold(dev: String, threshold: UInt64, flags: UInt32 = 0) async throws {
        try await connection.driver.setBlockThreshold(ref, dev: dev, threshold: threshold, flags: flags)
    }

    /// `virDomainStartDirtyRateCalc` (flags: 0 page sampling, 1 dirty bitmap, 2 dirty ring); the result shows in
    /// the dirtyrate stats group.
    public func startDirtyRateCalc(seconds: Int32, flags: UInt32 = 0) async throws {
        try await connection.driver.startDirtyRateCalc(ref, seconds: seconds, flags: flags)
    }

    /// `virDomainAgentSetResponseTimeout`: seconds, or -2 block, -1 default, 0 no wait.
    public func agentSetResponseTimeout(_ timeout: Int32, flags: UInt32 = 0) async throws {
        try await connection.driver.agentSetResponseTimeout(ref, timeout: timeout, flags: flags)
    }

    /// `virDomainMigrateGetCompressionCache`: the XBZRLE cache size in bytes.
    public func migrateCompressionCache(flags: UInt32 = 0) async throws -> UInt64 {
        try await connection.driver.migrateCompressionCache(ref, flags: flags)
    }

    /// `virDomainMigrateSetCompressionCache`.
    public func setMigrateCompressionCache(_ size: UInt64, flags: UInt32 = 0) async throws {
        try await connection.driver.setMigrateCompressionCache(ref, size: size, flags: flags)
    }

    /// `virDomainSetLaunchSecurityState`: `sev-secret-header`, `sev-secret` (base64 strings) and
    /// `sev-secret-set-address`.
    public func setLaunchSecurityState(_ params: [TypedParam], flags: UInt32 = 0) async throws {
        try await connection.driver.setLaunchSecurityState(ref, params: params, flags: flags)
    }
}

extension Connection {
    /// `virNodeGetSEVInfo`; string parameters are understood (VIR_TYPED_PARAM_STRING_OKAY).
    public func nodeSEVInfo(flags: UInt32 = 0) async throws -> [TypedParam] {
        try await driver.nodeSEVInfo(flags: flags | 4)
    }

    /// `virNodeSuspendForDuration`: `target` 0 mem, 1 disk, 2 hybrid; `duration` in seconds.
    public func nodeSuspendForDuration(target: UInt32, duration: UInt64, flags: UInt32 = 0) async throws {
        try await driver.nodeSuspendForDuration(target: target, duration: duration, flags: flags)
    }
}
