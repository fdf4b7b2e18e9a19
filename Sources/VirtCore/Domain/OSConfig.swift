/// `<os>`: guest OS type, firmware, direct kernel boot and boot order.
public struct OSConfig: Sendable, Hashable {
    /// `<type>`: hvm, linux, xen, exe, xenpvh, uml.
    public var type: String
    /// `<type arch='…'>`.
    public var arch: String?
    /// `<type machine='…'>`.
    public var machine: String?
    /// `<os firmware='efi|bios'>` (firmware autoselection).
    public var firmware: String?
    /// `<firmware><feature enabled='yes|no' name='…'/></firmware>`, kept sorted as libvirt formats them.
    public var firmwareFeatures: [FirmwareFeature] = []
    /// `<init>` and friends, for container (`exe`) guests.
    public var initPath: String?
    public var initArgs: [String] = []
    public var initEnv: [InitEnv] = []
    public var initDir: String?
    public var initUser: String?
    public var initGroup: String?
    /// `<loader>`.
    public var loader: Loader?
    /// `<nvram>`.
    public var nvram: NVRAM?
    public var kernel: String?
    public var initrd: String?
    public var cmdline: String?
    public var dtb: String?
    /// `<root>` (the guest root device for some hypervisors).
    public var root: String?
    /// `<acpi><table type='…'>PATH</table></acpi>`.
    public var acpiTables: [ACPITable] = []
    /// `<boot dev='…'/>`, in order.
    public var bootDevices: [BootDevice] = []
    /// `<bootmenu enable='yes|no' timeout='ms'/>`.
    public var bootMenu: BootMenu?
    /// `<bios useserial='yes|no' rebootTimeout='ms'/>`.
    public var bios: BIOS?
    /// `<smbios mode='emulate|host|sysinfo'/>`.
    public var smbiosMode: SMBIOSMode?

    public init(type: String, arch: String? = nil, machine: String? = nil) {
        self.type = type
        self.arch = arch
        self.machine = machine
    }

    /// A boot device of `<boot dev='…'/>`.
    public enum BootDevice: String, Sendable, Hashable, CaseIterable {
        case floppy = "fd"
        case cdrom
        case disk = "hd"
        case network
    }

    /// `<bootmenu>`.
    public struct BootMenu: Sendable, Hashable {
        public var enable: Bool?
        /// Milliseconds.
        public var timeout: UInt32?
        public init(enable: Bool? = nil, timeout: UInt32? = nil) {
            self.enable = enable
            self.timeout = timeout
        }
    }

    /// `<bios>`.
    public struct BIOS: Sendable, Hashable {
        public var useSerial: Bool?
        /// Milliseconds, -1 to disable.
        public var rebootTimeout: Int32?
        public init(useSerial: Bool? = nil, rebootTimeout: Int32? = nil) {
            self.useSerial = useSerial
            self.rebootTimeout = rebootTimeout
        }
    }

    /// `<smbios mode>`.
    public enum SMBIOSMode: String, Sendable, Hashable {
        case emulate, host, sysinfo
    }

    /// `<loader>`.
    public struct Loader: Sendable, Hashable {
        public var path: String?
        public var readonly: Bool?
        public var secure: Bool?
        /// rom or pflash.
        public var type: String?
        public var stateless: Bool?
        /// raw or qcow2.
        public var format: String?
        public init(path: String? = nil) { self.path = path }
    }

    /// `<nvram>`.
    public struct NVRAM: Sendable, Hashable {
        public var path: String?
        public var template: String?
        public var format: String?
        /// A network or file `<source>` child (libvirt 8.5+), kept as written.
        public var source: XMLElement?
        public var type: String?
        public init(path: String? = nil) { self.path = path }
    }

    /// `<firmware><feature/></firmware>`.
    public struct FirmwareFeature: Sendable, Hashable {
        public var name: String
        public var enabled: Bool
        public init(name: String, enabled: Bool) {
            self.name = name
            self.enabled = enabled
        }
    }

    /// `<initenv name='…'>value</initenv>`.
    public struct InitEnv: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// `<acpi><table type='…'>path</table></acpi>`.
    public struct ACPITable: Sendable, Hashable {
        public var type: String
        public var path: String
        public init(type: String, path: String) {
            self.type = type
            self.path = path
        }
    }
}

extension OSConfig {
    /// `s` unless it is nil or empty (libvirt's XPath string reads give NULL for empty text).
    static func nonEmpty(_ s: String?) -> String? {
        guard let s, !s.isEmpty else { return nil }
        return s
    }

    static let knownTypes: Set<String> = ["hvm", "xen", "linux", "exe", "uml", "xenpvh"]
    static let knownArchs: Set<String> = [
        "none", "alpha", "armv6l", "armv7l", "armv7b", "aarch64", "cris", "i686", "ia64", "lm32", "loongarch64",
        "m68k", "microblaze", "microblazeel", "mips", "mipsel", "mips64", "mips64el", "openrisc", "parisc",
        "parisc64", "ppc", "ppcle", "ppc64", "ppc64le", "ppcemb", "riscv32", "riscv64", "s390", "s390x", "sh4",
        "sh4eb", "sparc", "sparc64", "unicore32", "x86_64", "xtensa", "xtensaeb",
    ]
    static let firmwareFeatureOrder = ["enrolled-keys", "secure-boot"]

