/// How a secret is named across the API and the wire: libvirt's `remote_nonnull_secret`.
public struct SecretRef: Sendable, Hashable, CustomStringConvertible {
    public var uuid: VirtUUID
    /// `virSecretUsageType`.
    public var usageType: Int32
    public var usageID: String

    public init(uuid: VirtUUID, usageType: Int32, usageID: String) {
        self.uuid = uuid
        self.usageType = usageType
        self.usageID = usageID
    }

    public init(_ def: SecretDefinition) {
        self.init(uuid: def.uuid, usageType: def.usage.type, usageID: def.usage.id)
    }

    public var description: String { uuid.description }
}

/// `virSecretEventID` and the events' payloads.
public struct SecretEventRecord: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// `virSecretEventLifecycleType`: 0 defined, 1 undefined; detail 0.
        case lifecycle(event: Int32, detail: Int32)
        case valueChanged
    }

    public var secret: SecretRef
    public var kind: Kind

    public init(secret: SecretRef, kind: Kind) {
        self.secret = secret
        self.kind = kind
    }

    /// `VIR_SECRET_EVENT_ID_LIFECYCLE` 0, `VIR_SECRET_EVENT_ID_VALUE_CHANGED` 1.
    public var eventID: Int32 {
        switch kind {
        case .lifecycle: 0
        case .valueChanged: 1
        }
    }

    public static let defined: Int32 = 0
    public static let undefined: Int32 = 1
}

/// `virConnectListAllSecretsFlags`.
public struct SecretListFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let ephemeral = SecretListFlags(rawValue: 1)
    public static let noEphemeral = SecretListFlags(rawValue: 2)
    public static let `private` = SecretListFlags(rawValue: 4)
    public static let noPrivate = SecretListFlags(rawValue: 8)

    /// Whether `def` passes the filters, as libvirt's `virSecretObjMatch`.
    public func matches(_ def: SecretDefinition) -> Bool {
        if !isDisjoint(with: [.ephemeral, .noEphemeral])
            && !((contains(.ephemeral) && def.ephemeral) || (contains(.noEphemeral) && !def.ephemeral)) {
            return false
        }
        if !isDisjoint(with: [.private, .noPrivate])
            && !((contains(.private) && def.isPrivate) || (contains(.noPrivate) && !def.isPrivate)) {
            return false
        }
        return true
    }
}

/// libvirt's secret driver table (`virSecretDriver`): secrets and their values. A connection has one when its
/// hypervisor driver comes with one (the daemon gives its clients one shared driver, the remote driver forwards);
/// every operation defaults to NO_SUPPORT in libvirt's words.
public protocol SecretDriver: AnyObject, Sendable {
    func numOfSecrets() async throws -> Int32
    func listSecretUUIDs(max: Int32) async throws -> [String]
    func listAllSecrets(flags: UInt32) async throws -> [SecretRef]
    func lookupSecret(uuid: VirtUUID) async throws -> SecretRef
    func lookupSecret(usageType: Int32, usageID: String) async throws -> SecretRef
    func defineSecret(xml: String, flags: UInt32) async throws -> SecretRef
    func secretXML(_ secret: SecretRef, flags: UInt32) async throws -> String
    func setSecretValue(_ secret: SecretRef, value: [UInt8], flags: UInt32) async throws
    /// `internalCall`: a daemon-internal read (e.g. a hypervisor driver decrypting a disk), allowed for private
    /// secrets; clients never get that.
    func secretValue(_ secret: SecretRef, flags: UInt32, internalCall: Bool) async throws -> [UInt8]
    func undefineSecret(_ secret: SecretRef) async throws
    /// Every secret event from now on.
    func secretEvents() -> AsyncStream<SecretEventRecord>
    /// Makes sure events reach ``secretEvents()`` (a remote driver asks its daemon; a local one has nothing to do).
    func registerSecretEvents() async throws
}

extension SecretDriver {
    public func numOfSecrets() async throws -> Int32 { throw VirtError.noSupport("virConnectNumOfSecrets") }
    public func listSecretUUIDs(max: Int32) async throws -> [String] {
        throw VirtError.noSupport("virConnectListSecrets")
    }
    public func listAllSecrets(flags: UInt32) async throws -> [SecretRef] {
        throw VirtError.noSupport("virConnectListAllSecrets")
    }
    public func lookupSecret(uuid: VirtUUID) async throws -> SecretRef {
        throw VirtError.noSupport("virSecretLookupByUUID")
    }
    public func lookupSecret(usageType: Int32, usageID: String) async throws -> SecretRef {
        throw VirtError.noSupport("virSecretLookupByUsage")
    }
    public func defineSecret(xml: String, flags: UInt32) async throws -> SecretRef {
        throw VirtError.noSupport("virSecretDefineXML")
    }
    public func secretXML(_ secret: SecretRef, flags: UInt32) async throws -> String {
        throw VirtError.noSupport("virSecretGetXMLDesc")
    }
    public func setSecretValue(_ secret: SecretRef, value: [UInt8], flags: UInt32) async throws {
        throw VirtError.noSupport("virSecretSetValue")
    }
    public func secretValue(_ secret: SecretRef, flags: UInt32, internalCall: Bool) async throws -> [UInt8] {
        throw VirtError.noSupport("virSecretGetValue")
    }
    public func undefineSecret(_ secret: SecretRef) async throws {
        throw VirtError.noSupport("virSecretUndefine")
    }
    public func secretEvents() -> AsyncStream<SecretEventRecord> { AsyncStream { $0.finish() } }
    public func registerSecretEvents() async throws {}
}

extension SecretDriver {
    /// libvirt's `virSecretGetSecretString` for a volume passphrase (LUKS volumes and disks): the secret by
    /// UUID (else by its volume usage), which must be a volume secret, and its value (a private one too: the
    /// read is internal). Errors are the secret driver's (no such secret, no value) and libvirt's type check.
    public func volumePassphrase(uuid: String?, usage: String?) async throws -> [UInt8] {
        let volumeType = SecretUsage.volume("").type
        let ref: SecretRef
        if let u = uuid, let id = VirtUUID(string: u) {
            ref = try await lookupSecret(uuid: id)
        } else {
            ref = try await lookupSecret(usageType: volumeType, usageID: usage ?? "")
        }
        if ref.usageType != volumeType {
            let name = SecretUsage(type: ref.usageType, id: ref.usageID)?.typeName ?? "\(ref.usageType)"
            let detail = "secret with uuid \(ref.uuid) is of type '\(name)' not expected 'volume' type"
            throw VirtError(.invalidArg, domain: .secret, "invalid argument: " + detail, str1: detail)
        }
        return try await secretValue(ref, flags: 0, internalCall: true)
    }
}
