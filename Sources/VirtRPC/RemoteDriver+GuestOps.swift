import VirtCore
#if canImport(Glibc)
import Glibc
#endif

/// The client side of the console and guest operations (`GuestOpsProcedures.swift`).
extension RemoteDriver {
    public func screenshot(_ domain: DomainRef, screen: UInt32, flags: UInt32) async throws
        -> (mime: String, stream: any ByteStream) {
        let (mime, stream) = try await openStreamWithReply(RemoteCalls.domainScreenshot, XDRTuple3(domain, screen, flags))
        return (mime ?? "", stream)
    }

    /// The descriptor arrives after the reply (REPLY_WITH_FDS); libvirt's client wants exactly one.
    public func openGraphicsFD(_ domain: DomainRef, index: UInt32, flags: UInt32) async throws -> Int32 {
        await awaitRegistration()
        let (_, fds) = try await client.callReceivingFDs(RemoteCalls.domainOpenGraphicsFD,
                                                         XDRTuple3(domain, index, flags))
        guard fds.count == 1, let fd = fds.first else {
            for fd in fds { Glibc.close(fd) }
            throw VirtError(.internalError, domain: .rpc, "internal error: no file descriptor received",
                            str1: "no file descriptor received")
        }
        return fd
    }

    public func sendKey(_ domain: DomainRef, codeset: UInt32, holdtime: UInt32, keycodes: [UInt32], flags: UInt32)
        async throws {
        // libvirt's public API checks before the call goes out.
        if keycodes.isEmpty {
            throw VirtError(.invalidArg, domain: .domain,
                            "invalid argument: nkeycodes in virDomainSendKey must be greater than zero",
                            str1: "nkeycodes in virDomainSendKey must be greater than zero")
        }
        if keycodes.count > KeycodeSet.maxKeys {
            throw VirtError(.invalidArg, domain: .domain, "invalid argument: nkeycodes must be <= \(KeycodeSet.maxKeys)",
                            str1: "nkeycodes must be <= \(KeycodeSet.maxKeys)")
        }
        _ = try await call(RemoteCalls.domainSendKey,
                           XDRTuple5(domain, codeset, holdtime, XDRList(keycodes), flags))
    }

    public func coreDump(_ domain: DomainRef, to path: String, format: UInt32?, flags: UInt32) async throws {
        try CoreDump.check(format: format, flags: flags)
        if let format {
            _ = try await call(RemoteCalls.domainCoreDumpWithFormat, XDRTuple4(domain, path, format, flags))
        } else {
            _ = try await call(RemoteCalls.domainCoreDump, XDRTuple3(domain, path, flags))
        }
    }

    public func iothreadInfo(_ domain: DomainRef, flags: UInt32) async throws -> [IOThreadInfo] {
        try await call(RemoteCalls.domainGetIOThreadInfo, XDRTuple2(domain, flags)).values.0.items
    }
}

/// Calls that pass descriptors to the daemon (CALL_WITH_FDS).
extension RemoteDriver {
    /// libvirt's public API asks the daemon before it passes descriptors.
    private func requireFDPassing() async throws {
        guard try await call(RemoteCalls.connectSupportsFeature, DriverFeature.fdPassing.rawValue) != 0 else {
            throw VirtError(.argumentUnsupported, domain: .domain,
                            "argument unsupported: fd passing is not supported by this connection",
                            str1: "fd passing is not supported by this connection")
        }
    }

    /// The daemon ties the descriptors to this connection (`owner` is its own notion).
    public func associateFDs(_ domain: DomainRef, name: String, fds: [Int32], flags: UInt32, owner: UInt64)
        async throws {
        await awaitRegistration()
        try await requireFDPassing()
        _ = try await client.callSendingFDs(RemoteCalls.domainFDAssociate, XDRTuple3(domain, name, flags), fds: fds)
    }

    public func backupBegin(_ domain: DomainRef, backupXML: String, checkpointXML: String?, flags: UInt32)
        async throws {
        _ = try await call(RemoteCalls.domainBackupBegin, XDRTuple4(domain, backupXML, checkpointXML, flags))
    }

    public func backupXML(_ domain: DomainRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.domainBackupGetXMLDesc, XDRTuple2(domain, flags))
    }

    public func openGraphics(_ domain: DomainRef, index: UInt32, fd: Int32, flags: UInt32) async throws {
        await awaitRegistration()
        try await requireFDPassing()
        _ = try await client.callSendingFDs(RemoteCalls.domainOpenGraphics, XDRTuple3(domain, index, flags), fds: [fd])
    }
}
