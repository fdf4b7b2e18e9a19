/// libvirt's key code sets (`virKeycodeSet`, the codeset argument of `virDomainSendKey`), with their names as
/// virsh's `send-key --codeset` accepts them, name lookup (linux, os_x and win32 have names) and translation
/// between sets through the one table of keys (`KeycodeTable.swift`), as libvirt's virkeycode.c does.
public enum KeycodeSet: Int32, Sendable, CaseIterable {
    case linux = 0, xt, atset1, atset2, atset3, osx, xtKbd, usb, win32, qnum

    /// The most keys one `virDomainSendKey` call sends (VIR_DOMAIN_SEND_KEY_MAX_KEYS).
    public static let maxKeys = 16

    /// The name virsh and libvirt's error messages use.
    public var name: String {
        ["linux", "xt", "atset1", "atset2", "atset3", "os_x", "xt_kbd", "usb", "win32", "qnum"][Int(rawValue)]
    }

    /// The set of a name (`rfb` is not one of them in libvirt 9.0: virsh refuses it as "unknown codeset").
    public init?(name: String) {
        guard let s = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = s
    }

    /// The values of this set, one per key of the table (XT is AT set 1: libvirt's "included by mistake").
    var values: [UInt16] {
        switch self {
        case .linux: Self.linuxCodes
        case .xt, .atset1: Self.atset1Codes
        case .atset2: Self.atset2Codes
        case .atset3: Self.atset3Codes
        case .osx: Self.osxCodes
        case .xtKbd: Self.xtkbdCodes
        case .usb: Self.usbCodes
        case .win32: Self.win32Codes
        case .qnum: Self.qnumCodes
        }
    }

    var names: [String?]? {
        switch self {
        case .linux: Self.linuxNames
        case .osx: Self.osxNames
        case .win32: Self.win32Names
        default: nil
        }
    }

    /// The value of a key name of this set (`KEY_A` in linux, `VK_A` in win32, `ANSI_A` in os_x), as
    /// `virKeycodeValueFromString`.
    public func value(named name: String) -> UInt32? {
        guard let names, let i = names.firstIndex(where: { $0 == name }) else { return nil }
        return UInt32(values[i])
    }

    /// `value` of this set translated to `target` (`virKeycodeValueTranslate`): the first key with that value.
    public func translate(_ value: UInt32, to target: KeycodeSet) -> UInt32? {
        guard let i = values.firstIndex(where: { UInt32($0) == value }) else { return nil }
        return UInt32(target.values[i])
    }
}