    /// Reads `<os>` (and `<bootloader>` presence from the domain, which disables boot-order parsing).
    static func parse(_ os: XMLElement?, hasBootloader: Bool) throws(VirtError) -> OSConfig {
        guard let os, let typeEl = os.child("type") else {
            throw VirtError.domainXMLError("an os <type> must be specified")
        }
        let typeName = typeEl.text
        guard knownTypes.contains(typeName) else {
            throw VirtError.domainConfigUnsupported("unknown OS type '\(typeName)'")
        }
        var c = OSConfig(type: typeName, arch: typeEl.attr("arch"), machine: typeEl.attr("machine"))
        if let a = c.arch, !knownArchs.contains(a) {
            throw VirtError.domainConfigUnsupported("Unknown architecture \(a)")
        }
        if let fw = os.attr("firmware") {
            guard fw == "efi" || fw == "bios" else {
                throw VirtError.domainXMLError("unknown firmware value \(fw)")
            }
            c.firmware = fw
        }
        if let fwEl = os.child("firmware") {
            for f in fwEl.children("feature") {
                guard let name = f.attr("name") else { throw VirtError.xmlMissingAttribute("name", element: "feature") }
                guard firmwareFeatureOrder.contains(name) else {
                    throw VirtError.xmlInvalidAttribute("name", element: "feature", value: name)
                }
                guard let en = try f.yesNoAttr("enabled") else {
                    throw VirtError.xmlMissingAttribute("enabled", element: "feature")
                }
                c.firmwareFeatures.removeAll { $0.name == name }
                c.firmwareFeatures.append(FirmwareFeature(name: name, enabled: en))
            }
            c.firmwareFeatures.sort {
                (firmwareFeatureOrder.firstIndex(of: $0.name) ?? 0) < (firmwareFeatureOrder.firstIndex(of: $1.name) ?? 0)
            }
        }
        // What libvirt reads depends on the OS type: init settings for containers, kernel options for
        // hvm/xen/xenpvh/uml, firmware and boot order for hvm only; nothing more for "linux".
        let isHVM = typeName == "hvm"
        let readsKernel = ["hvm", "xen", "xenpvh", "uml"].contains(typeName)
        if typeName == "exe" {
            try parseInit(os, into: &c)
        }
        if isHVM || typeName == "xen" {
            try parseFirmware(os, into: &c)
        }
        if readsKernel {
            c.kernel = nonEmpty(os.child("kernel")?.text)
            c.initrd = nonEmpty(os.child("initrd")?.text)
            c.cmdline = os.child("cmdline")?.text
            c.dtb = nonEmpty(os.child("dtb")?.text)
            c.root = nonEmpty(os.child("root")?.text)
        }
        if isHVM {
            try parseBoot(os, hasBootloader: hasBootloader, into: &c)
        }
        return c
    }

    static func parseInit(_ os: XMLElement, into c: inout OSConfig) throws(VirtError) {
        c.initPath = nonEmpty(os.child("init")?.text)
        if c.initPath == nil {
            throw VirtError.domainXMLError("init binary must be specified")
        }
        c.initArgs = os.children("initarg").map { $0.text }
        for e in os.children("initenv") {
            c.initEnv.append(InitEnv(name: e.attr("name") ?? "", value: e.text))
        }
        c.initDir = nonEmpty(os.child("initdir")?.text)
        c.initUser = nonEmpty(os.child("inituser")?.text)
        c.initGroup = nonEmpty(os.child("initgroup")?.text)
    }

    static func parseFirmware(_ os: XMLElement, into c: inout OSConfig) throws(VirtError) {
        if let l = os.child("loader") {
            var loader = Loader()
            let p = l.text
            loader.path = p.isEmpty ? nil : p
            loader.readonly = try l.yesNoAttr("readonly")
            loader.secure = try l.yesNoAttr("secure")
            if let t = l.attr("type") {
                guard t == "rom" || t == "pflash" else {
                    throw VirtError.xmlInvalidAttribute("type", element: "loader", value: t)
                }
                loader.type = t
            }
            loader.stateless = try l.yesNoAttr("stateless")
            if loader.path == nil && c.firmware == nil {
                let msg = "no loader path specified and firmware auto selection disabled"
                throw VirtError(.xmlDetail, domain: .domain, msg, str1: "%s", str2: msg)
            }
            if loader.path != nil && loader.type == nil { loader.type = "rom" }
            if c.firmware != nil {
                for a in ["readonly", "type"] where l.attr(a) != nil {
                    let msg = "loader attribute '\(a)' cannot be specified when firmware autoselection is enabled"
                    throw VirtError(.xmlDetail, domain: .domain, msg, str1: "%s", str2: msg)
                }
            }
            c.loader = loader
        }
        if let n = os.child("nvram") {
            var nv = NVRAM()
            let p = n.text
            nv.path = p.isEmpty ? nil : p
            nv.template = n.attr("template")
            nv.type = n.attr("type")
            nv.source = n.child("source")
            if nv.source != nil { nv.path = nil }
            c.nvram = nv
        }
        if let acpi = os.child("acpi") {
            for t in acpi.children("table") {
                let type = t.attr("type") ?? ""
                guard type == "slic" else {
                    throw VirtError.domainXMLError("Unknown acpi table type: \(type)")
                }
                c.acpiTables.append(ACPITable(type: type, path: t.text))
            }
        }
    }

