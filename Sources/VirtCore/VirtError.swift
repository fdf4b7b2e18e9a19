/// The one error type of SwiftVirt.
///
/// It carries libvirt's error number (``Code``) and error domain (``ErrorDomain``) so that it can cross the
/// remote protocol unchanged, a human-readable message as libvirt would print it, and an optional cause.
public struct VirtError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libvirt's `virErrorNumber`, as an open set: new codes never break callers.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public var description: String { "\(rawValue)" }

        public static let ok = Code(rawValue: 0)
        public static let internalError = Code(rawValue: 1)
        public static let noMemory = Code(rawValue: 2)
        public static let noSupport = Code(rawValue: 3)
        public static let unknownHost = Code(rawValue: 4)
        public static let noConnect = Code(rawValue: 5)
        public static let invalidConn = Code(rawValue: 6)
        public static let invalidDomain = Code(rawValue: 7)
        public static let invalidArg = Code(rawValue: 8)
        public static let operationFailed = Code(rawValue: 9)
        public static let osType = Code(rawValue: 16)
        public static let noSource = Code(rawValue: 19)
        public static let noTarget = Code(rawValue: 20)
        public static let noName = Code(rawValue: 21)
        public static let noOS = Code(rawValue: 22)
        public static let noDevice = Code(rawValue: 23)
        public static let xmlError = Code(rawValue: 27)
        public static let domExist = Code(rawValue: 28)
        public static let operationDenied = Code(rawValue: 29)
        public static let openFailed = Code(rawValue: 30)
        public static let readFailed = Code(rawValue: 31)
        public static let parseFailed = Code(rawValue: 32)
        public static let confSyntax = Code(rawValue: 33)
        public static let writeFailed = Code(rawValue: 34)
        public static let xmlDetail = Code(rawValue: 35)
        public static let systemError = Code(rawValue: 38)
        public static let rpc = Code(rawValue: 39)
        public static let noDomain = Code(rawValue: 42)
        public static let noNetwork = Code(rawValue: 43)
        public static let invalidMAC = Code(rawValue: 44)
        public static let authFailed = Code(rawValue: 45)
        public static let noSecurityModel = Code(rawValue: 54)
        public static let invalidNodeDevice = Code(rawValue: 52)
        public static let noNodeDevice = Code(rawValue: 53)
        public static let operationInvalid = Code(rawValue: 55)
        public static let noInterface = Code(rawValue: 57)
        public static let invalidSecret = Code(rawValue: 65)
        public static let noSecret = Code(rawValue: 66)
        public static let configUnsupported = Code(rawValue: 67)
        public static let operationTimeout = Code(rawValue: 68)
        public static let noDomainSnapshot = Code(rawValue: 72)
        public static let invalidStream = Code(rawValue: 73)
        public static let argumentUnsupported = Code(rawValue: 74)
        public static let snapshotRevertRisky = Code(rawValue: 77)
        public static let operationAborted = Code(rawValue: 78)
        public static let authCancelled = Code(rawValue: 79)
        public static let noDomainMetadata = Code(rawValue: 80)
        public static let overflow = Code(rawValue: 82)
        public static let operationUnsupported = Code(rawValue: 84)
        public static let agentUnresponsive = Code(rawValue: 86)
        public static let resourceBusy = Code(rawValue: 87)
        public static let accessDenied = Code(rawValue: 88)
        public static let xmlInvalidSchema = Code(rawValue: 92)
        public static let migrateFinishOK = Code(rawValue: 93)
        public static let noServer = Code(rawValue: 95)
        public static let noClient = Code(rawValue: 96)
        public static let deviceMissing = Code(rawValue: 99)
        public static let noDomainCheckpoint = Code(rawValue: 103)
        public static let noDomainBackup = Code(rawValue: 104)
        public static let networkPortExist = Code(rawValue: 106)
        public static let noNetworkPort = Code(rawValue: 107)
        public static let noHostname = Code(rawValue: 108)
        public static let multipleDomains = Code(rawValue: 110)
    }

    /// libvirt's `virErrorDomain`: which part of the stack raised the error.
    public struct ErrorDomain: RawRepresentable, Hashable, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let none = ErrorDomain(rawValue: 0)
        public static let xml = ErrorDomain(rawValue: 5)
        public static let dom = ErrorDomain(rawValue: 6)
        public static let rpc = ErrorDomain(rawValue: 7)
        public static let admin = ErrorDomain(rawValue: 62)
        public static let conf = ErrorDomain(rawValue: 9)
        public static let qemu = ErrorDomain(rawValue: 10)
        public static let test = ErrorDomain(rawValue: 12)
        /// VIR_FROM_AUTH: the client's authentication callback (virauth.c).
        public static let auth = ErrorDomain(rawValue: 46)
        public static let network = ErrorDomain(rawValue: 19)
        public static let nodeDevice = ErrorDomain(rawValue: 22)
        public static let interface = ErrorDomain(rawValue: 26)
        public static let secret = ErrorDomain(rawValue: 30)
        public static let cpu = ErrorDomain(rawValue: 31)
        public static let remote = ErrorDomain(rawValue: 13)
        public static let domain = ErrorDomain(rawValue: 20)
        public static let security = ErrorDomain(rawValue: 24)
        public static let streams = ErrorDomain(rawValue: 38)
        public static let event = ErrorDomain(rawValue: 40)
        public static let access = ErrorDomain(rawValue: 55)
        public static let cgroup = ErrorDomain(rawValue: 54)
        public static let uri = ErrorDomain(rawValue: 45)
        public static let device = ErrorDomain(rawValue: 49)
        public static let tpm = ErrorDomain(rawValue: 70)
        public static let domainSnapshot = ErrorDomain(rawValue: 35)
        public static let domainCheckpoint = ErrorDomain(rawValue: 69)
    }

    /// libvirt's `virErrorLevel`.
    public enum Level: Int32, Sendable {
        case none = 0
        case warning = 1
        case error = 2
    }

    public var code: Code
    public var domain: ErrorDomain
    /// The full message, as libvirt prints it (e.g. "Domain not found: no domain with matching name 'x'").
    public var message: String
    public var level: Level
    public var str1: String?
    public var str2: String?
    public var str3: String?
    public var int1: Int32
    public var int2: Int32
    /// What caused this error, when it wraps another one (not sent on the wire).
    public var cause: String?

    public init(
        _ code: Code, domain: ErrorDomain = .none, _ message: String, level: Level = .error,
        str1: String? = nil, str2: String? = nil, str3: String? = nil, int1: Int32 = 0, int2: Int32 = 0,
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.domain = domain
        self.message = message
        self.level = level
        self.str1 = str1
        self.str2 = str2
        self.str3 = str3
        self.int1 = int1
        self.int2 = int2
        self.cause = cause.map { "\($0)" }
    }

    public var description: String {
        if let cause { return "\(message) (\(cause))" }
        return message
    }

    public static func == (a: VirtError, b: VirtError) -> Bool {
        a.code == b.code && a.domain == b.domain && a.message == b.message
    }
}

