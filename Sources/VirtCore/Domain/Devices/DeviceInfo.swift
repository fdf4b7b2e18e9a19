/// What every device may carry besides its own settings: address, alias, boot order, ROM and ACPI index
/// (libvirt's `virDomainDeviceInfo`).
public struct DeviceInfo: Sendable, Hashable {
    public var address: DeviceAddress?
    /// `<alias name='…'/>`. Aliases starting with `ua-` are user aliases and are kept in the persistent
    /// definition; others are live-only.
    public var alias: String?
    /// `<boot order='N'/>`.
    public var bootOrder: UInt32?
    /// `<boot loadparm='…'/>`.
    public var bootLoadParm: String?
    /// `<acpi index='N'/>`.
    public var acpiIndex: UInt32?
    /// `<rom bar='on|off' file='…' enabled='yes|no'/>`.
    public var romBar: Bool?
    public var romFile: String?
    public var romEnabled: Bool?
    /// `<master startport='N'/>` of USB companion controllers.
    public var usbMasterStartPort: UInt32?

    public init(address: DeviceAddress? = nil, alias: String? = nil, bootOrder: UInt32? = nil) {
        self.address = address
        self.alias = alias
        self.bootOrder = bootOrder
    }

    /// Whether the alias is a user alias (`ua-` prefix), kept in inactive XML.
    public var hasUserAlias: Bool { alias?.hasPrefix("ua-") ?? false }

    /// Reads the common children of a device element.
    static func parse(_ el: XMLElement, options: DomainParseOptions, allowBoot: Bool = false)
        throws(VirtError) -> DeviceInfo {
        var info = DeviceInfo()
        if let a = el.child("address") { info.address = try DeviceAddress.parse(a) }
        if let a = el.child("alias"), let name = a.attr("name") {
            if options.live || name.hasPrefix("ua-") { info.alias = name }
        }
        if allowBoot, let b = el.child("boot") {
            guard b.attr("order") != nil else { throw DeviceError.missingAttr("order", "boot") }
            info.bootOrder = try b.uintValue("order", nonZero: true)
            info.bootLoadParm = b.attr("loadparm")
        }
        if let m = el.child("master") { info.usbMasterStartPort = try m.uintValue("startport") }
        if let a = el.child("acpi") { info.acpiIndex = try a.uintValue("index") }
        if let r = el.child("rom") {
            info.romBar = try r.onOffAttr("bar")
            info.romFile = r.attr("file")
            info.romEnabled = try r.yesNoAttr("enabled")
        }
        return info
    }

    /// Writes boot, alias, rom, acpi and address in libvirt's order.
    func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        if let o = bootOrder { w.empty("boot", [("order", String(o)), ("loadparm", bootLoadParm)]) }
        if let alias, !options.inactive || options.runtimeDetails || hasUserAlias { w.empty("alias", [("name", alias)]) }
        if let p = usbMasterStartPort { w.empty("master", [("startport", String(p))]) }
        if romBar != nil || romFile != nil || romEnabled != nil {
            w.empty("rom", [("enabled", romEnabled.yesNo), ("bar", romBar.onOff), ("file", romFile)])
        }
        if let acpiIndex { w.empty("acpi", [("index", String(acpiIndex))]) }
        address?.format(into: &w)
    }
}
