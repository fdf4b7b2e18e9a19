/// libvirt's storage error numbers and domain (VIR_FROM_STORAGE), kept apart from `VirtError.swift`.
extension VirtError.Code {
    public static let invalidStoragePool = VirtError.Code(rawValue: 46)
    public static let invalidStorageVol = VirtError.Code(rawValue: 47)
    public static let noStoragePool = VirtError.Code(rawValue: 49)
    public static let noStorageVol = VirtError.Code(rawValue: 50)
    public static let storageVolExist = VirtError.Code(rawValue: 90)
}

extension VirtError.ErrorDomain {
    /// `VIR_FROM_STORAGE`.
    public static let storage = VirtError.ErrorDomain(rawValue: 18)
}

/// The storage subsystem's errors in libvirt's words.
public enum StorageErrors {
    /// VIR_ERR_XML_ERROR from the storage XML parsers.
    public static func xml(_ detail: String) -> VirtError {
        VirtError(.xmlError, domain: .storage, "XML error: \(detail)", str1: detail)
    }

    public static func unsupported(_ detail: String) -> VirtError {
        VirtError.configUnsupported(detail, domain: .storage)
    }

    public static func internalError(_ detail: String) -> VirtError {
        VirtError.internalError(detail, domain: .storage)
    }

    /// "Storage pool not found: …" (VIR_ERR_NO_STORAGE_POOL).
    public static func noPool(_ detail: String, domain: VirtError.ErrorDomain = .storage) -> VirtError {
        VirtError(.noStoragePool, domain: domain, "Storage pool not found: \(detail)", str1: detail)
    }

    public static func noPool(name: String, domain: VirtError.ErrorDomain = .storage) -> VirtError {
        noPool("no storage pool with matching name '\(name)'", domain: domain)
    }

    public static func noPool(uuid: VirtUUID, domain: VirtError.ErrorDomain = .storage) -> VirtError {
        noPool("no storage pool with matching uuid '\(uuid)'", domain: domain)
    }

    /// "Storage volume not found: …" (VIR_ERR_NO_STORAGE_VOL).
    public static func noVolume(_ detail: String, domain: VirtError.ErrorDomain = .storage) -> VirtError {
        VirtError(.noStorageVol, domain: domain, "Storage volume not found: \(detail)", str1: detail)
    }

    public static func operationInvalid(_ detail: String, domain: VirtError.ErrorDomain = .storage) -> VirtError {
        VirtError.operationInvalid(detail, domain: domain)
    }
}
