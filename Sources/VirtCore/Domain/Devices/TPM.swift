/// `<tpm model='…'>`.
public enum TPMModel: String, XMLEnum {
    case tis = "tpm-tis", crb = "tpm-crb", spapr = "tpm-spapr", spaprProxy = "spapr-tpm-proxy"
}

/// `<backend version='…'>` of an emulated TPM.
public enum TPMVersion: String, XMLEnum {
    case v1_2 = "1.2", v2_0 = "2.0"
}

/// The TPM backend.
public enum TPMBackend: Sendable, Hashable {
    /// `<backend type='passthrough'><device path='…'/></backend>`.
    case passthrough(path: String?)
    /// `<backend type='emulator'>` run by swtpm.
    case emulator(TPMEmulator)
    /// `<backend type='external'><source type='unix' path='…'/></backend>`.
    case external(path: String?)
}

/// Settings of an swtpm-emulated TPM.
public struct TPMEmulator: Sendable, Hashable {
    public var version: TPMVersion?
    public var persistentState: Bool?
    /// `<encryption secret='UUID'/>`.
    public var encryptionSecret: String?
    /// `<active_pcr_banks>`: sha1, sha256, sha384, sha512 in libvirt's order.
    public var activePCRBanks: [String]?
    public var debug: UInt32?
    public init() {}
}

/// A `<tpm>` device.
public struct TPM: Sendable, Hashable {
    public var model: TPMModel?
    public var backend: TPMBackend
    public var info: DeviceInfo

    public init(model: TPMModel? = nil, backend: TPMBackend, info: DeviceInfo = DeviceInfo()) {
        self.model = model
        self.backend = backend
        self.info = info
    }

    static let pcrBanks = ["sha1", "sha256", "sha384", "sha512"]

    static func parse(_ el: XMLElement, options: DomainParseOptions) throws(VirtError) -> TPM {
        let model: TPMModel? = try el.enumValue("model")
        guard let b = el.child("backend") else { throw DeviceError.xml("missing TPM device backend") }
        guard let t = b.attr("type") else { throw DeviceError.xml("missing TPM device backend type") }
        let backend: TPMBackend
        switch t {
        case "passthrough":
            backend = .passthrough(path: b.child("device")?.attr("path") ?? "/dev/tpm0")
        case "emulator":
            var e = TPMEmulator()
            e.version = try b.enumValue("version")
            e.persistentState = try b.yesNoAttr("persistent_state")
            e.debug = try b.uintValue("debug")
            if let enc = b.child("encryption") {
                guard let s = enc.attr("secret") else {
                    throw DeviceError.xml("missing secret uuid for TPM encryption")
                }
                e.encryptionSecret = s
            }
            if let banks = b.child("active_pcr_banks") {
                var list: [String] = []
                for k in banks.elements {
                    guard pcrBanks.contains(k.name) else {
                        throw DeviceError.unsupported("Unsupported PCR banks '\(k.name)'")
                    }
                    list.append(k.name)
                }
                e.activePCRBanks = pcrBanks.filter { list.contains($0) }
            }
            backend = .emulator(e)
        case "external":
            backend = .external(path: b.child("source")?.attr("path"))
        default:
            throw DeviceError.invalidValue("type", "backend", t)
        }
        return TPM(model: model, backend: backend, info: try DeviceInfo.parse(el, options: options))
    }

    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        w.element("tpm", [("model", model?.rawValue)]) { w in
            switch backend {
            case .passthrough(let p):
                w.element("backend", [("type", "passthrough")]) { w in
                    w.empty("device", [("path", p)])
                }
            case .emulator(let e):
                w.element("backend", [("type", "emulator"), ("version", e.version?.rawValue),
                                      ("persistent_state", e.persistentState.yesNo), ("debug", e.debug.text)]) { w in
                    if let s = e.encryptionSecret { w.empty("encryption", [("secret", s)]) }
                    if let banks = e.activePCRBanks {
                        w.element("active_pcr_banks") { w in for b in banks { w.empty(b) } }
                    }
                }
            case .external(let p):
                w.element("backend", [("type", "external")]) { w in
                    w.empty("source", [("type", "unix"), ("mode", "connect"), ("path", p)])
                }
            }
            info.format(into: &w, options: options)
        }
    }
}
