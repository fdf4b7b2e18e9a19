/// The `define --validate` check for `<devices>`: unknown device elements, and unknown attributes and children
/// of the device kinds SwiftVirt models, are rejected as libvirt's schema rejects them.
enum DeviceSchema {
    static let info: Set<String> = ["address", "alias", "boot", "acpi", "rom"]

    /// Allowed attributes and child elements per device element.
    static let rules: [String: (attrs: Set<String>, children: Set<String>)] = [
        "emulator": ([], []),
        "disk": (["type", "device", "model", "rawio", "sgio", "snapshot"],
                 ["driver", "source", "target", "readonly", "shareable", "transient", "serial", "wwn", "vendor",
                  "product", "geometry", "blockio", "iotune", "backingStore", "encryption", "auth", "mirror",
                  "boot", "alias", "address", "acpi", "throttlefilters"]),
        "controller": (["type", "index", "model", "ports", "vectors", "maxGrantFrames", "maxEventChannels"],
                       ["model", "target", "driver", "master", "pcihole64", "alias", "address", "acpi"]),
        "interface": (["type", "trustGuestRxFilters", "managed"],
                      ["mac", "source", "script", "downscript", "target", "model", "driver", "backend", "link",
                       "mtu", "boot", "alias", "address", "rom", "acpi", "vlan", "virtualport", "bandwidth", "ip",
                       "route", "guest", "filterref", "tune", "teaming", "coalesce", "backenddomain",
                       "portForward", "port"]),
        "serial": (["type"], ["source", "target", "protocol", "log", "alias", "address", "acpi"]),
        "parallel": (["type"], ["source", "target", "protocol", "log", "alias", "address", "acpi"]),
        "console": (["type", "tty"], ["source", "target", "protocol", "log", "alias", "address", "acpi"]),
        "channel": (["type"], ["source", "target", "protocol", "log", "alias", "address", "acpi"]),
        "input": (["type", "bus", "model"], ["source", "driver", "alias", "address", "acpi"]),
        "tpm": (["model"], ["backend", "alias", "address", "acpi"]),
        "graphics": (["type", "port", "autoport", "websocket", "websocketGenerated", "listen", "keymap",
                      "sharePolicy", "passwd", "passwdValidTo", "connected", "socket", "tlsPort", "defaultMode",
                      "display", "xauth", "fullscreen", "multiUser", "replaceUser", "powerControl"],
                     ["listen", "channel", "image", "jpeg", "zlib", "playback", "streaming", "clipboard", "mouse",
                      "filetransfer", "gl", "audio"]),
        "sound": (["model"], ["codec", "audio", "driver", "alias", "address", "acpi"]),
        "video": ([], ["model", "driver", "alias", "address", "acpi"]),
        "watchdog": (["model", "action"], ["alias", "address", "acpi"]),
        "memballoon": (["model", "autodeflate", "freePageReporting"], ["stats", "driver", "alias", "address",
                                                                        "acpi"]),
        "rng": (["model"], ["rate", "backend", "driver", "alias", "address", "acpi"]),
        "memory": (["model", "access", "discard"], ["source", "target", "alias", "address", "acpi", "uuid"]),
        "redirdev": (["bus", "type"], ["source", "protocol", "boot", "alias", "address", "acpi"]),
        "hostdev": (["mode", "type", "managed", "sgio", "rawio", "model", "display", "ramfb"],
                    ["source", "driver", "readonly", "shareable", "boot", "alias", "address", "rom", "acpi",
                     "teaming", "origstates"]),
    ]

    /// Allowed attributes of common sub-elements, by `device/child` (or `*/child` for any device).
    static let childAttributes: [String: Set<String>] = [
        "*/address": ["type", "domain", "bus", "slot", "function", "multifunction", "controller", "target", "unit",
                      "port", "reg", "cssid", "ssid", "devno", "iobase", "irq", "base", "uid", "fid"],
        "*/alias": ["name"],
        "*/boot": ["order", "loadparm"],
        "*/acpi": ["index"],
        "*/rom": ["bar", "file", "enabled"],
        "disk/target": ["dev", "bus", "tray", "removable", "rotation_rate"],
        "disk/driver": ["name", "type", "cache", "error_policy", "rerror_policy", "io", "ioeventfd", "event_idx",
                        "copy_on_read", "discard", "iothread", "detect_zeroes", "queues", "queue_size", "iommu",
                        "ats", "packed", "page_per_vq", "metadata_cache_max_size"],
        "disk/source": ["file", "fdgroup", "dev", "dir", "protocol", "name", "pool", "volume", "mode", "startupPolicy",
                        "index", "tls", "query", "type", "path", "managed", "namespace", "tlsHostname"],
        "interface/mac": ["address", "type", "check"],
        "interface/model": ["type"],
        "interface/target": ["dev", "managed"],
        "interface/link": ["state"],
        "interface/mtu": ["size"],
        "interface/script": ["path"],
        "video/model": ["type", "ram", "vram", "vram64", "vgamem", "heads", "primary", "blob"],
        "disk/blockio": ["logical_block_size", "physical_block_size"],
        "graphics/listen": ["type", "address", "network", "socket", "autoGenerated", "fromConfig"],
        "memballoon/stats": ["period"],
        "rng/rate": ["bytes", "period"],
        "rng/backend": ["model", "type"],
        "tpm/backend": ["type", "version", "persistent_state", "debug"],
        "sound/codec": ["type"],
        "sound/audio": ["id"],
        "serial/target": ["type", "port"],
        "parallel/target": ["port"],
        "console/target": ["type", "port"],
        "channel/target": ["type", "name", "state", "address", "port"],
        "serial/log": ["file", "append"],
        "console/log": ["file", "append"],
        "channel/log": ["file", "append"],
        "serial/protocol": ["type"],
        "console/protocol": ["type"],
        "channel/protocol": ["type"],
        "controller/driver": ["queues", "cmd_per_lun", "max_sectors", "ioeventfd", "iothread", "iommu", "ats",
                              "packed", "page_per_vq"],
        "controller/master": ["startport"],
        "controller/model": ["name"],
        "controller/target": ["chassisNr", "chassis", "port", "busNr", "index", "hotplug", "memReserve"],
    ]