extension VirtError {
    /// libvirt's "this function is not supported by the connection driver: NAME".
    public static func noSupport(_ function: String, domain: ErrorDomain = .none) -> VirtError {
        VirtError(.noSupport, domain: domain, "this function is not supported by the connection driver: \(function)")
    }

    /// libvirt's "Domain not found" with a detail, e.g. "no domain with matching name 'x'".
    public static func noDomain(_ detail: String, domain: ErrorDomain = .none) -> VirtError {
        VirtError(.noDomain, domain: domain, "Domain not found: \(detail)", str1: detail)
    }

    public static func operationInvalid(_ detail: String, domain: ErrorDomain = .none) -> VirtError {
        VirtError(.operationInvalid, domain: domain, "Requested operation is not valid: \(detail)", str1: detail)
    }

    public static func invalidArg(_ detail: String, domain: ErrorDomain = .none) -> VirtError {
        VirtError(.invalidArg, domain: domain, "invalid argument: \(detail)", str1: detail)
    }

    /// libvirt's virCheckFlags refusal (virReportInvalidArg): no "invalid argument: " prefix; `str1` is the
    /// function, `str2` the argument's name.
    public static func unsupportedFlags(_ bad: UInt64, function: String, domain: ErrorDomain) -> VirtError {
        VirtError(.invalidArg, domain: domain, "unsupported flags (0x\(String(bad, radix: 16))) in function \(function)",
                  str1: function, str2: "flags")
    }

    public static func internalError(_ detail: String, domain: ErrorDomain = .none) -> VirtError {
        VirtError(.internalError, domain: domain, "internal error: \(detail)", str1: detail)
    }

    public static func operationFailed(_ detail: String, domain: ErrorDomain = .none) -> VirtError {
        VirtError(.operationFailed, domain: domain, "operation failed: \(detail)", str1: detail)
    }

    /// libvirt's "Operation not supported: …" (VIR_ERR_OPERATION_UNSUPPORTED).
    public static func operationUnsupported(_ detail: String, domain: ErrorDomain = .qemu) -> VirtError {
        VirtError(.operationUnsupported, domain: domain, "Operation not supported: \(detail)", str1: detail)
    }

    public static func configUnsupported(_ detail: String, domain: ErrorDomain = .none) -> VirtError {
        VirtError(.configUnsupported, domain: domain, "unsupported configuration: \(detail)", str1: detail)
    }

    public static func xmlDetail(_ detail: String, domain: ErrorDomain = .domain) -> VirtError {
        VirtError(.xmlDetail, domain: domain, "XML error: \(detail)", str1: detail)
    }

    public static func systemError(_ detail: String, errno: Int32, domain: ErrorDomain = .none) -> VirtError {
        VirtError(.systemError, domain: domain, "\(detail): \(String(cString: strerror(errno)))", int1: errno)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
