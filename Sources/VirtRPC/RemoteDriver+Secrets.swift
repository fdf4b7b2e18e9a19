import VirtCore

/// The remote driver is also the connection's secret driver: every call goes to the daemon.
extension RemoteDriver: SecretDriver {
    public func numOfSecrets() async throws -> Int32 { try await call(RemoteCalls.connectNumOfSecrets) }

    public func listSecretUUIDs(max: Int32) async throws -> [String] {
        try await call(RemoteCalls.connectListSecrets, max).items
    }

    public func listAllSecrets(flags: UInt32) async throws -> [SecretRef] {
        try await call(RemoteCalls.connectListAllSecrets, XDRTuple2(1, flags)).items
    }

    public func lookupSecret(uuid: VirtUUID) async throws -> SecretRef {
        try await call(RemoteCalls.secretLookupByUUID, uuid)
    }

    public func lookupSecret(usageType: Int32, usageID: String) async throws -> SecretRef {
        try await call(RemoteCalls.secretLookupByUsage, XDRTuple2(usageType, usageID))
    }

    public func defineSecret(xml: String, flags: UInt32) async throws -> SecretRef {
        try await call(RemoteCalls.secretDefineXML, XDRTuple2(xml, flags))
    }

    public func secretXML(_ secret: SecretRef, flags: UInt32) async throws -> String {
        try await call(RemoteCalls.secretGetXMLDesc, XDRTuple2(secret, flags))
    }

    public func setSecretValue(_ secret: SecretRef, value: [UInt8], flags: UInt32) async throws {
        _ = try await call(RemoteCalls.secretSetValue, XDRTuple3(secret, XDROpaque(value), flags))
    }

    public func secretValue(_ secret: SecretRef, flags: UInt32, internalCall: Bool) async throws -> [UInt8] {
        try await call(RemoteCalls.secretGetValue, XDRTuple2(secret, flags)).bytes
    }

    public func undefineSecret(_ secret: SecretRef) async throws {
        _ = try await call(RemoteCalls.secretUndefine, secret)
    }

    /// Secret events; the daemon is asked for them by ``registerSecretEvents()``.
    public func secretEvents() -> AsyncStream<SecretEventRecord> { secretBus.subscribe() }

    /// Registers callbacks for both secret events with the daemon, once per connection.
    public func registerSecretEvents() async throws {
        try await registerOnce(secretEventsRegistered) {
            for id: Int32 in [0, 1] {
                _ = try await call(RemoteCalls.connectSecretEventRegisterAny, XDRTuple2(id, SecretRef?.none))
            }
        }
    }
}