    static func check(_ devices: XMLElement) throws(VirtError) {
        let generic = DomainDevices.genericNames
        for e in devices.elements {
            if e.prefix != nil { throw DeviceError.schema(e.qualifiedName) }
            if generic.contains(e.name) { continue }
            guard let r = rules[e.name] else { throw DeviceError.schema(e.name) }
            for a in e.attributes where !r.attrs.contains(a.name) { throw DeviceError.schema("\(e.name)@\(a.name)") }
            for c in e.elements where !r.children.contains(c.name) || c.prefix != nil {
                throw DeviceError.schema("\(e.name)/\(c.name)")
            }
            if e.name == "emulator", !e.elements.isEmpty { throw DeviceError.schema("emulator") }
            try checkValues(e)
            for c in e.elements {
                guard let allowed = childAttributes["\(e.name)/\(c.name)"] ?? childAttributes["*/\(c.name)"] else {
                    continue
                }
                for a in c.attributes where !allowed.contains(a.name) {
                    throw DeviceError.schema("\(e.name)/\(c.name)@\(a.name)")
                }
            }
        }
    }

    static func isHex(_ s: String, maxDigits: Int) -> Bool {
        guard s.hasPrefix("0x") || s.hasPrefix("0X") else { return false }
        let d = s.dropFirst(2)
        return !d.isEmpty && d.count <= maxDigits && d.allSatisfy(\.isHexDigit)
    }

    static func isNumber(_ s: String) -> Bool {
        !s.isEmpty && (s.allSatisfy(\.isNumber) || isHex(s, maxDigits: 8))
    }

    /// The value patterns of the schema that the parsers themselves accept more loosely.
    static func checkValues(_ e: XMLElement) throws(VirtError) {
        if let a = e.child("address") {
            switch a.attr("type") {
            case "virtio-serial":
                if a.attr("controller") == nil { throw DeviceError.schema("address controller") }
            case "usb":
                if a.attr("bus") == nil { throw DeviceError.schema("address bus") }
            case "isa":
                for n in ["iobase", "irq"] {
                    if let v = a.attr(n), !isHex(v, maxDigits: 4) { throw DeviceError.schema("address \(n)") }
                }
            case "drive":
                for n in ["controller", "bus", "target", "unit"] {
                    if let v = a.attr(n), !v.allSatisfy(\.isNumber) || v.isEmpty {
                        throw DeviceError.schema("address \(n)")
                    }
                }
            case "pci":
                let limits = ["bus": UInt64(0xFF), "slot": 0x1F, "function": 7]
                for (n, limit) in limits {
                    if let v = a.attr(n) {
                        guard let x = XMLElement.parseUnsignedValue(v, hex: true), x <= limit else {
                            throw DeviceError.schema("address \(n)")
                        }
                    }
                }
            default:
                break
            }
        }
        switch e.name {
        case "video":
            if e.child("model")?.attr("type") == "default" { throw DeviceError.schema("video model default") }
        case "graphics":
            if let v = e.attr("autoport"), v != "yes" && v != "no" { throw DeviceError.schema("graphics autoport") }
        case "disk":
            if let serial = e.childText("serial") {
                let ok = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+- ")
                if serial.isEmpty || !serial.allSatisfy({ ok.contains($0) }) { throw DeviceError.schema("serial") }
            }
            if let wwn = e.childText("wwn") {
                let digits = wwn.hasPrefix("0x") ? String(wwn.dropFirst(2)) : wwn
                if digits.count != 16 || !digits.allSatisfy(\.isHexDigit) { throw DeviceError.schema("wwn") }
            }
            if let f = e.child("source")?.attr("file"), !f.hasPrefix("/") { throw DeviceError.schema("source file") }
            if e.child("source")?.child("reconnect") != nil { throw DeviceError.schema("source reconnect") }
        default:
            break
        }
    }
}
