import VirtCore

/// Calls whose descriptors come with them (CALL_WITH_FDS, read by ServerDescriptorReader): the row gets them
/// in `ctx.fds`, and the dispatcher closes them after it (the driver keeps duplicates of what it needs).
extension ProcedureTable {
    static let fdPassingRows: [ServedProcedure] = [
        .serve(RemoteCalls.domainBackupBegin) { a, ctx in
            let (d, backupXML, checkpointXML, flags) = a.values
            try await ctx.driver.backupBegin(d, backupXML: backupXML, checkpointXML: checkpointXML, flags: flags)
            return XDRVoid()
        },
        .serve(RemoteCalls.domainBackupGetXMLDesc) { a, ctx in
            let (d, flags) = a.values
            return try await ctx.driver.backupXML(d, flags: flags)
        },
        .serve(RemoteCalls.domainFDAssociate) { a, ctx in
            let (d, name, flags) = a.values
            // libvirt's daemon hands the driver whatever came; its QEMU driver does nothing without descriptors.
            if ctx.fds.isEmpty { return XDRVoid() }
            try await ctx.driver.associateFDs(d, name: name, fds: ctx.fds, flags: flags, owner: ctx.session.id)
            ctx.session.state.withLock { $0.associatedFDs = true }
            return XDRVoid()
        },
        .serve(RemoteCalls.domainOpenGraphics) { a, ctx in
            let (d, index, flags) = a.values
            // libvirt's daemon takes exactly one (virNetMessageDupFD of index 0).
            guard let fd = ctx.fds.first else {
                throw VirtError(.internalError, domain: .rpc, "internal error: No FD available at slot 0",
                                str1: "No FD available at slot 0")
            }
            try await ctx.driver.openGraphics(d, index: index, fd: fd, flags: flags)
            return XDRVoid()
        },
    ]
}
