import VirtCore

/// The host: hypervisor and node information, capabilities.
extension ProcedureTable {
    static let hostRows: [ServedProcedure] = [
        .serve(RemoteCalls.connectGetType) { _, ctx in try await ctx.driver.hypervisorType() },
        .serve(RemoteCalls.connectGetVersion) { _, ctx in try await ctx.driver.hypervisorVersion() },
        .serve(RemoteCalls.connectGetLibVersion) { _, ctx in ctx.server.config.libraryVersion },
        .serve(RemoteCalls.connectGetHostname) { _, ctx in try await ctx.driver.hostname() },
        .serve(RemoteCalls.connectGetURI) { _, ctx in ctx.driver.uri },
        .serve(RemoteCalls.connectGetCapabilities) { _, ctx in try await ctx.driver.capabilities() },
        .serve(RemoteCalls.connectGetDomainCapabilities) { a, ctx in
            let (emulator, arch, machine, virtType, flags) = a.values
            return try await ctx.driver.domainCapabilities(emulator: emulator, arch: arch, machine: machine,
                                                           virtType: virtType, flags: flags)
        },
        .serve(RemoteCalls.connectGetMaxVcpus) { type, ctx in try await ctx.driver.maxVcpus(type: type) },
        .serve(RemoteCalls.nodeGetInfo) { _, ctx in try await ctx.driver.nodeInfo() },
        .serve(RemoteCalls.nodeGetFreeMemory) { _, ctx in try await ctx.driver.nodeFreeMemory() },
        .serve(RemoteCalls.connectIsSecure) { _, ctx in try await ctx.driver.isSecure() ? 1 : 0 },
        .serve(RemoteCalls.nodeGetSecurityModel) { _, ctx in try await ctx.driver.securityModel() },
    ]
}
