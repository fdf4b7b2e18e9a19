/// A handle on one secret of a connection, as libvirt's `virSecretPtr`.
public struct Secret: Sendable, Hashable {
    public let connection: Connection
    public let ref: SecretRef

    public init(connection: Connection, ref: SecretRef) {
        self.connection = connection
        self.ref = ref
    }

    public static func == (a: Secret, b: Secret) -> Bool { a.connection === b.connection && a.ref == b.ref }
    public func hash(into h: inout Hasher) { h.combine(ref) }

    public var uuid: VirtUUID { ref.uuid }
    /// `virSecretUsageType`.
    public var usageType: Int32 { ref.usageType }
    public var usageID: String { ref.usageID }

    /// The definition's XML (`virSecretGetXMLDesc`).
    public func xmlDesc(flags: UInt32 = 0) async throws -> String {
        try await connection.secretDriver("virSecretGetXMLDesc").secretXML(ref, flags: flags)
    }

    /// Sets the value (`virSecretSetValue`).
    public func setValue(_ value: [UInt8], flags: UInt32 = 0) async throws {
        if connection.isReadOnly { throw ReadOnlyDriver.denied("virSecretSetValue") }
        if value.isEmpty { throw VirtError(.invalidArg, domain: .secret, "value in virSecretSetValue must not be NULL") }
        try await connection.secretDriver("virSecretSetValue").setSecretValue(ref, value: value, flags: flags)
    }

    /// The value (`virSecretGetValue`); private secrets refuse.
    public func value(flags: UInt32 = 0) async throws -> [UInt8] {
        if connection.isReadOnly { throw ReadOnlyDriver.denied("virSecretGetValue") }
        return try await connection.secretDriver("virSecretGetValue").secretValue(ref, flags: flags, internalCall: false)
    }

    /// Removes the secret and its value (`virSecretUndefine`).
    public func undefine() async throws {
        if connection.isReadOnly { throw ReadOnlyDriver.denied("virSecretUndefine") }
        try await connection.secretDriver("virSecretUndefine").undefineSecret(ref)
    }
}

extension Connection {
    /// This connection's secret driver, or NO_SUPPORT naming `api` when it has none (libvirt's test driver has none).
    func secretDriver(_ api: String) throws -> any SecretDriver {
        guard let s = driver as? any SecretDriver else { throw VirtError.noSupport(api) }
        return s
    }

    public func numOfSecrets() async throws -> Int32 {
        try await secretDriver("virConnectNumOfSecrets").numOfSecrets()
    }

    /// UUIDs of at most `max` secrets (`virConnectListSecrets`).
    public func listSecretUUIDs(max: Int32 = 16384) async throws -> [String] {
        try await secretDriver("virConnectListSecrets").listSecretUUIDs(max: max)
    }

    /// Every secret passing `flags` (`virConnectListAllSecrets`).
    public func listAllSecrets(flags: SecretListFlags = []) async throws -> [Secret] {
        try await secretDriver("virConnectListAllSecrets").listAllSecrets(flags: flags.rawValue)
            .map { Secret(connection: self, ref: $0) }
    }

    public func lookupSecret(uuid: VirtUUID) async throws -> Secret {
        Secret(connection: self, ref: try await secretDriver("virSecretLookupByUUID").lookupSecret(uuid: uuid))
    }

    /// The secret of a UUID string, with libvirt's error for a malformed one.
    public func lookupSecret(uuidString: String) async throws -> Secret {
        guard let u = VirtUUID(string: uuidString) else {
            // libvirt reports this one (virReportInvalidArg) without the "invalid argument: " prefix.
            throw VirtError(.invalidArg, "uuidstr in virSecretLookupByUUIDString must be a valid UUID")
        }
        return try await lookupSecret(uuid: u)
    }

    public func lookupSecret(usageType: Int32, usageID: String) async throws -> Secret {
        Secret(connection: self, ref: try await secretDriver("virSecretLookupByUsage")
            .lookupSecret(usageType: usageType, usageID: usageID))
    }

    /// Defines (or redefines) a secret from its XML (`virSecretDefineXML`).
    public func defineSecret(xml: String, flags: UInt32 = 0) async throws -> Secret {
        if isReadOnly { throw ReadOnlyDriver.denied("virSecretDefineXML") }
        return Secret(connection: self, ref: try await secretDriver("virSecretDefineXML").defineSecret(xml: xml, flags: flags))
    }

    /// Secret events from now on (`virConnectSecretEventRegisterAny` for both event ids).
    public func secretEvents() async throws -> AsyncStream<SecretEventRecord> {
        let s = try secretDriver("virConnectSecretEventRegisterAny")
        let stream = s.secretEvents()
        try await s.registerSecretEvents()
        return stream
    }
}
