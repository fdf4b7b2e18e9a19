import VirtCore

/// The QEMU program (`qemu_protocol.x`, 0x20008087).
extension ProcedureTable {
    static let qemuRows: [ServedProcedure] = [
        .serve(RemoteCalls.qemuDomainMonitorCommand) { a, ctx in
            let (d, command, flags) = a.values
            return try await ctx.driver.qemuMonitorCommand(d, command: command, flags: flags)
        },
        .serve(RemoteCalls.qemuDomainAgentCommand) { a, ctx in
            let (d, command, timeout, flags) = a.values
            return try await ctx.driver.qemuAgentCommand(d, command: command, timeout: timeout, flags: flags)
        },
    ]
}
