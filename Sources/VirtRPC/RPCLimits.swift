/// libvirt's wire limits (virnetprotocol.x, remote_protocol.x).
public enum RPCLimits {
    /// `VIR_NET_MESSAGE_MAX`: the largest packet, excluding the length word.
    public static let messageMax = 33_554_432
    /// `VIR_NET_MESSAGE_HEADER_MAX`.
    public static let headerSize = 24
    /// `VIR_NET_MESSAGE_PAYLOAD_MAX`.
    public static let payloadMax = 33_554_408
    /// `VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX`: stream chunk size.
    public static let legacyPayloadMax = 262_120
    /// `VIR_NET_MESSAGE_STRING_MAX` / `REMOTE_STRING_MAX`.
    public static let stringMax = 4_194_304
    /// `REMOTE_DOMAIN_LIST_MAX`.
    public static let domainListMax = 16_384
    /// `REMOTE_AUTH_TYPE_LIST_MAX`.
    public static let authTypeListMax = 20
    /// `REMOTE_SECURITY_MODEL_MAX` (VIR_SECURITY_MODEL_BUFLEN).
    public static let securityModelMax = 257
    /// `REMOTE_SECURITY_DOI_MAX` (VIR_SECURITY_DOI_BUFLEN).
    public static let securityDOIMax = 257
    /// `REMOTE_SECURITY_LABEL_MAX` (VIR_SECURITY_LABEL_BUFLEN).
    public static let securityLabelMax = 4097
    /// `REMOTE_DOMAIN_MESSAGES_MAX`.
    public static let domainMessagesMax = 2048
    /// `REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX`.
    public static let allDomainStatsMax = 262_144
    /// `REMOTE_DOMAIN_SAVE_PARAMS_MAX` etc.
    public static let typedParamsMax = 64
    /// `REMOTE_DOMAIN_EVENT_ID_LAST`: event ids 0..26.
    public static let eventIDCount: Int32 = 27
}
