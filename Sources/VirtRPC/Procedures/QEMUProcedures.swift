import VirtCore

/// The QEMU program (`qemu_protocol.x`, 0x20008087).
extension ProcedureTable {
    static let qemuRows: [ServedProcedure] = [
        .serve(RemoteCalls.qemuDomainMonitorCommand) { a, ctx in
            let (d, command, flags) = a.values
            return try await ctx.driver.qemuMonitorCommand(d, command: command, flags: flags)
        },
        // The reply carries descriptors too (none today, as libvirt's QEMU driver returns none).
        .serve(RemoteCalls.qemuDomainMonitorCommandWithFiles) { a, ctx in
            let (d, command, flags) = a.values
            return try await ctx.driver.qemuMonitorCommand(d, command: command, fds: ctx.fds, flags: flags)
        }.withFDs(),
        .serve(RemoteCalls.qemuDomainAgentCommand) { a, ctx in
            let (d, command, timeout, flags) = a.values
            return try await ctx.driver.qemuAgentCommand(d, command: command, timeout: timeout, flags: flags)
        },
    ]
}