    static func parseBoot(_ os: XMLElement, hasBootloader: Bool, into c: inout OSConfig) throws(VirtError) {
        if !hasBootloader {
            for b in os.children("boot") {
                guard let dev = b.attr("dev") else {
                    throw VirtError.xmlMissingAttribute("dev", element: "boot")
                }
                guard let d = BootDevice(rawValue: dev) else {
                    throw VirtError.xmlInvalidAttribute("dev", element: "boot", value: dev)
                }
                if c.bootDevices.count < 4 { c.bootDevices.append(d) }
            }
            if let m = os.child("bootmenu") {
                var menu = BootMenu()
                menu.enable = try m.yesNoAttr("enable")
                if let t = m.attr("timeout") {
                    guard let v = UInt32(t), v <= 65535 else {
                        throw VirtError.domainConfigUnsupported(
                            "invalid value for boot menu timeout, must be in range [0,65535]")
                    }
                    menu.timeout = v
                }
                c.bootMenu = menu
            }
            if let b = os.child("bios") {
                var bios = BIOS()
                bios.useSerial = try b.yesNoAttr("useserial")
                if let t = b.attr("rebootTimeout") {
                    guard let v = Int32(t), v >= -1, v <= 65535 else {
                        throw VirtError.domainConfigUnsupported(
                            "invalid value for rebootTimeout, must be in range [-1,65535]")
                    }
                    bios.rebootTimeout = v
                }
                c.bios = bios
            }
        }
        if let s = os.child("smbios") {
            guard let m = s.attr("mode") else { throw VirtError.domainXMLError("missing smbios mode") }
            guard let mode = SMBIOSMode(rawValue: m) else {
                throw VirtError.domainConfigUnsupported("unknown smbios mode '\(m)'")
            }
            c.smbiosMode = mode
        }
    }

    /// Writes `<os>` as libvirt does.
    func format(into w: inout XMLWriter) {
        w.element("os", [("firmware", firmware)]) { w in
            w.text("type", [("arch", arch), ("machine", machine)], type)
            if !firmwareFeatures.isEmpty {
                w.element("firmware") { w in
                    for f in firmwareFeatures {
                        w.empty("feature", [("enabled", f.enabled ? "yes" : "no"), ("name", f.name)])
                    }
                }
            }
            w.optionalText("init", initPath)
            for a in initArgs { w.text("initarg", [], a) }
            for e in initEnv { w.text("initenv", [("name", e.name)], e.value) }
            w.optionalText("initdir", initDir)
            w.optionalText("inituser", initUser)
            w.optionalText("initgroup", initGroup)
            if let l = loader {
                let attrs: [(String, String?)] = [
                    ("readonly", l.readonly.map { $0 ? "yes" : "no" }),
                    ("secure", l.secure.map { $0 ? "yes" : "no" }),
                    ("type", l.type),
                    ("stateless", l.stateless.map { $0 ? "yes" : "no" }),
                    ("format", l.format),
                ]
                if let p = l.path { w.text("loader", attrs, p) } else { w.empty("loader", attrs) }
            }
            if let n = nvram {
                let attrs: [(String, String?)] = [("template", n.template), ("format", n.format), ("type", n.type)]
                if let src = n.source {
                    w.element("nvram", attrs) { w in w.formatted(src) }
                } else if let p = n.path {
                    w.text("nvram", attrs, p)
                } else {
                    w.empty("nvram", attrs)
                }
            }
            w.optionalText("kernel", kernel)
            w.optionalText("initrd", initrd)
            w.optionalText("cmdline", cmdline)
            w.optionalText("dtb", dtb)
            w.optionalText("root", root)
            if !acpiTables.isEmpty {
                w.element("acpi") { w in
                    for t in acpiTables { w.text("table", [("type", t.type)], t.path) }
                }
            }
            for b in bootDevices { w.empty("boot", [("dev", b.rawValue)]) }
            if let m = bootMenu, m.enable != nil {
                w.empty("bootmenu", [("enable", m.enable.map { $0 ? "yes" : "no" }),
                                     ("timeout", m.timeout.map { String($0) })])
            }
            if let b = bios, b.useSerial != nil || b.rebootTimeout != nil {
                w.empty("bios", [("useserial", b.useSerial.map { $0 ? "yes" : "no" }),
                                 ("rebootTimeout", b.rebootTimeout.map { String($0) })])
            }
            if let s = smbiosMode { w.empty("smbios", [("mode", s.rawValue)]) }
        }
    }
}
