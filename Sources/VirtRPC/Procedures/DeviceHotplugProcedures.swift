import VirtCore

/// Devices, live and persistent (issue 11): attach, detach, update and detach by alias. The drivers take the
/// domain's MODIFY job; the legacy calls without flags mean what each driver makes of them (the QEMU driver:
/// the running domain).
extension ProcedureTable {
    private static let none = XDRVoid()

    static let deviceHotplugRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainAttachDevice) { a, ctx in
            let (d, xml) = a.values
            try await ctx.driver.attachDevice(d, xml: xml, flags: nil)
            return none
        },
        .serve(RemoteCalls.domainAttachDeviceFlags) { a, ctx in
            let (d, xml, flags) = a.values
            try await ctx.driver.attachDevice(d, xml: xml, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainDetachDevice) { a, ctx in
            let (d, xml) = a.values
            try await ctx.driver.detachDevice(d, xml: xml, flags: nil)
            return none
        },
        .serve(RemoteCalls.domainDetachDeviceFlags) { a, ctx in
            let (d, xml, flags) = a.values
            try await ctx.driver.detachDevice(d, xml: xml, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainUpdateDeviceFlags) { a, ctx in
            let (d, xml, flags) = a.values
            try await ctx.driver.updateDevice(d, xml: xml, flags: flags)
            return none
        },
        .serve(RemoteCalls.domainDetachDeviceAlias) { a, ctx in
            let (d, alias, flags) = a.values
            try await ctx.driver.detachDeviceAlias(d, alias: alias, flags: flags)
            return none
        },
    ]
}
